"""Expression kernels and vectorised CustomKernels against the built-in Gaussian.

The local benchmark's problem: N uniform positions in the unit square,
FixedOutDegree(k), Gaussian σ, built these ways:

* ``sc.Gaussian(σ)`` (compiled grid engine);
* ``sc.Expression("exp(-d**2/(2*s**2))", s=σ)`` (the grid engine's core
  runs its bytecode per pair, with cell bounds from interval arithmetic);
* ``sc.CustomKernel(f, cutoff=5σ, decreasing=True)`` with the vectorised
  numpy ``f = lambda d: np.exp(-d**2/(2σ²))``: the grid engine's batched
  path (``engine/custom.py``), exact rejection under the bound ``f(r_min)``
  of each cell offset, ``f`` called once per batch of ~1M proposals;
* ``sc.CustomKernel(f, cutoff=5σ, peak=1)``: the same path with a constant
  bound (acceptance ~ the mean of ``f`` over the window; the candidate
  counts of the feasibility check evaluate ``f`` at every pair within the
  cutoff);
* ``sc.CustomKernel(f, cutoff=5σ)``, no bound declared: every pair within
  the cutoff evaluated (in batches), exact draws from those weights;
* with ``--every-pair``: ``sc.CustomKernel(f, cutoff=inf)``: the reference
  engine's code over every pair (minutes at the full size).

Prints a markdown table with wall times (``plan + connect``) and ratios to
the built-in kernel, measured in this one process (best of 3 after a
warm-up; the rows without a bound: one run each).

Usage::

    python benchmarks/expression.py                  # 40,000 x 40,000 x 100
    python benchmarks/expression.py --n 10000        # a quicker look
    python benchmarks/expression.py --every-pair     # add the (slow) unbounded CustomKernel row
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
    ap.add_argument("--every-pair", action="store_true", help="add the CustomKernel row without a bound")
    args = ap.parse_args(argv)
    pos = np.random.default_rng(0).random((args.n, 2))
    s = args.sigma

    def f(d):
        return np.exp(-d**2 / (2 * s * s))

    rule = sc.FixedOutDegree(args.k)
    kernels = [
        ("built-in Gaussian(σ)", sc.Gaussian(s)),
        ('Expression("exp(-d**2/(2*s**2))", s=σ)', sc.Expression("exp(-d**2/(2*s**2))", s=s)),
        ("CustomKernel(f, cutoff=5σ, decreasing=True)", sc.CustomKernel(f, cutoff=5 * s, decreasing=True)),
        ("CustomKernel(f, cutoff=5σ, peak=1)", sc.CustomKernel(f, cutoff=5 * s, peak=1.0)),
        ("CustomKernel(f, cutoff=5σ): no bound", sc.CustomKernel(f, cutoff=5 * s)),
    ]
    if args.every_pair:
        kernels.append(("CustomKernel(f, cutoff=inf): every pair", sc.CustomKernel(f, cutoff=np.inf)))
    for _, kern in kernels[:4]:  # load the engine, compile nothing later
        sc.connect(pos[:2000], rule=sc.FixedOutDegree(5), kernel=kern, seed=0)

    rows = []
    for name, kern in kernels:
        def run(kern=kern):
            return sc.connect(pos, rule=rule, kernel=kern, seed=1)

        t, conn = once(run) if "every pair" in name or "no bound" in name else best_of(run, 3)
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
