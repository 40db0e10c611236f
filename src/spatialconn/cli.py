"""The ``spatialconn`` command: build, check and plot networks from a TOML spec; run the demo.

User errors (a bad spec, a missing file, an infeasible request, an output
name whose format cannot be told) end with exit status 2 and one line on
stderr naming the key and the value, without a traceback and without
leaving a partial output file. ``spatialconn check`` exits with 1 when a
projection fails its checks. Ctrl-C (SIGINT) and SIGTERM (sent by batch
schedulers such as SLURM at a job's time limit, and by ``kill``) stop the
command the same way: the temporary output is removed, nothing is left
under the output name, and the exit status is 130 or 143.

Examples
--------
>>> from spatialconn.cli import main
>>> main(["demo", "--sources", "20", "--targets", "200", "-k", "3"])  # doctest: +ELLIPSIS
spatialconn demo: the forum network (20 sources, 200 targets ...
0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import textwrap
import threading
import time
import uuid

import numpy as np

__all__ = ["main", "build_parser"]

FORMATS = {".h5": "SONATA", ".hdf5": "SONATA", ".parquet": "Parquet", ".npz": "npz", ".json": "SONATA circuit"}

_MAIN = """\
spatialconn builds the synapses of spiking-network models from neuron
positions: connection probability by distance (Gaussian and other kernels,
masks, periodic space), with exactly the number of synapses the rule fixes
(fixed out-degree, fixed in-degree, fixed total number) or pairwise Bernoulli.

Run 'spatialconn COMMAND --help' for the options of a command."""

_EPILOG = """\
exit status:
  0  success (check: every projection passed)
  1  check: at least one projection failed a check
  2  usage error: bad arguments, bad spec (unknown key, wrong type or value,
     missing file), infeasible request, unwritable output; one line on stderr
     names the key (set SPATIALCONN_DEBUG=1 for a traceback)

examples:
  spatialconn demo
  spatialconn build examples/network.toml -o edges.h5
  spatialconn check edges.h5 --spec examples/network.toml
  spatialconn build examples/network.toml -o circuit/circuit_config.json
  spatialconn check circuit/circuit_config.json
  spatialconn plot edges.h5 --spec examples/network.toml -o figure.png

documentation: the docs/ folder of the repository (mkdocs build), page 'cli'."""

_SPEC_FORMAT = """\
spec format (TOML; lengths in the unit of the positions):
  seed = 2024                          # default seed of everything below (default 0)
  [space]                              # optional default space of every projection
  extent = [[0, 1], [0, 1]]            # one [low, high] per axis
  periodic = true                      # torus (minimum-image distances)

  [populations.NAME]                   # one table per population, either generated:
  positions = "uniform"                #   uniform: n, extent
  n = 1000                             #   normal: n, mean (list), std, dim
  extent = [[0, 1], [0, 1]]            #   grid: shape (list), extent (cell centres)
  seed = 1                             #   optional
  dynamics_params = { I_e = 380.0 }    # SONATA circuits only (.json output): model_type,
                                       #   model_template (default "nest:iaf_psc_alpha")
  # or read from a file (relative to the spec):
  # file = "exc.csv"                   #   .csv (optional header; columns = ["x", "y"]),
  #                                    #   .npy (N x d), SONATA nodes .h5 (population = "...")

  [projections.NAME]                   # one table per projection
  source = "exc"                       # a population; target defaults to the source
  target = "inh"                       #   (same population: recurrent, autapses apply)
  rule = { type = "FixedOutDegree", k = 10 }
  #   FixedOutDegree k | FixedInDegree k | FixedTotalNumber n, sources = "weighted"|"uniform"
  #   | PairwiseBernoulli p | PairwisePoisson rate
  kernel = { type = "Gaussian", sigma = 0.1 }             # optional (default uniform)
  #   Gaussian sigma, mean | Exponential scale | Gamma kappa, theta | Linear slope, intercept
  #   | Constant value | AnisotropicGaussian sigma, angle | rho | rotation, mean;
  #   any kernel also takes offset = [dx, dy] (shifted)
  mask = { type = "Disc", radius = 0.3 }                  # optional
  #   Disc radius, center | Annulus inner, outer, center | Box lower, upper
  #   | Ellipse semi_axes, angle, center
  space = { extent = [[0, 1], [0, 1]], periodic = true }  # optional, overrides [space]
  multapses = true                     # default true
  autapses = true                      # default true
  seed = 7                             # default: derived from the top-level seed and NAME
  syn_weight = 20.0                    # SONATA circuits only: a number or
  delay = { intercept = 1.0, slope = 5.0 }  # intercept + slope * distance; model_template"""


