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


def seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """The one parser of user seeds: ``None``, a non-negative int or a ``SeedSequence``.

    ``None`` draws fresh entropy from the operating system; a given
    ``SeedSequence`` is returned as is (never spawned from, so never mutated).

    Raises
    ------
    TypeError
        If ``seed`` is of another type (a bool, a float, a string).
    ValueError
        If ``seed`` is a negative integer.

    Examples
    --------
    >>> int(seed_sequence(7).entropy)
    7
    >>> seed_sequence(1.0)
    Traceback (most recent call last):
    ...
    TypeError: seed must be None, an int or a numpy SeedSequence, got 1.0
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        if seed < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"{name} must be None, an int or a numpy SeedSequence, got {seed!r}")


def root_key(seed) -> np.ndarray:
    """128-bit key (two uint64) derived from ``seed`` (see :func:`seed_sequence`)."""
    return seed_sequence(seed).generate_state(2, np.uint64)


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
