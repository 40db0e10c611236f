"""spatialconn.nest against the real NEST (small layers, a few ms simulated)."""

import os

import numpy as np
import pytest

import spatialconn as sc  # noqa: E402
import spatialconn.nest as scn  # noqa: E402

os.environ.setdefault("PYNEST_QUIET", "1")
nest = pytest.importorskip("nest")
from spatialconn._nest_spec import translate_conn_spec, translate_kernel  # noqa: E402


@pytest.fixture(autouse=True)
def _reset():
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    yield


def _free(n, seed=0, edge_wrap=False, extent=1.0):
    pos = np.random.default_rng(seed).uniform(-extent / 2, extent / 2, (n, 2))
    layer = nest.Create("iaf_psc_alpha", positions=nest.spatial.free(pos.tolist(), extent=[extent, extent],
                                                                       edge_wrap=edge_wrap))
    return layer, pos


def _grid():
    return nest.Create("iaf_psc_alpha", positions=nest.spatial.grid([21, 21], extent=[1.05, 1.05]))


def _pairs(pre, post):
    c = nest.GetConnections(pre, post)
    return np.asarray(c.source), np.asarray(c.target)


def _pair_set(pre, post):
    s, t = _pairs(pre, post)
    return sorted(zip(s.tolist(), t.tolist()))


def test_connect_counts_ids_weights_and_delays():
    pre, pre_pos = _free(200, 1)
    post, post_pos = _free(300, 2)
    conn = scn.connect(pre, post, sc.FixedOutDegree(7), sc.Gaussian(0.1), seed=3,
                       weight=lambda d: 2.0 - d, delay=lambda d: 1.0 + 5.0 * d)
    assert nest.num_connections == len(conn) == 1400
    c = nest.GetConnections(pre, post)
    s, t = np.asarray(c.source), np.asarray(c.target)
    assert s.min() >= pre[0].global_id and s.max() <= pre[-1].global_id
    assert t.min() >= post[0].global_id and t.max() <= post[-1].global_id
    assert np.array_equal(np.bincount(s - pre[0].global_id, minlength=200), np.full(200, 7))
    d = np.linalg.norm(post_pos[t - post[0].global_id] - pre_pos[s - pre[0].global_id], axis=1)
    np.testing.assert_allclose(np.asarray(c.weight), 2.0 - d, rtol=1e-12)
    res = nest.resolution
    np.testing.assert_allclose(np.asarray(c.delay), np.round((1.0 + 5.0 * d) / res) * res, atol=1e-9)
    rng = np.random.default_rng(4)
    random_d = np.linalg.norm(post_pos[rng.integers(0, 300, 4000)] - pre_pos[rng.integers(0, 200, 4000)], axis=1)
    assert d.mean() < 0.5 * random_d.mean()
    nest.Simulate(5.0)


def test_autapses_by_node_id_for_overlapping_collections_and_multapses():
    layer, _ = _free(300, 5)
    a, b = layer[:200], layer[100:]
    conn = scn.connect(a, b, sc.FixedInDegree(6), sc.Gaussian(0.05), multapses=False, autapses=False,
                       seed=6)
    s, t = _pairs(a, b)
    assert len(conn) == s.size == 1200
    assert not np.any(s == t)
    assert np.unique(s * 10_000 + t).size == s.size
    assert np.array_equal(np.bincount(t - layer[100].global_id, minlength=200), np.full(200, 6))


