"""The sc.connect contract: exact counts, ordering, reproducibility, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.engine import ENGINES


@pytest.fixture(params=list(ENGINES))
def engine(request):
    return request.param


@pytest.fixture
def pos():
    return np.random.default_rng(0).random((300, 2))


# -- exact counts and forbidden pairs ----------------------------------------
@pytest.mark.parametrize("multapses", [True, False])
@pytest.mark.parametrize("autapses", [True, False])
def test_fixed_out_degree_counts_and_rules(engine, pos, multapses, autapses):
    k = np.random.default_rng(1).integers(0, 30, size=300)
    conn = sc.connect(pos, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(0.05), multapses=multapses,
                      autapses=autapses, seed=3, engine=engine)
    assert np.array_equal(conn.out_degrees(), k)
    assert np.all(np.diff(conn.sources) >= 0), "grouped by source"
    if not autapses:
        assert not np.any(conn.sources == conn.targets)
    if not multapses:
        pairs = conn.sources.astype(np.int64) * 300 + conn.targets
        assert np.unique(pairs).size == pairs.size


@pytest.mark.parametrize("multapses", [True, False])
def test_fixed_in_degree_counts(engine, pos, multapses):
    tgt = np.random.default_rng(2).random((100, 2))
    conn = sc.connect(pos, tgt, rule=sc.FixedInDegree(7), kernel=sc.Exponential(0.1), multapses=multapses,
                      seed=4, engine=engine)
    assert np.array_equal(conn.in_degrees(), np.full(100, 7))
    assert np.all(np.diff(conn.targets) >= 0), "grouped by target"
    assert conn.sources.max() < 300


@pytest.mark.parametrize("sources_mode", ["weighted", "uniform"])
@pytest.mark.parametrize("multapses", [True, False])
def test_fixed_total_number_counts(engine, pos, sources_mode, multapses):
    conn = sc.connect(pos, rule=sc.FixedTotalNumber(2345, sources=sources_mode), kernel=sc.Gaussian(0.05),
                      multapses=multapses, autapses=False, seed=5, engine=engine)
    assert len(conn) == 2345
    assert not np.any(conn.sources == conn.targets)
    assert np.all(np.diff(conn.sources) >= 0)
    if not multapses:
        pairs = conn.sources.astype(np.int64) * 300 + conn.targets
        assert np.unique(pairs).size == 2345


def test_total_number_exhausts_all_pairs_without_multapses(engine):
    pos = np.random.default_rng(0).random((6, 2))
    conn = sc.connect(pos, rule=sc.FixedTotalNumber(30), kernel=sc.Gaussian(0.3), autapses=False,
                      multapses=False, seed=1, engine=engine)
    pairs = set(zip(conn.sources.tolist(), conn.targets.tolist()))
    assert pairs == {(i, j) for i in range(6) for j in range(6) if i != j}


def test_index_dtype_and_grouping(engine, pos):
    conn = sc.connect(pos, rule=sc.FixedOutDegree(3), seed=1, engine=engine)
    assert conn.sources.dtype == np.int32 and conn.targets.dtype == np.int32
    assert len(conn) == 900 and conn.n_sources == conn.n_targets == 300


def test_distances_follow_space(engine):
    pos = np.array([[0.05, 0.5], [0.95, 0.5]])
    torus = sc.Space([(0, 1), (0, 1)], periodic=True)
    conn = sc.connect(pos, rule=sc.FixedOutDegree(1), autapses=False, space=torus, seed=0, engine=engine)
    assert np.allclose(conn.distances, 0.1)
    assert np.allclose(np.abs(conn.displacements[:, 0]), 0.1)


# -- reproducibility ----------------------------------------------------------
RULES = [
    sc.FixedOutDegree(20),
    sc.FixedInDegree(20),
    sc.FixedTotalNumber(3000),
    sc.FixedTotalNumber(3000, sources="uniform"),
    sc.PairwiseBernoulli(0.5),
]


@pytest.mark.parametrize("rule", RULES, ids=repr)
@pytest.mark.parametrize("multapses", [True, False])
def test_same_seed_same_result_for_any_chunk_size(engine, pos, rule, multapses):
    kw = dict(rule=rule, kernel=sc.Gaussian(0.08), multapses=multapses, seed=123, engine=engine)
    base = sc.connect(pos, **kw)
    for chunk in (1, 7, 1000):
        other = sc.connect(pos, chunk_size=chunk, **kw)
        assert np.array_equal(base.sources, other.sources) and np.array_equal(base.targets, other.targets)
    blocks = list(sc.iter_connect(pos, chunk_size=37, **kw))
    assert np.array_equal(np.concatenate([b.sources for b in blocks]), base.sources)
    assert np.array_equal(np.concatenate([b.targets for b in blocks]), base.targets)


def test_seed_sequence_and_fresh_entropy(pos):
    kw = dict(rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1))
    a = sc.connect(pos, seed=np.random.SeedSequence(7), **kw)
    b = sc.connect(pos, seed=np.random.SeedSequence(7), **kw)
    assert np.array_equal(a.targets, b.targets)
    c, d = sc.connect(pos, **kw), sc.connect(pos, **kw)
    assert not np.array_equal(c.targets, d.targets)
    assert not np.array_equal(sc.connect(pos, seed=1, **kw).targets, sc.connect(pos, seed=2, **kw).targets)


def test_driver_streams_do_not_depend_on_other_drivers(engine, pos):
    """A driver's partners depend on its own index and the seed only (counter-based streams)."""
    k = np.zeros(300, dtype=int)
    k[17] = 5
    alone = sc.connect(pos, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(0.1), seed=9, engine=engine)
    k[:] = 5
    full = sc.connect(pos, rule=sc.FixedOutDegree(k), kernel=sc.Gaussian(0.1), seed=9, engine=engine)
    assert np.array_equal(alone.targets, full.targets[full.sources == 17])


