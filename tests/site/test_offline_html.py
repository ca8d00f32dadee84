"""The built website must work with no network: it serves every script, stylesheet, font
and image itself, its math is typeset when the book is built (SVG with a MathML copy for
screen readers, by site/mathjax_svg.cjs: no page loads MathJax), and it renders widgets
with its own copy of the ipywidgets HTML manager.

It also checks, on the markup alone: that what a cell prints shows as one block; that every
chapter has a Colab launch button for its own notebook in the repository named in
_config.yml; and that every link inside the site (<a href>, relative or to html.baseurl)
names a file of the site and, with a #fragment, an id in that file.

Run after `jupyter-book build` (`make test` does); these tests fail when there is no build.
Links to other sites (<a href>) are fine: they are followed only when clicked.
"""

from __future__ import annotations

import re

import pytest
from sitecheck import (
    HTML_DIR,
    MATH_DELIMITERS,
    built_pages,
    colab_launch_url,
    css_urls,
    internal_link,
    is_external,
    parse_page,
    site_base_url,
    source_has_math,
    toc_pages,
)

VENDOR = HTML_DIR / "vendor"
# MathJax's browser components (tex-mml-chtml.js, tex-svg.js, ...), from anywhere
MATHJAX_SCRIPT = r"(^|/)(mathjax|tex-[a-z-]+|mml-[a-z-]+)\.js(\?|$)"
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


# ----------------------------------------------------------------- math


def test_math_is_typeset_at_build_time(pages):
    """Every formula of every page is typeset in the built HTML (SVG plus the MathML that
    screen readers read), without a TeX error, and no page loads MathJax to do it."""
    with_math = [page for page in pages.values() if page.math_texts]
    assert with_math, "no built page contains math"
    problems = []
    for page in pages.values():
        scripts = page.script_files(MATHJAX_SCRIPT)
        if scripts:
            problems.append(f"{page.path} loads MathJax in the browser: {scripts}")
        if page.math_typeset < len(page.math_texts):
            problems.append(
                f"{page.path}: {page.math_typeset} of {len(page.math_texts)} formulas typeset"
            )
        raw = [text for text in page.math_texts if any(d in text for d in MATH_DELIMITERS)]
        problems += [f"{page.path}: TeX left as text: {text.strip()[:60]!r}" for text in raw[:3]]
        problems += [f"{page.path}: TeX error: {error}" for error in page.math_errors[:3]]
    assert not problems, "\n".join(problems)


def test_math_glyphs_are_on_the_page(pages):
    """The SVG of an equation draws its glyphs by reference (<use href="#MJX-...">) to one
    definition each at the top of the page: every reference must find its definition."""
    missing = [
        f"{path}: {load}"
        for path, page in pages.items()
        for load in page.loads
        if load.tag == "use" and load.url.startswith("#") and load.url[1:] not in page.ids
    ]
    assert not missing, "glyphs referenced but not defined:\n" + "\n".join(missing[:20])


def test_formulas_are_drawn_in_one_group(pages):
    """site/mathjax_svg.cjs draws each formula's glyphs and rules in one group (MathJax
    nests a group per MathML node: about 1,000 elements more on a chapter); it keeps the
    groups only of a formula that holds something else (a character drawn as <text>, a
    stretched delimiter's nested <svg>, a link, a colour)."""
    reason = re.compile(r"<(?:text|svg|a)\b|<g\b[^>]*\b(?:fill|stroke|class|style)=")
    nested, drawings = [], 0
    for path in pages:
        text = (HTML_DIR / path).read_text(encoding="utf-8")
        for drawing in re.findall(r"<mjx-container\b.*?<svg\b[^>]*>(.*?)</svg>", text):
            drawings += 1
            if drawing.count("<g") != 1 and not reason.search(drawing.split(">", 1)[1]):
                nested.append(f"{path}: {drawing[:120]}")
    assert drawings > 1000, f"only {drawings} formulas found"
    assert not nested, f"{len(nested)} formulas drawn in nested groups:\n" + "\n".join(nested[:5])


@pytest.mark.parametrize("source", sorted(toc_pages()), ids=str)
def test_math_in_sources_becomes_math_markup(pages, source):
    if not source_has_math(source):
        pytest.skip(f"{source} has no math")
    html = toc_pages()[source]
    assert html in pages, f"{source} is in _toc.yml but {html} is not built (run make book)"
    page = pages[html]
    assert page.prose_math, f"{source} has TeX math, but {page.path} has no math markup for it"
    assert page.math_typeset == len(page.math_texts), (
        f"{page.path}: {page.math_typeset} of {len(page.math_texts)} formulas typeset"
    )


