"""Compiled loops of the grid engine (numba, parallel over driver cells).

All drivers of a cell share one proposal: a Vose alias table over the
partner cells of the offset window, weighted by member count times a
proven upper bound of the kernel over the cell pair. A proposal picks a
cell from the table, a member uniformly, and is accepted with probability
``w / bound``; accepted draws are exactly i.i.d. from ``w`` restricted to
the window. The window leaves out only mass that is proven below 1e-10 of
the driver's total (else the driver is handled exactly, in log space, over
a prefix of the window checked with the actual weights, or over all
partners). Each driver uses its own stream (:mod:`._rng`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels_nb import log_weight
from ._rng import below, seed, uniform, uniform_open

#: tolerated relative mass outside the proposal (DESIGN: 1e-9 total variation)
TOL = 1e-10
#: repeats tolerated (beyond 2k) before a driver without multapses switches to the exact race
REPEAT_SLACK = 16
LINEAR_SET = 24
#: proposals per draw before a driver switches to exact log-space sampling
MAX_TRIALS = 2000
#: proven acceptance rate below which a driver cell samples in log space directly
MIN_ACCEPT = 1e-4
_EXP700 = np.exp(-700.0)


@njit(cache=True, inline="always")
def _disp(pos, m, xd, d, sign, periods):
    x0 = x1 = x2 = 0.0
    for a in range(d):
        x = pos[m, a] - xd[a]
        if sign < 0:
            x = -x
        L = periods[a]
        if L < np.inf:
            x = x - L * np.floor(x / L + 0.5)
        if a == 0:
            x0 = x
        elif a == 1:
            x1 = x
        else:
            x2 = x
    return x0, x1, x2


@njit(cache=True)
def _cell_entries(c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self, limit=-1):
    """The window entries of driver cell ``c`` (of the first ``limit`` offsets when ``limit >= 0``).

    Cells are numbered within a box of ``S`` cells per axis whose first cell
    has grid coordinates ``B`` (the whole grid: ``B = 0``, ``S = G``); a
    window cell outside the box holds no partner. Returns
    ``(n, lower mass, window total, dropped, max bound, e_start, e_count, e_idx, e_w)``;
    the first ``n`` slots of the four arrays hold the entries.
    """
    d = G.size
    W = offsets.shape[0]
    e_start = np.empty(W, dtype=np.int64)
    e_count = np.empty(W, dtype=np.int64)
    e_idx = np.empty(W, dtype=np.int64)
    e_w = np.empty(W)
    ca = np.empty(3, dtype=np.int64)
    rest = c
    for a in range(d - 1, -1, -1):
        ca[a] = rest % S[a] + B[a]
        if mode[a] != 0:
            ca[a] %= G[a]
        rest //= S[a]
    n = 0
    low = 0.0
    total = 0
    drop = 0
    emax = 0.0
    for t in range(W if limit < 0 else min(limit, W)):
        flat = 0
        ok = True
        for a in range(d):
            j = ca[a] + offsets[t, a]
            if mode[a] == 1:
                j = j % G[a]
            elif j < 0 or j >= G[a]:
                ok = False
                break
            j -= B[a]
            if mode[a] != 0:
                j %= G[a]
            if j < 0 or j >= S[a]:
                ok = False
                break
            flat = flat * S[a] + j
        if not ok:
            continue
        cnt = start[flat + 1] - start[flat]
        if cnt == 0:
            continue
        total += cnt
        k = cls[t]
        if k == 0:
            continue
        own = cnt - 1 if (exclude_self and iszero[t]) else cnt
        low += own * losc[t]
        e_start[n] = start[flat]
        e_count[n] = cnt
        e_idx[n] = t
        if k == 1:
            drop += cnt
            e_w[n] = 0.0
        else:
            e_w[n] = cnt * esc[t]
            if own > 0 and esc[t] > emax:
                emax = esc[t]
        n += 1
    return n, low, total, drop, emax, e_start, e_count, e_idx, e_w


@njit(cache=True)
def _cell_window(c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self, n_total, dout,
                 truncated):
    """Entries of driver cell ``c`` and what the window checks need.

    Returns ``(n, low, miss, outside, e_start, e_count, e_idx, e_w)``:
    ``low`` a proven lower bound of the window's mass, ``miss`` a proven
    upper bound of the mass it leaves out or drops, ``outside`` the part of
    ``miss`` outside the window (all in units of ``exp(ref)``).
    ``n_total`` counts every partner of the problem, also those outside the box.
    """
    n, low, total, drop, emax, e_start, e_count, e_idx, e_w = _cell_entries(
        c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self)
    outside = (n_total - total) * dout if truncated else 0.0
    miss = outside + drop * _EXP700
    return n, low, miss, outside, e_start, e_count, e_idx, e_w


@njit(cache=True)
def _lower_order(n, e_idx, losc):
    """The entries by decreasing lower bound of a member's weight (for :func:`_window_ok_distinct`)."""
    neg = np.empty(n)
    for t in range(n):
        neg[t] = -losc[e_idx[t]]
    return np.argsort(neg, kind="mergesort")


