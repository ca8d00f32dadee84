"""The page shows the algorithm; the course package keeps one copy that cannot drift.

A chapter writes its central algorithm (an estimator, a training loop, a model) in a cell
on its page. When a later chapter or a test needs the same function, ``dae_course`` holds a
copy whose docstring names the page (``Defined on the page: chapters/NN_name.ipynb``).
These tests check that such a copy is the page's code, statement for statement (docstrings
aside), and that no notebook defines a function under a name the course package also
defines unless the two are the same source.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dae_course"
MARKER = re.compile(r"Defined on the page:\s*(chapters/[\w.-]+\.ipynb)")


def _strip_docstring(node: ast.AST) -> ast.AST:
    node = ast.fix_missing_locations(node)
    body = getattr(node, "body", None)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]
    return node


def _same_source(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(_strip_docstring(a)) == ast.dump(_strip_docstring(b))


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _package_definitions() -> dict[str, tuple[Path, ast.AST]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, node in _definitions(ast.parse(path.read_text(encoding="utf-8"))).items():
            if not name.startswith("_"):
                found.setdefault(name, []).append((path, node))
    return found


def _page_definitions(notebook: Path) -> dict[str, ast.AST]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # a cell with IPython syntax defines nothing we compare
            continue
        found.update(_definitions(tree))
    return found


PACKAGE_DEFS = _package_definitions()
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MARKED = [
    (path, node, MARKER.search(ast.get_docstring(node) or "").group(1))
    for entries in PACKAGE_DEFS.values()
    for path, node in entries
    if MARKER.search(ast.get_docstring(node) or "")
]


@pytest.mark.parametrize(
    "path, node, page", MARKED, ids=[f"{p.relative_to(ROOT)}::{n.name}" for p, n, _ in MARKED]
)
def test_package_copy_is_the_pages_source(path, node, page):
    notebook = ROOT / page
    assert notebook.exists(), f"{path}: {node.name} names a page that does not exist: {page}"
    on_page = _page_definitions(notebook).get(node.name)
    assert on_page is not None, f"{page} does not define {node.name}, which {path} says it does"
    assert _same_source(on_page, node), (
        f"{node.name}: the copy in {path.relative_to(ROOT)} differs from the definition on "
        f"{page}; change both together (the page is the original)"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_page_redefines_a_package_name_differently(notebook):
    for name, on_page in _page_definitions(notebook).items():
        for path, node in PACKAGE_DEFS.get(name, []):
            assert _same_source(on_page, node), (
                f"{notebook.name} defines {name}, and {path.relative_to(ROOT)} defines a "
                "different one: use the package's (import it) or mark the package's copy "
                f"'Defined on the page: chapters/{notebook.name}' and keep them identical"
            )


def test_the_marker_is_detected():
    source = (
        'def f(x):\n    """Doc.\n\n    Defined on the page: chapters/06_reinforce.ipynb\n    """\n'
    )
    node = ast.parse(source).body[0]
    assert MARKER.search(ast.get_docstring(node)).group(1) == "chapters/06_reinforce.ipynb"
    page = ast.parse("def f(x):\n    return x\n").body[0]
    other = ast.parse("def f(x):\n    return x + 1\n").body[0]
    assert _same_source(page, ast.parse("def f(x):\n    'doc'\n    return x\n").body[0])
    assert not _same_source(page, other)
