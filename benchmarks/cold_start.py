"""Cold start: "import spatialconn + first small call" in a fresh process.

Measured in fresh subprocesses, with numba's on-disk cache warm (the normal
case after the first run) and, for comparison, with an empty cache
(``NUMBA_CACHE_DIR`` pointing to a new directory: everything compiles).

Usage::

    python benchmarks/cold_start.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

SNIPPET = r"""
import time
t = time.perf_counter()
import numpy as np
import spatialconn as sc
pos = np.random.default_rng(0).random((1000, 2))
sc.connect(pos, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.05), seed=1)
print(time.perf_counter() - t)
"""


def fresh(env):
    out = subprocess.run([sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    env = dict(os.environ)
    fresh(env)  # make sure the default cache is populated
    warm = [fresh(env) for _ in range(5)]
    with tempfile.TemporaryDirectory() as tmp:
        cold = fresh(dict(env, NUMBA_CACHE_DIR=tmp))
    print("| case | import + first call (1,000 neurons, k = 10) |")
    print("|---|---|")
    print(f"| fresh process, numba cache warm (median of 5) | {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}) |")
    print(f"| fresh process, empty numba cache (compiles) | {cold:.1f} s |")


if __name__ == "__main__":
    main()
