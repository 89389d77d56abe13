"""Every table a benchmark wrote to results/ is shown verbatim in the README or a docs page (docs/*.md), with its
file named there."""

from pathlib import Path

import pytest

from zoo.paths import REPO_ROOT

RESULTS = sorted((REPO_ROOT / "results").glob("*.md"))


def _sync_readme():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_readme", REPO_ROOT / "scripts" / "sync_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tables(text):
    """The Markdown tables of `text` (scripts/sync_readme.py reads them the same way)."""
    return _sync_readme().tables(text).split("\n\n") if text else []


def test_there_are_results_files():
    assert RESULTS, "results/ holds no benchmark output"


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_results_tables_are_in_the_readme_or_a_docs_page(path: Path):
    text = path.read_text()
    assert "- command: `" in text and "- date: " in text and "- commit: " in text
    naming = [doc for doc in _sync_readme().documents() if f"results/{path.name}" in doc.read_text()]
    assert naming, f"neither the README nor a docs page names results/{path.name}"
    for doc in naming:
        shown = tables(doc.read_text())
        for table in tables(text):
            assert table in shown, f"a table of results/{path.name} is not in {doc.name} as written:\n{table}"


def test_the_readme_links_every_docs_page():
    readme = (REPO_ROOT / "README.md").read_text()
    for page in (REPO_ROOT / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in readme, f"the README does not link docs/{page.name}"


def test_readme_blocks_are_in_sync_with_their_results_files():
    assert _sync_readme().main(["--check"]) == 0, "run: python scripts/sync_readme.py"
