"""Reading a built Jupyter Book site: what each page loads, and from where.

Shared by the site tests.  Only the standard library's html.parser is used, so what is
checked is exactly what a browser would be asked to fetch by the markup itself.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("DAE_SITE_DIR", ROOT / "_build" / "html")).resolve()

sys.path.insert(0, str(ROOT / "tools"))
import bookinfo  # noqa: E402

# An address with a scheme ("https://", "ws://", "file://") or protocol-relative ("//host").
EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//")
# An address in script code: with a scheme, or protocol-relative right after a quote
# (base64 data, e.g. an animation's frames, is full of "//" but has no dotted host name).
INLINE_URL = re.compile(
    r"""(?:(?:https?|wss?):|(?<=['"`(]))//[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+[^\s'"`)]*"""
)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE)
# <link rel=...> values that only describe a relation and make the browser fetch nothing.
NAVIGATION_RELS = {
    "alternate", "author", "bookmark", "canonical", "first", "help", "index", "last",
    "license", "next", "prev", "previous", "search", "up", "external", "nofollow",
}  # fmt: skip
# Attributes through which each tag makes the browser fetch something.
LOADING_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
}
# Inline <script> types that hold data, not code.
DATA_SCRIPT_TYPES = {
    "application/json",
    "application/ld+json",
    "application/vnd.jupyter.widget-state+json",
    "application/vnd.jupyter.widget-view+json",
    "text/x-thebe-config",
}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATH_DELIMITERS = (r"\(", r"\[", "$$", r"\begin")
# Link targets that are not a page of the site, or that the browser never fetches.
NON_HTTP = re.compile(r"^\s*(?:mailto|tel|javascript|data|blob):", re.IGNORECASE)


def is_external(url: str) -> bool:
    return bool(EXTERNAL.match(url))


def css_urls(text: str) -> list[str]:
    return [m.group(2) or m.group(4) for m in CSS_URL.finditer(text) if m.group(2) or m.group(4)]


def srcset_urls(value: str) -> list[str]:
    return [part.split()[0] for part in value.split(",") if part.strip()]


@dataclass
class Load:
    """One thing a page makes the browser fetch."""

    tag: str
    attr: str
    url: str

    def __str__(self) -> str:
        return f"<{self.tag} {self.attr}={self.url!r}>"


@dataclass
class Page:
    path: Path  # relative to HTML_DIR
    loads: list[Load] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # script src, in document order
    inline_script_urls: list[str] = field(default_factory=list)
    # Text of each class="math" element, less what MathJax wrote into it (<mjx-container>):
    # the TeX while it is not typeset, an equation's number once it is.
    math_texts: list[str] = field(default_factory=list)
    prose_math: int = 0  # how many of them come from the prose (not from cell outputs)
    # How many of them hold MathJax's SVG rendering and its MathML copy for screen readers
    math_typeset: int = 0
    math_errors: list[str] = field(default_factory=list)  # TeX errors MathJax marked
    has_widget_state: bool = False
    widget_views: int = 0
    links: list[str] = field(default_factory=list)  # every <a href>, in document order
    ids: set[str] = field(default_factory=set)  # every id (and <a name>): link fragments
    animations: int = 0  # matplotlib jshtml animations (kernel-free sliders)
    # Cell outputs that show what the cell printed in several boxes: "section id: count".
    split_streams: list[str] = field(default_factory=list)

    def resolve(self, url: str) -> Path | None:
        """The file in HTML_DIR that a local url on this page names (None: outside it)."""
        target = unquote(urlsplit(url).path)
        if not target:
            return None
        if target.startswith("/"):
            joined = target.lstrip("/")
        else:
            joined = posixpath.join(posixpath.dirname(self.path.as_posix()), target)
        normal = posixpath.normpath(joined)
        if normal.startswith("../") or normal == "..":
            return None
        return HTML_DIR / normal

    def script_files(self, pattern: str) -> list[str]:
        return [src for src in self.scripts if re.search(pattern, src)]


