"""Shared machinery of the simulator adapters: populations that share neurons.

Simulators let a projection's source and target populations be different
objects that contain some of the same neurons (Brian2 subgroups
``G[:600]`` and ``G[400:]``, NEST NodeCollections, PyNN views). "No
autapses" then means "no synapse from a neuron onto itself", which
:func:`spatialconn.connect` cannot see, since it only compares indices when
``targets`` is None. :func:`connect_neurons` takes the underlying neuron
ids of both sides and stays exact:

* identical populations become a recurrent call (``targets=None``);
* disjoint populations, or autapses allowed, are an ordinary call;
* partially overlapping populations without autapses are split by driver:
  drivers outside the overlap draw from all partners in an ordinary call;
  drivers inside it draw in a recurrent call on the partner population
  (degree 0 for partners that are not drivers), whose own autapse rule
  excludes exactly "the same neuron". Drivers are independent under the
  fixed-degree rules, so the split does not change the distribution.
  ``PairwiseBernoulli`` and ``PairwisePoisson`` drop the self pairs; ``FixedTotalNumber`` with
  multapses uses per-source counts (``sources="uniform"``) or rejects and
  redraws self pairs (``"weighted"``: i.i.d. draws conditioned on not being
  a self pair). ``FixedTotalNumber`` without multapses is not supported in
  this one case (see :class:`NotImplementedError` below).
"""

from __future__ import annotations

import numpy as np

from ._arrays import unique
from ._units import UnitContext, plain
from .connect import connect as _sc_connect
from .connections import Connections
from .rng import seed_sequence
from .rules import FixedInDegree, FixedOutDegree, FixedTotalNumber, PairwiseBernoulli, PairwisePoisson, Rule

__all__ = ["child_seed", "connect_neurons"]

#: give up redrawing self pairs after this many rounds (FixedTotalNumber, weighted)
MAX_REDRAW_ROUNDS = 64


def child_seed(seed, *path: int) -> np.random.SeedSequence:
    """A seed sequence derived deterministically from ``seed`` and the integers ``path``.

    Unlike ``SeedSequence.spawn`` it does not mutate a SeedSequence it is given.

    Examples
    --------
    >>> child_seed(7, 1).generate_state(1) == child_seed(7, 1).generate_state(1)
    array([ True])
    """
    base = seed_sequence(seed)
    return np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(path))


