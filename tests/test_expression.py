"""sc.Expression: the language, its two interpreters, sound bounds, and exact sampling.

Weights in the statistical tests are written out here in numpy from the
formulas (never through spatialconn's evaluator); fits must pass at
p > ALPHA and the negative controls (wrong kernels, open space for a torus,
mirrored displacement) must fail at p < REJECT.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spatialconn as sc
from spatialconn.engine import ENGINES
from spatialconn.engine._index import _abs_range, _axis_pieces
from spatialconn.expression import OPCODES, compile_expression
from spatialconn.space import wrap

from .settings import MASK, TORUS, partners
from .stats import (
    ALPHA,
    REJECT,
    bernoulli_pvalue,
    chi2_pvalue,
    exact_weights,
    subset_pvalue,
    successive_subset_probs,
)


# --------------------------------------------------------------------------
# The language: whitelist, errors, bytecode, log space
# --------------------------------------------------------------------------
@pytest.mark.parametrize("text, token, column", [
    ("foo(d)", "'foo'", 1),
    ("d + x", "'x'", 5),
    ("exp(d).real", "'exp(d).real'", 1),
    ("d[0]", "'d[0]'", 1),
    ("d % 2", "'d % 2'", 1),
    ("lambda: d", "'lambda: d'", 1),
    ("exp(d, base=2)", "'2'", 13),
    ("1 if d else 0", "'1 if d else 0'", 1),
    ("'a' + d", "\"'a'\"", 1),
    ("exp + d", "'exp'", 1),
    ("atan2(d)", "'atan2(d)'", 1),
    ("d @ d", "'d @ d'", 1),
])
def test_disallowed_tokens_are_named_with_their_column(text, token, column):
    with pytest.raises(ValueError, match=re.escape(f"{token} at column {column}")):
        sc.Expression(text)


def test_bad_arguments():
    with pytest.raises(ValueError, match="not valid syntax"):
        sc.Expression("exp(-d")
    with pytest.raises(TypeError, match="must be a string"):
        sc.Expression(3.0)
    with pytest.raises(ValueError, match="reserved"):
        sc.Expression("d", dx=1.0)
    with pytest.raises(ValueError, match="must be finite"):
        sc.Expression("s * d", s=math.inf)
    with pytest.raises(ValueError, match="cutoff must be a positive"):
        sc.Expression("d", cutoff=-1.0)


def test_bytecode_is_flat_postfix_with_folded_constants():
    c = compile_expression("exp(-d**2 / (2*s**2))", {"s": 0.5})
    ops = {v: k for k, v in OPCODES.items()}
    assert c.value.code.dtype == np.int32 and c.value.code.shape[1] == 2
    # the constant 2*s**2 is folded; the log program drops the exp
    assert [ops[o] for o, _ in c.log.code] == ["VAR", "CONST", "POW", "NEG", "CONST", "DIV"]
    assert [ops[o] for o, _ in c.value.code][-1] == "EXP"
    assert c.log.consts.tolist() == [2.0, 0.5] and c.log.depth == 2
    # the documented opcode table (the compiled engine's contract) is the one compiled
    import spatialconn.expression as ex

    documented = {name: int(num) for num, name in re.findall(r"(\d+) ([A-Z][A-Z0-9]+)", ex.__doc__)}
    assert documented == OPCODES
    d = np.arange(3.0)
    out = compile_expression("exp(d)", {}).log.evaluate(d)
    out[0] = 9.0
    assert d[0] == 0.0  # never a view of an input


def test_log_space_keeps_far_ratiosexact_weights():
    k = sc.Expression("3 * exp(-d**2 / (2*s**2)) * exp(-d / s)", s=0.05)
    d = np.array([10.0, 20.0])
    np.testing.assert_allclose(k.log_of_distance(d), math.log(3) - d**2 / (2 * 0.05**2) - d / 0.05, rtol=1e-14)
    assert np.all(np.isfinite(k.log_of_distance(d)))  # the weights themselves underflow


EXPRESSIONS = [
    "exp(-d**2 / (2*s**2)) * cos(2*atan2(dy, dx))",
    "max(0, exp(-d**2/(2*a**2)) - 0.5*exp(-d**2/(2*b**2)))",
    "where(d < r, 1, 0.2)",
    "clip(1 - d / r, 0, 1) + ((dx > 0) and (dy <= 0)) - (not (dx < 0))",
    "sqrt(dx**2 + dy**2 + 1) / (1 + abs(dz)) ** 1.5 + min(d, a, b) - floor(3*d) + ceil(d) + int(-2.5*d)",
    "log(1 + d) * sin(dx) + tan(dy / 4) + atan(dz) + d ** s + 2 ** (-d) + (d == 0) + (d != 0) + (d >= a)",
    "e ** -d * pi",
]
PARAMS = {"s": 0.3, "a": 0.2, "b": 0.5, "r": 0.4}


def _numpy_value(text, d, dx, dy, dz):
    env = {"d": d, "dx": dx, "dy": dy, "dz": dz, **PARAMS, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
           "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan, "atan": np.arctan, "atan2": np.arctan2,
           "where": lambda c, a, b: np.where(c, a, b), "clip": np.clip, "floor": np.floor, "ceil": np.ceil,
           "int": np.trunc, "pi": math.pi, "e": math.e,
           "min": lambda *a: np.minimum.reduce(np.broadcast_arrays(*a)),
           "max": lambda *a: np.maximum.reduce(np.broadcast_arrays(*a))}
    text = text.replace(" and ", " & ").replace("not (dx < 0)", "~(dx < 0)")
    return np.asarray(eval(text, {"__builtins__": {}}, env), dtype=float)  # the test oracle


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_both_programs_agree_with_numpy(text):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 3))
    x[:5] = 0.0
    d = np.sqrt(np.sum(x * x, axis=1))
    prog = compile_expression(text, PARAMS)
    want = _numpy_value(text, d, *x.T)
    got = prog.value.evaluate(d, *x.T)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(prog.log.evaluate(d, *x.T), np.log(np.maximum(want, 0)), rtol=1e-9, atol=1e-12)


def test_kernel_interface_values_clip_and_errors():
    k = sc.Expression("exp(-d**2 / (2*s**2)) * cos(2*atan2(dy, dx))", s=0.3)
    assert not k.isotropic and k.variables == {"d", "dx", "dy"}
    lw = k.log_weight(np.array([[0.1, 0.0], [0.0, 0.1], [0.0, 0.0]]))
    assert lw[0] == pytest.approx(-0.01 / 0.18) and lw[1] == -np.inf and lw[2] == 0.0  # atan2(0, 0) = 0
    with pytest.raises(ValueError, match="uses dy but the positions have only 1"):
        k.log_weight(np.array([[0.1]]))
    with pytest.raises(ValueError, match="not only on the distance"):
        k.log_of_distance(np.array([1.0]))
    bad = sc.Expression("log(d - 1)", cutoff=5.0)
    with pytest.raises(ValueError, match="is NaN at d = 0.5"):
        bad.log_of_distance(np.array([2.0, 0.5]))
    with pytest.raises(ValueError, match="is infinite at d = 0"):
        sc.Expression("1 / d", cutoff=1.0).log_of_distance(np.array([0.0]))
    step = sc.Expression("where(d < r, 1, 0.2)", cutoff=1.0, r=0.4)
    assert step(np.array([0.3, 0.5, 1.5])).tolist() == [1.0, 0.2, 0.0]
    assert step == sc.Expression("where(d < r, 1, 0.2)", cutoff=1.0, r=0.4) and step != k
    import pickle

    assert pickle.loads(pickle.dumps(k)) == k  # travels to Dask workers
    assert repr(step) == "Expression('where(d < r, 1, 0.2)', cutoff=1.0, r=0.4)"
    assert step.peak == 1.0 and step.positive_everywhere is False
    assert sc.Expression("where(d < r, 1, 0.2)", r=0.4).positive_everywhere is True


def test_peak_is_a_bound_close_to_the_supremum():
    dog = sc.Expression("max(0, exp(-d**2/(2*a**2)) - 0.5*exp(-d**2/(2*b**2)))", a=0.2, b=0.5)
    d = np.linspace(0, 2, 200_001)
    true = float(np.max(np.exp(dog.log_of_distance(d))))
    assert true <= dog.peak <= true * 1.01
    assert true <= dog.peak_within(0.3) <= true * 1.01
    orient = sc.Expression("exp(-d**2/(2*s**2)) * (1 + cos(2*atan2(dy, dx)))", s=0.1)
    assert 2.0 <= orient.peak <= 2.0 * (1 + 1e-9)


# --------------------------------------------------------------------------
# Soundness of the interval bounds
# --------------------------------------------------------------------------
_LEAF = st.sampled_from(["d", "dx", "dy", "dz", "s", "0", "1", "2.5", "-0.5", "pi"])
_UNARY = ["-", "exp", "log", "sqrt", "abs", "sin", "cos", "tan", "atan", "floor", "ceil", "int", "not"]
_BINARY = ["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or", "atan2", "min", "max"]


def _combine(children):
    def unary(args):
        op, a = args
        return f"-({a})" if op == "-" else (f"(not ({a}))" if op == "not" else f"{op}({a})")

    def binary(args):
        op, a, b = args
        if op in ("atan2", "min", "max"):
            return f"{op}({a}, {b})"
        if op == "**":
            return f"({a}) ** {b}" if b in ("2", "3", "0.5", "-1", "-2", "1.5") else f"({a}) ** ({b})"
        return f"(({a}) {op} ({b}))"

    return st.one_of(
        st.tuples(st.sampled_from(_UNARY), children).map(unary),
        st.tuples(st.sampled_from(_BINARY), children, children | st.sampled_from(["2", "3", "0.5", "-1", "1.5"]))
        .map(binary),
        st.tuples(children, children, children).map(lambda a: f"where({a[0]}, {a[1]}, {a[2]})"),
        st.tuples(children, children, children).map(lambda a: f"clip({a[0]}, {a[1]}, {a[2]})"),
    )


EXPR = st.recursive(_LEAF, _combine, max_leaves=8)


def _boxes_and_points(rng, n_boxes=40, per_box=50, scale=3.0, unbounded=False):
    """Random component boxes with their exact distance ranges, and points inside (corners included)."""
    lo = rng.uniform(-scale, scale, (n_boxes, 3))
    hi = lo + rng.exponential(scale / 3, (n_boxes, 3)) * (rng.random((n_boxes, 3)) > 0.2)
    u = rng.random((n_boxes, per_box, 3))
    u[:, :8] = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)])  # the corners
    pts = lo[:, None] + u * (hi - lo)[:, None]
    mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    mx = np.maximum(np.abs(lo), np.abs(hi))
    dlo, dhi = np.sqrt(np.sum(mn * mn, axis=1)), np.sqrt(np.sum(mx * mx, axis=1))
    box = {"d": (dlo[:, None], dhi[:, None])}
    for a, name in enumerate(("dx", "dy", "dz")):
        box[name] = (lo[:, a, None], hi[:, a, None])
    d = np.sqrt(np.sum(pts * pts, axis=2))
    if unbounded:  # some box ends at infinity (the points stay finite inside)
        cut = rng.random((n_boxes, 3)) < 0.3
        for a, name in enumerate(("dx", "dy", "dz")):
            lo_a, hi_a = box[name]
            box[name] = (np.where(cut[:, a, None] & (lo_a < 0), -np.inf, lo_a), np.where(cut[:, a, None], np.inf, hi_a))
        box["d"] = (box["d"][0] * 0.0, np.where(cut.any(axis=1)[:, None], np.inf, box["d"][1]))
    return box, d, pts


def _assert_within(program, box, d, pts):
    v = program.evaluate(d, pts[..., 0], pts[..., 1], pts[..., 2])
    lo, hi = program.bounds(box)
    lo, hi = np.broadcast_to(lo, v.shape), np.broadcast_to(hi, v.shape)
    ok = np.isnan(v) | ((lo <= v) & (v <= hi))
    if not ok.all():
        i = np.argwhere(~ok)[0]
        raise AssertionError(f"value {v[tuple(i)]!r} outside [{lo[tuple(i)]!r}, {hi[tuple(i)]!r}] at "
                             f"point {pts[tuple(i)]}, box {[(k, b[0][i[0]], b[1][i[0]]) for k, b in box.items()]}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPR, seed=st.integers(0, 2**32 - 1))
def test_interval_bounds_hold_at_every_point(text, seed):
    prog = compile_expression(text, {"s": 0.7})
    for unbounded in (False, True):
        box, d, pts = _boxes_and_points(np.random.default_rng(seed), unbounded=unbounded)
        _assert_within(prog.value, box, d, pts)
        _assert_within(prog.log, box, d, pts)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_interval_bounds_hold_for_the_fixed_cases(text):
    prog = compile_expression(text, PARAMS)
    for seed, scale in ((0, 3.0), (1, 0.05), (2, 40.0)):
        box, d, pts = _boxes_and_points(np.random.default_rng(seed), 200, 60, scale)
        _assert_within(prog.value, box, d, pts)
        _assert_within(prog.log, box, d, pts)


def test_atan2_bounds_at_the_branch_cut_and_the_origin():
    prog = compile_expression("atan2(dy, dx)", {})
    cases = [((-1, 0), (-2, -1)), ((0, 1), (-2, -1)), ((-1, 1), (-1, 1)), ((0, 0), (-2, -1)), ((-1, 0), (0, 1)),
             ((0, 1), (-1, 0)), ((-1e-300, 0), (-1, -1))]
    for (yl, yh), (xl, xh) in cases:
        lo, hi = prog.value.bounds({"dy": (yl, yh), "dx": (xl, xh)})
        y, x = np.meshgrid(np.r_[np.linspace(yl, yh, 41), -0.0 * (yl <= 0 <= yh)],
                           np.r_[np.linspace(xl, xh, 41)])
        v = prog.value.evaluate(0.0, x, y)
        assert np.all((lo <= v) & (v <= hi)), ((yl, yh), (xl, xh), lo, hi)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_every_pair_lies_within_its_cell_offset_bound(periodic, sign):
    """Bounds over the engine's cell-offset boxes (open space and torus) hold for every pair."""
    rng = np.random.default_rng(5)
    h, G = 0.1, 10
    period = 1.0 if periodic else math.inf
    drv, par = rng.random((300, 2)), rng.random((300, 2))
    kernels = [sc.Expression(t, **PARAMS) for t in EXPRESSIONS[:3]] + [
        sc.Expression("exp(-d**2/(2*s**2)) * (1 + 0.8*cos(atan2(dy, dx) - 0.5))", cutoff=0.45, s=0.2)]
    cd, cp = np.minimum((drv / h).astype(int), G - 1), np.minimum((par / h).astype(int), G - 1)
    off = (cp[None, :, :] - cd[:, None, :]).reshape(-1, 2)
    disp = sign * (par[None, :, :] - drv[:, None, :]).reshape(-1, 2)
    disp = wrap(disp, np.full(2, period))
    eps = 1e-9
    box, mn2, mx2 = {}, 0.0, 0.0
    for a, name in enumerate(("dx", "dy")):
        plo, phi = _axis_pieces(off[:, a].astype(float), h, eps, sign, period)
        valid = plo <= phi
        box[name] = (np.where(valid, plo, np.inf).min(axis=1), np.where(valid, phi, -np.inf).max(axis=1))
        mn, mx = _abs_range(plo, phi, 0.0)
        mn2, mx2 = mn2 + mn * mn, mx2 + mx * mx
    box["d"] = (np.sqrt(mn2), np.sqrt(mx2))
    for k in kernels:
        lw = k.log_weight(disp)
        lo, hi = k.log_bounds(box)
        assert np.all(lw <= hi), (k, np.argwhere(lw > hi)[:3])
        assert np.all(lo <= lw), k
        assert np.any(np.isfinite(hi) & (hi - np.where(np.isfinite(lw), lw, hi) < 2.0))  # and not vacuous


