"""Complete SONATA circuits (spatialconn.io.write_circuit) opened by the field's own tools.

libsonata and bluepysnap read the circuit and bluepysnap's validator checks it;
BMTK's pointnet builds it in NEST 3.10 and simulates it from the files alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spatialconn as sc
from spatialconn.io import read_circuit, write_circuit
from spatialconn.spec import Affine, SpecError, parse

pytest.importorskip("h5py")
libsonata = pytest.importorskip("libsonata")

SPEC = """\
seed = 5
[space]
extent = [[0, 1], [0, 1]]
periodic = true

[populations.exc]
positions = "uniform"
n = 80
extent = [[0, 1], [0, 1]]
dynamics_params = { I_e = 400.0 }       # pA: fires on its own (iaf_psc_alpha)

[populations.inh]
positions = "grid"
shape = [4, 5]
extent = [[0, 1], [0, 1]]
model_template = "nest:iaf_psc_exp"

[projections.exc_inh]
source = "exc"
target = "inh"
rule = { type = "FixedInDegree", k = 10 }
kernel = { type = "Gaussian", sigma = 0.3 }
syn_weight = 300.0                      # pA: the only drive of the inhibitory neurons
delay = { intercept = 1.0, slope = 2.0 }

[projections.exc_exc]
source = "exc"
rule = { type = "FixedOutDegree", k = 5 }
kernel = { type = "Exponential", scale = 0.2 }
autapses = false
syn_weight = 10.0
"""


@pytest.fixture(scope="module")
def net():
    return parse(SPEC)


@pytest.fixture(scope="module")
def circuit(net, tmp_path_factory):
    return write_circuit(net, tmp_path_factory.mktemp("c") / "circuit" / "circuit_config.json")


def files(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def test_layout_config_and_type_tables(circuit, net):
    folder = Path(circuit).parent
    assert files(folder) == [
        "circuit_config.json",
        "components/point_neuron_models/exc.json", "components/point_neuron_models/inh.json",
        "components/synaptic_models/exc_exc.json", "components/synaptic_models/exc_inh.json",
        "network/exc_exc_edge_types.csv", "network/exc_exc_edges.h5",
        "network/exc_inh_edge_types.csv", "network/exc_inh_edges.h5",
        "network/exc_node_types.csv", "network/exc_nodes.h5",
        "network/inh_node_types.csv", "network/inh_nodes.h5"]
    cfg = json.loads(Path(circuit).read_text())
    assert set(cfg) == {"manifest", "components", "networks"}
    paths = [v for entry in cfg["networks"]["nodes"] + cfg["networks"]["edges"] for k, v in entry.items()
             if k.endswith("_file")] + list(cfg["manifest"].values()) + list(cfg["components"].values())
    assert all(p.startswith(("$", "./")) for p in paths), paths  # relative: the folder can move
    assert [list(e["populations"]) for e in cfg["networks"]["nodes"]] == [["exc"], ["inh"]]
    assert [list(e["populations"]) for e in cfg["networks"]["edges"]] == [["exc_inh"], ["exc_exc"]]
    # space-separated type tables: defaults where the spec is silent, its values where it is not
    assert (folder / "network/exc_node_types.csv").read_text().splitlines() == [
        "node_type_id pop_name model_type model_template dynamics_params",
        "100 exc point_neuron nest:iaf_psc_alpha exc.json"]
    assert (folder / "network/inh_node_types.csv").read_text().splitlines()[1] == \
        "101 inh point_neuron nest:iaf_psc_exp inh.json"
    assert (folder / "network/exc_inh_edge_types.csv").read_text().splitlines() == [
        "edge_type_id model_template dynamics_params", "100 static_synapse exc_inh.json"]
    assert json.loads((folder / "components/point_neuron_models/exc.json").read_text()) == {"I_e": 400.0}
    assert json.loads((folder / "components/point_neuron_models/inh.json").read_text()) == {}


def test_libsonata_reads_nodes_and_edges_exactly(circuit, net, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(Path(circuit).parent, moved)  # relative paths: a moved copy opens the same
    cfg = libsonata.CircuitConfig.from_file(str(moved / "circuit_config.json"))
    assert cfg.node_populations == {"exc", "inh"} and cfg.edge_populations == {"exc_inh", "exc_exc"}
    for name, pop in net.populations.items():
        nodes = cfg.node_population(name)
        sel = nodes.select_all()
        np.testing.assert_array_equal(nodes.get_attribute("x", sel), pop.positions[:, 0])
        np.testing.assert_array_equal(nodes.get_attribute("y", sel), pop.positions[:, 1])
        assert not nodes.get_attribute("z", sel).any()  # 2-D spec: z = 0
    for name in net.projections:
        conn = net.connect(name)
        edges = cfg.edge_population(name)
        sel = edges.select_all()
        proj = net.projections[name]
        assert (edges.source, edges.target) == (proj.source, proj.target)
        np.testing.assert_array_equal(edges.source_nodes(sel), conn.sources)
        np.testing.assert_array_equal(edges.target_nodes(sel), conn.targets)
        np.testing.assert_allclose(edges.get_attribute("distance", sel), conn.distances)
        # indices: the efferent edges of a neuron are exactly its synapses
        node = int(conn.sources[0])
        np.testing.assert_array_equal(np.sort(edges.efferent_edges(node).flatten()),
                                      np.flatnonzero(conn.sources == node))
    back = read_circuit(moved / "circuit_config.json")
    assert {k: v.shape for k, v in back.positions.items()} == {"exc": (80, 2), "inh": (20, 2)}


def test_bluepysnap_opens_it_with_sizes_positions_and_edge_properties(circuit, net):
    bluepysnap = pytest.importorskip("bluepysnap")
    c = bluepysnap.Circuit(circuit)
    assert sorted(c.nodes.population_names) == ["exc", "inh"]
    for name, pop in net.populations.items():
        nodes = c.nodes[name]
        assert nodes.size == len(pop)
        pos = nodes.positions()
        np.testing.assert_array_equal(pos[["x", "y"]].to_numpy(), pop.positions)
        assert not pos["z"].any()
    edges = c.edges["exc_inh"]
    conn = net.connect("exc_inh")
    assert edges.size == len(conn) == 20 * 10
    assert {"distance", "syn_weight", "delay"} <= set(edges.property_names)
    props = edges.get(edges.ids(), ["@source_node", "@target_node", "distance", "syn_weight", "delay"])
    np.testing.assert_array_equal(props["@source_node"], conn.sources)
    np.testing.assert_array_equal(props["@target_node"], conn.targets)
    np.testing.assert_allclose(props["distance"], conn.distances)
    assert (props["syn_weight"] == 300.0).all()
    np.testing.assert_allclose(props["delay"], 1.0 + 2.0 * conn.distances)  # delay from the spec
    assert "delay" not in c.edges["exc_exc"].property_names  # none given: the simulator's default


def test_bluepysnap_validation_finds_no_error(circuit):
    """bluepysnap's circuit validation, every check that applies to point-neuron populations.

    ``validate()`` as a whole picks a schema by population type, and
    bluepysnap (3.0.8) ships none for ``point_neuron`` node populations (only
    BBP's biophysical, astrocyte, vasculature, virtual, Allen's point_process
    with morphologies, and Brian2's), so there it stops with FileNotFoundError
    before checking anything. The checks below are the rest of ``validate()``:
    the config schema, each node population, and each edge population's
    node ids (against the node populations) and indices.
    """
    pytest.importorskip("bluepysnap")
    from bluepysnap import circuit_validation as cv
    from bluepysnap import schemas
    from bluepysnap.config import Parser
    from bluepysnap.exceptions import BluepySnapValidationError

    try:
        errors = cv.validate(circuit, skip_slow=False, only_errors=True, print_errors=False)
        assert errors == set(), errors
    except FileNotFoundError as exc:  # no schema for point_neuron nodes in this bluepysnap
        assert "point_neuron.yaml" in str(exc)
    config = Parser.parse(json.loads(Path(circuit).read_text()), str(Path(circuit).parent))
    errors = schemas.validate_circuit_schema(circuit, config, False)
    errors += cv._check_duplicate_populations(config["networks"], "nodes")
    errors += cv._check_duplicate_populations(config["networks"], "edges")
    nodes = config["networks"]["nodes"]
    for entry in nodes:
        for name, pop in entry["populations"].items():
            errors += cv.validate_node_population(entry["nodes_file"], {**config["components"], **pop}, name)
    for entry in config["networks"]["edges"]:
        for name in entry["populations"]:
            errors += cv.validate_edge_population(entry["edges_file"], name, nodes)
    assert [e for e in errors if e.level == BluepySnapValidationError.FATAL] == []
    assert errors == [], errors  # not even a warning (indices present, node ids in range)


def needs_bmtk():
    """Skip without BMTK or NEST; both are only imported in the subprocess that runs BMTK."""
    import importlib.util

    for module in ("bmtk", "nest"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'spatialconn[sonata]')")


BMTK_RUN = r"""
import json, os, sys
import h5py, numpy as np
circuit, out = sys.argv[1], sys.argv[2]
sim = {"run": {"tstop": 100.0, "dt": 0.1}, "target_simulator": "NEST", "network": circuit,
       "output": {"output_dir": out, "spikes_file": "spikes.h5", "log_file": "log.txt",
                  "overwrite_output_dir": True}}
with open(os.path.join(out, "simulation_config.json"), "w") as fh:
    json.dump(sim, fh)
import nest
from bmtk.simulator import pointnet
config = pointnet.Config.from_json(os.path.join(out, "simulation_config.json"))
config.build_env()
network = pointnet.PointNetwork.from_config(config)
simulation = pointnet.PointSimulator.from_config(config, network)
result = {"nest": nest.__version__, "edges": {}, "models": {}}
for pop in ("exc", "inh"):
    ids = network.gid_map.get_nestids(pop, np.arange(3))
    result["models"][pop] = sorted(set(nest.NodeCollection(sorted(ids)).get("model")))
result["I_e"] = nest.NodeCollection(sorted(network.gid_map.get_nestids("exc", [0]))).get("I_e")
for name, src, tgt in (("exc_inh", "exc", "inh"), ("exc_exc", "exc", "exc")):
    with h5py.File(os.path.join("network", name + "_edges.h5")) as f:
        g = f["edges/" + name]
        s = network.gid_map.get_nestids(src, g["source_node_id"][:])
        t = network.gid_map.get_nestids(tgt, g["target_node_id"][:])
    conns = nest.GetConnections(nest.NodeCollection(sorted(set(s))), nest.NodeCollection(sorted(set(t))))
    got = conns.get(["source", "target", "weight", "delay"], output="pandas")
    result["edges"][name] = {"file": sorted(zip(map(int, s), map(int, t))),
                             "nest": sorted(zip(got["source"].tolist(), got["target"].tolist())),
                             "weight": sorted(got["weight"].tolist()), "delay": got["delay"].tolist()}
simulation.run()
with h5py.File(os.path.join(out, "spikes.h5")) as f:
    result["spikes"] = {p: int(f["spikes"][p]["timestamps"].shape[0]) for p in f["spikes"]}
print("RESULT " + json.dumps(result))
"""


def test_bmtk_pointnet_simulates_it_from_the_files_alone(circuit, net, tmp_path):
    """BMTK (pointnet, NEST backend) builds every synapse of the files and runs 100 ms.

    BMTK resolves the config's relative paths from the working directory, so
    it runs in the circuit's folder. The inhibitory neurons have no drive but
    the synapses from the excitatory ones: their spikes show the edges work.
    """
    needs_bmtk()
    out = tmp_path / "output"
    out.mkdir()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", BMTK_RUN, circuit, str(out)], cwd=Path(circuit).parent, check=False,
                       capture_output=True, text=True, timeout=300, env=env)
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    for name in net.projections:
        built = result["edges"][name]
        assert built["nest"] == built["file"]  # every synapse, between the right neurons
        assert len(built["nest"]) == len(net.connect(name))
    assert result["models"] == {"exc": ["iaf_psc_alpha"], "inh": ["iaf_psc_exp"]}  # the node types
    assert result["I_e"] == 400.0  # the population's dynamics_params
    assert set(result["edges"]["exc_inh"]["weight"]) == {300.0}
    assert set(result["edges"]["exc_exc"]["weight"]) == {10.0}
    delays = np.sort(result["edges"]["exc_inh"]["delay"])
    expected = np.sort(np.round((1.0 + 2.0 * net.connect("exc_inh").distances) / 0.1) * 0.1)
    np.testing.assert_allclose(delays, expected, atol=1e-9)  # NEST rounds delays to the resolution
    assert result["spikes"]["exc"] > 0 and result["spikes"]["inh"] > 0, result["spikes"]


# -- atomic, bad input ---------------------------------------------------------------
def failing(net, name):
    yield net.connect(name)
    raise RuntimeError("disk full")


def test_a_failure_mid_write_leaves_no_folder(net, tmp_path):
    target = tmp_path / "circuit"
    with pytest.raises(RuntimeError, match="disk full"):
        write_circuit(net, target, connections={"exc_inh": failing(net, "exc_inh"),
                                                "exc_exc": net.connect("exc_exc")})
    assert os.listdir(tmp_path) == []  # neither the circuit nor its temporary sibling
    # an existing circuit stays whole when its replacement fails
    cfg = write_circuit(net, target)
    before = {f: (target / f).read_bytes() for f in files(target)}
    with pytest.raises(RuntimeError, match="disk full"):
        write_circuit(net, target, connections={"exc_inh": net.connect("exc_inh"),
                                                "exc_exc": failing(net, "exc_exc")})
    assert os.listdir(tmp_path) == ["circuit"]
    assert {f: (target / f).read_bytes() for f in files(target)} == before
    assert libsonata.CircuitConfig.from_file(cfg).edge_population("exc_exc").size == 400
    # a circuit under another config name is replaced just as well
    other = write_circuit(net, tmp_path / "named" / "net.json")
    assert write_circuit(net, tmp_path / "named" / "net.json") == other


@pytest.mark.parametrize("change, error, match", [
    (lambda n, d: write_circuit(n, d / "no" / "such" / "circuit"), ValueError, "does not exist"),
    (lambda n, d: write_circuit(n, "circuit_config.json"), ValueError, "folder"),
    (lambda n, d: write_circuit("not a network", d / "c"), SpecError, "file not found"),
    (lambda n, d: write_circuit(42, d / "c"), TypeError, "network"),
    (lambda n, d: write_circuit(n, d / "c", overwrite="yes"), TypeError, "overwrite"),
    (lambda n, d: write_circuit(n, d / "c", compression="zip"), ValueError, "compression"),
    (lambda n, d: write_circuit(n, d / "c", memory_limit="1 KB"), ValueError, "memory_limit"),
    (lambda n, d: write_circuit(n, d / "c", connections={"exc_inh": None}), ValueError, "one entry per"),
])
def test_bad_arguments_raise_before_writing(net, tmp_path, change, error, match):
    with pytest.raises(error, match=match):
        change(net, tmp_path)
    assert os.listdir(tmp_path) == []


def test_names_sonata_cannot_hold_and_foreign_folders_are_refused(tmp_path):
    spaced = parse(SPEC.replace("[projections.exc_exc]", '[projections."exc exc"]'))
    with pytest.raises(ValueError, match="'exc exc'"):
        write_circuit(spaced, tmp_path / "c")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="other content"):
        write_circuit(parse(SPEC), tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == ["thesis.tex"]
    assert sorted(os.listdir(tmp_path)) == ["mine"]


def test_infeasible_projection_is_named_before_writing(tmp_path):
    bad = parse(SPEC.replace("k = 5 }", "k = 500 }\nmultapses = false"))
    with pytest.raises(SpecError, match="projections.exc_exc"):
        write_circuit(bad, tmp_path / "c")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("dims", [1, 3])
def test_one_and_three_dimensional_positions_round_trip(tmp_path, dims):
    extent = ", ".join(["[0, 1]"] * dims)
    net = parse(f'[populations.a]\npositions = "uniform"\nn = 30\nextent = [{extent}]\n'
                '[projections.aa]\nsource = "a"\nrule = { type = "FixedOutDegree", k = 2 }\n')
    back = read_circuit(write_circuit(net, tmp_path / "c"))
    np.testing.assert_array_equal(back.positions["a"], net.populations["a"].positions)


def test_empty_projection_and_empty_population(tmp_path):
    net = parse('[populations.a]\npositions = "uniform"\nn = 10\nextent = [[0, 1]]\n'
                '[populations.b]\npositions = "uniform"\nn = 0\nextent = [[0, 1]]\n'
                '[projections.aa]\nsource = "a"\nrule = { type = "FixedOutDegree", k = 0 }\n'
                '[projections.ab]\nsource = "a"\ntarget = "b"\nrule = { type = "PairwiseBernoulli", p = 0.5 }\n')
    back = read_circuit(write_circuit(net, tmp_path / "c"))
    assert back.positions["a"].shape == (10, 1) and back.positions["b"].shape == (0, 1)
    assert [len(back.edges[n][2]) for n in ("aa", "ab")] == [0, 0]


def test_streamed_in_small_blocks_gives_the_same_circuit(net, tmp_path):
    a = read_circuit(write_circuit(net, tmp_path / "a"))
    blocks = {name: sc.iter_connect(**net.arguments(name), chunk_size=7) for name in net.projections}
    b = read_circuit(write_circuit(net, tmp_path / "b", connections=blocks))  # 7 drivers per block
    for name in net.projections:
        for x, y in zip(a.edges[name][2:], b.edges[name][2:]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("entry, key", [
    ("delay = -1.0", "projections.exc_exc.delay"),
    ("delay = { intercept = 1.0, slope = -2.0 }", "projections.exc_exc.delay"),
    ("delay = { intercept = 1.0, slop = 2.0 }", "projections.exc_exc.delay.slop"),
    ("syn_weight = \"strong\"", "projections.exc_exc.syn_weight"),
    ("model_template = \"static synapse\"", "projections.exc_exc.model_template"),
    ("dynamics_params = 3", "projections.exc_exc.dynamics_params"),
])
def test_spec_synapse_keys_are_validated(entry, key):
    with pytest.raises(SpecError) as err:
        parse(SPEC.replace("syn_weight = 10.0", entry))
    assert err.value.key == key


def test_spec_reads_synapse_values_and_models():
    net = parse(SPEC)
    assert net.projections["exc_inh"].delay == Affine(1.0, 2.0)
    assert net.projections["exc_exc"].syn_weight == 10.0 and net.projections["exc_exc"].delay is None
    assert net.populations["inh"].model_template == "nest:iaf_psc_exp"
    assert net.populations["exc"].dynamics_params == {"I_e": 400.0}


# -- command line -----------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``spatialconn ARGS`` in ``tmp_path`` (holding net.toml); return (status, stdout, stderr)."""
    from spatialconn.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.toml").write_text(SPEC)

    def run(*args):
        status = main(list(args))
        out = capsys.readouterr()
        return status, out.out, out.err
    return run


def test_cli_builds_checks_and_plots_a_circuit(cli, tmp_path):
    pytest.importorskip("matplotlib")
    status, out, err = cli("build", "net.toml", "-o", "circuit/circuit_config.json", "--no-progress")
    assert status == 0 and "SONATA circuit" in out and "exc_inh" in out, err
    cfg = libsonata.CircuitConfig.from_file(str(tmp_path / "circuit/circuit_config.json"))
    assert cfg.node_populations == {"exc", "inh"}
    status, out, _ = cli("check", "circuit/circuit_config.json")  # no spec: positions from the nodes
    assert status == 0 and "indices only" in out and "2 of 2 projections pass" in out, out
    status, out, _ = cli("check", "circuit/circuit_config.json", "--spec", "net.toml")
    assert status == 0 and "distances" in out and "2 of 2 projections pass" in out, out
    status, _, err = cli("plot", "circuit/circuit_config.json", "-o", "fig.png")
    assert status == 0 and (tmp_path / "fig.png").stat().st_size > 0, err


@pytest.mark.parametrize("output, expected", [
    ("circuit_config.json", "its own folder"),
    ("no/such/circuit_config.json", "does not exist"),
])
def test_cli_circuit_output_errors_exit_2_with_one_line(cli, tmp_path, output, expected):
    status, _, err = cli("build", "net.toml", "-o", output)
    assert status == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert sorted(os.listdir(tmp_path)) == ["net.toml"]


def test_cli_check_needs_a_spec_for_other_files(cli):
    assert cli("build", "net.toml", "-o", "edges.npz", "-q")[0] == 0
    status, _, err = cli("check", "edges.npz")
    assert status == 2 and "--spec is required" in err


def test_documented_example_builds_and_bmtk_runs_it(tmp_path):
    """docs/sonata.md: examples/circuit.toml -> circuit -> examples/run_bmtk.py, spikes in both populations."""
    needs_bmtk()
    root = Path(__file__).resolve().parents[1]
    cfg = write_circuit(root / "examples" / "circuit.toml", tmp_path / "circuit" / "circuit_config.json")
    r = subprocess.run([sys.executable, str(root / "examples" / "run_bmtk.py"), cfg, "--tstop", "100",
                        "--output", str(tmp_path / "output")], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, check=False, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    counts = dict(line.split(": ", 1) for line in r.stdout.splitlines() if " spikes in " in line)
    assert set(counts) == {"exc", "inh"}, r.stdout[-2000:]
    assert all(int(v.split()[0]) > 0 for v in counts.values()), counts
