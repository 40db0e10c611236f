"""Route NEST's spatial ``nest.Connect`` calls through ``spatialconn.nest.connect_spec``.

Copied by ``run.py`` as ``conftest.py`` above NEST's extracted ``testsuite/``,
so it is loaded before NEST's own conftest. Every ``nest.Connect`` that NEST
itself would send to its spatial machinery (``_connect_layers_needed``: a
mask, a spatial ``p``/kernel, a spatial synapse parameter) is translated and
made by spatialconn instead; every other call goes to NEST unchanged.

NEST ``Parameter`` and ``Mask`` objects are opaque, so this harness records
how each was built (``CreateParameter``/``CreateMask`` arguments and
arithmetic) and turns the record into the dict vocabulary of
``connect_spec`` (``{"gaussian": {"std": ...}, "factor": f}``, ``{"linear": ...}``,
mask dicts). A call that cannot be written in that vocabulary (e.g. a kernel
of ``nest.spatial.distance.x`` alone, a mask built with ``|``/``&``, a
random kernel) runs natively and marks its test "n/a".

Seeds: each routed call gets ``SeedSequence([nest.rng_seed, call number,
$NEST_SUITE_SEED])`` (default 0), so the statistical tests can be repeated
with other streams. At the end a summary is printed and written to ``$NEST_SUITE_REPORT``
(default ``nest_suite_report.json``): tests that routed at least one
connection, passed/failed, and the n/a ones with the reason.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import spatialconn as sc
import spatialconn.nest as scn

os.environ.setdefault("PYNEST_QUIET", "1")
import nest
from nest.lib import hl_api_connection_helpers as _helpers
from nest.lib import hl_api_types as _types

_NATIVE_CONNECT = nest.Connect
STATE = {"routed": 0, "na": []}
RESULTS = {}
_COUNTER = [0]


class NotTranslatable(Exception):
    """This call cannot be written in connect_spec's vocabulary: it runs natively."""


# -- record how Parameters and Masks were built ---------------------------------
def _tagging_create(create):
    def wrapped(name, spec=None, *args, **kwargs):
        out = create(name, spec, *args, **kwargs) if spec is not None else create(name, *args, **kwargs)
        try:
            out._sc = ("create", name, dict(spec or {}))
        except AttributeError:  # pragma: no cover
            pass
        return out
    return wrapped


def _install_tags():
    import nest.lib.hl_api_spatial as lib_spatial
    import nest.spatial.hl_api_spatial as sp
    import nest.spatial_distributions.hl_api_spatial_distributions as sd

    for module in (sd, sp, _types, nest.math, nest.random, nest.logic):
        inner = getattr(module, "hl_api_" + module.__name__.rsplit(".", 1)[-1], None)
        for mod in (module, inner):
            if mod is not None and hasattr(mod, "CreateParameter"):
                mod.CreateParameter = _tagging_create(mod.CreateParameter)
    nest.__dict__["CreateParameter"] = _tagging_create(nest.CreateParameter)  # the nest module is frozen
    init = sp.DistanceParameter.__init__

    def distance_init(self):
        init(self)
        self._sc = ("create", "distance", {})
    sp.DistanceParameter.__init__ = distance_init

    for op in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__neg__",
               "__pos__", "__lt__", "__le__", "__gt__", "__ge__"):
        orig = getattr(_types.Parameter, op)

        def wrapped(self, *args, _orig=orig, _op=op):
            out = _orig(self, *args)
            out._sc = ("op", _op, self, *args)
            return out
        setattr(_types.Parameter, op, wrapped)

    import nest.logic.hl_api_logic as logic

    conditional = logic.conditional

    def tagged_conditional(condition, if_true, if_false):
        out = conditional(condition, if_true, if_false)
        out._sc = ("conditional", condition, if_true, if_false)
        return out
    logic.conditional = nest.logic.conditional = tagged_conditional

    create_mask = lib_spatial.CreateMask

    def tagged_mask(masktype, specs, anchor=None):
        out = create_mask(masktype, specs, anchor)
        spec = {masktype: dict(specs)}
        if anchor is not None:
            spec["anchor"] = list(anchor)
        out._sc = spec
        return out
    lib_spatial.CreateMask = tagged_mask
    nest.__dict__["CreateMask"] = tagged_mask


