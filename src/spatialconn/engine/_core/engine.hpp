// The grid engine's data: one struct per concept, read by the sampling loops.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "expr.hpp"
#include "weight.hpp"

namespace sc {

//: tolerated relative mass outside the proposal (1e-9 total variation over a driver's draws)
constexpr double TOL = 1e-10;
//: repeats tolerated (beyond 2k) before a driver without multapses switches to the exact race
constexpr int64_t REPEAT_SLACK = 16;
//: up to this many partners a driver's chosen set is a list, beyond it a hash set
constexpr int64_t LINEAR_SET = 24;
//: proposals per draw before a driver switches to exact log-space sampling
constexpr int64_t MAX_TRIALS = 2000;
//: proven acceptance rate below which a driver cell samples in log space directly
constexpr double MIN_ACCEPT = 1e-4;
//: exp(-LOG_CUTOFF): bounds of dropped offsets (cell class DROPPED) are below this, relative to ref
constexpr double LOG_CUTOFF = 700.0;
constexpr double EXP_CUTOFF = 0x1.14f2b0fb9307fp-1010;  // exp(-700.0), as glibc and numpy give it

// cell classes of an offset (OffsetTable::cls)
enum CellClass : int64_t { CLS_ZERO = 0, CLS_DROPPED = 1, CLS_PROPOSED = 2 };
// window modes per axis (OffsetTable::mode)
enum WindowMode : int64_t { MODE_OPEN = 0, MODE_WRAP = 1, MODE_ALL = 2 };

// Partners sorted by cell: cell c holds sorted positions start[c]..start[c+1]-1 of a box of cells.
struct Partners {
    const double* pos;     // (n, d) row-major, cell order
    const int64_t* index;  // original index of each sorted position
    const int64_t* start;  // (n_cells + 1)
    int64_t n;
};

// The space, the cell grid's box and the encoded kernel and mask.
struct Geometry {
    int d;
    int64_t G[3], B[3], S[3];  // cells per axis; the box held: S cells per axis from B
    double periods[3];         // inf on open axes
    double sign;               // -1 when displacements run from partner to driver
    bool exclude_self;
    double kp[KP_SIZE], mp[MP_SIZE];
    // an expression kernel (kp[0] == K_EXPR): its log program (spatialconn.expression)
    std::vector<int32_t> ecode;
    std::vector<double> econst;
    mutable std::atomic<bool> nan_seen{false};  // some pair's value was NaN or +inf (the caller raises)

    // displacement from driver position xd to sorted partner m (minimum image on periodic axes)
    inline void disp(const Partners& p, int64_t m, const double* xd, double& x0, double& x1, double& x2) const {
        x0 = x1 = x2 = 0.0;
        for (int a = 0; a < d; ++a) {
            double x = p.pos[m * d + a] - xd[a];
            if (sign < 0) x = -x;
            const double L = periods[a];
            if (L < POS_INF) x = min_image(x, L);
            if (a == 0)
                x0 = x;
            else if (a == 1)
                x1 = x;
            else
                x2 = x;
        }
    }
    inline double logw(const Partners& p, int64_t m, const double* xd) const {
        double x0, x1, x2;
        disp(p, m, xd, x0, x1, x2);
        if (kp[0] == K_EXPR) {
            if (!in_mask(x0, x1, x2, d, mp)) return NEG_INF;
            return log_expr(x0 - kp[4], x1 - kp[5], x2 - kp[6], d, kp[1], ecode.data(),
                            static_cast<int>(ecode.size() / 2), econst.data(), nan_seen);
        }
        return log_weight(x0, x1, x2, d, kp, mp);
    }
};

// Cell offsets within reach, with proven bounds of log w (largest first).
struct OffsetTable {
    const int64_t* offsets;  // (W, d)
    int64_t W;
    int64_t mode[3];
    const int64_t* cls;
    const double* upper;         // log bound
    const double* lower;         // log lower bound (-inf when some w may be 0)
    const double* scaled_upper;  // exp(upper - ref) for proposed offsets, else 0
    const double* scaled_lower;  // exp(min(lower - ref, 0))
    const uint8_t* iszero;       // the zero offset
    int64_t omin[3], omax[3];    // range of the offsets per axis
    double dout;                 // bound of w outside the window, units of exp(ref)
    bool truncated;
    double ref, log_out;
};

// Per-driver streams: root key and tag.
struct Streams {
    uint64_t key0, key1, stream;
};

// Drivers grouped by cell: cell cells[ci] holds drivers members[ptr[ci]..ptr[ci+1]-1]
// (rows of `pos`, counted from `first`); ids[i - first] is driver i's id in the problem.
struct DriverCells {
    const int64_t* cells;
    const int64_t* ptr;
    const int64_t* members;
    int64_t n_cells;
    int64_t first;
    const double* pos;  // (rows, d)
    const int64_t* ids;
};

// The window of one driver cell: the non-empty offset cells within the box.
struct Window {
    int64_t n = 0;       // entries
    double low = 0.0;    // proven lower bound of the window's mass (units of exp(ref))
    int64_t total = 0;   // partners in the window's cells
    int64_t drop = 0;    // partners in dropped cells
    double emax = 0.0;   // largest member bound
    double sumw = 0.0;   // the sum of w, in entry order
    int64_t wcount = 0;  // the entries' partners
    double wmax = 0.0;   // largest bound of an entry with w > 0
    double miss = 0.0;   // proven bound of the mass left out or dropped
    double outside = 0.0;  // the part of miss outside the window
    std::vector<int64_t> start, count, idx;
    std::vector<double> w;  // count * member bound (0 for dropped cells)
    std::vector<int64_t> local[3];  // per axis: the box-local cell at each offset, -1 outside the box
};

}  // namespace sc
