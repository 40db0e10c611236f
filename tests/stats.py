"""Exact distributions and goodness-of-fit tests for the statistical suite.

Everything here is computed from first principles in numpy (explicit kernel
formulas given by each test, never spatialconn's own evaluation), so a test
compares the sampler against the definition in DESIGN.md.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats

#: a fit is accepted when its p-value exceeds this (fixed seeds make it deterministic)
ALPHA = 1e-4
#: negative controls must be rejected at least this strongly
REJECT = 1e-8


def successive_subset_probs(p: np.ndarray, k: int) -> dict:
    """Probability of each k-subset under successive sampling without replacement."""
    p = np.asarray(p, dtype=np.float64)
    p = p / p.sum()
    out = {}
    for subset in itertools.combinations(np.nonzero(p > 0)[0].tolist(), k):
        total = 0.0
        for order in itertools.permutations(subset):
            prob, left = 1.0, 1.0
            for j in order:
                prob *= p[j] / left
                left -= p[j]
            total += prob
        out[subset] = total
    return out


def chi2_pvalue(observed: np.ndarray, expected: np.ndarray) -> float:
    """Chi-squared p-value of counts against expected counts (same total).

    Cells with expected count 0 must be empty (else p = 0); cells with
    expected count < 5 are pooled into one.
    """
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.any(observed[expected == 0] > 0):
        return 0.0
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep & (expected > 0)].sum())
    exp = np.append(expected[keep], expected[~keep & (expected > 0)].sum())
    if exp[-1] < 5:  # merge the pooled cell into the smallest kept one
        j = int(np.argmin(exp[:-1]))
        obs[j] += obs[-1]
        exp[j] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    if obs.size < 2:
        return 1.0
    exp = exp * obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def pair_counts(sources, targets, n_sources: int, n_targets: int) -> np.ndarray:
    """Counts of each ordered pair, shape ``(n_sources, n_targets)``."""
    flat = np.asarray(sources, np.int64) * n_targets + np.asarray(targets, np.int64)
    return np.bincount(flat, minlength=n_sources * n_targets).reshape(n_sources, n_targets)


def subset_pvalue(groups, probs: dict) -> float:
    """Chi-squared p-value of observed partner sets against exact set probabilities.

    ``groups`` is an iterable of partner index arrays (one per independent
    driver); a set with a repeat or outside ``probs`` gives p = 0.
    """
    keys = list(probs)
    index = {key: n for n, key in enumerate(keys)}
    observed = np.zeros(len(keys))
    total = 0
    for g in groups:
        key = tuple(sorted(int(x) for x in g))
        if key not in index:
            return 0.0
        observed[index[key]] += 1
        total += 1
    expected = np.array([probs[key] for key in keys]) * total
    return chi2_pvalue(observed, expected)


def bernoulli_pvalue(hits: np.ndarray, trials: int, q: np.ndarray) -> float:
    """Joint test that ``hits[j] ~ Binomial(trials, q[j])`` independently.

    Sum of squared standardised residuals against chi-squared with one degree
    of freedom per testable cell; hits where ``q = 0`` give p = 0.
    """
    hits, q = np.asarray(hits, float), np.asarray(q, float)
    if np.any(hits[q == 0] > 0) or np.any(hits[q == 1] < trials):
        return 0.0
    ok = (q > 0) & (q < 1)
    var = trials * q[ok] * (1 - q[ok])
    statistic = np.sum((hits[ok] - trials * q[ok]) ** 2 / var)
    return float(stats.chi2.sf(statistic, df=int(ok.sum())))


def weighted_mixture_cdf(dist: np.ndarray, weight: np.ndarray):
    """CDF of the discrete distribution putting mass ``weight`` at ``dist``."""
    order = np.argsort(dist, kind="stable")
    d, w = dist[order], weight[order]
    cum = np.cumsum(w)
    cum /= cum[-1]

    def cdf(x):
        i = np.searchsorted(d, x, side="right")
        return np.where(i > 0, cum[np.maximum(i - 1, 0)], 0.0)

    return cdf


def ks_pvalue(sample: np.ndarray, cdf) -> float:
    """One-sample KS p-value (conservative for a discrete null)."""
    return float(stats.kstest(np.asarray(sample, float), cdf).pvalue)


def log_gauss(d, sigma, mean=0.0):
    return -((d - mean) ** 2) / (2 * sigma**2)


def gamma_pdf_log(d, kappa, theta):
    with np.errstate(divide="ignore"):
        return (kappa - 1) * np.log(d) - d / theta - kappa * math.log(theta) - math.lgamma(kappa)


def exact_weights(w_fn, disp: np.ndarray, mask=None) -> np.ndarray:
    """``w_fn(disp, distance)`` of displacements ``disp`` (target - source), 0 outside the box ``mask``."""
    d = np.sqrt(np.sum(disp * disp, axis=1))
    w = w_fn(disp, d)
    if mask is not None:
        w = w * np.all((disp >= mask.lower) & (disp <= mask.upper), axis=1)
    return w
