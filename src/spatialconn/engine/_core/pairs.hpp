// Per-synapse geometry of index pairs (distances for writers and delays), parallel, GIL-free.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>

#include "sample.hpp"

namespace sc {

// out[k] = |b[ib[k]] - a[ia[k]]| (minimum image on axes with a finite period), for positions
// a (na, d) and b (nb, d). The operations are those of Connections.distances in numpy, axis by
// axis (delta - L floor(delta / L + 0.5), then the sum of squares from 0, then sqrt), so the
// values are bit-identical to it. Returns false (out unspecified) if an index is out of range.
template <class I>
bool pair_distances(const I* ia, const I* ib, int64_t n, const double* a, int64_t na, const double* b, int64_t nb,
                    int d, const double* periods, double* out, int threads) {
    constexpr int64_t CHUNK = 1 << 16;
    std::atomic<bool> ok{true};
    struct None {};
    parallel_for<None>((n + CHUNK - 1) / CHUNK, threads, [&](int64_t c, None&) {
        const int64_t lo = c * CHUNK, hi = std::min(n, lo + CHUNK);
        bool good = true;
        for (int64_t k = lo; k < hi; ++k) {
            if (k + 16 < hi) {  // the partners lie anywhere in memory
                __builtin_prefetch(b + static_cast<int64_t>(ib[k + 16]) * d);
                __builtin_prefetch(a + static_cast<int64_t>(ia[k + 16]) * d);
            }
            const int64_t s = static_cast<int64_t>(ia[k]), t = static_cast<int64_t>(ib[k]);
            if (s < 0 || s >= na || t < 0 || t >= nb) {
                good = false;
                out[k] = 0.0;
                continue;
            }
            double sq = 0.0;
            for (int ax = 0; ax < d; ++ax) {
                double delta = b[t * d + ax] - a[s * d + ax];
                const double L = periods[ax];
                if (std::isfinite(L)) delta = min_image(delta, L);
                sq += delta * delta;
            }
            out[k] = std::sqrt(sq);
        }
        if (!good) ok.store(false);
    });
    return ok.load();
}

}  // namespace sc
