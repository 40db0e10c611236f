"""NEST adapter: connect NodeCollections by position, in one ``nest.Connect`` call.

Install with ``pip install spatialconn[nest]``. Two entry points:

* :func:`connect` takes spatialconn rules and kernels;
* :func:`connect_spec` takes NEST's own ``conn_spec`` dict (``fixed_outdegree``,
  ``fixed_indegree``, ``fixed_total_number``, ``pairwise_bernoulli``,
  ``pairwise_poisson``, masks including ``grid`` and rotated boxes,
  kernels as dicts, see :mod:`spatialconn._nest_spec`), so switching from
  ``nest.Connect(pre, post, conn_spec)`` is a one-line change, and
  ``fixed_total_number`` with a kernel or mask works (NEST refuses it).

Both draw the synapses with :func:`spatialconn.connect` and create them with
``nest.Connect(pre_ids, post_ids, "one_to_one", syn_spec)`` with array-valued
node ids, weights and delays.

Examples
--------
>>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
>>> import nest, numpy as np, spatialconn as sc
>>> import spatialconn.nest as scn
>>> nest.ResetKernel()
>>> pos = np.random.default_rng(0).uniform(-0.5, 0.5, (200, 2)).tolist()
>>> layer = nest.Create("iaf_psc_alpha", positions=nest.spatial.free(pos, edge_wrap=True,
...                     extent=[1.0, 1.0]))
>>> conn = scn.connect_spec(layer, layer, {"rule": "fixed_total_number", "N": 500,
...                         "p": {"gaussian": {"std": 0.1}}}, seed=1)
>>> nest.num_connections
500
"""

from __future__ import annotations

import numpy as np

from ._adapters import connect_neurons
from ._nest_spec import translate_conn_spec
from .connections import Connections
from .masks import periodic_images
from .space import Space

__all__ = ["connect", "connect_spec", "layer_positions", "layer_space"]


def connect(pre, post, rule, kernel=None, *, mask=None, space=None, multapses=True, autapses=True,
            seed=None, positions=None, syn_spec=None, weight=None, delay=None) -> Connections:
    """Connect two NodeCollections by the positions of their nodes.

    Parameters
    ----------
    pre, post : nest.NodeCollection
        Sources and targets; spatial (created with ``positions=``) unless
        ``positions`` is given.
    rule, kernel, mask, multapses, seed
        As for :func:`spatialconn.connect` (masks on ``target - source``).
    space : spatialconn.Space, optional
        Default: a periodic space with the layers' extent when they have
        ``edge_wrap=True`` (NEST's torus; both layers must wrap with the same
        extent, their centres may differ since only the periods matter), open
        space otherwise.
    autapses : bool, default True
        ``False`` forbids a synapse from a node onto itself (compared by node id,
        so it also holds for overlapping, different NodeCollections).
    positions : (pre_positions, post_positions), optional
        Positions to use instead of ``nest.GetPosition``.
    syn_spec : dict, optional
        NEST ``syn_spec`` (``synapse_model``, ``receptor_type``, ...); ``weight``
        and ``delay`` may be numbers, arrays (one per synapse) or callables of
        the distance array.
    weight, delay : number, array or callable, optional
        Shortcuts for ``syn_spec["weight"]`` / ``syn_spec["delay"]``; a callable
        gets the synapses' distances (in the positions' unit, mm in NEST) and
        returns one value per synapse, e.g. ``delay=lambda d: 1.0 + d / 0.5``.

    Returns
    -------
    Connections
        Indices into ``pre`` and ``post`` (not node ids), in creation order.

    Raises
    ------
    TypeError
        If ``pre``/``post`` are not NodeCollections, or a weight/delay is a NEST Parameter.
    ValueError
        If positions are missing or of the wrong shape, the two layers disagree
        on ``edge_wrap``, or the request is infeasible.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    >>> import nest, numpy as np, spatialconn as sc
    >>> nest.ResetKernel()
    >>> grid = nest.Create("iaf_psc_alpha", positions=nest.spatial.grid([10, 10], extent=[1.0, 1.0]))
    >>> c = connect(grid, grid, sc.FixedOutDegree(4), sc.Gaussian(0.15), autapses=False,
    ...             seed=2, weight=2.0, delay=lambda d: 1.0 + 2.0 * d)
    >>> nest.num_connections, len(c)
    (400, 400)

    References
    ----------
    NEST documentation, "Connect using arrays" (``nest.Connect(..., "one_to_one")``).
    """
    pre_ids, post_ids = _ids(pre, "pre"), _ids(post, "post")
    if positions is None:
        src_pos, tgt_pos = layer_positions(pre, "pre"), layer_positions(post, "post")
    else:
        if not isinstance(positions, (tuple, list)) or len(positions) != 2:
            raise TypeError("positions must be a pair (pre_positions, post_positions)")
        src_pos, tgt_pos = (np.asarray(p, dtype=np.float64) for p in positions)
    if space is None and positions is None:
        space = _common_space(pre, post)
    if positions is None and space is not None and any(space.periodic):
        # NEST wraps by period only; put both layers inside one extent
        src_pos, tgt_pos = _wrap_into(src_pos, space), _wrap_into(tgt_pos, space)
    spec = _syn_spec(syn_spec, weight, delay)
    conn = connect_neurons(src_pos, tgt_pos, pre_ids, post_ids, rule, kernel, mask=mask, space=space,
                           multapses=multapses, autapses=autapses, seed=seed)
    _create(pre_ids, post_ids, conn, spec)
    return conn


