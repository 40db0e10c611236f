"""Brian2 adapter: connect a ``Synapses`` object by the positions of its groups.

Install with ``pip install spatialconn[brian2]``. Works with the runtime
targets (numpy, cython) and with ``cpp_standalone`` (the index arrays are
passed to ``Synapses.connect(i=..., j=...)``, which standalone supports).

Examples
--------
>>> from brian2 import NeuronGroup, Synapses, um, ms
>>> import numpy as np, spatialconn as sc
>>> import spatialconn.brian2 as scb
>>> G = NeuronGroup(300, "v : 1\\nx : metre\\ny : metre", threshold="v > 1")
>>> rng = np.random.default_rng(0)
>>> G.x, G.y = rng.random(300) * 500 * um, rng.random(300) * 500 * um
>>> S = Synapses(G[:100], G[100:], on_pre="v += 0.1")
>>> conn = scb.connect(S, sc.FixedOutDegree(5), sc.Gaussian(sigma=100 * um), seed=1)
>>> len(S), int(S.j[:].max()) < 200
(500, True)
>>> S.delay = conn.distances / (0.3 * um / ms)  # conduction delays from distances

The kernel may also be the string you would give ``S.connect(p=...)``,
now with exact counts (resolved like Brian2 resolves it, see :func:`expression`):

>>> S2 = Synapses(G[:100], G[100:])
>>> sigma = 100 * um
>>> c = scb.connect(S2, sc.FixedOutDegree(5), "exp(-((x_pre-x_post)**2 + (y_pre-y_post)**2) / (2*sigma**2))",
...                 seed=1)
>>> len(S2)
500
"""

from __future__ import annotations

import ast
import sys

import numpy as np

from ._adapters import connect_neurons
from .connections import Connections

__all__ = ["connect", "expression", "group_positions"]

#: coordinate variables looked for when ``coords`` is not given, in this order
DEFAULT_COORDS = (("x", "y", "z"), ("X", "Y", "Z"))


