// Per-driver draws and the engine's loops over driver cells.
#pragma once
#include "sample.hpp"

namespace sc {

// One slot of a window's alias table, read uniformly (kept apart from the entries, so that
// the slots take less cache) ...
struct Slot {
    double prob;    // keep this slot's entry when the fraction is below prob ...
    int64_t alias;  // ... else take this one
};

// ... and one entry: what a proposal reads of the entry it picked.
struct Entry {
    int64_t start;  // its cell's members: sorted positions start..start+count-1
    int64_t count;
    double upper;   // proven bound of log w over its cell pair
};

// A window's proposal: its alias slots and entries, packed.
struct Packed {
    std::vector<Slot> slot;
    std::vector<Entry> ent;
};

// Scratch of one thread (reused across cells and drivers).
struct Scratch {
    Window win;
    std::vector<double> prob, eb, buf, cdf, hk, tail;
    std::vector<int64_t> alias, small, large, lo_order, where, hm, order, table;
    std::vector<double> neg;
    Packed ent;
    Heaviest heavy;
};

// The ranges an exact draw runs over: (start, count) pairs.
struct Ranges {
    const int64_t* rs;
    const int64_t* rc;
    int64_t nr;
};

// The packed entries of window e (alias table prob/alias over e.w).
inline void pack_entries(const Window& e, const double* prob, const int64_t* alias, const OffsetTable& tab,
                         Packed& pk) {
    pk.slot.resize(std::max<int64_t>(e.n, 1));
    pk.ent.resize(std::max<int64_t>(e.n, 1));
    for (int64_t t = 0; t < e.n; ++t) {
        pk.slot[t] = Slot{prob[t], alias[t]};
        pk.ent[t] = Entry{e.start[t], e.count[t], tab.upper[e.idx[t]]};
    }
}

// A proposal: sorted member m, the acceptance level u (from one uniform) and its entry's bound.
struct Proposal {
    int64_t m;
    double u, upper;
};

// The same numbers as propose() and a uniform member, read from the packed entries.
// D: the dimension when known at compile time (0: use d).
template <int D = 0>
inline Proposal make_proposal(Rng& st, const Slot* slot, const Entry* ent, int64_t n, const Partners& p, int d,
                              bool index_soon) {
    const double a = st.uniform() * static_cast<double>(n);
    int64_t t = static_cast<int64_t>(a);
    if (t >= n) t = n - 1;
    if (a - static_cast<double>(t) >= slot[t].prob) t = slot[t].alias;
    const Entry* en = ent + t;
    // one uniform picks the member and, from its remaining bits, the acceptance level
    const int64_t cnt = en->count;
    const double v = st.uniform() * static_cast<double>(cnt);
    int64_t j = static_cast<int64_t>(v);
    if (j >= cnt) j = cnt - 1;
    Proposal q;
    q.u = v - static_cast<double>(j);
    q.m = en->start + j;
    q.upper = en->upper;
    __builtin_prefetch(p.pos + q.m * (D > 0 ? D : d));
    if (index_soon) __builtin_prefetch(p.index + q.m);  // read at once for self-exclusion
    return q;
}

// Whether m is among the `have` partners already drawn at out[o..] (few: a linear scan).
inline bool chosen_before(const OutIdx& out, int64_t o, int64_t have, int64_t m) {
    for (int64_t j = 0; j < have; ++j)
        if (out.get(o + j) == m) return true;
    return false;
}

// log w of a pair, as Geometry::logw computes it: any kernel and mask ...
struct AnyLogW {
    static constexpr int dim = 0;  // the dimension is read at run time
    static constexpr bool never_zero = false;  // may be 0 (-inf): outside a mask, say
    const Geometry& g;
    inline double operator()(const Partners& p, int64_t m, const double* xd) const { return g.logw(p, m, xd); }
};

// ... and the same value, without the general dispatch, for the common radial kernels: an
// unshifted Gaussian or exponential, without mask or inside a disc centred on the driver. It
// holds its own copies of the space's constants (a loop that keeps a copy of it keeps them in
// registers: they cannot alias the output it writes).
template <int KIND, bool DISC, int D>
struct RadialLogW {
    static constexpr int dim = D;
    static constexpr bool never_zero = !DISC;  // exp(-r^2 / c) and exp(-r / c) are > 0
    bool flip, periodic;
    double c, radius, periods[3];
    explicit RadialLogW(const Geometry& g)
        : flip(g.sign < 0), periodic(false), c(KIND == K_GAUSS ? 2.0 * g.kp[1] * g.kp[1] : g.kp[1]),
          radius(g.mp[1]) {
        for (int a = 0; a < 3; ++a) {
            periods[a] = g.periods[a];
            if (a < D && periods[a] < POS_INF) periodic = true;
        }
    }
    // the displacement's squared length, with the operations of Geometry::disp
    inline double r2(const Partners& p, int64_t m, const double* xd) const {
        const double* y = p.pos + m * D;
        double r2 = 0.0;
        for (int a = 0; a < D; ++a) {
            double x = y[a] - xd[a];
            if (periodic) {  // (elsewhere the sign does not change x * x)
                if (flip) x = -x;
                if (periods[a] < POS_INF) x = min_image(x, periods[a]);
            }
            r2 = a == 0 ? x * x : r2 + x * x;
        }
        return r2;
    }
    inline double operator()(const Partners& p, int64_t m, const double* xd) const {
        const double q = r2(p, m, xd);
        if (KIND == K_GAUSS && !DISC) return -q / c;
        const double r = std::sqrt(q);
        if (DISC && !(r <= radius)) return NEG_INF;
        return KIND == K_GAUSS ? -q / c : -r / c;
    }
};

// f with the RadialLogW of g's dimension
template <int KIND, bool DISC, class F>
inline auto with_dim(const Geometry& g, F&& f) {
    if (g.d == 1) return f(RadialLogW<KIND, DISC, 1>(g));
    if (g.d == 2) return f(RadialLogW<KIND, DISC, 2>(g));
    return f(RadialLogW<KIND, DISC, 3>(g));
}

// Run f with the weight evaluation suited to g (a RadialLogW where one applies, else AnyLogW).
template <class F>
inline auto with_logw(const Geometry& g, F&& f) {
    const bool centred = g.kp[4] == 0.0 && g.kp[5] == 0.0 && g.kp[6] == 0.0;
    const bool none = g.mp[0] == M_NONE;
    const bool disc = g.mp[0] == M_DISC && g.mp[3] == 0.0 && g.mp[4] == 0.0 && g.mp[5] == 0.0;
    if (centred && g.kp[0] == K_GAUSS && g.kp[2] == 0.0) {
        if (none) return with_dim<K_GAUSS, false>(g, f);
        if (disc) return with_dim<K_GAUSS, true>(g, f);
    }
    if (centred && g.kp[0] == K_EXP) {
        if (none) return with_dim<K_EXP, false>(g, f);
        if (disc) return with_dim<K_EXP, true>(g, f);
    }
    return f(AnyLogW{g});
}

// A driver's proposals, made ahead of use in batches: their partners' positions are prefetched
// as they are made, so that the memory latency of one proposal overlaps the making and the
// evaluation of the others. Proposals are made from the driver's stream in order and consumed in
// the same order, one per trial, whatever the batch size; `stream()` is the stream just after
// the last proposal consumed (where an exact fallback continues; every proposal takes two
// numbers), so batching never changes a result.
template <int D = 0>  // the dimension when known at compile time (0: d)
struct ProposalQueue {
    static constexpr int CAP = 16;
    Proposal q[CAP];
    Rng gen, first;  // the generator ahead, and as it was at start
    int64_t consumed = 0;
    int pos = 0, n = 0;  // q[pos:n] are made and not yet consumed
    const Slot* slot = nullptr;
    const Entry* ent = nullptr;
    int64_t n_ent = 0;
    bool index_soon = false;
    const Partners* p = nullptr;
    int d = 0;

