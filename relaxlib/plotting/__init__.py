"""Figures and kernel-free animations for the book's chapters.

Import explicitly (``from relaxlib import plotting``): it needs matplotlib, which
``import relaxlib`` does not.

* Generic helpers that every chapter reuses live in :mod:`relaxlib.plotting.core`:
  :func:`scrub_animation` turns a drawing function ``draw(fig, value)`` into a matplotlib
  animation over a list of parameter values, and :func:`jshtml` turns that animation into a
  self-contained HTML slider (no request to another host, so it works on the offline
  website). The same ``draw`` function feeds the live explorer of :mod:`relaxlib.widgets`.
* Each chapter's drawings live in a module named after its topic (``softmax`` for
  chapter 3, ...), e.g. ``from relaxlib.plotting import softmax``.
"""

from .core import (
    CATEGORY_COLORS,
    external_urls,
    jshtml,
    jshtml_frame_count,
    offline_jshtml,
    scrub_animation,
)
from .softmax import draw_softmax_panel, softmax_temperature_figure

__all__ = [
    "CATEGORY_COLORS",
    "draw_softmax_panel",
    "external_urls",
    "jshtml",
    "jshtml_frame_count",
    "offline_jshtml",
    "scrub_animation",
    "softmax_temperature_figure",
]
