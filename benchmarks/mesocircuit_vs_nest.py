"""The mesocircuit's projections: NEST's own ``nest.Connect`` vs spatialconn (time and memory).

Three ways to make the same recurrent connectivity (``examples/mesocircuit.py``:
``pairwise_bernoulli`` with ``p0 · exp(-d / beta)`` in a circular mask, no
autapses, repeated where ``p0 > 1``; normal weights, delays ``d0 + d / v``):

* ``nest``: the model's own calls, ``nest.Connect(pre, post, conn_spec, syn_spec)``
  with NEST Parameters (as ``mesocircuit/simulation/network.py``);
* ``spatialconn.nest``: the same projections drawn by spatialconn and created by
  ``spatialconn.nest.connect`` (one ``nest.Connect(..., "one_to_one")`` each);
* ``spatialconn``: ``sc.connect`` alone (index arrays, no simulator).

Each runs in a fresh process (same positions, same scale, same threads); the
table gives the wall time of the connection calls, the synapses made and the
process's peak resident memory (``ru_maxrss``, including NEST's nodes and
Python). ``nest.Prepare()`` (NEST's presynaptic infrastructure, needed by both
NEST variants before simulating) is timed separately.

Usage::

    python benchmarks/mesocircuit_vs_nest.py --scale 0.02 [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("mesocircuit", ROOT / "examples" / "mesocircuit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(variant: str, scale: float, threads: int, seed: int = 1) -> dict:
    """One variant in this process; returns time, synapses and peak memory."""
    meso = _example()
    import numpy as np

    params = meso.parameters(scale)
    pos = meso.positions(params, seed)
    projs = meso.projections(params, seed)
    out = {"variant": variant, "scale": scale, "threads": threads, "neurons": int(params["num_neurons"].sum())}
    if variant == "spatialconn":

        t0, n = time.perf_counter(), 0
        for _proj, conn in meso.build(params, pos, seed):
            n += len(conn)
        out.update(connect_s=time.perf_counter() - t0, synapses=n, prepare_s=None)
    else:
        import nest

        import spatialconn.nest as scn  # before nest (OpenMP runtimes)

        nest.ResetKernel()
        nest.set(local_num_threads=threads, rng_seed=seed)
        ext = [params["extent"]] * 2
        pops = [nest.Create("iaf_psc_exp" if k < 8 else "parrot_neuron", len(p),
                            positions=nest.spatial.free(p.tolist(), extent=ext, edge_wrap=True))
                for k, p in enumerate(pos)]
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        for proj in projs:
            i, j = meso.POPULATIONS.index(proj.target), meso.POPULATIONS.index(proj.source)
            if variant == "nest":
                w = params["weight"][i, j]
                lo, hi = (0.0, float("inf")) if w >= 0 else (float("-inf"), 0.0)
                conn_spec = {"rule": "pairwise_bernoulli", "allow_autapses": False, "allow_multapses": True,
                             "p": params["p0"][i, j] * nest.spatial_distributions.exponential(
                                 x=nest.spatial.distance, beta=params["beta"][i, j]),
                             "mask": {"circular": {"radius": params["mask_radius"][i, j]}}}
                syn_spec = {"synapse_model": "static_synapse",
                            "weight": nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * meso.WEIGHT_REL_STD),
                                                       min=lo, max=hi),
                            "delay": nest.math.redraw(meso.DELAY_OFFSET + nest.spatial.distance / meso.PROP_SPEED,
                                                      min=0.05, max=float("inf"))}
                nest.Connect(pops[j], pops[i], conn_spec, syn_spec)
            else:
                scn.connect(pops[j], pops[i], proj.rule, proj.kernel, mask=proj.mask, autapses=proj.autapses,
                            seed=proj.seed, weight=lambda d, i=i, j=j: meso.weights(params, np.size(d), i, j, rng),
                            delay=lambda d, i=i, j=j: meso.delay(params, d, i, j))
        out["connect_s"] = time.perf_counter() - t0
        out["synapses"] = int(nest.num_connections)
        t0 = time.perf_counter()
        nest.Prepare()
        out["prepare_s"] = time.perf_counter() - t0
        nest.Cleanup()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[0.02])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["nest", "spatialconn.nest", "spatialconn"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run(args.child, args.scale[0], args.threads)))
        return 0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               SPATIALCONN_THREADS=str(args.threads), PYNEST_QUIET="1")
    rows = []
    for scale in args.scale:
        for variant in args.variants:
            res = subprocess.run([sys.executable, __file__, "--child", variant, "--scale", str(scale),
                                  "--threads", str(args.threads)], env=env, capture_output=True, text=True,
                                 check=True)
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    print("\n| scale (N = K) | neurons | variant | synapses | connect (s) | nest.Prepare (s) | peak memory (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        prep = "–" if r["prepare_s"] is None else f"{r['prepare_s']:.1f}"
        print(f"| {r['scale']:g} | {r['neurons']} | {r['variant']} | {r['synapses']:,} | {r['connect_s']:.1f} | "
              f"{prep} | {r['peak_rss_mb']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
