"""Generic plotting helpers shared by every chapter: kernel-free sliders from a drawing function.

:func:`scrub_animation` turns a drawing function ``draw(fig, value)`` into a matplotlib
animation over a list of parameter values, and :func:`jshtml` turns that animation into a
self-contained HTML slider (no request to another host, so it works on the offline
website). The same ``draw`` function feeds the live ipywidgets explorer in
:mod:`dae_course.explorers`. Needs matplotlib.

The slider is accessible: its range input has a visible label naming the parameter and
announces the parameter's value (``aria-valuetext``, e.g. "T = 0.5", or the caption that
``draw`` returned for that frame, also shown under the image), the image scales down to
the width of a phone, and the buttons wrap. Frames are drawn at most
:data:`MAX_FRAME_WIDTH` inches wide (type stays legible where the page shows them) and
stored as palette PNGs (a fraction of the bytes of matplotlib's RGBA frames).
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import io
import itertools
import json
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
    "compress_frames",
    "external_urls",
    "MAX_FRAME_WIDTH",
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
_FRAME_DATA = re.compile(r'(frames\[\d+\] = "data:image/png;base64,)([A-Za-z0-9+/=\\\n]*)(")')
_counter = itertools.count()

#: Frames wider than this (inches) are drawn at this width, their height scaled alike, so
#: that their type is not shrunk below legibility where the page shows them (about 690 CSS
#: pixels at most; 7 inches at the default 96 dpi are 672 pixels, shown one to one).
MAX_FRAME_WIDTH = 7.0

# Responsive layout for the slider (matplotlib's own style block fixes the range input at
# 374 px and lets the image overflow a phone's screen).
_STYLE = """<style>
.animation { max-width: 100%; }
.animation img { max-width: 100%; height: auto; }
.animation .anim-controls { display: flex; flex-direction: column; align-items: center; }
.animation .anim-slider-row { display: flex; flex-wrap: wrap; align-items: center;
  justify-content: center; gap: 0.25em 0.75em; max-width: 100%; }
.animation input[type=range].anim-slider { width: 374px; max-width: 100%; min-width: 0; }
.animation .anim-value { margin: 0.25em 0; }
.animation .anim-buttons { display: flex; flex-wrap: wrap; justify-content: center; gap: 2px; }
.animation .anim-buttons button { min-width: 36px; min-height: 32px; }
.animation .anim-state { display: flex; flex-wrap: wrap; justify-content: center; }
</style>
"""


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


def _escape(text: str) -> str:
    return _html.escape(text, quote=True)


def offline_jshtml(
    html: str,
    html_id: Optional[str] = None,
    alt: Optional[str] = None,
    *,
    label: Optional[str] = None,
    value_texts: Optional[Sequence[str]] = None,
) -> str:
    """Make the output of ``FuncAnimation.to_jshtml()`` independent of any other host,
    and accessible.

    matplotlib's template links the Font Awesome 4 stylesheet from a CDN and draws its
    buttons with ``<i class="fa fa-...">`` icons. This removes the ``<link>`` and replaces
    each icon by a Unicode glyph (the buttons keep their ``title`` and ``aria-label``), so
    the page requests nothing from another host and the buttons still show a symbol. It
    also adds a style block that lets the slider shrink to the width of a phone.

    Args:
        html: the string returned by ``to_jshtml()``.
        html_id: if given, replaces matplotlib's random element id (a uuid4 hex string) by
            this one, so the same animation gives the same HTML on every run. Letters,
            digits and ``_`` only.
        alt: if given, an ``alt`` text for the animation's ``<img>`` element.
        label: if given, a visible ``<label>`` for the range input, naming what it
            changes (e.g. "temperature T").
        value_texts: if given, one text per frame (e.g. "T = 0.5"): the range input
            announces the current one as its ``aria-valuetext`` and the slider shows it
            under the image, updated whenever the frame changes (slider, buttons, play).

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
    html = _STYLE + html
    match = re.search(r'<input id="_anim_slider(\w+)"', html)
    if match is None:
        return html
    anim_id = match.group(1)
    slider = f"_anim_slider{anim_id}"
    if label is not None:
        html = html.replace(
            f'<input id="{slider}"',
            f'<div class="anim-slider-row"><label class="anim-label" for="{slider}">'
            f'{_escape(label)}</label>\n    <input id="{slider}"',
            1,
        )
        # close the row after the range input
        html = re.sub(rf'(<input id="{slider}"[^>]*>)', r"\1</div>", html, count=1, flags=re.DOTALL)
    if value_texts:
        texts = [str(text) for text in value_texts]
        html = html.replace(
            f'<input id="{slider}"',
            f'<input id="{slider}" aria-valuetext="{_escape(texts[0])}"',
            1,
        )
        readout = (
            f'\n    <p class="anim-value" id="_anim_value{anim_id}" aria-hidden="true">'
            f"{_escape(texts[0])}</p>"
        )
        html = re.sub(
            rf'(<input id="{slider}"[^>]*>(?:</div>)?)', lambda m: m.group(1) + readout, html,
            count=1, flags=re.DOTALL,
        )  # fmt: skip
        html += _VALUE_SCRIPT.replace("{id}", anim_id).replace(
            "{texts}", json.dumps(texts, ensure_ascii=False).replace("</", "<\\/")
        )
    return html


