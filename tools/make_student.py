"""Write student copies of the chapters: solutions removed, outputs cleared.

    python tools/make_student.py [OUTDIR]      # default: _build/student

For every notebook in _toc.yml, the copy keeps the text, the code up to each exercise, the
exercise stubs and their check cells, and drops:

* each solution block: the cells from a ``{solution-start}`` directive to its
  ``{solution-end}`` (sphinx-exercise's gated syntax), which hold the reference solution,
  its check and the demonstrations of typical mistakes;
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
SOLUTION_START = re.compile(r"^```\{solution-start\}", re.MULTILINE)
SOLUTION_END = re.compile(r"^```\{solution-end\}", re.MULTILINE)


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


def solution_blocks(cells: list) -> list[range]:
    """The index ranges of the solution blocks, start and end markers included."""
    blocks, start = [], None
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        if SOLUTION_START.search(cell.source):
            if start is not None:
                raise ValueError(f"cell {i}: a solution starts inside another one")
            start = i
        if SOLUTION_END.search(cell.source):
            if start is None:
                raise ValueError(f"cell {i}: a solution ends that never started")
            blocks.append(range(start, i + 1))
            start = None
    if start is not None:
        raise ValueError(f"cell {start}: a solution that never ends")
    return blocks


def is_solution(cells: list, i: int) -> bool:
    """Cell i belongs to a solution block (see :func:`solution_blocks`)."""
    return any(i in block for block in solution_blocks(cells))


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without solutions or outputs (see the module docstring)."""
    cells = nb.cells
    drop: set[int] = set()
    removed_names: set[str] = set()
    in_solution = {i for block in solution_blocks(cells) for i in block}
    for i in range(len(cells)):
        if i in in_solution:
            drop.add(i)
            if cells[i].cell_type == "code":
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
