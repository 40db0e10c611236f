"""Small validators shared by the declarative objects; each names the argument."""

from __future__ import annotations

import numbers

import numpy as np

from ._units import plain


def finite_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array; ``ValueError`` naming ``name`` if not finite."""
    try:
        arr = plain(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} must be finite, found {arr[tuple(bad)]} at index {tuple(bad.tolist())}")
    return arr


def positive(value, name: str, allow_inf: bool = False) -> float:
    """A scalar > 0 (NaN rejected); returns it as float."""
    v = scalar(value, name)
    if not v > 0 or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a positive finite number, got {v}")
    return v


def scalar(value, name: str) -> float:
    """A real scalar (unit magnitudes in SI)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        arr = plain(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {value!r}") from exc
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    v = float(arr)
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    return v


def counts(value, name: str) -> np.ndarray:
    """Non-negative integer count(s) as an int64 array (0-d for a scalar)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer or an integer array, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{name} must be an integer or an integer array, got {value!r}")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            bad = arr[~np.isfinite(arr) | (arr != np.round(arr))].ravel()[0]
            raise ValueError(f"{name} must hold whole numbers, got {bad}")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer or an integer array, got dtype {arr.dtype}")
    if np.any(arr < 0):
        idx = int(np.argmax(arr.ravel() < 0))
        where = f" at index {idx}" if arr.ndim else ""
        raise ValueError(f"{name} must be non-negative, got {arr.ravel()[idx]}{where}")
    return arr.astype(np.int64)


def is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, name: str) -> int:
    """An integer >= 1 (bools rejected); ``ValueError`` naming ``name`` otherwise.

    Examples
    --------
    >>> positive_int(3, "chunk_size")
    3
    """
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