@njit(cache=True, inline="always")
def _window_ok(k, has_table, miss, low):
    """Whether ``k`` i.i.d. draws from the window stay within ``TOL`` of exact, jointly.

    Each draw leaves out at most ``miss / low`` of the driver's mass, so
    ``k * miss <= TOL * low`` bounds the total variation of the ``k`` draws.
    """
    return has_table and (miss == 0.0 or (low > 0.0 and k * miss <= TOL * low))


@njit(cache=True)
def _window_ok_distinct(ok, k, n, e_count, e_idx, iszero, losc, exclude_self, miss, low, lo_order):
    """:func:`_window_ok` for ``k`` draws without repeats.

    The members left after any ``k`` are taken keep at least ``low`` less
    the ``k`` largest member lower bounds (entries in ``lo_order``).
    """
    if not ok:
        return False
    if miss == 0.0:
        return True
    taken = 0.0
    need = k
    for j in range(n):
        t = lo_order[j]
        cnt = e_count[t] - (1 if (exclude_self and iszero[e_idx[t]]) else 0)
        take = cnt if cnt < need else need
        taken += take * losc[e_idx[t]]
        need -= take
        if need == 0:
            break
    return k * miss <= TOL * (low - taken)


@njit(cache=True)
def _alias(w, n, prob, alias):
    """Vose alias table over ``w[:n]``; returns False if all weights are 0."""
    total = 0.0
    for t in range(n):
        total += w[t]
    if not total > 0.0:
        return False
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = nl = 0
    for t in range(n):
        prob[t] = w[t] * n / total
        alias[t] = t
        if prob[t] < 1.0:
            small[ns] = t
            ns += 1
        else:
            large[nl] = t
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        l = large[nl - 1]
        alias[s] = l
        prob[l] = (prob[l] + prob[s]) - 1.0
        if prob[l] < 1.0:
            nl -= 1
            small[ns] = l
            ns += 1
    for t in range(nl):
        prob[large[t]] = 1.0
    for t in range(ns):
        prob[small[t]] = 1.0
    return True


@njit(cache=True, inline="always")
def _propose(st, n, prob, alias):
    u = uniform(st) * n
    t = np.int64(u)
    if t >= n:
        t = n - 1
    if u - t >= prob[t]:
        t = alias[t]
    return t


@njit(cache=True, inline="always")
def _draw_one(st, i, xd, d, n, prob, alias, e_start, e_count, e_idx, up, pos, index, sign, periods,
              exclude_self, kp, mp):
    """One exact draw from the window proposal; returns the sorted partner position.

    Gives up (returns -1) after ``MAX_TRIALS`` rejections; the caller then
    draws exactly in log space. The value an accepted trial returns is
    independent of how many trials it took, so this switch keeps every
    draw exact.
    """
    for _ in range(MAX_TRIALS):
        t = _propose(st, n, prob, alias)
        # one uniform picks the member and, from its remaining bits, the acceptance level
        cnt = e_count[t]
        v = uniform(st) * cnt
        j = np.int64(v)
        if j >= cnt:
            j = cnt - 1
        u = v - j
        m = e_start[t] + j
        if exclude_self and index[m] == i:
            continue
        x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
        lw = log_weight(x0, x1, x2, d, kp, mp)
        if lw == -np.inf:
            continue
        x = lw - up[e_idx[t]]
        if u < 1.0 + x:  # exp(x) >= 1 + x: accept without exp
            return m
        if u * (1.0 - x) >= 1.0:  # exp(x) <= 1 / (1 - x) for x <= 0: reject without exp
            continue
        if u < np.exp(x):
            return m
    return -1


@njit(cache=True)
def _dense_logw(i, xd, d, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp, buf, where):
    """``log w`` of every member of the ranges into ``buf`` (positions in ``where``); returns count."""
    q = 0
    for r in range(nr):
        for m in range(rs[r], rs[r] + rc[r]):
            if exclude_self and index[m] == i:
                lw = -np.inf
            else:
                x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
                lw = log_weight(x0, x1, x2, d, kp, mp)
            buf[q] = lw
            where[q] = m
            q += 1
    return q


