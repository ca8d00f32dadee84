"""Facts about the book that the Makefile and the tests need, read from its own files.

    python tools/bookinfo.py notebooks        # the notebooks listed in _toc.yml, in order
    python tools/bookinfo.py nb-ruff-ignore   # pyproject's per-file ignores for *.ipynb

The notebook list comes from _toc.yml (never a glob), so a scratch notebook in chapters/
is neither tested nor built, and a notebook named in the TOC but missing is an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = (".ipynb", ".md", ".myst", ".rst")


def _toc_files(node) -> list[str]:
    """Every `file:` entry of a _toc.yml tree (root first, then depth-first)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found.extend(_toc_files(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_toc_files(child))
    return found


def _resolve(entry: str, root: Path) -> Path:
    """The source file of a TOC entry, which may omit its suffix."""
    path = root / entry
    if path.suffix in SUFFIXES and path.is_file():
        return path
    for suffix in SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"_toc.yml names {entry!r}, but no such file exists")


def toc_sources(root: Path = ROOT) -> list[Path]:
    """The source files of every page in _toc.yml, relative to root, in TOC order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [_resolve(entry, root).relative_to(root) for entry in _toc_files(toc)]


OPTIONAL_PART = "Beyond the lecture"


def optional_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks of the optional part (a part whose caption starts with OPTIONAL_PART)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    parts = [
        p for p in toc.get("parts") or [] if str(p.get("caption", "")).startswith(OPTIONAL_PART)
    ]
    found = [_resolve(entry, root).relative_to(root) for entry in _toc_files(parts)]
    return [path for path in found if path.suffix == ".ipynb"]


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The .ipynb pages of the book, in TOC order."""
    return [path for path in toc_sources(root) if path.suffix == ".ipynb"]


def notebook_ruff_ignores(root: Path = ROOT) -> list[str]:
    """Rules pyproject.toml ignores for *.ipynb (nbqa lints a .py copy, so pass them on)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib

    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    ignores = config.get("tool", {}).get("ruff", {}).get("lint", {}).get("per-file-ignores", {})
    return list(ignores.get("*.ipynb", []))


def main(argv: list[str]) -> int:
    if argv == ["notebooks"]:
        try:
            notebooks = toc_notebooks()
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(" ".join(path.as_posix() for path in notebooks))
    elif argv == ["nb-ruff-ignore"]:
        print(",".join(notebook_ruff_ignores()))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
