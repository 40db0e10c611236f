"""The documentation builds without warnings, its examples run, and its figures can be remade."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: pages whose ``>>>`` examples are run here (the others belong to other parts of the project)
PAGES = ["index.md", "rules.md", "kernels_masks.md", "choosing.md", "plans.md"]


def test_mkdocs_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs", reason="pip install 'spatialconn[docs]'")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                        "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
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
