"""The compiled grid engine: reproducibility and exactness against explicit formulas.

The general statistical suite (test_statistics.py) runs against every
engine; the tests here target what is specific to the grid engine: its
thread- and chunk-invariant streams, its cell bounds (many draws, to see
biases of a fraction of a percent), its truncation and log-space fallback
when partners are far away, and the switches between rejection and the
exact race without multapses. Expected probabilities are written out in
numpy from the kernel formulas, never with spatialconn's own evaluation.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.engine import grid as grid_engine

from .stats import ALPHA, REJECT, bernoulli_pvalue, chi2_pvalue, subset_pvalue, successive_subset_probs


def _norm(disp):
    return np.sqrt(np.sum(disp * disp, axis=-1))


def _wrap(disp, L):
    return disp - L * np.floor(disp / L + 0.5)


def _freq_pvalue(conn, n_partners, w, side="targets"):
    idx = conn.targets if side == "targets" else conn.sources
    counts = np.bincount(idx, minlength=n_partners)
    return chi2_pvalue(counts, counts.sum() * w / w.sum())


# --------------------------------------------------------------------------
# Reproducibility: threads, chunks, iter_connect
# --------------------------------------------------------------------------
_SCRIPT = textwrap.dedent(
    """
    import hashlib, numpy as np, spatialconn as sc
    rng = np.random.default_rng(0)
    pos = rng.random((3000, 2))
    other = rng.random((2000, 2))
    h = hashlib.sha256()
    runs = [
        sc.connect(pos, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.03), seed=1, engine="grid"),
        sc.connect(pos, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.03), multapses=False,
                   autapses=False, seed=2, engine="grid"),
        sc.connect(pos, other, rule=sc.FixedInDegree(15), kernel=sc.Exponential(0.02),
                   space=sc.Space(extent=[(0, 1), (0, 1)], periodic=True), seed=3, engine="grid"),
        sc.connect(pos, other, rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.02), seed=4,
                   engine="grid"),
        sc.connect(pos, other, rule=sc.FixedTotalNumber(5000), kernel=sc.Gaussian(0.05),
                   multapses=False, seed=5, engine="grid"),
    ]
    for c in runs:
        h.update(np.ascontiguousarray(c.sources, np.int64).tobytes())
        h.update(np.ascontiguousarray(c.targets, np.int64).tobytes())
    print(h.hexdigest())
    """
)


def _digest_with_threads(n: int) -> str:
    env = dict(os.environ, SPATIALCONN_THREADS=str(n))
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_bit_identical_for_any_thread_count():
    assert _digest_with_threads(1) == _digest_with_threads(2) == _digest_with_threads(5)


def _hash(conn):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(conn.sources, np.int64).tobytes())
    h.update(np.ascontiguousarray(conn.targets, np.int64).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "rule, options",
    [
        (sc.FixedOutDegree(7), {}),
        (sc.FixedOutDegree(7), {"multapses": False, "autapses": False}),
        (sc.FixedInDegree(5), {"mask": sc.Annulus(0.01, 0.1)}),
        (sc.PairwiseBernoulli(0.8), {"space": sc.Space(extent=[(0, 1), (0, 1)], periodic=True)}),
    ],
)
def test_chunking_never_changes_the_result(rule, options):
    rng = np.random.default_rng(1)
    pos = rng.random((1500, 2))
    kw = dict(rule=rule, kernel=sc.Gaussian(0.04), seed=7, engine="grid", **options)
    whole = sc.connect(pos, **kw)
    for chunk in (1, 97, 1500):
        assert _hash(sc.connect(pos, chunk_size=chunk, **kw)) == _hash(whole)
    blocks = list(sc.iter_connect(pos, chunk_size=333, **kw))
    joined = sc.Connections(np.concatenate([b.sources for b in blocks]),
                            np.concatenate([b.targets for b in blocks]), pos, pos)
    assert _hash(joined) == _hash(whole)


def test_auto_selects_the_grid_engine_and_seeds_matter():
    pos = np.random.default_rng(2).random((500, 2))
    job_a = sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.1), seed=1)
    job_b = sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.1), seed=1, engine="grid")
    job_c = sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.1), seed=2, engine="grid")
    assert _hash(job_a) == _hash(job_b) != _hash(job_c)


# --------------------------------------------------------------------------
# Exactness with many draws (drivers sharing one position draw independently)
# --------------------------------------------------------------------------
def _crowd(n_drivers, at):
    return np.tile(np.asarray(at, float), (n_drivers, 1))


def test_gaussian_cells_unbiased_with_a_million_draws():
    """10^6 draws over ~60 partners spread across many cells: a tilt of 3 % would show."""
    rng = np.random.default_rng(3)
    partners = rng.random((4000, 2))
    sigma = 0.03
    x = np.array([0.503, 0.498])
    conn = sc.connect(_crowd(2000, x), partners, rule=sc.FixedOutDegree(500), kernel=sc.Gaussian(sigma),
                      seed=11, engine="grid")
    d = _norm(partners - x)
    w = np.exp(-d**2 / (2 * sigma**2))
    assert _freq_pvalue(conn, len(partners), w) > ALPHA
    # power: the same counts reject weights tilted by 3 % on every other near partner
    near = np.argsort(d)[:40]
    w_bad = w.copy()
    w_bad[near[::2]] *= 1.03
    counts = np.bincount(conn.targets, minlength=len(partners))
    assert chi2_pvalue(counts, counts.sum() * w_bad / w_bad.sum()) < REJECT


@pytest.mark.parametrize("multapses", [True, False])
def test_dense_drivers_use_finer_cells_and_stay_exact(monkeypatch, multapses):
    """Drivers dense enough for the finer cells (threshold lowered): same distribution."""
    from spatialconn.engine import _index

    monkeypatch.setattr(_index, "DENSE_DRIVERS_PER_CELL", 0.01)
    rng = np.random.default_rng(4)
    partners = rng.random((6000, 2))
    sigma = 0.1
    x = np.array([0.41, 0.57])
    conn = sc.connect(_crowd(1500, x), partners, rule=sc.FixedOutDegree(200 if multapses else 20),
                      kernel=sc.Gaussian(sigma), multapses=multapses, seed=5, engine="grid")
    pb = _problem(_crowd(1500, x), partners, sc.Gaussian(sigma))
    prof = grid_engine.Profile(sc.Gaussian(sigma), 2)
    sides = _index.cell_side(pb, prof), _index.cell_side(pb, prof, dense=True)
    assert sides[1] == pytest.approx(_index.DENSE_CELL_FACTOR[2] * sigma) and sides[1] < sides[0]
    assert np.all(_index.build_grid(pb, *sides).h <= 1.01 * sides[1])  # the finer cells are used
    w = np.exp(-_norm(partners - x) ** 2 / (2 * sigma**2))
    if multapses:
        assert _freq_pvalue(conn, len(partners), w) > ALPHA
    else:  # each driver's 20 distinct partners: first draws are i.i.d. from w
        first = conn.targets[::20]
        counts = np.bincount(first, minlength=len(partners))
        assert chi2_pvalue(counts, counts.sum() * w / w.sum()) > ALPHA


@pytest.mark.parametrize(
    "case",
    ["periodic-aniso", "shifted-annulus", "exp-3d-box", "gamma-1d", "linear-ellipse", "ring-in"],
)
def test_kernels_masks_spaces_match_formulas(case):
    rng = np.random.default_rng(5)
    n_drv, k = 1000, 300
    options = {}
    side = "out"
    if case == "periodic-aniso":
        partners = rng.random((800, 2))
        x = np.array([0.02, 0.97])
        P = np.linalg.inv(np.array([[0.04**2, 0.6 * 0.04 * 0.02], [0.6 * 0.04 * 0.02, 0.02**2]]))
        kernel = sc.AnisotropicGaussian(sigma=(0.04, 0.02), rho=0.6)
        options["space"] = sc.Space(extent=[(0, 1), (0, 1)], periodic=True)
        disp = _wrap(partners - x, 1.0)
        lw = -0.5 * np.einsum("ni,ij,nj->n", disp, P, disp)
    elif case == "shifted-annulus":
        partners = rng.random((800, 2))
        x = np.array([0.5, 0.5])
        kernel = sc.Gaussian(0.05).shifted([0.05, 0.0])
        options["mask"] = sc.Annulus(0.03, 0.15)
        disp = partners - x
        r = _norm(disp)
        lw = -_norm(disp - [0.05, 0.0]) ** 2 / (2 * 0.05**2)
        lw = np.where((r > 0.03) & (r <= 0.15), lw, -np.inf)
    elif case == "exp-3d-box":
        partners = rng.random((3000, 3))
        x = np.array([0.4, 0.5, 0.6])
        kernel = sc.Exponential(0.1)
        options["mask"] = sc.Box([-0.2, -0.1, -0.3], [0.1, 0.2, 0.3])
        disp = partners - x
        lw = -_norm(disp) / 0.1
        inside = np.all((disp >= [-0.2, -0.1, -0.3]) & (disp <= [0.1, 0.2, 0.3]), axis=1)
        lw = np.where(inside, lw, -np.inf)
    elif case == "gamma-1d":
        partners = rng.random((400, 1)) * 3
        x = np.array([1.5])
        kernel = sc.Gamma(kappa=2.5, theta=0.1)
        d = _norm(partners - x)
        with np.errstate(divide="ignore"):
            lw = 1.5 * np.log(d) - d / 0.1
    elif case == "linear-ellipse":
        partners = rng.random((1500, 2))
        x = np.array([0.5, 0.5])
        kernel = sc.Linear(slope=-5.0, intercept=1.0)
        options["mask"] = sc.Ellipse((0.2, 0.08), angle=0.5, center=(0.03, 0.0))
        disp = partners - x
        y = disp - [0.03, 0.0]
        c, s = math.cos(0.5), math.sin(0.5)
        u, v = c * y[:, 0] + s * y[:, 1], -s * y[:, 0] + c * y[:, 1]
        with np.errstate(divide="ignore"):
            lw = np.log(np.maximum(1.0 - 5.0 * _norm(disp), 0.0))
        lw = np.where((u / 0.2) ** 2 + (v / 0.08) ** 2 <= 1.0, lw, -np.inf)
    else:  # ring kernel, in-degree (the kernel sees source - target reversed)
        partners = rng.random((1500, 2))
        x = np.array([0.45, 0.55])
        kernel = sc.Gaussian(0.02, mean=0.08)
        side = "in"
        disp = x - partners
        lw = -(_norm(disp) - 0.08) ** 2 / (2 * 0.02**2)
    if side == "out":
        conn = sc.connect(_crowd(n_drv, x), partners, rule=sc.FixedOutDegree(k), kernel=kernel, seed=4,
                          engine="grid", **options)
        counts = np.bincount(conn.targets, minlength=len(partners))
    else:
        conn = sc.connect(partners, _crowd(n_drv, x), rule=sc.FixedInDegree(k), kernel=kernel, seed=4,
                          engine="grid", **options)
        counts = np.bincount(conn.sources, minlength=len(partners))
    w = np.exp(lw - lw.max())
    assert counts.sum() == n_drv * k
    assert chi2_pvalue(counts, counts.sum() * w / w.sum()) > ALPHA


@pytest.mark.parametrize("far", [25.0, 80.0])
def test_far_partners_in_a_large_population(far):
    """Every partner at least ``far`` σ away, many partners: the log-space fallback keeps exact ratios."""
    rng = np.random.default_rng(8)
    sigma = 0.002
    angles = rng.uniform(0, 2 * np.pi, 3000)
    radii = far * sigma + rng.exponential(2 * sigma, 3000)
    partners = 0.5 + np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    conn = sc.connect(_crowd(500, [0.5, 0.5]), partners, rule=sc.FixedOutDegree(400),
                      kernel=sc.Gaussian(sigma), seed=12, engine="grid")
    lw = -radii**2 / (2 * sigma**2)
    w = np.exp(lw - lw.max())
    assert _freq_pvalue(conn, len(partners), w) > ALPHA


def test_near_and_far_clusters_with_truncated_window():
    """Drivers whose window holds some partners while a heavier cluster lies farther away."""
    sigma = 0.01
    rng = np.random.default_rng(9)
    bulk = rng.random((20000, 2)) * 0.2 + 0.7  # far from the driver
    near = np.array([[0.1 + 9.0 * sigma, 0.1]])  # one partner at 9 σ
    partners = np.vstack([near, bulk])
    conn = sc.connect(_crowd(400, [0.1, 0.1]), partners, rule=sc.FixedOutDegree(500),
                      kernel=sc.Gaussian(sigma), seed=13, engine="grid")
    d = _norm(partners - [0.1, 0.1])
    lw = -d**2 / (2 * sigma**2)
    w = np.exp(lw - lw.max())
    assert _freq_pvalue(conn, len(partners), w) > ALPHA


# --------------------------------------------------------------------------
# Without multapses: rejection of repeats, the budget switch, the race
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "weights_case, k",
    [("spread", 2), ("skewed", 3), ("spread", 5)],  # rejection; repeat budget switch; race (k > n/2)
)
def test_without_multapses_is_successive_sampling(weights_case, k):
    sigma = 0.05
    if weights_case == "spread":
        r = np.array([0.0, 0.02, 0.03, 0.05, 0.06, 0.08, 0.1])
    else:  # one partner holds almost all the weight: repeats are frequent
        r = np.array([0.0, 0.16, 0.17, 0.18, 0.19, 0.2])
        sigma = 0.04
    ang = np.linspace(0, 2 * np.pi, r.size, endpoint=False)
    partners = 0.5 + np.column_stack([r * np.cos(ang), r * np.sin(ang)])
    n_drv = 40000
    conn = sc.connect(_crowd(n_drv, [0.5, 0.5]), partners, rule=sc.FixedOutDegree(k),
                      kernel=sc.Gaussian(sigma), multapses=False, seed=21, engine="grid")
    w = np.exp(-r**2 / (2 * sigma**2))
    groups = conn.targets.reshape(n_drv, k)
    assert np.all(np.sort(groups, axis=1)[:, 1:] != np.sort(groups, axis=1)[:, :-1])
    assert subset_pvalue(list(groups), successive_subset_probs(w, k)) > ALPHA
    # the first pick of each driver is a plain weighted draw
    assert chi2_pvalue(np.bincount(groups[:, 0], minlength=r.size), n_drv * w / w.sum()) > ALPHA


def test_core_refuses_more_draws_than_candidates():
    """The core's own guard (behind the feasibility check): an error, never garbage or a crash."""
    pos = np.random.default_rng(4).random((400, 2))
    pb = _problem(pos, None, sc.Gaussian(0.05), mask=sc.Disc(0.1), autapses=False)
    degrees = grid_engine.candidate_counts(pb) + 1
    with pytest.raises(RuntimeError, match="fewer candidate partners than its degree"):
        grid_engine.fixed_degree(pb, degrees, multapses=False)


