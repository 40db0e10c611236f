"""PyNN adapter: a connector drawing synapses by position, for any PyNN backend.

Install with ``pip install spatialconn[pynn]``. :class:`SpatialConnector`
goes wherever a PyNN connector goes::

    Projection(pre, post, SpatialConnector(sc.FixedOutDegree(10), sc.Gaussian(0.1)), synapse_type)

Positions come from ``Population.positions`` (a (3, N) array) through the
projection's ``pyNN.space.Space``: its ``axes`` select coordinates, its
``scale_factor`` and ``offset`` transform the postsynaptic positions as PyNN
does, and its ``periodic_boundaries`` make a periodic
:class:`spatialconn.Space`. Synaptic parameters (including PyNN's
distance expressions such as ``weight="0.1 * exp(-d / 50.0)"``) are evaluated
by PyNN itself. :func:`connection_list` gives the same synapses as a list for
``FromListConnector``.

Examples
--------
>>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
>>> import pyNN.nest as sim, spatialconn as sc
>>> from pyNN.space import Grid2D
>>> from spatialconn.pynn import SpatialConnector
>>> _ = sim.setup()
>>> pop = sim.Population(100, sim.IF_cond_exp(), structure=Grid2D(dx=10.0, dy=10.0))
>>> prj = sim.Projection(pop, pop, SpatialConnector(sc.FixedInDegree(5), sc.Gaussian(20.0), seed=1),
...                      sim.StaticSynapse(weight=0.01, delay=1.0))
>>> len(prj)
500
"""

from __future__ import annotations

import numpy as np
from pyNN.connectors import MapConnector

from ._adapters import connect_neurons
from .space import Space

__all__ = ["SpatialConnector", "connection_list", "projection_geometry"]


class SpatialConnector(MapConnector):
    """A PyNN connector: spatialconn's exact fixed-count rules with kernels and masks.

    Parameters
    ----------
    rule : spatialconn rule
        ``FixedOutDegree``, ``FixedInDegree``, ``FixedTotalNumber`` or ``PairwiseBernoulli``.
    kernel, mask, multapses, seed
        As for :func:`spatialconn.connect`, in the units of ``Population.positions``
        (after the projection's ``Space`` transform).
    autapses : bool, default True
        ``False`` forbids a synapse from a cell onto itself (compared by cell id,
        so overlapping views of one population are handled); PyNN calls this
        ``allow_self_connections``.
    safe, callback
        As for other PyNN connectors.

    Attributes
    ----------
    connections : Connections or None
        The synapses drawn by the last ``connect`` (indices into pre and post).

    Examples
    --------
    >>> import spatialconn as sc
    >>> SpatialConnector(sc.FixedOutDegree(10), sc.Gaussian(50.0), autapses=False, seed=3).rule
    FixedOutDegree(k=10)

    References
    ----------
    PyNN documentation, "Connectors"; Senk et al. 2022 for the rules.
    """

    parameter_names = ("rule", "kernel", "mask", "multapses", "autapses", "seed")

    def __init__(self, rule, kernel=None, *, mask=None, multapses=True, autapses=True, seed=None,
                 safe=True, callback=None):
        super().__init__(safe=safe, callback=callback)
        self.rule, self.kernel, self.mask = rule, kernel, mask
        self.multapses, self.autapses, self.seed = multapses, autapses, seed
        self.connections = None

    def connect(self, projection):
        """Draw the synapses and create them in ``projection`` (called by PyNN)."""
        conn = connection_list(projection.pre, projection.post, self.rule, self.kernel, mask=self.mask,
                               space=projection.space, multapses=self.multapses, autapses=self.autapses,
                               seed=self.seed, as_connections=True)
        self.connections = conn
        order = np.argsort(conn.targets, kind="stable")
        sources = conn.sources[order].astype(np.int64)
        bounds = np.searchsorted(conn.targets[order], np.arange(projection.post.size + 1))

        def per_target(mask=None):
            cols = np.arange(projection.post.size)
            if mask is not None:
                cols = cols[mask]
            for j in cols:
                yield sources[bounds[j]:bounds[j + 1]]

        self._standard_connect(projection, per_target)


