// Pairwise Bernoulli over driver cells (see bernoulli.hpp).
#include "bernoulli.hpp"

#include "loops.hpp"

#include <algorithm>
#include <cmath>

namespace sc {

namespace {

// Scratch of one thread: the window and its bands.
struct BandScratch {
    Window win;
    std::vector<int64_t> cum, band_lo, band_hi;
    std::vector<double> band_p;
};

}  // namespace

BernoulliDraws bernoulli_draws(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                               const Streams& rs, double pr, int64_t n_drivers, int threads) {
    BernoulliDraws out;
    out.parts.resize(dc.n_cells);
    out.counts.assign(n_drivers, 0);
    const int d = g.d;
    with_logw(g, [&](auto logw) {
        parallel_for<BandScratch>(dc.n_cells, threads, [&](int64_t ci, BandScratch& s) {
            Window& e = s.win;
            cell_entries(dc.cells[ci], g, p, tab, e);
            // the offset table is sorted by decreasing bound, so the entries are too; bands of
            // consecutive entries within a factor 2 of the band's first bound
            const int64_t n = e.n;
            s.cum.assign(n + 1, 0);
            s.band_lo.resize(n);
            s.band_hi.resize(n);
            s.band_p.resize(n);
            int64_t nb = 0;
            for (int64_t r = 0; r < n; ++r) {
                s.cum[r + 1] = s.cum[r] + e.count[r];
                const double pb = std::min(1.0, pr * std::exp(tab.upper[e.idx[r]]));
                if (!(pb > 1e-300)) continue;
                if (nb > 0 && s.band_hi[nb - 1] == r && pb >= 0.5 * s.band_p[nb - 1]) {
                    s.band_hi[nb - 1] = r + 1;
                } else {
                    s.band_lo[nb] = r;
                    s.band_hi[nb] = r + 1;
                    s.band_p[nb] = pb;
                    ++nb;
                }
            }
            const int64_t* cum = s.cum.data();
            std::vector<int64_t>& part = out.parts[ci];
            Rng st;
            double xd[3];
            for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
                const int64_t i = dc.members[r];
                const int64_t gi = dc.ids[i - dc.first];
                for (int a = 0; a < d; ++a) xd[a] = dc.pos[i * d + a];
                st.seed(rs.key0, rs.key1, gi, rs.stream);
                const size_t before = part.size();
                // members of a band visited by geometric skipping with the band's largest bound P,
                // each kept with probability pr w / P: an independent Bernoulli(pr w) per pair
                for (int64_t b = 0; b < nb; ++b) {
                    const double P = s.band_p[b];
                    const int64_t lo = s.band_lo[b], hi = s.band_hi[b];
                    const int64_t base = cum[lo];
                    const int64_t size = cum[hi] - base;
                    const double lq = std::log1p(-P);
                    int64_t q = -1;
                    int64_t t = lo;  // the entry holding member base + q (q only grows: walk forward)
                    while (true) {
                        if (P < 1.0)
                            q += 1 + static_cast<int64_t>(std::min(std::floor(std::log(st.uniform_open()) / lq), 4e18));
                        else
                            q += 1;
                        if (q >= size) break;
                        while (cum[t + 1] <= base + q) ++t;
                        const int64_t m = e.start[t] + (base + q - cum[t]);
                        if (g.exclude_self && p.index[m] == gi) continue;
                        const double lw = logw(p, m, xd);
                        if (lw == NEG_INF) continue;
                        if (st.uniform() * P < pr * std::exp(lw)) part.push_back(p.index[m]);
                    }
                }
                out.counts[i - dc.first] = static_cast<int64_t>(part.size() - before);
            }
        });
    });
    for (const auto& part : out.parts) out.total += static_cast<int64_t>(part.size());
    return out;
}

void bernoulli_write(BernoulliDraws& draws, const DriverCells& dc, const OutIdx& out_drv, const OutIdx& out_par,
                     int threads) {
    std::vector<int64_t> outoff(draws.counts.size() + 1, 0);
    for (size_t i = 0; i < draws.counts.size(); ++i) outoff[i + 1] = outoff[i] + draws.counts[i];
    struct None {};
    parallel_for<None>(dc.n_cells, threads, [&](int64_t ci, None&) {
        std::vector<int64_t>& part = draws.parts[ci];
        size_t at = 0;
        for (int64_t r = dc.ptr[ci]; r < dc.ptr[ci + 1]; ++r) {
            const int64_t i = dc.members[r] - dc.first;
            const int64_t gi = dc.ids[i];
            const int64_t o = outoff[i], c = draws.counts[i];
            for (int64_t j = 0; j < c; ++j) {
                out_par.set(o + j, part[at + j]);
                out_drv.set(o + j, gi);
            }
            at += static_cast<size_t>(c);
        }
        std::vector<int64_t>().swap(part);  // release as we go
    });
}

}  // namespace sc
