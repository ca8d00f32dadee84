"""Drawings of chapter 2 (relaxing ReLU): softplus with sharpness β, its derivative, the gap
to ReLU, and the training curves of the ReLU-versus-softplus experiment.

Import explicitly: ``from dae_course.ch02_softplus import figures as splot``. Needs matplotlib.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, MARKERS, category_style, inch_margins

__all__ = [
    "RELU_COLOR",
    "RELU_STYLE",
    "SOFTPLUS_COLOR",
    "draw_softplus_panel",
    "softplus_beta_figure",
    "training_curves_figure",
]

#: Colour of ReLU (and of its derivative, the step) in this chapter's figures.
RELU_COLOR = "0.25"
#: Colour of softplus (and of its derivative, the sigmoid) in this chapter's figures.
SOFTPLUS_COLOR = CATEGORY_COLORS[1]

#: Line style of ReLU (and of the step) in this chapter's figures: dashed, so that it
#: differs from softplus (solid) by more than its colour.
RELU_STYLE = "--"


def _grid(xlim: float, points: int) -> torch.Tensor:
    """``points`` (odd) evenly spaced values in ``[-xlim, xlim]``, exactly 0 among them."""
    half = points // 2
    return torch.arange(-half, half + 1, dtype=torch.float64) * (xlim / half)


def draw_softplus_panel(fig: Figure, beta: float, *, xlim: float = 3.0, points: int = 401) -> str:
    r"""Draw ReLU against :math:`\operatorname{softplus}_\beta` and their derivatives.

    Left axes: :math:`\max(0, x)` and
    :math:`\operatorname{softplus}_\beta(x) = \frac1\beta \log(1 + e^{\beta x})` on
    ``[-xlim, xlim]``, with the largest gap between them, :math:`\log(2)/\beta` at
    :math:`x = 0`, drawn as a vertical bar. Right axes: the derivatives, ReLU's step
    :math:`\mathbb{1}[x > 0]` and the sigmoid :math:`\sigma(\beta x)`. Meant as the ``draw``
    function of :func:`dae_course.sliders.scrub_animation` and
    :func:`dae_course.explorers.parameter_explorer`.

    Args:
        fig: the (empty) figure to draw into; two axes are added.
        beta: the sharpness :math:`\beta > 0`.
        xlim: the x-range is ``[-xlim, xlim]``.
        points: number of grid points (odd, so that 0 is one of them).

    Returns:
        A one-line caption: β and the largest gap :math:`\log(2)/\beta`, rounded.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), slides
    "Relaxing ReLU"; Glorot, Bordes & Bengio, AISTATS 2011.
    """
    import relaxlib as rl

    x = _grid(xlim, points)
    relu = torch.relu(x)
    soft = rl.softplus(x, beta)
    gap = math.log(2) / beta

    ax1, ax2 = fig.subplots(1, 2)
    # Fixed margins instead of tight_layout: much cheaper when drawn for many frames.
    inch_margins(fig, left=0.45, right=0.2, bottom=0.55, top=0.35, wspace=0.5, ncols=2)
    ax1.plot(x, relu, color=RELU_COLOR, linestyle=RELU_STYLE, linewidth=1.5, label="ReLU")
    ax1.plot(x, soft, color=SOFTPLUS_COLOR, linewidth=2, label=r"softplus$_\beta$")
    ax1.plot([0, 0], [0, gap], color="black", linewidth=3, solid_capstyle="butt")
    ax1.annotate(
        f"log(2)/β\n= {gap:.3g}",
        xy=(0, min(gap, xlim) / 2),
        xytext=(0.3 * xlim, 0.02 * xlim),  # below ReLU, where no curve runs
        va="bottom",
        arrowprops={"arrowstyle": "-", "color": "0.4", "linewidth": 0.8},
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
    )
    ax1.set_xlim(-xlim, xlim)
    ax1.set_ylim(-0.1 * xlim, 1.1 * xlim)
    ax1.set_xlabel("$x$")
    ax1.set_title(f"the function, β = {beta:.3g}")
    ax1.legend(loc="upper left", handlelength=1.6)

    ax2.plot(
        x,
        (x > 0).double(),
        color=RELU_COLOR,
        linestyle=RELU_STYLE,
        linewidth=1.5,
        label="ReLU' (step)",
    )
    ax2.plot(
        x, torch.sigmoid(beta * x), color=SOFTPLUS_COLOR, linewidth=2, label=r"$\sigma(\beta x)$"
    )
    ax2.set_xlim(-xlim, xlim)
    ax2.set_ylim(-0.08, 1.08)
    ax2.set_xlabel("$x$")
    ax2.set_title("its derivative")
    ax2.legend(loc="upper left", handlelength=1.6)
    return f"β = {beta:.3g}: largest gap to ReLU = log(2)/β = {gap:.4f}, at x = 0"


def softplus_beta_figure(
    betas: Sequence[float] = (0.5, 1.0, 2.0, 5.0),
    *,
    xlim: float = 3.0,
    gap_betas: Optional[Sequence[float]] = None,
    figsize: tuple = (7.5, 5.6),
) -> Figure:
    r"""Softplus for several sharpnesses β, its derivatives, and the gap to ReLU against β.

    Top left: ReLU and :math:`\operatorname{softplus}_\beta` for each β in ``betas``. Top
    right: the derivatives :math:`\sigma(\beta x)` and ReLU's step. Bottom: the largest gap
    :math:`\max_x (\operatorname{softplus}_\beta(x) - \max(0, x))`, measured on a grid
    through 0, as points against β on log-log axes, with the line :math:`\log(2)/\beta`.

    Args:
        betas: the sharpnesses drawn in the left and middle panels.
        xlim: the x-range of the left and middle panels is ``[-xlim, xlim]``.
        gap_betas: the β values measured in the right panel; default 13 values from
            0.1 to 100.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    import matplotlib.pyplot as plt

    import relaxlib as rl

    x = _grid(xlim, 601)
    fig = plt.figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(2, 2)
    ax1, ax2 = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    ax3 = fig.add_subplot(grid[1, :])
    relu = {"color": RELU_COLOR, "linestyle": RELU_STYLE, "linewidth": 2.5}
    ax1.plot(x, torch.relu(x), **relu, label="ReLU")
    ax2.plot(x, (x > 0).double(), **relu, label="step")
    every = max(1, x.numel() // 8)
    for i, beta in enumerate(betas):  # own colour, line style and marker for each β
        style = {**category_style(i, marker=True), "markevery": (i * every // 4, every)}
        ax1.plot(x, rl.softplus(x, float(beta)), **style, label=f"β = {beta:g}")
        ax2.plot(x, torch.sigmoid(float(beta) * x), **style, label=f"β = {beta:g}")
    ax1.set_xlabel("$x$")
    ax1.set_title(r"softplus$_\beta(x)$, ReLU")
    ax1.legend(handlelength=2.5)
    ax2.set_xlabel("$x$")
    ax2.set_title(r"$\sigma(\beta x)$, the step")

    if gap_betas is None:
        gap_betas = torch.logspace(-1, 2, 13, dtype=torch.float64).tolist()
    wide = _grid(50.0, 20001)
    gaps = [float((rl.softplus(wide, float(b)) - torch.relu(wide)).max()) for b in gap_betas]
    line = torch.logspace(-1, 2, 50, dtype=torch.float64)
    ax3.loglog(line, math.log(2) / line, color="black", linewidth=1, label="log(2)/β")
    ax3.loglog(gap_betas, gaps, MARKERS[0], color=SOFTPLUS_COLOR, label="measured max gap")
    ax3.set_xlabel("β")
    ax3.set_title("largest gap to ReLU")
    ax3.legend()
    return fig


def training_curves_figure(
    curves: Mapping[str, torch.Tensor],
    *,
    colors: Optional[Mapping[str, str]] = None,
    figsize: tuple = (6.0, 3.2),
    ylabel: str = "training loss",
) -> Figure:
    """Training loss against step, one thin line per seed, one colour per activation.

    Args:
        curves: activation name -> tensor of shape ``(steps, seeds)`` of losses.
        colors: activation name -> colour; default ReLU dark grey (dashed), softplus orange
            (solid), others from :func:`dae_course.palette.category_style`.
        figsize: figure size in inches.
        ylabel: label of the (logarithmic) y axis.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    default = {"ReLU": RELU_COLOR, "softplus": SOFTPLUS_COLOR}
    tables = {name: torch.as_tensor(c).detach().cpu().double() for name, c in curves.items()}
    for name, curve in tables.items():  # check everything before creating a figure
        if curve.dim() != 2:
            raise ValueError(
                f"curves[{name!r}] must have shape (steps, seeds), got {tuple(curve.shape)}"
            )
    fig, ax = plt.subplots(figsize=figsize)
    styles = {"ReLU": RELU_STYLE, "softplus": "-"}
    for k, (name, curve) in enumerate(tables.items()):
        color = (colors or {}).get(name) or default.get(name) or CATEGORY_COLORS[k % 6]
        linestyle = styles.get(name) or category_style(k)["linestyle"]
        steps = torch.arange(1, curve.shape[0] + 1)
        label = f"{name} ({curve.shape[1]} seeds)"
        for s in range(curve.shape[1]):
            ax.plot(
                steps,
                curve[:, s],
                color=color,
                linestyle=linestyle,
                linewidth=1,
                alpha=0.8,
                label=label if s == 0 else None,
            )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(handlelength=2.5)
    fig.tight_layout()
    return fig
