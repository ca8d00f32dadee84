// Typeset the math of built HTML pages at build time: TeX -> SVG, with MathML for
// screen readers, so that no page needs MathJax's JavaScript to show its equations.
//
//   node site/mathjax_svg.cjs FILE.html ...
//
// Run by site/dae_site.py when Sphinx has written the site (build-finished). Sphinx's
// math markup (sphinx.ext.mathjax's, which the "dae_svg" renderer reuses) is
//   <span class="math ...">\(TeX\)</span>                        inline
//   <div class="math ..." [id=...]>[<span class="eqno">..</span>]\[TeX\]</div>   display
// Each TeX source is replaced by MathJax's output, an <mjx-container> holding
//   * an <svg> (aria-hidden) whose glyphs are <use> references to one <defs> block per
//     page (MathJax's "global" font cache, written at the top of <body>); every path is
//     drawn in currentColor, so equations take the text colour of light and dark mode;
//     its glyphs and rules sit in one group, each with its own transform (flatten(): an
//     eighth of the elements MathJax nests them in);
//   * an <mjx-assistive-mml> copy in MathML, visually hidden, that screen readers read.
// No tabindex is written: equations are not tab stops. MathJax's own stylesheet for this
// output (about 2.5 kB) goes into the page's <head>.
//
// A page already processed (it holds the defs block) is left as it is, so that incremental
// builds, which rewrite only some pages, can run this over every page; a page with a TeX
// error is left unchanged, so that every build reports it. Prints one JSON line per file
// ({file, formulas, flattened, errors}); exits 1 if any formula is a TeX error, 2 on a usage error.
// mathjax-full is pinned in package.json (npm ci).
"use strict";

const fs = require("fs");
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");

const CACHE_ID = "MJX-SVG-global-cache";
const STYLE_ID = "MJX-SVG-styles";
// The TeX packages MathJax's browser component tex-mml-chtml.js loaded (all but the
// ones that need the browser or change the page's numbering scheme).
const PACKAGES = AllPackages.filter((name) => !["bussproofs", "autoload", "require"].includes(name));

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));

const MATH = new RegExp(
  String.raw`(<(span|div) class="math(?: [^"]*)?"[^>]*>)` + // the element's opening tag
    String.raw`(\s*<span class="eqno">[\s\S]*?</span>)?` + // a numbered equation's number
    String.raw`([^<]*)` + // the TeX with its delimiters (escaped: holds no "<")
    String.raw`(</\2>)`,
  "g",
);

function unescape(text) {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;/g, "'")
    .replace(/&amp;/g, "&");
}

// Fewer elements for the browser to style and lay out (a chapter has thousands): MathJax
// nests a <g> per MathML node, each moved by translate() and scale(); flattened, every glyph
// (<use>) and rule (<rect>) of a formula sits in the formula's one outer <g>, with the
// composed transform of the groups it was in (the drawing is the same). A formula with
// anything else inside (a colour, a link, a nested <svg>, text) is left as MathJax wrote it.
const LEAVES = new Set(["use", "rect", "path", "line"]);
const NUMBER = /-?\d*\.?\d+(?:e-?\d+)?/g;

function parseTransform(text) {
  // -> [sx, sy, tx, ty] for a list of translate()/scale(), or null for anything else
  let m = [1, 1, 0, 0];
  const re = /\s*(translate|scale)\(([^)]*)\)\s*/gy;
  let match, end = 0;
  while ((match = re.exec(text)) !== null) {
    end = re.lastIndex;
    const args = (match[2].match(NUMBER) || []).map(Number);
    if (match[1] === "translate") {
      const [x, y = 0] = args;
      if (x === undefined) return null;
      m = [m[0], m[1], m[2] + m[0] * x, m[3] + m[1] * y];
    } else {
      const [sx, sy = sx] = args;
      if (sx === undefined) return null;
      m = [m[0] * sx, m[1] * sy, m[2], m[3]];
    }
  }
  return end === text.length ? m : null;
}

function compose(a, b) {
  return [a[0] * b[0], a[1] * b[1], a[2] + a[0] * b[2], a[3] + a[1] * b[3]];
}

function round(x) {
  return String(Math.round(x * 10) / 10);
}

function formatTransform(m) {
  const parts = [];
  if (m[2] !== 0 || m[3] !== 0) parts.push(`translate(${round(m[2])},${round(m[3])})`);
  if (m[0] !== 1 || m[1] !== 1)
    parts.push(m[0] === m[1] ? `scale(${m[0]})` : `scale(${m[0]},${m[1]})`);
  return parts.join(" ");
}