@njit(cache=True)
def _dense_multi(st, i, xd, d, k, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp, out, o):
    """``k`` exact i.i.d. draws over the ranges (inverse CDF in log space)."""
    if k <= 0:
        return
    size = 0
    for r in range(nr):
        size += rc[r]
    buf = np.empty(size)
    where = np.empty(size, dtype=np.int64)
    q = _dense_logw(i, xd, d, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp, buf, where)
    mx = -np.inf
    for t in range(q):
        if buf[t] > mx:
            mx = buf[t]
    cdf = np.empty(q)
    acc = 0.0
    for t in range(q):
        acc += np.exp(buf[t] - mx) if buf[t] > -np.inf else 0.0
        cdf[t] = acc
    for j in range(k):
        u = uniform(st) * acc
        t = np.searchsorted(cdf, u, side="right")
        if t >= q:
            t = q - 1
        while cdf[t] == 0.0 or (t > 0 and cdf[t] == cdf[t - 1]):  # never land on a zero weight
            t -= 1
        out[o + j] = where[t]


@njit(cache=True)
def _set_has(table, m):
    mask = table.size - 1
    h = (m * np.int64(-7046029254386353131)) >> np.int64(20) & mask
    while table[h] != -1:
        if table[h] == m:
            return True
        h = (h + 1) & mask
    return False


@njit(cache=True)
def _set_add(table, m):
    mask = table.size - 1
    h = (m * np.int64(-7046029254386353131)) >> np.int64(20) & mask
    while table[h] != -1:
        if table[h] == m:
            return False
        h = (h + 1) & mask
    table[h] = m
    return True


@njit(cache=True)
def _sift_down_max(hk, hm, n, j):
    while True:
        c = 2 * j + 1
        if c >= n:
            return
        if c + 1 < n and hk[c + 1] > hk[c]:
            c += 1
        if not hk[c] > hk[j]:
            return
        hk[j], hk[c] = hk[c], hk[j]
        hm[j], hm[c] = hm[c], hm[j]
        j = c


@njit(cache=True)
def _sift_up_max(hk, hm, j):
    while j > 0:
        p = (j - 1) // 2
        if not hk[j] > hk[p]:
            return
        hk[j], hk[p] = hk[p], hk[j]
        hm[j], hm[p] = hm[p], hm[j]
        j = p


@njit(cache=True, inline="always")
def _heaviest_push(tw, tdummy, tn, rest, w, k):
    """Keep the ``k`` heaviest weights seen (negated max-heap ``tw``); ``rest`` sums all others.

    Summing the others directly (not as total minus the heaviest) keeps
    ``rest`` accurate when it is far below the heaviest weights.
    """
    if tn < k:
        tw[tn] = -w
        tdummy[tn] = 0
        _sift_up_max(tw, tdummy, tn)
        return tn + 1, rest
    if w > -tw[0]:
        rest -= tw[0]
        tw[0] = -w
        _sift_down_max(tw, tdummy, tn, 0)
        return tn, rest
    return tn, rest + w


@njit(cache=True, inline="always")
def _race_may_stop(k, left, rest, q):
    """The race's stopping rule: ``k`` times the mass left out is at most ``TOL`` of the
    scanned mass less its ``k`` heaviest members, ``rest`` (less its rounding error)."""
    return k * left <= TOL * rest * (1.0 - 1e-15 * q)


@njit(cache=True)
def _race_succeeds(gi, xd, d, k, rs, rc, rb, nr, outside, proven, pos, index, sign, periods, exclude_self,
                   kp, mp, ref):
    """Whether :func:`_window_race` over these ranges returns True, whatever was drawn before.

    Its stopping point depends on the weights only; it then succeeds when
    the scanned prefix holds at least ``k`` candidates.
    """
    tail = np.zeros(nr + 1)
    for r in range(nr - 1, -1, -1):
        tail[r] = tail[r + 1] + rb[r]
    tw = np.empty(max(k, 1))
    tdummy = np.empty(max(k, 1), dtype=np.int64)
    tn = 0
    rest = 0.0
    q = 0
    for r in range(nr):
        for m in range(rs[r], rs[r] + rc[r]):
            if exclude_self and index[m] == gi:
                continue
            x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
            lw = log_weight(x0, x1, x2, d, kp, mp)
            if lw == -np.inf:
                continue
            q += 1
            tn, rest = _heaviest_push(tw, tdummy, tn, rest, np.exp(lw - ref), k)
        if (proven and r == nr - 1) or _race_may_stop(k, tail[r + 1] + outside, rest, q):
            return q >= k
    return False


@njit(cache=True)
def _window_mass(gi, xd, d, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp, ref):
    """Exact ``Σ w`` over the members of the ranges, in units of ``exp(ref)`` (0 when below ~1e-250)."""
    return np.exp(_logsumexp_ranges(gi, xd, d, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp,
                                    ref) - ref)