class UserError(Exception):
    """An error the user can fix; reported as one line, exit status 2."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=88)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spatialconn`` (every subcommand)."""
    parser = argparse.ArgumentParser(prog="spatialconn", description=_MAIN, epilog=_EPILOG,
                                     formatter_class=_Formatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"spatialconn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = sub.add_parser(
        "build", help="build a network from a TOML spec and write it", formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Build every projection of the TOML network spec SPEC and write all of them to
            OUTPUT, in the format its name says:
              .h5       SONATA edges: one edge population per projection, named like it
              .parquet  one table with columns projection, source, target, distance
              .npz      numpy archive: NAME/sources, NAME/targets, NAME/distances per projection
              .json     a complete SONATA circuit in the file's folder (e.g.
                        circuit/circuit_config.json): nodes with positions, one edge population
                        per projection, type tables, the config (BMTK, bluepysnap, libsonata)
            Every projection is validated and planned before any is built; the file is written
            under a temporary name and renamed when complete: on any error there is no OUTPUT.
            .h5 and .parquet are streamed in blocks of about 1 GiB (bounded memory);
            .npz is assembled in memory. A progress bar is shown when stderr is a terminal; a
            summary (synapses, degree statistics, time) is printed at the end."""),
        epilog=_SPEC_FORMAT + "\n\n" + _EPILOG)
    build.add_argument("spec", metavar="SPEC", help="the network spec (TOML)")
    build.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="output file: .h5 (SONATA), .parquet, .npz, or "
                            "DIR/circuit_config.json (SONATA circuit)")
    build.add_argument("--engine", default="auto", help="sampling engine (default: auto)")
    bar = build.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show the progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show the progress bar (default: only on a terminal)")
    build.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    check = sub.add_parser(
        "check", help="verify a file of synapses against its spec", formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Re-read the synapses in EDGES and check each projection of SPEC:
              indices    every index lies in its population
              counts     exact degrees (FixedOutDegree, FixedInDegree) or total
                         (FixedTotalNumber); for PairwiseBernoulli/Poisson a z-test of the count
              autapses   none where autapses = false
              multapses  no repeated pair where multapses = false (and for Bernoulli)
              weights    every synapse inside the mask and the kernel's support
              distances  Kolmogorov-Smirnov test of the synapse distances against the
                         distribution the rule and kernel imply given the positions (exact
                         with multapses; against fresh draws without)
            Large projections are tested on a random subset of drivers (--max-pairs).
            Every p-value is printed; all statistical tests of the run are judged as one
            family (Holm), so a correct file fails with probability at most --alpha.
            Prints PASS/FAIL per projection; exit status 0 when all pass, 1 otherwise."""),
        epilog=_EPILOG)
    check.add_argument("edges", metavar="EDGES", help="file written by 'spatialconn build' "
                       "(or a SONATA circuit_config.json)")
    check.add_argument("--spec", metavar="SPEC", help="the spec it was built from (optional for a "
                       "circuit_config.json: without it only the indices are checked)")
    check.add_argument("--alpha", type=float, default=0.001,
                       help="family-wise false-alarm rate: a correct file fails any statistical test "
                            "of the run with probability at most ALPHA (Holm; default 0.001)")
    check.add_argument("--max-pairs", type=int, default=20_000_000,
                       help="pair evaluations per projection for the distance test (default 2e7)")
    check.add_argument("--seed", type=int, default=0,
                       help="seed of the driver subset and fresh draws (default 0)")

    plot = sub.add_parser(
        "plot", help="draw the connectivity of a file of synapses", formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Draw one row per projection of SPEC found in EDGES: a few drivers (stars) and
            their partners in space, the histogram of synapse distances against the
            distribution expected given the positions, and the out- and in-degree
            histograms. Needs matplotlib (pip install 'spatialconn[plot]')."""),
        epilog=_EPILOG)
    plot.add_argument("edges", metavar="EDGES", help="file written by 'spatialconn build' "
                      "(or a SONATA circuit_config.json)")
    plot.add_argument("--spec", metavar="SPEC", help="the spec it was built from (optional for a "
                      "circuit_config.json: without it no expected distances are drawn)")
    plot.add_argument("-o", "--output", required=True, metavar="FIGURE",
                      help="image file (.png, .pdf, .svg, ...)")
    plot.add_argument("-p", "--projection", action="append", metavar="NAME",
                      help="only this projection (repeatable; default: all)")
    plot.add_argument("-n", "--drivers", type=int, default=4, help="drivers to highlight (default 4)")
    plot.add_argument("--seed", type=int, default=0, help="seed of the highlighted drivers (default 0)")
    plot.add_argument("--dpi", type=int, default=110, help="resolution of raster images (default 110)")

    demo = sub.add_parser(
        "demo", help="build the Brian2 forum's network and print counts and time",
        formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Build the network of the Brian2 forum question: sources and targets at N(0, 1)
            positions in the plane, a Gaussian kernel with sigma = 1, exactly k synapses per
            source. Runs twice (the first call includes one-time start-up costs) and prints
            the counts and the time of the second."""),
        epilog=_EPILOG)
    demo.add_argument("--sources", type=int, default=1200, help="number of sources (default 1200)")
    demo.add_argument("--targets", type=int, default=40_000, help="number of targets (default 40000)")
    demo.add_argument("-k", type=int, default=10, help="synapses per source (default 10)")
    demo.add_argument("--engine", default="auto", help="sampling engine (default auto)")
    return parser


