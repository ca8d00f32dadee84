r"""Drawings of chapter 6 (discrete outputs and REINFORCE), all on the Bernoulli toy
:math:`\min_\theta \mathbb E_{b \sim \mathrm{Bernoulli}(\theta)}[(b - t)^2]` whose exact
answers are in :mod:`dae_course.ch06_reinforce.problems`.

The figures draw what the page computed (sample averages, autograd slopes, SGD paths,
measured variances) next to those exact answers; no estimator runs in here.

Import explicitly: ``from dae_course.ch06_reinforce import figures as rplot``. Needs matplotlib.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, MAX_WIDTH, category_style, inch_margins
from . import problems as toy

__all__ = [
    "sample_loss_figure",
    "variance_vs_samples_figure",
    "sgd_figure",
    "baseline_variance_figure",
    "draw_estimate_distribution",
    "EXPLORER_THETA",
    "EXPLORER_TARGETS",
]

#: The parameter and the two targets the explorer of chapter 6 shows.
EXPLORER_THETA = 0.3
EXPLORER_TARGETS = (0.45, 0.499)

_PLAIN, _LOO, _EXACT = CATEGORY_COLORS[0], CATEGORY_COLORS[1], "#d62728"


def sample_loss_figure(
    t: float,
    us: Sequence[float],
    grid: torch.Tensor,
    average: torch.Tensor,
    slope: torch.Tensor,
) -> Figure:
    r"""Single-sample losses are steps in :math:`\theta`; the expected loss is smooth.

    Left: the loss :math:`(b - t)^2` of one sample :math:`b = \mathbf{1}[u < \theta]` against
    :math:`\theta` for each fixed noise value ``u`` in ``us`` (a step from :math:`t^2` to
    :math:`(1 - t)^2` at :math:`\theta = u`), the ``average`` of many such losses computed on
    the page (a staircase), and the exact :math:`F(\theta) = \theta(1-t)^2 + (1-\theta)t^2`.
    Right: the derivative of that average which autograd returned on the page (``slope``)
    against the exact :math:`F'(\theta) = 1 - 2t`.

    Args:
        t: the target.
        us: a few noise values in (0, 1), one step curve each.
        grid: the values of :math:`\theta`, a 1-d tensor.
        average: the average loss at each grid point, the shape of ``grid``.
        slope: autograd's derivative of ``average`` at each grid point.

    Returns:
        The figure (two axes).
    """
    grid, average, slope = (x.detach().cpu().double() for x in (grid, average, slope))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 4.2), width_ratios=[1.4, 1])
    for k, u in enumerate(us):
        ax1.plot(
            grid,
            torch.where(grid > float(u), (1 - t) ** 2, t**2),  # b = 1 once theta passes u
            **category_style(k + 2),
            lw=1.2,
            alpha=0.8,
            label=f"sample, u = {float(u):.2f}",
        )
    ax1.plot(grid, average, color=_PLAIN, lw=2, label="average")
    ax1.plot(grid, toy.expected_loss(grid, t), color=_EXACT, lw=2, ls="--", label="E[L(θ)]")
    ax1.set_xlabel("θ = P(b = 1)")
    ax1.set_ylabel("loss")
    ax1.set_title(f"(b − t)², t = {t}: samples are steps")
    ax1.set_ylim(top=ax1.get_ylim()[1] + 0.75 * (ax1.get_ylim()[1] - ax1.get_ylim()[0]))
    ax1.legend(loc="upper left", ncol=2, handlelength=1.8, columnspacing=0.8)
    ax2.plot(grid, slope, color=_PLAIN, lw=2, label="autograd:\nd(average)/dθ")
    ax2.plot(
        grid,
        torch.full_like(grid, toy.exact_gradient(0.5, t)),
        color=_EXACT,
        lw=2,
        ls="--",
        label=f"exact: 1 − 2t = {1 - 2 * t:.2g}",
    )
    ax2.set_ylim(-0.05, max(0.3, 3 * (1 - 2 * t)))  # room for the legend
    ax2.set_xlabel("θ")
    ax2.set_title("derivatives")
    ax2.legend(loc="upper left")
    fig.tight_layout()
    return fig


def variance_vs_samples_figure(
    measured: Dict[str, Tuple[Sequence[float], Sequence[float]]],
    exact: Dict[str, Tuple[Sequence[float], Sequence[float]]],
    title: str = "",
) -> Figure:
    r"""Variance of an :math:`m`-sample gradient estimate against :math:`m`, log–log.

    Args:
        measured: label -> ``(ms, variances)`` measured by Monte Carlo (drawn as markers).
        exact: label -> ``(ms, variances)`` from the closed forms (drawn as lines), the
            labels in the same order as ``measured`` so that the colours match.
        title: the axes title.

    Returns:
        The figure (one axes, both scales logarithmic).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (label, (ms, var)) in enumerate(exact.items()):
        ax.plot(ms, var, **category_style(k), lw=1.5, label=f"{label}: exact")
    for k, (label, (ms, var)) in enumerate(measured.items()):
        style = category_style(k, line=False, marker=True)
        ax.plot(ms, var, **style, ls="none", ms=6, label=f"{label}: measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("samples per estimate, m")
    ax.set_ylabel("variance of the estimate")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handlelength=2.5)
    fig.tight_layout()
    return fig


