"""Open every page of _toc.yml in a real browser, offline, as a reader would.

The static checks in test_offline_html.py read the markup; these also see what scripts and
stylesheets do at run time.  Per page (headless Debian Chromium driven by Playwright for
Python, the site served from 127.0.0.1):

- zero requests to any other host (each is blocked and reported), no failed request, no
  uncaught script error and no console error;
- all math typeset, at build time (site/mathjax_svg.cjs): every formula is MathJax's SVG
  with its MathML copy, no glyph it references is missing, there is no TeX error, no raw
  TeX delimiters (\\( \\[ $$ \\begin{ $...$) are left in the page's text outside code,
  and MathJax is not loaded;
- every <img> loaded (naturalWidth > 0), the frame a jshtml slider shows included (the
  figures load lazily: the test makes them load at once);
- every kernel-free slider (matplotlib jshtml animation) shows another frame when its range
  input is moved (input/change events, as a reader's drag fires), and every frame decodes;
- every ipywidgets view the page shows (if any) renders;
- a full-page screenshot in _build/screenshots/<page>.png, for review;
- page weight: the bytes of the HTML and of everything the page loads (every response the
  browser received), tabled in _build/page-weight.md (and printed: pytest -s); at most
  1 MB (1,000,000 bytes) a page as a static host sends it (text gzipped, images and fonts
  as they are); the table also gives the uncompressed size;
- accessibility (WCAG 2.1 AA, see accessibility.md): axe-core (npm, pinned in
  package.json, injected from node_modules: nothing is fetched) reports no violation of
  the rules tagged wcag2a, wcag2aa, wcag21a and wcag21aa in the theme's light mode, nor of
  those among them that depend on colour in its dark mode, but for the accepted exceptions
  of AXE_EXCEPTIONS (each with its reason, and named on the accessibility page); no
  image's alt text is a file name; at a 320 CSS pixel viewport the page is no wider than
  the screen (WCAG 1.4.10); every focusable element of the page header shows a focus
  indicator when the keyboard reaches it (its outline or box shadow changes); every icon
  of the theme draws (with its icon font, cut down by site/dae_site.py: the site does not
  load the theme's fontawesome.js); printed, code blocks wrap and sliders show no controls.

Needs Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) and Playwright for Python and is
skipped without them; with them, it fails when the site has not been built.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sitecheck import HTML_DIR, ROOT, parse_page, toc_pages

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
MAX_PAGE_BYTES = 1_000_000  # 1 MB (decimal): a page's HTML plus everything it loads, as sent
BUILD_DIR = HTML_DIR.parent
SCREENSHOTS = BUILD_DIR / "screenshots"
WEIGHT_TABLE = BUILD_DIR / "page-weight.md"
# Columns of the page-weight table: Playwright's resource types, grouped.
KINDS = {
    "document": "HTML",
    "script": "scripts",
    "stylesheet": "styles",
    "font": "fonts",
    "image": "images",
}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The theme's dark mode changes colours only (CSS variables on <html>): in it, axe runs the
# rules of those tags whose outcome depends on colour.
AXE_COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# axe rules that may report a violation, with the reason: each must come from the theme or
# an extension, be impossible to fix in this repository's configuration or CSS, and be
# named on the accessibility page (accessibility.md). None at present.
AXE_EXCEPTIONS: dict[str, str] = {}
NARROW = 320  # CSS pixels: WCAG 1.4.10 (Reflow) asks for no horizontal scrolling at this width
# Pages whose figures still have their file path as alt text: the alt texts are written
# (/work/briefs/alt_texts.json) and go into the cells' metadata in round 2 of issue 16;
# then these pages pass, strict xfail fails, and this set must be emptied.
ALT_TEXT_PENDING: set = set()  # every figure now carries its own alt text (issue 16)
# What a static host (GitHub Pages among them) sends as is; everything else it gzips.
PRECOMPRESSED = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".ico", ".gz"}

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)

# ----------------------------------------------------------------- in-page scripts

# Text left with TeX delimiters: math that was not typeset.  Code
# (source cells, stream outputs) may legitimately hold such text, and is not typeset.
RAW_MATH_JS = r"""() => {
    const skip = "pre, code, script, style, textarea, noscript, mjx-container, .highlight";
    const raw = [/\\\(/, /\\\[/, /\$\$/, /\\begin\{/, /(^|[^\\$])\$[^\s$][^$\n]*[^\s\\$]\$/];
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(skip)) continue;
        const text = node.textContent;
        const hit = raw.find(re => re.test(text));
        if (!hit) continue;
        const at = text.search(hit);
        const where = parent.closest("[id]");
        found.push({
            text: text.slice(Math.max(0, at - 30), at + 50).replace(/\s+/g, " "),
            element: parent.tagName.toLowerCase() + (parent.className ? "." +
                     String(parent.className).trim().split(/\s+/).join(".") : ""),
            within: where ? "#" + where.id : "",
        });
    }
    return found;
}"""

# The math as the browser has it: formulas typeset (SVG and MathML), TeX errors (SVG output
# marks them with data-mjx-error), glyph references without a definition on the page.
MATH_JS = r"""() => {
    const containers = Array.from(document.querySelectorAll(".math mjx-container"));
    const typeset = containers.filter(c => c.querySelector(":scope > svg") &&
        c.querySelector(":scope > mjx-assistive-mml > math")).length;
    const errors = Array.from(document.querySelectorAll("[data-mjx-error]"))
        .filter(e => !e.closest("mjx-assistive-mml"))
        .map(e => e.getAttribute("data-mjx-error")).slice(0, 5);
    const missing = new Set();
    for (const use of document.querySelectorAll("mjx-container use")) {
        const ref = use.getAttribute("href") || use.getAttribute("xlink:href") || "";
        if (!ref.startsWith("#") || !document.getElementById(ref.slice(1))) missing.add(ref);
    }
    return {typeset, errors, missing: Array.from(missing).slice(0, 5),
            loaded: typeof window.MathJax !== "undefined"};
}"""

EAGER_IMAGES_JS = """() => document.querySelectorAll('img[loading="lazy"]')
    .forEach(img => { img.loading = "eager"; })"""
IMAGES_READY_JS = """() => Array.from(document.images).every(img => img.complete)
    && document.querySelectorAll(".animation img:not([src])").length === 0"""

BROKEN_IMAGES_JS = r"""() => Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => {
        const where = img.closest("[id]");
        const src = img.getAttribute("src");
        return {
            src: src === null ? "(no src)" : src.slice(0, 80),
            alt: img.alt,
            within: where ? "#" + where.id : "",
        };
    })"""

# Move each jshtml slider as a reader would (matplotlib's Animation listens to the range
# input's "input" event), through every frame and back to where it started.
SLIDERS_JS = r"""async () => {
    const move = (slider, value) => {
        slider.value = String(value);
        slider.dispatchEvent(new Event("input", {bubbles: true}));
        slider.dispatchEvent(new Event("change", {bubbles: true}));
    };
    const results = [];
    for (const div of document.querySelectorAll("div.animation")) {
        const slider = div.querySelector('input[type="range"]');
        const img = div.querySelector("img");
        const where = div.closest("[id]");
        const result = {
            img: img ? (img.id || img.alt) : null,
            within: where ? "#" + where.id : "",
            problems: [],
        };
        results.push(result);
        if (!slider || !img) {
            result.problems.push("no range input or no <img> in the animation");
            continue;
        }
        const first = Number(slider.min), last = Number(slider.max);
        const start = Number(slider.value);
        const shown = img.getAttribute("src");
        result.frames = last - first + 1;
        if (!(last > first)) {
            result.problems.push(`the slider has ${result.frames} position(s)`);
            continue;
        }
        const other = start === last ? first : last;
        move(slider, other);
        if (img.getAttribute("src") === shown)
            result.problems.push(`moving the slider from ${start} to ${other} ` +
                                 "did not change the image");
        const seen = new Set();
        for (let value = first; value <= last; value++) {
            move(slider, value);
            const src = img.getAttribute("src");
            seen.add(src);
            try {
                await img.decode();
                if (!(img.naturalWidth > 0)) throw new Error("empty");
            } catch (error) {
                result.problems.push(`frame ${value} does not decode`);
            }
        }
        result.distinct = seen.size;
        if (seen.size < 2) result.problems.push("every frame shows the same image");
        move(slider, start);
        if (img.getAttribute("src") !== shown)
            result.problems.push("moving the slider back did not restore the first frame");
    }
    return results;
}"""

# The focusable elements of the page header, each focused from the keyboard (Tab), and its
# outline and box shadow compared with those it has unfocused.
HEADER = ".bd-header-article, .bd-header"
HEADER_ELEMENTS_JS = r"""(selector) => {
    const focusable = 'a[href], button, input, select, textarea, summary, [tabindex]';
    const shown = el => el.getClientRects().length > 0 &&
        getComputedStyle(el).visibility !== "hidden" && !el.closest("[hidden], [inert]");
    const els = Array.from(document.querySelectorAll(selector))
        .flatMap(h => Array.from(h.querySelectorAll(focusable)))
        .filter(el => shown(el) && el.tabIndex >= 0 && !el.disabled);
    els.forEach((el, i) => { el.dataset.daeFocusIndex = String(i); });
    return els.map(el => el.outerHTML.slice(0, 120));
}"""
FOCUS_STYLE_JS = r"""(index) => {
    const el = document.querySelector(`[data-dae-focus-index="${index}"]`);
    if (!el) return null;
    const cs = getComputedStyle(el);
    const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0
        ? `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}` : "none";
    return {outline, shadow: cs.boxShadow, focused: document.activeElement === el};
}"""

# Icons of the theme: an <i>/<span> with a Font Awesome class draws a glyph of the icon
# font (the stylesheet's ::before content), not an empty box.
ICONS_JS = r"""async () => {
    await document.fonts.ready;
    const canvas = document.createElement("canvas").getContext("2d");
    const width = (font, text) => { canvas.font = font; return canvas.measureText(text).width; };
    const icons = Array.from(document.querySelectorAll('i[class*="fa-"], span[class*="fa-"]'))
        .filter(el => el.getClientRects().length > 0);
    return icons.map(el => {
        const before = getComputedStyle(el, "::before");
        const family = before.fontFamily;
        const content = before.content;
        const glyph = content.replace(/^"|"$/g, "");
        const name = family.replace(/"/g, "").split(",")[0].trim();
        // a face of that family and weight has loaded, and one has the glyph: drawn with
        // the family, the glyph is not as wide as the fallback font alone draws it
        const loaded = Array.from(document.fonts).some(face =>
            face.family.replace(/"/g, "") === name && face.status === "loaded" &&
            String(face.weight) === String(before.fontWeight));
        const size = `${before.fontWeight} 40px`;
        const drawn = glyph.length === 1 && /Font Awesome/i.test(family) && loaded &&
            width(`${size} "${name}", monospace`, glyph) !== width(`${size} monospace`, glyph);
        return {icon: el.className, drawn, content, family};
    }).filter(icon => !icon.drawn);
}"""

# Images whose text alternative is a file name (myst-nb's default) or missing.
FILENAME_ALTS_JS = r"""() => Array.from(document.images)
    .filter(img => !img.hasAttribute("alt") ||
        /(^|\/)[^\s\/]+\.(png|jpe?g|gif|svg|webp)$/i.test(img.alt.trim()))
    .map(img => (img.getAttribute("alt") === null ? "(no alt) " : "") +
        (img.getAttribute("alt") || img.getAttribute("src") || "").slice(0, 90))"""

# What makes the page wider than the viewport: the outermost elements that reach past its
# right edge without a scrolling box around them.
OVERFLOW_JS = r"""() => {
    const width = document.documentElement.clientWidth;
    const found = [];
    for (const el of document.querySelectorAll("body *")) {
        const box = el.getBoundingClientRect();
        if (!(box.width > 0 && box.right > width + 0.5)) continue;
        let parent = el.parentElement, contained = false;
        while (parent && parent !== document.body) {
            const style = getComputedStyle(parent);
            if (style.position === "fixed" ||
                (["auto", "scroll", "hidden", "clip"].includes(style.overflowX) &&
                 parent.getBoundingClientRect().right <= width + 0.5)) {
                contained = true; break;
            }
            parent = parent.parentElement;
        }
        if (contained || (el.parentElement && found.some(f => f.el === el.parentElement)))
            continue;
        found.push({el, text: `<${el.tagName.toLowerCase()} class="${el.className}">` +
            ` reaches x = ${Math.round(box.right)}: ` +
            (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60)});
    }
    const culprits = found.slice(0, 5).map(f => f.text);
    return {width: document.documentElement.scrollWidth, culprits};
}"""

# Printed (print media, the page as wide as an A4 sheet's text): code blocks that still
# lose their right-hand end, and slider controls that still show.
PRINT_JS = r"""() => ({
    cut: Array.from(document.querySelectorAll("pre"))
        .filter(pre => pre.getClientRects().length && pre.scrollWidth > pre.clientWidth + 1)
        .map(pre => (pre.closest("[id]") ? "#" + pre.closest("[id]").id + ": " : "") +
             pre.textContent.trim().split("\n")[0].slice(0, 60)),
    controls: Array.from(document.querySelectorAll(
            '.animation input[type="range"], .animation .anim-buttons button'))
        .filter(el => el.getClientRects().length).length,
})"""

# Boxes that scroll (code blocks, outputs, wide equations, tables) and their tab stops
# (site/static/dae.js, site/dae_site.py mark_wide_boxes): those that overflow and are not a
# tab stop; those that overflow but the build did not mark (at a phone's width: the build's
# marks are what a keyboard user has in sections the browser has not drawn yet); those
# the reader sees that are tab stops without overflowing.
SCROLL_BOXES = (
    "pre, .cell_output > .output, .pst-scrollable-table-container, "
    ".nboutput > .output_area, .jp-RenderedHTMLCommon"
)
TAB_STOPS_JS = r"""(selector) => {
    const sections = ".bd-article > section > section";
    const drawn = el => { const s = el.closest(sections);
        return !s || s.firstElementChild.checkVisibility({contentVisibilityAuto: true}); };
    const describe = el => `<${el.tagName.toLowerCase()} class="${el.className}">: ` +
        (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50);
    const result = {unreachable: [], unmarked: [], needless: [], boxes: 0};
    for (const el of document.querySelectorAll(selector)) {
        // boxes the reader cannot see (in a closed fold: no height, or hidden) are left out
        if (!el.getClientRects().length || !el.clientHeight || !el.clientWidth ||
            getComputedStyle(el).visibility !== "visible") continue;
        result.boxes += 1;
        const shown = drawn(el);
        const over = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
        if (over && el.tabIndex < 0) result.unreachable.push(describe(el));
        if (over && !el.hasAttribute("data-dae-wide")) result.unmarked.push(describe(el));
        if (shown && !over && el.tabIndex >= 0) result.needless.push(describe(el));
    }
    return result;
}"""

# Draw every section of the page (true), or let the browser skip those far from the screen
# again (false), as dae.css does: for the full-page screenshot.
DRAW_ALL_JS = r"""(all) => {
    let style = document.getElementById("dae-test-draw-all");
    if (all && !style) {
        style = document.createElement("style");
        style.id = "dae-test-draw-all";
        style.textContent = ".bd-article section { content-visibility: visible !important; }";
        document.head.appendChild(style);
    } else if (!all && style) {
        style.remove();
    }
}"""

# Long pages skip their sections far from the screen (content-visibility: auto, dae.css),
# each with a placeholder height from the build (site/dae_site.py size_placeholders): the
# sections taller, laid out, than their placeholder (a tool that measures a skipped
# section would see its content run into the next one).
# Run with every section drawn (DRAW_ALL_JS; see _placeholders).
PLACEHOLDERS_JS = r"""() => {
    const sections = Array.from(document.querySelectorAll(".bd-article > section > section"));
    const result = {sections: sections.length, unsized: [], short: []};
    for (const s of sections) {
        const m = (s.getAttribute("style") || "").match(/contain-intrinsic-size:\s*auto\s+(\d+)px/);
        const height = Math.ceil(s.getBoundingClientRect().height);
        if (!m) result.unsized.push(`#${s.id}`);
        else if (height > +m[1])
            result.short.push(`#${s.id}: ${height} px, placeholder ${m[1]} px`);
    }
    return result;
}"""

# axe-core is slow on the thousands of elements of a chapter (each highlighted code token
# and each piece of a typeset equation is one). Before it runs, the page is thinned where
# the result cannot change: in code blocks one token element of each highlighting class is
# kept (its colour and background decide the contrast; the others, made plain text, have
# the colour of their block, which is checked too), so is the text of inline code (Sphinx
# wraps it in a <span class="pre"> of the same colour), and the SVG drawing of each
# equation (aria-hidden, drawn with glyph paths: no text for axe to check) is emptied,
# keeping its size; the hidden MathML that screen readers read stays.
THIN_JS = r"""() => {
    const seen = new Set();
    for (const span of document.querySelectorAll(".highlight pre span")) {
        if (span.children.length) continue;
        const key = span.className + (span.closest(".cell_output") ? " out" : " in");
        if (!seen.has(key)) { seen.add(key); continue; }  // the first of its class stays
        span.replaceWith(document.createTextNode(span.textContent));
    }
    // Sphinx wraps the text of each inline code in <span class="pre">, coloured as its <code>
    for (const span of document.querySelectorAll("code > span.pre")) {
        if (!span.children.length && !span.getAttribute("style"))
            span.replaceWith(document.createTextNode(span.textContent));
    }
    // keep each rendering's size, so that what overflows (and scrolls) still does
    const maths = Array.from(
        document.querySelectorAll('mjx-container > svg[aria-hidden="true"]'));
    const boxes = maths.map(math => math.getBoundingClientRect());
    maths.forEach((math, i) => {
        math.replaceChildren();
        math.style.display = "inline-block";
        math.style.width = `${boxes[i].width}px`;
        math.style.height = `${boxes[i].height}px`;
    });
    return document.getElementsByTagName("*").length;
}"""
# preload: false: axe would fetch every stylesheet again to read its rules (for
# css-orientation-lock alone), and it resolves the theme's `@import "../basic.css"` against
# the page instead of the stylesheet: a request for a file that does not exist. That rule
# then reports "incomplete", never a violation; no stylesheet of the site locks orientation.
AXE_RUN_JS = r"""async ([tags, rules]) => {
    const runOnly = rules ? {type: "rule", values: rules} : {type: "tag", values: tags};
    const result = await axe.run(document, {runOnly, resultTypes: ["violations"], preload: false});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " +
            (n.failureSummary || "").replace(/\s+/g, " ").slice(0, 160))}));
}"""
SET_MODE_JS = r"""(mode) => {
    // no colour transitions: axe must see the mode's colours, not a blend on the way
    if (!document.getElementById("dae-no-transitions")) {
        const style = document.createElement("style");
        style.id = "dae-no-transitions";
        style.textContent = "*, *::before, *::after { transition: none !important; " +
            "animation: none !important; }";
        document.head.appendChild(style);
    }
    if (document.activeElement) document.activeElement.blur();
    localStorage.setItem("mode", mode);
    localStorage.setItem("theme", mode);
    document.documentElement.dataset.mode = mode;
    document.documentElement.dataset.theme = mode;
    return getComputedStyle(document.body).backgroundColor;
}"""


# ----------------------------------------------------------------- serving and visiting


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built site at {HTML_DIR} (run `make book` first)", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """What one page did in the browser."""

    html: str
    external: list[str] = field(default_factory=list)  # requests to other hosts (blocked)
    failed: list[str] = field(default_factory=list)  # responses >= 400, failed requests
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    console: list[str] = field(default_factory=list)  # console.error messages
    sizes: dict[str, tuple[str, int]] = field(default_factory=dict)  # url -> (kind, bytes)
    steps: list[str] = field(default_factory=list)  # a check that could not run, and why
    math: dict | None = None
    raw_math: list[dict] = field(default_factory=list)
    broken_images: list[dict] | None = None
    sliders: list[dict] = field(default_factory=list)
    widgets: int = 0
    screenshot: Path | None = None
    header_focus: list[str] = field(default_factory=list)  # header elements without focus
    header_elements: int = 0
    icons: list[dict] | None = None  # icons that do not draw
    filename_alts: list[str] | None = None
    narrow: dict | None = None  # {"width": scrollWidth at 320 px, "culprits": [...]}
    tab_stops: dict | None = None  # at 1280 px, TAB_STOPS_JS
    tab_stops_narrow: dict | None = None  # at 320 px, TAB_STOPS_JS
    placeholders: dict[int, dict] = field(default_factory=dict)  # width -> PLACEHOLDERS_JS
    printed: dict | None = None  # {"cut": [code blocks cut off], "controls": visible count}
    axe: dict[str, list[dict]] = field(default_factory=dict)  # mode -> violations

    @property
    def weight(self) -> int:
        """Bytes as served by the test server: uncompressed."""
        return sum(size for _, size in self.sizes.values())

    @property
    def sent(self) -> int:
        """Bytes a reader downloads from a static host that gzips text (HTML, scripts,
        stylesheets, SVG) and sends images and fonts as they are."""
        return sum(_sent_size(url, size) for url, (_, size) in self.sizes.items())

    def sent_by_kind(self) -> Counter:
        counts: Counter = Counter()
        for url, (kind, size) in self.sizes.items():
            counts[KINDS.get(kind, "other")] += _sent_size(url, size)
        return counts


@functools.cache
def _gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))


def _sent_size(url: str, size: int) -> int:
    path = HTML_DIR / unquote(urlsplit(url).path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    if path.suffix.lower() in PRECOMPRESSED or not path.is_file():
        return size
    return _gzipped_size(path)


def _step(visit: Visit, name: str, action):
    """Run one check's browser work; a timeout or script error is recorded, not raised,
    so that the rest of the page (and its weight) is still measured."""
    try:
        return action()
    except Exception as error:  # reported by the test
        visit.steps.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0]}")
        return None


def _visit(browser, server: str, html: Path) -> Visit:
    built = parse_page(HTML_DIR / html)
    visit = Visit(html.as_posix())
    local = urlsplit(server).netloc
    context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def route(route):
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == local:
            route.continue_()
        else:
            visit.external.append(url)
            route.abort()

    def response(response):
        url = response.url.split("#")[0]
        if urlsplit(url).netloc != local:
            return
        if response.status >= 400:
            if not url.endswith("/favicon.ico"):
                visit.failed.append(f"{response.status} {url}")
            return
        length = response.headers.get("content-length")
        size = int(length) if length is not None else len(response.body())
        visit.sizes[url] = (response.request.resource_type, size)

    def request_failed(request):
        if request.url not in visit.external:
            visit.failed.append(f"{request.failure} {request.url}")

    def console(message):
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            visit.console.append(f"{message.text} ({where})" if where else message.text)

    page.route("**/*", route)
    page.on("response", response)
    page.on("requestfailed", request_failed)
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on("console", console)
    try:
        page.goto(f"{server}/{visit.html}", wait_until="load", timeout=TIMEOUT_MS)

        visit.math = _step(visit, "math", lambda: page.evaluate(MATH_JS))
        visit.raw_math = _step(visit, "raw math", lambda: page.evaluate(RAW_MATH_JS)) or []

        # figures load lazily (site/dae_site.py): fetch them all now, as scrolling would
        page.evaluate(EAGER_IMAGES_JS)
        _step(visit, "images", lambda: page.wait_for_function(IMAGES_READY_JS, timeout=10_000))
        visit.broken_images = _step(visit, "images", lambda: page.evaluate(BROKEN_IMAGES_JS))
        visit.sliders = _step(visit, "sliders", lambda: page.evaluate(SLIDERS_JS)) or []

        if built.widget_views:
            _step(
                visit,
                "widgets",
                lambda: page.wait_for_selector(".jupyter-widgets", timeout=TIMEOUT_MS),
            )
            visit.widgets = page.locator(".jupyter-widgets").count()

        _step(
            visit,
            "network idle",
            lambda: page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS),
        )
        # The screenshot shows every section drawn (dae.css skips those far from the
        # screen, which a full-page screenshot would show as their blank placeholders);
        # then the browser skips them again, and dae.js sets the tab stops of those it
        # draws (on the contentvisibilityautostatechange events, dispatched after a frame).
        shot = SCREENSHOTS / html.with_suffix(".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        _step(visit, "screenshot", lambda: page.evaluate(DRAW_ALL_JS, True))
        _step(visit, "screenshot", lambda: page.screenshot(path=shot, full_page=True))
        visit.screenshot = shot if shot.is_file() else None
        _step(visit, "screenshot", lambda: page.evaluate(DRAW_ALL_JS, False))
        page.wait_for_timeout(500)
        _accessibility(visit, page)
    finally:
        context.close()
    return visit


def _placeholders(page) -> dict:
    """PLACEHOLDERS_JS, with every section drawn for the measurement."""
    page.evaluate(DRAW_ALL_JS, True)
    try:
        return page.evaluate(PLACEHOLDERS_JS)
    finally:
        page.evaluate(DRAW_ALL_JS, False)


def _header_focus(visit: Visit, page) -> None:
    elements = page.evaluate(HEADER_ELEMENTS_JS, HEADER)
    visit.header_elements = len(elements)
    if not elements:
        return
    unfocused = [page.evaluate(FOCUS_STYLE_JS, i) for i in range(len(elements))]
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.focus("body")
    reached: dict[int, dict] = {}
    # Tab from the top of the page until every header element has been reached (the skip
    # link and the sidebars' links come in between).
    for _ in range(len(elements) + 80):
        page.keyboard.press("Tab")
        index = page.evaluate(
            "() => document.activeElement && document.activeElement.dataset.daeFocusIndex"
        )
        if index is not None and int(index) not in reached:
            reached[int(index)] = page.evaluate(FOCUS_STYLE_JS, int(index))
        if len(reached) == len(elements):
            break
    for i, html in enumerate(elements):
        style = reached.get(i)
        if style is None:
            visit.header_focus.append(f"never reached with Tab: {html}")
        elif (style["outline"], style["shadow"]) == (
            unfocused[i]["outline"],
            unfocused[i]["shadow"],
        ) or (style["outline"] == "none" and style["shadow"] == "none"):
            visit.header_focus.append(f"no focus indicator: {html}")
    page.keyboard.press("Escape")


#: site/static/dae.js's debounce of its tab-stop update after a resize.
TAB_STOP_DEBOUNCE_MS = 300
#: Lighthouse's phone (a Moto G Power's viewport): the width the placeholders are checked at.
PHONE = 412


def _accessibility(visit: Visit, page) -> None:
    """The accessibility checks of one page (see the module docstring), run last: the page
    is resized and thinned for axe-core on the way."""
    visit.tab_stops = _step(visit, "tab stops", lambda: page.evaluate(TAB_STOPS_JS, SCROLL_BOXES))
    visit.placeholders[1280] = _step(visit, "placeholders", lambda: _placeholders(page))
    _step(visit, "header focus", lambda: _header_focus(visit, page))
    visit.icons = _step(visit, "icons", lambda: page.evaluate(ICONS_JS))
    visit.filename_alts = _step(visit, "alt texts", lambda: page.evaluate(FILENAME_ALTS_JS))

    def narrow():
        page.set_viewport_size({"width": NARROW, "height": 800})
        page.wait_for_timeout(400)  # the theme's and the book's resize handlers
        result = page.evaluate(OVERFLOW_JS)
        visit.tab_stops_narrow = page.evaluate(TAB_STOPS_JS, SCROLL_BOXES)
        page.set_viewport_size({"width": PHONE, "height": 800})
        page.wait_for_timeout(100)
        visit.placeholders[PHONE] = _placeholders(page)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(200)
        return result

    visit.narrow = _step(visit, "320 px viewport", narrow)

    def printed():
        page.set_viewport_size({"width": 700, "height": 900})
        page.emulate_media(media="print")
        page.wait_for_timeout(200)
        result = page.evaluate(PRINT_JS)
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(200)
        return result

    visit.printed = _step(visit, "print", printed)
    if not AXE.is_file():
        visit.steps.append(f"axe-core: {AXE} is missing (run `npm ci`)")
        return
    _step(visit, "axe-core", lambda: page.evaluate(THIN_JS))
    # site/static/dae.js makes every code block, output and wide equation that overflows
    # a tab stop (tabindex 0), again 300 ms (debounced) after a resize: the viewport
    # changes above trigger it. Let it settle before axe looks, or axe can catch a block
    # between its overflow and its tab stop (scrollable-region-focusable, seen once in
    # chapter 5 when the theme did this).
    page.wait_for_timeout(TAB_STOP_DEBOUNCE_MS + 400)
    _step(visit, "axe-core", lambda: page.add_script_tag(path=str(AXE)))
    for mode in ("light", "dark"):
        _step(visit, f"{mode} mode", lambda mode=mode: page.evaluate(SET_MODE_JS, mode))
        page.wait_for_timeout(100)
        rules = AXE_COLOUR_RULES if mode == "dark" else None
        violations = _step(
            visit,
            f"axe-core, {mode} mode",
            lambda rules=rules: page.evaluate(AXE_RUN_JS, [AXE_TAGS, rules]),
        )
        visit.axe[mode] = violations if violations is not None else []


@pytest.fixture(scope="module")
def visits():
    """Each page's visit, kept for the page-weight table."""
    return {}