@njit(cache=True)
def _window_race(st, i, xd, d, k, have, rs, rc, rb, nr, outside, proven, pos, index, sign, periods,
                 exclude_self, kp, mp, ref, out, o, table):
    """Continue successive sampling exactly: exponential race over the members not yet chosen.

    ``out[o:o + have]`` holds the ``have`` partners already chosen (sorted
    positions); the remaining ``k - have`` are the smallest keys
    ``log E - log w`` (Efraimidis–Spirakis) among the other members of a
    prefix of the ranges, in key order. ``rb[r]`` is a proven upper bound
    of range ``r``'s mass (units of ``exp(ref)``), ranges in decreasing
    order of bound, and ``outside`` bounds the mass of every partner not in
    any range. The ranges are scanned in order, each member's exact weight
    evaluated, and the scan stops after range ``r`` once ``k`` times the
    mass that is left out (``Σ_{s > r} rb[s] + outside``) is at most
    ``TOL`` times the scanned mass minus its ``k`` heaviest members (the
    least mass that stays after any ``k`` are taken): every successive draw
    is then within ``TOL / k`` of exact. The stopping point depends on the
    weights only, never on the keys. With ``proven`` the whole set of ranges
    is known to be good enough, so the scan may also stop at the end.
    Returns False (nothing drawn) if no prefix qualifies.

    Cost: one weight, one uniform per scanned member, and a heap of
    ``k`` keys; most members are turned away without a logarithm
    (``u <= 1 - c`` implies ``E = -log u >= c``).
    """
    rn = k - have
    tail = np.zeros(nr + 1)
    for r in range(nr - 1, -1, -1):
        tail[r] = tail[r + 1] + rb[r]
    hk = np.empty(max(rn, 1))
    hm = np.empty(max(rn, 1), dtype=np.int64)
    hn = 0
    tw = np.empty(max(k, 1))  # min-heap (negated in a max-heap) of the k heaviest weights
    tdummy = np.empty(max(k, 1), dtype=np.int64)
    tn = 0
    rest = 0.0  # scanned mass outside the k heaviest
    q = 0
    tau = np.inf
    etau = np.inf
    stopped = False
    for r in range(nr):
        for m in range(rs[r], rs[r] + rc[r]):
            u = uniform_open(st)  # one per member, whatever happens to it
            if exclude_self and index[m] == i:
                continue
            x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
            lw = log_weight(x0, x1, x2, d, kp, mp)
            if lw == -np.inf:
                continue
            w = np.exp(lw - ref)
            q += 1
            tn, rest = _heaviest_push(tw, tdummy, tn, rest, w, k)
            if have > 0:
                chosen = False
                if table.size > 0:
                    chosen = _set_has(table, m)
                else:
                    for j in range(have):
                        if out[o + j] == m:
                            chosen = True
                            break
                if chosen:
                    continue
            if hn == rn:
                # the key beats tau iff E < w exp(tau + ref); exp(-c) >= 1 - c
                c = w * etau
                if u <= 1.0 - c:
                    continue
                key = np.log(-np.log(u)) - lw
                if not key < tau:
                    continue
                hk[0] = key
                hm[0] = m
                _sift_down_max(hk, hm, hn, 0)
                tau = hk[0]
                etau = np.exp(tau + ref)
            elif rn > 0:
                hk[hn] = np.log(-np.log(u)) - lw
                hm[hn] = m
                _sift_up_max(hk, hm, hn)
                hn += 1
                if hn == rn:
                    tau = hk[0]
                    etau = np.exp(tau + ref)
        if (proven and r == nr - 1) or _race_may_stop(k, tail[r + 1] + outside, rest, q):
            stopped = True
            break
    if not stopped or hn < rn:
        return False
    order = np.argsort(hk[:hn], kind="mergesort")
    for j in range(hn):
        out[o + have + j] = hm[order[j]]
    return True