def connect_neurons(src_pos, tgt_pos, src_ids, tgt_ids, rule, kernel=None, *, mask=None, space=None,
                    multapses=True, autapses=True, seed=None) -> Connections:
    """:func:`spatialconn.connect` for populations identified by underlying neuron ids.

    Parameters
    ----------
    src_pos, tgt_pos : (N_s, d), (N_t, d) array-like
        Positions (may carry units).
    src_ids, tgt_ids : (N_s,), (N_t,) int arrays
        Identity of each neuron (unique within each side); equal ids on both
        sides are the same neuron.
    rule, kernel, mask, space, multapses, autapses, seed
        As for :func:`spatialconn.connect`; ``autapses=False`` excludes pairs
        of equal id.

    Returns
    -------
    Connections
        Indices relative to each side, grouped by driver.

    Examples
    --------
    >>> import numpy as np
    >>> pos = np.random.default_rng(0).random((10, 2))
    >>> ids = np.arange(10)
    >>> c = connect_neurons(pos[:6], pos[4:], ids[:6], ids[4:], FixedOutDegree(3),
    ...                     multapses=False, autapses=False, seed=1)
    >>> bool(np.all(ids[:6][c.sources] != ids[4:][c.targets]))
    True
    """
    src_ids = _ids(src_ids, len(src_pos), "source")
    tgt_ids = _ids(tgt_ids, len(tgt_pos), "target")
    opts = dict(mask=mask, space=space, multapses=multapses)
    t_of_s = _index_map(src_ids, tgt_ids)
    shared = np.nonzero(t_of_s >= 0)[0]
    # the recurrent tricks below need each shared neuron at one position on both sides
    # (not so e.g. for a PyNN Space with scale_factor or offset)
    same_place = np.array_equal(_as_2d(plain(src_pos))[shared], _as_2d(plain(tgt_pos))[t_of_s[shared]])
    if same_place and src_ids.shape == tgt_ids.shape and np.array_equal(src_ids, tgt_ids):
        return _sc_connect(src_pos, None, rule, kernel, autapses=autapses, seed=seed, **opts)
    if autapses or shared.size == 0:
        return _sc_connect(src_pos, tgt_pos, rule, kernel, seed=seed, **opts)
    s_of_t = _index_map(tgt_ids, src_ids)
    job = _Split(src_pos, tgt_pos, t_of_s, s_of_t, kernel, opts, seed)
    if isinstance(rule, (PairwiseBernoulli, PairwisePoisson)):  # pairs independent: drop the self pairs
        return job.bernoulli(rule)
    if not same_place:
        raise NotImplementedError(
            "autapses=False between populations that share neurons at different source and target "
            "positions (e.g. a PyNN Space with scale_factor or offset) is supported for "
            "PairwiseBernoulli only"
        )
    if isinstance(rule, FixedOutDegree):
        return job.out_degree(np.broadcast_to(_degrees(rule.k, job.n_s, "sources"), (job.n_s,)), 0)
    if isinstance(rule, FixedInDegree):
        return job.in_degree(np.broadcast_to(_degrees(rule.k, job.n_t, "targets"), (job.n_t,)))
    if isinstance(rule, FixedTotalNumber):
        return job.total(rule)
    if not isinstance(rule, Rule):
        raise TypeError(
            f"rule must be FixedOutDegree, FixedInDegree, FixedTotalNumber or PairwiseBernoulli, got {rule!r}"
        )
    raise TypeError(f"unsupported rule {rule!r}")  # pragma: no cover