# -- empty and zero -----------------------------------------------------------
def test_empty_populations_and_zero_degrees(engine):
    empty = np.zeros((0, 2))
    some = np.random.default_rng(0).random((5, 2))
    assert len(sc.connect(empty, some, rule=sc.FixedOutDegree(3), engine=engine)) == 0
    assert len(sc.connect(some, empty, rule=sc.FixedInDegree(3), engine=engine)) == 0
    assert len(sc.connect(some, empty, rule=sc.FixedOutDegree(0), engine=engine)) == 0
    assert len(sc.connect(some, rule=sc.FixedTotalNumber(0), engine=engine)) == 0
    assert len(sc.connect(some, empty, rule=sc.PairwiseBernoulli(1.0), engine=engine)) == 0
    conn = sc.connect(some, rule=sc.FixedOutDegree(0), kernel=sc.Gaussian(1.0), engine=engine)
    assert len(conn) == 0 and conn.sources.dtype == np.int32


def test_one_dimensional_positions_accept_a_flat_array():
    conn = sc.connect(np.linspace(0, 1, 50), rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(0.1), seed=1)
    assert len(conn) == 100 and conn.displacements.shape == (100, 1)


# -- errors: each names the argument and the numbers ---------------------------
@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(sources=np.array([[0.0, np.nan]])), ValueError, r"sources must be finite: neuron 0"),
        (dict(targets=np.array([[np.inf, 0.0]])), ValueError, r"targets must be finite"),
        (dict(sources=np.zeros((3, 4))), ValueError, r"sources must have shape \(N, d\) with d = 1, 2 or 3"),
        (dict(targets=np.zeros((3, 3))), ValueError, r"sources have 2 coordinates per neuron but targets have 3"),
        (dict(sources="abc"), TypeError, r"sources must be an \(N, d\) array"),
        (dict(rule=sc.FixedOutDegree(np.array([1, 2]))), ValueError, r"k has 2 entries but there are 4 sources"),
        (dict(rule=None), TypeError, r"rule is required"),
        (dict(rule="fixed_outdegree"), TypeError, r"rule must be"),
        (dict(kernel=lambda d: d), TypeError, r"CustomKernel"),
        (dict(mask=sc.Box([0, 0, 0], [1, 1, 1])), ValueError, r"mask .* is 3-dimensional but positions have d = 2"),
        (dict(kernel=sc.AnisotropicGaussian((1.0, 1.0, 1.0))), ValueError, r"3-dimensional but positions have d = 2"),
        (dict(multapses="yes"), TypeError, r"multapses must be True or False"),
        (dict(seed=-1), ValueError, r"seed must be a non-negative integer"),
        (dict(seed=1.5), TypeError, r"seed must be None, an int or a numpy SeedSequence"),
        (dict(engine="warp"), ValueError, r"engine must be 'auto' or one of"),
        (dict(space=sc.Space([(0, 1)])), ValueError, r"space has 1 axes but positions have d = 2"),
        (dict(space=sc.Space([(0, 0.5), (0, 1)])), ValueError, r"sources neuron \d lies outside the space extent"),
        (dict(space=sc.Space([(0, 1), (0, 1)]), mask=sc.Disc(0.6)), ValueError, r"spans 1.2 on periodic axis 0, more than its period 1"),
        (dict(chunk_size=0), ValueError, r"chunk_size must be a positive integer"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, exc, pattern):
    call = dict(sources=np.array([[0.1, 0.1], [0.2, 0.3], [0.9, 0.9], [0.5, 0.5]]), targets=None,
                rule=sc.FixedOutDegree(1), kernel=sc.Gaussian(0.1), seed=0)
    call.update(kwargs)
    with pytest.raises(exc, match=pattern):
        sc.connect(call.pop("sources"), **call)


