"""Drawings of chapter 9: test accuracy against the number of bits, the VQ example before
and after training, and the mean straight-through estimate against the exact gradient.

Needs matplotlib. The figures draw what the page computed; they compute no estimate
themselves. :func:`draw_bias_panels` has the ``draw(fig, value)``-style signature used with
:func:`dae_course.sliders.scrub_animation` and :func:`dae_course.explorers.parameter_explorer`
once its curves are bound.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence, Tuple

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ..palette import MAX_WIDTH, category_style

__all__ = [
    "accuracy_figure",
    "vq_figure",
    "draw_bias_panels",
    "draw_curvature",
    "ESTIMATOR_LABELS",
]

#: The curves of :func:`draw_bias_panels`, in the order they are passed.
ESTIMATOR_LABELS = ("exact gradient", "straight-through (mean)", "Heun / ReinMax (mean)")


def accuracy_figure(
    bits: Sequence[int], qat: Sequence[float], ptq: Sequence[float], full: float
) -> Figure:
    """Test accuracy against the number of bits of the weights.

    Args:
        bits: the bit widths (x axis).
        qat: accuracy of the network trained with its weights quantised (straight-through).
        ptq: accuracy of the full-precision network with its weights quantised afterwards.
        full: accuracy of the full-precision network (a horizontal line).

    Returns:
        The matplotlib figure.
    """
    fig = plt.figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    ax.axhline(full, color="0.35", linestyle=":", label="full precision")
    ax.plot(bits, qat, **category_style(0, marker=True), label="trained quantised (ST)")
    ax.plot(bits, ptq, **category_style(1, marker=True), label="quantised after training")
    ax.set_xticks(list(bits))
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.0, 1.0)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _vq_panel(ax, x, z, codes, assignment, title: str) -> None:
    x, z, codes = (torch.as_tensor(t).detach().double().cpu() for t in (x, z, codes))
    assignment = torch.as_tensor(assignment).cpu()
    for k in range(codes.shape[0]):
        mine = assignment == k
        style = category_style(k, line=False, marker=True)
        ax.scatter(
            z[mine, 0], z[mine, 1], s=8, alpha=0.35, color=style["color"], marker=style["marker"]
        )
        ax.scatter(
            codes[k, 0],
            codes[k, 1],
            s=160,
            color=style["color"],
            marker=style["marker"],
            edgecolor="black",
            linewidth=1.5,
            zorder=3,
        )
    ax.set_title(title)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_aspect("equal", adjustable="datalim")


def vq_figure(
    x,
    before: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    after: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> Figure:
    """Encoder outputs (small markers, coloured by their nearest code) and the codebook
    (large outlined markers), before and after training.

    Args:
        x: the data, ``(N, 2)`` (not drawn; kept for the signature's symmetry).
        before, after: ``(z, codebook, assignment)``: encoder outputs ``(N, 2)``, codebook
            ``(K, 2)``, the index of each point's nearest code ``(N,)``.

    Returns:
        The matplotlib figure.
    """
    fig = plt.figure(figsize=(MAX_WIDTH, 3.6))
    for i, ((z, codes, assignment), title) in enumerate(
        [(before, "before training"), (after, "after training")]
    ):
        _vq_panel(fig.add_subplot(1, 2, i + 1), x, z, codes, assignment, title)
    fig.tight_layout()
    return fig


def draw_bias_panels(
    fig: Figure, panels: Mapping[str, Tuple[torch.Tensor, Sequence[torch.Tensor]]]
) -> None:
    """One panel per loss: the exact gradient of :math:`E[f(D)]` with respect to
    :math:`p = P(D = 1)` and the means of two estimators, against :math:`p`.

    Args:
        fig: an empty figure to draw into.
        panels: title -> ``(p, [exact, straight_through, heun])``, each a 1-d tensor of the
            length of ``p`` (the curves in the order of :data:`ESTIMATOR_LABELS`).
    """
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, (p, curves)) in zip(axes, panels.items()):
        p = torch.as_tensor(p).double().cpu()
        values = [torch.as_tensor(curve).double().cpu() for curve in curves]
        for k, (label, curve) in enumerate(zip(ESTIMATOR_LABELS, values)):
            ax.plot(p, curve, label=label, **category_style(k))
        low, high = min(v.min().item() for v in values), max(v.max().item() for v in values)
        if high - low < 1e-6:  # all curves equal: show them in a readable range
            ax.set_ylim(low - 1.0, high + 1.0)
        ax.set_title(title)
        ax.set_xlabel("$p = P(D = 1)$")
        ax.axvline(0.5, color="0.7", linewidth=1, zorder=0)
    axes[0].set_ylabel("$dE[f(D)]/dp$")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))


def draw_curvature(fig: Figure, c: float, curves: Callable) -> str:
    r"""The panel of :func:`draw_bias_panels` for :math:`f(b) = (e^{cb} - 1)/c` (its limit
    :math:`f(b) = b` at :math:`c = 0`), for the curvature explorer and its kernel-free slider.

    Args:
        fig: an empty figure to draw into.
        c: the curvature.
        curves: the page's ``curves(f) -> (p, [exact, straight_through, heun])``.

    Returns:
        The caption: the largest error of each estimator's mean over :math:`p`, as a share
        of the exact gradient.
    """
    if abs(c) < 1e-9:
        f, title = (lambda b: b), "$f(b) = b$"
    else:
        f = lambda b: torch.expm1(c * b) / c  # noqa: E731
        title = f"$f(b) = (e^{{{c:.2g} b}} - 1) / {c:.2g}$"
    p, (exact, st, heun) = curves(f)
    draw_bias_panels(fig, {title: (p, (exact, st, heun))})
    worst = [(m - exact).abs().max().item() / abs(exact[0].item()) for m in (st, heun)]
    return f"c = {c:.2g}: off by up to {worst[0]:.0%} (straight-through), {worst[1]:.0%} (ReinMax)"
