"""Kernels and masks as flat parameter arrays for compiled code.

Every supported kernel and mask is encoded as a float64 array (kind code
first, then parameters), so one compiled specialisation serves them all
(short cold start, small cache). :func:`log_weight` evaluates ``log w``
of one displacement exactly as the numpy definitions in
:mod:`spatialconn.kernels` and :mod:`spatialconn.masks` do.
:class:`Profile` gives proven upper and lower bounds of ``log K`` over sets
of displacements described by the range of ``|x - mu|``, which is what the
spatial index needs to build exact rejection proposals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..kernels import (AnisotropicGaussian, Constant, CustomKernel, Exponential, Gamma, Gaussian,
                       Kernel, Linear, Shifted)
from ..masks import Annulus, Box, Disc, Ellipse, Mask

#: kernel kind codes
K_CONST, K_GAUSS, K_EXP, K_GAMMA, K_LINEAR, K_ANISO = 0, 1, 2, 3, 4, 5
#: mask kind codes
M_NONE, M_DISC, M_ANNULUS, M_BOX, M_ELLIPSE = 0, 1, 2, 3, 4

KP_SIZE, MP_SIZE = 20, 16


def unwrap(kernel: Kernel | None):
    """``(base kernel, total offset or None)`` of a possibly shifted kernel."""
    offset = None
    while isinstance(kernel, Shifted):
        off = np.asarray(kernel.offset, dtype=np.float64)
        offset = off if offset is None else offset + off
        kernel = kernel.base
    return kernel, offset


def encodable(kernel: Kernel | None) -> bool:
    """True when the compiled engine can evaluate ``kernel`` itself."""
    base, _ = unwrap(kernel)
    if base is None or isinstance(base, (Constant, Gaussian, Exponential, Linear, AnisotropicGaussian)):
        return True
    if isinstance(base, Gamma):
        return float(base.kappa) >= 1.0
    return False  # CustomKernel (a Python callable) and unknown kernels


class Profile:
    """Bounds of ``log K`` given the range ``[rmin, rmax]`` of ``|x - mu|``.

    Attributes
    ----------
    params : (KP_SIZE,) float64
        Encoded kernel for :func:`log_weight`.
    mu : (d,) float64
        Centre of the kernel's profile (shift offset plus anisotropic mean).
    mode : float
        Distance of the profile's maximum (``inf`` if it never decreases).
    log_peak : float
        ``log`` of the kernel's supremum.
    """

    def __init__(self, kernel: Kernel | None, d: int):
        base, offset = unwrap(kernel)
        kp = np.zeros(KP_SIZE)
        mu = np.zeros(d) if offset is None else offset.copy()
        self.base = base
        self.lam = (0.0, 0.0)
        if base is None or isinstance(base, Constant):
            kp[0] = K_CONST
            kp[1] = 0.0 if base is None else math.log(float(base.value))
            self.mode = math.inf
        elif isinstance(base, Gaussian):
            kp[0], kp[1], kp[2] = K_GAUSS, float(np.asarray(base.sigma)), float(np.asarray(base.mean))
            self.mode = kp[2]
        elif isinstance(base, Exponential):
            kp[0], kp[1] = K_EXP, float(np.asarray(base.scale))
            self.mode = 0.0
        elif isinstance(base, Gamma):
            k, t = float(base.kappa), float(np.asarray(base.theta))
            from scipy.special import gammaln

            kp[0], kp[1], kp[2], kp[3] = K_GAMMA, k, t, -k * math.log(t) - float(gammaln(k))
            self.mode = (k - 1.0) * t
        elif isinstance(base, Linear):
            a, c = float(np.asarray(base.slope)), float(base.intercept)
            kp[0], kp[1], kp[2] = K_LINEAR, a, c
            self.mode = 0.0 if a < 0 else math.inf
        elif isinstance(base, AnisotropicGaussian):
            kp[0] = K_ANISO
            P = np.asarray(base._precision, dtype=np.float64)
            kp[7:7 + P.size] = P.ravel()  # row-major d x d
            ev = np.linalg.eigvalsh(P)
            # a little slack keeps the bounds proven despite rounding
            self.lam = (float(ev.min()) * (1 - 1e-9), float(ev.max()) * (1 + 1e-9))
            mu = mu + base.center
            self.mode = 0.0
        else:  # pragma: no cover - guarded by encodable()
            raise TypeError(f"kernel {kernel!r} is not supported by the grid engine")
        kp[4:4 + d] = mu
        self.params = kp
        self.mu = mu
        self.kind = int(kp[0])
        self.log_peak = float(self.upper(np.array([0.0]), np.array([math.inf]))[0])

    def f(self, r: np.ndarray) -> np.ndarray:
        """``log K`` of an isotropic profile at distances ``r`` (not for anisotropic kernels)."""
        r = np.asarray(r, dtype=np.float64)
        if self.kind == K_CONST:
            return np.full(r.shape, self.params[1])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.asarray(self.base.log_of_distance(r), dtype=np.float64)
        return np.where(np.isinf(r), _limit_at_inf(self), out)

    @property
    def decays(self) -> bool:
        """True when ``K -> 0`` at large distance (so unbounded support can be truncated)."""
        return self.kind in (K_GAUSS, K_EXP, K_GAMMA, K_ANISO)

    def upper(self, rmin: np.ndarray, rmax: np.ndarray) -> np.ndarray:
        """Proven upper bound of ``log K`` over ``rmin <= |x - mu| <= rmax``."""
        if self.kind == K_ANISO:
            return -0.5 * self.lam[0] * rmin * rmin
        return self.f(np.clip(self.mode, rmin, rmax))

    def lower(self, rmin: np.ndarray, rmax: np.ndarray) -> np.ndarray:
        """Proven lower bound of ``log K`` over ``rmin <= |x - mu| <= rmax`` (profiles are unimodal)."""
        if self.kind == K_ANISO:
            with np.errstate(over="ignore"):
                return -0.5 * self.lam[1] * rmax * rmax
        return np.minimum(self.f(rmin), self.f(rmax))

    def radius_below(self, level: float) -> float:
        """A distance ``R >= mode`` beyond which ``log K <= level`` (``inf`` if none)."""
        if not self.decays:
            return math.inf
        if self.kind == K_ANISO:
            return math.sqrt(max(0.0, -2.0 * level / self.lam[0]))
        if level >= 0.0:
            return self.mode
        if self.kind == K_GAUSS:  # closed forms, padded a little against rounding
            return (self.mode + self.params[1] * math.sqrt(-2.0 * level)) * (1 + 1e-12)
        if self.kind == K_EXP:
            return -level * self.params[1] * (1 + 1e-12)
        lo = self.mode
        if self.f(np.array([lo]))[0] <= level:
            return lo
        step = max(self.params[1], self.params[2], 1e-300)
        hi = lo + step
        while self.f(np.array([hi]))[0] > level:
            hi = lo + 2 * (hi - lo)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if self.f(np.array([mid]))[0] > level:
                lo = mid
            else:
                hi = mid
        return hi

    @property
    def scale(self) -> float:
        """A natural length of the kernel (for the cell size); ``inf`` when it has none."""
        kp = self.params
        if self.kind == K_GAUSS:
            return kp[1]
        if self.kind == K_EXP:
            return kp[1]
        if self.kind == K_GAMMA:
            return kp[2] * max(1.0, math.sqrt(kp[1]))
        if self.kind == K_ANISO:
            return 1.0 / math.sqrt(self.lam[1])
        if self.kind == K_LINEAR and kp[1] < 0:
            return -kp[2] / kp[1] / 3.0
        return math.inf


def _limit_at_inf(profile: Profile) -> float:
    if profile.kind == K_LINEAR:
        a = profile.params[1]
        return math.inf if a > 0 else (math.log(profile.params[2]) if a == 0 and profile.params[2] > 0 else -math.inf)
    return -math.inf


def encode_mask(mask: Mask | None, d: int) -> np.ndarray:
    """Flat parameters of ``mask`` for :func:`log_weight`."""
    mp = np.zeros(MP_SIZE)
    if mask is None:
        return mp
    center = getattr(mask, "center", None)
    if center is not None:
        mp[3:3 + d] = np.asarray(center, dtype=np.float64)
    if isinstance(mask, Disc):
        mp[0], mp[1] = M_DISC, float(np.asarray(mask.radius))
    elif isinstance(mask, Annulus):
        mp[0], mp[1], mp[2] = M_ANNULUS, float(np.asarray(mask.inner)), float(np.asarray(mask.outer))
    elif isinstance(mask, Box):
        mp[0] = M_BOX
        mp[6:6 + d] = np.asarray(mask.lower, dtype=np.float64)
        mp[9:9 + d] = np.asarray(mask.upper, dtype=np.float64)
    elif isinstance(mask, Ellipse):
        mp[0] = M_ELLIPSE
        mp[6:6 + d] = np.asarray(mask.semi_axes, dtype=np.float64)
        if mask.angle:
            mp[12], mp[13], mp[14] = math.cos(mask.angle), math.sin(mask.angle), 1.0
    else:
        raise TypeError(f"mask {mask!r} is not supported by the grid engine")
    return mp


def encodable_mask(mask) -> bool:
    """True when the compiled engine knows ``mask``."""
    return mask is None or type(mask) in (Disc, Annulus, Box, Ellipse)


@njit(cache=True, inline="always")
def in_mask(x0, x1, x2, d, mp):
    """Whether displacement ``x`` lies in the encoded mask (same tests as :mod:`spatialconn.masks`)."""
    kind = mp[0]
    if kind == M_NONE:
        return True
    if kind == M_BOX:
        if x0 < mp[6] or x0 > mp[9]:
            return False
        if d > 1 and (x1 < mp[7] or x1 > mp[10]):
            return False
        if d > 2 and (x2 < mp[8] or x2 > mp[11]):
            return False
        return True
    y0, y1, y2 = x0 - mp[3], x1 - mp[4], x2 - mp[5]
    if kind == M_ELLIPSE:
        if mp[14] != 0.0:
            c, s = mp[12], mp[13]
            y0, y1 = c * y0 + s * y1, -s * y0 + c * y1
        q = (y0 / mp[6]) ** 2
        if d > 1:
            q += (y1 / mp[7]) ** 2
        if d > 2:
            q += (y2 / mp[8]) ** 2
        return q <= 1.0
    r2 = y0 * y0
    if d > 1:
        r2 += y1 * y1
    if d > 2:
        r2 += y2 * y2
    r = np.sqrt(r2)
    if kind == M_DISC:
        return r <= mp[1]
    return r > mp[1] and r <= mp[2]


@njit(cache=True, inline="always")
def log_kernel(x0, x1, x2, d, kp):
    """``log K`` of displacement ``x`` for the encoded kernel (mask not applied)."""
    kind = kp[0]
    y0, y1, y2 = x0 - kp[4], x1 - kp[5], x2 - kp[6]
    if kind == K_ANISO:
        q = 0.0
        if d == 1:
            q = y0 * kp[7] * y0
        elif d == 2:
            q = y0 * kp[7] * y0 + y0 * kp[8] * y1 + y1 * kp[9] * y0 + y1 * kp[10] * y1
        else:
            q = (y0 * kp[7] * y0 + y0 * kp[8] * y1 + y0 * kp[9] * y2
                 + y1 * kp[10] * y0 + y1 * kp[11] * y1 + y1 * kp[12] * y2
                 + y2 * kp[13] * y0 + y2 * kp[14] * y1 + y2 * kp[15] * y2)
        return -0.5 * q
    if kind == K_CONST:
        return kp[1]
    r2 = y0 * y0
    if d > 1:
        r2 += y1 * y1
    if d > 2:
        r2 += y2 * y2
    if kind == K_GAUSS and kp[2] == 0.0:  # no square root needed (differs from (sqrt r2)^2 by an ulp)
        return -r2 / (2.0 * kp[1] * kp[1])
    r = np.sqrt(r2)
    if kind == K_GAUSS:
        t = r - kp[2]
        return -(t * t) / (2.0 * kp[1] * kp[1])
    if kind == K_EXP:
        return -r / kp[1]
    if kind == K_GAMMA:
        if kp[1] == 1.0:
            return -r / kp[2] + kp[3]
        if r == 0.0:
            return -np.inf
        return (kp[1] - 1.0) * np.log(r) - r / kp[2] + kp[3]
    v = kp[2] + kp[1] * r  # K_LINEAR
    return np.log(v) if v > 0.0 else -np.inf


@njit(cache=True, inline="always")
def log_weight(x0, x1, x2, d, kp, mp):
    """``log w`` of displacement ``x``: kernel inside the mask, ``-inf`` outside."""
    if not in_mask(x0, x1, x2, d, mp):
        return -np.inf
    return log_kernel(x0, x1, x2, d, kp)
