"""Sphinx extension: the book's site for every reader (accessibility, weight, search engines).

Loaded from _config.yml (``sphinx.local_extensions``). It

* typesets every equation at build time (``html_math_renderer: dae_svg`` in _config.yml):
  Sphinx writes each formula's TeX in the markup of ``sphinx.ext.mathjax`` but loads no
  MathJax, and once the site is written ``site/mathjax_svg.cjs`` (MathJax 3 in Node,
  ``mathjax-full`` pinned in package.json) replaces the TeX with SVG that draws in the
  text's colour, beside a hidden MathML copy that screen readers read; so no page runs
  MathJax in the browser (that took seconds on a phone for a chapter's few hundred
  formulas) and equations are not tab stops;
* adds the book's stylesheet ``site/static/dae.css`` to every page: visible keyboard focus
  on the header buttons, menus and slider controls; pages that reflow down to 320 CSS
  pixels (long code identifiers and API signatures wrap); kernel-free sliders that fit a
  phone; print styles (code wraps, slider controls are not printed);
* defers the extensions' scripts in the page head (they ran before the page could be
  drawn) and drops notebooks' widget state, which no widget manager on the site reads;
* drops scripts that no page needs: the theme's ``fontawesome.js`` (1.45 MB, the
  "SVG + JS" edition of the icons that the theme's stylesheet already draws with its icon
  font), and, unless the theme's search-as-you-type is on, the search index and search
  scripts on every page but the search page (the search button opens a form that submits
  to search.html, which loads them itself);
* lets a wide display equation scroll inside its own box (so that no page is wider than a
  phone), of class ``pst-scrollable-table-container`` like the theme's tables;
* makes long pages light to open: ``dae.css`` lets the browser skip the article's
  sections far from the screen (``content-visibility: auto``), each with a placeholder
  height estimated at build time (``size_placeholders``); a box that scrolls (code block,
  output, wide equation, table) is a keyboard tab stop while it overflows, as the theme
  made it, but without the theme's measuring of every box on load (which would lay out
  the skipped sections; switched off in its script, ``theme_tab_stops_off``): the build
  makes each box that can overflow on a phone a tab stop (``mark_wide_boxes``) and
  ``site/static/dae.js`` corrects each box once the browser lays it out;
* gives every page a ``<meta name="description">``: the page's own ``html_meta``
  description (MyST front matter) if it has one, else its first paragraph of prose,
  shortened to about 160 characters;
* after the build, cuts the theme's icon fonts (0.3 MB, loaded by every page) down to the
  icons the site uses (a few kB, declared in dae.css after the theme's own) and drops the
  other icons' rules from the theme's stylesheet (a fifth of it), and stores the figures
  (``_images/*.png``) as palette PNGs of 256 colours where that is smaller;
* after the build, lightens each page's first visit (``lighter_page``): the frames of the
  kernel-free sliders, base64 in the page (most of a chapter's bytes), become files of
  ``_images/frames/`` that a slider fetches when it shows them; figures get their
  width and height (no layout shift) and load lazily; and in code blocks the highlighting
  spans that look exactly like plain text (names, punctuation: thousands per chapter) are
  replaced by their text, so that the browser has fewer elements to style and lay out;
* corrects two accessibility faults in the markup of extensions: myst-nb's hidden-code
  toggles (``<summary aria-label="Toggle hidden content">``, whose spoken name differed
  from its visible "Show code cell source": WCAG 2.5.3) lose the aria-label, and the
  bibliography's entries get the ARIA role ``listitem`` instead of the deprecated
  ``doc-biblioentry`` (their list, ``role="list"``, then holds only list items).

The templates in ``site/templates`` (``templates_path``) pass the theme's head through the
filter that drops the scripts; the math is typeset and the pages, fonts and figures are
rewritten in ``build-finished``; everything else happens in ``html-page-context``.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
DESCRIPTION_LENGTH = 160

_FONTAWESOME_JS = re.compile(
    r'\s*<script\b[^>]*\bsrc="[^"]*fontawesome\.js[^"]*"[^>]*>\s*</script>'
)
_SEARCH_JS = re.compile(
    r'\s*<script\b[^>]*\bsrc="[^"]*(?:searchtools\.js|language_data\.js|searchindex\.js)'
    r'[^"]*"[^>]*>\s*</script>'
)
_TOGGLE_SUMMARY = re.compile(r'<summary aria-label="Toggle hidden content">')
_BIBLIOENTRY = re.compile(r'(<div class="citation"[^>]*?) role="doc-biblioentry"')
_DISPLAY_MATH = re.compile(r'<div class="(math(?: [^"]*)?)"')


def drop_scripts(markup: str, keep_search: bool = False) -> str:
    """``markup`` without the theme's fontawesome.js and (unless ``keep_search``) without
    Sphinx's search scripts. Used as a Jinja filter by site/templates/layout.html."""
    from markupsafe import Markup

    text = _FONTAWESOME_JS.sub("", str(markup))
    if not keep_search:
        text = _SEARCH_JS.sub("", text)
    return Markup(text)


