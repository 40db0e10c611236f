"""Statistical tests: every rule samples exactly the distribution DESIGN.md defines.

Each test compares a sampler against probabilities computed here from the
definitions (explicit kernel formulas), by chi-squared on partner/pair/set
frequencies or KS on connection distances. Seeds are fixed, so every
p-value is a deterministic number; a fit passes when p > ALPHA = 1e-4 and
the negative controls (deliberately wrong samplers fed to the same tests)
must give p < 1e-8. Every test runs against every registered engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.engine import ENGINES

from .stats import (
    ALPHA,
    REJECT,
    bernoulli_pvalue,
    chi2_pvalue,
    gamma_pdf_log,
    ks_pvalue,
    log_gauss,
    pair_counts,
    subset_pvalue,
    successive_subset_probs,
    weighted_mixture_cdf,
)


@pytest.fixture(params=list(ENGINES))
def engine(request):
    return request.param


def _norm(disp):
    return np.sqrt(np.sum(disp * disp, axis=-1))


def _wrap(disp, L):
    return disp - L * np.floor(disp / L + 0.5)


# --------------------------------------------------------------------------
# Cases: positions, a spatialconn configuration, and the same weights written
# out explicitly as a function of the displacement target - source.
# --------------------------------------------------------------------------
def _partners(d, n, scale, seed, center=None):
    rng = np.random.default_rng(seed)
    c = np.zeros(d) if center is None else np.asarray(center, float)
    return c + rng.uniform(-scale, scale, size=(n, d))


R45 = np.array([[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]])


CASES = {
    "gauss-2d": dict(d=2, kernel=sc.Gaussian(0.3), w=lambda x: np.exp(log_gauss(_norm(x), 0.3))),
    "exp-1d": dict(d=1, kernel=sc.Exponential(0.4), w=lambda x: np.exp(-_norm(x) / 0.4)),
    "ring-3d": dict(d=3, kernel=sc.Gaussian(0.2, mean=0.5),
                    w=lambda x: np.exp(log_gauss(_norm(x), 0.2, 0.5))),
    "gamma-2d": dict(d=2, kernel=sc.Gamma(2.0, 0.2), w=lambda x: np.exp(gamma_pdf_log(_norm(x), 2.0, 0.2))),
    "linear-2d": dict(d=2, kernel=sc.Linear(slope=-0.9, intercept=1.0),
                      w=lambda x: np.maximum(0, 1.0 - 0.9 * _norm(x))),
    "uniform-disc-2d": dict(d=2, kernel=None, mask=sc.Disc(0.6), w=lambda x: (_norm(x) <= 0.6) * 1.0),
    "gauss-annulus-2d": dict(d=2, kernel=sc.Gaussian(0.5), mask=sc.Annulus(0.2, 0.8),
                             w=lambda x: np.exp(log_gauss(_norm(x), 0.5)) * ((_norm(x) > 0.2) & (_norm(x) <= 0.8))),
    "exp-box-2d": dict(d=2, kernel=sc.Exponential(0.5), mask=sc.Box([-0.3, -0.6], [0.7, 0.2]),
                       w=lambda x: np.exp(-_norm(x) / 0.5) * np.all((x >= [-0.3, -0.6]) & (x <= [0.7, 0.2]), axis=-1)),
    "gauss-ellipse-2d": dict(d=2, kernel=sc.Gaussian(0.6), mask=sc.Ellipse((0.8, 0.3), angle=0.7),
                             w=lambda x: np.exp(log_gauss(_norm(x), 0.6))
                             * ((((x @ R45)[:, 0] / 0.8) ** 2 + ((x @ R45)[:, 1] / 0.3) ** 2) <= 1)),
    "aniso-2d": dict(d=2, kernel=sc.AnisotropicGaussian(sigma=(0.5, 0.15), angle=0.7),
                     w=lambda x: np.exp(-0.5 * np.einsum(
                         "ni,ij,nj->n", x, np.linalg.inv(R45 @ np.diag([0.25, 0.0225]) @ R45.T), x))),
    "shifted-3d": dict(d=3, kernel=sc.Gaussian(0.3).shifted([0.4, 0.0, -0.2]),
                       w=lambda x: np.exp(log_gauss(_norm(x - [0.4, 0.0, -0.2]), 0.3))),
    "custom-2d": dict(d=2, kernel=sc.CustomKernel(lambda d: 1.0 / (1.0 + (d / 0.3) ** 2), cutoff=0.9),
                      w=lambda x: (_norm(x) <= 0.9) / (1.0 + (_norm(x) / 0.3) ** 2)),
    "periodic-2d": dict(d=2, kernel=sc.Gaussian(0.15), space=sc.Space([(0, 1), (0, 1)], periodic=True),
                        center=[0.05, 0.95], scale=0.05,
                        w=lambda x: np.exp(log_gauss(_norm(x), 0.15))),
}


def _setup(case, n_partners, seed, positive_only=False):
    if positive_only:  # keep drawing until n_partners have non-zero weight for both signs
        spec, center, pool, disp_fn = _setup(case, 50 * n_partners, seed)
        ok = (spec["w"](disp_fn(center, pool)) > 0) & (spec["w"](-disp_fn(center, pool)) > 0)
        assert ok.sum() >= n_partners
        return spec, center, pool[np.nonzero(ok)[0][:n_partners]], disp_fn
    spec = CASES[case]
    d = spec["d"]
    center = np.asarray(spec.get("center", np.zeros(d)), float)
    space = spec.get("space")
    if space is not None:
        rng = np.random.default_rng(seed)
        partners = rng.random((n_partners, d))
        partners[: n_partners // 2] = center + rng.uniform(-0.25, 0.25, (n_partners // 2, d)) % 1.0
        partners %= 1.0
        disp_fn = lambda drv, par: _wrap(par - drv, 1.0)  # noqa: E731
    else:
        partners = _partners(d, n_partners, 1.0, seed)
        disp_fn = lambda drv, par: par - drv  # noqa: E731
    return spec, center, partners, disp_fn


def _kw(spec):
    return dict(kernel=spec["kernel"], mask=spec.get("mask"), space=spec.get("space"))


def sample_degree(engine, case, side, k, n_drivers, n_partners, multapses, seed, **override):
    """Co-located drivers each draw k partners; returns (driver, partner, exact weights)."""
    spec, center, partners, disp_fn = _setup(case, n_partners, seed, positive_only=not multapses)
    drivers = np.repeat(center[None], n_drivers, axis=0)
    kw = _kw(spec)
    kw.update(override)
    if side == "out":
        conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(k), multapses=multapses,
                          seed=seed, engine=engine, **kw)
        w = spec["w"](disp_fn(center, partners))
        drv, par = conn.sources, conn.targets
    else:
        conn = sc.connect(partners, drivers, rule=sc.FixedInDegree(k), multapses=multapses,
                          seed=seed, engine=engine, **kw)
        w = spec["w"](-disp_fn(center, partners))  # displacement is target - source
        drv, par = conn.targets, conn.sources
    return drv, par, w


@pytest.mark.parametrize("side", ["out", "in"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_degree_with_multapses_matches_kernel(engine, case, side):
    n_drivers, k, n_partners = 400, 500, 40
    drv, par, w = sample_degree(engine, case, side, k, n_drivers, n_partners, True, seed=11)
    assert np.array_equal(np.bincount(drv, minlength=n_drivers), np.full(n_drivers, k))
    observed = np.bincount(par, minlength=n_partners)
    p = chi2_pvalue(observed, n_drivers * k * w / w.sum())
    assert p > ALPHA, f"{case}/{side}: chi2 p = {p:.3g}"


@pytest.mark.parametrize("side", ["out", "in"])
@pytest.mark.parametrize("case", ["gauss-2d", "exp-1d", "ring-3d", "gauss-annulus-2d", "aniso-2d",
                                  "periodic-2d", "custom-2d", "exp-box-2d"])
def test_fixed_degree_without_multapses_is_successive_sampling(engine, case, side):
    n_drivers, k, n_partners = 20000, 3, 7
    drv, par, w = sample_degree(engine, case, side, k, n_drivers, n_partners, False, seed=5)
    probs = successive_subset_probs(w, k)
    order = np.argsort(drv, kind="stable")
    groups = np.split(par[order], np.cumsum(np.bincount(drv, minlength=n_drivers))[:-1])
    p = subset_pvalue(groups, probs)
    assert p > ALPHA, f"{case}/{side}: subset chi2 p = {p:.3g}"


def test_many_draws_see_small_biases(engine):
    """4·10^6 draws: enough to see a bias of the size a cell-centre bound produces."""
    drv, par, w = sample_degree(engine, "gauss-2d", "out", 2000, 2000, 60, True, seed=3)
    p = chi2_pvalue(np.bincount(par, minlength=60), 2000 * 2000 * w / w.sum())
    assert p > ALPHA


# --------------------------------------------------------------------------
# Negative controls: deliberately wrong samplers through the same tests.
# --------------------------------------------------------------------------
def test_chi2_rejects_uniform_partners():
    drv, par, w = sample_degree("reference", "gauss-2d", "out", 500, 400, 40, True, seed=11, kernel=None)
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * w / w.sum()) < REJECT


def test_chi2_rejects_kernel_applied_twice():
    squared = sc.CustomKernel(lambda d: np.exp(log_gauss(d, 0.3)) ** 2, cutoff=np.inf)
    drv, par, w = sample_degree("reference", "gauss-2d", "out", 500, 400, 40, True, seed=11, kernel=squared)
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * w / w.sum()) < REJECT


def test_chi2_rejects_kernel_of_squared_distance():
    wrong = sc.CustomKernel(lambda d: np.exp(log_gauss(d**2, 0.3)), cutoff=np.inf)
    drv, par, w = sample_degree("reference", "gauss-2d", "out", 500, 400, 40, True, seed=11, kernel=wrong)
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * w / w.sum()) < REJECT


def test_subset_test_rejects_duplicates():
    """Sampling with replacement where multapses are off must fail the set test."""
    drv, par, w = sample_degree("reference", "gauss-2d", "out", 3, 20000, 7, True, seed=5)
    groups = np.split(par, np.arange(3, par.size, 3))
    assert subset_pvalue(groups, successive_subset_probs(w, 3)) < REJECT


def test_subset_test_rejects_independent_inclusion():
    """Keeping distinct draws but choosing them uniformly is also caught."""
    drv, par, w = sample_degree("reference", "gauss-2d", "out", 3, 20000, 7, False, seed=5, kernel=None)
    groups = np.split(par, np.arange(3, par.size, 3))
    assert subset_pvalue(groups, successive_subset_probs(w, 3)) < REJECT


# --------------------------------------------------------------------------
# Truncation stays exact when every partner is far away.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("far", [20.0, 60.0])
def test_far_partners_keep_exact_ratios(engine, far):
    sigma = 0.01
    dists = np.array([far, far + 0.1, far + 0.3, far + 0.5, far + 1.0, far + 2.5]) * sigma
    angles = np.linspace(0, 2 * np.pi, dists.size, endpoint=False)
    partners = np.column_stack([dists * np.cos(angles), dists * np.sin(angles)]) + 0.5
    drivers = np.full((500, 2), 0.5)
    conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(400), kernel=sc.Gaussian(sigma),
                      seed=9, engine=engine)
    lw = log_gauss(dists, sigma)
    w = np.exp(lw - lw.max())
    p = chi2_pvalue(np.bincount(conn.targets, minlength=dists.size), 500 * 400 * w / w.sum())
    assert p > ALPHA


def test_far_partners_in_a_crowd(engine):
    """One far cluster next to a near one: both are sampled in exact proportion."""
    sigma = 0.02
    near = np.array([[0.5 + 3 * sigma, 0.5]])
    far = 0.5 + np.array([[5.5 * sigma, 0.0], [0.0, 5.6 * sigma], [-5.7 * sigma, 0.0]])
    partners = np.vstack([near, far])
    drivers = np.full((1000, 2), 0.5)
    conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(1000), kernel=sc.Gaussian(sigma),
                      seed=2, engine=engine)
    w = np.exp(log_gauss(_norm(partners - 0.5), sigma))
    p = chi2_pvalue(np.bincount(conn.targets, minlength=4), 10**6 * w / w.sum())
    assert p > ALPHA


@pytest.mark.parametrize("multapses", [True, False])
def test_sparse_partners_far_apart_in_kernel_units(engine, multapses):
    """Fewer than one partner per σ² (cells several σ wide): exact sets and frequencies."""
    sigma, n_drivers = 0.4, 20000
    partners = np.random.default_rng(8).random((9, 2)) * 3.0
    drivers = np.full((n_drivers, 2), 1.5)
    k = 200 if multapses else 3
    conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(sigma),
                      multapses=multapses, seed=4, engine=engine)
    lw = log_gauss(_norm(partners - 1.5), sigma)
    w = np.exp(lw - lw.max())
    if multapses:
        p = chi2_pvalue(np.bincount(conn.targets, minlength=9), n_drivers * k * w / w.sum())
    else:
        p = subset_pvalue(np.split(conn.targets, np.arange(k, len(conn), k)), successive_subset_probs(w, k))
    assert p > ALPHA


# --------------------------------------------------------------------------
# Fixed total number.
# --------------------------------------------------------------------------
def _small_pair_network(seed=4):
    rng = np.random.default_rng(seed)
    return rng.random((5, 2)), rng.random((8, 2))


@pytest.mark.parametrize("sources_mode", ["weighted", "uniform"])
def test_total_number_with_multapses_draws_pairs_jointly(engine, sources_mode):
    src, tgt = _small_pair_network()
    n = 200_000
    conn = sc.connect(src, tgt, rule=sc.FixedTotalNumber(n, sources=sources_mode),
                      kernel=sc.Gaussian(0.2), seed=1, engine=engine)
    assert len(conn) == n
    w = np.exp(log_gauss(_norm(tgt[None] - src[:, None]), 0.2))
    if sources_mode == "uniform":
        w = w / w.sum(axis=1, keepdims=True)
    observed = pair_counts(conn.sources, conn.targets, 5, 8).ravel()
    p = chi2_pvalue(observed, n * (w / w.sum()).ravel())
    assert p > ALPHA


@pytest.mark.parametrize("sources_mode", ["weighted", "uniform"])
def test_total_number_without_multapses_is_successive_over_pairs(engine, sources_mode):
    rng = np.random.default_rng(8)
    src, tgt = rng.random((3, 2)), rng.random((3, 2))
    w = np.exp(log_gauss(_norm(tgt[None] - src[:, None]), 0.3))
    if sources_mode == "uniform":
        w = w / w.sum(axis=1, keepdims=True)
    probs = successive_subset_probs(w.ravel(), 3)
    groups = []
    for seed in range(3000):
        conn = sc.connect(src, tgt, rule=sc.FixedTotalNumber(3, sources=sources_mode),
                          kernel=sc.Gaussian(0.3), multapses=False, seed=seed, engine=engine)
        groups.append(conn.sources.astype(np.int64) * 3 + conn.targets)
    p = subset_pvalue(groups, probs)
    assert p > ALPHA


def test_total_number_negative_control_uniform_sources():
    """The weighted rule is not the uniform-source one: the test tells them apart."""
    src, tgt = _small_pair_network()
    n = 200_000
    conn = sc.connect(src, tgt, rule=sc.FixedTotalNumber(n, sources="uniform"),
                      kernel=sc.Gaussian(0.2), seed=1, engine="reference")
    w = np.exp(log_gauss(_norm(tgt[None] - src[:, None]), 0.2))
    observed = pair_counts(conn.sources, conn.targets, 5, 8).ravel()
    assert chi2_pvalue(observed, n * (w / w.sum()).ravel()) < REJECT


# --------------------------------------------------------------------------
# Pairwise Bernoulli.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["gauss-2d", "ring-3d", "gauss-annulus-2d", "periodic-2d", "aniso-2d"])
def test_bernoulli_pair_probabilities(engine, case):
    spec, center, partners, disp_fn = _setup(case, 30, seed=6)
    trials, p0 = 5000, 0.7
    drivers = np.repeat(center[None], trials, axis=0)
    conn = sc.connect(drivers, partners, rule=sc.PairwiseBernoulli(p0), seed=6, engine=engine, **_kw(spec))
    q = p0 * spec["w"](disp_fn(center, partners))
    hits = np.bincount(conn.targets, minlength=30)
    assert bernoulli_pvalue(hits, trials, q) > ALPHA
    assert np.all(np.bincount(conn.targets * trials + conn.sources) <= 1)  # no multapse


def test_bernoulli_negative_control_wrong_scale():
    spec, center, partners, disp_fn = _setup("gauss-2d", 30, seed=6)
    drivers = np.repeat(center[None], 5000, axis=0)
    conn = sc.connect(drivers, partners, rule=sc.PairwiseBernoulli(0.6), seed=6, kernel=spec["kernel"],
                      engine="reference")
    q = 0.7 * spec["w"](disp_fn(center, partners))
    assert bernoulli_pvalue(np.bincount(conn.targets, minlength=30), 5000, q) < REJECT


# --------------------------------------------------------------------------
# Recurrent populations without autapses.
# --------------------------------------------------------------------------
def test_no_autapses_with_multapses_pair_frequencies(engine):
    pos = np.random.default_rng(1).random((6, 2))
    k = 20000
    conn = sc.connect(pos, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(0.3), autapses=False,
                      seed=2, engine=engine)
    w = np.exp(log_gauss(_norm(pos[None] - pos[:, None]), 0.3))
    np.fill_diagonal(w, 0)
    expected = k * w / w.sum(axis=1, keepdims=True)
    observed = pair_counts(conn.sources, conn.targets, 6, 6)
    assert np.all(np.diag(observed) == 0)
    assert chi2_pvalue(observed.ravel(), expected.ravel()) > ALPHA


def test_no_autapses_without_multapses_sets(engine):
    pos = np.random.default_rng(3).random((5, 2))
    w = np.exp(log_gauss(_norm(pos[None] - pos[:, None]), 0.4))
    np.fill_diagonal(w, 0)
    groups = {i: [] for i in range(5)}
    for seed in range(2000):
        conn = sc.connect(pos, rule=sc.FixedInDegree(2), kernel=sc.Gaussian(0.4), autapses=False,
                          multapses=False, seed=seed, engine=engine)
        for i in range(5):
            groups[i].append(conn.sources[conn.targets == i])
    # in-degree: target i draws sources j with weight K(x_i - x_j) = w[j, i]
    pvals = [subset_pvalue(groups[i], successive_subset_probs(w[:, i], 2)) for i in range(5)]
    assert min(pvals) * 5 > ALPHA


# --------------------------------------------------------------------------
# KS tests of connection distances on larger networks (NEST style, but against
# the exact distance distribution given the actual positions).
# --------------------------------------------------------------------------
def _expected_distance_cdf(src, tgt, w_fn, periods, driver_weights=None, by="source"):
    """Mixture over drivers of their weighted partner-distance distributions."""
    disp = tgt[None, :, :] - src[:, None, :]
    if periods is not None:
        disp = _wrap(disp, periods)
    dist = _norm(disp)
    w = w_fn(disp.reshape(-1, disp.shape[-1]), dist.ravel()).reshape(dist.shape)
    if by == "source":
        w = w / w.sum(axis=1, keepdims=True)
        if driver_weights is not None:
            w = w * driver_weights[:, None]
    elif by == "target":
        w = w / w.sum(axis=0, keepdims=True)
    return weighted_mixture_cdf(dist.ravel(), w.ravel())


KS_CASES = {
    "out-gauss-2d": dict(d=2, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.05), by="source",
                         w=lambda x, d: np.exp(log_gauss(d, 0.05))),
    "in-exp-3d-periodic": dict(d=3, rule=sc.FixedInDegree(15), kernel=sc.Exponential(0.08), by="target",
                               periodic=True, w=lambda x, d: np.exp(-d / 0.08)),
    "out-ring-1d": dict(d=1, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.01, mean=0.03),
                        by="source", w=lambda x, d: np.exp(log_gauss(d, 0.01, 0.03))),
    "total-gauss-2d-periodic": dict(d=2, rule=sc.FixedTotalNumber(20000), kernel=sc.Gaussian(0.1),
                                    by="total", periodic=True, w=lambda x, d: np.exp(log_gauss(d, 0.1))),
    "bernoulli-gauss-2d": dict(d=2, rule=sc.PairwiseBernoulli(0.8), kernel=sc.Gaussian(0.05), by="total",
                               w=lambda x, d: 0.8 * np.exp(log_gauss(d, 0.05))),
    "out-aniso-disc-2d": dict(d=2, rule=sc.FixedOutDegree(12),
                              kernel=sc.AnisotropicGaussian((0.1, 0.03), angle=0.3), mask=sc.Disc(0.15),
                              by="source", w=None),
}


def _aniso_w(x, d):
    R = np.array([[math.cos(0.3), -math.sin(0.3)], [math.sin(0.3), math.cos(0.3)]])
    P = np.linalg.inv(R @ np.diag([0.01, 0.0009]) @ R.T)
    return np.exp(-0.5 * np.einsum("ni,ij,nj->n", x, P, x)) * (d <= 0.15)


KS_CASES["out-aniso-disc-2d"]["w"] = _aniso_w


def _ks_network(name, engine, kernel_override=None, n_src=600, n_tgt=2000, seed=21):
    spec = KS_CASES[name]
    rng = np.random.default_rng(seed)
    src, tgt = rng.random((n_src, spec["d"])), rng.random((n_tgt, spec["d"]))
    space = sc.Space([(0, 1)] * spec["d"], periodic=True) if spec.get("periodic") else None
    conn = sc.connect(src, tgt, rule=spec["rule"], kernel=kernel_override or spec["kernel"],
                      mask=spec.get("mask"), space=space, seed=seed, engine=engine)
    periods = 1.0 if space is not None else None
    return spec, src, tgt, periods, conn


@pytest.mark.parametrize("name", sorted(KS_CASES))
def test_distance_distribution_ks(engine, name):
    spec, src, tgt, periods, conn = _ks_network(name, engine)
    cdf = _expected_distance_cdf(src, tgt, spec["w"], periods, by=spec["by"])
    sample = np.asarray(conn.distances)
    assert sample.size > 5000
    p = ks_pvalue(sample, cdf)
    assert p > ALPHA, f"{name}: KS p = {p:.3g}"


def test_ks_negative_control_uniform_partners():
    spec, src, tgt, periods, conn = _ks_network("out-gauss-2d", "reference", kernel_override=sc.Constant())
    cdf = _expected_distance_cdf(src, tgt, spec["w"], periods)
    assert ks_pvalue(np.asarray(conn.distances), cdf) < REJECT


def test_ks_negative_control_kernel_squared():
    spec, src, tgt, periods, conn = _ks_network("out-gauss-2d", "reference",
                                                kernel_override=sc.Gaussian(0.05 / math.sqrt(2)))
    cdf = _expected_distance_cdf(src, tgt, spec["w"], periods)
    assert ks_pvalue(np.asarray(conn.distances), cdf) < REJECT


def test_chi2_rejects_open_space_for_a_periodic_case():
    spec, center, partners, disp_fn = _setup("periodic-2d", 40, seed=11)
    drivers = np.repeat(center[None], 400, axis=0)
    conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(500), kernel=spec["kernel"], seed=11,
                      engine="reference")
    w = spec["w"](disp_fn(center, partners))
    assert chi2_pvalue(np.bincount(conn.targets, minlength=40), 400 * 500 * w / w.sum()) < REJECT


def test_chi2_rejects_reversed_displacement():
    """In-degree must use target - source: the mirrored kernel is caught."""
    mirrored = sc.Gaussian(0.3).shifted([-0.4, 0.0, 0.2])
    drv, par, w = sample_degree("reference", "shifted-3d", "in", 500, 400, 40, True, seed=11, kernel=mirrored)
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * w / w.sum()) < REJECT
