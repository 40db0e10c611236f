"""sc.plan / ConnectionPlan: random access and restricted pieces equal connect() bit for bit."""

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import spatialconn as sc

POS = np.random.default_rng(0).random((1500, 2))


def decay(d):
    return np.exp(-d / 0.05)


TORUS = sc.Space([(0, 1), (0, 1)], periodic=True)
RULES = {
    "out": dict(rule=sc.FixedOutDegree(7), kernel=sc.Gaussian(0.05)),
    "out-array-k": dict(rule=sc.FixedOutDegree(np.arange(1500) % 5), kernel=sc.Exponential(0.05),
                        space=TORUS),
    "out-no-multapses": dict(rule=sc.FixedOutDegree(6), kernel=sc.Gaussian(0.05), multapses=False,
                             autapses=False),
    "in": dict(rule=sc.FixedInDegree(5), kernel=sc.Gaussian(0.05), mask=sc.Disc(0.15)),
    "total": dict(rule=sc.FixedTotalNumber(4000), kernel=sc.Gaussian(0.05)),
    "total-no-multapses": dict(rule=sc.FixedTotalNumber(4000), kernel=sc.Gaussian(0.05), multapses=False),
    "total-uniform": dict(rule=sc.FixedTotalNumber(3000, sources="uniform"), kernel=sc.Gaussian(0.05)),
    "bernoulli": dict(rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.03)),
    "custom-kernel": dict(rule=sc.FixedOutDegree(4), kernel=sc.CustomKernel(decay, cutoff=0.3)),
}


def _rows(conn, plan, ids):
    """Rows of ``connect()`` holding the synapses of each driver in ``ids``, in that order."""
    drv = conn.targets if plan.driver == "target" else conn.sources
    return np.concatenate([np.nonzero(drv == i)[0] for i in ids]) if len(ids) else np.empty(0, np.int64)


def assert_same(got, whole, rows):
    np.testing.assert_array_equal(got.sources, whole.sources[rows])
    np.testing.assert_array_equal(got.targets, whole.targets[rows])
    np.testing.assert_array_equal(got.distances, whole.distances[rows])


@pytest.mark.parametrize("engine", ["auto", "reference"])
@pytest.mark.parametrize("case", sorted(RULES))
def test_random_access_and_pieces_equal_connect(case, engine):
    kw = RULES[case]
    plan = sc.plan(POS, seed=11, engine=engine, **kw)
    whole = plan.connect()
    np.testing.assert_array_equal(whole.sources, sc.connect(POS, seed=11, engine=engine, **kw).sources)
    rng = np.random.default_rng(1)
    ids = np.r_[rng.choice(plan.n_drivers, 25, replace=False), [3, 3, plan.n_drivers - 1]]  # any order, repeats
    assert_same(plan.drivers(ids), whole, _rows(whole, plan, ids))
    # restricted pieces: a block of space and an index range, sent through pickle
    for part in (np.nonzero(POS[:, 0] < 0.3)[0], np.arange(200, 400)):
        piece = pickle.loads(pickle.dumps(plan.restrict(part)))
        assert piece.n_drivers == part.size and piece.partners_held <= plan.partners_held
        c = piece.connect()
        assert_same(c, whole, _rows(whole, plan, part))
        assert_same(piece.drivers(part[::-7]), whole, _rows(whole, plan, part[::-7]))
        assert sum(len(b) for b in (piece.block(0, 5), piece.block(5, piece.n_drivers))) == len(c)


def test_plan_knows_counts_before_sampling():
    p = sc.plan(POS, POS[:100], rule=sc.FixedInDegree(4), kernel=sc.Gaussian(0.1), seed=1)
    assert p.driver == "target" and p.n_drivers == 100 and p.n_partners == 1500
    assert p.degrees.tolist() == [4] * 100 and p.expected_synapses == 400
    total = sc.plan(POS, rule=sc.FixedTotalNumber(999), kernel=sc.Gaussian(0.1), seed=1)
    assert total.degrees.sum() == total.expected_synapses == 999
    np.testing.assert_array_equal(total.degrees, total.connect().out_degrees())
    bern = sc.plan(POS, rule=sc.PairwiseBernoulli(0.2), seed=1)  # uniform: p * N * N exactly
    assert bern.degrees is None and bern.expected_synapses == pytest.approx(0.2 * 1500 * 1500)
    assert "ConnectionPlan" in repr(bern)


def test_every_error_is_raised_by_plan():
    with pytest.raises(ValueError, match="distinct"):
        sc.plan(POS[:10], rule=sc.FixedOutDegree(20), multapses=False)
    with pytest.raises(TypeError, match="rule"):
        sc.plan(POS)
    with pytest.raises(ValueError, match="p \\* K"):
        sc.plan(POS, rule=sc.PairwiseBernoulli(0.9), kernel=sc.Constant(2.0))
    with pytest.raises(ValueError, match="chunk_size"):
        sc.plan(POS, rule=sc.FixedOutDegree(1), chunk_size=0)
    p = sc.plan(POS, rule=sc.FixedOutDegree(1), seed=1)
    for bad, err in ((1500, ValueError), (-1, ValueError), ([0.5], TypeError), ([[1]], TypeError)):
        with pytest.raises(err, match="ids"):
            p.drivers(bad)
    with pytest.raises(ValueError, match="block"):
        p.block(10, 5)
    with pytest.raises(ValueError, match="not a driver of this plan"):
        p.restrict([1, 2]).drivers([3])
    with pytest.raises(ValueError, match="chunk_size"):
        next(p.blocks(0))


def test_empty_and_tiny_plans():
    p = sc.plan(POS[:0], POS, rule=sc.FixedOutDegree(3), seed=1)
    assert p.n_drivers == 0 and len(p.connect()) == 0 and len(p.drivers([])) == 0
    one = sc.plan(POS[:1], POS[:1], rule=sc.FixedOutDegree(2), seed=1)
    assert one.drivers([0, 0]).targets.tolist() == [0, 0, 0, 0]


# -- the boundary: no module reads another object's private attributes ------------------------
PRIVATE = re.compile(r"\b(job|plan|pb|conn|engine|grid|piece|part|unit|problem)\._[a-z]")
ALLOWED = {"connect.py", "connection_plan.py"}


def test_no_module_reads_private_attributes_of_plans_jobs_or_engines():
    src = Path(__file__).resolve().parents[1] / "src" / "spatialconn"
    offenders = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if path.name in ALLOWED or rel.parts[0] == "engine":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if PRIVATE.search(line.split("#")[0]):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("kw", [dict(rule=sc.FixedOutDegree(20)),
                                dict(rule=sc.FixedInDegree(20), multapses=False),
                                dict(rule=sc.PairwiseBernoulli(0.3)),
                                dict(rule=sc.FixedOutDegree(5), mask=sc.Disc(0.05), space=TORUS)])
def test_random_access_in_boxes_around_each_driver(kw, monkeypatch):
    """Few drivers of a large grid: each is sampled in a box of its window (same result)."""
    from spatialconn.engine import grid

    monkeypatch.setattr(grid, "BOX_OVERHEAD_CELLS", 0)
    pos = np.r_[np.random.default_rng(4).random((20_000, 2)) * 0.9, [[0.99, 0.99]]]  # one driver far out
    plan = sc.plan(pos, kernel=sc.Gaussian(0.005), seed=5, **kw)
    whole = plan.connect()
    ids = [20_000, 17, 9_999, 3]
    assert_same(plan.drivers(ids), whole, _rows(whole, plan, ids))
