"""False alarms of ``spatialconn check`` on correct networks: p-values over seeds.

Builds the projections of a spec (default ``examples/network.toml``) with ``--runs`` different
seeds, checks each run as the CLI does, and prints every p-value's quantiles, the fraction of runs
with some p-value below 0.01 (the old per-test rule) and of runs failing under Holm at 1e-3 (now).

    PYTHONPATH=src python benchmarks/check_false_alarms.py --runs 40
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from spatialconn import connect
from spatialconn.check import check_projection, holm
from spatialconn.spec import load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="examples/network.toml")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    net = load(args.spec)
    pvalues, old_alarms, new_alarms = [], 0, 0
    t0 = time.perf_counter()
    for run in range(args.runs):
        reports = []
        for name, proj in net.projections.items():
            proj = dataclasses.replace(proj, seed=10_000 + run)
            kw = net.arguments(name)
            kw["seed"] = proj.seed
            conn = connect(**kw)
            reports.append(check_projection(conn.sources, conn.targets, proj, net.populations[proj.source].positions,
                                            net.populations[proj.target].positions, alpha=None))
        holm(reports, 1e-3)
        ps = [c.pvalue for r in reports for c in r.checks if c.pvalue is not None]
        pvalues += ps
        old_alarms += min(ps) < 0.01
        new_alarms += not all(r.passed for r in reports)
        print(f"run {run}: p = {', '.join(f'{p:.3g}' for p in ps)}", flush=True)
    p = np.array(pvalues)
    print(f"{args.runs} runs, {p.size} p-values in {time.perf_counter() - t0:.0f} s")
    print("p-value quantiles 10/25/50/75/90 %:", np.round(np.quantile(p, [0.1, 0.25, 0.5, 0.75, 0.9]), 3).tolist())
    print(f"fraction of p-values below 0.01: {np.mean(p < 0.01):.3f}, below 0.05: {np.mean(p < 0.05):.3f}")
    print(f"runs with an alarm, old rule (any p < 0.01): {old_alarms}/{args.runs}; "
          f"Holm at family-wise 1e-3: {new_alarms}/{args.runs}")


if __name__ == "__main__":
    main()
