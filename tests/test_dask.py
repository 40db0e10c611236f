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


def assert_same(df, conn):
    np.testing.assert_array_equal(df.source.to_numpy(), conn.sources)
    np.testing.assert_array_equal(df.target.to_numpy(), conn.targets)
    np.testing.assert_array_equal(df.distance.to_numpy(), np.asarray(conn.distances))
    assert df.source.dtype == conn.sources.dtype


@pytest.mark.parametrize("case", CASES)
def test_dataframe_equals_local_for_any_partitioning(client, case):
    pre, post, kw = CASES[case]
    local = sc.connect(pre, post, seed=123, **kw)
    for npart in (1, 3, 7):
        ddf = scd.connect(pre, post, seed=123, client=client, npartitions=npart, **kw)
        assert ddf.npartitions == npart
        assert_same(ddf.compute(), local)


def test_same_result_without_cluster_and_with_threads():
    pre, post, kw = CASES["out-multapses"]
    local = sc.connect(pre, post, seed=5, **kw)
    ddf = scd.connect(pre, post, seed=5, npartitions=5, **kw)
    assert_same(ddf.compute(scheduler="sync"), local)
    assert_same(ddf.compute(scheduler="threads"), local)


def test_parquet_partitions_equal_local(client, tmp_path):
    import dask.dataframe as dd

    pre, post, kw = CASES["in-no-multapses-3d"]
    local = sc.connect(pre, post, seed=8, **kw)
    out = scd.connect(pre, post, seed=8, client=client, npartitions=4, output=tmp_path / "net",
                      memory_limit=128 * 200, **kw)  # each task streams blocks of ~200 synapses
    assert sorted(os.listdir(out)) == [f"part-{i:05d}.parquet" for i in range(4)]
    import pyarrow.parquet as pq

    assert all(pq.ParquetFile(os.path.join(out, f)).metadata.num_row_groups > 1 for f in os.listdir(out))
    assert_same(pd.read_parquet(out), local)
    assert_same(dd.read_parquet(out).compute(), local)
    assert sorted(os.listdir(tmp_path)) == ["net"]


def test_sonata_shards_equal_local(client, tmp_path):
    pre, post, kw = CASES["out-multapses"]
    local = sc.connect(pre, post, seed=2, **kw)
    out = scd.connect(pre, post, seed=2, client=client, npartitions=3, output=tmp_path / "edges",
                      format="sonata", write_options={"population": "v1", "delay": 1.0}, **kw)
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


@pytest.mark.parametrize("periodic", [False, True])
def test_halo_contains_every_partner_with_weight(periodic):
    """The halo a partition would need holds every partner with non-zero weight."""
    from spatialconn.connect import _Job

    space = sc.Space([(0, 1), (0, 1)], periodic=periodic)
    job = _Job(POS, None, sc.FixedOutDegree(1), None,
               sc.Disc(0.15), space, True, True, 1, "auto", None)
    pb = job.problem
    cell = (np.floor(POS[:, 0] * 4) * 4 + np.floor(POS[:, 1] * 4)).astype(int)
    for block in (np.nonzero(cell == c)[0] for c in range(16)):  # spatial blocks of drivers
        halo = scd.partners_within_reach(pb.drivers[block], pb.partners, pb.reach, pb.periods)
        disp = pb.displacement(pb.drivers[block][:, None, :], pb.partners[None, :, :])
        needed = np.nonzero(np.isfinite(pb.log_weights(disp)).any(axis=0))[0]
        assert set(needed) <= set(halo.tolist())
        assert halo.size < 0.5 * len(POS)  # much less than everything
    assert scd.partners_within_reach(POS[:5], POS, np.inf).size == len(POS)


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