@njit(cache=True, parallel=True)
def fixed_degree(cells, cptr, cmembers, degrees, outoff, first, ids, drivers, pos, index, start, G, B, S,
                 periods, sign, exclude_self, kp, mp, offsets, mode, cls, up, esc, losc, iszero, dout,
                 truncated, n_total, complete, ref, multapses, key0, key1, stream, out_drv, out_par, status):
    """Sample ``degrees[i - first]`` partners for every driver in the listed cells.

    Driver ``i`` (a row of ``drivers``) is ``ids[i - first]`` in the whole
    problem: its stream, self-exclusion and output use that id. Writes its
    partners (original indices ``index[m]``) at ``outoff[i - first]``.
    Without ``complete`` (``pos`` holds only the partners of a box around
    the drivers' windows), a driver that would need every partner of the
    problem is not sampled and ``status[0]`` is set to 1.
    """
    d = G.size
    n_p = pos.shape[0]
    for ci in prange(cells.size):
        c = cells[ci]
        n, low, miss, outside, e_start, e_count, e_idx, e_w = _cell_window(
            c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self, n_total, dout, truncated)
        prob = np.empty(max(n, 1))
        alias = np.empty(max(n, 1), dtype=np.int64)
        has_table = _alias(e_w, n, prob, alias)
        sumw = 0.0
        wcount = 0
        emax = 0.0
        for t in range(n):
            sumw += e_w[t]
            wcount += e_count[t]
            if e_w[t] > 0.0 and esc[e_idx[t]] > emax:
                emax = esc[e_idx[t]]
        # how many members carry the window's weight, counted at the largest bound: drawing more
        # distinct partners than that by rejection piles up repeats, so the race does it instead
        weff = min(float(wcount), sumw / emax) if emax > 0.0 else 0.0
        # low / sumw is a proven acceptance rate (0 when unknown, e.g. no cell wholly inside a mask)
        fast_enough = low == 0.0 or low >= MIN_ACCEPT * sumw
        # proven bound of each entry's mass (units of exp(ref)), for the race's stopping rule
        e_b = np.empty(max(n, 1))
        for t in range(n):
            e_b[t] = e_w[t] if cls[e_idx[t]] == 2 else e_count[t] * _EXP700
        # only the checks without multapses of a window that leaves something out read it
        lo_order = _lower_order(n if (not multapses and has_table and miss > 0.0) else 0, e_idx, losc)
        all_s = np.zeros(1, dtype=np.int64)
        all_c = np.full(1, n_p, dtype=np.int64)
        all_b = np.zeros(1)
        st = np.empty(4, dtype=np.uint64)
        xd = np.empty(d)
        for r in range(cptr[ci], cptr[ci + 1]):
            i = cmembers[r]
            gi = ids[i - first]
            k = degrees[i - first]
            if k == 0:
                continue
            o = outoff[i - first]
            for j in range(k):
                out_drv[o + j] = gi
            for a in range(d):
                xd[a] = drivers[i, a]
            seed(st, key0, key1, gi, stream)
            # the window is exact when nothing is left out, else it must leave out < TOL of a
            # proven mass over the driver's k draws jointly
            ok = _window_ok(k, has_table, miss, low)
            if multapses:
                done = 0
                if ok and fast_enough:
                    while done < k:
                        m = _draw_one(st, gi, xd, d, n, prob, alias, e_start, e_count, e_idx,
                                      up, pos, index, sign, periods, exclude_self, kp, mp)
                        if m < 0:
                            break
                        out_par[o + done] = index[m]
                        done += 1
                if done < k:
                    # the cell's proven bounds may be too loose (cells wide against the kernel):
                    # then check the window with the driver's exact weights
                    if ok or not truncated or k * miss <= TOL * _window_mass(
                            gi, xd, d, e_start, e_count, n, pos, index, sign, periods, exclude_self, kp, mp, ref):
                        _dense_multi(st, gi, xd, d, k - done, e_start, e_count, n, pos, index, sign, periods,
                                     exclude_self, kp, mp, out_par, o + done)
                    elif complete:
                        _dense_multi(st, gi, xd, d, k - done, all_s, all_c, 1, pos, index, sign, periods,
                                     exclude_self, kp, mp, out_par, o + done)
                    else:
                        status[0] = 1
                        continue
                    for j in range(done, k):
                        out_par[o + j] = index[out_par[o + j]]
                continue
            # without multapses: successive sampling
            ok2 = _window_ok_distinct(ok, k, n, e_count, e_idx, iszero, losc, exclude_self, miss, low, lo_order)
            table = np.empty(0, dtype=np.int64)
            if k > LINEAR_SET:
                size = 1
                while size < 4 * k:
                    size *= 2
                table = np.full(size, -1, dtype=np.int64)
            have = 0
            if ok2 and fast_enough and k <= weff:
                repeats = 0
                while have < k and repeats <= 2 * k + REPEAT_SLACK:
                    m = _draw_one(st, gi, xd, d, n, prob, alias, e_start, e_count, e_idx,
                                  up, pos, index, sign, periods, exclude_self, kp, mp)
                    if m < 0:
                        break
                    fresh = True
                    if table.size > 0:
                        fresh = _set_add(table, m)
                    else:
                        for j in range(have):
                            if out_par[o + j] == m:
                                fresh = False
                                break
                    if fresh:
                        out_par[o + have] = m
                        have += 1
                    else:
                        repeats += 1
            if have < k:
                done = False
                if n > 0:  # a prefix of the window, checked with the actual weights
                    done = _window_race(st, gi, xd, d, k, have, e_start, e_count, e_b, n, outside,
                                        ok2 or not truncated, pos, index, sign, periods, exclude_self, kp, mp,
                                        ref, out_par, o, table)
                if not done:  # last resort: every partner
                    if not complete:
                        status[0] = 1
                        continue
                    _window_race(st, gi, xd, d, k, have, all_s, all_c, all_b, 1, 0.0, True, pos, index, sign,
                                 periods, exclude_self, kp, mp, ref, out_par, o, table)
            for j in range(k):  # sorted positions -> partner indices
                out_par[o + j] = index[out_par[o + j]]


