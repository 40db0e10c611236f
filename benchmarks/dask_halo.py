"""What a Dask task receives, and the Dask build against the local one, side by side.

For one network (``--n`` neurons in the unit square or cube, in random
order, ``FixedOutDegree(--k)``, Gaussian ``--sigma``) this measures, in one
run:

* the data each task receives: partners held and pickled bytes per task,
  for ``partition="space"`` and ``"index"``, against all positions (what
  every worker received before halos);
* the wall time of ``spatialconn.dask.connect(..., output=dir)`` on a
  ``LocalCluster`` (``--workers`` processes, one thread each) against
  ``spatialconn.io.connect_to_file`` on the same machine;
* that both wrote the same synapses (sorted by source, stable).

Usage::

    python benchmarks/dask_halo.py                     # 10^6 neurons, 2-D, k = 100, 16 partitions
    python benchmarks/dask_halo.py --n 200000 --dim 3 --sigma 0.02

Prints one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import tempfile
import time

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--sigma", type=float, default=0.005)
    p.add_argument("--partitions", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)

    import pyarrow.dataset as ds
    from distributed import Client, LocalCluster

    import spatialconn as sc
    import spatialconn.dask as scd
    from spatialconn.io import connect_to_file

    pos = np.random.default_rng(a.seed).random((a.n, a.dim))
    kw = dict(rule=sc.FixedOutDegree(a.k), kernel=sc.Gaussian(a.sigma), seed=a.seed)
    out = dict(n=a.n, dim=a.dim, k=a.k, sigma=a.sigma, partitions=a.partitions, workers=a.workers)

    job = sc.plan(pos, **kw)
    out["all_positions_bytes"] = len(pickle.dumps(job))
    for how in ("space", "index"):  # neurons in random order: index ranges need every partner
        t = time.perf_counter()
        ids = scd._parts(job, a.partitions, how)
        units = scd._units(job, ids, lambda x: x, lambda x: x)
        out[f"{how}_cut_s"] = round(time.perf_counter() - t, 3)
        pieces = [u for u in units if not isinstance(u, tuple)]  # tuples share the whole job
        out[f"{how}_tasks_sharing_the_whole_job"] = len(units) - len(pieces)
        if not pieces:
            continue
        held = np.array([u.partners_held for u in pieces]) / a.n
        size = np.array([len(pickle.dumps(u)) for u in pieces])
        out[f"{how}_partners_held_fraction_mean_max"] = [round(float(held.mean()), 4), round(float(held.max()), 4)]
        out[f"{how}_task_bytes_mean_max"] = [int(size.mean()), int(size.max())]
        del units

    tmp = tempfile.mkdtemp(prefix="spatialconn-dask-")
    try:
        t = time.perf_counter()
        connect_to_file(os.path.join(tmp, "local.parquet"), pos, **kw)
        out["local_s"] = round(time.perf_counter() - t, 2)
        with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("spatialconn").connect(np.random.random((50, 2)),
                                                                 rule=sc.FixedOutDegree(1), seed=0))  # warm
            t = time.perf_counter()
            scd.connect(pos, client=client, npartitions=a.partitions, output=os.path.join(tmp, "dask"), **kw)
            out["dask_s"] = round(time.perf_counter() - t, 2)
        local = ds.dataset(os.path.join(tmp, "local.parquet")).to_table(columns=["source", "target"]).to_pandas()
        far = ds.dataset(os.path.join(tmp, "dask")).to_table(columns=["source", "target"]).to_pandas()
        far = far.sort_values("source", kind="stable")
        out["synapses"] = len(local)
        out["identical"] = bool(len(local) == len(far)
                                and (local.source.to_numpy() == far.source.to_numpy()).all()
                                and (local.target.to_numpy() == far.target.to_numpy()).all())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