# --------------------------------------------------------------------------
# Support: cutoff, mask or proven decay
# --------------------------------------------------------------------------
def test_support_needs_cutoff_mask_or_proven_decay():
    pos = np.random.default_rng(0).random((50, 2))
    step = sc.Expression("where(d < r, 1, 0.2)", r=0.1)
    with pytest.raises(ValueError, match="does not provably decay.*2-D.*cutoff=... or a mask"):
        sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=step)
    sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=step, mask=sc.Disc(0.5))
    sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=sc.Expression("where(d < r, 1, 0.2)", cutoff=0.5, r=0.1))
    # components only: decays in 2-D, not in 3-D (nothing bounds dz)
    comp = sc.Expression("exp(-(dx**2 + dy**2) / 0.01)")
    sc.connect(pos, rule=sc.FixedOutDegree(3), kernel=comp)
    with pytest.raises(ValueError, match="3-D"):
        sc.connect(np.c_[pos, pos[:, :1]], rule=sc.FixedOutDegree(3), kernel=comp)
    assert sc.Expression("exp(-d) * (2 + sin(dx))").decays()
    assert not sc.Expression("d").decays() and not sc.Expression("cos(2*atan2(dy, dx))").decays()


# --------------------------------------------------------------------------
# Every rule, both engines (the grid engine runs the bytecode compiled)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rule, multapses", [
    (sc.FixedOutDegree(4), True), (sc.FixedInDegree(4), False), (sc.FixedTotalNumber(300), True),
    (sc.FixedTotalNumber(300), False), (sc.FixedTotalNumber(300, sources="uniform"), True),
    (sc.PairwiseBernoulli(0.5), False)], ids=repr)
