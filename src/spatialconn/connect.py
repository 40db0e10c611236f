"""``sc.plan``: validate once, pick an engine, decide the counts; ``sc.connect`` builds it all.

Every check of the user's arguments lives here (``_check_rule``,
``_positions``, ``_check_kernel``, ``_check_mask``, ``_check_space`` and the
feasibility checks of :class:`_Job`), so every error is raised by
:func:`plan` before any sampling. The result is a
:class:`~spatialconn.ConnectionPlan`, which every consumer uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np

from . import engine as engines
from ._units import UnitContext, plain
from ._validate import counts as _counts
from ._validate import positive_int, real
from .connection_plan import ConnectionPlan
from .connections import Connections
from .kernels import Kernel, Shifted
from .masks import Mask, periodic_images
from .problem import Problem
from .rng import global_generator, root_key
from .rules import FixedInDegree, FixedOutDegree, FixedTotalNumber, PairwiseBernoulli, PairwisePoisson, Rule

__all__ = ["plan", "connect", "iter_connect"]


def plan(
    sources,
    targets=None,
    rule: Rule | None = None,
    kernel: Kernel | None = None,
    *,
    mask: Mask | None = None,
    space=None,
    multapses: bool = True,
    autapses: bool = True,
    seed=None,
    engine: str = "auto",
    chunk_size: int | None = None,
) -> ConnectionPlan:
    """Validate and plan a connection once; build all of it, or any part, later.

    The weight of the pair ``(i, j)`` is ``w_ij = K(x_j - x_i)`` when the
    displacement ``x_j - x_i`` (target minus source) lies in ``mask``, and 0
    otherwise (also for ``i == j`` when ``autapses`` is False). ``rule`` says
    how many synapses are made and how partners are drawn from these weights.

    Every check happens here: the returned plan knows each driver's synapse
    count (:attr:`ConnectionPlan.degrees`) and samples nothing until asked
    (:meth:`~ConnectionPlan.connect`, :meth:`~ConnectionPlan.block`,
    :meth:`~ConnectionPlan.drivers`, :meth:`~ConnectionPlan.restrict`).

    Parameters
    ----------
    sources : (N_s, d) array-like, d in 1..3
        Source positions; may carry units (Brian2 quantities), and then every
        length (σ, radii, extent) must carry compatible units.
    targets : (N_t, d) array-like, optional
        Target positions; ``None`` connects the source population to itself.
    rule : FixedOutDegree, FixedInDegree, FixedTotalNumber, PairwiseBernoulli or PairwisePoisson
    kernel : Kernel, optional
        Relative preference by displacement; ``None`` is uniform.
    mask : Mask, optional
        Region of displacements outside which no pair connects.
    space : Space, optional
        Bounds and periodicity; ``None`` is open Euclidean space.
    multapses : bool, default True
        Allow several synapses between the same ordered pair.
    autapses : bool, default True
        Allow ``i -> i`` (only meaningful when ``targets`` is None).
    seed : None, int or numpy.random.SeedSequence
        Same seed, same result, whatever the engine's threads or chunks.
    engine : {"auto", "grid", "reference"}
        ``"auto"`` picks the fastest engine available for the problem.
    chunk_size : int, optional
        Drivers per block inside the engine; affects memory and speed, never the result.

    Returns
    -------
    ConnectionPlan

    Raises
    ------
    TypeError
        For arguments of the wrong type.
    ValueError
        For invalid values (non-finite positions, wrong shapes, bad
        degrees, mismatched units) and for infeasible requests (more distinct
        partners requested than candidates with non-zero weight, a degree
        with no candidate at all, ``p · K > 1``), naming the argument or
        driver and the numbers involved.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((1000, 2))
    >>> p = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.05), seed=1)
    >>> p.n_drivers, p.expected_synapses
    (1000, 5000)
    >>> part = p.drivers([7, 3])                  # only these two drivers are sampled
    >>> part.sources.tolist()
    [7, 7, 7, 7, 7, 3, 3, 3, 3, 3]
    >>> whole = p.connect()
    >>> bool(np.array_equal(part.targets[5:], whole.targets[whole.sources == 3]))
    True

    References
    ----------
    Senk J. et al. (2022) Connectivity concepts in neuronal network modeling.
    PLoS Comput Biol 18(9): e1010086.
    """
    job = _Job(sources, targets, rule, kernel, mask, space, multapses, autapses, seed, engine, chunk_size)
    return ConnectionPlan(job)


def connect(sources, targets=None, rule: Rule | None = None, kernel: Kernel | None = None,
            **options) -> Connections:
    """Connect neurons by position: exact fixed counts with distance-dependent choice.

    ``sc.connect(...)`` is ``sc.plan(...).connect()``: same arguments (see
    :func:`plan` for each of them and for the errors raised), the whole
    network at once.

    Returns
    -------
    Connections
        ``.sources`` and ``.targets`` index arrays grouped by driver.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> rng = np.random.default_rng(0)
    >>> pre, post = rng.normal(size=(1200, 2)), rng.normal(size=(4000, 2))
    >>> conn = sc.connect(pre, post, rule=sc.FixedOutDegree(10),
    ...                   kernel=sc.Gaussian(sigma=1.0), seed=42)
    >>> len(conn), int(conn.out_degrees().min())
    (12000, 10)
    """
    return plan(sources, targets, rule, kernel, **options).connect()


def iter_connect(sources, targets=None, rule: Rule | None = None, kernel: Kernel | None = None, *,
                 chunk_size: int = 100_000, **options) -> Iterator[Connections]:
    """Like :func:`connect`, but yield the synapses in blocks of ``chunk_size`` drivers.

    ``sc.plan(...).blocks(chunk_size)``: concatenating the blocks gives
    exactly ``connect(...)`` with the same arguments; memory is bounded by
    one block's output (``FixedTotalNumber`` without multapses is planned
    globally, so its ``n`` pairs are held once). Every check runs before the
    first block is yielded.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((1000, 2))
    >>> blocks = sc.iter_connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Gaussian(0.05),
    ...                          chunk_size=400, seed=1)
    >>> [len(b) for b in blocks]
    [1200, 1200, 600]
    """
    positive_int(chunk_size, "chunk_size")
    return plan(sources, targets, rule, kernel, **options).blocks(chunk_size)


class _Job:
    """One validated call: the problem, the engine and the per-driver plan."""

    def __init__(self, sources, targets, rule, kernel, mask, space, multapses, autapses, seed,
                 engine, chunk_size):
        self.rule = _check_rule(rule)
        for name, flag in (("multapses", multapses), ("autapses", autapses)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if chunk_size is not None:
            positive_int(chunk_size, "chunk_size")
        units = UnitContext(sources)
        src = _positions(sources, "sources", units)
        recurrent = targets is None
        tgt = src if recurrent else _positions(targets, "targets", units)
        if tgt.shape[1] != src.shape[1]:
            raise ValueError(
                f"sources have {src.shape[1]} coordinates per neuron but targets have {tgt.shape[1]}"
            )
        d = src.shape[1]
        kernel = _check_kernel(kernel, d, units)
        mask = _check_mask(mask, d, units)
        base = kernel
        while isinstance(base, Shifted):
            base = base.base
        if hasattr(base, "check_support"):  # an Expression needs a cutoff, a mask or proven decay
            base.check_support(mask is not None, d)
        space = _check_space(space, d, units, src, tgt, mask)
        periods = np.full(d, np.inf) if space is None else space.periods
        mask = periodic_images(mask, periods)  # a mask's bounding box must fit each period
        in_degree = isinstance(self.rule, FixedInDegree)
        drivers, partners = (tgt, src) if in_degree else (src, tgt)
        self.problem = Problem(
            drivers=drivers,
            partners=partners,
            sign=-1.0 if in_degree else 1.0,
            kernel=kernel,
            mask=mask,
            periods=periods,
            exclude_self=recurrent and not autapses,
            key=root_key(seed),
            chunk_size=None if chunk_size is None else int(chunk_size),
        )
        self.multapses = bool(multapses)
        self.in_degree = in_degree
        self.engine = engines.select(engine, self.problem)
        self.sources, self.targets, self.periods, self.units = src, tgt, periods, units
        self.pairs = None  # FixedTotalNumber without multapses: (drivers, partners) planned globally
        self.degrees = self._plan()

    def __getstate__(self):  # picklable for Dask workers: the engine travels by module name
        state = dict(self.__dict__)
        state["engine"] = self.engine.__name__
        return state

    def __setstate__(self, state):
        import importlib

        self.__dict__.update(state)
        self.engine = importlib.import_module(state["engine"])

    # -- planning: every check happens here, before any sampling -------------
    def _plan(self):
        rule, pb = self.rule, self.problem
        if isinstance(rule, PairwiseBernoulli):
            self._check_bernoulli(float(rule.p))
            return None
        if isinstance(rule, PairwisePoisson):
            return plan_poisson(self.problem, self.engine, float(rule.rate), self.multapses)
        if isinstance(rule, (FixedOutDegree, FixedInDegree)):
            k = _counts(rule.k, "k")
            if k.ndim == 1 and k.size != pb.n_drivers:
                side = "targets" if self.in_degree else "sources"
                raise ValueError(
                    f"k has {k.size} entries but there are {pb.n_drivers} {side}; give one per "
                    f"{side[:-1]} or a scalar"
                )
            degrees = np.broadcast_to(k, (pb.n_drivers,)).astype(np.int64)
            self._check_feasible(degrees)
            return degrees
        return self._plan_total(rule)

    def _plan_total(self, rule: FixedTotalNumber):
        pb, n = self.problem, int(rule.n)
        if n == 0:
            self.pairs = (np.empty(0, np.int64), np.empty(0, np.int64))
            return None
        uniform = rule.sources == "uniform"
        cand = self._candidates()
        if uniform:
            self._require(cand > 0, lambda i: f"FixedTotalNumber(sources='uniform'): source {i} has no "
                          "candidate target with non-zero weight, so it cannot receive its share of synapses")
        total_pairs = int(cand.sum())
        if total_pairs == 0 or (not self.multapses and n > total_pairs):
            raise ValueError(
                f"FixedTotalNumber(n={n}) needs {'distinct ' if not self.multapses else ''}pairs with "
                f"non-zero weight but only {total_pairs} exist (multapses={self.multapses})"
            )
        if self.multapses:
            if uniform:
                counts = global_generator(pb.key).multinomial(n, np.full(pb.n_drivers, 1.0 / pb.n_drivers))
            else:
                counts = self.engine.total_counts(pb, n)
            return counts.astype(np.int64)
        norm = self.engine.row_log_totals(pb) if uniform else None
        self.pairs = self.engine.total_without_multapses(pb, n, norm)
        return None

    def _candidates(self) -> np.ndarray:
        pb = self.problem
        if pb.positive_everywhere:
            c = np.full(pb.n_drivers, pb.n_partners, dtype=np.int64)
            if pb.exclude_self:
                c[: pb.n_partners] -= 1
            return c
        return self.engine.candidate_counts(pb)

    def _check_feasible(self, degrees):
        if not degrees.any():
            return
        cand = self._candidates()
        driver = "target" if self.in_degree else "source"
        partner = "sources" if self.in_degree else "targets"
        if self.multapses:
            self._require((degrees == 0) | (cand > 0), lambda i: (
                f"{driver} {i} needs k={degrees[i]} synapses but no {partner[:-1]} has non-zero weight "
                f"for it (check the mask, kernel cutoff and positions)"))
        else:
            self._require(degrees <= cand, lambda i: (
                f"{driver} {i} needs k={degrees[i]} distinct {partner} but only {cand[i]} have non-zero "
                f"weight (multapses=False); lower k, widen the mask or allow multapses"))

    @staticmethod
    def _require(ok: np.ndarray, message):
        if not np.all(ok):
            raise ValueError(message(int(np.argmin(ok))))

    def _check_bernoulli(self, p: float):
        """``p · K <= 1`` for every pair: bounded over the mask's distances, else checked pair by pair."""
        from .engine import reference
        from .masks import nearest_distance

        pb = self.problem
        kernel = pb.kernel
        if kernel is None or p == 0:
            return
        peak = kernel.peak_between(nearest_distance(pb.mask), pb.reach)
        if p * peak <= 1:
            return
        # the bound allows p * K > 1 (a CustomKernel without peak, Gamma(kappa < 1), a mask the bound
        # cannot see): find the heaviest pair that exists, before any block is sampled
        lw, i, j = reference.largest_log_weight(pb)
        if lw > -math.log(p):
            driver, partner = ("target", "source") if self.in_degree else ("source", "target")
            value = math.inf if lw == math.inf else p * math.exp(min(lw, 709.0))
            raise ValueError(
                f"PairwiseBernoulli: p * K = {value:.6g} > 1 for {driver} {i} and {partner} {j} (p = {p}); "
                "lower p or rescale the kernel"
            )


