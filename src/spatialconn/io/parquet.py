"""Parquet output (pyarrow): one file, or a partitioned directory for large outputs.

Columns: ``source`` and ``target`` (int32 when the populations allow, else
int64), ``distance`` (float64, optional) and optional ``syn_weight`` and
``delay``. Each block becomes one or more row groups, so memory is bounded
by the block, not the output. A directory holds ``part-00000.parquet``,
``part-00001.parquet``, ... in synapse order and reads back with
``pandas.read_parquet(dir)``, ``pyarrow.dataset.dataset(dir)`` or
``dask.dataframe.read_parquet(dir)``.
"""

from __future__ import annotations

import os
import re

from .._validate import positive_int
from ..progress import progress_bar
from ._atomic import atomic_path, check_target
from ._blocks import Blocks, DistanceBuffer, attribute_values, check_attribute, pipelined, plain_distances

__all__ = ["write_parquet", "part_name", "is_part_name"]

_PART = re.compile(r"^part-\d{5,}\.parquet$")


def part_name(i: int) -> str:
    """File name of partition ``i`` in a partitioned directory (sorts in synapse order).

    Examples
    --------
    >>> part_name(3)
    'part-00003.parquet'
    """
    return f"part-{i:05d}.parquet"


def is_part_name(name: str) -> bool:
    """Whether ``name`` is a partition file written by spatialconn."""
    return bool(_PART.match(name))


def schema(n_sources: int, n_targets: int, columns):
    """The pyarrow schema of the output."""
    import pyarrow as pa

    index = pa.int32() if max(n_sources, n_targets) < 2**31 else pa.int64()
    fields = [pa.field("source", index, nullable=False), pa.field("target", index, nullable=False)]
    fields += [pa.field(c, pa.float64(), nullable=False) for c in columns]
    meta = {b"spatialconn.n_sources": str(n_sources).encode(), b"spatialconn.n_targets": str(n_targets).encode()}
    return pa.schema(fields, metadata=meta)


def table(block, sch, extra: dict, distances=plain_distances):
    """One block of synapses as a pyarrow Table with schema ``sch`` (ids without a copy).

    ``distances(block)`` gives the plain distances (e.g. a :class:`DistanceBuffer`).
    """
    import pyarrow as pa

    cols = [pa.array(block.sources, sch.field("source").type), pa.array(block.targets, sch.field("target").type)]
    d = distances(block) if len(sch) > 2 else None
    for name in sch.names[2:]:
        values = d if name == "distance" else attribute_values(name, extra[name], block, d)
        cols.append(pa.array(values, pa.float64()))
    return pa.Table.from_arrays(cols, schema=sch)


def write_parquet(
    conn,
    path,
    *,
    rows_per_file: int | None = None,
    distance: bool = True,
    syn_weight=None,
    delay=None,
    compression: str = "zstd",
    row_group_size: int = 1 << 20,
    overwrite: bool = True,
    progress: bool = False,
) -> str:
    """Write synapses to Parquet, atomically, streaming block by block.

    Parameters
    ----------
    conn : Connections or iterable of Connections
        One result, or blocks from :func:`spatialconn.iter_connect`.
    path : str or os.PathLike
        A ``.parquet`` file, or a directory when ``rows_per_file`` is given.
    rows_per_file : int, optional
        Write a partitioned directory with at most this many synapses per
        file (``part-00000.parquet``, ...), in synapse order.
    distance : bool
        Include the ``distance`` column.
    syn_weight, delay : None, number, callable or array
        Extra columns; a callable receives a block's distances.
    compression : str
        Parquet codec (``"zstd"``, ``"snappy"``, ``"none"``, ...).
    row_group_size : int
        Maximum rows per row group.
    overwrite : bool
        Replace an existing output (a directory only if it holds nothing
        but partition files).
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
    >>> import os, tempfile, numpy as np, pandas as pd, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> blocks = sc.iter_connect(pos, rule=sc.FixedOutDegree(3), chunk_size=40, seed=1)
    >>> out = write_parquet(blocks, os.path.join(tempfile.mkdtemp(), "syn"), rows_per_file=100)
    >>> sorted(os.listdir(out))
    ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
    >>> df = pd.read_parquet(out)
    >>> len(df), list(df.columns)
    (300, ['source', 'target', 'distance'])
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if rows_per_file is not None:
        positive_int(rows_per_file, "rows_per_file")
    positive_int(row_group_size, "row_group_size")
    for name, flag in (("distance", distance), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if not isinstance(compression, str):
        raise TypeError(f"compression must be a codec name, got {compression!r}")
    try:
        pa.Codec(compression) if compression.lower() != "none" else None
    except (ValueError, pa.ArrowException) as exc:
        raise ValueError(f"compression {compression!r} is not a Parquet codec available here") from exc
    directory = rows_per_file is not None
    path = check_target(path, directory=directory, overwrite=overwrite, allowed=is_part_name)
    blocks = Blocks(conn)  # after the cheap checks: this builds the first block
    check_attribute("syn_weight", syn_weight, blocks)
    check_attribute("delay", delay, blocks)
    extra = {k: v for k, v in (("syn_weight", syn_weight), ("delay", delay)) if v is not None}
    sch = schema(blocks.n_sources, blocks.n_targets, (["distance"] if distance else []) + list(extra))
    # no dictionaries: ids and distances are mostly distinct (dictionary pages then cost time and size)
    opts = dict(compression=compression, use_dictionary=False)

    buffer = DistanceBuffer()  # the writer thread's, reused block after block
    with atomic_path(path, directory=directory) as tmp, progress_bar(progress, desc="Parquet", unit="syn") as bar:
        if not directory:
            with pq.ParquetWriter(tmp, sch, **opts) as writer:
                wrote = []

                def consume(block):
                    if len(block) or not wrote:
                        writer.write_table(table(block, sch, extra, buffer), row_group_size=row_group_size)
                        wrote.append(True)
                    bar.update(len(block))

                pipelined(blocks, consume)
            return path
        state = {"part": 0, "rows": 0, "writer": None}

        def consume(block):
            t = table(block, sch, extra, buffer)
            while t.num_rows:
                if state["writer"] is None:
                    state["writer"] = pq.ParquetWriter(os.path.join(tmp, part_name(state["part"])), sch, **opts)
                take = min(t.num_rows, rows_per_file - state["rows"])
                state["writer"].write_table(t.slice(0, take), row_group_size=row_group_size)
                t, state["rows"] = t.slice(take), state["rows"] + take
                bar.update(take)
                if state["rows"] == rows_per_file:
                    state["writer"].close()
                    state.update(writer=None, part=state["part"] + 1, rows=0)

        try:
            pipelined(blocks, consume)
            if state["writer"] is None and state["part"] == 0:  # no synapse: an empty file keeps the schema
                pq.write_table(sch.empty_table(), os.path.join(tmp, part_name(0)), **opts)
        finally:
            if state["writer"] is not None:
                state["writer"].close()
    return path
