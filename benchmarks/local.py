"""(b) A local kernel: uniform unit square, Gaussian σ = 0.05, k = 100.

spatialconn at 40,000 x 40,000 for every rule, and, at 10,000 x 10,000
(where the others finish in seconds), side by side with Brian2 2.9
``Synapses.connect(p=...)`` (numpy target) and NEST 3.10. Prints a
markdown table with ratios measured in this one process.

Usage::

    python benchmarks/local.py
    python benchmarks/local.py --only-spatialconn
"""

from __future__ import annotations

import numpy as np
from _common import best_of, brian2_connect, nest_connect, threads

import spatialconn as sc

SIGMA, K = 0.05, 100


def main():
    import sys

    only = "--only-spatialconn" in sys.argv
    rng = np.random.default_rng(0)
    rows = []
    pos = rng.random((40000, 2))
    kern = sc.Gaussian(SIGMA)
    p = K / (2 * np.pi * SIGMA**2 * len(pos))  # about 100 synapses per source away from the edges
    cases = [
        ("fixed out-degree", dict(rule=sc.FixedOutDegree(K))),
        ("fixed in-degree", dict(rule=sc.FixedInDegree(K))),
        ("fixed out-degree, no multapses/autapses", dict(rule=sc.FixedOutDegree(K), multapses=False,
                                                        autapses=False)),
        ("fixed total number 4·10^6", dict(rule=sc.FixedTotalNumber(K * len(pos)))),
        (f"Bernoulli p={p:.3f}·K", dict(rule=sc.PairwiseBernoulli(p))),
    ]
    sc.connect(pos[:2000], rule=sc.FixedOutDegree(5), kernel=kern, seed=0)
    for name, kw in cases:
        sc.connect(pos, pos, kernel=kern, seed=0, **kw)
        t, c = best_of(lambda: sc.connect(pos, pos, kernel=kern, seed=1, **kw), 3)
        rows.append(("40,000 x 40,000", name, "spatialconn", t, len(c), None))
    small = pos[:10000]
    if only:
        _print(rows)
        return
    ps = K / (2 * np.pi * SIGMA**2 * len(pos))  # same density of connections per unit area
    t_sc, c = best_of(lambda: sc.connect(small, small, rule=sc.PairwiseBernoulli(ps), kernel=kern, seed=1), 3)
    rows.append(("10,000 x 10,000", f"Bernoulli p={ps:.3f}·K", "spatialconn", t_sc, len(c), None))
    t, n = brian2_connect(small, SIGMA, ps)  # time of Synapses.connect only
    rows.append(("10,000 x 10,000", f"Bernoulli p={ps:.3f}·K", "Brian2 2.9 connect(p=...), numpy", t, n,
                 t / t_sc))
    t, n = nest_connect(small, small, SIGMA, "pairwise_bernoulli", ps)
    rows.append(("10,000 x 10,000", f"Bernoulli p={ps:.3f}·K", "NEST 3.10 pairwise_bernoulli", t, n, t / t_sc))
    t_sc, c = best_of(lambda: sc.connect(small, small, rule=sc.FixedOutDegree(K), kernel=kern, seed=1), 3)
    rows.append(("10,000 x 10,000", "fixed out-degree", "spatialconn", t_sc, len(c), None))
    t, n = nest_connect(small, small, SIGMA, "fixed_outdegree", K)
    rows.append(("10,000 x 10,000", "fixed out-degree", "NEST 3.10 fixed_outdegree", t, n, t / t_sc))
    _print(rows)


def _print(rows):
    print(f"\nlocal kernel, spatialconn on {threads()} thread(s); ratio = other / spatialconn, same run\n")
    print("| sources x targets | rule | method | time | synapses | synapses/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for size, rule, method, t, n, ratio in rows:
        r = "" if ratio is None else f"{ratio:,.0f}x"
        print(f"| {size} | {rule} | {method} | {t * 1e3:,.0f} ms | {n:,} | {n / t:.2e} | {r} |")


if __name__ == "__main__":
    main()
