"""``spatialconn build`` of one large projection, timed as a user runs it.

10^6 neurons uniform in the unit square, Gaussian σ = 0.01, FixedOutDegree(k),
written to Parquet. Each run is a fresh ``python -m spatialconn build``
process; prints its wall time and peak RSS (``ru_maxrss`` of the child).

Usage::

    python benchmarks/cli_build.py                 # k = 10 and 100, this tree
    python benchmarks/cli_build.py --src /path/to/other/src   # another tree (PYTHONPATH)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

SPEC = """\
seed = 1
[space]
extent = [[0, 1], [0, 1]]

[populations.exc]
positions = "uniform"
n = {n}
extent = [[0, 1], [0, 1]]

[projections.ee]
source = "exc"
rule = {{ type = "FixedOutDegree", k = {k} }}
kernel = {{ type = "Gaussian", sigma = 0.01 }}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--src", default=None, help="source tree to run (PYTHONPATH); default: the installed package")
    a = ap.parse_args()
    env = dict(os.environ)
    if a.src:
        env["PYTHONPATH"] = os.path.abspath(a.src)
    print("| k | synapses | wall | peak RSS |\n|---|---|---|---|")
    for k in a.k:
        with tempfile.TemporaryDirectory() as d:
            spec = os.path.join(d, "net.toml")
            with open(spec, "w") as f:
                f.write(SPEC.format(n=a.n, k=k))
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "spatialconn", "build", spec, "-o", os.path.join(d, "e.parquet"),
                            "-q"], env=env, check=True)
            wall = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # largest child so far (GB)
        print(f"| {k} | {a.n * k:,} | {wall:.2f} s | {rss:.2f} GB (largest so far) |")


if __name__ == "__main__":
    main()
