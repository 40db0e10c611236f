"""A dense fixed-degree call small enough for valgrind: count the core's instructions.

250,000 neurons uniform in a 0.5 × 0.5 square (the density of 10^6 in the
unit square), Gaussian σ = 0.05, k = 100: 2.5·10^7 synapses, the same
cells and acceptance as the 10^8 benchmark. Wall time on a shared VM
varies by ±10 % from run to run; the instruction count does not, so
changes to the core's inner loop are compared with::

    SPATIALCONN_THREADS=1 valgrind --tool=cachegrind --cache-sim=no \\
        --cachegrind-out-file=cg.out python benchmarks/dense_count.py
    cg_annotate cg.out | head -30

Prints the number of synapses and a digest of them (the same digest
before and after a change that must keep the streams).
"""

from __future__ import annotations

import hashlib

import numpy as np

import spatialconn as sc


def main():
    pos = np.random.default_rng(0).random((250_000, 2)) * 0.5
    c = sc.connect(pos, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(0.05), seed=1)
    digest = hashlib.sha256(np.asarray(c.sources).tobytes() + np.asarray(c.targets).tobytes()).hexdigest()[:16]
    print(f"{len(c):,} synapses, digest {digest}")


if __name__ == "__main__":
    main()
