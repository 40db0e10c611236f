"""The documentation builds without warnings, its examples run, and its figures can be remade."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: pages whose ``>>>`` examples are run here (the others belong to other parts of the project)
PAGES = ["index.md", "rules.md", "kernels_masks.md", "choosing.md"]
#: pages whose ``python`` recipes (blocks without ``>>>``) are run, in order, each in a fresh process and
#: all in one directory (a later recipe may read what an earlier one wrote); not run: large_networks.md
#: (10^8 synapses, a Dask cluster writing to /shared, SLURM); index.md has doctests only
RECIPE_PAGES = {"simulators.md": [], "cli.md": [], "sonata.md": ["bluepysnap", "libsonata"]}


def _recipes(page: str) -> list:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.DOTALL)
    return [b for b in blocks if ">>>" not in b]


def test_mkdocs_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs", reason="pip install 'spatialconn[docs]'")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                        "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    for page in ("index.html", "rules/index.html", "cli/index.html", "choosing/index.html",
                 "kernels_masks/index.html", "migrating/index.html"):
        assert (tmp_path / "site" / page).exists(), page
    assert (tmp_path / "site" / "img" / "forum.png").exists()


@pytest.mark.parametrize("page", PAGES)
def test_examples_in_the_docs_run(page):
    result = doctest.testfile(str(DOCS / page), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{page}: {result}"


def test_every_image_exists_and_is_made_by_the_script():
    script = (DOCS / "make_figures.py").read_text()
    for page in DOCS.glob("*.md"):
        for name in re.findall(r"\]\(img/([^)]+)\)", page.read_text()):
            assert (DOCS / "img" / name).exists(), f"{page.name}: img/{name}"
            stem = name.rsplit(".", 1)[0]
            assert stem in script or stem.startswith("rule_") or page.name not in PAGES + ["cli.md"], name


def test_figure_script_runs(tmp_path):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(DOCS))
    try:
        import make_figures
    finally:
        sys.path.remove(str(DOCS))
    make_figures.kernels(tmp_path)
    make_figures.rules(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "kernels_masks.png" in names and "rule_fixed_out_degree.png" in names
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)


def test_cli_page_lists_every_subcommand_and_option():
    from spatialconn.cli import build_parser

    text = (DOCS / "cli.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert f"spatialconn {name}" in text
        for action in p._actions:
            longest = max(action.option_strings, key=len, default=None)
            if longest and longest != "--help":
                assert longest in text or min(action.option_strings, key=len) in text, (name, longest)


@pytest.mark.parametrize("page", list(RECIPE_PAGES))
def test_recipes_in_the_docs_run(page, tmp_path):
    """Each recipe runs as written (in a directory holding a copy of examples/)."""
    for package in RECIPE_PAGES[page]:
        pytest.importorskip(package)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYNEST_QUIET": "1"}
    recipes = _recipes(page)
    assert recipes, page
    for code in recipes:
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           check=False, timeout=600, env=env)
        assert r.returncode == 0, f"{page}:\n{code}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
        assert "False" not in r.stdout.split(), r.stdout  # recipes that print a check print True


def _masked(text: str) -> str:
    """Text with timings and file sizes replaced (they vary from run to run)."""
    return re.sub(r"\d+(\.\d+)? (s|ms|MB|kB|GB)\b", "<measured>", text).strip()


def _shown(page: str, first_line: str) -> str:
    text = (DOCS / page).read_text()
    start = text.index("```text\n" + first_line) + len("```text\n")
    return text[start:text.index("```", start)]


def test_sample_outputs_in_the_docs_are_those_of_the_current_code(tmp_path):
    """cli.md's build and check of the shipped example, and index.md's demo, as the code prints them now."""
    pytest.importorskip("h5py", reason="pip install 'spatialconn[io]'")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "spatialconn", *args], cwd=tmp_path, capture_output=True,
                           text=True, check=False, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr  # the shipped example passes its own check
        return r.stdout

    build = "$ spatialconn build examples/network.toml -o edges.h5\n" + cli(
        "build", "examples/network.toml", "-o", "edges.h5", "--no-progress")
    check = "$ spatialconn check edges.h5 --spec examples/network.toml\n" + cli(
        "check", "edges.h5", "--spec", "examples/network.toml")
    assert _masked(build) == _masked(_shown("cli.md", "$ spatialconn build examples"))
    assert _masked(check) == _masked(_shown("cli.md", "$ spatialconn check edges.h5"))
    assert _masked(cli("demo")) == _masked(_shown("index.md", "spatialconn demo:"))
