/* Wide display equations scroll sideways inside their own box (site/static/dae.css), so
   that no page is wider than a phone. A box that scrolls must be reachable from the
   keyboard (WCAG 2.1.1), as the theme does for code blocks and outputs: each one that
   overflows, once MathJax has typeset the page and whenever the window is resized, becomes
   a tab stop with a name; the others are not tab stops. Added by site/dae_site.py to the
   pages that load MathJax. */
(function () {
  "use strict";
  var SELECTOR = ".bd-article div.math";
  function update() {
    // all reads first, then the writes: one layout, not one per equation
    var boxes = Array.prototype.slice.call(document.querySelectorAll(SELECTOR));
    var wide = boxes.map(function (box) { return box.scrollWidth > box.clientWidth + 1; });
    boxes.forEach(function (box, i) {
      if (wide[i] && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "equation (scrolls sideways)");
      } else if (!wide[i] && box.hasAttribute("tabindex")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  // after the next frame is drawn, when the layout is already up to date
  function soon() {
    requestAnimationFrame(function () { setTimeout(update, 0); });
  }
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(soon, 150);
  });
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    var ready = mj && mj.startup && mj.startup.promise;
    (ready || Promise.resolve()).then(soon);
  });
})();
