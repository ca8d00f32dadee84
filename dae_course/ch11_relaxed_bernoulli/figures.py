"""Drawings of chapter 11: the binary Concrete density, estimator variances, and the
probability's path during training.

Needs matplotlib. :func:`draw_density_panel` has the ``draw(fig, value)`` signature shared
by :func:`dae_course.sliders.scrub_animation` and
:func:`dae_course.explorers.temperature_explorer`. The figures draw what the page computed
(the page's own log-density function, measured variances, recorded paths); they estimate
nothing themselves.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
from matplotlib.figure import Figure

from .. import palette
from . import problems

__all__ = ["draw_density_panel", "density_figure", "variance_figure", "trajectories_figure"]

LogDensity = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]

_GRID = torch.linspace(0.002, 0.998, 499, dtype=torch.float64)
_YMAX = 4.0


def _density(log_density: LogDensity, logits: float, temperature: float) -> torch.Tensor:
    a = torch.tensor(float(logits), dtype=torch.float64)
    return log_density(_GRID, a, float(temperature)).exp().clamp(max=10 * _YMAX)


def draw_density_panel(
    fig: Figure, temperature: float, *, log_density: LogDensity, logits: float
) -> str:
    """Draw the binary Concrete density for one temperature, with P(X > 1/2) shaded.

    Args:
        fig: an empty figure (the panel adds its own axes).
        temperature: :math:`T`.
        log_density: ``log_density(x, logits, T)``, the page's log-density.
        logits: the logit :math:`a` (a number).

    Returns:
        A caption naming :math:`T` and the mass above 1/2, from the closed-form CDF.
    """
    ax = fig.add_subplot(1, 1, 1)
    p = _density(log_density, logits, temperature)
    x = _GRID.tolist()
    ax.plot(x, p.tolist(), **palette.category_style(2))
    upper = _GRID > 0.5
    ax.fill_between(_GRID[upper].tolist(), p[upper].tolist(), alpha=0.25, color="0.5")
    ax.axvline(0.5, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, _YMAX)
    ax.set_xlabel("x")
    ax.set_ylabel("density p(x)")
    # P(X > 1/2) = 1 - CDF(1/2) = sigma(a) from the closed-form CDF: a trapezoid sum on the
    # grid would miss the density's integrable spikes at 0 and 1.
    half = torch.tensor([0.5], dtype=torch.float64)
    mass = 1.0 - float(problems.binary_concrete_cdf(half, float(logits), float(temperature))[0])
    ax.set_title(f"binary Concrete, a = {float(logits):.2f}, T = {temperature:.3g}")
    return f"T = {temperature:.3g}: mass above 1/2 (closed-form CDF) = {mass:.3f}"


def density_figure(log_density: LogDensity, logits: float, temperatures: Sequence[float]) -> Figure:
    """The binary Concrete density at several temperatures on one axes.

    Args:
        log_density: ``log_density(x, logits, T)``, the page's log-density.
        logits: the logit :math:`a`.
        temperatures: the temperatures to draw, one line each.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for i, temperature in enumerate(temperatures):
        p = _density(log_density, logits, temperature)
        ax.plot(
            _GRID.tolist(), p.tolist(), **palette.category_style(i), label=f"T = {temperature:g}"
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, _YMAX)
    ax.set_xlabel("x")
    ax.set_ylabel("density p(x)")
    ax.legend(loc="upper center", ncol=len(temperatures))
    fig.tight_layout()
    return fig


def variance_figure(variances: Mapping[float, Mapping[str, float]]) -> Figure:
    """Per-sample variance of each estimator, one panel per target, log scale.

    Args:
        variances: ``{t: {estimator: variance}}``, as measured on the page.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(variances), figsize=(7.5, 3.4), sharey=True)
    for ax, (t, by_name) in zip(axes, variances.items()):
        names = list(by_name)
        for i, name in enumerate(names):
            style = palette.category_style(i, line=False)
            ax.barh(
                i, by_name[name], color=style["color"], hatch=["", "//", "..", "xx", "\\\\"][i % 5]
            )
        ax.set_xscale("log")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("variance per sample")
        ax.set_title(f"t = {t}")
    fig.tight_layout()
    return fig


def trajectories_figure(paths: Mapping[str, Sequence[float]], t: float) -> Figure:
    """The probability :math:`\\theta = P(b = 1)` along training, one line per estimator.

    Args:
        paths: ``{estimator: [theta at step 0, 1, ...]}``, as recorded on the page.
        t: the target (for the title).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for i, (name, path) in enumerate(paths.items()):
        ax.plot(range(len(path)), list(path), **palette.category_style(i), label=name)
    ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("θ = P(b = 1)")
    ax.set_title(f"t = {t}: the best choice is b = 0 (θ → 0)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