_install_tags()


# -- interpret a record: float, ("affine", c, a), ("kernel", name, params, f), ("axis", k) ---------
def _value(p):
    if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool):
        return float(p)
    tag = getattr(p, "_sc", None)
    if tag is None:
        raise NotTranslatable(f"Parameter {p!r} of unknown construction")
    if tag[0] == "create":
        name, spec = tag[1], tag[2]
        if name == "constant":
            return float(spec["value"])
        if name == "distance":
            k = spec.get("dimension", 0)
            return ("affine", 0.0, 1.0) if k == 0 else ("axis", k)
        kernels = {"exp_distribution": ("exponential", ("beta",)), "gaussian": ("gaussian", ("mean", "std")),
                   "gamma": ("gamma", ("kappa", "theta"))}
        if name in kernels and _value(spec["x"]) == ("affine", 0.0, 1.0):
            kname, keys = kernels[name]
            return ("kernel", kname, {k: float(spec[k]) for k in keys if k in spec}, 1.0)
        if name == "gaussian2d" and _value(spec["x"]) == ("axis", 1) and _value(spec["y"]) == ("axis", 2):
            keys = ("mean_x", "mean_y", "std_x", "std_y", "rho")
            return ("kernel", "gaussian2D", {k: float(spec[k]) for k in keys if k in spec}, 1.0)
        raise NotTranslatable(f"Parameter {name!r} {spec}")
    if tag[0] == "conditional":  # a step of the distance: conditional(distance < r, a, 0)
        cond, a, b = _value(tag[1]), _value(tag[2]), _value(tag[3])
        if cond[0] == "below" and isinstance(a, float) and b == 0.0:
            return ("step", cond[1], cond[2], a)
        raise NotTranslatable(f"conditional {cond}, {a}, {b}")
    _, op, a, *rest = tag
    a = _value(a)
    b = _value(rest[0]) if rest else None
    if op in ("__neg__",):
        return _scale(a, -1.0)
    if op == "__pos__":
        return a
    if op in ("__mul__", "__rmul__"):
        if isinstance(b, float):
            return _scale(a, b)
        if isinstance(a, float):
            return _scale(b, a)
    if op == "__truediv__" and isinstance(b, float):
        return _scale(a, 1.0 / b)
    if op in ("__add__", "__radd__"):
        return _add(a, b)
    if op == "__sub__":
        return _add(a, _scale(b, -1.0))
    if op == "__rsub__":
        return _add(_scale(a, -1.0), b)
    if op in ("__lt__", "__le__") and a == ("affine", 0.0, 1.0) and isinstance(b, float):
        return ("below", b, op == "__le__")
    raise NotTranslatable(f"Parameter operation {op} on {a}, {b}")


def _scale(v, f):
    if isinstance(v, float):
        return v * f
    if v[0] == "affine":
        return ("affine", v[1] * f, v[2] * f)
    if v[0] == "kernel":
        return ("kernel", v[1], v[2], v[3] * f)
    raise NotTranslatable(f"scaled {v}")


