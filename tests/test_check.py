"""Tests of spatialconn.check: it passes what the rules produce and catches what they do not."""

from __future__ import annotations

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.check import check_projection
from spatialconn.spec import Projection

POS = np.random.default_rng(7).random((600, 2))
OTHER = np.random.default_rng(8).random((500, 2))
TORUS = sc.Space([(0, 1), (0, 1)], periodic=True)

RULES = [
    (sc.FixedOutDegree(10), True), (sc.FixedOutDegree(10), False),
    (sc.FixedInDegree(10), True), (sc.FixedInDegree(10), False),
    (sc.FixedTotalNumber(5000), True), (sc.FixedTotalNumber(5000), False),
    (sc.FixedTotalNumber(5000, sources="uniform"), True),
    (sc.FixedTotalNumber(5000, sources="uniform"), False),
    (sc.PairwiseBernoulli(0.6), False),
]


def build(rule, multapses, recurrent=True, kernel=sc.Gaussian(0.05), seed=11):
    tgt = POS if recurrent else OTHER
    proj = Projection("p", "a", "a" if recurrent else "b", rule, kernel, sc.Disc(0.25), TORUS,
                      multapses=multapses, autapses=False, seed=seed)
    conn = sc.connect(POS, None if recurrent else OTHER, rule=rule, kernel=kernel, mask=proj.mask,
                      space=TORUS, multapses=multapses, autapses=False, seed=seed)
    return proj, conn, tgt


@pytest.mark.parametrize("rule, multapses", RULES, ids=lambda x: repr(x))
@pytest.mark.parametrize("recurrent", [True, False])
def test_passes_what_the_rule_makes_and_fails_a_wrong_kernel(rule, multapses, recurrent):
    proj, conn, tgt = build(rule, multapses, recurrent)
    # a strict level, so that a change of the engine's random stream does not make this flaky
    report = check_projection(conn.sources, conn.targets, proj, POS, tgt, alpha=1e-4)
    assert report.passed, report.lines()
    wrong = Projection(**{**proj.__dict__, "kernel": sc.Gaussian(0.04)})
    bad = check_projection(conn.sources, conn.targets, wrong, POS, tgt)
    failed = [c.name for c in bad.checks if not c.passed]
    # the kernel's scale matters for Bernoulli, so its count test fails too
    assert failed == (["counts", "distances"] if isinstance(rule, sc.PairwiseBernoulli) else ["distances"])


def test_catches_wrong_counts_autapses_multapses_and_zero_weights():
    proj, conn, tgt = build(sc.FixedOutDegree(10), False)
    s, t = conn.sources.copy(), conn.targets.copy()
    s2, t2 = s[1:], t[1:]
    assert "counts" in _failed(s2, t2, proj)
    s3, t3 = s.copy(), t.copy()
    t3[0] = s3[0]
    assert "autapses" in _failed(s3, t3, proj)
    s4, t4 = s.copy(), t.copy()
    t4[1] = t4[0]
    assert "multapses" in _failed(s4, t4, proj)
    s5, t5 = s.copy(), t.copy()
    far = np.argmax(np.linalg.norm(TORUS.displacement(POS[s5[0]], POS), axis=1))
    t5[0] = far
    assert "weights" in _failed(s5, t5, proj)
    t6 = t.copy()
    t6[0] = 10_000
    report = check_projection(s, t6, proj, POS, POS)
    assert not report.passed and report.checks[0].name == "indices"


def test_bernoulli_count_test():
    proj, conn, tgt = build(sc.PairwiseBernoulli(0.6), False, recurrent=False)
    keep = np.random.default_rng(0).random(len(conn)) < 0.9  # drop 10% of the synapses
    assert "counts" in _failed(conn.sources[keep], conn.targets[keep], proj, tgt)


def test_large_projection_uses_a_driver_subset():
    proj, conn, tgt = build(sc.FixedOutDegree(10), True)
    report = check_projection(conn.sources, conn.targets, proj, POS, tgt, max_pairs=100 * 600, alpha=1e-4)
    assert report.passed
    assert "100 random drivers" in report.checks[-1].detail


def _failed(s, t, proj, tgt=POS):
    report = check_projection(s, t, proj, POS, tgt)
    return [c.name for c in report.checks if not c.passed]


# -- family-wise false alarms (Holm) ---------------------------------------------------------------
SPEC = """
seed = {seed}
[space]
extent = [[0.0, 1.0], [0.0, 1.0]]
periodic = true
[populations.a]
positions = "uniform"
n = 500
extent = [[0.0, 1.0], [0.0, 1.0]]
[populations.b]
positions = "grid"
shape = [15, 15]
extent = [[0.0, 1.0], [0.0, 1.0]]
[projections.aa]
source = "a"
rule = {{ type = "FixedOutDegree", k = 12 }}
kernel = {{ type = "Exponential", scale = 0.07 }}
multapses = false
autapses = false
[projections.ab]
source = "a"
target = "b"
rule = {{ type = "FixedInDegree", k = 20 }}
kernel = {{ type = "Gaussian", sigma = {sigma} }}
[projections.ba]
source = "b"
target = "a"
rule = {{ type = "FixedTotalNumber", n = 3000, sources = "uniform" }}
kernel = {{ type = "Gaussian", sigma = 0.08, mean = 0.05 }}
mask = {{ type = "Disc", radius = 0.3 }}
multapses = false
[projections.bb]
source = "b"
rule = {{ type = "PairwiseBernoulli", p = 0.5 }}
kernel = {{ type = "Gaussian", sigma = 0.1 }}
autapses = false
"""


