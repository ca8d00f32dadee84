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

from ..palette import CATEGORY_COLORS

__all__ = [
    "LOSS_COLORS",
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
    figsize: tuple = (10.0, 3.3),
) -> Figure:
    r"""The lecture's Huber loss and the gradients of Huber and Smooth L1 for several widths.

    Left: :math:`|r|`, :math:`\tfrac12 r^2` and the lecture's loss (Huber with
    :math:`\delta = 1`, equal to Smooth L1 with :math:`\beta = 1`). Middle: the derivative of
    :math:`\mathrm{huber}_\delta` for each value in ``params``, which is
    :math:`\operatorname{clamp}(r, -\delta, \delta)`, next to that of :math:`|r|`. Right:
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
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=figsize)
    for name, style in (("L1", "-"), ("L2", "--"), ("Huber", "-")):
        values, _ = _values_and_slopes(_losses(1.0)[name], r)
        label = {"L1": "|r|", "L2": "r²/2", "Huber": "lecture: Huber δ=1 = Smooth L1 β=1"}
        ax1.plot(r, values, style, color=LOSS_COLORS[name], label=label[name], lw=2)
    ax1.axvspan(-1, 1, color="0.92", zorder=0)
    ax1.set_ylim(-0.1, 3.0)
    ax1.set_xlabel("residual r = x − y")
    ax1.set_title("the losses (shaded: |r| < 1)", fontsize=10)
    ax1.legend(fontsize=7.5, loc="upper center")

    for ax, name, symbol in ((ax2, "Huber", "δ"), (ax3, "Smooth L1", "β")):
        _, sign = _values_and_slopes(_losses(1.0)["L1"], r)
        ax.plot(r, sign, color=LOSS_COLORS["L1"], lw=1.2, ls=":", label="d|r|/dr")
        for i, p in enumerate(params):
            _, grad = _values_and_slopes(_losses(p)[name], r)
            color = CATEGORY_COLORS[(i + 2) % len(CATEGORY_COLORS)]
            ax.plot(r, grad, color=color, lw=2, label=f"{symbol} = {p:g}")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_ylim(-2.3, 2.3)
        ax.set_xlabel("residual r")
        ax.set_title(f"gradient of {name}", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    return fig


def trajectory_figure(
    trajectories: Mapping[str, torch.Tensor],
    target: float,
    *,
    figsize: tuple = (10.0, 3.3),
    floor: float = 1e-16,
) -> Figure:
    r"""Gradient descent paths :math:`x_k` and their errors :math:`|x_k - y|` against :math:`k`.

    Left: the iterates with the target as a dashed line. Right: the error on a logarithmic
    axis (errors below ``floor``, including exact zeros, are drawn at ``floor``).

    Args:
        trajectories: label -> 1-d tensor of iterates (from the page's ``gradient_descent``);
            a label starting with a key of :data:`LOSS_COLORS` gets that loss's colour.
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
        color = _color(label, i)
        ax1.plot(k, path, ".-", color=color, lw=1, ms=3, label=label)
        ax2.semilogy(k, (path - target).abs().clamp_min(floor), ".-", color=color, lw=1, ms=3)
    ax1.axhline(target, color="black", ls="--", lw=0.8, label="target y")
    ax1.set_xlabel("step k")
    ax1.set_ylabel("$x_k$")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("step k")
    ax2.set_ylabel("$|x_k - y|$")
    ax2.set_ylim(floor / 3, 10)
    fig.tight_layout()
    return fig


def _color(label: str, i: int) -> str:
    for name in sorted(LOSS_COLORS, key=len, reverse=True):
        if label.startswith(name):
            return LOSS_COLORS[name]
    return CATEGORY_COLORS[i % len(CATEGORY_COLORS)]


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
        fig: the (empty) figure to draw into; three axes are added.
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
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for name in ("L1", "L2", "Huber", "Smooth L1"):
        values, grad = _values_and_slopes(losses[name], r)
        style = "--" if name == "L2" else "-"
        ax1.plot(r.numpy(), values.numpy(), style, color=LOSS_COLORS[name], lw=1.8, label=name)
        ax2.plot(r.numpy(), grad.numpy(), style, color=LOSS_COLORS[name], lw=1.8, label=name)
    finals, steps = {}, 0
    for name, path in descents(delta).items():
        err = (torch.as_tensor(path, dtype=torch.float64).cpu() - target).abs()
        finals[name], steps = err[-1].item(), err.numel() - 1
        width = 2.6 if name == "L1" else 1.3  # L1 underneath: Smooth L1 may cover it
        ax3.semilogy(err.clamp_min(1e-16).numpy(), color=_color(name, 0), lw=width)
    for ax in (ax1, ax2):
        ax.axvspan(-delta, delta, color="0.92", zorder=0)
        ax.set_xlim(-r_max, r_max)  # the band must not widen the axis for large delta
        ax.set_xlabel("residual r")
    ax1.set_ylim(-0.1, 3.0)
    ax1.set_title(f"losses, δ = β = {delta:.3g}", fontsize=10)
    ax1.legend(fontsize=7, loc="upper center")
    ax2.set_ylim(-2.2, 2.2)
    ax2.set_title("gradients", fontsize=10)
    ax3.set_ylim(3e-17, 10)
    ax3.set_xlabel("step k")
    ax3.set_title("gradient descent: |x_k − y|", fontsize=10)
    # fixed margins instead of tight_layout: this runs once per animation frame
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.16, top=0.9, wspace=0.28)
    errors = ", ".join(f"{name} {value:.2g}" for name, value in finals.items())
    return f"δ = β = {delta:.3g}: |x − y| after {steps} steps: {errors}"


def sparsity_figure(
    w_true: torch.Tensor,
    fits: Mapping[str, torch.Tensor],
    paths: Mapping[str, torch.Tensor],
    index: int,
    *,
    band: Optional[float] = None,
    figsize: tuple = (10.0, 3.3),
) -> Figure:
    r"""Coefficients of several fits next to the true ones, and one coefficient's path.

    Left: grouped bars of the true coefficients and of each fit (exact zeros marked with a
    small ring on the axis). Right: the path of coefficient ``index`` over the iterations of
    each method in ``paths``, with an optional band :math:`\pm` ``band``.

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
        ax1.bar(pos.numpy(), w.numpy(), width=width, color=color, label=label)
        zeros = w == 0
        ax1.plot(pos[zeros].numpy(), w[zeros].numpy(), "o", mfc="white", mec=color, ms=4, ls="none")
    ax1.axhline(0, color="0.5", lw=0.8)
    ax1.set_xticks(range(p))
    ax1.set_xlabel("coefficient j")
    ax1.set_title("fitted coefficients (rings: exactly 0)", fontsize=10)
    ax1.legend(fontsize=7.5, ncol=2)

    for label, path in paths.items():
        path = torch.as_tensor(path, dtype=torch.float64).cpu()[:, index]
        ax2.plot(path, lw=1, color=colors[label], label=label)
    if band is not None:
        ax2.axhspan(-band, band, color="0.9", zorder=0, label=f"±{band:.3g}")
    ax2.axhline(0, color="0.5", lw=0.8)
    ax2.set_xlabel("iteration")
    ax2.set_title(f"coefficient {index} (true value 0)", fontsize=10)
    ax2.legend(fontsize=7.5)
    fig.tight_layout()
    return fig
