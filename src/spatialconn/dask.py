"""Scale-out on Dask: the same synapses as :func:`spatialconn.connect`, built by partitions.

The call is validated and planned once on the client (every error is raised
there, before any task runs). Drivers are split into contiguous partitions
balanced by their synapse counts; each task builds the synapses of its
drivers with the same driver-keyed random streams as the local path, so
the result is bit-identical to ``sc.connect(...)`` for the same seed, for
any number of partitions and workers.

The validated job (positions and per-driver plan, O(N_s + N_t)) travels to
each worker once (``client.scatter(..., broadcast=True)``, or a single
shared graph key), not once per task; the output of a task never leaves
its worker when it is written per partition.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> import spatialconn.dask as scd
>>> pos = np.random.default_rng(0).random((400, 2))
>>> ddf = scd.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=7,
...                   npartitions=4)
>>> df = ddf.compute(scheduler="sync")
>>> local = sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=7)
>>> bool((df.target.to_numpy() == local.targets).all()), ddf.npartitions
(True, 4)
"""

from __future__ import annotations

import copy
import numbers
import os

import numpy as np

__all__ = ["connect", "partition_bounds", "partners_within_reach"]

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
    return np.unique(bounds) if n else np.array([0, 0])


def partners_within_reach(drivers: np.ndarray, partners: np.ndarray, reach: float,
                          periods: np.ndarray | None = None) -> np.ndarray:
    """Indices of the partners inside the drivers' bounding box grown by ``reach`` (the halo).

    Every partner that can have non-zero weight for one of ``drivers`` is in
    the result (a superset; sorted global indices). Periodic axes wrap: the
    grown interval is taken modulo the period, and covers the whole axis
    once it is longer than the period. ``reach = inf`` gives all partners.

    Parameters
    ----------
    drivers : (n, d) array
        Positions of one partition's drivers.
    partners : (N_p, d) array
    reach : float
        Largest distance with non-zero weight (``Problem.reach``).
    periods : (d,) array, optional
        Period per axis, ``inf`` where open.

    Examples
    --------
    >>> p = np.array([[0.05], [0.5], [0.97]])
    >>> partners_within_reach(np.array([[0.0], [0.1]]), p, 0.1).tolist()
    [0]
    >>> partners_within_reach(np.array([[0.0], [0.1]]), p, 0.1, periods=np.array([1.0])).tolist()
    [0, 2]
    """
    n_p, d = partners.shape
    if drivers.shape[0] == 0:
        return np.arange(0)
    if not np.isfinite(reach):
        return np.arange(n_p)
    periods = np.full(d, np.inf) if periods is None else np.asarray(periods, dtype=np.float64)
    keep = np.ones(n_p, dtype=bool)
    lo, hi = drivers.min(axis=0) - reach, drivers.max(axis=0) + reach
    for a in range(d):
        if np.isfinite(periods[a]):
            width = hi[a] - lo[a]
            if width < periods[a]:
                keep &= np.mod(partners[:, a] - lo[a], periods[a]) <= width
        else:
            keep &= (partners[:, a] >= lo[a]) & (partners[:, a] <= hi[a])
    return np.nonzero(keep)[0]


def _frame(conn, distance: bool):
    import pandas as pd

    cols = {"source": conn.sources, "target": conn.targets}
    if distance:
        cols["distance"] = np.asarray(conn.distances, dtype=np.float64)
    return pd.DataFrame(cols)


def _build(job, lo: int, hi: int, total):
    if total is not None:
        job = copy.copy(job)
        job._total = total
    return job.result(lo, hi)


def _block_frame(job, lo, hi, total, distance):
    return _frame(_build(job, lo, hi, total), distance)


def _block_file(job, lo, hi, total, path, fmt, options, memory_limit):
    from .io import iter_blocks, write_parquet, write_sonata

    if total is not None:
        job = copy.copy(job)
        job._total = total
    blocks = iter_blocks(job, memory_limit=memory_limit, start=lo, stop=hi)  # bounded memory per task
    if fmt == "parquet":
        write_parquet(blocks, path, **options)
    else:
        write_sonata(blocks, path, edge_types=None, **options)
    return path


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


