"""Uniform cell grid over the partners and the offset tables built on it.

Partners are counting-sorted by cell, with their positions stored
contiguously in cell order, so the members of a cell are one slice.
Drivers are binned into the same cells. Because every cell has the same
size, the set of displacements between a point of cell ``c`` and a point
of cell ``c + o`` depends only on the offset ``o``; an *offset table*
holds, for every offset within reach, proven bounds of ``log w`` over that
set (:class:`~spatialconn.engine._encoding.Profile`), shared by all
driver cells.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - a source checkout whose extension was not built
    raise ImportError(
        "spatialconn's compiled engine (spatialconn.engine._core) is not built: install the package "
        "with `pip install .` (or `pip install -e .` in a checkout), or for PYTHONPATH=src run "
        "`cmake -S . -B build -DPython_EXECUTABLE=$(which python) && cmake --build build`"
    ) from exc
from ._encoding import (CLS_DROPPED, CLS_PROPOSED, CLS_ZERO, K_EXPR, LOG_CUTOFF, M_ANNULUS, M_BOX, M_DISC,
                        M_ELLIPSE, M_NONE, MODE_ALL, MODE_OPEN, MODE_WRAP, Profile)

#: cell side in units of the kernel's scale, by dimension (a speed knob: the distribution never
#: depends on it, the random stream does)
CELL_FACTOR = {1: 0.25, 2: 0.5, 3: 0.8}
#: finer cells where drivers are dense: tighter bounds (acceptance 0.70 instead of 0.51 for a
#: Gaussian in 2-D) are worth four times the offsets per window once a cell holds this many
#: drivers (measured: 10^8 synapses at 10^6 x 10^6, sigma 0.05: -19 % CPU)
DENSE_CELL_FACTOR = {2: 0.25}
DENSE_DRIVERS_PER_CELL = 100
#: at least this many partners per cell on average (cells much emptier than that only cost)
MIN_PER_CELL = 2.0
#: largest number of cells in an offset window
MAX_WINDOW = 200_000
#: cells per axis when the kernel cannot be truncated (every cell is in every window)
UNTRUNCATED_CELLS = {1: 64, 2: 16, 3: 6}


def _cells_of(pos, lo, h, G):
    out = np.empty(pos.shape[0], dtype=np.int64)
    _core.cells_of(np.ascontiguousarray(pos, dtype=np.float64), lo, h, G, out)
    return out


def _bbox(pos, lo, hi):
    """Update ``lo``/``hi`` with the per-axis minimum and maximum of ``pos`` (one pass)."""
    _core.bbox(np.ascontiguousarray(pos, dtype=np.float64), lo, hi)


@dataclass
class Grid:
    """Cells over the bounding box of drivers and partners.

    Attributes
    ----------
    lo, h : (d,) float64
        Corner of cell 0 and cell side per axis.
    G : (d,) int64
        Cells per axis; flat cell index is row-major.
    periods : (d,) float64
        ``inf`` on open axes; on periodic axes ``h * G`` equals the period.
    start : (n_cells + 1,) int64
        Partners of cell ``c`` are sorted positions ``start[c]:start[c + 1]``.
    pos : (N_p, d) float64
        Partner positions in cell order.
    index : (N_p,) int64
        Original partner index of each sorted position.
    driver_cell : (N_d,) int64
        Cell of each driver.
    eps : float
        Padding that keeps cell-level bounds proven despite rounding.
    B, S : (d,) int64
        The cells held: a box of ``S`` cells per axis from grid coordinates
        ``B`` (wrapping on periodic axes); ``start``, ``driver_cell`` and the
        flat cell numbers count cells within the box. The whole grid has
        ``B = 0`` and ``S = G``; :func:`box` cuts smaller ones.
    """

    lo: np.ndarray
    h: np.ndarray
    G: np.ndarray
    periods: np.ndarray
    start: np.ndarray
    pos: np.ndarray
    index: np.ndarray
    driver_cell: np.ndarray
    eps: float
    B: np.ndarray = None
    S: np.ndarray = None

    def __post_init__(self):
        if self.B is None:
            self.B, self.S = np.zeros_like(self.G), self.G.copy()

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.S))

    def cell_coords(self, cells: np.ndarray) -> np.ndarray:
        """Grid coordinates ``(n, d)`` of flat cell numbers of this box."""
        coords = np.stack(np.unravel_index(np.asarray(cells, dtype=np.int64), tuple(self.S)), axis=1)
        coords = coords + self.B
        periodic = np.isfinite(self.periods)
        return np.where(periodic, coords % self.G, coords)


def box(grid: Grid, B: np.ndarray, S: np.ndarray, driver_coords: np.ndarray) -> Grid:
    """The cells of the whole ``grid`` in the box ``B``, ``S``, with their partners.

    Partners keep their cell order and their original indices (``index``),
    so sampling over the box visits the same members in the same order as
    over the whole grid. ``driver_coords`` are the grid coordinates of the
    drivers that will use the box (each must lie in it).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> pb = SimpleNamespace(ndim=1, drivers=np.array([[0.0], [1.0]]), n_drivers=2, n_partners=4,
    ...                      partners=np.array([[0.1], [0.3], [0.6], [0.8]]), periods=np.array([np.inf]))
    >>> g = build_grid(pb, 0.5)
    >>> g.G.tolist(), g.index.tolist()
    ([2], [0, 1, 2, 3])
    >>> b = box(g, np.array([1]), np.array([1]), np.array([[1]]))
    >>> b.index.tolist(), b.start.tolist(), b.driver_cell.tolist()
    ([2, 3], [0, 2], [0])
    """
    d = grid.G.size
    assert np.all(grid.B == 0) and np.all(grid.S == grid.G), "cut boxes from the whole grid"
    periodic = np.isfinite(grid.periods)
    flat = np.zeros(1, dtype=np.int64)
    for a in range(d):
        axis = B[a] + np.arange(S[a], dtype=np.int64)
        if periodic[a]:
            axis %= grid.G[a]
        flat = (flat[:, None] * grid.G[a] + axis[None, :]).ravel()
    first = grid.start[flat]
    counts = grid.start[flat + 1] - first
    start = np.zeros(flat.size + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    rows = np.repeat(first - start[:-1], counts) + np.arange(start[-1], dtype=np.int64)
    local = np.asarray(driver_coords, dtype=np.int64) - B
    local = np.where(periodic, local % grid.G, local)
    if local.size and (np.any(local < 0) or np.any(local >= S)):
        raise ValueError("a driver lies outside the box")
    cells = np.ravel_multi_index(tuple(local.T), tuple(S)) if local.size else np.empty(0, np.int64)
    return Grid(lo=grid.lo, h=grid.h, G=grid.G, periods=grid.periods, start=start, pos=grid.pos[rows],
                index=grid.index[rows], driver_cell=np.asarray(cells, dtype=np.int64), eps=grid.eps,
                B=np.asarray(B, dtype=np.int64), S=np.asarray(S, dtype=np.int64))


def cell_side(problem, profile: Profile, dense: bool = False) -> float:
    """Target cell side for ``problem`` (a speed knob: the distribution never depends on it).

    ``dense``: the side for drivers dense enough to pay for finer cells (:data:`DENSE_CELL_FACTOR`).
    """
    d = problem.ndim
    scale = profile.scale
    reach = problem.reach
    if math.isfinite(reach):
        scale = min(scale, reach / 2.0)
    factor = DENSE_CELL_FACTOR.get(d, CELL_FACTOR[d]) if dense else CELL_FACTOR[d]
    return factor * scale if math.isfinite(scale) else math.inf


def build_grid(problem, h_target: float, h_dense: float | None = None) -> Grid:
    """Bin partners (counting sort) and drivers into cells of side about ``h_target``.

    ``h_dense``: a smaller side, used instead when its cells hold at least
    :data:`DENSE_DRIVERS_PER_CELL` drivers on average.
    """
    d = problem.ndim
    lo, hi = np.full(d, np.inf), np.full(d, -np.inf)
    for x in (problem.drivers, problem.partners):
        _bbox(x, lo, hi)
    if not np.all(np.isfinite(lo)):
        lo, hi = np.zeros(d), np.ones(d)
    extent = np.maximum(hi - lo, 0.0)
    periodic = np.isfinite(problem.periods)
    span = np.where(periodic, problem.periods, extent)
    n_p = max(problem.n_partners, 1)
    if not math.isfinite(h_target):
        per_axis = UNTRUNCATED_CELLS[d] if h_target == math.inf and _needs_cells(problem) else 1
        G = np.full(d, per_axis, dtype=np.int64)
        G = np.where(span > 0, G, 1)
    else:
        h = h_target
        if h_dense is not None and h_dense < h:
            cells = float(np.prod(np.maximum(np.ceil(span / h_dense), 1.0)))
            if problem.n_drivers >= DENSE_DRIVERS_PER_CELL * cells:
                h = h_dense
        vol = float(np.prod(np.maximum(span, h)))
        h = max(h, (vol * MIN_PER_CELL / n_p) ** (1.0 / d))
        total_cap = 4 * (n_p + problem.n_drivers) + 64
        while True:
            G = np.maximum(1, np.ceil(span / h)).astype(np.int64)
            if float(np.prod(G.astype(np.float64))) <= total_cap:
                break
            h *= 1.25
    h_axis = np.where(span > 0, span / G, 1.0)
    eps = 1e-9 * (float(np.max(np.abs(lo), initial=0.0)) + float(np.max(span, initial=0.0)) + float(np.max(h_axis)))
    ncell = int(np.prod(G))
    n = problem.partners.shape[0]
    start, order, pos = np.empty(ncell + 1, np.int64), np.empty(n, np.int64), np.empty((n, d), np.float64)
    _core.bin_points(np.ascontiguousarray(problem.partners, dtype=np.float64), lo, h_axis, G, start, order, pos)
    return Grid(lo=lo, h=h_axis, G=G, periods=np.asarray(problem.periods, dtype=np.float64),
                start=start, pos=pos, index=order, driver_cell=_cells_of(problem.drivers, lo, h_axis, G), eps=eps)


def _needs_cells(problem) -> bool:
    """Whether an untruncatable kernel still varies in space (else one cell is best)."""
    from ._encoding import K_CONST

    return problem.mask is not None or Profile(problem.kernel, problem.ndim).kind != K_CONST


@dataclass
class OffsetTable:
    """Cell offsets within reach and bounds of ``log w`` for each.

    Attributes
    ----------
    offsets : (W, d) int64
    mode : (d,) int64
        Per axis: ``MODE_OPEN`` (skip cells off the grid), ``MODE_WRAP``
        (periodic window, indices modulo G), ``MODE_ALL`` (periodic, every
        cell, no wrap of indices).
    upper, lower : (W,) float64
        Proven bounds of ``log w`` over the displacements of each offset
        (``lower = -inf`` when some may have ``w = 0``).
    cls : (W,) int64
        ``CLS_ZERO``: ``w = 0`` for all; ``CLS_DROPPED``: bound below
        ``ref - LOG_CUTOFF`` (dropped from proposals but kept for exact
        fallbacks); ``CLS_PROPOSED``.
    ref : float
        Largest ``upper``; proposal weights are ``count * exp(upper - ref)``.
    log_out : float
        Upper bound of ``log w`` for every pair outside the window
        (``-inf`` when they all have ``w = 0``).
    """

    offsets: np.ndarray
    mode: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    cls: np.ndarray
    ref: float
    log_out: float

    @property
    def scaled_upper(self) -> np.ndarray:
        with np.errstate(under="ignore"):
            return np.where(self.cls == CLS_PROPOSED, np.exp(self.upper - self.ref), 0.0)

    @property
    def scaled_lower(self) -> np.ndarray:
        with np.errstate(under="ignore", invalid="ignore"):
            return np.where(np.isfinite(self.lower), np.exp(np.minimum(self.lower - self.ref, 0.0)), 0.0)


def _axis_pieces(o, h, eps, sign, period):
    """Intervals (lo, hi) of wrapped displacement on one axis for raw cell offsets ``o``.

    Returns arrays of shape (len(o), 3) for lo and hi; empty pieces have lo > hi.
    """
    a = (o - 1) * h - eps
    b = (o + 1) * h + eps
    if sign < 0:
        a, b = -b, -a
    if not math.isfinite(period):
        return a[:, None], b[:, None]
    half = period / 2.0
    los, his = [], []
    for shift in (-period, 0.0, period):
        los.append(np.maximum(a + shift, -half))
        his.append(np.minimum(b + shift, half))
    return np.stack(los, axis=1), np.stack(his, axis=1)


def _abs_range(plo, phi, c):
    """Min and max of ``|x - c|`` over the union of pieces ``[plo, phi]``."""
    lo, hi = plo - c, phi - c
    valid = plo <= phi
    mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    mx = np.maximum(np.abs(lo), np.abs(hi))
    mn = np.where(valid, mn, np.inf).min(axis=1)
    mx = np.where(valid, mx, -np.inf).max(axis=1)
    return mn, mx


def offset_table(problem, grid: Grid, profile: Profile, mp: np.ndarray, window_radius: float,
                 out_level: float) -> OffsetTable:
    """Offsets whose cells may hold pairs within ``window_radius`` of displacement, with bounds.

    ``window_radius`` may be ``inf`` (every cell); ``out_level`` bounds ``log w``
    for the pairs outside the window.
    """
    d = problem.ndim
    axes, modes = [], []
    for a in range(d):
        G, h, period = int(grid.G[a]), float(grid.h[a]), float(grid.periods[a])
        w = G - 1 if not math.isfinite(window_radius) else min(G - 1, int(math.floor(window_radius / h)) + 1)
        if math.isfinite(period):
            if 2 * w + 1 >= G:
                axes.append(np.arange(-(G - 1), G))
                modes.append(MODE_ALL)
            else:
                axes.append(np.arange(-w, w + 1))
                modes.append(MODE_WRAP)
        else:
            axes.append(np.arange(-w, w + 1))
            modes.append(MODE_OPEN)
    W = int(np.prod([ax.size for ax in axes]))
    if W > MAX_WINDOW * 50:
        raise MemoryError(f"offset window of {W} cells is too large")
    grids = np.meshgrid(*axes, indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    kmin2 = np.zeros(W)
    kmax2 = np.zeros(W)
    mmin2 = np.zeros(W)
    mmax2 = np.zeros(W)
    box_out = np.zeros(W, dtype=bool)
    box_in = np.ones(W, dtype=bool)
    mkind = int(mp[0])
    components = []  # per axis, the hull of the displacement from the kernel's centre (expressions)
    for a in range(d):
        o = offsets[:, a].astype(np.float64)
        plo, phi = _axis_pieces(o, float(grid.h[a]), grid.eps, problem.sign, float(grid.periods[a]))
        mn, mx = _abs_range(plo, phi, profile.mu[a])
        kmin2 += mn * mn
        kmax2 += mx * mx
        if profile.kind == K_EXPR:
            valid = plo <= phi
            components.append((np.where(valid, plo, np.inf).min(axis=1) - profile.mu[a],
                               np.where(valid, phi, -np.inf).max(axis=1) - profile.mu[a]))
        if mkind in (M_DISC, M_ANNULUS, M_ELLIPSE):
            mn, mx = _abs_range(plo, phi, mp[3 + a])
            mmin2 += mn * mn
            mmax2 += mx * mx
        elif mkind == M_BOX:
            valid = plo <= phi
            lo_a, hi_a = mp[6 + a], mp[9 + a]
            disjoint = (phi < lo_a) | (plo > hi_a) | ~valid
            inside = ((plo >= lo_a) & (phi <= hi_a)) | ~valid
            box_out |= disjoint.all(axis=1)
            box_in &= inside.all(axis=1)
    rmin, rmax = np.sqrt(kmin2), np.sqrt(kmax2)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if profile.kind == K_EXPR:  # interval bounds over each offset's box of displacements
            lower, upper = profile.box_bounds(rmin, rmax, components)
        else:
            upper = profile.upper(rmin, rmax)
            lower = profile.lower(rmin, rmax)
    upper = np.where(np.isnan(upper), np.inf, upper)
    lower = np.where(np.isnan(lower), -np.inf, lower)
    if mkind != M_NONE:
        cmin, cmax = np.sqrt(mmin2), np.sqrt(mmax2)
        if mkind == M_DISC:
            out, inside = cmin > mp[1], cmax <= mp[1]
        elif mkind == M_ANNULUS:
            out, inside = (cmin > mp[2]) | (cmax <= mp[1]), (cmin > mp[1]) & (cmax <= mp[2])
        elif mkind == M_ELLIPSE:
            axes_len = mp[6:6 + d]
            out, inside = cmin > axes_len.max(), cmax <= axes_len.min()
        else:
            out, inside = box_out, box_in
        upper = np.where(out, -np.inf, upper)
        lower = np.where(inside & ~out, lower, -np.inf)
    ref = float(upper.max(initial=-np.inf))
    cls = np.where(upper == -np.inf, CLS_ZERO, np.where(upper < ref - LOG_CUTOFF, CLS_DROPPED, CLS_PROPOSED))
    cls = cls.astype(np.int64)
    keep = cls != CLS_ZERO if not math.isfinite(out_level) else np.ones(W, dtype=bool)
    if not np.isfinite(ref):
        ref = 0.0
    # largest bounds first: Bernoulli bands need the entries in this order, and the
    # alias tables do not care
    keep = np.nonzero(keep)[0]
    keep = keep[np.argsort(-upper[keep], kind="stable")]
    return OffsetTable(offsets=np.ascontiguousarray(offsets[keep]), mode=np.array(modes, dtype=np.int64),
                       upper=upper[keep], lower=lower[keep], cls=cls[keep], ref=ref, log_out=out_level)


class PlanCache:
    """Per-problem engine plans, kept while their problem lives (blocks ask once each).

    ``factory(problem)`` builds a plan with a ``problem_ref`` weak reference.

    Examples
    --------
    >>> import weakref
    >>> class Plan:
    ...     def __init__(self, problem):
    ...         self.problem_ref = weakref.ref(problem)
    >>> class Problem:
    ...     pass
    >>> plans, pb = PlanCache(Plan), Problem()
    >>> plans(pb) is plans(pb)
    True
    """

    def __init__(self, factory):
        self._factory, self._plans = factory, []

    def __call__(self, problem):
        for plan in self._plans:
            if plan.problem_ref() is problem:
                return plan
        plan = self._factory(problem)
        self._plans.append(plan)
        weakref.finalize(problem, self._forget, plan)  # the grid goes when the problem goes
        return plan

    def _forget(self, plan):
        try:
            self._plans.remove(plan)
        except ValueError:  # pragma: no cover
            pass
