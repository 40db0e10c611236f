"""Stream 10^9 synapses (10^6 x 10^6 neurons, k = 1000, local Gaussian) to Parquet.

Measures wall time, peak resident memory (``ru_maxrss``) and the size on
disk, and checks the row count from the Parquet metadata. The full size
needs the compiled engine (``"grid"`` in ``spatialconn.engine.ENGINES``);
the numpy reference engine evaluates every pair and is only usable for a
scaled-down run (``--n 30000``).

Usage::

    python benchmarks/streaming_1e9.py                       # 10^6 x 10^6 x 1000 (needs "grid")
    python benchmarks/streaming_1e9.py --n 30000 --sigma 0.05 --memory-limit "256 MB"
    python benchmarks/streaming_1e9.py --stages --drivers 100000   # where the time goes (first 10^8 synapses)

Prints one JSON line with the figures. ``--stages`` runs the stages one
after the other instead (no overlap) and reports the wall and CPU seconds
of each: sampling (``plan.block``), the Arrow table (distances included)
and the Parquet writer (encoding, compression, writing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np


def du(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="neurons per population (sources = targets)")
    p.add_argument("--k", type=int, default=1000, help="out-degree")
    p.add_argument("--sigma", type=float, default=0.005, help="Gaussian sigma in the unit square")
    p.add_argument("--memory-limit", default="2 GB", help="working memory per block")
    p.add_argument("--rows-per-file", type=int, default=100_000_000, help="synapses per Parquet file")
    p.add_argument("--no-distance", action="store_true", help="omit the distance column")
    p.add_argument("--compression", default="zstd")
    p.add_argument("--engine", default="auto")
    p.add_argument("--out", default=None, help="output directory (default: a temporary one, removed)")
    p.add_argument("--keep", action="store_true", help="keep the output")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--stages", action="store_true", help="time sampling, Arrow and Parquet one after the other")
    p.add_argument("--drivers", type=int, default=None, help="with --stages: only the first N sources")
    p.add_argument("--dictionary", action="store_true", help="with --stages: Parquet dictionary pages on")
    a = p.parse_args(argv)
    if a.stages:
        return stages(a)

    import spatialconn as sc
    from spatialconn import engine, io

    if a.engine == "auto" and "grid" not in engine.ENGINES and a.n > 50_000:
        sys.exit(f"the compiled 'grid' engine is not registered (ENGINES = {list(engine.ENGINES)}); the "
                 "reference engine costs N^2 pair evaluations. Use --n 30000 for a scaled-down run.")
    pos = np.random.default_rng(0).random((a.n, 2))
    base = a.out or tempfile.mkdtemp(prefix="streaming_1e9-", dir=os.environ.get("TMPDIR"))
    out = os.path.join(base, "synapses")
    t0 = time.perf_counter()
    io.connect_to_file(out, pos, rule=sc.FixedOutDegree(a.k), kernel=sc.Gaussian(a.sigma), seed=1,
                       engine=a.engine, memory_limit=a.memory_limit, progress=a.progress,
                       write_options=dict(rows_per_file=a.rows_per_file, distance=not a.no_distance,
                                          compression=a.compression))
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(os.path.join(out, f)).metadata.num_rows for f in sorted(os.listdir(out)))
    size = du(out)
    report = dict(n=a.n, k=a.k, sigma=a.sigma, synapses=rows, expected=a.n * a.k, seconds=round(elapsed, 1),
                  synapses_per_s=round(rows / elapsed), peak_rss_gb=round(peak / 1e9, 3),
                  bytes_on_disk=size, gb_on_disk=round(size / 1e9, 3), files=len(os.listdir(out)),
                  memory_limit=a.memory_limit, distance=not a.no_distance, compression=a.compression,
                  engine=a.engine, engines=list(engine.ENGINES), in_memory_gb=round(rows * 16 / 1e9, 2))
    print(json.dumps(report))
    if not (a.keep or a.out):
        shutil.rmtree(base, ignore_errors=True)
    if rows != a.n * a.k:
        sys.exit("row count mismatch")


def stages(a):
    """Sampling, Arrow conversion and Parquet writing of each block, timed one after the other."""
    import pyarrow.parquet as pq

    import spatialconn as sc
    from spatialconn.io import iter_blocks
    from spatialconn.io.parquet import schema, table

    try:  # a tree from before the reused buffer (to compare): a new array per block
        from spatialconn.io._blocks import DistanceBuffer
    except ImportError:
        DistanceBuffer = None

    pos = np.random.default_rng(0).random((a.n, 2))
    plan = sc.plan(pos, rule=sc.FixedOutDegree(a.k), kernel=sc.Gaussian(a.sigma), seed=1, engine=a.engine)
    sch = schema(a.n, a.n, [] if a.no_distance else ["distance"])
    spent = {name: [0.0, 0.0] for name in ("sample", "arrow", "parquet")}

    def timed(name, f, *args):
        w, c = time.perf_counter(), time.process_time()
        out = f(*args)
        spent[name][0] += time.perf_counter() - w
        spent[name][1] += time.process_time() - c
        return out

    blocks, rows = iter_blocks(plan, memory_limit=a.memory_limit, stop=a.drivers), 0
    extra = () if DistanceBuffer is None else (DistanceBuffer(),)
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        with pq.ParquetWriter(os.path.join(tmp, "s.parquet"), sch, compression=a.compression,
                              use_dictionary=a.dictionary) as writer:
            while (block := timed("sample", next, blocks, None)) is not None:
                t = timed("arrow", table, block, sch, {}, *extra)
                timed("parquet", writer.write_table, t, 1 << 20)
                rows += len(block)
    report = {f"{k}_{what}": round(v[i], 2) for k, v in spent.items() for i, what in enumerate(("wall_s", "cpu_s"))}
    report.update(synapses=rows, dictionary=a.dictionary,
                  ns_cpu_per_synapse={k: round(1e9 * v[1] / rows, 1) for k, v in spent.items()},
                  threads=__import__("spatialconn.engine.grid", fromlist=["threads"]).threads())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
