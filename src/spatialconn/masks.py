"""Masks: regions of displacement ``target - source`` outside which no pair connects.

A mask is a property of the pair, so it means the same for every rule
(NEST instead anchors masks on the driver; the NEST adapter translates).
Every mask knows its :attr:`~Mask.reach`, the largest distance it admits,
which bounds the neighbourhood a spatial index must search.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> sc.Disc(radius=1.0).contains(np.array([[0.5, 0.5], [1.0, 1.0]]))
array([ True, False])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validate import finite_array, positive, scalar

__all__ = ["Annulus", "Box", "Disc", "Ellipse", "Mask", "RotatedBox", "periodic_images"]


class Mask:
    """Base class of masks."""

    _length_fields: dict = {}
    ndim: int | None = None  # required dimension, None = any

    def contains(self, disp: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:  # pragma: no cover
        """Boolean array: which displacements ``(..., d)`` lie in the mask."""
        raise NotImplementedError

    @property
    def reach(self) -> float:  # pragma: no cover
        """Largest distance ``|target - source|`` the mask admits."""
        raise NotImplementedError

    def bbox(self, d: int) -> tuple:
        """``(lower, upper)`` arrays of length ``d``: the smallest box holding the mask.

        Examples
        --------
        >>> import spatialconn as sc
        >>> [b.tolist() for b in sc.Disc(0.2, center=(0.1, 0.0)).bbox(2)]
        [[-0.1, -0.2], [0.30000000000000004, 0.2]]
        """
        r = self._radius()
        c = np.zeros(d) if getattr(self, "center", None) is None else np.asarray(self.center, float)
        return c - r, c + r

    def _radius(self) -> float:  # pragma: no cover
        raise NotImplementedError


def _norm(disp, dist):
    if dist is None:
        dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
    return dist


def _center(center, name="center"):
    return None if center is None else finite_array(center, name)


@dataclass(frozen=True)
class Disc(Mask):
    """Disc (ball in 3-D) of displacements, ``|x - center| <= radius``.

    Parameters
    ----------
    radius : float or length quantity
    center : sequence of float, optional
        Offset of the disc from zero displacement (NEST's ``anchor``).

    Examples
    --------
    >>> import spatialconn as sc
    >>> sc.Disc(0.2).reach
    0.2

    References
    ----------
    NEST masks ``circular`` and ``spherical``.
    """

    radius: float
    center: tuple | None = None

    _length_fields = {"radius": 1, "center": 1}

    def __post_init__(self):
        positive(self.radius, "radius")
        _center(self.center)

    def contains(self, disp, dist=None):
        if self.center is not None:
            disp, dist = disp - np.asarray(self.center, dtype=np.float64), None
        return _norm(disp, dist) <= float(np.asarray(self.radius))

    def _radius(self):
        return float(np.asarray(self.radius))

    @property
    def reach(self) -> float:
        c = 0.0 if self.center is None else float(np.linalg.norm(np.asarray(self.center, float)))
        return float(np.asarray(self.radius)) + c


@dataclass(frozen=True)
class Annulus(Mask):
    """Ring (spherical shell in 3-D), ``inner < |x - center| <= outer``.

    Points exactly on the inner circle are excluded, as in NEST's ``doughnut``.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> sc.Annulus(0.1, 0.3).contains(np.array([[0.1, 0.0], [0.2, 0.0]]))
    array([False,  True])

    References
    ----------
    NEST mask ``doughnut``.
    """

    inner: float
    outer: float
    center: tuple | None = None

    _length_fields = {"inner": 1, "outer": 1, "center": 1}

    def __post_init__(self):
        i, o = scalar(self.inner, "inner"), positive(self.outer, "outer")
        if not 0 <= i < o:
            raise ValueError(f"Annulus needs 0 <= inner < outer, got inner={i}, outer={o}")
        _center(self.center)

    def contains(self, disp, dist=None):
        if self.center is not None:
            disp, dist = disp - np.asarray(self.center, dtype=np.float64), None
        d = _norm(disp, dist)
        return (d > float(np.asarray(self.inner))) & (d <= float(np.asarray(self.outer)))

    def _radius(self):
        return float(np.asarray(self.outer))

    @property
    def reach(self) -> float:
        c = 0.0 if self.center is None else float(np.linalg.norm(np.asarray(self.center, float)))
        return float(np.asarray(self.outer)) + c


@dataclass(frozen=True)
class Box(Mask):
    """Axis-aligned box of displacements, ``lower <= x <= upper`` componentwise.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> sc.Box([-0.1, -0.2], [0.1, 0.2]).contains(np.array([[0.0, 0.15]]))
    array([ True])

    References
    ----------
    NEST masks ``rectangular`` and ``box``.
    """

    lower: tuple
    upper: tuple

    _length_fields = {"lower": 1, "upper": 1}

    def __post_init__(self):
        lo, hi = finite_array(self.lower, "lower"), finite_array(self.upper, "upper")
        if lo.ndim != 1 or lo.shape != hi.shape or not 1 <= lo.size <= 3:
            raise ValueError(
                f"lower and upper must be vectors of equal length 1 to 3, got {lo.tolist()}, {hi.tolist()}"
            )
        _check_lower_upper(lo, hi, "Box")

    @property
    def ndim(self) -> int:  # type: ignore[override]
        return np.asarray(self.lower).size

    def contains(self, disp, dist=None):
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        return np.all((disp >= lo) & (disp <= hi), axis=-1)

    def bbox(self, d: int) -> tuple:
        return np.asarray(self.lower, float), np.asarray(self.upper, float)

    @property
    def reach(self) -> float:
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        return float(np.linalg.norm(np.maximum(np.abs(lo), np.abs(hi))))


@dataclass(frozen=True)
class Ellipse(Mask):
    """Ellipse (ellipsoid in 3-D): ``Σ (y_i / a_i)² <= 1`` with ``y = Rᵀ(x - center)``.

    Parameters
    ----------
    semi_axes : sequence of float
        Semi-axis lengths ``a_i`` (half of NEST's ``major_axis``/``minor_axis``).
    angle : float, default 0
        Rotation of the first axis, counter-clockwise in radians (2-D only).
    center : sequence of float, optional

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> sc.Ellipse((0.3, 0.1)).contains(np.array([[0.25, 0.0], [0.0, 0.2]]))
    array([ True, False])

    References
    ----------
    NEST masks ``elliptical`` and ``ellipsoidal``.
    """

    semi_axes: tuple
    angle: float = 0.0
    center: tuple | None = None

    _length_fields = {"semi_axes": 1, "center": 1}

    def __post_init__(self):
        a = finite_array(self.semi_axes, "semi_axes")
        if a.ndim != 1 or not 2 <= a.size <= 3 or np.any(a <= 0):
            raise ValueError(f"semi_axes must be 2 or 3 positive lengths, got {a.tolist()}")
        ang = scalar(self.angle, "angle")
        if ang != 0 and a.size != 2:
            raise ValueError("angle applies to 2-D ellipses only")
        c = _center(self.center)
        if c is not None and c.shape != a.shape:
            raise ValueError(f"center must have {a.size} components, got {c.tolist()}")

    @property
    def ndim(self) -> int:  # type: ignore[override]
        return np.asarray(self.semi_axes).size

    def contains(self, disp, dist=None):
        x = np.asarray(disp, dtype=np.float64)
        if self.center is not None:
            x = x - np.asarray(self.center, dtype=np.float64)
        if self.angle:
            c, s = math.cos(self.angle), math.sin(self.angle)
            x = np.stack([c * x[..., 0] + s * x[..., 1], -s * x[..., 0] + c * x[..., 1]], axis=-1)
        a = np.asarray(self.semi_axes, dtype=np.float64)
        return np.sum((x / a) ** 2, axis=-1) <= 1.0

    def bbox(self, d: int) -> tuple:
        a = np.asarray(self.semi_axes, float)
        if self.angle:  # half-widths of a rotated ellipse
            c, s = math.cos(self.angle), math.sin(self.angle)
            a = np.array([math.hypot(a[0] * c, a[1] * s), math.hypot(a[0] * s, a[1] * c)])
        centre = np.zeros(a.size) if self.center is None else np.asarray(self.center, float)
        return centre - a, centre + a

    @property
    def reach(self) -> float:
        c = 0.0 if self.center is None else float(np.linalg.norm(np.asarray(self.center, float)))
        return float(np.max(np.asarray(self.semi_axes, float))) + c


def nearest_distance(mask: Mask | None) -> float:
    """A lower bound of ``|x|`` over the displacements ``x`` in ``mask`` (0 without a mask).

    With :attr:`Mask.reach` it brackets the distances a pair inside the mask
    can have, so a kernel's largest value over the mask can be bounded.

    Examples
    --------
    >>> import spatialconn as sc
    >>> nearest_distance(sc.Annulus(0.05, 0.3)), nearest_distance(sc.Box([0.2, -1.0], [0.5, 1.0]))
    (0.05, 0.2)
    """
    if mask is None:
        return 0.0

    def off(center):
        return 0.0 if center is None else float(np.linalg.norm(np.asarray(center, dtype=np.float64)))

    if isinstance(mask, Disc):
        return max(0.0, off(mask.center) - float(np.asarray(mask.radius)))
    if isinstance(mask, Annulus):
        if mask.center is None:
            return float(np.asarray(mask.inner))
        return max(0.0, off(mask.center) - float(np.asarray(mask.outer)))
    if isinstance(mask, Box):
        lo, hi = np.asarray(mask.lower, float), np.asarray(mask.upper, float)
        return float(np.linalg.norm(np.clip(0.0, lo, hi)))
    if isinstance(mask, Ellipse):
        return max(0.0, off(mask.center) - float(np.max(np.asarray(mask.semi_axes, float))))
    return 0.0


def _check_lower_upper(lo, hi, name):
    bad = np.nonzero(~(lo < hi))[0]
    if bad.size:
        a = int(bad[0])
        raise ValueError(f"{name} needs lower < upper on every axis, but axis {a} has lower = {lo[a]} and "
                         f"upper = {hi[a]} (lower={lo.tolist()}, upper={hi.tolist()})")


@dataclass(frozen=True)
class RotatedBox(Mask):
    """A box ``lower <= y <= upper`` rotated about its centre (NEST's rotated ``rectangular``/``box``).

    A displacement ``x`` is inside when ``y = R⁻¹ (x - c) + c`` lies in the
    box, where ``c`` is the box centre and ``R`` rotates by ``angle`` about
    the z axis and then by ``polar_angle`` about the y axis (3-D only), as
    NEST's ``azimuth_angle`` and ``polar_angle`` (given here in radians).
    Boundaries get NEST's tolerance of 1e-12. Sampled by the reference
    engine's code (the compiled engine knows axis-aligned boxes only).

    Examples
    --------
    >>> import math, numpy as np, spatialconn as sc
    >>> m = sc.RotatedBox([-0.5, -0.1], [0.5, 0.1], angle=math.pi / 2)
    >>> m.contains(np.array([[0.0, 0.4], [0.4, 0.0]]))
    array([ True, False])

    References
    ----------
    NEST masks ``rectangular``/``box`` with ``azimuth_angle``/``polar_angle``.
    """

    lower: tuple
    upper: tuple
    angle: float = 0.0
    polar_angle: float = 0.0

    _length_fields = {"lower": 1, "upper": 1}
    EPS = 1e-12

    def __post_init__(self):
        lo, hi = finite_array(self.lower, "lower"), finite_array(self.upper, "upper")
        if lo.ndim != 1 or lo.shape != hi.shape or not 2 <= lo.size <= 3:
            raise ValueError(f"lower and upper must be vectors of equal length 2 or 3, got {lo.tolist()}, "
                             f"{hi.tolist()}")
        _check_lower_upper(lo, hi, "RotatedBox")
        scalar(self.angle, "angle")
        if scalar(self.polar_angle, "polar_angle") != 0 and lo.size != 3:
            raise ValueError("polar_angle applies to 3-D boxes only")

    @property
    def ndim(self) -> int:  # type: ignore[override]
        return np.asarray(self.lower).size

    def _rotation(self):
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        if self.ndim == 2:
            return np.array([[ca, -sa], [sa, ca]])
        cp, sp = math.cos(self.polar_angle), math.sin(self.polar_angle)
        rz = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        return rz @ ry  # R = R_z(azimuth) R_y(polar); NEST applies R⁻¹ = R_y(-polar) R_z(-azimuth)

    def contains(self, disp, dist=None):
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        c = (lo + hi) / 2
        y = (np.asarray(disp, float) - c) @ self._rotation() + c  # rows: R⁻¹ (x - c) = (x - c) R
        return np.all((y >= lo - self.EPS) & (y <= hi + self.EPS), axis=-1)

    def _corners(self):
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        c = (lo + hi) / 2
        grid = np.array(np.meshgrid(*[(a, b) for a, b in zip(lo, hi)], indexing="ij")).reshape(lo.size, -1).T
        return (grid - c) @ self._rotation().T + c

    def bbox(self, d: int) -> tuple:
        corners = self._corners()
        return corners.min(axis=0) - self.EPS, corners.max(axis=0) + self.EPS

    @property
    def reach(self) -> float:
        return float(np.linalg.norm(self._corners(), axis=1).max()) + self.EPS


def periodic_images(mask: Mask | None, periods: np.ndarray, *, oversized: bool = False):
    """``mask`` for minimum-image displacements on axes with finite ``periods``.

    A pair is in the mask when *some* periodic image of its displacement is
    (NEST's rule on ``edge_wrap`` layers). Where the mask's bounding box lies
    within ``[-L/2, L/2]`` on every periodic axis that image is the minimum
    image and ``mask`` is returned unchanged; otherwise the mask is wrapped
    so that every image is tested.

    Raises
    ------
    ValueError
        If the bounding box is wider than the period on some axis (the mask
        would contain several images of one displacement), unless
        ``oversized`` (NEST's ``allow_oversized_mask``: each pair still
        counts once).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> m = periodic_images(sc.Box([0.2, -0.1], [0.9, 0.1]), np.array([1.0, np.inf]))
    >>> m.contains(np.array([[-0.2, 0.0], [0.1, 0.0]]))   # -0.2 is the image of 0.8
    array([ True, False])
    """
    if mask is None or not np.isfinite(periods).any():
        return mask
    d = periods.size
    lo, hi = (np.broadcast_to(np.asarray(b, float), (d,)) for b in mask.bbox(d))
    periodic = np.isfinite(periods)
    L = np.where(periodic, periods, np.inf)
    tol = 1e-12 * np.where(periodic, L, 0.0)
    wide = periodic & (hi - lo > L + tol)
    if wide.any() and not oversized:
        a = int(np.argmax(wide))
        raise ValueError(f"mask {mask!r} spans {hi[a] - lo[a]:g} on periodic axis {a}, more than its period "
                         f"{L[a]:g}: a displacement would lie in it several times over; shrink the mask "
                         "(NEST: allow_oversized_mask)")
    if np.all(~periodic | ((lo >= -L / 2 - tol) & (hi <= L / 2 + tol))):
        return mask
    return _Images(mask, tuple(np.where(periodic, L, np.inf).tolist()))


@dataclass(frozen=True)
class _Images(Mask):
    """Displacements some periodic image of which lies in ``base`` (see :func:`periodic_images`)."""

    base: Mask
    periods: tuple

    _length_fields = {}  # built by periodic_images from plain (SI) values

    @property
    def ndim(self):  # type: ignore[override]
        return len(self.periods)

    def _shifts(self):
        L = np.asarray(self.periods, float)
        lo, hi = (np.broadcast_to(np.asarray(b, float), L.shape) for b in self.base.bbox(L.size))
        ranges = []
        for a in range(L.size):
            if np.isfinite(L[a]):  # images x + kL with x in [-L/2, L/2) that can reach [lo, hi]
                ranges.append(np.arange(math.ceil((lo[a] - L[a] / 2) / L[a]),
                                        math.floor((hi[a] + L[a] / 2) / L[a]) + 1) * L[a])
            else:
                ranges.append(np.zeros(1))
        return np.array(np.meshgrid(*ranges, indexing="ij")).reshape(L.size, -1).T

    def contains(self, disp, dist=None):
        disp = np.asarray(disp, float)
        out = np.zeros(disp.shape[:-1], dtype=bool)
        for shift in self._shifts():
            out |= self.base.contains(disp + shift)
        return out

    def bbox(self, d: int) -> tuple:
        L = np.asarray(self.periods, float)
        lo, hi = (np.broadcast_to(np.asarray(b, float), L.shape) for b in self.base.bbox(d))
        per = np.isfinite(L)
        return np.where(per, -L / 2, lo), np.where(per, L / 2, hi)

    @property
    def reach(self) -> float:
        lo, hi = self.bbox(len(self.periods))
        return float(np.linalg.norm(np.maximum(np.abs(lo), np.abs(hi))))