@pytest.mark.parametrize("rule,count_key,mask", [
    ("fixed_indegree", "indegree", {"rectangular": {"lower_left": [-0.06, -0.06], "upper_right": [0.06, 0.06]},
                                    "anchor": [0.2, 0.1]}),
    ("fixed_outdegree", "outdegree", {"rectangular": {"lower_left": [-0.06, -0.06], "upper_right": [0.06, 0.06]},
                                      "anchor": [0.2, 0.1]}),
    ("fixed_indegree", "indegree", {"circular": {"radius": 0.06}, "anchor": [-0.15, 0.05]}),
    ("fixed_outdegree", "outdegree", {"doughnut": {"inner_radius": 0.03, "outer_radius": 0.06},
                                      "anchor": [0.1, -0.2]}),
    ("fixed_indegree", "indegree", {"elliptical": {"major_axis": 0.3, "minor_axis": 0.12, "azimuth_angle": 30.0},
                                    "anchor": [0.1, 0.15]}),
])
def test_mask_anchored_on_the_driver_like_nest(rule, count_key, mask):
    # one driver at the centre of a grid; its degree equals the number of nodes in the
    # mask, without multapses, so NEST and spatialconn must both take exactly those nodes
    one = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.0, 0.0]], extent=[1.05, 1.05]))
    grid = _grid()
    pre, post = (grid, one) if rule == "fixed_indegree" else (one, grid)
    kw = translate_conn_spec({"rule": rule, count_key: 1, "mask": mask})
    drv, par = (post, pre) if rule == "fixed_indegree" else (pre, post)
    d_pos, p_pos = scn.layer_positions(drv), scn.layer_positions(par)
    disp = (p_pos - d_pos) if rule == "fixed_outdegree" else (d_pos - p_pos)  # target - source
    k = int(kw["mask"].contains(disp).sum())
    assert k >= 4
    spec = {"rule": rule, count_key: k, "mask": mask, "allow_multapses": False}
    nest.Connect(pre, post, spec)
    native = _pair_set(pre, post)
    nest.ResetKernel()
    one = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.0, 0.0]], extent=[1.05, 1.05]))
    grid = _grid()
    pre, post = (grid, one) if rule == "fixed_indegree" else (one, grid)
    scn.connect_spec(pre, post, spec, seed=1)
    assert _pair_set(pre, post) == native


@pytest.mark.parametrize("use_on_source", [False, True])
def test_bernoulli_mask_like_nest_on_a_torus(use_on_source):
    mask = {"rectangular": {"lower_left": [-0.1, -0.05], "upper_right": [0.1, 0.05]}, "anchor": [0.3, 0.0]}
    spec = {"rule": "pairwise_bernoulli", "p": 1.0, "mask": mask, "use_on_source": use_on_source}
    results = []
    for ours in (False, True):
        nest.ResetKernel()
        pre, _ = _free(150, 7, edge_wrap=True)
        post, _ = _free(150, 8, edge_wrap=True)
        (scn.connect_spec(pre, post, spec, seed=2) if ours else nest.Connect(pre, post, spec))
        results.append(_pair_set(pre, post))
    assert len(results[0]) > 20 and results[0] == results[1]


def test_edge_wrap_layer_becomes_periodic_space():
    layer, pos = _free(400, 9, edge_wrap=True)
    space = scn.layer_space(layer)
    assert space.periodic == (True, True) and np.allclose(space.lengths, [1.0, 1.0])
    conn = scn.connect(layer, layer, sc.FixedOutDegree(5), sc.Gaussian(0.03), mask=sc.Disc(0.1), seed=3)
    assert np.asarray(conn.distances).max() <= 0.1
    raw = np.linalg.norm(pos[conn.targets] - pos[conn.sources], axis=1)
    assert raw.max() > 0.5  # some partners found across the wrapped edge


def test_fixed_total_number_with_kernel_where_nest_refuses():
    layer, pos = _free(300, 10)
    spec = {"rule": "fixed_total_number", "N": 900, "p": {"gaussian": {"std": 0.05}},
            "mask": {"circular": {"radius": 0.2}}, "allow_autapses": False}
    with pytest.raises(Exception):
        nest.Connect(layer, layer, spec)
    nest.ResetKernel()
    layer, pos = _free(300, 10)
    conn = scn.connect_spec(layer, layer, spec, {"weight": 0.5, "delay": 1.5}, seed=4)
    s, t = _pairs(layer, layer)
    assert s.size == 900 and len(conn) == 900 and not np.any(s == t)
    c = nest.GetConnections(layer, layer)
    assert np.allclose(c.weight, 0.5) and np.allclose(c.delay, 1.5)
    assert np.asarray(conn.distances).max() <= 0.2