def test_without_multapses_every_candidate():
    """k equal to the number of candidates inside a mask: each driver gets all of them."""
    rng = np.random.default_rng(4)
    pos = rng.random((400, 2))
    mask = sc.Disc(0.1)
    cand = grid_engine.candidate_counts(_problem(pos, None, sc.Gaussian(0.05), mask=mask, autapses=False))
    conn = sc.connect(pos, rule=sc.FixedOutDegree(cand), kernel=sc.Gaussian(0.05), mask=mask,
                      multapses=False, autapses=False, seed=3, engine="grid")
    disp = pos[conn.targets] - pos[conn.sources]
    assert np.all(_norm(disp) <= 0.1) and np.all(conn.sources != conn.targets)
    assert np.array_equal(conn.out_degrees(), cand)
    pairs = conn.sources.astype(np.int64) * 400 + conn.targets
    assert np.unique(pairs).size == pairs.size


# --------------------------------------------------------------------------
# Helpers against the reference engine (exact numbers, not samples)
# --------------------------------------------------------------------------
def _problem(sources, targets, kernel, mask=None, space=None, autapses=True, rule=None):
    return sc.plan(sources, targets, rule or sc.FixedOutDegree(0), kernel, mask=mask, space=space,
                   autapses=autapses, seed=0, engine="reference").problem


