"""The grid engine's path for :class:`~spatialconn.CustomKernel`: the user's function on large batches.

Compiled code cannot call a Python function per pair, so the core hands
out batches of pairs and the function is called once per batch
(``_core/batched.hpp``). It serves the fixed-degree rules
(:class:`~spatialconn.FixedOutDegree`, :class:`~spatialconn.FixedInDegree`,
with and without multapses) and the candidate counts their feasibility
check needs, for a kernel with a finite reach (its ``cutoff`` or a mask).
The pairwise and total-number rules, and a CustomKernel of unbounded reach,
run the reference engine's code over every pair.

With a declared bound (``decreasing=True``: ``f(r)`` bounds it beyond
``r``; or ``peak``), sampling is exact rejection, as in the compiled core:
the partners within reach are binned in cells, and each offset between
cells gets the declared bound at its smallest distance. A driver's
proposals pick an offset cell in proportion to ``count × bound`` (Vose
alias table), a member uniformly and a level ``u``; the function is
evaluated on the whole batch of proposals and a proposal is accepted where
``u · bound < f``. Accepted proposals are i.i.d. draws from the weights;
without multapses repeats are skipped, which is exactly successive
sampling. Drivers short of their degree propose again in rounds (with the
driver's own acceptance so far setting the batch); a driver still short
after :data:`MAX_ROUNDS` rounds, or after ``PROPOSALS_PER_DRAW · k +
PROPOSALS_EXTRA`` proposals, draws the rest by the reference engine's
exact code over every partner (continuing its draws: exact whatever
decided the switch).

Without a declared bound, every pair within reach is gathered by the core
and evaluated (in batches of drivers), and each driver draws from its
exact weights in the core: inverse CDF with multapses; without, i.i.d.
draws skipping repeats, continued by an exponential race
(Efraimidis–Spirakis keys) over the pairs not yet chosen once repeats
pile up.

Every random number of driver ``i`` comes from its own stream (the call's
key, ``i`` and a tag: :data:`STREAM_CUSTOM` + round, or
:data:`STREAM_DENSE`), and a batch's size depends only on the driver's
own history, so results are bit-identical for any thread count and any
split of the drivers.

Candidate counts: with ``decreasing=True`` the function is positive up to
a distance found by bisection and 0 beyond another; cells wholly within
the first (for the whole driver cell, or, on open axes without a mask, for
the driver itself) are counted without evaluating it, and only pairs
between the two are evaluated. Otherwise every pair within reach is.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from ..kernels import CustomKernel
from ..problem import Problem
from ..rng import driver_generator
from ._encoding import K_CONST, KP_SIZE, encodable_mask, encode_mask
from ._index import PlanCache, _core, build_grid, cell_side, offset_table

#: stream tag of round 0 of the proposals (round r: + r)
STREAM_CUSTOM = 128
#: stream tag of the dense draws (a function without a declared bound)
STREAM_DENSE = 160
#: rounds of proposals before a driver is drawn exactly over every partner
MAX_ROUNDS = 12
#: proposals (or gathered pairs) per call of the user's function
BATCH = 1 << 20
#: acceptance assumed for a driver's first round
FIRST_ACCEPT = 0.5
#: most proposals of one driver over all rounds: PROPOSALS_PER_DRAW per synapse plus PROPOSALS_EXTRA
#: (an acceptance below ~1/256 is not worth it: the exact fallback scans every partner once)
PROPOSALS_PER_DRAW, PROPOSALS_EXTRA = 256, 4096
#: relative slack of the bound check (the bound is evaluated at one distance, the pair at another)
BOUND_SLACK = 1e-9


def handles(problem: Problem) -> bool:
    """Whether this path serves ``problem`` (a CustomKernel within a finite reach: its cutoff or a mask).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> f = lambda d: np.exp(-d)
    >>> bounded = sc.CustomKernel(f, cutoff=0.3, decreasing=True)
    >>> handles(sc.plan(pos, rule=sc.FixedOutDegree(3), kernel=bounded).problem)
    True
    >>> handles(sc.plan(pos, rule=sc.FixedOutDegree(3), kernel=sc.CustomKernel(f, cutoff=np.inf)).problem)
    False
    """
    k = problem.kernel
    return (isinstance(k, CustomKernel) and math.isfinite(problem.reach)
            and 1 <= problem.ndim <= 3 and encodable_mask(problem.mask) and problem.well_scaled)


class _Bound:
    """The declared bound as the profile :func:`offset_table` reads (``log K`` over distance ranges)."""

    kind = K_CONST  # anything but an expression: offset_table calls upper() and lower()

    def __init__(self, kernel: CustomKernel, d: int, reach: float, near: float):
        self.kernel, self.near = kernel, near
        self.mu = np.zeros(d)
        self.scale = _scale(kernel, reach)

    def upper(self, rmin, rmax):
        if not self.kernel.bounded:  # the window only (the pairs are evaluated densely)
            return np.where(np.asarray(rmin) <= self.kernel.cutoff, 0.0, -np.inf)
        return self.kernel.log_bound(rmin)

    def lower(self, rmin, rmax):
        """0 where the whole range lies within ``near`` (``f > 0`` there: counted without evaluation), else ``-inf``."""
        return np.where(np.asarray(rmax) <= self.near, 0.0, -np.inf)


def _scale(kernel: CustomKernel, reach: float) -> float:
    """Cell scale: where a non-increasing function's value has fallen by e^-1/2 (else a quarter of the reach)."""
    if kernel.decreasing:
        top = float(kernel.log_of_distance(np.array([0.0]))[0])
        if math.isfinite(top):
            lo, hi = 0.0, reach
            if float(kernel.log_of_distance(np.array([hi]))[0]) < top - 0.5:
                for _ in range(40):
                    mid = 0.5 * (lo + hi)
                    if float(kernel.log_of_distance(np.array([mid]))[0]) < top - 0.5:
                        hi = mid
                    else:
                        lo = mid
                return max(hi, reach / 64.0)
    return reach / 4.0


