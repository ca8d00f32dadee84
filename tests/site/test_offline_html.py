"""The built website must work with no network: it serves every script, stylesheet, font
and image itself, typesets math with its own copy of MathJax, and renders widgets with its
own copy of the ipywidgets HTML manager.

Run after `jupyter-book build` (`make test` does); these tests fail when there is no build.
Links to other sites (<a href>) are fine: they are followed only when clicked.
"""

from __future__ import annotations

import pytest
from sitecheck import (
    HTML_DIR,
    MATH_DELIMITERS,
    built_pages,
    css_urls,
    is_external,
    parse_page,
    source_has_math,
    toc_pages,
)

VENDOR = HTML_DIR / "vendor"
MATHJAX_SCRIPT = r"(^|/)vendor/mathjax/tex-[a-z-]+\.js(\?|$)"
REQUIRE_SCRIPT = r"(^|/)vendor/require\.js(\?|$)"
WIDGET_SCRIPT = r"(^|/)vendor/jupyter-widgets/embed-amd\.js(\?|$)"


@pytest.fixture(scope="module")
def pages():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built site at {HTML_DIR} (run `make book` first)", pytrace=False)
    return {page.path: page for page in map(parse_page, built_pages())}


def test_site_is_built():
    assert (HTML_DIR / "index.html").is_file(), f"{HTML_DIR}/index.html is missing: run make book"


def test_every_toc_page_is_built(pages):
    missing = [str(html) for html in toc_pages().values() if html not in pages]
    assert not missing, f"pages of _toc.yml missing from the build: {missing}"


def test_no_page_loads_from_another_host(pages):
    external = [
        f"{path}: {load}"
        for path, page in pages.items()
        for load in page.loads
        if is_external(load.url)
    ]
    assert not external, "pages load from other hosts:\n" + "\n".join(external)


def test_no_inline_script_names_another_host(pages):
    found = [f"{path}: {url}" for path, page in pages.items() for url in page.inline_script_urls]
    assert not found, "inline scripts refer to other hosts:\n" + "\n".join(found)


def test_no_stylesheet_loads_from_another_host():
    found = [
        f"{css.relative_to(HTML_DIR)}: {url}"
        for css in sorted(HTML_DIR.rglob("*.css"))
        for url in css_urls(css.read_text(encoding="utf-8", errors="replace"))
        if is_external(url)
    ]
    assert not found, "stylesheets load from other hosts:\n" + "\n".join(found)


def test_every_local_load_exists(pages):
    missing = []
    for path, page in pages.items():
        for load in page.loads:
            if is_external(load.url) or load.url.startswith(("data:", "#", "blob:")):
                continue
            target = page.resolve(load.url)
            if target is None or not target.is_file():
                missing.append(f"{path}: {load}")
    assert not missing, "pages load files that are not in the site:\n" + "\n".join(missing)


# ----------------------------------------------------------------- MathJax


def test_mathjax_is_vendored():
    assert (VENDOR / "mathjax" / "tex-mml-chtml.js").is_file()
    fonts = list((VENDOR / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert fonts, "MathJax's CHTML fonts are missing: math would render without them"
    assert (VENDOR / "mathjax" / "input" / "tex" / "extensions").is_dir(), (
        "MathJax's TeX extensions are missing: \\require and autoloaded macros would fail"
    )


def test_pages_with_math_load_local_mathjax(pages):
    with_math = [page for page in pages.values() if page.math_texts]
    assert with_math, "no built page contains math"
    for page in with_math:
        scripts = page.script_files(MATHJAX_SCRIPT)
        assert len(scripts) == 1, f"{page.path} has math but loads MathJax {len(scripts)} times"
        target = page.resolve(scripts[0])
        assert target is not None and target.is_file(), (
            f"{page.path} loads MathJax from {scripts[0]}, which is not in the site"
        )


@pytest.mark.parametrize("source", sorted(toc_pages()), ids=str)
def test_math_in_sources_becomes_math_markup(pages, source):
    if not source_has_math(source):
        pytest.skip(f"{source} has no math")
    page = pages[toc_pages()[source]]
    assert page.prose_math, f"{source} has TeX math, but {page.path} has no math markup for it"
    plain = [text for text in page.math_texts if not any(d in text for d in MATH_DELIMITERS)]
    assert not plain, f"{page.path}: math elements without TeX delimiters: {plain[:3]}"
    assert page.script_files(MATHJAX_SCRIPT), f"{page.path} has math but does not load MathJax"


# ----------------------------------------------------------------- widgets


def test_widget_manager_is_vendored():
    assert (VENDOR / "require.js").is_file()
    assert (VENDOR / "jupyter-widgets" / "embed-amd.js").is_file()


def test_pages_with_widgets_load_local_widget_manager(pages):
    for page in pages.values():
        if not (page.has_widget_state or page.widget_views):
            continue
        requires = page.script_files(REQUIRE_SCRIPT)
        managers = page.script_files(WIDGET_SCRIPT)
        assert requires and managers, f"{page.path} has widgets but no local widget manager"
        for src in requires + managers:
            target = page.resolve(src)
            assert target is not None and target.is_file(), f"{page.path}: {src} is missing"
        assert page.scripts.index(requires[0]) < page.scripts.index(managers[0]), (
            f"{page.path}: require.js must load before the widget manager"
        )
