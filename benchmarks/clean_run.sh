#!/usr/bin/env bash
# spatialconn-only benchmarks on a quiet machine, pinned to 2 cores (taskset) to
# stand for "an ordinary 2-core machine". Needs spatialconn installed (pip install .,
# which compiles the engine). Results go to ${OUT:-/tmp/bench}.
set -euo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/bench}
mkdir -p "$OUT"
export SPATIALCONN_THREADS=2
PIN="taskset -c 0,1"
# warm-up, not timed
$PIN python3 -c "
import numpy as np, spatialconn as sc
p = np.random.default_rng(0).random((2000, 2))
for kw in (dict(rule=sc.FixedOutDegree(5)), dict(rule=sc.FixedOutDegree(5), multapses=False),
           dict(rule=sc.FixedInDegree(5)), dict(rule=sc.PairwiseBernoulli(0.5)),
           dict(rule=sc.FixedTotalNumber(5000)), dict(rule=sc.FixedTotalNumber(5000), multapses=False)):
    sc.connect(p, kernel=sc.Gaussian(0.05), seed=0, **kw)
"
$PIN python3 cold_start.py | tee "$OUT/cold_start.md"
$PIN python3 forum.py --only-spatialconn | tee "$OUT/forum.md"
$PIN python3 local.py --only-spatialconn | tee "$OUT/local.md"
$PIN python3 scaling.py | tee "$OUT/scaling.md"
cp scaling.json "$OUT/"
