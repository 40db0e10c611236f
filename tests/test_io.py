"""File formats: read back with the real readers (libsonata, pyarrow, pandas, dask, scipy)."""

from __future__ import annotations

import os

import h5py
import libsonata
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import spatialconn as sc
from spatialconn import io
from spatialconn.io.sonata import edge_types_path

RNG = np.random.default_rng(2024)
POS = RNG.random((300, 2))
PRE, POST = RNG.random((120, 2)), RNG.random((200, 2))


def recurrent(**kw):
    opts = dict(rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.1), seed=5)
    opts.update(kw)
    return sc.connect(POS, **opts)


def listing(d):
    return sorted(os.listdir(d))


# -- SONATA ---------------------------------------------------------------------------------
def check_sonata(path, conn, population="default", s_off=0, t_off=0, attrs=None):
    """Every synapse through libsonata: ids, attributes, and both indices."""
    storage = libsonata.EdgeStorage(path)
    assert storage.population_names == {population}
    pop = storage.open_population(population)
    assert pop.size == len(conn)
    every = pop.select_all()
    src = pop.source_nodes(every)
    tgt = pop.target_nodes(every)
    np.testing.assert_array_equal(src, conn.sources.astype(np.uint64) + s_off)
    np.testing.assert_array_equal(tgt, conn.targets.astype(np.uint64) + t_off)
    np.testing.assert_array_equal(pop.get_attribute("distance", every), np.asarray(conn.distances))
    for name, values in (attrs or {}).items():
        np.testing.assert_allclose(pop.get_attribute(name, every), values, rtol=0, atol=0)
    for node in range(s_off + conn.n_sources):
        ids = pop.efferent_edges(node).flatten()
        np.testing.assert_array_equal(ids, np.nonzero(src == node)[0])
    for node in range(t_off + conn.n_targets):
        ids = pop.afferent_edges(node).flatten()
        np.testing.assert_array_equal(ids, np.nonzero(tgt == node)[0])
    return pop


def test_sonata_every_synapse_read_back_by_libsonata(tmp_path):
    conn = recurrent()
    f = io.write_sonata(conn, tmp_path / "v1_v1_edges.h5", population="v1_v1", source_population="v1",
                        syn_weight=0.5, delay=lambda d: d / 0.3 + 0.1,
                        edge_type_properties={"model_template": "static_synapse"})
    d = np.asarray(conn.distances)
    pop = check_sonata(f, conn, "v1_v1", attrs={"syn_weight": np.full(len(conn), 0.5), "delay": d / 0.3 + 0.1})
    assert pop.source == "v1" and pop.target == "v1"
    assert set(pop.attribute_names) == {"distance", "syn_weight", "delay"}
    with h5py.File(f, "r") as h:
        assert h.attrs["magic"] == 0x0A7A and h.attrs["magic"].dtype == np.uint32
        assert h.attrs["version"].tolist() == [0, 1] and h.attrs["version"].dtype == np.uint32
        g = h["edges/v1_v1"]
        dtypes = {k: g[k].dtype for k in ("source_node_id", "target_node_id", "edge_type_id",
                                          "edge_group_id", "edge_group_index")}
        assert dtypes == {"source_node_id": np.uint64, "target_node_id": np.uint64, "edge_type_id": np.uint32,
                          "edge_group_id": np.uint16, "edge_group_index": np.uint32}
        np.testing.assert_array_equal(g["edge_group_index"][:], np.arange(len(conn)))
        assert not g["edge_group_id"][:].any() and not g["edge_type_id"][:].any()
        for side in ("source_to_target", "target_to_source"):
            for name in ("node_id_to_ranges", "range_to_edge_id"):
                assert g[f"indices/{side}/{name}"].dtype == np.uint64
        # the driver side is sorted, so every source has one compact range
        assert g["indices/source_to_target/range_to_edge_id"].shape == (300, 2)
    csv = tmp_path / "v1_v1_edge_types.csv"
    assert csv.read_text().splitlines() == ["edge_type_id model_template", "0 static_synapse"]
    assert listing(tmp_path) == ["v1_v1_edge_types.csv", "v1_v1_edges.h5"]


