"""Translate NEST's connection vocabulary (``conn_spec`` dicts) into spatialconn objects.

NEST (3.10) anchors a mask on the *driver* and tests the *pool* node's
displacement from it: ``target - source`` for ``fixed_outdegree`` and
``pairwise_bernoulli`` (default ``use_on_source=False``) and ``pairwise_poisson``, ``source - target``
for ``fixed_indegree`` and ``pairwise_bernoulli`` with ``use_on_source=True``
(measured on NEST 3.10 with anchored rectangular masks). spatialconn's masks
are always on ``target - source``, so the second group is reflected through
the origin here.

NEST kernels are opaque ``Parameter`` objects, so the kernel (NEST's ``p``)
is written as a dict naming a function of ``nest.spatial_distributions`` with
its keyword arguments, applied to ``nest.spatial.distance``:

======================================================  =======================================
conn_spec ``p``                                         spatialconn kernel
======================================================  =======================================
``0.3`` (a number)                                      none (uniform); Bernoulli probability
``{"gaussian": {"std": 0.2, "mean": 0.0}}``             ``Gaussian(sigma=0.2, mean=0.0)``
``{"exponential": {"beta": 0.2}}``                      ``Exponential(scale=0.2)``
``{"gamma": {"kappa": 2.0, "theta": 0.1}}``             ``Gamma(kappa=2.0, theta=0.1)``
``{"gaussian2D": {"std_x": .2, "std_y": .1}}``          ``AnisotropicGaussian(sigma=(.2, .1))``
``{"linear": {"c": 1.0, "a": -2.0}}`` (``c + a·d``)     ``Linear(slope=-2.0, intercept=1.0)``
a spatialconn ``Kernel``                                that kernel
======================================================  =======================================

Add ``"factor": f`` to a kernel dict for NEST's ``f * kernel`` (it only
matters for ``pairwise_bernoulli`` and ``pairwise_poisson``, whose
``pairwise_avg_num_conns`` takes the same forms as ``p``). Missing parameters take NEST's defaults.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import (
    AnisotropicGaussian,
    CustomKernel,
    Exponential,
    Gamma,
    Gaussian,
    Kernel,
    Linear,
)
from .masks import Annulus, Box, Disc, Ellipse, Mask, RotatedBox
from .rules import (
    FixedInDegree,
    FixedOutDegree,
    FixedTotalNumber,
    PairwiseBernoulli,
    PairwisePoisson,
)

__all__ = ["clipped_bernoulli", "reflect", "translate_conn_spec", "translate_kernel", "translate_mask"]

_RULE_KEYS = {
    "fixed_outdegree": "outdegree",
    "fixed_indegree": "indegree",
    "fixed_total_number": "N",
    "pairwise_bernoulli": "p",
    "pairwise_poisson": "pairwise_avg_num_conns",
}
_COMMON_KEYS = {"rule", "p", "mask", "allow_autapses", "allow_multapses", "allow_oversized_mask"}

_KERNELS = {
    "gaussian": ({"mean": 0.0, "std": 1.0}, lambda a: Gaussian(sigma=a["std"], mean=a["mean"])),
    "exponential": ({"beta": 1.0}, lambda a: Exponential(scale=a["beta"])),
    "gamma": ({"kappa": 1.0, "theta": 1.0}, lambda a: Gamma(kappa=a["kappa"], theta=a["theta"])),
    "gaussian2D": ({"mean_x": 0.0, "mean_y": 0.0, "std_x": 1.0, "std_y": 1.0, "rho": 0.0}, None),
    "linear": ({"a": 0.0, "c": 1.0}, lambda a: Linear(slope=a["a"], intercept=a["c"])),
}


def translate_conn_spec(conn_spec: dict, grid=None) -> dict:
    """Keyword arguments of :func:`spatialconn.connect` for a NEST ``conn_spec`` dict.

    Parameters
    ----------
    conn_spec : dict
        ``rule`` (``fixed_outdegree``, ``fixed_indegree``, ``fixed_total_number``,
        ``pairwise_bernoulli``, ``pairwise_poisson``), its count (``outdegree``,
        ``indegree``, ``N``) or ``p`` (``pairwise_avg_num_conns`` for
        ``pairwise_poisson``, a number or kernel dict like ``p``),
        optionally ``p`` as a kernel (see the module notes), ``mask``
        (NEST mask dict with optional ``anchor``), ``allow_autapses``,
        ``allow_multapses`` (both default True, as in NEST), ``use_on_source``.
    grid : (extent, shape), optional
        Of the pool layer when it is a NEST grid layer (for ``grid`` masks).

    Returns
    -------
    dict
        ``rule``, ``kernel``, ``mask``, ``multapses``, ``autapses``.

    Raises
    ------
    ValueError, TypeError
        For unknown rules, keys, kernels or masks, naming them.

    Examples
    --------
    >>> kw = translate_conn_spec({"rule": "fixed_indegree", "indegree": 5,
    ...     "p": {"gaussian": {"std": 0.1}},
    ...     "mask": {"circular": {"radius": 0.3}, "anchor": [0.1, 0.0]}})
    >>> kw["rule"], kw["kernel"], kw["mask"]
    (FixedInDegree(k=5), Gaussian(sigma=0.1, mean=0.0), Disc(radius=0.3, center=(-0.1, -0.0)))
    """
    if not isinstance(conn_spec, dict):
        raise TypeError(f"conn_spec must be a dict like {{'rule': 'fixed_outdegree', 'outdegree': 10}}, "
                        f"got {conn_spec!r}")
    rule_name = conn_spec.get("rule")
    if rule_name not in _RULE_KEYS:
        raise ValueError(f"conn_spec['rule'] must be one of {sorted(_RULE_KEYS)}, got {rule_name!r}")
    count_key = _RULE_KEYS[rule_name]
    allowed = _COMMON_KEYS | {count_key} | ({"use_on_source"} if rule_name == "pairwise_bernoulli" else set())
    if rule_name == "pairwise_poisson":  # its kernel is pairwise_avg_num_conns
        allowed = allowed - {"p"}
    unknown = sorted(set(conn_spec) - allowed)
    if unknown:
        raise ValueError(f"conn_spec key(s) {unknown} are not supported for rule {rule_name!r}; "
                         f"allowed: {sorted(allowed)}")
    p = conn_spec.get(count_key if rule_name == "pairwise_poisson" else "p", 1.0)
    kernel, factor = translate_kernel(p)
    if rule_name == "pairwise_bernoulli":
        rule = None  # after the mask: NEST's probability is min(1, p · K)
    elif rule_name == "pairwise_poisson":
        if count_key not in conn_spec:
            raise ValueError("conn_spec for rule 'pairwise_poisson' needs 'pairwise_avg_num_conns'")
        rule = PairwisePoisson(factor)
    else:
        if count_key not in conn_spec:
            raise ValueError(f"conn_spec for rule {rule_name!r} needs {count_key!r}")
        rule = {"fixed_outdegree": FixedOutDegree, "fixed_indegree": FixedInDegree,
                "fixed_total_number": FixedTotalNumber}[rule_name](conn_spec[count_key])
        if factor <= 0:
            raise ValueError(f"conn_spec['p'] = {p!r} gives every pair weight 0")
    reflected = rule_name == "fixed_indegree" or bool(conn_spec.get("use_on_source", False))
    mask = conn_spec.get("mask")
    mask = None if mask is None else translate_mask(mask, grid)
    if mask is not None and reflected:
        mask = reflect(mask)
    if rule is None:
        rule, kernel = clipped_bernoulli(factor, kernel, mask)
    out = {"rule": rule, "kernel": kernel, "mask": mask}
    for ours, theirs in (("multapses", "allow_multapses"), ("autapses", "allow_autapses")):
        flag = conn_spec.get(theirs, True)
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"conn_spec[{theirs!r}] must be True or False, got {flag!r}")
        out[ours] = bool(flag)
    return out


def clipped_bernoulli(p: float, kernel, mask=None):
    """``(PairwiseBernoulli, kernel)`` connecting with NEST's probability ``min(1, p · K)``.

    ``sc.connect`` refuses ``p · K > 1``; NEST connects such pairs always.
    Only where ``p · K`` can exceed 1 is the kernel replaced by the clipped
    ``CustomKernel`` (sampled by the reference engine's code).

    Examples
    --------
    >>> rule, kernel = clipped_bernoulli(3.0, Gaussian(0.1))
    >>> rule, float(kernel(0.0)), round(float(kernel(0.2)), 4)   # 3 · e^-2 = 0.406
    (PairwiseBernoulli(p=1.0), 1.0, 0.406)
    """
    p = float(p)
    if p < 0:
        raise ValueError(f"conn_spec['p'] must be >= 0, got {p}")
    if kernel is None:
        return PairwiseBernoulli(min(p, 1.0)), None
    peak = kernel.peak_within(mask.reach if mask is not None else kernel.cutoff)
    if p * peak <= 1:
        return PairwiseBernoulli(p), kernel
    on = "distance" if kernel.isotropic else "displacement"
    clipped = CustomKernel(lambda x: np.minimum(1.0, p * np.asarray(kernel(x), dtype=np.float64)),
                           cutoff=kernel.cutoff, on=on, peak=1.0)
    return PairwiseBernoulli(1.0), clipped


def translate_kernel(p):
    """``(kernel or None, factor)`` for NEST's ``p`` (see the module notes).

    Examples
    --------
    >>> translate_kernel({"exponential": {"beta": 0.5}, "factor": 0.2})
    (Exponential(scale=0.5), 0.2)
    >>> translate_kernel(0.3)
    (None, 0.3)
    """
    if isinstance(p, Kernel):
        return p, 1.0
    if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool):
        return None, float(p)
    if type(p).__name__ == "Parameter":
        raise TypeError(
            "conn_spec['p'] is a NEST Parameter, whose formula cannot be read back from Python; "
            "write it as a dict, e.g. {'gaussian': {'std': 0.2}} for "
            "nest.spatial_distributions.gaussian(nest.spatial.distance, std=0.2)"
        )
    if not isinstance(p, dict):
        raise TypeError(f"conn_spec['p'] must be a number, a kernel dict or a spatialconn Kernel, got {p!r}")
    spec = dict(p)
    factor = float(spec.pop("factor", 1.0))
    if len(spec) != 1:
        raise ValueError(f"conn_spec['p'] must name one kernel (one of {sorted(_KERNELS)}), got {p!r}")
    (name, params), = spec.items()
    if name not in _KERNELS:
        raise ValueError(f"unknown kernel {name!r} in conn_spec['p']; supported: {sorted(_KERNELS)}")
    defaults, build = _KERNELS[name]
    params = {} if params is None else dict(params)
    extra = sorted(set(params) - set(defaults))
    if extra:
        raise ValueError(f"kernel {name!r} has no parameter(s) {extra}; it takes {sorted(defaults)}")
    args = {**defaults, **params}
    if name == "gaussian2D":
        return _gaussian2d(args), factor
    return build(args), factor


def _gaussian2d(a):
    # NEST evaluates gaussian2D at (|dx|, |dy|) (nest.spatial.distance.x is an absolute
    # difference); that equals a signed Gaussian only without means and correlation.
    if a["mean_x"] != 0 or a["mean_y"] != 0 or a["rho"] != 0:
        raise ValueError(
            "gaussian2D with mean_x, mean_y or rho != 0: NEST evaluates it at |dx|, |dy| "
            "(nest.spatial.distance.x is an absolute difference), which is not a Gaussian of the "
            "displacement; give p=sc.AnisotropicGaussian(...) (signed, with mean= and rho=) instead"
        )
    return AnisotropicGaussian(sigma=(a["std_x"], a["std_y"]))


def translate_mask(spec, grid=None) -> Mask:
    """A spatialconn mask for a NEST mask dict (``anchor`` becomes the mask centre).

    Supported: ``circular``, ``spherical`` (``radius``), ``doughnut``
    (``inner_radius``, ``outer_radius``), ``rectangular``, ``box``
    (``lower_left``, ``upper_right``, ``azimuth_angle`` and ``polar_angle`` in
    degrees), ``elliptical`` (``major_axis``, ``minor_axis``,
    ``azimuth_angle`` in degrees), and ``grid`` (``shape``, with ``anchor``
    in cells) when ``grid=(extent, shape)`` of the pool layer is given; it
    becomes the box of those cells, as NEST converts it.
    The result is on the displacement pool − driver, as NEST sees it.

    Examples
    --------
    >>> translate_mask({"rectangular": {"lower_left": [-0.1, -0.1], "upper_right": [0.1, 0.2]}})
    Box(lower=(-0.1, -0.1), upper=(0.1, 0.2))
    """
    if isinstance(spec, Mask):
        return spec
    if not isinstance(spec, dict):
        hint = " (NEST Mask objects cannot be read back; pass the dict you gave nest.CreateMask)" \
            if type(spec).__name__ == "Mask" else ""
        raise TypeError(f"mask must be a NEST mask dict such as {{'circular': {{'radius': 0.2}}}}, "
                        f"got {spec!r}{hint}")
    spec = dict(spec)
    anchor = spec.pop("anchor", None)
    if len(spec) != 1:
        raise ValueError(f"mask dict must name one shape, got keys {sorted(spec)}")
    (shape, params), = spec.items()
    params = dict(params)
    anchor = params.pop("anchor", anchor)
    if shape == "grid":
        return _grid_mask(params, anchor, grid)
    c = None if anchor is None else tuple(float(v) for v in anchor)
    if shape in ("circular", "spherical"):
        _only(params, shape, {"radius"})
        return Disc(float(params["radius"]), center=c)
    if shape == "doughnut":
        _only(params, shape, {"inner_radius", "outer_radius"})
        return Annulus(float(params["inner_radius"]), float(params["outer_radius"]), center=c)
    if shape in ("rectangular", "box"):
        _only(params, shape, {"lower_left", "upper_right", "azimuth_angle", "polar_angle"})
        lo, hi = np.asarray(params["lower_left"], float), np.asarray(params["upper_right"], float)
        if lo.shape != hi.shape or lo.size != (2 if shape == "rectangular" else 3):
            raise ValueError(f"{shape} mask needs lower_left and upper_right of {2 if shape == 'rectangular' else 3} "
                             f"components, got {lo.tolist()} and {hi.tolist()}")
        if c is not None:
            lo, hi = lo + np.asarray(c), hi + np.asarray(c)
        azimuth, polar = float(params.get("azimuth_angle", 0.0)), float(params.get("polar_angle", 0.0))
        if azimuth or polar:
            return RotatedBox(tuple(lo.tolist()), tuple(hi.tolist()), angle=math.radians(azimuth),
                              polar_angle=math.radians(polar))
        return Box(tuple(lo.tolist()), tuple(hi.tolist()))
    if shape == "elliptical":
        _only(params, shape, {"major_axis", "minor_axis", "azimuth_angle"})
        axes = (float(params["major_axis"]) / 2, float(params["minor_axis"]) / 2)
        return Ellipse(axes, angle=math.radians(float(params.get("azimuth_angle", 0.0))), center=c)
    raise ValueError(f"unsupported NEST mask {shape!r}; supported: circular, spherical, doughnut, "
                     "rectangular, box, elliptical, grid")


def _grid_mask(params, anchor, grid):
    """NEST's conversion of a grid mask (cells ``shape`` from ``anchor``) to a box on its grid layer."""
    _only(params, "grid", {"shape"})
    if grid is None:
        raise ValueError("grid masks can only be used with grid layers (the pool layer is not a grid layer)")
    extent, dims = (np.asarray(v, float) for v in grid)
    shape = np.asarray(params["shape"], float)
    a = np.zeros_like(shape) if anchor is None else np.asarray(anchor, float)
    if shape.size != dims.size or a.size != dims.size:
        raise ValueError(f"grid mask shape {shape.tolist()} and anchor {a.tolist()} must have one entry per "
                         f"axis of the {dims.size}-D grid layer")
    h = extent / dims
    lo, hi = h * (-a) - h / 2, h * (shape - a) - h / 2
    lo[1], hi[1] = -hi[1], -lo[1]  # grid rows run downwards (NEST: MaskedLayer::check_mask_)
    return Box(tuple(lo.tolist()), tuple(hi.tolist()))


def _only(params, shape, allowed):
    extra = sorted(set(params) - allowed)
    if extra:
        raise ValueError(f"{shape} mask has no parameter(s) {extra}; it takes {sorted(allowed)}")


def reflect(mask: Mask) -> Mask:
    """The mask of the negated displacements, ``{-x : x in mask}``.

    Examples
    --------
    >>> reflect(Box((0.1, 0.0), (0.3, 0.2)))
    Box(lower=(-0.3, -0.2), upper=(-0.1, -0.0))
    """
    neg = None if getattr(mask, "center", None) is None else tuple(-float(v) for v in mask.center)
    if isinstance(mask, Disc):
        return Disc(mask.radius, center=neg)
    if isinstance(mask, Annulus):
        return Annulus(mask.inner, mask.outer, center=neg)
    if isinstance(mask, Ellipse):
        return Ellipse(mask.semi_axes, angle=mask.angle, center=neg)
    if isinstance(mask, (Box, RotatedBox)):  # a box rotated about its centre reflects to one about -centre
        lo, hi = np.asarray(mask.lower, float), np.asarray(mask.upper, float)
        if isinstance(mask, RotatedBox):
            return RotatedBox(tuple((-hi).tolist()), tuple((-lo).tolist()), mask.angle, mask.polar_angle)
        return Box(tuple((-hi).tolist()), tuple((-lo).tolist()))
    raise TypeError(f"cannot reflect mask {mask!r}")