def main(argv=None) -> int:
    """Run ``spatialconn`` with ``argv`` (default: the command line); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with _terminated_as_interrupt():
            return _run(args)
    except UserError as exc:
        print(f"spatialconn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # SpecError, the library's validation, unwritable files
        if os.environ.get("SPATIALCONN_DEBUG"):
            raise
        print(f"spatialconn {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"spatialconn {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"spatialconn {args.command}: interrupted", file=sys.stderr)
        return 130


def _run(args) -> int:
    if args.command == "build":
        return _build(args)
    if args.command == "check":
        return _check(args)
    if args.command == "plot":
        return _plot(args)
    from .demo import run

    if min(args.sources, args.targets) < 1 or args.k < 0:
        raise UserError(f"demo: --sources and --targets must be >= 1 and -k >= 0, got "
                        f"{args.sources}, {args.targets}, {args.k}")
    print(run(args.sources, args.targets, args.k, args.engine))
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and atomic write cleans up."""


@contextlib.contextmanager
def _terminated_as_interrupt():
    """Within the block, SIGTERM raises :class:`Terminated` (main thread, default handler only)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


# -- build -----------------------------------------------------------------------
def _build(args) -> int:
    from .spec import load

    fmt = _output_format(args.output)
    net = load(args.spec)
    if args.engine != "auto":
        from .engine import ENGINES

        if args.engine not in ENGINES:
            raise UserError(f"--engine: unknown engine {args.engine!r} "
                            f"(auto or one of: {', '.join(ENGINES)})")
    show = (sys.stderr.isatty() if args.progress is None else args.progress) and not args.quiet
    if show:
        import importlib.util

        show = importlib.util.find_spec("tqdm") is not None  # the bar is an optional extra
        if not show and args.progress:
            print("spatialconn build: note: the progress bar needs tqdm "
                  "(pip install 'spatialconn[progress]')", file=sys.stderr)
    # validate and plan every projection before building any
    start = time.perf_counter()
    streams = {name: _Stream(net, name, args.engine, show) for name in net.projections}
    if fmt == ".json":
        _write_circuit(args.output, streams, net)
    else:
        _write(args.output, fmt, streams, net)
    total = time.perf_counter() - start
    if not args.quiet:
        print(_summary(args, net, streams, total))
    return 0


class _Stream:
    """One projection's synapses, block by block, with degree counts and time on the way."""

    #: working memory of one block of .h5 and .parquet output (io.connect_to_file's default).
    #: Blocks are as large as that allows: a block of a random population touches most cells,
    #: and each cell it touches builds its proposal table again.
    MEMORY_LIMIT = 1 << 30

    def __init__(self, net, name: str, engine: str, show: bool):
        from .connect import plan
        from .spec import SpecError

        proj = net.projections[name]
        kwargs = net.arguments(name)
        self.name, self.show, self.rule = name, show, proj.rule
        self.n_sources = len(net.populations[proj.source])
        self.n_targets = len(net.populations[proj.target])
        start = time.perf_counter()
        try:  # every check, and the plan of the counts, happen here
            self.plan = plan(**kwargs, engine=engine)
        except (ValueError, TypeError) as exc:
            raise SpecError(f"projections.{name}", str(exc)) from None
        self.planning = time.perf_counter() - start
        self.out_degrees = np.zeros(self.n_sources, dtype=np.int64)
        self.in_degrees = np.zeros(self.n_targets, dtype=np.int64)
        self.synapses, self.seconds = 0, self.planning

    def __iter__(self):
        from .io import iter_blocks

        start = time.perf_counter()  # building and writing this projection's blocks
        for block in iter_blocks(self.plan, memory_limit=self.MEMORY_LIMIT, progress=self.show, desc=self.name):
            self.out_degrees += np.bincount(block.sources, minlength=self.n_sources)
            self.in_degrees += np.bincount(block.targets, minlength=self.n_targets)
            self.synapses += len(block)
            yield block
        self.seconds = self.planning + time.perf_counter() - start


