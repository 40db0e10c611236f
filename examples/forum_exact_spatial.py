"""The Brian2 forum's model: exact synapse counts with a Gaussian spatial kernel.

One ``NeuronGroup`` of ~40,000 neurons placed in a sheet (``X``, ``Y`` in µm),
a source subgroup and a target subgroup, and a Gaussian kernel of radius
(σ) 350 µm. Two variants, each connected with one call:

1. ``FixedTotalNumber(nsyn, sources="uniform")``: exactly ``nsyn`` synapses,
   each with a uniformly chosen source and a target drawn by the kernel
   (the forum's own recipe);
2. ``FixedOutDegree(10)``: exactly 10 synapses per source.

Each variant is simulated for 100 ms; the script prints build times and
spike counts and saves a figure of a few sources and their targets.

Run::

    python examples/forum_exact_spatial.py             # 41,200 neurons, 100 ms
    python examples/forum_exact_spatial.py --small     # 3,000 neurons, 5 ms (used by the tests)
    python examples/forum_exact_spatial.py --target cpp_standalone
    python examples/forum_exact_spatial.py --p-string  # the kernel as the forum's own p string

Without spatialconn, Brian2 can only do this with ``connect(p=...)``
(Bernoulli, random counts), evaluating all N_pre × N_post pairs. With
``--p-string`` the kernel is that very ``p`` string,
``exp(-((X_pre-X_post)**2 + (Y_pre-Y_post)**2) / (2*sigma**2))``, passed to
``spatialconn.brian2.connect`` unchanged (``sigma`` is found in the calling
function, as Brian2 finds it): the same model, now with exact counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

#: the forum's connection probability, as written for ``Synapses.connect(p=...)``
P_STRING = "exp(-((X_pre-X_post)**2 + (Y_pre-Y_post)**2) / (2*sigma**2))"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="3,000 neurons and 5 ms (a quick check)")
    ap.add_argument("--sources", type=int, help="source subgroup size (default 1,200; 300 with --small)")
    ap.add_argument("--targets", type=int, help="target subgroup size (default 40,000; 2,700 with --small)")
    ap.add_argument("--nsyn", type=int, help="synapses of variant 1 (default 10 per source)")
    ap.add_argument("--k", type=int, default=10, help="out-degree of variant 2 (default 10)")
    ap.add_argument("--duration", type=float, help="simulated time in ms (default 100; 5 with --small)")
    ap.add_argument("--target", default="numpy", choices=["numpy", "cython", "cpp_standalone"],
                    help="Brian2 code generation target / device")
    ap.add_argument("--figure", default="forum_exact_spatial.png", help="where to save the figure ('' = none)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--p-string", action="store_true",
                    help=f"give the kernel as the Brian2 p string {P_STRING!r}")
    args = ap.parse_args(argv)
    small = args.small
    args.sources = args.sources or (300 if small else 1200)
    args.targets = args.targets or (2700 if small else 40000)
    args.nsyn = args.nsyn if args.nsyn is not None else 10 * args.sources
    args.duration = args.duration or (5.0 if small else 100.0)
    return args


def build_and_run(args, variant: str):
    """Build one variant, simulate it, return a summary dict."""
    import brian2 as b2
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, metre, ms, mV, second, um

    import spatialconn as sc
    import spatialconn.brian2 as scb

    if args.target == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("cpp_standalone", directory=tempfile.mkdtemp(prefix=f"forum_{variant}_"),
                      build_on_run=True)
    else:
        b2.prefs.codegen.target = args.target
    b2.start_scope()
    b2.seed(args.seed)
    n_src, n_tgt = args.sources, args.targets
    rng = np.random.default_rng(args.seed)
    tau = 10 * ms  # noqa: F841 (read by Brian2 from this frame)
    G = NeuronGroup(n_src + n_tgt,
                    """dv/dt = (I - v) / tau : volt (unless refractory)
                       I : volt
                       X : metre
                       Y : metre""",
                    threshold="v > 15*mV", reset="v = 0*mV", refractory=2 * ms, method="exact")
    G.X = rng.normal(0.0, 1000.0, n_src + n_tgt) * um  # a sheet ~4 mm across
    G.Y = rng.normal(0.0, 1000.0, n_src + n_tgt) * um
    G.v = rng.uniform(0.0, 15.0, n_src + n_tgt) * mV
    G.I = np.r_[rng.uniform(16.0, 25.0, n_src), np.zeros(n_tgt)] * mV  # sources fire regularly
    src, tgt = G[:n_src], G[n_src:]
    S = Synapses(src, tgt, "w : volt", on_pre="v_post += w")
    rule = (sc.FixedTotalNumber(args.nsyn, sources="uniform") if variant == "total"
            else sc.FixedOutDegree(args.k))
    t0 = time.perf_counter()
    seed = args.seed + (variant == "outdegree")  # independent draws for the two variants
    sigma = 350 * um
    kernel = P_STRING if args.p_string else sc.Gaussian(sigma=sigma)
    conn = scb.connect(S, rule, kernel, seed=seed)
    build = time.perf_counter() - t0
    S.w = 16 * mV  # one input spike makes a target fire
    S.delay = conn.distances / (0.5 * metre / second) + 0.5 * ms  # conduction at 0.5 m/s
    mon_src, mon_tgt = SpikeMonitor(src), SpikeMonitor(tgt)
    t0 = time.perf_counter()
    b2.run(args.duration * ms)
    run = time.perf_counter() - t0
    return {
        "variant": variant, "rule": rule, "build_s": build, "run_s": run, "n_synapses": len(conn),
        "source_spikes": int(mon_src.num_spikes), "target_spikes": int(mon_tgt.num_spikes),
        "conn": conn, "X": np.asarray(G.X[:]) / 1e-6, "Y": np.asarray(G.Y[:]) / 1e-6, "n_src": n_src,
    }


def plot(results, path, n_show=4):
    """Scatter all neurons, a few sources (stars) and their targets, one panel per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 6), squeeze=False)
    for ax, res in zip(axes[0], results):
        conn, X, Y, n_src = res["conn"], res["X"], res["Y"], res["n_src"]
        step = max(1, X.size // 5000)
        ax.scatter(X[::step], Y[::step], s=1, c="0.85", label="neurons (subsample)")
        shown = np.unique(conn.sources)[:: max(1, np.unique(conn.sources).size // n_show)][:n_show]
        for i, color in zip(shown, plt.cm.tab10.colors):
            t = conn.targets[conn.sources == i]
            ax.scatter(X[n_src + t], Y[n_src + t], s=12, color=color)
            ax.scatter(X[i], Y[i], s=150, marker="*", color=color, edgecolor="k",
                       label=f"source {i}: {t.size} targets")
        ax.set_title(f"{res['rule']}")
        ax.set_xlabel("X (µm)")
        ax.set_ylabel("Y (µm)")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    kernel = f"p = {P_STRING!r}, sigma = 350 um" if args.p_string else "Gaussian sigma = 350 um"
    print(f"{args.sources} sources -> {args.targets} targets, {kernel}, "
          f"{args.duration:g} ms, target {args.target}")
    results = []
    for variant in ("total", "outdegree"):
        res = build_and_run(args, variant)
        results.append(res)
        print(f"{str(res['rule']):45s} {res['n_synapses']:8d} synapses  build {res['build_s']:7.2f} s  "
              f"run {res['run_s']:6.2f} s  spikes: sources {res['source_spikes']}, "
              f"targets {res['target_spikes']}")
    print("(the first build in a process includes loading or compiling spatialconn's engine)")
    if args.figure:
        plot(results, args.figure)
        print(f"figure saved to {args.figure}")
    return results


if __name__ == "__main__":
    main()
