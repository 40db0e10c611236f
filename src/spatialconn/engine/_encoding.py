"""Kernels and masks as flat parameter arrays for the compiled core, and the engine's codes.

Every supported kernel and mask is encoded as a float64 array (kind code
first, then parameters); the compiled core (``_core/weight.hpp``)
evaluates ``log w`` of one displacement from them exactly as the numpy
definitions in :mod:`spatialconn.kernels` and :mod:`spatialconn.masks` do.
An :class:`~spatialconn.Expression` appends its ``log`` bytecode to the
array (``_core/expr.hpp`` runs it per pair).
The codes below are the ones the compiled core uses (``_core/*.hpp``);
they are named here once for the Python side.
:class:`Profile` gives proven upper and lower bounds of ``log K`` over sets
of displacements described by the range of ``|x - mu|`` (for expressions,
also by the box of each component: :meth:`Profile.box_bounds`), which is
what the spatial index needs to build exact rejection proposals.
"""

from __future__ import annotations

import math

import numpy as np

from ..expression import VARIABLES
from ..kernels import (AnisotropicGaussian, Constant, Exponential, Expression, Gamma, Gaussian,
                       Kernel, Linear, Shifted)
from ..masks import Annulus, Box, Disc, Ellipse, Mask

#: kernel kind codes (``kp[0]``; ``KernelKind`` in ``_core/weight.hpp``)
K_CONST, K_GAUSS, K_EXP, K_GAMMA, K_LINEAR, K_ANISO, K_EXPR = 0, 1, 2, 3, 4, 5, 6
#: largest stack an expression's log program may need (``EXPR_MAX_DEPTH`` in ``_core/expr.hpp``)
EXPR_MAX_DEPTH = 32
#: mask kind codes (``mp[0]``; ``MaskKind``)
M_NONE, M_DISC, M_ANNULUS, M_BOX, M_ELLIPSE = 0, 1, 2, 3, 4
#: lengths of the encoded kernel and mask arrays
KP_SIZE, MP_SIZE = 20, 16
#: cell classes of an offset (``CellClass`` in ``_core/engine.hpp``): every weight is 0; the
#: bound is below ``ref - LOG_CUTOFF`` (left out of proposals, kept for exact fallbacks); proposed
CLS_ZERO, CLS_DROPPED, CLS_PROPOSED = 0, 1, 2
#: window modes per axis (``WindowMode``): open axis (cells off the grid are skipped); periodic
#: window (indices modulo G); periodic, every cell (no wrap of the offsets needed)
MODE_OPEN, MODE_WRAP, MODE_ALL = 0, 1, 2
#: offsets whose bound is this far (in log units) below the largest are dropped from proposals
LOG_CUTOFF = 700.0


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
    if isinstance(base, Expression):
        return base.program.log.depth <= EXPR_MAX_DEPTH
    return False  # CustomKernel (a Python callable) and unknown kernels


class Profile:
    """Bounds of ``log K`` given the range ``[rmin, rmax]`` of ``|x - mu|``.

    Attributes
    ----------
    params : (KP_SIZE,) float64
        Encoded kernel (evaluated by the compiled core).
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
        elif isinstance(base, Expression):
            # kp: kind, cutoff, instructions n, constants m, mu (3), stack depth; then the log
            # program: n (opcode, operand) pairs and m constants (``_core/expr.hpp``)
            for a, name in enumerate(VARIABLES[1:]):
                if name in base.variables and a >= d:
                    raise ValueError(f"{base!r} uses {name} but the positions have only {d} coordinate(s)")
            prog = base.program.log
            kp[0], kp[1], kp[2], kp[3], kp[7] = K_EXPR, base.cutoff, len(prog.code), len(prog.consts), prog.depth
            self.mode = 0.0
        else:  # pragma: no cover - guarded by encodable()
            raise TypeError(f"kernel {kernel!r} is not supported by the grid engine")
        kp[4:4 + d] = mu
        if isinstance(base, Expression):
            kp = np.concatenate([kp, prog.code.ravel().astype(np.float64), prog.consts])
        self.params = kp
        self.d = d
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
        if self.kind == K_EXPR:
            return self.base.decays(self.d)
        return self.kind in (K_GAUSS, K_EXP, K_GAMMA, K_ANISO)

    def _expr_bounds(self, rmin, rmax):
        """Interval bounds of an expression over ``rmin <= |y| <= rmax`` (each component within ``±rmax``)."""
        rmin, rmax = np.asarray(rmin, dtype=np.float64), np.asarray(rmax, dtype=np.float64)
        box = {"d": (rmin, rmax)}
        for name in VARIABLES[1:1 + self.d]:
            box[name] = (-rmax, rmax)
        return self.base.log_bounds(box)

    def box_bounds(self, rmin, rmax, components):
        """Proven ``(lower, upper)`` of an expression's ``log K`` over boxes of displacements from ``mu``.

        ``rmin``, ``rmax``: the range of ``|x - mu|``; ``components``: per
        axis, ``(lo, hi)`` of ``x - mu``.
        """
        box = {"d": (np.asarray(rmin, dtype=np.float64), np.asarray(rmax, dtype=np.float64))}
        for name, (lo, hi) in zip(VARIABLES[1:], components):
            box[name] = (lo, hi)
        return self.base.log_bounds(box)

    def upper(self, rmin: np.ndarray, rmax: np.ndarray) -> np.ndarray:
        """Proven upper bound of ``log K`` over ``rmin <= |x - mu| <= rmax``."""
        if self.kind == K_EXPR:
            return self._expr_bounds(rmin, rmax)[1]
        if self.kind == K_ANISO:
            return -0.5 * self.lam[0] * rmin * rmin
        return self.f(np.clip(self.mode, rmin, rmax))

    def lower(self, rmin: np.ndarray, rmax: np.ndarray) -> np.ndarray:
        """Proven lower bound of ``log K`` over ``rmin <= |x - mu| <= rmax`` (profiles are unimodal)."""
        if self.kind == K_EXPR:
            return self._expr_bounds(rmin, rmax)[0]
        if self.kind == K_ANISO:
            with np.errstate(over="ignore"):
                return -0.5 * self.lam[1] * rmax * rmax
        return np.minimum(self.f(rmin), self.f(rmax))

    def radius_below(self, level: float) -> float:
        """A distance ``R >= mode`` beyond which ``log K <= level`` (``inf`` if none)."""
        if not self.decays:
            return math.inf
        if self.kind == K_EXPR:
            return self.base.radius_below(level, self.d)
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
        if self.kind == K_EXPR:  # where the bound has fallen by e^-1/2, else a third of the cutoff
            r = self.radius_below(self.log_peak - 0.5)
            return r if math.isfinite(r) and r > 0 else kp[1] / 3.0
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
    """Flat parameters of ``mask`` (evaluated by the compiled core)."""
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
