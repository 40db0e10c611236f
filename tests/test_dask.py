"""Dask scale-out: bit-identical to the local path on a real multi-process LocalCluster."""

from __future__ import annotations

import os

import libsonata
import numpy as np
import pandas as pd
import pytest

import spatialconn as sc
import spatialconn.dask as scd

distributed = pytest.importorskip("distributed")

RNG = np.random.default_rng(77)
POS = RNG.random((400, 2))
PRE, POST = RNG.random((150, 3)), RNG.random((250, 3))


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


CASES = {
    "out-multapses": (POS, None, dict(rule=sc.FixedOutDegree(12), kernel=sc.Gaussian(0.1))),
    "in-no-multapses-3d": (PRE, POST, dict(rule=sc.FixedInDegree(9), kernel=sc.Exponential(0.3),
                                           multapses=False)),
    "bernoulli-torus-mask": (POS, None, dict(rule=sc.PairwiseBernoulli(0.9), kernel=sc.Gaussian(0.1),
                                             mask=sc.Disc(0.25), space=sc.Space([(0, 1), (0, 1)]),
                                             autapses=False)),
    "total-multapses": (PRE, POST, dict(rule=sc.FixedTotalNumber(2000), kernel=sc.Gaussian(0.2))),
    "total-no-multapses": (POS, None, dict(rule=sc.FixedTotalNumber(1500), kernel=sc.Gaussian(0.1),
                                           multapses=False)),
}


FAR = np.r_[POS, [[40.0, 40.0]]]  # one neuron 400 σ from the rest: its window cannot be proven
CASES.update({
    "far-driver-no-multapses": (FAR, None, dict(rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1),
                                                multapses=False)),
    "torus-gauss-no-multapses": (POS, None, dict(rule=sc.FixedOutDegree(np.arange(400) % 13),
                                                 kernel=sc.Gaussian(0.05), multapses=False,
                                                 space=sc.Space([(0, 1), (0, 1)], periodic=True),
                                                 autapses=False)),
    "bernoulli-3d": (PRE, POST, dict(rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.1))),
    "custom-kernel": (POS, None, dict(rule=sc.FixedOutDegree(4), multapses=False,
                                      kernel=sc.CustomKernel(lambda r: np.exp(-r / 0.1), cutoff=0.4))),
})


def assert_same(df, conn, by=None):
    """``df`` holds exactly ``conn``'s synapses; with ``by``, after a stable sort by that column."""
    if by is not None:
        df = df.sort_values(by, kind="stable")
    np.testing.assert_array_equal(df.source.to_numpy(), conn.sources)
    np.testing.assert_array_equal(df.target.to_numpy(), conn.targets)
    np.testing.assert_array_equal(df.distance.to_numpy(), np.asarray(conn.distances))
    assert df.source.dtype == conn.sources.dtype


def driver_column(kw):
    return "target" if isinstance(kw["rule"], sc.FixedInDegree) else "source"


@pytest.mark.parametrize("case", CASES)
def test_dataframe_equals_local_for_any_partitioning(client, case):
    pre, post, kw = CASES[case]
    local = sc.connect(pre, post, seed=123, **kw)
    for partition in ("space", "index"):
        for npart in (1, 3, 7):
            ddf = scd.connect(pre, post, seed=123, client=client, npartitions=npart, partition=partition, **kw)
            # space partitions are unions of grid cells: fewer when drivers fill fewer cells
            assert ddf.npartitions == npart or (partition == "space" and ddf.npartitions < npart)
            assert_same(ddf.compute(), local, by=driver_column(kw) if partition == "space" else None)


def test_tasks_get_only_their_halo():
    """Each task carries its drivers and the partners within reach, not all positions."""
    import pickle

    pos = np.random.default_rng(3).random((20_000, 2))
    for kw in (dict(kernel=sc.Gaussian(0.01)), dict(kernel=sc.Exponential(0.02), mask=sc.Disc(0.05))):
        job = sc.plan(pos, rule=sc.FixedOutDegree(10), seed=1, **kw)
        ids = scd._parts(job, 16, "space")
        units = scd._units(job, ids, lambda x: x, lambda x: x)
        assert len(units) == 16
        held = np.array([u.partners_held for u in units])
        assert held.max() < 0.2 * len(pos)
        whole = len(pickle.dumps(job))
        assert max(len(pickle.dumps(u)) for u in units) < 0.4 * whole
        for u, drivers in zip(units[:4], ids):  # each piece gives its drivers' synapses bit for bit
            np.testing.assert_array_equal(u.connect().targets, job.drivers(drivers).targets)
        # index partitions of neurons in random order need every partner: they share the job
        ids = scd._parts(job, 16, "index")
        units = scd._units(job, ids, lambda x: x, lambda x: x)
        assert all(u[0] is job for u in units)
        # ... unless the neurons are numbered in spatial order
        order = np.lexsort(pos.T[::-1])
        sorted_job = sc.plan(pos[order], rule=sc.FixedOutDegree(10), seed=1, **kw)
        ids = scd._parts(sorted_job, 16, "index")
        units = scd._units(sorted_job, ids, lambda x: x, lambda x: x)
        assert max(u.partners_held for u in units) < 0.35 * len(pos)  # slabs: thin, so larger halos


@pytest.mark.parametrize("multapses", [True, False])
def test_far_driver_gets_every_partner_and_the_rest_a_halo(multapses):
    cloud = np.random.default_rng(5).random((20_000, 2)) * 3
    pos = np.r_[cloud, [[4.5, 4.5]]]  # 20 σ from the cloud: its window holds no partner
    kw = dict(seed=1, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), multapses=multapses, autapses=False)
    job = sc.plan(pos, **kw)
    ids = scd._parts(job, 4, "space")
    units = scd._units(job, ids, lambda x: x, lambda x: x)
    far = [20_000 in i for i in ids]
    assert [u.partners_held == len(pos) for u in units] == far and sum(far) == 1
    assert all(u.partners_held < 0.7 * len(pos) for u, f in zip(units, far) if not f)
    df = pd.concat([scd._frame(u.connect(), True) for u in units])
    assert_same(df, sc.connect(pos, **kw), by="source")