@pytest.fixture
def visit(browser, server, visits):
    def _get(html: Path) -> Visit:
        if html not in visits:
            visits[html] = _visit(browser, server, html)
        return visits[html]

    return _get


PAGES = sorted(toc_pages().items())


def _lines(items) -> str:
    return "".join(f"\n  {item}" for item in items)


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_page_works_offline(visit, source, html):
    built = parse_page(HTML_DIR / html)
    result = visit(html)
    problems = []
    problems += [f"asked another host for {url} (blocked)" for url in result.external]
    problems += [f"failed request: {failure}" for failure in result.failed]
    problems += [f"script error: {error}" for error in result.errors]
    problems += [f"console error: {message}" for message in result.console]
    problems += [f"could not check {step}" for step in result.steps]

    if result.math is not None:
        math = result.math
        if math["typeset"] < len(built.math_texts):
            problems.append(f"{math['typeset']} of {len(built.math_texts)} formulas typeset")
        problems += [f"TeX error: {error}" for error in math["errors"]]
        problems += [f"glyph not defined on the page: {ref}" for ref in math["missing"]]
        if math["loaded"]:
            problems.append("the page loads MathJax (the math is typeset at build time)")
    problems += [
        f"raw TeX left in the text: {raw['text']!r} in <{raw['element']}> {raw['within']}"
        for raw in result.raw_math
    ]

    problems += [
        f"image not loaded: <img src={image['src']!r} alt={image['alt']!r}> {image['within']}"
        for image in result.broken_images or []
    ]
    if len(result.sliders) != built.animations:
        problems.append(f"{len(result.sliders)} of {built.animations} jshtml sliders found")
    for slider in result.sliders:
        problems += [
            f"slider {slider['img']} {slider['within']}: {problem}"
            for problem in slider["problems"]
        ]

    if built.widget_views and result.widgets < built.widget_views:
        problems.append(f"{result.widgets} of {built.widget_views} widgets rendered")
    if result.screenshot is None:
        problems.append("no screenshot was written")

    ok = not problems
    assert ok, f"{html} in Chromium:" + _lines(problems)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f}"


