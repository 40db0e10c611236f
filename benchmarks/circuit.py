"""Write a SONATA circuit of N excitatory + N/4 inhibitory neurons with bounded memory.

Builds the spec below with ``spatialconn.io.write_circuit`` (out-degree k
from the excitatory, in-degree k/2 onto the inhibitory population, Gaussian
kernels on a torus) and measures wall time, peak resident memory
(``ru_maxrss``) and the size on disk, then checks the edge counts with
libsonata. For comparison it prints what the synapses alone would take in
memory as int64 sources, targets and float64 distances (24 bytes each).

Usage::

    python benchmarks/circuit.py --n 200000 --k 50 --memory-limit "64 MB"

Prints one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
[populations.inh]
positions = "uniform"
n = {n_inh}
extent = [[0, 1], [0, 1]]
[projections.exc_exc]
source = "exc"
rule = {{ type = "FixedOutDegree", k = {k} }}
kernel = {{ type = "Gaussian", sigma = {sigma} }}
syn_weight = 20.0
delay = {{ intercept = 1.0, slope = 5.0 }}
[projections.exc_inh]
source = "exc"
target = "inh"
rule = {{ type = "FixedInDegree", k = {k_inh} }}
kernel = {{ type = "Gaussian", sigma = {sigma} }}
syn_weight = 40.0
"""


def du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000, help="excitatory neurons (inhibitory: n/4)")
    p.add_argument("--k", type=int, default=50, help="out-degree of the excitatory neurons")
    p.add_argument("--sigma", type=float, default=0.01, help="kernel width (unit square)")
    p.add_argument("--memory-limit", default="64 MB", help="block and index memory (default 64 MB)")
    p.add_argument("--out", default=None, help="folder for the circuit (default: a temporary one)")
    args = p.parse_args(argv)

    import libsonata

    from spatialconn.io import write_circuit
    from spatialconn.spec import parse

    net = parse(SPEC.format(n=args.n, n_inh=args.n // 4, k=args.k, k_inh=args.k // 2, sigma=args.sigma))
    base = args.out or tempfile.mkdtemp(prefix="sc-circuit-")
    folder = os.path.join(base, "circuit")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    config = write_circuit(net, folder, memory_limit=args.memory_limit)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cfg = libsonata.CircuitConfig.from_file(config)
    synapses = {name: cfg.edge_population(name).size for name in sorted(cfg.edge_populations)}
    assert synapses == {"exc_exc": args.n * args.k, "exc_inh": (args.n // 4) * (args.k // 2)}, synapses
    total = sum(synapses.values())
    print(json.dumps({
        "neurons": args.n + args.n // 4, "synapses": total, "memory_limit": args.memory_limit,
        "seconds": round(seconds, 2), "peak_rss_MB": round(peak / 1e6, 1),
        "rss_before_MB": round(rss_before / 1e6, 1),
        "synapses_in_memory_MB": round(24 * total / 1e6, 1), "disk_MB": round(du(folder) / 1e6, 1),
    }))
    if args.out is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
