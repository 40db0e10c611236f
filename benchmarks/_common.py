"""Shared helpers of the benchmark scripts (not part of the package, not run in CI)."""

from __future__ import annotations

import math
import os
import random
import time

import numpy as np


def best_of(fn, repeat=3):
    """Best wall time (s) of ``repeat`` calls and the last result."""
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def once(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def forum_positions(n_pre, n_post, seed=0):
    """The forum's geometry: N(0, 1) positions in 2-D."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_pre, 2)), rng.normal(size=(n_post, 2))


def forum_broadcast(pre, post, sigma, k, seed=0):
    """The forum's method: dense kernel matrix by broadcasting, then ``random.choices`` per row."""
    random.seed(seed)
    d2 = ((pre[:, None, :] - post[None, :, :]) ** 2).sum(-1)
    w = np.exp(-d2 / (2 * sigma**2))
    targets = range(len(post))
    return [random.choices(targets, weights=row, k=k) for row in w]


def nest_connect(pre, post, sigma, rule, value, multapses=True):
    """Time of NEST 3 spatial ``Connect`` with a Gaussian kernel on free layers (creation excluded)."""
    import nest

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.local_num_threads = int(os.environ.get("NEST_THREADS", "1"))
    lo = np.minimum(pre.min(0), post.min(0)) - 1e-3
    hi = np.maximum(pre.max(0), post.max(0)) + 1e-3
    ext = (hi - lo).tolist()

    def layer(p):
        return nest.Create("iaf_psc_alpha", positions=nest.spatial.free(p.tolist(), extent=ext))

    a, b = layer(pre), layer(post)
    kern = nest.spatial_distributions.gaussian(nest.spatial.distance, std=sigma)
    spec = {"rule": rule, "allow_autapses": True, "allow_multapses": multapses}
    if rule == "pairwise_bernoulli":
        spec["p"] = value * kern
    else:
        spec["p"] = kern
        spec["outdegree" if rule == "fixed_outdegree" else "indegree"] = value
    t = time.perf_counter()
    nest.Connect(a, b, spec)
    elapsed = time.perf_counter() - t
    return elapsed, nest.num_connections


def brian2_connect(pos, sigma, p):
    """Time of Brian2 ``Synapses.connect(p=...)`` with a Gaussian of distance (numpy target)."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    g = b2.NeuronGroup(len(pos), "x : 1\ny : 1")
    g.x, g.y = pos[:, 0], pos[:, 1]
    s = b2.Synapses(g, g)
    t = time.perf_counter()
    s.connect(p=f"{p} * exp(-((x_pre - x_post)**2 + (y_pre - y_post)**2) / (2 * {sigma}**2))")
    return time.perf_counter() - t, len(s)


def threads():
    from spatialconn.engine.grid import threads as engine_threads

    return engine_threads()
