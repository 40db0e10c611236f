"""SONATA edge files (HDF5), streamed chunk by chunk, readable by libsonata.

Layout written (SONATA specification, "Edges"):

* root attributes ``magic`` (uint32 0x0A7A) and ``version`` (uint32[2] = [0, 1]);
* ``/edges/<population>/source_node_id``, ``target_node_id`` (uint64, each
  with a string attribute ``node_population``), ``edge_type_id`` (uint32),
  ``edge_group_id`` (uint16), ``edge_group_index`` (uint32, uint64 past
  2**32 - 1 edges);
* the attribute group ``/edges/<population>/0/`` with ``distance`` and,
  when asked for, ``syn_weight`` and ``delay`` (float64);
* optionally ``indices/source_to_target`` and ``indices/target_to_source``,
  each with ``node_id_to_ranges`` and ``range_to_edge_id`` (uint64
  ``[start, end)`` pairs; a node without edges gets an empty range), with
  ``node_id_to_range`` as a second name (an HDF5 hard link, no extra data)
  of ``node_id_to_ranges`` because BMTK reads the singular name and
  libsonata the plural;
* an edge-types CSV (space separated, column ``edge_type_id``).

Edges are appended to resizable datasets block by block and the indices are
built afterwards from the file in passes bounded by ``memory_limit``, so the
output never has to fit in memory.
"""

from __future__ import annotations

import contextlib
import numbers
import os

import numpy as np

from ..progress import progress_bar
from ._atomic import atomic_path, check_target
from ._blocks import Blocks, DistanceBuffer, attribute_values, check_attribute, parse_bytes, pipelined

__all__ = ["write_sonata", "edge_types_path", "write_edge_types"]

MAGIC = 0x0A7A
VERSION = (0, 1)
#: rows per HDF5 chunk of the edge datasets
CHUNK_ROWS = 1 << 18


def check_hdf5_options(compression, memory_limit) -> int:
    """Validate the HDF5 writers' ``compression`` and ``memory_limit``; the limit in bytes.

    >>> check_hdf5_options("gzip", "2 MB")
    2000000
    """
    if compression not in (None, "gzip", "lzf"):
        raise ValueError(f"compression must be None, 'gzip' or 'lzf', got {compression!r}")
    limit = parse_bytes(memory_limit)
    if limit < 1 << 20:
        raise ValueError(f"memory_limit must be at least 1 MiB, got {memory_limit!r}")
    return limit


