"""PairwisePoisson against its definition: per-pair counts independent Poisson(rate · K(d)).

Expected means are computed here from the explicit kernel formula (numpy),
never from spatialconn's own evaluation. Negative controls show that each
test rejects a plausible wrong sampler: repeated Bernoulli with the same mean
(under-dispersed), a rate off by 10 %, a too-narrow kernel.
"""

import numpy as np
import pytest
from scipy import stats

import spatialconn as sc
from tests.stats import (
    ALPHA,
    REJECT,
    chi2_pvalue,
    ks_pvalue,
    pair_counts,
    weighted_mixture_cdf,
)

ENGINES = ["reference", "grid"]
SIGMA, RADIUS, RATE = 0.1, 0.3, 1.5
TORUS = sc.Space(extent=[(-0.5, 0.5), (-0.5, 0.5)], periodic=True)
CLASSES = np.array([[0.0, 0.0], [0.1, 0.0], [0.45, 0.45]])  # source positions, repeated
TARGETS = np.array([[0.0, 0.0], [0.05, 0.0], [0.1, 0.05], [0.2, 0.0], [-0.45, -0.45], [0.0, 0.45]])
COPIES = 3000


def _wrapped(a, b):
    disp = b - a
    return np.linalg.norm(disp - np.round(disp), axis=-1)  # unit torus


def _means(src, tgt, rate=RATE):
    d = _wrapped(src[:, None, :], tgt[None, :, :])
    return np.where(d <= RADIUS, rate * np.exp(-d**2 / (2 * SIGMA**2)), 0.0)


def _poisson_pvalue(samples: np.ndarray, lam: float) -> float:
    """Chi-squared of the histogram of counts against Poisson(lam) (P(0), P(1), ... pooled tail)."""
    top = int(stats.poisson.ppf(1 - 1e-6, lam)) + 1
    observed = np.bincount(np.minimum(samples, top), minlength=top + 1)
    expected = stats.poisson.pmf(np.arange(top + 1), lam)
    expected[-1] = stats.poisson.sf(top - 1, lam)
    return chi2_pvalue(observed, expected * samples.size)


def _dispersion_pvalue(samples: np.ndarray) -> float:
    """Two-sided index-of-dispersion test of variance = mean: Σ(x - x̄)²/x̄ ~ χ²(n - 1)."""
    n, mean = samples.size, samples.mean()
    stat = ((samples - mean) ** 2).sum() / mean
    return float(2 * min(stats.chi2.sf(stat, n - 1), stats.chi2.cdf(stat, n - 1)))


def _verdicts(counts: np.ndarray, lam: np.ndarray):
    """(min p of the Poisson fits, min p of the dispersion tests, all zero where lam = 0).

    ``counts`` has shape (samples, classes, targets), ``lam`` (classes, targets).
    """
    fit, disp = [], []
    for c, j in zip(*np.nonzero(lam > 0)):
        x = counts[:, c, j]
        fit.append(_poisson_pvalue(x, lam[c, j]))
        if lam[c, j] >= 0.2:
            disp.append(_dispersion_pvalue(x))
    return min(fit), min(disp), bool(np.all(counts[:, lam == 0] == 0))


@pytest.fixture(scope="module")
def lam():
    return _means(CLASSES, TARGETS)


@pytest.mark.parametrize("engine", ENGINES)
def test_pair_counts_are_poisson(engine, lam):
    src = np.tile(CLASSES, (COPIES, 1))
    conn = sc.connect(src, TARGETS, sc.PairwisePoisson(RATE), sc.Gaussian(SIGMA), mask=sc.Disc(RADIUS),
                      space=TORUS, seed=11, engine=engine)
    counts = pair_counts(conn.sources, conn.targets, len(src), len(TARGETS)).reshape(COPIES, 3, -1)
    assert lam[2, 4] > 0.5 and lam[2, 5] == 0  # found across the wrapped corner; outside the mask
    n_cells = int(np.count_nonzero(lam))
    fit, disp, zeros = _verdicts(counts, lam)
    assert zeros and fit > ALPHA / n_cells and disp > ALPHA / n_cells
    # mean and P(0) per pair, each against its exact value (z-tests)
    mean, p0 = counts.mean(axis=0), (counts == 0).mean(axis=0)
    live = lam > 0
    assert np.all(np.abs(mean - lam)[live] < 4.5 * np.sqrt(lam[live] / COPIES))
    q0 = np.exp(-lam)
    assert np.all(np.abs(p0 - q0)[live] < 4.5 * np.sqrt(q0 * (1 - q0) / COPIES)[live])


def test_negative_controls_are_rejected(lam):
    rng = np.random.default_rng(12)
    shape = (COPIES,) + lam.shape
    repeated_bernoulli = rng.binomial(2, np.broadcast_to(lam / 2, shape))  # same mean, variance too small
    fit, disp, zeros = _verdicts(repeated_bernoulli, lam)
    assert zeros and fit < REJECT and disp < REJECT
    biased = rng.poisson(np.broadcast_to(1.1 * lam, shape))  # a rate 10 % off
    fit, disp, zeros = _verdicts(biased, lam)
    assert fit < REJECT and disp > ALPHA / np.count_nonzero(lam)  # variance = mean still, the fit fails


