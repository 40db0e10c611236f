"""spatialconn: exact, fast spatial connectivity with fixed synapse counts.

>>> import numpy as np, spatialconn as sc
>>> pos = np.random.default_rng(0).random((200, 2))
>>> conn = sc.connect(pos, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.1), seed=1)
>>> len(conn)
2000
"""

from .connect import connect, iter_connect, plan
from .connection_plan import ConnectionPlan
from .connections import Connections
from .kernels import (
    AnisotropicGaussian,
    Constant,
    CustomKernel,
    Exponential,
    Expression,
    Gamma,
    Gaussian,
    Kernel,
    Linear,
    Shifted,
)
from .masks import Annulus, Box, Disc, Ellipse, Mask, RotatedBox
from .rules import FixedInDegree, FixedOutDegree, FixedTotalNumber, PairwiseBernoulli, PairwisePoisson, Rule
from .space import Space

__version__ = "0.1.0"

#: submodules loaded on first use (``sc.plot`` needs matplotlib, which stays optional)
_LAZY = {"plot", "spec", "check", "io"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "plan",
    "ConnectionPlan",
    "connect",
    "iter_connect",
    "Connections",
    "Rule",
    "FixedOutDegree",
    "FixedInDegree",
    "FixedTotalNumber",
    "PairwiseBernoulli",
    "PairwisePoisson",
    "Kernel",
    "Gaussian",
    "Exponential",
    "Gamma",
    "Linear",
    "Constant",
    "AnisotropicGaussian",
    "CustomKernel",
    "Expression",
    "Shifted",
    "Mask",
    "Disc",
    "Annulus",
    "Box",
    "RotatedBox",
    "Ellipse",
    "Space",
]
