"""Generate the figures of the documentation into docs/img/ (or the folder given).

Run from the repository root::

    python docs/make_figures.py            # writes docs/img/*.png
    python docs/make_figures.py OUTDIR     # somewhere else (the docs test does this)

Every figure is made with ``spatialconn.plot`` from seeded networks, so
running it again gives the same pictures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import spatialconn as sc  # noqa: E402
from spatialconn import plot  # noqa: E402

DPI = 80


def forum(out: Path):
    """The quick start's figure: the forum network, built and drawn."""
    rng = np.random.default_rng(0)
    pre, post = rng.normal(size=(1200, 2)), rng.normal(size=(40_000, 2))
    rule, kernel = sc.FixedOutDegree(10), sc.Gaussian(sigma=1.0)
    conn = sc.connect(pre, post, rule=rule, kernel=kernel, seed=42)
    fig = plot.overview(conn, rule, kernel, n=4, seed=2,
                        title="the forum network: 1,200 -> 40,000, FixedOutDegree(10), Gaussian(sigma=1)")
    fig.savefig(out / "forum.png", dpi=DPI)


def rules(out: Path):
    """One figure per rule: drivers and partners, out-degrees, in-degrees."""
    rng = np.random.default_rng(1)
    pos = rng.random((1500, 2))
    kernel, space = sc.Gaussian(0.06), sc.Space([(0, 1), (0, 1)], periodic=True)
    cases = {
        "fixed_out_degree": sc.FixedOutDegree(20),
        "fixed_in_degree": sc.FixedInDegree(20),
        "fixed_total_number": sc.FixedTotalNumber(30_000),
        "fixed_total_number_uniform": sc.FixedTotalNumber(30_000, sources="uniform"),
        "pairwise_bernoulli": sc.PairwiseBernoulli(0.5),
    }
    for name, rule in cases.items():
        conn = sc.connect(pos, rule=rule, kernel=kernel, space=space, autapses=False, seed=3)
        fig = plt.figure(figsize=(12, 3.6), layout="constrained")
        axes = fig.subplots(1, 3, width_ratios=[1, 1.1, 1.1])
        plot.connections(conn, n=3, by=rule.driver, seed=4, ax=axes[0])
        plot.degrees(conn, axes=axes[1:])
        fig.suptitle(f"{rule!r} with Gaussian(0.06) on a torus: {len(conn):,} synapses",
                     fontweight="bold", x=0.01, ha="left")
        fig.savefig(out / f"rule_{name}.png", dpi=DPI)
        plt.close(fig)


def kernels(out: Path):
    """Kernel profiles K(d) and the 2-D shapes of the anisotropic kernel and the masks."""
    d = np.linspace(0, 3, 400)
    fig = plt.figure(figsize=(12, 3.6), layout="constrained")
    ax, *panels = fig.subplots(1, 3, width_ratios=[1.4, 1, 1])
    for label, k in [("Gaussian(sigma=0.5)", sc.Gaussian(0.5)),
                     ("Gaussian(sigma=0.3, mean=1)", sc.Gaussian(0.3, mean=1.0)),
                     ("Exponential(scale=0.5)", sc.Exponential(0.5)),
                     ("Gamma(kappa=3, theta=0.3) / peak", sc.Gamma(3.0, 0.3)),
                     ("Linear(slope=-0.5, intercept=1)", sc.Linear(-0.5, 1.0))]:
        y = k(d)
        ax.plot(d, y / (k.peak if np.isfinite(k.peak) else y.max()), label=label, linewidth=1.8)
    ax.set_xlabel("distance d")
    ax.set_ylabel("K(d) (relative)")
    ax.set_title("isotropic kernels")
    ax.legend(fontsize="small")
    g = np.linspace(-1.5, 1.5, 301)
    xy = np.stack(np.meshgrid(g, g, indexing="xy"), axis=-1)
    aniso = sc.AnisotropicGaussian(sigma=(0.6, 0.2), angle=np.pi / 6, mean=(0.3, 0.0))
    panels[0].imshow(aniso(xy), extent=(-1.5, 1.5, -1.5, 1.5), origin="lower", cmap="viridis")
    panels[0].set_title("AnisotropicGaussian\nsigma=(0.6, 0.2), angle=pi/6, mean=(0.3, 0)", fontsize="small")
    inside = np.zeros(xy.shape[:2])
    for value, mask in ((1, sc.Annulus(0.9, 1.3)), (2, sc.Box([-0.8, -0.3], [-0.2, 0.5])),
                        (3, sc.Ellipse((0.5, 0.2), angle=0.6, center=(0.5, -0.5))), (4, sc.Disc(0.15))):
        inside[mask.contains(xy)] = value
    panels[1].imshow(inside, extent=(-1.5, 1.5, -1.5, 1.5), origin="lower", cmap="Pastel1_r")
    panels[1].set_title("masks: Annulus, Box,\nEllipse (centred off 0), Disc", fontsize="small")
    for p in panels:
        p.set_xlabel("displacement x")
        p.set_ylabel("displacement y")
    fig.savefig(out / "kernels_masks.png", dpi=DPI)


def multapses(out: Path):
    """Distances with and without multapses when k is close to the number of candidates."""
    rng = np.random.default_rng(5)
    pos = rng.random((3000, 2))
    kernel, mask = sc.Gaussian(0.04), sc.Disc(0.07)
    space = sc.Space([(0, 1), (0, 1)], periodic=True)
    fig = plt.figure(figsize=(11, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, multi in zip(axes, (True, False)):
        rule = sc.FixedOutDegree(15)
        conn = sc.connect(pos, rule=rule, kernel=kernel, mask=mask, space=space, multapses=multi,
                          autapses=False, seed=6)
        pairs = np.unique(conn.sources.astype(np.int64) * len(pos) + conn.targets)
        plot.distance_histogram(conn, rule, kernel, mask=mask, space=space, multapses=multi,
                                autapses=False, bins=30, ax=ax,
                                title=f"multapses={multi}: {len(pairs):,} distinct pairs of {len(conn):,}")
    fig.suptitle("FixedOutDegree(15), Gaussian(0.04) in a Disc(0.07): about 46 candidates per source",
                 fontweight="bold", x=0.01, ha="left")
    fig.savefig(out / "multapses.png", dpi=DPI)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).parent / "img"
    out.mkdir(parents=True, exist_ok=True)
    for make in (forum, rules, kernels, multapses):
        make(out)
        plt.close("all")


if __name__ == "__main__":
    main()