def _check_options(job, fmt, options):
    """Raise the writer's own error for bad ``write_options`` before any output exists."""
    import shutil
    import tempfile

    scratch = tempfile.mkdtemp(prefix="spatialconn-check-")
    try:
        name, opts = ("x.h5", {**options, "indices": False}) if fmt == "sonata" else ("x.parquet", options)
        _block_file(job, 0, 0, None, os.path.join(scratch, name), fmt, opts, 1 << 20)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def connect(sources, targets=None, rule=None, kernel=None, *, client=None, npartitions=None,
            output=None, format=None, distance: bool = True, write_options: dict | None = None,
            memory_limit="1 GB", progress: bool = False, **connect_options):
    """:func:`spatialconn.connect` on Dask: a lazy dataframe, or files written per partition.

    Parameters
    ----------
    sources, targets, rule, kernel, **connect_options
        Exactly as for :func:`spatialconn.connect` (``mask``, ``space``,
        ``multapses``, ``autapses``, ``seed``, ``engine``).
    client : distributed.Client, optional
        Cluster to use (a ``LocalCluster``, a dask-jobqueue ``SLURMCluster``,
        ...). The job is scattered to its workers once. Without a client the
        active Dask scheduler is used when the result is computed.
    npartitions : int, optional
        Number of driver partitions; default: 4 per worker thread with a
        client, else 8, and more when needed to keep the expected size of a
        partition near ``ROWS_PER_PARTITION`` synapses (capped at the number
        of drivers).
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
        Columns ``source``, ``target`` (and ``distance``), partitions in driver
        order: ``ddf.compute()`` equals ``sc.connect(...)`` row for row.
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
    >>> len(pd.read_parquet(out))
    1200

    On a cluster, only the client changes::

        from dask_jobqueue import SLURMCluster
        from distributed import Client
        cluster = SLURMCluster(cores=32, memory="128 GB", walltime="01:00:00")
        cluster.scale(jobs=8)
        scd.connect(pos, rule=sc.FixedOutDegree(1000), kernel=sc.Gaussian(0.01), seed=1,
                    client=Client(cluster), output="/scratch/me/net")
    """
    import dask

    from .connect import _plan
    from .io._atomic import atomic_path, check_target
    from .io.parquet import is_part_name, part_name

    if npartitions is not None and (not isinstance(npartitions, numbers.Integral)
                                    or isinstance(npartitions, bool) or npartitions < 1):
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
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

    job = _plan(sources, targets, rule, kernel, **connect_options)
    n = job.problem.n_drivers
    total = getattr(job, "_total", None)
    weights = job.degrees if job.degrees is not None else (
        np.bincount(total[0], minlength=n) if total is not None else None)
    if npartitions is None:
        threads = sum(client.nthreads().values()) if client is not None else 2
        expected = 0 if weights is None else int(np.sum(weights))
        npartitions = max(4 * max(1, threads), -(-expected // ROWS_PER_PARTITION))
    bounds = partition_bounds(weights, n, npartitions)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))

    shared = copy.copy(job)
    slices = [None] * len(ranges)
    if total is not None:  # global plan: each partition carries its own slice of it
        shared._total = (total[0][:0], total[1][:0])
        cuts = np.searchsorted(total[0], bounds)
        slices = [(total[0][a:b], total[1][a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    if client is not None:
        handle = client.scatter(shared, broadcast=True, hash=False)
    else:
        handle = dask.delayed(shared, pure=True)

    if output is None:
        import dask.dataframe as dd

        meta = _frame(job.result(0, 0), distance).iloc[:0]
        parts = [dask.delayed(_block_frame, pure=True)(handle, lo, hi, s, distance)
                 for (lo, hi), s in zip(ranges, slices)]
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    if fmt == "parquet":
        options.setdefault("distance", distance)
    else:
        options.pop("edge_types", None)
    _check_options(job, fmt, options)
    with atomic_path(output, directory=True) as tmp:
        names = [part_name(i) if fmt == "parquet" else f"edges-{i:05d}.h5" for i in range(len(ranges))]
        tasks = [dask.delayed(_block_file, pure=False)(handle, lo, hi, s, os.path.join(tmp, name), fmt, options,
                                                       memory_limit)
                 for (lo, hi), s, name in zip(ranges, slices, names)]
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