def test_slider_frames_are_files_fetched_when_shown(pages):
    """A kernel-free slider's frames are files of _images/frames/ (site/dae_site.py), not
    base64 in the page (most of a chapter's bytes), and none is fetched before it is shown."""
    inline, eager = [], []
    for path, page in pages.items():
        if not page.animations:
            continue
        text = (HTML_DIR / path).read_text(encoding="utf-8")
        if re.search(r'frames\[\d+\] = "data:', text):
            inline.append(str(path))
        if "this.frames[i] = new Image();" in text:
            eager.append(str(path))
    assert not inline, f"slider frames inlined as base64: {inline}"
    assert not eager, f"sliders that fetch every frame as the page opens: {eager}"


def test_printed_output_is_one_block(pages):
    """What a cell prints shows as one block, not cut into a box per burst of output
    (a table printed row by row, with a computation between rows, would fall apart)."""
    split = [f"{path} {where}" for path, page in pages.items() for where in page.split_streams]
    ok = not split
    assert ok, (
        "cells whose printed output is cut into several boxes (set nb_merge_streams: "
        "true in _config.yml's sphinx.config):" + "".join(f"\n  {item}" for item in split)
    )


# ----------------------------------------------------------------- widgets


def test_widget_manager_is_vendored():
    assert (VENDOR / "require.js").is_file()
    assert (VENDOR / "jupyter-widgets" / "embed-amd.js").is_file()


def test_pages_with_widgets_load_local_widget_manager(pages):
    # Only a widget view needs the manager; stored widget state alone (a notebook whose
    # widget outputs the website hides) renders nothing, and the manager is 3.6 MB.
    for page in pages.values():
        if not page.widget_views:
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


# ----------------------------------------------------------------- launch buttons


CHAPTERS = sorted(src for src in toc_pages() if src.parts[0] == "chapters")


def test_toc_has_chapters():
    assert CHAPTERS, "_toc.yml lists no page under chapters/"


@pytest.mark.parametrize("source", CHAPTERS, ids=str)
def test_chapter_has_colab_launch_button(pages, source):
    """The launch button opens this very notebook of the repository named in _config.yml."""
    assert source.suffix == ".ipynb", f"{source}: a chapter must be a notebook to launch it"
    expected = colab_launch_url(source)
    html = toc_pages()[source]
    assert html in pages, f"{source} is in _toc.yml but {html} is not built (run make book)"
    page = pages[html]
    launcher = expected.split("/github/")[0] + "/github/"
    colab = [href for href in page.links if href.startswith(launcher)]
    found = expected in page.links
    assert found, f"{page.path} has no Colab launch link to {expected}; its Colab links: {colab}"
    # besides the chapter, its exercise notebook (tests/site/test_exercise_links.py)
    allowed = {expected, colab_launch_url(source.parent.parent / "exercises" / source.name)}
    assert set(colab) <= allowed, f"{page.path} launches other notebooks in Colab: {colab}"


# ----------------------------------------------------------------- internal links


def test_internal_links_resolve(pages):
    """Every <a href> that stays inside the site names a file of the site, and its
    #fragment an id in that file (Sphinx's -W only sees the links it generates itself)."""
    base = site_base_url()
    ids = {HTML_DIR / path: page.ids for path, page in pages.items()}  # of each target
    broken, checked = [], 0
    for path, page in pages.items():
        for href in page.links:
            link = internal_link(page, href, base)
            if link is None:
                continue
            checked += 1
            target, fragment = link
            inside = HTML_DIR in target.resolve().parents
            if not inside:
                broken.append(f"{path}: <a href={href!r}>: points outside the site")
                continue
            if not target.is_file():
                where = target.relative_to(HTML_DIR)
                broken.append(f"{path}: <a href={href!r}>: no file {where} in the site")
                continue
            if not fragment or fragment == "top" or target.suffix != ".html":
                continue
            if target not in ids:  # an HTML file that is not a page (a theme fragment)
                ids[target] = parse_page(target).ids
            if fragment not in ids[target]:
                broken.append(f"{path}: <a href={href!r}>: no id {fragment!r} in {target.name}")
    assert checked, "no internal link found in the site"
    ok = not broken
    assert ok, f"{len(broken)} of {checked} internal links are broken:\n" + "\n".join(broken)


# ----------------------------------------------------------------- a lighter, accessible site
# (issue 16; the browser checks are in test_browser.py, the extension in site/dae_site.py)


