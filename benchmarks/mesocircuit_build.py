"""Build every call of the mesocircuit (examples/mesocircuit.py) with ``sc.connect``: wall and CPU time.

CPU time (``time.process_time``, all threads) is what a loaded machine
disturbs least; wall time shows how much the threads overlapped. Compare
two source trees by running this once with each on ``PYTHONPATH``.

Usage::

    python benchmarks/mesocircuit_build.py --scale 0.05
    PYTHONPATH=/path/to/other/src python benchmarks/mesocircuit_build.py --scale 0.05

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=0.05, help="N_scaling = K_scaling of the model")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import mesocircuit

    import spatialconn
    from spatialconn.engine.grid import threads

    params = mesocircuit.parameters(a.scale)
    pos = mesocircuit.positions(params, a.seed)
    wall, cpu, synapses = time.perf_counter(), time.process_time(), 0
    for _, conn in mesocircuit.build(params, pos, a.seed):
        synapses += len(conn)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps(dict(scale=a.scale, neurons=int(params["num_neurons"].sum()), synapses=synapses,
                          wall_s=round(wall, 2), cpu_s=round(cpu, 2), ns_cpu_per_synapse=round(1e9 * cpu / synapses),
                          threads=threads(), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                          spatialconn=str(Path(spatialconn.__file__).parent))))


if __name__ == "__main__":
    main()
