"""Complete SONATA circuits: nodes, edges, type tables and ``circuit_config.json``.

:func:`write_circuit` turns a spec (:mod:`spatialconn.spec`) into a folder
that SONATA readers open as a whole (libsonata, bluepysnap, BMTK)::

    circuit/
      circuit_config.json                  manifest, components, networks (relative paths)
      network/<population>_nodes.h5        node_type_id, x/y/z (the spec's units)
      network/<population>_node_types.csv  model_type, model_template, dynamics_params
      network/<projection>_edges.h5        one edge population per projection
      network/<projection>_edge_types.csv  model_template, dynamics_params
      components/point_neuron_models/<population>.json    neuron parameters ({} by default)
      components/synaptic_models/<projection>.json        synapse parameters ({} by default)

The folder is written under a temporary sibling name and renamed when
complete, so it appears whole or not at all. Edges are streamed block by
block (:func:`spatialconn.io.write_sonata`); only positions (O(N)) and one
block are in memory. :func:`read_circuit` reads positions and synapses back.

Examples
--------
>>> import os, tempfile, libsonata
>>> from spatialconn.spec import parse
>>> net = parse('''
... [populations.exc]
... positions = "uniform"
... n = 100
... extent = [[0, 1], [0, 1]]
... [projections.exc_exc]
... source = "exc"
... rule = { type = "FixedOutDegree", k = 5 }
... syn_weight = 20.0
... ''')
>>> cfg = write_circuit(net, os.path.join(tempfile.mkdtemp(), "circuit"))
>>> os.path.basename(cfg)
'circuit_config.json'
>>> c = libsonata.CircuitConfig.from_file(cfg)
>>> c.node_population("exc").size, c.edge_population("exc_exc").size
(100, 500)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from ._atomic import atomic_path, check_target
from .sonata import check_hdf5_options

__all__ = ["DEFAULT_MODEL_TEMPLATE", "DEFAULT_MODEL_TYPE", "DEFAULT_SYNAPSE_TEMPLATE", "Circuit",
           "read_circuit", "write_circuit"]

#: defaults where the spec names no model: a NEST point neuron, as BMTK's pointnet builds it
DEFAULT_MODEL_TYPE = "point_neuron"
DEFAULT_MODEL_TEMPLATE = "nest:iaf_psc_alpha"
DEFAULT_SYNAPSE_TEMPLATE = "static_synapse"
#: population "type" in the config (SONATA circuit config, "networks.*.populations")
NODE_POPULATION_TYPE = "point_neuron"
EDGE_POPULATION_TYPE = "chemical"
#: first node-type and edge-type ids (one type per population / projection)
TYPE_ID_BASE = 100
CONFIG = "circuit_config.json"
_ENTRIES = {CONFIG, "network", "components"}
_AXES = ("x", "y", "z")


def write_circuit(network, path, *, connections=None, engine: str = "auto", memory_limit="1 GB",
                  compression: str | None = None, overwrite: bool = True, progress: bool = False) -> str:
    """Build every projection of ``network`` and write a complete SONATA circuit, atomically.

    Parameters
    ----------
    network : spatialconn.spec.Network, str or os.PathLike
        A loaded spec, or the path of a TOML spec. Populations may set
        ``model_type`` (default ``"point_neuron"``), ``model_template``
        (default ``"nest:iaf_psc_alpha"``) and ``dynamics_params`` (a table,
        written to a JSON file); projections may set ``syn_weight`` and
        ``delay`` (a number or ``{intercept, slope}``, linear in distance),
        ``model_template`` (default ``"static_synapse"``) and ``dynamics_params``.
    path : str or os.PathLike
        The circuit folder, or the config file inside it (a name ending in
        ``.json``, e.g. ``"circuit/circuit_config.json"``). The folder's
        parent must exist; an existing folder is replaced only if it holds
        nothing but a circuit's entries.
    connections : dict, optional
        ``{projection: Connections or iterable of Connections}`` to write
        instead of building them (e.g. blocks the caller counts on the way).
    engine : str
        Sampling engine (as for :func:`spatialconn.connect`).
    memory_limit : int or str, default "1 GB"
        Working memory of one block of synapses, and of the index construction.
    compression : None, "gzip" or "lzf"
        HDF5 compression of the edge datasets.
    overwrite : bool
        Replace an existing circuit folder.
    progress : bool
        Show tqdm bars.

    Returns
    -------
    str
        The path of ``circuit_config.json``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, names SONATA cannot hold (``/`` or spaces), or an
        infeasible projection (a :class:`~spatialconn.spec.SpecError` naming
        it), before anything is written.

    Examples
    --------
    See the module docstring.
    """
    from ..spec import Network, SpecError, load

    if isinstance(network, (str, os.PathLike)):
        network = load(network)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spatialconn.spec.Network or the path of a spec, got "
                        f"{type(network).__name__}")
    folder, config = _split(path)
    for flag, value in (("overwrite", overwrite), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be True or False, got {value!r}")
    memory_limit = check_hdf5_options(compression, memory_limit)
    for kind, names in (("population", network.populations), ("projection", network.projections)):
        for name in names:
            if not name or "/" in name or any(c.isspace() for c in name) or name.startswith("."):
                raise ValueError(f"{kind} name {name!r} cannot name a SONATA population "
                                 "(no '/', no spaces, not starting with '.')")
    if connections is not None and (not isinstance(connections, dict)
                                    or set(connections) != set(network.projections)):
        raise ValueError("connections must be a dict with one entry per projection "
                         f"({', '.join(network.projections)})")
    ours = _ENTRIES | {config}
    folder = check_target(folder, directory=True, overwrite=overwrite, allowed=ours.__contains__)
    if connections is None:  # validate and plan every projection before writing anything
        from ..connect import plan
        from . import iter_blocks

        connections = {}
        for name in network.projections:
            try:
                planned = plan(**network.arguments(name), engine=engine)
            except (ValueError, TypeError) as exc:
                raise SpecError(f"projections.{name}", str(exc)) from None
            connections[name] = iter_blocks(planned, memory_limit=memory_limit)

    with atomic_path(folder, directory=True) as tmp:
        for sub in ("network", "components/point_neuron_models", "components/synaptic_models"):
            os.makedirs(os.path.join(tmp, sub))
        nodes = [_write_nodes(tmp, i, pop) for i, pop in enumerate(network.populations.values())]
        edges = [_write_edges(tmp, j, network, name, connections[name], compression, memory_limit, progress)
                 for j, name in enumerate(network.projections)]
        _write_json(os.path.join(tmp, config), _config(nodes, edges))
    return os.path.join(folder, config)


def _split(path):
    """``(folder, config file name)`` from a folder or a ``.json`` path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    path = os.fspath(path)
    if path.lower().endswith(".json"):
        folder, name = os.path.split(path)
        if not folder:
            raise ValueError(f"path {path!r}: give the circuit's folder, e.g. 'circuit/{name}'")
        return folder, name
    return path, CONFIG