# Keeps the range input's aria-valuetext and the readout under the image in step with the
# frame shown. matplotlib's Animation sets the frame from the slider, the buttons and the
# play timer through set_frame; it is created in a setTimeout(0) registered before this
# script's, so it exists when ours runs.
_VALUE_SCRIPT = """
<script>
  (function() {
    var texts = {texts};
    var slider = document.getElementById("_anim_slider{id}");
    var readout = document.getElementById("_anim_value{id}");
    if (!slider) return;
    function show() {
      var i = Math.max(0, Math.min(texts.length - 1, parseInt(slider.value, 10) || 0));
      slider.setAttribute("aria-valuetext", texts[i]);
      if (readout) readout.textContent = texts[i];
    }
    slider.addEventListener("input", show);
    slider.addEventListener("change", show);
    setTimeout(function() {
      var anim = window["anim{id}"];
      if (anim && anim.set_frame) {
        var setFrame = anim.set_frame;
        anim.set_frame = function(frame) { setFrame.call(this, frame); show(); };
      }
      show();
    }, 0);
  })();
</script>
"""


def _palette_png(data: bytes, colors: int) -> bytes:
    """A PNG re-encoded with at most ``colors`` colours (flattened onto white)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
        else:
            flat = image.convert("RGB")
    quantized = flat.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=0)
    out = io.BytesIO()
    quantized.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def compress_frames(html: str, colors: int = 64) -> str:
    """Re-encode the embedded PNG frames of a jshtml animation as palette PNGs.

    matplotlib stores each frame as an RGBA PNG; line plots use few colours, and a palette
    of ``colors`` entries (no dithering) draws them indistinguishably at a third to a fifth
    of the bytes. A frame that would not get smaller is kept as it was.

    Args:
        html: the HTML of an animation made with ``embed_frames=True`` (the default).
        colors: the palette size, 2 to 256.

    Returns:
        The HTML with every frame re-encoded (base64 on one line each).
    """
    if not 2 <= colors <= 256:
        raise ValueError(f"colors must be between 2 and 256, got {colors}")

    def recode(match: re.Match) -> str:
        data = base64.b64decode(match.group(2).replace("\\\n", "").replace("\n", ""))
        encoded = base64.b64encode(_palette_png(data, colors)).decode("ascii")
        return match.group(1) + encoded + match.group(3)

    return _FRAME_DATA.sub(recode, html)


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


def _infer_label(texts: Sequence[str]) -> Optional[str]:
    """The parameter's symbol when every caption starts with the same "X = " (else None)."""
    names = {m.group(1) if m else None for m in (re.match(r"\s*([^\s=:,]+) = ", t) for t in texts)}
    name = names.pop() if len(names) == 1 else None
    return name


