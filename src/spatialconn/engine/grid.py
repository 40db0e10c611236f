"""Grid engine: compiled, parallel, exact sampling over a uniform cell grid.

This is the fast engine behind :func:`spatialconn.connect` (registered as
``"grid"``). It implements the contract of :mod:`spatialconn.engine.reference`
and matches it in distribution (not bit for bit).

How it works
------------
Partners are counting-sorted into cells of side about half the kernel's
scale (:mod:`._index`). For every cell offset within reach, a proven upper
bound of ``log w`` over all displacements between the two cells is
computed once. All drivers of a cell then share one Vose alias table over
the neighbouring partner cells, weighted by ``count × bound``; a draw picks
a cell, a member uniformly, and accepts it with probability
``w / bound`` (compiled C++ core, ``_core/``). Accepted draws are exactly i.i.d. from the
weights restricted to the window of cells.

Truncation: for kernels of unbounded support the window stops where the
kernel falls below ``peak · e^-27 / N_p``. A cell of drivers uses the
window only if the mass it leaves out is proven below 1e-10 of a proven
lower bound of the mass it keeps; otherwise (e.g. the nearest partner is
20 σ away) its drivers are sampled exactly in log space over all partners.

Without multapses, repeats are rejected while cheap (exactly successive
sampling); after too many repeats, when ``k`` is more than half the
candidates, or when the cell bounds cannot prove the truncation, the draw
continues exactly with an exponential race (Efraimidis–Spirakis keys) over
the candidates not yet chosen. The race scans the window's cells in order
of decreasing bound with exact weights and stops once ``k`` times the
proven bound of the mass not yet scanned is below 1e-10 of the scanned
mass less its ``k`` heaviest members; only if the whole window does not
qualify does it race over all partners.

Random numbers come from per-driver streams (xoshiro256** keyed by the
call's seed, the driver's id and a stream tag), so results are
bit-identical for any thread count and any chunking. The compiled loops
run on ``SPATIALCONN_THREADS`` threads (default: the CPUs this process may
use), with the GIL released.

Compiled: every built-in kernel and mask, shifted kernels, periodic
space, 1–3 D, and :class:`~spatialconn.Expression` kernels (the core
runs their log bytecode per pair, ``_core/expr.hpp``; each offset's
bounds come from the expression's interval arithmetic over the offset's
box of displacements; a NaN or infinite value at a pair is flagged by the
core and raised here). Two kernels are delegated to the reference
engine's code (so ``engine="grid"`` accepts every problem, at reference
speed for these): :class:`~spatialconn.CustomKernel` (a Python callable,
which compiled code cannot call) and :class:`~spatialconn.Gamma` with
``kappa < 1`` (infinite at zero distance). :func:`native` tells which.
A CustomKernel with a finite reach (its cutoff or a mask) runs the
fixed-degree rules and candidate counts on :mod:`.custom` instead (the
function evaluated on batches of pairs the core proposes or gathers).
"""

from __future__ import annotations

import math
import os
import weakref

import numpy as np

from ..problem import Problem
from ..rng import driver_generator, global_generator
from ._encoding import K_EXPR, Profile, encodable, encodable_mask, encode_mask
from ._index import Grid, PlanCache, _core, box, build_grid, cell_side, offset_table

_TOL, _MIN_ACCEPT = _core.TOL, _core.MIN_ACCEPT

#: stream tags of this engine's per-driver generators
STREAM_DEGREE, STREAM_TOTAL = 0, 2
#: stream tag of the pair proposals behind FixedTotalNumber's counts (round r: + r; keyed by cell)
STREAM_COUNTS = 16
#: stream of the rounds' Poisson proposal counts and the surplus removal (numpy, rng.driver_generator)
GLOBAL_COUNTS = 7
#: margin (in log units) below which a truncated window's outside mass must lie
TRUNCATION_MARGIN = 27.0
#: cap of ``log`` of a left-out weight over the window's largest bound: e^690 outweighs any window
#: (at most 2^63 partners of relative weight <= 1), so the checks decide as with the exact value
MAX_LOG_OUT = 690.0


def native(problem: Problem) -> bool:
    """Whether ``problem`` runs compiled (built-in kernels and masks, 1–3 D, sensible scales).

    Problems that are not :attr:`~spatialconn.problem.Problem.well_scaled`
    (σ = 1e-310, positions 1e200 σ apart) run on the reference engine,
    which is exact in log space at any scale.
    """
    return (1 <= problem.ndim <= 3 and encodable(problem.kernel) and encodable_mask(problem.mask)
            and problem.well_scaled)


