"""Sampling engines behind :func:`spatialconn.connect`.

An engine is a module with the functions ``candidate_counts``,
``row_log_totals``, ``total_counts``, ``fixed_degree``,
``total_without_multapses`` and ``bernoulli`` (see :mod:`spatialconn.engine.reference` for their contract),
and optionally ``supports(problem) -> bool``. ``"auto"`` takes the first
registered engine that supports the problem, ending with the reference.
"""

from __future__ import annotations

import importlib

from ..problem import Problem

#: engines by name, fastest first; "reference" always last
ENGINES = {"grid": "spatialconn.engine.grid", "reference": "spatialconn.engine.reference"}


def select(name: str, problem: Problem):
    """The engine module called ``name`` (or the best one for ``problem`` if ``"auto"``)."""
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
