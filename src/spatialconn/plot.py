"""Pictures of spatial connectivity (matplotlib, an optional dependency).

* :func:`connections`: a few drivers and their partners in space, the
  picture modellers draw by hand (like the Brian2 forum's figure);
* :func:`distance_histogram`: the distances of the synapses against the
  distribution the rule and kernel imply given the positions;
* :func:`degrees`: out- and in-degree histograms;
* :func:`overview`: all of them for one projection, in one figure.

matplotlib is imported only when a function is called; without it they
raise an ``ImportError`` that says how to install it
(``pip install "spatialconn[plot]"``).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import numpy as np, spatialconn as sc
>>> import spatialconn.plot
>>> pos = np.random.default_rng(0).random((500, 2))
>>> conn = sc.connect(pos, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.1), seed=1)
>>> ax = sc.plot.connections(conn, n=3)
>>> ax = sc.plot.distance_histogram(conn, rule=sc.FixedOutDegree(20), kernel=sc.Gaussian(0.1))
>>> axes = sc.plot.degrees(conn)
"""

from __future__ import annotations

import numpy as np

from ._arrays import unique

__all__ = ["connections", "distance_histogram", "degrees", "overview"]

#: colours of the highlighted drivers (colour-blind safe, Okabe & Ito)
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "spatialconn.plot needs matplotlib; install it with: pip install 'spatialconn[plot]'"
        ) from None
    return plt


def _axes(ax, **subplots):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(**subplots)
    return ax


def _positions(conn, source_positions, target_positions):
    src = conn.source_positions if source_positions is None else source_positions
    tgt = conn.target_positions if target_positions is None else target_positions
    return np.asarray(src, dtype=np.float64), np.asarray(tgt, dtype=np.float64)