def fix_markup(body: str) -> str:
    """The page body with the extensions' ARIA faults corrected (see the module docstring)."""
    body = _TOGGLE_SUMMARY.sub("<summary>", body)
    body = _DISPLAY_MATH.sub(r'<div class="\1 pst-scrollable-table-container"', body)
    return _BIBLIOENTRY.sub(r'\1 role="listitem"', body)


def _in_prose(node: nodes.Node) -> bool:
    """Whether a paragraph is the page's own prose (not a note, a cell's output, a table,
    a sidebar, a toctree, a field list or a citation)."""
    skip = (
        nodes.Admonition,
        nodes.sidebar,
        nodes.table,
        nodes.citation,
        nodes.footnote,
        nodes.field_list,
        nodes.topic,
        nodes.system_message,
    )
    parent = node.parent
    while parent is not None:
        if isinstance(parent, skip):
            return False
        classes = parent.get("classes", []) if isinstance(parent, nodes.Element) else []
        if any(c.startswith(("cell_output", "output", "toctree")) for c in classes):
            return False
        parent = parent.parent
    return True


_GREEK = {
    name: chr(code)
    for name, code in zip(
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi "
        "rho varsigma sigma tau upsilon phi chi psi omega".split(),
        range(0x3B1, 0x3CA),
    )
}
_GREEK.update({"Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "Phi": "Φ", "varepsilon": "ε"})
_SYMBOLS = {"le": "≤", "ge": "≥", "leq": "≤", "geq": "≥", "ne": "≠", "neq": "≠", "to": "→",
            "infty": "∞", "cdot": "·", "times": "×", "approx": "≈", "in": "∈", "partial": "∂",
            "sum": "Σ", "nabla": "∇", "mid": "|", "ldots": "…", "dots": "…"}  # fmt: skip


def plain_math(tex: str) -> str:
    """TeX of inline math as plain text, good enough for a page description:
    ``\\operatorname{ReLU}(x) = \\max(0, x)`` becomes ``ReLU(x) = max(0, x)``."""
    text = re.sub(r"\\(?:operatorname|mathbf|mathrm|boldsymbol|mathcal|text|textbf|bm)\s*", "", tex)
    text = re.sub(
        r"\\([A-Za-z]+)",
        lambda m: _GREEK.get(m.group(1)) or _SYMBOLS.get(m.group(1)) or m.group(1),
        text,
    )
    text = re.sub(r"\\[,;:! ]", " ", text).replace("\\", "")
    text = text.replace("{", "").replace("}", "").replace("^", "").replace("_", "")
    return " ".join(text.split())


def _text(node: nodes.Node) -> str:
    if isinstance(node, nodes.math):
        return plain_math(node.astext())
    if isinstance(node, nodes.Text):
        return node.astext()
    return "".join(_text(child) for child in node.children)


def description(doctree: nodes.document | None, limit: int = DESCRIPTION_LENGTH) -> str:
    """The first paragraph of prose of a page, as plain text of at most ``limit``
    characters (cut at a word, with an ellipsis); "" when the page has none."""
    if doctree is None:
        return ""
    for paragraph in doctree.findall(nodes.paragraph):
        if not _in_prose(paragraph):
            continue
        text = " ".join(_text(paragraph).split())
        if len(text) < 40:  # a caption, a date or a lone link: not a description
            continue
        if len(text) > limit:
            text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
        return text
    return ""


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Must run before the inline scripts after it (they set DOCUMENTATION_OPTIONS's fields).
_KEEP_BLOCKING = ("documentation_options.js",)


def _lighter_scripts(app: Sphinx, context: dict) -> None:
    """Defer the extensions' scripts, and drop widget state that no widget manager reads.

    Sphinx writes the extensions' script files into the head without ``defer``: each one
    stops the browser from drawing the page until it has arrived and run. None of them
    needs to run before the page is parsed (they start on DOMContentLoaded, which waits for
    deferred scripts, run in order), so they are deferred; documentation_options.js stays,
    as the inline scripts after it write to the object it defines. Executed notebooks keep
    their widget state (tens of kB per chapter); with no widget manager on the site
    (``nb_ipywidgets_js`` empty) nothing reads it.
    """
    from sphinx.builders.html._assets import _JavaScript

    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    no_widgets = not (app.config["nb_ipywidgets_js"] if "nb_ipywidgets_js" in app.config else 1)
    kept = []
    for js in scripts:
        if not isinstance(js, _JavaScript):
            kept.append(js)
            continue
        attributes = dict(js.attributes)
        if no_widgets and attributes.get("type") == WIDGET_STATE:
            continue
        name = str(js.filename or "")
        blocking = not ({"defer", "async"} & attributes.keys())
        plain = attributes.get("type", "text/javascript") in ("text/javascript", "")
        if name.endswith(".js") and blocking and plain and not name.endswith(_KEEP_BLOCKING):
            attributes["defer"] = "defer"
            js = _JavaScript(js.filename, priority=js.priority, **attributes)
        kept.append(js)
    scripts[:] = kept


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree):
    _lighter_scripts(app, context)
    if "body" in context and isinstance(context["body"], str):
        context["body"] = fix_markup(context["body"])
    metatags = context.get("metatags", "") or ""
    if 'name="description"' not in metatags:
        text = description(doctree)
        if text:
            tag = f'<meta name="description" content="{html.escape(text, quote=True)}" />'
            context["metatags"] = (metatags + "\n" + tag).strip()


# ------------------------------------------------------------------ lighter files


ICON_FONTS = {  # the theme's TrueType files -> the subsets the book's stylesheet loads
    "fa-solid-900.ttf": "dae-fa-solid-900.woff",
    "fa-regular-400.ttf": "dae-fa-regular-400.woff",
    "fa-brands-400.ttf": "dae-fa-brands-400.woff",
}
_ICON_RULE = re.compile(r'((?:\.fa-[\w-]+:{1,2}before,?)+)\{content:"\\([0-9a-fA-F]{3,5})"\}')
_ICON_CLASS = re.compile(r"\bfa-[a-z0-9-]+")
_ESCAPE = re.compile(r"\\([ef][0-9a-fA-F]{3})")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def icon_codepoints(outdir: Path) -> set[int]:
    """The Font Awesome codepoints the built site can draw: those of every icon class named
    in its pages and scripts (the stylesheet maps class to codepoint), and every icon a
    stylesheet draws itself (admonitions, external links, ...)."""
    static = outdir / "_static"
    css = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in static.rglob("*.css"))
    mapping: dict[str, int] = {}
    for selectors, code in _ICON_RULE.findall(css):
        for name in re.findall(r"\.(fa-[\w-]+):", selectors):
            mapping[name] = int(code, 16)
    rest = _ICON_RULE.sub("", css)
    codes = {int(c, 16) for c in _ESCAPE.findall(rest)}
    codes |= {ord(c) for c in _PRIVATE_USE.findall(rest)}
    names: set[str] = set()
    for path in [*outdir.rglob("*.html"), *static.rglob("*.js")]:
        if path.name == "fontawesome.js":  # the unused "SVG + JS" edition names every icon
            continue
        names |= set(_ICON_CLASS.findall(path.read_text(encoding="utf-8", errors="replace")))
    codes |= {mapping[name] for name in names if name in mapping}
    return codes


def icon_names(outdir: Path) -> set[str]:
    """The Font Awesome classes (``fa-...``) named in the built pages and scripts."""
    names: set[str] = set()
    for path in [*outdir.rglob("*.html"), *(outdir / "_static").rglob("*.js")]:
        if path.name == "fontawesome.js":
            continue
        names |= set(_ICON_CLASS.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


THEME_CSS = "_static/styles/pydata-sphinx-theme.css"


def trim_icon_rules(outdir: Path) -> tuple[int, int]:
    """Drop from the theme's stylesheet (loaded, render-blocking, by every page) the rules
    that map the Font Awesome classes no page or script uses to their glyphs: about 2,500
    rules, a fifth of the file. Returns (bytes before, bytes after)."""
    path = outdir / THEME_CSS
    if not path.is_file():
        return 0, 0
    css = path.read_text(encoding="utf-8")
    used = icon_names(outdir)

    def keep(match: re.Match) -> str:
        selectors = match.group(1).rstrip(",").split(",")
        kept = [sel for sel in selectors if sel.split(":")[0].lstrip(".") in used]
        if not kept:
            return ""
        return ",".join(kept) + '{content:"\\' + match.group(2) + '"}'

    trimmed = _ICON_RULE.sub(keep, css)
    if trimmed != css:
        path.write_text(trimmed, encoding="utf-8")
    return len(css.encode()), len(trimmed.encode())


def subset_icon_fonts(outdir: Path) -> dict[str, int]:
    """Write the theme's icon fonts, cut down to the icons the site uses, as WOFF files in
    ``_static`` (site/static/dae.css declares them after the theme's own @font-face rules,
    so browsers fetch these few kB instead of the theme's 0.3 MB); returns their sizes."""
    import logging as std_logging

    import pydata_sphinx_theme
    from fontTools import subset

    std_logging.getLogger("fontTools").setLevel(std_logging.WARNING)  # not a line per table

    source = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
    webfonts = source / "static" / "vendor" / "fontawesome" / "webfonts"
    codes = icon_codepoints(outdir)
    sizes = {}
    for name, target in ICON_FONTS.items():
        options = subset.Options()
        options.flavor = "woff"  # zlib: WOFF2 would need the brotli module
        options.layout_features = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(webfonts / name), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(codes))
        subsetter.subset(font)
        path = outdir / "_static" / target
        subset.save_font(font, str(path), options)
        sizes[target] = path.stat().st_size
    return sizes


def palette_pngs(images: Path, colors: int = 256) -> tuple[int, int]:
    """Re-encode the figures in ``images`` (``_images/``) as palette PNGs of at most
    ``colors`` colours where that makes them smaller: a plot has few colours, and its
    antialiased edges need no more than 256. Returns (bytes before, bytes after)."""
    from PIL import Image

    before = after = 0
    for path in sorted(images.glob("*.png")):
        data = path.read_bytes()
        before += len(data)
        with Image.open(path) as image:
            image.load()
            if image.mode == "P":
                after += len(data)
                continue
            rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        quantized = flat.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=0)
        out = io.BytesIO()
        quantized.save(out, format="PNG", optimize=True)
        if out.tell() < len(data):
            path.write_bytes(out.getvalue())
            after += out.tell()
        else:
            after += len(data)
    return before, after


