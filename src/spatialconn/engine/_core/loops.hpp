// Per-driver draws and the engine's loops over driver cells.
#pragma once
#include "sample.hpp"

namespace sc {

// One entry of a window's proposal, packed: its alias-table slot and what a proposal then reads.
struct Entry {
    double prob;     // alias table: keep this entry when the fraction is below prob ...
    int64_t alias;   // ... else take this one
    int64_t start;   // its cell's members: sorted positions start..start+count-1
    int64_t count;
    double upper;    // proven bound of log w over its cell pair
};

// Scratch of one thread (reused across cells and drivers).
struct Scratch {
    Window win;
    std::vector<double> prob, eb, buf, cdf, hk, tail;
    std::vector<int64_t> alias, small, large, lo_order, where, hm, order, table;
    std::vector<double> neg;
    std::vector<Entry> ent;
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
                         std::vector<Entry>& ent) {
    ent.resize(std::max<int64_t>(e.n, 1));
    for (int64_t t = 0; t < e.n; ++t) ent[t] = Entry{prob[t], alias[t], e.start[t], e.count[t], tab.upper[e.idx[t]]};
}

// A proposal: sorted member m, the acceptance level u (from one uniform) and its entry's bound.
struct Proposal {
    int64_t m;
    double u, upper;
};

// The same numbers as propose() and a uniform member, read from the packed entries.
inline Proposal make_proposal(Rng& st, const Entry* ent, int64_t n, const Partners& p, int d) {
    const double a = st.uniform() * static_cast<double>(n);
    int64_t t = static_cast<int64_t>(a);
    if (t >= n) t = n - 1;
    const Entry* en = ent + t;
    if (a - static_cast<double>(t) >= en->prob) en = ent + en->alias;
    // one uniform picks the member and, from its remaining bits, the acceptance level
    const int64_t cnt = en->count;
    const double v = st.uniform() * static_cast<double>(cnt);
    int64_t j = static_cast<int64_t>(v);
    if (j >= cnt) j = cnt - 1;
    Proposal q;
    q.u = v - static_cast<double>(j);
    q.m = en->start + j;
    q.upper = en->upper;
    __builtin_prefetch(p.pos + q.m * d);
    __builtin_prefetch(p.index + q.m);  // read when the draw is accepted (or for self-exclusion)
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
    const Geometry& g;
    inline double operator()(const Partners& p, int64_t m, const double* xd) const { return g.logw(p, m, xd); }
};

// ... and the same value, without the general dispatch, for the common radial kernels: an
// unshifted Gaussian or exponential, without mask or inside a disc centred on the driver
template <int KIND, bool DISC>
struct RadialLogW {
    const Geometry& g;
    double c, radius;
    explicit RadialLogW(const Geometry& g_)
        : g(g_), c(KIND == K_GAUSS ? 2.0 * g_.kp[1] * g_.kp[1] : g_.kp[1]), radius(g_.mp[1]) {}
    inline double operator()(const Partners& p, int64_t m, const double* xd) const {
        double x0, x1, x2;
        g.disp(p, m, xd, x0, x1, x2);
        double r2 = x0 * x0;
        if (g.d > 1) r2 += x1 * x1;
        if (g.d > 2) r2 += x2 * x2;
        if (KIND == K_GAUSS && !DISC) return -r2 / c;
        const double r = std::sqrt(r2);
        if (DISC && !(r <= radius)) return NEG_INF;
        return KIND == K_GAUSS ? -r2 / c : -r / c;
    }
};

// Run f with the weight evaluation suited to g (a RadialLogW where one applies, else AnyLogW).
template <class F>
inline auto with_logw(const Geometry& g, F&& f) {
    const bool centred = g.kp[4] == 0.0 && g.kp[5] == 0.0 && g.kp[6] == 0.0;
    const bool none = g.mp[0] == M_NONE;
    const bool disc = g.mp[0] == M_DISC && g.mp[3] == 0.0 && g.mp[4] == 0.0 && g.mp[5] == 0.0;
    if (centred && g.kp[0] == K_GAUSS && g.kp[2] == 0.0) {
        if (none) return f(RadialLogW<K_GAUSS, false>(g));
        if (disc) return f(RadialLogW<K_GAUSS, true>(g));
    }
    if (centred && g.kp[0] == K_EXP) {
        if (none) return f(RadialLogW<K_EXP, false>(g));
        if (disc) return f(RadialLogW<K_EXP, true>(g));
    }
    return f(AnyLogW{g});
}

// A driver's proposals, made ahead of use: up to `depth` of them are in flight, their partners'
// positions prefetched, so that the memory latency of one proposal overlaps the evaluation of
// the ones before it. Proposals are made from the driver's stream in order and consumed in the
// same order, one per trial, whatever the depth; `stream()` is the stream just after the last
// proposal consumed (where an exact fallback continues; every proposal takes two numbers), so
// the depth never changes a result.
struct ProposalQueue {
    static constexpr int CAP = 16;  // a power of 2
    Proposal q[CAP];
    Rng gen, first;  // the generator ahead, and as it was at start
    int64_t consumed = 0;
    int head = 0, n = 0, depth = 1;
    const Entry* ent = nullptr;
    int64_t n_ent = 0;
    const Partners* p = nullptr;
    int d = 0;

