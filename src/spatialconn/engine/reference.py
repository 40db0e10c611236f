"""Reference engine: small, vectorised numpy, obviously correct.

It evaluates every driver × partner weight, but in blocks of drivers, so
its memory is O(block · N_p), never N_s × N_t. Weights are handled in log
space and normalised per driver, so the result is exact (no truncation)
even when every partner is many σ away. Each driver draws from its own
counter-based stream (:mod:`spatialconn.rng`), so block size never changes
the result. The compiled engine is tested against this one.

Sampling, per driver with log weights ``lw``:

* with multapses: inverse-CDF draws from ``w = exp(lw - max lw)``;
* without: the exponential race (Efraimidis–Spirakis): the ``k`` partners
  with the smallest keys ``E_j / w_j``, ``E_j ~ Exp(1)``, in key order,
  which is exactly successive sampling without replacement.
"""

from __future__ import annotations

import numpy as np

from ..problem import Problem
from ..rng import driver_generator, global_generator

#: pair evaluations per block when the problem does not set a chunk size
BLOCK_PAIRS = 1 << 21


def _blocks(problem: Problem, start: int = 0, stop: int | None = None):
    stop = problem.n_drivers if stop is None else stop
    size = problem.chunk_size or max(1, BLOCK_PAIRS // max(1, problem.n_partners))
    for lo in range(start, stop, size):
        yield lo, min(stop, lo + size)


def block_log_weights(problem: Problem, lo: int, hi: int) -> np.ndarray:
    """``log w`` for drivers ``lo:hi`` against all partners, shape ``(hi - lo, N_p)``."""
    disp = problem.displacement(problem.drivers[lo:hi, None, :], problem.partners[None, :, :])
    lw = problem.log_weights(disp)
    if problem.exclude_self:
        rows = np.arange(lo, hi)
        inside = rows < problem.n_partners
        lw[np.nonzero(inside)[0], rows[inside]] = -np.inf
    return lw


def candidate_counts(problem: Problem) -> np.ndarray:
    """Number of partners with non-zero weight, per driver."""
    out = np.empty(problem.n_drivers, dtype=np.int64)
    for lo, hi in _blocks(problem):
        out[lo:hi] = np.count_nonzero(block_log_weights(problem, lo, hi) > -np.inf, axis=1)
    return out


def row_log_totals(problem: Problem) -> np.ndarray:
    """``log Σ_j w_ij`` per driver (``-inf`` without candidates, ``inf`` for infinite weights)."""
    out = np.empty(problem.n_drivers)
    for lo, hi in _blocks(problem):
        lw = block_log_weights(problem, lo, hi)
        m = lw.max(axis=1, initial=-np.inf)
        finite = np.isfinite(m)
        with np.errstate(under="ignore"):
            s = np.exp(lw[finite] - m[finite, None]).sum(axis=1)
        out[lo:hi] = m
        out[lo:hi][finite] = m[finite] + np.log(s)
    return out


def total_counts(problem: Problem, n: int) -> np.ndarray:
    """Synapses per driver of ``FixedTotalNumber(n)`` with multapses: Multinomial(n, W_i / Σ W).

    ``W_i`` is driver ``i``'s row total; computed exactly, in log space.
    """
    return multinomial_of_log_totals(problem, n, row_log_totals(problem))


def multinomial_of_log_totals(problem: Problem, n: int, logw: np.ndarray) -> np.ndarray:
    """Multinomial(n, softmax(logw)) from the call's global stream."""
    m = logw.max()
    if m == np.inf:
        w = (logw == np.inf).astype(np.float64)
    else:
        with np.errstate(under="ignore"):
            w = np.exp(logw - m)
    return global_generator(problem.key).multinomial(n, w / w.sum()).astype(np.int64)


def largest_log_weight(problem: Problem):
    """``(log w, driver, partner)`` of the heaviest pair (``(-inf, -1, -1)`` without pairs).

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> from spatialconn.connect import _plan as plan
    >>> job = plan(np.array([[0.0], [1.0], [3.0]]), rule=sc.FixedOutDegree(1), kernel=sc.Exponential(1.0),
    ...            autapses=False)
    >>> largest_log_weight(job.problem)
    (-1.0, 0, 1)
    """
    best = (-np.inf, -1, -1)
    for lo, hi in _blocks(problem):
        lw = block_log_weights(problem, lo, hi)
        if lw.size:
            r, c = np.unravel_index(int(np.argmax(lw)), lw.shape)
            if lw[r, c] > best[0]:
                best = (float(lw[r, c]), lo + int(r), int(c))
    return best


def _relative_weights(lw: np.ndarray) -> np.ndarray:
    """Weights proportional to ``exp(lw)`` with maximum 1 (infinite weights win)."""
    m = lw.max()
    if m == np.inf:
        return (lw == np.inf).astype(np.float64)
    with np.errstate(under="ignore"):
        return np.exp(lw - m)


#: how far below every finite key the keys of infinite weights are put: finite log weights stay below
#: ~2.2e3 (the largest a built-in or custom kernel can produce) and log E lies in [-745, 4]
INFINITE_KEY_SHIFT = 1e4


def _race_keys(lw: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Exponential-race keys ``log E - log w`` (smaller wins; ``+inf`` never).

    Infinite weights (``Gamma(kappa < 1)`` at distance 0) get keys ``log E``
    shifted below every finite key: they come first, in a uniformly random
    order decided by the same draws ``E`` (the limit of successive sampling
    as their weights grow without bound).
    """
    e = np.log(gen.standard_exponential(lw.size))
    with np.errstate(invalid="ignore"):
        keys = e - lw
    inf = lw == np.inf
    keys[inf] = e[inf] - INFINITE_KEY_SHIFT
    keys[lw == -np.inf] = np.inf
    return keys


def normalised_log_weights(lw: np.ndarray, row_log_norm: np.ndarray) -> np.ndarray:
    """``log(w_ij / W_i)`` per row; a row with infinite weights splits its mass evenly among them.

    Examples
    --------
    >>> lw = np.array([[0.0, np.log(3.0)], [np.inf, 0.0]])
    >>> np.exp(normalised_log_weights(lw, np.array([np.log(4.0), np.inf]))).round(12).tolist()
    [[0.25, 0.75], [1.0, 0.0]]
    """
    lw = np.asarray(lw, dtype=np.float64)
    norm = np.asarray(row_log_norm, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        out = lw - norm
    inf_rows = np.isinf(norm[:, 0]) & (norm[:, 0] > 0)
    if inf_rows.any():
        hits = lw[inf_rows] == np.inf
        share = -np.log(hits.sum(axis=1, keepdims=True))
        out[inf_rows] = np.where(hits, share, -np.inf)
    return out


def _draw(lw: np.ndarray, k: int, multapses: bool, gen: np.random.Generator) -> np.ndarray:
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if multapses:
        cdf = np.cumsum(_relative_weights(lw))
        return np.searchsorted(cdf, gen.random(k) * cdf[-1], side="right").astype(np.int64)
    keys = _race_keys(lw, gen)
    chosen = np.argpartition(keys, k - 1)[:k] if k < keys.size else np.arange(keys.size)
    return chosen[np.argsort(keys[chosen], kind="stable")].astype(np.int64)


def fixed_degree(problem: Problem, degrees: np.ndarray, multapses: bool, start: int = 0, stop=None):
    """Drivers ``start:stop`` draw ``degrees[i]`` partners each.

    Returns ``(driver_index, partner_index)`` grouped by driver. Feasibility
    (enough candidates) must have been checked by the caller.
    """
    drv, par = [], []
    for lo, hi in _blocks(problem, start, stop):
        if not degrees[lo:hi].any():
            continue
        lw = block_log_weights(problem, lo, hi)
        for r in range(hi - lo):
            i = lo + r
            k = int(degrees[i])
            if k:
                chosen = _draw(lw[r], k, multapses, driver_generator(problem.key, i))
                par.append(chosen)
                drv.append(np.full(k, i, dtype=np.int64))
    return _join(drv), _join(par)


def total_without_multapses(problem: Problem, n: int, row_log_norm: np.ndarray | None):
    """``n`` distinct pairs by successive sampling over all pairs (exponential race).

    Pair weights are ``w_ij`` or, with ``row_log_norm``, ``w_ij / W_i``.
    Keeps a running best-``n`` set, so memory is O(n + block · N_p).
    """
    best_key = np.empty(0)
    best_drv = np.empty(0, dtype=np.int64)
    best_par = np.empty(0, dtype=np.int64)
    if n == 0:
        return best_drv, best_par
    for lo, hi in _blocks(problem):
        lw = block_log_weights(problem, lo, hi)
        if row_log_norm is not None:
            lw = normalised_log_weights(lw, row_log_norm[lo:hi])
        keys = np.stack([_race_keys(lw[r], driver_generator(problem.key, lo + r)) for r in range(hi - lo)])
        rr, cc = np.nonzero(np.isfinite(keys))
        best_key = np.concatenate([best_key, keys[rr, cc]])
        best_drv = np.concatenate([best_drv, rr.astype(np.int64) + lo])
        best_par = np.concatenate([best_par, cc.astype(np.int64)])
        if best_key.size > n:
            keep = np.argpartition(best_key, n - 1)[:n]
            best_key, best_drv, best_par = best_key[keep], best_drv[keep], best_par[keep]
    order = np.lexsort((best_key, best_drv))
    return best_drv[order], best_par[order]


def bernoulli(problem: Problem, p: float, start: int = 0, stop=None):
    """Each pair independently with probability ``p · K``; ``(driver, partner)`` grouped by driver.

    Raises ``ValueError`` (naming the driver) if some ``p · K`` exceeds 1.
    """
    drv, par = [], []
    for lo, hi in _blocks(problem, start, stop):
        lw = block_log_weights(problem, lo, hi)
        with np.errstate(under="ignore", over="ignore"):
            prob = p * np.exp(lw)
        too_big = prob > 1.0
        if too_big.any():
            r, c = np.argwhere(too_big)[0]
            raise ValueError(
                f"p * K = {prob[r, c]:.6g} > 1 for driver {lo + r} and partner {c} "
                f"(p = {p}); lower p or rescale the kernel"
            )
        for r in range(hi - lo):
            u = driver_generator(problem.key, lo + r).random(problem.n_partners)
            hit = np.nonzero(u < prob[r])[0]
            par.append(hit.astype(np.int64))
            drv.append(np.full(hit.size, lo + r, dtype=np.int64))
    return _join(drv), _join(par)


def _join(parts):
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