@pytest.mark.parametrize(
    "make, exc, pattern",
    [
        (lambda: sc.FixedOutDegree(-1), ValueError, r"k must be non-negative, got -1"),
        (lambda: sc.FixedOutDegree(2.5), ValueError, r"k must hold whole numbers, got 2.5"),
        (lambda: sc.FixedInDegree(np.array([1, -3])), ValueError, r"k must be non-negative, got -3 at index 1"),
        (lambda: sc.FixedOutDegree("10"), TypeError, r"k must be an integer"),
        (lambda: sc.FixedOutDegree(True), TypeError, r"k must be an integer"),
        (lambda: sc.FixedTotalNumber(np.array([1, 2])), ValueError, r"n must be a single integer"),
        (lambda: sc.FixedTotalNumber(5, sources="random"), ValueError, r"sources must be 'weighted' or 'uniform'"),
        (lambda: sc.PairwiseBernoulli(1.5), ValueError, r"p must lie in \[0, 1\], got 1.5"),
        (lambda: sc.PairwiseBernoulli(float("nan")), ValueError, r"p must not be NaN"),
        (lambda: sc.Gaussian(0.0), ValueError, r"sigma must be a positive finite number, got 0.0"),
        (lambda: sc.Gaussian(-1.0), ValueError, r"sigma must be a positive finite number"),
        (lambda: sc.Gaussian(float("nan")), ValueError, r"sigma must not be NaN"),
        (lambda: sc.Gaussian(1.0, mean=-1), ValueError, r"mean must be >= 0"),
        (lambda: sc.Exponential(0), ValueError, r"scale must be a positive"),
        (lambda: sc.Gamma(0, 1), ValueError, r"kappa must be a positive"),
        (lambda: sc.Linear(slope=-1.0, intercept=0.0), ValueError, r"zero at every distance"),
        (lambda: sc.AnisotropicGaussian((1.0, -1.0)), ValueError, r"sigma must be 1 to 3 positive numbers"),
        (lambda: sc.AnisotropicGaussian((1.0, 1.0), rho=1.0), ValueError, r"rho must lie in \(-1, 1\)"),
        (lambda: sc.AnisotropicGaussian((1.0, 1.0), angle=1.0, rho=0.1), ValueError, r"at most one of"),
        (lambda: sc.CustomKernel(3.0, cutoff=1.0), TypeError, r"function must be callable"),
        (lambda: sc.CustomKernel(np.exp, cutoff=-1.0), ValueError, r"cutoff must be a positive"),
        (lambda: sc.Disc(0.0), ValueError, r"radius must be a positive"),
        (lambda: sc.Annulus(0.5, 0.2), ValueError, r"Annulus needs 0 <= inner < outer, got inner=0.5, outer=0.2"),
        (lambda: sc.Box([0, 1], [1, 0]), ValueError, r"Box needs lower < upper on every axis, but axis 1"),
        (lambda: sc.Ellipse((1.0,)), ValueError, r"semi_axes must be 2 or 3 positive lengths"),
        (lambda: sc.Space([(1, 0)]), ValueError, r"space.extent needs low < high"),
        (lambda: sc.Space([(0, float("inf"))]), ValueError, r"space.extent must be finite"),
    ],
)
def test_bad_parameters_raise_at_construction(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_infeasible_degree_without_multapses_names_driver(engine):
    pos = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [5.0, 5.0]])
    with pytest.raises(ValueError, match=r"source 3 needs k=2 distinct targets but only 0 have non-zero weight"):
        sc.connect(pos, rule=sc.FixedOutDegree(2), mask=sc.Disc(0.5), autapses=False, multapses=False,
                   engine=engine)
    with pytest.raises(ValueError, match=r"source 0 needs k=3 distinct targets but only 2"):
        sc.connect(pos, rule=sc.FixedOutDegree(3), mask=sc.Disc(0.5), autapses=False, multapses=False,
                   engine=engine)


