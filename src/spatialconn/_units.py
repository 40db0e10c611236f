"""Unit handling at the API boundary.

spatialconn computes with plain float64 arrays. Positions and length
parameters may carry physical units (Brian2 ``Quantity`` objects, recognised
by their ``dim`` attribute); they are converted to SI floats once, at the
boundary, after checking that every length has the dimension of the
positions. Nothing inside the engines sees a unit.
"""

from __future__ import annotations

import numpy as np


def dimension_of(value):
    """Return the physical dimension of ``value``, or ``None`` if it has none.

    Lists and tuples of quantities (``[(0*um, 500*um)]``) have the common
    dimension of their elements.

    Examples
    --------
    >>> dimension_of(1.5) is None
    True
    """
    if isinstance(value, (list, tuple)):
        dims = {_key(dimension_of(v)) for v in value}
        if len(dims) > 1:
            raise ValueError(f"{value!r} mixes quantities of different dimensions")
        return dimension_of(value[0]) if value else None
    dim = getattr(value, "dim", None)
    if dim is None or getattr(dim, "is_dimensionless", False):
        return None
    return dim


def plain(value) -> np.ndarray:
    """SI magnitude of ``value`` as a float64 array (units dropped)."""
    if isinstance(value, (list, tuple)):
        return np.array([plain(v) for v in value], dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _key(dim):
    return None if dim is None else str(dim)


class UnitContext:
    """The length unit of a call: the dimension of the positions, if any.

    Parameters
    ----------
    sample : array-like
        The source positions; their dimension becomes the length dimension.

    Examples
    --------
    >>> ctx = UnitContext(np.zeros((3, 2)))
    >>> ctx.length(0.5, "sigma")
    0.5
    """

    def __init__(self, sample):
        self.dim = dimension_of(sample)
        self._cls = type(sample) if self.dim is not None else None

    def check_positions(self, value, name: str) -> None:
        dim = dimension_of(value)
        if dim != self.dim:
            raise ValueError(
                f"{name} has dimension {_describe(dim)} but the source positions have "
                f"dimension {_describe(self.dim)}; give all positions in the same unit"
            )

    def length(self, value, name: str, power: int = 1):
        """Convert a length-like parameter (``length**power``) to SI floats.

        Raises ``ValueError`` (mentioning units and dimensions) when the value
        carries a unit and the positions do not, or the reverse, or when the
        dimensions disagree.
        """
        if value is None:
            return None
        dim = dimension_of(value)
        expected = None if self.dim is None else self.dim**power
        if dim is None and expected is not None and np.any(plain(value) != 0):  # 0 needs no unit
            raise ValueError(
                f"{name}={value!r} has no unit but the positions carry the dimension "
                f"{_describe(self.dim)}; give {name} with a unit (e.g. {name}=100*um)"
            )
        if dim is not None and expected is None:
            raise ValueError(
                f"{name}={value!r} carries a unit (dimension {_describe(dim)}) but the "
                f"positions are plain numbers; give both with units or neither"
            )
        if dim is not None and dim != expected:
            raise ValueError(
                f"{name}={value!r} has dimension {_describe(dim)}, expected "
                f"{_describe(expected)} to match the positions"
            )
        out = plain(value)
        return float(out) if out.ndim == 0 else out

    def attach(self, values: np.ndarray):
        """Give ``values`` (SI floats) the length unit of the positions."""
        if self.dim is None:
            return values
        return self._cls(values, dim=self.dim)


def _describe(dim) -> str:
    return "dimensionless (no unit)" if dim is None else f"'{dim}'"
