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

    Examples
    --------
    >>> import spatialconn as sc
    >>> k = sc.CustomKernel(lambda d: 1.0 / (1.0 + d**2), cutoff=5.0)
    >>> float(k(1.0))
    0.5
    """

    function: Callable
    cutoff_distance: float = math.inf
    on: str = "distance"
    peak_value: float | None = None

    _length_fields = {"cutoff_distance": 1}
    positive_everywhere = False

    def __init__(self, function, cutoff, on="distance", peak=None):
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "cutoff_distance", cutoff)
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "peak_value", peak)
        if not callable(function):
            raise TypeError(f"function must be callable, got {function!r}")
        if on not in ("distance", "displacement"):
            raise ValueError(f"on must be 'distance' or 'displacement', got {on!r}")
        positive(cutoff, "cutoff", allow_inf=True)
        if peak is not None:
            positive(peak, "peak", allow_inf=True)

    def _with_lengths(self, **values):
        cutoff = values.get("cutoff_distance", self.cutoff_distance)
        return CustomKernel(self.function, cutoff, on=self.on, peak=self.peak_value)

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
