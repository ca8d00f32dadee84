"""Generic plotting helpers shared by every chapter: kernel-free sliders from a drawing function.

:func:`scrub_animation` turns a drawing function ``draw(fig, value)`` into a matplotlib
animation over a list of parameter values, and :func:`jshtml` turns that animation into a
self-contained HTML slider (no request to another host, so it works on the offline
website). The same ``draw`` function feeds the live ipywidgets explorer in
:mod:`dae_course.explorers`. Needs matplotlib.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Callable, Optional, Sequence, Union

import matplotlib as mpl
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

__all__ = [
    "scrub_animation",
    "jshtml",
    "offline_jshtml",
    "jshtml_frame_count",
    "external_urls",
]

DrawFn = Callable[[Figure, float], Optional[str]]

# --------------------------------------------------------------------------------------
# Kernel-free sliders: matplotlib's jshtml, made offline
# --------------------------------------------------------------------------------------

# Font Awesome 4 icon class -> a Unicode glyph found in common fonts (DejaVu, Noto, Segoe UI,
# the Apple system fonts). U+FE0E asks for the text (not emoji) presentation of the triangles.
_ICON_GLYPHS = {
    "fa-minus": "\u2212",  # slower: minus sign
    "fa-fast-backward": "\u21e4",  # first frame: leftwards arrow to bar
    "fa-step-backward": "\u2039",  # previous frame: single left angle quotation mark
    "fa-play fa-flip-horizontal": "\u25c0\ufe0e",  # play backwards: black left triangle
    "fa-pause": "\u275a\u275a",  # pause: two heavy vertical bars
    "fa-play": "\u25b6\ufe0e",  # play: black right triangle
    "fa-step-forward": "\u203a",  # next frame: single right angle quotation mark
    "fa-fast-forward": "\u21e5",  # last frame: rightwards arrow to bar
    "fa-plus": "+",  # faster
}

_FA_LINK = re.compile(r"<link\b[^>]*font-awesome[^>]*>\s*", re.IGNORECASE | re.DOTALL)
_FA_ICON = re.compile(r'<i class="fa ([^"]*)"\s*>\s*</i>')
_FRAME = re.compile(r'frames\[\d+\] = "data:image/')
_counter = itertools.count()


def _frame_total(anim: FuncAnimation) -> Optional[int]:
    """The number of frames ``anim`` will render, when matplotlib knows it."""
    count = getattr(anim, "_save_count", None)
    return int(count) if isinstance(count, int) else None


def _glyph(match: re.Match) -> str:
    classes = match.group(1).strip()
    glyph = _ICON_GLYPHS.get(classes)
    if glyph is None:  # an icon matplotlib added after this was written: keep a label
        glyph = classes.replace("fa-", "").replace("-", " ")
    return f'<span aria-hidden="true">{glyph}</span>'


def offline_jshtml(html: str, html_id: Optional[str] = None, alt: Optional[str] = None) -> str:
    """Make the output of ``FuncAnimation.to_jshtml()`` independent of any other host.

    matplotlib's template links the Font Awesome 4 stylesheet from a CDN and draws its
    buttons with ``<i class="fa fa-...">`` icons. This removes the ``<link>`` and replaces
    each icon by a Unicode glyph (the buttons keep their ``title`` and ``aria-label``), so
    the page requests nothing from another host and the buttons still show a symbol.

    Args:
        html: the string returned by ``to_jshtml()``.
        html_id: if given, replaces matplotlib's random element id (a uuid4 hex string) by
            this one, so the same animation gives the same HTML on every run. Letters,
            digits and ``_`` only.
        alt: if given, an ``alt`` text for the animation's ``<img>`` element.

    Returns:
        The rewritten HTML string.

    Reference: matplotlib ``animation.HTMLWriter`` and its template in
    ``matplotlib/_animation_data.py``.
    """
    html = _FA_LINK.sub("", html)
    html = _FA_ICON.sub(_glyph, html)
    if html_id is not None:
        if not re.fullmatch(r"\w+", html_id):
            raise ValueError(f"html_id must be letters, digits or '_', got {html_id!r}")
        match = re.search(r'id="_anim_img(\w+)"', html)
        if match:
            html = html.replace(match.group(1), html_id)
    if alt is not None:
        escaped = (
            alt.replace("&", "&amp;")
            .replace('"', "&quot;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
        )
        html = re.sub(r'(<img id="_anim_img\w+")', rf'\1 alt="{escaped}"', html, count=1)
    return html


_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\\\s]*")
_URL = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", re.IGNORECASE)


def external_urls(html: str) -> list:
    """Addresses on other hosts that ``html`` mentions, ignoring its embedded ``data:`` images.

    The frames of a jshtml slider are base64 PNGs, whose alphabet contains "http" by chance
    in a few percent of renderings; they are removed first, so a check
    ``assert not external_urls(slider.data)`` tests the markup and scripts alone.

    Args:
        html: an HTML string (e.g. ``jshtml(...).data``).

    Returns:
        The list of ``http://``, ``https://`` or protocol-relative ``//host`` addresses found.
    """
    return _URL.findall(_DATA_URI.sub("", html))


def jshtml_frame_count(html: str) -> int:
    """Number of frames embedded in a jshtml animation (``frames[i] = "data:image/..."``).

    Args:
        html: the HTML of an animation made with ``embed_frames=True`` (the default).

    Returns:
        The number of embedded frames.
    """
    return len(_FRAME.findall(html))


def jshtml(
    animation: Union[FuncAnimation, Callable[[], FuncAnimation]],
    *,
    fps: Optional[float] = None,
    default_mode: str = "once",
    alt: Optional[str] = None,
    html_id: Optional[str] = None,
    close: bool = True,
    max_bytes: Optional[int] = 3_000_000,
):
    """A matplotlib animation as an offline, kernel-free HTML slider for notebooks and the book.

    Renders every frame to PNG with ``FuncAnimation.to_jshtml()`` (embedded as base64), then
    removes what would load from another host (see :func:`offline_jshtml`). The reader can
    scrub through the frames with a range slider or play them, with no Python kernel.

    Args:
        animation: a ``FuncAnimation``, or a zero-argument callable that builds one (for
            example ``lambda: scrub_animation(draw, values)``).
        fps: frames per second when playing; default: from the animation's interval.
        default_mode: what "play" does at the end: ``'once'``, ``'loop'`` or ``'reflect'``.
        alt: alternative text for the image (accessibility).
        html_id: the element id; default: a hash of ``alt`` and a counter of the calls in
            this process, so a re-run gives the same HTML on any machine and two
            animations on one page never clash.
        close: close the animation's figure afterwards, so that the notebook does not also
            show its last frame as a static image.
        max_bytes: raise ``ValueError`` if the HTML is larger (keep pages light: use fewer
            frames, a smaller ``figsize`` or a lower ``dpi``); ``None`` disables the check.

    Returns:
        ``IPython.display.HTML``; its ``.data`` is the HTML string.

    Reference: matplotlib, ``matplotlib.animation.Animation.to_jshtml``.
    """
    from IPython.display import HTML

    anim = animation if isinstance(animation, FuncAnimation) else animation()
    if not isinstance(anim, FuncAnimation):
        raise TypeError(f"expected a FuncAnimation or a callable returning one, got {type(anim)}")
    expected = _frame_total(anim)
    # matplotlib drops the frames past ``animation.embed_limit`` with only a warning; lift
    # the limit here and enforce ``max_bytes`` below instead, so every frame is rendered.
    with mpl.rc_context(
        {"savefig.dpi": "figure", "savefig.bbox": None, "animation.embed_limit": 2**20}
    ):
        raw = anim.to_jshtml(fps=fps, default_mode=default_mode)
    if expected is not None and jshtml_frame_count(raw) != expected:
        raise ValueError(
            f"the animation has {expected} frames but {jshtml_frame_count(raw)} were rendered"
        )
    if html_id is None:
        # Neither matplotlib's random uuid nor the frames' pixels (which differ between
        # FreeType builds): the alt text and the call's place in the notebook.
        digest = hashlib.sha1((alt or "").encode()).hexdigest()[:10]
        html_id = f"{digest}_{next(_counter)}"
    html = offline_jshtml(raw, html_id=html_id, alt=alt)
    if close:
        import matplotlib.pyplot as plt

        plt.close(anim._fig)
    if max_bytes is not None and len(html.encode()) > max_bytes:
        raise ValueError(
            f"animation HTML is {len(html.encode())} bytes (> {max_bytes}); use fewer frames, "
            "a smaller figsize or a lower dpi"
        )
    return HTML(html)


def scrub_animation(
    draw: DrawFn,
    values: Sequence[float],
    *,
    figsize: tuple = (7.0, 3.0),
    dpi: int = 72,
    interval: int = 250,
) -> FuncAnimation:
    """An animation with one frame per parameter value, drawn by ``draw(fig, value)``.

    Each frame clears the figure and calls ``draw(fig, value)``, which adds its own axes
    (so one drawing function serves both this animation and the live explorer of
    :func:`dae_course.explorers.parameter_explorer`). Pass the result to :func:`jshtml`.

    Args:
        draw: ``draw(fig, value)`` draws the whole figure for one parameter value; what it
            returns is ignored here.
        values: the parameter values, one per frame (20–30 keeps a page light).
        figsize: figure size in inches.
        dpi: resolution of the frames (72–80 is plenty for a web page).
        interval: milliseconds between frames when playing.

    Returns:
        ``matplotlib.animation.FuncAnimation`` (not yet rendered).

    Reference: matplotlib, ``matplotlib.animation.FuncAnimation``.
    """
    import matplotlib.pyplot as plt

    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must not be empty")
    with plt.ioff():
        fig = plt.figure(figsize=figsize, dpi=dpi)

    def update(i: int):
        fig.clear()
        draw(fig, values[i])
        return []

    return FuncAnimation(
        fig,
        update,
        frames=len(values),
        init_func=lambda: [],
        interval=interval,
        blit=False,
        repeat=False,
    )
