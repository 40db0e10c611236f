"""examples/mesocircuit.py: published parameters, every projection built and verified (small scale)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mesocircuit.py"


@pytest.fixture(scope="module")
def meso():
    spec = importlib.util.spec_from_file_location("mesocircuit", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parameters_as_published(meso):
    full = meso.parameters(1.0, 1.0)
    # 4 x 4 mm^2 with the Potjans-Diesmann densities (77,169 cortical + 902 thalamic neurons per mm^2)
    assert full["num_neurons"].tolist() == np.round(meso.NUM_NEURONS_1MM2 * 16).astype(int).tolist()
    assert np.allclose(full["mask_radius"], 5 * full["beta"])  # 5 beta, all below extent / 2
    assert np.all(full["p0"] <= 1) and np.allclose(full["p0"] * full["repeat"], full["p0_raw"])
    assert full["repeat"].max() == 5 and full["repeat"][5, 5] == 5  # L5I -> L5I: p0_raw = 4.07
    small = meso.parameters(0.1, 0.1)
    assert np.allclose(small["p0_raw"], full["p0_raw"])  # N and K scaled alike keep p0
    assert np.allclose(small["weight"], full["weight"] / np.sqrt(0.1)) and np.all(small["dc"] > 0)
    with pytest.raises(ValueError, match="scale"):
        meso.parameters(0.0)


def test_every_projection_built_and_verified(meso, capsys):
    assert meso.main(["--scale", "0.005", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "0 projection(s) failed a check" in out


def test_in_degrees_follow_the_derivation(meso):
    params = meso.parameters(0.01)
    pos = meso.positions(params, 4)
    proj, conn = next(meso.build(params, pos, 4))  # L23E -> L23E
    assert proj.name == "L23E->L23E"
    # p0 exp(-r/beta) over the disc of radius 5 beta holds the in-degree times (1 - 6 e^-5)^2 (see parameters)
    expected = params["indegree"][0, 0] * (1 - 6 * np.exp(-5)) ** 2 * params["num_neurons"][0]
    assert abs(len(conn) - expected) < 5 * np.sqrt(expected)
    d = np.asarray(conn.distances)
    mean = 0.232 * (2 - 37 * np.exp(-5)) / (1 - 6 * np.exp(-5))  # of the density r e^(-r/b) on [0, 5b]
    assert d.max() <= params["mask_radius"][0, 0] and abs(d.mean() - mean) < 5 * d.std() / np.sqrt(d.size)


def test_streamed_output_is_the_built_network(meso, tmp_path, capsys):
    """--output streams every call to its own Parquet file: the synapses of build(), in bounded blocks."""
    import pandas as pd

    out = tmp_path / "meso"
    assert meso.main(["--scale", "0.005", "--seed", "2", "--output", str(out), "--no-progress"]) == 0
    assert "bytes per synapse" in capsys.readouterr().out
    params = meso.parameters(0.005)
    pos = meso.positions(params, 2)
    calls = meso.projections(params, 2)
    assert len(list(out.iterdir())) == len(calls)
    proj, conn = next(meso.build(params, pos, 2))
    df = pd.read_parquet(out / "L23E_to_L23E.parquet")
    np.testing.assert_array_equal(df["source"], conn.sources)
    np.testing.assert_array_equal(df["target"], conn.targets)
    np.testing.assert_array_equal(df["distance"], conn.distances)


def test_streamed_without_distances(meso, tmp_path):
    import pyarrow.parquet as pq

    assert meso.main(["--scale", "0.002", "--output", str(tmp_path / "m"), "--no-progress", "--no-distance"]) == 0
    assert pq.read_schema(tmp_path / "m" / "L23E_to_L23E.parquet").names == ["source", "target"]
