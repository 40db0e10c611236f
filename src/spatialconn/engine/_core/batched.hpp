// Batched loops for kernels evaluated outside the core (a Python CustomKernel).
//
// The core cannot call the user's function per pair; instead it hands out
// large batches of pairs, the caller evaluates the function on all of them
// in one vectorised call, and decides.
//
// * custom_proposals: rejection proposals. For every listed driver, nprop
//   proposals from its cell's window (Vose alias table over the offset
//   cells weighted by member count x declared bound, then a member
//   uniformly), each with its displacement, the bound of its cell and a
//   uniform level u: accepting where u < w / bound gives i.i.d. draws from w
//   restricted to the window. Driver-keyed streams (rng.hpp): the batch of a
//   driver does not depend on the thread or on the other drivers listed.
// * custom_gather: the pairs of each listed driver's window within a
//   distance range (for exact candidate counts), counted or written. An offset with a finite
//   tab.lower is taken to lie wholly within `near` and inside the mask (its members are counted
//   without looking at them).
// * custom_draws: exact draws of each driver from the weights of its gathered pairs
//   (dense-in-reach, for a function without a declared bound): k i.i.d. draws by inverse CDF,
//   or successive sampling (i.i.d. draws skipping repeats, then, after too many repeats, an
//   exponential race over the pairs not yet chosen).
//
// The geometry's kernel must be the constant 1 (kp[0] = K_CONST, kp[1] = 0):
// g.logw then only applies the mask.
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "engine.hpp"
#include "rng.hpp"
#include "sample.hpp"