def sgd_figure(
    panels: Sequence[Tuple[str, torch.Tensor, torch.Tensor]],
    show: int = 25,
) -> Figure:
    r""":math:`\theta` along stochastic gradient descent, one panel per setting.

    Args:
        panels: ``(title, runs, exact)`` per panel: ``runs`` of shape ``(steps + 1, R)``
            (the page's ``sgd``), of which the first ``show`` are drawn
            as thin lines, and ``exact`` of shape ``(steps + 1,)`` or ``(steps + 1, 1)``, the
            exact-gradient path, drawn dashed.
        show: how many runs to draw per panel.

    Returns:
        The figure (one axes per panel).
    """
    width = min(3.6 * len(panels), MAX_WIDTH)
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.4), squeeze=False, sharey=True)
    for ax, (title, runs, exact) in zip(axes[0], panels):
        steps = torch.arange(runs.shape[0])
        ax.plot(steps, runs[:, :show].cpu(), color=_PLAIN, lw=0.7, alpha=0.5)
        ax.plot(steps, exact.reshape(-1).cpu(), color=_EXACT, lw=2, ls="--", label="exact gradient")
        ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title(title)
    axes[0][0].legend(loc="upper right", handlelength=1.8)
    axes[0][0].set_ylabel("θ")
    fig.tight_layout()
    return fig


def baseline_variance_figure(
    theta: float,
    t: float,
    measured_c: Sequence[float],
    measured_var: Sequence[float],
    loo: Optional[Dict[int, float]] = None,
    points: int = 400,
) -> Figure:
    r"""Per-sample variance of REINFORCE with a constant baseline :math:`c`, against :math:`c`.

    Draws the exact :math:`\operatorname{Var}_c = (c - c^\star)^2/(\theta(1 - \theta))`
    (:func:`~dae_course.ch06_reinforce.problems.per_sample_variance`) on a logarithmic axis,
    the measured values as markers, vertical lines at :math:`c = \mathbb E[\mathcal L]` and
    :math:`c = c^\star`, and, if given, :math:`m \operatorname{Var}` of the leave-one-out
    estimate as horizontal lines (comparable with a per-sample variance).

    Args:
        theta, t: the toy's parameter and target.
        measured_c, measured_var: the baselines tried and their measured variances.
        loo: optional ``{m: m * variance}`` for the leave-one-out baseline.
        points: grid size over :math:`c \in [0, 0.5]`.

    Returns:
        The figure (one axes, logarithmic y).
    """
    grid = torch.linspace(0.0, 0.5, points, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(grid, toy.per_sample_variance(theta, t, grid), color=_PLAIN, lw=1.5, label="exact")
    ax.plot(measured_c, measured_var, "o", color=_PLAIN, ms=6, label="measured")
    el, cstar = toy.expected_loss(theta, t), toy.optimal_baseline(theta, t)
    ax.axvline(el, color="0.4", ls=":", lw=1)
    ax.axvline(cstar, color=_EXACT, ls="--", lw=1)
    ax.text(el, 1.2, "c = E[L] ", ha="right", va="top")
    ax.text(cstar, 1.2, " c*", va="top", color=_EXACT)
    for k, (m, scaled) in enumerate(sorted((loo or {}).items())):
        ax.axhline(
            scaled,
            color=_LOO,
            lw=1,
            ls=(0, (1 + 2 * k, 2)),
            label=f"leave-one-out, m = {m}: m·Var",
        )
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 2.0)
    ax.set_xlabel("constant baseline c")
    ax.set_ylabel("variance of one sample's estimate")
    ax.set_title(f"θ = {theta}, t = {t}")
    ax.legend(loc="lower left", handlelength=2.5)
    fig.tight_layout()
    return fig