def _output_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return _circuit_output(path)
    if ext not in FORMATS:
        raise UserError(f"output: cannot tell the format of {path!r} "
                        "(use a name ending in .h5 for SONATA, .parquet or .npz)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"output: directory {os.path.dirname(path)!r} does not exist")
    if os.path.isdir(path):
        raise UserError(f"output: {path!r} is a directory")
    needs = {".h5": "h5py", ".hdf5": "h5py", ".parquet": "pyarrow"}.get(ext)
    if needs:
        import importlib.util

        if importlib.util.find_spec(needs) is None:
            raise UserError(f"output: writing {FORMATS[ext]} needs {needs}: pip install 'spatialconn[io]' "
                            "(or write .npz)")
    return ext


def _summary(args, net, streams, seconds) -> str:
    fmt = FORMATS[os.path.splitext(args.output)[1].lower()]
    size = _bytes(_output_bytes(args.output))
    lines = [f"spatialconn build: {args.spec} -> {args.output} ({fmt}, {size}, {seconds:.2f} s)"]
    rows = [("projection", "rule", "synapses", "out-degree min/mean/max", "in-degree min/mean/max",
             "time")]
    for name, st in streams.items():
        rows.append((name, _rule(st.rule), f"{st.synapses:,}", _stats(st.out_degrees),
                     _stats(st.in_degrees), f"{st.seconds:.2f} s"))
    rows.append(("total", "", f"{sum(st.synapses for st in streams.values()):,}", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _rule(rule) -> str:
    text = repr(rule)
    return text.replace(", sources='weighted'", "")


def _stats(deg) -> str:
    if len(deg) == 0:
        return "-"
    return f"{deg.min()} / {deg.mean():.1f} / {deg.max()}"


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


# -- files -----------------------------------------------------------------------
def _write(path: str, fmt: str, streams: dict, net) -> None:
    """Write every projection to ``path`` atomically (:func:`spatialconn.io.write_network`)."""
    from .io import write_network

    populations = {name: (net.projections[name].source, net.projections[name].target) for name in streams}
    try:
        write_network(streams, path, populations=populations)
    except ImportError as exc:
        raise UserError(f"output: writing {FORMATS[fmt]} needs an optional dependency ({exc}); "
                        "pip install 'spatialconn[io]'") from None
    except OSError as exc:
        raise UserError(f"output: cannot write {path!r}: {exc.strerror or exc}") from None


def read_edges(path: str) -> dict:
    """Synapses per projection in a file written by ``spatialconn build`` (or by
    :mod:`spatialconn.io` for one projection): :func:`spatialconn.io.read_network`,
    with its errors as :class:`UserError`.

    Returns
    -------
    dict
        ``{name: (sources, targets)}`` with int64 index arrays.
    """
    from .io import read_network

    try:
        return read_network(path)
    except FileNotFoundError:
        raise UserError(f"edges: file not found: {path!r}") from None
    except ImportError as exc:
        ext = os.path.splitext(path)[1].lower()
        raise UserError(f"edges: reading {FORMATS.get(ext, ext)} needs an optional dependency ({exc})") from None
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"edges: cannot read {path!r}: {_one_line(exc)}") from None


def _match(edges: dict, net, path: str, wanted=None) -> dict:
    """Map the file's projections onto the spec's; ``{name: (sources, targets)}`` in spec order."""
    if len(edges) == 1 and len(net.projections) == 1:  # e.g. written by spatialconn.io.write
        edges = {None: next(iter(edges.values()))}
    if list(edges) == [None]:
        if len(net.projections) != 1:
            raise UserError(f"edges: {path!r} holds one unnamed projection but the spec has "
                            f"{len(net.projections)}; build it with 'spatialconn build'")
        edges = {next(iter(net.projections)): edges[None]}
    names = list(net.projections) if not wanted else wanted
    for name in names:
        if name not in net.projections:
            raise UserError(f"--projection: no projection {name!r} in the spec "
                            f"(defined: {', '.join(net.projections)})")
    return {n: edges.get(n) for n in names}


# -- check and plot ------------------------------------------------------------------
def _check(args) -> int:
    from .check import Report, check_projection, holm
    from .spec import load

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must lie in (0, 1), got {args.alpha}")
    if args.max_pairs < 1:
        raise UserError(f"--max-pairs must be >= 1, got {args.max_pairs}")
    if _is_circuit(args.edges):
        net, found = _circuit_inputs(args)
    else:
        net = load(_required_spec(args))
        found = _match(read_edges(args.edges), net, args.edges)
    print(f"spatialconn check: {args.edges} against {args.spec or 'its nodes (no spec: indices only)'}")
    reports = []
    for name, syn in found.items():
        proj = net.projections[name]
        if syn is None:
            report = Report(name)
            report.add("present", False, f"projection {name!r} is not in {args.edges}")
        else:
            report = check_projection(*syn, proj, net.populations[proj.source].positions,
                                      net.populations[proj.target].positions, alpha=None,
                                      max_pairs=args.max_pairs, seed=args.seed)
        reports.append(report)
    m = holm(reports, args.alpha)  # all statistical tests of the file are one family
    for report in reports:
        print("\n".join(report.lines()))
    passed = sum(r.passed for r in reports)
    print(f"{passed} of {len(found)} projections pass ({m} statistical tests, family-wise alpha = "
          f"{args.alpha:g}, Holm)")
    return 0 if passed == len(found) else 1


def _plot(args) -> int:
    from .spec import load

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("plot needs matplotlib: pip install 'spatialconn[plot]'") from None
    from . import plot
    from .connections import Connections

    ext = os.path.splitext(args.output)[1].lower().lstrip(".")
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if ext not in formats:
        raise UserError(f"output: cannot tell the image format of {args.output!r} "
                        f"(use one of: {', '.join('.' + f for f in sorted(formats))})")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise UserError(f"output: directory {os.path.dirname(args.output)!r} does not exist")
    if args.drivers < 1:
        raise UserError(f"--drivers must be >= 1, got {args.drivers}")
    if _is_circuit(args.edges):
        net, found = _circuit_inputs(args, args.projection)
    else:
        net = load(_required_spec(args))
        found = _match(read_edges(args.edges), net, args.edges, args.projection)
    missing = [n for n, syn in found.items() if syn is None]
    if missing:
        raise UserError(f"edges: projection {missing[0]!r} is not in {args.edges!r}")
    fig = plt.figure(figsize=(18, 4.6 * len(found)), layout="constrained")
    rows = fig.subfigures(len(found), 1, squeeze=False)[:, 0]
    for sub, (name, (s, t)) in zip(rows, found.items()):
        proj = net.projections[name]
        src, tgt = net.populations[proj.source].positions, net.populations[proj.target].positions
        tgt = src if proj.recurrent else tgt
        conn = Connections(s, t, src, tgt, None if proj.space is None else proj.space.periods)
        axes = sub.subplots(1, 4, width_ratios=[1.1, 1.3, 1, 1])
        plot.overview(conn, proj.rule, proj.kernel, mask=proj.mask, space=proj.space,
                      multapses=proj.multapses, autapses=proj.autapses, n=args.drivers,
                      seed=args.seed, axes=axes,
                      title=f"{name}: {proj.source} \u2192 {proj.target}"
                            + (f", {_rule(proj.rule)}" if proj.rule is not None else ""))
    folder = os.path.dirname(os.path.abspath(args.output))
    tmp = os.path.join(folder, f".{os.path.basename(args.output)}.{uuid.uuid4().hex[:8]}.tmp.{ext}")
    try:
        fig.savefig(tmp, dpi=args.dpi)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"spatialconn plot: {len(found)} projection(s) from {args.edges} -> {args.output}")
    return 0


# -- SONATA circuits (circuit_config.json) ---------------------------------------------
def _is_circuit(path: str) -> bool:
    return str(path).lower().endswith(".json")


def _circuit_output(path: str) -> str:
    """Check ``DIR/NAME.json`` before building: DIR's parent exists, the writer's extras are installed."""
    import importlib.util

    folder = os.path.dirname(path)
    if not folder:
        raise UserError(f"output: a circuit goes into its own folder, e.g. 'circuit/{path}'")
    if not os.path.isdir(os.path.dirname(os.path.abspath(folder))):
        raise UserError(f"output: directory {os.path.dirname(folder) or '.'!r} does not exist")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"output: {folder!r} is a file, expected the circuit's folder")
    if importlib.util.find_spec("h5py") is None:
        raise UserError("output: writing a SONATA circuit needs h5py: pip install 'spatialconn[io]'")
    return ".json"


