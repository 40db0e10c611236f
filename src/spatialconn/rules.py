"""Connection rules: how many synapses, and who draws them.

Names and definitions follow Senk et al. (2022), "Connectivity concepts in
neuronal network modeling", PLoS Comput Biol 18(9): e1010086, with the
spatial weights ``w_ij = K(x_j - x_i)`` inside the mask (0 outside).

Examples
--------
>>> import spatialconn as sc
>>> sc.FixedOutDegree(10)
FixedOutDegree(k=10)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import counts, scalar

__all__ = ["FixedInDegree", "FixedOutDegree", "FixedTotalNumber", "PairwiseBernoulli", "PairwisePoisson", "Rule"]


class Rule:
    """Base class of rules. ``driver`` names the side whose count is fixed."""

    driver: str = "source"


def _degree_repr(k):
    return int(k) if np.ndim(k) == 0 else f"array(len={np.size(k)})"


@dataclass(frozen=True, repr=False)
class FixedOutDegree(Rule):
    """Every source ``i`` makes exactly ``k_i`` synapses.

    Each partner is drawn with probability ``w_ij / Σ_j w_ij``: independently
    when multapses are allowed (multinomial), by successive sampling without
    replacement otherwise (the distribution of
    ``Generator.choice(n, size=k, replace=False, p=w / w.sum())``).

    Parameters
    ----------
    k : int or array of int
        Out-degree, one for all sources or one per source.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=1)
    >>> len(conn)
    500

    References
    ----------
    Senk et al. 2022, "random, fixed out-degree"; NEST ``fixed_outdegree``.
    """

    k: object

    driver = "source"

    def __post_init__(self):
        counts(self.k, "k")

    def __repr__(self):
        return f"FixedOutDegree(k={_degree_repr(self.k)})"


@dataclass(frozen=True, repr=False)
class FixedInDegree(Rule):
    """Every target ``j`` receives exactly ``k_j`` synapses.

    Each partner is drawn with probability ``w_ij / Σ_i w_ij``; multapses as
    for :class:`FixedOutDegree`.

    Parameters
    ----------
    k : int or array of int
        In-degree, one for all targets or one per target.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedInDegree(3), kernel=sc.Gaussian(0.1), seed=1)
    >>> int(np.bincount(conn.targets).min())
    3

    References
    ----------
    Senk et al. 2022, "random, fixed in-degree"; NEST ``fixed_indegree``.
    """

    k: object

    driver = "target"

    def __post_init__(self):
        counts(self.k, "k")

    def __repr__(self):
        return f"FixedInDegree(k={_degree_repr(self.k)})"


@dataclass(frozen=True)
class FixedTotalNumber(Rule):
    """Exactly ``n`` synapses in all.

    With ``sources="weighted"`` (default) each synapse is a pair ``(i, j)``
    drawn with probability ``w_ij / Σ_ij w_ij``, jointly over all pairs. With
    ``sources="uniform"`` (the forum's variant) each synapse's source is
    uniform over the sources and its target is drawn with ``w_ij / Σ_j w_ij``;
    that is the same rule with pair weights ``w_ij / Σ_j w_ij``. Without
    multapses the ``n`` pairs are distinct: successive sampling over pairs.

    Parameters
    ----------
    n : int
        Total number of synapses.
    sources : {"weighted", "uniform"}

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> len(sc.connect(pos, rule=sc.FixedTotalNumber(250), kernel=sc.Gaussian(0.1), seed=1))
    250

    References
    ----------
    Senk et al. 2022, "random, fixed total number". NEST refuses this rule with
    a kernel or mask.
    """

    n: int
    sources: str = "weighted"

    driver = "source"

    def __post_init__(self):
        n = counts(self.n, "n")
        if n.ndim != 0:
            raise ValueError(f"n must be a single integer, got an array of shape {n.shape}")
        if self.sources not in ("weighted", "uniform"):
            raise ValueError(f"sources must be 'weighted' or 'uniform', got {self.sources!r}")


@dataclass(frozen=True)
class PairwiseBernoulli(Rule):
    """Each pair connects independently with probability ``p · K(x_j - x_i)``.

    Here the kernel's scale matters; ``p · K > 1`` is an error. At most one
    synapse per pair (multapses do not arise).

    Parameters
    ----------
    p : float
        Probability at peak kernel value, ``0 <= p <= 1``.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> conn = sc.connect(pos, rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.1), seed=1)
    >>> len(conn) > 0
    True

    References
    ----------
    Senk et al. 2022, "pairwise Bernoulli"; NEST ``pairwise_bernoulli``;
    Brian2 ``Synapses.connect(p=...)``.
    """

    p: float

    driver = "source"

    def __post_init__(self):
        p = scalar(self.p, "p")
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p}")


@dataclass(frozen=True)
class PairwisePoisson(Rule):
    """Each ordered pair gets ``Poisson(rate · K(x_j - x_i))`` synapses, independently.

    Multapses are the point of this rule (it needs ``multapses=True``); the
    kernel's scale matters, as for :class:`PairwiseBernoulli`, but
    ``rate · K`` may exceed 1 (it is a mean number of synapses).

    Sampled by Poisson splitting, which is exact: source ``i`` makes
    ``N_i ~ Poisson(rate · Σ_j w_ij)`` synapses, each to target ``j`` with
    probability ``w_ij / Σ_j w_ij`` independently (the multapse path of
    :class:`FixedOutDegree`). The counts ``N_i`` depend only on the seed.

    Parameters
    ----------
    rate : float
        Mean number of synapses of a pair at peak kernel value, ``rate >= 0``.

    Examples
    --------
    >>> import numpy as np, spatialconn as sc
    >>> pos = np.random.default_rng(0).random((100, 2))
    >>> conn = sc.connect(pos, rule=sc.PairwisePoisson(2.0), kernel=sc.Gaussian(0.1), seed=1)
    >>> len(conn)    # Poisson with mean 2 · Σ_ij K(d_ij) ≈ 1178
    1103

    References
    ----------
    NEST ``pairwise_poisson`` (``pairwise_avg_num_conns``, NEST ≥ 3.6).
    """

    rate: float

    driver = "source"

    def __post_init__(self):
        rate = scalar(self.rate, "rate")
        if not 0 <= rate < np.inf:
            raise ValueError(f"rate must be a finite number >= 0, got {rate}")
