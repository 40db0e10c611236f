// The sampling loops of the grid engine (see spatialconn.engine.grid for the method).
//
// All drivers of a cell share one proposal: a Vose alias table over the
// partner cells of the offset window, weighted by member count times a proven
// upper bound of the kernel over the cell pair. A proposal picks a cell from
// the table, a member uniformly, and is accepted with probability w / bound;
// accepted draws are exactly i.i.d. from w restricted to the window. The
// window leaves out only mass proven below TOL of the driver's total (else
// the driver is handled exactly, in log space, over a prefix of the window
// checked with the actual weights, or over all partners). Each driver uses
// its own stream (rng.hpp).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "rng.hpp"

namespace sc {

// An output index array of int32 or int64.
struct OutIdx {
    void* p = nullptr;
    bool wide = true;
    inline void set(int64_t i, int64_t v) const {
        if (wide)
            static_cast<int64_t*>(p)[i] = v;
        else
            static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v);
    }
    inline int64_t get(int64_t i) const {
        return wide ? static_cast<int64_t*>(p)[i] : static_cast<int64_t>(static_cast<int32_t*>(p)[i]);
    }
    // out[i..i+n) = v
    inline void fill(int64_t i, int64_t n, int64_t v) const {
        if (wide)
            std::fill_n(static_cast<int64_t*>(p) + i, n, v);
        else
            std::fill_n(static_cast<int32_t*>(p) + i, n, static_cast<int32_t>(v));
    }
    // out[j] = index[out[j]] for j in [i, i+n): sorted positions to ids
    inline void map(int64_t i, int64_t n, const int64_t* index) const {
        if (wide) {
            int64_t* q = static_cast<int64_t*>(p) + i;
            for (int64_t j = 0; j < n; ++j) q[j] = index[q[j]];
        } else {
            int32_t* q = static_cast<int32_t*>(p) + i;
            for (int64_t j = 0; j < n; ++j) q[j] = static_cast<int32_t>(index[q[j]]);
        }
    }
};

