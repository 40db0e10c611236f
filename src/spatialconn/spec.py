"""Declarative network specs in TOML: populations and projections.

A spec names populations (positions from a file or generated) and
projections between them (rule, kernel, mask, space, multapses, autapses,
seed). :func:`load` parses and validates it completely, so that every user
error surfaces as one :class:`SpecError` naming the key and the value before
anything is built or written. See ``examples/network.toml`` and the CLI page
of the documentation for the full format.

Examples
--------
>>> import spatialconn as sc
>>> from spatialconn.spec import parse
>>> net = parse('''
... seed = 1
... [populations.exc]
... positions = "uniform"
... n = 100
... extent = [[0, 1], [0, 1]]
... [projections.ee]
... source = "exc"
... rule = { type = "FixedOutDegree", k = 5 }
... kernel = { type = "Gaussian", sigma = 0.1 }
... autapses = false
... ''')
>>> net.populations["exc"].positions.shape
(100, 2)
>>> net.projections["ee"].rule
FixedOutDegree(k=5)
>>> len(net.connect("ee"))
500
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kernels as _kernels
from . import masks as _masks
from . import rules as _rules
from .space import Space

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["SpecError", "Network", "Population", "Projection", "Affine", "load", "parse", "generate", "read"]


class SpecError(ValueError):
    """A user error in a spec, with the dotted ``key`` it concerns.

    ``str(error)`` is one line: ``"<key>: <what is wrong, with the value>"``.
    """

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


# -- schemas -----------------------------------------------------------------
# kind: "number", "int", "vector", "matrix", "bool", "str", "int_or_vector"
_RULES = {
    "FixedOutDegree": (_rules.FixedOutDegree, {"k": "int_or_vector"}, {"k"}),
    "FixedInDegree": (_rules.FixedInDegree, {"k": "int_or_vector"}, {"k"}),
    "FixedTotalNumber": (_rules.FixedTotalNumber, {"n": "int", "sources": "str"}, {"n"}),
    "PairwiseBernoulli": (_rules.PairwiseBernoulli, {"p": "number"}, {"p"}),
    "PairwisePoisson": (_rules.PairwisePoisson, {"rate": "number"}, {"rate"}),
}
_KERNELS = {
    "Gaussian": (_kernels.Gaussian, {"sigma": "number", "mean": "number"}, {"sigma"}),
    "Exponential": (_kernels.Exponential, {"scale": "number"}, {"scale"}),
    "Gamma": (_kernels.Gamma, {"kappa": "number", "theta": "number"}, {"kappa", "theta"}),
    "Linear": (_kernels.Linear, {"slope": "number", "intercept": "number"}, {"slope"}),
    "Constant": (_kernels.Constant, {"value": "number"}, set()),
    "AnisotropicGaussian": (
        _kernels.AnisotropicGaussian,
        {"sigma": "vector", "angle": "number", "rho": "number", "rotation": "matrix", "mean": "vector"},
        {"sigma"},
    ),
}


def _expression(text, cutoff=None, parameters=None):
    return _kernels.Expression(text, cutoff=cutoff, **(parameters or {}))


_KERNELS["Expression"] = (_expression, {"text": "str", "cutoff": "number", "parameters": "number_table"},
                          {"text"})
_MASKS = {
    "Disc": (_masks.Disc, {"radius": "number", "center": "vector"}, {"radius"}),
    "Annulus": (_masks.Annulus, {"inner": "number", "outer": "number", "center": "vector"},
                {"inner", "outer"}),
    "Box": (_masks.Box, {"lower": "vector", "upper": "vector"}, {"lower", "upper"}),
    "Ellipse": (_masks.Ellipse, {"semi_axes": "vector", "angle": "number", "center": "vector"},
                {"semi_axes"}),
}
_GENERATORS = {
    "uniform": ({"n": "int", "extent": "matrix"}, {"n", "extent"}),
    "normal": ({"n": "int", "mean": "vector", "std": "number", "dim": "int"}, {"n"}),
    "grid": ({"shape": "int_vector", "extent": "matrix"}, {"shape", "extent"}),
}
#: what a SONATA circuit records about a population's neuron model (spatialconn.io.write_circuit)
_MODEL_KEYS = {"model_type", "model_template", "dynamics_params"}
_POPULATION_KEYS = {"positions", "file", "columns", "population", "seed", "n", "extent", "mean",
                    "std", "dim", "shape", *_MODEL_KEYS}
#: per-synapse values (a number or a linear function of distance) and the synapse model
_SYNAPSE_KEYS = {"syn_weight", "delay", "model_template", "dynamics_params"}
_PROJECTION_KEYS = {"source", "target", "rule", "kernel", "mask", "space", "multapses", "autapses",
                    "seed", *_SYNAPSE_KEYS}
_TOP_KEYS = {"seed", "space", "populations", "projections"}


@dataclass(frozen=True)
class Affine:
    """A synapse attribute that grows linearly with distance: ``intercept + slope * d``.

    Written in a spec as ``delay = { intercept = 0.5, slope = 2.0 }`` (``slope``
    per unit of the positions); a plain number is a constant.

    Examples
    --------
    >>> Affine(0.5, 2.0)([0.0, 1.0]).tolist()
    [0.5, 2.5]
    """

    intercept: float = 0.0
    slope: float = 0.0

    def __call__(self, distances):
        return self.intercept + self.slope * np.asarray(distances, dtype=np.float64)


@dataclass
class Population:
    """A named population: ``positions`` is an ``(N, d)`` float array.

    ``model_type``, ``model_template`` and ``dynamics_params`` describe the
    neuron model for SONATA circuits (None: the writer's defaults).
    """

    name: str
    positions: np.ndarray
    origin: str = ""
    model_type: str | None = None
    model_template: str | None = None
    dynamics_params: dict | None = None

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class Projection:
    """A named projection: the arguments of one :func:`spatialconn.connect` call."""

    name: str
    source: str
    target: str
    rule: _rules.Rule
    kernel: _kernels.Kernel | None = None
    mask: _masks.Mask | None = None
    space: Space | None = None
    multapses: bool = True
    autapses: bool = True
    seed: int = 0
    syn_weight: float | Affine | None = None
    delay: float | Affine | None = None
    model_template: str | None = None
    dynamics_params: dict | None = None

    @property
    def recurrent(self) -> bool:
        """True when source and target are the same population."""
        return self.source == self.target


@dataclass
class Network:
    """A validated spec: populations by name and projections by name (in file order)."""

    populations: dict = field(default_factory=dict)
    projections: dict = field(default_factory=dict)
    seed: int = 0
    path: Path | None = None

    def arguments(self, name: str) -> dict:
        """Keyword arguments of :func:`spatialconn.connect` for projection ``name``."""
        p = self.projections[name]
        tgt = None if p.recurrent else self.populations[p.target].positions
        return dict(sources=self.populations[p.source].positions, targets=tgt, rule=p.rule,
                    kernel=p.kernel, mask=p.mask, space=p.space, multapses=p.multapses,
                    autapses=p.autapses, seed=p.seed)

    def connect(self, name: str, **options):
        """Build projection ``name`` (``options`` go to :func:`spatialconn.connect`).

        Raises
        ------
        SpecError
            When the request is infeasible (e.g. more distinct partners than
            candidates), naming the projection.
        """
        from .connect import connect

        try:
            return connect(**self.arguments(name), **options)
        except (ValueError, TypeError) as exc:
            raise SpecError(f"projections.{name}", str(exc)) from exc


# -- entry points --------------------------------------------------------------
def load(path) -> Network:
    """Read and validate the TOML spec at ``path``; files named in it are relative to it.

    Parameters
    ----------
    path : str or os.PathLike
        The spec (format: module docstring, ``examples/network.toml`` and the
        command-line documentation).

    Returns
    -------
    Network
        Populations with their positions, and validated projections.

    Raises
    ------
    SpecError
        For a missing or unreadable file, invalid TOML, unknown keys, wrong
        types or values, and missing position files; ``str(error)`` is one
        line starting with the key.

    Examples
    --------
    >>> from pathlib import Path
    >>> from spatialconn.spec import load
    >>> example = Path(__file__).parents[2] / "examples" / "network.toml"
    >>> list(load(example).projections) if example.exists() else ['exc_exc', 'exc_inh', 'inh_exc']
    ['exc_exc', 'exc_inh', 'inh_exc']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("spec", f"file not found: '{path}'") from None
    except OSError as exc:
        raise SpecError("spec", f"cannot read '{path}': {exc.strerror}") from None
    try:
        net = parse(text, base=path.parent)
    except SpecError as exc:
        if exc.key != "spec":
            raise
        raise SpecError(str(path), str(exc)[len("spec: "):]) from None
    net.path = path
    return net


def parse(text: str, base=".") -> Network:
    """Validate a spec given as TOML text; relative file names are taken from ``base``.

    Parameters
    ----------
    text : str
        The TOML document.
    base : str or os.PathLike, default "."
        Folder against which position files are resolved.

    Returns
    -------
    Network

    Raises
    ------
    SpecError
        As :func:`load`.

    Examples
    --------
    See the module docstring.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("spec", f"invalid TOML: {exc}") from None
    _known(doc, _TOP_KEYS, "")
    seed = _value(doc.get("seed", 0), "int", "seed")
    if seed < 0:
        raise SpecError("seed", f"must be >= 0, got {seed}")
    net = Network(seed=seed)
    pops = _table(doc.get("populations"), "populations", required=True)
    if not pops:
        raise SpecError("populations", "at least one population is required")
    for name, entry in pops.items():
        net.populations[name] = _population(name, _table(entry, f"populations.{name}"), Path(base), seed)
    default_space = _space(doc["space"], "space") if "space" in doc else None
    projs = _table(doc.get("projections"), "projections", required=True)
    for name, entry in projs.items():
        net.projections[name] = _projection(name, _table(entry, f"projections.{name}"), net,
                                            default_space)
    return net


# -- helpers -----------------------------------------------------------------
def _derived_seed(seed: int, kind: str, name: str) -> int:
    """A default seed for one population or projection, stable under reordering."""
    ss = np.random.SeedSequence([seed, zlib.crc32(kind.encode()), zlib.crc32(name.encode())])
    return int(ss.generate_state(1, np.uint32)[0])


def _describe(value) -> str:
    return repr(value) if not isinstance(value, dict) else "a table"


def _table(value, key: str, required: bool = False) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        got = "nothing" if value is None else _describe(value)
        raise SpecError(key, f"expected a table, got {got}")
    return value


def _known(table: dict, allowed, key: str):
    for k in table:
        if k not in allowed:
            where = f"{key}.{k}" if key else k
            raise SpecError(where, f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _value(value, kind: str, key: str):
    """Check the TOML type of one value and convert it."""
    ok = {
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "vector": lambda v: isinstance(v, list) and all(_value_ok(x) for x in v),
        "matrix": lambda v: isinstance(v, list) and all(
            isinstance(r, list) and all(_value_ok(x) for x in r) for r in v),
        "int_vector": lambda v: isinstance(v, list) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in v),
        "number_table": lambda v: isinstance(v, dict) and all(_value_ok(x) for x in v.values()),
        "int_or_vector": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)),
    }[kind]
    if not ok(value):
        expected = {"number": "a number", "int": "an integer", "bool": "true or false",
                    "str": "a string", "vector": "a list of numbers",
                    "matrix": "a list of lists of numbers", "int_vector": "a list of integers",
                    "int_or_vector": "an integer or a list of integers",
                    "number_table": "a table of numbers (name = value)"}[kind]
        raise SpecError(key, f"expected {expected}, got {_describe(value)}")
    if kind in ("vector", "matrix", "int_vector"):
        return [list(r) for r in value] if kind == "matrix" else list(value)
    if kind == "int_or_vector" and isinstance(value, list):
        return np.asarray(value, dtype=np.int64)
    return value


def _value_ok(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _build(entry, registry: dict, key: str, what: str):
    """Construct a rule/kernel/mask from a ``{type = ..., param = ...}`` table."""
    entry = _table(entry, key)
    if "type" not in entry:
        raise SpecError(f"{key}.type", f"missing (one of: {', '.join(registry)})")
    typ = entry["type"]
    if typ not in registry:
        raise SpecError(f"{key}.type", f"unknown {what} {typ!r} (one of: {', '.join(registry)})")
    cls, params, required = registry[typ]
    extra = {"offset": "vector"} if registry is _KERNELS else {}
    _known(entry, {"type", *params, *extra}, key)
    for name in sorted(required):
        if name not in entry:
            raise SpecError(f"{key}.{name}", f"missing (required by {typ})")
    kwargs = {n: _value(v, {**params, **extra}[n], f"{key}.{n}") for n, v in entry.items() if n != "type"}
    offset = kwargs.pop("offset", None)
    try:
        obj = cls(**kwargs)
        return obj.shifted(offset) if offset is not None else obj
    except (ValueError, TypeError) as exc:
        raise SpecError(key, f"{typ}: {exc}") from None


def _space(entry, key: str) -> Space:
    entry = _table(entry, key)
    _known(entry, {"extent", "periodic"}, key)
    if "extent" not in entry:
        raise SpecError(f"{key}.extent", "missing (a list of [low, high] pairs)")
    extent = _value(entry["extent"], "matrix", f"{key}.extent")
    periodic = entry.get("periodic", True)
    if not (isinstance(periodic, bool) or (isinstance(periodic, list)
                                           and all(isinstance(p, bool) for p in periodic))):
        raise SpecError(f"{key}.periodic", f"expected true/false or a list of them, got {periodic!r}")
    try:
        return Space(extent=extent, periodic=periodic)
    except (ValueError, TypeError) as exc:
        raise SpecError(key, str(exc)) from None


def _population(name: str, entry: dict, base: Path, net_seed: int) -> Population:
    key = f"populations.{name}"
    _known(entry, _POPULATION_KEYS, key)
    if ("file" in entry) == ("positions" in entry):
        raise SpecError(key, "give exactly one of 'file' (positions from a file) or "
                             "'positions' (\"uniform\", \"normal\" or \"grid\")")
    if "file" in entry:
        _known(entry, {"file", "columns", "population", *_MODEL_KEYS}, key)
        fname = _value(entry["file"], "str", f"{key}.file")
        columns = entry.get("columns")
        if columns is not None and not (isinstance(columns, list) and columns
                                        and all(isinstance(c, str) for c in columns)):
            raise SpecError(f"{key}.columns", f"expected a list of column names, got {columns!r}")
        pop = entry.get("population")
        if pop is not None:
            _value(pop, "str", f"{key}.population")
        path = base / fname
        try:
            pos = read(path, columns=columns, population=pop)
        except FileNotFoundError:
            raise SpecError(f"{key}.file", f"file not found: '{fname}'") from None
        except (ValueError, OSError, KeyError) as exc:
            raise SpecError(f"{key}.file", f"'{fname}': {exc}") from None
        origin = f"file {fname}"
    else:
        kind = _value(entry["positions"], "str", f"{key}.positions")
        if kind not in _GENERATORS:
            raise SpecError(f"{key}.positions",
                            f"unknown generator {kind!r} (one of: uniform, normal, grid)")
        params, required = _GENERATORS[kind]
        _known(entry, {"positions", "seed", *params, *_MODEL_KEYS}, key)
        for p in sorted(required):
            if p not in entry:
                raise SpecError(f"{key}.{p}", f"missing (required by positions = {kind!r})")
        kwargs = {p: _value(v, params[p], f"{key}.{p}") for p, v in entry.items() if p in params}
        seed = _value(entry.get("seed", _derived_seed(net_seed, "population", name)), "int",
                      f"{key}.seed")
        if seed < 0:
            raise SpecError(f"{key}.seed", f"must be >= 0, got {seed}")
        try:
            pos = generate(kind, seed=seed, **kwargs)
        except ValueError as exc:
            raise SpecError(key, str(exc)) from None
        origin = f"{kind}, seed {seed}"
    if pos.ndim != 2 or not 1 <= pos.shape[1] <= 3:
        raise SpecError(key, f"positions must have 1 to 3 coordinates, got shape {pos.shape}")
    if not np.all(np.isfinite(pos)):
        i = int(np.argwhere(~np.isfinite(pos))[0, 0])
        raise SpecError(key, f"position of neuron {i} is not finite: {pos[i].tolist()}")
    return Population(name, pos, origin, **_model(entry, key, ("model_type", "model_template")))


def _projection(name: str, entry: dict, net: Network, default_space) -> Projection:
    key = f"projections.{name}"
    _known(entry, _PROJECTION_KEYS, key)
    for req in ("source", "rule"):
        if req not in entry:
            raise SpecError(f"{key}.{req}", "missing")
    src = _value(entry["source"], "str", f"{key}.source")
    tgt = _value(entry.get("target", src), "str", f"{key}.target")
    for role, pop in (("source", src), ("target", tgt)):
        if pop not in net.populations:
            raise SpecError(f"{key}.{role}", f"unknown population {pop!r} "
                                             f"(defined: {', '.join(net.populations)})")
    d_s, d_t = net.populations[src].positions.shape[1], net.populations[tgt].positions.shape[1]
    if d_s != d_t:
        raise SpecError(key, f"source {src!r} has {d_s} coordinates but target {tgt!r} has {d_t}")
    rule = _build(entry["rule"], _RULES, f"{key}.rule", "rule")
    kernel = _build(entry["kernel"], _KERNELS, f"{key}.kernel", "kernel") if "kernel" in entry else None
    mask = _build(entry["mask"], _MASKS, f"{key}.mask", "mask") if "mask" in entry else None
    space = _space(entry["space"], f"{key}.space") if "space" in entry else default_space
    if space is not None and space.ndim != d_s:
        where = f"{key}.space" if "space" in entry else "space"
        raise SpecError(where, f"has {space.ndim} axes but the positions of {src!r} have {d_s} "
                               f"coordinates (projection {name!r})")
    flags = {f: _value(entry.get(f, True), "bool", f"{key}.{f}") for f in ("multapses", "autapses")}
    seed = _value(entry.get("seed", _derived_seed(net.seed, "projection", name)), "int", f"{key}.seed")
    if seed < 0:
        raise SpecError(f"{key}.seed", f"must be >= 0, got {seed}")
    values = {a: _synapse_value(entry[a], f"{key}.{a}", a) for a in ("syn_weight", "delay") if a in entry}
    return Projection(name, src, tgt, rule, kernel, mask, space, seed=seed, **flags, **values,
                      **_model(entry, key, ("model_template",)))


def _model(entry: dict, key: str, names) -> dict:
    """Model names (no spaces: SONATA type tables are space separated) and ``dynamics_params``."""
    out = {}
    for name in names:
        if name in entry:
            value = _value(entry[name], "str", f"{key}.{name}")
            if not value or any(c.isspace() for c in value):
                raise SpecError(f"{key}.{name}", f"must be a non-empty name without spaces, got {value!r}")
            out[name] = value
    if "dynamics_params" in entry:
        params = _table(entry["dynamics_params"], f"{key}.dynamics_params")
        for k, v in params.items():
            if not (isinstance(v, (int, float, str, list)) and not isinstance(v, bool)):
                raise SpecError(f"{key}.dynamics_params.{k}", f"expected a number, string or list, got {v!r}")
        out["dynamics_params"] = dict(params)
    return out


def _synapse_value(value, key: str, name: str):
    """``syn_weight``/``delay``: a number or ``{intercept, slope}`` (linear in distance)."""
    if isinstance(value, dict):
        _known(value, {"intercept", "slope"}, key)
        v = Affine(float(_value(value.get("intercept", 0.0), "number", f"{key}.intercept")),
                   float(_value(value.get("slope", 0.0), "number", f"{key}.slope")))
        low = (v.intercept, v.slope)
    else:
        v = float(_value(value, "number", key))
        low = (v,)
    if not all(np.isfinite(low)):
        raise SpecError(key, f"must be finite, got {value!r}")
    if name == "delay" and (low[0] <= 0 or min(low) < 0):
        raise SpecError(key, f"a delay must be positive at every distance (intercept > 0, slope >= 0), "
                             f"got {value!r}")
    return v


# -- positions -----------------------------------------------------------------
def generate(kind: str, *, seed: int, n: int | None = None, extent=None, mean=None, std=1.0,
             dim: int | None = None, shape=None) -> np.ndarray:
    """Generated positions: ``"uniform"`` in a box, ``"normal"`` cloud, or ``"grid"``.

    ``uniform``: ``n`` points uniform in ``extent`` (one ``[low, high]`` per axis).
    ``normal``: ``n`` points from N(``mean``, ``std``²) per axis (``dim`` axes, default 2
    or the length of ``mean``). ``grid``: ``shape`` points per axis at the cell centres
    of ``extent`` (like ``nest.spatial.grid``), first axis varying slowest.

    Examples
    --------
    >>> from spatialconn.spec import generate
    >>> generate("grid", seed=0, shape=[2, 2], extent=[[0, 1], [0, 1]]).tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    rng = np.random.default_rng(seed)
    if kind == "grid":
        ext = _extent(extent)
        shape = [int(s) for s in shape]
        if len(shape) != len(ext) or any(s < 1 for s in shape):
            raise ValueError(f"shape must give a positive count for each of the {len(ext)} axes of "
                             f"extent, got {shape}")
        axes = [lo + (np.arange(s) + 0.5) * (hi - lo) / s for s, (lo, hi) in zip(shape, ext)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if kind == "uniform":
        ext = _extent(extent)
        return ext[:, 0] + rng.random((n, len(ext))) * (ext[:, 1] - ext[:, 0])
    if mean is not None and dim is not None and len(mean) != dim:
        raise ValueError(f"mean has {len(mean)} components but dim = {dim}")
    d = len(mean) if mean is not None else (2 if dim is None else dim)
    if not 1 <= d <= 3:
        raise ValueError(f"dim must be 1, 2 or 3, got {d}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    centre = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    return centre + std * rng.normal(size=(n, d))


def _extent(extent) -> np.ndarray:
    ext = np.asarray(extent, dtype=np.float64)
    if ext.ndim != 2 or ext.shape[1] != 2 or not 1 <= len(ext) <= 3 or np.any(ext[:, 1] <= ext[:, 0]):
        raise ValueError(f"extent must be 1 to 3 [low, high] pairs with low < high, got {extent}")
    return ext


def read(path, columns=None, population=None) -> np.ndarray:
    """Positions from a ``.csv``, ``.npy`` or SONATA nodes ``.h5`` file, as ``(N, d)`` floats.

    CSV: comma-separated numbers, optionally with a header row; ``columns``
    picks columns by header name. ``.npy``: an ``(N, d)`` array. SONATA nodes:
    ``/nodes/<population>/0/x`` (and ``y``, ``z`` where present, or the
    datasets named in ``columns``); ``population`` may be omitted when there
    is only one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        pos = np.load(path, allow_pickle=False)
        if columns is not None:
            raise ValueError("'columns' applies to CSV and SONATA files only")
        pos = np.asarray(pos, dtype=np.float64)
        return pos[:, None] if pos.ndim == 1 else pos
    if suffix == ".csv":
        return _read_csv(path, columns)
    if suffix in (".h5", ".hdf5"):
        return _read_sonata_nodes(path, columns, population)
    raise ValueError(f"unsupported positions file type {suffix!r} (use .csv, .npy or SONATA .h5)")


def _read_csv(path: Path, columns) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    cells = [c.strip() for c in first.split(",")]
    try:
        [float(c) for c in cells]
        header = None
    except ValueError:
        header = cells
    if columns is not None and header is None:
        raise ValueError("'columns' needs a header row naming the columns")
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=0 if header is None else 1, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"not a numeric CSV file ({exc})") from None
    if columns is None:
        return data
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"no column {missing[0]!r} (header: {', '.join(header)})")
    return data[:, [header.index(c) for c in columns]]


def _read_sonata_nodes(path: Path, columns, population) -> np.ndarray:
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError("reading SONATA nodes needs h5py (pip install 'spatialconn[io]')") from None
    with h5py.File(path, "r") as f:
        if "nodes" not in f:
            raise ValueError("not a SONATA nodes file (no /nodes group)")
        names = list(f["nodes"])
        if population is None:
            if len(names) != 1:
                raise ValueError(f"several node populations ({', '.join(names)}); set 'population'")
            population = names[0]
        if population not in f["nodes"]:
            raise ValueError(f"no node population {population!r} (found: {', '.join(names)})")
        group = f["nodes"][population]["0"]
        cols = columns or [c for c in ("x", "y", "z") if c in group]
        if not cols:
            raise ValueError(f"node population {population!r} has no x/y/z datasets")
        missing = [c for c in cols if c not in group]
        if missing:
            raise ValueError(f"node population {population!r} has no dataset {missing[0]!r}")
        return np.stack([np.asarray(group[c], dtype=np.float64) for c in cols], axis=1)