def test_sonata_streamed_in_degree_with_offsets_and_multipass_index(tmp_path):
    # FixedInDegree groups by target, so the source index needs the unsorted path;
    # memory_limit=1 MiB gives 16384 edges per pass: 20,000 edges need two passes.
    kw = dict(rule=sc.FixedInDegree(100), kernel=sc.Exponential(0.2), seed=9, multapses=False)
    conn = sc.connect(PRE, POST, **kw)
    blocks = sc.iter_connect(PRE, POST, chunk_size=37, **kw)
    f = io.write_sonata(blocks, tmp_path / "ff.h5", population="ff", source_population="lgn",
                        target_population="v1", source_offset=7, target_offset=3, memory_limit=1 << 20,
                        edge_types=None)
    pop = check_sonata(f, conn, "ff", s_off=7, t_off=3)
    assert (pop.source, pop.target) == ("lgn", "v1")
    assert pop.efferent_edges(0).flat_size == 0  # node ids below the offset: empty ranges
    assert listing(tmp_path) == ["ff.h5"]


def test_sonata_empty_population(tmp_path):
    conn = sc.connect(POS, rule=sc.FixedOutDegree(0), seed=1)
    f = io.write(conn, tmp_path / "e.sonata.h5")
    pop = libsonata.EdgeStorage(f).open_population("default")
    assert pop.size == 0 and pop.efferent_edges(5).flat_size == 0
    assert os.path.exists(tmp_path / "e_edge_types.csv")


def test_edge_types_path():
    assert edge_types_path("a/x_edges.h5") == "a/x_edge_types.csv"
    assert edge_types_path("x.sonata.h5") == "x_edge_types.csv"


# -- Parquet --------------------------------------------------------------------------------
def test_parquet_single_file_streamed_equals_connect(tmp_path):
    kw = dict(rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.05), seed=3)
    conn = sc.connect(POS, **kw)
    f = io.write(sc.iter_connect(POS, chunk_size=64, **kw), tmp_path / "b.parquet", delay=1.5)
    table = pq.read_table(f)
    assert table.schema.field("source").type == "int32"
    assert table.schema.metadata[b"spatialconn.n_sources"] == b"300"
    df = pd.read_parquet(f)
    np.testing.assert_array_equal(df.source, conn.sources)
    np.testing.assert_array_equal(df.target, conn.targets)
    np.testing.assert_array_equal(df.distance, np.asarray(conn.distances))
    assert (df.delay == 1.5).all()
    assert pq.ParquetFile(f).metadata.num_row_groups == 5  # one per block


def test_parquet_partitioned_readable_by_pandas_pyarrow_dask(tmp_path):
    import dask.dataframe as dd

    conn = recurrent()
    out = io.write_parquet(sc.iter_connect(POS, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.1), seed=5,
                                           chunk_size=50),
                           tmp_path / "syn", rows_per_file=1000, distance=False)
    assert listing(out) == [f"part-{i:05d}.parquet" for i in range(6)]
    for df in (pd.read_parquet(out), pads.dataset(out).to_table().to_pandas(), dd.read_parquet(out).compute()):
        assert list(df.columns) == ["source", "target"]
        np.testing.assert_array_equal(df.source, conn.sources)
        np.testing.assert_array_equal(df.target, conn.targets)
    assert [pq.ParquetFile(os.path.join(out, p)).metadata.num_rows for p in listing(out)] == [1000] * 6


def test_parquet_replaces_own_directory_but_not_foreign_one(tmp_path):
    conn = recurrent()
    out = tmp_path / "syn"
    io.write_parquet(conn, out, rows_per_file=4000)
    io.write_parquet(conn, out, rows_per_file=6000)  # replaces: now a single part
    assert listing(out) == ["part-00000.parquet"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="other content"):
        io.write_parquet(conn, out, rows_per_file=10)
    assert (out / "notes.txt").exists()


# -- scipy.sparse and npz -------------------------------------------------------------------
def test_scipy_counts_multapses():
    conn = sc.connect(PRE, POST, rule=sc.FixedOutDegree(50), kernel=sc.Gaussian(0.05), seed=1)
    dense = np.zeros((120, 200), dtype=np.int64)
    np.add.at(dense, (conn.sources, conn.targets), 1)
    assert dense.max() > 1  # multapses present
    for fmt in ("csr", "coo", "csc"):
        A = io.to_scipy(conn, fmt)
        assert A.format == fmt and A.shape == (120, 200)
        np.testing.assert_array_equal(A.toarray(), dense)
    with pytest.raises(ValueError, match="format"):
        io.to_scipy(conn, "dok")


