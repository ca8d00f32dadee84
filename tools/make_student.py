"""Write student copies of the chapters: solutions removed, outputs cleared.

    python tools/make_student.py [OUTDIR]      # default: _build/student

For every notebook in _toc.yml, the copy keeps the text, the code up to each exercise, the
exercise stubs and their check cells, and drops:

* each reference solution: a code cell tagged ``hide-input`` that follows a markdown cell
  announcing a solution, together with that announcement;
* every later code cell that uses a name the removed solutions defined (it would fail with
  a NameError in the student's copy: it belongs to the solution);

and clears every output and execution count, so the student runs the notebook afresh.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookinfo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ANNOUNCES_SOLUTION = re.compile(r"^\s*\**\s*solution\b", re.IGNORECASE)


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def is_solution(cells: list, i: int) -> bool:
    """Cell i is a reference solution: hidden code right after a 'Solution' announcement."""
    cell = cells[i]
    if cell.cell_type != "code" or "hide-input" not in cell.metadata.get("tags", []):
        return False
    return (
        i > 0
        and cells[i - 1].cell_type == "markdown"
        and bool(ANNOUNCES_SOLUTION.match(cells[i - 1].source))
    )


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without solutions or outputs (see the module docstring)."""
    cells = nb.cells
    drop: set[int] = set()
    removed_names: set[str] = set()
    for i in range(len(cells)):
        if is_solution(cells, i):
            drop.update({i, i - 1})
            removed_names |= _defined_names(cells[i].source)
        elif cells[i].cell_type == "code":
            defined = _defined_names(cells[i].source)
            if removed_names & (_used_names(cells[i].source) - defined):
                drop.add(i)
                removed_names |= defined
            else:  # a kept cell that (re)defines a name makes it available again
                removed_names -= defined
    out = nbformat.from_dict(nb)
    out.cells = [c for i, c in enumerate(cells) if i not in drop]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    out.metadata.pop("widgets", None)
    return out


def main(argv: list[str]) -> int:
    outdir = Path(argv[0]) if argv else ROOT / "_build" / "student"
    for path in bookinfo.toc_notebooks(ROOT):
        nb = nbformat.read(ROOT / path, as_version=4)
        copy = student_copy(nb)
        target = outdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(copy, target)
        removed = len(nb.cells) - len(copy.cells)
        print(f"{target}: {removed} solution cell(s) removed, outputs cleared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