def _delegate(name, problem=None):
    """The reference engine's ``name``, or the CustomKernel batched path's (:mod:`.custom`) where it serves it."""
    from . import custom, reference

    if problem is not None and hasattr(custom, name) and custom.handles(problem):
        return getattr(custom, name)
    return getattr(reference, name)


class _Plan:
    """Grid, encoded kernel and offset tables of one problem (cached per problem object).

    It is also the *view* the compiled loops read: the drivers (with their
    ids in the problem, ``None`` for ``0..N_d``), the grid of partners and
    the problem's constants. A :class:`Piece` is a view of some drivers only.
    """

    complete = True
    ids = None

    def __init__(self, problem: Problem):
        d = problem.ndim
        self.profile = Profile(problem.kernel, d)
        self.kp = self.profile.params
        self.mp = encode_mask(problem.mask, d)
        self.grid: Grid = build_grid(problem, cell_side(problem, self.profile),
                                     cell_side(problem, self.profile, dense=True))
        self.problem_ref = weakref.ref(problem)
        self.drivers = np.ascontiguousarray(problem.drivers)
        self.sign, self.exclude_self = float(problem.sign), bool(problem.exclude_self)
        self.key, self.n_partners = problem.key, problem.n_partners
        self._tables = {}
        self._kmax = (None, 0)  # (degrees array, its maximum): blocks and random access ask again and again

    def degree_table(self, problem: Problem, degrees: np.ndarray, multapses: bool):
        """:meth:`table` of a fixed-degree draw (:func:`degree_key` without re-reading ``degrees``)."""
        if self._kmax[0] is not degrees:
            self._kmax = (degrees, int(degrees.max(initial=0)))
        return self.table(problem, (self._kmax[1], bool(multapses)))

    def table(self, problem: Problem, level_key=None):
        """Offset table and whether it truncates.

        ``level_key``: None (counts and totals), ``p`` for Bernoulli, or
        ``(kmax, multapses)`` for fixed degrees (see :func:`sparse_margin`).
        """
        if level_key in self._tables:
            return self._tables[level_key]
        n_p = max(problem.n_partners, 1)
        reach, prof = problem.reach, self.profile
        if math.isfinite(reach):
            radius, level, truncated = reach, -math.inf, False
        elif prof.decays and (prof.kind != K_EXPR or prof.base.positive_everywhere or level_key is not None):
            # (counts and totals assume every partner outside a truncated window is a candidate:
            # an expression that may be 0 there is counted over every cell)
            if level_key is None:
                level = prof.log_peak - math.log(n_p) - TRUNCATION_MARGIN
            elif isinstance(level_key, tuple):
                level = prof.log_peak - math.log(n_p) - TRUNCATION_MARGIN - sparse_margin(
                    problem, prof, self.grid, *level_key)
            else:  # Bernoulli: the dropped probabilities sum to < 1e-13 (p = 0 connects nothing at all)
                level = -math.log(n_p) - math.log(max(level_key, 5e-324)) - 30.0
            radius = prof.radius_below(level) + float(np.linalg.norm(prof.mu))
            truncated = True
        else:
            radius, level, truncated = math.inf, -math.inf, False
        tab = offset_table(problem, self.grid, prof, self.mp, radius, level if truncated else -math.inf)
        iszero = np.all(tab.offsets == 0, axis=1)
        # the bound of one left-out weight, in units of exp(ref), computed in log space: a window far below
        # the truncation level (a kernel centred far from every pair) gets a bound so large that no window
        # check passes (its drivers are sampled exactly), never an overflow
        dout = math.exp(min(level - tab.ref, MAX_LOG_OUT)) if truncated else 0.0
        entry = (tab, iszero, dout, truncated)
        self._tables[level_key] = entry
        return entry


