"""Drawings of chapter 3: the tempered softmax, its soft arg max and its soft max."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, category_style, inch_margins

__all__ = ["draw_softmax_panel", "softmax_temperature_figure"]


def _as_float64(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64).detach().cpu()


def draw_softmax_panel(fig: Figure, temperature: float, x=(1.1, 4.0, -0.1, 2.3)) -> str:
    """Draw ``softmax(x/T)`` next to the one-hot arg max, with soft arg max and soft max.

    Left axes: the probabilities ``softmax(x/T)`` as bars over the indices ``0..N-1``, the
    one-hot arg max as outlined bars, and the soft arg max (a float index) as a marker on
    the index axis. Right axes: the entries of ``x`` with the soft max value and the true
    maximum as horizontal lines. Meant as the ``draw`` function of
    :func:`dae_course.sliders.scrub_animation` and
    :func:`dae_course.explorers.temperature_explorer` (bind ``x`` with ``functools.partial``
    or a lambda).

    Args:
        fig: the (empty) figure to draw into; two axes are added.
        temperature: :math:`T > 0`.
        x: the logits, a 1-d sequence or tensor of length ``N``.

    Returns:
        A one-line caption with the rounded soft arg max and soft max.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), slides
    on the softmax with temperature.
    """
    import relaxlib as rl

    x = _as_float64(x)
    n = x.numel()
    probs = rl.softmax(x, temperature)
    s_idx = float(rl.soft_argmax(x, temperature))
    s_max = float(rl.soft_max(x, temperature))
    hard = rl.one_hot_argmax(x)
    idx = list(range(n))
    colors = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in idx]

    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    ax1.bar(idx, probs.tolist(), color=colors, width=0.6, label="softmax(x/T)")
    ax1.bar(
        idx,
        hard.tolist(),
        fill=False,
        edgecolor="0.3",
        linestyle="--",
        width=0.8,
        label="one-hot arg max",
    )
    ax1.plot(
        [s_idx],
        [-0.06],
        marker="^",
        markersize=11,
        color="black",
        clip_on=False,
        linestyle="none",
        label="soft arg max",
    )
    ax1.set_xticks(idx)
    ax1.set_xlim(-0.6, n - 0.4)
    ax1.set_ylim(-0.06, 1.1)
    ax1.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax1.set_xlabel("index $i$")
    ax1.set_ylabel(r"$\mathrm{softmax}(\mathbf{x}/T)_i$")
    ax1.set_title(f"T = {temperature:.3g}: soft arg max = {s_idx:.3f}")
    fig.legend(
        *ax1.get_legend_handles_labels(),
        loc="lower center",
        ncol=3,
        handlelength=1.5,
        frameon=False,
    )

    ax2.bar(idx, x.tolist(), color=colors, width=0.6)
    ax2.axhline(float(x.max()), color="0.3", linestyle="--", linewidth=1)
    ax2.axhline(s_max, color="black", linewidth=1.5)
    ax2.set_xticks(idx)
    ax2.set_xlim(-0.6, n - 0.4)
    lo, hi = min(0.0, float(x.min())), float(x.max())
    ax2.set_ylim(lo - 0.05 * (hi - lo), hi + 0.35 * (hi - lo))
    ax2.set_xlabel("index $i$")
    ax2.set_ylabel("$x_i$")
    ax2.set_title(f"soft max = {s_max:.3f} (solid)\nmax = {hi:g} (dashed)")
    # fixed margins rather than tight_layout: this runs once per animation frame
    inch_margins(fig, left=0.75, right=0.1, bottom=0.95, top=0.6, wspace=0.7, ncols=2)
    return f"T = {temperature:.3g}: soft arg max = {s_idx:.4f}, soft max = {s_max:.4f}"


def softmax_temperature_figure(
    x=(1.1, 4.0, -0.1, 2.3),
    temperatures: Optional[Sequence[float]] = None,
    *,
    marked: Sequence[float] = (),
    figsize: tuple = (7.5, 3.6),
) -> Figure:
    """How ``softmax(x/T)``, the soft arg max and the soft max change with the temperature.

    Left: each probability ``softmax(x/T)_i`` against ``T`` on a logarithmic axis. Right: the
    soft arg max and the soft max against ``T``, with their limits as dashed lines: arg max
    and max as ``T -> 0``, the mean index ``(N-1)/2`` and the mean of ``x`` as ``T -> inf``.

    Args:
        x: the logits, a 1-d sequence or tensor of length ``N``.
        temperatures: the grid of ``T`` values; default 200 points from ``1e-2`` to ``1e2``.
        marked: temperatures to mark with vertical dotted lines (e.g. the lecture's).
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    import matplotlib.pyplot as plt

    import relaxlib as rl

    x = _as_float64(x)
    n = x.numel()
    if temperatures is None:
        temperatures = torch.logspace(-2, 2, 200, dtype=torch.float64)
    t = _as_float64(temperatures)
    probs = torch.stack([rl.softmax(x, float(T)) for T in t])  # one row per temperature
    idx = torch.arange(n, dtype=torch.float64)
    s_idx = probs @ idx
    s_max = probs @ x

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    for i in range(n):
        ax1.plot(t, probs[:, i], **category_style(i), label=f"i = {i} (x = {float(x[i]):g})")
    ax1.set_xscale("log")
    ax1.set_xlabel("temperature T")
    ax1.set_ylabel(r"$\mathrm{softmax}(\mathbf{x}/T)_i$")
    ax1.set_title("probabilities")
    ax1.legend(handlelength=2.5)
    every = max(1, t.numel() // 10)
    ax2.plot(t, s_idx, color="black", marker="o", markevery=every, label="soft arg max")
    ax2.plot(
        t, s_max, **category_style(1, line=False), marker="s", markevery=every, label="soft max"
    )
    ax2.axhline(float(x.argmax()), color="black", linestyle="--", linewidth=0.8)
    ax2.axhline((n - 1) / 2, color="black", linestyle=":", linewidth=0.8)
    ax2.axhline(float(x.max()), color=CATEGORY_COLORS[1], linestyle="--", linewidth=0.8)
    ax2.axhline(float(x.mean()), color=CATEGORY_COLORS[1], linestyle=":", linewidth=0.8)
    ax2.set_xscale("log")
    ax2.set_xlabel("temperature T")
    ax2.set_title("dashed: T→0 limits,\ndotted: T→∞ limits")
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(lo, hi + 0.2 * (hi - lo))  # room for the legend above the curves
    ax2.legend(loc="upper center", ncol=2, handlelength=1.8, columnspacing=1.0)
    for ax in (ax1, ax2):
        for m in marked:
            ax.axvline(float(m), color="0.6", linestyle=":", linewidth=0.8)
    fig.tight_layout()
    return fig