def _write_circuit(path: str, streams: dict, net) -> None:
    """The whole circuit folder, atomically (:func:`spatialconn.io.write_circuit`)."""
    from .io import write_circuit

    try:
        write_circuit(net, path, connections=streams)
    except OSError as exc:
        raise UserError(f"output: cannot write {path!r}: {exc.strerror or exc}") from None


def _output_bytes(path: str) -> int:
    """Size of the output: the file, or every file of a circuit's folder."""
    if not _is_circuit(path):
        return os.path.getsize(path)
    folder = os.path.dirname(os.path.abspath(path))
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def _required_spec(args) -> str:
    if args.spec is None:
        raise UserError("--spec is required unless EDGES is a SONATA circuit_config.json")
    return args.spec


def _circuit_inputs(args, wanted=None):
    """``(net, found)`` from a circuit config: positions from its nodes files, rules from --spec if given.

    Without a spec every edge population is a projection with ``rule=None``
    between its node populations (check: indices only; plot: no expectation).
    """
    from .io import read_circuit
    from .spec import Network, Population, Projection, load

    if not os.path.isfile(args.edges):
        raise UserError(f"edges: file not found: {args.edges!r}")
    try:
        circuit = read_circuit(args.edges)
    except ImportError as exc:
        raise UserError(f"edges: reading a SONATA circuit needs an optional dependency ({exc}): "
                        "pip install 'spatialconn[io]'") from None
    except (ValueError, OSError) as exc:
        raise UserError(f"edges: {_one_line(exc)}") from None
    if args.spec is None:
        net = Network(populations={n: Population(n, p, "SONATA nodes") for n, p in circuit.positions.items()})
        for name, (src, tgt, _, _) in circuit.edges.items():
            for pop in (src, tgt):
                if pop not in net.populations:
                    raise UserError(f"edges: edge population {name!r} refers to node population {pop!r}, "
                                    f"which {args.edges!r} does not hold")
            net.projections[name] = Projection(name, src, tgt, rule=None)
    else:
        net = load(args.spec)
        for name, pop in net.populations.items():
            pos = circuit.positions.get(name)
            if pos is None or pos.shape != pop.positions.shape:
                got = "no such node population" if pos is None else f"shape {pos.shape}"
                raise UserError(f"edges: population {name!r} of the spec has positions of shape "
                                f"{pop.positions.shape}, {args.edges!r}: {got}")
            pop.positions = pos
    return net, _match({n: (s, t) for n, (_, _, s, t) in circuit.edges.items()}, net, args.edges, wanted)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
