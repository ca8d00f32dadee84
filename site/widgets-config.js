// Loaded between require.js and the ipywidgets HTML manager (see nb_ipywidgets_js in
// _config.yml), on pages that hold widget state.
(function () {
  // 1. The manager finds the fonts it injects at run time next to the address RequireJS
  //    gives its module, which by default is relative to the page.  Map that module to
  //    the folder this file is served from, where `make vendor` puts the fonts, so pages
  //    at every depth load them from the site itself.
  var src = document.currentScript && document.currentScript.src;
  if (src && window.require) {
    var here = src.replace(/[?#].*$/, "").replace(/\/[^\/]*$/, "");
    window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": here } });
  }

  // 2. Widget labels are typeset through the MathJax 2 call MathJax.Hub.Queue, which
  //    MathJax 3 (the one the book uses) does not have: it throws, and the label is left
  //    unrendered.  Give MathJax 3 that one entry point once it has loaded (deferred
  //    scripts run before DOMContentLoaded; the manager renders after it).
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.version || mathjax.Hub) {
      return;
    }
    mathjax.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        var ready = (mathjax.startup && mathjax.startup.promise) || Promise.resolve();
        ready
          .then(function () {
            return mathjax.typesetPromise(element ? [element] : undefined);
          })
          .catch(function (error) {
            console.warn("MathJax could not typeset a widget label", error);
          });
      },
    };
  });
})();