def test_degree_with_no_candidate_raises_even_with_multapses(engine):
    pos = np.array([[0.0, 0.0], [5.0, 5.0]])
    with pytest.raises(ValueError, match=r"target 0 needs k=1 synapses but no source has non-zero weight"):
        sc.connect(pos, rule=sc.FixedInDegree(1), kernel=sc.Linear(-1.0, 1.0), autapses=False, engine=engine)


def test_more_distinct_partners_than_exist_raises(engine):
    pos = np.random.default_rng(0).random((4, 2))
    with pytest.raises(ValueError, match=r"source 0 needs k=4 distinct targets but only 3 have"):
        sc.connect(pos, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(1.0), autapses=False, multapses=False,
                   engine=engine)
    with pytest.raises(ValueError, match=r"FixedTotalNumber\(n=13\) needs distinct pairs .* only 12 exist"):
        sc.connect(pos, rule=sc.FixedTotalNumber(13), autapses=False, multapses=False, engine=engine)


def test_uniform_sources_need_a_candidate_each(engine):
    pos = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    with pytest.raises(ValueError, match=r"source 2 has no candidate target"):
        sc.connect(pos, rule=sc.FixedTotalNumber(5, sources="uniform"), mask=sc.Disc(1.0), autapses=False,
                   engine=engine)


def test_bernoulli_probability_above_one_raises(engine, pos):
    with pytest.raises(ValueError, match=r"p \* K = 1.25 > 1 for source 0 and target 0"):
        sc.connect(pos, rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gamma(1.0, 0.4), engine=engine)
    with pytest.raises(ValueError, match=r"p \* K = 1.5 > 1 for source 0 and target 0"):
        sc.connect(pos, rule=sc.PairwiseBernoulli(1.0), kernel=sc.CustomKernel(lambda d: 1.5 + 0 * d, cutoff=0.1),
                   engine=engine)


def test_errors_come_before_any_sampling(monkeypatch, pos):
    """The infeasibility check runs before the engine samples anything."""
    import spatialconn.engine.reference as ref

    def boom(*a, **k):
        raise AssertionError("sampled before checking")

    monkeypatch.setattr(ref, "fixed_degree", boom)
    with pytest.raises(ValueError, match="distinct"):
        sc.connect(pos[:3], rule=sc.FixedOutDegree(3), autapses=False, multapses=False, engine="reference")


