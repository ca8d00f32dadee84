"""The bibliography page lists every work the book cites, and nothing else.

Each chapter ends with a markdown section "## Sources and further reading", a list of works.
Every bullet of that list that names a work cites it with a sphinxcontrib-bibtex role
(``{cite:p}`key` ``), so the work is in ``references.bib`` and on the bibliography page;
only bullets about PyTorch's own documentation or issue tracker, which are not works of the
bibliography, may go without. The bibliography page shows ``:all:`` entries of
``references.bib``, so every entry must also be cited somewhere, or the page would list
works the book never mentions.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

BIBFILE = ROOT / "references.bib"
SOURCES_HEADING = "## Sources and further reading"
# {cite}`a`, {cite:p}`a,b`, {cite:t}`a` (and sphinxcontrib-bibtex's other cite roles).
CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
# An entry's key: "@type{key," (BibTeX's @comment, @string and @preamble are not entries).
BIB_ENTRY = re.compile(r"^\s*@\s*([A-Za-z]+)\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)
NOT_ENTRIES = {"comment", "string", "preamble"}
BULLET = re.compile(r"^[*-] ")
EXEMPT_BULLET = "PyTorch"  # the documentation and issues of PyTorch are not works cited

NOTEBOOKS = bookinfo.toc_notebooks(ROOT)
MD_PAGES = [path for path in bookinfo.toc_sources(ROOT) if path.suffix == ".md"]


def _bib_keys() -> list[str]:
    text = BIBFILE.read_text(encoding="utf-8")
    return [key for kind, key in BIB_ENTRY.findall(text) if kind.lower() not in NOT_ENTRIES]


def _cited_keys(text: str) -> set[str]:
    return {
        key.strip() for keys in CITE_ROLE.findall(text) for key in keys.split(",") if key.strip()
    }


def _markdown(notebook: Path) -> list[str]:
    cells = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def _sources_section(notebook: Path) -> str:
    """The text of the notebook's Sources section, up to the next heading."""
    sections = []
    for text in _markdown(notebook):
        if SOURCES_HEADING in text:
            rest = text.split(SOURCES_HEADING, 1)[1]
            sections.append(re.split(r"^#{1,6} ", rest, maxsplit=1, flags=re.MULTILINE)[0])
    assert len(sections) == 1, f"{notebook}: {len(sections)} '{SOURCES_HEADING}' sections"
    return sections[0]


def _bullets(section: str) -> list[str]:
    """The bullets of a section, each with its indented continuation lines joined."""
    bullets: list[str] = []
    current: list[str] | None = None
    for line in section.splitlines():
        if BULLET.match(line):
            current = [line[2:].strip()]
            bullets.append(current)
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    return [" ".join(lines) for lines in bullets]


def _all_cited() -> dict[str, set[str]]:
    """Cited keys by page, for every notebook and .md page of the book."""
    cited = {str(nb): _cited_keys("\n".join(_markdown(nb))) for nb in NOTEBOOKS}
    for page in MD_PAGES:
        cited[str(page)] = _cited_keys((ROOT / page).read_text(encoding="utf-8"))
    return cited


def test_bib_keys_are_unique():
    keys = _bib_keys()
    assert keys, "no entries found in references.bib"
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, f"references.bib defines these keys twice: {duplicates}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_source_bullet_cites_its_works(notebook):
    section = _sources_section(notebook)
    assert _cited_keys(section), f"{notebook}: the Sources section cites nothing"
    uncited = [
        bullet
        for bullet in _bullets(section)
        if not bullet.startswith(EXEMPT_BULLET) and not CITE_ROLE.search(bullet)
    ]
    assert not uncited, f"{notebook}: Sources bullets without a {{cite}} role: {uncited}"


@pytest.mark.parametrize(
    "page", [*NOTEBOOKS, *MD_PAGES], ids=lambda path: path.as_posix().replace("/", "-")
)
def test_cited_keys_exist(page):
    if page.suffix == ".ipynb":
        text = "\n".join(_markdown(page))
    else:
        text = (ROOT / page).read_text(encoding="utf-8")
    missing = sorted(_cited_keys(text) - set(_bib_keys()))
    assert not missing, f"{page} cites keys that references.bib lacks: {missing}"


def test_every_bib_entry_is_cited():
    cited = set().union(*_all_cited().values())
    uncited = sorted(set(_bib_keys()) - cited)
    assert not uncited, (
        f"references.bib entries no page cites (the :all: bibliography would list them): {uncited}"
    )


def test_bibliography_page_lists_all_entries():
    text = (ROOT / "bibliography.md").read_text(encoding="utf-8")
    assert "```{bibliography}" in text and ":all:" in text
