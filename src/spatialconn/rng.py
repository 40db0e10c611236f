"""Random streams keyed by driver index (counter-based).

Every driver ``i`` has its own stream, a Philox generator whose key comes
from the user's seed and whose counter starts at ``(0, 0, i, stream)``; so
the numbers a driver uses do not depend on which thread, chunk or worker
handles it, and results are bit-identical for any parallel layout. The
compiled engine derives its own streams from the same :func:`root_key`.

Examples
--------
>>> key = root_key(42)
>>> a = driver_generator(key, 7).random()
>>> b = driver_generator(key, 7).random()
>>> a == b
True
"""

from __future__ import annotations

import numbers

import numpy as np

#: stream tags: per-driver draws, and one global stream for rule-level draws
DRIVER_STREAM = 0
GLOBAL_STREAM = 1


def root_key(seed) -> np.ndarray:
    """128-bit key (two uint64) derived from ``seed``.

    Parameters
    ----------
    seed : None, int or numpy.random.SeedSequence
        ``None`` draws fresh entropy from the operating system.

    Raises
    ------
    TypeError
        If ``seed`` is of another type.
    ValueError
        If ``seed`` is a negative integer.
    """
    if seed is None:
        seq = np.random.SeedSequence()
    elif isinstance(seed, np.random.SeedSequence):
        seq = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        seq = np.random.SeedSequence(int(seed))
    else:
        raise TypeError(f"seed must be None, an int or a numpy SeedSequence, got {seed!r}")
    return seq.generate_state(2, np.uint64)


def driver_generator(key: np.ndarray, driver: int, stream: int = DRIVER_STREAM) -> np.random.Generator:
    """The generator of driver ``driver`` (or of a global ``stream``).

    Streams of different drivers are disjoint blocks of one Philox4x64
    sequence, 2**128 draws apart.
    """
    counter = np.array([0, 0, int(driver), int(stream)], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=counter))


def global_generator(key: np.ndarray) -> np.random.Generator:
    """The generator for draws that belong to the whole call (e.g. multinomial counts)."""
    return driver_generator(key, 0, GLOBAL_STREAM)