def test_page_weight(visit):
    """Every page's total size, HTML plus everything it loads, at most 3 MB as sent."""
    kinds = [*KINDS.values(), "other"]
    header = ["page", "files", *kinds, "total sent", "uncompressed"]
    table = [
        "| " + " | ".join(header) + " |",
        "| --- |" + " ---: |" * (len(header) - 1),
    ]
    heavy = []
    for source, html in PAGES:
        result = visit(html)
        by_kind = result.sent_by_kind()
        cells = [str(source), str(len(result.sizes))]
        cells += [_megabytes(by_kind[kind]) for kind in kinds]
        cells += [f"**{_megabytes(result.sent)}**", _megabytes(result.weight)]
        table.append("| " + " | ".join(cells) + " |")
        if result.sent > MAX_PAGE_BYTES:
            heavy.append(f"{source}: {_megabytes(result.sent)} MB")
    text = (
        "# Page weight\n\n"
        "Each page of _toc.yml as loaded by headless Chromium from the built site, in MB\n"
        "(10^6 bytes): every response the browser received (`files`), counted as a static\n"
        "host such as GitHub Pages sends it (HTML, scripts and stylesheets gzipped at level 6,\n"
        "images and fonts as they are), by kind; `uncompressed`: the same files' sizes on disk.\n"
        f"Limit: {_megabytes(MAX_PAGE_BYTES)} MB sent per page.\n"
        f"Written by {Path(__file__).relative_to(ROOT)}.\n\n" + "\n".join(table) + "\n"
    )
    WEIGHT_TABLE.write_text(text, encoding="utf-8")
    print("\n" + text)
    ok = not heavy
    assert ok, f"pages over {_megabytes(MAX_PAGE_BYTES)} MB:" + _lines(heavy)


