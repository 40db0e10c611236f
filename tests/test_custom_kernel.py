"""CustomKernel on the grid engine's batched path (spatialconn.engine.custom).

Partner frequencies against exact weights computed here in numpy from the
kernels' definitions, with multapses (chi-squared) and without (subset
probabilities of successive sampling), with a mask and on a torus, for
out- and in-degrees, for a declared bound (rejection) and without one
(every pair within reach evaluated); negative controls; exact candidate
counts; invariance under threads, blocks and random access.
"""

from __future__ import annotations

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.engine import custom, reference

from .settings import MASK, TORUS, partners
from .stats import ALPHA, REJECT, chi2_pvalue, exact_weights, subset_pvalue, successive_subset_probs


def _decay(d):  # non-increasing, 0 beyond 0.5
    return np.exp(-d / 0.3) * (d < 0.5)


def _orientation(x):  # a function of the displacement, bounded by 1
    d = np.sqrt(np.sum(x * x, axis=1))
    return np.maximum(0.0, np.cos(2 * np.arctan2(x[:, 1], x[:, 0]))) * np.exp(-d**2 / (2 * 0.4**2))


def _bumps(d):  # not monotone, no bound declared: every pair within the cutoff is evaluated
    return 0.2 + np.sin(6 * d) ** 2


KERNELS = {
    "decreasing": (sc.CustomKernel(_decay, cutoff=1.0, decreasing=True), lambda x, d: _decay(d)),
    "peak": (sc.CustomKernel(_orientation, cutoff=0.9, on="displacement", peak=1.0),
             lambda x, d: _orientation(x) * (d <= 0.9)),
    "dense": (sc.CustomKernel(_bumps, cutoff=0.45), lambda x, d: _bumps(d) * (d <= 0.45)),
}
def _draw(kernel, setting, side, n_drivers=400, k=500, n_partners=40, seed=11, space="given"):
    center, par, disp_fn, sp, mask = partners(setting, n_partners, seed)
    sp = sp if space == "given" else space
    drivers = np.repeat(center[None], n_drivers, axis=0)
    if side == "out":
        job = sc.plan(drivers, par, rule=sc.FixedOutDegree(k), kernel=kernel, mask=mask, space=sp, seed=seed)
        assert custom.handles(job.problem)
        return job.connect().targets, disp_fn(center, par), mask
    job = sc.plan(par, drivers, rule=sc.FixedInDegree(k), kernel=kernel, mask=mask, space=sp, seed=seed)
    assert custom.handles(job.problem)
    return job.connect().sources, -disp_fn(center, par), mask  # the displacement is target - source