def test_npz_arrays_and_sparse(tmp_path):
    conn = recurrent()
    back = io.read_npz(io.write(conn, tmp_path / "a.npz"))
    np.testing.assert_array_equal(back["sources"], conn.sources)
    np.testing.assert_array_equal(back["targets"], conn.targets)
    np.testing.assert_array_equal(back["distances"], np.asarray(conn.distances))
    f = io.write_npz(sc.iter_connect(POS, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.1), seed=5,
                                     chunk_size=100), tmp_path / "m.npz", format="csr")
    np.testing.assert_array_equal(sp.load_npz(f).toarray(), io.to_scipy(conn).toarray())
    assert listing(tmp_path) == ["a.npz", "m.npz"]


# -- streaming build -------------------------------------------------------------------------
@pytest.mark.parametrize("rule, extra", [
    (sc.FixedOutDegree(15), {}),
    (sc.PairwiseBernoulli(0.8), {}),
    (sc.FixedTotalNumber(3000), {"multapses": False}),
    (sc.FixedInDegree(8), {"space": sc.Space([(0, 1), (0, 1)]), "autapses": False}),
])
def test_connect_to_file_equals_connect(tmp_path, rule, extra):
    kw = dict(rule=rule, kernel=sc.Gaussian(0.08), seed=11, **extra)
    conn = sc.connect(POS, **kw)
    f = io.connect_to_file(tmp_path / "s.parquet", POS, memory_limit=40_000, **kw)
    df = pd.read_parquet(f)
    np.testing.assert_array_equal(df.source, conn.sources)
    np.testing.assert_array_equal(df.target, conn.targets)


def test_iter_blocks_respects_memory_limit():
    job = sc.plan(POS, rule=sc.FixedOutDegree(np.arange(300) % 7), seed=1)
    sizes = [len(b) for b in io.iter_blocks(job, memory_limit=128 * 100)]
    assert sum(sizes) == int((np.arange(300) % 7).sum()) and max(sizes) <= 100 and len(sizes) > 5
    job = sc.plan(POS, rule=sc.PairwiseBernoulli(0.2), kernel=sc.Gaussian(0.1), seed=1)
    sizes = [len(b) for b in io.iter_blocks(job, memory_limit=128 * 100)]
    assert len(sizes) > 5 and max(sizes) < 250  # adaptive: blocks near the 100-synapse budget


def test_parse_bytes():
    assert io.parse_bytes("1 GiB") == 2**30 and io.parse_bytes("2.5MB") == 2_500_000
    for bad in ("lots", "-1 GB", "3 parsecs"):
        with pytest.raises(ValueError, match="memory_limit"):
            io.parse_bytes(bad)
    with pytest.raises(TypeError, match="memory_limit"):
        io.parse_bytes(1.5)


# -- atomicity and validation -----------------------------------------------------------------
class Boom(RuntimeError):
    pass


def failing_blocks(n_good=2, exc=Boom):
    for i, block in enumerate(sc.iter_connect(POS, rule=sc.FixedOutDegree(5), seed=1, chunk_size=50)):
        if i == n_good:
            raise exc("disk on fire")
        yield block


@pytest.mark.parametrize("name, options", [
    ("x.h5", {}),
    ("x.parquet", {}),
    ("xdir", {"rows_per_file": 60}),
    ("x.npz", {}),
])
@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_interrupted_write_leaves_nothing(tmp_path, name, options, exc):
    with pytest.raises(exc):
        io.write(failing_blocks(exc=exc), tmp_path / name, **options)
    assert listing(tmp_path) == []  # no final file, no temporary left behind


def test_failed_overwrite_keeps_previous_file(tmp_path):
    f = io.write(recurrent(), tmp_path / "keep.parquet")
    before = (tmp_path / "keep.parquet").read_bytes()
    with pytest.raises(Boom):
        io.write(failing_blocks(), f)
    assert (tmp_path / "keep.parquet").read_bytes() == before
    assert listing(tmp_path) == ["keep.parquet"]


