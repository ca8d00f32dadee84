"""Drawings of chapter 10: softmax, 1.5-entmax and sparsemax side by side.

Needs matplotlib. :func:`draw_maps_panel` has the ``draw(fig, value)`` signature shared by
:func:`dae_course.sliders.scrub_animation` and :func:`dae_course.explorers.temperature_explorer`.
The other figures draw what the page computed; they compute nothing themselves beyond the
three maps.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, category_style

__all__ = [
    "LECTURE_X",
    "MAPS",
    "three_maps",
    "draw_maps_panel",
    "maps_against_temperature_figure",
    "two_categories_figure",
]

#: The lecture's logits (chapter 3).
LECTURE_X = (1.1, 4.0, -0.1, 2.3)

#: The three relaxations of arg max, in the order of their Tsallis alpha (1, 1.5, 2).
MAPS = ("softmax", "1.5-entmax", "sparsemax")


def three_maps(x, temperature: float) -> dict:
    """``{"softmax": ..., "1.5-entmax": ..., "sparsemax": ...}`` of ``x / T`` (float64, CPU).

    Args:
        x: the logits, a 1-d sequence or tensor (any leading batch dimensions work too).
        temperature: :math:`T > 0`.

    Returns:
        A dict of float64 CPU tensors of the shape of ``x``, computed with relaxlib.
    """
    import relaxlib as rl

    x = torch.as_tensor(x, dtype=torch.float64).detach().cpu()
    return {
        "softmax": rl.softmax(x, temperature),
        "1.5-entmax": rl.entmax15(x, temperature),
        "sparsemax": rl.sparsemax(x, temperature),
    }


def draw_maps_panel(fig: Figure, temperature: float, x=LECTURE_X) -> str:
    """Draw softmax, 1.5-entmax and sparsemax of ``x / T`` as three bar charts.

    Entries that are exactly zero are marked with a cross on the index axis. Meant as the
    ``draw`` function of :func:`dae_course.sliders.scrub_animation` and
    :func:`dae_course.explorers.temperature_explorer` (bind ``x`` with
    ``functools.partial``).

    Args:
        fig: the (empty) figure to draw into; three axes are added.
        temperature: :math:`T > 0`.
        x: the logits, a 1-d sequence or tensor.

    Returns:
        A one-line caption: the temperature and the number of exact zeros of each map.

    Reference: Martins & Astudillo, ICML 2016; Peters, Niculae & Martins, ACL 2019.
    """
    maps = three_maps(x, temperature)
    n = len(maps["softmax"])
    idx = list(range(n))
    colors = [CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i in idx]
    axes = fig.subplots(1, 3, sharey=True)
    zeros = {}
    for ax, (name, p) in zip(axes, maps.items()):
        ax.bar(idx, p.tolist(), color=colors, width=0.6)
        off = [i for i in idx if p[i] == 0]
        zeros[name] = len(off)
        if off:
            ax.plot(off, [0.0] * len(off), "x", color="black", markersize=9, clip_on=False)
        ax.set_xticks(idx)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0, 1.05)
        ax.set_title(name)
        ax.set_xlabel("index $i$")
    axes[0].set_ylabel(f"$p_i$ at T = {temperature:.3g}")
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.19, top=0.9, wspace=0.08)  # fast
    counts = ", ".join(f"{name} {k}" for name, k in zeros.items())
    return f"T = {temperature:.3g}: exact zeros: {counts}"


def maps_against_temperature_figure(
    x,
    temperatures: Sequence[float],
    zero_temperatures: Mapping[str, Sequence[float]],
    *,
    figsize: tuple = (7.5, 3.0),
) -> Figure:
    """Each entry of softmax, 1.5-entmax and sparsemax of ``x / T`` against ``T``.

    One panel per map, ``T`` on a logarithmic axis, one line per entry (its colour and
    line style), and a dotted vertical line at each temperature the page computed for an
    entry to reach zero (``zero_temperatures[name][i]``; 0 draws nothing).

    Args:
        x: the logits, a 1-d sequence or tensor.
        temperatures: the grid of ``T``.
        zero_temperatures: for ``"1.5-entmax"`` and ``"sparsemax"``, one temperature per
            entry.
        figsize: the figure's size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    temps = [float(t) for t in temperatures]
    curves = [three_maps(x, t) for t in temps]
    fig, axes = plt.subplots(1, 3, figsize=figsize, sharey=True)
    for ax, name in zip(axes, MAPS):
        values = torch.stack([c[name] for c in curves])  # (len(temps), n)
        for i in range(values.shape[1]):
            ax.plot(temps, values[:, i].tolist(), **category_style(i), label=f"$p_{i}$")
        for i, t0 in enumerate(zero_temperatures.get(name, ())):
            if t0 > 0:
                color = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
                ax.axvline(t0, color=color, linestyle=(0, (1, 2)), linewidth=1.0)
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("temperature $T$")
    axes[0].set_ylabel("$p_i$")
    axes[0].legend(loc="center left")
    fig.tight_layout()
    return fig


def two_categories_figure(t, curves: Mapping[str, Sequence[float]], *, figsize=(6.0, 3.2)):
    """The first output of each map for the two logits ``[t, 0]``, against ``t``.

    Args:
        t: the grid of ``t``.
        curves: label -> the first probability at each ``t``.
        figsize: the figure's size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    t = [float(v) for v in t]
    for k, (label, values) in enumerate(curves.items()):
        ax.plot(t, [float(v) for v in values], **category_style(k), label=label)
    ax.set_xlabel("$t$")
    ax.set_ylabel("first output for logits $[t, 0]$")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
