"""File output: SONATA edges and circuits, Parquet, scipy.sparse and ``.npz``; streamed and atomic.

:func:`write` picks the format from the file name (one projection),
:func:`write_network` writes several projections to one file and
:func:`read_network` reads them back; :func:`connect_to_file`
builds and writes in blocks so that peak memory follows ``memory_limit``,
not the size of the output. Every writer validates its arguments before
creating anything and writes under a temporary name that is renamed only
when the file is complete. :func:`write_circuit` writes a whole SONATA
circuit (nodes, edges, type tables, ``circuit_config.json``) from a spec.

Examples
--------
>>> import os, tempfile, numpy as np, spatialconn as sc
>>> from spatialconn import io
>>> pos = np.random.default_rng(0).random((500, 2))
>>> d = tempfile.mkdtemp()
>>> f = io.connect_to_file(os.path.join(d, "net.parquet"), pos, rule=sc.FixedOutDegree(10),
...                        kernel=sc.Gaussian(0.1), seed=1, memory_limit="64 MB")
>>> import pandas as pd; len(pd.read_parquet(f))
5000
"""

from __future__ import annotations

import os

import numpy as np

from .._validate import positive_int
from ._blocks import parse_bytes
from .circuit import read_circuit, write_circuit
from .network import read_network, write_network
from .parquet import write_parquet
from .sonata import edge_types_path, write_sonata
from .sparse import read_npz, to_scipy, write_npz

__all__ = [
    "write",
    "write_network",
    "read_network",
    "connect_to_file",
    "iter_blocks",
    "parse_bytes",
    "write_sonata",
    "write_parquet",
    "write_npz",
    "read_npz",
    "to_scipy",
    "edge_types_path",
    "write_circuit",
    "read_circuit",
]

#: working bytes per synapse while a block is built and written (engine
#: output, Connections, distances, Arrow/HDF5 buffers); measured ≈ 100
BYTES_PER_SYNAPSE = 128

def _format_of(path, rows_per_file) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    p = os.fspath(path).lower()
    if p.endswith((".h5", ".hdf5")):
        return "sonata"
    if p.endswith(".parquet") or rows_per_file is not None or p.endswith(os.sep) or os.path.isdir(p):
        return "parquet"
    if p.endswith(".npz"):
        return "npz"
    raise ValueError(
        f"path {os.fspath(path)!r}: cannot tell the format; use a name ending in .h5/.sonata.h5 "
        "(SONATA), .parquet (Parquet; a directory with rows_per_file=N) or .npz"
    )


#: the optional package each format needs, and its name in messages
NEEDS = {"sonata": ("h5py", "SONATA"), "parquet": ("pyarrow", "Parquet")}


def require(fmt: str) -> None:
    """Raise ``ImportError`` with the install hint if format ``fmt``'s package is missing.

    Examples
    --------
    >>> require("npz")
    """
    if fmt not in NEEDS:
        return
    package, name = NEEDS[fmt]
    try:
        __import__(package)
    except ImportError:
        raise ImportError(f"writing {name} needs {package}: pip install 'spatialconn[io]' (or write .npz)") from None


def write(conn, path, **options) -> str:
    """Write synapses to ``path`` in the format its name says, atomically.

    ``.h5``/``.sonata.h5``/``.hdf5``: :func:`write_sonata`; ``.parquet`` (or a
    directory with ``rows_per_file=N``): :func:`write_parquet`; ``.npz``:
    :func:`write_npz`. Options go to that writer.

    Parameters
    ----------
    conn : Connections or iterable of Connections
        E.g. ``sc.connect(...)`` or ``sc.iter_connect(..., chunk_size=N)``
        (then only one block is in memory at a time, except for ``.npz``).
    path : str or os.PathLike
    **options
        Writer options (see each writer).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If the format cannot be told from ``path``, or for bad options
        (before any file is created).
    ImportError
        If the format's optional package is not installed (with the
        ``pip install`` command that adds it).

    Examples
    --------
    >>> import os, tempfile, numpy as np, spatialconn as sc, libsonata
    >>> pos = np.random.default_rng(0).random((50, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(2), seed=0)
    >>> f = write(conn, os.path.join(tempfile.mkdtemp(), "v1.sonata.h5"), population="v1")
    >>> libsonata.EdgeStorage(f).population_names
    {'v1'}
    """
    fmt = _format_of(path, options.get("rows_per_file"))
    require(fmt)
    writer = {"sonata": write_sonata, "parquet": write_parquet, "npz": write_npz}[fmt]
    return writer(conn, path, **options)


