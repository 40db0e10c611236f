"""spatialconn.pynn against real PyNN 0.13 with the pyNN.nest backend."""

import os

import numpy as np
import pytest

os.environ.setdefault("PYNEST_QUIET", "1")
pytest.importorskip("pyNN")
import spatialconn as sc  # noqa: E402
from spatialconn.pynn import SpatialConnector, connection_list, projection_geometry  # noqa: E402  (before NEST)

sim = pytest.importorskip("pyNN.nest")  # builds an optional extension (CMake noise) but works
from pyNN.space import Cuboid, Grid2D, RandomStructure, Space  # noqa: E402


@pytest.fixture(autouse=True)
def _setup():
    sim.setup(timestep=0.1)
    yield
    sim.end()


def _pairs(prj, *names):
    rows = np.asarray(prj.get(list(names), format="list", with_address=True), dtype=float)
    return rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2:]


def _random_pop(n, seed=0, size=500.0):
    structure = RandomStructure(Cuboid(size, size, 0.0), origin=(size / 2, size / 2, 0.0),
                                rng=sim.NumpyRNG(seed=seed))
    return sim.Population(n, sim.IF_cond_exp(), structure=structure)


def test_projection_counts_and_nearer_partners():
    pre, post = _random_pop(150, 1), _random_pop(250, 2)
    connector = SpatialConnector(sc.FixedOutDegree(6), sc.Gaussian(40.0), seed=3)
    prj = sim.Projection(pre, post, connector, sim.StaticSynapse(weight=0.01, delay=1.0))
    assert len(prj) == 900
    i, j, _ = _pairs(prj, "weight")
    assert np.array_equal(np.bincount(i, minlength=150), np.full(150, 6))
    assert j.max() < 250
    d = np.linalg.norm(post.positions[:, j] - pre.positions[:, i], axis=0)
    rng = np.random.default_rng(4)
    rd = np.linalg.norm(post.positions[:, rng.integers(0, 250, 3000)] - pre.positions[:, rng.integers(0, 150, 3000)],
                        axis=0)
    assert d.mean() < 0.5 * rd.mean()
    conn = connector.connections
    assert sorted(zip(i, j)) == sorted(zip(conn.sources.tolist(), conn.targets.tolist()))


def test_distance_expressions_evaluated_by_pynn_with_periodic_space():
    pop = sim.Population(100, sim.IF_cond_exp(), structure=Grid2D(dx=10.0, dy=10.0, x0=0.0, y0=0.0))
    space = Space(axes="xy", periodic_boundaries=((0.0, 100.0), (0.0, 100.0), None))
    connector = SpatialConnector(sc.FixedInDegree(4), sc.Gaussian(15.0), mask=sc.Disc(25.0),
                                 multapses=False, autapses=False, seed=5)
    prj = sim.Projection(pop, pop, connector, sim.StaticSynapse(weight="0.001 * d", delay=1.0), space=space)
    i, j, w = _pairs(prj, "weight")
    assert len(prj) == 400 and not np.any(i == j)
    assert np.array_equal(np.bincount(j, minlength=100), np.full(100, 4))
    assert np.unique(i * 100 + j).size == i.size
    ours = {(s, t): float(d) for s, t, d in zip(connector.connections.sources, connector.connections.targets,
                                                np.asarray(connector.connections.distances))}
    np.testing.assert_allclose(w[:, 0], [0.001 * ours[(s, t)] for s, t in zip(i, j)], rtol=1e-6)
    assert max(ours.values()) <= 25.0
    raw = np.linalg.norm(pop.positions[:, j] - pop.positions[:, i], axis=0)
    assert raw.max() > 50.0  # some partners across the periodic boundary


def test_total_number_bernoulli_and_simulation():
    pre, post = _random_pop(80, 6), _random_pop(120, 7)
    prj = sim.Projection(pre, post, SpatialConnector(sc.FixedTotalNumber(300, sources="uniform"),
                                                     sc.Exponential(60.0), seed=8),
                         sim.StaticSynapse(weight=0.05, delay=0.5))
    assert len(prj) == 300
    prj2 = sim.Projection(pre, post, SpatialConnector(sc.PairwiseBernoulli(0.8), sc.Gaussian(50.0), seed=9),
                          sim.StaticSynapse(weight=0.05, delay=0.5))
    assert 0 < len(prj2) < 80 * 120
    pre.set(i_offset=2.0)
    post.record("spikes")
    sim.run(5.0)


def test_overlapping_views_exclude_the_same_cell():
    pop = _random_pop(200, 10)
    a, b = pop[:120], pop[80:]
    prj = sim.Projection(a, b, SpatialConnector(sc.FixedOutDegree(5), sc.Gaussian(30.0), autapses=False,
                                                multapses=False, seed=11),
                         sim.StaticSynapse(weight=0.01, delay=1.0))
    i, j, _ = _pairs(prj, "weight")
    assert len(prj) == 600
    assert not np.any(np.asarray(a.all_cells)[i] == np.asarray(b.all_cells)[j])


def test_connection_list_for_from_list_connector_and_geometry():
    pop = sim.Population(64, sim.IF_cond_exp(), structure=Grid2D(dx=10.0, dy=10.0))
    pairs = connection_list(pop, pop, sc.FixedTotalNumber(150), sc.Gaussian(15.0), seed=12)
    assert pairs.shape == (150, 2)
    prj = sim.Projection(pop, pop, sim.FromListConnector(pairs.tolist(), column_names=()),
                         sim.StaticSynapse(weight=0.01))
    assert len(prj) == 150
    a, b, space = projection_geometry(pop, pop, Space(axes="xy", scale_factor=2.0, offset=(1.0, 0.0, 0.0)))
    assert space is None and a.shape == (64, 2)
    np.testing.assert_allclose(b, 2.0 * (a + [1.0, 0.0]))
    with pytest.raises(ValueError, match="rule|k"):
        SpatialConnector(sc.FixedOutDegree(-1))


def test_scaled_space_uses_transformed_target_positions():
    pop = sim.Population(64, sim.IF_cond_exp(), structure=Grid2D(dx=10.0, dy=10.0))
    space = Space(axes="xy", scale_factor=2.0)
    connector = SpatialConnector(sc.FixedOutDegree(3), sc.Gaussian(10.0), seed=15)
    prj = sim.Projection(pop, pop, connector, sim.StaticSynapse(weight="0.001 * d", delay=1.0), space=space)
    i, j, w = _pairs(prj, "weight")
    ours = {(s, t): float(d) for s, t, d in zip(connector.connections.sources, connector.connections.targets,
                                                connector.connections.distances)}
    np.testing.assert_allclose(w[:, 0], [0.001 * ours[(s, t)] for s, t in zip(i, j)], rtol=1e-6)
    with pytest.raises(NotImplementedError, match="scale_factor"):
        sim.Projection(pop, pop, SpatialConnector(sc.FixedOutDegree(3), sc.Gaussian(10.0), autapses=False),
                       sim.StaticSynapse(weight=0.01, delay=1.0), space=space)
