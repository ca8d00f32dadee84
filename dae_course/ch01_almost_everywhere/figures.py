"""Drawings of chapter 1 (differentiable almost everywhere): difference quotients at a kink,
fans of subgradients, and subgradient descent / minibatch SGD through kinks.

Import explicitly: ``from dae_course.ch01_almost_everywhere import figures as ae_plot``.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ..palette import CATEGORY_COLORS, category_style, inch_margins

__all__ = [
    "one_sided_quotients_at",
    "draw_difference_quotients",
    "subgradient_fan_figure",
    "subgradient_descent_figure",
    "minibatch_figure",
]

_LEFT, _RIGHT, _FN = CATEGORY_COLORS[1], CATEGORY_COLORS[0], "0.15"


def _relu(x: float) -> float:
    return max(0.0, x)


def one_sided_quotients_at(x0: float, h: float) -> tuple:
    r"""ReLU's one-sided difference quotients at ``x0`` with step ``h`` (plain floats).

    .. math:: \frac{f(x_0) - f(x_0 - h)}{h}, \qquad \frac{f(x_0 + h) - f(x_0)}{h}

    Returns:
        ``(left, right)``.
    """
    return (_relu(x0) - _relu(x0 - h)) / h, (_relu(x0 + h) - _relu(x0)) / h


def _zoom_panel(ax, centre: float, h: float, title: str, legend: bool = True) -> None:
    """ReLU around ``centre`` in coordinates scaled by h, with the two secants of step h.

    Plots :math:`u \\mapsto (f(c + u h) - f(c)) / h` for :math:`u \\in [-2, 2]`: a window of
    half-width 2h, magnified so that it always looks the same size. In these coordinates
    the secants run from ``u = -1`` and to ``u = 1`` and their slopes are the quotients.
    """
    fc = _relu(centre)

    def scaled(u: float) -> float:
        return (_relu(centre + u * h) - fc) / h

    us = [-2.0, 2.0]
    kink = -centre / h  # where the kink at x = 0 sits in scaled coordinates
    if -2.0 < kink < 2.0:
        us.insert(1, kink)
    ax.plot(us, [scaled(u) for u in us], color=_FN, linewidth=2, label="ReLU")
    left, right = one_sided_quotients_at(centre, h)
    ax.plot(
        [-1, 0],
        [scaled(-1.0), 0.0],
        color=_LEFT,
        linewidth=2.5,
        linestyle="--",
        label="left secant",
    )
    ax.plot(
        [0, 1],
        [0.0, scaled(1.0)],
        color=_RIGHT,
        linewidth=2.5,
        linestyle=":",
        label="right secant",
    )
    ax.plot([-1, 0, 1], [scaled(-1.0), 0.0, scaled(1.0)], "o", color="black", markersize=4)
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2.3, 3.4 if legend else 2.3)
    ax.set_xticks([-2, -1, 0, 1, 2])
    ax.set_yticks([-2, -1, 0, 1, 2])
    ax.set_title(title)
    ax.text(1.9, -2.1, f"slopes\n{left:.3f}\n{right:.3f}", ha="right", va="bottom")
    if legend:
        ax.legend(loc="upper left", handlelength=1.6, borderaxespad=0.2)


def draw_difference_quotients(fig: Figure, h: float, x0: float = 0.1) -> str:
    r"""Zoom in on ReLU at the kink and at a nearby smooth point, with step ``h``.

    Left: ReLU in the window :math:`[-2h, 2h]` around 0, magnified by :math:`1/h` (axes
    :math:`(x - 0)/h` and :math:`(f(x) - f(0))/h`), with its left secant (from :math:`-h`
    to 0) and right secant (from 0 to :math:`h`), whose slopes are the quotients. The
    picture is the same for every ``h``: zooming in never straightens the kink. Middle: the
    same around ``x0``; once ``h`` is below ``x0 / 2`` the window no longer contains the
    kink, the graph is a straight line and both secants have slope 1. Right: both
    one-sided quotients at 0 and at ``x0`` against ``h`` (log axis), with the
    current ``h`` marked. Meant as the ``draw`` function of
    :func:`dae_course.explorers.parameter_explorer` and
    :func:`dae_course.sliders.scrub_animation`.

    Args:
        fig: the (empty) figure to draw into; three axes are added, in one row when the
            figure is at least 2.6 times as wide as it is high, otherwise the two zooms
            above the quotients.
        h: the step, > 0.
        x0: the smooth point to compare with, > 0.

    Returns:
        A caption with the four quotients.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), slide
    on ReLU's left and right gradients.
    """
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    width, height = fig.get_size_inches()
    one_row = width >= 2.6 * height
    if one_row:
        ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.25]})
    else:
        grid = fig.add_gridspec(2, 2, height_ratios=[1.15, 1])
        ax1, ax2 = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        ax3 = fig.add_subplot(grid[1, :])
    _zoom_panel(ax1, 0.0, h, "around x = 0", legend=not one_row)
    _zoom_panel(ax2, x0, h, f"around x = {x0:g}", legend=False)
    ax1.set_xlabel("(x - 0) / h")
    ax1.set_ylabel("(f(x) - f(0)) / h")
    ax2.set_xlabel(f"(x - {x0:g}) / h")

    hs = torch.logspace(-3, 0.3, 200, dtype=torch.float64).tolist()
    at0 = [one_sided_quotients_at(0.0, v) for v in hs]
    atx = [one_sided_quotients_at(x0, v) for v in hs]
    ax3.plot(hs, [q[0] for q in at0], color=_LEFT, linewidth=2, label="left, x = 0")
    ax3.plot(hs, [q[1] for q in at0], color=_RIGHT, linestyle="-.", label="right, x = 0")
    ax3.plot(hs, [q[0] for q in atx], color=_LEFT, linestyle="--", label=f"left, x = {x0:g}")
    ax3.plot(
        hs,
        [q[1] for q in atx],
        color=_RIGHT,
        linestyle=":",
        linewidth=2.5,
        label=f"right, x = {x0:g}",
    )
    ax3.axvline(h, color="0.4", linewidth=1)
    ax3.axvline(x0, color="0.7", linewidth=0.8, linestyle=":")
    ax3.set_xscale("log")
    ax3.set_xticks([1e-3, 1e-2, 1e-1, 1.0], ["0.001", "0.01", "0.1", "1"])
    ax3.xaxis.set_minor_locator(NullLocator())
    ax3.set_ylim(-0.1, 1.25)
    ax3.set_xlabel("step h (log scale)")
    ax3.set_title("one-sided quotients")
    if one_row:  # the legend between the lines at 0 and at 1
        ax3.legend(
            loc="center left",
            bbox_to_anchor=(0.0, 0.6 / 1.35),
            handlelength=1.6,
            labelspacing=0.3,
            borderaxespad=0.2,
        )
        inch_margins(fig, left=0.75, right=0.1, bottom=0.55, top=0.35, wspace=0.45, ncols=3)
    else:
        ax3.legend(loc="center left", ncol=2, handlelength=1.6)
        inch_margins(
            fig,
            left=0.75,
            right=0.15,
            bottom=0.55,
            top=0.35,
            wspace=0.45,
            hspace=0.85,
            ncols=2,
            nrows=2,
        )
    l0, r0 = one_sided_quotients_at(0.0, h)
    lx, rx = one_sided_quotients_at(x0, h)
    return (
        f"h = {h:.3g}: at x = 0 left = {l0:.3f}, right = {r0:.3f}; "
        f"at x = {x0:g} left = {lx:.3f}, right = {rx:.3f}"
    )


def subgradient_fan_figure(
    relu_slopes: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    abs_slopes: Sequence[float] = (-1.0, -0.6, -0.2, 0.2, 0.6, 1.0),
    bad_slopes: tuple = (1.5, -1.5),
    figsize: tuple = (7.5, 3.4),
) -> Figure:
    """ReLU and ``|x|`` with the fan of lines ``y = g x`` through the kink.

    Each solid line of the fan is a *supporting line*: it touches the graph at 0 and never
    goes above it, so its slope ``g`` is a subgradient at 0. The dashed red line has a
    slope outside the subdifferential ([0, 1] for ReLU, [-1, 1] for ``|x|``) and crosses
    above the graph.

    Args:
        relu_slopes, abs_slopes: slopes of the fan for each function.
        bad_slopes: one slope outside the subdifferential for each function.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure`` (two axes).

    Reference: R. T. Rockafellar, *Convex Analysis*, Princeton University Press 1970,
    section 23 (subgradients and supporting hyperplanes).
    """
    import matplotlib.pyplot as plt

    xs = torch.linspace(-1.5, 1.5, 301, dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    panels = [
        (axes[0], torch.relu, "ReLU", relu_slopes, bad_slopes[0], "[0, 1]"),
        (axes[1], torch.abs, "$|x|$", abs_slopes, bad_slopes[1], "[-1, 1]"),
    ]
    for ax, f, name, slopes, bad, interval in panels:
        lo, hi = min(slopes), max(slopes)
        for i, g in enumerate(slopes):
            shade = 0.15 + 0.7 * (g - lo) / (hi - lo) if hi > lo else 0.5
            label = f"$g$ = {lo:g} ... {hi:g}" if i == 0 else None
            ax.plot(xs, g * xs, color=plt.cm.viridis(shade), linewidth=1.2, label=label)
        ax.plot(
            xs,
            bad * xs,
            color="#d62728",
            linestyle="--",
            linewidth=1.2,
            label=f"$g$ = {bad:g}",
        )
        ax.plot(xs, f(xs), color=_FN, linewidth=2.5, label=name)
        ax.plot([0], [0], "o", color="black")
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.0, 2.6)  # room for the legend above the lines
        ax.set_title(f"{name}: subdifferential {interval}")
        ax.set_xlabel("$x$")
        ax.legend(loc="upper center", framealpha=0.95, handlelength=1.6)
    fig.tight_layout()
    return fig


def subgradient_descent_figure(
    problem,
    runs: Mapping[str, dict],
    f_star: float,
    w_star: Optional[torch.Tensor] = None,
    *,
    path_run: Optional[str] = None,
    path_steps: int = 60,
    figsize: tuple = (7.5, 3.6),
) -> Figure:
    """Subgradient descent on a max of affine functions: a path, and the gap to the minimum.

    Left: filled contours of ``problem`` (a 2-D
    :class:`dae_course.ch01_almost_everywhere.problems.MaxAffine`; the creases are where
    pieces tie, the function's kinks) with the first ``path_steps`` iterates of one run.
    Right: for every run, ``f(w_k) - f*`` (thin) and the best value so far minus ``f*``
    (thick) against ``k`` on log-log axes.

    Args:
        problem: a 2-D ``MaxAffine``.
        runs: name -> a dict with ``"path"`` (the iterates, shape ``(k + 1, 2)``),
            ``"values"`` (``f`` at each iterate) and ``"best"`` (the best value so far), as
            the page computes them from its ``subgradient_descent``.
        f_star: the exact minimum; ``w_star``: the minimiser, marked with a star.
        path_run: which run's path to draw (default: the first).
        path_steps: how many steps of it to draw.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    name = path_run or next(iter(runs))
    path = runs[name]["path"][: path_steps + 1].detach().cpu().double()
    pts = path if w_star is None else torch.cat([path, w_star.detach().cpu().double()[None]])
    lo, hi = pts.min(0).values - 0.8, pts.max(0).values + 0.8
    g1 = torch.linspace(float(lo[0]), float(hi[0]), 200, dtype=torch.float64)
    g2 = torch.linspace(float(lo[1]), float(hi[1]), 200, dtype=torch.float64)
    W1, W2 = torch.meshgrid(g1, g2, indexing="ij")
    A, b = problem.A.detach().cpu().double(), problem.b.detach().cpu().double()
    Z = (torch.stack([W1, W2], -1) @ A.T + b).amax(-1)
    ax1.contourf(W1, W2, Z, levels=20, cmap="Greys_r", alpha=0.8)
    ax1.plot(
        path[:, 0],
        path[:, 1],
        "-o",
        color=CATEGORY_COLORS[1],
        markersize=2.5,
        linewidth=1,
        label=f"{name}, first {path_steps} steps",
    )
    if w_star is not None:
        ax1.plot(
            [float(w_star[0])],
            [float(w_star[1])],
            "*",
            color="gold",
            markersize=14,
            markeredgecolor="black",
            label="exact minimiser",
        )
    ax1.set_xlabel("$w_1$")
    ax1.set_ylabel("$w_2$")
    ax1.set_title("$f(w) = \\max_i (a_i^\\top w + b_i)$")
    ax1.legend(loc="lower left", framealpha=0.9)

    for i, (label, run) in enumerate(runs.items()):
        style = category_style(i)
        k = list(range(1, len(run["values"]) + 1))
        gap = [max(v - f_star, 1e-12) for v in run["values"]]
        best = [max(v - f_star, 1e-12) for v in run["best"]]
        ax2.plot(k, gap, color=style["color"], linewidth=0.5, alpha=0.5)
        ax2.plot(k, best, **style, linewidth=2.2, label=label)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("step $k + 1$")
    ax2.set_ylabel("$f - f^*$")
    ax2.set_title("thin: $f(w_k) - f^*$, thick: best so far")
    ax2.legend()
    fig.tight_layout()
    return fig


def minibatch_figure(
    history: Mapping[str, list], noise_floor: Optional[float] = None, figsize=(7.5, 3.4)
) -> Figure:
    """Minibatch SGD on a ReLU network: noisy minibatch losses, the full loss, and the cosines.

    Left: the loss of each step's minibatch (thin) and the loss on all the data (thick)
    against the step, log scale, with the noise floor (the best achievable error) dashed.
    Right: a histogram of the cosine between each minibatch gradient and the full gradient;
    everything right of 0 is a step that points downhill for the full loss.

    Args:
        history: the log of the page's minibatch SGD loop: lists ``"batch_loss"``,
            ``"full_loss"`` and ``"cosine"``, one entry per step.
        noise_floor: the variance of the label noise, drawn as a dashed line.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.4, 1]})
    steps = range(len(history["full_loss"]))
    ax1.plot(
        steps,
        history["batch_loss"],
        color=CATEGORY_COLORS[1],
        linewidth=0.4,
        alpha=0.7,
        label="minibatch loss (what each step sees)",
    )
    ax1.plot(steps, history["full_loss"], color="black", linewidth=1.8, label="loss on all data")
    if noise_floor is not None:
        ax1.axhline(noise_floor, color="0.4", linestyle="--", linewidth=1, label="noise floor")
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("mean squared error")
    ax1.legend()
    cos = history["cosine"]
    ax2.hist(cos, bins=[i / 20 - 1 for i in range(41)], color=CATEGORY_COLORS[0])
    ax2.axvline(0, color="black", linewidth=1)
    frac = sum(c > 0 for c in cos) / len(cos)
    ax2.set_title(f"{100 * frac:.0f}% of steps point downhill")
    ax2.set_xlabel("cosine with the full gradient")
    ax2.set_ylabel("steps")
    fig.tight_layout()
    return fig
