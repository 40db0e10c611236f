// Python bindings of the grid engine's compiled core (nanobind). Arrays are borrowed from
// Python; the GIL is released while the loops run.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "api.hpp"
#include "batched.hpp"
#include "bernoulli.hpp"
#include "pairs.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

template <class T>
using In1 = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <class T>
using In2 = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T>
using Out1 = nb::ndarray<T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <class T>
using Out2 = nb::ndarray<T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using AnyOut = nb::ndarray<nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <class T>
using NpArr = nb::ndarray<nb::numpy, T, nb::ndim<1>>;

template <class T>
NpArr<T> new_array(size_t n, T** data) {
    T* p = new T[n ? n : 1];
    nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
    *data = p;
    return NpArr<T>(p, {n}, owner);
}

sc::OutIdx out_index(AnyOut& a, const char* name) {
    sc::OutIdx o;
    o.p = a.data();
    if (a.dtype() == nb::dtype<int64_t>())
        o.wide = true;
    else if (a.dtype() == nb::dtype<int32_t>())
        o.wide = false;
    else
        throw std::invalid_argument(std::string(name) + " must be int32 or int64");
    return o;
}

void need(bool cond, const char* what) {
    if (!cond) throw std::invalid_argument(what);
}

// Python-side owners of the structs: they keep the borrowed arrays alive.
struct PyPartners {
    sc::Partners s;
    In2<double> pos;
    In1<int64_t> index, start;
};

struct PyGeometry {
    sc::Geometry s;
};

struct PyTable {
    sc::OffsetTable s;
    In2<int64_t> offsets;
    In1<int64_t> cls;
    In1<double> upper, lower, scaled_upper, scaled_lower;
    In1<uint8_t> iszero;
};

struct PyDrivers {
    sc::DriverCells s;
    In1<int64_t> cells, ptr, members, ids;
    In2<double> pos;
};

}  // namespace

