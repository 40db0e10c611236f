"""Connection kernels: relative preference as a function of displacement.

A kernel ``K`` maps the displacement ``target - source`` (or, for the
isotropic kernels, the distance) to a non-negative weight. The fixed-count
rules only use ratios of weights, so the scale of ``K`` does not matter for
them; :class:`~spatialconn.PairwiseBernoulli` uses ``p * K`` as a probability.

Every kernel evaluates ``log K`` (``-inf`` where ``K = 0``) so that ratios
stay exact even when all weights underflow (partners many σ away). The
formulas follow NEST's ``nest.spatial_distributions``.

Examples
--------
>>> import spatialconn as sc
>>> k = sc.Gaussian(sigma=0.1)
>>> float(k(0.1))  # doctest: +ELLIPSIS
0.6065306597...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ._validate import finite_array, positive, scalar

__all__ = [
    "Kernel",
    "Gaussian",
    "Exponential",
    "Gamma",
    "Linear",
    "Constant",
    "AnisotropicGaussian",
    "CustomKernel",
    "Shifted",
    "Expression",
]


#: largest Gamma shape: its log-density is a difference of terms ~ kappa·log(kappa), so the rounding
#: error grows like kappa·1e-16 in log units (1e-6 at this limit)
MAX_KAPPA = 1e10


class Kernel:
    """Base class of kernels.

    Subclasses set ``isotropic`` and implement :meth:`log_of_distance`
    (isotropic kernels) or :meth:`log_weight` (kernels of the displacement),
    plus the properties :attr:`cutoff` and :attr:`peak`.
    """

    isotropic: bool = True
    #: True when K > 0 for every displacement (then no pair is ever excluded by the kernel)
    positive_everywhere: bool = True
    _length_fields: dict = {}

    def log_of_distance(self, dist: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_weight(self, disp: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
        """``log K`` of displacements ``disp`` (shape ``(..., d)``); ``-inf`` where ``K = 0``.

        ``dist``, the norms of ``disp``, may be passed when already known.
        """
        if dist is None:
            dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        return self.log_of_distance(dist)

    def __call__(self, x) -> np.ndarray:
        """Kernel values: of distances (isotropic kernels) or of displacements ``(..., d)``."""
        x = np.asarray(x, dtype=np.float64)
        if self.isotropic:
            return np.exp(self.log_of_distance(x))
        return np.exp(self.log_weight(x))

    @property
    def cutoff(self) -> float:
        """Distance beyond which ``K = 0`` (``inf`` if the support is unbounded)."""
        return math.inf

    @property
    def peak(self) -> float:
        """Supremum of ``K`` over all displacements (may be ``inf``)."""
        return 1.0

    def peak_within(self, reach: float) -> float:
        """Supremum of ``K`` over displacements no longer than ``reach``."""
        return self.peak_between(0.0, reach)

    def peak_between(self, near: float, far: float) -> float:
        """Supremum of ``K`` over displacements ``x`` with ``near <= |x| <= far``.

        Exact for the isotropic built-in kernels (each is unimodal in the
        distance, so the supremum lies at the mode clipped to the range);
        :attr:`peak` otherwise.

        Examples
        --------
        >>> import spatialconn as sc
        >>> round(sc.Gamma(0.5, 0.1).peak_between(0.05, 0.3), 4)
        4.8394
        """
        mode = self._mode_distance()
        if mode is None or not self.isotropic:
            return self.peak
        at = min(max(mode, near), far)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            value = float(np.exp(self.log_of_distance(np.float64(at))))
        return math.inf if math.isnan(value) else value

    def _mode_distance(self) -> float | None:
        """Distance where an isotropic, unimodal ``K`` peaks (None: unknown)."""
        return None

    def shifted(self, offset) -> Shifted:
        """This kernel centred on ``offset`` instead of zero displacement.

        Examples
        --------
        >>> import spatialconn as sc
        >>> k = sc.Gaussian(1.0).shifted([2.0, 0.0])
        >>> float(k(np.array([2.0, 0.0])))
        1.0
        """
        return Shifted(self, offset)


def _log_nonneg(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(x, 0.0))


@dataclass(frozen=True)
class Gaussian(Kernel):
    """Gaussian of the distance, ``K(d) = exp(-(d - mean)² / (2 sigma²))``.

    A ring when ``mean > 0``. Peak 1, unbounded support (truncated exactly by
    the engines, see the design notes).

    Parameters
    ----------
    sigma : float or length quantity
        Standard deviation, > 0.
    mean : float or length quantity, default 0
        Distance of maximal preference, >= 0.

    Examples
    --------
    >>> import spatialconn as sc
    >>> float(sc.Gaussian(sigma=2.0)(0.0))
    1.0

    References
    ----------
    NEST ``nest.spatial_distributions.gaussian(x, mean, std)``.
    """

    sigma: float
    mean: float = 0.0

    _length_fields = {"sigma": 1, "mean": 1}

    def __post_init__(self):
        positive(self.sigma, "sigma")
        if scalar(self.mean, "mean") < 0:
            raise ValueError(f"mean must be >= 0, got {self.mean}")

    def log_of_distance(self, dist):
        s, m = float(np.asarray(self.sigma)), float(np.asarray(self.mean))
        with np.errstate(over="ignore"):  # (d - m) / s first: s * s may underflow, the ratio saturates at inf
            z = (dist - m) / s
            return -0.5 * (z * z)

    def _mode_distance(self):
        return float(np.asarray(self.mean))


@dataclass(frozen=True)
class Exponential(Kernel):
    """Exponential of the distance, ``K(d) = exp(-d / scale)``; peak 1.

    Examples
    --------
    >>> import spatialconn as sc
    >>> float(sc.Exponential(scale=1.0)(1.0))  # doctest: +ELLIPSIS
    0.367879...

    References
    ----------
    NEST ``nest.spatial_distributions.exponential(x, beta)``.
    """

    scale: float

    _length_fields = {"scale": 1}

    def __post_init__(self):
        positive(self.scale, "scale")

    def log_of_distance(self, dist):
        with np.errstate(over="ignore"):  # d / scale saturates at inf for a tiny scale
            return -dist / float(np.asarray(self.scale))

    def _mode_distance(self):
        return 0.0


@dataclass(frozen=True)
class Gamma(Kernel):
    """Gamma density of the distance, ``K(d) = d^(κ-1) e^(-d/θ) / (θ^κ Γ(κ))``.

    Normalised like NEST's, so it can exceed 1 (this matters only for
    :class:`~spatialconn.PairwiseBernoulli`). For ``kappa < 1`` it is
    infinite at ``d = 0``: partners at zero distance then come before all
    others, uniformly among themselves (see the docs on infinite weights).

    Parameters
    ----------
    kappa : float
        Shape, > 0 (dimensionless).
    theta : float or length quantity
        Scale, > 0.

    Examples
    --------
    >>> import spatialconn as sc
    >>> float(sc.Gamma(kappa=1.0, theta=2.0)(0.0))
    0.5

    References
    ----------
    NEST ``nest.spatial_distributions.gamma(x, kappa, theta)``.
    """

    kappa: float
    theta: float

    _length_fields = {"theta": 1}

    def __post_init__(self):
        if positive(self.kappa, "kappa") > MAX_KAPPA:
            raise ValueError(f"kappa must be at most {MAX_KAPPA:g} (beyond, rounding swamps the log-density "
                             f"in float64), got {float(self.kappa):g}")
        positive(self.theta, "theta")

    @property
    def positive_everywhere(self) -> bool:  # type: ignore[override]
        return float(self.kappa) == 1.0

    def log_of_distance(self, dist):
        k, t = float(self.kappa), float(np.asarray(self.theta))
        # imported when needed: importing scipy.special takes ~0.3 s
        from scipy.special import gammaln

        const = -k * math.log(t) - float(gammaln(k))
        with np.errstate(divide="ignore", invalid="ignore"):
            if k == 1.0:
                out = -dist / t + const
            else:
                out = (k - 1.0) * np.log(dist) - dist / t + const
        return out

    def _mode_distance(self):
        return max(0.0, (float(self.kappa) - 1.0) * float(np.asarray(self.theta)))

    @property
    def peak(self) -> float:
        k, t = float(self.kappa), float(np.asarray(self.theta))
        if k < 1:
            return math.inf
        return float(np.exp(self.log_of_distance(np.float64((k - 1.0) * t))))


@dataclass(frozen=True)
class Linear(Kernel):
    """Linear function of the distance clipped at zero, ``max(0, intercept + slope·d)``.

    With a negative slope the support ends at ``-intercept / slope``.

    Parameters
    ----------
    slope : float or inverse-length quantity
    intercept : float, default 1

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.Linear(slope=-2.0, intercept=1.0)
    >>> k.cutoff
    0.5

    References
    ----------
    NEST ``c + a * nest.spatial.distance``.
    """

    slope: float
    intercept: float = 1.0

    _length_fields = {"slope": -1}

    def __post_init__(self):
        a, c = scalar(self.slope, "slope"), scalar(self.intercept, "intercept")
        if not (math.isfinite(a) and math.isfinite(c)):
            raise ValueError(f"slope and intercept must be finite, got {a}, {c}")
        if c <= 0 and a <= 0:
            raise ValueError(
                f"Linear(slope={a}, intercept={c}) is zero at every distance > 0"
            )

    def log_of_distance(self, dist):
        return _log_nonneg(float(self.intercept) + float(np.asarray(self.slope)) * dist)

    @property
    def positive_everywhere(self) -> bool:  # type: ignore[override]
        return float(np.asarray(self.slope)) >= 0 and float(self.intercept) > 0

    def peak_between(self, near: float, far: float) -> float:
        a, c = float(np.asarray(self.slope)), float(self.intercept)
        if a == 0:
            return max(c, 0.0)
        return max(0.0, c + a * near, c + a * far)  # linear: the largest value is at an end

    @property
    def cutoff(self) -> float:
        a = float(np.asarray(self.slope))
        return -float(self.intercept) / a if a < 0 else math.inf

    @property
    def peak(self) -> float:
        return float(self.intercept) if float(np.asarray(self.slope)) <= 0 else math.inf


@dataclass(frozen=True)
class Constant(Kernel):
    """Constant kernel, ``K = value``: uniform choice among the candidates.

    Examples
    --------
    >>> import spatialconn as sc
    >>> float(sc.Constant(0.5)(3.0))
    0.5
    """

    value: float = 1.0

    def __post_init__(self):
        positive(self.value, "value")

    def log_of_distance(self, dist):
        return np.full(np.shape(dist), math.log(self.value))

    @property
    def peak(self) -> float:
        return float(self.value)

    def peak_between(self, near: float, far: float) -> float:
        return float(self.value)


@dataclass(frozen=True)
class AnisotropicGaussian(Kernel):
    """Gaussian of the displacement with its own σ per axis, rotated or correlated.

    ``K(x) = exp(-½ (x - mean)ᵀ C⁻¹ (x - mean))`` with covariance
    ``C = R diag(sigma²) Rᵀ``, where ``R`` rotates by ``angle`` (2-D, radians,
    counter-clockwise) or is a given 3×3 ``rotation`` matrix; alternatively, in
    2-D, the correlation ``rho`` of NEST's ``gaussian2D``. Peak 1.

    Parameters
    ----------
    sigma : sequence of float
        Standard deviation along each (unrotated) axis, all > 0.
    angle : float, optional
        Rotation in 2-D (radians).
    rho : float, optional
        Correlation coefficient in 2-D, ``-1 < rho < 1`` (instead of ``angle``).
    rotation : (3, 3) array, optional
        Orthonormal rotation matrix in 3-D.
    mean : sequence of float, optional
        Displacement of maximal preference (a centre offset).

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.AnisotropicGaussian(sigma=(2.0, 0.5), angle=0.0)
    >>> float(k(np.array([2.0, 0.0])))  # doctest: +ELLIPSIS
    0.606530...

    References
    ----------
    NEST ``nest.spatial_distributions.gaussian2D``.
    """

    sigma: tuple
    angle: float | None = None
    rho: float | None = None
    rotation: tuple | None = None
    mean: tuple | None = None

    isotropic = False
    _length_fields = {"sigma": 1, "mean": 1}
    _precision: np.ndarray = field(init=False, repr=False, compare=False)
    _whiten: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        s = finite_array(self.sigma, "sigma")
        if s.ndim != 1 or not 1 <= s.size <= 3 or np.any(s <= 0):
            raise ValueError(f"sigma must be 1 to 3 positive numbers, got {s.tolist()}")
        d = s.size
        if self.mean is not None:
            m = finite_array(self.mean, "mean")
            if m.shape != (d,):
                raise ValueError(f"mean must have {d} components like sigma, got {m.tolist()}")
        given = [n for n in ("angle", "rho", "rotation") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of angle, rho, rotation; got {given}")
        # log K = -|M (x - mean)|² / 2 with M = L⁻¹ diag(1/sigma) Rᵀ (L: Cholesky factor of the
        # correlation): no sigma² is formed, so tiny or huge sigmas neither underflow nor overflow
        R, corr = np.eye(d), np.eye(d)
        if self.angle is not None:
            if d != 2:
                raise ValueError(f"angle applies to 2-D kernels, sigma has {d} components")
            a = scalar(self.angle, "angle")
            R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        elif self.rho is not None:
            if d != 2:
                raise ValueError(f"rho applies to 2-D kernels, sigma has {d} components")
            r = scalar(self.rho, "rho")
            if not -1 < r < 1:
                raise ValueError(f"rho must lie in (-1, 1), got {r}")
            corr = np.array([[1.0, r], [r, 1.0]])
        elif self.rotation is not None:
            R = finite_array(self.rotation, "rotation")
            if R.shape != (d, d) or not np.allclose(R @ R.T, np.eye(d), atol=1e-9):
                raise ValueError(f"rotation must be an orthonormal {d}x{d} matrix")
        M = np.linalg.inv(np.linalg.cholesky(corr)) @ (R.T / s[:, None])
        with np.errstate(over="ignore", invalid="ignore"):
            P = M.T @ M
        object.__setattr__(self, "_whiten", M)
        object.__setattr__(self, "_precision", P)

    @property
    def ndim(self) -> int:
        return len(np.atleast_1d(np.asarray(self.sigma)))

    @property
    def center(self) -> np.ndarray:
        return np.zeros(self.ndim) if self.mean is None else np.asarray(self.mean, dtype=np.float64)

    def log_weight(self, disp, dist=None):
        x = np.asarray(disp, dtype=np.float64) - self.center
        with np.errstate(over="ignore", invalid="ignore"):
            y = np.einsum("ij,...j->...i", self._whiten, x)
            q = np.einsum("...i,...i->...", y, y)
        return -0.5 * np.where(np.isnan(q), np.inf, q)


@dataclass(frozen=True, init=False)
class CustomKernel(Kernel):
    """A user function as kernel, with a declared cutoff.

    Parameters
    ----------
    function : callable
        Vectorised: takes an array of distances (``on="distance"``) or of
        displacements of shape ``(n, d)`` (``on="displacement"``) and returns
        non-negative weights of matching length.
    cutoff : float or length quantity
        Distance beyond which the function is taken to be 0 (``inf`` allowed;
        then every pair is evaluated).
    on : {"distance", "displacement"}
    peak : float, optional
        Supremum of the function, needed by :class:`~spatialconn.PairwiseBernoulli`.
        A declared bound: the grid engine samples the fixed-degree rules
        by rejection under it (see below).
    decreasing : bool, default False
        Declares the function non-increasing in the distance (``on="distance"``
        only), so that ``f(r)`` bounds it at every distance ``>= r``.

    Notes
    -----
    With a finite reach (``cutoff`` or a mask) and a declared bound
    (``decreasing=True`` or ``peak``), the grid engine samples
    :class:`~spatialconn.FixedOutDegree` and
    :class:`~spatialconn.FixedInDegree` by rejection: the compiled core
    proposes pairs from the cells within reach in proportion to the bound,
    the function is called once per batch of proposals, and a proposal is
    accepted with probability ``f / bound`` (exact; a value above its
    declared bound is a ``ValueError``). The bound is the user's promise:
    the engine checks it on every pair it evaluates, not on the others.
    Otherwise every pair is evaluated (the reference engine's code).

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.CustomKernel(lambda d: 1.0 / (1.0 + d**2), cutoff=5.0)
    >>> float(k(1.0))
    0.5
    >>> k = sc.CustomKernel(lambda d: np.exp(-d), cutoff=1.0, decreasing=True)
    >>> k.bounded, float(np.exp(k.log_bound(np.array([0.5])))[0])  # doctest: +ELLIPSIS
    (True, 0.6065306597...)
    """

    function: Callable
    cutoff_distance: float = math.inf
    on: str = "distance"
    peak_value: float | None = None
    decreasing: bool = False

    _length_fields = {"cutoff_distance": 1}
    positive_everywhere = False

    def __init__(self, function, cutoff, on="distance", peak=None, decreasing=False):
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "cutoff_distance", cutoff)
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "peak_value", peak)
        object.__setattr__(self, "decreasing", decreasing)
        if not callable(function):
            raise TypeError(f"function must be callable, got {function!r}")
        if on not in ("distance", "displacement"):
            raise ValueError(f"on must be 'distance' or 'displacement', got {on!r}")
        positive(cutoff, "cutoff", allow_inf=True)
        if peak is not None:
            positive(peak, "peak", allow_inf=True)
        if not isinstance(decreasing, (bool, np.bool_)):
            raise TypeError(f"decreasing must be True or False, got {decreasing!r}")
        if decreasing and on != "distance":
            raise ValueError("decreasing=True declares a function of the distance; it needs on='distance', "
                             f"got on={on!r}")

    def _with_lengths(self, **values):
        cutoff = values.get("cutoff_distance", self.cutoff_distance)
        return CustomKernel(self.function, cutoff, on=self.on, peak=self.peak_value, decreasing=self.decreasing)

    @property
    def bounded(self) -> bool:
        """Whether a bound is declared (``decreasing=True`` or a finite ``peak``)."""
        return bool(self.decreasing) or math.isfinite(self.peak)

    def log_bound(self, near: np.ndarray) -> np.ndarray:
        """Declared bound of ``log K`` over displacements with distance ``>= near`` (``inf``: none).

        ``log f(near)`` when the function is declared non-increasing, capped
        by ``log peak`` when a peak is given; ``-inf`` beyond the cutoff.
        """
        near = np.asarray(near, dtype=np.float64)
        out = np.full(near.shape, math.log(self.peak) if self.peak > 0 else -math.inf)
        if self.decreasing:
            inside = near <= self.cutoff
            out = np.where(inside, np.minimum(out, self.log_of_distance(np.where(inside, near, 0.0))), out)
        return np.where(near <= self.cutoff, out, -np.inf)

    @property
    def isotropic(self) -> bool:  # type: ignore[override]
        return self.on == "distance"

    @property
    def cutoff(self) -> float:
        return float(np.asarray(self.cutoff_distance))

    @property
    def peak(self) -> float:
        return math.inf if self.peak_value is None else float(self.peak_value)

    def _values(self, x, n_expected):
        vals = np.asarray(self.function(x), dtype=np.float64)
        if vals.shape != n_expected:
            raise ValueError(
                f"the kernel function returned shape {vals.shape}, expected {n_expected}"
            )
        if np.any(~(vals >= 0)) or np.any(np.isinf(vals)):
            bad = vals[~(vals >= 0) | np.isinf(vals)][0]
            raise ValueError(f"the kernel function must return finite weights >= 0, got {bad}")
        return vals

    def weights(self, disp: np.ndarray) -> np.ndarray:
        """``K`` of displacements ``disp`` (shape ``(n, d)``), checked, 0 beyond the cutoff; one call of the function.

        Examples
        --------
        >>> import spatialconn as sc
        >>> sc.CustomKernel(lambda d: 1.0 / (1.0 + d), cutoff=2.0).weights(np.array([[1.0, 0.0], [3.0, 0.0]]))
        array([0.5, 0. ])
        """
        disp = np.asarray(disp, dtype=np.float64)
        dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        vals = self._values(dist if self.isotropic else disp, dist.shape)
        return np.where(dist <= self.cutoff, vals, 0.0)

    def log_of_distance(self, dist):
        dist = np.asarray(dist, dtype=np.float64)
        flat = dist.ravel()
        vals = self._values(flat, flat.shape).reshape(dist.shape)
        vals = np.where(dist <= self.cutoff, vals, 0.0)
        return _log_nonneg(vals)

    def log_weight(self, disp, dist=None):
        if self.isotropic:
            return super().log_weight(disp, dist)
        disp = np.asarray(disp, dtype=np.float64)
        flat = disp.reshape(-1, disp.shape[-1])
        vals = self._values(flat, (flat.shape[0],)).reshape(disp.shape[:-1])
        if dist is None:
            dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        return _log_nonneg(np.where(dist <= self.cutoff, vals, 0.0))


@dataclass(frozen=True)
class Shifted(Kernel):
    """A kernel centred on an offset displacement: ``K'(x) = K(x - offset)``.

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.Shifted(sc.Gaussian(1.0), offset=(1.0, 0.0))
    >>> float(k(np.array([1.0, 0.0])))
    1.0
    """

    base: Kernel
    offset: tuple

    isotropic = False
    _length_fields = {"offset": 1}

    def __post_init__(self):
        if not isinstance(self.base, Kernel):
            raise TypeError(f"base must be a Kernel, got {self.base!r}")
        off = finite_array(self.offset, "offset")
        if off.ndim != 1 or not 1 <= off.size <= 3:
            raise ValueError(f"offset must be a vector of 1 to 3 components, got {off.tolist()}")
        base_dim = getattr(self.base, "ndim", None)
        if base_dim is not None and base_dim != off.size:
            raise ValueError(f"offset has {off.size} components but the kernel {self.base!r} is "
                             f"{base_dim}-dimensional")

    @property
    def ndim(self) -> int:
        return np.asarray(self.offset).size

    @property
    def positive_everywhere(self) -> bool:  # type: ignore[override]
        return self.base.positive_everywhere

    def log_weight(self, disp, dist=None):
        x = np.asarray(disp, dtype=np.float64) - np.asarray(self.offset, dtype=np.float64)
        return self.base.log_weight(x)

    @property
    def cutoff(self) -> float:
        return self.base.cutoff + float(np.linalg.norm(np.asarray(self.offset, dtype=np.float64)))

    @property
    def peak(self) -> float:
        return self.base.peak

    def peak_between(self, near: float, far: float) -> float:
        # |x - offset| over |x| in [near, far] lies in [max(0, near - |o|, |o| - far), far + |o|]
        if not self.base.isotropic:
            return self.base.peak
        o = float(np.linalg.norm(np.asarray(self.offset, dtype=np.float64)))
        return self.base.peak_between(max(0.0, near - o, o - far), far + o)

class Expression(Kernel):
    """A kernel written as an expression of the displacement, e.g. a Brian2 ``p`` string.

    ``K`` is the value of ``text`` in ``d`` (distance), ``dx``, ``dy``,
    ``dz`` (components of ``target - source``, minimum image on periodic
    axes; absent components are 0) and the named ``parameters``. The
    language (Python syntax: numbers, ``+ - * / **``, comparisons giving
    0/1, ``and or not``, ``exp log sqrt abs sin cos tan atan atan2 min max
    where clip floor ceil int``, ``pi e inf``) and its compiled form are
    described in :mod:`spatialconn.expression`. It is parsed and compiled
    once, here; anything else is a ``ValueError`` naming the token.

    Negative values count as 0 (as Brian2 treats ``p < 0``), so
    ``cos(2*atan2(dy, dx))`` connects only along its positive lobes. A
    value that is NaN or ``+inf`` at some pair is an error, raised when the
    pair is evaluated.

    Parameters
    ----------
    text : str
        The expression.
    cutoff : float or length quantity, optional
        ``K = 0`` for ``d > cutoff``. Without a cutoff and without a mask,
        :func:`spatialconn.connect` refuses an expression that does not
        provably decay (:meth:`decays`).
    **parameters : float or quantity
        Values of the other names in ``text``; with units when the positions
        carry units (checked by dimensional analysis of the whole expression).

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.Expression("exp(-d**2 / (2*s**2))", s=0.5)
    >>> float(k(1.0))  # doctest: +ELLIPSIS
    0.1353352832...
    >>> k.log_of_distance(np.array([100.0]))  # log space: no underflow
    array([-20000.])
    >>> sc.Expression("where(d < r, 1, 0.2)", cutoff=1.0, r=0.3).isotropic
    True
    """

    _length_fields: ClassVar[dict] = {}

    def __init__(self, text, cutoff=None, **parameters):
        from .expression import compile_expression

        if cutoff is not None:
            positive(cutoff, "cutoff", allow_inf=True)
        for name, value in parameters.items():
            v = scalar(value, name)
            if not math.isfinite(v):
                raise ValueError(f"parameter {name} must be finite, got {v}")
        self.text = text
        self.cutoff_distance = cutoff
        self.parameters = dict(parameters)
        self.program = compile_expression(text, parameters)

    def __repr__(self) -> str:
        args = [repr(self.text)] + ([f"cutoff={self.cutoff_distance!r}"] if self.cutoff_distance is not None
                                    else []) + [f"{k}={v!r}" for k, v in self.parameters.items()]
        return f"Expression({', '.join(args)})"

    def __eq__(self, other) -> bool:
        return (type(other) is Expression and self.text == other.text
                and str(self.cutoff_distance) == str(other.cutoff_distance)
                and {k: str(v) for k, v in self.parameters.items()}
                == {k: str(v) for k, v in other.parameters.items()})

    __hash__ = None

    @property
    def variables(self) -> frozenset:
        """The displacement variables the expression reads (of ``d, dx, dy, dz``)."""
        return self.program.variables

    @property
    def isotropic(self) -> bool:  # type: ignore[override]
        return self.variables <= {"d"}

    @property
    def cutoff(self) -> float:
        return math.inf if self.cutoff_distance is None else float(np.asarray(self.cutoff_distance))

    def _plain(self, units, name: str = "kernel") -> Expression:
        """This expression with plain SI values, after checking its dimensions against the positions' (``units``)."""
        from .expression import check_dimensions

        check_dimensions(self.text, self.parameters, units.dim)
        cutoff = units.length(self.cutoff_distance, f"{name}.cutoff")
        if units.dim is None and not any(getattr(v, "dim", None) is not None for v in self.parameters.values()):
            return self
        params = {k: float(np.asarray(v, dtype=np.float64)) for k, v in self.parameters.items()}
        return Expression(self.text, cutoff=cutoff, **params)

    def _evaluate(self, dist, comps):
        dist = np.asarray(dist, dtype=np.float64)
        lw = self.program.log.evaluate(dist, *comps)
        bad = ~(lw < np.inf)  # NaN or +inf, in one pass
        if bad.any():
            i = np.unravel_index(int(np.argmax(bad)), bad.shape)
            where = f"d = {dist[i]:.6g}" + "".join(
                f", {n} = {float(np.broadcast_to(c, dist.shape)[i]):.6g}"
                for n, c in zip(("dx", "dy", "dz"), comps) if np.ndim(c))
            raise ValueError(f"{self!r} is {'NaN' if np.isnan(lw[i]) else 'infinite'} at {where}; "
                             "kernel values must be finite (negative values count as 0)")
        if self.cutoff_distance is not None:
            lw = np.where(dist <= self.cutoff, lw, -np.inf)
        return lw

    def log_of_distance(self, dist):
        if not self.isotropic:
            raise ValueError(f"{self!r} depends on dx, dy or dz, not only on the distance; "
                             "evaluate it on displacements")
        return self._evaluate(dist, ())

    def log_weight(self, disp, dist=None):
        disp = np.asarray(disp, dtype=np.float64)
        if dist is None:
            dist = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        used = [n for n in ("dx", "dy", "dz") if n in self.variables]
        ndim = disp.shape[-1]
        for n in used:
            if "xyz".index(n[1]) >= ndim:
                raise ValueError(f"{self!r} uses {n} but the positions have only {ndim} coordinate(s)")
        comps = [disp[..., a] if ("dx", "dy", "dz")[a] in self.variables else 0.0 for a in range(min(ndim, 3))]
        return self._evaluate(dist, comps)

    # -- bounds -------------------------------------------------------------------------
    def log_bounds(self, box: dict):
        """Sound bounds ``(lower, upper)`` of ``log K`` over boxes of displacements.

        ``box`` maps ``"d"``, ``"dx"``, ``"dy"``, ``"dz"`` to ``(lo, hi)``
        arrays (broadcast together; a missing component is 0, a missing
        ``d`` ranges over ``[0, inf]``). For every displacement in a box
        (components and distance within their ranges), ``lower <= log K <=
        upper``; this is what rejection sampling over a cell offset needs.

        Examples
        --------
        >>> import spatialconn as sc
        >>> lo, hi = sc.Expression("exp(-d)").log_bounds({"d": (np.array([1.0]), np.array([2.0]))})
        >>> float(lo[0]) <= -2.0 and -1.0 <= float(hi[0]) < -0.999
        True
        """
        box = dict(box)
        box.setdefault("d", (0.0, math.inf))
        lo, hi = self.program.log.bounds(box)
        if self.cutoff_distance is not None:
            dlo, dhi = (np.asarray(x, dtype=np.float64) for x in box["d"])
            lo = np.where(dhi <= self.cutoff, lo, -np.inf)
            hi = np.where(dlo <= self.cutoff, hi, -np.inf)
        return lo, hi

    def _boxes(self, near: float, far: float, n: int = 4096):
        """Sub-boxes covering all displacements with ``near <= d <= far`` (``far = inf``: geometric cells)."""
        if math.isfinite(far):
            edges = np.linspace(near, far, n + 1)
        else:
            edges = np.r_[0.0, np.logspace(-20, 20, n), np.inf]
            edges = np.r_[near, edges[edges > near]]
        comps = sorted(self.variables - {"d"})
        if not comps:
            return {"d": (edges[:-1], edges[1:])}
        edges = np.r_[0.0, edges[edges > 0]]
        m = max(2, round((len(edges) - 1) ** (1.0 / len(comps))))
        half = edges[np.linspace(0, len(edges) - 1, m // 2 + 1).astype(int)]
        axis = np.r_[-half[::-1], half[1:]]
        grids = np.meshgrid(*[np.arange(axis.size - 1)] * len(comps), indexing="ij")
        box, dmin2, dmax2 = {}, 0.0, 0.0
        for name, g in zip(comps, grids):
            lo, hi = axis[g.ravel()], axis[g.ravel() + 1]
            box[name] = (lo, hi)
            mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
            dmin2 = dmin2 + mn * mn
            dmax2 = dmax2 + np.maximum(np.abs(lo), np.abs(hi)) ** 2
        dmax = np.sqrt(dmax2) if len(comps) == 3 else np.full(np.shape(dmin2), math.inf)
        dlo, dhi = np.maximum(np.sqrt(dmin2), near), np.minimum(dmax, far)
        keep = dlo <= dhi  # boxes holding a displacement with near <= d <= far
        box = {k: (v[0][keep], v[1][keep]) for k, v in box.items()}
        box["d"] = (dlo[keep], dhi[keep])
        return box

    def peak_between(self, near: float, far: float) -> float:
        """Supremum of ``K`` over displacements with ``near <= d <= far``, by interval bounds.

        The largest upper bound over a few thousand sub-boxes: never below
        the supremum, and close to it for smooth expressions. When it
        exceeds the largest value at the boxes' corners by less than 1e-9
        (relative), that value is returned (the bounds' rounding slack
        would otherwise make ``Expression("1")`` peak above 1).
        """
        near, far = float(near), min(float(far), self.cutoff)
        if near > far:
            return 0.0
        box = self._boxes(near, far)
        _, hi = self.log_bounds(box)
        top = float(hi.max(initial=-np.inf))
        names = sorted(self.variables - {"d"})
        corners = [box["d"]] if self.isotropic else [box[n] for n in names]
        seen = -np.inf
        for pick in np.ndindex(*(2,) * len(corners)):
            vals = [np.asarray(c[p], dtype=np.float64) for c, p in zip(corners, pick)]
            comps = {} if self.isotropic else dict(zip(names, vals))
            d = vals[0] if self.isotropic else np.sqrt(sum(v * v for v in vals))
            ok = np.isfinite(d) & (d <= far) & (d >= near)
            if ok.any():
                with np.errstate(all="ignore"):
                    lw = self.program.log.evaluate(d[ok], *(comps[n][ok] if n in comps else 0.0
                                                          for n in ("dx", "dy", "dz")))
                seen = max(seen, float(np.max(np.where(np.isnan(lw), -np.inf, lw), initial=-np.inf)))
        if np.isfinite(seen) and top - seen <= 1e-9:
            top = seen
        with np.errstate(over="ignore"):
            return float(np.exp(top))

    @property
    def peak(self) -> float:
        return self.peak_between(0.0, math.inf)

    @property
    def positive_everywhere(self) -> bool:  # type: ignore[override]
        """Proven ``K > 0`` at every displacement up to 1e30 (no cutoff)."""
        if self.cutoff_distance is not None and math.isfinite(self.cutoff):
            return False
        big = 1e30
        box = {n: (-big, big) for n in ("dx", "dy", "dz") if n in self.variables}
        lo, _ = self.program.log.bounds({"d": (0.0, big), **box})
        return bool(np.all(lo > -np.inf))

    def _far_upper(self, radii: np.ndarray, ndim: int) -> np.ndarray:
        """Upper bound of ``log K`` over all displacements with ``d >= R``, for each ``R`` in ``radii``.

        In ``ndim`` dimensions those displacements are covered by the boxes
        where one component is beyond ``±R/sqrt(ndim)``.
        """
        radii = np.asarray(radii, dtype=np.float64)
        inf = np.full(radii.shape, np.inf)
        worst = np.full(radii.shape, -np.inf)
        near = radii / math.sqrt(ndim) * (1 - 1e-12)
        for axis in ("dx", "dy", "dz")[:ndim]:
            for sign in (1.0, -1.0):
                box = {n: (-inf, inf) for n in ("dx", "dy", "dz")[:ndim]}
                box[axis] = (near, inf) if sign > 0 else (-inf, -near)
                _, hi = self.log_bounds({"d": (radii, inf), **box})
                worst = np.maximum(worst, hi)
        return worst

    def radius_below(self, level: float, ndim: int = 3) -> float:
        """A distance ``R`` beyond which ``log K <= level`` is proven (``inf`` if none up to 2^60).

        What a compiled engine needs to truncate the window of a kernel of
        unbounded support.

        Examples
        --------
        >>> import spatialconn as sc
        >>> r = sc.Expression("exp(-d**2 / 2)").radius_below(-8.0)
        >>> 4.0 <= r <= 4.01
        True
        """
        radii = 2.0 ** np.arange(-60, 61, dtype=np.float64)
        ok = np.nonzero(self._far_upper(radii, ndim) <= level)[0]
        if ok.size == 0:
            return math.inf
        hi = float(radii[ok[0]])
        lo = 0.0 if ok[0] == 0 else float(radii[ok[0] - 1])
        fine = np.linspace(lo, hi, 2049)[1:]  # the bound never grows with R: the first that qualifies
        return float(fine[np.argmax(self._far_upper(fine, ndim) <= level)])

    def decays(self, ndim: int = 3) -> bool:
        """Whether ``K`` provably decays: its bound over ``d >= R`` falls to ``e^-40`` of its (finite) peak's.

        The displacements with ``d >= R`` in ``ndim`` dimensions are covered
        by the boxes where one component is beyond ``±R/sqrt(ndim)``; the
        interval bound of ``log K`` over them is checked at ``R = 2^k`` for
        ``k`` up to 60 (in the positions' unit; it never grows with ``R``).

        Examples
        --------
        >>> import spatialconn as sc
        >>> sc.Expression("exp(-d**2)").decays(), sc.Expression("where(d < 1, 1, 0.2)").decays()
        (True, False)
        >>> sc.Expression("exp(-dx**2 - dy**2)").decays(2), sc.Expression("exp(-dx**2 - dy**2)").decays(3)
        (True, False)
        """
        peak = self.peak
        if not math.isfinite(peak):
            return False
        top = math.log(max(peak, 1e-300))
        worst = self._far_upper(2.0 ** np.arange(-60, 61), ndim)
        return bool(np.any(worst <= top - 40.0))

    def check_support(self, masked: bool, ndim: int = 3) -> None:
        """``ValueError`` unless a cutoff, a mask (``masked``) or proven decay (in ``ndim`` D) bounds the support."""
        if masked or math.isfinite(self.cutoff) or self.decays(ndim):
            return
        raise ValueError(
            f"{self!r} has no cutoff and no mask, and it does not provably decay (its interval bound "
            f"over distances >= R in {ndim}-D stays above e^-40 of its peak for every R up to 2^60); give "
            "cutoff=... or a mask")
