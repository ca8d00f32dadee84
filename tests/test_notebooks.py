"""The book's own rules, checked on the committed chapter notebooks (see DESIGN.md).

nbval proves that stored outputs are what the code produces; these tests check what nbval
cannot see: that every chapter was stored fully executed, top to bottom, that it can set
itself up in Colab, that cells hiding their output from nbval still assert their claim, and
that nothing printed depends on the machine.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

# $BOOK_NOTEBOOKS (space-separated paths) checks notebooks not yet listed in _toc.yml.
NOTEBOOKS = [Path(p) for p in os.environ.get("BOOK_NOTEBOOKS", "").split()] or (
    bookinfo.toc_notebooks(ROOT)
)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]
MAX_CELL_LINES = 30
RANDOM_CALL = re.compile(r"torch\.(rand|randn|randint|randperm|multinomial|bernoulli|normal)\(")
WIDGET_USE = re.compile(r"\binteract\w*\(|ipywidgets|widgets\.\w+\(")


def _code_cells(path: Path) -> list:
    nb = nbformat.read(ROOT / path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _text_outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _ignores_output(cell) -> bool:
    return "nbval-ignore-output" in cell.metadata.get("tags", []) or (
        "NBVAL_IGNORE_OUTPUT" in cell.source
    )


def test_toc_has_notebooks():
    assert NOTEBOOKS, "_toc.yml lists no notebook"


def test_intro_credits_the_lecture():
    intro = (ROOT / "intro.md").read_text(encoding="utf-8")
    for needle in ("Hare", "Differentiable Relaxations and Reparameterisations", "Southampton"):
        assert needle in intro, f"intro.md does not credit the lecture ({needle!r} missing)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
class TestChapter:
    def test_valid_and_python3_kernel(self, path):
        nb = nbformat.read(ROOT / path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"

    def test_executed_top_to_bottom_without_errors(self, path):
        cells = [c for c in _code_cells(path) if c.source.strip()]
        counts = [c.execution_count for c in cells]
        assert None not in counts, f"{path}: a code cell was never executed"
        assert counts == list(range(1, len(cells) + 1)), (
            f"{path}: execution counts {counts} show it was not run once, top to bottom"
        )
        for i, cell in enumerate(cells):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path}: code cell {i} stored an error"

    def test_first_code_cell_installs_relaxlib_only_when_missing(self, path):
        first = _code_cells(path)[0].source
        assert "import relaxlib" in first and "except ImportError" in first, first
        assert "RELAXLIB_SOURCE" in first, "the setup cell must honour $RELAXLIB_SOURCE"
        assert REPO_URL in first, f"the setup cell must install from {REPO_URL} (_config.yml)"
        assert not re.search(r"==|>=|<=", first), "the setup cell must pin nothing (Colab's torch)"
        assert not _code_cells(path)[0].outputs, "the setup cell printed something"

    def test_setup_cell_shows_as_one_line(self, path):
        # Colab shows a form cell as its title; JupyterLab folds a hidden source; the
        # website folds a hide-input cell behind one toggle.
        cell = _code_cells(path)[0]
        assert cell.source.startswith("# @title "), "the setup cell needs a '# @title' line"
        assert cell.metadata.get("cellView") == "form"
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        assert "hide-input" in cell.metadata.get("tags", [])

    def test_cells_that_hide_output_from_nbval_assert_their_claim(self, path):
        for i, cell in enumerate(_code_cells(path)):
            if _ignores_output(cell):
                assert re.search(r"\bassert\b", cell.source), (
                    f"{path}: code cell {i} is tagged nbval-ignore-output but asserts nothing"
                )

    def test_printed_output_reveals_no_device_or_raw_tensor(self, path):
        for i, cell in enumerate(_code_cells(path)):
            text = _text_outputs(cell)
            for needle in ("device=", "cuda", "tensor("):
                assert needle not in text, f"{path}: code cell {i} printed {needle!r}: {text!r}"

    def test_random_draws_are_seeded_with_a_generator(self, path):
        for i, cell in enumerate(_code_cells(path)):
            for line in cell.source.splitlines():
                if RANDOM_CALL.search(line):
                    assert "generator=" in line, f"{path}: cell {i} draws unseeded: {line!r}"

    def test_cells_are_short(self, path):
        for i, cell in enumerate(_code_cells(path)):
            n = len(cell.source.splitlines())
            assert n <= MAX_CELL_LINES, f"{path}: code cell {i} has {n} lines (> {MAX_CELL_LINES})"

    def test_widget_cells_have_a_kernel_free_counterpart_next(self, path):
        cells = _code_cells(path)
        for i, cell in enumerate(cells[1:], start=1):
            if WIDGET_USE.search(cell.source) and "import" not in cell.source.split("(")[0]:
                following = cells[i + 1].source if i + 1 < len(cells) else ""
                assert "jshtml" in following, (
                    f"{path}: widget cell {i} is not followed by a kernel-free (jshtml) version"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_carries_no_widget_state(path):
    """No saved ipywidgets state (metadata.widgets): the website shows no widget, and the
    state (tens of kB of a chapter's explorers) only made notebooks and pages heavier."""
    nb = nbformat.read(ROOT / path, as_version=4)
    state = nb.metadata.get("widgets")
    assert not state, (
        f"{path} stores {len(str(state)):,} characters of widget state: "
        "run `python tools/strip_widget_state.py`"
    )


IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")
FILE_NAME = re.compile(r"^\S+\.(png|svg|jpe?g|gif)$|/", re.IGNORECASE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_figure_has_its_own_alt_text(path):
    """A figure's alt text is written for it (cell metadata ``mystnb.image.alt``): without
    it myst-nb gives the image its file path, which a screen reader reads out (issue 16)."""
    alts = []
    for i, cell in enumerate(_code_cells(path)):
        if not any(k in o.get("data", {}) for o in cell.outputs for k in IMAGE_TYPES):
            continue
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        assert len(alt.split()) >= 8, f"{path}: code cell {i} draws a figure without alt text"
        assert not FILE_NAME.search(alt.split()[0]), f"{path}: cell {i}: alt is a file name"
        alts.append(alt)
    assert len(alts) == len(set(alts)), f"{path}: two figures share one alt text"