def iter_blocks(plan, *, memory_limit=1 << 30, chunk_size=None, progress: bool = False, start: int = 0,
                stop: int | None = None, desc: str = "drivers"):
    """Yield the synapses of a :class:`~spatialconn.ConnectionPlan` in blocks sized to ``memory_limit``.

    Block boundaries are chosen from the known degrees (fixed-degree and
    total-number rules) or adaptively from the synapses per driver seen so
    far (Bernoulli); any split gives the same synapses (driver-keyed random
    streams), so this changes memory, never the result.

    Parameters
    ----------
    plan : ConnectionPlan
        From :func:`spatialconn.plan` (or a restricted piece of one).
    memory_limit : int or str
        Approximate bytes per block (``BYTES_PER_SYNAPSE`` per synapse).
    chunk_size : int, optional
        Fixed drivers per block instead.
    progress : bool
        tqdm bar over drivers.
    start, stop : int, optional
        Only drivers ``start:stop`` (default: all).
    desc : str
        The progress bar's label.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> p = sc.plan(np.random.default_rng(0).random((1000, 2)), rule=sc.FixedOutDegree(50), seed=1)
    >>> [len(b) for b in iter_blocks(p, memory_limit=20_000 * BYTES_PER_SYNAPSE)]
    [20000, 20000, 10000]
    """
    from ..progress import progress_bar

    n = plan.n_drivers if stop is None else int(stop)
    budget = max(1, parse_bytes(memory_limit) // BYTES_PER_SYNAPSE)
    cum = None if plan.degrees is None else np.cumsum(plan.degrees, dtype=np.int64)
    with progress_bar(progress, total=n - start, desc=desc, unit=" drivers") as bar:
        # Bernoulli: start small enough for the worst case (every partner), then adapt
        lo, step = int(start), max(1, min(1024, budget // max(1, plan.partners_held)))
        if n == lo:
            yield plan.block(lo, lo)
        while lo < n:
            if chunk_size is not None:
                hi = min(n, lo + int(chunk_size))
            elif cum is not None:
                base = cum[lo - 1] if lo else 0
                hi = int(np.searchsorted(cum, base + budget, side="right"))
                hi = min(n, max(hi, lo + 1))
            else:
                hi = min(n, lo + step)
            block = plan.block(lo, hi)
            if chunk_size is None and cum is None:  # Bernoulli: adapt to the observed rate
                rate = max(len(block) / (hi - lo), 1e-3)
                step = int(min(max(1, budget / rate), 4 * (hi - lo), 1 << 24))
            bar.update(hi - lo)
            yield block
            lo = hi


def connect_to_file(path, sources, targets=None, rule=None, kernel=None, *, memory_limit="1 GB",
                    chunk_size=None, progress: bool = False, write_options: dict | None = None,
                    **connect_options) -> str:
    """Build connections and stream them to ``path`` with bounded memory.

    Equivalent to ``write(sc.connect(...), path)`` (same synapses, same
    order) but only one block of synapses is in memory at a time.

    Parameters
    ----------
    path : str or os.PathLike
        Output; the format follows the name as in :func:`write`.
    sources, targets, rule, kernel, **connect_options
        As for :func:`spatialconn.connect` (``mask``, ``space``,
        ``multapses``, ``autapses``, ``seed``, ``engine``).
    memory_limit : int or str, default "1 GB"
        Target working memory of one block (the positions and per-driver
        plans, O(N_s + N_t), come on top).
    chunk_size : int, optional
        Fixed number of drivers per block instead of ``memory_limit``.
    progress : bool
        Show a tqdm bar over drivers.
    write_options : dict, optional
        Options of the writer (e.g. ``{"rows_per_file": 10**8}``).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError, ValueError
        Bad arguments or infeasible requests, before any file is created.

    Examples
    --------
    >>> import os, tempfile, numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(1).random((300, 2))
    >>> f = connect_to_file(os.path.join(tempfile.mkdtemp(), "e.h5"), pos,
    ...                     rule=sc.FixedInDegree(5), kernel=sc.Gaussian(0.1), seed=3,
    ...                     memory_limit="1 MB")
    >>> import libsonata; libsonata.EdgeStorage(f).open_population("default").size
    1500
    """
    from ..connect import plan

    write_options = dict(write_options or {})
    require(_format_of(path, write_options.get("rows_per_file")))
    if chunk_size is not None:
        positive_int(chunk_size, "chunk_size")
    parse_bytes(memory_limit)
    planned = plan(sources, targets, rule, kernel, **connect_options)
    blocks = iter_blocks(planned, memory_limit=memory_limit, chunk_size=chunk_size, progress=progress)
    return write(blocks, path, **write_options)
