"""Unit tests of site/dae_site.py's page rewrites for long pages (issue 16): the boxes
that can scroll on a phone become tab stops at build time, the sections the browser may
skip get placeholder heights, and the theme's own tab-stop measuring is switched off.
The browser checks of the same (every overflowing box reachable, every placeholder tall
enough) are in tests/site/test_browser.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location("dae_site", ROOT / "site" / "dae_site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dae_site", module)
    spec.loader.exec_module(module)
    return module


site = _load()

LONG = "x = torch.linspace(-3.0, 3.0, steps=101)"  # 41 characters
SHORT = "x = 1"


def test_code_columns_counts_text_not_markup():
    code = '<span></span>x <span class="o">=</span> &quot;ab&quot;\nlonger line here'
    assert site.code_columns(code) == len("longer line here")
    assert site.code_columns('<span class="o">&lt;&lt;</span>') == 2


def test_a_code_block_too_wide_for_a_phone_becomes_a_tab_stop():
    page = f"<pre>{LONG}</pre><pre>{SHORT}</pre>"
    text, marked = site.mark_wide_boxes(page)
    assert marked == 1
    assert text == f'<pre tabindex="0" data-dae-wide="">{LONG}</pre><pre>{SHORT}</pre>'


def test_the_limit_is_the_phone_column():
    at = "x" * site.PHONE_CODE_COLUMNS
    assert site.mark_wide_boxes(f"<pre>{at}</pre>")[1] == 0
    assert site.mark_wide_boxes(f"<pre>{at}x</pre>")[1] == 1


def test_a_box_with_its_own_tab_stop_is_left_alone():
    page = f'<pre id="c" tabindex="-1">{LONG}</pre>'
    assert site.mark_wide_boxes(page) == (page, 0)


def _equation(width_ex: float) -> str:
    return (
        '<div class="math notranslate nohighlight pst-scrollable-table-container">'
        '<mjx-container class="MathJax" jax="SVG" display="true">'
        f'<svg style="vertical-align: -1ex;" width="{width_ex}ex" height="3ex"></svg>'
        "</mjx-container></div>"
    )


def test_only_equations_wider_than_a_phone_become_tab_stops():
    wide, narrow = _equation(site.PHONE_MATH_EX + 0.5), _equation(site.PHONE_MATH_EX - 0.5)
    text, marked = site.mark_wide_boxes(wide + narrow)
    assert marked == 1
    assert text.count('tabindex="0" data-dae-wide=""') == 1
    assert text.index("data-dae-wide") < text.index(f'width="{site.PHONE_MATH_EX + 0.5}ex"')


def test_tables_become_tab_stops():
    page = '<div class="pst-scrollable-table-container"><table class="table"></table></div>'
    text, marked = site.mark_wide_boxes(page)
    assert marked == 1
    assert text.startswith('<div class="pst-scrollable-table-container" tabindex="0"')


def _page(*sections: str) -> str:
    inner = "".join(f'<section id="s{i}">{body}</section>' for i, body in enumerate(sections))
    return f'<article class="bd-article"><section id="top"><h1>T</h1>{inner}</section></article>'


def test_second_level_sections_get_placeholders():
    text, sized = site.size_placeholders(_page("<h2>A</h2><p>a</p>", "<h2>B</h2><p>b</p>"))
    assert sized == 2
    assert text.count("contain-intrinsic-size: auto") == 2
    assert '<section id="top">' in text  # the page's own section is not skipped


def test_third_level_sections_are_inside_their_placeholder():
    nested = '<h2>A</h2><section id="deep"><h3>B</h3><p>b</p></section>'
    text, sized = site.size_placeholders(_page(nested))
    assert sized == 1
    assert '<section id="deep">' in text


def test_pages_without_an_article_are_unchanged():
    page = "<section><section><p>x</p></section></section>"
    assert site.size_placeholders(page) == (page, 0)


def test_sizing_twice_changes_nothing():
    once, _ = site.size_placeholders(_page("<h2>A</h2><p>a</p>"))
    assert site.size_placeholders(once)[0] == once


@pytest.mark.parametrize(
    "more",
    [
        "<p>" + "word " * 200 + "</p>",
        "<pre>" + "line\n" * 40 + "</pre>",
        '<img src="f.png" width="700" height="500" />',
        _equation(10),
    ],
    ids=["prose", "code", "figure", "equation"],
)
def test_placeholders_grow_with_what_the_section_holds(more):
    base = "<h2>A</h2><p>a short paragraph</p>"
    assert site.placeholder_height(base + more) > site.placeholder_height(base)


def test_a_figure_counts_its_full_height():
    base = "<h2>A</h2>"
    figure = '<img src="f.png" width="700" height="500" />'
    assert site.placeholder_height(base + figure) - site.placeholder_height(base) >= 500


def test_the_theme_tab_stop_measuring_is_switched_off(tmp_path):
    script = tmp_path / site.THEME_JS
    script.parent.mkdir(parents=True)
    code = f"function I(){{document.querySelectorAll(s).forEach(e=>{{{site.THEME_TAB_STOPS}}})}}"
    script.write_text(code)
    assert site.theme_tab_stops_off(tmp_path)
    patched = script.read_text()
    assert site.THEME_TAB_STOPS not in patched and site.THEME_TAB_STOPS_OFF in patched
    assert site.theme_tab_stops_off(tmp_path)  # a second build leaves it so
    assert script.read_text() == patched


def test_a_changed_theme_script_stops_the_build(tmp_path):
    from sphinx.errors import ExtensionError

    script = tmp_path / site.THEME_JS
    script.parent.mkdir(parents=True)
    script.write_text("function I(){/* a new release measures differently */}")
    with pytest.raises(ExtensionError, match="tab-stop"):
        site.theme_tab_stops_off(tmp_path)


def test_no_theme_script_no_patch(tmp_path):
    assert site.theme_tab_stops_off(tmp_path) is False


def test_element_end_counts_nesting():
    text = "<div a><div b></div><p>x</p></div><div c></div>"
    assert text[: site.element_end(text, 0)] == "<div a><div b></div><p>x</p></div>"
    assert site.element_end("<div>open", 0) == len("<div>open")


def test_closed_folds_count_as_their_title():
    code = "<pre>" + "line\n" * 50 + "</pre>"
    details = (
        f'<details class="admonition hide above-input"><summary>Show</summary>{code}</details>'
    )
    toggle = (
        '<div class="dropdown admonition" id="toggle-1"><p class="admonition-title">Deep dive</p>'
        f"<div><p>inner</p>{code}</div></div>"
    )
    assert site.folded(details) == "<summary>Show</summary>"
    assert site.folded(toggle) == '<p class="admonition-title">Deep dive</p>'
    assert site.folded("<p>a</p>" + toggle + "<p>b</p>").endswith("</p><p>b</p>")
    opened = details.replace("<details ", "<details open ")
    assert site.folded(opened) == opened
    assert site.placeholder_height(details) < site.placeholder_height(code)


def _typeset(tmp_path, *tex: str) -> str:
    if not (ROOT / "node_modules" / "mathjax-full").is_dir():
        pytest.skip("mathjax-full is not installed (make node)")
    spans = "".join(
        f'<p><span class="math notranslate nohighlight">\\({t}\\)</span></p>' for t in tex
    )
    page = tmp_path / "page.html"
    page.write_text(f"<html><head></head><body>{spans}</body></html>", encoding="utf-8")
    done = site.typeset_math(tmp_path, [page])
    assert done["formulas"] == len(tex) and not done["errors"], done
    return page.read_text(encoding="utf-8")


def _drawings(text: str) -> list[str]:
    import re

    return re.findall(r"<mjx-container\b.*?<svg\b[^>]*>(.*?)</svg>", text)


def test_formulas_are_drawn_in_one_group(tmp_path):
    """MathJax nests a group per MathML node; the build keeps one per formula, each glyph
    and rule carrying its composed transform (a fraction: its bar a <rect>)."""
    import re

    drawing = _drawings(_typeset(tmp_path, r"\frac{a_i}{\sqrt{2}} + \sum_{k=1}^{n} x^2"))[0]
    assert drawing.count("<g") == 1 and drawing.startswith('<g stroke="currentColor"')
    assert re.search(
        r'<use xlink:href="#MJX-[^"]+" transform="translate\([-\d.]+,[-\d.]+\)', drawing
    )
    assert "<rect" in drawing and "data-mml-node" not in drawing


def test_a_coloured_formula_keeps_its_groups(tmp_path):
    drawing = _drawings(_typeset(tmp_path, r"x + \color{red}{y}"))[0]
    assert drawing.count("<g") > 1 and 'fill="red"' in drawing