def edge_types_path(path: str) -> str:
    """The edge-types CSV that goes with the edge file ``path``.

    Examples
    --------
    >>> edge_types_path("v1_v1_edges.h5"), edge_types_path("net.sonata.h5")
    ('v1_v1_edge_types.csv', 'net_edge_types.csv')
    """
    for suffix in ("_edges.h5", "_edges.hdf5"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + "_edge_types.csv"
    for suffix in (".sonata.h5", ".h5", ".hdf5"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + "_edge_types.csv"
    return path + "_edge_types.csv"


def write_sonata(
    conn,
    path,
    *,
    population: str = "default",
    source_population: str = "nodes",
    target_population: str | None = None,
    source_offset: int = 0,
    target_offset: int = 0,
    distance: bool = True,
    syn_weight=None,
    delay=None,
    edge_type_id: int = 0,
    edge_types="auto",
    edge_type_properties: dict | None = None,
    indices: bool = True,
    compression: str | None = None,
    memory_limit: int = 1 << 30,
    overwrite: bool = True,
    progress: bool = False,
) -> str:
    """Write synapses as a SONATA edge population (HDF5), atomically.

    Parameters
    ----------
    conn : Connections or iterable of Connections
        One result, or blocks from :func:`spatialconn.iter_connect`
        (streamed: only one block is in memory at a time).
    path : str or os.PathLike
        Output ``.h5`` file; replaced only once complete.
    population : str
        Name of the edge population (``/edges/<population>``).
    source_population, target_population : str
        Node populations named in the ``node_population`` attributes;
        ``target_population`` defaults to ``source_population``.
    source_offset, target_offset : int
        Added to the indices to form node ids (default 0).
    distance : bool
        Store ``0/distance`` (minimum-image distance, SI units if positions
        carried units).
    syn_weight, delay : None, number, callable or array
        Stored as ``0/syn_weight`` / ``0/delay``. A callable receives the
        distances of a block and returns one value per synapse, e.g.
        ``delay=lambda d: d / 0.3 + 0.5``; an array needs a single ``conn``.
    edge_type_id : int
        The edge type of every synapse.
    edge_types : "auto", str or None
        The edge-types CSV: ``"auto"`` writes it next to ``path``
        (:func:`edge_types_path`), a string names it, ``None`` skips it.
    edge_type_properties : dict, optional
        Extra CSV columns for the edge type, e.g. ``{"model_template": "static_synapse"}``.
    indices : bool
        Write ``indices/source_to_target`` and ``indices/target_to_source``.
    compression : None, "gzip" or "lzf"
        HDF5 compression of the datasets.
    memory_limit : int or str
        Bytes the index construction may use (e.g. ``"1 GiB"``); more edges
        mean more passes.
    overwrite : bool
        Replace an existing file.
    progress : bool
        Show a tqdm bar of synapses written.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    TypeError, ValueError
        For bad arguments, before any file is created.

    Examples
    --------
    >>> import os, tempfile, numpy as np, spatialconn as sc, libsonata
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.2), seed=1)
    >>> f = write_sonata(conn, os.path.join(tempfile.mkdtemp(), "net_edges.h5"), population="net")
    >>> pop = libsonata.EdgeStorage(f).open_population("net")
    >>> pop.size, int(pop.source_nodes(pop.efferent_edges(7))[0])
    (300, 7)

    References
    ----------
    SONATA Data Format, "Edges": https://github.com/AllenInstitute/sonata/blob/master/docs/SONATA_DEVELOPER_GUIDE.md
    """
    import h5py

    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    for name, value in (("population", population), ("source_population", source_population)):
        if not isinstance(value, str) or not value or "/" in value:
            raise ValueError(f"{name} must be a non-empty name without '/', got {value!r}")
    target_population = source_population if target_population is None else target_population
    if not isinstance(target_population, str) or not target_population:
        raise ValueError(f"target_population must be a non-empty string, got {target_population!r}")
    for name, value in (("source_offset", source_offset), ("target_offset", target_offset),
                        ("edge_type_id", edge_type_id)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    memory_limit = check_hdf5_options(compression, memory_limit)
    for name, flag in (("distance", distance), ("indices", indices), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    path = check_target(path, overwrite=overwrite)
    csv = None
    if edge_types == "auto":
        csv = edge_types_path(path)
    elif isinstance(edge_types, (str, os.PathLike)):
        csv = os.fspath(edge_types)
    elif edge_types is not None:
        raise TypeError(f"edge_types must be 'auto', a path or None, got {edge_types!r}")
    if csv is not None:
        csv = check_target(csv, overwrite=overwrite)
    props = dict(edge_type_properties or {})
    for key, value in props.items():
        if not isinstance(key, str) or not key.isidentifier() or " " in str(value):
            raise ValueError(
                f"edge_type_properties entries must be name -> value without spaces, got {key!r}: {value!r}")
    blocks = Blocks(conn)  # after the cheap checks: this builds the first block
    check_attribute("syn_weight", syn_weight, blocks)
    check_attribute("delay", delay, blocks)

    with contextlib.ExitStack() as stack:
        if csv is not None:
            write_edge_types(stack.enter_context(atomic_path(csv)), edge_type_id, props)
        tmp = stack.enter_context(atomic_path(path))
        bar = stack.enter_context(progress_bar(progress, desc="SONATA edges", unit="syn"))
        with h5py.File(tmp, "w") as f:
            f.attrs["magic"] = np.uint32(MAGIC)
            f.attrs["version"] = np.asarray(VERSION, dtype=np.uint32)
            pop = f.create_group(f"edges/{population}")
            # chunks of up to CHUNK_ROWS rows, smaller when the first block is small (HDF5
            # allocates whole chunks: 2 MiB per dataset would dwarf a small network)
            rows = int(min(CHUNK_ROWS, max(1 << 12, 1 << int(blocks.first_size).bit_length())))
            opts = dict(chunks=(rows,), maxshape=(None,), compression=compression)
            src = pop.create_dataset("source_node_id", (0,), dtype=np.uint64, **opts)
            tgt = pop.create_dataset("target_node_id", (0,), dtype=np.uint64, **opts)
            src.attrs["node_population"] = source_population
            tgt.attrs["node_population"] = target_population
            group = pop.create_group("0")
            attrs = {}
            if distance:
                attrs["distance"] = None
            if syn_weight is not None:
                attrs["syn_weight"] = syn_weight
            if delay is not None:
                attrs["delay"] = delay
            dsets = {k: group.create_dataset(k, (0,), dtype=np.float64, **opts) for k in attrs}
            written = [0]
            distances = DistanceBuffer()  # the writer thread's, reused block after block

            def consume(block):
                n, m = written[0], len(block)
                if m == 0:
                    return
                _append(src, n, block.sources.astype(np.uint64) + np.uint64(source_offset))
                _append(tgt, n, block.targets.astype(np.uint64) + np.uint64(target_offset))
                d = distances(block) if attrs else None
                for key, spec in attrs.items():
                    values = d if key == "distance" else attribute_values(key, spec, block, d)
                    _append(dsets[key], n, values)
                written[0] = n + m
                bar.update(m)

            pipelined(blocks, consume)
            n = written[0]
            _constant(pop, "edge_type_id", n, np.uint32, edge_type_id, opts)
            _constant(pop, "edge_group_id", n, np.uint16, 0, opts)
            _constant(pop, "edge_group_index", n, np.uint32 if n < 2**32 else np.uint64, None, opts)
            if indices:
                budget = max(1 << 12, int(memory_limit) // 64)
                _write_index(pop, "source_to_target", src, source_offset + blocks.n_sources, budget)
                _write_index(pop, "target_to_source", tgt, target_offset + blocks.n_targets, budget)
    return path


def write_edge_types(path: str, edge_type_id: int = 0, properties: dict | None = None) -> None:
    """Write a one-type SONATA edge-types CSV (space separated) to ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "edge_types.csv")
    >>> write_edge_types(f, 3, {"model_template": "static_synapse"})
    >>> open(f).read().splitlines()
    ['edge_type_id model_template', '3 static_synapse']
    """
    props = dict(properties or {})
    with open(path, "w") as fh:
        fh.write(" ".join(["edge_type_id", *props]) + "\n")
        fh.write(" ".join([str(int(edge_type_id)), *map(str, props.values())]) + "\n")


def _append(dset, start: int, values: np.ndarray) -> None:
    dset.resize((start + values.size,))
    dset[start:] = values


def _constant(group, name, n, dtype, value, opts):
    """A length-``n`` dataset filled with ``value`` (``None``: 0, 1, 2, ...), written in chunks."""
    dset = group.create_dataset(name, (n,), dtype=dtype, **{**opts, "maxshape": (max(n, 1),),
                                                            "chunks": (max(1, min(n, CHUNK_ROWS)),)})
    step = 1 << 22
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        dset[lo:hi] = np.arange(lo, hi, dtype=dtype) if value is None else np.full(hi - lo, value, dtype)


def _chunks(dset, step: int = 1 << 22):
    for lo in range(0, dset.shape[0], step):
        yield lo, dset[lo: lo + step]


def _write_index(pop, name: str, values, n_nodes: int, budget: int) -> None:
    """Build ``indices/<name>`` over the node ids in ``values``.

    One pass counts edges per node and detects whether the ids are sorted
    (the driver side always is); then ranges come straight from the counts.
    Otherwise node blocks holding at most ``budget`` edges are gathered in
    one pass each, so memory stays O(n_nodes + budget).
    """
    counts = np.zeros(n_nodes, dtype=np.int64)
    is_sorted, prev = True, 0
    for _, chunk in _chunks(values):
        if chunk.size == 0:
            continue
        ids, cnt = np.unique(chunk, return_counts=True)
        counts[ids.astype(np.int64)] += cnt
        if is_sorted and (chunk[0] < prev or np.any(chunk[1:] < chunk[:-1])):
            is_sorted = False
        prev = chunk[-1]
    g = pop.create_group(f"indices/{name}")
    node_ranges = g.create_dataset("node_id_to_ranges", (n_nodes, 2), dtype=np.uint64)
    g["node_id_to_range"] = node_ranges  # the same dataset under the name BMTK (1.2) reads
    if is_sorted:
        edge_start = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_nodes else counts
        has = counts > 0
        rank = np.cumsum(has) - has  # ranges before each node
        node_ranges[:, 0] = rank.astype(np.uint64)
        node_ranges[:, 1] = (rank + has).astype(np.uint64)
        ranges = np.stack([edge_start[has], edge_start[has] + counts[has]], axis=1)
        g.create_dataset("range_to_edge_id", data=ranges.astype(np.uint64).reshape(-1, 2))
        return
    r2e = g.create_dataset("range_to_edge_id", (0, 2), dtype=np.uint64, maxshape=(None, 2),
                           chunks=(max(1, min(CHUNK_ROWS, int(values.shape[0]))), 2))
    n_ranges = 0
    cum = np.cumsum(counts)
    a = 0
    while a < n_nodes:
        # largest b with edges(a:b) <= budget, at least one node
        base = cum[a - 1] if a else 0
        b = max(a + 1, int(np.searchsorted(cum, base + budget, side="right")))
        b = min(b, n_nodes)
        sel_v, sel_e = [], []
        for lo, chunk in _chunks(values):
            hit = np.nonzero((chunk >= a) & (chunk < b))[0]
            sel_v.append(chunk[hit].astype(np.int64))
            sel_e.append(hit.astype(np.int64) + lo)
        v = np.concatenate(sel_v)
        e = np.concatenate(sel_e)
        order = np.argsort(v, kind="stable")  # edge ids stay increasing within a node
        v, e = v[order], e[order]
        new = np.ones(v.size, dtype=bool)
        new[1:] = (v[1:] != v[:-1]) | (e[1:] != e[:-1] + 1)
        starts = np.nonzero(new)[0]
        ends = np.append(starts[1:], v.size)
        ranges = np.stack([e[starts], e[ends - 1] + 1], axis=1).astype(np.uint64)
        r2e.resize((n_ranges + ranges.shape[0], 2))
        r2e[n_ranges:] = ranges
        node_of_range = v[starts]
        nodes = np.arange(a, b)
        first = np.searchsorted(node_of_range, nodes, side="left") + n_ranges
        last = np.searchsorted(node_of_range, nodes, side="right") + n_ranges
        node_ranges[a:b] = np.stack([first, last], axis=1).astype(np.uint64)
        n_ranges += ranges.shape[0]
        a = b