@njit(cache=True, parallel=True)
def needs_every_partner(cells, cptr, cmembers, degrees, first, drivers, pos, index, start, G, B, S, periods,
                        sign, exclude_self, kp, mp, offsets, mode, cls, esc, losc, iszero, dout, truncated,
                        n_total, ref, multapses, positive, shortcut, out):
    """Whether :func:`fixed_degree` looks beyond driver ``i``'s window (``out[i - first]``).

    It does only when the window is truncated and neither the cell's
    proven bounds nor the driver's exact weights show that it suffices;
    the driver is then sampled exactly over all partners, so a box of
    partners around the windows does not do. Mirrors the checks of
    :func:`fixed_degree`, which depend on the weights, never on the random
    numbers (drivers ``first + j`` are the problem's own, ``ids = None``).
    ``positive``: the kernel is positive everywhere (a proven window then
    holds enough candidates). With ``shortcut``, a cell first tries a
    sufficient check on its nearest offsets only (proven mass there against
    every partner left out), which settles most cells of dense problems
    without scanning the whole window.
    """
    d = G.size
    T = 5**d
    max_losc = 0.0
    for t in range(losc.size):
        max_losc = max(max_losc, losc[t])
    worst_miss = n_total * (dout + _EXP700)  # bounds miss whatever the window holds
    for ci in prange(cells.size):
        c = cells[ci]
        kmax = 0
        for r in range(cptr[ci], cptr[ci + 1]):
            kmax = max(kmax, degrees[cmembers[r] - first])
        if not truncated or kmax == 0:
            for r in range(cptr[ci], cptr[ci + 1]):
                out[cmembers[r] - first] = False
            continue
        if shortcut:
            n, low, total, drop, emax, e_start, e_count, e_idx, e_w = _cell_entries(
                c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self, T)
            sumw = 0.0
            for t in range(n):
                sumw += e_w[t]
            need = low if multapses else low - kmax * max_losc
            if sumw > 0.0 and (multapses or positive) and kmax * worst_miss <= TOL * need:
                for r in range(cptr[ci], cptr[ci + 1]):
                    out[cmembers[r] - first] = False
                continue
        n, low, miss, outside, e_start, e_count, e_idx, e_w = _cell_window(
            c, G, B, S, start, offsets, mode, cls, esc, losc, iszero, exclude_self, n_total, dout, truncated)
        sumw = 0.0
        for t in range(n):
            sumw += e_w[t]
        e_b = np.empty(max(n, 1))
        for t in range(n):
            e_b[t] = e_w[t] if cls[e_idx[t]] == 2 else e_count[t] * _EXP700
        lo_order = _lower_order(n if (not multapses and sumw > 0.0 and miss > 0.0) else 0, e_idx, losc)
        xd = np.empty(d)
        for r in range(cptr[ci], cptr[ci + 1]):
            i = cmembers[r]
            k = degrees[i - first]
            out[i - first] = False
            if k == 0:
                continue
            ok = _window_ok(k, sumw > 0.0, miss, low)
            if multapses and ok:
                continue
            for a in range(d):
                xd[a] = drivers[i, a]
            if multapses:
                out[i - first] = not k * miss <= TOL * _window_mass(
                    i, xd, d, e_start, e_count, n, pos, index, sign, periods, exclude_self, kp, mp, ref)
            else:
                ok2 = _window_ok_distinct(ok, k, n, e_count, e_idx, iszero, losc, exclude_self, miss, low, lo_order)
                if ok2 and positive:
                    continue
                out[i - first] = n == 0 or not _race_succeeds(
                    i, xd, d, k, e_start, e_count, e_b, n, outside, ok2, pos, index, sign, periods, exclude_self,
                    kp, mp, ref)


