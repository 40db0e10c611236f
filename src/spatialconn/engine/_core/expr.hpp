// Kernel expressions: the postfix bytecode of spatialconn.expression, evaluated for one pair.
// The program is compiled in Python (spatialconn.expression.compile_expression); its opcodes
// are the table in that module's docstring. NaN in any argument gives NaN (never absorbed).
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>

namespace sc {

enum ExprOp {
    E_CONST, E_VAR, E_NEG, E_ADD, E_SUB, E_MUL, E_DIV, E_POW, E_EXP, E_LOG, E_SQRT, E_ABS, E_SIN, E_COS,
    E_TAN, E_ATAN, E_ATAN2, E_MIN, E_MAX, E_WHERE, E_LT, E_LE, E_GT, E_GE, E_EQ, E_NE, E_AND, E_OR,
    E_NOT, E_FLOOR, E_CEIL, E_TRUNC, E_LOGCLIP
};
constexpr int EXPR_MAX_DEPTH = 32;

// value of the program (code: n pairs (op, arg); consts) at (d, dx, dy, dz)
inline double eval_expr(const int32_t* code, int n, const double* consts, double d, double dx, double dy,
                        double dz) {
    double st[EXPR_MAX_DEPTH];
    int top = -1;
    const double var[4] = {d, dx, dy, dz};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (int i = 0; i < n; ++i) {
        const int op = code[2 * i], arg = code[2 * i + 1];
        if (op == E_CONST) { st[++top] = consts[arg]; continue; }
        if (op == E_VAR) { st[++top] = var[arg]; continue; }
        if (op == E_WHERE) {
            const double c = st[top - 2], a = st[top - 1], b = st[top];
            top -= 2;
            st[top] = std::isnan(c) ? nan : (c != 0.0 ? a : b);
            continue;
        }
        double& a = st[top];
        switch (op) {  // unary
            case E_NEG: a = -a; continue;
            case E_EXP: a = std::exp(a); continue;
            case E_LOG: a = std::log(a); continue;
            case E_SQRT: a = std::sqrt(a); continue;
            case E_ABS: a = std::fabs(a); continue;
            case E_SIN: a = std::sin(a); continue;
            case E_COS: a = std::cos(a); continue;
            case E_TAN: a = std::tan(a); continue;
            case E_ATAN: a = std::atan(a); continue;
            case E_NOT: a = std::isnan(a) ? nan : (a == 0.0 ? 1.0 : 0.0); continue;
            case E_FLOOR: a = std::floor(a); continue;
            case E_CEIL: a = std::ceil(a); continue;
            case E_TRUNC: a = std::trunc(a); continue;
            case E_LOGCLIP: a = std::log(a > 0.0 ? a : (std::isnan(a) ? a : 0.0)); continue;
            default: break;
        }
        const double b = st[top];
        double& x = st[--top];  // binary: x = x op b
        const bool bad = std::isnan(x) || std::isnan(b);
        switch (op) {
            case E_ADD: x = x + b; break;
            case E_SUB: x = x - b; break;
            case E_MUL: x = x * b; break;
            case E_DIV: x = x / b; break;
            case E_POW: x = bad ? nan : (b == 2.0 ? x * x : std::pow(x, b)); break;  // x*x: pow(x, 2) exactly
            case E_ATAN2: x = std::atan2(x + 0.0, b + 0.0); break;
            case E_MIN: x = bad ? nan : (b < x ? b : x); break;
            case E_MAX: x = bad ? nan : (b > x ? b : x); break;
            case E_LT: x = bad ? nan : double(x < b); break;
            case E_LE: x = bad ? nan : double(x <= b); break;
            case E_GT: x = bad ? nan : double(x > b); break;
            case E_GE: x = bad ? nan : double(x >= b); break;
            case E_EQ: x = bad ? nan : double(x == b); break;
            case E_NE: x = bad ? nan : double(x != b); break;
            case E_AND: x = bad ? nan : double(x != 0.0 && b != 0.0); break;
            case E_OR: x = bad ? nan : double(x != 0.0 || b != 0.0); break;
            default: x = nan;
        }
    }
    return st[top];
}

// log w of an expression kernel at displacement y from its centre: the log program at (|y|, y),
// -inf beyond the cutoff; NaN (an invalid operation) is reported through `nan_seen`
inline double log_expr(double y0, double y1, double y2, int d, double cutoff, const int32_t* code, int n,
                       const double* consts, std::atomic<bool>& nan_seen) {
    double r2 = y0 * y0;
    if (d > 1) r2 += y1 * y1;
    if (d > 2) r2 += y2 * y2;
    const double r = std::sqrt(r2);
    if (r > cutoff) return -std::numeric_limits<double>::infinity();
    const double v = eval_expr(code, n, consts, r, y0, y1, y2);
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) {
        nan_seen.store(true, std::memory_order_relaxed);
        return -std::numeric_limits<double>::infinity();
    }
    return v;
}

}  // namespace sc