def test_every_rule_in_every_engine(rule, multapses):
    rng = np.random.default_rng(2)
    pos = rng.random((150, 2))
    kernel = sc.Expression("exp(-d**2/(2*s**2)) * max(0, cos(2*atan2(dy, dx)))", s=0.2)
    space = sc.Space([(0, 1), (0, 1)], periodic=True)
    runs = [sc.connect(pos, rule=rule, kernel=kernel, mask=sc.Disc(0.45), space=space, multapses=multapses,
                       autapses=False, seed=3, engine=e) for e in ENGINES]
    for conn in runs:
        disp = wrap(pos[conn.targets] - pos[conn.sources], space.periods)
        assert np.all(kernel.log_weight(disp) > -np.inf) and np.all(np.hypot(*disp.T) <= 0.45)
    assert len(runs[0]) > 0


def test_bernoulli_peak_check():
    pos = np.random.default_rng(0).random((30, 2))
    k = sc.Expression("2 * exp(-d**2/(2*s**2))", s=0.1)
    with pytest.raises(ValueError, match="p \\* K"):
        sc.connect(pos, rule=sc.PairwiseBernoulli(0.6), kernel=k)
    sc.connect(pos, rule=sc.PairwiseBernoulli(0.5), kernel=k)


# --------------------------------------------------------------------------
# Statistics: partner frequencies against exact weights
# --------------------------------------------------------------------------
def _gauss(d, s):
    return np.exp(-d**2 / (2 * s**2))