// Run body(i, scratch) for i in [0, n) on `threads` threads (dynamic: one index at a time);
// each thread has its own Scratch. The first exception is rethrown after all threads stop.
template <class Scratch, class F>
void parallel_for(int64_t n, int threads, F&& body) {
    if (n <= 0) return;
    int64_t t = std::max<int64_t>(1, std::min<int64_t>(threads, n));
    if (t == 1) {
        Scratch s;
        for (int64_t i = 0; i < n; ++i) body(i, s);
        return;
    }
    std::atomic<int64_t> next{0};
    std::exception_ptr error;
    std::mutex lock;
    auto work = [&]() {
        try {
            Scratch s;
            for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) body(i, s);
        } catch (...) {
            std::lock_guard<std::mutex> g(lock);
            if (!error) error = std::current_exception();
            next.store(n);
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(t - 1);
    for (int64_t k = 1; k < t; ++k) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

// ---------------------------------------------------------------- windows

// The window entries of driver cell c (of the first `limit` offsets when limit >= 0).
// Window cells outside the box hold no partner.
inline void cell_entries(int64_t c, const Geometry& g, const Partners& p, const OffsetTable& tab, Window& e,
                         int64_t limit = -1) {
    const int d = g.d;
    const int64_t W = tab.W;
    e.start.resize(W);
    e.count.resize(W);
    e.idx.resize(W);
    e.w.resize(W);
    int64_t ca[3] = {0, 0, 0};
    int64_t rest = c;
    for (int a = d - 1; a >= 0; --a) {
        ca[a] = rest % g.S[a] + g.B[a];
        if (tab.mode[a] != MODE_OPEN) ca[a] %= g.G[a];
        rest /= g.S[a];
    }
    // per axis, the box-local cell each offset lands in (-1: outside the grid or the box)
    for (int a = 0; a < d; ++a) {
        std::vector<int64_t>& loc = e.local[a];
        loc.resize(tab.omax[a] - tab.omin[a] + 1);
        for (int64_t o = tab.omin[a]; o <= tab.omax[a]; ++o) {
            int64_t j = ca[a] + o;
            int64_t v = -1;
            if (tab.mode[a] == MODE_WRAP) j = ((j % g.G[a]) + g.G[a]) % g.G[a];
            if (tab.mode[a] == MODE_WRAP || (j >= 0 && j < g.G[a])) {
                j -= g.B[a];
                if (tab.mode[a] != MODE_OPEN) j = ((j % g.G[a]) + g.G[a]) % g.G[a];
                if (j >= 0 && j < g.S[a]) v = j;
            }
            loc[o - tab.omin[a]] = v;
        }
    }
    const int64_t* l0 = e.local[0].data() - tab.omin[0];
    const int64_t* l1 = d > 1 ? e.local[1].data() - tab.omin[1] : nullptr;
    const int64_t* l2 = d > 2 ? e.local[2].data() - tab.omin[2] : nullptr;
    int64_t n = 0, total = 0, drop = 0, wcount = 0;
    double low = 0.0, emax = 0.0, sumw = 0.0, wmax = 0.0;
    const int64_t stop = limit < 0 ? W : std::min(limit, W);
    for (int64_t t = 0; t < stop; ++t) {
        const int64_t* off = tab.offsets + t * d;
        int64_t flat = l0[off[0]];
        if (flat < 0) continue;
        if (d > 1) {
            const int64_t j = l1[off[1]];
            if (j < 0) continue;
            flat = flat * g.S[1] + j;
        }
        if (d > 2) {
            const int64_t j = l2[off[2]];
            if (j < 0) continue;
            flat = flat * g.S[2] + j;
        }
        const int64_t cnt = p.start[flat + 1] - p.start[flat];
        if (cnt == 0) continue;
        total += cnt;
        const int64_t k = tab.cls[t];
        if (k == CLS_ZERO) continue;
        const int64_t own = (g.exclude_self && tab.iszero[t]) ? cnt - 1 : cnt;
        low += static_cast<double>(own) * tab.scaled_lower[t];
        e.start[n] = p.start[flat];
        e.count[n] = cnt;
        e.idx[n] = t;
        wcount += cnt;
        if (k == CLS_DROPPED) {
            drop += cnt;
            e.w[n] = 0.0;
        } else {
            const double w = static_cast<double>(cnt) * tab.scaled_upper[t];
            e.w[n] = w;
            sumw += w;
            if (w > 0.0 && tab.scaled_upper[t] > wmax) wmax = tab.scaled_upper[t];
            if (own > 0 && tab.scaled_upper[t] > emax) emax = tab.scaled_upper[t];
        }
        ++n;
    }
    e.n = n;
    e.low = low;
    e.total = total;
    e.drop = drop;
    e.emax = emax;
    e.sumw = sumw;
    e.wcount = wcount;
    e.wmax = wmax;
}

// cell_entries plus what the window checks need: miss, a proven upper bound of the mass the
// window leaves out or drops, and outside, its part outside the window (units of exp(ref)).
// n_total counts every partner of the problem, also those outside the box.
inline void cell_window(int64_t c, const Geometry& g, const Partners& p, const OffsetTable& tab, int64_t n_total,
                        Window& e) {
    cell_entries(c, g, p, tab, e);
    e.outside = tab.truncated ? static_cast<double>(n_total - e.total) * tab.dout : 0.0;
    e.miss = e.outside + static_cast<double>(e.drop) * EXP_CUTOFF;
}

// Vose alias table over w[:n]; false if all weights are 0.
inline bool alias_table(const double* w, int64_t n, double* prob, int64_t* alias, std::vector<int64_t>& small,
                        std::vector<int64_t>& large) {
    double total = 0.0;
    for (int64_t t = 0; t < n; ++t) total += w[t];
    if (!(total > 0.0)) return false;
    small.resize(n);
    large.resize(n);
    int64_t ns = 0, nl = 0;
    const double dn = static_cast<double>(n);
    for (int64_t t = 0; t < n; ++t) {
        prob[t] = w[t] * dn / total;
        alias[t] = t;
        if (prob[t] < 1.0)
            small[ns++] = t;
        else
            large[nl++] = t;
    }
    while (ns > 0 && nl > 0) {
        const int64_t s = small[--ns];
        const int64_t l = large[nl - 1];
        alias[s] = l;
        prob[l] = (prob[l] + prob[s]) - 1.0;
        if (prob[l] < 1.0) {
            --nl;
            small[ns++] = l;
        }
    }
    for (int64_t t = 0; t < nl; ++t) prob[large[t]] = 1.0;
    for (int64_t t = 0; t < ns; ++t) prob[small[t]] = 1.0;
    return true;
}

inline int64_t propose(Rng& st, int64_t n, const double* prob, const int64_t* alias) {
    const double u = st.uniform() * static_cast<double>(n);
    int64_t t = static_cast<int64_t>(u);
    if (t >= n) t = n - 1;
    if (u - static_cast<double>(t) >= prob[t]) t = alias[t];
    return t;
}

// --------------------------------------------------------------- hash set of sorted positions

inline int64_t set_slot(int64_t m, int64_t mask) {
    const int64_t h = static_cast<int64_t>(static_cast<uint64_t>(m) * 0x9E3779B97F4A7C15ULL);
    return (h >> 20) & mask;
}

inline bool set_has(const std::vector<int64_t>& table, int64_t m) {
    const int64_t mask = static_cast<int64_t>(table.size()) - 1;
    int64_t h = set_slot(m, mask);
    while (table[h] != -1) {
        if (table[h] == m) return true;
        h = (h + 1) & mask;
    }
    return false;
}

inline bool set_add(std::vector<int64_t>& table, int64_t m) {
    const int64_t mask = static_cast<int64_t>(table.size()) - 1;
    int64_t h = set_slot(m, mask);
    while (table[h] != -1) {
        if (table[h] == m) return false;
        h = (h + 1) & mask;
    }
    table[h] = m;
    return true;
}

// --------------------------------------------------------------- heaps (max-heaps on hk)

inline void sift_down_max(double* hk, int64_t* hm, int64_t n, int64_t j) {
    while (true) {
        int64_t c = 2 * j + 1;
        if (c >= n) return;
        if (c + 1 < n && hk[c + 1] > hk[c]) ++c;
        if (!(hk[c] > hk[j])) return;
        std::swap(hk[j], hk[c]);
        std::swap(hm[j], hm[c]);
        j = c;
    }
}

inline void sift_up_max(double* hk, int64_t* hm, int64_t j) {
    while (j > 0) {
        const int64_t p = (j - 1) / 2;
        if (!(hk[j] > hk[p])) return;
        std::swap(hk[j], hk[p]);
        std::swap(hm[j], hm[p]);
        j = p;
    }
}

// The k heaviest weights seen (negated max-heap tw); rest sums all others directly (not as
// total minus the heaviest), which keeps it accurate when far below the heaviest.
struct Heaviest {
    std::vector<double> tw;
    std::vector<int64_t> dummy;
    int64_t tn = 0, k = 0;
    double rest = 0.0;
    void reset(int64_t k_) {
        k = k_;
        tw.resize(std::max<int64_t>(k, 1));
        dummy.resize(std::max<int64_t>(k, 1));
        tn = 0;
        rest = 0.0;
    }
    inline void push(double w) {
        if (tn < k) {
            tw[tn] = -w;
            dummy[tn] = 0;
            sift_up_max(tw.data(), dummy.data(), tn);
            ++tn;
            return;
        }
        if (w > -tw[0]) {
            rest -= tw[0];
            tw[0] = -w;
            sift_down_max(tw.data(), dummy.data(), tn, 0);
            return;
        }
        rest = rest + w;
    }
};

// The race's stopping rule: k times the mass left out is at most TOL of the scanned mass
// less its k heaviest members (less its rounding error).
inline bool race_may_stop(int64_t k, double left, double rest, int64_t q) {
    return static_cast<double>(k) * left <= TOL * rest * (1.0 - 1e-15 * static_cast<double>(q));
}

// Whether k i.i.d. draws from the window stay within TOL of exact, jointly: each draw leaves
// out at most miss / low of the driver's mass.
inline bool window_ok(int64_t k, bool has_table, double miss, double low) {
    return has_table && (miss == 0.0 || (low > 0.0 && static_cast<double>(k) * miss <= TOL * low));
}

}  // namespace sc