NB_MODULE(_core, m) {
    m.doc() = "Compiled core of the grid engine (C++17): cell grid, proposals, per-driver streams.";
    m.attr("TOL") = sc::TOL;
    m.attr("LOG_CUTOFF") = sc::LOG_CUTOFF;
    m.attr("EXP_CUTOFF") = sc::EXP_CUTOFF;
    m.attr("MAX_TRIALS") = sc::MAX_TRIALS;
    m.attr("MIN_ACCEPT") = sc::MIN_ACCEPT;

    nb::class_<PyPartners>(m, "Partners", "Partners sorted by cell (positions, original indices, cell starts).")
        .def(
            "__init__",
            [](PyPartners* self, In2<double> pos, In1<int64_t> index, In1<int64_t> start) {
                need(pos.shape(0) == index.shape(0), "Partners: pos and index differ in length");
                new (self) PyPartners{{pos.data(), index.data(), start.data(), static_cast<int64_t>(pos.shape(0))},
                                      pos, index, start};
            },
            "pos"_a, "index"_a, "start"_a);

    nb::class_<PyGeometry>(m, "Geometry", "Space, box of cells and the encoded kernel and mask.")
        .def(
            "__init__",
            [](PyGeometry* self, In1<int64_t> G, In1<int64_t> B, In1<int64_t> S, In1<double> periods, double sign,
               bool exclude_self, In1<double> kp, In1<double> mp) {
                const size_t d = G.shape(0);
                need(d >= 1 && d <= 3 && B.shape(0) == d && S.shape(0) == d && periods.shape(0) == d,
                     "Geometry: 1 to 3 axes");
                need(kp.shape(0) >= sc::KP_SIZE && mp.shape(0) == sc::MP_SIZE, "Geometry: kp/mp sizes");
                new (self) PyGeometry{};
                sc::Geometry& g = self->s;
                g.d = static_cast<int>(d);
                for (size_t a = 0; a < 3; ++a) {
                    g.G[a] = a < d ? G(a) : 1;
                    g.B[a] = a < d ? B(a) : 0;
                    g.S[a] = a < d ? S(a) : 1;
                    g.periods[a] = a < d ? periods(a) : sc::POS_INF;
                }
                g.sign = sign;
                g.exclude_self = exclude_self;
                for (int t = 0; t < sc::KP_SIZE; ++t) g.kp[t] = kp(t);
                if (g.kp[0] == sc::K_EXPR) {  // kp[2] instructions (op, arg) and kp[3] constants follow
                    const size_t n = static_cast<size_t>(kp(2)), m = static_cast<size_t>(kp(3));
                    need(kp.shape(0) == sc::KP_SIZE + 2 * n + m && kp(7) <= sc::EXPR_MAX_DEPTH,
                         "Geometry: expression program size");
                    for (size_t t = 0; t < 2 * n; ++t) g.ecode.push_back(static_cast<int32_t>(kp(sc::KP_SIZE + t)));
                    for (size_t t = 0; t < m; ++t) g.econst.push_back(kp(sc::KP_SIZE + 2 * n + t));
                }
                for (int t = 0; t < sc::MP_SIZE; ++t) g.mp[t] = mp(t);
            },
            "G"_a, "B"_a, "S"_a, "periods"_a, "sign"_a, "exclude_self"_a, "kp"_a, "mp"_a)
        .def_prop_ro(
            "nan_seen", [](const PyGeometry& g) { return g.s.nan_seen.load(); },
            "Whether an expression kernel was NaN or infinite at some pair evaluated so far.");

    nb::class_<PyTable>(m, "OffsetTable", "Offsets within reach and proven bounds of log w for each.")
        .def(
            "__init__",
            [](PyTable* self, In2<int64_t> offsets, In1<int64_t> mode, In1<int64_t> cls, In1<double> upper,
               In1<double> lower, In1<double> scaled_upper, In1<double> scaled_lower, In1<uint8_t> iszero,
               double dout, bool truncated, double ref, double log_out) {
                const size_t W = offsets.shape(0);
                need(cls.shape(0) == W && upper.shape(0) == W && lower.shape(0) == W &&
                         scaled_upper.shape(0) == W && scaled_lower.shape(0) == W && iszero.shape(0) == W,
                     "OffsetTable: arrays differ in length");
                new (self) PyTable{{}, offsets, cls, upper, lower, scaled_upper, scaled_lower, iszero};
                sc::OffsetTable& t = self->s;
                t.offsets = offsets.data();
                t.W = static_cast<int64_t>(W);
                for (size_t a = 0; a < 3; ++a) t.mode[a] = a < mode.shape(0) ? mode(a) : 0;
                t.cls = cls.data();
                t.upper = upper.data();
                t.lower = lower.data();
                t.scaled_upper = scaled_upper.data();
                t.scaled_lower = scaled_lower.data();
                t.iszero = iszero.data();
                t.dout = dout;
                t.truncated = truncated;
                t.ref = ref;
                t.log_out = log_out;
                const size_t d = offsets.shape(1);
                for (size_t a = 0; a < 3; ++a) t.omin[a] = t.omax[a] = 0;
                for (size_t r = 0; r < W; ++r)
                    for (size_t a = 0; a < d; ++a) {
                        t.omin[a] = std::min(t.omin[a], offsets(r, a));
                        t.omax[a] = std::max(t.omax[a], offsets(r, a));
                    }
            },
            "offsets"_a, "mode"_a, "cls"_a, "upper"_a, "lower"_a, "scaled_upper"_a, "scaled_lower"_a, "iszero"_a,
            "dout"_a, "truncated"_a, "ref"_a, "log_out"_a);

    nb::class_<PyDrivers>(m, "DriverCells", "Drivers grouped by cell, with positions and ids in the problem.")
        .def(
            "__init__",
            [](PyDrivers* self, In1<int64_t> cells, In1<int64_t> ptr, In1<int64_t> members, int64_t first,
               In2<double> pos, In1<int64_t> ids) {
                need(ptr.shape(0) == cells.shape(0) + 1, "DriverCells: ptr must have one more entry than cells");
                new (self) PyDrivers{{cells.data(), ptr.data(), members.data(), static_cast<int64_t>(cells.shape(0)),
                                      first, pos.data(), ids.data()},
                                     cells, ptr, members, ids, pos};
            },
            "cells"_a, "ptr"_a, "members"_a, "first"_a, "pos"_a, "ids"_a);

    m.def(
        "fixed_degree",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, uint64_t key0,
           uint64_t key1, uint64_t stream, In1<int64_t> degrees, In1<int64_t> outoff, int64_t n_total,
           bool complete, bool multapses, AnyOut out_drv, AnyOut out_par, int threads) {
            const sc::OutIdx od = out_index(out_drv, "out_drv"), op = out_index(out_par, "out_par");
            nb::gil_scoped_release release;
            return sc::fixed_degree(dc.s, p.s, g.s, t.s, sc::Streams{key0, key1, stream}, degrees.data(),
                                    outoff.data(), n_total, complete, multapses, od, op, threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "key0"_a, "key1"_a, "stream"_a, "degrees"_a,
        "outoff"_a, "n_total"_a, "complete"_a, "multapses"_a, "out_drv"_a, "out_par"_a, "threads"_a,
        "Fixed-degree draws; returns 1 if a driver needed partners outside the box.");

    m.def(
        "needs_every_partner",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, In1<int64_t> degrees,
           int64_t n_total, bool multapses, bool positive, bool shortcut, Out1<uint8_t> out, int threads) {
            nb::gil_scoped_release release;
            sc::needs_every_partner(dc.s, p.s, g.s, t.s, degrees.data(), n_total, multapses, positive, shortcut,
                                    out.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "degrees"_a, "n_total"_a, "multapses"_a,
        "positive"_a, "shortcut"_a, "out"_a, "threads"_a);

    m.def(
        "candidate_counts",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, Out1<int64_t> out,
           int threads) {
            nb::gil_scoped_release release;
            sc::candidate_counts(dc.s, p.s, g.s, t.s, out.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "out"_a, "threads"_a);

    m.def(
        "row_log_totals",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, Out1<double> out,
           int threads) {
            nb::gil_scoped_release release;
            sc::row_log_totals(dc.s, p.s, g.s, t.s, out.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "out"_a, "threads"_a);

    m.def(
        "bernoulli",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, uint64_t key0,
           uint64_t key1, uint64_t stream, double pr, int64_t n_drivers, bool wide, int threads) {
            sc::BernoulliDraws draws;
            {
                nb::gil_scoped_release release;
                draws = sc::bernoulli_draws(dc.s, p.s, g.s, t.s, sc::Streams{key0, key1, stream}, pr, n_drivers,
                                            threads);
            }
            const size_t n = static_cast<size_t>(draws.total);
            sc::OutIdx od, op;
            nb::object drv, par;
            if (wide) {
                int64_t *a, *b;
                drv = nb::cast(new_array<int64_t>(n, &a));
                par = nb::cast(new_array<int64_t>(n, &b));
                od = {a, true};
                op = {b, true};
            } else {
                int32_t *a, *b;
                drv = nb::cast(new_array<int32_t>(n, &a));
                par = nb::cast(new_array<int32_t>(n, &b));
                od = {a, false};
                op = {b, false};
            }
            {
                nb::gil_scoped_release release;
                sc::bernoulli_write(draws, dc.s, od, op, threads);
            }
            return nb::make_tuple(drv, par);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "key0"_a, "key1"_a, "stream"_a, "p"_a, "n_drivers"_a,
        "wide"_a, "threads"_a,
        "Pairwise Bernoulli draws of the listed drivers in one pass: (drivers, partners), int64 if wide else "
        "int32, grouped by driver in ascending order.");

    m.def(
        "cell_masses",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, int64_t n_total,
           Out1<double> sumw, Out1<double> low, Out1<double> miss, int threads) {
            need(sumw.shape(0) == dc.s.n_cells && low.shape(0) == dc.s.n_cells && miss.shape(0) == dc.s.n_cells,
                 "cell_masses: one entry per driver cell");
            nb::gil_scoped_release release;
            sc::cell_masses(dc.s, p.s, g.s, t.s, n_total, sumw.data(), low.data(), miss.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "n_total"_a, "sumw"_a, "low"_a, "miss"_a, "threads"_a);

    m.def(
        "pair_proposals",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, uint64_t key0,
           uint64_t key1, uint64_t stream, In1<int64_t> proposals, Out1<int64_t> counts, int threads) {
            need(proposals.shape(0) == dc.s.n_cells, "pair_proposals: one entry per driver cell");
            nb::gil_scoped_release release;
            sc::pair_proposals(dc.s, p.s, g.s, t.s, sc::Streams{key0, key1, stream}, proposals.data(),
                               counts.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "key0"_a, "key1"_a, "stream"_a, "proposals"_a,
        "counts"_a, "threads"_a);

    m.def(
        "pair_distances",
        [](nb::ndarray<nb::ndim<1>, nb::c_contig, nb::device::cpu> ia,
           nb::ndarray<nb::ndim<1>, nb::c_contig, nb::device::cpu> ib, In2<double> a, In2<double> b,
           In1<double> periods, Out1<double> out, int threads) {
            const size_t n = ia.shape(0), d = a.shape(1);
            need(ib.shape(0) == n && out.shape(0) == n, "pair_distances: index arrays and out differ in length");
            need(b.shape(1) == d && periods.shape(0) == d, "pair_distances: positions differ in dimension");
            need(ia.dtype() == ib.dtype(), "pair_distances: index arrays differ in dtype");
            const int64_t na = static_cast<int64_t>(a.shape(0)), nb_ = static_cast<int64_t>(b.shape(0));
            bool ok;
            if (ia.dtype() == nb::dtype<int32_t>()) {
                const int32_t* pa = static_cast<const int32_t*>(ia.data());
                const int32_t* pb = static_cast<const int32_t*>(ib.data());
                nb::gil_scoped_release release;
                ok = sc::pair_distances(pa, pb, static_cast<int64_t>(n), a.data(), na, b.data(), nb_,
                                        static_cast<int>(d), periods.data(), out.data(), threads);
            } else if (ia.dtype() == nb::dtype<int64_t>()) {
                const int64_t* pa = static_cast<const int64_t*>(ia.data());
                const int64_t* pb = static_cast<const int64_t*>(ib.data());
                nb::gil_scoped_release release;
                ok = sc::pair_distances(pa, pb, static_cast<int64_t>(n), a.data(), na, b.data(), nb_,
                                        static_cast<int>(d), periods.data(), out.data(), threads);
            } else {
                throw std::invalid_argument("pair_distances: indices must be int32 or int64");
            }
            need(ok, "pair_distances: an index is out of range");
        },
        "ia"_a, "ib"_a, "a"_a, "b"_a, "periods"_a, "out"_a, "threads"_a,
        "Distance of each pair (a[ia[k]], b[ib[k]]), minimum image on periodic axes (as numpy computes it).");

    // ------------------------------------------------------------------ grid building

    m.def(
        "cells_of",
        [](In2<double> pos, In1<double> lo, In1<double> h, In1<int64_t> G, Out1<int64_t> out) {
            const size_t n = pos.shape(0), d = pos.shape(1);
            need(lo.shape(0) == d && h.shape(0) == d && G.shape(0) == d && out.shape(0) == n, "cells_of: shapes");
            const double* x = pos.data();
            int64_t* o = out.data();
            nb::gil_scoped_release release;
            for (size_t i = 0; i < n; ++i) {
                int64_t flat = 0;
                for (size_t a = 0; a < d; ++a) {
                    int64_t c = static_cast<int64_t>(std::floor((x[i * d + a] - lo(a)) / h(a)));
                    if (c < 0)
                        c = 0;
                    else if (c >= G(a))
                        c = G(a) - 1;
                    flat = flat * G(a) + c;
                }
                o[i] = flat;
            }
        },
        "pos"_a, "lo"_a, "h"_a, "G"_a, "out"_a, "Flat cell of each position (clamped to the grid).");

    m.def(
        "bbox",
        [](In2<double> pos, Out1<double> lo, Out1<double> hi) {
            const size_t n = pos.shape(0), d = pos.shape(1);
            need(lo.shape(0) == d && hi.shape(0) == d, "bbox: lo and hi need one entry per axis");
            const double* x = pos.data();
            double* l = lo.data();
            double* h = hi.data();
            for (size_t i = 0; i < n; ++i)
                for (size_t a = 0; a < d; ++a) {
                    const double v = x[i * d + a];
                    if (v < l[a]) l[a] = v;
                    if (v > h[a]) h[a] = v;
                }
        },
        "pos"_a, "lo"_a, "hi"_a, "Update lo/hi with the per-axis minimum and maximum of pos (one pass).");

    m.def(
        "min_image",
        [](In1<double> x, double L, Out1<double> out) {
            need(out.shape(0) == x.shape(0), "min_image: out must match x");
            for (size_t i = 0; i < x.shape(0); ++i) out(i) = sc::min_image(x(i), L);
        },
        "x"_a, "L"_a, "out"_a, "The core's minimum image of each displacement on an axis of period L.");

    m.def(
        "bin_points",
        [](In2<double> pos, In1<double> lo, In1<double> h, In1<int64_t> G, Out1<int64_t> start, Out1<int64_t> order,
           Out2<double> sorted) {
            const size_t n = pos.shape(0), d = pos.shape(1), ncell = start.shape(0) - 1;
            need(lo.shape(0) == d && h.shape(0) == d && G.shape(0) == d, "bin_points: lo, h, G need d entries");
            need(order.shape(0) == n && sorted.shape(0) == n && sorted.shape(1) == d, "bin_points: shapes");
            const double* x = pos.data();
            int64_t* st = start.data();
            int64_t* od = order.data();
            double* out = sorted.data();
            std::vector<double> l(lo.data(), lo.data() + d), hh(h.data(), h.data() + d);
            std::vector<int64_t> g(G.data(), G.data() + d);
            nb::gil_scoped_release release;
            std::vector<int64_t> cell(n);
            std::fill(st, st + ncell + 1, 0);
            for (size_t i = 0; i < n; ++i) {  // the cells of cells_of
                int64_t flat = 0;
                for (size_t a = 0; a < d; ++a) {
                    int64_t c = static_cast<int64_t>(std::floor((x[i * d + a] - l[a]) / hh[a]));
                    c = c < 0 ? 0 : (c >= g[a] ? g[a] - 1 : c);
                    flat = flat * g[a] + c;
                }
                cell[i] = flat;
                st[flat + 1] += 1;
            }
            for (size_t k = 0; k < ncell; ++k) st[k + 1] += st[k];
            std::vector<int64_t> fill(st, st + ncell);
            for (size_t i = 0; i < n; ++i) {  // stable: ascending index within a cell
                const int64_t j = fill[cell[i]]++;
                od[j] = static_cast<int64_t>(i);
                for (size_t a = 0; a < d; ++a) out[j * d + a] = x[i * d + a];
            }
        },
        "pos"_a, "lo"_a, "h"_a, "G"_a, "start"_a, "order"_a, "sorted"_a,
        "cells_of, counting_sort and the gather of the sorted positions in one call.");

    m.def(
        "group_drivers",
        [](In1<int64_t> driver_cell, int64_t first, int64_t stop, int64_t ncell) {
            const int64_t n = stop - first;
            const int64_t* dc = driver_cell.data();
            std::vector<int64_t> cnt(ncell + 1, 0);
            for (int64_t i = first; i < stop; ++i) cnt[dc[i] + 1] += 1;
            int64_t k = 0;
            for (int64_t c = 0; c < ncell; ++c) {
                if (cnt[c + 1] > 0) ++k;
                cnt[c + 1] += cnt[c];
            }
            int64_t *members, *cells, *ptr;
            auto a_members = new_array<int64_t>(n, &members);
            auto a_cells = new_array<int64_t>(k, &cells);
            auto a_ptr = new_array<int64_t>(k + 1, &ptr);
            std::vector<int64_t> fill(cnt.begin(), cnt.end() - 1);
            for (int64_t i = first; i < stop; ++i) members[fill[dc[i]]++] = i;
            k = 0;
            for (int64_t c = 0; c < ncell; ++c)
                if (cnt[c + 1] > cnt[c]) {
                    cells[k] = c;
                    ptr[k] = cnt[c];
                    ++k;
                }
            ptr[k] = n;
            return nb::make_tuple(a_cells, a_ptr, a_members);
        },
        "driver_cell"_a, "first"_a, "stop"_a, "ncell"_a,
        "Non-empty cells of drivers first:stop, with their drivers in ascending order: (cells, ptr, members).");

    // ------------------------------------------------------------------ primitives (for tests)

    m.def(
        "rng_uniform",
        [](uint64_t key0, uint64_t key1, int64_t driver, uint64_t stream, size_t n, bool open) {
            double* o;
            auto a = new_array<double>(n, &o);
            sc::Rng r;
            r.seed(key0, key1, driver, stream);
            for (size_t i = 0; i < n; ++i) o[i] = open ? r.uniform_open() : r.uniform();
            return a;
        },
        "key0"_a, "key1"_a, "driver"_a, "stream"_a, "n"_a, "open"_a = false,
        "The first n uniforms of a driver's stream ([0, 1), or (0, 1) with open).");

    m.def(
        "rng_u64",
        [](uint64_t key0, uint64_t key1, int64_t driver, uint64_t stream, size_t n) {
            uint64_t* o;
            auto a = new_array<uint64_t>(n, &o);
            sc::Rng r;
            r.seed(key0, key1, driver, stream);
            for (size_t i = 0; i < n; ++i) o[i] = r.next();
            return a;
        },
        "key0"_a, "key1"_a, "driver"_a, "stream"_a, "n"_a, "The first n raw 64-bit outputs of a driver's stream.");

    m.def(
        "rng_below",
        [](uint64_t key0, uint64_t key1, int64_t driver, uint64_t stream, int64_t bound, size_t n) {
            need(bound >= 1, "bound must be >= 1");
            int64_t* o;
            auto a = new_array<int64_t>(n, &o);
            sc::Rng r;
            r.seed(key0, key1, driver, stream);
            for (size_t i = 0; i < n; ++i) o[i] = r.below(bound);
            return a;
        },
        "key0"_a, "key1"_a, "driver"_a, "stream"_a, "bound"_a, "n"_a, "n uniform integers in [0, bound).");

    m.def(
        "alias_draws",
        [](In1<double> w, uint64_t key0, size_t n) {
            const int64_t k = static_cast<int64_t>(w.shape(0));
            std::vector<double> prob(std::max<int64_t>(k, 1));
            std::vector<int64_t> alias(std::max<int64_t>(k, 1)), small, large;
            if (!sc::alias_table(w.data(), k, prob.data(), alias.data(), small, large))
                throw std::invalid_argument("alias_draws: every weight is 0");
            int64_t* o;
            auto a = new_array<int64_t>(n, &o);
            sc::Rng r;
            r.seed(key0, 0, 0, 0);
            for (size_t i = 0; i < n; ++i) o[i] = sc::propose(r, k, prob.data(), alias.data());
            return a;
        },
        "w"_a, "key0"_a, "n"_a, "n draws from a Vose alias table over the weights w.");

    m.def(
        "hash_set",
        [](In1<int64_t> values, size_t size) {
            need(size > 0 && (size & (size - 1)) == 0, "size must be a power of two");
            need(values.shape(0) < size, "more values than slots");
            std::vector<int64_t> table(size, -1);
            bool* o;
            auto a = new_array<bool>(values.shape(0), &o);
            for (size_t i = 0; i < values.shape(0); ++i) o[i] = sc::set_add(table, values(i));
            for (size_t i = 0; i < values.shape(0); ++i) need(sc::set_has(table, values(i)), "hash_set lost a value");
            return a;
        },
        "values"_a, "size"_a, "Insert values into the engine's hash set: whether each was new.");

    // ------------------------------------------------------------------ batched (CustomKernel, batched.hpp)

    m.def(
        "custom_proposals",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, uint64_t key0,
           uint64_t key1, uint64_t stream, In1<int64_t> nprop, In1<int64_t> off, Out1<int64_t> out_m,
           Out1<double> out_x, Out1<double> out_b, Out1<double> out_u, int threads) {
            need(g.s.kp[0] == sc::K_CONST && g.s.kp[1] == 0.0, "custom_proposals: the geometry's kernel must be 1");
            const size_t n = out_m.shape(0);
            need(out_b.shape(0) == n && out_u.shape(0) == n && out_x.shape(0) == n * g.s.d,
                 "custom_proposals: output sizes");
            nb::gil_scoped_release release;
            sc::custom_proposals(dc.s, p.s, g.s, t.s, sc::Streams{key0, key1, stream}, nprop.data(), off.data(),
                                 out_m.data(), out_x.data(), out_b.data(), out_u.data(), threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "key0"_a, "key1"_a, "stream"_a, "nprop"_a, "off"_a,
        "out_m"_a, "out_x"_a, "out_b"_a, "out_u"_a, "threads"_a,
        "Rejection proposals for a kernel evaluated by the caller (sorted partner, displacement, bound, u).");

    m.def(
        "custom_gather",
        [](const PyDrivers& dc, const PyPartners& p, const PyGeometry& g, const PyTable& t, double near, double far,
           In1<double> lo, In1<double> h, double eps, Out1<int64_t> sure, Out1<int64_t> count, In1<int64_t> off,
           Out1<int64_t> out_m, Out1<double> out_x, bool write, int threads) {
            need(g.s.kp[0] == sc::K_CONST && g.s.kp[1] == 0.0, "custom_gather: the geometry's kernel must be 1");
            need(lo.shape(0) == static_cast<size_t>(g.s.d) && h.shape(0) == static_cast<size_t>(g.s.d),
                 "custom_gather: lo and h need one entry per axis");
            nb::gil_scoped_release release;
            sc::custom_gather(dc.s, p.s, g.s, t.s, near, far, lo.data(), h.data(), eps, sure.data(), count.data(),
                              off.data(), out_m.data(), out_x.data(), write, threads);
        },
        "drivers"_a, "partners"_a, "geometry"_a, "table"_a, "near"_a, "far"_a, "lo"_a, "h"_a, "eps"_a, "sure"_a,
        "count"_a, "off"_a, "out_m"_a, "out_x"_a, "write"_a, "threads"_a,
        "Window pairs with near < distance <= far (counted, or written) and the number with distance <= near.");

    m.def(
        "custom_draws",
        [](In1<int64_t> ids, In1<int64_t> off, In1<int64_t> count, In1<double> w, In1<int64_t> degrees,
           In1<int64_t> outoff, uint64_t key0, uint64_t key1, uint64_t stream, bool multapses, Out1<int64_t> out,
           int threads) {
            const size_t n = ids.shape(0);
            need(off.shape(0) == n && count.shape(0) == n && degrees.shape(0) == n && outoff.shape(0) == n,
                 "custom_draws: one entry per driver");
            nb::gil_scoped_release release;
            sc::custom_draws(static_cast<int64_t>(n), ids.data(), off.data(), count.data(), w.data(), degrees.data(),
                             outoff.data(), sc::Streams{key0, key1, stream}, multapses, out.data(), threads);
        },
        "ids"_a, "off"_a, "count"_a, "w"_a, "degrees"_a, "outoff"_a, "key0"_a, "key1"_a, "stream"_a, "multapses"_a,
        "out"_a, "threads"_a, "Exact draws of each driver from the weights of its gathered pairs (indices into them).");
}