KERNELS = {
    "orientation": (sc.Expression("exp(-d**2/(2*s**2)) * cos(2*atan2(dy, dx))", s=0.4),
                    lambda x, d: np.maximum(0.0, np.cos(2 * np.arctan2(x[:, 1], x[:, 0]))) * _gauss(d, 0.4)),
    "dog": (sc.Expression("max(0, exp(-d**2/(2*a**2)) - 0.5*exp(-d**2/(2*b**2)))", a=0.3, b=0.6),
            lambda x, d: np.maximum(0.0, _gauss(d, 0.3) - 0.5 * _gauss(d, 0.6))),
    "step": (sc.Expression("where(d < r, 1, 0.2)", cutoff=2.0, r=0.35),
             lambda x, d: np.where(d < 0.35, 1.0, 0.2)),
}
def _draw(kernel, setting, side, n_drivers=400, k=500, n_partners=40, seed=11, space="given"):
    center, par, disp_fn, sp, mask = partners(setting, n_partners, seed)
    sp = sp if space == "given" else space
    drivers = np.repeat(center[None], n_drivers, axis=0)
    if side == "out":
        conn = sc.connect(drivers, par, rule=sc.FixedOutDegree(k), kernel=kernel, mask=mask, space=sp, seed=seed)
        return conn.targets, disp_fn(center, par), mask
    conn = sc.connect(par, drivers, rule=sc.FixedInDegree(k), kernel=kernel, mask=mask, space=sp, seed=seed)
    return conn.sources, -disp_fn(center, par), mask  # the displacement is target - source