def _run(tmp_path, seed, sigma=0.1, checked_sigma=0.1):
    """Build the spec (with ``sigma``) and check it against the spec (with ``checked_sigma``), as the CLI does."""
    from spatialconn.check import holm
    from spatialconn.spec import load

    built = tmp_path / f"built{seed}.toml"
    built.write_text(SPEC.format(seed=seed, sigma=sigma))
    spec = tmp_path / f"spec{seed}.toml"
    spec.write_text(SPEC.format(seed=seed, sigma=checked_sigma))
    net, ref = load(built), load(spec)
    reports = []
    for name, proj in ref.projections.items():
        conn = net.connect(name)
        reports.append(check_projection(conn.sources, conn.targets, proj, ref.populations[proj.source].positions,
                                        ref.populations[proj.target].positions, alpha=None))
    holm(reports)
    return reports


def test_twenty_correct_builds_raise_no_alarm_and_a_wrong_one_fails(tmp_path):
    """20 seeds of a correct network: no FAIL at the default family-wise level (1e-3 per run)."""
    pvalues = []
    for seed in range(20):
        reports = _run(tmp_path, seed)
        assert all(r.passed for r in reports), "\n".join(line for r in reports for line in r.lines())
        pvalues += [c.pvalue for r in reports for c in r.checks if c.pvalue is not None]
    assert len(pvalues) == 20 * 5  # a distance test per projection, a count test for Bernoulli
    # negative control: the in-degree projection built with sigma = 0.13 instead of 0.1
    wrong = _run(tmp_path, 99, sigma=0.13)
    assert [r.passed for r in wrong] == [True, False, True, True]


def test_holm_judges_the_family():
    from spatialconn.check import Report, holm

    r = Report("x")
    r.add("indices", True, "fine")
    for p in (0.0002, 0.0004, 0.2):
        r.add("t", True, "", pvalue=p)
    assert holm([r], alpha=1e-3) == 3
    # 3 * 0.0002 = 0.0006 <= 1e-3 fails; then max(0.0006, 2 * 0.0004) = 0.0008 fails too
    assert [c.passed for c in r.checks] == [True, False, False, True]
    assert "Holm-adjusted p = 0.0008" in "\n".join(r.lines())
    with pytest.raises(ValueError, match="alpha must lie in"):
        holm([r], alpha=0)


def test_check_from_python_with_sc_check():
    pos = np.random.default_rng(3).random((400, 2))
    kw = {"rule": sc.FixedInDegree(6), "kernel": sc.Gaussian(0.08), "space": TORUS, "multapses": False,
          "autapses": False}
    conn = sc.connect(pos, seed=1, **kw)
    report = sc.check(conn, **kw)
    assert report.passed and [c.name for c in report.checks] == ["indices", "counts", "autapses", "multapses",
                                                                  "weights", "distances"]
    assert not sc.check(conn, **{**kw, "kernel": sc.Gaussian(0.06)}).passed
    other = sc.connect(pos, OTHER, rule=sc.PairwiseBernoulli(0.3), kernel=sc.Exponential(0.05), seed=2)
    report = sc.check(other, rule=sc.PairwiseBernoulli(0.3), kernel=sc.Exponential(0.05))
    assert report.passed and "autapses" not in [c.name for c in report.checks]
    with pytest.raises(TypeError, match="connections must be the Connections"):
        sc.check((conn.sources, conn.targets), rule=sc.FixedInDegree(6))
    from spatialconn.check import (
        check_projection as same,  # the module stays importable as a module
    )

    assert same is check_projection


@pytest.mark.parametrize("kw, exc, pattern", [
    ({"alpha": 0}, ValueError, "alpha must lie in"), ({"max_pairs": 0}, ValueError, "max_pairs must be a positive"),
    ({"replicates": 1.5}, ValueError, "replicates must be a positive"), ({"seed": -1}, ValueError, "seed must be"),
    ({"seed": None}, TypeError, "seed must be an int")])
def test_check_arguments_are_validated(kw, exc, pattern):
    conn = sc.connect(POS[:50], rule=sc.FixedOutDegree(2), seed=1)
    with pytest.raises(exc, match=pattern):
        sc.check(conn, rule=sc.FixedOutDegree(2), **kw)


def test_pairwise_poisson_networks_pass_and_a_wrong_rate_fails():
    """check knows PairwisePoisson: counts against Σ rate·K with Poisson variance, distances by rate·K."""
    pos = np.random.default_rng(7).random((600, 2))
    kernel = sc.Gaussian(0.08)
    conn = sc.connect(pos, rule=sc.PairwisePoisson(0.5), kernel=kernel, seed=3)
    report = sc.check(conn, rule=sc.PairwisePoisson(0.5), kernel=kernel)
    assert report.passed, report
    wrong = sc.connect(pos, rule=sc.PairwisePoisson(0.6), kernel=kernel, seed=3)  # 20 % more synapses
    assert not sc.check(wrong, rule=sc.PairwisePoisson(0.5), kernel=kernel).passed
    narrow = sc.connect(pos, rule=sc.PairwisePoisson(0.5 * (0.08 / 0.06) ** 2), kernel=sc.Gaussian(0.06), seed=3)
    assert not sc.check(narrow, rule=sc.PairwisePoisson(0.5), kernel=kernel).passed  # same count, shorter distances
