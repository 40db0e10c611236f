"""Inputs at the edges: each ends with the right answer or one clear TypeError/ValueError."""

from __future__ import annotations

import math

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.engine import ENGINES

from .stats import ALPHA, chi2_pvalue, successive_subset_probs


@pytest.fixture(params=list(ENGINES))
def engine(request):
    return request.param


UNIT_SQUARE = np.random.default_rng(0).random((300, 2))

# -- 1. a kernel centred far (>= 38 sigma) from every displacement -----------------
FAR_KERNELS = [
    sc.Gaussian(0.05).shifted([3.0, 0.0]),
    sc.Gaussian(0.01, mean=3.0),
    sc.AnisotropicGaussian((0.05, 0.02), angle=0.3, mean=(3.0, 0.0)),
]
FAR_RULES = [sc.FixedOutDegree(5), sc.FixedInDegree(5), sc.FixedTotalNumber(50),
             sc.FixedTotalNumber(50, sources="uniform")]


@pytest.mark.parametrize("kernel", FAR_KERNELS, ids=repr)
@pytest.mark.parametrize("rule", FAR_RULES, ids=repr)
@pytest.mark.parametrize("multapses", [True, False])
def test_kernel_centred_far_from_every_pair(engine, kernel, rule, multapses):
    conn = sc.connect(UNIT_SQUARE, rule=rule, kernel=kernel, multapses=multapses, seed=1, engine=engine)
    assert len(conn) == (1500 if isinstance(rule, (sc.FixedOutDegree, sc.FixedInDegree)) else 50)
    assert len(sc.connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0.5), kernel=kernel, seed=1, engine=engine)) == 0


@pytest.mark.parametrize("multapses", [True, False])
def test_far_centred_kernel_draws_the_exact_distribution(engine, multapses):
    """60 sigma from the centre the ratios between partners are still those of the formula."""
    drivers = np.zeros((4000, 1))
    partners = np.arange(5.0)[:, None] * 0.01
    kernel = sc.Gaussian(0.5).shifted([30.0])
    k = 1 if multapses else 2
    conn = sc.connect(drivers, partners, rule=sc.FixedOutDegree(k), kernel=kernel, multapses=multapses,
                      seed=7, engine=engine)
    lw = -((partners[:, 0] - 30.0) ** 2) / (2 * 0.5**2)
    w = np.exp(lw - lw.max())
    if multapses:
        pval = chi2_pvalue(np.bincount(conn.targets, minlength=5), w / w.sum() * len(conn))
    else:
        probs = successive_subset_probs(w, 2)
        keys = list(probs)
        got = [tuple(sorted(p)) for p in conn.targets.reshape(-1, 2).tolist()]
        pval = chi2_pvalue(np.array([got.count(key) for key in keys]),
                           np.array([probs[key] for key in keys]) * len(got))
    assert pval > ALPHA


# -- 2. PairwiseBernoulli(0) with an unbounded kernel ------------------------------
def test_bernoulli_zero_connects_nothing(engine):
    for kernel in (sc.Gaussian(0.05), sc.Exponential(0.1), None):
        assert len(sc.connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0), kernel=kernel, seed=1,
                              engine=engine)) == 0
    blocks = sc.iter_connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0.0), kernel=sc.Gaussian(0.05), chunk_size=100)
    assert [len(b) for b in blocks] == [0, 0, 0]


# -- 3. infinite weights (Gamma with kappa < 1 at distance 0) ------------------------
def test_infinite_weights_come_first_uniformly_among_themselves():
    """5 targets on the source (infinite weight) and 2 nearby: k <= 5 picks among the 5 uniformly."""
    sources = np.zeros((3000, 2))
    targets = np.r_[np.zeros((5, 2)), [[0.05, 0.0], [0.1, 0.0]]]
    kernel = sc.Gamma(0.5, 0.1)
    conn = sc.connect(sources, targets, rule=sc.FixedOutDegree(2), kernel=kernel, multapses=False, seed=3)
    assert conn.targets.max() < 5
    probs = successive_subset_probs(np.ones(5), 2)
    got = [tuple(sorted(p)) for p in conn.targets.reshape(-1, 2).tolist()]
    keys = list(probs)
    assert chi2_pvalue(np.array([got.count(key) for key in keys]), np.full(len(keys), 0.1 * len(got))) > ALPHA
    # the 6th partner is drawn from the finite weights once the infinite ones are used up
    six = sc.connect(sources[:2000], targets, rule=sc.FixedOutDegree(6), kernel=kernel, multapses=False,
                     seed=4).targets.reshape(-1, 6)
    assert np.all(np.sort(six[:, :5], axis=1) == np.arange(5))
    w = np.exp(kernel.log_of_distance(np.array([0.05, 0.1])))
    assert chi2_pvalue(np.bincount(six[:, 5] - 5, minlength=2), w / w.sum() * 2000) > ALPHA


