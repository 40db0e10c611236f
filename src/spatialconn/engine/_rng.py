"""Compiled counter-keyed random streams for the grid engine.

Each driver ``i`` gets its own xoshiro256** generator whose 256-bit state
is derived with splitmix64 from the call's root key, the driver index and
a stream tag. The numbers a driver uses therefore do not depend on the
thread, chunk or block that handles it, which makes the engine's output
bit-identical for any ``NUMBA_NUM_THREADS`` and any chunking.

References
----------
Blackman D. and Vigna S. (2021) Scrambled linear pseudorandom number
generators. ACM Trans. Math. Softw. 47(4).
Steele G. L., Lea D. and Flood C. H. (2014) Fast splittable pseudorandom
number generators (splitmix64). OOPSLA.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TAG = np.uint64(0xD1B54A32D192ED03)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def seed(state, key0, key1, driver, stream):
    """Fill ``state`` (4 uint64) with the stream of ``driver`` under the root key."""
    z = _mix(key0 ^ _mix(key1 + _GOLDEN * (np.uint64(driver) + np.uint64(1))) ^ (np.uint64(stream) * _TAG))
    for n in range(4):
        z = z + _GOLDEN
        state[n] = _mix(z)
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = _GOLDEN


@njit(cache=True, inline="always")
def next_u64(s):
    """Next 64-bit output of xoshiro256** (advances ``s`` in place)."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def uniform(s):
    """Uniform double in ``[0, 1)`` with 53 random bits."""
    return np.float64(next_u64(s) >> np.uint64(11)) * _INV53


@njit(cache=True, inline="always")
def uniform_open(s):
    """Uniform double in ``(0, 1)`` (safe for ``log``)."""
    return (np.float64(next_u64(s) >> np.uint64(11)) + 0.5) * _INV53


@njit(cache=True, inline="always")
def below(s, n):
    """Uniform integer in ``[0, n)`` (``n >= 1``); bias below 2**-52 relative."""
    j = np.int64(uniform(s) * n)
    return j if j < n else n - 1
