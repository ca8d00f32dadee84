"""Chapter 8's worked model: ``data`` (generated images, the digits, the boundary check),
``model`` (the copies of the page's model, objectives and loop), ``evaluation`` (exact and
importance-weighted bounds, gradient quality, results tables), ``figures`` and ``checks``."""
