"""Simulate a SONATA circuit written by spatialconn with BMTK's pointnet (NEST backend).

    python examples/run_bmtk.py circuit/circuit_config.json --tstop 200 --output output

Writes ``simulation_config.json`` into the output folder, builds the network
with BMTK from the circuit's files alone, runs it and prints the spikes of each
population (BMTK writes them to ``OUTPUT/spikes.h5``). BMTK resolves the
circuit config's relative paths from the working directory, so it runs in the
circuit's folder. Needs ``pip install "spatialconn[sonata]"`` (bmtk, nest-simulator).
"""

from __future__ import annotations

import argparse
import json
import os


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="the circuit's circuit_config.json")
    parser.add_argument("--tstop", type=float, default=200.0, help="simulated time in ms (default 200)")
    parser.add_argument("--dt", type=float, default=0.1, help="resolution in ms (default 0.1)")
    parser.add_argument("--output", default="output", help="output folder (default: output)")
    args = parser.parse_args(argv)
    config, out = os.path.abspath(args.config), os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    simulation = {
        "target_simulator": "NEST",
        "run": {"tstop": args.tstop, "dt": args.dt},
        "network": config,
        "output": {"output_dir": out, "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True},
    }
    sim_config = os.path.join(out, "simulation_config.json")
    with open(sim_config, "w") as fh:
        json.dump(simulation, fh, indent=2)
    os.chdir(os.path.dirname(config))

    import h5py
    from bmtk.simulator import pointnet

    cfg = pointnet.Config.from_json(sim_config)
    cfg.build_env()
    network = pointnet.PointNetwork.from_config(cfg)
    pointnet.PointSimulator.from_config(cfg, network).run()
    with h5py.File(os.path.join(out, "spikes.h5"), "r") as f:
        spikes = {pop: int(f["spikes"][pop]["timestamps"].shape[0]) for pop in f.get("spikes", {})}
    for pop, n in sorted(spikes.items()):
        print(f"{pop}: {n} spikes in {args.tstop:g} ms")
    return spikes


if __name__ == "__main__":
    main()
