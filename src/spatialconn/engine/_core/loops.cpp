// The grid engine's loops over driver cells (parallel over cells, one stream per driver).
#include "loops.hpp"

#include "api.hpp"

namespace sc {

namespace {
inline void driver_xd(const DriverCells& dc, int d, int64_t i, double* xd) {
    for (int a = 0; a < d; ++a) xd[a] = dc.pos[i * d + a];
}
}  // namespace

namespace {
template <class LogW>
int fixed_degree_with(const LogW& logw, const DriverCells& dc, const Partners& p, const Geometry& g,
                      const OffsetTable& tab, const Streams& rs, const int64_t* degrees, const int64_t* outoff,
                      int64_t n_total, bool complete, bool multapses, const OutIdx& out_drv, const OutIdx& out_par,
                      int threads) {
    std::atomic<int> status{0};
    const int d = g.d;
    const int64_t all_s[1] = {0}, all_c[1] = {p.n};
    const double all_b[1] = {0.0};
    const Ranges everything{all_s, all_c, 1};
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        // local copies: the draws below read them in registers (no output store can alias them)
        const LogW lw = logw;
        const Partners pl = p;
        const OutIdx od = out_drv, op = out_par;
        const bool self = g.exclude_self;
        Window& e = s.win;
        cell_window(dc.cells[ci], g, p, tab, n_total, e);
        s.prob.resize(std::max<int64_t>(e.n, 1));
        s.alias.resize(std::max<int64_t>(e.n, 1));
        alias_table(e.w.data(), e.n, s.prob.data(), s.alias.data(), s.small, s.large);
        pack_entries(e, s.prob.data(), s.alias.data(), tab, s.ent);
        const DegreeCell cell = degree_cell(e, tab, multapses, s);
        const Ranges window{e.start.data(), e.count.data(), e.n};
        Rng st;
        ProposalQueue<LogW::dim> pq;
        double xd[3];
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
            if (r + 1 < dc.ptr[ci + 1]) {  // a cell's drivers lie anywhere in the driver arrays
                const int64_t nx = dc.members[r + 1] - dc.first;
                __builtin_prefetch(dc.ids + nx);
                __builtin_prefetch(degrees + nx);
                __builtin_prefetch(outoff + nx);
                __builtin_prefetch(dc.pos + (nx + dc.first) * d);
            }
            const int64_t i = dc.members[r];
            const int64_t gi = dc.ids[i - dc.first];
            const int64_t k = degrees[i - dc.first];
            if (k == 0) continue;
            const int64_t o = outoff[i - dc.first];
            od.fill(o, k, gi);
            driver_xd(dc, d, i, xd);
            st.seed(rs.key0, rs.key1, gi, rs.stream);
            // the window is exact when nothing is left out, else it must leave out < TOL of a
            // proven mass over the driver's k draws jointly
            const DriverChecks chk = driver_checks(k, e, cell, tab, g, multapses, s);
            if (multapses) {
                int64_t done = 0;
                if (chk.ok && cell.fast_enough) {
                    pq.start(st, s.ent, e.n, pl, d, self);
                    while (done < k) {
                        const int64_t m = draw_one(pq, k - done, gi, xd, pl, self, lw);
                        if (m < 0) break;
                        op.set(o + done, m);  // sorted positions; ids once the driver is done
                        ++done;
                    }
                    op.map(o, done, pl.index);
                    if (done < k) st = pq.stream();
                }
                if (done < k) {
                    // the cell's proven bounds may be too loose (cells wide against the kernel):
                    // then check the window with the driver's exact weights
                    if (chk.ok || !tab.truncated ||
                        static_cast<double>(k) * e.miss <= TOL * window_mass(gi, xd, window, p, g, tab.ref)) {
                        dense_multi(st, gi, xd, k - done, window, p, g, op, o + done, s);
                    } else if (complete) {
                        dense_multi(st, gi, xd, k - done, everything, p, g, op, o + done, s);
                    } else {
                        status.store(1);
                        continue;
                    }
                    op.map(o + done, k - done, pl.index);
                }
                continue;
            }
            // without multapses: successive sampling
            std::vector<int64_t>& table = s.table;
            table.clear();
            if (k > LINEAR_SET) {
                int64_t size = 1;
                while (size < 4 * k) size *= 2;
                table.assign(size, -1);
            }
            int64_t have = 0;
            if (chk.ok2 && cell.fast_enough && static_cast<double>(k) <= cell.weff) {
                int64_t repeats = 0;
                pq.start(st, s.ent, e.n, pl, d, self);
                while (have < k && repeats <= 2 * k + REPEAT_SLACK) {
                    const int64_t m = draw_one(pq, k - have, gi, xd, pl, self, lw);
                    if (m < 0) break;
                    const bool fresh = table.empty() ? !chosen_before(op, o, have, m) : set_add(table, m);
                    if (fresh) {
                        op.set(o + have, m);
                        ++have;
                    } else {
                        ++repeats;
                    }
                }
                if (have < k) st = pq.stream();
            }
            if (have < k) {
                bool done = false;
                if (e.n > 0)  // a prefix of the window, checked with the actual weights
                    done = window_race(st, gi, xd, k, have, window, s.eb.data(), e.outside,
                                       chk.ok2 || !tab.truncated, p, g, tab.ref, op, o, table, s);
                if (!done) {  // last resort: every partner
                    if (!complete) {
                        status.store(1);
                        continue;
                    }
                    if (!window_race(st, gi, xd, k, have, everything, all_b, 0.0, true, p, g, tab.ref, op,
                                     o, table, s)) {
                        status.store(2);  // fewer candidates than k: the caller's check was wrong
                        continue;
                    }
                }
            }
            op.map(o, k, pl.index);  // positions -> ids
        }
    });
    return status.load();
}

}  // namespace

