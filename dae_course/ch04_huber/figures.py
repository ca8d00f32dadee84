"""Drawings of chapter 4 (relaxing the L1 norm): L1, Huber and Smooth L1 and their gradients,
the gradient-descent runs that the page computes, and the sparsity that an L1 penalty brings.

Import explicitly: ``from dae_course.ch04_huber import figures as hplot``. The figures draw;
the descents themselves are computed on the page (its ``gradient_descent``, copied in
:mod:`dae_course.ch04_huber.descent`) and passed in.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, LINESTYLES, MARKERS, inch_margins

__all__ = [
    "LOSS_COLORS",
    "LOSS_STYLES",
    "loss_gradient_figure",
    "trajectory_figure",
    "draw_delta_panel",
    "sparsity_figure",
]

#: One colour per loss, shared by every figure of the chapter.
LOSS_COLORS = {
    "L1": "#d95f02",
    "L2": "0.55",
    "Huber": "#1b9e77",
    "Smooth L1": "#7570b3",
}

#: One line style per loss, so that the losses differ by more than their colour.
LOSS_STYLES = {"L1": "-", "L2": "--", "Huber": "-.", "Smooth L1": ":"}

#: One marker per loss, for lines drawn through few points (the descents).
LOSS_MARKERS = {"L1": "o", "L2": "s", "Huber": "^", "Smooth L1": "D"}
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _values_and_slopes(loss: LossFn, r: torch.Tensor) -> tuple:
    r"""Values and autograd derivatives of an elementwise loss of the residual :math:`r`.

    Evaluates ``loss(r, 0)`` and :math:`\partial \ell / \partial r` on a grid, the derivative
    computed by autograd (so at a kink it is whatever PyTorch picks, e.g. 0 for ``abs`` at 0).

    Args:
        loss: ``loss(x, y) -> tensor``, elementwise.
        r: a 1-d floating tensor of residuals.

    Returns:
        ``(values, gradients)``, two CPU tensors of the shape of ``r``.
    """
    x = r.detach().clone().requires_grad_(True)
    values = loss(x, torch.zeros_like(x))
    (grad,) = torch.autograd.grad(values.sum(), x)
    return values.detach().cpu(), grad.cpu()


def _losses(param: float) -> dict:
    import torch.nn.functional as F

    return {
        "L1": lambda x, y: (x - y).abs(),
        "L2": lambda x, y: 0.5 * (x - y) ** 2,
        "Huber": lambda x, y: F.huber_loss(x, y, delta=param, reduction="none"),
        "Smooth L1": lambda x, y: F.smooth_l1_loss(x, y, beta=param, reduction="none"),
    }


def loss_gradient_figure(
    params: Sequence[float] = (0.5, 1.0, 2.0),
    *,
    r_max: float = 3.0,
    figsize: tuple = (7.5, 6.0),
) -> Figure:
    r"""The lecture's Huber loss and the gradients of Huber and Smooth L1 for several widths.

    Top: :math:`|r|`, :math:`\tfrac12 r^2` and the lecture's loss (Huber with
    :math:`\delta = 1`, equal to Smooth L1 with :math:`\beta = 1`). Bottom left: the derivative of
    :math:`\mathrm{huber}_\delta` for each value in ``params``, which is
    :math:`\operatorname{clamp}(r, -\delta, \delta)`, next to that of :math:`|r|`. Bottom right:
    the derivative of :math:`\mathrm{smooth\_l1}_\beta`,
    :math:`\operatorname{clamp}(r/\beta, -1, 1)`. All derivatives come from autograd.

    Args:
        params: the values of :math:`\delta` (= :math:`\beta`) to draw.
        r_max: the residuals run over :math:`[-r_{max}, r_{max}]`.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Huber, Ann. Math. Statist. 1964; Girshick, "Fast R-CNN", ICCV 2015.
    """
    import matplotlib.pyplot as plt

    r = torch.linspace(-r_max, r_max, 601, dtype=torch.float64)
    fig = plt.figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(2, 2)
    ax1 = fig.add_subplot(grid[0, :])
    ax2, ax3 = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    for name in ("L1", "L2", "Huber"):
        values, _ = _values_and_slopes(_losses(1.0)[name], r)
        label = {"L1": "|r|", "L2": "r²/2", "Huber": "lecture: Huber δ=1 = Smooth L1 β=1"}
        style = {"color": LOSS_COLORS[name], "linestyle": LOSS_STYLES[name]}
        ax1.plot(r, values, **style, label=label[name], lw=2)
    ax1.axvspan(-1, 1, color="0.92", zorder=0)
    ax1.set_ylim(-0.1, 3.0)
    ax1.set_xlabel("residual r = x − y")
    ax1.set_title("the losses (shaded: |r| < 1)")
    ax1.legend(loc="upper center")

    for ax, name, symbol in ((ax2, "Huber", "δ"), (ax3, "Smooth L1", "β")):
        _, sign = _values_and_slopes(_losses(1.0)["L1"], r)
        ax.plot(r, sign, color=LOSS_COLORS["L1"], lw=1.2, ls=":", label="d|r|/dr")
        for i, p in enumerate(params):
            _, grad = _values_and_slopes(_losses(p)[name], r)
            color = CATEGORY_COLORS[(i + 2) % len(CATEGORY_COLORS)]
            style = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1)))[i % 4]  # d|r|/dr is dotted
            ax.plot(r, grad, color=color, ls=style, lw=2, label=f"{symbol} = {p:g}")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_ylim(-2.3, 2.3)
        ax.set_xlabel("residual r")
        ax.set_title(f"gradient of {name}")
        ax.legend(loc="upper left", handlelength=2.2)
    return fig


def trajectory_figure(
    trajectories: Mapping[str, torch.Tensor],
    target: float,
    *,
    figsize: tuple = (7.5, 3.3),
    floor: float = 1e-16,
) -> Figure:
    r"""Gradient descent paths :math:`x_k` and their errors :math:`|x_k - y|` against :math:`k`.

    Left: the iterates with the target as a dashed line. Right: the error on a logarithmic
    axis (errors below ``floor``, including exact zeros, are drawn at ``floor``).

    Args:
        trajectories: label -> 1-d tensor of iterates (from the page's ``gradient_descent``);
            a label starting with a key of :data:`LOSS_COLORS` gets that loss's colour, line
            style and marker.
        target: :math:`y`.
        figsize: figure size in inches.
        floor: the smallest error drawn.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    for i, (label, path) in enumerate(trajectories.items()):
        path = torch.as_tensor(path, dtype=torch.float64).cpu()
        k = torch.arange(path.numel())
        style = {**_style(label, i), "lw": 1.2, "ms": 4}
        ax1.plot(k, path, **style, label=label)
        ax2.semilogy(k, (path - target).abs().clamp_min(floor), **style)
    ax1.axhline(target, color="black", ls=(0, (1, 1)), lw=1, label="target y")
    ax1.set_xlabel("step k")
    ax1.set_ylabel("$x_k$")
    ax1.legend(handlelength=2.5)
    ax2.set_xlabel("step k")
    ax2.set_ylabel("$|x_k - y|$")
    ax2.set_ylim(floor / 3, 10)
    fig.tight_layout()
    return fig


def _loss_name(label: str):
    for name in sorted(LOSS_COLORS, key=len, reverse=True):
        if label.startswith(name):
            return name
    return None


def _color(label: str, i: int) -> str:
    name = _loss_name(label)
    return LOSS_COLORS[name] if name else CATEGORY_COLORS[i % len(CATEGORY_COLORS)]


def _style(label: str, i: int) -> dict:
    """Colour, line style and marker of a line labelled ``label`` (a loss's own, if the
    label starts with a loss's name; otherwise the ``i``-th of the palette's)."""
    name = _loss_name(label)
    if name:
        return {"color": LOSS_COLORS[name], "ls": LOSS_STYLES[name], "marker": LOSS_MARKERS[name]}
    k = i % len(CATEGORY_COLORS)
    return {"color": CATEGORY_COLORS[k], "ls": LINESTYLES[k], "marker": MARKERS[(k + 4) % 6]}


def draw_delta_panel(
    fig: Figure,
    delta: float,
    *,
    descents: Callable[[float], Mapping[str, torch.Tensor]],
    target: float,
    r_max: float = 3.0,
) -> str:
    r"""One threshold :math:`\delta` (= :math:`\beta`): the losses, their gradients, and descent.

    Left: :math:`|r|`, :math:`\tfrac12 r^2`, :math:`\mathrm{huber}_\delta` and
    :math:`\mathrm{smooth\_l1}_{\beta=\delta}`. Middle: their derivatives (autograd).
    Right: the error :math:`|x_k - y|` of the gradient-descent runs that ``descents(delta)``
    returns (computed on the page), on a logarithmic axis. Meant as the ``draw`` function of
    :func:`dae_course.sliders.scrub_animation` and
    :func:`dae_course.explorers.parameter_explorer`, with ``descents`` and ``target`` bound
    by ``functools.partial``.

    Args:
        fig: the (empty) figure to draw into; three axes are added, in one row when the
            figure is at least 2.6 times as wide as it is high, otherwise the losses and
            gradients above the descents.
        delta: :math:`\delta > 0`, used as Huber's ``delta`` and Smooth L1's ``beta``.
        descents: ``descents(delta) -> {"L1": path, "Huber": path, "Smooth L1": path}``,
            each path the iterates :math:`x_0, \dots, x_K` of one run.
        target: :math:`y`, the minimiser the runs head for.
        r_max: the residual axis runs over :math:`[-r_{max}, r_{max}]`.

    Returns:
        A caption with the final error :math:`|x_K - y|` of each run.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    losses = _losses(delta)
    r = torch.linspace(-r_max, r_max, 401, dtype=torch.float64)
    width, height = fig.get_size_inches()
    one_row = width >= 2.6 * height
    if one_row:
        ax1, ax2, ax3 = fig.subplots(1, 3)
    else:
        grid = fig.add_gridspec(2, 2)
        ax1, ax2 = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        ax3 = fig.add_subplot(grid[1, :])
    for name in ("L1", "L2", "Huber", "Smooth L1"):
        values, grad = _values_and_slopes(losses[name], r)
        style = {"color": LOSS_COLORS[name], "ls": LOSS_STYLES[name], "lw": 1.8, "label": name}
        ax1.plot(r.numpy(), values.numpy(), **style)
        ax2.plot(r.numpy(), grad.numpy(), **style)
    finals, steps = {}, 0
    for name, path in descents(delta).items():
        err = (torch.as_tensor(path, dtype=torch.float64).cpu() - target).abs()
        finals[name], steps = err[-1].item(), err.numel() - 1
        width = 2.6 if name == "L1" else 1.3  # L1 underneath: Smooth L1 may cover it
        style = {"color": _color(name, 0), "ls": LOSS_STYLES.get(_loss_name(name), "-")}
        ax3.semilogy(err.clamp_min(1e-16).numpy(), **style, lw=width)
    for ax in (ax1, ax2):
        ax.axvspan(-delta, delta, color="0.92", zorder=0)
        ax.set_xlim(-r_max, r_max)  # the band must not widen the axis for large delta
        ax.set_xlabel("residual r")
    ax1.set_ylim(-0.1, 3.0)
    ax1.set_title(f"losses, δ = β = {delta:.3g}")
    ax2.set_ylim(-2.2, 2.2)
    ax2.set_title("gradients")
    ax3.set_ylim(3e-17, 10)
    ax3.set_yticks([1e-16, 1e-12, 1e-8, 1e-4, 1.0])
    ax3.set_xlabel("step k")
    ax3.set_title("descent: |x_k − y|")
    # fixed margins instead of tight_layout: this runs once per animation frame
    if one_row:
        ax1.legend(loc="upper center", handlelength=1.8, labelspacing=0.2, borderaxespad=0.2)
        inch_margins(fig, left=0.45, right=0.15, bottom=0.55, top=0.35, wspace=0.7, ncols=3)
    else:
        ax1.legend(loc="upper center", ncol=2, handlelength=1.8, columnspacing=1.0)
        ax1.set_ylim(-0.1, 4.2)  # room for the legend
        inch_margins(
            fig,
            left=0.6,
            right=0.15,
            bottom=0.55,
            top=0.35,
            wspace=0.5,
            hspace=0.85,
            ncols=2,
            nrows=2,
        )
    errors = ", ".join(f"{name} {value:.2g}" for name, value in finals.items())
    return f"δ = β = {delta:.3g}: |x − y| after {steps} steps: {errors}"


def sparsity_figure(
    w_true: torch.Tensor,
    fits: Mapping[str, torch.Tensor],
    paths: Mapping[str, torch.Tensor],
    index: int,
    *,
    band: Optional[float] = None,
    figsize: tuple = (7.5, 3.6),
) -> Figure:
    r"""Coefficients of several fits next to the true ones, and one coefficient's path.

    Left: grouped bars of the true coefficients and of each fit, each with its own hatch
    (exact zeros marked with a small ring on the axis). Right: the path of coefficient
    ``index`` over the iterations of each method in ``paths``, each in its own line style,
    with an optional band :math:`\pm` ``band``.

    Args:
        w_true: the true coefficients, shape ``(p,)``.
        fits: label -> fitted coefficients, shape ``(p,)`` each.
        paths: label -> iterates, shape ``(K, p)`` each.
        index: which coefficient's path to draw.
        band: if given, the half-width of a shaded band around 0.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Tibshirani, "Regression shrinkage and selection via the lasso", J. R. Statist.
    Soc. B 58(1), 1996.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.3, 1]})
    series = {"true": w_true, **fits}
    colors = {"true": "0.2"}
    for label in [*fits, *paths]:
        colors.setdefault(label, CATEGORY_COLORS[(len(colors) - 1) % len(CATEGORY_COLORS)])
    p = int(torch.as_tensor(w_true).numel())
    width = 0.8 / len(series)
    for i, (label, w) in enumerate(series.items()):
        w = torch.as_tensor(w, dtype=torch.float64).cpu()
        pos = torch.arange(p, dtype=torch.float64) + (i - (len(series) - 1) / 2) * width
        color = colors[label]
        hatch = ("", "//", "..", "xx", "\\\\", "++")[i % 6]
        ax1.bar(pos.numpy(), w.numpy(), width=width, color=color, hatch=hatch, label=label)
        zeros = w == 0
        ax1.plot(pos[zeros].numpy(), w[zeros].numpy(), "o", mfc="white", mec=color, ms=5, ls="none")
    ax1.axhline(0, color="0.5", lw=0.8)
    ax1.set_xticks(range(p))
    ax1.set_xlabel("coefficient j")
    ax1.set_title("coefficients (rings: exactly 0)")
    ax1.legend(ncol=2)
    for i, (label, path) in enumerate(paths.items()):
        path = torch.as_tensor(path, dtype=torch.float64).cpu()[:, index]
        ax2.plot(path, lw=1.2, color=colors[label], ls=LINESTYLES[i % 6], label=label)
    if band is not None:
        ax2.axhspan(-band, band, color="0.9", zorder=0, label=f"±{band:.3g}")
    ax2.axhline(0, color="0.5", lw=0.8)
    ax2.set_xlabel("iteration")
    ax2.set_title(f"coefficient {index} (true: 0)")
    ax2.legend(handlelength=2.5)
    fig.tight_layout()
    return fig
