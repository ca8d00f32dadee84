/* MathJax typesets the page in short slices instead of one long task.

   By default MathJax typesets every equation of the page in one go: on a chapter with a
   few hundred formulas that blocks the page for seconds on a phone (no scrolling, no
   clicks). Here MathJax starts without typesetting (startup.typeset: false) and its
   pageReady typesets the page's math elements in document order, a few at a time, each
   slice sized to take about SLICE_MS, yielding to the browser in between. Every formula
   ends up typeset exactly as before, with its hidden MathML for screen readers;
   MathJax.startup.promise resolves once all are done. Added by site/dae_site.py to the
   pages that load MathJax, before MathJax itself (both deferred). */
(function () {
  "use strict";
  var SLICE_MS = 8;
  var SELECTOR = ".math, .tex2jax_process, .mathjax_process, .output_area";
  var config = (window.MathJax = window.MathJax || {});
  var startup = (config.startup = config.startup || {});
  startup.typeset = false;
  startup.pageReady = function () {
    var MJ = window.MathJax;
    var nodes = Array.prototype.slice.call(document.querySelectorAll(SELECTOR));
    var next = 0;
    var size = 2;
    function pause() {
      return new Promise(function (resolve) { setTimeout(resolve, 0); });
    }
    function slice() {
      if (next >= nodes.length) return Promise.resolve();
      var batch = nodes.slice(next, next + size);
      next += batch.length;
      var start = performance.now();
      return MJ.typesetPromise(batch).then(function () {
        var took = Math.max(performance.now() - start, 0.5);
        size = Math.max(1, Math.min(64, Math.round((batch.length * SLICE_MS) / took)));
        return pause().then(slice);
      });
    }
    return MJ.startup.defaultPageReady().then(slice);
  };
})();