@njit(cache=True, parallel=True)
def candidate_counts(cells, cptr, cmembers, first, drivers, pos, index, start, G, B, S, periods, sign,
                     exclude_self, kp, mp, offsets, mode, cls, lower, iszero, truncated, out):
    """Exact number of partners with ``w > 0`` for each listed driver (``out[i - first]``)."""
    d = G.size
    n_p = pos.shape[0]
    W = offsets.shape[0]
    for ci in prange(cells.size):
        c = cells[ci]
        dummy = np.zeros(W)
        n, low, total, drop, emax, e_start, e_count, e_idx, e_w = _cell_entries(
            c, G, B, S, start, offsets, mode, cls, dummy, dummy, iszero, exclude_self)
        xd = np.empty(d)
        for r in range(cptr[ci], cptr[ci + 1]):
            i = cmembers[r]
            for a in range(d):
                xd[a] = drivers[i, a]
            cnt = (n_p - total) if truncated else 0
            for t in range(n):
                if lower[e_idx[t]] > -np.inf:
                    cnt += e_count[t]
                    if exclude_self and iszero[e_idx[t]]:
                        cnt -= 1
                    continue
                for m in range(e_start[t], e_start[t] + e_count[t]):
                    if exclude_self and index[m] == i:
                        continue
                    x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
                    if log_weight(x0, x1, x2, d, kp, mp) > -np.inf:
                        cnt += 1
            out[i - first] = cnt


@njit(cache=True)
def _logsumexp_ranges(i, xd, d, rs, rc, nr, pos, index, sign, periods, exclude_self, kp, mp, ref):
    """``log Σ w`` over the ranges; ``ref`` should bound ``log w`` (then no running maximum is needed)."""
    if ref < np.inf:
        s = 0.0
        for r in range(nr):
            for m in range(rs[r], rs[r] + rc[r]):
                if exclude_self and index[m] == i:
                    continue
                x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
                s += np.exp(log_weight(x0, x1, x2, d, kp, mp) - ref)
        if s > 1e-250:
            return ref + np.log(s)
    mx = -np.inf
    s = 0.0
    for r in range(nr):
        for m in range(rs[r], rs[r] + rc[r]):
            if exclude_self and index[m] == i:
                continue
            x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
            lw = log_weight(x0, x1, x2, d, kp, mp)
            if lw == -np.inf:
                continue
            if lw > mx:
                s = s * np.exp(mx - lw) + 1.0
                mx = lw
            else:
                s += np.exp(lw - mx)
    return mx + np.log(s) if s > 0 else -np.inf


@njit(cache=True, parallel=True)
def row_log_totals(cells, cptr, cmembers, first, drivers, pos, index, start, G, B, S, periods, sign,
                   exclude_self, kp, mp, offsets, mode, cls, up, iszero, log_out, truncated, out):
    """``log Σ_j w_ij`` for each listed driver; exact to ~1e-13 relative."""
    d = G.size
    n_p = pos.shape[0]
    W = offsets.shape[0]
    for ci in prange(cells.size):
        c = cells[ci]
        dummy = np.zeros(W)
        n, low, total, drop, emax, e_start, e_count, e_idx, e_w = _cell_entries(
            c, G, B, S, start, offsets, mode, cls, dummy, dummy, iszero, exclude_self)
        ref = -np.inf
        for t in range(n):
            if up[e_idx[t]] > ref:
                ref = up[e_idx[t]]
        if ref == -np.inf:
            ref = np.inf  # nothing known: use the running maximum
        all_s = np.zeros(1, dtype=np.int64)
        all_c = np.full(1, n_p, dtype=np.int64)
        xd = np.empty(d)
        for r in range(cptr[ci], cptr[ci + 1]):
            i = cmembers[r]
            for a in range(d):
                xd[a] = drivers[i, a]
            s = _logsumexp_ranges(i, xd, d, e_start, e_count, n, pos, index, sign, periods,
                                  exclude_self, kp, mp, ref)
            if truncated and n_p > total:
                bound = np.log(np.float64(n_p - total)) + log_out
                if not bound <= s - 30.0:
                    s = _logsumexp_ranges(i, xd, d, all_s, all_c, 1, pos, index, sign, periods,
                                          exclude_self, kp, mp, np.inf)
            out[i - first] = s


