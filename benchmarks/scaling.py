"""(c) Scaling: N x N neurons in the unit square, k = 100, σ scaled with density.

σ = 0.05 · sqrt(40,000 / N), so every neuron has the same number of
neighbours within σ at every size. Each point runs in a fresh subprocess
(with ``SPATIALCONN_THREADS`` = 1 or 2) that reports wall time and its peak
RSS. Prints a markdown table, fits the exponent of time against synapses,
writes ``docs/img/scaling.png`` and ``benchmarks/scaling.json``.

Usage::

    python benchmarks/scaling.py                 # N = 10^4 ... 10^6, 1 and 2 threads
    python benchmarks/scaling.py --sizes 10000 100000
    python benchmarks/scaling.py --from-json benchmarks/scaling.json   # table and plot only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

POINT = r"""
import json, resource, sys, time
import numpy as np, spatialconn as sc
n = int(sys.argv[1])
sigma = 0.05 * (40000 / n) ** 0.5
pos = np.random.default_rng(0).random((n, 2))
sc.connect(pos[:1000], rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(sigma), seed=0)  # warm-up
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
best = float("inf")
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    conn = sc.connect(pos, rule=sc.FixedOutDegree(100), kernel=sc.Gaussian(sigma), seed=1)
    best = min(best, time.perf_counter() - t)
    nsyn = len(conn)
    del conn
print(json.dumps(dict(n=n, sigma=sigma, time=best, synapses=nsyn,
                      rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                      rss_before_gb=rss0 / 1e6)))
"""


def run_point(n, threads, repeat):
    env = dict(os.environ, SPATIALCONN_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", POINT, str(n), str(repeat)], env=env, capture_output=True,
                         text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["threads"] = threads
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--from-json", help="only print the table and draw the plot of saved results")
    args = ap.parse_args()
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        args.threads = sorted({r["threads"] for r in results})
    else:
        results = []
        for n in args.sizes:
            for th in args.threads:
                res = run_point(n, th, 3 if n <= 300_000 else 2)
                results.append(res)
                print(json.dumps(res), flush=True)
        (ROOT / "benchmarks" / "scaling.json").write_text(json.dumps(results, indent=1))
    print("\n| N | σ | threads | time | synapses/s | peak RSS |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['n']:,} | {r['sigma']:.4f} | {r['threads']} | {r['time']:.3f} s | "
              f"{r['synapses'] / r['time']:.2e} | {r['rss_gb']:.2f} GB |")
    for th in args.threads:
        pts = [r for r in results if r["threads"] == th]
        if len(pts) > 1:
            slope = np.polyfit(np.log([r["synapses"] for r in pts]), np.log([r["time"] for r in pts]), 1)[0]
            print(f"\nexponent (time ~ synapses^a), {th} thread(s): a = {slope:.3f}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 4))
        for th in args.threads:
            pts = [r for r in results if r["threads"] == th]
            ax.loglog([r["synapses"] for r in pts], [r["time"] for r in pts], "o-", label=f"{th} thread(s)")
        s = np.array([r["synapses"] for r in results])
        ref = min(r["time"] for r in results if r["synapses"] == s.min())
        ax.loglog([s.min(), s.max()], [ref, ref * s.max() / s.min()], "k:", label="linear")
        ax.set_xlabel("synapses (k = 100, N sources = N targets)")
        ax.set_ylabel("wall time of sc.connect [s]")
        ax.set_title("scaling, σ ∝ N^-1/2 (constant neighbourhood)")
        ax.legend()
        fig.tight_layout()
        out = ROOT / "docs" / "img" / "scaling.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
        print(f"\nwrote {out}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