@pytest.mark.parametrize("p,param", [
    ({"gaussian": {"std": 0.2}}, lambda: nest.spatial_distributions.gaussian(nest.spatial.distance, std=0.2)),
    ({"gaussian": {"std": 0.1, "mean": 0.2}},
     lambda: nest.spatial_distributions.gaussian(nest.spatial.distance, mean=0.2, std=0.1)),
    ({"exponential": {"beta": 0.15}},
     lambda: nest.spatial_distributions.exponential(nest.spatial.distance, beta=0.15)),
    ({"gamma": {"kappa": 2.5, "theta": 0.1}},
     lambda: nest.spatial_distributions.gamma(nest.spatial.distance, kappa=2.5, theta=0.1)),
    ({"linear": {"c": 1.0, "a": -1.5}}, lambda: 1.0 + (-1.5) * nest.spatial.distance),
    ({"gaussian2D": {"std_x": 0.2, "std_y": 0.1}},
     lambda: nest.spatial_distributions.gaussian2D(nest.spatial.distance.x, nest.spatial.distance.y,
                                                   std_x=0.2, std_y=0.1)),
], ids=["gaussian", "ring", "exponential", "gamma", "linear", "gaussian2D"])
def test_kernel_dicts_match_nest_parameters(p, param):
    kernel, factor = translate_kernel(p)
    assert factor == 1.0
    origin = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.0, 0.0]], extent=[2.0, 2.0]))
    pts = np.random.default_rng(11).uniform(-0.6, 0.6, (50, 2))
    theirs = np.asarray(param().apply(origin, pts.tolist()))
    ours = kernel(pts) if not kernel.isotropic else kernel(np.linalg.norm(pts, axis=1))
    if isinstance(kernel, sc.Linear):
        theirs = np.maximum(theirs, 0.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


def test_conn_spec_translation_and_errors():
    kw = translate_conn_spec({"rule": "fixed_outdegree", "outdegree": 3, "allow_autapses": False,
                              "allow_multapses": False, "mask": {"box": {"lower_left": [-.1, -.1, -.1],
                                                                         "upper_right": [.1, .1, .2]}}})
    assert kw["rule"] == sc.FixedOutDegree(3) and kw["autapses"] is False and kw["multapses"] is False
    assert kw["mask"] == sc.Box((-.1, -.1, -.1), (.1, .1, .2))
    kw = translate_conn_spec({"rule": "pairwise_bernoulli", "p": {"gaussian": {"std": 0.1}, "factor": 0.4}})
    assert kw["rule"] == sc.PairwiseBernoulli(0.4) and kw["kernel"] == sc.Gaussian(0.1)
    param = nest.spatial_distributions.gaussian(nest.spatial.distance, std=0.2)
    with pytest.raises(TypeError, match="NEST Parameter"):
        translate_conn_spec({"rule": "fixed_outdegree", "outdegree": 3, "p": param})
    with pytest.raises(ValueError, match="rule"):
        translate_conn_spec({"rule": "one_to_one"})
    with pytest.raises(ValueError, match="outdegree"):
        translate_conn_spec({"rule": "fixed_outdegree", "indegree": 3})
    kw = translate_conn_spec({"rule": "fixed_outdegree", "outdegree": 3, "mask": {
        "rectangular": {"lower_left": [0, 0], "upper_right": [1, 1], "azimuth_angle": 30.0}}})
    assert isinstance(kw["mask"], sc.RotatedBox) and kw["mask"].angle == pytest.approx(np.pi / 6)
    with pytest.raises(ValueError, match="kernel 'gaussian'"):
        translate_conn_spec({"rule": "fixed_indegree", "indegree": 3, "p": {"gaussian": {"sigma": 0.1}}})
    with pytest.raises(ValueError, match="rho"):
        translate_kernel({"gaussian2D": {"std_x": 0.1, "std_y": 0.1, "rho": 0.5}})
    layer, _ = _free(20)
    with pytest.raises(TypeError, match="Parameter"):
        scn.connect(layer, layer, sc.FixedOutDegree(1), weight=0.1 + 0.2 * nest.spatial.distance)
    with pytest.raises(TypeError, match="NodeCollection"):
        scn.connect([1, 2], layer, sc.FixedOutDegree(1))
    plain = nest.Create("iaf_psc_alpha", 5)
    with pytest.raises(ValueError, match="not spatial"):
        scn.connect(plain, plain, sc.FixedOutDegree(1))
    assert nest.num_connections == 0


def test_explicit_positions_for_non_spatial_nodes_and_simulation():
    nodes = nest.Create("iaf_psc_alpha", 100, params={"I_e": 400.0})
    pos = np.random.default_rng(12).uniform(0, 1, (100, 3))
    conn = scn.connect(nodes, nodes, sc.FixedInDegree(3), sc.Exponential(0.2), positions=(pos, pos),
                       autapses=False, seed=13, weight=20.0, delay=lambda d: 1.0 + d)
    assert nest.num_connections == 300 and conn.displacements.shape == (300, 3)
    rec = nest.Create("spike_recorder")
    nest.Connect(nodes, rec)
    nest.Simulate(30.0)
    assert rec.n_events > 0


def test_3d_spherical_and_box_masks_anchored_like_nest():
    rng = np.random.default_rng(14)
    pts = rng.uniform(-0.5, 0.5, (400, 3)).tolist()
    for rule, key, mask in (("fixed_indegree", "indegree", {"spherical": {"radius": 0.2}, "anchor": [0.15, 0.0, -0.1]}),
                            ("fixed_indegree", "indegree", {"box": {"lower_left": [-0.1, -0.1, -0.1],
                                                                    "upper_right": [0.1, 0.2, 0.1]},
                                                            "anchor": [0.0, 0.1, 0.05]})):
        sets = []
        for ours in (False, True):
            nest.ResetKernel()
            one = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.0, 0.0, 0.0]], extent=[1.2] * 3))
            many = nest.Create("iaf_psc_alpha", positions=nest.spatial.free(pts, extent=[1.2] * 3))
            m = translate_conn_spec({"rule": rule, key: 1, "mask": mask})["mask"]
            k = int(m.contains(np.zeros(3) - np.asarray(pts)).sum())  # target (origin) - sources
            spec = {"rule": rule, key: k, "mask": mask, "allow_multapses": False}
            (scn.connect_spec(many, one, spec, seed=1) if ours else nest.Connect(many, one, spec))
            sets.append(_pair_set(many, one))
        assert len(sets[0]) >= 3 and sets[0] == sets[1]


