"""Command-line interface: ``spatialconn demo`` (more subcommands build on it)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spatialconn",
        description="Exact, fast spatial connectivity with fixed synapse counts.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build the Brian2 forum's network and print counts and time")
    demo.add_argument("--sources", type=int, default=1200, help="number of sources (default 1200)")
    demo.add_argument("--targets", type=int, default=40_000, help="number of targets (default 40000)")
    demo.add_argument("-k", type=int, default=10, help="synapses per source (default 10)")
    demo.add_argument("--engine", default="auto", help="sampling engine (default auto)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run

        print(run(args.sources, args.targets, args.k, args.engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
