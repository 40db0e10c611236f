"""A validated connection problem, in the driver's frame, as the engines see it.

:func:`spatialconn.connect` checks and converts every input once and builds
a :class:`Problem`; engines trust it. Everything is plain float64 (SI units
when the inputs had units), and the roles are already swapped for in-degree
rules: the *driver* is the side whose count is fixed and the *partners* are
the candidates it draws from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .kernels import Kernel
from .masks import Mask
from .space import wrap

#: lengths whose squares and ratios stay normal float64 numbers
LENGTH_RANGE = (1e-100, 1e100)
#: largest ratio between the problem's lengths (kernel, mask, extent of the positions)
MAX_LENGTH_RATIO = 1e12


def _lengths(obj) -> list:
    """The non-zero length parameters of a kernel or mask (``1/slope`` for inverse lengths)."""
    out = []
    for name, power in getattr(obj, "_length_fields", {}).items():
        value = getattr(obj, name, None)
        if value is None:
            continue
        v = np.abs(np.asarray(value, dtype=np.float64)).ravel()
        v = v[(v > 0) & np.isfinite(v)]
        out.extend((v if power > 0 else 1.0 / v).tolist())
    base = getattr(obj, "base", None)
    return out + (_lengths(base) if base is not None else [])


@dataclass(frozen=True)
class Problem:
    """Inputs of an engine.

    Attributes
    ----------
    drivers, partners : (N_d, d), (N_p, d) float64 arrays
        Positions of the drivers and of their candidate partners.
    sign : {+1.0, -1.0}
        The kernel's displacement ``target - source`` equals
        ``sign * (partner - driver)`` (+1 when the sources drive).
    kernel : Kernel or None
        ``None`` means uniform weights.
    mask : Mask or None
    periods : (d,) float64 array
        Period of each axis, ``inf`` where open.
    exclude_self : bool
        Recurrent population without autapses: partner ``i`` is excluded for driver ``i``.
    key : (2,) uint64 array
        Root key of the driver-keyed random streams (:mod:`spatialconn.rng`).
    chunk_size : int or None
        Drivers per block (engines may choose when None); never changes results.
    """

    drivers: np.ndarray
    partners: np.ndarray
    sign: float
    kernel: Kernel | None
    mask: Mask | None
    periods: np.ndarray
    exclude_self: bool
    key: np.ndarray
    chunk_size: int | None = None

    @property
    def n_drivers(self) -> int:
        return self.drivers.shape[0]

    @property
    def n_partners(self) -> int:
        return self.partners.shape[0]

    @property
    def ndim(self) -> int:
        return self.drivers.shape[1]

    @property
    def reach(self) -> float:
        """Largest distance at which a pair can have non-zero weight (may be ``inf``)."""
        r = np.inf
        if self.kernel is not None:
            r = min(r, self.kernel.cutoff)
        if self.mask is not None:
            r = min(r, self.mask.reach)
        return float(r)

    @property
    def positive_everywhere(self) -> bool:
        """True when every pair other than excluded autapses has weight > 0 (also in float64)."""
        if self.mask is not None:
            return False
        if self.kernel is None:
            return True
        return getattr(self.kernel, "positive_everywhere", False) and self.well_scaled

    @cached_property  # O(N) once per problem (the engines ask for every block)
    def well_scaled(self) -> bool:
        """Whether every length suits float64 arithmetic on weights.

        The kernel's and mask's non-zero lengths, the coordinates and the
        positions' extent must lie within :data:`LENGTH_RANGE`, and all of
        them within :data:`MAX_LENGTH_RATIO` of each other: then ``log K``
        of every pair is finite where ``K > 0`` (no underflow of σ² or of
        ``-d/scale``), and the compiled engine's cell counts stay small.

        Examples
        --------
        >>> import numpy as np, spatialconn as sc
        >>> plan = sc.plan
        >>> pos = np.random.default_rng(0).random((10, 2))
        >>> plan(pos, rule=sc.FixedOutDegree(1), kernel=sc.Gaussian(0.1)).problem.well_scaled
        True
        >>> plan(pos, rule=sc.FixedOutDegree(1), kernel=sc.Gaussian(1e-310)).problem.well_scaled
        False
        """
        lo, hi = LENGTH_RANGE
        lengths = _lengths(self.kernel) + _lengths(self.mask)
        span, biggest = 0.0, 0.0
        for x in (self.drivers, self.partners):
            for column in x.T if x.size else ():  # one column at a time: numpy's axis=0 reductions are ~15x slower
                top, bottom = float(column.max()), float(column.min())
                span, biggest = max(span, top - bottom), max(biggest, top, -bottom)
        span = max([span, *self.periods[np.isfinite(self.periods)].tolist()])
        if any(not lo <= x <= hi for x in lengths) or biggest > hi or span > hi:
            return False
        return not lengths or max(lengths + [span]) <= MAX_LENGTH_RATIO * min(lengths)

    def displacement(self, driver_pos: np.ndarray, partner_pos: np.ndarray) -> np.ndarray:
        """Kernel displacement ``target - source`` for driver/partner positions (broadcasting)."""
        disp = partner_pos - driver_pos
        if self.sign < 0:
            disp = -disp
        return wrap(disp, self.periods)

    def log_weights(self, disp: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
        """``log w`` of kernel displacements (mask applied; autapses are not handled here).

        ``dist``, the norms of ``disp``, may be passed when already known.
        """
        if dist is None:
            dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        if self.kernel is None:
            lw = np.zeros(dist.shape)
        else:
            lw = np.asarray(self.kernel.log_weight(disp, dist), dtype=np.float64)
        if self.mask is not None:
            lw = np.where(self.mask.contains(disp, dist), lw, -np.inf)
        return lw
