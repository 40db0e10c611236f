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

__all__ = ["Mask", "Disc", "Annulus", "Box", "Ellipse"]


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
        if np.any(lo > hi):
            raise ValueError(f"Box needs lower <= upper, got lower={lo.tolist()}, upper={hi.tolist()}")

    @property
    def ndim(self) -> int:  # type: ignore[override]
        return np.asarray(self.lower).size

    def contains(self, disp, dist=None):
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        return np.all((disp >= lo) & (disp <= hi), axis=-1)

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