@pytest.mark.parametrize("setting", ["mask", "torus"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_partner_frequencies_match_the_expression(name, setting):
    kernel, w_fn = KERNELS[name]
    for side in ("out", "in"):
        par, disp, mask = _draw(kernel, setting, side)
        w = exact_weights(w_fn, disp, mask)
        assert (w == 0).any() or name == "step" or setting == "torus"  # clipping and masks exclude partners
        p = chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 500 * w / w.sum())
        assert p > ALPHA, f"{name}/{setting}/{side}: chi2 p = {p:.3g}"


def test_asymmetric_expression_uses_target_minus_source():
    kernel = sc.Expression("exp(-d**2/(2*s**2)) * (1 + 0.9*cos(atan2(dy, dx) - 0.5))", s=0.5)
    w_fn = lambda x, d: _gauss(d, 0.5) * (1 + 0.9 * np.cos(np.arctan2(x[:, 1], x[:, 0]) - 0.5))
    par, disp, _ = _draw(kernel, "torus", "in")
    w = exact_weights(w_fn, disp)
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * w / w.sum()) > ALPHA
    wm = exact_weights(w_fn, -disp)  # negative control: the mirrored kernel
    assert chi2_pvalue(np.bincount(par, minlength=40), 400 * 500 * wm / wm.sum()) < REJECT


