"""The compiled core's primitives on their own, against numpy and a plain Python definition.

The random streams (splitmix64 key derivation, xoshiro256**), the Vose
alias table and the hash set of chosen partners, each checked outside the
sampling loops that use them.
"""

from __future__ import annotations

import numpy as np
import pytest

from spatialconn.engine import _core

from .stats import ALPHA, REJECT, chi2_pvalue

MASK = (1 << 64) - 1
GOLDEN, TAG = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def _xoshiro(key0, key1, driver, stream, n):
    """The engine's stream of ``driver``, written out in Python integers (the definition)."""
    z = _mix(key0 ^ _mix((key1 + GOLDEN * (driver + 1)) & MASK) ^ ((stream * TAG) & MASK))
    s = []
    for _ in range(4):
        z = (z + GOLDEN) & MASK
        s.append(_mix(z))
    out = []
    for _ in range(n):
        out.append((_rotl((s[1] * 5) & MASK, 7) * 9) & MASK)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
    return out


@pytest.mark.parametrize("key0, key1, driver, stream", [(0, 0, 0, 0), (123, 456, 7, 2), (MASK, 1, 10**12, 5)])
def test_stream_matches_its_definition(key0, key1, driver, stream):
    raw = _core.rng_u64(key0, key1, driver, stream, 50)
    assert raw.tolist() == _xoshiro(key0, key1, driver, stream, 50)
    u = _core.rng_uniform(key0, key1, driver, stream, 50)
    np.testing.assert_array_equal(u, (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    uo = _core.rng_uniform(key0, key1, driver, stream, 50, open=True)
    np.testing.assert_array_equal(uo, ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53)
    assert np.all((uo > 0) & (uo < 1))


def test_streams_differ_by_driver_and_tag():
    a = _core.rng_u64(1, 2, 0, 0, 4)
    assert not np.array_equal(a, _core.rng_u64(1, 2, 1, 0, 4))
    assert not np.array_equal(a, _core.rng_u64(1, 2, 0, 2, 4))


def test_uniform_and_below_are_uniform():
    u = _core.rng_uniform(9, 9, 3, 0, 200_000)
    assert chi2_pvalue(np.bincount((u * 50).astype(int), minlength=50), np.full(50, 4000.0)) > ALPHA
    j = _core.rng_below(9, 9, 4, 0, 7, 70_000)
    assert j.min() == 0 and j.max() == 6
    assert chi2_pvalue(np.bincount(j, minlength=7), np.full(7, 10_000.0)) > ALPHA


def test_alias_table_draws_its_weights():
    w = np.array([0.0, 1.0, 3.0, 0.5, 10.0, 0.0, 2.5, 1e-3])
    draws = _core.alias_draws(w, 5, 400_000)
    counts = np.bincount(draws, minlength=w.size)
    assert counts[w == 0].sum() == 0
    expected = 400_000 * w / w.sum()
    assert chi2_pvalue(counts[w > 0], expected[w > 0]) > ALPHA
    # negative control: uniform counts over the non-zero entries are rejected
    flat = np.full(int((w > 0).sum()), 400_000 / (w > 0).sum())
    assert chi2_pvalue(flat.round(), expected[w > 0]) < REJECT


def test_alias_table_rejects_all_zero_weights():
    with pytest.raises(ValueError, match="every weight is 0"):
        _core.alias_draws(np.zeros(3), 0, 1)


def test_hash_set_reports_first_occurrences():
    values = np.random.default_rng(0).integers(0, 500, 300).astype(np.int64)
    values[:5] = [0, 2**40, 1, 2**40, 3]  # large values, one repeated
    new = _core.hash_set(values, 512)
    _, first = np.unique(values, return_index=True)
    want = np.zeros(values.size, dtype=bool)
    want[first] = True
    np.testing.assert_array_equal(new, want)


def test_bin_points_is_a_stable_counting_sort():
    rng = np.random.default_rng(1)
    pos = rng.random((1000, 2)) * [3.0, 2.0] - 0.5
    lo, h, G = np.array([-0.5, -0.5]), np.array([1.0, 1.0]), np.array([3, 2])
    start, order, out = np.empty(7, np.int64), np.empty(1000, np.int64), np.empty((1000, 2))
    _core.bin_points(pos, lo, h, G, start, order, out)
    cells = np.clip(np.floor((pos - lo) / h).astype(np.int64), 0, G - 1) @ np.array([2, 1])
    np.testing.assert_array_equal(order, np.argsort(cells, kind="stable"))
    np.testing.assert_array_equal(start, np.r_[0, np.cumsum(np.bincount(cells, minlength=6))])
    np.testing.assert_array_equal(out, pos[order])


def test_first_use_writes_nothing(tmp_path):
    """A read-only install works: importing and sampling write no cache, to HOME or the package."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import spatialconn

    home = tmp_path / "home"
    home.mkdir()
    package = Path(spatialconn.__file__).parent
    before = sorted(str(p) for p in package.rglob("*") if "__pycache__" not in p.parts)
    script = ("import numpy as np, spatialconn as sc; pos = np.random.default_rng(0).random((500, 2));"
              "print(len(sc.connect(pos, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=1)))")
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2500" and out.stderr == ""
    assert list(home.iterdir()) == []
    assert sorted(str(p) for p in package.rglob("*") if "__pycache__" not in p.parts) == before


def test_calls_from_several_python_threads_agree():
    """The GIL is released while sampling; concurrent calls give what serial calls give."""
    from concurrent.futures import ThreadPoolExecutor

    import spatialconn as sc

    pos = np.random.default_rng(2).random((3000, 2))

    def run(seed):
        c = sc.connect(pos, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.05), multapses=False, seed=seed)
        return c.sources.tobytes() + c.targets.tobytes()

    serial = [run(s) for s in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(run, range(4))) == serial


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_thread_count_is_named(monkeypatch, value):
    from spatialconn.engine.grid import threads

    monkeypatch.setenv("SPATIALCONN_THREADS", value)
    with pytest.raises(ValueError, match="SPATIALCONN_THREADS must be a positive integer"):
        threads()
    monkeypatch.setenv("SPATIALCONN_THREADS", "3")
    assert threads() == 3


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("periods", [[np.inf, np.inf, np.inf], [1.0, np.inf, 2.5], [1.0, 1.0, 1.0]])
def test_pair_distances_equal_numpy_bit_for_bit(dtype, periods):
    """The compiled distances of the writers are those of the numpy definition (wrap, sum of squares, sqrt)."""
    from spatialconn.engine.grid import pair_distances
    from spatialconn.space import wrap

    rng = np.random.default_rng(5)
    a, b = rng.random((700, 3)) * 3 - 1, rng.random((300, 3))
    ia, ib = rng.integers(0, 700, 300_000).astype(dtype), rng.integers(0, 300, 300_000).astype(dtype)
    periods = np.array(periods)
    sq = np.zeros(ia.size)
    for axis in range(3):
        delta = wrap(b[ib, axis] - a[ia, axis], periods[axis])
        sq += delta * delta
    np.testing.assert_array_equal(pair_distances(ia, ib, a, b, periods), np.sqrt(sq))


@pytest.mark.parametrize("L", [1.0, 0.3, 4.0, 1e-3])
def test_minimum_image_shortcut_is_exact_at_its_edges(L):
    """Near |x| = 0.49 L (where the core skips the floor) and 0.5 L the wrap is numpy's, bit for bit."""
    from spatialconn.engine.grid import pair_distances
    from spatialconn.space import wrap

    edges = np.array([0.49, 0.5, 0.51, 0.0, 1.0, 1.49, 1.5]) * L
    x = np.concatenate([np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), edges])
    x = np.concatenate([x, -x, np.random.default_rng(2).uniform(-2 * L, 2 * L, 1000)])
    want = wrap(x, np.array([L]))
    got = np.empty_like(x)
    _core.min_image(x, L, got)  # signed, as kernels and masks see it
    np.testing.assert_array_equal(got, want)
    dist = pair_distances(np.zeros(x.size, np.int64), np.arange(x.size), np.zeros((1, 1)), x[:, None], np.array([L]))
    np.testing.assert_array_equal(dist, np.sqrt(want**2))


def test_pair_distances_refuse_an_index_out_of_range():
    a = np.zeros((3, 2))
    out = np.empty(2)
    with pytest.raises(ValueError, match="out of range"):
        _core.pair_distances(np.array([0, 3]), np.array([0, 1]), a, a, np.full(2, np.inf), out, 1)
    with pytest.raises(ValueError, match="out of range"):
        _core.pair_distances(np.array([0, -1], np.int32), np.array([0, 1], np.int32), a, a, np.full(2, np.inf), out,
                             2)
