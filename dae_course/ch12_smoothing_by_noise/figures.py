"""Chapter 12's figures: ReLU smoothed by logistic noise, the perturbed arg max against the
tempered softmax (one drawing function for the live explorer and the kernel-free slider),
and the training curve of the subset-selection example.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from .. import palette
from ..palette import category_style

__all__ = ["smoothed_relu_figure", "draw_perturbed_panel", "training_figure"]


def smoothed_relu_figure(
    xs: torch.Tensor,
    curves: Mapping[float, torch.Tensor],
    points_x: torch.Tensor,
    points: Mapping[float, torch.Tensor],
) -> Figure:
    r"""ReLU and its smoothings :math:`\mathbb E[\operatorname{ReLU}(x + L/\beta)]`.

    Args:
        xs: the grid of x, shape ``(M,)``.
        curves: for each β, softplus with sharpness β on ``xs`` (the closed form).
        points_x: where the Monte Carlo estimates were taken, shape ``(P,)``.
        points: for each β, the Monte Carlo means at ``points_x``.

    Returns:
        The figure (one axes).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    # ReLU dotted: the softplus curves take the first three line styles (WCAG 1.4.1)
    relu_style = {"color": "0.2", "linewidth": 1.5, "linestyle": palette.LINESTYLES[3]}
    ax.plot(xs, torch.relu(xs), **relu_style, label="ReLU")
    for i, (beta, curve) in enumerate(curves.items()):
        style = category_style(i)
        ax.plot(xs, curve, **style, label=f"softplus, β = {beta:g} (noise scale {1 / beta:g})")
        ax.plot(
            points_x,
            points[beta],
            linestyle="none",
            color=style["color"],
            marker=palette.MARKERS[i],
            markerfacecolor="white",
        )
    ax.plot(
        [],
        [],
        linestyle="none",
        marker="o",
        color="0.3",
        markerfacecolor="white",
        label="Monte Carlo mean of ReLU(x + L/β)",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("E[ReLU(x + noise)]")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def draw_perturbed_panel(
    fig: Figure, sigma: float, theta: torch.Tensor, gumbel_z: torch.Tensor, normal_z: torch.Tensor
) -> str:
    r"""Bars of the perturbed arg max :math:`\mathbb E[\operatorname{one\_hot}(\arg\max(\theta
    + \sigma Z))]` under Gumbel and normal noise (Monte Carlo, the same draws at every σ) and
    of :math:`\operatorname{softmax}(\theta/\sigma)`, for one σ.

    Args:
        fig: the empty figure to draw into.
        sigma: the noise scale σ > 0.
        theta: the scores, shape ``(N,)``.
        gumbel_z, normal_z: noise draws, shape ``(n, N)``.

    Returns:
        A caption: σ and the largest gap between the normal-noise bars and the softmax.
    """
    theta = theta.detach().double().cpu()
    n_items = theta.shape[-1]

    def share(z):
        winners = (theta + sigma * z.double().cpu()).argmax(-1)
        return torch.bincount(winners, minlength=n_items).double() / z.shape[0]

    series = {
        "softmax(θ/σ)": torch.softmax(theta / sigma, -1),
        "Gumbel noise (Monte Carlo)": share(gumbel_z),
        "normal noise (Monte Carlo)": share(normal_z),
    }
    ax = fig.add_subplot(1, 1, 1)
    width = 0.27
    hatches = ("", "//", "..")
    for i, (label, values) in enumerate(series.items()):
        positions = [j + (i - 1) * width for j in range(n_items)]
        ax.bar(
            positions,
            values.tolist(),
            width=width,
            label=label,
            color=palette.CATEGORY_COLORS[i],
            hatch=hatches[i],
            edgecolor="white",
        )
    ax.set_xticks(range(n_items), [f"item {j}" for j in range(n_items)])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("probability of arg max")
    ax.set_title(f"σ = {sigma:.3g}")
    ax.legend(loc="upper right")
    fig.tight_layout()
    gap = (series["normal noise (Monte Carlo)"] - series["softmax(θ/σ)"]).abs().max().item()
    return f"σ = {sigma:.3g}: normal noise differs from softmax(θ/σ) by up to {gap:.2f}"


def training_figure(steps: Sequence[int], curves: Mapping[str, Sequence[float]]) -> Figure:
    """Held-out precision@k against the training step, one line per method.

    Args:
        steps: the steps at which the precision was measured.
        curves: for each method, its precision at those steps.

    Returns:
        The figure (one axes).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for i, (label, values) in enumerate(curves.items()):
        ax.plot(
            steps,
            values,
            **category_style(i, marker=True),
            markevery=max(1, len(steps) // 8),
            label=label,
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out precision@k")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