def test_without_multapses_is_successive_sampling():
    kernel, w_fn = KERNELS["orientation"]
    center, par, disp_fn, _, mask = partners("mask", 60, 3)
    w = exact_weights(w_fn, disp_fn(center, par), mask)
    keep = np.nonzero(w > 0)[0][:7]
    drivers = np.repeat(center[None], 20000, axis=0)
    conn = sc.connect(drivers, par[keep], rule=sc.FixedOutDegree(3), kernel=kernel, mask=mask, multapses=False,
                      seed=5)
    groups = np.split(conn.targets, np.arange(3, len(conn), 3))
    assert subset_pvalue(groups, successive_subset_probs(w[keep], 3)) > ALPHA


def test_bernoulli_pair_probabilities():
    kernel, w_fn = KERNELS["dog"]
    center, par, disp_fn, space, _ = partners("torus", 30, 6)
    conn = sc.connect(np.repeat(center[None], 5000, axis=0), par, rule=sc.PairwiseBernoulli(0.9), kernel=kernel,
                      space=space, seed=6)
    q = 0.9 * exact_weights(w_fn, disp_fn(center, par))
    hits = np.bincount(conn.targets, minlength=30)
    assert bernoulli_pvalue(hits, 5000, q) > ALPHA
    assert bernoulli_pvalue(hits, 5000, q * 0.9) < REJECT  # negative control: wrong scale


@pytest.mark.parametrize("name, wrong", [
    ("orientation", sc.Expression("exp(-d**2/(2*s**2)) * abs(cos(2*atan2(dy, dx)))", s=0.4)),  # not clipped
    ("dog", sc.Expression("abs(exp(-d**2/(2*a**2)) - 0.5*exp(-d**2/(2*b**2)))", a=0.3, b=0.6)),
    ("step", sc.Expression("where(d < r, 1, 0.5)", cutoff=2.0, r=0.35)),
])
def test_negative_controls_wrong_expression(name, wrong):
    _, w_fn = KERNELS[name]
    par, disp, mask = _draw(wrong, "mask", "out")
    w = exact_weights(w_fn, disp, mask)
    assert chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 500 * w / w.sum()) < REJECT


def test_negative_control_open_space_for_a_torus():
    kernel, w_fn = KERNELS["orientation"]
    par, disp, _ = _draw(kernel, "torus", "out", space=None)
    w = exact_weights(w_fn, disp)
    assert chi2_pvalue(np.bincount(par, minlength=w.size), 400 * 500 * w / w.sum()) < REJECT


# --------------------------------------------------------------------------
# Specs, check and plot
# --------------------------------------------------------------------------
SPEC = """
seed = 1
[populations.exc]
positions = "uniform"
n = 800
extent = [[0, 1], [0, 1]]
[projections.ee]
source = "exc"
rule = { type = "FixedOutDegree", k = 8 }
space = { extent = [[0, 1], [0, 1]], periodic = true }
autapses = false
[projections.ee.kernel]
type = "Expression"
text = "exp(-d**2/(2*s**2)) * (1 + cos(2*atan2(dy, dx)))"
cutoff = 0.3
parameters = { s = 0.08 }
"""


def test_spec_check_and_plot():
    from spatialconn.check import check_projection, expected_distance_density
    from spatialconn.spec import SpecError, parse

    net = parse(SPEC)
    proj = net.projections["ee"]
    assert proj.kernel == sc.Expression("exp(-d**2/(2*s**2)) * (1 + cos(2*atan2(dy, dx)))", cutoff=0.3, s=0.08)
    conn = net.connect("ee")
    pos = net.populations["exc"].positions
    report = check_projection(conn.sources, conn.targets, proj, pos, pos, alpha=1e-4)
    assert report.passed, report.lines()
    edges = np.linspace(0, 0.3, 16)
    dens = expected_distance_density(conn.sources, conn.targets, proj, pos, pos, edges)
    assert dens.shape == (15,) and np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
    wrong = parse(SPEC.replace("s = 0.08", "s = 0.05")).projections["ee"]
    assert not check_projection(conn.sources, conn.targets, wrong, pos, pos).passed
    with pytest.raises(SpecError, match="kernel: Expression: expression .* unknown name .*'q'"):
        parse(SPEC.replace("s = 0.08 }", "q2 = 1 }").replace("(1 + cos", "(q + cos"))
    with pytest.raises(SpecError, match="kernel.parameters: expected a table of numbers"):
        parse(SPEC.replace("s = 0.08", 's = "x"'))
    import matplotlib

    matplotlib.use("Agg")
    ax = sc.plot.distance_histogram(conn, rule=proj.rule, kernel=proj.kernel, space=proj.space, autapses=False)
    assert len(ax.patches) > 0