def test_pairwise_poisson_like_nest():
    # NEST's own pairwise_poisson and ours: totals both ~ Poisson(Λ) with Λ from the formula,
    # multapses present, distances from the same distribution (two-sample KS)
    spec = {"rule": "pairwise_poisson", "pairwise_avg_num_conns": {"gaussian": {"std": 0.1}, "factor": 3.0},
            "mask": {"circular": {"radius": 0.25}}, "allow_autapses": False}
    results = []
    for ours in (False, True):
        nest.ResetKernel()
        nest.rng_seed = 5
        layer, pos = _free(300, 21, edge_wrap=True)
        if ours:
            scn.connect_spec(layer, layer, spec, seed=3)
        else:
            nest.Connect(layer, layer, dict(spec, pairwise_avg_num_conns=3.0 * nest.spatial_distributions.gaussian(
                nest.spatial.distance, std=0.1)))
        s, t = _pairs(layer, layer)
        g0 = layer[0].global_id
        disp = pos[t - g0] - pos[s - g0]
        disp -= np.round(disp)
        results.append((s, t, np.linalg.norm(disp, axis=1)))
    disp = pos[None, :, :] - pos[:, None, :]
    d = np.linalg.norm(disp - np.round(disp), axis=-1)
    lam = np.where(d <= 0.25, 3.0 * np.exp(-d**2 / 0.02), 0.0)
    np.fill_diagonal(lam, 0.0)
    from scipy import stats
    for s, t, dist in results:
        assert abs(s.size - lam.sum()) < 4.5 * np.sqrt(lam.sum())
        assert not np.any(s == t) and dist.max() <= 0.25
        assert np.unique(s * 100_000 + t).size < s.size  # multapses
    assert stats.ks_2samp(results[0][2], results[1][2]).pvalue > 1e-4


def _native_and_ours(make, spec, seed=1):
    """Pair sets of NEST's own nest.Connect and of connect_spec for the same layers and spec."""
    sets = []
    for ours in (False, True):
        nest.ResetKernel()
        pre, post = make()
        (scn.connect_spec(pre, post, spec, seed=seed) if ours else nest.Connect(pre, post, spec))
        sets.append(_pair_set(pre, post))
    return sets


@pytest.mark.parametrize("wrap", [False, True])
def test_grid_mask_and_rotated_box_like_nest(wrap):
    def make():
        g = nest.Create("iaf_psc_alpha", positions=nest.spatial.grid([7, 5], extent=[1.4, 1.0], edge_wrap=wrap))
        return g, g
    for mask in ({"grid": {"shape": [3, 2]}, "anchor": [1, 0]},
                 {"rectangular": {"lower_left": [-0.3, -0.1], "upper_right": [0.3, 0.1], "azimuth_angle": 35.0}}):
        theirs, ours = _native_and_ours(make, {"rule": "pairwise_bernoulli", "p": 1.0, "mask": mask})
        assert len(theirs) > 35 and ours == theirs


