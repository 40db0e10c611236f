"""Hashes of the synapses of the benchmark networks: run under two versions and diff.

A refactor that must not change results (same seed, same synapses) is
checked by running this script with each version on ``PYTHONPATH`` and
comparing the output line by line. Covers the forum geometry
(``forum.py``: fixed out/in-degree, Bernoulli at 10,000 x 40,000), the
local kernel (``local.py``: every rule at 40,000 x 40,000) and the total
number rules (with and without multapses, uniform sources) on both engines.

Usage::

    PYTHONPATH=/path/to/old/src python benchmarks/result_hashes.py > old.txt
    PYTHONPATH=src python benchmarks/result_hashes.py > new.txt
    diff old.txt new.txt && echo identical
"""

from __future__ import annotations

import hashlib

import numpy as np

import spatialconn as sc


def digest(conn) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(conn.sources, np.int64).tobytes())
    h.update(np.ascontiguousarray(conn.targets, np.int64).tobytes())
    return h.hexdigest()[:16]


def main():
    out = {}
    rng = np.random.default_rng(0)  # the forum geometry of benchmarks/_common.py
    pre, post = rng.normal(size=(10000, 2)), rng.normal(size=(40000, 2))
    kern = sc.Gaussian(1.0)
    out["forum out"] = sc.connect(pre, post, rule=sc.FixedOutDegree(10), kernel=kern, seed=1)
    out["forum in"] = sc.connect(post, pre, rule=sc.FixedInDegree(10), kernel=kern, seed=1)
    out["forum bern"] = sc.connect(pre, post, rule=sc.PairwiseBernoulli(10 / 13333.0), kernel=kern, seed=1)
    pos = np.random.default_rng(0).random((40000, 2))  # benchmarks/local.py
    kern = sc.Gaussian(0.05)
    p = 100 / (2 * np.pi * 0.05**2 * len(pos))
    for name, kw in [("out", dict(rule=sc.FixedOutDegree(100))), ("in", dict(rule=sc.FixedInDegree(100))),
                     ("out nomult", dict(rule=sc.FixedOutDegree(100), multapses=False, autapses=False)),
                     ("total 4e6", dict(rule=sc.FixedTotalNumber(100 * len(pos)))),
                     ("bern", dict(rule=sc.PairwiseBernoulli(p)))]:
        out["local " + name] = sc.connect(pos, pos, kernel=kern, seed=1, **kw)
    small = pos[:10000]
    out["total nomult"] = sc.connect(small, rule=sc.FixedTotalNumber(200000), kernel=kern, multapses=False,
                                     seed=3)
    out["total uniform"] = sc.connect(small, rule=sc.FixedTotalNumber(200000, sources="uniform"), kernel=kern,
                                      seed=3)
    out["ref out"] = sc.connect(pos[:500], rule=sc.FixedOutDegree(5), kernel=kern, seed=3, engine="reference")
    out["ref total nomult"] = sc.connect(pos[:500], rule=sc.FixedTotalNumber(3000), kernel=kern, seed=3,
                                         multapses=False, engine="reference")
    for name, conn in out.items():
        print(f"{name:20s} {digest(conn)}")


if __name__ == "__main__":
    main()