@pytest.mark.parametrize("name", ["orientation", "dog"])
def test_radius_below_bounds_the_far_weights(name):
    kernel, _ = KERNELS[name]
    r = kernel.radius_below(-30.0, ndim=2)
    assert math.isfinite(r)
    x = np.random.default_rng(0).normal(size=(100_000, 2))
    x *= (r * (1 + np.random.default_rng(1).exponential(0.2, 100_000)) / np.hypot(*x.T))[:, None]
    assert np.all(kernel.log_weight(x) <= -30.0)
    assert kernel.radius_below(-30.0, ndim=2) <= 0.4 * math.sqrt(2 * 30) * 1.01 or name == "dog"
    assert sc.Expression("where(d < 1, 1, 0.2)").radius_below(-30.0) == math.inf


@pytest.mark.parametrize("engine", list(ENGINES))
def test_zero_weights_beyond_the_window_are_not_candidates(engine):
    """Far partners in a clipped lobe have weight 0: not candidates, even beyond a truncated window."""
    k = sc.Expression("exp(-d**2/(2*s**2)) * max(0, cos(2*atan2(dy, dx)))", s=0.05)
    near = np.c_[np.linspace(0.01, 0.05, 5), np.zeros(5)]
    far = np.c_[np.zeros(50), np.linspace(2.0, 3.0, 50)]  # along y: cos(2θ) = -1
    with pytest.raises(ValueError, match="only 5 have non-zero weight"):
        sc.connect(np.zeros((1, 2)), np.r_[near, far], rule=sc.FixedOutDegree(6), kernel=k, multapses=False,
                   engine=engine)
    conn = sc.connect(np.zeros((3, 2)), np.r_[near, far], rule=sc.FixedOutDegree(5), kernel=k, multapses=False,
                      engine=engine, seed=1)
    assert sorted(conn.targets.tolist()) == sorted(list(range(5)) * 3)


def test_the_grid_engine_runs_expressions_compiled():
    from spatialconn.engine import grid

    pos = np.random.default_rng(0).random((400, 2))
    for name, (kernel, _) in KERNELS.items():
        job = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=kernel, mask=MASK, seed=1)
        assert grid.native(job.problem), name
        job = sc.plan(pos, rule=sc.FixedOutDegree(5), kernel=kernel, space=TORUS, seed=1)
        assert grid.native(job.problem), name
    bad = sc.Expression("sqrt(dx) * exp(-d**2)", cutoff=0.5)  # NaN where dx < 0, found in the compiled loop
    with pytest.raises(ValueError, match="NaN or infinite"):
        sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=bad, engine="grid", seed=1)
    with pytest.raises(ValueError, match="NaN"):
        sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=bad, engine="reference", seed=1)
    with pytest.raises(ValueError, match="uses dz but the positions have only 2"):
        sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Expression("exp(-d**2 - dz**2)"), engine="grid")


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_compiled_core_evaluates_like_the_numpy_interpreter(text):
    """Each driver's only partner is at the origin: its row total is the log weight of one displacement."""
    from spatialconn.engine import grid, reference

    rng = np.random.default_rng(4)
    drivers = rng.normal(size=(3000, 3))
    drivers[:3] = 0.0
    kernel = sc.Expression(text, cutoff=50.0, **PARAMS)
    job = sc.plan(drivers, np.zeros((1, 3)), rule=sc.FixedOutDegree(0), kernel=kernel, mask=sc.Disc(40.0))
    assert grid.native(job.problem)
    got, want = grid.row_log_totals(job.problem), reference.row_log_totals(job.problem)
    assert np.array_equal(np.isfinite(got), np.isfinite(want)) and np.array_equal(got == -np.inf, want == -np.inf)
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-9)