def test_no_page_loads_the_theme_fontawesome_js(pages):
    """The theme's 1.45 MB "SVG + JS" icons duplicate the icon font its stylesheet has."""
    found = [f"{path}" for path, page in pages.items() if page.script_files(r"fontawesome\.js")]
    assert not found, "pages load fontawesome.js:\n" + "\n".join(found)


def test_search_scripts_only_on_the_search_page(pages):
    """With search-as-you-type off, the search button opens a form that submits to
    search.html: only that page needs the search index and Sphinx's search scripts."""
    found = [
        f"{path}: {src}"
        for path, page in pages.items()
        if path.name != "search.html"
        for src in page.script_files(r"(searchindex|searchtools|language_data)\.js")
    ]
    assert not found, "pages that load search scripts:\n" + "\n".join(found)


def test_icon_fonts_are_cut_to_the_icons_used():
    for name in ("dae-fa-solid-900.woff", "dae-fa-regular-400.woff", "dae-fa-brands-400.woff"):
        font = HTML_DIR / "_static" / name
        assert font.is_file(), f"{font} is missing (site/dae_site.py writes it after the build)"
        assert font.stat().st_size < 30_000, f"{font} is {font.stat().st_size} bytes"


def test_long_pages_skip_the_sections_far_from_the_screen(pages):
    """Every page of _toc.yml loads site/static/dae.js (the scrolling boxes' tab stops),
    its stylesheet skips the article's second-level sections while they are far from the
    screen, and each such section has a placeholder height from the build; the theme's
    own tab-stop measuring, which would lay out every skipped section, is switched off."""
    css = (HTML_DIR / "_static" / "dae.css").read_text(encoding="utf-8")
    assert re.search(r"\.bd-article > section > section \{\s*content-visibility: auto;", css), (
        "dae.css does not skip sections far from the screen"
    )
    theme = (HTML_DIR / "_static" / "scripts" / "pydata-sphinx-theme.js").read_text()
    assert "e.tabIndex=e.scrollWidth>e.clientWidth" not in theme, (
        "the theme's tab-stop measuring is still on (site/dae_site.py theme_tab_stops_off)"
    )
    problems = []
    for html in sorted(toc_pages().values()):
        page = pages[html]
        if not page.script_files(r"(^|/)_static/dae\.js"):
            problems.append(f"{html}: does not load dae.js")
        text = (HTML_DIR / html).read_text(encoding="utf-8")
        article = text[text.find('<article class="bd-article"') :]
        for tag in re.findall(r"<section\b[^>]*>", article):
            sized = "contain-intrinsic-size: auto" in tag
            if 'style="' in tag and not sized:
                problems.append(f"{html}: a section with a style but no placeholder: {tag}")
        if "chapters/" in str(html) and "contain-intrinsic-size: auto" not in article:
            problems.append(f"{html}: no section has a placeholder height")
    assert not problems, "\n".join(problems)


def _head(path) -> str:
    text = (HTML_DIR / path).read_text(encoding="utf-8")
    return text[: text.find("</head>")]


@pytest.mark.parametrize("html", sorted(toc_pages().values()), ids=str)
def test_page_has_description_and_favicon(html):
    head = _head(html)
    tags = [tag for tag in re.findall(r"<meta\b[^>]*>", head) if 'name="description"' in tag]
    assert len(tags) == 1, f"{html} has {len(tags)} <meta name=description> tags"
    text = re.search(r'content="([^"]*)"', tags[0]).group(1)
    assert 40 <= len(text) <= 200, f"{html}: description of {len(text)} characters: {text!r}"
    assert "\\" not in text, f"{html}: TeX in the description: {text!r}"
    icon = re.search(r'<link rel="icon" href="([^"]+)"', head)
    assert icon, f"{html} declares no favicon"
    target = (HTML_DIR / html).parent / icon.group(1)
    assert target.is_file(), f"{html}: favicon {icon.group(1)} is not in the site"


def test_markup_fixes_of_the_extensions(pages):
    """myst-nb's folded-code toggles: no aria-label that differs from the visible text;
    the bibliography: no deprecated ARIA role."""
    found = []
    for path in pages:
        text = (HTML_DIR / path).read_text(encoding="utf-8")
        if re.search(r"<summary aria-label=", text):
            found.append(f"{path}: <summary aria-label=...> on a folded cell")
        if 'role="doc-biblioentry"' in text:
            found.append(f"{path}: role=doc-biblioentry")
    assert not found, "\n".join(found)