@pytest.mark.parametrize("call, exc, match", [
    (lambda c, d: io.write(c, d / "x.csv"), ValueError, "cannot tell the format"),
    (lambda c, d: io.write(c, d / "no" / "x.h5"), ValueError, "does not exist"),
    (lambda c, d: io.write_sonata(c, d / "x.h5", population="a/b"), ValueError, "population"),
    (lambda c, d: io.write_sonata(c, d / "x.h5", source_offset=-1), ValueError, "source_offset"),
    (lambda c, d: io.write_sonata(c, d / "x.h5", compression="zip"), ValueError, "compression"),
    (lambda c, d: io.write_sonata(c, d / "x.h5", delay=np.ones(3)), ValueError, "delay"),
    (lambda c, d: io.write_sonata(c, d / "x.h5", syn_weight=float("nan")), ValueError, "syn_weight"),
    (lambda c, d: io.write_parquet(c, d / "x", rows_per_file=0), ValueError, "rows_per_file"),
    (lambda c, d: io.write_parquet(c, d / "x.parquet", compression="rar"), ValueError, "compression"),
    (lambda c, d: io.write_npz(c, d / "x.npz", format="dense"), ValueError, "format"),
    (lambda c, d: io.write(np.zeros(3), d / "x.h5"), TypeError, "conn"),
    (lambda c, d: io.write(iter([]), d / "x.h5"), ValueError, "no block"),
    (lambda c, d: io.write(c, 42), TypeError, "path"),
    (lambda c, d: io.connect_to_file(d / "x.h5", POS, rule=sc.FixedOutDegree(-1)), ValueError, "k"),
    (lambda c, d: io.connect_to_file(d / "x.h5", POS, rule=sc.FixedOutDegree(1), memory_limit="x"),
     ValueError, "memory_limit"),
])
def test_bad_arguments_raise_before_any_file(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match):
        call(recurrent(), tmp_path)
    assert listing(tmp_path) == []


def test_no_overwrite(tmp_path):
    f = io.write(recurrent(), tmp_path / "a.h5")
    with pytest.raises(ValueError, match="overwrite=True"):
        io.write(recurrent(), f, overwrite=False)


def test_progress_off_by_default_on_when_asked(tmp_path, capsys):
    io.connect_to_file(tmp_path / "a.parquet", POS, rule=sc.FixedOutDegree(3), seed=1)
    assert capsys.readouterr().err == ""
    io.connect_to_file(tmp_path / "b.parquet", POS, rule=sc.FixedOutDegree(3), seed=1, progress=True)
    err = capsys.readouterr().err
    assert "drivers" in err and "300/300" in err
    with pytest.raises(TypeError, match="progress"):
        io.write_parquet(recurrent(), tmp_path / "c.parquet", progress="yes")


def test_positions_with_units_store_si_distances(tmp_path):
    brian2 = pytest.importorskip("brian2")
    um = brian2.umetre
    conn = sc.connect(POS * 100 * um, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(10 * um), seed=1)
    plain = sc.connect(POS * 100e-6, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(10e-6), seed=1)
    f = io.write(conn, tmp_path / "u.parquet")
    np.testing.assert_allclose(pd.read_parquet(f).distance, np.asarray(plain.distances), rtol=1e-12)


@pytest.mark.parametrize("rule", [sc.FixedOutDegree(20), sc.FixedInDegree(9), sc.PairwiseBernoulli(0.3)])
def test_sonata_indices_identical_to_libsonata_write_indices(tmp_path, rule):
    """Our streamed, multi-pass indices equal the ones libsonata itself writes, byte for byte."""
    conn = sc.connect(PRE, POST, rule=rule, kernel=sc.Gaussian(0.1), seed=1)
    ours = io.write_sonata(conn, tmp_path / "a.h5", edge_types=None, memory_limit="1 MiB", source_offset=3)
    ref = io.write_sonata(conn, tmp_path / "b.h5", edge_types=None, indices=False, source_offset=3)
    libsonata.EdgePopulation.write_indices(ref, "default", 3 + 120, 200, False)
    with h5py.File(ours, "r") as a, h5py.File(ref, "r") as b:
        for side in ("source_to_target", "target_to_source"):
            for name in ("node_id_to_ranges", "range_to_edge_id"):
                x, y = a[f"edges/default/indices/{side}/{name}"], b[f"edges/default/indices/{side}/{name}"]
                assert x.dtype == y.dtype and x.shape == y.shape
                np.testing.assert_array_equal(x[:], y[:])