# -- PairwisePoisson: planned as per-source counts, then sampled as FixedOutDegree with multapses --
def plan_poisson(problem: Problem, engine, rate: float, multapses: bool) -> np.ndarray:
    """Per-source synapse counts of :class:`~spatialconn.PairwisePoisson` (Poisson splitting).

    ``N_i ~ Poisson(rate · Σ_j w_ij)`` from the call's global stream (so the
    counts depend on the seed only, never on chunks or workers); the caller
    then draws each source's ``N_i`` partners i.i.d. with ``w_ij / Σ_j w_ij``,
    which makes the pair counts independent ``Poisson(rate · w_ij)``.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> job = sc.plan(np.random.default_rng(0).random((5, 2)), rule=sc.PairwisePoisson(3.0), seed=1)
    >>> job.degrees.tolist()   # Poisson(3 · 5) each: 5 targets of uniform weight 1
    [20, 11, 14, 12, 14]
    """
    if not multapses:
        raise ValueError("PairwisePoisson makes several synapses per pair by definition; it needs "
                         "multapses=True (use PairwiseBernoulli for at most one)")
    counts = np.zeros(problem.n_drivers, dtype=np.int64)
    if rate == 0 or problem.n_drivers == 0 or problem.n_partners == 0:
        return counts
    log_mean = math.log(rate) + engine.row_log_totals(problem)
    too_big = ~(log_mean < math.log(2.0**62))
    if too_big.any():
        i = int(np.argmax(too_big))
        raise ValueError(f"PairwisePoisson: source {i} expects rate * sum_j K = exp({log_mean[i]:.6g}) "
                         "synapses (infinite or beyond 2^62); lower the rate or bound the kernel")
    with np.errstate(under="ignore"):
        mean = np.exp(log_mean)
    return global_generator(problem.key).poisson(mean).astype(np.int64)