def _histogram(ax, values, probs, edges, color, label, hatch=None):
    counts = torch.histogram(values.cpu(), bins=edges, weight=probs.cpu()).hist
    style = {"facecolor": color, "edgecolor": color, "hatch": hatch}
    ax.stairs(counts, edges, fill=True, **style, alpha=0.55, label=label)


def draw_estimate_distribution(
    fig: Figure,
    m: float,
    theta: float = EXPLORER_THETA,
    targets: Sequence[float] = EXPLORER_TARGETS,
    bins: int = 41,
) -> str:
    r"""The exact distribution of the :math:`m`-sample REINFORCE estimate, one panel per target.

    Each panel shows, as probability histograms, the estimate without a baseline and with the
    leave-one-out baseline (hatched; for :math:`m \ge 2`), both from
    :func:`~dae_course.ch06_reinforce.problems.estimate_distribution` (exact, no sampling),
    with the true gradient :math:`1 - 2t` and zero marked, and the probability that the
    estimate has the right sign in the title. The x range is :math:`\pm 4` standard
    deviations of the plain estimate around the truth. Meant as the ``draw`` function of
    :func:`dae_course.sliders.scrub_animation` and
    :func:`dae_course.explorers.parameter_explorer`.

    Args:
        fig: the empty figure to draw into; one axes per target is added.
        m: number of samples (rounded to the nearest integer :math:`\ge 1`).
        theta: :math:`P(b = 1)`.
        targets: the targets :math:`t`.
        bins: number of histogram bins.

    Returns:
        A one-line caption with :math:`m` and the standard deviations.
    """
    m = max(1, int(round(m)))
    axes = fig.subplots(1, len(targets), squeeze=False, sharey=True)[0]
    sds = []
    for ax, t in zip(axes, targets):
        truth = 1 - 2 * t
        sd = math.sqrt(toy.per_sample_variance(theta, t) / m)
        sds.append(sd)
        edges = torch.linspace(truth - 4 * sd, truth + 4 * sd, bins + 1, dtype=torch.float64)
        values, probs = toy.estimate_distribution(theta, t, m)
        _histogram(ax, values, probs, edges, _PLAIN, "no baseline")
        title = f"t = {t}: P(right sign)\n= {toy.sign_probability(theta, t, m):.2f}"
        if m >= 2:
            values, probs = toy.estimate_distribution(theta, t, m, "loo")
            _histogram(ax, values, probs, edges, _LOO, "leave-one-out", hatch="///")
            title += f" / {toy.sign_probability(theta, t, m, 'loo'):.2f}"
        ax.axvline(truth, color=_EXACT, lw=2, ls="--", label=f"true gradient {truth:.3g}")
        ax.axvline(0.0, color="0.3", lw=0.8, ls=":")
        ax.set_xlim(float(edges[0]), float(edges[-1]))
        ax.set_ylim(0, 1.7)  # room for the legend above the bars
        ax.set_yticks([0, 0.5, 1])
        ax.set_title(title)
        ax.set_xlabel(f"{m}-sample estimate of dE/dθ")
        ax.legend(loc="upper left", borderaxespad=0.2, handlelength=1.6)
    axes[0].set_ylabel("probability")
    ncols = len(axes)
    inch_margins(fig, left=0.75, right=0.15, bottom=0.55, top=0.65, wspace=0.2, ncols=ncols)
    return f"m = {m}: sd without baseline " + ", ".join(
        f"{sd:.3g} (t = {t})" for sd, t in zip(sds, targets)
    )
