// The loops the Python module binds (loops.cpp).
#pragma once
#include "engine.hpp"
#include "sample.hpp"

namespace sc {

// Sample degrees[i - first] partners for every listed driver, written at outoff[i - first].
// Without `complete` (the partners are a box around the drivers' windows) a driver that would
// need every partner is not sampled and 1 is returned.
int fixed_degree(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                 const Streams& rs, const int64_t* degrees, const int64_t* outoff, int64_t n_total, bool complete,
                 bool multapses, const OutIdx& out_drv, const OutIdx& out_par, int threads);

// Whether fixed_degree looks beyond driver i's window (same checks, weights only).
void needs_every_partner(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                         const int64_t* degrees, int64_t n_total, bool multapses, bool positive, bool shortcut,
                         uint8_t* out, int threads);

// Exact number of partners with w > 0 per listed driver.
void candidate_counts(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                      int64_t* out, int threads);

// log sum_j w_ij per listed driver.
void row_log_totals(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                    double* out, int threads);

// Per driver cell: proposal mass of its window (sum of count x bound), proven lower bound of
// its mass and proven bound of the mass it leaves out (units of exp(ref)).
void cell_masses(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                 int64_t n_total, double* sumw, double* low, double* miss, int threads);

// proposals[ci] pair proposals in driver cell ci (a driver uniformly, a partner from the cell's
// window proposal), each accepted with probability w / bound; counts[i - first] += accepted.
void pair_proposals(const DriverCells& dc, const Partners& p, const Geometry& g, const OffsetTable& tab,
                    const Streams& rs, const int64_t* proposals, int64_t* counts, int threads);

}  // namespace sc