class _Plan:
    """Grid, bound table and compiled geometry of one problem (the view the compiled loops read)."""

    ids = None

    def __init__(self, problem: Problem):
        d = problem.ndim
        self.near, self.far = _sure_range(problem.kernel, problem.reach)
        prof = _Bound(problem.kernel, d, problem.reach, self.near)
        self.grid = build_grid(problem, cell_side(problem, prof), cell_side(problem, prof, dense=True))
        self.kp = np.zeros(KP_SIZE)  # the constant 1: the core applies only the mask
        self.kp[0] = K_CONST
        self.mp = encode_mask(problem.mask, d)
        self.problem_ref = weakref.ref(problem)
        self.drivers = np.ascontiguousarray(problem.drivers)
        self.sign, self.exclude_self = float(problem.sign), bool(problem.exclude_self)
        self.key = problem.key
        tab = offset_table(problem, self.grid, prof, self.mp, problem.reach, -math.inf)
        iszero = np.all(tab.offsets == 0, axis=1)
        self.table = _core.OffsetTable(tab.offsets, tab.mode, tab.cls, tab.upper, tab.lower, tab.scaled_upper,
                                       tab.scaled_lower, iszero.view(np.uint8), 0.0, False, float(tab.ref),
                                       float(tab.log_out))
        self.tab = tab  # keeps the arrays the compiled table borrows alive
        g = self.grid
        self.cells = (np.ascontiguousarray(g.lo, dtype=np.float64), np.ascontiguousarray(g.h, dtype=np.float64),
                      float(g.eps))  # the cells' geometry, for the gathers


_plan = PlanCache(_Plan)


def _slices(sizes: np.ndarray, limit: int):
    """Consecutive ``(lo, hi)`` runs of ``sizes`` summing to about ``limit`` (at least one entry each)."""
    cum = np.cumsum(sizes)
    lo = 0
    while lo < sizes.size:
        base = cum[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + limit, side="right")))
        yield lo, hi
        lo = hi


