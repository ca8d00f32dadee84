/* Keyboard access to the boxes that scroll (WCAG 2.1.1), without laying out the page.

   A code block, output or wide equation that overflows its box scrolls inside it, and a
   keyboard user scrolls it by giving it focus: it must be a tab stop while, and only
   while, it overflows. pydata-sphinx-theme does that on load by measuring every such box,
   which makes the browser lay out the whole page at once; with the long chapters'
   sections drawn only near the screen (content-visibility: auto in dae.css), that
   measuring costs more than drawing the page did. So site/dae_site.py switches the
   theme's measuring off, and

   * when the site is built, every box that can overflow on a phone (a line of code longer
     than fits in 320 px, an equation wider than that, a table) gets tabindex="0" and the
     attribute data-dae-wide: a keyboard user can reach it before it is ever drawn;
   * here, each box gets its exact state (0 when it overflows, -1 when not) once the
     browser lays it out anyway: on load for what is drawn, when a section starts being
     drawn (the contentvisibilityautostatechange event), and after the window is resized
     (a section no longer drawn goes back to the build's state).

   Reads come before writes, so the browser lays out at most once per update. */
(() => {
  "use strict";
  const BOXES = [
    "pre",
    ".cell_output > .output",
    ".pst-scrollable-table-container",
    ".nboutput > .output_area",
    ".jp-RenderedHTMLCommon",
  ].join(", ");
  const SECTIONS = ".bd-article > section > section"; // content-visibility: auto (dae.css)
  const skipped = new WeakSet(); // sections the browser does not draw now

  const isSkipped = (box) => {
    const section = box.closest(SECTIONS);
    return section !== null && skipped.has(section);
  };
  const buildState = (box) => (box.hasAttribute("data-dae-wide") ? 0 : -1);

  // The boxes in root (all of them, or with sections=false those outside the sections).
  function update(root, sections = true) {
    const boxes = Array.from(root.querySelectorAll(BOXES)).filter(
      (box) => sections || !box.closest(SECTIONS),
    );
    const states = boxes.map((box) =>
      isSkipped(box)
        ? buildState(box)
        : box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight
          ? 0
          : -1,
    );
    boxes.forEach((box, i) => {
      if (box.tabIndex !== states[i]) box.tabIndex = states[i];
    });
  }

  // A section that starts being drawn is measured in a task of its own, after the event:
  // one scroll can bring several, and measuring them in one go makes one long task (the
  // browser lays out each of them) that holds up the reader's next input.
  const drawn = (section) => setTimeout(() => update(section), 0);

  function start() {
    const main = document.getElementById("main-content") || document.body;
    for (const section of document.querySelectorAll(SECTIONS)) {
      // The section itself is drawn (as a box of its remembered size); what it holds is
      // skipped. Its first state is decided before this script runs: ask its heading.
      const first = section.firstElementChild;
      if (first && first.checkVisibility && !first.checkVisibility({ contentVisibilityAuto: true }))
        skipped.add(section);
      else drawn(section);
      section.addEventListener("contentvisibilityautostatechange", (event) => {
        if (event.skipped) {
          skipped.add(section);
        } else {
          skipped.delete(section);
          drawn(section);
        }
      });
    }
    update(main, false);
    let timer = null;
    window.addEventListener("resize", () => {
      clearTimeout(timer);
      timer = setTimeout(() => update(main), 300);
    });
  }

  // Overflow depends on the stylesheets and fonts: measure once they have loaded.
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