class _PageParser(HTMLParser):
    def __init__(self, page: Page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self._script_type: str | None = None
        self._in_style = False
        self._math_depth = 0  # > 0 while inside an element with class "math"
        self._math_stack: list[bool] = []
        self._math_text: list[str] = []
        self._mjx_depth = 0  # > 0 while inside an <mjx-container> (typeset math)
        self._math_parts: set[str] = set()  # what the current math element holds
        self._output_stack: list[bool] = []  # per open element: is it a cell's output?
        self._streams: list[int] = []  # stdout boxes in each open cell output
        self._sections: list[str] = []  # ids of the open <section>s, innermost last

    # -- markup
    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        page = self.page
        for attr in LOADING_ATTRS.get(tag, ()):
            if attr in attrs:
                urls = srcset_urls(attrs[attr]) if attr == "srcset" else [attrs[attr]]
                page.loads += [Load(tag, attr, url) for url in urls]
        if tag == "link" and attrs.get("href"):
            rels = set(attrs.get("rel", "").lower().split())
            if not rels or not rels <= NAVIGATION_RELS:
                page.loads.append(Load("link", "href", attrs["href"]))
        if tag == "script":
            self._script_type = attrs.get("type", "").lower() or "text/javascript"
            if attrs.get("src"):
                page.scripts.append(attrs["src"])
                self._script_type = None
            # Any other attribute holding an address is a base the script loads from
            # (e.g. the widget manager's data-jupyter-widgets-cdn).
            for name, value in attrs.items():
                if name != "src" and is_external(value):
                    page.loads.append(Load("script", name, value))
            if self._script_type == WIDGET_STATE:
                page.has_widget_state = True
            if self._script_type == "application/vnd.jupyter.widget-view+json":
                page.widget_views += 1
        if tag == "style":
            self._in_style = True
        if attrs.get("id"):
            page.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            page.ids.add(attrs["name"])
        if tag == "a" and "href" in attrs:
            page.links.append(attrs["href"])
        if tag == "div" and "animation" in attrs.get("class", "").split():
            page.animations += 1
        if "style" in attrs:
            page.loads += [Load(tag, "style", url) for url in css_urls(attrs["style"])]
        if tag in ("img", "br", "hr", "meta", "link", "input", "source", "track", "embed"):
            return  # void elements never close, so do not track their classes
        if self._math_depth:
            if tag == "mjx-container":
                self._mjx_depth += 1
            if self._mjx_depth and tag in ("svg", "mjx-assistive-mml"):
                self._math_parts.add(tag)
            if "data-mjx-error" in attrs:
                page.math_errors.append(attrs["data-mjx-error"])
        classes = attrs.get("class", "").split()
        if tag == "section":
            self._sections.append(attrs.get("id", ""))
        is_output = "cell_output" in classes
        self._output_stack.append(is_output)
        if is_output:
            self._streams.append(0)
        if self._streams and {"output", "stream"} <= set(classes):
            self._streams[-1] += 1
        is_math = "math" in classes
        self._math_stack.append(is_math)
        if is_math:
            if self._math_depth == 0:
                self._math_text = []
                self._math_parts = set()
                if not any(name.startswith("output") for name in classes):
                    page.prose_math += 1
            self._math_depth += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_type = None
        if tag == "style":
            self._in_style = False
        if tag in ("img", "br", "hr", "meta", "link", "input", "source", "track", "embed"):
            return
        if self._mjx_depth and tag == "mjx-container":
            self._mjx_depth -= 1
        if self._output_stack and self._output_stack.pop():
            streams = self._streams.pop()
            if streams > 1:
                where = next((id_ for id_ in reversed(self._sections) if id_), "")
                self.page.split_streams.append(f"#{where}: {streams} boxes")
        if tag == "section" and self._sections:
            self._sections.pop()
        if self._math_stack and self._math_stack.pop():
            self._math_depth -= 1
            if self._math_depth == 0:
                self.page.math_texts.append("".join(self._math_text))
                if {"svg", "mjx-assistive-mml"} <= self._math_parts:
                    self.page.math_typeset += 1

    def handle_data(self, data):
        if self._in_style:
            self.page.loads += [Load("style", "url", url) for url in css_urls(data)]
        if self._script_type and self._script_type not in DATA_SCRIPT_TYPES:
            self.page.inline_script_urls += INLINE_URL.findall(data)
        if self._math_depth and not self._mjx_depth:
            self._math_text.append(data)


def parse_page(path: Path) -> Page:
    page = Page(path.relative_to(HTML_DIR))
    parser = _PageParser(page)
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return page


def built_pages() -> list[Path]:
    """Every page of the site (not the theme's template fragments kept in _static/)."""
    return sorted(
        path
        for path in HTML_DIR.rglob("*.html")
        if path.relative_to(HTML_DIR).parts[0] not in ("_static", "_sources", "vendor")
    )


def toc_pages() -> dict[Path, Path]:
    """Each page of _toc.yml: its source file -> its built HTML file (relative paths)."""
    return {src: src.with_suffix(".html") for src in bookinfo.toc_sources(ROOT)}


def source_has_math(source: Path) -> bool:
    """Whether a page's Markdown (or a notebook's markdown cells) contains TeX math."""
    text = (ROOT / source).read_text(encoding="utf-8")
    if source.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        text = "\n".join(
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in cells
            if cell["cell_type"] == "markdown"
        )
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # not inside code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    return bool(re.search(r"\$\$.+?\$\$|\$[^\s$][^$\n]*\$|\\begin\{", text, flags=re.DOTALL))


# ----------------------------------------------------------------- book configuration


def book_config() -> dict:
    """The book's _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")) or {}


def site_base_url() -> str | None:
    """The address the site is published at (html.baseurl), when _config.yml gives one."""
    base = (book_config().get("html") or {}).get("baseurl") or ""
    return base.rstrip("/") + "/" if base else None


def colab_launch_url(source: Path) -> str:
    """The Colab launch address of a notebook page, derived from _config.yml alone:
    launch_buttons.colab_url + /github/<owner>/<repo>/blob/<branch>/<path_to_book>/<source>.
    """
    config = book_config()
    repository = config.get("repository") or {}
    url = urlsplit(repository["url"])
    assert url.netloc == "github.com", f"repository.url is not on github.com: {url.geturl()}"
    owner_repo = url.path.strip("/").removesuffix(".git")
    branch = repository.get("branch") or "main"
    in_repo = posixpath.join(repository.get("path_to_book") or "", source.as_posix())
    colab = ((config.get("launch_buttons") or {}).get("colab_url") or "").rstrip("/")
    assert colab, "_config.yml sets no launch_buttons.colab_url"
    return f"{colab}/github/{owner_repo}/blob/{branch}/{posixpath.normpath(in_repo)}"


# ----------------------------------------------------------------- internal links


def internal_link(page: Page, href: str, base: str | None = None) -> tuple[Path, str] | None:
    """(file, fragment) that a link on this page leads to inside the site; None when the
    link leaves the site (another host, mailto:, ...).  A link that climbs out of the site
    directory gives the path it names (which then does not exist)."""
    href = href.strip()
    if not href or NON_HTTP.match(href):
        return None
    if is_external(href):
        if not base or not href.startswith(base):
            return None
        href = "/" + href[len(base) :]
    parts = urlsplit(href)
    fragment = unquote(parts.fragment)
    if not parts.path:  # "#anchor" or "?query#anchor": this page
        return HTML_DIR / page.path, fragment
    target = unquote(parts.path)
    if target.startswith("/"):
        joined = target.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(page.path.as_posix()), target)
    normal = posixpath.normpath(joined) if joined else "."
    path = HTML_DIR / normal
    if target.endswith("/") or (path.is_dir() and not normal.startswith("..")):
        path = path / "index.html"
    return path, fragment
