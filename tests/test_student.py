"""`make student`: the student copies keep the exercises, lose the solutions, and run.

Each chapter's copy must (1) contain no reference solution and no stored output, (2) keep
every exercise stub and its check, (3) use no name that only a removed solution defined,
and (4) run top to bottom up to its first exercise check, which must answer
"not attempted" for the untouched stub.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402
import make_student  # noqa: E402

NOTEBOOKS = bookinfo.toc_notebooks(ROOT)
STUB = "raise NotImplementedError"


def _copy(path):
    original = nbformat.read(ROOT / path, as_version=4)
    return original, make_student.student_copy(original)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_solutions_and_outputs_removed_exercises_kept(path):
    original, copy = _copy(path)
    blocks = make_student.solution_blocks(original.cells)
    assert len(blocks) >= 2, f"{path}: fewer than two exercises with a solution"
    kept_sources = {c.source for c in copy.cells}
    for block in blocks:
        for i in block:
            if original.cells[i].source.strip():
                assert original.cells[i].source not in kept_sources, (
                    f"{path}: cell {i} of a solution survived"
                )
    assert all(not c.outputs and c.execution_count is None for c in _code(copy))
    stubs = [c.source for c in _code(original) if STUB in c.source]
    assert len(stubs) == len(blocks), f"{path}: every exercise needs a stub and a solution"
    assert [c.source for c in _code(copy) if STUB in c.source] == stubs


def test_solution_blocks_must_be_closed():
    cell = nbformat.v4.new_markdown_cell
    with pytest.raises(ValueError, match="never ends"):
        make_student.solution_blocks([cell("```{solution-start} ex-a\n```")])
    with pytest.raises(ValueError, match="never started"):
        make_student.solution_blocks([cell("```{solution-end}\n```")])
    cells = [
        cell("a"),
        cell("```{solution-start} ex-a\n```"),
        cell("b"),
        cell("```{solution-end}\n```"),
    ]
    assert make_student.solution_blocks(cells) == [range(1, 4)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_no_name_left_undefined(path, tmp_path):
    _, copy = _copy(path)
    code = "\n\n".join(
        "\n".join(
            line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for c in _code(copy)
    )
    script = tmp_path / "student.py"
    script.write_text(code, encoding="utf-8")
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [
            str(ruff),
            "check",
            "--isolated",
            "--select",
            "F821",
            "--output-format",
            "concise",
            str(script),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"{path}: the student copy uses undefined names:\n{result.stdout}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_runs_up_to_the_first_exercise(path, tmp_path, monkeypatch):
    _, copy = _copy(path)
    first_stub = next(
        i for i, c in enumerate(copy.cells) if c.cell_type == "code" and STUB in c.source
    )
    check = next(
        i for i in range(first_stub + 1, len(copy.cells)) if copy.cells[i].cell_type == "code"
    )
    copy.cells = copy.cells[: check + 1]
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{Path('/usr/bin')}:{Path('/bin')}")
    NotebookClient(copy, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "")
        for out in copy.cells[check].outputs
    )
    assert "not attempted" in shown, (
        f"{path}: the first check did not report 'not attempted': {shown!r}"
    )
