"""Drawings of chapter 7: Gumbel-softmax samples on the simplex, and bias against variance.

Needs matplotlib. ``draw_simplex_panel`` has the ``draw(fig, value)`` signature shared by
:func:`dae_course.sliders.scrub_animation` and :func:`dae_course.explorers.temperature_explorer`.
The bias/variance figures draw what the page measured (:func:`problems.measure` results);
they compute no estimate themselves.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle

from ..palette import CATEGORY_COLORS, LINESTYLES, MARKERS, MAX_WIDTH, category_style, inch_margins

__all__ = [
    "simplex_coordinates",
    "draw_simplex_panel",
    "simplex_figure",
    "bias_variance_figure",
    "many_choices_figure",
]

_VERTICES = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]], dtype=torch.float64)


def simplex_coordinates(y) -> torch.Tensor:
    r"""Points of the 2-simplex (3 probabilities) as 2-d coordinates in an equilateral triangle.

    The barycentric point :math:`(y_0, y_1, y_2)` maps to :math:`\sum_k y_k v_k` with the
    vertices :math:`v_0 = (0, 0)`, :math:`v_1 = (1, 0)`, :math:`v_2 = (1/2, \sqrt3/2)`: a
    one-hot :math:`e_k` lands on vertex :math:`v_k`, the uniform distribution on the centre.

    Args:
        y: tensor or sequence of shape ``(..., 3)`` (rows summing to 1).

    Returns:
        float64 CPU tensor of shape ``(..., 2)``.
    """
    y = torch.as_tensor(y, dtype=torch.float64).detach().cpu()
    if y.shape[-1] != 3:
        raise ValueError(f"need 3 probabilities in the last dimension, got shape {tuple(y.shape)}")
    return y @ _VERTICES


def _triangle(ax, labels: Sequence[str]) -> None:
    """The triangle, each vertex labelled and marked with its category's marker."""
    closed = torch.cat([_VERTICES, _VERTICES[:1]])
    ax.plot(closed[:, 0].tolist(), closed[:, 1].tolist(), color="0.3", linewidth=1)
    offsets = [(-0.05, -0.09), (0.05, -0.09), (0.09, -0.02)]
    for k, ((vx, vy), (dx, dy)) in enumerate(zip(_VERTICES.tolist(), offsets)):
        ax.text(vx + dx, vy + dy, labels[k], ha="center", va="center", color=CATEGORY_COLORS[k])
        ax.plot(
            [vx + dx + (-0.11 if k == 0 else 0.11)],
            [vy + dy],
            marker=MARKERS[k],
            color=CATEGORY_COLORS[k],
            clip_on=False,
        )
    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(-0.2, 0.92)
    ax.set_aspect("equal")
    ax.axis("off")


def _samples(logits, noise, temperature: float):
    x = torch.as_tensor(logits, dtype=torch.float64).detach().cpu()
    g = torch.as_tensor(noise, dtype=torch.float64).detach().cpu()
    if x.shape != (3,) or g.dim() != 2 or g.shape[-1] != 3:
        raise ValueError("need 3 logits and noise of shape (n, 3)")
    y = torch.softmax((x + g) / temperature, -1)
    winner = (x + g).argmax(-1)
    return x, y, winner


def _scatter(ax, x, y, winner, area: float = 10.0) -> None:
    """One dot per sample, in the colour and marker of the category Gumbel-max picks."""
    xy = simplex_coordinates(y)
    colors = [CATEGORY_COLORS[k] for k in winner.tolist()]
    dots = ax.scatter(xy[:, 0].tolist(), xy[:, 1].tolist(), s=area, c=colors, alpha=0.55)
    dots.set_linewidths(0)
    shapes = [MarkerStyle(m) for m in MARKERS[:3]]
    paths = [s.get_path().transformed(s.get_transform()) for s in shapes]
    dots.set_paths([paths[k] for k in winner.tolist()])  # one collection, a marker per dot
    p_xy = simplex_coordinates(torch.softmax(x, -1))
    ax.plot(*p_xy.tolist(), marker="*", markersize=11, color="black", linestyle="none")


def draw_simplex_panel(fig: Figure, temperature: float, logits, noise) -> str:
    r"""Gumbel-softmax samples :math:`\operatorname{softmax}((x + g)/T)` on the triangle, for one T.

    Left: the samples (one dot per row of ``noise``, coloured and shaped by the category that
    Gumbel-max picks, :math:`\arg\max(x + g)`, which does not depend on :math:`T`) and the
    noise-free probabilities :math:`p = \operatorname{softmax}(x)` as a star. Right: for each
    category, :math:`p_k`, the fraction of samples whose largest coordinate is :math:`k`
    (an exact categorical sample at every temperature) and the mean coordinate
    :math:`\mathbb E[y_k]` (which is *not* :math:`p_k`). Using the same noise for every
    :math:`T` makes the dots move continuously as the temperature changes.

    Args:
        fig: the empty figure to draw into (two axes are added).
        temperature: :math:`T > 0`.
        logits: the 3 logits :math:`x`.
        noise: Gumbel noise, shape ``(n, 3)``.

    Returns:
        A caption with the temperature and the mean distance of the samples from the nearest
        vertex.

    Reference: Jang, Gu & Poole, ICLR 2017, figure 1; Maddison, Mnih & Teh, ICLR 2017.
    """
    x, y, winner = _samples(logits, noise, temperature)
    p = torch.softmax(x, -1)
    freq = torch.bincount(winner, minlength=3).double() / winner.numel()
    mean = y.mean(0)
    corner = (1 - y.max(-1).values).mean().item()

    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.0]})
    _triangle(ax1, [f"$e_{k}$" for k in range(3)])
    _scatter(ax1, x, y, winner)
    ax1.set_title(f"T = {temperature:.3g}")
    idx, w = [0.0, 1.0, 2.0], 0.26
    left, right = [i - w for i in idx], [i + w for i in idx]
    ax2.bar(
        left,
        p.tolist(),
        width=w,
        color="white",
        edgecolor="0.3",
        hatch="...",
        label="$p_k$ = softmax(x)",
    )
    ax2.bar(idx, freq.tolist(), width=w, color=CATEGORY_COLORS[:3], label="share with arg max k")
    ax2.bar(
        right,
        mean.tolist(),
        width=w,
        color="white",
        edgecolor="black",
        hatch="//",
        label="mean of $y_k$",
    )
    ax2.set_xticks(idx)
    ax2.set_xlabel("category k")
    ax2.set_ylim(0, 1.45)  # room for the legend above the bars
    ax2.set_yticks([0, 0.5, 1])
    ax2.legend(loc="upper left", borderaxespad=0.2, handlelength=1.6)
    # Fixed margins rather than tight_layout: this runs once per animation frame.
    inch_margins(fig, left=0.05, right=0.1, bottom=0.55, top=0.35, wspace=0.5, ncols=2)
    return f"T = {temperature:.3g}: mean of 1 - max_k y_k = {corner:.3f}"