def connection_list(pre, post, rule, kernel=None, *, mask=None, space=None, multapses=True, autapses=True,
                    seed=None, as_connections=False):
    """The synapses between two PyNN populations as an ``(n, 2)`` index array.

    The array fits ``FromListConnector`` (add weight and delay columns, or
    pass ``column_names=()``).

    Parameters
    ----------
    pre, post : pyNN Population, PopulationView or Assembly
    rule, kernel, mask, multapses, autapses, seed
        As for :class:`SpatialConnector`.
    space : pyNN.space.Space, optional
        Axes, scale, offset and periodic boundaries as in a ``Projection``.
    as_connections : bool, default False
        Return the :class:`~spatialconn.Connections` object instead.

    Returns
    -------
    (n, 2) int array or Connections

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner
    >>> import pyNN.nest as sim, spatialconn as sc
    >>> from pyNN.space import Grid2D
    >>> _ = sim.setup()
    >>> pop = sim.Population(64, sim.IF_cond_exp(), structure=Grid2D(dx=10.0, dy=10.0))
    >>> pairs = connection_list(pop, pop, sc.FixedTotalNumber(120), sc.Gaussian(15.0), seed=2)
    >>> pairs.shape
    (120, 2)
    >>> prj = sim.Projection(pop, pop, sim.FromListConnector(pairs.tolist(), column_names=()),
    ...                      sim.StaticSynapse(weight=0.01))
    """
    src, tgt, sc_space = projection_geometry(pre, post, space)
    src_ids = np.asarray(pre.all_cells, dtype=np.int64)
    tgt_ids = np.asarray(post.all_cells, dtype=np.int64)
    conn = connect_neurons(src, tgt, src_ids, tgt_ids, rule, kernel, mask=mask, space=sc_space,
                           multapses=multapses, autapses=autapses, seed=seed)
    if as_connections:
        return conn
    return np.column_stack([conn.sources, conn.targets]).astype(np.int64)


def projection_geometry(pre, post, space=None):
    """Positions ``(N_pre, d)``, ``(N_post, d)`` and the spatialconn Space of a PyNN space.

    PyNN measures distances between pre positions ``A`` and transformed post
    positions ``scale_factor * (B + offset)`` along ``space.axes``, folding
    periodic axes; positions are wrapped into periodic boundaries here.

    Examples
    --------
    >>> import numpy as np
    >>> from pyNN.space import Space as PyNNSpace
    >>> class Pop:  # anything with a (3, N) ``positions`` attribute
    ...     positions = np.array([[0.0, 90.0], [0.0, 0.0], [0.0, 0.0]])
    >>> a, b, s = projection_geometry(Pop, Pop, PyNNSpace(axes="xy",
    ...                               periodic_boundaries=((0, 100), (0, 100), None)))
    >>> a.shape, s.periodic
    ((2, 2), (True, True))
    """
    if space is None:
        from pyNN.space import Space as PyNNSpace

        space = PyNNSpace()
    axes = np.asarray(space.axes, dtype=np.int64)
    a = np.asarray(pre.positions, dtype=np.float64)
    b = np.asarray(post.positions, dtype=np.float64)
    for name, arr in (("pre", a), ("post", b)):
        if arr.ndim != 2 or arr.shape[0] != 3:
            raise ValueError(f"{name}.positions must be a (3, N) array, got shape {arr.shape}")
    b = space.scale_factor * (b + np.reshape(np.asarray(space.offset, dtype=np.float64), (-1, 1)))
    a, b = a[axes].T.copy(), b[axes].T.copy()
    boundaries = space.periodic_boundaries
    if boundaries is None or all(boundaries[ax] is None for ax in axes):
        return a, b, None
    extent, periodic = [], []
    for col, ax in enumerate(axes):
        bound = boundaries[ax]
        if bound is None:
            both = np.concatenate([a[:, col], b[:, col]])
            lo, hi = float(both.min()) - 1.0, float(both.max()) + 1.0
            extent.append((lo, hi))
            periodic.append(False)
            continue
        lo, hi = float(bound[0]), float(bound[1])
        if not hi > lo:
            raise ValueError(f"periodic_boundaries[{ax}] = {bound!r} needs low < high")
        for arr in (a, b):
            arr[:, col] = lo + np.mod(arr[:, col] - lo, hi - lo)
        extent.append((lo, hi))
        periodic.append(True)
    return a, b, Space(extent=tuple(extent), periodic=tuple(periodic))