    void start(const Rng& st, const std::vector<Entry>& ent_, int64_t n_ent_, const Partners& p_, int d_) {
        gen = first = st;
        consumed = 0;
        head = n = 0;
        ent = ent_.data();
        n_ent = n_ent_;
        p = &p_;
        d = d_;
    }
    // keep about `want` proposals in flight (more only costs proposals that are thrown away)
    void expect(double want) { depth = want >= CAP ? CAP : (want < 1.0 ? 1 : static_cast<int>(want)); }
    inline Proposal pop() {
        while (n < depth) {
            q[(head + n) & (CAP - 1)] = make_proposal(gen, ent, n_ent, *p, d);
            ++n;
        }
        const Proposal r = q[head];
        head = (head + 1) & (CAP - 1);
        --n;
        ++consumed;
        return r;
    }
    Rng stream() const {
        Rng st = first;
        for (int64_t j = 0; j < 2 * consumed; ++j) st.next();
        return st;
    }
};

// One exact draw from the window proposal; the sorted partner position, or -1 after
// MAX_TRIALS rejections (the caller then draws exactly in log space from q.stream(); an
// accepted value is independent of how many trials it took, so the switch keeps every draw
// exact).
template <class LogW>
inline int64_t draw_one(ProposalQueue& pq, int64_t gi, const double* xd, const Partners& p, const Geometry& g,
                        const LogW& logw) {
    for (int64_t trial = 0; trial < MAX_TRIALS; ++trial) {
        const Proposal cur = pq.pop();
        if (g.exclude_self && p.index[cur.m] == gi) continue;
        const double lw = logw(p, cur.m, xd);
        if (lw == NEG_INF) continue;
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

// Per-cell setup shared by sampling and by the exact-fallback prediction: proven mass bound of
// each entry (s.eb) and, when a check without multapses will read it, the entries by
// decreasing member lower bound (s.lo_order).
inline DegreeCell degree_cell(const Window& e, const OffsetTable& tab, bool multapses, Scratch& s) {
    DegreeCell dc;
    int64_t wcount = 0;
    double emax = 0.0;
    for (int64_t t = 0; t < e.n; ++t) {
        dc.sumw += e.w[t];
        wcount += e.count[t];
        if (e.w[t] > 0.0 && tab.scaled_upper[e.idx[t]] > emax) emax = tab.scaled_upper[e.idx[t]];
    }
    dc.has_table = dc.sumw > 0.0;
    dc.weff = emax > 0.0 ? std::min(static_cast<double>(wcount), dc.sumw / emax) : 0.0;
    dc.fast_enough = e.low == 0.0 || e.low >= MIN_ACCEPT * dc.sumw;
    s.eb.resize(std::max<int64_t>(e.n, 1));
    for (int64_t t = 0; t < e.n; ++t)
        s.eb[t] = tab.cls[e.idx[t]] == CLS_PROPOSED ? e.w[t] : static_cast<double>(e.count[t]) * EXP_CUTOFF;
    const int64_t n = (!multapses && dc.has_table && e.miss > 0.0) ? e.n : 0;
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