def test_same_result_without_cluster_and_with_threads():
    pre, post, kw = CASES["out-multapses"]
    local = sc.connect(pre, post, seed=5, **kw)
    ddf = scd.connect(pre, post, seed=5, npartitions=5, **kw)
    assert_same(ddf.compute(scheduler="sync"), local, by="source")
    assert_same(ddf.compute(scheduler="threads"), local, by="source")


def test_parquet_partitions_equal_local(client, tmp_path):
    import dask.dataframe as dd

    pre, post, kw = CASES["in-no-multapses-3d"]
    local = sc.connect(pre, post, seed=8, **kw)
    out = scd.connect(pre, post, seed=8, client=client, npartitions=4, output=tmp_path / "net",
                      memory_limit=128 * 200, **kw)  # each task streams blocks of ~200 synapses
    assert sorted(os.listdir(out)) == [f"part-{i:05d}.parquet" for i in range(4)]
    import pyarrow.parquet as pq

    assert all(pq.ParquetFile(os.path.join(out, f)).metadata.num_row_groups > 1 for f in os.listdir(out))
    assert_same(pd.read_parquet(out), local, by="target")
    assert_same(dd.read_parquet(out).compute(), local, by="target")
    assert sorted(os.listdir(tmp_path)) == ["net"]


def test_sonata_shards_equal_local(client, tmp_path):
    pre, post, kw = CASES["out-multapses"]
    local = sc.connect(pre, post, seed=2, **kw)
    out = scd.connect(pre, post, seed=2, client=client, npartitions=3, output=tmp_path / "edges",
                      format="sonata", partition="index", write_options={"population": "v1", "delay": 1.0}, **kw)
    shards = sorted(n for n in os.listdir(out) if n.endswith(".h5"))
    assert shards == ["edges-00000.h5", "edges-00001.h5", "edges-00002.h5"]
    src, tgt, dist = [], [], []
    for name in shards:
        pop = libsonata.EdgeStorage(os.path.join(out, name)).open_population("v1")
        every = pop.select_all()
        src.append(pop.source_nodes(every))
        tgt.append(pop.target_nodes(every))
        dist.append(pop.get_attribute("distance", every))
        for node in np.unique(src[-1])[:5]:  # global node ids through the shard's index
            assert (pop.source_nodes(pop.efferent_edges(int(node))) == node).all()
    np.testing.assert_array_equal(np.concatenate(src), local.sources)
    np.testing.assert_array_equal(np.concatenate(tgt), local.targets)
    np.testing.assert_array_equal(np.concatenate(dist), np.asarray(local.distances))
    assert open(os.path.join(out, "edge_types.csv")).read() == "edge_type_id\n0\n"


def test_errors_on_client_before_any_task_or_file(client, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(ValueError, match="distinct"):
        scd.connect(POS, rule=sc.FixedOutDegree(500), multapses=False, client=client, output=out)
    with pytest.raises(ValueError, match="npartitions"):
        scd.connect(POS, rule=sc.FixedOutDegree(1), npartitions=0)
    with pytest.raises(ValueError, match="format"):
        scd.connect(POS, rule=sc.FixedOutDegree(1), output=out, format="csv")
    with pytest.raises(ValueError, match="population"):
        scd.connect(POS, rule=sc.FixedOutDegree(1), output=out, format="sonata",
                    write_options={"population": ""})
    with pytest.raises(TypeError, match="client"):
        scd.connect(POS, rule=sc.FixedOutDegree(1), client="tcp://nowhere")
    assert os.listdir(tmp_path) == []


def test_partition_bounds_balance_synapses():
    k = np.r_[np.full(10, 100), np.ones(90, dtype=int)]
    b = scd.partition_bounds(k, 100, 2)
    assert b.tolist() == [0, 6, 100]
    assert scd.partition_bounds(None, 3, 10).tolist() == [0, 1, 2, 3]


def test_space_partitions_are_balanced_boxes():
    rng = np.random.default_rng(0)
    coords = rng.integers(0, 50, size=(2000, 2))
    w = rng.random(2000)
    groups = scd.partition_space(coords, w, 6)
    assert len(groups) == 6 and sorted(np.concatenate(groups).tolist()) == list(range(2000))
    mass = np.array([w[g].sum() for g in groups])
    assert mass.max() < 1.1 * w.sum() / 6
    with pytest.raises(ValueError, match="partition"):
        scd.connect(POS, rule=sc.FixedOutDegree(1), partition="hilbert")


def _fail_on_big_blocks(d):
    if len(d) > 500:
        raise RuntimeError("worker lost its disk")
    return d


def test_failing_partition_leaves_no_output(client, tmp_path):
    pre, post, kw = CASES["out-multapses"]
    with pytest.raises(RuntimeError, match="lost its disk"):
        scd.connect(pre, post, seed=1, client=client, npartitions=4, output=tmp_path / "net",
                    write_options={"delay": _fail_on_big_blocks}, **kw)
    assert os.listdir(tmp_path) == []


def test_progress_bar_on_cluster(client, tmp_path):
    pre, post, kw = CASES["out-multapses"]
    scd.connect(pre, post, seed=1, client=client, npartitions=2, output=tmp_path / "p", progress=True, **kw)
    assert sorted(os.listdir(tmp_path / "p")) == ["part-00000.parquet", "part-00001.parquet"]
