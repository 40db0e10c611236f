"""Random access: the synapses of 10 drivers of a 10^6 x 10^6 x 100 plan, without building it.

``sc.plan(...)`` validates and plans (the planning time is reported on its
own, and so is the first access, which builds the engine's grid index of
the partners once); then ``plan.drivers(ids)`` for 10 random drivers is
timed over many draws (median and max). Every answer is checked against
``plan.block`` of the same driver (bit for bit) on a few draws.

Usage::

    python benchmarks/random_access.py            # 10^6 x 10^6, k = 100
    python benchmarks/random_access.py --n 100000 # smaller
    python benchmarks/random_access.py --n 10000000 --recurrent   # 10^9 synapses, out-degree only
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import spatialconn as sc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--recurrent", action="store_true", help="one population, fixed out-degree only")
    a = ap.parse_args()
    side = np.sqrt(a.n)  # unit density; sigma = 5 spacings: ~160 neurons within one sigma
    rng = np.random.default_rng(0)
    src = rng.random((a.n, 2)) * side
    tgt = None if a.recurrent else rng.random((a.n, 2)) * side
    cases = [("FixedOutDegree, multapses", dict(rule=sc.FixedOutDegree(a.k))),
             ("FixedOutDegree, no multapses", dict(rule=sc.FixedOutDegree(a.k), multapses=False)),
             ("FixedInDegree", dict(rule=sc.FixedInDegree(a.k))),
             ("PairwiseBernoulli", dict(rule=sc.PairwiseBernoulli(a.k / (2 * np.pi * 25.0))))]
    if a.recurrent:
        cases = cases[:1]
    shape = f"{a.n:,} x {a.n:,}{' (recurrent)' if a.recurrent else ''}"
    print(f"{shape}, Gaussian sigma = 5 (unit density), k = {a.k}; 10 random drivers per access")
    print("| rule | plan() | first access | 10 drivers: median | max | synapses |")
    print("|---|---|---|---|---|---|")
    for name, kw in cases:
        t0 = time.perf_counter()
        plan = sc.plan(src, tgt, kernel=sc.Gaussian(5.0), seed=1, **kw)
        t_plan = time.perf_counter() - t0
        t0 = time.perf_counter()
        plan.drivers(rng.choice(plan.n_drivers, 10, replace=False))
        t_first = time.perf_counter() - t0
        times, n = [], 0
        for d in range(a.draws):
            ids = rng.choice(plan.n_drivers, 10, replace=False)
            t0 = time.perf_counter()
            c = plan.drivers(ids)
            times.append(time.perf_counter() - t0)
            n += len(c)
            if d < 3:  # the same partners as the plan's blocks (i.e. connect())
                for i in ids[:3]:
                    ref = plan.block(int(i), int(i) + 1)
                    drv = c.targets if plan.driver == "target" else c.sources
                    other = c.sources if plan.driver == "target" else c.targets
                    want = ref.sources if plan.driver == "target" else ref.targets
                    assert np.array_equal(other[drv == i], want), name
        times = np.array(times) * 1e3
        print(f"| {name} | {t_plan:.2f} s | {t_first:.2f} s | {np.median(times):.2f} ms | {times.max():.2f} ms "
              f"| {n / a.draws:.0f} |", flush=True)


if __name__ == "__main__":
    main()
