"""Property-based tests: random small problems across rules, kernels, masks, spaces, dimensions and scales.

Hypothesis (derandomized, so CI is reproducible) draws the problems; they run in batches in a
subprocess with a timeout, so a crash or a hang of the compiled engine fails the test (naming the
problem) instead of killing pytest. For every problem and both engines:

* a ``ValueError`` exactly when the request is infeasible, judged by brute force over all pairs from
  the definitions (``Kernel.log_weight``, ``Mask.contains``, minimum-image displacements);
* otherwise exact counts, no autapse or repeated pair where forbidden, non-zero weight of every
  chosen pair, ``conn.distances`` equal to the brute-force distances, and the same synapses for any
  ``chunk_size`` and from ``iter_connect``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: problems per subprocess, and in all (about a minute on an idle 2-core machine)
BATCH, EXAMPLES = 60, 240

KERNELS = ["none", "gaussian", "ring", "exponential", "gamma", "gamma<1", "linear", "constant", "aniso",
           "shifted"]
MASKS = ["none", "disc", "annulus", "box", "ellipse"]
RULES = ["out", "in", "total", "total-uniform", "bernoulli"]


@st.composite
def problems(draw):
    d = draw(st.integers(1, 3))
    return {
        "d": d,
        "scale": 10.0 ** (draw(st.sampled_from(range(-12, 13, 3))) + draw(st.floats(0, 1))),
        "n_src": draw(st.integers(0, 14)),
        "n_tgt": draw(st.one_of(st.none(), st.integers(1, 14))),  # None: recurrent
        "dupes": draw(st.booleans()),  # positions drawn from a few points (co-located neurons)
        "periodic": draw(st.booleans()),
        "kernel": draw(st.sampled_from(KERNELS)),
        "mask": draw(st.sampled_from(MASKS if d > 1 else MASKS[:4])),
        "width": draw(st.floats(0.05, 0.45)),  # kernel and mask lengths, in units of the box side
        "rule": draw(st.sampled_from(RULES)),
        "k": draw(st.integers(0, 6)),
        "p": draw(st.sampled_from([0.0, 0.3, 1.0])),
        "multapses": draw(st.booleans()),
        "autapses": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32)),
    }


RUNNER = r'''
import json, math, sys, traceback
import numpy as np
import spatialconn as sc


def build(c):
    d, L, w = c["d"], c["scale"], c["width"] * c["scale"]
    rng = np.random.default_rng(c["seed"])

    def positions(n):
        if c["dupes"]:
            return rng.random((3, d))[rng.integers(0, 3, n)] * L
        return rng.random((n, d)) * L

    src = positions(c["n_src"])
    tgt = None if c["n_tgt"] is None else positions(c["n_tgt"])
    offset = np.zeros(d)
    offset[0] = 0.3 * L
    kernel = {"none": None, "gaussian": sc.Gaussian(w), "ring": sc.Gaussian(w / 3, mean=w),
              "exponential": sc.Exponential(w), "gamma": sc.Gamma(2.0, w / 2), "gamma<1": sc.Gamma(0.5, w),
              "linear": sc.Linear(-1.0 / (2 * w), 1.0), "constant": sc.Constant(2.0),
              "aniso": sc.AnisotropicGaussian(tuple(w * (1 + 0.5 * np.arange(d)))),
              "shifted": sc.Exponential(w).shifted(offset)}[c["kernel"]]
    masks = {"none": lambda w: None, "disc": lambda w: sc.Disc(w), "annulus": lambda w: sc.Annulus(w / 4, w),
             "box": lambda w: sc.Box([-w] * d, [w / 2] * d),
             "ellipse": lambda w: sc.Ellipse(tuple([w, w / 2, w / 3][:d]), center=tuple([0.1 * w] * d))}
    mask = masks[c["mask"]](w)
    if c["periodic"] and mask is not None and mask.reach >= 0.5 * L:  # keep masks within half the torus
        mask = masks[c["mask"]](w * 0.45 * L / mask.reach)
    space = sc.Space([(0.0, L)] * d, periodic=True) if c["periodic"] else None
    rule = {"out": sc.FixedOutDegree(c["k"]), "in": sc.FixedInDegree(c["k"]), "total": sc.FixedTotalNumber(c["k"]),
            "total-uniform": sc.FixedTotalNumber(c["k"], sources="uniform"),
            "bernoulli": sc.PairwiseBernoulli(c["p"])}[c["rule"]]
    return src, tgt, dict(rule=rule, kernel=kernel, mask=mask, space=space, multapses=c["multapses"],
                          autapses=c["autapses"], seed=c["seed"] % 1000)


def brute(src, tgt, kw):
    """log w of every (source, target) pair and the distances, from the definitions."""
    t = src if tgt is None else tgt
    disp = t[None, :, :] - src[:, None, :]
    if kw["space"] is not None:
        disp = kw["space"].displacement(src[:, None, :], t[None, :, :])
    dist = np.sqrt((disp ** 2).sum(-1))
    lw = np.zeros(dist.shape) if kw["kernel"] is None else kw["kernel"].log_weight(disp)
    if kw["mask"] is not None:
        lw = np.where(kw["mask"].contains(disp), lw, -np.inf)
    if tgt is None and not kw["autapses"]:
        np.fill_diagonal(lw, -np.inf)
    return lw, dist


def infeasible(c, lw):
    rule, k = c["rule"], c["k"]
    cand = lw > -np.inf
    if rule in ("out", "in"):
        per = cand.sum(axis=1 if rule == "out" else 0)
        return bool(k and (np.any(per == 0) if c["multapses"] else np.any(k > per)))
    if rule.startswith("total"):
        if k == 0:
            return False
        total = int(cand.sum())
        if total == 0 or (not c["multapses"] and k > total):
            return True
        return rule == "total-uniform" and bool(np.any(cand.sum(axis=1) == 0))
    return c["p"] > 0 and lw.size > 0 and bool(np.any(lw > -math.log(c["p"])))


def verify(c, src, tgt, kw, lw, dist, engine):
    try:
        conn = sc.connect(src, tgt, engine=engine, **kw)
    except ValueError as exc:
        assert infeasible(c, lw), f"ValueError although feasible: {exc}"
        return
    assert not infeasible(c, lw), "no ValueError although infeasible"
    s, t = conn.sources.astype(np.int64), conn.targets.astype(np.int64)
    n_s, n_t = lw.shape
    if c["rule"] == "out":
        assert np.array_equal(np.bincount(s, minlength=n_s), np.full(n_s, c["k"])), "out-degrees"
    elif c["rule"] == "in":
        assert np.array_equal(np.bincount(t, minlength=n_t), np.full(n_t, c["k"])), "in-degrees"
    elif c["rule"].startswith("total"):
        assert len(s) == c["k"], "total"
    if len(s):
        assert np.all(lw[s, t] > -np.inf), "a chosen pair has zero weight"
        assert np.allclose(conn.distances, dist[s, t], rtol=1e-9, atol=0), "distances"
    if tgt is None and not kw["autapses"]:
        assert not np.any(s == t), "autapse"
    if not kw["multapses"] or c["rule"] == "bernoulli":
        assert np.unique(s * n_t + t).size == s.size, "repeated pair"
    for chunk in (1, 4):
        other = sc.connect(src, tgt, engine=engine, chunk_size=chunk, **kw)
        assert np.array_equal(other.sources, conn.sources) and np.array_equal(other.targets, conn.targets), "chunk"
    blocks = list(sc.iter_connect(src, tgt, engine=engine, chunk_size=3, **kw))
    joined = [np.concatenate([getattr(b, a) for b in blocks]) if blocks else np.empty(0) for a in ("sources", "targets")]
    assert np.array_equal(joined[0], conn.sources) and np.array_equal(joined[1], conn.targets), "iter_connect"


for c in json.loads(sys.argv[1]):
    print(json.dumps({"start": c}), flush=True)
    try:
        src, tgt, kw = build(c)
        lw, dist = brute(src, tgt, kw)
        for engine in ("grid", "reference"):
            verify(c, src, tgt, kw, lw, dist, engine)
        print(json.dumps({"ok": c}), flush=True)
    except Exception as exc:
        print(json.dumps({"fail": c, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}),
              flush=True)
'''


def _collect() -> list:
    cases = []

    @settings(derandomize=True, max_examples=EXAMPLES, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(problems())
    def gather(case):
        cases.append(case)

    gather()
    return cases


CASES = _collect()


@pytest.mark.parametrize("batch", range(0, len(CASES), BATCH))
def test_random_problems(batch):
    cases = CASES[batch:batch + BATCH]
    try:
        r = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(cases)], capture_output=True, text=True,
                           check=False, timeout=300)
        out, err, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err, rc = "timeout", "timeout"
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    failures = [e for e in events if "fail" in e]
    assert not failures, "\n\n".join(f"{f['fail']}\n{f['error']}\n{f['trace']}" for f in failures[:3])
    done = sum("ok" in e for e in events)
    if done < len(cases):
        last = [e["start"] for e in events if "start" in e][-1:]
        pytest.fail(f"the runner stopped (rc={rc}) at {last}: {err[-3000:]}")
