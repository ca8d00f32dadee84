"""Live parameter explorers (ipywidgets) for notebooks running with a kernel.

Import it explicitly (``from dae_course import explorers``): it needs ipywidgets and
matplotlib, which ``import relaxlib`` does not.

An explorer is a slider plus an image: moving the slider redraws a matplotlib figure with
``draw(fig, value)`` and shows it as PNG. The drawing function has the same signature as
the one :func:`dae_course.sliders.scrub_animation` takes, so a chapter writes it once and
gets both the live explorer (Jupyter, Colab) and the kernel-free slider (the website).
Works with ipywidgets 7 and 8.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Callable, Optional

import ipywidgets as W
from matplotlib.figure import Figure

__all__ = ["ParameterExplorer", "parameter_explorer", "temperature_explorer", "d3_format"]

DrawFn = Callable[[Figure, float], Optional[str]]

#: The image is drawn at this many pixels per displayed (CSS) pixel, then shown at its
#: displayed size: crisp on high-density screens, and never scaled up by the browser.
PIXEL_RATIO = 2

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A format spec: [[fill]align][sign][#][0][width][,][.precision][type] (Python and d3 alike).
_SPEC = re.compile(
    r"^(?P<head>(?:.?[<>=^])?[-+ ]?#?0?\d*,?)(?P<precision>\.\d+)?(?P<type>[a-z%]?)$"
)


def d3_format(spec: str) -> str:
    """The d3-format spec that prints a number as Python's ``format(value, spec)`` does.

    ipywidgets formats a slider's readout in the browser with d3-format, whose ``g`` keeps
    trailing zeros (``.3g`` prints 0.05 as "0.0500") where Python's drops them ("0.05").
    d3's spec without a type is ``g`` with those zeros dropped (in every d3-format
    release, so ipywidgets 7 and 8 alike), and ipywidgets accepts it: ``.3g`` -> ``.3``.
    ``f``, ``d``, ``e`` and ``#`` specs mean the same in both and are returned unchanged.
    (The two differ only for numbers of 10^precision and more, 1.02e+3 against 1.02e+03.)
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"not a number format: {spec!r}")
    if match["type"] == "g" and "#" not in match["head"]:
        return f"{match['head']}{match['precision'] or '.6'}"
    return spec