def _write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=2)
        fh.write("\n")


def _write_nodes(tmp: str, i: int, pop) -> dict:
    """One nodes file and one node-types CSV for population ``pop``; its config entry."""
    import h5py

    from .sonata import MAGIC, VERSION

    n, ndim = pop.positions.shape
    type_id = TYPE_ID_BASE + i
    params = f"{pop.name}.json"
    _write_json(os.path.join(tmp, "components", "point_neuron_models", params), pop.dynamics_params or {})
    h5 = f"{pop.name}_nodes.h5"
    csv = f"{pop.name}_node_types.csv"
    with h5py.File(os.path.join(tmp, "network", h5), "w") as f:
        f.attrs["magic"] = np.uint32(MAGIC)
        f.attrs["version"] = np.asarray(VERSION, dtype=np.uint32)
        g = f.create_group(f"nodes/{pop.name}")
        g.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))  # optional in SONATA, BMTK needs it
        g.create_dataset("node_type_id", data=np.full(n, type_id, dtype=np.int64))
        g.create_dataset("node_group_id", data=np.zeros(n, dtype=np.uint32))
        g.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint32 if n < 2**32 else np.uint64))
        attrs = g.create_group("0")
        pos = np.asarray(pop.positions, dtype=np.float64)
        for axis, name in enumerate(_AXES):  # SONATA has x, y and z: missing axes are 0
            attrs.create_dataset(name, data=pos[:, axis] if axis < ndim else np.zeros(n))
        attrs.attrs["spatial_dimensions"] = np.uint8(ndim)  # how many of x, y, z are positions
    with open(os.path.join(tmp, "network", csv), "w", encoding="utf-8") as fh:
        fh.write("node_type_id pop_name model_type model_template dynamics_params\n")
        fh.write(f"{type_id} {pop.name} {pop.model_type or DEFAULT_MODEL_TYPE} "
                 f"{pop.model_template or DEFAULT_MODEL_TEMPLATE} {params}\n")
    return {"nodes_file": f"$NETWORK_DIR/{h5}", "node_types_file": f"$NETWORK_DIR/{csv}",
            "populations": {pop.name: {"type": NODE_POPULATION_TYPE}}}


