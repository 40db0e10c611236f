"""Tests of spatialconn.check: it passes what the rules produce and catches what they do not."""

from __future__ import annotations

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.check import check_projection
from spatialconn.spec import Projection

POS = np.random.default_rng(7).random((600, 2))
OTHER = np.random.default_rng(8).random((500, 2))
TORUS = sc.Space([(0, 1), (0, 1)], periodic=True)

RULES = [
    (sc.FixedOutDegree(10), True), (sc.FixedOutDegree(10), False),
    (sc.FixedInDegree(10), True), (sc.FixedInDegree(10), False),
    (sc.FixedTotalNumber(5000), True), (sc.FixedTotalNumber(5000), False),
    (sc.FixedTotalNumber(5000, sources="uniform"), True),
    (sc.FixedTotalNumber(5000, sources="uniform"), False),
    (sc.PairwiseBernoulli(0.6), False),
]


def build(rule, multapses, recurrent=True, kernel=sc.Gaussian(0.05), seed=11):
    tgt = POS if recurrent else OTHER
    proj = Projection("p", "a", "a" if recurrent else "b", rule, kernel, sc.Disc(0.25), TORUS,
                      multapses=multapses, autapses=False, seed=seed)
    conn = sc.connect(POS, None if recurrent else OTHER, rule=rule, kernel=kernel, mask=proj.mask,
                      space=TORUS, multapses=multapses, autapses=False, seed=seed)
    return proj, conn, tgt


@pytest.mark.parametrize("rule, multapses", RULES, ids=lambda x: repr(x))
@pytest.mark.parametrize("recurrent", [True, False])
def test_passes_what_the_rule_makes_and_fails_a_wrong_kernel(rule, multapses, recurrent):
    proj, conn, tgt = build(rule, multapses, recurrent)
    # a strict level, so that a change of the engine's random stream does not make this flaky
    report = check_projection(conn.sources, conn.targets, proj, POS, tgt, alpha=1e-4)
    assert report.passed, report.lines()
    wrong = Projection(**{**proj.__dict__, "kernel": sc.Gaussian(0.04)})
    bad = check_projection(conn.sources, conn.targets, wrong, POS, tgt)
    failed = [c.name for c in bad.checks if not c.passed]
    # the kernel's scale matters for Bernoulli, so its count test fails too
    assert failed == (["counts", "distances"] if isinstance(rule, sc.PairwiseBernoulli) else ["distances"])


def test_catches_wrong_counts_autapses_multapses_and_zero_weights():
    proj, conn, tgt = build(sc.FixedOutDegree(10), False)
    s, t = conn.sources.copy(), conn.targets.copy()
    s2, t2 = s[1:], t[1:]
    assert "counts" in _failed(s2, t2, proj)
    s3, t3 = s.copy(), t.copy()
    t3[0] = s3[0]
    assert "autapses" in _failed(s3, t3, proj)
    s4, t4 = s.copy(), t.copy()
    t4[1] = t4[0]
    assert "multapses" in _failed(s4, t4, proj)
    s5, t5 = s.copy(), t.copy()
    far = np.argmax(np.linalg.norm(TORUS.displacement(POS[s5[0]], POS), axis=1))
    t5[0] = far
    assert "weights" in _failed(s5, t5, proj)
    t6 = t.copy()
    t6[0] = 10_000
    report = check_projection(s, t6, proj, POS, POS)
    assert not report.passed and report.checks[0].name == "indices"


def test_bernoulli_count_test():
    proj, conn, tgt = build(sc.PairwiseBernoulli(0.6), False, recurrent=False)
    keep = np.random.default_rng(0).random(len(conn)) < 0.9  # drop 10% of the synapses
    assert "counts" in _failed(conn.sources[keep], conn.targets[keep], proj, tgt)


def test_large_projection_uses_a_driver_subset():
    proj, conn, tgt = build(sc.FixedOutDegree(10), True)
    report = check_projection(conn.sources, conn.targets, proj, POS, tgt, max_pairs=100 * 600, alpha=1e-4)
    assert report.passed
    assert "100 random drivers" in report.checks[-1].detail


def _failed(s, t, proj, tgt=POS):
    report = check_projection(s, t, proj, POS, tgt)
    return [c.name for c in report.checks if not c.passed]