@pytest.mark.parametrize("sources_mode", ["uniform", "weighted"])
@pytest.mark.parametrize("multapses", [True, False])
def test_total_number_with_infinite_weights(engine, sources_mode, multapses):
    co = np.zeros((5, 2))
    conn = sc.connect(co, rule=sc.FixedTotalNumber(4, sources=sources_mode), kernel=sc.Gamma(0.5, 0.1),
                      multapses=multapses, seed=1, engine=engine)
    assert len(conn) == 4
    if not multapses:
        assert len(set(zip(conn.sources.tolist(), conn.targets.tolist()))) == 4
    # pairs at distance 0 outweigh any other: 3 co-located neurons and 2 apart, no autapses
    pos = np.r_[np.zeros((3, 2)), [[0.3, 0.0], [0.6, 0.0]]]
    conn = sc.connect(pos, rule=sc.FixedTotalNumber(6, sources=sources_mode), kernel=sc.Gamma(0.5, 0.1),
                      multapses=False, autapses=False, seed=2, engine=engine)
    pairs = set(zip(conn.sources.tolist(), conn.targets.tolist()))
    if sources_mode == "weighted":
        assert pairs == {(i, j) for i in range(3) for j in range(3) if i != j}
    else:  # sources 3 and 4 have no infinite weight: their rows weigh 1 like the others
        assert len(pairs) == 6


# -- 4. iter_connect checks everything before the first block -----------------------
def test_iter_connect_raises_before_any_block(monkeypatch):
    import spatialconn.engine.reference as ref

    def boom(*a, **k):
        raise AssertionError("sampled before checking")

    monkeypatch.setattr(ref, "bernoulli", boom)
    pos = UNIT_SQUARE.copy()
    pos[250] = pos[251]  # one close pair, in the last block
    kernel = sc.CustomKernel(lambda d: np.where(d < 1e-9, 2.0, 0.5), cutoff=0.1)
    with pytest.raises(ValueError, match=r"p \* K = 2 > 1 for source 250 and target 251"):
        sc.iter_connect(pos, rule=sc.PairwiseBernoulli(1.0), kernel=kernel, autapses=False, chunk_size=50)


# -- 5. the peak check honours the mask ---------------------------------------------
def test_bernoulli_peak_bound_honours_the_mask(engine):
    kernel, mask = sc.Gamma(0.5, 0.1), sc.Annulus(0.05, 0.3)
    assert math.isclose(kernel.peak_between(0.05, 0.3), float(kernel(0.05)))
    conn = sc.connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0.1), kernel=kernel, mask=mask, seed=1, engine=engine)
    assert len(conn) > 0 and np.all((conn.distances > 0.05) & (conn.distances <= 0.3))
    # a shifted kernel inside a disc around its centre, and one whose centre the disc excludes
    shifted = sc.Gamma(0.5, 0.1).shifted([0.2, 0.0])
    assert len(sc.connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0.1), kernel=shifted, mask=sc.Disc(0.1),
                          seed=1, engine=engine)) > 0
    assert math.isclose(shifted.peak_between(0.0, 0.1), float(kernel(0.1)))
    with pytest.raises(ValueError, match=r"p \* K = .* > 1 for source \d+ and target \d+"):
        sc.connect(UNIT_SQUARE, rule=sc.PairwiseBernoulli(0.3), kernel=kernel, mask=mask, seed=1, engine=engine)


