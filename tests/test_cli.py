"""End-to-end tests of the ``spatialconn`` command (subprocess): build, check, plot, demo, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "network.toml"

SMALL = """\
seed = 3
[space]
extent = [[0, 1], [0, 1]]
periodic = true

[populations.exc]
positions = "uniform"
n = 600
extent = [[0, 1], [0, 1]]

[populations.inh]
positions = "grid"
shape = [10, 10]
extent = [[0, 1], [0, 1]]

[projections.ee]
source = "exc"
rule = { type = "FixedOutDegree", k = 8 }
kernel = { type = "Gaussian", sigma = 0.1 }
multapses = false
autapses = false

[projections.ei]
source = "exc"
target = "inh"
rule = { type = "FixedInDegree", k = 12 }
kernel = { type = "Exponential", scale = 0.1 }
mask = { type = "Disc", radius = 0.4 }

[projections.ie]
source = "inh"
target = "exc"
rule = { type = "PairwiseBernoulli", p = 0.3 }
kernel = { type = "Gaussian", sigma = 0.1 }
"""


def run(*args, cwd=None):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "spatialconn", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    spec = d / "net.toml"
    spec.write_text(SMALL)
    return d, spec


@pytest.fixture(scope="module")
def built(small):
    d, spec = small
    out = {}
    for ext in ("npz", "h5", "parquet"):
        r = run("build", spec, "-o", d / f"edges.{ext}")
        assert r.returncode == 0, r.stderr
        out[ext] = (d / f"edges.{ext}", r)
    return out


def test_help_reads_like_a_man_page():
    r = run("--help")
    assert r.returncode == 0
    for word in ("build", "check", "plot", "demo", "exit status", "examples"):
        assert word in r.stdout
    r = run("build", "--help")
    assert "spec format" in r.stdout and "FixedOutDegree" in r.stdout and "Disc" in r.stdout


@pytest.mark.parametrize("ext", ["npz", "h5", "parquet"])
def test_build_writes_every_projection(built, ext):
    path, r = built[ext]
    assert path.exists()
    assert "synapses" in r.stdout and "ee" in r.stdout and "total" in r.stdout and "4,800" in r.stdout
    assert "\r" not in r.stderr and "drivers" not in r.stderr  # no progress bar in a pipe
    from spatialconn.cli import read_edges

    edges = read_edges(str(path))
    assert list(edges) == ["ee", "ei", "ie"]
    s, t = edges["ee"]
    assert len(s) == 600 * 8 and np.all(np.bincount(s, minlength=600) == 8)
    assert np.all(np.bincount(edges["ei"][1], minlength=100) == 12)


def test_formats_hold_the_same_synapses(built):
    from spatialconn.cli import read_edges

    a, b, c = (read_edges(str(built[e][0])) for e in ("npz", "h5", "parquet"))
    for name in a:
        for other in (b, c):
            assert np.array_equal(a[name][0], other[name][0])
            assert np.array_equal(a[name][1], other[name][1])


def test_sonata_output_is_valid(built):
    h5py = pytest.importorskip("h5py")
    with h5py.File(built["h5"][0], "r") as f:
        assert f.attrs["magic"] == 0x0A7A
        assert f["edges/ei/source_node_id"].attrs["node_population"] == "exc"
        assert f["edges/ei/target_node_id"].attrs["node_population"] == "inh"
    libsonata = pytest.importorskip("libsonata")
    storage = libsonata.EdgeStorage(str(built["h5"][0]))
    assert storage.population_names == {"ee", "ei", "ie"}
    ei = storage.open_population("ei")
    assert (ei.size, ei.source, ei.target) == (1200, "exc", "inh")
    assert len(ei.afferent_edges([7]).flatten()) == 12  # the indices work: in-degree 12


def test_build_is_deterministic(small, built):
    d, spec = small
    r = run("build", spec, "-o", d / "again.npz", "--progress")
    assert r.returncode == 0, r.stderr
    try:
        import tqdm  # noqa: F401

        assert "drivers" in r.stderr  # --progress forces the bar
    except ImportError:
        assert "needs tqdm" in r.stderr
    a, b = np.load(built["npz"][0]), np.load(d / "again.npz")
    for key in a.files:
        assert np.array_equal(a[key], b[key])


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_check_passes(small, built, ext):
    _, spec = small
    r = run("check", built[ext][0], "--spec", spec, "--alpha", "1e-4")  # strict: not flaky
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 of 3 projections pass" in r.stdout
    assert r.stdout.count("PASS") == 3 and "distances" in r.stdout


def test_check_fails_on_tampered_file(small, built, tmp_path):
    _, spec = small
    data = dict(np.load(built["npz"][0]))
    t = data["ee/targets"].copy()
    t[:300] = (data["ee/sources"][:300] + 300) % 600  # far away partners, wrong distances
    data["ee/targets"] = t
    bad = tmp_path / "bad.npz"
    np.savez(bad, **data)
    r = run("check", bad, "--spec", spec, "--alpha", "1e-4")
    assert r.returncode == 1
    assert "ee: FAIL" in r.stdout and "ei: PASS" in r.stdout and "FAIL distances" in r.stdout
    assert "2 of 3 projections pass" in r.stdout


def test_check_fails_when_the_file_is_from_another_spec(small, built, tmp_path):
    _, spec = small
    other = tmp_path / "other.toml"
    other.write_text(SMALL.replace("k = 8", "k = 9").replace("sigma = 0.1 }\nmultapses", "sigma = 0.05 }\nmultapses"))
    r = run("check", built["npz"][0], "--spec", other)
    assert r.returncode == 1
    assert "FAIL counts" in r.stdout


def test_plot_writes_a_figure(small, built):
    d, spec = small
    out = d / "figure.png"
    r = run("plot", built["h5"][0], "--spec", spec, "-o", out, "-p", "ee", "-p", "ei")
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_spec_builds_and_checks(tmp_path):
    out = tmp_path / "edges.npz"
    r = run("build", EXAMPLE, "-o", out, "-q")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = run("check", out, "--spec", EXAMPLE)  # the default family-wise level: no false alarm on the example
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("Holm-adjusted p = ") == 3 and "family-wise alpha = 0.001, Holm" in r.stdout


def test_demo_small():
    r = run("demo", "--sources", "30", "--targets", "300", "-k", "4")
    assert r.returncode == 0, r.stderr
    assert "120 (every source exactly 4..4)" in r.stdout


# -- user errors: exit status 2, one line naming the key and value, no output file ----------------
def _bad(tmp_path, text, key_and_value, *, files=None):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content)
    out = tmp_path / "out.h5"
    r = run("build", spec, "-o", out)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for part in key_and_value:
        assert part in lines[0], lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bad.toml", *(files or {})])
    return lines[0]


POP = '[populations.a]\npositions = "uniform"\nn = 50\nextent = [[0, 1], [0, 1]]\n'
PROJ = '[projections.p]\nsource = "a"\nrule = { type = "FixedOutDegree", k = 3 }\n'


@pytest.mark.parametrize("text, expected", [
    (POP + PROJ + "kernal = { type = 'Gaussian', sigma = 1.0 }\n", ["projections.p.kernal", "unknown key"]),
    (POP.replace("n = 50", "n = 50\ncolour = 'red'") + PROJ, ["populations.a.colour", "unknown key"]),
    (POP + PROJ + "kernel = { type = 'Gaussian', sigma = 'wide' }\n",
     ["projections.p.kernel.sigma", "a number", "'wide'"]),
    (POP + PROJ + "kernel = { type = 'Gaussian', sigma = -1.0 }\n", ["projections.p.kernel", "sigma", "-1"]),
    (POP + PROJ + "kernel = { type = 'Gausian', sigma = 1.0 }\n", ["projections.p.kernel.type", "'Gausian'"]),
    (POP + PROJ.replace("k = 3", "k = 2.5"), ["projections.p.rule.k", "an integer", "2.5"]),
    (POP + PROJ + "multapses = 'no'\n", ["projections.p.multapses", "true or false", "'no'"]),
    (POP + PROJ.replace('source = "a"', 'source = "b"'), ["projections.p.source", "'b'"]),
    (POP.replace("n = 50", "n = -5") + PROJ, ["populations.a", "n", "-5"]),
    ('[populations.a]\nfile = "missing.csv"\n' + PROJ, ["populations.a.file", "missing.csv", "not found"]),
    (POP + "[projections.p]\nsource = 'a'\n", ["projections.p.rule", "missing"]),
    (POP + PROJ + "mask = { type = 'Disc', radius = 0.01 }\nmultapses = false\n",
     ["projections.p", "k=3", "distinct"]),
    ("seed = 'x'\n" + POP + PROJ, ["seed", "an integer", "'x'"]),
    ("seed = [1\n", ["bad.toml", "invalid TOML"]),
])
def test_bad_specs_exit_2_with_one_line(tmp_path, text, expected):
    _bad(tmp_path, text, expected)


def test_bad_csv_file(tmp_path):
    text = '[populations.a]\nfile = "pos.csv"\ncolumns = ["x", "z"]\n' + PROJ
    _bad(tmp_path, text, ["populations.a.file", "'z'"], files={"pos.csv": "x,y\n0.1,0.2\n0.3,0.4\n"})


def test_infeasible_with_progress_bar_leaves_no_file(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(POP + PROJ + "mask = { type = 'Disc', radius = 0.01 }\nmultapses = false\n")
    r = run("build", spec, "-o", tmp_path / "out.npz", "--progress")
    assert r.returncode == 2 and "projections.p" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize("args, expected", [
    (["build", "{spec}", "-o", "{d}/out.txt"], "cannot tell the format"),
    (["build", "{d}/nope.toml", "-o", "{d}/out.npz"], "file not found"),
    (["build", "{spec}", "-o", "{d}/no/such/dir/out.npz"], "does not exist"),
    (["check", "{d}/nope.h5", "--spec", "{spec}"], "file not found"),
    (["check", "{edges}", "--spec", "{spec}", "--alpha", "2"], "--alpha"),
    (["plot", "{edges}", "--spec", "{spec}", "-o", "{d}/fig.xyz"], "image format"),
    (["plot", "{edges}", "--spec", "{spec}", "-o", "{d}/fig.png", "-p", "zz"], "'zz'"),
])
def test_bad_arguments_exit_2(small, built, args, expected):
    d, spec = small
    subs = dict(spec=spec, d=d, edges=built["npz"][0])
    r = run(*[a.format(**subs) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (d / "fig.xyz").exists() and not (d / "out.txt").exists()


def test_usage_errors_exit_2():
    r = run("build")
    assert r.returncode == 2 and "usage" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_missing_writer_dependency_is_reported_before_building(small, monkeypatch, capsys):
    import importlib.util

    from spatialconn import cli

    d, spec = small
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "h5py" else real(name, *a))
    monkeypatch.setattr(cli, "_Stream", lambda *a: pytest.fail("built before checking the writer"))
    assert cli.main(["build", str(spec), "-o", str(d / "nodeps.h5")]) == 2
    err = capsys.readouterr().err
    assert "needs h5py" in err and "spatialconn[io]" in err
    assert not (d / "nodeps.h5").exists()


def test_check_reads_a_single_projection_written_by_the_io_module(tmp_path):
    io = pytest.importorskip("spatialconn.io")
    pytest.importorskip("h5py")
    import spatialconn as sc
    from spatialconn.spec import load

    spec = tmp_path / "one.toml"
    spec.write_text(SMALL.split("[projections.ei]")[0])
    net = load(spec)
    io.write(net.connect("ee"), tmp_path / "ee.h5")  # edge population "default"
    r = run("check", tmp_path / "ee.h5", "--spec", spec, "--alpha", "1e-4")
    assert r.returncode == 0 and "1 of 1 projections pass" in r.stdout, r.stdout + r.stderr
    assert isinstance(net.projections["ee"].rule, sc.FixedOutDegree)


def test_empty_projections_build_check_and_plot(tmp_path):
    spec = tmp_path / "empty.toml"
    spec.write_text('[populations.a]\npositions = "normal"\nn = 50\ndim = 3\n'
                    '[projections.z]\nsource = "a"\nrule = { type = "FixedOutDegree", k = 0 }\n'
                    '[projections.b]\nsource = "a"\nrule = { type = "PairwiseBernoulli", p = 0.0 }\n')
    r = run("build", spec, "-o", tmp_path / "e.npz")
    assert r.returncode == 0 and "total" in r.stdout, r.stderr
    r = run("check", tmp_path / "e.npz", "--spec", spec)
    assert r.returncode == 0 and "2 of 2 projections pass" in r.stdout, r.stdout
    r = run("plot", tmp_path / "e.npz", "--spec", spec, "-o", tmp_path / "e.svg")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert (tmp_path / "e.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("ext", ["h5", "parquet"])
def test_build_streams_in_blocks_with_the_same_result(small, built, monkeypatch, ext):
    pytest.importorskip("h5py" if ext == "h5" else "pyarrow")
    from spatialconn import cli, io

    d, spec = small
    monkeypatch.setattr(cli._Stream, "MEMORY_LIMIT", 500 * io.BYTES_PER_SYNAPSE)  # ~60 drivers per block
    sizes, iter_blocks = [], io.iter_blocks

    def counted(*args, **kwargs):
        for block in iter_blocks(*args, **kwargs):
            sizes.append(len(block))
            yield block

    monkeypatch.setattr(io, "iter_blocks", counted)
    out = d / f"blocks.{ext}"
    assert cli.main(["build", str(spec), "-o", str(out), "-q"]) == 0
    assert len(sizes) > 10 and max(sizes) < 2 * 500  # many blocks, about the budget each (Bernoulli adapts)
    a, b = cli.read_edges(str(out)), cli.read_edges(str(built[ext][0]))
    assert list(a) == list(b)
    for name in a:
        assert np.array_equal(a[name][0], b[name][0]) and np.array_equal(a[name][1], b[name][1])


def test_check_reads_a_partitioned_parquet_directory(tmp_path):
    io = pytest.importorskip("spatialconn.io")
    pytest.importorskip("pyarrow")
    from spatialconn.spec import load

    spec = tmp_path / "one.toml"
    spec.write_text(SMALL.split("[projections.ei]")[0])
    net = load(spec)
    io.write(net.connect("ee"), tmp_path / "ee_parts", rows_per_file=1000)
    r = run("check", tmp_path / "ee_parts", "--spec", spec, "--alpha", "1e-4")
    assert r.returncode == 0 and "1 of 1 projections pass" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (a directory no file can be made in)")
def test_unwritable_output_exits_2(small):
    _, spec = small
    r = run("build", spec, "-o", "/proc/out.npz")
    assert r.returncode == 2 and "cannot write '/proc/out.npz'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


BIG = """\
seed = 1
[space]
extent = [[0, 1], [0, 1]]

[populations.exc]
positions = "uniform"
n = 1000000
extent = [[0, 1], [0, 1]]

[projections.ee]
source = "exc"
rule = { type = "FixedOutDegree", k = 100 }
kernel = { type = "Gaussian", sigma = 0.01 }
"""


@pytest.mark.parametrize("sig, status, word",
                         [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_build_leaves_nothing(tmp_path, sig, status, word):
    """SIGTERM (a batch scheduler's time limit) cleans up like Ctrl-C: no output, no temporary file."""
    pytest.importorskip("pyarrow")
    spec = tmp_path / "big.toml"
    spec.write_text(BIG)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-m", "spatialconn", "build", str(spec), "-o", str(out / "edges.parquet"),
                             "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(n.startswith(".edges.parquet.tmp-") for n in os.listdir(out)):  # writing has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the build ended before it could be stopped"
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert err.strip() == f"spatialconn build: {word}", err
    assert os.listdir(out) == []
