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
"""

from __future__ import annotations

import numpy as np

from ._adapters import connect_neurons
from .connections import Connections

__all__ = ["connect", "group_positions"]

#: coordinate variables looked for when ``coords`` is not given, in this order
DEFAULT_COORDS = (("x", "y", "z"), ("X", "Y", "Z"))


def connect(synapses, rule, kernel=None, *, mask=None, space=None, multapses=True, autapses=True,
            seed=None, coords=None) -> Connections:
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
    kernel, mask, space, multapses, seed
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
