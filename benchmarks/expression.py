"""Expression kernels against the built-in Gaussian and a vectorised CustomKernel.

The local benchmark's problem: N uniform positions in the unit square,
FixedOutDegree(k), Gaussian σ, built three ways:

* ``sc.Gaussian(σ)`` (compiled grid engine);
* ``sc.Expression("exp(-d**2/(2*s**2))", s=σ)`` (the grid engine's core
  runs its bytecode per pair, with cell bounds from interval arithmetic);
* ``sc.CustomKernel(lambda d: np.exp(-d**2/(2σ²)), cutoff=inf)``, a
  vectorised numpy callable (the grid engine hands it to the reference
  engine's code: evaluated over every pair, in blocks of drivers).

Prints a markdown table with wall times and ratios to the built-in kernel,
measured in this one process (kernels the grid engine runs compiled: best
of 3 after a warm-up; the others: one run each, they take minutes at the
full size).

Usage::

    python benchmarks/expression.py                  # 40,000 x 40,000 x 100
    python benchmarks/expression.py --n 10000        # a quicker look
    python benchmarks/expression.py --skip-custom    # without the (slow) CustomKernel row
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import best_of, once, threads

import spatialconn as sc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40_000, help="neurons (sources = targets)")
    ap.add_argument("--k", type=int, default=100, help="out-degree")
    ap.add_argument("--sigma", type=float, default=0.05)
    ap.add_argument("--skip-custom", action="store_true", help="leave out the CustomKernel row")
    args = ap.parse_args(argv)
    pos = np.random.default_rng(0).random((args.n, 2))
    s = args.sigma
    rule = sc.FixedOutDegree(args.k)
    kernels = [
        ("built-in Gaussian(σ)", sc.Gaussian(s)),
        ('Expression("exp(-d**2/(2*s**2))", s=σ)', sc.Expression("exp(-d**2/(2*s**2))", s=s)),
        ("CustomKernel(vectorised numpy, cutoff=inf)",
         sc.CustomKernel(lambda d: np.exp(-d**2 / (2 * s * s)), cutoff=np.inf)),
    ]
    if args.skip_custom:
        kernels = kernels[:2]
    for _, kern in kernels[:2]:  # load the engine, compile nothing later
        sc.connect(pos[:2000], rule=sc.FixedOutDegree(5), kernel=kern, seed=0)
    from spatialconn.connect import _plan
    from spatialconn.engine import grid

    def native(kern):
        return grid.native(_plan(pos[:10], rule=sc.FixedOutDegree(1), kernel=kern).problem)

    rows = []
    for name, kern in kernels:
        if not isinstance(kern, sc.CustomKernel) and (isinstance(kern, sc.Gaussian) or native(kern)):
            t, conn = best_of(lambda kern=kern: sc.connect(pos, rule=rule, kernel=kern, seed=1), 3)
        else:
            t, conn = once(lambda kern=kern: sc.connect(pos, rule=rule, kernel=kern, seed=1))
        rows.append((name, t, len(conn), float(np.mean(conn.distances))))
    base = rows[0][1]
    print(f"{args.n:,} x {args.n:,}, FixedOutDegree({args.k}), Gaussian σ = {s}, {threads()} threads")
    print()
    print("| kernel | time (s) | ratio to built-in | synapses | mean distance |")
    print("|---|---:|---:|---:|---:|")
    for name, t, n, md in rows:
        print(f"| {name} | {t:.2f} | {t / base:.1f}× | {n:,} | {md:.4f} |")


if __name__ == "__main__":
    main()
