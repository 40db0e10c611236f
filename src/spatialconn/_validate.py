"""Small validators shared by the declarative objects; each names the argument."""

from __future__ import annotations

import numbers

import numpy as np

from ._units import plain

#: largest count (degree, total) accepted: sums of a few of them still fit in int64
MAX_COUNT = 2**62


def real(value, name: str, what: str = "numeric") -> None:
    """Refuse strings, booleans and complex numbers where real numbers are expected (``TypeError``).

    Examples
    --------
    >>> real([1.0, 2], "sigma")
    >>> real("1", "sigma")
    Traceback (most recent call last):
    ...
    TypeError: sigma must be numeric, got '1' (a string)
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {what}, got {value!r} (a string)")
    try:
        kind = np.asarray(value).dtype.kind
    except (TypeError, ValueError):  # ragged or exotic: plain() decides
        return
    names = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "strings", "V": "raw bytes",
             "M": "dates", "m": "time spans"}
    if kind in names:
        shown = f"{value!r}" if np.ndim(value) == 0 else f"an array of {names[kind]}"
        raise TypeError(f"{name} must be {what}, got {shown}")


def positive_int(value, name: str, maximum: int = MAX_COUNT) -> int:
    """An integer ``1 <= value <= maximum`` (Python or numpy; never a bool or a float).

    Examples
    --------
    >>> positive_int(np.int32(5), "chunk_size")
    5
    >>> positive_int(2.0, "chunk_size")
    Traceback (most recent call last):
    ...
    ValueError: chunk_size must be a positive integer, got 2.0
    """
    if not is_integer(value) or not 1 <= value <= maximum:
        limit = f" (at most {maximum})" if is_integer(value) and value > maximum else ""
        raise ValueError(f"{name} must be a positive integer{limit}, got {value!r}")
    return int(value)


def finite_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array; ``ValueError`` naming ``name`` if not finite."""
    real(value, name)
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
    v = scalar(value, name, allow_inf=True)
    if not v > 0 or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a positive finite number, got {v}")
    return v


def scalar(value, name: str, allow_inf: bool = False) -> float:
    """A real scalar (unit magnitudes in SI), finite unless ``allow_inf``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    real(value, name, "a number")
    try:
        arr = plain(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {value!r}") from exc
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    v = float(arr)
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    if np.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def counts(value, name: str) -> np.ndarray:
    """Non-negative integer count(s) as an int64 array (0-d for a scalar)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer or an integer array, got {value!r}")
    if is_integer(value) and value > MAX_COUNT:  # beyond int64, numpy would make it an object
        raise ValueError(f"{name} must be at most 2**62, got {value}")
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
    big = arr > MAX_COUNT  # compared before any cast: 2**63 as uint64 or 1e20 as float stay themselves
    if np.any(big):
        idx = int(np.argmax(big.ravel()))
        where = f" at index {idx}" if arr.ndim else ""
        raise ValueError(f"{name} must be at most 2**62, got {arr.ravel()[idx]:.6g}{where}")
    return arr.astype(np.int64)


def is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
