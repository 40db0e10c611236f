"""Sampling engines behind :func:`spatialconn.plan`: the protocol and the registry.

An engine is an object (the built-in ones are modules) that samples a
validated :class:`~spatialconn.problem.Problem`. It never validates: the
plan has checked everything, swapped the roles for in-degree rules (the
*driver* is the side whose count is fixed) and decided each driver's
synapse count. Every random number of driver ``i`` comes from its own
counter-based stream (:mod:`spatialconn.rng`), so any split of the drivers
gives the same synapses. The :class:`Engine` protocol:

required (the reference engine, :mod:`spatialconn.engine.reference`, is the contract):

* ``candidate_counts(problem) -> (N_d,) int64``: partners with non-zero weight;
* ``row_log_totals(problem) -> (N_d,) float64``: ``log Σ_j w_ij``;
* ``total_counts(problem, n) -> (N_d,) int64``: each driver's share of a weighted
  ``FixedTotalNumber(n)`` with multapses (multinomial over the row totals);
* ``fixed_degree(problem, degrees, multapses, start, stop) -> (drivers, partners)``;
* ``total_without_multapses(problem, n, row_log_norm) -> (drivers, partners)``;
* ``bernoulli(problem, p, start, stop) -> (drivers, partners)``;

optional:

* ``supports(problem) -> bool`` (default: every problem);
* random access and pieces (:mod:`spatialconn.engine.grid`):
  ``cuts(problem) -> bool``, ``drivers(problem, ids, *, degrees, multapses,
  p) -> (drivers, partners)`` (only the drivers ``ids``, at the cost of
  their windows), ``pieces(problem, parts, *, degrees, multapses, p)``
  (each part with only the partners within reach) and
  ``driver_cells(problem)`` (grid coordinates for spatial partitions).
  A piece has ``ids``, ``drivers``, ``grid.pos``,
  ``partner_rows(partners)``, ``fixed_degree(degrees, multapses, start,
  stop)`` and ``bernoulli(p, start, stop)``. Without them the plan serves
  random access through ``fixed_degree``/``bernoulli`` on runs of
  consecutive drivers.

Pair arrays are grouped by driver in ascending order, and each driver's
partners are in draw order. ``"auto"`` takes the first registered engine
that supports the problem, ending with the reference. Only
:mod:`spatialconn.connect` and :mod:`spatialconn.connection_plan` call
engines; nothing else reads their internals.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from ..problem import Problem


class Engine(Protocol):
    """What :func:`spatialconn.plan` needs from an engine (see the module docstring)."""

    def candidate_counts(self, problem: Problem) -> np.ndarray: ...

    def row_log_totals(self, problem: Problem) -> np.ndarray: ...

    def fixed_degree(self, problem: Problem, degrees: np.ndarray, multapses: bool, start: int = 0,
                     stop: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def total_without_multapses(self, problem: Problem, n: int,
                                row_log_norm: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]: ...

    def bernoulli(self, problem: Problem, p: float, start: int = 0,
                  stop: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...

#: engines by name, fastest first; "reference" always last
ENGINES = {"grid": "spatialconn.engine.grid", "reference": "spatialconn.engine.reference"}


def select(name: str, problem: Problem) -> Engine:
    """The engine called ``name`` (or the best one for ``problem`` if ``"auto"``).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pb = sc.plan(np.zeros((3, 2)), rule=sc.FixedOutDegree(1)).problem
    >>> select("auto", pb).__name__, select("reference", pb).__name__
    ('spatialconn.engine.grid', 'spatialconn.engine.reference')
    """
    if not isinstance(name, str):
        raise TypeError(f"engine must be a string, got {name!r}")
    if name == "auto":
        for candidate in ENGINES:
            module = importlib.import_module(ENGINES[candidate])
            if getattr(module, "supports", lambda p: True)(problem):
                return module
    if name not in ENGINES:
        raise ValueError(f"engine must be 'auto' or one of {sorted(ENGINES)}, got {name!r}")
    module = importlib.import_module(ENGINES[name])
    if not getattr(module, "supports", lambda p: True)(problem):
        raise ValueError(f"engine {name!r} does not support this problem; use engine='auto'")
    return module