def _cell_runs(plan, start: int, stop: int, sizes: np.ndarray, limit: int):
    """Drivers ``start:stop`` in runs of whole driver cells whose ``sizes`` (per driver) sum to about ``limit``.

    Yields ``(drivers, rows)``: the compiled view of the run's cells and the
    run's drivers (indices from ``start``) in the order the core visits them.
    Consecutive drivers of a cell share a window, so the partners they read
    stay in cache (runs of driver indices would scatter them).
    """
    from .grid import _ids

    g = plan.grid
    cells, ptr, members = _core.group_drivers(g.driver_cell, start, stop, g.n_cells)
    if cells.size == 0:
        return
    ids = _ids(plan, start, stop)
    per_cell = np.add.reduceat(sizes[members - start], ptr[:-1])
    for c0, c1 in _slices(per_cell, limit):
        rows = members[ptr[c0]:ptr[c1]] - start
        if sizes[rows].any():
            yield _core.DriverCells(cells[c0:c1], ptr[c0:c1 + 1], members, start, plan.drivers, ids), rows


def _offsets(sizes: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Per driver (``n`` of them), where the entries of ``rows`` start when laid out in that order."""
    off = np.zeros(n, dtype=np.int64)
    off[rows[1:]] = np.cumsum(sizes[rows[:-1]])
    return off


def _weights(problem: Problem, m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``w`` of the pairs with displacements ``x`` (0 where ``m < 0``: the core found them excluded by
    the mask or as autapses): one call of the function."""
    x = x.reshape(-1, problem.ndim)
    ok = m >= 0
    if ok.all():
        return problem.kernel.weights(x)
    w = np.zeros(m.size)
    if ok.any():
        w[ok] = problem.kernel.weights(x[ok])
    return w


def candidate_counts(problem: Problem) -> np.ndarray:
    """Number of partners with non-zero weight, per driver (exact).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> from spatialconn.engine import reference
    >>> pos = np.random.default_rng(0).random((300, 2))
    >>> k = sc.CustomKernel(lambda d: np.maximum(0.2 - d, 0.0), cutoff=0.3, decreasing=True)
    >>> pb = sc.plan(pos, rule=sc.FixedOutDegree(1), kernel=k).problem
    >>> bool(np.array_equal(candidate_counts(pb), reference.candidate_counts(pb)))
    True
    """
    from .grid import _drivers, _space, _threads_for

    n_d = problem.n_drivers
    out = np.zeros(n_d, dtype=np.int64)
    if n_d == 0 or problem.n_partners == 0:
        return out
    plan = _plan(problem)
    near, far = plan.near, plan.far
    partners, geometry = _space(plan)
    count = np.zeros(n_d, dtype=np.int64)
    none_i, none_f = np.empty(0, np.int64), np.empty(0)
    threads = _threads_for(100 * n_d)
    _core.custom_gather(_drivers(plan, 0, n_d), partners, geometry, plan.table, near, far, *plan.cells, out, count,
                        count, none_i, none_f, False, threads)
    for dc, rows in _cell_runs(plan, 0, n_d, count, BATCH):
        total = int(count[rows].sum())
        m = np.empty(total, dtype=np.int64)
        x = np.empty(total * problem.ndim)
        _core.custom_gather(dc, partners, geometry, plan.table, near, far, *plan.cells, out, count,
                            _offsets(count, rows, n_d), m, x, True, threads)
        positive = _weights(problem, m, x) > 0
        out += np.bincount(np.repeat(rows, count[rows])[positive], minlength=n_d)
    return out


def _sure_range(kernel: CustomKernel, reach: float):
    """``(near, far)``: ``f > 0`` at every distance ``<= near``, ``f = 0`` beyond ``far`` (within reach)."""
    far = reach * (1 + 1e-12)
    if not kernel.decreasing:
        return -1.0, far

    def positive(r):
        return bool(kernel.log_of_distance(np.array([r]))[0] > -np.inf)

    if positive(reach):
        return reach * (1 - 1e-12), far
    if not positive(0.0):
        return -1.0, 0.0
    lo, hi = 0.0, reach
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if positive(mid) else (lo, mid)
    return lo * (1 - 1e-12), hi * (1 + 1e-12)


def fixed_degree(problem: Problem, degrees: np.ndarray, multapses: bool, start: int = 0, stop=None):
    """Drivers ``start:stop`` draw ``degrees[i]`` partners each (exact rejection under the declared bound).

    Returns ``(driver_index, partner_index)`` grouped by driver in ascending
    order, each driver's partners in draw order.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((2000, 2))
    >>> k = sc.CustomKernel(lambda d: np.exp(-d / 0.05), cutoff=0.3, decreasing=True)
    >>> job = sc.plan(pos, rule=sc.FixedOutDegree(20), kernel=k, multapses=False, seed=1)
    >>> d, p = fixed_degree(job.problem, job.degrees, False)
    >>> a, b = fixed_degree(job.problem, job.degrees, False, 700, 900)
    >>> bool(np.array_equal(p[(d >= 700) & (d < 900)], b)), d.size
    (True, 40000)
    """
    from .grid import _space, _threads_for

    stop = problem.n_drivers if stop is None else stop
    n = stop - start
    k = np.ascontiguousarray(degrees[start:stop], dtype=np.int64)
    if n <= 0 or not k.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    plan = _plan(problem)
    if not problem.kernel.bounded:
        return _dense(problem, plan, k, multapses, start)
    partners, geometry = _space(plan)
    k0, k1 = (int(np.uint64(v)) for v in plan.key)
    n_p, d = problem.n_partners, problem.ndim
    have = np.zeros(n, dtype=np.int64)
    proposed = np.zeros(n, dtype=np.int64)
    # the draws so far (without multapses: the distinct ones), each driver's in draw order and together
    drv, par = np.empty(0, np.int64), np.empty(0, np.int64)
    for r in range(MAX_ROUNDS):
        need = k - have
        left = PROPOSALS_PER_DRAW * k + PROPOSALS_EXTRA - proposed
        active = (need > 0) & (left > 0)
        if not active.any():
            break
        # the batch: the driver's need over its own acceptance so far (a margin after the first round)
        rate = FIRST_ACCEPT if r == 0 else (have + 1.0) / (proposed + 2.0)
        want = np.ceil((1.0 if r == 0 else 1.25) * need / rate) + 8
        nprop = np.where(active, np.minimum(want, left), 0).astype(np.int64)
        proposed += nprop
        new_drv, new_par = [], []
        for dc, rows in _cell_runs(plan, start, stop, nprop, BATCH):
            total = int(nprop[rows].sum())
            m = np.empty(total, dtype=np.int64)
            x, bound, u = np.empty(total * d), np.empty(total), np.empty(total)
            _core.custom_proposals(dc, partners, geometry, plan.table, k0, k1, STREAM_CUSTOM + r, nprop,
                                   _offsets(nprop, rows, n), m, x, bound, u, _threads_for(total))
            w = _weights(problem, m, x)
            if np.any(w > bound * (1.0 + BOUND_SLACK)):
                _bound_violated(problem, x, w, bound)
            hit = np.nonzero(u * bound < w)[0]  # accepted with probability w / bound
            new_drv.append(np.repeat(rows, nprop[rows])[hit])
            new_par.append(plan.grid.index[m[hit]])
        if multapses:
            drv, par = np.concatenate([drv, *new_drv]), np.concatenate([par, *new_par])
            have = np.bincount(drv, minlength=n)
            continue
        # repeats skipped: only the drivers of this round are looked at again (their old draws first)
        old = active[drv]
        cand_drv = np.concatenate([drv[old], *new_drv])
        cand_par = np.concatenate([par[old], *new_par])
        keep = np.sort(_first_occurrences(cand_drv * n_p + cand_par))
        drv = np.concatenate([drv[~old], cand_drv[keep]])
        par = np.concatenate([par[~old], cand_par[keep]])
        have = np.bincount(drv, minlength=n)
    order = np.argsort(drv, kind="stable")  # by driver, each in draw order (rounds, then proposals)
    drv, par = drv[order], par[order]
    starts = np.searchsorted(drv, np.arange(n))
    rank = np.arange(drv.size) - starts[drv]
    keep = rank < k[drv]
    drv, par = drv[keep], par[keep]
    short = np.nonzero(np.bincount(drv, minlength=n) < k)[0]
    if short.size:  # the rest drawn exactly over every partner
        drv, par = _exact(problem, k, short, drv, par, multapses, start)
    return drv + start, par


def _first_occurrences(codes: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct value of ``codes`` (>= 0), in no particular order.

    By sorting ``code * n + position`` (one plain sort) when it fits in 64 bits, else a stable argsort.

    Examples
    --------
    >>> sorted(_first_occurrences(np.array([5, 3, 5, 3, 9])).tolist())
    [0, 1, 4]
    """
    n = codes.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if int(codes.max()) < (2**62) // n:
        key = codes * n + np.arange(n)
        key.sort()
        c, pos = np.divmod(key, n)
    else:
        pos = np.argsort(codes, kind="stable")
        c = codes[pos]
    first = np.ones(n, dtype=bool)
    np.not_equal(c[1:], c[:-1], out=first[1:])
    return pos[first]


def _exact(problem, k, short, drv, par, multapses, start):
    """The ``short`` drivers' remaining draws by the reference engine's exact code over every partner.

    They continue the draws so far (without multapses, over the partners
    not yet chosen), which keeps the whole sequence exact whatever decided
    the switch: with multapses the draws are i.i.d., without it successive
    sampling from the partners left is successive sampling continued.
    """
    from .reference import _draw, block_log_weights

    drv_parts, par_parts = [drv], [par]
    for i in short.tolist():
        g = start + i
        lw = block_log_weights(problem, g, g + 1)[0]
        if not multapses:
            lw[par[drv == i]] = -np.inf
        chosen = _draw(lw, int(k[i]) - int(np.count_nonzero(drv == i)), multapses, driver_generator(problem.key, g))
        drv_parts.append(np.full(chosen.size, i, dtype=np.int64))
        par_parts.append(chosen)
    drv, par = np.concatenate(drv_parts), np.concatenate(par_parts)
    order = np.argsort(drv, kind="stable")  # each driver: its draws so far, then the exact ones
    return drv[order], par[order]


def _bound_violated(problem, x, w, bound):
    j = int(np.argmax(w > bound * (1.0 + BOUND_SLACK)))
    disp = x.reshape(-1, problem.ndim)[j]
    kern = problem.kernel
    what = "decreasing=True (the function must not increase with distance)" if kern.decreasing else \
        f"peak={kern.peak_value!r}"
    raise ValueError(f"the CustomKernel's function exceeds its declared bound ({what}) at distance "
                     f"{float(np.linalg.norm(disp)):.6g}: value {w[j]:.6g} > bound {bound[j]:.6g}")


def _dense(problem, plan, k, multapses, start):
    """Every pair within reach evaluated (in batches), then exact draws per driver (a function without a bound)."""
    from .grid import _drivers, _space, _threads_for

    n = k.size
    partners, geometry = _space(plan)
    k0, k1 = (int(np.uint64(v)) for v in plan.key)
    sure, count = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    none_i, none_f = np.empty(0, np.int64), np.empty(0)
    _core.custom_gather(_drivers(plan, start, start + n), partners, geometry, plan.table, -1.0, plan.far,
                        *plan.cells, sure, count, count, none_i, none_f, False, _threads_for(100 * n))
    drv_parts, par_parts = [], []
    for dc, rows in _cell_runs(plan, start, start + n, np.where(k > 0, count, 0), 2 * BATCH):
        cnt = count[rows]  # every driver of the run's cells is gathered, also those with k = 0
        off = np.zeros(rows.size, dtype=np.int64)
        np.cumsum(cnt[:-1], out=off[1:])
        by_row = np.zeros(n, dtype=np.int64)
        by_row[rows] = off
        total = int(cnt.sum())
        m = np.empty(total, dtype=np.int64)
        x = np.empty(total * problem.ndim)
        _core.custom_gather(dc, partners, geometry, plan.table, -1.0, plan.far, *plan.cells, sure, count, by_row, m, x,
                            True, _threads_for(total))
        w = _weights(problem, m, x)
        kk = k[rows]
        outoff = np.zeros(rows.size, dtype=np.int64)
        np.cumsum(kk[:-1], out=outoff[1:])
        out = np.empty(int(kk.sum()), dtype=np.int64)
        _core.custom_draws(start + rows, off, cnt, w, kk, outoff, k0, k1, STREAM_DENSE, bool(multapses), out,
                           _threads_for(total))
        drv_parts.append(np.repeat(rows, kk))
        par_parts.append(plan.grid.index[m[out]])
    if not drv_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    drv, par = np.concatenate(drv_parts), np.concatenate(par_parts)
    order = np.argsort(drv, kind="stable")
    drv, par = drv[order], par[order]
    return drv + start, par