@njit(cache=True)
def _bernoulli_driver(st, i, xd, d, p, nb, band_lo, band_hi, band_p, cum, srt_start, pos, index, sign,
                      periods, exclude_self, kp, mp, out, o, write):
    """Pairs of driver ``i`` kept with probability ``p w``; returns how many (writes if ``write``).

    Entries are sorted by their bound ``pb`` and grouped in bands within a
    factor 2; the members of a band are visited by geometric skipping with
    the band's largest bound ``P``, and a visited pair is kept with
    probability ``p w / P``: exactly an independent Bernoulli(``p w``) per pair.
    ``cum[t]`` counts the members of sorted entries before ``t``.
    """
    got = 0
    for b in range(nb):
        P = band_p[b]
        lo, hi = band_lo[b], band_hi[b]
        base = cum[lo]
        size = cum[hi] - base
        lq = np.log1p(-P)
        q = -1
        while True:
            if P < 1.0:
                q += 1 + np.int64(min(np.floor(np.log(uniform_open(st)) / lq), 4e18))
            else:
                q += 1
            if q >= size:
                break
            # entry holding the q-th member of the band (binary search on cum)
            t = np.searchsorted(cum[lo:hi + 1], base + q, side="right") - 1 + lo
            m = srt_start[t] + (base + q - cum[t])
            if exclude_self and index[m] == i:
                continue
            x0, x1, x2 = _disp(pos, m, xd, d, sign, periods)
            lw = log_weight(x0, x1, x2, d, kp, mp)
            if lw == -np.inf:
                continue
            if uniform(st) * P < p * np.exp(lw):
                if write:
                    out[o + got] = index[m]
                got += 1
    return got


@njit(cache=True, parallel=True)
def bernoulli(cells, cptr, cmembers, first, ids, drivers, pos, index, start, G, B, S, periods, sign, exclude_self,
              kp, mp, offsets, mode, cls, up, iszero, p, key0, key1, stream, counts, outoff,
              out_drv, out_par, write):
    """Pairwise Bernoulli per driver (banded geometric skipping against proven bounds).

    Call once with ``write=False`` to fill ``counts``, then with ``write=True``.
    Driver ``i`` is ``ids[i - first]`` in the whole problem (its stream, self-exclusion and output).
    """
    d = G.size
    W = offsets.shape[0]
    for ci in prange(cells.size):
        c = cells[ci]
        dummy = np.zeros(W)
        n, low, total, drop, emax, e_start, e_count, e_idx, e_w = _cell_entries(
            c, G, B, S, start, offsets, mode, cls, dummy, dummy, iszero, exclude_self)
        # the offset table is sorted by decreasing bound, so the entries are too
        srt_start = np.empty(n, dtype=np.int64)
        cum = np.zeros(n + 1, dtype=np.int64)
        band_lo = np.empty(n, dtype=np.int64)
        band_hi = np.empty(n, dtype=np.int64)
        band_p = np.empty(n)
        nb = 0
        for r in range(n):
            srt_start[r] = e_start[r]
            cum[r + 1] = cum[r] + e_count[r]
            pb = min(1.0, p * np.exp(up[e_idx[r]]))
            if not pb > 1e-300:
                continue
            if nb > 0 and band_hi[nb - 1] == r and pb >= 0.5 * band_p[nb - 1]:
                band_hi[nb - 1] = r + 1
            else:
                band_lo[nb] = r
                band_hi[nb] = r + 1
                band_p[nb] = pb
                nb += 1
        st = np.empty(4, dtype=np.uint64)
        xd = np.empty(d)
        for r in range(cptr[ci], cptr[ci + 1]):
            i = cmembers[r]
            gi = ids[i - first]
            for a in range(d):
                xd[a] = drivers[i, a]
            seed(st, key0, key1, gi, stream)
            o = outoff[i - first] if write else 0
            got = _bernoulli_driver(st, gi, xd, d, p, nb, band_lo, band_hi, band_p, cum, srt_start, pos, index,
                                    sign, periods, exclude_self, kp, mp, out_par, o, write)
            if write:
                for j in range(got):
                    out_drv[o + j] = gi
            else:
                counts[i - first] = got


@njit(cache=True)
def group_drivers(driver_cell, first, stop, ncell):
    """Non-empty cells of drivers ``first:stop``, with their drivers in ascending order."""
    n = stop - first
    cnt = np.zeros(ncell + 1, dtype=np.int64)
    for i in range(first, stop):
        cnt[driver_cell[i] + 1] += 1
    for c in range(ncell):
        cnt[c + 1] += cnt[c]
    fill = cnt[:-1].copy()
    members = np.empty(n, dtype=np.int64)
    for i in range(first, stop):
        c = driver_cell[i]
        members[fill[c]] = i
        fill[c] += 1
    k = 0
    for c in range(ncell):
        if cnt[c + 1] > cnt[c]:
            k += 1
    cells = np.empty(k, dtype=np.int64)
    ptr = np.empty(k + 1, dtype=np.int64)
    k = 0
    for c in range(ncell):
        if cnt[c + 1] > cnt[c]:
            cells[k] = c
            ptr[k] = cnt[c]
            k += 1
    ptr[k] = n
    return cells, ptr, members
