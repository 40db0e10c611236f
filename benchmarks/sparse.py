"""Sparse partners: about one neuron per unit area and σ of 0.5–3 spacings, k = 100.

Here the kernel's scale is comparable to the spacing of the neurons, so
only a few partners lie within a σ of a driver (a sparse layer, or a fine
kernel on a coarse grid of neurons). Measures ``sc.connect`` wall time
(best of ``--repeat``) for out-degree with and without multapses, and
counts the drivers the grid engine samples exactly over every partner
(``grid.exact_fallbacks``; O(N) each). Run it against two checkouts with
``PYTHONPATH=<checkout>/src`` to compare versions side by side.

Usage::

    python benchmarks/sparse.py               # 40,000 neurons
    python benchmarks/sparse.py --n 80000

Prints a markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import best_of

import spatialconn as sc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=40_000)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args(argv)
    pos = np.random.default_rng(0).random((a.n, 2)) * np.sqrt(a.n)  # one neuron per unit area
    sc.connect(pos[:100], rule=sc.FixedOutDegree(1), kernel=sc.Gaussian(1.0), seed=0)  # compile / load
    print(f"{a.n:,} neurons, one per unit area, FixedOutDegree({a.k}), Gaussian\n")
    print("| σ | multapses | time | drivers sampled over every partner |")
    print("|---|---|---|---|")
    for sigma in (0.5, 1.0, 3.0):
        for multapses in (True, False):
            kw = dict(rule=sc.FixedOutDegree(a.k), kernel=sc.Gaussian(sigma), multapses=multapses, seed=1)
            t, _ = best_of(lambda: sc.connect(pos, **kw), a.repeat)
            try:
                from spatialconn.engine.grid import exact_fallbacks

                job = sc.plan(pos, **kw)
                slow = str(int(exact_fallbacks(job.problem, job.degrees, multapses).sum()))
            except (ImportError, AttributeError):  # older versions cannot tell
                slow = "n/a"
            print(f"| {sigma} | {multapses} | {t:.2f} s | {slow} |", flush=True)


if __name__ == "__main__":
    main()
