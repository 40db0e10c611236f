"""The space neurons live in: open Euclidean, or a periodic box (torus)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import finite_array


@dataclass(frozen=True)
class Space:
    """A box of space, optionally periodic (a torus, NEST's ``edge_wrap``).

    Displacements between neurons use the minimum-image convention along
    every periodic axis: each component is wrapped into ``[-L/2, L/2)`` where
    ``L`` is that axis' length.

    Parameters
    ----------
    extent : sequence of (low, high)
        One ``(low, high)`` pair per axis; positions must lie inside.
    periodic : bool or sequence of bool, default True
        Whether each axis wraps around.

    Examples
    --------
    >>> import spatialconn as sc
    >>> torus = sc.Space(extent=[(0, 1), (0, 1)], periodic=True)
    >>> torus.displacement(np.array([[0.05, 0.5]]), np.array([[0.95, 0.5]]))
    array([[-0.1,  0. ]])

    References
    ----------
    NEST ``nest.spatial.free(..., extent=..., edge_wrap=True)``.
    """

    extent: tuple
    periodic: bool | tuple = True

    _length_fields = {"extent": 1}

    def __post_init__(self):
        ext = finite_array(self.extent, "space.extent")
        if ext.ndim != 2 or ext.shape[1] != 2 or not 1 <= ext.shape[0] <= 3:
            raise ValueError(
                f"space.extent must be 1 to 3 (low, high) pairs, got shape {ext.shape}"
            )
        if np.any(ext[:, 1] <= ext[:, 0]):
            raise ValueError(f"space.extent needs low < high on every axis, got {ext.tolist()}")
        flags = np.asarray(self.periodic, dtype=object)
        if flags.ndim > 1 or (flags.ndim == 1 and flags.size != ext.shape[0]):
            raise ValueError(f"space.periodic must be one flag or one per axis ({ext.shape[0]}), "
                             f"got {self.periodic!r}")
        if not all(isinstance(f, (bool, np.bool_)) for f in flags.ravel()):
            raise TypeError(f"space.periodic must be True, False or one of them per axis, got {self.periodic!r}")
        per = np.broadcast_to(flags.astype(bool), (ext.shape[0],))
        object.__setattr__(self, "periodic", tuple(bool(p) for p in per))

    @property
    def ndim(self) -> int:
        return len(self.periodic)

    @property
    def bounds(self) -> np.ndarray:
        """Array ``(ndim, 2)`` of the extent in plain numbers."""
        return np.asarray(self.extent, dtype=np.float64)

    @property
    def lengths(self) -> np.ndarray:
        """Length of each axis."""
        b = self.bounds
        return b[:, 1] - b[:, 0]

    @property
    def periods(self) -> np.ndarray:
        """Period of each axis; ``inf`` for an open axis."""
        return np.where(self.periodic, self.lengths, np.inf)

    def displacement(self, origin: np.ndarray, point: np.ndarray) -> np.ndarray:
        """Displacement ``point - origin`` with minimum-image wrapping.

        Broadcasts like ``point - origin``; the last axis holds coordinates.
        """
        disp = np.asarray(point, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
        return wrap(disp, self.periods)


def wrap(disp: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Wrap displacement components into ``[-L/2, L/2)`` on periodic axes."""
    if np.all(np.isinf(periods)):
        return disp
    L = np.where(np.isinf(periods), 0.0, periods)
    safe = np.where(L > 0, L, 1.0)
    wrapped = disp - L * np.floor(disp / safe + 0.5)
    return np.where(L > 0, wrapped, disp)


def displacement(space: Space | None, origin, point) -> np.ndarray:
    """``point - origin`` in ``space`` (open Euclidean when ``space`` is None)."""
    if space is None:
        return np.asarray(point, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    return space.displacement(origin, point)
