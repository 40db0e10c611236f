// Kernels and masks as flat parameter arrays (encoded in Python by
// spatialconn.engine._encoding), evaluated exactly as the numpy definitions.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace sc {

// kernel kind codes (kp[0]); parameters: see _encoding.Profile
enum KernelKind { K_CONST = 0, K_GAUSS = 1, K_EXP = 2, K_GAMMA = 3, K_LINEAR = 4, K_ANISO = 5, K_EXPR = 6 };
// mask kind codes (mp[0])
enum MaskKind { M_NONE = 0, M_DISC = 1, M_ANNULUS = 2, M_BOX = 3, M_ELLIPSE = 4 };
constexpr int KP_SIZE = 20, MP_SIZE = 16;
constexpr double NEG_INF = -std::numeric_limits<double>::infinity();
constexpr double POS_INF = std::numeric_limits<double>::infinity();

// x - L floor(x / L + 0.5): the minimum image of displacement x on an axis of period L. When
// |x| <= 0.49 L the floor is 0 whatever the rounding of x / L, so x itself is the same value.
inline double min_image(double x, double L) {
    return std::fabs(x) <= 0.49 * L ? x : x - L * std::floor(x / L + 0.5);
}

// whether displacement x lies in the encoded mask
inline bool in_mask(double x0, double x1, double x2, int d, const double* mp) {
    const double kind = mp[0];
    if (kind == M_NONE) return true;
    if (kind == M_BOX) {
        if (x0 < mp[6] || x0 > mp[9]) return false;
        if (d > 1 && (x1 < mp[7] || x1 > mp[10])) return false;
        if (d > 2 && (x2 < mp[8] || x2 > mp[11])) return false;
        return true;
    }
    double y0 = x0 - mp[3], y1 = x1 - mp[4], y2 = x2 - mp[5];
    if (kind == M_ELLIPSE) {
        if (mp[14] != 0.0) {
            const double c = mp[12], s = mp[13];
            const double r0 = c * y0 + s * y1, r1 = -s * y0 + c * y1;
            y0 = r0;
            y1 = r1;
        }
        double t = y0 / mp[6];
        double q = t * t;
        if (d > 1) {
            t = y1 / mp[7];
            q += t * t;
        }
        if (d > 2) {
            t = y2 / mp[8];
            q += t * t;
        }
        return q <= 1.0;
    }
    double r2 = y0 * y0;
    if (d > 1) r2 += y1 * y1;
    if (d > 2) r2 += y2 * y2;
    const double r = std::sqrt(r2);
    if (kind == M_DISC) return r <= mp[1];
    return r > mp[1] && r <= mp[2];
}

// log K of displacement x (mask not applied)
inline double log_kernel(double x0, double x1, double x2, int d, const double* kp) {
    const double kind = kp[0];
    const double y0 = x0 - kp[4], y1 = x1 - kp[5], y2 = x2 - kp[6];
    if (kind == K_ANISO) {
        double q;
        if (d == 1) {
            q = y0 * kp[7] * y0;
        } else if (d == 2) {
            q = y0 * kp[7] * y0 + y0 * kp[8] * y1 + y1 * kp[9] * y0 + y1 * kp[10] * y1;
        } else {
            q = y0 * kp[7] * y0 + y0 * kp[8] * y1 + y0 * kp[9] * y2 + y1 * kp[10] * y0 + y1 * kp[11] * y1 +
                y1 * kp[12] * y2 + y2 * kp[13] * y0 + y2 * kp[14] * y1 + y2 * kp[15] * y2;
        }
        return -0.5 * q;
    }
    if (kind == K_CONST) return kp[1];
    double r2 = y0 * y0;
    if (d > 1) r2 += y1 * y1;
    if (d > 2) r2 += y2 * y2;
    if (kind == K_GAUSS && kp[2] == 0.0) return -r2 / (2.0 * kp[1] * kp[1]);
    const double r = std::sqrt(r2);
    if (kind == K_GAUSS) {
        const double t = r - kp[2];
        return -(t * t) / (2.0 * kp[1] * kp[1]);
    }
    if (kind == K_EXP) return -r / kp[1];
    if (kind == K_GAMMA) {
        if (kp[1] == 1.0) return -r / kp[2] + kp[3];
        if (r == 0.0) return NEG_INF;
        return (kp[1] - 1.0) * std::log(r) - r / kp[2] + kp[3];
    }
    const double v = kp[2] + kp[1] * r;  // K_LINEAR
    return v > 0.0 ? std::log(v) : NEG_INF;
}

// log w: kernel inside the mask, -inf outside
inline double log_weight(double x0, double x1, double x2, int d, const double* kp, const double* mp) {
    if (!in_mask(x0, x1, x2, d, mp)) return NEG_INF;
    return log_kernel(x0, x1, x2, d, kp);
}

}  // namespace sc