def test_all_zero_weights_never_hang_or_fall_back_to_index_zero(engine):
    """NEST sends such synapses silently to candidate 0 or loops forever; we refuse."""
    src, tgt = np.zeros((1, 2)), np.full((3, 2), 10.0)
    with pytest.raises(ValueError, match="no target has non-zero weight"):
        sc.connect(src, tgt, rule=sc.FixedOutDegree(5), kernel=sc.Linear(-1.0, 1.0), engine=engine)


# -- kernels evaluate their formulas -------------------------------------------
def test_kernel_formulas():
    d = np.array([0.0, 0.5, 1.0, 2.0])
    assert np.allclose(sc.Gaussian(0.5)(d), np.exp(-d**2 / 0.5))
    assert np.allclose(sc.Gaussian(0.5, mean=1.0)(d), np.exp(-(d - 1) ** 2 / 0.5))
    assert np.allclose(sc.Exponential(2.0)(d), np.exp(-d / 2))
    kappa, theta = 2.5, 0.4
    gamma = d ** (kappa - 1) * np.exp(-d / theta) / (theta**kappa * math.gamma(kappa))
    assert np.allclose(sc.Gamma(kappa, theta)(d), gamma)
    assert np.allclose(sc.Linear(-0.6, 1.0)(d), np.maximum(0, 1 - 0.6 * d))
    assert sc.Linear(-0.5, 1.0).cutoff == 2.0
    assert np.allclose(sc.Constant(3.0)(d), 3.0)
    # NEST's gaussian2D with correlation rho
    sx, sy, rho = 0.5, 0.3, 0.4
    x = np.array([[0.2, -0.1], [0.4, 0.3]])
    q = (x[:, 0] ** 2 / sx**2 - 2 * rho * x[:, 0] * x[:, 1] / (sx * sy) + x[:, 1] ** 2 / sy**2) / (2 * (1 - rho**2))
    assert np.allclose(sc.AnisotropicGaussian((sx, sy), rho=rho)(x), np.exp(-q))


def test_kernel_log_space_is_exact_far_away():
    lw = sc.Gaussian(0.01).log_weight(np.array([[50.0, 0.0], [50.01, 0.0]]))
    assert np.all(np.isfinite(lw)) and math.isclose(lw[0] - lw[1], (50.01**2 - 50**2) / 2e-4, rel_tol=1e-9)


# -- units (Brian2 quantities) ---------------------------------------------------
def test_brian2_units_convert_and_mismatches_raise():
    b2 = pytest.importorskip("brian2")
    um = b2.umetre
    pos = np.random.default_rng(0).random((100, 2)) * 500
    plain = sc.connect(pos * 1e-6, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(50e-6), mask=sc.Disc(200e-6),
                       seed=3)
    united = sc.connect(pos * um, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(50 * um), mask=sc.Disc(200 * um),
                        seed=3)
    assert np.array_equal(plain.targets, united.targets)
    assert united.distances.dim == um.dim
    with pytest.raises(ValueError, match=r"sigma=.* has no unit but the positions carry the dimension"):
        sc.connect(pos * um, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(50.0))
    with pytest.raises(ValueError, match=r"carries a unit .* positions are plain numbers"):
        sc.connect(pos, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(50 * um))
    with pytest.raises(ValueError, match=r"dimension"):
        sc.connect(pos * um, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(50 * b2.ms))
    with pytest.raises(ValueError, match=r"targets has dimension"):
        sc.connect(pos * um, pos, rule=sc.FixedOutDegree(4))
    torus = sc.Space(np.array([[0, 500], [0, 500]]) * um, periodic=True)
    conn = sc.connect(pos * um, rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(50 * um), space=torus, seed=1)
    assert len(conn) == 200