@pytest.mark.parametrize(
    "kernel, mask, periodic",
    [
        (sc.Gamma(kappa=2.0, theta=0.05), None, False),
        (sc.Gaussian(0.05), sc.Annulus(0.02, 0.12), True),
        (sc.Linear(slope=3.0, intercept=-0.1), None, False),
        (sc.Constant(), sc.Box([-0.1, -0.05], [0.2, 0.05]), True),
        (sc.AnisotropicGaussian(sigma=(0.05, 0.02), angle=0.3), sc.Ellipse((0.15, 0.1)), False),
    ],
)
def test_candidate_counts_and_row_totals_equal_reference(kernel, mask, periodic):
    from spatialconn.engine import reference

    rng = np.random.default_rng(6)
    pos = np.round(rng.random((700, 2)), 2)  # ties and exact zero distances
    space = sc.Space(extent=[(0, 1), (0, 1)], periodic=True) if periodic else None
    for autapses in (True, False):
        pb = _problem(pos, None, kernel, mask=mask, space=space, autapses=autapses)
        assert np.array_equal(grid_engine.candidate_counts(pb), reference.candidate_counts(pb))
        ours, ref = grid_engine.row_log_totals(pb), reference.row_log_totals(pb)
        assert np.array_equal(np.isfinite(ours), np.isfinite(ref))
        fin = np.isfinite(ref)
        np.testing.assert_allclose(ours[fin], ref[fin], rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("radius", [0.2, None])
def test_bernoulli_pair_frequencies(radius):
    """Banded geometric skipping keeps every pair an independent Bernoulli(p K)."""
    rng = np.random.default_rng(7)
    partners = rng.random((300, 2))
    x = np.array([0.5, 0.5])
    n_drv, p, sigma = 20000, 0.7, 0.05
    conn = sc.connect(_crowd(n_drv, x), partners, rule=sc.PairwiseBernoulli(p), kernel=sc.Gaussian(sigma),
                      mask=None if radius is None else sc.Disc(radius), seed=5, engine="grid")
    d = _norm(partners - x)
    q = np.where(d <= (radius or np.inf), p * np.exp(-d**2 / (2 * sigma**2)), 0.0)
    hits = np.bincount(conn.targets, minlength=len(partners))
    assert bernoulli_pvalue(hits, n_drv, q) > ALPHA


def test_total_number_without_multapses_distinct_and_exact_count():
    rng = np.random.default_rng(8)
    pos = rng.random((2000, 2))
    conn = sc.connect(pos, rule=sc.FixedTotalNumber(30000), kernel=sc.Gaussian(0.03), multapses=False,
                      autapses=False, seed=4, engine="grid")
    pairs = conn.sources.astype(np.int64) * 2000 + conn.targets
    assert len(conn) == 30000 and np.unique(pairs).size == 30000
    assert np.all(conn.sources != conn.targets)
    assert np.all(np.diff(conn.sources) >= 0)


def test_custom_kernel_is_delegated_and_exact_in_counts():
    pos = np.random.default_rng(9).random((300, 2))
    kernel = sc.CustomKernel(lambda d: 1.0 / (1.0 + (d / 0.05) ** 2), cutoff=0.2)
    pb = _problem(pos, None, kernel)
    assert not grid_engine.native(pb)
    conn = sc.connect(pos, rule=sc.FixedOutDegree(4), kernel=kernel, seed=1, engine="grid")
    assert np.all(conn.out_degrees() == 4) and np.all(conn.distances <= 0.2)


@pytest.mark.parametrize("periodic", [False, True])
def test_without_multapses_race_over_truncated_3d_window(periodic):
    """3-D, truncated window, k close to the partners that carry the weight, without multapses.

    Seven heavy partners near the (co-located) drivers, ten light ones at
    2.5–3.5 σ, and 20,000 more at 9 σ or farther, spread over the whole
    cube: the cell bounds cannot prove the truncation, so every driver
    finishes with the exact race over a prefix of its window (stopped by
    the actual weights), which must still be successive sampling.
    """
    sigma = 0.03
    centre = np.array([0.5, 0.5, 0.5])
    r = np.concatenate([[0.0, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5], np.linspace(2.5, 3.5, 10)]) * sigma
    rng = np.random.default_rng(17)
    u = rng.normal(size=(r.size, 3))
    near = centre + r[:, None] * u / _norm(u)[:, None]
    far = rng.random((60000, 3))
    disp = far - centre
    if periodic:
        disp = _wrap(disp, 1.0)
    far = far[_norm(disp) >= 9.0 * sigma][:20000]
    partners = np.vstack([near, far])
    space = sc.Space(extent=[(0, 1)] * 3, periodic=True) if periodic else None
    n_drv, k = 40000, 5
    conn = sc.connect(_crowd(n_drv, centre), partners, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(sigma),
                      space=space, multapses=False, seed=23, engine="grid")
    groups = conn.targets.reshape(n_drv, k).astype(np.int64)
    assert np.all(np.sort(groups, axis=1)[:, 1:] != np.sort(groups, axis=1)[:, :-1])
    # the far partners together carry < 1e-13 of the weight; the light ones about 2 %
    w = np.exp(-r**2 / (2 * sigma**2))
    assert subset_pvalue(list(groups), successive_subset_probs(w, k)) > ALPHA
    assert chi2_pvalue(np.bincount(groups[:, 0], minlength=r.size), n_drv * w / w.sum()) > ALPHA
    # the last pick of each driver: probabilities from the exact set probabilities
    last = np.zeros(r.size)
    p = w / w.sum()
    for order in __import__("itertools").permutations(range(r.size), k):
        prob, left = 1.0, 1.0
        for j in order:
            prob *= p[j] / left
            left -= p[j]
        last[order[-1]] += prob
    assert chi2_pvalue(np.bincount(groups[:, -1], minlength=r.size), n_drv * last) > ALPHA


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("multapses", [True, False])
def test_sparse_partners_never_fall_back_to_every_partner(sigma, multapses):
    """Unit density and σ of 0.5–3 spacings, k = 100: every window is shown to suffice.

    Before windows grew with sparseness (and the race summed the mass left
    after the k heaviest directly), nearly every driver here was sampled over
    all partners: O(N²), minutes for 8·10⁴ neurons.
    """
    from spatialconn.engine import grid

    pos = np.random.default_rng(0).random((20_000, 2)) * np.sqrt(20_000)
    job = sc.plan(pos, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(sigma), multapses=multapses)
    assert not grid.exact_fallbacks(job.problem, job.degrees, multapses).any()


def test_exact_fallback_prediction_shortcut_agrees_with_full_check():
    """The quick check on the nearest offsets never hides a driver that needs every partner."""
    from spatialconn.engine import grid

    rng = np.random.default_rng(2)
    dense = rng.random((5000, 2))
    sparse = rng.random((5000, 2)) * 70
    far = np.r_[dense, [[3.0, 3.0], [0.5, 2.0]]]
    torus = sc.Space([(0, 1), (0, 1)], periodic=True)
    cases = [
        (dense, dict(kernel=sc.Gaussian(0.02))),
        (far, dict(kernel=sc.Gaussian(0.02))),
        (far, dict(kernel=sc.Exponential(0.01))),
        (sparse, dict(kernel=sc.Gaussian(0.7))),
        (dense, dict(kernel=sc.Gaussian(0.03), space=torus)),
        (rng.random((4000, 3)), dict(kernel=sc.Gaussian(0.05))),
        (far, dict(kernel=sc.Gamma(2.0, 0.01))),
    ]
    seen = 0
    for pos, kw in cases:
        for k, multapses in ((1, True), (40, True), (3, False), (60, False)):
            job = sc.plan(pos, rule=sc.FixedOutDegree(k), multapses=multapses, **kw)
            quick = grid.exact_fallbacks(job.problem, job.degrees, multapses)
            full = grid.exact_fallbacks(job.problem, job.degrees, multapses, shortcut=False)
            np.testing.assert_array_equal(quick, full)
            seen += int(full.sum())
    assert seen > 0  # some cases do need every partner


# --------------------------------------------------------------------------
# FixedTotalNumber's counts by pair proposals (no row totals)
# --------------------------------------------------------------------------
def _total_counts_case():
    pos = np.random.default_rng(21).random((300, 2))
    job = sc.plan(pos, rule=sc.FixedTotalNumber(300_000), kernel=sc.Gaussian(0.1), seed=5, engine="grid")
    d2 = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    return job.problem, pos, d2


def test_total_counts_follow_row_totals_without_computing_them(monkeypatch):
    problem, pos, d2 = _total_counts_case()

    def fail(*args):
        raise AssertionError("row totals computed")

    monkeypatch.setattr(grid_engine, "row_log_totals", fail)
    n = 300_000
    counts = grid_engine.total_counts(problem, n)
    assert counts.sum() == n
    W = np.exp(-d2 / (2 * 0.1**2)).sum(axis=1)
    assert chi2_pvalue(counts, n * W / W.sum()) > ALPHA
    # negative control: row totals of a slightly wider kernel are told apart
    W_wrong = np.exp(-d2 / (2 * 0.13**2)).sum(axis=1)
    assert chi2_pvalue(counts, n * W_wrong / W_wrong.sum()) < REJECT


def test_total_counts_are_reproducible_and_thread_invariant(monkeypatch):
    problem, _, _ = _total_counts_case()
    monkeypatch.setenv("SPATIALCONN_THREADS", "1")
    one = grid_engine.total_counts(problem, 300_000)
    monkeypatch.setenv("SPATIALCONN_THREADS", "4")
    np.testing.assert_array_equal(one, grid_engine.total_counts(problem, 300_000))
