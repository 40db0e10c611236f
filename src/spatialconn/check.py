"""Verify built synapses against their spec: counts, autapses, multapses, distances.

:func:`check_projection` is the logic behind ``spatialconn check``. It tests
one projection's synapses (index arrays, e.g. read back from a file) against
the rule that should have produced them, given the positions:

* every index lies in its population;
* the counts are exact (each driver's degree, or the total); for
  :class:`~spatialconn.PairwiseBernoulli` the count agrees with its
  expectation ``Σ p·K`` (a z-test; :class:`~spatialconn.PairwisePoisson`:
  ``Σ rate·K``, with the Poisson variance);
* no autapse where autapses are off, no repeated pair where multapses are off
  (or the rule cannot make them);
* every synapse has non-zero weight (inside the mask and the kernel's support);
* the distances follow the distribution the rule implies given the positions:
  a Kolmogorov–Smirnov test against the exact expected distribution
  ``Σ_i k_i Σ_j (w_ij / Σ_j w_ij) δ(d - d_ij)`` (with multapses, and for
  the Bernoulli and total-number rules), or a two-sample test against fresh
  draws by the exponential race (successive sampling, without multapses).

Large projections are tested on a random subset of drivers, so the work stays
near ``max_pairs`` pair evaluations; conditional on the subset, the test is
still exact.

Each statistical test yields a p-value. They are judged together with Holm's
step-down procedure at a family-wise level ``alpha`` (default 1e-3): a
correct network fails *any* of the tests of one call with probability at
most ``alpha``. :func:`holm` does the same over several reports (the CLI
judges all projections of a file as one family). A FAIL of a statistical
test therefore means: were the synapses drawn by the rule, a result this
extreme in some test of the run would occur with probability below
``alpha``.

Examples
--------
>>> import numpy as np, spatialconn as sc
>>> from spatialconn.spec import Projection, Population
>>> from spatialconn.check import check_projection
>>> pos = np.random.default_rng(0).random((300, 2))
>>> proj = Projection("p", "a", "a", sc.FixedOutDegree(5), sc.Gaussian(0.1), autapses=False, seed=3)
>>> conn = sc.connect(pos, rule=proj.rule, kernel=proj.kernel, autapses=False, seed=3)
>>> report = check_projection(conn.sources, conn.targets, proj, pos, pos)
>>> report.passed
True
>>> [c.name for c in report.checks]
['indices', 'counts', 'autapses', 'weights', 'distances']
>>> report.checks[-1].pvalue > 1e-3
True
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ._validate import positive_int
from .problem import Problem
from .rng import seed_sequence
from .rules import FixedInDegree, FixedOutDegree, FixedTotalNumber, PairwiseBernoulli, PairwisePoisson

__all__ = ["ALPHA", "Check", "Report", "check", "check_projection", "expected_distance_density", "holm"]

#: default family-wise false-alarm rate of one check run
ALPHA = 1e-3


@dataclass
class Check:
    """One verdict: ``name``, ``passed`` and a one-line ``detail``.

    Statistical tests also carry their ``pvalue`` and, once judged by
    :func:`holm`, the Holm-``adjusted`` p-value (``passed`` is
    ``adjusted > alpha``).
    """

    name: str
    passed: bool
    detail: str
    pvalue: float | None = None
    adjusted: float | None = None


@dataclass
class Report:
    """The verdicts for one projection."""

    projection: str
    checks: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    def add(self, name: str, passed, detail: str, pvalue: float | None = None):
        self.checks.append(Check(name, bool(passed), detail, None if pvalue is None else float(pvalue)))

    def lines(self) -> list:
        """Human-readable lines, one per check (statistical tests with raw and Holm-adjusted p)."""
        head = f"{self.projection}: {'PASS' if self.passed else 'FAIL'}"
        out = [head]
        for c in self.checks:
            extra = "" if c.adjusted is None else f"; Holm-adjusted p = {c.adjusted:.3g}"
            out.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.name:<10} {c.detail}{extra}")
        return out


def holm(reports, alpha: float = ALPHA) -> int:
    """Judge every statistical test of ``reports`` as one family (Holm's step-down procedure).

    Sets each test's Holm-adjusted p-value, ``min(1, max_{j <= i} (m - j + 1) p_(j))``
    over the ``m`` p-values in increasing order, and ``passed = adjusted > alpha``:
    the probability that a correct network fails any of the tests is at most
    ``alpha``, whatever the dependence between the tests. Returns ``m``.

    Examples
    --------
    >>> r = Report("p")
    >>> for name, p in (("a", 0.01), ("b", 0.0004), ("c", 0.3)):
    ...     r.add(name, True, "", pvalue=p)
    >>> holm([r], alpha=0.001)
    3
    >>> [(c.name, round(c.adjusted, 4), c.passed) for c in r.checks]
    [('a', 0.02, True), ('b', 0.0012, True), ('c', 0.3, True)]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    tests = [c for r in reports for c in r.checks if c.pvalue is not None]
    m = len(tests)
    running = 0.0
    for rank, c in enumerate(sorted(tests, key=lambda c: c.pvalue)):
        running = max(running, min(1.0, (m - rank) * c.pvalue))
        c.adjusted = running
        c.passed = running > alpha
    return m


def check_projection(sources, targets, projection, source_positions, target_positions, *,
                     alpha: float | None = ALPHA, max_pairs: int = 20_000_000, replicates: int = 20,
                     seed: int = 0) -> Report:
    """Check the synapses ``sources[i] -> targets[i]`` of one projection.

    Parameters
    ----------
    sources, targets : array of int
        The synapses, as indices into the source and target populations.
    projection : spatialconn.spec.Projection
        What should have produced them (rule, kernel, mask, space, flags);
        with ``rule=None`` only the indices are checked.
    source_positions, target_positions : (N, d) arrays
    alpha : float or None, default 1e-3
        Family-wise level of the report's statistical tests (count z-test,
        KS), judged together by :func:`holm`. ``None`` leaves them undecided
        (``passed`` True) for the caller to judge with others.
    max_pairs : int, default 2·10^7
        Pair evaluations allowed for the distance test (a quarter of it for
        the two-sample test, which evaluates each pair ``replicates`` times);
        larger projections are tested on a random subset of drivers.
    replicates : int, default 20
        Fresh draws per observed synapse for the two-sample test (rules
        without multapses).
    seed : int, default 0
        Seed of the driver subset and of the fresh draws (the check is
        deterministic).

    Returns
    -------
    Report

    Examples
    --------
    See the module docstring.
    """
    positive_int(max_pairs, "max_pairs")
    positive_int(replicates, "replicates")
    if alpha is not None and not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if seed is None or isinstance(seed, np.random.SeedSequence):
        raise TypeError(f"seed must be an int (the check is deterministic), got {seed!r}")
    seed_sequence(seed)  # the shared parser: a non-negative int
    s = np.asarray(sources, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    src = np.asarray(source_positions, dtype=np.float64)
    tgt = np.asarray(target_positions, dtype=np.float64)
    rule = projection.rule
    report = Report(projection.name)
    n_s, n_t = len(src), len(tgt)
    bad = (s < 0) | (s >= n_s) | (t < 0) | (t >= n_t)
    if s.shape != t.shape or bad.any():
        detail = ("sources and targets differ in length" if s.shape != t.shape else
                  f"synapse {int(np.argmax(bad))} ({s[np.argmax(bad)]} -> {t[np.argmax(bad)]}) is "
                  f"outside the populations ({n_s} sources, {n_t} targets)")
        report.add("indices", False, detail)
        return report
    report.add("indices", True, f"{len(s)} synapses, all within {n_s} sources and {n_t} targets")
    if rule is None:  # e.g. a SONATA circuit checked without its spec: nothing more to compare with
        return report
    problem, drivers, partners = _setup(s, t, projection, src, tgt)
    _counts(report, rule, s, t, n_s, n_t, problem, drivers, partners, max_pairs, seed)
    if projection.recurrent and not projection.autapses:
        n_aut = int(np.count_nonzero(s == t))
        report.add("autapses", n_aut == 0, "none (autapses = false)" if n_aut == 0 else
                   f"{n_aut} synapses i -> i although autapses = false (first at neuron {s[s == t][0]})")
    if not projection.multapses or isinstance(rule, PairwiseBernoulli):
        pair = np.sort(s * n_t + t)
        n_dup = int(np.count_nonzero(pair[1:] == pair[:-1]))
        why = "PairwiseBernoulli" if isinstance(rule, PairwiseBernoulli) else "multapses = false"
        report.add("multapses", n_dup == 0, f"no repeated pair ({why})" if n_dup == 0 else
                   f"{n_dup} repeated pairs although {why}")
    lw = problem.log_weights(_disp(problem, s, t, src, tgt))
    zero = ~(lw > -np.inf)
    report.add("weights", not zero.any(), "every synapse has non-zero weight (mask, kernel support)"
               if not zero.any() else f"{int(zero.sum())} synapses have zero weight, e.g. "
               f"{s[zero][0]} -> {t[zero][0]} (outside the mask or the kernel's support)")
    if len(s):
        _distances(report, rule, projection, problem, drivers, partners, max_pairs, replicates, seed)
    if alpha is not None:
        holm([report], alpha)
    return report


def _setup(s, t, projection, src, tgt):
    """The problem in the driver's frame, and the synapses as (drivers, partners)."""
    s, t = np.asarray(s, dtype=np.int64), np.asarray(t, dtype=np.int64)
    src, tgt = np.asarray(src, dtype=np.float64), np.asarray(tgt, dtype=np.float64)
    in_degree = isinstance(projection.rule, FixedInDegree)
    periods = np.full(src.shape[1], np.inf) if projection.space is None else projection.space.periods
    problem = Problem(drivers=tgt if in_degree else src, partners=src if in_degree else tgt,
                      sign=-1.0 if in_degree else 1.0, kernel=projection.kernel, mask=projection.mask,
                      periods=periods, exclude_self=projection.recurrent and not projection.autapses,
                      key=np.zeros(2, np.uint64))
    return (problem, t, s) if in_degree else (problem, s, t)


# -- counts --------------------------------------------------------------------
def _counts(report, rule, s, t, n_s, n_t, problem, drivers, partners, max_pairs, seed):
    if isinstance(rule, (FixedOutDegree, FixedInDegree)):
        n = n_t if isinstance(rule, FixedInDegree) else n_s
        side = "target" if isinstance(rule, FixedInDegree) else "source"
        expected = np.broadcast_to(np.asarray(rule.k, dtype=np.int64), (n,))
        got = np.bincount(drivers, minlength=n)
        wrong = np.nonzero(got != expected)[0]
        if len(wrong):
            i = int(wrong[0])
            report.add("counts", False, f"{len(wrong)} {side}s have the wrong degree, e.g. {side} {i}: "
                       f"{got[i]} instead of {expected[i]}")
        else:
            k = f"k = {int(expected[0])}" if np.ndim(rule.k) == 0 and n else "its k"
            report.add("counts", True, f"every {side} has exactly {k}")
    elif isinstance(rule, FixedTotalNumber):
        n = int(rule.n)
        report.add("counts", len(s) == n, f"{len(s)} synapses, expected exactly {n}")
    else:
        sub = _subset(problem, max_pairs, seed)
        q = 0.0
        var = 0.0
        poisson = isinstance(rule, PairwisePoisson)
        for _rows, lw, _ in _weights(problem, sub):
            p = _pair_mean(rule, lw)
            q += p.sum()
            var += p.sum() if poisson else (p * (1 - p)).sum()
        got = int(np.count_nonzero(np.isin(drivers, sub)))
        z = (got - q) / np.sqrt(var) if var > 0 else (0.0 if got == q else np.inf)
        pval = 2 * stats.norm.sf(abs(z))
        scope = "" if len(sub) == problem.n_drivers else f" (from {len(sub)} random sources)"
        report.add("counts", True, f"{got} synapses{scope}, expected {q:.1f} ± {np.sqrt(var):.1f} "
                   f"(z = {z:.2f}, p = {pval:.3g})", pvalue=pval)


# -- distances -----------------------------------------------------------------
def _distances(report, rule, projection, problem, drivers, partners, max_pairs, replicates, seed):
    fresh = not projection.multapses and not isinstance(rule, PairwiseBernoulli)
    budget = max_pairs // 4 if fresh else max_pairs
    sub = _subset(problem, budget, seed)
    chosen = np.isin(drivers, sub)
    obs = _pair_distances(problem, drivers[chosen], partners[chosen])
    scope = "" if len(sub) == problem.n_drivers else f", {len(sub)} random drivers"
    if len(obs) == 0:
        report.add("distances", True, f"no synapse to test{scope}")
        return
    if fresh:
        ref = _fresh_draws(rule, problem, sub, drivers, replicates, seed)
        res = stats.ks_2samp(obs, ref)
        d, pval, how = res.statistic, res.pvalue, f"two-sample KS against {len(ref)} fresh draws"
    else:
        d = _ks_exact(rule, problem, sub, drivers, np.sort(obs))
        pval = float(stats.kstwo.sf(d, len(obs)))
        how = "KS against the exact expectation"
    report.add("distances", True, f"{how}: D = {d:.4f}, p = {pval:.3g} "
               f"({len(obs)} synapses{scope}; mean {obs.mean():.4g})", pvalue=pval)


def _subset(problem, max_pairs, seed) -> np.ndarray:
    """Sorted random subset of drivers with about ``max_pairs`` pairs (all if that fits)."""
    m = min(problem.n_drivers, max(1, max_pairs // max(1, problem.n_partners)))
    if m >= problem.n_drivers:
        return np.arange(problem.n_drivers)
    return np.sort(np.random.default_rng(seed).choice(problem.n_drivers, m, replace=False))


def _weights(problem, rows, block_pairs: int = 1 << 21):
    """Yield ``(rows_block, log w, distance)`` for the drivers ``rows`` against every partner."""
    size = max(1, block_pairs // max(1, problem.n_partners))
    for lo in range(0, len(rows), size):
        r = rows[lo:lo + size]
        disp = problem.displacement(problem.drivers[r, None, :], problem.partners[None, :, :])
        d = np.sqrt(np.einsum("...i,...i->...", disp, disp))
        lw = problem.log_weights(disp, d)
        if problem.exclude_self:
            inside = r < problem.n_partners
            lw[np.nonzero(inside)[0], r[inside]] = -np.inf
        yield r, lw, d


def _disp(problem, s, t, src, tgt):
    from .space import wrap

    return wrap(tgt[t] - src[s], problem.periods)


def _pair_distances(problem, drivers, partners):
    disp = problem.displacement(problem.drivers[drivers], problem.partners[partners])
    return np.sqrt(np.einsum("ij,ij->i", disp, disp))


def _log_normalise(lw):
    """Each row's ``w / Σ w``; a row with infinite weights shares its mass evenly among them."""
    m = lw.max(axis=1, keepdims=True)
    inf_rows = m == np.inf
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(under="ignore", invalid="ignore"):
        w = np.where(inf_rows, (lw == np.inf).astype(np.float64), np.exp(lw - m))
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def _pair_mean(rule, lw: np.ndarray) -> np.ndarray:
    """Mean synapses per pair of the pairwise rules: ``p K`` (Bernoulli) or ``rate K`` (Poisson)."""
    return float(rule.rate if isinstance(rule, PairwisePoisson) else rule.p) * np.exp(lw)


def _accumulate(rule, problem, sub, degrees, binners, size: int) -> list:
    """Sum the rule's expected synapse masses into ``size`` bins, once per binner.

    ``binner(d) -> bin index``. The masses are those of one synapse's
    distance: ``k_i w_ij / Σ_j w_ij`` (fixed degree), ``w_ij / Σ_j w_ij``
    (total number, uniform sources), ``w_ij`` (total number, weighted) or
    ``p K_ij`` (Bernoulli) or ``rate K_ij`` (Poisson), over the drivers ``sub``; unnormalised.
    """
    accs = [np.zeros(size) for _ in binners]
    scale = -np.inf  # running log scale of the joint (weighted total-number) masses
    for rows, lw, d in _weights(problem, sub):
        if isinstance(rule, (PairwiseBernoulli, PairwisePoisson)):
            mass = _pair_mean(rule, lw)
        elif isinstance(rule, FixedTotalNumber) and rule.sources == "weighted":
            m = lw.max(initial=-np.inf)
            if m > scale:
                if np.isfinite(scale):
                    for acc in accs:
                        acc *= 0.0 if m == np.inf else np.exp(scale - m)
                scale = m
            if scale == np.inf:  # infinite weights take all the mass, shared evenly
                mass = (lw == np.inf).astype(np.float64)
            else:
                with np.errstate(under="ignore"):
                    mass = np.exp(lw - scale) if np.isfinite(scale) else np.zeros_like(lw)
        elif isinstance(rule, FixedTotalNumber):
            mass = _log_normalise(lw)
        else:
            mass = _log_normalise(lw) * degrees[rows, None]
        keep = mass > 0
        dk, mk = d[keep], mass[keep]
        for acc, binner in zip(accs, binners):
            acc += np.bincount(binner(dk), mk, size)[:size]
    return accs


def _ks_exact(rule, problem, sub, drivers, obs) -> float:
    """KS distance between sorted ``obs`` and the rule's exact expected distance distribution."""
    n = len(obs)
    degrees = np.bincount(drivers, minlength=problem.n_drivers)
    # mass with d <= obs[i] sits in bins >= searchsorted(obs, d, "left"); d < obs[i]: "right"
    le, lt = _accumulate(rule, problem, sub, degrees, [lambda d: np.searchsorted(obs, d, "left"),
                                                       lambda d: np.searchsorted(obs, d, "right")], n + 1)
    cdf_le, cdf_lt = np.cumsum(le)[:n] / le.sum(), np.cumsum(lt)[:n] / lt.sum()
    ecdf_le = np.searchsorted(obs, obs, "right") / n
    ecdf_lt = np.searchsorted(obs, obs, "left") / n
    return float(max(np.abs(ecdf_le - cdf_le).max(), np.abs(ecdf_lt - cdf_lt).max()))


def expected_distance_density(sources, targets, projection, source_positions, target_positions,
                              edges, *, max_pairs: int = 20_000_000, replicates: int = 20,
                              seed: int = 0) -> np.ndarray:
    """The density of synapse distances that ``projection`` implies, on the bin ``edges``.

    Exact for the rules with multapses and for Bernoulli; estimated from
    ``replicates`` fresh draws per synapse (exponential race) without
    multapses. Computed over a random subset of drivers when the pairs exceed
    ``max_pairs``, like :func:`check_projection`; the synapses given only
    provide each driver's degree.

    Returns
    -------
    ndarray
        Density per bin (integrates to 1 over ``edges``, or to the fraction
        of the distribution inside them).
    """
    edges = np.asarray(edges, dtype=np.float64)
    problem, drivers, _ = _setup(sources, targets, projection, source_positions, target_positions)
    fresh = not projection.multapses and not isinstance(projection.rule, PairwiseBernoulli)
    sub = _subset(problem, max_pairs // 4 if fresh else max_pairs, seed)
    nb = len(edges) - 1
    if fresh:
        ref = _fresh_draws(projection.rule, problem, sub, drivers, replicates, seed)
        counts, _ = np.histogram(ref, edges)
        total = max(len(ref), 1)
    else:
        degrees = np.bincount(drivers, minlength=problem.n_drivers)

        def binner(d):
            b = np.searchsorted(edges, d, "right") - 1
            b[d == edges[-1]] = nb - 1
            return np.where((b >= 0) & (b < nb), b, nb)

        acc, = _accumulate(projection.rule, problem, sub, degrees, [binner], nb + 1)
        counts, total = acc[:nb], acc.sum() or 1.0
    return counts / total / np.diff(edges)


def _fresh_draws(rule, problem, sub, drivers, replicates, seed) -> np.ndarray:
    """Distances of fresh draws without replacement (exponential race), ``replicates`` times."""
    rng = np.random.default_rng([seed, 1])
    out = []
    if isinstance(rule, FixedTotalNumber):
        lws, ds = [], []
        for _rows, lw, d in _weights(problem, sub):
            if rule.sources == "uniform":
                with np.errstate(divide="ignore"):
                    lw = np.log(_log_normalise(lw))
            lws.append(lw.ravel())
            ds.append(d.ravel())
        lw, d = np.concatenate(lws), np.concatenate(ds)
        k = int(np.count_nonzero(np.isin(drivers, sub)))
        for _ in range(replicates):
            keys = np.log(rng.exponential(size=lw.shape)) - lw
            out.append(d[np.argpartition(keys, k - 1)[:k]] if k else d[:0])
        return np.concatenate(out)
    degrees = np.bincount(drivers, minlength=problem.n_drivers)
    for rows, lw, d in _weights(problem, sub):
        for r in range(len(rows)):
            k = int(degrees[rows[r]])
            if k == 0:
                continue
            keys = np.log(rng.exponential(size=(replicates, lw.shape[1]))) - lw[r]
            idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
            out.append(d[r][idx].ravel())
    return np.concatenate(out) if out else np.empty(0)


def check(connections, rule, kernel=None, *, mask=None, space=None, multapses: bool = True,
          autapses: bool = True, alpha: float = ALPHA, max_pairs: int = 20_000_000, replicates: int = 20,
          seed: int = 0, name: str = "connections") -> Report:
    """Check synapses built in Python against the arguments they were built with.

    ``sc.check(conn, rule=..., kernel=..., ...)`` takes the
    :class:`~spatialconn.Connections` returned by :func:`spatialconn.connect`
    (or an adapter) and the same ``rule``, ``kernel``, ``mask``, ``space``,
    ``multapses`` and ``autapses``; a call with ``targets=None`` is checked
    as recurrent (autapses apply). The checks are those of
    :func:`check_projection`, judged together at the family-wise level
    ``alpha`` (Holm).

    Returns
    -------
    Report
        ``report.passed``, and ``print("\\n".join(report.lines()))`` for the details.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((400, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(8), kernel=sc.Gaussian(0.1), multapses=False, seed=5)
    >>> sc.check(conn, rule=sc.FixedOutDegree(8), kernel=sc.Gaussian(0.1), multapses=False).passed
    True
    >>> sc.check(conn, rule=sc.FixedOutDegree(8), kernel=sc.Gaussian(0.05), multapses=False).passed
    False
    """
    from .connections import Connections
    from .rules import Rule
    from .spec import Projection

    if not isinstance(connections, Connections):
        raise TypeError(f"connections must be the Connections returned by sc.connect, got {connections!r}")
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be FixedOutDegree, FixedInDegree, FixedTotalNumber, PairwiseBernoulli or "
                        f"PairwisePoisson, got {rule!r}")
    src, tgt = connections.positions
    recurrent = src is tgt
    projection = Projection(name, "sources", "sources" if recurrent else "targets", rule, kernel, mask, space,
                            multapses=bool(multapses), autapses=bool(autapses))
    return check_projection(connections.sources, connections.targets, projection, src, tgt, alpha=alpha,
                            max_pairs=max_pairs, replicates=replicates, seed=seed)


class _CallableModule(type(sys)):
    """``spatialconn.check`` is this module and, called, :func:`check` (``sc.check(conn, ...)``)."""

    def __call__(self, *args, **kwargs):
        return check(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
