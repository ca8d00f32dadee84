"""Sphinx extension: the book's site for every reader (accessibility, weight, search engines).

Loaded from _config.yml (``sphinx.local_extensions``). It

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
* has MathJax typeset a page in short slices instead of one long task that blocks the
  page (``site/static/dae-mathjax.js``);
* makes a wide display equation, which scrolls inside its own box on a narrow screen, a
  keyboard tab stop while (and only while) it overflows (``site/static/dae-math.js``, on the
  pages that load MathJax), as the theme does for code blocks;
* gives every page a ``<meta name="description">``: the page's own ``html_meta``
  description (MyST front matter) if it has one, else its first paragraph of prose,
  shortened to about 160 characters;
* after the build, cuts the theme's icon fonts (0.3 MB, loaded by every page) down to the
  icons the site uses (a few kB, declared in dae.css after the theme's own), and stores the
  figures (``_images/*.png``) as palette PNGs of 256 colours where that is smaller;
* corrects two accessibility faults in the markup of extensions: myst-nb's hidden-code
  toggles (``<summary aria-label="Toggle hidden content">``, whose spoken name differed
  from its visible "Show code cell source": WCAG 2.5.3) lose the aria-label, and the
  bibliography's entries get the ARIA role ``listitem`` instead of the deprecated
  ``doc-biblioentry`` (their list, ``role="list"``, then holds only list items).

The templates in ``site/templates`` (``templates_path``) pass the theme's head through the
filter that drops the scripts; everything else happens in ``html-page-context``.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
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
    scripts = [str(getattr(js, "filename", "") or "") for js in context.get("script_files", [])]
    if any("mathjax" in name for name in scripts):
        # before MathJax's configuration and MathJax (deferred too: runs after the first,
        # before the second)
        app.builder.add_js_file("dae-mathjax.js", defer="defer", priority=499)
        app.builder.add_js_file("dae-math.js", defer="defer", priority=900)
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


def subset_icon_fonts(outdir: Path) -> dict[str, int]:
    """Write the theme's icon fonts, cut down to the icons the site uses, as WOFF files in
    ``_static`` (site/static/dae.css declares them after the theme's own @font-face rules,
    so browsers fetch these few kB instead of the theme's 0.3 MB); returns their sizes."""
    import pydata_sphinx_theme
    from fontTools import subset

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


def _build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    sizes = subset_icon_fonts(outdir)
    logger.info("dae_site: icon fonts cut to the icons used: %s", sizes)
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
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    # after sphinx.ext.mathjax and the theme have filled in the page's context
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _build_finished)
    app.add_css_file("dae.css", priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