def jshtml(
    animation: Union[FuncAnimation, Callable[[], FuncAnimation]],
    *,
    fps: Optional[float] = None,
    default_mode: str = "once",
    alt: Optional[str] = None,
    html_id: Optional[str] = None,
    close: bool = True,
    max_bytes: Optional[int] = 3_000_000,
    label: Optional[str] = None,
    values: Optional[Sequence[float]] = None,
    value_format: str = "{label} = {value:.3g}",
    colors: Optional[int] = 64,
):
    """A matplotlib animation as an offline, kernel-free HTML slider for notebooks and the book.

    Renders every frame to PNG with ``FuncAnimation.to_jshtml()`` (embedded as base64), then
    removes what would load from another host (see :func:`offline_jshtml`). The reader can
    scrub through the frames with a range slider or play them, with no Python kernel.

    The range input is labelled and announces the parameter's value, not a frame number
    (``aria-valuetext``), also shown under the image: for each frame, the caption its
    ``draw`` function returned (an animation from :func:`scrub_animation` keeps them), else
    ``value_format`` filled with ``label`` and the frame's value.

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
        label: the slider's visible label, naming the parameter (e.g. ``"T"`` or
            ``"temperature T"``); default: the one given to :func:`scrub_animation`, else
            the symbol every caption starts with ("T = ..."), else ``"frame"``.
        values: the parameter's value at each frame; default: those given to
            :func:`scrub_animation`, else the frame numbers 1, 2, ...
        value_format: the announced text of a frame whose ``draw`` returned no caption,
            with ``{label}`` and ``{value}``.
        colors: store the frames as palette PNGs of this many colours (see
            :func:`compress_frames`); ``None`` keeps matplotlib's RGBA frames.

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
    count = jshtml_frame_count(raw)
    if expected is not None and count != expected:
        raise ValueError(f"the animation has {expected} frames but {count} were rendered")
    if colors is not None:
        raw = compress_frames(raw, colors)
    if html_id is None:
        # Neither matplotlib's random uuid nor the frames' pixels (which differ between
        # FreeType builds): the alt text and the call's place in the notebook.
        digest = hashlib.sha1((alt or "").encode()).hexdigest()[:10]
        html_id = f"{digest}_{next(_counter)}"

    captions = list(getattr(anim, "dae_captions", None) or [])
    if values is None:
        values = getattr(anim, "dae_values", None)
    captions_ok = len(captions) == count and all(isinstance(c, str) and c for c in captions)
    if label is None:
        label = getattr(anim, "dae_label", None)
    if label is None:
        label = (_infer_label(captions) if captions_ok else None) or (
            "parameter" if values is not None else "frame"
        )
    if captions_ok:
        texts = captions
    elif values is not None and len(values) == count:
        texts = [value_format.format(label=label, value=v) for v in values]
    else:
        texts = [f"frame {i + 1} of {count}" for i in range(count)]
    html = offline_jshtml(raw, html_id=html_id, alt=alt, label=label, value_texts=texts)
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
    dpi: int = 96,
    interval: int = 250,
    label: Optional[str] = None,
    max_width: Optional[float] = MAX_FRAME_WIDTH,
) -> FuncAnimation:
    """An animation with one frame per parameter value, drawn by ``draw(fig, value)``.

    Each frame clears the figure and calls ``draw(fig, value)``, which adds its own axes
    (so one drawing function serves both this animation and the live explorer of
    :func:`dae_course.explorers.parameter_explorer`). Pass the result to :func:`jshtml`,
    which labels the slider with ``label`` and announces each frame by the caption ``draw``
    returned for it (kept in the animation's ``dae_captions`` as the frames are drawn).

    Args:
        draw: ``draw(fig, value)`` draws the whole figure for one parameter value and may
            return a caption (e.g. ``"T = 0.5: soft max = 3.7"``).
        values: the parameter values, one per frame (20–30 keeps a page light).
        figsize: figure size in inches; one wider than ``max_width`` is scaled down to it,
            height alike, so that its type stays legible where the page shows it.
        dpi: resolution of the frames (96 draws ``max_width`` as 672 pixels, about the
            width of the book's text column).
        interval: milliseconds between frames when playing.
        label: the parameter's name for the slider's label (e.g. ``"T"``).
        max_width: see ``figsize``; ``None`` keeps ``figsize`` as given.

    Returns:
        ``matplotlib.animation.FuncAnimation`` (not yet rendered), with the attributes
        ``dae_values``, ``dae_label`` and ``dae_captions`` that :func:`jshtml` reads.

    Reference: matplotlib, ``matplotlib.animation.FuncAnimation``.
    """
    import matplotlib.pyplot as plt

    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must not be empty")
    width, height = figsize
    if max_width is not None and width > max_width:
        width, height = max_width, height * max_width / width
    with plt.ioff():
        fig = plt.figure(figsize=(width, height), dpi=dpi)
    captions: list = [None] * len(values)

    def update(i: int):
        fig.clear()
        captions[i] = draw(fig, values[i])
        return []

    anim = FuncAnimation(
        fig,
        update,
        frames=len(values),
        init_func=lambda: [],
        interval=interval,
        blit=False,
        repeat=False,
    )
    anim.dae_values = values
    anim.dae_label = label
    anim.dae_captions = captions
    return anim