def sparse_margin(problem: Problem, prof: Profile, grid: Grid, kmax: int, multapses: bool) -> float:
    """Extra log margin of a fixed-degree window where partners are sparse (speed only).

    A window may leave out at most ``TOL / k`` of the mass its checks
    compare with: the driver's window mass with multapses (at least the
    nearest partner's weight), else the mass left after its ``k`` heaviest
    (about ``k`` times the weight at the distance of the ``2k``-th
    partner). Where the partners are few per kernel volume these are small
    against the peak, and a window that is too narrow sends drivers to
    exact sampling over every partner (O(N) each). The distance holding
    ``m`` partners is estimated from the mean density over the ``grid``'s
    box, for a driver in a corner (``2^-d`` of its ball inside). Capped at
    600 (weights below e^-700 of the peak count as zero in proposals).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> job = sc.plan(np.random.default_rng(0).random((10_000, 2)) * 100, rule=sc.FixedOutDegree(100),
    ...               kernel=sc.Gaussian(1.0), multapses=False)
    >>> prof, g = Profile(job.problem.kernel, 2), _plan(job.problem).grid
    >>> pb = job.problem
    >>> round(sparse_margin(pb, prof, g, 1, True), 1), round(sparse_margin(pb, prof, g, 100, False), 1)
    (0.0, 130.9)
    """
    d, n_p = problem.ndim, max(problem.n_partners, 1)
    vol = float(np.prod(np.maximum(grid.h * grid.G, 1e-300)))
    m = (1 if multapses else 2 * max(int(kmax), 1)) * 2**d  # a corner driver sees 2^-d of the ball
    r_m = (m * vol / (n_p * {1: 2.0, 2: math.pi, 3: 4.0 * math.pi / 3.0}[d])) ** (1.0 / d)
    drop = prof.log_peak - float(prof.upper(np.array([r_m]), np.array([r_m]))[0])
    return float(min(600.0, max(0.0, math.log(max(int(kmax), 1)) + drop - 1.0)))


def degree_key(degrees: np.ndarray, multapses: bool):
    """Table key of a fixed-degree draw (the largest degree of the whole call, not of a chunk)."""
    return (int(degrees.max(initial=0)), bool(multapses))


class IncompletePiece(RuntimeError):
    """A driver of a piece needs partners outside the piece's box (it needs every partner)."""


#: the plan of each live problem (iter_connect calls the engine once per block of drivers)
_plan = PlanCache(_Plan)


#: random access: the fixed cost of sampling one driver in its own box, in cells of a pass over the
#: grid (measured: ~0.7 ms against ~20 ns per cell); fewer cells than that: one pass over the grid
BOX_OVERHEAD_CELLS = 40_000

def _key(view):
    return int(np.uint64(view.key[0])), int(np.uint64(view.key[1]))


def _ids(view, start: int, stop: int) -> np.ndarray:
    if view.ids is None:
        return np.arange(start, stop, dtype=np.int64)
    return np.ascontiguousarray(view.ids[start:stop], dtype=np.int64)