@pytest.mark.parametrize("setting", ["mask", "torus"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_partner_frequencies_match_the_function(name, setting):
    kernel, w_fn = KERNELS[name]
    for side in ("out", "in"):
        par, disp, mask = _draw(kernel, setting, side)
        w = exact_weights(w_fn, disp, mask)
        assert (w == 0).any()  # the cutoff, the function's zeros and the mask exclude partners
        p = chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 500 * w / w.sum())
        assert p > ALPHA, f"{name}/{setting}/{side}: chi2 p = {p:.3g}"


@pytest.mark.parametrize("name, rounds", [*((n, custom.MAX_ROUNDS) for n in sorted(KERNELS)), ("peak", 1)])
def test_without_multapses_is_successive_sampling(monkeypatch, name, rounds):
    monkeypatch.setattr(custom, "MAX_ROUNDS", rounds)  # 1: most drivers finish on the exact fallback
    kernel, w_fn = KERNELS[name]
    center, par, disp_fn, _, mask = partners("mask", 60, 3)
    w = exact_weights(w_fn, disp_fn(center, par), mask)
    keep = np.nonzero(w > 0)[0][:7]
    drivers = np.repeat(center[None], 20000, axis=0)
    job = sc.plan(drivers, par[keep], rule=sc.FixedOutDegree(3), kernel=kernel, mask=mask, multapses=False, seed=5)
    assert custom.handles(job.problem)
    conn = job.connect()
    groups = np.split(conn.targets, np.arange(3, len(conn), 3))
    assert subset_pvalue(groups, successive_subset_probs(w[keep], 3)) > ALPHA
    # negative control: the same draws against the weights of another kernel
    wrong = exact_weights(KERNELS["peak" if name == "decreasing" else "decreasing"][1], disp_fn(center, par), mask)
    assert subset_pvalue(groups, successive_subset_probs(np.maximum(wrong[keep], 1e-3), 3)) < REJECT


def test_successive_sampling_when_repeats_switch_to_the_race():
    kernel, w_fn = KERNELS["dense"]
    center, par, disp_fn, _, mask = partners("mask", 60, 3)
    w = exact_weights(w_fn, disp_fn(center, par), mask)
    keep = np.nonzero(w > 0)[0][:7]
    conn = sc.connect(np.repeat(center[None], 20000, axis=0), par[keep], rule=sc.FixedOutDegree(6), kernel=kernel,
                      mask=mask, multapses=False, seed=6)
    groups = np.split(conn.targets, np.arange(6, len(conn), 6))
    assert subset_pvalue(groups, successive_subset_probs(w[keep], 6)) > ALPHA
    assert subset_pvalue(groups, successive_subset_probs(w[keep] ** 2, 6)) < REJECT  # negative control


@pytest.mark.parametrize("name, rounds", [("decreasing", custom.MAX_ROUNDS), ("decreasing", 1), ("dense", 0)])
def test_every_candidate_once_when_k_is_all_of_them(monkeypatch, name, rounds):
    monkeypatch.setattr(custom, "MAX_ROUNDS", rounds)  # 1: most drivers end on the exact fallback
    kernel, w_fn = KERNELS[name]
    center, par, disp_fn, _, mask = partners("mask", 60, 4)
    n_cand = int(np.count_nonzero(exact_weights(w_fn, disp_fn(center, par), mask)))
    conn = sc.connect(np.repeat(center[None], 50, axis=0), par, rule=sc.FixedOutDegree(n_cand), kernel=kernel,
                      mask=mask, multapses=False, seed=2)
    for t in np.split(conn.targets, 50):
        assert np.unique(t).size == n_cand


def test_drivers_short_after_the_rounds_are_drawn_exactly(monkeypatch):
    monkeypatch.setattr(custom, "MAX_ROUNDS", 1)
    monkeypatch.setattr(custom, "FIRST_ACCEPT", 0.1)  # too few proposals: about half the drivers fall back
    kernel, w_fn = KERNELS["peak"]
    par, disp, mask = _draw(kernel, "mask", "out", k=20)
    w = exact_weights(w_fn, disp, mask)
    assert chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 20 * w / w.sum()) > ALPHA


@pytest.mark.parametrize("name, wrong", [
    ("decreasing", sc.CustomKernel(lambda d: np.exp(-d / 0.25) * (d < 0.5), cutoff=1.0, decreasing=True)),
    ("dense", sc.CustomKernel(lambda d: 0.2 + np.sin(5 * d) ** 2, cutoff=0.45)),
    ("peak", sc.CustomKernel(lambda x: np.abs(np.cos(2 * np.arctan2(x[:, 1], x[:, 0])))
                             * np.exp(-np.sum(x * x, axis=1) / (2 * 0.4**2)), cutoff=0.9, on="displacement",
                             peak=1.0)),
])
def test_negative_controls_wrong_function(name, wrong):
    _, w_fn = KERNELS[name]
    par, disp, mask = _draw(wrong, "mask", "out")
    w = exact_weights(w_fn, disp, mask)
    assert chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 500 * w / w.sum()) < REJECT


def test_negative_control_open_space_for_a_torus():
    kernel, w_fn = KERNELS["decreasing"]
    par, disp, _ = _draw(kernel, "torus", "out", space=None)
    assert chi2_pvalue(np.bincount(par, minlength=disp.shape[0]), 400 * 500 * exact_weights(w_fn, disp)
                       / exact_weights(w_fn, disp).sum()) < REJECT