def connect(synapses, rule, kernel=None, *, mask=None, space=None, multapses=True, autapses=True,
            seed=None, coords=None, namespace=None, cutoff=None, level=0) -> Connections:
    """Create the synapses of ``synapses`` from the positions of its groups.

    Positions are read from the source and target groups (subgroups
    included) with their units, the synapses are drawn with
    :func:`spatialconn.connect`, and ``synapses.connect(i=..., j=...)`` is
    called once.

    Parameters
    ----------
    synapses : brian2.Synapses
        Not yet connected by this call; its ``source`` and ``target`` may be
        ``NeuronGroup`` objects or subgroups such as ``G[:1000]``.
    rule : spatialconn rule
        ``FixedOutDegree``, ``FixedInDegree``, ``FixedTotalNumber`` or ``PairwiseBernoulli``.
    kernel : spatialconn kernel or str, optional
        A string is a Brian2 expression in the coordinate variables, e.g.
        ``"exp(-((x_pre-x_post)**2 + (y_pre-y_post)**2) / (2*sigma**2))"``,
        the ``p`` you would give ``Synapses.connect``; it becomes a
        :class:`spatialconn.Expression` (see :func:`expression`).
    namespace : dict, optional
        Values of the names in a string ``kernel``; without it they are
        looked up where ``connect`` is called, as Brian2 does.
    cutoff : length quantity, optional
        Distance beyond which a string ``kernel`` is 0 (needed when it does
        not provably decay and there is no mask).
    level : int, default 0
        How many frames above the caller to look for names (as Brian2's ``level``).
    mask, space, multapses, seed
        As for :func:`spatialconn.connect`. Lengths (``sigma``, radii,
        extent) must carry units when the positions do (they do whenever the
        coordinate variables are declared in metres).
    autapses : bool, default True
        ``False`` forbids a synapse from a neuron onto itself, also when
        source and target are different, overlapping subgroups of one group.
    coords : sequence of str, optional
        Names of the coordinate variables; by default ``x``, ``y``, ``z``
        (those that exist, in this order), else ``X``, ``Y``, ``Z``.

    Returns
    -------
    Connections
        ``.sources``/``.targets`` are the new synapses' ``i``/``j`` (indices
        relative to each subgroup, as Brian2 uses them), ``.distances`` in the
        positions' unit, in the order the synapses were created.

    Raises
    ------
    TypeError
        If ``synapses`` is not a Brian2 ``Synapses`` object.
    ValueError
        If the coordinate variables are missing, differ between source and
        target, have different dimensions, if units of lengths and positions
        disagree, or if the request is infeasible (see :func:`spatialconn.connect`).

    Examples
    --------
    >>> from brian2 import NeuronGroup, Synapses, um
    >>> import numpy as np, spatialconn as sc
    >>> G = NeuronGroup(200, "x : metre\\ny : metre")
    >>> G.x = np.arange(200) % 20 * 10 * um
    >>> G.y = np.arange(200) // 20 * 10 * um
    >>> S = Synapses(G, G)
    >>> c = connect(S, sc.FixedInDegree(4), sc.Gaussian(20 * um), multapses=False,
    ...             autapses=False, seed=3)
    >>> len(S), bool(np.all(S.i[:] != S.j[:]))
    (800, True)

    References
    ----------
    Brian2 documentation, "Synapses: creating synapses" (``connect(i=..., j=...)``).
    """
    try:
        from brian2 import Synapses
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("spatialconn.brian2 needs Brian2: pip install spatialconn[brian2]") from exc
    if not isinstance(synapses, Synapses):
        raise TypeError(f"synapses must be a brian2.Synapses object, got {type(synapses).__name__}")
    names = _coord_names(synapses.source, synapses.target, coords)
    if isinstance(kernel, str):
        kernel = expression(synapses, kernel, namespace=namespace, cutoff=cutoff, coords=names, level=level + 1)
    elif cutoff is not None:
        raise ValueError("cutoff= applies to a kernel given as a string; give the kernel its own cutoff")
    src_pos, src_ids = group_positions(synapses.source, names)
    tgt_pos, tgt_ids = group_positions(synapses.target, names)
    if _base_name(synapses.source) != _base_name(synapses.target):
        tgt_ids = tgt_ids + (src_ids.max(initial=-1) + 1)  # different groups: no shared neuron
    conn = connect_neurons(src_pos, tgt_pos, src_ids, tgt_ids, rule, kernel, mask=mask, space=space,
                           multapses=multapses, autapses=autapses, seed=seed)
    if len(conn):
        synapses.connect(i=conn.sources, j=conn.targets)
    else:  # Brian2 2.9 fails on connect(i=[], j=[]) and refuses to run never-connected Synapses
        synapses.connect(False)
    return conn


def group_positions(group, coords=None):
    """Positions of a ``NeuronGroup`` or subgroup, and its neurons' indices in the underlying group.

    Parameters
    ----------
    group : brian2 NeuronGroup or Subgroup
    coords : sequence of str, optional
        Coordinate variable names (default: ``x, y, z`` or ``X, Y, Z``, those that exist).

    Returns
    -------
    positions : (N, d) Quantity or float array
        With the variables' unit when they have one.
    ids : (N,) int array
        Index of each neuron in the underlying ``NeuronGroup``.

    Examples
    --------
    >>> from brian2 import NeuronGroup, um
    >>> G = NeuronGroup(5, "x : metre")
    >>> G.x = [0, 1, 2, 3, 4] * um
    >>> pos, ids = group_positions(G[2:4])
    >>> pos.shape, ids.tolist()
    ((2, 1), [2, 3])
    """
    names = _coord_names(group, group, coords)
    dims = {str(group.variables[n].dim) for n in names}
    if len(dims) > 1:
        raise ValueError(f"coordinate variables {names} of {group.name} have different dimensions {sorted(dims)}; "
                         "give them all the same unit")
    try:
        cols = [np.asarray(getattr(group, n)[:], dtype=np.float64) for n in names]
    except NotImplementedError as exc:  # standalone, values set by a string expression
        raise ValueError(
            f"cannot read the coordinates {names} of {group.name} before the run (standalone mode "
            "with values set by a string expression); set them from arrays, e.g. G.x = x_values * um"
        ) from exc
    values = np.column_stack(cols) if cols else np.empty((len(group), 0))
    dim = group.variables[names[0]].dim
    start = int(getattr(group, "start", 0))
    ids = np.arange(start, start + len(group), dtype=np.int64)
    if getattr(dim, "is_dimensionless", True):
        return values, ids
    from brian2 import Quantity

    return Quantity(values, dim=dim), ids