def _ids(ids, n, side):
    ids = np.asarray(ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{side} ids must be {n} integers, got shape {ids.shape} and dtype {ids.dtype}")
    if unique(ids).size != n:
        raise ValueError(f"{side} ids must be unique: the {side} population lists a neuron twice")
    return ids


def _index_map(a, b):
    """For each element of ``a``, its index in ``b`` or -1."""
    if b.size == 0:
        return np.full(a.shape, -1, dtype=np.int64)
    order = np.argsort(b, kind="stable")
    pos = np.minimum(np.searchsorted(b[order], a), b.size - 1)
    found = b[order][pos] == a
    return np.where(found, order[pos], -1)


def _degrees(k, n, side):
    k = np.asarray(k)
    if k.ndim == 1 and k.size != n:
        raise ValueError(f"k has {k.size} entries but there are {n} {side}; give one per {side[:-1]} or a scalar")
    return k.astype(np.int64)


class _Split:
    """Partially overlapping populations without autapses (see the module notes)."""

    def __init__(self, src_pos, tgt_pos, t_of_s, s_of_t, kernel, opts, seed):
        self.src_pos, self.tgt_pos = src_pos, tgt_pos
        self.t_of_s, self.s_of_t = t_of_s, s_of_t
        self.n_s, self.n_t = len(t_of_s), len(s_of_t)
        self.kernel, self.opts, self.seed = kernel, opts, seed
        units = UnitContext(src_pos)
        src, tgt = _as_2d(plain(src_pos)), _as_2d(plain(tgt_pos))
        self._result_args = (src, tgt, _periods(opts["space"], units, src.shape[1]), units)

    def _call(self, pre, post, rule, path, autapses=True):
        try:
            return _sc_connect(pre, post, rule, self.kernel, autapses=autapses,
                                        seed=child_seed(self.seed, *path), **self.opts)
        except ValueError as exc:
            raise ValueError(
                f"{exc} [source and target populations share neurons and autapses=False, so "
                "spatialconn split the drivers into those inside and outside the overlap; indices "
                "in this message count within one part]"
            ) from exc

    def _result(self, s, t, by_target=False):
        order = np.argsort(t if by_target else s, kind="stable")
        return Connections(s[order], t[order], *self._result_args)

    def out_degree(self, k, salt):
        outside = np.nonzero(self.t_of_s < 0)[0]
        inside = np.nonzero(self.t_of_s >= 0)[0]
        s_parts, t_parts = [], []
        if k[outside].any():
            c = self._call(_take(self.src_pos, outside), self.tgt_pos, FixedOutDegree(k[outside]), (salt, 0))
            s_parts.append(outside[c.sources])
            t_parts.append(c.targets)
        if k[inside].any():
            k_t = np.zeros(self.n_t, dtype=np.int64)
            k_t[self.t_of_s[inside]] = k[inside]
            c = self._call(self.tgt_pos, None, FixedOutDegree(k_t), (salt, 1), autapses=False)
            s_parts.append(self.s_of_t[c.sources])
            t_parts.append(c.targets)
        return self._result(_cat(s_parts), _cat(t_parts))

    def in_degree(self, k):
        outside = np.nonzero(self.s_of_t < 0)[0]
        inside = np.nonzero(self.s_of_t >= 0)[0]
        s_parts, t_parts = [], []
        if k[outside].any():
            c = self._call(self.src_pos, _take(self.tgt_pos, outside), FixedInDegree(k[outside]), (0, 0))
            s_parts.append(c.sources)
            t_parts.append(outside[c.targets])
        if k[inside].any():
            k_s = np.zeros(self.n_s, dtype=np.int64)
            k_s[self.s_of_t[inside]] = k[inside]
            c = self._call(self.src_pos, None, FixedInDegree(k_s), (0, 1), autapses=False)
            s_parts.append(c.sources)
            t_parts.append(self.t_of_s[c.targets])
        return self._result(_cat(s_parts), _cat(t_parts), by_target=True)

    def bernoulli(self, rule):
        c = self._call(self.src_pos, self.tgt_pos, rule, (0,))
        keep = self.t_of_s[c.sources] != c.targets
        return self._result(c.sources[keep], c.targets[keep])

    def total(self, rule):
        n = int(rule.n)
        if not self.opts["multapses"]:
            raise NotImplementedError(
                "FixedTotalNumber with multapses=False and autapses=False between source and target "
                "populations that share some (not all) neurons is not supported by the adapters; "
                "use multapses=True, or connect the whole population (targets=None) and filter"
            )
        if rule.sources == "uniform":
            counts = np.random.default_rng(child_seed(self.seed, 2)).multinomial(n, np.full(self.n_s, 1 / self.n_s))
            return self.out_degree(counts, 3)
        s_parts, t_parts, left = [], [], n
        for r in range(MAX_REDRAW_ROUNDS):
            if left == 0:
                break
            c = self._call(self.src_pos, self.tgt_pos, FixedTotalNumber(left), (4, r))
            keep = self.t_of_s[c.sources] != c.targets
            s_parts.append(c.sources[keep])
            t_parts.append(c.targets[keep])
            left -= int(keep.sum())
        if left:
            raise ValueError(
                f"FixedTotalNumber(n={n}): after {MAX_REDRAW_ROUNDS} rounds {left} synapses still fell "
                "on self pairs (autapses=False); almost all the weight lies on pairs of a neuron with "
                "itself (check the mask and kernel)"
            )
        return self._result(_cat(s_parts), _cat(t_parts))


def _take(pos, idx):
    return pos[idx]


def _as_2d(arr):
    return arr[:, None] if arr.ndim == 1 else arr


def _cat(parts):
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


def _periods(space, units: UnitContext, d: int) -> np.ndarray:
    if space is None:
        return np.full(d, np.inf)
    ext = np.asarray(units.length(space.extent, "space.extent"), dtype=np.float64).reshape(-1, 2)
    return np.where(np.asarray(space.periodic), ext[:, 1] - ext[:, 0], np.inf)
