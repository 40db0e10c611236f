"""scipy.sparse matrices (multapse counts as values) and plain ``.npz`` files.

These formats hold the whole output in memory; for outputs larger than
memory use Parquet or SONATA, which stream.
"""

from __future__ import annotations

import numpy as np

from ._atomic import atomic_path, check_target
from ._blocks import Blocks, plain_distances

__all__ = ["to_scipy", "write_npz", "read_npz"]


def _concat(blocks: Blocks, distance: bool):
    s, t, d = [], [], []
    for block in blocks:
        s.append(block.sources)
        t.append(block.targets)
        if distance:
            d.append(plain_distances(block))
    cat = lambda parts, dt: np.concatenate(parts) if parts else np.empty(0, dt)  # noqa: E731
    return cat(s, np.int64), cat(t, np.int64), (cat(d, np.float64) if distance else None)


def to_scipy(conn, format: str = "csr"):
    """Adjacency matrix ``A[i, j]`` = number of synapses from source i to target j.

    Parameters
    ----------
    conn : Connections or iterable of Connections
    format : {"csr", "coo", "csc"}
        scipy.sparse format (sparse *arrays*, ``scipy.sparse.csr_array`` etc.).

    Returns
    -------
    scipy.sparse array of shape ``(n_sources, n_targets)``, integer values
        Multapses are summed into counts; indices are sorted.

    Raises
    ------
    ValueError
        If ``format`` is not one of the above.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((30, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(4), seed=2)
    >>> A = to_scipy(conn)
    >>> A.shape, int(A.sum()), A.sum(axis=1).tolist()[:3]
    ((30, 30), 120, [4, 4, 4])
    """
    import scipy.sparse as sp

    if format not in ("csr", "coo", "csc"):
        raise ValueError(f"format must be 'csr', 'coo' or 'csc', got {format!r}")
    blocks = Blocks(conn)
    s, t, _ = _concat(blocks, distance=False)
    shape = (blocks.n_sources, blocks.n_targets)
    dtype = np.int32 if s.size < 2**31 else np.int64
    coo = sp.coo_array((np.ones(s.size, dtype=dtype), (s, t)), shape=shape)
    coo.sum_duplicates()
    return {"coo": coo, "csr": coo.tocsr(), "csc": coo.tocsc()}[format]


def write_npz(conn, path, *, format: str = "arrays", distance: bool = True, overwrite: bool = True) -> str:
    """Write synapses to a ``.npz`` file, atomically.

    Parameters
    ----------
    conn : Connections or iterable of Connections
    path : str or os.PathLike
        Output file (should end in ``.npz``).
    format : {"arrays", "csr", "coo", "csc"}
        ``"arrays"``: a plain numpy archive with ``sources``, ``targets``
        (synapse order kept, multapses repeated), ``distances`` and
        ``shape``; load it with :func:`read_npz` or ``numpy.load``.
        Otherwise the adjacency matrix of counts, as written by
        ``scipy.sparse.save_npz`` (load with ``scipy.sparse.load_npz``).
    distance : bool
        Include ``distances`` (``"arrays"`` only).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((30, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(4), seed=2)
    >>> f = write_npz(conn, os.path.join(tempfile.mkdtemp(), "c.npz"))
    >>> back = read_npz(f)
    >>> bool((back["sources"] == conn.sources).all()), back["shape"].tolist()
    (True, [30, 30])
    """
    import scipy.sparse as sp

    if format not in ("arrays", "csr", "coo", "csc"):
        raise ValueError(f"format must be 'arrays', 'csr', 'coo' or 'csc', got {format!r}")
    blocks = Blocks(conn)
    path = check_target(path, overwrite=overwrite)
    if format == "arrays":
        s, t, d = _concat(blocks, distance)
        dtype = np.int32 if max(blocks.n_sources, blocks.n_targets) < 2**31 else np.int64
        arrays = dict(sources=s.astype(dtype), targets=t.astype(dtype),
                      shape=np.array([blocks.n_sources, blocks.n_targets], dtype=np.int64))
        if distance:
            arrays["distances"] = d
    else:
        matrix = to_scipy(blocks, format)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: numpy/scipy would otherwise append ".npz"
            if format == "arrays":
                np.savez(fh, **arrays)
            else:
                sp.save_npz(fh, matrix)
    return path


def read_npz(path) -> dict:
    """Read a file written by ``write_npz(..., format="arrays")`` into a dict of arrays.

    Examples
    --------
    >>> import os, tempfile, numpy as np, spatialconn as sc
    >>> conn = sc.connect(np.zeros((3, 1)), rule=sc.FixedOutDegree(1), seed=0)
    >>> sorted(read_npz(write_npz(conn, os.path.join(tempfile.mkdtemp(), "c.npz"))))
    ['distances', 'shape', 'sources', 'targets']
    """
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