# -- extreme inputs: run in a subprocess, so that a crash or a hang fails the test instead of pytest ---
EXTREME = {
    # name: (call, expected outcome: "ok:<synapses>" or "<Exception>:<pattern>")
    "k beyond int64": ("sc.connect(POS[:2], rule=sc.FixedOutDegree([2**63 - 1, 1]), seed=1)",
                       "ValueError:k must be at most 2\\*\\*62"),
    "k = 1e20": ("sc.FixedOutDegree(1e20)", "ValueError:k must be at most 2\\*\\*62, got 1e\\+20"),
    "k = 2**63": ("sc.FixedInDegree(2**63)", "ValueError:k must be at most 2\\*\\*62"),
    "k = 2**64 in an array": ("sc.FixedInDegree(np.array([2**64 - 1], dtype=np.uint64))", "ValueError:k must be at most"),
    "n = 1e20": ("sc.FixedTotalNumber(1e20)", "ValueError:n must be at most 2\\*\\*62"),
    "mean = inf": ("sc.Gaussian(1.0, mean=np.inf)", "ValueError:mean must be finite"),
    "angle = inf": ("sc.AnisotropicGaussian((1.0, 1.0), angle=np.inf)", "ValueError:angle must be finite"),
    "Exponential(5e-324), no multapses": (
        "sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Exponential(5e-324), multapses=False, seed=1)",
        "ValueError:source 0 needs k=2 distinct targets but only 1"),
    "Exponential(5e-324), multapses": (
        "sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Exponential(5e-324), autapses=False, seed=1)",
        "ValueError:source 0 needs k=2 synapses but no target"),
    "subnormal sigma": ("sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(1e-310), seed=1)", "ok:100"),
    "sigma squared underflows": (
        "sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(1e-170), multapses=False, seed=1)",
        "ValueError:only 1 have non-zero weight"),
    "tiny sigma, Bernoulli": ("sc.connect(POS, rule=sc.PairwiseBernoulli(1.0), kernel=sc.Gaussian(1e-200), seed=1)",
                              "ok:50"),
    "tiny sigma, total": ("sc.connect(POS, rule=sc.FixedTotalNumber(20), kernel=sc.Exponential(1e-320), seed=1)",
                          "ok:20"),
    "positions 1e200 sigma apart": (
        "sc.connect(np.r_[POS, [[1e200, 0.0]]], rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(1.0), seed=1)",
        "ok:102"),
    "positions 1e200 sigma apart, no autapses": (
        ("sc.connect(np.r_[POS, [[1e200, 0.0]]], rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(1.0),"
         " autapses=False, seed=1)"), "ValueError:source 50 needs k=2 synapses but no target"),
    "Gamma(1e300, 1)": ("sc.Gamma(1e300, 1)", "ValueError:kappa must be at most 1e\\+10"),
    "Gamma(1e6, 1e-6)": ("sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Gamma(1e6, 1e-6), seed=1)", "ok:100"),
    "AnisotropicGaussian((1e-200, 1))": (
        "sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.AnisotropicGaussian((1e-200, 1.0), rho=0.5), seed=1)",
        "ok:100"),
    "Space periodic of the wrong length": ("sc.Space([(0, 1), (0, 1)], periodic=[True, False, True])",
                                           "ValueError:space.periodic must be one flag or one per axis \\(2\\)"),
    "Space periodic not a flag": ("sc.Space([(0, 1)], periodic='yes')", "TypeError:space.periodic must be True"),
    "shifted offset of the wrong dimension": ("sc.AnisotropicGaussian((1.0, 1.0)).shifted([1.0, 0.0, 0.0])",
                                              "ValueError:offset has 3 components but the kernel"),
    "shifted offset vs positions": (
        "sc.connect(POS, rule=sc.FixedOutDegree(2), kernel=sc.Gaussian(1.0).shifted([1.0, 0.0, 0.0]))",
        "ValueError:is 3-dimensional but positions have d = 2"),
    "bool positions": ("sc.connect(np.ones((5, 2), bool), rule=sc.FixedOutDegree(2))",
                       "TypeError:sources must be an \\(N, d\\) array of real numbers, got an array of booleans"),
    "complex positions": ("sc.connect(POS, POS + 1j, rule=sc.FixedOutDegree(2))",
                          "TypeError:targets must be .* got an array of complex numbers"),
    "string p": ("sc.PairwiseBernoulli('0.5')", "TypeError:p must be a number, got '0.5'"),
    "string sigma": ("sc.Gaussian(sigma='1')", "TypeError:sigma must be a number, got '1'"),
    "bool sigma": ("sc.Exponential(True)", "TypeError:scale must be a number"),
    "complex radius": ("sc.Disc(1j)", "TypeError:radius must be a number"),
    "string offset": ("sc.Gaussian(1.0).shifted('ab')", "TypeError:offset must be numeric"),
    "float seed": ("sc.connect(POS, rule=sc.FixedOutDegree(1), seed=1.0)", "TypeError:seed must be None, an int"),
    "bool seed": ("sc.connect(POS, rule=sc.FixedOutDegree(1), seed=True)", "TypeError:seed must be None, an int"),
}

