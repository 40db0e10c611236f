"""Run NEST's own spatial tests with every spatial ``nest.Connect`` made by spatialconn.

Usage::

    python benchmarks/nest_suite/run.py --nest-git /path/to/nest-simulator/.git --ref v3.10 \\
        [--workdir /tmp/nest_suite] [-- extra pytest arguments]

    python benchmarks/nest_suite/run.py --nest-src /path/to/nest-simulator   # a checkout

Extracts ``testsuite/pytests/spatial/``, the spatial regressions and
``other/test_node_parametrization.py`` (with NEST's ``conftest.py`` and
``utilities/``) into ``--workdir``, places ``conftest_route.py`` as
``conftest.py`` above ``testsuite/`` and runs pytest there with the installed
NEST (the sources must match its version). The summary (tests that made
spatial connections: pass / fail / n/a) is printed and written to
``<workdir>/nest_suite_report.json``. Needs NEST, spatialconn and scipy.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

TESTS = [
    "testsuite/pytests/spatial",
    "testsuite/pytests/regressions/test_issue_665.py",
    "testsuite/pytests/regressions/test_ticket_433.py",
    "testsuite/pytests/regressions/test_ticket_800.py",
    "testsuite/pytests/regressions/test_ticket_881.py",
    "testsuite/pytests/regressions/test_issue_3106.py",
    "testsuite/pytests/regressions/test_issue_3108.py",
    "testsuite/pytests/other/test_node_parametrization.py",
]
SUPPORT = ["testsuite/pytests/conftest.py", "testsuite/pytests/utilities"]


def extract(workdir: Path, nest_git: str | None, ref: str, nest_src: str | None):
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if nest_git:
        data = subprocess.run(["git", "--git-dir", nest_git, "archive", "--format=tar", ref, *TESTS, *SUPPORT],
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(workdir, filter="data")
    else:
        for rel in TESTS + SUPPORT:
            src, dst = Path(nest_src) / rel, workdir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    shutil.copy2(Path(__file__).with_name("conftest_route.py"), workdir / "conftest.py")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--nest-git", help="a NEST git directory (bare or .git)")
    src.add_argument("--nest-src", help="a NEST source checkout")
    parser.add_argument("--ref", default="v3.10", help="tag or commit with --nest-git (default v3.10)")
    parser.add_argument("--workdir", default="nest_suite_work")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    extract(workdir, args.nest_git, args.ref, args.nest_src)
    env = dict(os.environ, NEST_SUITE_REPORT=str(workdir / "nest_suite_report.json"))
    src_dir = Path(__file__).resolve().parents[2] / "src"
    env["PYTHONPATH"] = os.pathsep.join([str(src_dir), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    tests = [t for t in TESTS]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(workdir),
           *tests, *args.pytest_args]
    return subprocess.run(cmd, cwd=workdir, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
