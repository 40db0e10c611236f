"""Cold start: a fresh process that imports spatialconn and makes its first call.

The engine is compiled at install time (``pip install .``), so a fresh
process pays only Python's start, the imports and the call itself; nothing
is compiled or cached at first use. Two snippets, each in 5 fresh
subprocesses (median, min, max), timed from outside (process start
included): a small call (1,000 neurons, k = 10) and the forum network
(1,200 x 40,000, k = 10). ``import spatialconn`` alone is timed inside the
process.

Usage::

    python benchmarks/cold_start.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

SMALL = r"""
import numpy as np, spatialconn as sc
pos = np.random.default_rng(0).random((1000, 2))
sc.connect(pos, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.05), seed=1)
"""

FORUM = r"""
import numpy as np, spatialconn as sc
rng = np.random.default_rng(0)
sc.connect(rng.normal(size=(1200, 2)), rng.normal(size=(40000, 2)), rule=sc.FixedOutDegree(10),
           kernel=sc.Gaussian(1.0), seed=1)
"""

IMPORT = "import time; t = time.perf_counter(); import spatialconn; print(time.perf_counter() - t)"


def fresh(code):
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - t, out.stdout


def _row(name, times):
    return (f"| {name} | {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}) |")


def main():
    imports = [float(fresh(IMPORT)[1]) for _ in range(5)]
    small = [fresh(SMALL)[0] for _ in range(5)]
    forum = [fresh(FORUM)[0] for _ in range(5)]
    print("| case (fresh process, median of 5) | time |")
    print("|---|---|")
    print(_row("`import spatialconn` (inside the process)", imports))
    print(_row("process start + import + 1,000 neurons, k = 10", small))
    print(_row("process start + import + forum network 1,200 x 40,000, k = 10", forum))


if __name__ == "__main__":
    main()
