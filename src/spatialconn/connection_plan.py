"""A planned connection: validated once, then built whole, in blocks, or driver by driver.

:func:`spatialconn.plan` checks every argument, decides each driver's
number of synapses and returns a :class:`ConnectionPlan`. Nothing is
sampled until one of its methods asks for synapses, and every method gives
a driver exactly (bit for bit) the partners it gets from
``sc.connect(...)`` with the same seed, because every driver draws from
its own random stream.

This is the boundary every consumer uses (the file writers, Dask, the
command line): they see drivers, degrees and :class:`Connections`, never
the engine's internals.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> pos = np.random.default_rng(0).random((500, 2))
>>> p = sc.plan(pos, rule=sc.FixedInDegree(4), kernel=sc.Gaussian(0.1), seed=2)
>>> p.driver, p.n_drivers, p.expected_synapses
('target', 500, 2000)
>>> [len(b) for b in p.blocks(200)]
[800, 800, 400]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._arrays import unique
from ._validate import positive_int
from .connections import Connections
from .rules import FixedInDegree, PairwiseBernoulli

__all__ = ["ConnectionPlan"]


class ConnectionPlan:
    """The synapses of one validated :func:`spatialconn.plan` call, not yet sampled.

    The *drivers* are the neurons whose count the rule fixes: the sources
    (``FixedOutDegree``, ``FixedTotalNumber``, ``PairwiseBernoulli``) or the
    targets (``FixedInDegree``). Synapses always come grouped by driver.

    Made by :func:`spatialconn.plan` (the whole network) or by
    :meth:`restrict` (some drivers, with only the partners within their
    reach; picklable, to be sent to another process). Both kinds have the
    same methods.

    Attributes
    ----------
    driver : {"source", "target"}
        Which side drives.
    n_drivers : int
        Drivers in this plan (``len(driver_ids)``).
    driver_ids : (n_drivers,) int64 array
        Their indices in the driver population, ascending.
    n_sources, n_targets : int
        Population sizes.
    degrees : (n_drivers,) int64 array or None
        The exact number of synapses of each driver (fixed-degree and
        total-number rules), ``None`` for ``PairwiseBernoulli``.
    rule, multapses :
        As given to :func:`spatialconn.plan` (``rule`` is None in a restricted plan).
    partners_held : int
        Partner positions this plan carries (all of them, except in a
        restricted plan).

    Examples
    --------
    Random access to any drivers, in any order, without building the rest:

    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((20_000, 2))
    >>> p = sc.plan(pos, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(0.01), seed=3)
    >>> c = p.drivers([12_345, 7])
    >>> len(c), int(c.sources[0]), int(c.sources[-1])
    (200, 12345, 7)

    A piece for another process, and back:

    >>> import pickle
    >>> near_edge = np.nonzero(pos[:, 0] < 0.05)[0]
    >>> piece = pickle.loads(pickle.dumps(p.restrict(near_edge)))
    >>> piece.n_drivers == near_edge.size, piece.partners_held < 20_000
    (True, True)
    >>> bool(np.array_equal(piece.connect().targets, p.drivers(near_edge).targets))
    True
    """

    def __init__(self, job, *, _ids=None, _source=None, _degrees=None):
        self._job = job if _source is None else None
        self._source = _Whole(job) if _source is None else _source
        self.rule = job.rule if _ids is None else None  # a piece travels light (k may be an array)
        self.multapses = job.multapses
        self.driver = "target" if isinstance(job.rule, FixedInDegree) else "source"
        self.n_sources, self.n_targets = len(job.sources), len(job.targets)
        self._n_all = job.problem.n_drivers
        self._periods, self._units = job.periods, job.units
        self._p = float(job.rule.p) if isinstance(job.rule, PairwiseBernoulli) else None
        self._ids = _ids
        if _ids is None:
            degrees = job.degrees if job.pairs is None else np.bincount(job.pairs[0], minlength=self._n_all)
            _degrees = None if degrees is None else np.asarray(degrees, dtype=np.int64)
        self.degrees = _degrees
        self._expected = None

    # -- what the plan knows -------------------------------------------------
    @property
    def n_drivers(self) -> int:
        return self._n_all if self._ids is None else int(self._ids.size)

    @property
    def driver_ids(self) -> np.ndarray:
        return np.arange(self._n_all, dtype=np.int64) if self._ids is None else self._ids

    @property
    def n_partners(self) -> int:
        """Size of the partner population (targets, or sources for ``FixedInDegree``)."""
        return self.n_sources if self.driver == "target" else self.n_targets

    @property
    def partners_held(self) -> int:
        return self._source.partners_held

    @property
    def problem(self):
        """The validated :class:`~spatialconn.problem.Problem` the engine samples (whole plans only).

        For engine authors and tools; consumers should not need it.
        """
        if self._job is None:
            raise ValueError("a restricted plan carries only some positions; ask the whole plan")
        return self._job.problem

    @property
    def expected_synapses(self):
        """Total synapses: exact (int) for count rules, the expectation (float) for Bernoulli.

        For a restricted Bernoulli plan it is not known (``None``).
        """
        if self.degrees is not None:
            return int(self.degrees.sum())
        if self._expected is None and self._job is not None:
            job = self._job
            with np.errstate(under="ignore", over="ignore"):
                self._expected = float(self._p * np.exp(job.engine.row_log_totals(job.problem)).sum())
        return self._expected

    def cells(self):
        """Grid-cell coordinates ``(n_drivers, d)`` of the drivers, or ``None``.

        Drivers in the same or neighbouring cells reach the same partners;
        :mod:`spatialconn.dask` cuts the network into blocks of space with
        them. ``None`` when the engine keeps no spatial index (e.g. the
        reference engine).
        """
        if self._job is None:
            return None
        engine, pb = self._job.engine, self._job.problem
        if not _splits(engine, pb):
            return None
        cells = engine.driver_cells(pb)
        return cells if self._ids is None else cells[self._ids]

    def __repr__(self) -> str:
        return (f"<ConnectionPlan: {self.rule or 'restricted'}, {self.n_drivers} {self.driver}s of {self.n_sources} "
                f"sources x {self.n_targets} targets>")

    # -- building synapses ---------------------------------------------------
    def connect(self) -> Connections:
        """All synapses of the plan (``sc.connect(...)`` for a whole plan)."""
        return self.block(0, self.n_drivers)

    def block(self, lo: int, hi: int) -> Connections:
        """Synapses of drivers ``driver_ids[lo:hi]``, grouped by driver in ascending order.

        Examples
        --------
        >>> import numpy as np, spatialconn as sc
        >>> p = sc.plan(np.random.default_rng(0).random((300, 2)), rule=sc.FixedOutDegree(2), seed=1)
        >>> p.block(10, 12).sources.tolist()
        [10, 10, 11, 11]
        """
        lo, hi = _range(lo, hi, self.n_drivers)
        drv, par = self._source.block(lo, hi, self)
        return self._source.connections(drv, par, self)

    def blocks(self, chunk_size: int = 100_000) -> Iterator[Connections]:
        """Yield the synapses in blocks of ``chunk_size`` drivers (``iter_connect``)."""
        chunk_size = positive_int(chunk_size, "chunk_size")
        for lo in range(0, self.n_drivers, chunk_size):
            yield self.block(lo, min(self.n_drivers, lo + chunk_size))

    def drivers(self, ids) -> Connections:
        """Synapses of the drivers ``ids`` (any of them, in any order), grouped in that order.

        Procedural: only the asked drivers are sampled, each over its own
        window of candidate partners, so the cost does not grow with the
        network. Each driver gets exactly its partners of :meth:`connect`.
        A driver listed twice appears twice.

        Parameters
        ----------
        ids : int or sequence of int
            Indices in the driver population (sources, or targets for
            ``FixedInDegree``); in a restricted plan, some of its ``driver_ids``.

        Raises
        ------
        ValueError
            For an index out of range (or not held by a restricted plan).

        Examples
        --------
        >>> import numpy as np, spatialconn as sc
        >>> p = sc.plan(np.random.default_rng(0).random((300, 2)), rule=sc.FixedOutDegree(2), seed=1)
        >>> p.drivers([5, 2]).sources.tolist()
        [5, 5, 2, 2]
        """
        ids = self._check_ids(ids)
        uniq = unique(ids)
        drv, par = self._source.drivers(uniq, self)
        if uniq.size != ids.size or np.any(uniq != ids):  # regroup in the asked order
            start = np.searchsorted(drv, ids, side="left")
            length = np.searchsorted(drv, ids, side="right") - start
            offset = np.repeat(start - np.concatenate([[0], np.cumsum(length)[:-1]]), length)
            take = offset + np.arange(int(length.sum()), dtype=np.int64)
            drv, par = drv[take], par[take]
        return self._source.connections(drv, par, self)

    def restrict(self, ids) -> ConnectionPlan:
        """A plan of only the drivers ``ids`` and the partners within their reach.

        The piece is self-contained and picklable (for Dask workers or
        other processes); its synapses carry the indices of the whole
        populations and equal, driver by driver, those of this plan. Its
        :meth:`block` counts drivers in ascending order of ``ids``.

        Examples
        --------
        >>> import numpy as np, spatialconn as sc
        >>> pos = np.random.default_rng(0).random((2000, 2))
        >>> p = sc.plan(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.02), seed=1)
        >>> left = p.restrict(np.nonzero(pos[:, 0] < 0.2)[0])
        >>> left.partners_held < 2000, len(left.connect()) == 3 * left.n_drivers
        (True, True)
        """
        return next(self.split([ids]))

    def split(self, parts) -> Iterator[ConnectionPlan]:
        """:meth:`restrict` for each array of driver indices in ``parts``, built one at a time."""
        if self._job is None:
            raise ValueError("only a whole plan (from sc.plan) can be restricted")
        job = self._job
        parts = [unique(self._check_ids(ids)) for ids in parts]
        if job.pairs is not None:
            sources = (_Pairs.of(job, ids) for ids in parts)
        elif _splits(job.engine, job.problem):
            pieces = job.engine.pieces(job.problem, parts, degrees=job.degrees, multapses=job.multapses,
                                       p=self._p)
            sources = (_Piece(piece, job) for piece in pieces)
        else:
            sources = (_Subset(job) for _ in parts)
        for ids, source in zip(parts, sources):
            degrees = None if self.degrees is None else self.degrees[ids]
            yield ConnectionPlan(job, _ids=ids, _source=source, _degrees=degrees)

    # -- helpers -------------------------------------------------------------
    def _check_ids(self, ids) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(ids))
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"ids must be an integer or a 1-D sequence of integers, got {ids!r}")
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self._n_all)
        if self._ids is not None and not bad.any():
            where = np.searchsorted(self._ids, arr).clip(0, max(self._ids.size - 1, 0))
            bad = (self._ids[where] != arr) if self._ids.size else np.ones(arr.size, dtype=bool)
        if bad.any():
            raise ValueError(f"ids: {self.driver} {int(arr[np.argmax(bad)])} is not a driver of this plan "
                             f"({self._n_all} {self.driver}s{', restricted' if self._ids is not None else ''})")
        return arr

    def _orient(self, drv, par):
        return (par, drv) if self.driver == "target" else (drv, par)


def _range(lo, hi, n):
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if not 0 <= lo <= hi <= n:
        raise ValueError(f"block({lo}, {hi}): need 0 <= lo <= hi <= n_drivers = {n}")
    return int(lo), int(hi)


def _splits(engine, problem) -> bool:
    """Whether ``engine`` can cut ``problem`` into pieces (the optional part of the engine protocol)."""
    cuts = getattr(engine, "cuts", None)
    return cuts is not None and cuts(problem)


def _join(parts, dtype=np.int64):
    return np.concatenate(parts) if parts else np.empty(0, dtype)


# -- where the synapses come from ------------------------------------------------
class _Whole:
    """The whole problem through its engine (a plan from :func:`spatialconn.plan`)."""

    def __init__(self, job):
        self.job = job
        self.partners_held = job.problem.n_partners

    def block(self, lo, hi, plan):
        return self.range(lo, hi, plan)

    def range(self, lo, hi, plan):
        """Synapses of the drivers ``lo:hi`` of the whole problem."""
        job = self.job
        if job.pairs is not None:  # grouped by driver in ascending order
            drv, par = job.pairs
            a, b = np.searchsorted(drv, [lo, hi])
            return drv[a:b], par[a:b]
        if plan._p is not None:
            return job.engine.bernoulli(job.problem, plan._p, lo, hi)
        return job.engine.fixed_degree(job.problem, job.degrees, job.multapses, lo, hi)

    def drivers(self, ids, plan):
        job = self.job
        if job.pairs is not None:
            drv, par = job.pairs
            start, stop = np.searchsorted(drv, ids, side="left"), np.searchsorted(drv, ids, side="right")
            take = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)]) if ids.size else []
            take = np.asarray(take, dtype=np.int64)
            return drv[take], par[take]
        if ids.size and _random_access(job.engine, job.problem):
            return job.engine.drivers(job.problem, ids, degrees=job.degrees, multapses=job.multapses, p=plan._p)
        # runs of consecutive drivers through the engine's range calls
        runs = np.split(ids, np.nonzero(np.diff(ids) != 1)[0] + 1) if ids.size else []
        out = [self.range(int(r[0]), int(r[-1]) + 1, plan) for r in runs]
        return _join([d for d, _ in out]), _join([p for _, p in out])

    def connections(self, drv, par, plan):
        s, t = plan._orient(drv, par)
        return Connections(s, t, self.job.sources, self.job.targets, plan._periods, plan._units)


def _random_access(engine, problem) -> bool:
    return getattr(engine, "drivers", None) is not None and _splits(engine, problem)


class _Partial:
    """Some drivers and some partners: synapses are built from rows of the held positions."""

    def connections(self, drv, par, plan):
        rows = np.searchsorted(plan._ids, drv)
        prow = self.partner_rows(par)
        n = (plan.n_sources, plan.n_targets)
        if plan.driver == "target":
            return Connections._from_rows(par, drv, prow, rows, self.partners, self.drivers_pos, *n,
                                          plan._periods, plan._units)
        return Connections._from_rows(drv, par, rows, prow, self.drivers_pos, self.partners, *n,
                                      plan._periods, plan._units)

    def drivers(self, ids, plan):
        rows = np.searchsorted(plan._ids, ids)
        runs = np.split(rows, np.nonzero(np.diff(rows) != 1)[0] + 1) if rows.size else []
        out = [self.block(int(r[0]), int(r[-1]) + 1, plan) for r in runs]
        return _join([d for d, _ in out]), _join([p for _, p in out])


class _Piece(_Partial):
    """A piece cut by the engine (:func:`spatialconn.engine.grid.pieces`)."""

    def __init__(self, piece, job):
        self.piece = piece
        self.drivers_pos = piece.drivers
        self.partners = piece.grid.pos
        self.partners_held = int(self.partners.shape[0])
        self.multapses = job.multapses

    def partner_rows(self, par):
        return self.piece.partner_rows(par)

    def block(self, lo, hi, plan):
        if plan._p is not None:
            return self.piece.bernoulli(plan._p, lo, hi)
        return self.piece.fixed_degree(plan.degrees, self.multapses, lo, hi)


class _Pairs(_Partial):
    """Pairs planned globally (``FixedTotalNumber`` without multapses), kept for some drivers."""

    @classmethod
    def of(cls, job, ids):
        self = cls()
        drv, par = job.pairs
        where = np.searchsorted(ids, drv).clip(0, max(ids.size - 1, 0))
        mine = (ids[where] == drv) if ids.size else np.zeros(drv.size, dtype=bool)
        self.rows, self.par = where[mine], par[mine].astype(np.int64)
        self.partner_ids = unique(self.par)
        self.partners = job.problem.partners[self.partner_ids]
        self.drivers_pos = job.problem.drivers[ids]
        self.ids = ids
        self.partners_held = int(self.partner_ids.size)
        return self

    def partner_rows(self, par):
        return np.searchsorted(self.partner_ids, par)

    def block(self, lo, hi, plan):
        sel = (self.rows >= lo) & (self.rows < hi)
        return self.ids[self.rows[sel]], self.par[sel]


class _Subset(_Whole):
    """Some drivers of a problem no engine can cut: sampled over the whole problem."""

    def block(self, lo, hi, plan):
        return self.drivers(plan._ids[lo:hi], plan)