# ----------------------------------------------------------------- accessibility


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_page_passes_axe(visit, source, html):
    """No axe-core violation of WCAG 2.0/2.1 A and AA, in light and in dark mode."""
    result = visit(html)
    problems = [f"could not check {step}" for step in result.steps if "axe" in step]
    for mode in ("light", "dark"):
        if mode not in result.axe:
            problems.append(f"axe-core did not run in {mode} mode")
        for v in result.axe.get(mode, []):
            if v["id"] in AXE_EXCEPTIONS:
                continue
            problems.append(f"[{mode}] {v['id']} ({v['impact']}, {v['count']}x): {v['help']}")
            problems += [f"    {node}" for node in v["nodes"]]
    ok = not problems
    assert ok, f"{html}, axe-core {', '.join(AXE_TAGS)}:" + _lines(problems)


@pytest.mark.parametrize(
    ("source", "html"),
    [
        pytest.param(
            src,
            html,
            marks=pytest.mark.xfail(
                str(src) in ALT_TEXT_PENDING,
                reason="issue 16 round 2: the figures' alt texts go into the cells' metadata",
                strict=True,
            ),
        )
        for src, html in PAGES
    ],
    ids=[str(src) for src, _ in PAGES],
)
def test_images_have_alt_text(visit, source, html):
    """No image's text alternative is a file name (myst-nb's default) or missing."""
    result = visit(html)
    assert result.filename_alts is not None, f"{html}: the images could not be checked"
    ok = not result.filename_alts
    assert ok, f"{html}: images whose alt text is a file name:" + _lines(result.filename_alts)


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_page_reflows_at_320px(visit, source, html):
    """At a 320 CSS pixel viewport nothing makes the page scroll sideways (WCAG 1.4.10)."""
    result = visit(html)
    assert result.narrow is not None, f"{html}: could not measure it at {NARROW} px"
    ok = result.narrow["width"] <= NARROW
    assert ok, f"{html} is {result.narrow['width']} px wide at {NARROW} px:" + _lines(
        result.narrow["culprits"]
    )


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_scrolling_boxes_are_tab_stops(visit, source, html):
    """Every code block, output, equation or table that scrolls can be reached with the
    keyboard (WCAG 2.1.1), in every section, drawn or not: at 1280 px each that overflows
    is a tab stop and each drawn one that does not is not; at 320 px each that overflows
    was made a tab stop by the build (the state of the sections not drawn yet)."""
    result = visit(html)
    assert result.tab_stops is not None and result.tab_stops_narrow is not None, (
        f"{html}: could not check the tab stops"
    )
    wide, narrow = result.tab_stops, result.tab_stops_narrow
    problems = (
        [f"overflows, not a tab stop: {b}" for b in wide["unreachable"]]
        + [f"a tab stop that does not scroll: {b}" for b in wide["needless"]]
        + [f"at {NARROW} px, not a tab stop: {b}" for b in narrow["unreachable"]]
        + [f"at {NARROW} px, not marked by the build: {b}" for b in narrow["unmarked"]]
    )
    assert not problems, f"{html}:" + _lines(problems[:10])


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_section_placeholders_hold_their_sections(visit, source, html):
    """Each section the browser may skip has a placeholder from the build at least as tall
    as the section laid out, on Lighthouse's phone and on a desktop."""
    result = visit(html)
    for width in (PHONE, 1280):
        found = result.placeholders.get(width)
        assert found is not None, f"{html}: could not measure its sections at {width} px"
        problems = [f"no placeholder: {s}" for s in found["unsized"]] + found["short"]
        assert not problems, f"{html} at {width} px:" + _lines(problems)


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_header_shows_focus(visit, source, html):
    """Every focusable element of the page header shows where the keyboard focus is."""
    result = visit(html)
    assert result.header_elements, f"{html}: no focusable element found in the header"
    ok = not result.header_focus
    assert ok, f"{html}, of {result.header_elements} header elements:" + _lines(result.header_focus)


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_icons_draw(visit, source, html):
    """Every icon draws with the theme's icon font (the site leaves out fontawesome.js),
    from the cut-down copies site/dae_site.py writes: a glyph missing there would make the
    browser fetch the theme's whole font (0.3 MB) for it."""
    result = visit(html)
    assert result.icons is not None, f"{html}: the icons could not be checked"
    problems = [
        f"does not draw: {i['icon']}: content {i['content']!r}, font {i['family']!r}"
        for i in result.icons
    ]
    problems += [
        f"fetched the theme's full icon font {url}"
        for url in result.sizes
        if "fontawesome/webfonts/" in url
    ]
    ok = not problems
    assert ok, f"{html}, icons:" + _lines(problems)


@pytest.mark.parametrize(("source", "html"), PAGES, ids=[str(src) for src, _ in PAGES])
def test_page_prints(visit, source, html):
    """Printed, code blocks wrap instead of losing their right-hand end, and the sliders
    print as the frame they show, without their (dead) controls."""
    result = visit(html)
    assert result.printed is not None, f"{html}: could not emulate print"
    problems = [f"code block cut off: {where}" for where in result.printed["cut"]]
    if result.printed["controls"]:
        problems.append(f"{result.printed['controls']} slider controls are printed")
    ok = not problems
    assert ok, f"{html}, printed:" + _lines(problems)
