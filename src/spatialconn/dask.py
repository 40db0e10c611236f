"""Scale-out on Dask: the same synapses as :func:`spatialconn.connect`, built by partitions.

The call is validated and planned once on the client (every error is raised
there, before any task runs). Drivers are split into partitions balanced by
their synapse counts: blocks of space (``partition="space"``, the default)
or contiguous index ranges (``partition="index"``). Each task builds the
synapses of its drivers with the same driver-keyed random streams as the
local path, so every driver gets exactly (bit for bit) the partners it gets
from ``sc.connect(...)`` with the same seed, for any number of partitions
and workers.

A task receives only what its drivers need: their positions and the
partners within reach of them, the *halo* (a box of the grid engine's cells
around the drivers, grown by the kernel's window: its reach, or for kernels
of unbounded support the distance beyond which their weight is negligible;
see :func:`spatialconn.engine.grid.pieces`). Problems the grid engine does
not run compiled (``engine="reference"``, :class:`~spatialconn.CustomKernel`,
:class:`~spatialconn.Gamma` with ``kappa < 1``) are split by index, and
their tasks share one copy of all positions per worker.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> import spatialconn.dask as scd
>>> pos = np.random.default_rng(0).random((400, 2))
>>> ddf = scd.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=7,
...                   npartitions=4, partition="index")
>>> df = ddf.compute(scheduler="sync")
>>> local = sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=7)
>>> bool((df.target.to_numpy() == local.targets).all()), ddf.npartitions
(True, 4)
"""

from __future__ import annotations

import os

import numpy as np

from ._arrays import unique
from ._validate import positive_int

__all__ = ["connect", "partition_bounds", "partition_space"]

#: target synapses per partition when npartitions is not given (≈ 160 MB as a dataframe)
ROWS_PER_PARTITION = 10_000_000


def partition_bounds(weights: np.ndarray | None, n: int, npartitions: int) -> np.ndarray:
    """Boundaries ``b`` (length ``p + 1``) of contiguous driver ranges ``b[i]:b[i+1]``.

    Balanced by ``weights`` (expected synapses per driver) when given, else
    by driver count; empty ranges are dropped.

    Examples
    --------
    >>> partition_bounds(None, 10, 3).tolist()
    [0, 3, 7, 10]
    >>> partition_bounds(np.array([9, 1, 1, 1]), 4, 2).tolist()
    [0, 1, 4]
    """
    p = max(1, min(int(npartitions), n)) if n else 1
    if weights is None or not np.any(weights):
        bounds = np.linspace(0, n, p + 1).round().astype(np.int64)
    else:
        cum = np.cumsum(weights, dtype=np.float64)
        goals = cum[-1] * np.arange(1, p) / p
        inner = np.searchsorted(cum, goals, side="left") + 1
        bounds = np.concatenate([[0], np.clip(inner, 0, n), [n]]).astype(np.int64)
    return unique(bounds) if n else np.array([0, 0])


def partition_space(coords: np.ndarray, weights: np.ndarray, npartitions: int) -> list:
    """Split cells into ``npartitions`` boxes of about equal weight (recursive bisection).

    Each step cuts the cells along the axis of largest extent at the
    weighted median, into two groups whose numbers of partitions are in
    proportion to their weight. Returns arrays of row indices into
    ``coords``; empty groups are dropped.

    Parameters
    ----------
    coords : (n, d) int array
        Grid coordinates of the (non-empty) cells.
    weights : (n,) array
        Expected synapses of each cell's drivers.
    npartitions : int

    Examples
    --------
    >>> c = np.array([[0, 0], [0, 1], [5, 0], [5, 1]])
    >>> [p.tolist() for p in partition_space(c, np.ones(4), 2)]
    [[0, 1], [2, 3]]
    """
    weights = np.asarray(weights, dtype=np.float64)

    def split(idx, p):
        if p <= 1 or idx.size <= 1:
            return [idx] if idx.size else []
        c = coords[idx]
        axis = int(np.argmax(c.max(axis=0) - c.min(axis=0)))
        order = idx[np.argsort(c[:, axis], kind="stable")]
        cum = np.cumsum(weights[order])
        left = p // 2
        goal = cum[-1] * left / p if cum[-1] > 0 else None
        cut = order.size * left // p if goal is None else int(np.searchsorted(cum, goal, side="left")) + 1
        cut = min(max(cut, 1), order.size - 1)
        return split(np.sort(order[:cut]), left) + split(np.sort(order[cut:]), p - left)

    return split(np.arange(coords.shape[0]), int(npartitions))