def _coord_names(source, target, coords):
    if coords is not None:
        if isinstance(coords, str) or not all(isinstance(c, str) for c in coords) or not 1 <= len(coords) <= 3:
            raise TypeError(f"coords must be a sequence of 1 to 3 variable names, got {coords!r}")
        for side, group in (("source", source), ("target", target)):
            missing = [c for c in coords if c not in group.variables]
            if missing:
                raise ValueError(f"coords={tuple(coords)!r}: the {side} group {group.name} has no variable "
                                 f"{missing[0]!r}")
        return tuple(coords)
    for candidates in DEFAULT_COORDS:
        src = tuple(c for c in candidates if c in source.variables)
        tgt = tuple(c for c in candidates if c in target.variables)
        if src or tgt:
            if src != tgt:
                raise ValueError(f"source group {source.name} has coordinates {src} but target group "
                                 f"{target.name} has {tgt}; give coords=... explicitly")
            return src
    raise ValueError(f"group {source.name} has no coordinate variables x, y, z (or X, Y, Z); "
                     "declare them (e.g. 'x : metre') or pass coords=('name1', 'name2')")


def _base_name(group) -> str:
    base = getattr(group, "source", None) if type(group).__name__ == "Subgroup" else None
    return (base if base is not None else group).name


_SUFFIXES = ("_post", "_pre")