int fixed_degree(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                 const Streams& rs, const int64_t* degrees, const int64_t* outoff, int64_t n_total, bool complete,
                 bool multapses, const OutIdx& out_drv, const OutIdx& out_par, int threads) {
    // the common kernels get their own loop (the same values, without the general dispatch)
    return with_logw(g, [&](const auto& logw) {
        return fixed_degree_with(logw, dc, p, g, tab, rs, degrees, outoff, n_total, complete, multapses, out_drv,
                                 out_par, threads);
    });
}

void needs_every_partner(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                         const int64_t* degrees, int64_t n_total, bool multapses, bool positive, bool shortcut,
                         uint8_t* out, int threads) {
    const int d = g.d;
    const int64_t T = d == 1 ? 5 : (d == 2 ? 25 : 125);
    double max_losc = 0.0;
    for (int64_t t = 0; t < tab.W; ++t) max_losc = std::max(max_losc, tab.scaled_lower[t]);
    const double worst_miss = static_cast<double>(n_total) * (tab.dout + EXP_CUTOFF);  // bounds miss always
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        const int64_t c = dc.cells[ci];
        int64_t kmax = 0;
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) kmax = std::max(kmax, degrees[dc.members[r] - dc.first]);
        auto none = [&]() {
            for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) out[dc.members[r] - dc.first] = 0;
        };
        if (!tab.truncated || kmax == 0) return none();
        Window& e = s.win;
        if (shortcut) {  // sufficient: proven mass of the nearest offsets against every partner left out
            cell_entries(c, g, p, tab, e, T);
            double sumw = 0.0;
            for (int64_t t = 0; t < e.n; ++t) sumw += e.w[t];
            const double need = multapses ? e.low : e.low - static_cast<double>(kmax) * max_losc;
            if (sumw > 0.0 && (multapses || positive) && static_cast<double>(kmax) * worst_miss <= TOL * need)
                return none();
        }
        cell_window(c, g, p, tab, n_total, e);
        const DegreeCell cell = degree_cell(e, tab, multapses, s);
        const Ranges window{e.start.data(), e.count.data(), e.n};
        double xd[3];
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
            const int64_t i = dc.members[r];
            const int64_t k = degrees[i - dc.first];
            out[i - dc.first] = 0;
            if (k == 0) continue;
            const DriverChecks chk = driver_checks(k, e, cell, tab, g, multapses, s);
            if (multapses && chk.ok) continue;
            driver_xd(dc, d, i, xd);
            if (multapses) {
                out[i - dc.first] =
                    !(static_cast<double>(k) * e.miss <= TOL * window_mass(i, xd, window, p, g, tab.ref));
            } else {
                if (chk.ok2 && positive) continue;
                out[i - dc.first] = e.n == 0 || !race_succeeds(i, xd, k, window, s.eb.data(), e.outside, chk.ok2,
                                                              p, g, tab.ref, s);
            }
        }
    });
}