def _check_rule(rule):
    if rule is None:
        raise TypeError("rule is required, e.g. rule=sc.FixedOutDegree(10)")
    if not isinstance(rule, Rule):
        raise TypeError(
            f"rule must be FixedOutDegree, FixedInDegree, FixedTotalNumber, PairwiseBernoulli or "
            f"PairwisePoisson, got {rule!r}"
        )
    return rule


def _positions(value, name: str, units: UnitContext) -> np.ndarray:
    units.check_positions(value, name)
    real(value, name, "an (N, d) array of real numbers")
    try:
        arr = plain(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an (N, d) array of numbers, got {type(value).__name__}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not 1 <= arr.shape[1] <= 3:
        raise ValueError(f"{name} must have shape (N, d) with d = 1, 2 or 3, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be finite: neuron {i} has coordinate {c} = {arr[i, c]}")
    return np.ascontiguousarray(arr)


def _with_plain_lengths(obj, units: UnitContext, name: str):
    """``obj`` with its length parameters converted to plain SI floats."""
    if hasattr(obj, "_plain"):  # an Expression checks the dimensions of its whole formula
        return obj._plain(units, name)
    values = {}
    for field_name, power in obj._length_fields.items():
        value = getattr(obj, field_name)
        if value is not None:
            values[field_name] = units.length(value, f"{name}.{field_name}", power)
    if isinstance(obj, Shifted):
        values["base"] = _with_plain_lengths(obj.base, units, name)
    if units.dim is None:
        return obj
    if hasattr(obj, "_with_lengths"):
        return obj._with_lengths(**values)
    return dataclasses.replace(obj, **values)


def _check_kernel(kernel, d: int, units: UnitContext):
    if kernel is None:
        return None
    if not isinstance(kernel, Kernel):
        hint = " (wrap a function as sc.CustomKernel(f, cutoff=...))" if callable(kernel) else ""
        raise TypeError(f"kernel must be a spatialconn kernel, got {kernel!r}{hint}")
    k_dim = getattr(kernel, "ndim", None)
    if k_dim is not None and k_dim != d:
        raise ValueError(f"kernel {kernel!r} is {k_dim}-dimensional but positions have d = {d}")
    return _with_plain_lengths(kernel, units, "kernel")


def _check_mask(mask, d: int, units: UnitContext):
    if mask is None:
        return None
    if not isinstance(mask, Mask):
        raise TypeError(f"mask must be a spatialconn mask (Disc, Annulus, Box, Ellipse), got {mask!r}")
    if mask.ndim is not None and mask.ndim != d:
        raise ValueError(f"mask {mask!r} is {mask.ndim}-dimensional but positions have d = {d}")
    center = getattr(mask, "center", None)
    if center is not None and np.size(plain(center)) != d:
        raise ValueError(f"mask center {center!r} must have {d} components")
    return _with_plain_lengths(mask, units, "mask")


def _check_space(space, d: int, units: UnitContext, src, tgt, mask):
    from .space import Space

    if space is None:
        return None
    if not isinstance(space, Space):
        raise TypeError(f"space must be a spatialconn Space, got {space!r}")
    if space.ndim != d:
        raise ValueError(f"space has {space.ndim} axes but positions have d = {d}")
    space = _with_plain_lengths(space, units, "space")
    b = space.bounds
    for name, pos in (("sources", src), ("targets", tgt)):
        out = (pos < b[:, 0]) | (pos > b[:, 1])
        if out.any():
            i, c = np.argwhere(out)[0]
            raise ValueError(
                f"{name} neuron {i} lies outside the space extent: coordinate {c} = {pos[i, c]} "
                f"not in [{b[c, 0]}, {b[c, 1]}]"
            )
    return space
