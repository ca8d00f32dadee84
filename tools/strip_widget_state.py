"""Remove saved ipywidgets state from notebooks (their ``metadata.widgets``).

    python tools/strip_widget_state.py [NOTEBOOK ...]     # default: every notebook of _toc.yml
    python tools/strip_widget_state.py --check [...]      # only report; exit 1 if any has some

Jupyter saves the state of every widget a notebook displayed (tens of kB per chapter, the
images of the live explorers included) in the notebook's metadata. The website shows no
widget (the explorers need a kernel and are removed from it; ``nb_ipywidgets_js`` is empty
in _config.yml), a reader who opens a notebook gets new widgets when running it, and the
stored state only makes the notebooks and every page heavier. Nothing else is changed: the
file is rewritten with the same JSON layout (indent 1, non-ASCII kept), so the diff is the
removed block alone. ``tests/test_notebooks.py`` checks that committed notebooks carry none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookinfo  # noqa: E402


def widget_state_size(path: Path) -> int:
    """Characters of saved widget state in a notebook (0: none)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    state = notebook.get("metadata", {}).get("widgets")
    return len(json.dumps(state)) if state else 0


def strip(path: Path) -> int:
    """Remove ``metadata.widgets`` from a notebook in place; return the characters removed."""
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    state = notebook.get("metadata", {}).pop("widgets", None)
    if state is None:
        return 0
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(text) - len(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if any")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [ROOT / p for p in bookinfo.toc_notebooks(ROOT)]
    found = 0
    for path in notebooks:
        if args.check:
            size = widget_state_size(path)
            if size:
                found += 1
                print(f"{path}: {size:,} characters of widget state")
        else:
            removed = strip(path)
            if removed:
                found += 1
                print(f"{path}: removed {removed:,} characters of widget state")
    if not found:
        print("no widget state in", len(notebooks), "notebooks")
    return 1 if args.check and found else 0


if __name__ == "__main__":
    sys.exit(main())