def _add(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    if isinstance(a, float):
        a, b = b, a
    if b == 0.0:
        return a
    if isinstance(b, float) and a[0] == "affine":
        return ("affine", a[1] + b, a[2])
    if a[0] == "affine" and not isinstance(b, float) and b[0] == "affine":
        return ("affine", a[1] + b[1], a[2] + b[2])
    raise NotTranslatable(f"sum of {a} and {b}")


def _as_spec(p):
    v = _value(p)
    if isinstance(v, float):
        return v
    if v[0] == "affine":
        return v[1] if v[2] == 0 else {"linear": {"c": v[1], "a": v[2]}}
    if v[0] == "kernel":
        return {v[1]: v[2], "factor": v[3]}
    if v[0] == "axis":  # nest.spatial.distance.x etc. is |dx|: a kernel of the displacement
        k = v[1] - 1
        return sc.CustomKernel(lambda x: np.abs(x[..., k]), cutoff=np.inf, on="displacement")
    if v[0] == "step":  # a spatialconn kernel: connect_spec takes those too
        r, inclusive, height = v[1], v[2], v[3]
        return sc.CustomKernel(lambda d: height * ((d <= r) if inclusive else (d < r)), cutoff=r, peak=height)
    raise NotTranslatable(f"{v}")


def _as_syn_value(p):
    if not isinstance(p, _types.Parameter):
        return p
    try:
        v = _value(p)
    except NotTranslatable:
        if p.is_spatial():
            raise
        return lambda d: np.array([p.GetValue() for _ in range(np.size(d))], dtype=float)  # random, per synapse
    if isinstance(v, float):
        return v
    if v[0] == "affine":
        c, a = v[1], v[2]
        return lambda d: c + a * np.asarray(d, dtype=float)
    raise NotTranslatable(f"synapse parameter {v}")


def _translate(conn_spec, syn_spec, pre, post):
    spec = {}
    for key, value in conn_spec.items():
        if key in ("p", "pairwise_avg_num_conns") and isinstance(value, _types.Parameter):
            value = _as_spec(value)
        elif key in ("indegree", "outdegree") and isinstance(value, _types.Parameter):
            if value.is_spatial():
                raise NotTranslatable(f"spatial {key} Parameter")
            n = len(post) if key == "indegree" else len(pre)  # NEST draws one degree per driver
            value = np.array([round(value.GetValue()) for _ in range(n)], dtype=np.int64)
        elif key == "mask" and isinstance(value, _types.Mask):
            value = getattr(value, "_sc", None)
            if value is None:
                raise NotTranslatable("a Mask combined with |, & or -")
        spec[key] = value
    if syn_spec is None:
        syn = None
    elif isinstance(syn_spec, str):
        syn = {"synapse_model": syn_spec}
    elif isinstance(syn_spec, dict):
        syn = {k: _as_syn_value(v) for k, v in syn_spec.items()}
    else:
        raise NotTranslatable(f"syn_spec {type(syn_spec).__name__}")
    return spec, syn


def routed_connect(pre, post, conn_spec=None, syn_spec=None, return_synapsecollection=False):
    layers = isinstance(pre, nest.NodeCollection) and isinstance(post, nest.NodeCollection)
    if not (layers and isinstance(conn_spec, dict)
            and _helpers._connect_layers_needed(conn_spec, syn_spec if isinstance(syn_spec, dict) else None)):
        return _NATIVE_CONNECT(pre, post, conn_spec, syn_spec, return_synapsecollection=return_synapsecollection)
    try:
        spec, syn = _translate(conn_spec, syn_spec, pre, post)
    except NotTranslatable as exc:
        STATE["na"].append(str(exc))
        return _NATIVE_CONNECT(pre, post, conn_spec, syn_spec, return_synapsecollection=return_synapsecollection)
    STATE["routed"] += 1
    _COUNTER[0] += 1
    seed = np.random.SeedSequence([int(nest.rng_seed), _COUNTER[0], int(os.environ.get("NEST_SUITE_SEED", "0"))])
    scn.connect_spec(pre, post, spec, syn, seed=seed)
    return nest.GetConnections(pre, post) if return_synapsecollection else None


nest.__dict__["Connect"] = routed_connect


@pytest.fixture(autouse=True)
def _route_state():
    STATE["routed"], STATE["na"] = 0, []
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    finished = report.when == "call" or (report.when == "setup" and report.outcome != "passed")
    if finished and (STATE["routed"] or STATE["na"]):
        kind = "n/a" if STATE["na"] else ("pass" if report.passed else "fail")
        RESULTS[item.nodeid] = {"result": kind, "routed": STATE["routed"], "na": list(STATE["na"]),
                                "error": "" if report.passed else str(report.longrepr).splitlines()[-1][:300]}


def pytest_sessionfinish(session, exitstatus):
    counts = {k: sum(r["result"] == k for r in RESULTS.values()) for k in ("pass", "fail", "n/a")}
    path = os.environ.get("NEST_SUITE_REPORT", "nest_suite_report.json")
    with open(path, "w") as fh:
        json.dump({"counts": counts, "tests": RESULTS}, fh, indent=1, sort_keys=True)
    print(f"\nspatialconn routing: {counts['pass']} pass, {counts['fail']} fail, {counts['n/a']} n/a "
          f"(tests that made spatial connections; details in {path})")