_RUNNER = """
import json, re, sys
import numpy as np
import spatialconn as sc
POS = np.random.default_rng(0).random((50, 2))
out = {}
for name, call in json.loads(sys.argv[1]).items():
    try:
        r = eval(call)
        out[name] = "ok:%d" % len(r) if isinstance(r, sc.Connections) else "ok:constructed"
    except Exception as exc:
        out[name] = "%s:%s" % (type(exc).__name__, exc)
    print(json.dumps({name: out[name]}), flush=True)
"""


def test_extreme_inputs_end_with_the_answer_or_a_clear_error():
    import json
    import re
    import subprocess
    import sys

    calls = {name: call for name, (call, _) in EXTREME.items()}
    r = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(calls)], capture_output=True, text=True,
                       check=False, timeout=240)
    got = {}
    for line in r.stdout.splitlines():
        got.update(json.loads(line))
    missing = [n for n in EXTREME if n not in got]
    assert not missing, f"crashed or hung at {missing[0]!r} (rc={r.returncode}): {r.stderr[-2000:]}"
    for name, (_, expected) in EXTREME.items():
        kind, pattern = expected.split(":", 1)
        assert got[name].startswith(kind + ":"), (name, got[name])
        assert re.search(pattern, got[name].split(":", 1)[1]), (name, got[name])


def test_io_write_without_the_optional_package_gives_the_install_hint(tmp_path):
    """Run where h5py and pyarrow cannot be imported (as if not installed): the CLI's hint, no file."""
    import subprocess
    import sys

    code = """
import sys
sys.modules["h5py"] = sys.modules["pyarrow"] = None  # import of either now fails, as when not installed
import numpy as np, spatialconn as sc
conn = sc.connect(np.random.default_rng(0).random((20, 2)), rule=sc.FixedOutDegree(2), seed=1)
for name in ("x.h5", "x.parquet"):
    try:
        sc.io.write(conn, name)
    except ImportError as exc:
        print(exc)
try:
    sc.io.connect_to_file("y.h5", np.zeros((3, 2)), rule=sc.FixedOutDegree(1))
except ImportError as exc:
    print(exc)
sc.io.write(conn, "x.npz")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "writing SONATA needs h5py: pip install 'spatialconn[io]' (or write .npz)",
        "writing Parquet needs pyarrow: pip install 'spatialconn[io]' (or write .npz)",
        "writing SONATA needs h5py: pip install 'spatialconn[io]' (or write .npz)",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


@pytest.mark.parametrize("rule, multapses", [
    (sc.FixedOutDegree(3), True), (sc.FixedInDegree(3), False), (sc.FixedTotalNumber(200), True),
    (sc.FixedTotalNumber(200), False), (sc.FixedTotalNumber(200, sources="uniform"), True),
    (sc.FixedTotalNumber(200, sources="uniform"), False)], ids=repr)
def test_check_handles_infinite_weights(rule, multapses):
    pos = np.r_[np.zeros((5, 2)), np.random.default_rng(0).random((100, 2))]
    kw = {"rule": rule, "kernel": sc.Gamma(0.5, 0.1), "multapses": multapses, "autapses": False}
    with np.errstate(all="raise"):
        assert sc.check(sc.connect(pos, seed=2, **kw), **kw).passed