    void start(const Rng& st, const Packed& pk, int64_t n_ent_, const Partners& p_, int d_, bool index_soon_) {
        gen = first = st;
        consumed = 0;
        pos = n = 0;
        slot = pk.slot.data();
        ent = pk.ent.data();
        index_soon = index_soon_;
        n_ent = n_ent_;
        p = &p_;
        d = d_;
    }
    // the next proposal; a new batch holds about twice the `remaining` accepted draws needed
    // (more would only make proposals that are thrown away)
    inline const Proposal& pop(int64_t remaining) {
        if (pos == n) {
            n = remaining >= CAP / 2 ? CAP : (remaining < 1 ? 1 : static_cast<int>(2 * remaining));
            for (int j = 0; j < n; ++j) q[j] = make_proposal<D>(gen, slot, ent, n_ent, *p, d, index_soon);
            pos = 0;
        }
        ++consumed;
        return q[pos++];
    }
    Rng stream() const {
        Rng st = first;
        for (int64_t j = 0; j < 2 * consumed; ++j) st.next();
        return st;
    }
};

// One exact draw from the window proposal (`remaining`: the draws the driver still needs, this
// one included); the sorted partner position, or -1 after
// MAX_TRIALS rejections (the caller then draws exactly in log space from q.stream(); an
// accepted value is independent of how many trials it took, so the switch keeps every draw
// exact).
template <class LogW, class Queue>
inline int64_t draw_one(Queue& pq, int64_t remaining, int64_t gi, const double* xd, const Partners& p,
                        bool exclude_self, const LogW& logw) {
    for (int64_t trial = 0; trial < MAX_TRIALS; ++trial) {
        const Proposal cur = pq.pop(remaining);
        if (exclude_self && p.index[cur.m] == gi) continue;
        const double lw = logw(p, cur.m, xd);
        if (!LogW::never_zero && lw == NEG_INF) continue;
        const double x = lw - cur.upper;
        const double u = cur.u;
        if (u < 1.0 + x) return cur.m;  // exp(x) >= 1 + x: accept without exp
        if (u * (1.0 - x) >= 1.0) continue;  // exp(x) <= 1 / (1 - x) for x <= 0: reject
        if (u < std::exp(x)) return cur.m;
    }
    return -1;
}

// k exact i.i.d. draws over the ranges (inverse CDF in log space), sorted positions into out[o..].
inline void dense_multi(Rng& st, int64_t gi, const double* xd, int64_t k, Ranges r, const Partners& p,
                        const Geometry& g, const OutIdx& out, int64_t o, Scratch& s) {
    if (k <= 0) return;
    int64_t size = 0;
    for (int64_t a = 0; a < r.nr; ++a) size += r.rc[a];
    s.buf.resize(size);
    s.where.resize(size);
    s.cdf.resize(size);
    int64_t q = 0;
    for (int64_t a = 0; a < r.nr; ++a) {
        for (int64_t m = r.rs[a]; m < r.rs[a] + r.rc[a]; ++m) {
            s.buf[q] = (g.exclude_self && p.index[m] == gi) ? NEG_INF : g.logw(p, m, xd);
            s.where[q] = m;
            ++q;
        }
    }
    double mx = NEG_INF;
    for (int64_t t = 0; t < q; ++t)
        if (s.buf[t] > mx) mx = s.buf[t];
    double acc = 0.0;
    for (int64_t t = 0; t < q; ++t) {
        acc += s.buf[t] > NEG_INF ? std::exp(s.buf[t] - mx) : 0.0;
        s.cdf[t] = acc;
    }
    const double* cdf = s.cdf.data();
    for (int64_t j = 0; j < k; ++j) {
        const double u = st.uniform() * acc;
        int64_t t = std::upper_bound(cdf, cdf + q, u) - cdf;
        if (t >= q) t = q - 1;
        while (cdf[t] == 0.0 || (t > 0 && cdf[t] == cdf[t - 1])) --t;  // never land on a zero weight
        out.set(o + j, s.where[t]);
    }
}

// log sum w over the ranges; ref should bound log w (then no running maximum is needed).
inline double logsumexp_ranges(int64_t i, const double* xd, Ranges r, const Partners& p, const Geometry& g,
                               double ref) {
    if (ref < POS_INF) {
        double s = 0.0;
        for (int64_t a = 0; a < r.nr; ++a)
            for (int64_t m = r.rs[a]; m < r.rs[a] + r.rc[a]; ++m) {
                if (g.exclude_self && p.index[m] == i) continue;
                s += std::exp(g.logw(p, m, xd) - ref);
            }
        if (s > 1e-250) return ref + std::log(s);
    }
    double mx = NEG_INF, s = 0.0;
    for (int64_t a = 0; a < r.nr; ++a)
        for (int64_t m = r.rs[a]; m < r.rs[a] + r.rc[a]; ++m) {
            if (g.exclude_self && p.index[m] == i) continue;
            const double lw = g.logw(p, m, xd);
            if (lw == NEG_INF) continue;
            if (lw > mx) {
                s = s * std::exp(mx - lw) + 1.0;
                mx = lw;
            } else {
                s += std::exp(lw - mx);
            }
        }
    return s > 0 ? mx + std::log(s) : NEG_INF;
}

// Exact sum w over the ranges, in units of exp(ref) (0 when below ~1e-250).
inline double window_mass(int64_t i, const double* xd, Ranges r, const Partners& p, const Geometry& g,
                          double ref) {
    return std::exp(logsumexp_ranges(i, xd, r, p, g, ref) - ref);
}

inline void suffix_sums(const double* rb, int64_t nr, std::vector<double>& tail) {
    tail.assign(nr + 1, 0.0);
    for (int64_t r = nr - 1; r >= 0; --r) tail[r] = tail[r + 1] + rb[r];
}

// Whether window_race over these ranges succeeds, whatever was drawn before: its stopping
// point depends on the weights only; it then succeeds when the prefix holds >= k candidates.
inline bool race_succeeds(int64_t gi, const double* xd, int64_t k, Ranges r, const double* rb, double outside,
                          bool proven, const Partners& p, const Geometry& g, double ref, Scratch& s) {
    suffix_sums(rb, r.nr, s.tail);
    s.heavy.reset(k);
    int64_t q = 0;
    for (int64_t a = 0; a < r.nr; ++a) {
        for (int64_t m = r.rs[a]; m < r.rs[a] + r.rc[a]; ++m) {
            if (g.exclude_self && p.index[m] == gi) continue;
            const double lw = g.logw(p, m, xd);
            if (lw == NEG_INF) continue;
            ++q;
            s.heavy.push(std::exp(lw - ref));
        }
        if ((proven && a == r.nr - 1) || race_may_stop(k, s.tail[a + 1] + outside, s.heavy.rest, q)) return q >= k;
    }
    return false;
}

// Continue successive sampling exactly: an exponential race (Efraimidis-Spirakis keys
// log E - log w) over the members not yet chosen, scanning a prefix of the ranges (in
// decreasing order of their proven mass bound rb) that stops once k times the mass left out
// is at most TOL of the scanned mass less its k heaviest members. out[o..o+have) holds the
// partners already chosen (sorted positions; `table` holds them too when not empty). False
// (nothing drawn) if no prefix qualifies.
inline bool window_race(Rng& st, int64_t i, const double* xd, int64_t k, int64_t have, Ranges r, const double* rb,
                        double outside, bool proven, const Partners& p, const Geometry& g, double ref,
                        const OutIdx& out, int64_t o, const std::vector<int64_t>& table, Scratch& s) {
    const int64_t rn = k - have;
    suffix_sums(rb, r.nr, s.tail);
    s.hk.resize(std::max<int64_t>(rn, 1));
    s.hm.resize(std::max<int64_t>(rn, 1));
    double* hk = s.hk.data();
    int64_t* hm = s.hm.data();
    int64_t hn = 0;
    s.heavy.reset(k);
    int64_t q = 0;
    double tau = POS_INF, etau = POS_INF;
    bool stopped = false;
    for (int64_t a = 0; a < r.nr && !stopped; ++a) {
        for (int64_t m = r.rs[a]; m < r.rs[a] + r.rc[a]; ++m) {
            const double u = st.uniform_open();  // one per member, whatever happens to it
            if (g.exclude_self && p.index[m] == i) continue;
            const double lw = g.logw(p, m, xd);
            if (lw == NEG_INF) continue;
            const double w = std::exp(lw - ref);
            ++q;
            s.heavy.push(w);
            if (have > 0 && (table.empty() ? chosen_before(out, o, have, m) : set_has(table, m))) continue;
            if (hn == rn) {
                // the key beats tau iff E < w exp(tau + ref); exp(-c) >= 1 - c
                const double c = w * etau;
                if (u <= 1.0 - c) continue;
                const double key = std::log(-std::log(u)) - lw;
                if (!(key < tau)) continue;
                hk[0] = key;
                hm[0] = m;
                sift_down_max(hk, hm, hn, 0);
                tau = hk[0];
                etau = std::exp(tau + ref);
            } else if (rn > 0) {
                hk[hn] = std::log(-std::log(u)) - lw;
                hm[hn] = m;
                sift_up_max(hk, hm, hn);
                ++hn;
                if (hn == rn) {
                    tau = hk[0];
                    etau = std::exp(tau + ref);
                }
            }
        }
        if ((proven && a == r.nr - 1) || race_may_stop(k, s.tail[a + 1] + outside, s.heavy.rest, q)) stopped = true;
    }
    if (!stopped || hn < rn) return false;
    s.order.resize(hn);
    std::iota(s.order.begin(), s.order.end(), 0);
    std::stable_sort(s.order.begin(), s.order.end(), [hk](int64_t a, int64_t b) { return hk[a] < hk[b]; });
    for (int64_t j = 0; j < hn; ++j) out.set(o + have + j, hm[s.order[j]]);
    return true;
}

// ------------------------------------------------------------ fixed degrees: shared decisions

// What every driver of a cell shares for fixed-degree draws (built once per cell).
struct DegreeCell {
    bool has_table = false;  // the window carries proposal weight
    double sumw = 0.0;
    double weff = 0.0;        // members carrying the window's weight, counted at the largest bound
    bool fast_enough = true;  // proven acceptance rate at least MIN_ACCEPT (or unknown)
};

// Per-cell setup shared by sampling and by the exact-fallback prediction; without multapses
// (the exact race reads them) also the proven mass bound of each entry (s.eb) and, when a check
// will read it, the entries by decreasing member lower bound (s.lo_order).
inline DegreeCell degree_cell(const Window& e, const OffsetTable& tab, bool multapses, Scratch& s) {
    DegreeCell dc;
    dc.sumw = e.sumw;  // summed by cell_entries
    dc.has_table = dc.sumw > 0.0;
    dc.weff = e.wmax > 0.0 ? std::min(static_cast<double>(e.wcount), dc.sumw / e.wmax) : 0.0;
    dc.fast_enough = e.low == 0.0 || e.low >= MIN_ACCEPT * dc.sumw;
    if (multapses) return dc;
    s.eb.resize(std::max<int64_t>(e.n, 1));
    for (int64_t t = 0; t < e.n; ++t)
        s.eb[t] = tab.cls[e.idx[t]] == CLS_PROPOSED ? e.w[t] : static_cast<double>(e.count[t]) * EXP_CUTOFF;
    const int64_t n = (dc.has_table && e.miss > 0.0) ? e.n : 0;
    s.lo_order.resize(n);
    s.neg.resize(n);
    for (int64_t t = 0; t < n; ++t) s.neg[t] = -tab.scaled_lower[e.idx[t]];
    std::iota(s.lo_order.begin(), s.lo_order.end(), 0);
    const double* neg = s.neg.data();
    std::stable_sort(s.lo_order.begin(), s.lo_order.end(), [neg](int64_t a, int64_t b) { return neg[a] < neg[b]; });
    return dc;
}

// The checks of one driver with k draws; decided by the weights alone, never by random numbers.
struct DriverChecks {
    bool ok;   // the cell's bounds prove the window for k i.i.d. draws
    bool ok2;  // ... and for k draws without repeats
};

inline DriverChecks driver_checks(int64_t k, const Window& e, const DegreeCell& dc, const OffsetTable& tab,
                                  const Geometry& g, bool multapses, const Scratch& s) {
    DriverChecks c;
    c.ok = window_ok(k, dc.has_table, e.miss, e.low);
    c.ok2 = c.ok;
    if (multapses || !c.ok || e.miss == 0.0) return c;
    // the members left after any k are taken keep at least low less the k largest member
    // lower bounds
    double taken = 0.0;
    int64_t need = k;
    for (int64_t j = 0; j < e.n; ++j) {
        const int64_t t = s.lo_order[j];
        const int64_t cnt = e.count[t] - ((g.exclude_self && tab.iszero[e.idx[t]]) ? 1 : 0);
        const int64_t take = cnt < need ? cnt : need;
        taken += static_cast<double>(take) * tab.scaled_lower[e.idx[t]];
        need -= take;
        if (need == 0) break;
    }
    c.ok2 = static_cast<double>(k) * e.miss <= TOL * (e.low - taken);
    return c;
}

}  // namespace sc