# ------------------------------------------------------------------ math at build time

MATH_RENDERER = "dae_svg"
MATHJAX_SVG = HERE / "mathjax_svg.cjs"
# Built files that are not pages (or not the book's): never typeset.
_NOT_PAGES = ("_static", "_sources", "_images", "vendor", "_downloads")


def typeset_math(outdir: Path, files: list[Path] | None = None) -> dict:
    """Typeset the TeX of the built pages as SVG + MathML (``site/mathjax_svg.cjs``, run
    once over all of them; pages already typeset are skipped). Returns {"pages": n,
    "formulas": n, "flattened": n (drawn in one group), "errors": [...]}; raises
    ExtensionError when Node or mathjax-full is missing."""
    if files is None:
        files = sorted(
            path
            for path in outdir.rglob("*.html")
            if path.relative_to(outdir).parts[0] not in _NOT_PAGES
        )
    node = shutil.which("node")
    if node is None:
        raise ExtensionError(
            "dae_site: Node.js is needed to typeset the math (site/mathjax_svg.cjs)"
        )
    done = {"pages": 0, "formulas": 0, "flattened": 0, "errors": []}
    if not files:
        return done
    run = subprocess.run(
        [node, str(MATHJAX_SVG), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):
        hint = (
            " (run `make node`: npm ci installs mathjax-full)"
            if "Cannot find module" in run.stderr
            else ""
        )
        raise ExtensionError(f"dae_site: site/mathjax_svg.cjs failed{hint}:\n{run.stderr[-2000:]}")
    for line in run.stdout.splitlines():
        result = json.loads(line)
        if result["formulas"]:
            done["pages"] += 1
            done["formulas"] += result["formulas"]
            done["flattened"] += result.get("flattened", 0)
        done["errors"] += [f"{result['file']}: {error}" for error in result["errors"]]
    return done


def _math_renderer(app: Sphinx) -> None:
    """The "dae_svg" math renderer: sphinx.ext.mathjax's markup (the TeX between \\( \\) or
    \\[ \\]), without MathJax's scripts (sphinx.ext.mathjax adds them only for its own
    renderer); build-finished typesets it."""
    from sphinx.ext import mathjax

    app.add_html_math_renderer(
        MATH_RENDERER,
        (mathjax.html_visit_math, None),
        (mathjax.html_visit_displaymath, None),
    )


# ------------------------------------------------------------------ images and sliders

FRAMES = "_images/frames"  # the kernel-free sliders' frames, one file each
_FRAME = re.compile(
    r'(frames\[\d+\] = ")data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=\s]+?)(")'
)
# matplotlib's jshtml Animation fetches and decodes every frame as soon as it is built.
_EAGER_FRAMES = re.compile(
    r"this\.frames\[i\] = new Image\(\);\s*this\.frames\[i\]\.src = frames\[i\];"
)
_LAZY_FRAMES = "this.frames[i] = {src: frames[i]};  /* dae_site: fetched when first shown */"
_IMG = re.compile(r"<img\b([^>]*?)\s*/?>")
_ATTR = re.compile(r'\s([a-zA-Z-]+)="([^"]*)"')

# Tab stops for the boxes that can scroll (site/static/dae.js): a box that can overflow on a
# 320 px phone gets tabindex="0" and data-dae-wide when the site is built. At 320 px in
# Chromium the narrowest code column (a solution inside an exercise) holds 21.9 characters
# and the narrowest equation box 24.5 ex; the limits below leave a margin, and the browser
# test checks that every box that overflows at 320 px was marked.
PHONE_CODE_COLUMNS = 20
PHONE_MATH_EX = 22.0
WIDE = ' tabindex="0" data-dae-wide=""'
_PRE = re.compile(r"(<pre\b[^>]*>)(.*?)(</pre>)", re.S)  # a code block: tag, code, end
_TAG = re.compile(r"<[^>]+>")
_DISPLAY_MATH_SVG = re.compile(
    r'(<div class="math [^"]*pst-scrollable-table-container"[^>]*)(>\s*<mjx-container\b[^>]*>'
    r'\s*<svg\b[^>]*?\swidth="([\d.]+)ex")'
)
_TABLE_BOX = re.compile(r'(<div class="pst-scrollable-table-container"[^>]*)(>\s*<table\b)')
# pydata-sphinx-theme's addTabStopsToScrollableElements measures every box of the page on
# load (a layout of the whole page); site/static/dae.js does its work instead.
THEME_JS = "_static/scripts/pydata-sphinx-theme.js"
THEME_TAB_STOPS = "e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1"
THEME_TAB_STOPS_OFF = "void 0/*dae_site: tab stops by dae.js*/"


def code_text(inner_html: str) -> str:
    """A code block's text, its markup stripped."""
    return html.unescape(_TAG.sub("", inner_html)).expandtabs()


def code_columns(inner_html: str) -> int:
    """The longest line of a code block, in characters (its markup stripped)."""
    return max((len(line) for line in code_text(inner_html).split("\n")), default=0)


def mark_wide_boxes(text: str) -> tuple[str, int]:
    """``text`` (a built page) with tabindex="0" data-dae-wide on each box that can
    overflow on a phone: code blocks with a line over PHONE_CODE_COLUMNS characters,
    display equations wider than PHONE_MATH_EX ex, tables. Returns (text, boxes marked)."""
    count = 0

    def pre(match: re.Match) -> str:
        nonlocal count
        tag, code, end = match.groups()
        if "tabindex" in tag or code_columns(code) <= PHONE_CODE_COLUMNS:
            return match.group(0)
        count += 1
        return tag[:-1] + WIDE + ">" + code + end

    def box(match: re.Match) -> str:
        nonlocal count
        if "tabindex" in match.group(1):
            return match.group(0)
        if match.re is _DISPLAY_MATH_SVG and float(match.group(3)) <= PHONE_MATH_EX:
            return match.group(0)
        count += 1
        return match.group(1) + WIDE + match.group(2)

    text = _PRE.sub(pre, text)
    text = _DISPLAY_MATH_SVG.sub(box, text)
    text = _TABLE_BOX.sub(box, text)
    return text, count


# Long pages (dae.css): the browser skips the sections of a page (the article's second
# level) that are far from the screen, giving each a placeholder of the height it will
# have. The build estimates that height from what the section holds, on the generous
# side: a tool that measures a skipped section's content (axe-core in Lighthouse does)
# lays it out below the placeholder's top, and content taller than its placeholder would
# overlap the next section's. The estimate assumes a column of PLACEHOLDER_COLUMNS
# characters (a 412 px phone's holds about 45), with the folds closed as the page opens.
# The browser test checks that no section of any page is taller than its placeholder at
# 412 px and at 1280 px.
PLACEHOLDER_COLUMNS = 26
PLACEHOLDER_LINE_PX = 28
PLACEHOLDER_CODE_LINE_PX = 23
PLACEHOLDER_BLOCK_PX = 30
PLACEHOLDER_EX_PX = 9.0
_SECTION_TAG = re.compile(r"<section\b[^>]*>|</section>")
_SVG = re.compile(r"<svg\b[^>]*?\bheight=\"([\d.]+)ex\"[^>]*>.*?</svg>", re.S)
_MATHML = re.compile(r"<mjx-assistive-mml\b.*?</mjx-assistive-mml>", re.S)
_BLOCK = re.compile(r"<(?:p|li|h[1-6]|div|dt|dd|tr|td|th|figure|details|summary)\b")
_IMG_HEIGHT = re.compile(r"<img\b[^>]*?\bheight=\"(\d+)\"")


_FOLD = re.compile(
    r'<details\b(?![^>]*\bopen\b)[^>]*>|<div class="(?:[^"]* )?dropdown admonition\b[^"]*"[^>]*>'
)
_FOLD_TITLE = re.compile(r"<summary\b.*?</summary>|<p class=\"admonition-title\".*?</p>", re.S)


def element_end(text: str, start: int) -> int:
    """The index just past the end tag that closes the element whose start tag begins at
    ``start`` (elements of the same name nest); len(text) if it is not closed."""
    name = re.match(r"<([a-zA-Z][\w-]*)", text[start:]).group(1)
    tags = re.compile(rf"<{name}\b[^>]*>|</{name}\s*>")
    depth = 0
    for match in tags.finditer(text, start):
        depth += -1 if match.group(0).startswith("</") else 1
        if depth == 0:
            return match.end()
    return len(text)


def folded(section_html: str) -> str:
    """``section_html`` with each fold that a page opens closed (a ``<details>`` without
    ``open``; a dropdown admonition, which sphinx-togglebutton closes on load) cut down to
    its title: what it shows until a reader opens it."""
    pieces, last = [], 0
    for match in _FOLD.finditer(section_html):
        if match.start() < last:  # inside a fold already cut
            continue
        end = element_end(section_html, match.start())
        title = _FOLD_TITLE.search(section_html, match.end(), end)
        pieces += [section_html[last : match.start()], title.group(0) if title else ""]
        last = end
    pieces.append(section_html[last:])
    return "".join(pieces)


def placeholder_height(section_html: str) -> int:
    """A generous estimate of a section's height on a phone, in CSS pixels, with its folds
    closed (folded): its lines of prose at PLACEHOLDER_COLUMNS characters, its lines of
    code, its figures at their full height, its display equations, a margin per block."""
    height = 0.0
    text = folded(_MATHML.sub("", section_html))
    for match in _IMG_HEIGHT.finditer(text):
        height += int(match.group(1))
    for match in _PRE.finditer(text):
        height += (code_text(match.group(2)).count("\n") + 1) * PLACEHOLDER_CODE_LINE_PX
    text = _PRE.sub("", text)

    def equation(match: re.Match) -> str:
        nonlocal height
        height += float(match.group(1)) * PLACEHOLDER_EX_PX
        return " "

    text = _SVG.sub(equation, text)
    height += len(_BLOCK.findall(text)) * PLACEHOLDER_BLOCK_PX
    prose = html.unescape(_TAG.sub(" ", text))
    height += len(" ".join(prose.split())) / PLACEHOLDER_COLUMNS * PLACEHOLDER_LINE_PX
    return int(height) + 1


def size_placeholders(text: str) -> tuple[str, int]:
    """``text`` (a built page) with each second-level section of its article given its
    placeholder height (``style="contain-intrinsic-size: auto <n>px"``, placeholder_height).
    Returns (text, sections sized)."""
    start = text.find('<article class="bd-article"')
    if start < 0:
        return text, 0
    depth, opened, spans = 0, [], []
    for match in _SECTION_TAG.finditer(text, start):
        if match.group(0) == "</section>":
            depth -= 1
            begin = opened.pop()
            if depth == 1:
                spans.append((begin, match.end()))
            if depth == 0:
                break
        else:
            opened.append(match.start())
            depth += 1
    pieces, last = [], 0
    for begin, end in spans:
        tag_end = text.index(">", begin)
        if "contain-intrinsic-size" in text[begin:tag_end]:
            continue
        px = placeholder_height(text[begin:end])
        pieces += [text[last:tag_end], f' style="contain-intrinsic-size: auto {px}px"']
        last = tag_end
    pieces.append(text[last:])
    return "".join(pieces), len(spans)


def theme_tab_stops_off(outdir: Path) -> bool:
    """Switch off the theme's tab-stop measuring (site/static/dae.js does it); False if the
    theme's script is not there. Raises ExtensionError if the script is there but its code
    has changed (a new theme release: compare with dae.js before updating the pattern)."""
    script = outdir / THEME_JS
    if not script.is_file():
        return False
    code = script.read_text(encoding="utf-8")
    if THEME_TAB_STOPS_OFF in code:
        return True
    if code.count(THEME_TAB_STOPS) != 1:
        raise ExtensionError(
            f"dae_site: {THEME_JS} no longer holds the theme's tab-stop update "
            f"({THEME_TAB_STOPS!r}); see site/static/dae.js"
        )
    script.write_text(code.replace(THEME_TAB_STOPS, THEME_TAB_STOPS_OFF), encoding="utf-8")
    return True


_PYGMENTS_BASE = re.compile(r'html\[data-theme="(\w+)"\] \.highlight \{ ([^}]*?) \}')
_PYGMENTS_TOKEN = re.compile(r'html\[data-theme="(\w+)"\] \.highlight \.([\w-]+) \{ ([^}]*?) \}')


def plain_token_classes(outdir: Path) -> set[str]:
    """The Pygments token classes that look exactly like the code block's own text: in
    every colour mode of ``_static/pygments.css`` their rule sets only the block's colour
    (names, punctuation and whitespace in the theme's styles)."""
    path = outdir / "_static" / "pygments.css"
    if not path.is_file():
        return set()
    css = path.read_text(encoding="utf-8")
    base = {theme: decl.split("; ") for theme, decl in _PYGMENTS_BASE.findall(css)}
    colour = {theme: next((d for d in decls if d.startswith("color:")), None)
              for theme, decls in base.items()}  # fmt: skip
    if not colour or None in colour.values():
        return set()
    rules: dict[str, dict[str, list[str]]] = {}
    for theme, name, decl in _PYGMENTS_TOKEN.findall(css):
        rules.setdefault(name, {}).setdefault(theme, []).append(decl.strip())
    return {
        name
        for name, by_theme in rules.items()
        if set(by_theme) == set(colour)
        and all(decls == [colour[theme]] for theme, decls in by_theme.items())
    }


def plain_code(text: str, classes: set[str]) -> str:
    """``text`` with the highlighted code's token spans of ``classes`` replaced by their
    text (they look the same: see plain_token_classes): a chapter's code blocks hold
    thousands of them, which the browser must style and lay out."""
    if not classes:
        return text
    names = "|".join(map(re.escape, sorted(classes)))
    token = re.compile(rf'<span class="(?:{names})">([^<]*)</span>')

    def block(match: re.Match) -> str:
        return match.group(1) + token.sub(r"\1", match.group(2)) + match.group(3)

    return _PRE.sub(block, text)


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None


def lighter_page(page: Path, outdir: Path, plain: set[str] | None = None) -> dict:
    """Rewrite one built page so that a first visit loads less, in place:

    * each frame of a kernel-free slider (matplotlib's jshtml animation, base64 in the
      page: most of a chapter's bytes) becomes a file of ``_images/frames/`` (named by its
      content), which the slider fetches when it first shows that frame, instead of
      fetching and decoding every frame of every slider as the page opens; the slider's
      image gets the first frame's width and height, so the page does not move when it
      arrives;
    * every figure (``<img>`` of a PNG in ``_images/``) gets its ``width`` and ``height`` (no layout
      shift; the stylesheet scales it down to the column, keeping its shape),
      ``loading="lazy"`` (fetched only when it comes near the screen) and
      ``decoding="async"``;
    * in code blocks, the token spans of the classes ``plain`` (those that look like plain
      text, see plain_token_classes) are replaced by their text: up to a third of a
      chapter's elements, fewer for the browser to style and lay out.

    * every box that can overflow on a phone (mark_wide_boxes) becomes a tab stop, which
      site/static/dae.js corrects once the browser has laid the box out.

    Returns {"frames": n, "images": n, "spans": n, "tab stops": n} (what was changed)."""
    import hashlib

    text = page.read_text(encoding="utf-8")
    done = {"frames": 0, "images": 0, "spans": 0, "tab stops": 0, "sections": 0}
    frames_dir = outdir / FRAMES
    first_frames: dict[str, tuple[int, int]] = {}  # the URL of each frame -> its size
    rel = Path(*[".."] * (len(page.relative_to(outdir).parts) - 1))

    def frame_file(match: re.Match) -> str:
        data = base64_bytes(match.group(3))
        name = hashlib.sha256(data).hexdigest()[:24] + "." + match.group(2)
        frames_dir.mkdir(parents=True, exist_ok=True)
        path = frames_dir / name
        if not path.is_file():
            path.write_bytes(data)
        url = (rel / FRAMES / name).as_posix()
        size = _png_size(data)
        if size:
            first_frames[url] = size
        done["frames"] += 1
        return match.group(1) + url + match.group(4)

    if _FRAME.search(text):
        # the size of each slider's first frame, for its <img> (matched by the img id)
        for script in re.finditer(r'var img_id = "([^"]+)";(.*?)new Animation\(', text, re.S):
            first = _FRAME.search(script.group(2))
            if first:
                size = _png_size(base64_bytes(first.group(3)))
                if size:
                    first_frames["#" + script.group(1)] = size
        text = _FRAME.sub(frame_file, text)
        text = _EAGER_FRAMES.sub(_LAZY_FRAMES, text)

    def image(match: re.Match) -> str:
        if match.group(1).count('"') % 2:  # a ">" inside an attribute: leave the tag be
            return match.group(0)
        attrs = dict(_ATTR.findall(" " + match.group(1)))
        if "width" in attrs or "height" in attrs or "loading" in attrs:
            return match.group(0)
        size = None
        src = attrs.get("src", "")
        if src and not src.startswith(("data:", "http:", "https:", "//")):
            target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            figure = target.parent == outdir / "_images"  # not the theme's icons
            if figure and target.is_file() and target.suffix.lower() == ".png":
                size = _png_size(target.read_bytes()[:32])
        elif "id" in attrs:
            size = first_frames.get("#" + attrs["id"])
        if size is None:
            return match.group(0)
        done["images"] += 1
        extra = f' width="{size[0]}" height="{size[1]}" loading="lazy" decoding="async"'
        return f"<img{match.group(1)}{extra} />"

    text = _IMG.sub(image, text)
    text, done["tab stops"] = mark_wide_boxes(text)
    text, done["sections"] = size_placeholders(text)
    if plain:
        before = text.count("<span")
        text = plain_code(text, plain)
        done["spans"] = before - text.count("<span")
    if any(done.values()):
        page.write_text(text, encoding="utf-8")
    return done


def base64_bytes(text: str) -> bytes:
    import base64

    return base64.b64decode("".join(text.split()))


def _build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    if getattr(app.builder, "math_renderer_name", None) == MATH_RENDERER:
        math = typeset_math(outdir)
        logger.info(
            "dae_site: %d formulas on %d pages typeset as SVG (%d drawn in one group)",
            math["formulas"],
            math["pages"],
            math["flattened"],
        )
        for error in math["errors"]:
            logger.warning("dae_site: TeX error: %s", error)
    lighter = {"frames": 0, "images": 0, "spans": 0, "tab stops": 0, "sections": 0}
    plain = plain_token_classes(outdir)
    for page in sorted(outdir.rglob("*.html")):
        if page.relative_to(outdir).parts[0] not in _NOT_PAGES:
            for key, count in lighter_page(page, outdir, plain).items():
                lighter[key] += count
    if (outdir / FRAMES).is_dir():
        palette_pngs(outdir / FRAMES)
    if theme_tab_stops_off(outdir):
        logger.info("dae_site: the theme's tab-stop measuring is off (site/static/dae.js)")
    logger.info(
        "dae_site: %d slider frames moved to %s, %d images sized and lazy, %d code spans"
        " of classes %s made plain text, %d boxes that can overflow on a phone made tab stops",
        lighter["frames"],
        FRAMES,
        lighter["images"],
        lighter["spans"],
        sorted(plain),
        lighter["tab stops"],
    )
    sizes = subset_icon_fonts(outdir)
    logger.info("dae_site: icon fonts cut to the icons used: %s", sizes)
    before, after = trim_icon_rules(outdir)
    logger.info(
        "dae_site: unused icon rules dropped from the theme's CSS: %d -> %d bytes", before, after
    )
    images = outdir / "_images"
    if images.is_dir():
        before, after = palette_pngs(images)
        logger.info("dae_site: figures as palette PNGs: %d -> %d bytes", before, after)


def _builder_inited(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    environment = getattr(templates, "environment", None)
    if environment is not None:
        environment.filters["dae_drop_scripts"] = drop_scripts


def _config_inited(app: Sphinx, config) -> None:
    static = list(config.html_static_path or [])
    if str(STATIC) not in static:
        config.html_static_path = [*static, str(STATIC)]
    templates = list(config.templates_path or [])
    if str(HERE / "templates") not in templates:
        config.templates_path = [str(HERE / "templates"), *templates]


def setup(app: Sphinx) -> dict:
    _math_renderer(app)
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    # after sphinx.ext.mathjax and the theme have filled in the page's context
    app.connect("html-page-context", _page_context, priority=900)
    # after the theme's own build-finished (it rewrites pygments.css for its colour modes)
    app.connect("build-finished", _build_finished, priority=900)
    app.add_css_file("dae.css", priority=900)
    app.add_js_file("dae.js", priority=900, loading_method="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