def threads() -> int:
    """Threads of the compiled loops: ``SPATIALCONN_THREADS`` if set, else the CPUs this process may use."""
    value = os.environ.get("SPATIALCONN_THREADS", "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"SPATIALCONN_THREADS must be a positive integer, got {value!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


#: draws (or drivers times 100 for window scans) per extra thread: a small call stays on fewer
#: threads, since starting one costs more than it saves (results never depend on it)
WORK_PER_THREAD = 20_000


def _threads_for(work: int) -> int:
    return max(1, min(threads(), int(work) // WORK_PER_THREAD))


def _drivers(view, start: int, stop: int):
    """The compiled view of drivers ``start:stop`` of ``view``, grouped by cell."""
    g = view.grid
    cells, ptr, members = _core.group_drivers(g.driver_cell, start, stop, g.n_cells)
    return _core.DriverCells(cells, ptr, members, start, view.drivers, _ids(view, start, stop))


def _space(view):
    """The compiled partners and geometry of ``view``."""
    g = view.grid
    partners = _core.Partners(g.pos, g.index, g.start)
    geometry = _core.Geometry(g.G, g.B, g.S, np.asarray(g.periods, dtype=np.float64), view.sign, view.exclude_self,
                              view.kp, view.mp)
    return partners, geometry


def _finite(geometry):
    """``ValueError`` if an expression kernel was NaN or infinite at a pair the core evaluated."""
    if geometry.nan_seen:
        raise ValueError("the expression kernel is NaN or infinite at some pair (an invalid operation such as "
                         "log or sqrt of a negative number, or 1/0); kernel values must be finite")


def _compiled(table):
    """The compiled offset table of a ``_Plan.table`` entry."""
    tab, iszero, dout, truncated = table
    return _core.OffsetTable(tab.offsets, tab.mode, tab.cls, tab.upper, tab.lower,
                             tab.scaled_upper, tab.scaled_lower, iszero.view(np.uint8), float(dout),
                             bool(truncated), float(tab.ref), float(tab.log_out))


def _index_dtype(problem):
    return np.int32 if max(problem.n_drivers, problem.n_partners) < 2**31 else np.int64


def pair_distances(ia: np.ndarray, ib: np.ndarray, a: np.ndarray, b: np.ndarray, periods, out=None) -> np.ndarray:
    """Distance of each pair ``(a[ia[k]], b[ib[k]])``, minimum image on periodic axes (compiled, threaded).

    The same floating-point operations as numpy's ``wrap`` and sum of
    squares (bit-identical results), without its ``(n, d)`` temporaries and
    cache-missing column gathers: one pass, ``SPATIALCONN_THREADS`` threads,
    the GIL released. ``out`` (float64, one entry per pair) receives them
    if given.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [0.9, 0.5]]); b = np.array([[0.1, 0.0]])
    >>> pair_distances(np.array([0, 1]), np.array([0, 0]), a, b, np.array([1.0, np.inf])).round(6).tolist()
    [0.1, 0.538516]
    """
    ia, ib = np.asarray(ia), np.asarray(ib)
    dtype = np.promote_types(ia.dtype, ib.dtype)
    if dtype not in (np.int32, np.int64):
        dtype = np.int64
    ia, ib = np.ascontiguousarray(ia, dtype), np.ascontiguousarray(ib, dtype)
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    periods = np.ascontiguousarray(np.broadcast_to(periods, (a.shape[1],)), dtype=np.float64)
    if out is None:
        out = np.empty(ia.shape[0], dtype=np.float64)
    elif out.dtype != np.float64 or out.shape != ia.shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous float64 array of {ia.shape[0]} entries")
    _core.pair_distances(ia, ib, a, b, periods, out, _threads_for(ia.shape[0] // 20))
    return out


def candidate_counts(problem: Problem) -> np.ndarray:
    """Number of partners with non-zero weight, per driver (exact)."""
    if not native(problem):
        return _delegate('candidate_counts', problem)(problem)
    out = np.zeros(problem.n_drivers, dtype=np.int64)
    if problem.n_drivers == 0 or problem.n_partners == 0:
        return out
    plan = _plan(problem)
    partners, geometry = _space(plan)
    table = _compiled(plan.table(problem))
    _core.candidate_counts(_drivers(plan, 0, problem.n_drivers), partners, geometry, table, out,
                           _threads_for(100 * problem.n_drivers))
    _finite(geometry)
    return out


def row_log_totals(problem: Problem) -> np.ndarray:
    """``log Σ_j w_ij`` per driver (``-inf`` without candidates)."""
    if not native(problem):
        return _delegate('row_log_totals')(problem)
    out = np.full(problem.n_drivers, -np.inf)
    if problem.n_drivers == 0 or problem.n_partners == 0:
        return out
    plan = _plan(problem)
    partners, geometry = _space(plan)
    _core.row_log_totals(_drivers(plan, 0, problem.n_drivers), partners, geometry, _compiled(plan.table(problem)), out,
                         _threads_for(100 * problem.n_drivers))
    _finite(geometry)
    return out


def total_counts(problem: Problem, n: int) -> np.ndarray:
    """Synapses per driver of ``FixedTotalNumber(n)`` with multapses: Multinomial(n, W_i / Σ W).

    Drawn without the row totals ``W_i``: in each round, every cell of
    drivers makes Poisson(λ·U) pair proposals, ``U`` the cell's proven bound
    mass (its drivers times its window's proposal mass); a proposal takes
    one of the cell's drivers uniformly and a partner from the cell's
    window proposal, and is accepted with probability ``w / bound``. The
    accepted pairs of a round are then a Poisson process with intensity
    ``λ w`` over the pairs, so given their number they are i.i.d. draws
    from ``w / Σ w``. Rounds are added (with λ from the acceptance seen so
    far) until at least ``n`` are accepted, and a uniformly chosen surplus
    is removed (multivariate hypergeometric): ``n`` i.i.d. draws remain.
    The windows must leave out at most ``TOL`` of the mass jointly over the
    ``n`` draws (proven by the cell bounds) and accept at least
    ``MIN_ACCEPT`` of the proposals; otherwise the counts come from the
    exact row totals, as in the reference engine. Cost: about ``n /
    acceptance`` proposals, not a scan of every driver's window.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> job = sc.plan(np.random.default_rng(0).random((2000, 2)), rule=sc.FixedTotalNumber(5000),
    ...               kernel=sc.Gaussian(0.05), seed=3)
    >>> c = total_counts(job.problem, 5000)
    >>> int(c.sum()), c.shape
    (5000, (2000,))
    """
    from . import reference

    if not native(problem):
        return reference.total_counts(problem, n)
    n_d = problem.n_drivers
    counts = np.zeros(n_d, dtype=np.int64)
    if n == 0 or n_d == 0:
        return counts
    plan = _plan(problem)
    table = plan.table(problem, degree_key(np.array([n]), True))
    g = plan.grid
    cells, ptr, members = _core.group_drivers(g.driver_cell, 0, n_d, g.n_cells)
    drivers = _core.DriverCells(cells, ptr, members, 0, plan.drivers, _ids(plan, 0, n_d))
    partners, geometry = _space(plan)
    compiled = _compiled(table)
    sumw, low, miss = (np.empty(cells.size) for _ in range(3))
    _core.cell_masses(drivers, partners, geometry, compiled, int(problem.n_partners), sumw, low, miss,
                      _threads_for(100 * n_d))
    per_cell = np.diff(ptr).astype(np.float64)
    U, L, M = float(per_cell @ sumw), float(per_cell @ low), float(per_cell @ miss)
    if not (U > 0 and L >= _MIN_ACCEPT * U and n * M <= _TOL * L):
        return reference.multinomial_of_log_totals(problem, n, row_log_totals(problem))
    rng = driver_generator(problem.key, 0, GLOBAL_COUNTS)
    k0, k1 = _key(plan)
    lam, accepted, proposed = n / U, 0, 0.0
    for r in range(64):
        K = rng.poisson(lam * per_cell * sumw).astype(np.int64)
        _core.pair_proposals(drivers, partners, geometry, compiled, k0, k1, STREAM_COUNTS + r, K, counts,
                             _threads_for(int(K.sum())))
        proposed += lam
        accepted = int(counts.sum())
        if accepted >= n:
            break
        mass = max(accepted / proposed, L)  # estimate of Σ w (units of exp(ref)); at least the bound
        need = n - accepted
        lam = (need + 4.0 * math.sqrt(need) + 10.0) / mass
    else:  # pragma: no cover - 64 rounds cannot all fall short
        raise RuntimeError("FixedTotalNumber: pair proposals did not converge (please report this as a bug)")
    _finite(geometry)
    if accepted > n:
        counts -= rng.multivariate_hypergeometric(counts, accepted - n)
    return counts


def _fixed(view, table, degrees: np.ndarray, multapses: bool, start: int, stop: int, stream: int, dtype):
    """Sorted-by-driver ``(driver id, partner)`` arrays of ``view``'s drivers ``start:stop``."""
    deg = np.ascontiguousarray(degrees[start:stop], dtype=np.int64)
    total = int(deg.sum())
    if total == 0:
        return np.empty(0, dtype), np.empty(0, dtype)
    outoff = np.zeros(deg.size, dtype=np.int64)
    np.cumsum(deg[:-1], out=outoff[1:])
    out_drv = np.empty(total, dtype)
    out_par = np.empty(total, dtype)
    k0, k1 = _key(view)
    partners, geometry = _space(view)
    status = _core.fixed_degree(_drivers(view, start, stop), partners, geometry, _compiled(table), k0, k1, stream, deg,
                                outoff, int(view.n_partners), bool(view.complete), bool(multapses), out_drv,
                                out_par, _threads_for(total))
    _finite(geometry)
    if status == 2:
        raise RuntimeError("a driver has fewer candidate partners than its degree, which the feasibility check "
                           "should have refused (please report this as a bug)")
    if status:
        raise IncompletePiece("a driver needed partners outside its piece's box; the piece was cut wrongly "
                              "(please report this as a bug)")
    return out_drv, out_par


def fixed_degree(problem: Problem, degrees: np.ndarray, multapses: bool, start: int = 0, stop=None):
    """Drivers ``start:stop`` draw ``degrees[i]`` partners each.

    Returns ``(driver_index, partner_index)`` grouped by driver in ascending
    order; without multapses each driver's partners are in draw order
    (successive sampling). Feasibility must have been checked by the caller.
    """
    if not native(problem):
        return _delegate('fixed_degree', problem)(problem, degrees, multapses, start, stop)
    stop = problem.n_drivers if stop is None else stop
    plan = _plan(problem)
    degrees = np.asarray(degrees)
    return _fixed(plan, plan.degree_table(problem, degrees, multapses), degrees, multapses, start, stop,
                  STREAM_DEGREE, _index_dtype(problem))


def total_without_multapses(problem: Problem, n: int, row_log_norm):
    """``n`` distinct pairs by successive sampling over all pairs.

    Pairs are drawn i.i.d. from the joint distribution (a driver by its row
    total, or uniformly when ``row_log_norm`` is given, then a partner from
    its row) and repeats are discarded, which is exactly successive
    sampling. The driver sequence comes from the call's global stream and
    the ``m``-th partner of a driver from its own stream, so the result is
    reproducible. Falls back to the reference engine's exponential race when
    repeats become too frequent (``n`` close to the number of pairs).
    """
    if not native(problem):
        return _delegate('total_without_multapses')(problem, n, row_log_norm)
    dtype = _index_dtype(problem)
    if n == 0:
        return np.empty(0, dtype), np.empty(0, dtype)
    n_d, n_p = problem.n_drivers, problem.n_partners
    if row_log_norm is None:
        lt = row_log_totals(problem)
        m = lt.max()
        with np.errstate(under="ignore"):
            w = np.where(np.isfinite(lt), np.exp(lt - m), 0.0)
    else:
        w = np.where(np.isfinite(row_log_norm), 1.0, 0.0)
    cdf = np.cumsum(w)
    M = int(1.25 * n) + 64
    for _ in range(4):
        u = global_generator(problem.key).random(M)
        drv = np.searchsorted(cdf, u * cdf[-1], side="right").clip(0, n_d - 1)
        counts = np.bincount(drv, minlength=n_d).astype(np.int64)
        plan = _plan(problem)
        d_out, p_out = _fixed(plan, plan.table(problem, degree_key(counts, True)), counts, True, 0, n_d,
                              STREAM_TOTAL, dtype)
        order = np.argsort(drv, kind="stable")
        offs = np.zeros(n_d + 1, dtype=np.int64)
        np.cumsum(counts, out=offs[1:])
        rank = np.empty(M, dtype=np.int64)
        rank[order] = np.arange(M) - offs[drv[order]]
        par = p_out[offs[drv] + rank].astype(np.int64)
        codes = drv.astype(np.int64) * n_p + par
        _, first = np.unique(codes, return_index=True)
        if first.size >= n:
            sel = np.sort(first)[:n]
            keep = sel[np.argsort(drv[sel], kind="stable")]
            return drv[keep].astype(dtype), par[keep].astype(dtype)
        if first.size < 0.5 * n:
            break
        M *= 2
    from . import reference

    return reference.total_without_multapses(problem, n, row_log_norm)


def bernoulli(problem: Problem, p: float, start: int = 0, stop=None):
    """Each pair independently with probability ``p · w``; ``(driver, partner)`` grouped by driver."""
    if not native(problem):
        return _delegate('bernoulli')(problem, p, start, stop)
    stop = problem.n_drivers if stop is None else stop
    if p == 0:  # no pair can connect (and log p, which the table's level needs, is -inf)
        dtype = _index_dtype(problem)
        return np.empty(0, dtype), np.empty(0, dtype)
    plan = _plan(problem)
    return _bernoulli(plan, plan.table(problem, float(p)), p, start, stop, _index_dtype(problem))


def _bernoulli(view, table, p: float, start: int, stop: int, dtype):
    if p == 0 or stop <= start or view.grid.pos.shape[0] == 0:
        return np.empty(0, dtype), np.empty(0, dtype)
    k0, k1 = _key(view)
    partners, geometry = _space(view)
    # one pass: each cell of drivers keeps its draws until the output's size is known
    out_drv, out_par = _core.bernoulli(_drivers(view, start, stop), partners, geometry, _compiled(table), k0, k1,
                                       STREAM_DEGREE, float(p), stop - start, dtype == np.int64,
                                       _threads_for(100 * (stop - start)))
    _finite(geometry)
    return out_drv, out_par


class Piece:
    """Some drivers of a problem with only the partners their windows can reach.

    Sampling a piece gives, for its drivers, exactly (bit for bit) what the
    whole problem gives: the grid is a box cut from the whole problem's
    grid (same cells, same members in the same order, original partner
    indices), the offset tables are the whole problem's, and the random
    streams are keyed by the drivers' ids in the problem. Built by
    :func:`pieces`; picklable, so it can travel alone to a Dask worker.

    Attributes
    ----------
    drivers : (n, d) float64
        Positions of the piece's drivers.
    ids : (n,) int64
        Their indices in the problem, ascending.
    grid : Grid
        The box of cells (``grid.index`` holds original partner indices).
    complete : bool
        The box is the whole grid (needed when a driver's window cannot be
        proven sufficient, e.g. a Gaussian driver far from every partner).
    """

    def __init__(self, plan: _Plan, table, ids: np.ndarray, grid: Grid, complete: bool):
        self.drivers = plan.drivers[ids]
        self.ids = ids
        self.grid = grid
        self.complete = complete
        self.table = table
        self.kp, self.mp = plan.kp, plan.mp
        self.sign, self.exclude_self, self.key, self.n_partners = (plan.sign, plan.exclude_self, plan.key,
                                                                   plan.n_partners)

    @property
    def n_drivers(self) -> int:
        return self.ids.size

    def partner_rows(self, partners: np.ndarray) -> np.ndarray:
        """Rows of ``grid.pos`` holding the given original partner indices."""
        order = getattr(self, "_order", None)
        if order is None:
            order = self._order = np.argsort(self.grid.index, kind="stable")
        return order[np.searchsorted(self.grid.index, partners, sorter=order)]

    def fixed_degree(self, degrees: np.ndarray, multapses: bool, start: int = 0, stop=None):
        """:func:`fixed_degree` for drivers ``start:stop`` of the piece (``degrees`` per piece driver)."""
        stop = self.n_drivers if stop is None else stop
        return _fixed(self, self.table, np.asarray(degrees), multapses, start, stop, STREAM_DEGREE, np.int64)

    def bernoulli(self, p: float, start: int = 0, stop=None):
        """:func:`bernoulli` for drivers ``start:stop`` of the piece."""
        stop = self.n_drivers if stop is None else stop
        return _bernoulli(self, self.table, p, start, stop, np.int64)


def exact_fallbacks(problem: Problem, degrees: np.ndarray, multapses: bool, shortcut: bool = True) -> np.ndarray:
    """Which drivers :func:`fixed_degree` samples exactly over every partner (O(N) each).

    Only drivers whose truncated window cannot be shown to suffice, by the
    cell bounds or by their exact weights: rare unless a driver is far from
    all partners. Decided by the weights alone, never by random numbers.
    ``shortcut=False`` skips a quick sufficient check (for testing that it
    agrees).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.r_[np.random.default_rng(0).random((1000, 2)), [[9.0, 9.0]]]
    >>> job = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.05), multapses=False)
    >>> np.nonzero(exact_fallbacks(job.problem, job.degrees, False))[0].tolist()
    [1000]
    """
    out = np.zeros(problem.n_drivers, dtype=bool)
    if not native(problem) or problem.n_drivers == 0 or problem.n_partners == 0:
        return out
    plan = _plan(problem)
    degrees = np.ascontiguousarray(degrees, dtype=np.int64)
    table = plan.table(problem, degree_key(degrees, multapses))
    if table[3]:  # truncated
        flags = np.zeros(problem.n_drivers, dtype=np.uint8)
        partners, geometry = _space(plan)
        _core.needs_every_partner(_drivers(plan, 0, problem.n_drivers), partners, geometry, _compiled(table), degrees,
                                  int(problem.n_partners), bool(multapses), bool(problem.positive_everywhere),
                                  bool(shortcut), flags, _threads_for(100 * problem.n_drivers))
        _finite(geometry)
        out = flags.astype(bool)
    return out


def pieces(problem: Problem, parts: list, *, degrees=None, multapses: bool = True, p=None):
    """Cut ``problem`` into :class:`Piece` objects, one per array of driver indices in ``parts``.

    A generator: each piece is built when asked for, so a caller that sends
    pieces away one by one holds one at a time.

    ``degrees`` (fixed-degree rules) or ``p`` (Bernoulli) select the offset
    table the sampling will use. Each piece's box spans its drivers' cells
    grown by the table's window; a piece holding a driver whose window is
    not provably sufficient gets the whole grid.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((2000, 2))
    >>> job = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.02), seed=1)
    >>> a, b = pieces(job.problem, [np.arange(0, 2000, 2), np.nonzero(pos[:, 0] < 0.2)[0]], degrees=job.degrees)
    >>> a.grid.pos.shape[0], b.grid.pos.shape[0] < 1000  # all partners; those within 0.2 + reach
    (2000, True)
    >>> d, t = b.fixed_degree(job.degrees[b.ids], True)
    >>> whole = job.connect()
    >>> bool(np.array_equal(t, whole.targets[np.isin(whole.sources, b.ids)]))
    True
    """
    if not native(problem):
        raise ValueError("only problems the grid engine runs compiled can be cut into pieces")
    plan = _plan(problem)
    table = plan.table(problem, float(p) if p is not None else degree_key(np.asarray(degrees), multapses))
    tab = table[0]
    g = plan.grid
    coords = g.cell_coords(g.driver_cell)
    needs_all = np.zeros(problem.n_drivers, dtype=bool) if degrees is None else \
        exact_fallbacks(problem, degrees, multapses)
    reach = _reach(problem, tab)
    for ids in parts:
        ids = np.asarray(ids, dtype=np.int64)
        c = coords[ids]
        complete = bool(needs_all[ids].any())
        B, S = np.zeros_like(g.G), g.G.copy()
        if ids.size and not complete:
            B, S = _box_bounds(g, tab, c, reach)
            complete = bool(np.all(S == g.G))
        yield Piece(plan, table, ids, box(g, B, S, c), complete)


def _reach(problem: Problem, tab) -> np.ndarray:
    """Cells a window reaches from its centre, per axis."""
    return np.abs(tab.offsets).max(axis=0) if tab.offsets.size else np.zeros(problem.ndim, dtype=np.int64)


def _box_bounds(g: Grid, tab, c: np.ndarray, reach: np.ndarray):
    """The box ``(B, S)`` of cells holding the windows of drivers in cells ``c`` (grid coordinates)."""
    B, S = np.zeros_like(g.G), g.G.copy()
    lo, hi = c.min(axis=0) - reach, c.max(axis=0) + reach
    for a in range(g.G.size):
        if tab.mode[a] == 0:
            lo[a], hi[a] = max(lo[a], 0), min(hi[a], g.G[a] - 1)
        if tab.mode[a] != 2 and hi[a] - lo[a] + 1 < g.G[a]:
            B[a], S[a] = lo[a] % g.G[a], hi[a] - lo[a] + 1
    return B, S


def cuts(problem: Problem) -> bool:
    """Whether :func:`pieces` and :func:`drivers` can serve ``problem`` (compiled and not empty)."""
    return native(problem) and problem.n_drivers > 0 and problem.n_partners > 0


def drivers(problem: Problem, ids: np.ndarray, *, degrees=None, multapses: bool = True, p=None):
    """Random access: ``(driver, partner)`` of the drivers ``ids`` (ascending, distinct) only.

    Gives, bit for bit, what :func:`fixed_degree` (``degrees`` of every
    driver) or :func:`bernoulli` (``p``) give these drivers, at the cost of
    their windows: each driver is sampled over a box of cells around it
    (its window), unless the drivers are so many that one pass over the
    whole grid is cheaper. A driver whose window cannot be proven
    sufficient is sampled over every partner, as in the whole problem.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((5000, 2))
    >>> job = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.01), seed=1)
    >>> d, t = drivers(job.problem, np.array([4, 1500]), degrees=job.degrees)
    >>> whole = job.connect()
    >>> bool(np.array_equal(t, whole.targets[np.isin(whole.sources, [4, 1500])]))
    True
    """
    if not native(problem):
        raise ValueError("only problems the grid engine runs compiled have random access")
    plan = _plan(problem)
    table = plan.table(problem, float(p)) if p is not None else plan.degree_table(problem, degrees, multapses)
    tab, g = table[0], plan.grid
    ids = np.asarray(ids, dtype=np.int64)

    def sample(piece):
        if p is not None:
            return piece.bernoulli(p)
        return piece.fixed_degree(degrees[piece.ids], multapses)

    def over_every_cell(some):
        whole = Grid(lo=g.lo, h=g.h, G=g.G, periods=g.periods, start=g.start, pos=g.pos, index=g.index,
                     driver_cell=g.driver_cell[some], eps=g.eps, B=g.B, S=g.S)
        return sample(Piece(plan, table, some, whole, True))

    reach = _reach(problem, tab)
    window = int(np.prod(np.minimum(2 * reach + 1, g.G)))
    if ids.size * (window + BOX_OVERHEAD_CELLS) >= g.n_cells:
        return over_every_cell(ids)
    coords = g.cell_coords(g.driver_cell[ids])
    drv, par = [], []
    for i in range(ids.size):
        c = coords[i:i + 1]
        B, S = _box_bounds(g, tab, c, reach)
        piece = Piece(plan, table, ids[i:i + 1], box(g, B, S, c), bool(np.all(S == g.G)))
        try:
            d, q = sample(piece)
        except IncompletePiece:  # its window cannot be shown to suffice: every partner, as in the whole
            d, q = over_every_cell(ids[i:i + 1])
        drv.append(d)
        par.append(q)
    return (np.concatenate(drv), np.concatenate(par)) if drv else (np.empty(0, np.int64), np.empty(0, np.int64))


def driver_cells(problem: Problem) -> np.ndarray:
    """Grid coordinates ``(N_d, d)`` of each driver's cell (for spatial partitions).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> job = sc.plan(np.array([[0.0, 0.0], [0.0, 0.05], [1.0, 1.0]]), rule=sc.FixedOutDegree(1),
    ...               kernel=sc.Gaussian(0.1))
    >>> c = driver_cells(job.problem)
    >>> bool((c[0] == c[1]).all()), bool((c[0] == c[2]).all())
    (True, False)
    """
    if not native(problem):
        raise ValueError("only problems the grid engine runs compiled have a grid of cells")
    g = _plan(problem).grid
    return g.cell_coords(g.driver_cell)
