// Pairwise Bernoulli: banded geometric skipping over each driver cell's window, in one pass.
#pragma once
#include <vector>

#include "sample.hpp"

namespace sc {

// The synapses of the listed drivers, held per driver cell until the output is allocated:
// parts[ci] are the partner ids of cell ci's drivers (in member order, each driver's in draw
// order) and counts[i - first] the number of driver i.
struct BernoulliDraws {
    std::vector<std::vector<int64_t>> parts;
    std::vector<int64_t> counts;
    int64_t total = 0;
};

// Each pair (driver, partner) of the window independently with probability pr * w.
BernoulliDraws bernoulli_draws(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                               const Streams& rs, double pr, int64_t n_drivers, int threads);

// Write the draws grouped by driver in ascending order (out arrays of draws.total entries).
void bernoulli_write(BernoulliDraws& draws, const DriverCells& dc, const OutIdx& out_drv, const OutIdx& out_par,
                     int threads);

}  // namespace sc
