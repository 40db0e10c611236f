"""The mesocircuit model, its connectivity built with spatialconn.

The mesocircuit (Senk, Hagen, van Albada, Diesmann; public code
https://github.com/INM-6/mesocircuit-model) extends the Potjans & Diesmann
(2014) microcircuit to a 4 mm × 4 mm sheet with periodic boundaries: eight
cortical populations (L2/3, L4, L5, L6, each excitatory and inhibitory,
``iaf_psc_exp``) and a thalamic population (TC, parrot neurons, source
only), placed uniformly at random. Every projection is NEST's
``pairwise_bernoulli`` with ``p0 · exp(-d / beta)`` inside a disc of radius
``min(5 beta, extent / 2)``, without autapses, repeated ``R`` times where
``p0`` would exceed 1 (multapses), and delays linear in distance,
``d0 + d / v``. All parameters below are the published defaults, copied
from ``mesocircuit/parameterization/base_network_params.py`` and derived as
in ``derive_dependent_parameters`` and its helpers of
``mesocircuit/parameterization/helpers_network.py``; the NEST calls follow
``mesocircuit/simulation/network.py`` (``__connect_neuronal_populations``).

Scaling, as the model does it: ``--scale`` is its ``N_scaling`` (neuron
numbers, on the same 4 × 4 mm² sheet), ``--k-scale`` its ``K_scaling``
(in-degrees; weights × 1/√K_scaling and DC input compensate, as in
``adjust_weights_and_input_to_indegree_scaling``). ``--k-scale`` defaults to
``--scale`` so that a small run is small in synapses too.

Usage::

    python examples/mesocircuit.py --scale 0.02                 # build and verify every projection
    python examples/mesocircuit.py --scale 0.02 --nest 300 --figure docs/img/mesocircuit_rates.png
    python examples/mesocircuit.py --scale 1 --output meso_full            # stream 5.4e9 synapses to Parquet

Needs numpy and scipy; ``--nest`` needs NEST, ``--figure`` matplotlib,
``--output`` pyarrow (``.parquet``) or h5py (``.h5``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

import spatialconn as sc

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I", "TC"]

# -- published parameters (base_network_params.py, defaults: PD2014, distr_indegree_exp, linear delays) --
NUM_NEURONS_1MM2 = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948, 902], float)
CONN_PROBS_1MM2 = np.array([  # targets × sources, PD2014
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
CONN_PROBS_TH_1MM2 = np.array([0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196])
MEAN_RATES = np.array([0.909, 2.968, 4.391, 5.864, 7.535, 8.620, 1.099, 7.819])  # spikes/s, full model
K_EXT_1MM2 = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100], float)
BETA_UNSCALED = np.tile([[0.232, 0.161], [0.125, 0.120]], (4, 4))  # mm; E->E I->E / E->I I->I
BETA_TH, MASK_SCALING, EXTENT = 0.1, 5.0, 4.0  # mm
PSP_EXC, G, WEIGHT_REL_STD, BG_RATE, DELAY_POISSON = 0.15, -4.0, 0.1, 8.0, 1.5
DELAY_OFFSET, PROP_SPEED = 0.5, 0.3  # ms, mm/ms (same for E and I)
NEURON = {"tau_m": 10.0, "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "E_L": -65.0, "V_th": -50.0, "V_reset": -65.0,
          "t_ref": 2.0, "C_m": 250.0}
TAU_SYN_DEFAULT = 0.5
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_STD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])


def _exc_inh(exc, inh, n_pops=9):
    m = np.zeros((n_pops - 1, n_pops))
    m[:, 0::2], m[:, 1::2] = exc, inh
    return m


def _psc_over_psp(C_m, tau_m, tau_syn):
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac**tau_m - frac**tau_syn))


def _area_factor(radius, decay):  # exponential profile, from a disc of 1 mm² to the mask
    def integral(r):
        x = r / decay
        return 1.0 - np.exp(-x) * (1.0 + x)
    return integral(radius) / integral(1.0 / np.sqrt(np.pi))


def parameters(scale: float = 1.0, k_scale: float | None = None) -> dict:
    """Derived parameters of the mesocircuit (``derive_dependent_parameters``) for ``N_scaling = scale``.

    Returns a dict with, per population, ``num_neurons`` (9), and per
    projection target × source (8 × 9): ``p0``, ``repeat``, ``beta``,
    ``mask_radius``, ``weight`` (mean PSC in pA), ``indegree``; plus
    ``ext_indegree``, ``weight_ext``, ``dc`` (8) and ``extent``.

    Examples
    --------
    >>> p = parameters(1.0)
    >>> int(p["num_neurons"].sum()), int(p["repeat"].max())   # 1.2 million neurons, multapses
    (1249136, 5)
    """
    k_scale = scale if k_scale is None else k_scale
    if not (0 < scale <= 1 and 0 < k_scale <= 1):
        raise ValueError(f"scale and k_scale must lie in (0, 1], got {scale}, {k_scale}")
    beta = np.zeros((8, 9))
    beta[:, :-1], beta[:, -1] = BETA_UNSCALED, BETA_TH
    psp = _exc_inh(PSP_EXC, PSP_EXC * G)
    psp[0, 2] = 2.0 * PSP_EXC  # L4E -> L23E doubled
    psc_unit = _psc_over_psp(NEURON["C_m"], NEURON["tau_m"], TAU_SYN_DEFAULT)
    psc, psc_ext = psp * psc_unit, PSP_EXC * psc_unit
    probs = np.zeros((8, 9))
    probs[:, :-1], probs[:, -1] = CONN_PROBS_1MM2, CONN_PROBS_TH_1MM2
    prod = np.outer(NUM_NEURONS_1MM2[:-1], NUM_NEURONS_1MM2)
    indegrees_1mm2 = np.log(1.0 - probs) / np.log((prod - 1.0) / prod) / NUM_NEURONS_1MM2[:-1, None]
    mask_radius = np.minimum(MASK_SCALING * beta, EXTENT / 2)
    full_indegrees = indegrees_1mm2 * _area_factor(mask_radius, beta)
    # external in-degrees keep the mean input of the 1 mm² model (adjust_ext_indegrees_to_preserve_mean_input)
    diff = (psc[:, :-1] / psc_ext) * (MEAN_RATES / BG_RATE) * (indegrees_1mm2[:, :-1] - full_indegrees[:, :-1])
    full_ext = K_EXT_1MM2 + diff.sum(axis=1)
    neurons = NUM_NEURONS_1MM2 * EXTENT**2 * scale  # unrounded, as the model uses them below
    num_neurons = np.round(neurons).astype(np.int64)
    indegrees = full_indegrees * k_scale
    dc = np.zeros(8)
    if k_scale != 1:  # adjust_weights_and_input_to_indegree_scaling (Poisson input on)
        rec = np.sum(psc[:, :-1] * full_indegrees[:, :-1] * MEAN_RATES, axis=1)
        dc = 0.001 * TAU_SYN_DEFAULT * (1.0 - math.sqrt(k_scale)) * (rec + psc_ext * full_ext * BG_RATE)
        psc, psc_ext = psc / math.sqrt(k_scale), psc_ext / math.sqrt(k_scale)
    tau = _exc_inh(TAU_SYN_DEFAULT / NEURON["tau_syn_ex"], TAU_SYN_DEFAULT / NEURON["tau_syn_in"])
    weight, weight_ext = psc * tau, psc_ext * TAU_SYN_DEFAULT / NEURON["tau_syn_ex"]
    # p0 of p0 · exp(-r / beta) within the mask (zero_distance_conn_prob_exp, reproduced as published: it
    # multiplies by 1 - e^-x (1 + x), x = R / beta = 5 here, where the integral it matches divides; p0 is 8 %
    # below the in-degree it is derived from)
    uniform = indegrees / (neurons[None, :] * np.pi * mask_radius**2 / EXTENT**2)
    frac = mask_radius / beta
    p0_raw = uniform * 0.5 * frac**2 * (1.0 - np.exp(-frac) * (1.0 + frac)) + 0.0  # no -0.0
    repeat = np.where(p0_raw > 1, np.ceil(p0_raw), 1).astype(int)
    return {"num_neurons": num_neurons, "p0_raw": p0_raw, "p0": p0_raw / repeat, "repeat": repeat, "beta": beta,
            "mask_radius": mask_radius, "weight": weight, "indegree": indegrees, "weight_ext": weight_ext,
            "ext_indegree": np.round(full_ext * k_scale).astype(int), "dc": dc, "extent": EXTENT,
            "scale": scale, "k_scale": k_scale}


def positions(params: dict, seed: int = 0) -> list:
    """Uniform random positions (mm) of the nine populations on the sheet (``nest.random.uniform``)."""
    rng = np.random.default_rng([seed, 7])
    half = params["extent"] / 2
    return [rng.uniform(-half, half, (int(n), 2)) for n in params["num_neurons"]]


def projections(params: dict, seed: int = 0) -> list:
    """One :class:`spatialconn.spec.Projection` per target × source × repetition."""
    from spatialconn.spec import Projection

    space = sc.Space([(-params["extent"] / 2, params["extent"] / 2)] * 2, periodic=True)
    out = []
    for i in range(8):
        for j in range(9):
            for r in range(int(params["repeat"][i, j])):
                name = f"{POPULATIONS[j]}->{POPULATIONS[i]}" + (f"#{r}" if params["repeat"][i, j] > 1 else "")
                seq = np.random.SeedSequence([seed, i, j, r])
                out.append(Projection(name, POPULATIONS[j], POPULATIONS[i], sc.PairwiseBernoulli(params["p0"][i, j]),
                                      sc.Exponential(params["beta"][i, j]), sc.Disc(params["mask_radius"][i, j]),
                                      space, autapses=False, seed=int(seq.generate_state(1)[0])))
    return out


def build(params: dict, pos: list, seed: int = 0):
    """Yield ``(projection, Connections)`` for every projection (one ``sc.connect`` call each)."""
    index = {name: k for k, name in enumerate(POPULATIONS)}
    for proj in projections(params, seed):
        src, tgt = pos[index[proj.source]], pos[index[proj.target]]
        conn = sc.connect(src, None if proj.recurrent else tgt, rule=proj.rule, kernel=proj.kernel, mask=proj.mask,
                          space=proj.space, autapses=proj.autapses, seed=proj.seed)
        yield proj, conn


def verify(proj, conn, pos, alpha: float = 0.01):
    """:func:`spatialconn.check.check_projection` of one projection (counts z-test, distances KS, ...).

    ``alpha`` is the level of each statistical test; :func:`main` divides 1 % by the number of
    projections (Bonferroni), so a correct network fails with probability below 2 %.
    """
    from spatialconn.check import check_projection

    index = {name: k for k, name in enumerate(POPULATIONS)}
    return check_projection(conn.sources, conn.targets, proj, pos[index[proj.source]], pos[index[proj.target]],
                            alpha=alpha, max_pairs=500_000)


def delay(params, d, i, j):
    """Delay (ms) of synapses at distances ``d`` (mm): ``d0 + d / v`` (the model's 'linear' delays)."""
    return DELAY_OFFSET + np.asarray(d, dtype=np.float64) / PROP_SPEED


def weights(params, n, i, j, rng):
    """``n`` weights (pA): normal(mean, 0.1 |mean|) redrawn until they keep the mean's sign (as the model)."""
    mean = params["weight"][i, j]
    w = rng.normal(mean, abs(mean) * WEIGHT_REL_STD, n)
    bad = (w < 0) if mean >= 0 else (w > 0)
    while bad.any():
        w[bad] = rng.normal(mean, abs(mean) * WEIGHT_REL_STD, int(bad.sum()))
        bad = (w < 0) if mean >= 0 else (w > 0)
    return w


def simulate(params: dict, pos: list, t_sim: float, seed: int = 0, t_presim: float = 100.0, threads: int = 2):
    """Build the network in NEST through :mod:`spatialconn.nest`, simulate, return rates and spikes."""
    import nest

    import spatialconn.nest as scn  # before nest: numba's and NEST's OpenMP runtimes

    nest.ResetKernel()
    nest.set(local_num_threads=threads, resolution=0.1, rng_seed=seed + 1, print_time=False)
    ext = [params["extent"]] * 2
    pops = []
    for k, p in enumerate(pos):
        layer = nest.spatial.free(p.tolist(), extent=ext, edge_wrap=True)
        if k < 8:
            nodes = nest.Create("iaf_psc_exp", len(p), positions=layer, params=dict(NEURON, I_e=params["dc"][k]))
            nodes.V_m = nest.random.normal(V0_MEAN[k], V0_STD[k])
        else:
            nodes = nest.Create("parrot_neuron", len(p), positions=layer)  # thalamus: silent without stimulus
        pops.append(nodes)
    rng = np.random.default_rng([seed, 11])
    t0 = time.perf_counter()
    for proj in projections(params, seed):
        i, j = POPULATIONS.index(proj.target), POPULATIONS.index(proj.source)
        scn.connect(pops[j], pops[i], proj.rule, proj.kernel, mask=proj.mask, autapses=proj.autapses,
                    seed=proj.seed, weight=lambda d, i=i, j=j: weights(params, np.size(d), i, j, rng),
                    delay=lambda d, i=i, j=j: delay(params, d, i, j))
    t_connect = time.perf_counter() - t0
    bg = nest.Create("poisson_generator", 8, params={"rate": BG_RATE * params["ext_indegree"]})
    for k in range(8):
        nest.Connect(bg[k], pops[k], "all_to_all", {"weight": params["weight_ext"], "delay": DELAY_POISSON})
    recorders = nest.Create("spike_recorder", 8, params={"start": t_presim})
    for k in range(8):
        nest.Connect(pops[k], recorders[k])
    nest.Simulate(t_presim + t_sim)
    spikes = [(np.asarray(r.events["senders"]) - pops[k][0].global_id, np.asarray(r.events["times"]))
              for k, r in enumerate(recorders)]
    rates = np.array([len(s[0]) / len(pos[k]) / (t_sim / 1000.0) for k, s in enumerate(spikes)])
    return {"rates": rates, "spikes": spikes, "connect_s": t_connect, "synapses": nest.num_connections}


def figure(result, params, pos, path):
    """Raster (neurons ordered by x position, a strip of the sheet) and population rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]})
    colours = ["#1f77b4", "#d62728"] * 4
    offset = 0
    for k, (senders, times) in enumerate(result["spikes"]):
        order = np.argsort(pos[k][:, 0])
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        ax1.plot(times, offset + rank[senders], ".", ms=1, color=colours[k], rasterized=True)
        offset += len(pos[k])
    ax1.set(xlabel="time (ms)", ylabel="neurons (by population, then x position)",
            yticks=np.cumsum(params["num_neurons"][:8]) - params["num_neurons"][:8] / 2,
            yticklabels=POPULATIONS[:8])
    ax1.invert_yaxis()
    x = np.arange(8)
    ax2.barh(x - 0.2, result["rates"], 0.4, color=colours, label="this run")
    ax2.barh(x + 0.2, MEAN_RATES, 0.4, color="0.7", label="full model (published)")
    ax2.set(yticks=x, yticklabels=POPULATIONS[:8], xlabel="rate (spikes/s)")
    ax2.invert_yaxis()
    ax2.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"mesocircuit at N x {params['scale']:g}, K x {params['k_scale']:g}, built by spatialconn, "
                 "simulated by NEST")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.02, help="N_scaling: neuron numbers (default 0.02)")
    parser.add_argument("--k-scale", type=float, default=None, help="K_scaling: in-degrees (default: --scale)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-check", action="store_true", help="skip verifying every projection")
    parser.add_argument("--nest", type=float, default=0.0, metavar="MS", help="simulate MS ms in NEST")
    parser.add_argument("--figure", default=None, help="raster and rate figure of the NEST run (png)")
    parser.add_argument("--output", default=None, metavar="DIR",
                        help="stream all synapses to DIR, one file per call: Parquet, or SONATA if DIR ends in .h5")
    parser.add_argument("--no-progress", action="store_true", help="with --output: no progress bar")
    parser.add_argument("--no-distance", action="store_true",
                        help="with --output: source and target only (about 2.4 instead of 10 bytes per synapse)")
    args = parser.parse_args(argv)
    params = parameters(args.scale, args.k_scale)
    pos = positions(params, args.seed)
    print(f"mesocircuit: N x {params['scale']:g}, K x {params['k_scale']:g}: "
          f"{int(params['num_neurons'].sum())} neurons on {EXTENT:g} x {EXTENT:g} mm^2, "
          f"{len(projections(params))} projections (repeats included)")
    if args.output:
        stream(params, pos, args.output, args.seed, progress=not args.no_progress, distance=not args.no_distance)
        return 0
    t0, total, failed = time.perf_counter(), 0, []
    alpha = 0.01 / len(projections(params))
    for proj, conn in build(params, pos, args.seed):
        total += len(conn)
        if not args.no_check:
            report = verify(proj, conn, pos, alpha)
            if not report.passed:
                failed.append(report)
                print("\n".join(report.lines()))
    dt = time.perf_counter() - t0
    what = "built" if args.no_check else "built and checked"
    print(f"{total} synapses {what} in {dt:.1f} s"
          + ("" if args.no_check else f"; {len(failed)} projection(s) failed a check"))
    if args.nest:
        result = simulate(params, pos, args.nest, args.seed)
        print(f"NEST: {result['synapses']} synapses created through spatialconn.nest in {result['connect_s']:.1f} s; "
              "rates (spikes/s): " + ", ".join(f"{p} {r:.2f}" for p, r in zip(POPULATIONS, result["rates"])))
        if args.figure:
            figure(result, params, pos, args.figure)
            print(f"figure: {args.figure}")
    return 1 if failed else 0


def expected_synapses(params: dict, i: int, j: int) -> float:
    """Mean number of synapses of one call from population ``j`` to ``i`` (uniform positions, the torus).

    ``N_i N_j / A · p0 · 2π β² (1 - e^-x (1 + x))``, ``x = R / β``: the
    integral of ``p0 exp(-r / β)`` over the disc of radius ``R`` (autapses
    not subtracted). Used for the progress bar's total.

    Examples
    --------
    >>> p = parameters(1.0)
    >>> total = sum(expected_synapses(p, i, j) * p["repeat"][i, j] for i in range(8) for j in range(9))
    >>> round(total / 1e9, 2)   # full scale: 5.45 billion synapses
    5.45
    """
    beta, x = params["beta"][i, j], params["mask_radius"][i, j] / params["beta"][i, j]
    n_t, n_s = params["num_neurons"][i], params["num_neurons"][j]
    disc = 2 * math.pi * beta**2 * (1 - math.exp(-x) * (1 + x))
    return float(n_t) * float(n_s) / params["extent"] ** 2 * params["p0"][i, j] * disc


def stream(params, pos, output, seed, progress: bool = True, distance: bool = True):
    """Stream every call to ``output``/<projection>.<ext>, block by block; show progress, return the totals.

    ``output`` is a directory; its extension picks the format (``.h5``:
    SONATA, else Parquet). Each call is planned, then sampled in blocks of
    about 512 MB of working memory (:func:`spatialconn.io.iter_blocks`)
    that a writer thread writes while the next block is sampled, so the
    peak memory is that of two blocks plus the positions, whatever the
    scale. Columns: source, target, distance (mm; not with ``distance=False``,
    which saves three quarters of the size); the model's delay is
    ``0.5 ms + distance / (0.3 mm/ms)``.
    """
    import os

    from spatialconn import io
    from spatialconn.progress import progress_bar

    ext = ".h5" if output.lower().endswith((".h5", ".hdf5")) else ".parquet"
    os.makedirs(output, exist_ok=True)
    index = {name: k for k, name in enumerate(POPULATIONS)}
    calls = projections(params, seed)
    expected = [expected_synapses(params, index[c.target], index[c.source]) for c in calls]
    try:
        import tqdm  # noqa: F401
    except ImportError:  # plain lines only
        progress = False
    t0, size, total = time.perf_counter(), 0, 0
    with progress_bar(progress, total=int(sum(expected)), desc="synapses", unit="syn") as bar:
        say = bar.write if progress else print
        for call, mean in zip(calls, expected):
            src, tgt = pos[index[call.source]], pos[index[call.target]]
            path = os.path.join(output, call.name.replace("->", "_to_").replace("#", "_r") + ext)
            job = sc.plan(src, None if call.recurrent else tgt, rule=call.rule, kernel=call.kernel,
                          mask=call.mask, space=call.space, autapses=call.autapses, seed=call.seed)
            made = [0]

            def counted(blocks, made=made):
                for block in blocks:
                    made[0] += len(block)
                    bar.update(len(block))
                    yield block

            io.write(counted(io.iter_blocks(job, memory_limit="512 MB")), path, distance=distance)
            total += made[0]
            size += sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(path) for f in fs) \
                if os.path.isdir(path) else os.path.getsize(path)
            elapsed = time.perf_counter() - t0
            say(f"  {call.name}: {made[0]:,} synapses (expected {mean:,.0f}); {total:,} in {elapsed:.0f} s "
                f"({total / max(elapsed, 1e-9):,.0f}/s), {size / 1e9:.2f} GB so far")
    elapsed = time.perf_counter() - t0
    print(f"streamed {total:,} synapses to {output}: {elapsed:.0f} s, {size / 1e9:.2f} GB "
          f"({size / max(total, 1):.2f} bytes per synapse)")
    return {"synapses": total, "seconds": elapsed, "bytes": size}


if __name__ == "__main__":
    sys.exit(main())