def connect_spec(pre, post, conn_spec, syn_spec=None, *, seed=None, positions=None, space=None) -> Connections:
    """Like ``nest.Connect(pre, post, conn_spec, syn_spec)`` for spatial rules, drawn by spatialconn.

    Parameters
    ----------
    pre, post : nest.NodeCollection
    conn_spec : dict
        NEST vocabulary: ``rule``, ``outdegree``/``indegree``/``N``/``p``,
        ``allow_autapses``, ``allow_multapses``, ``mask`` (NEST mask dict with
        ``anchor``, placed on the driver as NEST does), ``p`` as a number or a
        kernel dict such as ``{"gaussian": {"std": 0.1}}`` (see
        :mod:`spatialconn._nest_spec`), ``use_on_source`` for Bernoulli.
        ``fixed_total_number`` takes a kernel and mask too (the mask on
        ``target - source``, as for ``fixed_outdegree``).
    syn_spec : dict, optional
        As for :func:`connect`; ``weight``/``delay`` may be callables of distance.
    seed, positions, space
        As for :func:`connect`; by default the space wraps like the layer NEST
        searches with the mask (sources, or targets for ``fixed_outdegree``
        and ``use_on_source``).

    Returns
    -------
    Connections

    Raises
    ------
    nest.NESTErrors.BadProperty
        Invalid parameters, masks wider than a wrapped layer without
        ``allow_oversized_mask``, infeasible requests (also a ``ValueError``).
    nest.NESTErrors.IllegalConnection
        A spatial rule onto recording devices other than ``pairwise_bernoulli``
        with ``use_on_source`` (also a ``ValueError``), as in NEST.
    TypeError
        Nodes that are not spatial (without ``positions``), wrong types.

    Notes
    -----
    NEST's semantics where ``sc.connect`` is stricter: ``pairwise_bernoulli``
    connects with probability ``min(1, p · K)``; masks may cover a whole
    wrapped layer (a pair is in the mask when some periodic image is).

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    >>> import nest, spatialconn as sc
    >>> nest.ResetKernel()
    >>> grid = nest.Create("iaf_psc_alpha", positions=nest.spatial.grid([10, 10], extent=[1.0, 1.0]))
    >>> c = connect_spec(grid, grid, {"rule": "fixed_indegree", "indegree": 3,
    ...     "mask": {"circular": {"radius": 0.25}}, "p": {"exponential": {"beta": 0.1}},
    ...     "allow_autapses": False, "allow_multapses": False}, {"weight": 1.5}, seed=4)
    >>> len(c)
    300
    """
    import nest

    bad_property = _nest_error("BadProperty", ValueError)
    if positions is None:
        for nodes, name in ((pre, "pre"), (post, "post")):
            _ids(nodes, name)
            if getattr(nodes, "spatial", None) is None:
                raise TypeError(f"{name} must have spatial information (created with positions=) for a "
                                "spatial conn_spec, or pass positions=(pre_positions, post_positions)")
    try:
        kw = translate_conn_spec(conn_spec, _pool_grid(pre, post, conn_spec) if positions is None else None)
    except ValueError as exc:
        raise bad_property(str(exc)) from exc
    _refuse_recorders(post, conn_spec)
    rule, kernel, mask = kw.pop("rule"), kw.pop("kernel"), kw.pop("mask")
    if space is None and positions is None:  # NEST wraps by the layer it searches (the pool layer)
        space = layer_space(_pool(pre, post, conn_spec))
    if mask is not None and space is not None:
        try:
            mask = periodic_images(mask, space.periods, oversized=bool(conn_spec.get("allow_oversized_mask", False)))
        except ValueError as exc:
            raise bad_property(f"Mask size must not exceed layer size; set allow_oversized_mask to override. "
                               f"({exc})") from exc
    try:
        return connect(pre, post, rule, kernel, mask=mask, seed=seed, positions=positions, space=space,
                       syn_spec=syn_spec, **kw)
    except ValueError as exc:
        if isinstance(exc, nest.NESTErrors.KernelException):
            raise
        raise bad_property(str(exc)) from exc