void candidate_counts(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                      int64_t* out, int threads) {
    const int d = g.d;
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        Window& e = s.win;
        cell_entries(dc.cells[ci], g, p, tab, e);
        double xd[3];
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
            const int64_t i = dc.members[r];
            driver_xd(dc, d, i, xd);
            int64_t cnt = tab.truncated ? p.n - e.total : 0;
            for (int64_t t = 0; t < e.n; ++t) {
                if (tab.lower[e.idx[t]] > NEG_INF) {
                    cnt += e.count[t];
                    if (g.exclude_self && tab.iszero[e.idx[t]]) --cnt;
                    continue;
                }
                for (int64_t m = e.start[t]; m < e.start[t] + e.count[t]; ++m) {
                    if (g.exclude_self && p.index[m] == i) continue;
                    if (g.logw(p, m, xd) > NEG_INF) ++cnt;
                }
            }
            out[i - dc.first] = cnt;
        }
    });
}

void row_log_totals(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                    double* out, int threads) {
    const int d = g.d;
    const int64_t all_s[1] = {0}, all_c[1] = {p.n};
    const Ranges everything{all_s, all_c, 1};
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        Window& e = s.win;
        cell_entries(dc.cells[ci], g, p, tab, e);
        double ref = NEG_INF;
        for (int64_t t = 0; t < e.n; ++t)
            if (tab.upper[e.idx[t]] > ref) ref = tab.upper[e.idx[t]];
        if (ref == NEG_INF) ref = POS_INF;  // nothing known: use the running maximum
        const Ranges window{e.start.data(), e.count.data(), e.n};
        double xd[3];
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
            const int64_t i = dc.members[r];
            driver_xd(dc, d, i, xd);
            double v = logsumexp_ranges(i, xd, window, p, g, ref);
            if (tab.truncated && p.n > e.total) {
                const double bound = std::log(static_cast<double>(p.n - e.total)) + tab.log_out;
                if (!(bound <= v - 30.0)) v = logsumexp_ranges(i, xd, everything, p, g, POS_INF);
            }
            out[i - dc.first] = v;
        }
    });
}

void cell_masses(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                 int64_t n_total, double* sumw, double* low, double* miss, int threads) {
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        Window& e = s.win;
        cell_window(dc.cells[ci], g, p, tab, n_total, e);
        double w = 0.0;
        for (int64_t t = 0; t < e.n; ++t) w += e.w[t];
        sumw[ci] = w;
        low[ci] = e.low;
        miss[ci] = e.miss;
    });
}

namespace {
template <class LogW>
void pair_proposals_with(const LogW& logw, const DriverCells& dc, const Partners& p, const Geometry& g,
                         const OffsetTable& tab, const Streams& rs, const int64_t* proposals, int64_t* counts,
                         int threads) {
    const int d = g.d;
    parallel_for<Scratch>(dc.n_cells, threads, [&](int64_t ci, Scratch& s) {
        const int64_t K = proposals[ci];
        if (K == 0) return;
        Window& e = s.win;
        cell_entries(dc.cells[ci], g, p, tab, e);
        s.prob.resize(std::max<int64_t>(e.n, 1));
        s.alias.resize(std::max<int64_t>(e.n, 1));
        if (!alias_table(e.w.data(), e.n, s.prob.data(), s.alias.data(), s.small, s.large)) return;
        pack_entries(e, s.prob.data(), s.alias.data(), tab, s.ent);
        const Slot* slot = s.ent.slot.data();
        const Entry* ent = s.ent.ent.data();
        const int64_t nd = dc.ptr[ci + 1] - dc.ptr[ci];
        Rng st;
        st.seed(rs.key0, rs.key1, dc.cells[ci], rs.stream);  // one stream per cell of drivers
        double xd[3];
        for (int64_t q = 0; q < K; ++q) {
            const int64_t i = dc.members[dc.ptr[ci] + st.below(nd)];
            const int64_t gi = dc.ids[i - dc.first];
            const Proposal pr = make_proposal<LogW::dim>(st, slot, ent, e.n, p, d, g.exclude_self);
            if (g.exclude_self && p.index[pr.m] == gi) continue;
            driver_xd(dc, d, i, xd);
            const double lw = logw(p, pr.m, xd);
            if (lw == NEG_INF) continue;
            const double x = lw - pr.upper;
            const double u = pr.u;
            if (u < 1.0 + x || (!(u * (1.0 - x) >= 1.0) && u < std::exp(x))) counts[i - dc.first] += 1;
        }
    });
}

}  // namespace

void pair_proposals(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                    const Streams& rs, const int64_t* proposals, int64_t* counts, int threads) {
    with_logw(g, [&](const auto& logw) { pair_proposals_with(logw, dc, p, g, tab, rs, proposals, counts, threads); });
}

}  // namespace sc
