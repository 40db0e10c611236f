"""Partner settings shared by the kernel tests: a masked square and a torus.

Each gives one driver position, partners spread so that both near and far
cells are used, the displacement function the exact weights need, and the
space and mask to connect with.
"""

from __future__ import annotations

import numpy as np

import spatialconn as sc
from spatialconn.space import wrap

TORUS = sc.Space([(0, 1), (0, 1)], periodic=True)
MASK = sc.Box([-0.5, -0.7], [0.8, 0.6])


def partners(setting: str, n: int, seed: int):
    """(driver position, partners, displacement function, space, mask) of ``"torus"`` or ``"mask"``."""
    rng = np.random.default_rng(seed)
    if setting == "torus":
        center = np.array([0.05, 0.95])
        par = rng.random((n, 2))
        par[: n // 2] = (center + rng.uniform(-0.3, 0.3, (n // 2, 2))) % 1.0
        return center, par, lambda c, p: wrap(p - c, TORUS.periods), TORUS, None
    return np.zeros(2), rng.uniform(-1, 1, (n, 2)), lambda c, p: p - c, None, MASK