class ParameterExplorer(W.VBox):
    """A slider, a caption and an image redrawn by ``draw(fig, value)`` on every change.

    Build it with :func:`parameter_explorer` or :func:`temperature_explorer`. Attributes:
    ``slider`` (the slider widget), ``image`` (an ``ipywidgets.Image`` holding the PNG),
    ``caption`` (an ``ipywidgets.HTML`` showing what ``draw`` returned), ``figure`` (the
    matplotlib figure, not managed by pyplot), ``redraws`` (how many times it has drawn).
    Setting ``explorer.slider.value`` redraws, which is how a notebook can assert that it
    works without a browser.

    The figure is ``figsize`` inches at ``dpi`` displayed pixels per inch; its PNG has
    :data:`PIXEL_RATIO` times as many pixels, and the image is told its displayed width
    (the ``width`` of ``ipywidgets.Image``, in ipywidgets 7 and 8), so it stays sharp.

    Displayed where no kernel runs it (a notebook opened with its saved outputs, GitHub,
    a front end without widgets), it says what it is: its fallbacks, ``text/plain`` and
    ``text/html`` beside the widget view, name the live explorer, say to run the notebook
    to move the slider, and (HTML) show the figure as last drawn.
    """

    def __init__(
        self,
        draw: DrawFn,
        slider: W.Widget,
        *,
        figsize: tuple = (7.0, 3.0),
        dpi: int = 80,
        value_format: str = ".3g",
    ):
        self._draw = draw
        self._dpi = dpi
        self.value_format = value_format
        self.slider = slider
        self.figure = Figure(figsize=figsize, dpi=dpi)  # not registered with pyplot
        self.display_width = round(figsize[0] * dpi)  # CSS pixels
        self.image = W.Image(format="png", width=str(self.display_width))
        self.caption = W.HTML()
        self.redraws = 0
        self._caption_text = ""
        super().__init__(children=[slider, self.caption, self.image])
        slider.observe(self._on_change, names="value")
        self.redraw()

    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure for the slider's current value and update the image and caption."""
        value = float(self.slider.value)
        self.figure.clear()
        text = self._draw(self.figure, value)
        buf = io.BytesIO()
        self.figure.savefig(
            buf, format="png", dpi=self._dpi * PIXEL_RATIO, metadata={"Software": None}
        )
        self.image.value = buf.getvalue()
        self._caption_text = "" if text is None else str(text)
        self.caption.value = "" if text is None else f"<code>{_escape(str(text))}</code>"
        self.redraws += 1

    @property
    def value(self) -> float:
        """The slider's current value."""
        return float(self.slider.value)

    def format_value(self, value: Optional[float] = None) -> str:
        """``value`` (default: the current one) as the slider's readout shows it."""
        return format(self.value if value is None else value, self.value_format)

    # -- what a notebook shows where the widget cannot be live

    def _label(self) -> str:
        return f"{self.slider.description} = {self.format_value()}"

    def fallback_text(self) -> str:
        """The ``text/plain`` shown instead of the widget where no kernel runs it."""
        text = (
            f"Live explorer ({self.slider.description}): a slider that redraws a figure."
            " It needs a running kernel: run this notebook's cells to move the slider."
            f" Last drawn for {self._label()}."
        )
        return text + (f"\n{self._caption_text}" if self._caption_text else "")

    def fallback_html(self) -> str:
        """The ``text/html`` shown instead of the widget: the note and the last figure."""
        png = base64.b64encode(self.image.value).decode("ascii")
        label = html.escape(self._label())
        caption = html.escape(self._caption_text)
        return (
            '<div class="dae-explorer-fallback">'
            f"<p><strong>Live explorer ({html.escape(self.slider.description)})</strong>:"
            " a slider that redraws this figure. It needs a running kernel: run this"
            f" notebook's cells to move the slider. Shown: the figure for {label}.</p>"
            f'<img src="data:image/png;base64,{png}" width="{self.display_width}"'
            f' alt="The explorer\'s figure for {label}">'
            + (f"<p><code>{caption}</code></p>" if caption else "")
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        base = getattr(super(), "_repr_mimebundle_", None)
        data = dict(base(**kwargs) or {}) if base is not None else {}
        data.setdefault(
            _WIDGET_VIEW, {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
        )
        data["text/plain"] = self.fallback_text()
        data["text/html"] = self.fallback_html()
        return data

    if hasattr(W.Widget, "_ipython_display_"):  # ipywidgets 7 displays widgets this way

        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parameter_explorer(
    draw: DrawFn,
    *,
    value: float,
    min: float,
    max: float,
    description: str,
    log: bool = True,
    steps: int = 60,
    readout_format: str = ".3g",
    continuous_update: bool = True,
    figsize: tuple = (7.0, 3.0),
    dpi: int = 80,
) -> ParameterExplorer:
    """A live explorer of one positive parameter (a temperature, ``beta``, ``delta``, ...).

    Args:
        draw: ``draw(fig, value)`` draws the whole figure for one value (adding its own
            axes to the empty ``fig``) and may return a caption string.
        value: the initial value, within ``[min, max]``.
        min, max: the slider's range (both > 0 when ``log`` is true).
        description: the slider's label, e.g. ``"T"`` or ``"β"``.
        log: a logarithmic slider (``ipywidgets.FloatLogSlider``), right for scale
            parameters whose interesting range spans decades; otherwise linear.
        steps: number of slider steps across the range.
        readout_format: format of the number shown next to the slider, a Python format
            spec: the slider gets its d3-format equivalent (:func:`d3_format`), so the
            readout prints a value as ``format(value, readout_format)`` does, as a caption
            written with the same spec does (``.3g``: "T = 0.05" in both).
        continuous_update: redraw while dragging (True) or only on release (False).
        figsize, dpi: the figure's size in inches and its displayed pixels per inch (the
            PNG has :data:`PIXEL_RATIO` times as many).

    Returns:
        A :class:`ParameterExplorer` (an ``ipywidgets.VBox``); display it as the last
        expression of a cell.

    Reference: ipywidgets documentation, "Widget List" (FloatLogSlider, Image).
    """
    if not min < max:
        raise ValueError(f"need min < max, got {min} and {max}")
    if not min <= value <= max:
        raise ValueError(f"value {value} is outside [{min}, {max}]")
    style = {"description_width": "initial"}
    layout = W.Layout(width="420px")
    common = dict(
        value=value,
        description=description,
        readout_format=d3_format(readout_format),
        continuous_update=continuous_update,
        style=style,
        layout=layout,
    )
    if log:
        if min <= 0:
            raise ValueError("a logarithmic slider needs min > 0")
        lo, hi = math.log10(min), math.log10(max)
        slider = W.FloatLogSlider(base=10, min=lo, max=hi, step=(hi - lo) / steps, **common)
    else:
        slider = W.FloatSlider(min=min, max=max, step=(max - min) / steps, **common)
    return ParameterExplorer(draw, slider, figsize=figsize, dpi=dpi, value_format=readout_format)


def temperature_explorer(
    draw: DrawFn,
    *,
    value: float = 1.0,
    min: float = 0.01,
    max: float = 100.0,
    description: str = "temperature T",
    **kwargs,
) -> ParameterExplorer:
    """A live explorer of a temperature ``T`` on a logarithmic slider.

    Same as :func:`parameter_explorer` with temperature defaults (``T`` from 0.01 to 100,
    starting at 1). Used in chapter 3 with
    :func:`dae_course.ch03_softmax.figures.draw_softmax_panel` and later for the
    Gumbel-softmax temperature.

    Args:
        draw: ``draw(fig, T)``, see :func:`parameter_explorer`.
        value, min, max, description: the slider's start, range and label.
        **kwargs: passed on to :func:`parameter_explorer`.

    Returns:
        A :class:`ParameterExplorer`.

    Reference: Hinton, Vinyals & Dean, "Distilling the knowledge in a neural network", 2015
    (temperature in the softmax).
    """
    return parameter_explorer(
        draw, value=value, min=min, max=max, description=description, log=True, **kwargs
    )