function flatten(container) {
  // container: the mjx-container; returns true if its drawing was flattened
  const svg = adaptor.childNodes(container).find((n) => adaptor.kind(n) === "svg");
  if (!svg) return false;
  const outer = adaptor.childNodes(svg).filter((n) => adaptor.kind(n) !== "#text");
  if (outer.length !== 1 || adaptor.kind(outer[0]) !== "g") return false;
  const top = outer[0];
  const leaves = [];
  const walk = (node, m) => {
    for (const child of adaptor.childNodes(node)) {
      const kind = adaptor.kind(child);
      if (kind === "#text") {
        if (adaptor.value(child).trim()) return false;
        continue;
      }
      const attrs = adaptor.allAttributes(child);
      let own = [1, 1, 0, 0];
      for (const { name, value } of attrs) {
        if (name === "transform") {
          own = parseTransform(value);
          if (!own) return false;
        } else if (kind === "g" && !name.startsWith("data-")) {
          return false; // a colour, a class, a style: keep the groups
        }
      }
      const total = compose(m, own);
      if (kind === "g") {
        if (walk(child, total) === false) return false;
      } else if (LEAVES.has(kind)) {
        leaves.push([child, total]);
      } else {
        return false;
      }
    }
    return true;
  };
  if (walk(top, [1, 1, 0, 0]) === false) return false;
  for (const child of [...adaptor.childNodes(top)]) adaptor.remove(child);
  for (const [leaf, m] of leaves) {
    adaptor.removeAttribute(leaf, "data-c");
    adaptor.removeAttribute(leaf, "data-mml-node");
    const transform = formatTransform(m);
    if (transform) adaptor.setAttribute(leaf, "transform", transform);
    else adaptor.removeAttribute(leaf, "transform");
    adaptor.append(top, leaf);
  }
  return true;
}

function typesetFile(file) {
  let page = fs.readFileSync(file, "utf8");
  const result = { file, formulas: 0, flattened: 0, errors: [] };
  if (page.includes(`id="${CACHE_ID}"`)) {
    result.skipped = true;
    return result;
  }
  // A document per page: its font cache then holds exactly the glyphs this page uses.
  const tex = new TeX({ packages: PACKAGES });
  const svg = new SVG({ fontCache: "global" });
  const doc = mathjax.document("", { InputJax: tex, OutputJax: svg });
  page = page.replace(MATH, (whole, open, tag, eqno, source, close) => {
    const text = unescape(source).trim();
    const display = tag === "div";
    const [left, right] = display ? ["\\[", "\\]"] : ["\\(", "\\)"];
    if (!text.startsWith(left) || !text.endsWith(right)) return whole; // not Sphinx's markup
    const node = doc.convert(text.slice(2, -2), { display, em: 16, ex: 8, containerWidth: 1280 });
    const error = adaptor.getAttribute(node, "data-mjx-error") ||
      (adaptor.outerHTML(node).match(/data-mjx-error="([^"]*)"/) || [])[1];
    if (error) result.errors.push(`${error}: ${text.slice(0, 80)}`);
    else if (flatten(node)) result.flattened += 1;
    result.formulas += 1;
    return open + (eqno || "") + adaptor.outerHTML(node) + close;
  });
  // A page with a TeX error keeps its TeX (and no cache): the next build tries it again.
  if (!result.formulas || result.errors.length) return result;
  const defs = adaptor.innerHTML(svg.fontCache.getCache());
  const cache =
    `<svg id="${CACHE_ID}" xmlns="http://www.w3.org/2000/svg" style="display: none;"` +
    ` aria-hidden="true">${defs}</svg>`;
  const styles = adaptor.textContent(svg.styleSheet(doc));
  page = page.replace(/<body([^>]*)>/, (body) => body + cache);
  page = page.replace(/<\/head>/, `<style id="${STYLE_ID}">${styles}</style>\n</head>`);
  fs.writeFileSync(file, page);
  return result;
}

function main(files) {
  if (!files.length) {
    console.error("usage: node site/mathjax_svg.cjs FILE.html ...");
    return 2;
  }
  let failed = false;
  for (const file of files) {
    const result = typesetFile(file);
    if (result.errors.length) failed = true;
    console.log(JSON.stringify(result));
  }
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
