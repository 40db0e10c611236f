"""Normalise writer input: one :class:`Connections` or an iterable of blocks.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> pos = np.random.default_rng(0).random((20, 2))
>>> conn = sc.connect(pos, rule=sc.FixedOutDegree(2), seed=1)
>>> stream = Blocks(conn)
>>> stream.n_sources, sum(len(b) for b in stream)
(20, 40)
"""

from __future__ import annotations

import itertools
import numbers
import re

import numpy as np

from ..connections import Connections

__all__ = ["Blocks", "DistanceBuffer", "attribute_values", "parse_bytes", "pipelined"]


class Blocks:
    """Iterate over the synapse blocks of ``data`` after checking the first one.

    Parameters
    ----------
    data : Connections or iterable of Connections
        E.g. the result of :func:`spatialconn.connect` or of
        :func:`spatialconn.iter_connect`.
    name : str
        Argument name used in error messages.

    Raises
    ------
    TypeError
        If ``data`` is neither, or a later block is not a ``Connections``.
    ValueError
        If an iterable yields no block, or blocks disagree on population sizes.
    """

    def __init__(self, data, name: str = "conn"):
        self.name = name
        if isinstance(data, Connections):
            self.single = data
            first, rest = data, iter(())
        elif isinstance(data, (str, bytes, np.ndarray, dict)) or not hasattr(data, "__iter__"):
            raise TypeError(
                f"{name} must be a spatialconn Connections or an iterable of them "
                f"(e.g. sc.iter_connect(...)), got {type(data).__name__}"
            )
        else:
            self.single = None
            rest = iter(data)
            first = next(rest, None)
            if first is None:
                raise ValueError(f"{name} yielded no block of connections; nothing to write")
            self._check(first)
        self.n_sources, self.n_targets = first.n_sources, first.n_targets
        self.first_size = len(first)  # synapses in the first block (sizes HDF5 chunks)
        self._it = itertools.chain([first], rest)

    def _check(self, block):
        if not isinstance(block, Connections):
            raise TypeError(f"{self.name} must yield spatialconn Connections, got {type(block).__name__}")

    def __iter__(self):
        for block in self._it:
            self._check(block)
            if (block.n_sources, block.n_targets) != (self.n_sources, self.n_targets):
                raise ValueError(
                    f"{self.name}: a block has {block.n_sources} x {block.n_targets} neurons, "
                    f"the first had {self.n_sources} x {self.n_targets}"
                )
            yield block


def attribute_values(name: str, spec, block: Connections, distances: np.ndarray):
    """Values of a per-synapse attribute for ``block`` (None when ``spec`` is None).

    ``spec`` is a number, a callable of the distances (plain floats), or an
    array of one value per synapse (only for a single ``Connections``).
    """
    if spec is None:
        return None
    if callable(spec):
        out = np.asarray(spec(distances), dtype=np.float64)
        if out.shape != distances.shape:
            raise ValueError(f"{name}(distances) must return one value per synapse, got shape {out.shape}")
        return out
    if isinstance(spec, numbers.Real):
        return np.full(len(block), float(spec))
    out = np.asarray(spec, dtype=np.float64)
    if out.shape != (len(block),):
        raise ValueError(f"{name} must have one value per synapse ({len(block)}), got shape {out.shape}")
    return out


def check_attribute(name: str, spec, blocks: Blocks):
    """Validate an attribute spec before any file is created."""
    if spec is None or callable(spec):
        return
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        if not np.isfinite(spec):
            raise ValueError(f"{name} must be finite, got {spec!r}")
        return
    if blocks.single is None:
        raise TypeError(f"{name} must be a number or a callable of distances when streaming blocks, got an array")
    try:
        arr = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, an array or a callable, got {spec!r}") from exc
    if arr.shape != (len(blocks.single),):
        raise ValueError(f"{name} must have one value per synapse ({len(blocks.single)}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")


def plain_distances(block: Connections) -> np.ndarray:
    """Distances of ``block`` as plain float64 (SI units if positions carried units)."""
    return block.plain_distances()


class DistanceBuffer:
    """Distances of one block after another in one reused buffer (a writer's consume step).

    The values are valid until the next call; fresh pages for every block
    cost more than computing the distances.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> blocks = sc.iter_connect(np.random.default_rng(0).random((50, 2)), rule=sc.FixedOutDegree(2), chunk_size=20)
    >>> buf = DistanceBuffer()
    >>> [buf(b).size for b in blocks]
    [40, 40, 20]
    """

    def __init__(self):
        self.buf = np.empty(0)

    def __call__(self, block: Connections) -> np.ndarray:
        n = len(block)
        if self.buf.size < n:
            self.buf = np.empty(n)
        return block.plain_distances(out=self.buf[:n])


def pipelined(items, consume, depth: int = 1) -> None:
    """Call ``consume(item)`` on a background thread while the next item is produced.

    Items are consumed one at a time and in order; at most ``depth`` items
    wait, so with ``depth=1`` two blocks are in memory (one being written,
    one being built). An exception in either thread propagates after the
    running ``consume`` has finished, so callers can clean up safely.

    Examples
    --------
    >>> out = []
    >>> pipelined(range(5), out.append)
    >>> out
    [0, 1, 2, 3, 4]
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="spatialconn-writer") as pool:
        pending = deque()
        try:
            for item in items:
                pending.append(pool.submit(consume, item))
                while len(pending) > depth:
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(value, name: str = "memory_limit") -> int:
    """Bytes from an int or a string such as ``"2 GB"`` or ``"512MiB"``.

    Examples
    --------
    >>> parse_bytes("2 GB"), parse_bytes("1.5KiB"), parse_bytes(1000)
    (2000000000, 1536, 1000)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", value)
        if not m or m.group(2).upper() not in _UNITS:
            raise ValueError(f"{name} must be a number of bytes or a string like '2 GB', got {value!r}")
        n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    else:
        raise TypeError(f"{name} must be an int or a string like '2 GB', got {value!r}")
    if n <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return n
