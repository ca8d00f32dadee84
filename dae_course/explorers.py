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

import io
import math
from typing import Callable, Optional

import ipywidgets as W
from matplotlib.figure import Figure

__all__ = ["ParameterExplorer", "parameter_explorer", "temperature_explorer"]

DrawFn = Callable[[Figure, float], Optional[str]]


class ParameterExplorer(W.VBox):
    """A slider, a caption and an image redrawn by ``draw(fig, value)`` on every change.

    Build it with :func:`parameter_explorer` or :func:`temperature_explorer`. Attributes:
    ``slider`` (the slider widget), ``image`` (an ``ipywidgets.Image`` holding the PNG),
    ``caption`` (an ``ipywidgets.HTML`` showing what ``draw`` returned), ``figure`` (the
    matplotlib figure, not managed by pyplot), ``redraws`` (how many times it has drawn).
    Setting ``explorer.slider.value`` redraws, which is how a notebook can assert that it
    works without a browser.
    """

    def __init__(
        self,
        draw: DrawFn,
        slider: W.Widget,
        *,
        figsize: tuple = (7.0, 3.0),
        dpi: int = 80,
    ):
        self._draw = draw
        self._dpi = dpi
        self.slider = slider
        self.figure = Figure(figsize=figsize, dpi=dpi)  # not registered with pyplot
        self.image = W.Image(format="png")
        self.caption = W.HTML()
        self.redraws = 0
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
        self.figure.savefig(buf, format="png", dpi=self._dpi)
        self.image.value = buf.getvalue()
        self.caption.value = "" if text is None else f"<code>{_escape(str(text))}</code>"
        self.redraws += 1

    @property
    def value(self) -> float:
        """The slider's current value."""
        return float(self.slider.value)


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
        readout_format: format of the number shown next to the slider.
        continuous_update: redraw while dragging (True) or only on release (False).
        figsize, dpi: size and resolution of the drawn figure.

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
        readout_format=readout_format,
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
    return ParameterExplorer(draw, slider, figsize=figsize, dpi=dpi)


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