def _nest_error(name, base):
    """NEST's exception ``name`` that is also a ``base`` (code written for either catches it)."""
    import nest

    key = (name, base)
    if key not in _ERRORS:
        _ERRORS[key] = type(name, (getattr(nest.NESTErrors, name), base), {"__module__": __name__})
    return _ERRORS[key]


_ERRORS: dict = {}


def _pool(pre, post, conn_spec):
    """The layer NEST searches with the mask: targets for fixed_outdegree and use_on_source, else sources."""
    rule = conn_spec.get("rule") if isinstance(conn_spec, dict) else None
    on_post = rule == "fixed_outdegree" or (rule == "pairwise_bernoulli" and conn_spec.get("use_on_source", False))
    return post if on_post else pre


def _pool_grid(pre, post, conn_spec):
    """``(extent, shape)`` of the pool layer if it is a grid layer (for grid masks)."""
    meta = _pool(pre, post, conn_spec).spatial
    return (meta["extent"], meta["shape"]) if "shape" in meta else None


def _refuse_recorders(post, conn_spec):
    """NEST connects neurons to recorders (no proxies) only by ``pairwise_bernoulli`` with ``use_on_source``."""
    if not (conn_spec.get("rule") == "pairwise_bernoulli" and conn_spec.get("use_on_source", False)):
        kinds = post.get("element_type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if "recorder" in kinds:
            raise _nest_error("IllegalConnection", ValueError)(
                f"spatial {conn_spec.get('rule')!r} onto recording devices is not possible in NEST; use "
                "pairwise_bernoulli with use_on_source=True (or nest.Connect without spatial terms)")


def layer_positions(nodes, name: str = "nodes") -> np.ndarray:
    """Positions of a spatial NodeCollection as an ``(N, d)`` float array.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    >>> import nest
    >>> nest.ResetKernel()
    >>> layer = nest.Create("iaf_psc_alpha", positions=nest.spatial.free([[0.1, 0.2], [0.3, 0.4]]))
    >>> layer_positions(layer).tolist()
    [[0.1, 0.2], [0.3, 0.4]]
    """
    import nest

    if getattr(nodes, "spatial", None) is None:
        raise ValueError(f"{name} is not spatial (created without positions=); pass positions=(pre, post)")
    d = len(nodes.spatial["extent"])
    return np.asarray(nest.GetPosition(nodes), dtype=np.float64).reshape(len(nodes), d)


def layer_space(nodes):
    """The periodic :class:`~spatialconn.Space` of an ``edge_wrap`` layer, else ``None``.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    >>> import nest
    >>> nest.ResetKernel()
    >>> layer = nest.Create("iaf_psc_alpha", positions=nest.spatial.grid([2, 2], extent=[2.0, 1.0],
    ...                     edge_wrap=True))
    >>> layer_space(layer)
    Space(extent=((-1.0, 1.0), (-0.5, 0.5)), periodic=(True, True))
    """
    meta = getattr(nodes, "spatial", None)
    if meta is None or not meta.get("edge_wrap", False):
        return None
    centre = np.asarray(meta["center"], float)
    extent = np.asarray(meta["extent"], float)
    flat = extent <= 0  # all nodes on a line or plane: NEST gives that axis extent 0; it cannot wrap
    half = np.where(flat, 0.5, extent / 2)
    return Space(extent=tuple(zip((centre - half).tolist(), (centre + half).tolist())),
                 periodic=tuple((~flat).tolist()))


def _common_space(pre, post):
    a, b = layer_space(pre), layer_space(post)
    if (a is None) != (b is None) or (a is not None and not np.allclose(a.lengths, b.lengths, rtol=1e-12)):
        raise ValueError(f"pre and post layers disagree on edge_wrap or extent ({a} vs {b}); "
                         "pass space=sc.Space(...) explicitly")
    return a


def _wrap_into(pos, space):
    lo, hi = space.bounds[:, 0], space.bounds[:, 1]
    inside = (pos >= lo) & (pos <= hi)  # unchanged (bit for bit) where already inside
    return np.where(np.asarray(space.periodic) & ~inside, lo + np.mod(pos - lo, space.lengths), pos)


def _ids(nodes, name):
    try:
        import nest
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("spatialconn.nest needs NEST: pip install spatialconn[nest]") from exc
    if not isinstance(nodes, nest.NodeCollection):
        raise TypeError(f"{name} must be a nest.NodeCollection, got {type(nodes).__name__}")
    n = len(nodes)
    if n and nodes[-1].global_id - nodes[0].global_id == n - 1:  # ids are sorted and unique: a range
        return np.arange(nodes[0].global_id, nodes[0].global_id + n, dtype=np.int64)  # (tolist: ~50 µs/node)
    return np.asarray(nodes.tolist(), dtype=np.int64)


def _syn_spec(syn_spec, weight, delay):
    if syn_spec is None:
        spec = {}
    elif isinstance(syn_spec, dict):
        spec = dict(syn_spec)
    else:
        raise TypeError(f"syn_spec must be a dict, got {syn_spec!r}")
    for key, value in (("weight", weight), ("delay", delay)):
        if value is not None:
            if key in spec:
                raise ValueError(f"{key} given both as an argument and in syn_spec")
            spec[key] = value
    for key, value in spec.items():
        if type(value).__name__ == "Parameter":
            raise TypeError(
                f"syn_spec[{key!r}] is a NEST Parameter, which NEST cannot evaluate for connections "
                "made by arrays; give a callable of distance, e.g. lambda d: 0.1 + 0.2 * d"
            )
    return spec


def _create(pre_ids, post_ids, conn, spec):
    import nest

    n = len(conn)
    if n == 0:
        return
    out = {}
    for key, value in spec.items():
        if key in ("weight", "delay") or callable(value):
            if callable(value):
                value = value(np.asarray(conn.distances, dtype=np.float64))
            arr = np.asarray(value, dtype=np.float64)
            if arr.ndim == 0:
                arr = np.full(n, float(arr))
            elif arr.ndim == 2 and arr.size == n:  # NEST's (drivers, degree) arrays: row by row, as drawn
                arr = arr.ravel()
            if arr.shape != (n,):
                raise ValueError(f"syn_spec[{key!r}] has shape {arr.shape}, expected ({n},) (one per synapse)")
            value = arr
        out[key] = value
    nest.Connect(pre_ids[conn.sources], post_ids[conn.targets], "one_to_one", syn_spec=out or None)
