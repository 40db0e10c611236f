"""Files holding several projections (what ``spatialconn build`` writes), and reading them back.

One file, one network: every projection under its name.

* ``.h5``: SONATA edges, one edge population per projection (named like it);
* ``.parquet``: one table with columns ``projection``, ``source``, ``target``, ``distance``;
* ``.npz``: ``NAME/sources``, ``NAME/targets``, ``NAME/distances``, ``NAME/shape`` per projection.

``.h5`` and ``.parquet`` are streamed block by block; ``.npz`` is assembled
in memory. The file is written under a temporary name and renamed when
complete: on any error there is nothing under ``path``.

Examples
--------
>>> import os, tempfile, numpy as np, spatialconn as sc
>>> from spatialconn import io
>>> pos = np.random.default_rng(0).random((100, 2))
>>> net = {"ee": sc.connect(pos, rule=sc.FixedOutDegree(3), seed=1),
...        "ei": sc.plan(pos, pos[:50], rule=sc.FixedInDegree(2), seed=2).blocks(20)}
>>> f = io.write_network(net, os.path.join(tempfile.mkdtemp(), "net.parquet"))
>>> {name: len(s) for name, (s, t) in io.read_network(f).items()}
{'ee': 300, 'ei': 100}
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from ._atomic import atomic_path, check_target
from ._blocks import Blocks

__all__ = ["write_network", "read_network"]

_EXTENSIONS = {".h5": "sonata", ".hdf5": "sonata", ".parquet": "parquet", ".npz": "npz"}


def _format(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _EXTENSIONS:
        raise ValueError(f"path {os.fspath(path)!r}: cannot tell the format (use a name ending in .h5 for "
                         "SONATA, .parquet or .npz)")
    return _EXTENSIONS[ext]


def write_network(projections: dict, path, *, populations: dict | None = None) -> str:
    """Write every projection of a network to one file, atomically.

    Parameters
    ----------
    projections : dict
        ``{name: synapses}``, each a :class:`~spatialconn.Connections` or an
        iterable of them (e.g. ``plan.blocks(n)``; consumed once, in order).
    path : str or os.PathLike
        ``.h5`` (SONATA), ``.parquet`` or ``.npz``.
    populations : dict, optional
        SONATA only: ``{name: (source_population, target_population)}``,
        the node populations of each edge population (default ``"nodes"``).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError, ValueError
        Bad ``projections`` or ``path``, before any file is created.
    ImportError
        When the format's optional dependency is missing.
    """
    fmt = _format(path)
    path = check_target(path)
    if not isinstance(projections, dict) or not projections:
        raise TypeError(f"projections must be a non-empty dict of name -> Connections, got {projections!r}")
    for name in projections:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"projection names must be non-empty strings without '/', got {name!r}")
    populations = dict(populations or {})
    with atomic_path(path) as tmp:
        {"npz": _npz, "parquet": _parquet, "sonata": _sonata}[fmt](tmp, projections, populations)
    return path


def _npz(tmp, projections, populations):
    """All in memory (numpy archives cannot be appended to); fine for networks that fit."""
    arrays = {}
    for name, data in projections.items():
        blocks = Blocks(data, name)
        s, t, d = [], [], []
        for block in blocks:
            s.append(block.sources)
            t.append(block.targets)
            d.append(np.asarray(block.distances, dtype=np.float64))
        dtype = np.int32 if max(blocks.n_sources, blocks.n_targets) < 2**31 else np.int64
        arrays[f"{name}/sources"] = np.concatenate(s).astype(dtype, copy=False)
        arrays[f"{name}/targets"] = np.concatenate(t).astype(dtype, copy=False)
        arrays[f"{name}/distances"] = np.concatenate(d)
        arrays[f"{name}/shape"] = np.array([blocks.n_sources, blocks.n_targets], dtype=np.int64)
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _parquet(tmp, projections, populations):
    """One table (``projection``, ``source``, ``target``, ``distance``), one row group per block."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("projection", pa.dictionary(pa.int32(), pa.string())), ("source", pa.int64()),
                        ("target", pa.int64()), ("distance", pa.float64())])
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for name, data in projections.items():
            for block in Blocks(data, name):
                writer.write_table(pa.table({
                    "projection": pa.DictionaryArray.from_arrays(np.zeros(len(block), np.int32), [name]),
                    "source": np.asarray(block.sources, dtype=np.int64),
                    "target": np.asarray(block.targets, dtype=np.int64),
                    "distance": np.asarray(block.distances, dtype=np.float64),
                }, schema=schema))


def _sonata(tmp, projections, populations):
    """One SONATA edge population per projection, each streamed by :func:`~spatialconn.io.write_sonata`."""
    import h5py

    from .sonata import write_sonata

    def write(name, data, out):
        src, tgt = populations.get(name, ("nodes", None))
        write_sonata(data, out, population=name, source_population=src, target_population=tgt,
                     edge_types=None)

    if len(projections) == 1:  # write it in place, no copy
        (name, data), = projections.items()
        write(name, data, tmp)
        return
    parts = tempfile.mkdtemp(prefix=".spatialconn-", dir=os.path.dirname(tmp))
    try:
        with h5py.File(tmp, "w") as out:
            out.attrs["magic"] = np.uint32(0x0A7A)
            out.attrs["version"] = np.array([0, 1], dtype=np.uint32)
            out.create_group("edges")
            for i, (name, data) in enumerate(projections.items()):
                part = os.path.join(parts, f"{i}.h5")
                write(name, data, part)
                with h5py.File(part, "r") as f:
                    f.copy(f[f"edges/{name}"], out["edges"], name=name)
                os.remove(part)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def read_network(path) -> dict:
    """Synapses per projection of a file from :func:`write_network` (or any single-projection output).

    A file of one unnamed projection (``io.write`` to ``.npz`` or
    ``.parquet``) gives the key ``None``; SONATA files give their edge
    population names; a partitioned Parquet directory is read whole.

    Returns
    -------
    dict
        ``{name: (sources, targets)}`` with int64 index arrays, in file order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the format cannot be told or the file is not one of these.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    path = os.fspath(path)
    if os.path.isdir(path):  # a partitioned Parquet dataset (spatialconn.io, rows_per_file=N)
        fmt = "parquet"
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"file not found: {path!r}")
    else:
        fmt = _format(path)
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as data:
            files = data.files
            if "sources" in files and "targets" in files:
                return {None: (data["sources"].astype(np.int64), data["targets"].astype(np.int64))}
            names = sorted({f.rsplit("/", 1)[0] for f in files if f.endswith("/sources")},
                           key=lambda n: files.index(f"{n}/sources"))
            return {n: (data[f"{n}/sources"].astype(np.int64), data[f"{n}/targets"].astype(np.int64))
                    for n in names}
    if fmt == "sonata":
        import h5py

        with h5py.File(path, "r") as f:
            if "edges" not in f:
                raise ValueError(f"{path!r} is not a SONATA edges file (no /edges group)")
            return {n: (np.asarray(g["source_node_id"], dtype=np.int64),
                        np.asarray(g["target_node_id"], dtype=np.int64)) for n, g in f["edges"].items()}
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    s = table.column("source").to_numpy().astype(np.int64)
    t = table.column("target").to_numpy().astype(np.int64)
    if "projection" not in table.column_names:
        return {None: (s, t)}
    proj = np.asarray(table.column("projection").cast("string").to_pylist(), dtype=object)
    out = {}
    for name in dict.fromkeys(proj.tolist()):
        sel = proj == name
        out[name] = (s[sel], t[sel])
    return out