def test_masks_covering_the_torus_and_off_centre_ones_by_brute_force():
    # a pair is in the mask when some periodic image of target - source is: brute force over images
    rng = np.random.default_rng(30)
    pos = rng.uniform(-0.5, 0.5, (120, 2))
    torus = sc.Space([(-0.5, 0.5), (-0.5, 0.5)], periodic=True)
    for mask in (sc.Box([-0.5, -0.5], [0.5, 0.5]), sc.Box([0.1, -0.2], [0.9, 0.3]), sc.Disc(0.3, center=(0.4, 0.0)),
                 sc.RotatedBox([0.0, -0.1], [0.8, 0.1], angle=0.5)):
        conn = sc.connect(pos, rule=sc.PairwiseBernoulli(1.0), mask=mask, space=torus, seed=1)
        disp = pos[None, :, :] - pos[:, None, :]
        images = [disp + np.array([i, j]) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        expected = np.any([mask.contains(x) for x in images], axis=0)
        got = np.zeros_like(expected)
        got[conn.sources, conn.targets] = True
        assert expected.sum() > 100 and np.array_equal(got, expected), mask
    with pytest.raises(ValueError, match="spans 1.2 on periodic axis 0"):
        sc.connect(pos, rule=sc.PairwiseBernoulli(1.0), mask=sc.Box([-0.6, -0.1], [0.6, 0.1]), space=torus)


def test_oversized_masks_and_nest_errors():
    def make():
        layer = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.0, 0.0], [0.3, 0.1]], extent=[1.0, 1.0],
                                                                         edge_wrap=True))
        return layer, layer
    big = {"rule": "pairwise_bernoulli", "p": 1.0, "mask": {"circular": {"radius": 0.6}}}
    for spec in (big, {"rule": "fixed_indegree", "indegree": 1, "mask": {"rectangular": {
            "lower_left": [-0.2, 0.1], "upper_right": [0.2, 0.1]}}}):
        errors = []
        for ours in (False, True):
            nest.ResetKernel()
            pre, post = make()
            with pytest.raises(nest.NESTErrors.BadProperty) as info:
                (scn.connect_spec(pre, post, spec) if ours else nest.Connect(pre, post, spec))
            errors.append(info.value)
        assert isinstance(errors[1], ValueError)  # also what sc.connect users catch
    theirs, ours = _native_and_ours(make, dict(big, allow_oversized_mask=True))
    assert ours == theirs and len(ours) == 4
    plain = nest.Create("iaf_psc_alpha", 3)
    with pytest.raises(TypeError, match="spatial"):
        scn.connect_spec(plain, plain, {"rule": "pairwise_bernoulli", "p": 1.0, "mask": {"circular": {"radius": .1}}})
    nrn = nest.Create("parrot_neuron", positions=nest.spatial.grid(shape=[2, 2]))
    rec = nest.Create("spike_recorder", positions=nest.spatial.grid(shape=[1, 1]))
    with pytest.raises(nest.NESTErrors.IllegalConnection):
        scn.connect_spec(nrn, rec, {"rule": "fixed_indegree", "indegree": 4, "allow_multapses": False})
    scn.connect_spec(nrn, rec, {"rule": "pairwise_bernoulli", "p": 1.0, "use_on_source": True})
    assert sorted(nest.GetConnections(nrn, rec).source) == list(nrn.global_id)


def test_probability_clipped_like_nest_and_two_dimensional_weights():
    layer, pos = _free(200, 31)
    p = {"gamma": {"kappa": 3.0, "theta": 0.1}, "factor": 0.5}  # 0.5 · K peaks at 0.5 · 2.71 > 1
    kernel, factor = translate_kernel(p)
    with pytest.raises(ValueError, match="p \\* K = "):
        sc.connect(pos, rule=sc.PairwiseBernoulli(factor), kernel=kernel)
    conn = scn.connect_spec(layer, layer, {"rule": "pairwise_bernoulli", "p": p}, seed=2)
    d = np.linalg.norm(pos[None, :, :] - pos[:, None, :], axis=-1)
    q = np.minimum(1.0, factor * kernel(d))
    assert (q == 1.0).any() and abs(len(conn) - q.sum()) < 4.5 * np.sqrt((q * (1 - q)).sum())
    nest.ResetKernel()
    layer, _ = _free(30, 32)
    w = np.arange(30 * 4, dtype=float).reshape(30, 4)
    scn.connect_spec(layer, layer, {"rule": "fixed_indegree", "indegree": 4, "mask": {"circular": {"radius": 0.8}}},
                     {"weight": w}, seed=3)
    c = nest.GetConnections(layer, layer)
    by_target = sorted(zip(c.target, c.weight))
    assert [wt for _, wt in by_target] == sorted(w.ravel().tolist())