namespace sc {

struct BatchScratch {
    Window win;
    std::vector<double> prob, bound;
    std::vector<int64_t> alias, small, large;
};

// Proposals of driver cell ci's drivers (see above). out_m: sorted partner position, or -1 where the
// pair has weight 0 for sure (the driver itself without autapses, outside the mask, no window).
inline void custom_proposals(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                             const Streams& rs, const int64_t* nprop, const int64_t* off, int64_t* out_m,
                             double* out_x, double* out_b, double* out_u, int threads) {
    const int d = g.d;
    const bool masked = g.mp[0] != M_NONE;
    parallel_for<BatchScratch>(dc.n_cells, threads, [&](int64_t ci, BatchScratch& s) {
        bool any = false;
        for (int64_t j = dc.ptr[ci]; j < dc.ptr[ci + 1] && !any; ++j) any = nprop[dc.members[j] - dc.first] > 0;
        if (!any) return;
        Window& e = s.win;
        cell_entries(dc.cells[ci], g, p, tab, e);
        s.prob.resize(std::max<int64_t>(e.n, 1));
        s.alias.resize(std::max<int64_t>(e.n, 1));
        const bool ok = e.n > 0 && alias_table(e.w.data(), e.n, s.prob.data(), s.alias.data(), s.small, s.large);
        s.bound.resize(std::max<int64_t>(e.n, 1));
        for (int64_t t = 0; t < e.n; ++t) s.bound[t] = std::exp(tab.upper[e.idx[t]]);
        for (int64_t j = dc.ptr[ci]; j < dc.ptr[ci + 1]; ++j) {
            const int64_t row = dc.members[j], local = row - dc.first;
            const int64_t n = nprop[local];
            if (n <= 0) continue;
            const int64_t gi = dc.ids[local];
            const double* xd = dc.pos + row * d;
            Rng st;
            st.seed(rs.key0, rs.key1, gi, rs.stream);
            for (int64_t q = 0; q < n; ++q) {
                const int64_t o = off[local] + q;
                if (!ok) {
                    out_m[o] = -1;
                    out_b[o] = 0.0;
                    out_u[o] = 1.0;
                    for (int a = 0; a < d; ++a) out_x[o * d + a] = 0.0;
                    continue;
                }
                const int64_t t = propose(st, e.n, s.prob.data(), s.alias.data());
                // one uniform picks the member and, from its remaining bits, the level u (as the core does)
                const int64_t cnt = e.count[t];
                const double v = st.uniform() * static_cast<double>(cnt);
                int64_t jm = static_cast<int64_t>(v);
                if (jm >= cnt) jm = cnt - 1;
                const int64_t m = e.start[t] + jm;
                out_u[o] = v - static_cast<double>(jm);
                out_b[o] = s.bound[t];
                double x[3];
                g.disp(p, m, xd, x[0], x[1], x[2]);
                for (int a = 0; a < d; ++a) out_x[o * d + a] = x[a];
                const bool zero = (g.exclude_self && p.index[m] == gi) || (masked && !in_mask(x[0], x[1], x[2], d, g.mp));
                out_m[o] = zero ? -1 : m;
            }
        }
    });
}

// Pairs of each listed driver's window with near < distance <= far, inside the mask and not the
// driver itself (autapses excluded), and the number with distance <= near (sure[local]).
// write = false: count[local] = how many; write = true: their sorted positions and displacements
// from off[local].
// lo, h, eps: the grid's origin, cell sides and padding (cells hold their members within +-eps). With
// open axes and no mask, a cell wholly within `near` of the driver itself is counted without looking
// at its members, and one wholly beyond `far` is skipped.
inline void custom_gather(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                          double near, double far, const double* lo, const double* h, double eps, int64_t* sure,
                          int64_t* count, const int64_t* off, int64_t* out_m, double* out_x, bool write,
                          int threads) {
    const int d = g.d;
    const bool masked = g.mp[0] != M_NONE;
    const double near2 = near > 0.0 ? near * near : -1.0, far2 = far * far;
    bool boxes = !masked;
    for (int a = 0; a < d; ++a) boxes = boxes && tab.mode[a] == MODE_OPEN;
    parallel_for<BatchScratch>(dc.n_cells, threads, [&](int64_t ci, BatchScratch& s) {
        Window& e = s.win;
        const int64_t c = dc.cells[ci];
        cell_entries(c, g, p, tab, e);
        int64_t ca[3] = {0, 0, 0};  // the driver cell's coordinates (open axes: no wrap)
        for (int64_t a = d - 1, rest = c; a >= 0; --a) {
            ca[a] = rest % g.S[a] + g.B[a];
            rest /= g.S[a];
        }
        for (int64_t j = dc.ptr[ci]; j < dc.ptr[ci + 1]; ++j) {
            const int64_t row = dc.members[j], local = row - dc.first;
            const int64_t gi = dc.ids[local];
            const double* xd = dc.pos + row * d;
            int64_t ns = 0, nc = 0;
            for (int64_t t = 0; t < e.n; ++t) {
                const int64_t ti = e.idx[t];
                const bool self_cell = g.exclude_self && tab.iszero[ti];
                if (tab.lower[ti] > NEG_INF && !self_cell) {
                    ns += e.count[t];  // the whole cell lies within `near` and inside the mask
                    continue;
                }
                if (boxes) {  // the distances from this driver to the cell's box
                    double dmin2 = 0.0, dmax2 = 0.0;
                    for (int a = 0; a < d; ++a) {
                        const double pc = static_cast<double>(ca[a] + tab.offsets[ti * d + a]);
                        const double u = lo[a] + pc * h[a] - eps - xd[a], v = lo[a] + (pc + 1.0) * h[a] + eps - xd[a];
                        const double m = u > 0.0 ? u : (v < 0.0 ? -v : 0.0);
                        dmin2 += m * m;
                        dmax2 += std::max(u * u, v * v);
                    }
                    if (dmin2 > far2 * (1.0 + 1e-12)) continue;
                    if (dmax2 < near2 * (1.0 - 1e-12) && !self_cell) {
                        ns += e.count[t];
                        continue;
                    }
                }
                for (int64_t m = e.start[t]; m < e.start[t] + e.count[t]; ++m) {
                    if (g.exclude_self && p.index[m] == gi) continue;
                    double x[3];
                    g.disp(p, m, xd, x[0], x[1], x[2]);
                    double r2 = 0.0;
                    for (int a = 0; a < d; ++a) r2 += x[a] * x[a];
                    // squares: near and far carry a relative margin far above the rounding of r2
                    if (r2 > far2 || (masked && !in_mask(x[0], x[1], x[2], d, g.mp))) continue;
                    if (r2 <= near2) {
                        ++ns;
                        continue;
                    }
                    if (write) {
                        const int64_t o = off[local] + nc;
                        out_m[o] = m;
                        for (int a = 0; a < d; ++a) out_x[o * d + a] = x[a];
                    }
                    ++nc;
                }
            }
            if (!write) {
                sure[local] = ns;
                count[local] = nc;
            }
        }
    });
}

struct DrawScratch {
    std::vector<double> cdf, key;
    std::vector<int64_t> order;
    std::vector<char> taken;
};

// Driver j (local index; id ids[j]) draws degrees[j] of its count[j] gathered pairs starting at off[j],
// by their weights w (>= 0, some > 0), from its stream; writes gathered indices at outoff[j].
inline void custom_draws(int64_t n, const int64_t* ids, const int64_t* off, const int64_t* count, const double* w,
                         const int64_t* degrees, const int64_t* outoff, const Streams& rs, bool multapses,
                         int64_t* out, int threads) {
    parallel_for<DrawScratch>(n, threads, [&](int64_t j, DrawScratch& s) {
        const int64_t k = degrees[j], c = count[j], o = off[j];
        if (k <= 0 || c <= 0) return;
        Rng st;
        st.seed(rs.key0, rs.key1, ids[j], rs.stream);
        const double* wj = w + o;
        s.cdf.resize(c);
        double acc = 0.0;
        for (int64_t t = 0; t < c; ++t) {
            acc += wj[t];
            s.cdf[t] = acc;
        }
        if (!(acc > 0.0)) throw std::invalid_argument("custom_draws: a driver has no pair with weight > 0");
        const double* cdf = s.cdf.data();
        auto draw = [&]() {
            int64_t t = std::upper_bound(cdf, cdf + c, st.uniform() * acc) - cdf;
            if (t >= c) t = c - 1;
            while (wj[t] == 0.0) --t;  // never a zero weight (the CDF is flat there)
            return t;
        };
        if (multapses) {
            for (int64_t q = 0; q < k; ++q) out[outoff[j] + q] = o + draw();
            return;
        }
        s.taken.assign(c, 0);
        int64_t got = 0, repeats = 0;
        while (got < k && repeats <= 2 * k + REPEAT_SLACK) {
            const int64_t t = draw();
            if (s.taken[t]) {
                ++repeats;
                continue;
            }
            s.taken[t] = 1;
            out[outoff[j] + got++] = o + t;
        }
        if (got == k) return;
        // the rest: exponential race (Efraimidis-Spirakis) over the positive weights not yet chosen
        s.key.clear();
        s.order.clear();
        for (int64_t t = 0; t < c; ++t) {
            if (s.taken[t] || !(wj[t] > 0.0)) continue;
            s.key.push_back(std::log(-std::log(st.uniform_open())) - std::log(wj[t]));
            s.order.push_back(t);
        }
        if (static_cast<int64_t>(s.order.size()) < k - got)
            throw std::invalid_argument("custom_draws: a driver has fewer pairs with weight > 0 than its degree");
        const int64_t rest = k - got;
        std::vector<int64_t> idx(s.order.size());
        for (size_t q = 0; q < idx.size(); ++q) idx[q] = static_cast<int64_t>(q);
        std::partial_sort(idx.begin(), idx.begin() + rest, idx.end(),
                          [&](int64_t a, int64_t b) { return s.key[a] < s.key[b]; });
        for (int64_t q = 0; q < rest; ++q) out[outoff[j] + got++] = o + s.order[idx[q]];
    });
}

}  // namespace sc
