"""Digests of the synapses of 168 small problems: do two source trees give the same networks?

Dimensions 1-3, open or periodic space, every rule (out-degree, in-degree,
Bernoulli, total number), Gaussian and exponential kernels, with and without
a disc mask, with and without multapses. A change that must keep the random
streams (a speed-up of the core, say) leaves every line the same::

    PYTHONPATH=/path/to/before/src python benchmarks/stream_digest.py > before.txt
    PYTHONPATH=src python benchmarks/stream_digest.py > after.txt
    diff before.txt after.txt && echo identical

The golden tests (tests/test_golden.py) pin a few networks in the repository;
this covers more combinations, between two trees, without storing them.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

import spatialconn as sc


def main():
    rng = np.random.default_rng(5)
    rules = {"out": sc.FixedOutDegree(7), "in": sc.FixedInDegree(7), "bern": sc.PairwiseBernoulli(0.5),
             "total": sc.FixedTotalNumber(20000)}
    for d, periodic, rule, kernel, mask, multapses in itertools.product(
            [1, 2, 3], [False, True], list(rules), ["g", "e"], [None, "disc"], [True, False]):
        if rule == "bern" and not multapses:
            continue
        n = {1: 3000, 2: 4000, 3: 3000}[d]
        a, b = rng.random((n, d)), rng.random((n + 500, d))
        c = sc.connect(a, b, rule=rules[rule], kernel=sc.Gaussian(0.05) if kernel == "g" else sc.Exponential(0.05),
                       mask=sc.Disc(0.2) if mask else None, space=sc.Space(extent=[(0, 1)] * d, periodic=periodic),
                       multapses=multapses, seed=3)
        digest = hashlib.sha256(np.asarray(c.sources).tobytes() + np.asarray(c.targets).tobytes()).hexdigest()[:12]
        print(d, periodic, rule, kernel, mask, multapses, len(c), digest)


if __name__ == "__main__":
    main()