def simplex_figure(
    logits, noise, temperatures: Sequence[float], *, figsize: Optional[tuple] = None
) -> Figure:
    r"""Small multiples: the same Gumbel-softmax samples on the triangle at several temperatures.

    Args:
        logits: the 3 logits.
        noise: Gumbel noise, shape ``(n, 3)``, shared by all panels.
        temperatures: one panel per temperature.
        figsize: default ``(2.4 * len(temperatures), 2.6)``, scaled down to
            :data:`dae_course.palette.MAX_WIDTH` wide when wider.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    temperatures = [float(t) for t in temperatures]
    if figsize is None:
        width = 2.4 * len(temperatures)
        figsize = (min(width, MAX_WIDTH), 2.6 * min(1.0, MAX_WIDTH / width) + 0.3)
    fig, axes = plt.subplots(1, len(temperatures), figsize=figsize, squeeze=False)
    for ax, t in zip(axes[0], temperatures):
        x, y, winner = _samples(logits, noise, t)
        _triangle(ax, [f"$e_{k}$" for k in range(3)])
        _scatter(ax, x, y, winner, area=8.0)
        ax.set_title(f"T = {t:g}")
    fig.tight_layout()
    return fig


def bias_variance_figure(
    sweep: Mapping[str, Sequence],
    variance_lines: Optional[Mapping[str, float]] = None,
    *,
    figsize: tuple = (7.5, 3.6),
) -> Figure:
    r"""Bias and variance of Gumbel-softmax estimators against the temperature (log-log).

    Args:
        sweep: ``{label: [(temperature, measured), ...]}``; each ``measured`` is a dict as
            returned by the page's ``measure`` (``"|bias|"``, ``"noise"`` and
            ``"var/sample"`` are used).
        variance_lines: ``{label: variance per sample}`` of temperature-free estimators
            (REINFORCE, ...), drawn as horizontal lines on the right.
        figsize: figure size.

    Returns:
        The figure: left, the norm of the bias (with the noise level of each point as an
        error bar); right, the variance per sample.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    for i, (label, points) in enumerate(sweep.items()):
        ts = [float(t) for t, _ in points]
        style = {**category_style(i, marker=True), "label": label, "markersize": 5}
        ax1.errorbar(
            ts,
            [s["|bias|"] for _, s in points],
            yerr=[s["noise"] for _, s in points],
            capsize=2,
            **style,
        )
        ax2.plot(ts, [s["var/sample"] for _, s in points], **style)
    styles = ["--", ":", "-."]
    for j, (label, value) in enumerate((variance_lines or {}).items()):
        ax2.axhline(value, color="0.35", linestyle=styles[j % 3], linewidth=1, label=label)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("temperature T")
    ax1.set_ylabel(r"$\|\mathrm{bias}\|$")
    ax1.set_title("bias (norm of mean error)")
    ax2.set_ylabel(r"$m\cdot\mathrm{tr\,Cov}$")
    ax2.set_title("variance per sample")
    ax1.legend(handlelength=2.5)
    ax2.legend(loc="lower left", handlelength=2.5)
    fig.tight_layout()
    return fig


def many_choices_figure(
    n_vars: Sequence[int],
    variances: Mapping[str, Sequence[float]],
    exact: Optional[Mapping[str, Sequence[float]]] = None,
    *,
    figsize: tuple = (7.5, 3.4),
) -> Figure:
    r"""Variance per sample against the number :math:`D` of choices sharing one loss (log-log).

    Args:
        n_vars: the values of :math:`D`.
        variances: ``{label: [variance for each D]}``, measured (markers).
        exact: optional ``{label: [variance for each D]}``, closed forms (lines).
        figsize: figure size.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    d = [int(v) for v in n_vars]
    for i, (label, values) in enumerate(variances.items()):
        style = category_style(i, line=False, marker=True)
        ax.plot(d, list(values), **style, linestyle="none", label=f"{label} (measured)")
    for j, (label, values) in enumerate((exact or {}).items()):
        style = {"color": "0.35", "linestyle": LINESTYLES[1 + j % 5], "linewidth": 1}
        ax.plot(d, list(values), **style, label=f"{label} (exact)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of choices D sharing the loss")
    ax.set_ylabel("variance per sample,\none choice")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))  # beside the data
    fig.tight_layout()
    return fig
