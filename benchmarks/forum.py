"""(a) The forum geometry: N(0, 1) positions, Gaussian σ = 1, 10 synapses per driver.

Runs spatialconn, the forum's broadcast method and NEST 3 side by side in
one process and prints a markdown table with ratios. Each method's time is
its best of several calls (REPEAT for spatialconn, NEST_REPEAT for NEST; the
forum method runs once).

Usage::

    python benchmarks/forum.py          # 1,200 x 40,000 for every method, 10,000 x 40,000 for spatialconn
    python benchmarks/forum.py --full   # also NEST and the forum method at 10,000 x 40,000 (~2 min)
    python benchmarks/forum.py --only-spatialconn
"""

from __future__ import annotations

import argparse

from _common import best_of, forum_broadcast, forum_positions, nest_connect, once, threads

import spatialconn as sc

SIGMA, K = 1.0, 10
#: best of this many spatialconn calls (a few ms each: one slow call in seven is common on a shared VM)
REPEAT = 50
#: best of this many NEST calls (seconds each; a single call varied 1.6-3.8 s here)
NEST_REPEAT = 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only-spatialconn", action="store_true", help="skip the other methods")
    args = ap.parse_args()
    rows = []
    kern = sc.Gaussian(SIGMA)
    sizes = [1200, 10000]
    sc_out = {}
    for n_pre in sizes:
        pre, post = forum_positions(n_pre, 40000)
        sc.connect(pre, post, rule=sc.FixedOutDegree(K), kernel=kern, seed=0)  # warm (compile cache)
        t, _ = best_of(lambda: sc.connect(pre, post, rule=sc.FixedOutDegree(K), kernel=kern, seed=1), REPEAT)
        sc_out[n_pre] = t
        rows.append((f"{n_pre:,} x 40,000", "fixed out-degree", "spatialconn", t, None))
        t, _ = best_of(lambda: sc.connect(post, pre, rule=sc.FixedInDegree(K), kernel=kern, seed=1), REPEAT)
        rows.append((f"40,000 x {n_pre:,}", "fixed in-degree", "spatialconn", t, None))
        p = K / 13333.0  # about 10 synapses per source (E[K] = 1/3 for N(0, 1) pairs)
        t, _ = best_of(lambda: sc.connect(pre, post, rule=sc.PairwiseBernoulli(p), kernel=kern, seed=1), REPEAT)
        rows.append((f"{n_pre:,} x 40,000", f"Bernoulli p={p:.2e}·K", "spatialconn", t, None))
        sc_in, sc_b = rows[-2][3], rows[-1][3]
        if (n_pre == 1200 or args.full) and not args.only_spatialconn:
            t, _ = once(lambda: forum_broadcast(pre, post, SIGMA, K))
            rows.append((f"{n_pre:,} x 40,000", "fixed out-degree", "forum broadcast + random.choices", t,
                         t / sc_out[n_pre]))
            t, n = min(nest_connect(pre, post, SIGMA, "fixed_outdegree", K) for _ in range(NEST_REPEAT))
            rows.append((f"{n_pre:,} x 40,000", "fixed out-degree", "NEST 3.10 fixed_outdegree", t,
                         t / sc_out[n_pre]))
            t, n = min(nest_connect(post, pre, SIGMA, "fixed_indegree", K) for _ in range(NEST_REPEAT))
            rows.append((f"40,000 x {n_pre:,}", "fixed in-degree", "NEST 3.10 fixed_indegree", t, t / sc_in))
            t, n = min(nest_connect(pre, post, SIGMA, "pairwise_bernoulli", p) for _ in range(NEST_REPEAT))
            rows.append((f"{n_pre:,} x 40,000", f"Bernoulli p={p:.2e}·K", "NEST 3.10 pairwise_bernoulli", t,
                         t / sc_b))
    print(f"\nforum geometry, spatialconn on {threads()} thread(s); ratio = other / spatialconn, same run\n")
    print("| sources x targets | rule | method | time | ratio |")
    print("|---|---|---|---|---|")
    for size, rule, method, t, ratio in rows:
        r = "" if ratio is None else f"{ratio:,.0f}x"
        print(f"| {size} | {rule} | {method} | {t * 1e3:,.1f} ms | {r} |")


if __name__ == "__main__":
    main()