def connections(conn, source_positions=None, target_positions=None, *, drivers=None, n: int = 4,
                by: str = "source", seed: int = 0, ax=None, title: str | None = None):
    """Plot a few drivers and their partners in space (the first two coordinates).

    Every neuron is drawn as a faint dot (a random 50,000 per population in
    larger networks); each chosen driver as a large marker and its partners as
    dots of the same colour (a partner reached several times is drawn larger).

    Parameters
    ----------
    conn : Connections
        The result of :func:`spatialconn.connect` (it knows the positions),
        or any object with ``sources`` and ``targets`` arrays when the
        positions are given.
    source_positions, target_positions : (N, d) arrays, optional
        Positions, if ``conn`` does not carry them (e.g. read from a file).
    drivers : sequence of int, optional
        The neurons to show; default ``n`` neurons picked at random among
        those with synapses (with ``seed``).
    n : int, default 4
    by : {"source", "target"}
        Show sources and their targets (out-going), or targets and their
        sources (in-coming).
    seed : int, default 0
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, spatialconn as sc, spatialconn.plot
    >>> pos = np.random.default_rng(0).normal(size=(2000, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(10), kernel=sc.Gaussian(0.3), seed=1)
    >>> ax = sc.plot.connections(conn, drivers=[0, 1])
    >>> ax.get_legend().get_texts()[0].get_text()
    'source 0: 10 synapses'
    """
    if by not in ("source", "target"):
        raise ValueError(f"by must be 'source' or 'target', got {by!r}")
    src, tgt = _positions(conn, source_positions, target_positions)
    s, t = np.asarray(conn.sources), np.asarray(conn.targets)
    drv_idx, par_idx = (s, t) if by == "source" else (t, s)
    drv_pos, par_pos = (src, tgt) if by == "source" else (tgt, src)
    if drivers is None:
        present = unique(drv_idx)
        if len(present) == 0:
            present = np.arange(len(drv_pos))
        rng = np.random.default_rng(seed)
        drivers = np.sort(rng.choice(present, size=min(n, len(present)), replace=False))
    ax = _axes(ax, figsize=(5, 5))
    xy = lambda p: (p[:, 0], p[:, 1] if p.shape[1] > 1 else np.zeros(len(p)))  # noqa: E731
    same = src is tgt or (src.shape == tgt.shape and np.array_equal(src, tgt))
    dot = 2.0 if len(tgt) < 5000 else 0.6
    background = np.random.default_rng(seed)  # at most 50,000 faint dots per population
    thin = lambda p: p if len(p) <= 50_000 else p[background.choice(len(p), 50_000, replace=False)]  # noqa: E731
    ax.scatter(*xy(thin(tgt)), s=dot, c="0.85", linewidths=0, label=None, rasterized=True)
    if not same:
        ax.scatter(*xy(thin(src)), s=dot, c="0.65", linewidths=0, label=None, rasterized=True)
    partner = "targets" if by == "source" else "sources"
    for c, i in enumerate(np.asarray(drivers, dtype=np.int64)):
        color = COLORS[c % len(COLORS)]
        mine, counts = np.unique(par_idx[drv_idx == i], return_counts=True)
        ax.scatter(*xy(par_pos[mine]), s=18 * counts, c=color, edgecolors="k", linewidths=0.3,
                   alpha=0.9, zorder=2)
        ax.scatter(*xy(drv_pos[[i]]), s=160, c=color, marker="*", edgecolors="k", linewidths=0.8,
                   label=f"{by} {i}: {int(counts.sum())} synapses", zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x")
    ax.set_ylabel("y" if drv_pos.shape[1] > 1 else "")
    ax.set_title(title or f"{by}s (stars) and their {partner}")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    return ax


def distance_histogram(conn, rule=None, kernel=None, *, mask=None, space=None, multapses: bool = True,
                       autapses: bool = True, source_positions=None, target_positions=None,
                       bins=40, ax=None, seed: int = 0, max_pairs: int = 20_000_000, title=None):
    """Histogram of the synapses' distances against the rule's expectation.

    The expectation is the distribution of one synapse's distance implied
    by the rule, kernel, mask and space *given these positions* (see
    :func:`spatialconn.check.expected_distance_density`); it is drawn when
    ``rule`` is given. Pass the arguments given to :func:`spatialconn.connect`.

    Parameters
    ----------
    conn : Connections
    rule, kernel, mask, space, multapses, autapses
        As given to :func:`spatialconn.connect`.
    source_positions, target_positions : arrays, optional
        Positions, if ``conn`` does not carry them.
    bins : int or array, default 40
    ax : matplotlib Axes, optional
    seed, max_pairs
        As in :func:`spatialconn.check.check_projection` (large networks use
        a random subset of drivers for the expectation).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, spatialconn as sc, spatialconn.plot
    >>> pos = np.random.default_rng(0).random((1000, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedInDegree(5), kernel=sc.Exponential(0.05), seed=2)
    >>> ax = sc.plot.distance_histogram(conn, sc.FixedInDegree(5), sc.Exponential(0.05))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['5000 synapses', 'expected given the positions']
    """
    from .check import expected_distance_density
    from .spec import Projection

    src, tgt = _positions(conn, source_positions, target_positions)
    d = _distances(conn, src, tgt, space)
    ax = _axes(ax, figsize=(5, 3.5))
    hi = float(d.max()) if len(d) else 1.0
    edges = np.linspace(0.0, hi * 1.02 or 1.0, bins + 1) if np.ndim(bins) == 0 else np.asarray(bins, float)
    ax.hist(d, bins=edges, density=len(d) > 0, color="0.7", edgecolor="white", linewidth=0.5,
            label=f"{len(d)} synapses")
    if rule is not None and len(d):
        recurrent = conn.source_positions is conn.target_positions if source_positions is None \
            else src is tgt
        proj = Projection("plot", "a", "a" if recurrent else "b", rule, kernel, mask, space,
                          multapses=multapses, autapses=autapses)
        density = expected_distance_density(conn.sources, conn.targets, proj, src, tgt, edges,
                                            max_pairs=max_pairs, seed=seed)
        ax.stairs(density, edges, color=COLORS[1], linewidth=1.8, label="expected given the positions")
    ax.set_xlabel("distance")
    ax.set_ylabel("density")
    ax.set_title(title or "distances of the synapses")
    ax.legend(fontsize="small")
    return ax


def _distances(conn, src, tgt, space):
    from .space import wrap

    periods = np.full(src.shape[1], np.inf) if space is None else space.periods
    disp = wrap(tgt[np.asarray(conn.targets)] - src[np.asarray(conn.sources)], periods)
    return np.sqrt(np.einsum("ij,ij->i", disp, disp))


def degrees(conn, *, n_sources: int | None = None, n_targets: int | None = None, axes=None,
            title: str | None = None):
    """Histograms of the out-degrees (per source) and in-degrees (per target).

    Parameters
    ----------
    conn : Connections
        Or any object with ``sources`` and ``targets``; then give the
        population sizes ``n_sources`` and ``n_targets``.
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    tuple of two matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, spatialconn as sc, spatialconn.plot
    >>> pos = np.random.default_rng(0).random((300, 2))
    >>> conn = sc.connect(pos, rule=sc.FixedOutDegree(4), kernel=sc.Gaussian(0.1), seed=0)
    >>> out_ax, in_ax = sc.plot.degrees(conn)
    >>> out_ax.get_title()
    'out-degree: 4 to 4, mean 4.00'
    """
    n_s = getattr(conn, "n_sources", None) if n_sources is None else n_sources
    n_t = getattr(conn, "n_targets", None) if n_targets is None else n_targets
    out_deg = np.bincount(np.asarray(conn.sources), minlength=n_s or 0)
    in_deg = np.bincount(np.asarray(conn.targets), minlength=n_t or 0)
    if axes is None:
        _, axes = _pyplot().subplots(1, 2, figsize=(8, 3), sharey=False)
    for ax, deg, name, color in ((axes[0], out_deg, "out-degree", COLORS[0]),
                                 (axes[1], in_deg, "in-degree", COLORS[2])):
        lo, hi = (int(deg.min()), int(deg.max())) if len(deg) else (0, 0)
        ax.hist(deg, bins=np.arange(lo, hi + 2) - 0.5 if hi - lo < 60 else 40, color=color,
                edgecolor="white", linewidth=0.5)
        ax.set_xlabel(f"{name} (synapses per {'source' if name[0] == 'o' else 'target'})")
        ax.set_ylabel("neurons")
        ax.set_title(f"{name}: {lo} to {hi}, mean {deg.mean() if len(deg) else 0:.2f}")
        if hi - lo < 10:
            ax.set_xticks(range(lo, hi + 1))
    if title:
        axes[0].figure.suptitle(title)
    return axes[0], axes[1]


def overview(conn, rule=None, kernel=None, *, mask=None, space=None, multapses: bool = True,
             autapses: bool = True, source_positions=None, target_positions=None, by=None,
             n: int = 4, seed: int = 0, axes=None, title: str | None = None):
    """One row of four panels: drivers and partners, distances, out- and in-degrees.

    Arguments as in :func:`connections`, :func:`distance_histogram` and
    :func:`degrees`; ``by`` defaults to the rule's driver. ``axes``: four
    Axes to draw into (e.g. a row of a sub-figure); ``title`` becomes the
    (sub-)figure's title.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, spatialconn as sc, spatialconn.plot
    >>> pos = np.random.default_rng(0).random((400, 2))
    >>> rule, kernel = sc.FixedOutDegree(8), sc.Gaussian(0.1)
    >>> conn = sc.connect(pos, rule=rule, kernel=kernel, seed=0)
    >>> fig = sc.plot.overview(conn, rule, kernel)
    >>> len(fig.axes)
    4
    """
    own = axes is None
    if own:
        fig = _pyplot().figure(figsize=(18, 4.4), layout="constrained")
        axes = fig.subplots(1, 4, width_ratios=[1.1, 1.3, 1, 1])
    fig = axes[0].figure
    by = by or getattr(rule, "driver", "source")
    connections(conn, source_positions, target_positions, n=n, by=by, seed=seed, ax=axes[0])
    distance_histogram(conn, rule, kernel, mask=mask, space=space, multapses=multapses,
                       autapses=autapses, source_positions=source_positions,
                       target_positions=target_positions, ax=axes[1], seed=seed)
    degrees(conn, n_sources=None if source_positions is None else len(source_positions),
            n_targets=None if target_positions is None else len(target_positions), axes=axes[2:4])
    if title:
        fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    return fig