def test_a_broken_declaration_is_an_error():
    pos = np.random.default_rng(0).random((300, 2))
    rising = sc.CustomKernel(lambda d: d, cutoff=0.3, decreasing=True)
    with pytest.raises(ValueError, match="declared bound"):
        sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=rising, seed=0)
    with pytest.raises(ValueError, match="declared bound"):
        sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.CustomKernel(lambda d: 2 + 0 * d, cutoff=0.3, peak=1.0))
    with pytest.raises(ValueError, match="on='distance'"):
        sc.CustomKernel(lambda x: x[:, 0], cutoff=1.0, on="displacement", decreasing=True)
    with pytest.raises(TypeError, match="decreasing"):
        sc.CustomKernel(np.exp, cutoff=1.0, decreasing="yes")


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("setting", ["mask", "torus", "open"])
def test_candidate_counts_areexact_weights(name, setting):
    kernel, _ = KERNELS[name]
    rng = np.random.default_rng(1)
    pos = rng.random((400, 2)) * (1 if setting == "torus" else 2) - (0 if setting == "torus" else 1)
    mask = MASK if setting == "mask" else None
    job = sc.plan(pos, rule=sc.FixedOutDegree(1), kernel=kernel, mask=mask, autapses=False,
                  space=TORUS if setting == "torus" else None)
    assert custom.handles(job.problem)
    assert np.array_equal(custom.candidate_counts(job.problem), reference.candidate_counts(job.problem))


@pytest.mark.parametrize("bounded", [True, False])
@pytest.mark.parametrize("multapses", [True, False])
def test_same_synapses_for_any_threads_blocks_and_random_access(monkeypatch, multapses, bounded):
    rng = np.random.default_rng(2)
    pos = rng.random((3000, 2))
    kernel = sc.CustomKernel(lambda d: np.exp(-d**2 / (2 * 0.05**2)), cutoff=0.2, decreasing=bounded)
    job = sc.plan(pos, rule=sc.FixedInDegree(30), kernel=kernel, multapses=multapses, autapses=False, seed=4)
    assert custom.handles(job.problem)
    monkeypatch.setenv("SPATIALCONN_THREADS", "1")
    whole = job.connect()
    monkeypatch.setenv("SPATIALCONN_THREADS", "2")
    again = job.connect()
    assert np.array_equal(whole.sources, again.sources) and np.array_equal(whole.targets, again.targets)
    blocks = list(job.blocks(700))
    assert np.array_equal(np.concatenate([b.sources for b in blocks]), whole.sources)
    ids = np.array([3, 4, 999, 2500])
    some = job.drivers(ids)
    inside = np.isin(whole.targets, ids)
    assert np.array_equal(some.sources, whole.sources[inside])
    assert not np.any(whole.sources == whole.targets)


def test_dask_partitions_give_the_same_synapses():
    import spatialconn.dask as scd

    pos = np.random.default_rng(3).random((1500, 2))
    kw = dict(rule=sc.FixedOutDegree(7), multapses=False, seed=9,
              kernel=sc.CustomKernel(lambda d: np.exp(-d / 0.05), cutoff=0.25, decreasing=True))
    local = sc.connect(pos, **kw)
    df = scd.connect(pos, npartitions=4, **kw).compute(scheduler="sync").sort_values("source", kind="stable")
    assert np.array_equal(df.source.to_numpy(), local.sources)
    assert np.array_equal(df.target.to_numpy(), local.targets)


@pytest.mark.parametrize("ndim", [1, 3])
@pytest.mark.parametrize("bounded", [True, False])
def test_one_and_three_dimensions(ndim, bounded):
    pos = np.random.default_rng(5).random((300, ndim))
    kernel = sc.CustomKernel(lambda d: np.exp(-d / 0.1) * (d < 0.3), cutoff=0.4, decreasing=bounded)
    job = sc.plan(pos[:1], pos, rule=sc.FixedOutDegree(20000), kernel=kernel, seed=3)
    assert custom.handles(job.problem)
    assert np.array_equal(custom.candidate_counts(job.problem), reference.candidate_counts(job.problem))
    d = np.sqrt(np.sum((pos - pos[0]) ** 2, axis=1))
    w = np.exp(-d / 0.1) * (d < 0.3)
    assert chi2_pvalue(np.bincount(job.connect().targets, minlength=300), 20000 * w / w.sum()) > ALPHA
