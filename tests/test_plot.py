"""Tests of sc.plot: the figures are produced (Agg backend) and show what they claim."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import spatialconn as sc

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from spatialconn import plot  # noqa: E402
from spatialconn.check import expected_distance_density  # noqa: E402
from spatialconn.spec import Projection  # noqa: E402


@pytest.fixture(scope="module")
def forum():
    rng = np.random.default_rng(0)
    pre, post = rng.normal(size=(300, 2)), rng.normal(size=(5000, 2))
    rule, kernel = sc.FixedOutDegree(10), sc.Gaussian(1.0)
    return sc.connect(pre, post, rule=rule, kernel=kernel, seed=42), rule, kernel


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_connections_shows_the_chosen_drivers_and_their_partners(forum):
    conn, _, _ = forum
    ax = plot.connections(conn, drivers=[3, 7])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["source 3: 10 synapses", "source 7: 10 synapses"]
    # background sources + targets, then partners and driver per chosen source
    offsets = [c.get_offsets() for c in ax.collections]
    assert len(offsets) == 2 + 2 * 2
    partners = conn.targets[conn.sources == 3]
    assert np.allclose(np.sort(offsets[2][:, 0]), np.sort(np.unique(conn.target_positions[partners][:, 0])))
    assert np.allclose(offsets[3], conn.source_positions[[3]])


def test_connections_by_target_and_random_choice(forum):
    conn, _, _ = forum
    ax = plot.connections(conn, by="target", n=3, seed=1)
    assert len(ax.get_legend().get_texts()) == 3
    assert ax.get_title() == "targets (stars) and their sources"
    with pytest.raises(ValueError, match="by"):
        plot.connections(conn, by="pre")


def test_distance_histogram_matches_expectation(forum):
    conn, rule, kernel = forum
    ax = plot.distance_histogram(conn, rule, kernel, bins=30)
    heights = np.array([p.get_height() for p in ax.patches if hasattr(p, "get_height")])
    expected = ax.patches[-1]  # the stairs of the expectation
    values = expected.get_data().values
    assert len(values) == 30 and len(heights) == 30
    assert np.abs(heights - values).max() < 0.25 * values.max()  # > 4 sd of a bin: not flaky


def test_expected_density_is_a_density():
    pos = np.random.default_rng(3).random((400, 2))
    for rule, multapses in ((sc.FixedOutDegree(5), True), (sc.FixedInDegree(5), False),
                            (sc.FixedTotalNumber(900), True), (sc.PairwiseBernoulli(0.5), True)):
        proj = Projection("p", "a", "a", rule, sc.Gaussian(0.1), sc.Disc(0.3), multapses=multapses)
        conn = sc.connect(pos, rule=rule, kernel=proj.kernel, mask=proj.mask, multapses=multapses, seed=1)
        edges = np.linspace(0, 0.31, 32)
        dens = expected_distance_density(conn.sources, conn.targets, proj, pos, pos, edges)
        assert dens.min() >= 0 and np.isclose((dens * np.diff(edges)).sum(), 1.0), rule
        hist, _ = np.histogram(conn.distances, edges, density=True)
        assert np.abs(hist - dens).mean() < 0.25 * dens.max(), rule


def test_degrees(forum):
    conn, _, _ = forum
    out_ax, in_ax = plot.degrees(conn)
    assert out_ax.get_title() == "out-degree: 10 to 10, mean 10.00"
    total = sum(p.get_height() for p in in_ax.patches)
    assert total == conn.n_targets


def test_overview_and_savefig(forum, tmp_path):
    conn, rule, kernel = forum
    fig = plot.overview(conn, rule, kernel, title="forum network")
    assert len(fig.axes) == 4
    out = tmp_path / "overview.png"
    fig.savefig(out, dpi=60)
    assert out.stat().st_size > 10_000


def test_positions_given_separately(forum):
    conn, rule, kernel = forum
    from types import SimpleNamespace

    bare = SimpleNamespace(sources=conn.sources, targets=conn.targets)
    ax = plot.connections(bare, conn.source_positions, conn.target_positions, drivers=[0])
    assert ax.get_legend().get_texts()[0].get_text() == "source 0: 10 synapses"
    ax = plot.distance_histogram(bare, source_positions=conn.source_positions,
                                 target_positions=conn.target_positions)
    assert ax.get_xlabel() == "distance"
    out_ax, _ = plot.degrees(bare, n_sources=300, n_targets=5000)
    assert "mean 10.00" in out_ax.get_title()


def test_missing_matplotlib_says_how_to_install(monkeypatch, forum):
    conn, _, _ = forum
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'spatialconn\[plot\]'"):
        plot.degrees(conn)


def test_importing_spatialconn_does_not_import_matplotlib():
    import subprocess

    code = "import sys, spatialconn; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
