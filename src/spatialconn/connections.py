"""The result of :func:`spatialconn.connect`: synapses as index arrays."""

from __future__ import annotations

import numpy as np

from ._units import UnitContext
from .space import wrap


class Connections:
    """Synapses as parallel arrays of source and target indices.

    Synapses are grouped by driver (by source for out-degree, total-number and
    Bernoulli rules, by target for in-degree) in a deterministic order.
    Indices are ``int32`` when they fit, ``int64`` otherwise.

    Attributes
    ----------
    sources, targets : ndarray of int
        Index of each synapse's source and target in its population.
    n_sources, n_targets : int
        Population sizes.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((50, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(0.2), seed=3)
    >>> len(conn), conn.sources[:4].tolist()
    (100, [0, 0, 1, 1])
    >>> conn.distances.shape
    (100,)
    """

    def __init__(self, sources, targets, source_positions, target_positions, periods=None, units=None):
        n_s, n_t = len(source_positions), len(target_positions)
        dtype = np.int32 if max(n_s, n_t) < 2**31 else np.int64
        self.sources = np.ascontiguousarray(sources, dtype=dtype)
        self.targets = np.ascontiguousarray(targets, dtype=dtype)
        if self.sources.shape != self.targets.shape:
            raise ValueError("sources and targets must have equal length")
        self.n_sources, self.n_targets = n_s, n_t
        self._source_positions = source_positions
        self._target_positions = target_positions
        self._periods = np.full(source_positions.shape[1], np.inf) if periods is None else periods
        self._units = units if units is not None else UnitContext(source_positions)
        self._rows = None

    @classmethod
    def _from_rows(cls, sources, targets, source_rows, target_rows, source_positions, target_positions,
                   n_sources: int, n_targets: int, periods, units) -> Connections:
        """Synapses of populations of which only some positions are at hand (a Dask partition).

        ``sources``/``targets`` are indices in the populations of sizes
        ``n_sources``/``n_targets``; ``source_rows``/``target_rows`` are the
        rows of the given position arrays that hold their positions.
        """
        self = cls(source_rows, target_rows, source_positions, target_positions, periods, units)
        dtype = np.int32 if max(n_sources, n_targets) < 2**31 else np.int64
        self._rows = (self.sources, self.targets)
        self.sources = np.ascontiguousarray(sources, dtype=dtype)
        self.targets = np.ascontiguousarray(targets, dtype=dtype)
        self.n_sources, self.n_targets = int(n_sources), int(n_targets)
        return self

    @property
    def source_positions(self) -> np.ndarray:
        """Positions of the source population (plain float64), or of the sources this block holds.

        A :class:`Connections` from a restricted plan (a Dask task) holds
        only the positions its synapses need; then these are rows, not the
        whole population.
        """
        return self._source_positions

    @property
    def target_positions(self) -> np.ndarray:
        """Positions of the target population (the same array as ``source_positions`` when recurrent)."""
        return self._target_positions

    def _position_rows(self):
        return (self.sources, self.targets) if self._rows is None else self._rows

    @property
    def positions(self) -> tuple:
        """``(source_positions, target_positions)``: plain float64 arrays (SI magnitudes with units).

        The same array twice for a recurrent call (``targets=None``).
        """
        if self._rows is not None:
            raise ValueError("these synapses hold only some of their populations' positions (a Dask "
                             "partition); pass the positions explicitly")
        return self._source_positions, self._target_positions

    def __len__(self) -> int:
        return int(self.sources.size)

    def __repr__(self) -> str:
        return f"<Connections: {len(self)} synapses, {self.n_sources} sources -> {self.n_targets} targets>"

    @property
    def displacements(self) -> np.ndarray:
        """Displacement ``target - source`` of each synapse, shape ``(n, d)`` (plain numbers)."""
        s_rows, t_rows = self._position_rows()
        disp = self._target_positions[t_rows] - self._source_positions[s_rows]
        return wrap(disp, self._periods)

    @property
    def distances(self):
        """Distance of each synapse (minimum image in a periodic space).

        In the unit of the positions when they carried one, so that, e.g.,
        ``synapses.delay = conn.distances / velocity + d0`` works in Brian2.
        """
        return self._units.attach(self.plain_distances())

    def plain_distances(self, out: np.ndarray | None = None) -> np.ndarray:
        """:attr:`distances` as plain float64 (SI magnitudes when the positions carried units).

        Computed by the compiled core in one threaded pass. ``out``, a
        float64 array of ``len(self)`` entries, receives them (writers reuse
        one buffer from block to block: fresh memory costs page faults).

        Examples
        --------
        >>> import numpy as np, spatialconn as sc
        >>> conn = sc.connect(np.array([[0.0, 0.0], [3.0, 4.0]]), rule=sc.FixedOutDegree(1), autapses=False)
        >>> conn.plain_distances().tolist()
        [5.0, 5.0]
        """
        from .engine.grid import pair_distances

        s_rows, t_rows = self._position_rows()
        return pair_distances(s_rows, t_rows, self._source_positions, self._target_positions, self._periods, out)

    def out_degrees(self) -> np.ndarray:
        """Number of synapses made by each source."""
        return np.bincount(self.sources, minlength=self.n_sources)

    def in_degrees(self) -> np.ndarray:
        """Number of synapses received by each target."""
        return np.bincount(self.targets, minlength=self.n_targets)