def expression(synapses, text: str, *, namespace=None, cutoff=None, coords=None, level=0):
    """The :class:`spatialconn.Expression` of a Brian2 connection-probability string.

    Coordinate variables enter only through their differences, which
    become the displacement ``target - source``: ``x_post - x_pre`` is
    ``dx`` and ``x_pre - x_post`` is ``-dx`` (likewise ``y``/``dy``,
    ``z``/``dz`` in the order of ``coords``), and
    ``sqrt((x_pre-x_post)**2 + (y_pre-y_post)**2)`` over all coordinates
    is ``d``. Other names are resolved as Brian2 resolves them: the
    ``Synapses`` object's own ``namespace``, then ``namespace`` (or, when
    it is None, the caller's local and global names), then Brian2's units
    and constants; their values (with units) become parameters.

    Parameters
    ----------
    synapses : brian2.Synapses
    text : str
        The expression, as for ``Synapses.connect(p=text)``.
    namespace : dict, optional
    cutoff : length quantity, optional
    coords : sequence of str, optional
        Coordinate variable names (default ``x, y, z`` or ``X, Y, Z``).
    level : int, default 0
        Frames above the caller to look for names.

    Raises
    ------
    ValueError
        If the expression depends on anything but the displacement (a
        position itself such as ``x_pre`` outside a difference, ``i``,
        ``j``, another variable of the groups, ``rand()``), naming it, or on
        a name that cannot be resolved.

    Examples
    --------
    >>> from brian2 import NeuronGroup, Synapses, um
    >>> G = NeuronGroup(10, "x : metre\\ny : metre")
    >>> k = expression(Synapses(G, G), "exp(-sqrt((x_pre-x_post)**2 + (y_pre-y_post)**2) / lam)",
    ...                namespace={"lam": 50 * um})
    >>> k.text, k.isotropic
    ('exp(-d / lam)', True)
    """
    if not isinstance(text, str):
        raise TypeError(f"the kernel expression must be a string, got {text!r}")
    names = _coord_names(synapses.source, synapses.target, coords)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"kernel {text!r} is not valid syntax: {exc.msg}") from None
    local = dict(getattr(synapses, "namespace", None) or {})
    if namespace is None:
        frame = sys._getframe(level + 1)
        outer = {**frame.f_globals, **frame.f_locals}
    else:
        outer = dict(namespace)
    from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS

    from .expression import CONSTANTS, FUNCTIONS, VARIABLES
    from .kernels import Expression

    components = dict(zip(names, VARIABLES[1:]))
    group_vars = set(synapses.variables) | {f"{v}{s}" for v in synapses.source.variables for s in _SUFFIXES} \
        | {f"{v}{s}" for v in synapses.target.variables for s in _SUFFIXES}
    params: dict = {}

    def coordinate(node):
        """(name, suffix) if ``node`` is a coordinate variable of one side."""
        if isinstance(node, ast.Name):
            for s in _SUFFIXES:
                if node.id.endswith(s) and node.id[: -len(s)] in components:
                    return node.id[: -len(s)], s
        return None

    class Translate(ast.NodeTransformer):
        def visit_BinOp(self, node):
            a, b = coordinate(node.left), coordinate(node.right)
            if isinstance(node.op, ast.Sub) and a and b and a[0] == b[0] and a[1] != b[1]:
                comp = ast.Name(components[a[0]], ast.Load())
                return comp if a[1] == "_post" else ast.UnaryOp(ast.USub(), comp)
            return self.generic_visit(node)

        def visit_Call(self, node):
            node.args = [self.visit(a) for a in node.args]
            if isinstance(node.func, ast.Name) and node.func.id == "sqrt" and len(node.args) == 1 \
                    and _squares(node.args[0]) == sorted(components.values()):
                return ast.Name("d", ast.Load())
            if isinstance(node.func, ast.Name) and node.func.id not in FUNCTIONS:
                raise ValueError(f"kernel {text!r} calls {node.func.id}(), which is not allowed in a kernel "
                                 f"(functions: {', '.join(sorted(FUNCTIONS))})")
            return node

        def visit_Name(self, node):
            name = node.id
            if coordinate(node):
                stem = name[:-4] if name.endswith("_post") else name[:-3]
                raise ValueError(f"kernel {text!r} depends on {name} itself, not only on the displacement; "
                                 f"use it only in differences such as ({stem}_pre - ...)")
            var = synapses.variables.get(name) if hasattr(synapses.variables, "get") else None
            if type(var).__name__ == "Constant":  # N_pre, N_post: constants of the groups
                from brian2 import Quantity

                dim = getattr(var, "dim", None)
                value = var.value if dim is None or dim.is_dimensionless else Quantity(var.value, dim=dim)
                return self.parameter(name, value)
            if name in group_vars:
                raise ValueError(f"kernel {text!r} depends on {name}, a variable of the synapses or their groups; "
                                 "a kernel may depend only on the displacement between the positions")
            for ns in (local, outer):
                if name in ns:
                    return self.parameter(name, ns[name])
            if name in CONSTANTS:
                return node
            for ns in (DEFAULT_CONSTANTS, DEFAULT_UNITS):
                if name in ns:
                    return self.parameter(name, ns[name])
            raise ValueError(f"kernel {text!r}: the name {name!r} is not defined (not a coordinate difference, "
                             "not in the namespace, the caller's names or Brian2's units and constants)")

        def parameter(self, name, value):
            value = getattr(value, "value", value) if type(value).__name__ == "Constant" else value
            if callable(value) or isinstance(value, (str, bytes, bool)) or np.ndim(value) != 0:
                raise ValueError(f"kernel {text!r}: {name} = {value!r} is not a number or a quantity")
            key = name if name not in VARIABLES and name not in CONSTANTS else f"{name}_"
            params[key] = value
            return ast.Name(key, ast.Load())

    body = Translate().visit(tree.body)
    return Expression(ast.unparse(body), cutoff=cutoff, **params)


def _squares(node) -> list:
    """Names ``n`` of a sum of squares ``n**2`` (or ``(-n)**2``), sorted; [] otherwise."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _squares(node.left), _squares(node.right)
        return sorted(left + right) if left and right else []
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) \
            and node.right.value == 2:
        base = node.left.operand if isinstance(node.left, ast.UnaryOp) and isinstance(node.left.op, ast.USub) \
            else node.left
        return [base.id] if isinstance(base, ast.Name) and base.id in ("dx", "dy", "dz") else []
    return []