@pytest.mark.parametrize("engine", ENGINES)
def test_recurrent_without_autapses_over_seeds(engine):
    pos = np.array([[0.0, 0.0], [0.08, 0.0], [0.45, 0.0], [-0.45, 0.05]])
    lam = _means(pos, pos, rate=2.0)
    np.fill_diagonal(lam, 0.0)
    seeds = 300
    total = np.zeros((4, 4))
    for seed in range(seeds):
        conn = sc.connect(pos, rule=sc.PairwisePoisson(2.0), kernel=sc.Gaussian(SIGMA), mask=sc.Disc(RADIUS),
                          space=TORUS, autapses=False, seed=seed, engine=engine)
        assert not np.any(conn.sources == conn.targets)
        total += pair_counts(conn.sources, conn.targets, 4, 4)
    live = lam > 0
    assert np.all(total[~live] == 0)
    stat = ((total[live] - seeds * lam[live]) ** 2 / (seeds * lam[live])).sum()  # sums are Poisson(seeds·λ)
    assert stats.chi2.sf(stat, live.sum()) > ALPHA


@pytest.fixture(scope="module")
def sheet():
    pos = np.random.default_rng(13).uniform(-0.5, 0.5, (1500, 2))
    d = _wrapped(pos[:, None, :], pos[None, :, :])
    sigma, radius, rate = 0.05, 0.15, 3.0
    mean = np.where(d <= radius, rate * np.exp(-d**2 / (2 * sigma**2)), 0.0)
    np.fill_diagonal(mean, 0.0)  # no autapses (and no atom at distance 0 for the KS test)
    args = {"rule": sc.PairwisePoisson(rate), "kernel": sc.Gaussian(sigma), "mask": sc.Disc(radius), "space": TORUS,
            "autapses": False}
    return pos, d, mean, args


@pytest.mark.parametrize("engine", ENGINES)
def test_distances_totals_and_per_source_counts(engine, sheet):
    pos, d, mean, args = sheet
    conn = sc.connect(pos, seed=14, engine=engine, **args)
    lam = mean.sum()
    assert abs(len(conn) - lam) < 4.5 * np.sqrt(lam)
    # per-source counts N_i ~ Poisson(Σ_j λ_ij), independently: Σ (N_i - λ_i)² / λ_i ≈ χ²(n)
    n_i, lam_i = np.bincount(conn.sources, minlength=len(pos)), mean.sum(axis=1)
    stat = ((n_i - lam_i) ** 2 / lam_i).sum()
    assert 2 * min(stats.chi2.sf(stat, len(pos)), stats.chi2.cdf(stat, len(pos))) > ALPHA
    cdf = weighted_mixture_cdf(d.ravel(), mean.ravel())
    assert ks_pvalue(np.asarray(conn.distances), cdf) > ALPHA
    # negative control: partners drawn with a kernel too narrow by √2 (weights K²)
    rng = np.random.default_rng(15)
    narrow = rng.choice(d.size, size=len(conn), p=(mean**2).ravel() / (mean**2).sum())
    assert ks_pvalue(d.ravel()[narrow], cdf) < REJECT


def test_engines_share_counts_and_blocks_change_nothing(sheet):
    pos, _, _, args = sheet
    ref = sc.connect(pos, seed=16, engine="reference", **args)
    grid = sc.connect(pos, seed=16, engine="grid", **args)
    assert np.array_equal(np.bincount(ref.sources, minlength=1500), np.bincount(grid.sources, minlength=1500))
    blocks = list(sc.iter_connect(pos, seed=16, engine="grid", chunk_size=400, **args))
    assert len(blocks) == 4
    assert np.array_equal(np.concatenate([b.targets for b in blocks]), grid.targets)
    assert np.array_equal(np.concatenate([b.sources for b in blocks]), grid.sources)


def test_bad_input():
    pos = np.random.default_rng(17).random((20, 2))
    with pytest.raises(ValueError, match="rate must be"):
        sc.PairwisePoisson(-1.0)
    with pytest.raises(ValueError, match="rate must be"):
        sc.PairwisePoisson(np.inf)
    with pytest.raises(TypeError, match="rate must be a scalar"):
        sc.PairwisePoisson([1.0, 2.0])
    with pytest.raises(ValueError, match="multapses=True"):
        sc.connect(pos, rule=sc.PairwisePoisson(1.0), multapses=False)
    with pytest.raises(ValueError, match="source 0 expects"):  # Gamma with kappa < 1 is infinite at d = 0
        sc.connect(pos, rule=sc.PairwisePoisson(1.0), kernel=sc.Gamma(0.5, 0.1))
    assert len(sc.connect(pos, rule=sc.PairwisePoisson(0.0), seed=1)) == 0


def test_dask_partitions_give_the_same_synapses(sheet):
    dask_connect = pytest.importorskip("spatialconn.dask").connect
    pos, _, _, args = sheet
    whole = sc.connect(pos, seed=18, **args)
    frame = dask_connect(pos, seed=18, npartitions=3, **args)
    frame = frame.compute() if hasattr(frame, "compute") else frame
    assert np.array_equal(np.sort(whole.sources * 1500 + whole.targets),
                          np.sort(np.asarray(frame["source"]) * 1500 + np.asarray(frame["target"])))
