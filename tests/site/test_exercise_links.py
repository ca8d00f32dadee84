"""Every chapter page links its exercise notebook: for download, served by the site itself
(the very file committed in exercises/), and for Colab, from the repository named in
_config.yml. Both are ordinary links with text, in the page's note under its title.

Run after `jupyter-book build` (`make test` does); these tests fail when there is no build.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from sitecheck import HTML_DIR, ROOT, colab_launch_url, parse_page, toc_pages

CHAPTERS = sorted(src for src in toc_pages() if src.parts[0] == "chapters")


class _Links(HTMLParser):
    """Every <a> of a page: its attributes and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[dict, str]] = []
        self._open: list[tuple[dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append(({k: v or "" for k, v in attrs}, []))

    def handle_data(self, data):
        for _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            attrs, text = self._open.pop()
            self.links.append((attrs, " ".join("".join(text).split())))


def _links(html: Path) -> list[tuple[dict, str]]:
    parser = _Links()
    parser.feed((HTML_DIR / html).read_text(encoding="utf-8"))
    return parser.links


def _exercise(source: Path) -> Path:
    return Path("exercises") / source.name


@pytest.fixture(scope="module", autouse=True)
def built():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built site at {HTML_DIR} (run `make book` first)", pytrace=False)


def test_toc_has_chapters():
    assert CHAPTERS, "_toc.yml lists no page under chapters/"


@pytest.mark.parametrize("source", CHAPTERS, ids=str)
def test_chapter_links_its_exercises_for_download(source):
    html = toc_pages()[source]
    page = parse_page(HTML_DIR / html)
    exercise = _exercise(source)
    assert (ROOT / exercise).is_file(), f"{exercise} is missing: run `make student`"
    downloads = [
        (attrs, text)
        for attrs, text in _links(html)
        if attrs.get("href") and page.resolve(attrs["href"]) == HTML_DIR / exercise
    ]
    assert downloads, f"{html} has no link to its exercise notebook {exercise}"
    in_note = [text for attrs, text in downloads if "download" in attrs]
    assert any(text.startswith("download the exercises") for text in in_note), (
        f"{html}: no 'download the exercises' link (with a download attribute): {downloads}"
    )
    served = HTML_DIR / exercise
    assert served.is_file(), f"the site does not serve {exercise}"
    assert served.read_bytes() == (ROOT / exercise).read_bytes(), (
        f"the site serves another {exercise} than the one committed (rebuild the book)"
    )


@pytest.mark.parametrize("source", CHAPTERS, ids=str)
def test_chapter_links_its_exercises_in_colab(source):
    html = toc_pages()[source]
    expected = colab_launch_url(_exercise(source))
    texts = [text for attrs, text in _links(html) if attrs.get("href") == expected]
    assert texts, f"{html} has no link to {expected}"
    assert "open the exercises in Colab" in texts, f"{html}: its Colab links say {texts}"


def test_the_site_serves_no_other_notebook_from_exercises():
    served = sorted(p.name for p in (HTML_DIR / "exercises").glob("*"))
    assert served == sorted(_exercise(source).name for source in CHAPTERS)