def _write_edges(tmp, j, network, name, conn, compression, memory_limit, progress) -> dict:
    """One edge population (streamed) and its edge-types CSV; its config entry."""
    from .sonata import write_sonata

    proj = network.projections[name]
    params = f"{name}.json"
    _write_json(os.path.join(tmp, "components", "synaptic_models", params), proj.dynamics_params or {})
    h5, csv = f"{name}_edges.h5", f"{name}_edge_types.csv"
    write_sonata(_non_empty(conn, network, name), os.path.join(tmp, "network", h5), population=name,
                 source_population=proj.source, target_population=proj.target,
                 syn_weight=proj.syn_weight, delay=proj.delay, edge_type_id=TYPE_ID_BASE + j,
                 edge_types=os.path.join(tmp, "network", csv),
                 edge_type_properties={"model_template": proj.model_template or DEFAULT_SYNAPSE_TEMPLATE,
                                       "dynamics_params": params},
                 compression=compression, memory_limit=memory_limit, progress=progress)
    return {"edges_file": f"$NETWORK_DIR/{h5}", "edge_types_file": f"$NETWORK_DIR/{csv}",
            "populations": {name: {"type": EDGE_POPULATION_TYPE}}}


def _non_empty(conn, network, name):
    """``conn`` itself, or its blocks followed by an empty result if it yielded none."""
    from ..connections import Connections

    if isinstance(conn, Connections):
        yield conn
        return
    empty = True
    for block in conn:
        empty = False
        yield block
    if empty:
        yield network.connect(name)


def _config(nodes: list, edges: list) -> dict:
    """The circuit config: every path relative to the config's folder."""
    return {
        "manifest": {"$NETWORK_DIR": "./network", "$COMPONENTS_DIR": "./components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {"nodes": nodes, "edges": edges},
    }


# -- reading back ----------------------------------------------------------------------
@dataclass
class Circuit:
    """Positions and synapses of a SONATA circuit, as :func:`read_circuit` returns them.

    ``positions``: ``{node population: (N, d) array}``; ``edges``: ``{edge
    population: (source population, target population, sources, targets)}``
    with int64 node ids (indices into the populations).
    """

    positions: dict = field(default_factory=dict)
    edges: dict = field(default_factory=dict)


def read_circuit(path) -> Circuit:
    """Read the node positions and the synapses of a SONATA circuit.

    Parameters
    ----------
    path : str or os.PathLike
        Its ``circuit_config.json`` (any SONATA circuit config that libsonata
        opens; nodes need ``x`` and optionally ``y``, ``z``).

    Returns
    -------
    Circuit
        Positions with as many coordinates as the spec had (the
        ``spatial_dimensions`` attribute :func:`write_circuit` stores; else
        every one of x, y, z present).

    Raises
    ------
    ValueError
        If the config cannot be read, or a node population has no ``x``.

    Examples
    --------
    >>> import os, tempfile
    >>> from spatialconn.spec import parse
    >>> net = parse('[populations.a]\\npositions = "uniform"\\nn = 20\\nextent = [[0, 1], [0, 2]]\\n'
    ...             '[projections.aa]\\nsource = "a"\\nrule = { type = "FixedInDegree", k = 3 }\\n')
    >>> c = read_circuit(write_circuit(net, os.path.join(tempfile.mkdtemp(), "c")))
    >>> c.positions["a"].shape, c.edges["aa"][0], len(c.edges["aa"][3])
    ((20, 2), 'a', 60)
    """
    import h5py
    import libsonata

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    try:
        cfg = libsonata.CircuitConfig.from_file(os.fspath(path))
    except (libsonata.SonataError, RuntimeError, OSError) as exc:
        raise ValueError(f"cannot read the circuit config {os.fspath(path)!r}: {exc}") from None
    out = Circuit()
    for name in sorted(cfg.node_populations):
        pop = cfg.node_population(name)
        present = [a for a in _AXES if a in pop.attribute_names]
        if "x" not in present:
            raise ValueError(f"node population {name!r} has no 'x' attribute (positions)")
        ndim = len(present)
        with h5py.File(cfg.node_population_properties(name).elements_path, "r") as f:
            group = f.get(f"nodes/{name}/0")
            if group is not None and "spatial_dimensions" in group.attrs:
                ndim = int(group.attrs["spatial_dimensions"])
        if pop.size == 0:
            out.positions[name] = np.zeros((0, ndim))
            continue
        sel = pop.select_all()
        out.positions[name] = np.stack([np.asarray(pop.get_attribute(a, sel), dtype=np.float64)
                                        for a in present[:ndim]], axis=1)
    for name in sorted(cfg.edge_populations):
        pop = cfg.edge_population(name)
        s = t = np.zeros(0, dtype=np.int64)
        if pop.size:  # libsonata cannot select all of an empty population
            sel = pop.select_all()
            s, t = (np.asarray(ids, dtype=np.int64) for ids in (pop.source_nodes(sel), pop.target_nodes(sel)))
        out.edges[name] = (pop.source, pop.target, s, t)
    return out
