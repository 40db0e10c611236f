"""Two source trees of spatialconn side by side (e.g. before/after an engine change).

Every case runs in a fresh subprocess per tree, the trees alternating, on
the same machine in one run, so the ratio is meaningful even when the
machine is loaded. Each subprocess first makes one small call (loads the
engine, and numba's cache for a numba tree), then times the case (best of
``--repeat``), and reports its peak RSS; ``--cpu`` reports the CPU time
of the call (user + system, summed over threads) instead of wall time,
which a loaded machine disturbs much less. ``cold`` times a whole fresh
process: start, ``import spatialconn`` and the first forum connect.

Usage::

    python benchmarks/engine_compare.py --tree before=/path/to/old/src --tree after=src
    python benchmarks/engine_compare.py --tree after=src --cases forum local_out huge --threads 2
    python benchmarks/engine_compare.py --tree after=src --cases local_out local_total --threads 1 --cpu
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {
    # name: (description, setup, call)
    "forum": ("forum 1,200 x 40,000, FixedOutDegree(10), σ = 1",
              "rng = np.random.default_rng(0); a = rng.normal(size=(1200, 2)); b = rng.normal(size=(40000, 2))",
              "sc.connect(a, b, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(1.0), seed=1)"),
    "local_out": ("40,000 x 40,000, FixedOutDegree(100), σ = 0.05",
                  "a = np.random.default_rng(0).random((40000, 2))",
                  "sc.connect(a, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(0.05), seed=1)"),
    "local_in": ("40,000 x 40,000, FixedInDegree(100), σ = 0.05",
                 "a = np.random.default_rng(0).random((40000, 2))",
                 "sc.connect(a, rule=sc.FixedInDegree(100), kernel=sc.Gaussian(0.05), seed=1)"),
    "local_distinct": ("40,000 x 40,000, FixedOutDegree(100), no multapses/autapses, σ = 0.05",
                       "a = np.random.default_rng(0).random((40000, 2))",
                       "sc.connect(a, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(0.05), multapses=False, "
                       "autapses=False, seed=1)"),
    "local_total": ("40,000 x 40,000, FixedTotalNumber(4e6) weighted, σ = 0.05",
                    "a = np.random.default_rng(0).random((40000, 2))",
                    "sc.connect(a, rule=sc.FixedTotalNumber(4_000_000), kernel=sc.Gaussian(0.05), seed=1)"),
    "local_bernoulli": ("40,000 x 40,000, PairwiseBernoulli(0.159), σ = 0.05 (about 100 per source)",
                        "a = np.random.default_rng(0).random((40000, 2))",
                        "sc.connect(a, rule=sc.PairwiseBernoulli(100 / (2 * np.pi * 0.05**2 * 40000)), "
                        "kernel=sc.Gaussian(0.05), seed=1)"),
    "big15": ("10^6 x 10^6, FixedOutDegree(15), σ = 0.05 (1.5·10^7 synapses)",
              "a = np.random.default_rng(0).random((1_000_000, 2))",
              "sc.connect(a, rule=sc.FixedOutDegree(15), kernel=sc.Gaussian(0.05), seed=1)"),
    "huge": ("10^6 x 10^6, FixedOutDegree(100), σ = 0.05 (10^8 synapses)",
             "a = np.random.default_rng(0).random((1_000_000, 2))",
             "sc.connect(a, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(0.05), seed=1)"),
}

TIMED = r"""
import json, resource, sys, time
import numpy as np, spatialconn as sc
w = np.random.default_rng(1).random((500, 2))
for kw in ({{}}, {{"multapses": False}}):
    sc.connect(w, rule=sc.FixedOutDegree(5), kernel=sc.Gaussian(0.1), seed=0, **kw)  # load the engine
sc.connect(w, rule=sc.FixedTotalNumber(100), kernel=sc.Gaussian(0.1), seed=0)
sc.connect(w, rule=sc.PairwiseBernoulli(0.5), kernel=sc.Gaussian(0.1), seed=0)
{setup}
best = cpu = float("inf")
for _ in range({repeat}):
    r = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter(); c = {call}; best = min(best, time.perf_counter() - t); n = len(c); del c
    q = resource.getrusage(resource.RUSAGE_SELF)
    cpu = min(cpu, q.ru_utime + q.ru_stime - r.ru_utime - r.ru_stime)
print(json.dumps(dict(time=best, cpu=cpu, synapses=n,
                      rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)))
"""

COLD = r"""
import numpy as np, spatialconn as sc
rng = np.random.default_rng(0); a = rng.normal(size=(1200, 2)); b = rng.normal(size=(40000, 2))
c = sc.connect(a, b, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(1.0), seed=1)
print(len(c))
"""

IMPORT = "import time; t = time.perf_counter(); import spatialconn; print(time.perf_counter() - t)"


def _env(src, threads):
    return dict(os.environ, PYTHONPATH=src, SPATIALCONN_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))


def run_case(src, case, threads, repeat):
    _, setup, call = CASES[case]
    code = TIMED.format(setup=setup, call=call, repeat=repeat)
    out = subprocess.run([sys.executable, "-c", code], env=_env(src, threads), capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cold(src, threads):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD], env=_env(src, threads), capture_output=True, check=True)
    return time.perf_counter() - t


def run_import(src, threads):
    out = subprocess.run([sys.executable, "-c", IMPORT], env=_env(src, threads), capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def _seconds(t: float) -> str:
    """``t`` in s, or in ms below 0.1 s (the forum call takes a few ms)."""
    return f"{t * 1e3:.2f} ms" if t < 0.1 else f"{t:.3f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a src/ directory")
    ap.add_argument("--cases", nargs="+", default=["import", "cold", *CASES])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="CPU time of the call instead of wall time")
    a = ap.parse_args()
    trees = [t.split("=", 1) for t in a.tree]
    names = [n for n, _ in trees]
    print(f"| case | {' | '.join(names)} |" + (f" {names[0]} / {names[-1]} |" if len(trees) > 1 else ""))
    print("|---|" + "---|" * (len(trees) + (len(trees) > 1)))
    for case in a.cases:
        res = {}
        for name, src in trees:
            if case == "import":
                res[name] = (min(run_import(src, a.threads) for _ in range(5)), "")
            elif case == "cold":
                res[name] = (min(run_cold(src, a.threads) for _ in range(3)), "")
            else:
                r = run_case(src, case, a.threads, a.repeat)
                res[name] = (r["cpu" if a.cpu else "time"], f" ({r['synapses']:,} syn, {r['rss_gb']:.2f} GB)")
        label = {"import": "import spatialconn (best of 5 fresh processes)",
                 "cold": "fresh process: start, import, first forum connect (best of 3)"}.get(case)
        label = label or CASES[case][0]
        cells = " | ".join(f"{_seconds(res[n][0])}{res[n][1]}" for n in names)
        ratio = f" {res[names[0]][0] / res[names[-1]][0]:.2f}x |" if len(trees) > 1 else ""
        print(f"| {label} | {cells} |{ratio}", flush=True)


if __name__ == "__main__":
    main()