def _frame(conn, distance: bool):
    import pandas as pd

    cols = {"source": conn.sources, "target": conn.targets}
    if distance:
        cols["distance"] = np.asarray(conn.distances, dtype=np.float64)
    return pd.DataFrame(cols)


def _unit(part):
    """A task's unit of work: a restricted :class:`~spatialconn.ConnectionPlan`, or
    ``(plan, lo, hi)``: drivers ``lo:hi`` of a whole plan shared by the tasks of a worker."""
    if isinstance(part, tuple):
        plan, lo, hi = part
        return plan, lo, hi
    return part, 0, part.n_drivers


def _block_frame(part, distance):
    plan, lo, hi = _unit(part)
    return _frame(plan.block(lo, hi), distance)


def _block_file(part, path, fmt, options, memory_limit):
    from .io import iter_blocks, write_parquet, write_sonata

    plan, lo, hi = _unit(part)
    blocks = iter_blocks(plan, memory_limit=memory_limit, start=lo, stop=hi)  # bounded memory per task
    if fmt == "parquet":
        write_parquet(blocks, path, **options)
    else:
        write_sonata(blocks, path, edge_types=None, **options)
    return path


def _parts(plan, npartitions: int, partition: str, weights: np.ndarray | None = None):
    """Driver ids of each partition.

    Partitions are balanced by ``weights`` (default: the plan's degrees).
    """
    if weights is None:
        weights = plan.degrees
    n = plan.n_drivers
    coords = plan.cells()
    if coords is not None and partition == "space":
        dims = coords.max(axis=0) + 1 if coords.size else np.ones(coords.shape[1], np.int64)
        flat = np.ravel_multi_index(tuple(coords.T), tuple(dims))  # row-major: the order of the cells
        cells, first, label = np.unique(flat, return_index=True, return_inverse=True)
        label = label.ravel()
        w = np.bincount(label, weights=weights, minlength=cells.size) if weights is not None \
            else np.bincount(label, minlength=cells.size)
        groups = partition_space(coords[first], w, npartitions)
        part_of_cell = np.empty(cells.size, dtype=np.int64)
        for j, grp in enumerate(groups):
            part_of_cell[grp] = j
        part = part_of_cell[label]
        order = np.argsort(part, kind="stable")
        return np.split(order, np.cumsum(np.bincount(part, minlength=len(groups)))[:-1])
    bounds = partition_bounds(weights, n, npartitions)
    return [np.arange(lo, hi, dtype=np.int64) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _units(plan, ids: list, scatter, share):
    """The unit of work of each partition (see :func:`_unit`), made to travel by ``scatter``.

    A restricted plan (its drivers and the partners within their reach),
    or, for an index range that needs every partner anyway, ``(plan, lo,
    hi)`` with the whole plan passed once per worker through ``share``.
    """
    whole = []

    def shared_range(i):  # the whole plan, sent once per worker
        if not whole:
            whole.append(share(plan))
        return whole[0], int(i[0]) if i.size else 0, int(i[-1]) + 1 if i.size else 0

    units = []
    for i, piece in zip(ids, plan.split(ids)):
        contiguous = i.size == 0 or i[-1] - i[0] + 1 == i.size
        if contiguous and piece.partners_held == plan.partners_held:
            units.append(shared_range(i))
        else:
            units.append(scatter(piece))
    return units


def _cancel_and_wait(client, futures, timeout: float = 60.0) -> None:
    """Cancel ``futures`` and wait (bounded) until none of them is still running on a worker."""
    import time

    keys = {f.key for f in futures}
    client.cancel(futures)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = {k for ks in client.processing().values() for k in ks}
        if not keys & running:
            return
        time.sleep(0.05)


def _check_options(plan, fmt, options):
    """Raise the writer's own error for bad ``write_options`` before any output exists."""
    import shutil
    import tempfile

    scratch = tempfile.mkdtemp(prefix="spatialconn-check-")
    try:
        name, opts = ("x.h5", {**options, "indices": False}) if fmt == "sonata" else ("x.parquet", options)
        _block_file((plan, 0, 0), os.path.join(scratch, name), fmt, opts, 1 << 20)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def connect(sources, targets=None, rule=None, kernel=None, *, client=None, npartitions=None,
            partition: str = "space", output=None, format=None, distance: bool = True,
            write_options: dict | None = None, memory_limit="1 GB", progress: bool = False,
            **connect_options):
    """:func:`spatialconn.connect` on Dask: a lazy dataframe, or files written per partition.

    Parameters
    ----------
    sources, targets, rule, kernel, **connect_options
        Exactly as for :func:`spatialconn.connect` (``mask``, ``space``,
        ``multapses``, ``autapses``, ``seed``, ``engine``).
    client : distributed.Client, optional
        Cluster to use (a ``LocalCluster``, a dask-jobqueue ``SLURMCluster``,
        ...). Each partition's data is scattered to one worker. Without a
        client the active Dask scheduler is used when the result is computed.
    npartitions : int, optional
        Number of driver partitions; default: 4 per worker thread with a
        client, else 8, and more when needed to keep the expected size of a
        partition near ``ROWS_PER_PARTITION`` synapses (capped at the number
        of drivers).
    partition : {"space", "index"}
        ``"space"``: blocks of space (recursive bisection of the grid cells
        holding drivers), so each task needs few partners whatever the order
        of the neurons; a partition's synapses are grouped by driver in
        ascending order, partitions follow one another in space.
        ``"index"``: contiguous driver ranges, so the rows come in exactly
        the order of ``sc.connect(...)``; halos are small only if the
        neurons are numbered in spatial order.
    output : str or os.PathLike, optional
        Instead of returning a dataframe, write one file per partition into
        this directory (atomically: it appears only when every partition is
        written) and return its path. Workers must share the file system.
    format : {"parquet", "sonata"}, optional
        Format of the partition files (default ``"parquet"``):
        ``part-00000.parquet``, ... (one dataset, readable by
        ``dask.dataframe.read_parquet``), or SONATA shards
        ``edges-00000.h5``, ... (each a complete edge population with global
        node ids and indices) plus one ``edge_types.csv``. Each shard's
        indices span all node ids (16 bytes per node and side); pass
        ``write_options={"indices": False}`` for very many shards.
    distance : bool
        Include the ``distance`` column (dataframe and Parquet).
    write_options : dict, optional
        Options of :func:`spatialconn.io.write_parquet` /
        :func:`spatialconn.io.write_sonata` (e.g. ``population``, ``delay``).
    memory_limit : int or str, default "1 GB"
        With ``output``, each task builds and writes its partition in blocks
        of about this much working memory (:func:`spatialconn.io.iter_blocks`).
    progress : bool
        With ``output``, show Dask's progress bar while partitions finish.

    Returns
    -------
    dask.dataframe.DataFrame or str
        Columns ``source``, ``target`` (and ``distance``). Every driver has
        exactly its synapses of ``sc.connect(...)``, in the same order; with
        ``partition="index"`` ``ddf.compute()`` equals it row for row, with
        ``"space"`` after a stable sort by the driver column (``source``,
        or ``target`` for :class:`~spatialconn.FixedInDegree`).
        With ``output``, the directory written.

    Raises
    ------
    TypeError, ValueError
        As :func:`spatialconn.connect`, on the client, before any task runs.

    Examples
    --------
    >>> import os, tempfile, numpy as np, pandas as pd, spatialconn as sc
    >>> import spatialconn.dask as scd
    >>> pos = np.random.default_rng(0).random((300, 2))
    >>> out = scd.connect(pos, rule=sc.FixedInDegree(4), kernel=sc.Gaussian(0.1), seed=1,
    ...                   npartitions=3, output=os.path.join(tempfile.mkdtemp(), "syn"))
    >>> sorted(os.listdir(out))
    ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
    >>> df = pd.read_parquet(out).sort_values("target", kind="stable")
    >>> local = sc.connect(pos, rule=sc.FixedInDegree(4), kernel=sc.Gaussian(0.1), seed=1)
    >>> bool((df.source.to_numpy() == local.sources).all())
    True

    On a cluster, only the client changes::

        from dask_jobqueue import SLURMCluster
        from distributed import Client
        cluster = SLURMCluster(cores=32, memory="128 GB", walltime="01:00:00")
        cluster.scale(jobs=8)
        scd.connect(pos, rule=sc.FixedOutDegree(1000), kernel=sc.Gaussian(0.01), seed=1,
                    client=Client(cluster), output="/scratch/me/net")
    """
    import dask

    from .connect import plan as make_plan
    from .io._atomic import atomic_path, check_target
    from .io.parquet import is_part_name, part_name

    if npartitions is not None:
        positive_int(npartitions, "npartitions")
    if partition not in ("space", "index"):
        raise ValueError(f"partition must be 'space' or 'index', got {partition!r}")
    if format is not None and output is None:
        raise ValueError(f"format={format!r} needs output=<directory>")
    fmt = "parquet" if format is None else format
    if fmt not in ("parquet", "sonata"):
        raise ValueError(f"format must be 'parquet' or 'sonata', got {format!r}")
    if not isinstance(progress, bool) or not isinstance(distance, bool):
        raise TypeError("progress and distance must be True or False")
    if client is not None and not hasattr(client, "scatter"):
        raise TypeError(f"client must be a distributed.Client, got {client!r}")
    options = dict(write_options or {})
    from .io import parse_bytes

    parse_bytes(memory_limit)
    if output is not None:
        allowed = (lambda n: n.startswith("edges-") and n.endswith(".h5") or n == "edge_types.csv") \
            if fmt == "sonata" else is_part_name
        output = check_target(output, directory=True, overwrite=options.pop("overwrite", True),
                              allowed=allowed)

    plan = make_plan(sources, targets, rule, kernel, **connect_options)
    weights = plan.degrees
    if npartitions is None:
        threads = sum(client.nthreads().values()) if client is not None else 2
        expected = 0 if weights is None else int(np.sum(weights))
        npartitions = max(4 * max(1, threads), -(-expected // ROWS_PER_PARTITION))
    ids = _parts(plan, npartitions, partition, weights)
    if client is not None:
        scatter = lambda x: client.scatter(x, hash=False)  # noqa: E731  one worker holds each partition
        share = lambda x: client.scatter(x, broadcast=True, hash=False)  # noqa: E731
    else:
        scatter = share = lambda x: dask.delayed(x, pure=True)  # noqa: E731
    if output is None:
        import dask.dataframe as dd

        meta = _frame(plan.block(0, 0), distance).iloc[:0]
        units = _units(plan, ids, scatter, share)
        parts = [dask.delayed(_block_frame, pure=True)(u, distance) for u in units]
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    if fmt == "parquet":
        options.setdefault("distance", distance)
    else:
        options.pop("edge_types", None)
    _check_options(plan, fmt, options)
    units = _units(plan, ids, scatter, share)
    with atomic_path(output, directory=True) as tmp:
        names = [part_name(i) if fmt == "parquet" else f"edges-{i:05d}.h5" for i in range(len(units))]
        tasks = [dask.delayed(_block_file, pure=False)(u, os.path.join(tmp, name), fmt, options, memory_limit)
                 for u, name in zip(units, names)]
        if client is not None:
            futures = client.compute(tasks)
            try:
                if progress:
                    from distributed import progress as dask_progress

                    dask_progress(futures)
                client.gather(futures)
            except BaseException:
                _cancel_and_wait(client, futures)  # no task may write into the directory once it is removed
                raise
        elif progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar():
                dask.compute(*tasks)
        else:
            dask.compute(*tasks)
        if fmt == "sonata":
            from .io.sonata import write_edge_types

            write_edge_types(os.path.join(tmp, "edge_types.csv"), options.get("edge_type_id", 0),
                             options.get("edge_type_properties"))
    return output
