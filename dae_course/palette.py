"""Colours, line styles and the matplotlib style shared by every chapter's figures.

Importing this module applies :data:`STYLE` to matplotlib's ``rcParams`` (every chapter's
figure module imports it), so that every figure of the book is drawn alike: type large
enough to read where the page shows it, lines thick enough to see, and category colours
that keep at least 3:1 contrast against the white figure background (WCAG 2.1, 1.4.11)
and stay apart for colour-blind readers (the Okabe–Ito set, darkened where needed).

Colour alone must not carry meaning (WCAG 1.4.1): a figure that tells categories apart
gives each its own line style or marker as well, :func:`category_style` hands out all
three together.

How big is the type on the page? A figure ``w`` inches wide is shown at most as wide as
the text column, about 690 CSS pixels, so a font of ``s`` points appears at about
``s * 690 / (72 * w)`` CSS points when ``w * dpi`` is wider than the column. At the
:data:`MAX_WIDTH` of 7.5 inches, :data:`MIN_FONT_SIZE` (10 pt) shows as about 9.5 pt,
the 11 pt ticks as about 10.5 pt.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = [
    "CATEGORY_COLORS",
    "LINESTYLES",
    "MARKERS",
    "MAX_WIDTH",
    "MIN_FONT_SIZE",
    "STYLE",
    "apply",
    "category_style",
    "contrast_ratio",
    "inch_margins",
    "style",
]

#: Colours of the categories (indices 0, 1, 2, ...) in every chapter's figures: Okabe and
#: Ito's colour-blind-safe set, in the hues the book used before (green, orange, ...), with
#: its light members (yellow, sky blue) replaced by darker ones. Each has at least 3:1
#: contrast against white (``tests/test_plotting.py`` checks it).
CATEGORY_COLORS = (
    "#009E73",  # bluish green  3.4:1
    "#D55E00",  # vermillion    3.9:1
    "#0072B2",  # blue          5.2:1
    "#CC79A7",  # reddish purple 3.1:1
    "#9A7B00",  # ochre         4.0:1
    "#6A3D9A",  # violet        7.6:1
)

#: Line styles to pair with the colours, so that lines differ by more than colour.
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))

#: Markers to pair with the colours (for points, and for lines with few points).
MARKERS = ("o", "s", "^", "D", "v", "P")

#: The widest figure (inches) whose type stays legible at the width of the text column.
MAX_WIDTH = 7.5

#: The smallest font size (points) a figure should use.
MIN_FONT_SIZE = 10.0

#: The rcParams every figure of the book is drawn with.
STYLE = {
    "font.size": 11.0,
    "axes.titlesize": 12.0,
    "axes.labelsize": 11.0,
    "xtick.labelsize": 11.0,
    "ytick.labelsize": 11.0,
    "legend.fontsize": 10.0,
    "legend.title_fontsize": 10.0,
    "figure.titlesize": 12.0,
    "lines.linewidth": 2.0,
    "lines.markersize": 6.0,
    "patch.linewidth": 1.0,
    "axes.linewidth": 1.0,
    "legend.framealpha": 0.9,
    "figure.dpi": 100.0,
    "savefig.dpi": "figure",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
}


def category_style(index: int, *, line: bool = True, marker: bool = False) -> dict:
    """Keyword arguments that draw category ``index`` in its colour and its own line style
    and/or marker, e.g. ``ax.plot(x, y, **category_style(k), label=name)``.

    Args:
        index: the category (wraps around after six).
        line: include its ``linestyle``.
        marker: include its ``marker``.

    Returns:
        A dict with ``color`` and, as asked, ``linestyle`` and ``marker``.
    """
    k = index % len(CATEGORY_COLORS)
    kwargs: dict = {"color": CATEGORY_COLORS[k]}
    if line:
        kwargs["linestyle"] = LINESTYLES[k]
    if marker:
        kwargs["marker"] = MARKERS[k]
    return kwargs


def inch_margins(
    fig,
    *,
    left: float = 0.8,
    right: float = 0.15,
    bottom: float = 0.6,
    top: float = 0.4,
    wspace: float = 0.0,
    hspace: float = 0.0,
    ncols: int = 1,
    nrows: int = 1,
) -> None:
    """Set ``fig``'s subplot margins and gaps in inches, whatever its size.

    ``fig.subplots_adjust`` takes fractions of the figure, so margins that fit one size
    clip the labels of a smaller figure; these stay the room that tick labels and axis
    labels in the book's type need. Much cheaper than ``tight_layout`` for figures that
    are redrawn for every frame of a slider.

    Args:
        fig: the figure (its subplots already added or not).
        left, right, bottom, top: the margins, inches.
        wspace, hspace: the gaps between columns and between rows of axes, inches.
        ncols, nrows: the grid of axes the gaps lie between.
    """
    width, height = fig.get_size_inches()
    axes_w = max(width - left - right - (ncols - 1) * wspace, 0.1 * width) / ncols
    axes_h = max(height - bottom - top - (nrows - 1) * hspace, 0.1 * height) / nrows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace / axes_w,
        hspace=hspace / axes_h,
    )


def contrast_ratio(color: str, background: str = "#ffffff") -> float:
    """The WCAG 2.1 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""

    def luminance(hex_color: str) -> float:
        channels = [int(hex_color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(color), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rc() -> dict:
    from cycler import cycler

    return {**STYLE, "axes.prop_cycle": cycler(color=list(CATEGORY_COLORS))}


def apply() -> None:
    """Set matplotlib's rcParams to the book's style (done once when this module is
    imported; call again after ``matplotlib.rcdefaults()``)."""
    import matplotlib as mpl

    mpl.rcParams.update(_rc())


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The book's style inside a ``with`` block only (``matplotlib.rc_context``)."""
    import matplotlib as mpl

    with mpl.rc_context(_rc()):
        yield


try:  # the colours above need no matplotlib; the style does
    import matplotlib  # noqa: F401
except ImportError:  # pragma: no cover - matplotlib is installed wherever figures are drawn
    pass
else:
    apply()
