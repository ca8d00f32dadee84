r"""Drawings of chapter 5 (backpropagation through random operations).

* :func:`sgd_fit_figure`: the mean and standard deviation of a Gaussian fitted by SGD through
  reparameterised samples.
* :func:`density_check_figure`: histograms of reparameterised samples against the density of
  the matching ``torch.distributions`` object.
* :func:`estimator_variance_figure`: measured per-sample variances (and means) of the
  pathwise and score-function estimators on the Gaussian toy, against their closed forms.
* :func:`estimator_panel`: histograms of the two estimators' per-draw estimates for one
  target :math:`k`, computed on the page; the chapter's explorer and slider call it from
  their ``draw(fig, k)``.

Import explicitly: ``from dae_course.ch05_reparameterisation import figures``. Needs
matplotlib.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from ..palette import CATEGORY_COLORS, MAX_WIDTH, inch_margins

__all__ = [
    "PATHWISE_COLOR",
    "SCORE_COLOR",
    "sgd_fit_figure",
    "density_check_figure",
    "estimator_variance_figure",
    "estimator_panel",
]

#: Colour of the pathwise (reparameterisation) estimator in every figure of the chapter.
PATHWISE_COLOR = CATEGORY_COLORS[0]
#: Colour of the score-function (REINFORCE) estimator.
SCORE_COLOR = CATEGORY_COLORS[1]


def _floats(values) -> list:
    return torch.as_tensor(values, dtype=torch.float64).detach().cpu().reshape(-1).tolist()


def sgd_fit_figure(
    mus: Sequence[float],
    sigmas: Sequence[float],
    target: Tuple[float, float],
    *,
    figsize: tuple = (7.5, 3.0),
) -> Figure:
    r"""The parameters of a Gaussian during SGD, against the optimum.

    Left: :math:`\mu` per step; right: :math:`\sigma` per step; the optimum as dashed lines.

    Args:
        mus, sigmas: the parameter values, one per step (equal lengths).
        target: the optimum ``(mu*, sigma*)``.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """
    import matplotlib.pyplot as plt

    mus, sigmas = _floats(mus), _floats(sigmas)
    if len(mus) != len(sigmas) or not mus:
        raise ValueError("mus and sigmas must be non-empty and of equal length")
    steps = list(range(len(mus)))
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, values, best, name in zip(axes, (mus, sigmas), target, (r"\mu", r"\sigma")):
        ax.plot(steps, values, color=PATHWISE_COLOR, linewidth=1.2, label=f"${name}$ (SGD)")
        ax.axhline(float(best), color="0.3", linestyle="--", linewidth=1, label="optimum")
        ax.set_xlabel("SGD step")
        ax.set_ylabel(f"${name}$")
        ax.legend()
    axes[0].set_title(r"mean $\mu$")
    axes[1].set_title(r"standard deviation $\sigma = e^{s}$")
    fig.tight_layout()
    return fig


def density_check_figure(
    panels: Sequence[Tuple[str, torch.Tensor, torch.distributions.Distribution]],
    *,
    bins: int = 60,
    quantile: float = 0.995,
    figsize: Optional[tuple] = None,
) -> Figure:
    r"""Histograms of samples next to the density of the distribution they should follow.

    One axes per panel: a histogram of ``samples`` over their central ``quantile`` range (so
    a long tail does not squash the picture), normalised by the total number of samples so
    that it estimates the density, and the curve ``exp(dist.log_prob(y))``.

    Args:
        panels: ``(title, samples, dist)`` triples; ``samples`` 1-d, ``dist`` a scalar
            ``torch.distributions.Distribution``.
        bins: histogram bins.
        quantile: the upper quantile shown (the lower one is ``1 - quantile``).
        figsize: figure size; default 3.6 inches wide per panel, two panels a row (at most
            :data:`dae_course.palette.MAX_WIDTH` wide).

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: PyTorch documentation, ``torch.distributions``.
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("panels must not be empty")
    ncols = min(len(panels), 2)
    nrows = -(-len(panels) // ncols)
    figsize = figsize or (min(3.6 * ncols, MAX_WIDTH), 2.9 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, samples, dist) in zip(axes.flat, panels):
        y = samples.detach().double().cpu().reshape(-1)
        lo = float(torch.quantile(y[:200_000], 1 - quantile))
        hi = float(torch.quantile(y[:200_000], quantile))
        inside = y[(y >= lo) & (y <= hi)]
        counts = torch.histc(inside, bins=bins, min=lo, max=hi)
        edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
        density = counts / (y.numel() * (hi - lo) / bins)  # normalised by all samples
        ax.stairs(
            density.tolist(),
            edges.tolist(),
            fill=True,
            color=PATHWISE_COLOR,
            alpha=0.55,
            label="samples",
        )
        grid = torch.linspace(lo, hi, 300, dtype=torch.float64)
        dens = dist.log_prob(grid.to(dist.mean.dtype).to(dist.mean.device)).exp()
        ax.plot(
            grid.tolist(),
            _floats(dens),
            color="black",
            linewidth=1.3,
            label="density",
        )
        ax.set_title(title)
        ax.set_xlabel("$y$")
        ax.legend()
    for row in axes:
        row[0].set_ylabel("density")
    fig.tight_layout()
    return fig


def estimator_variance_figure(
    ks: Sequence[float],
    pathwise_var: Sequence[float],
    score_var: Sequence[float],
    *,
    mu: float = 1.0,
    sigma: float = 1.0,
    pathwise_mean: Optional[Sequence[float]] = None,
    score_mean: Optional[Sequence[float]] = None,
    n: Optional[int] = None,
    figsize: tuple = (7.5, 3.6),
) -> Figure:
    r"""Measured variances (and means) of the two estimators across :math:`k`, with closed forms.

    Left (log scale): measured per-sample variances as markers; the closed forms
    :math:`d^4/\sigma^2 + 14d^2 + 15\sigma^2` (score function) and :math:`4\sigma^2`
    (pathwise), :math:`d = \mu - k`, as lines. Right (drawn when means are given): the measured
    means against the exact gradient :math:`2(\mu - k)`.

    Args:
        ks: the targets :math:`k` measured.
        pathwise_var, score_var: the measured variances, one per ``k``.
        mu, sigma: the toy's parameters.
        pathwise_mean, score_mean: the measured means (optional, both or neither).
        n: the number of samples per ``k``, quoted in the title.
        figsize: figure size in inches.

    Returns:
        The ``matplotlib.figure.Figure``.

    Reference: Mohamed et al., "Monte Carlo gradient estimation in machine learning", JMLR
    2020 (their Gaussian example, variance against k).
    """
    import matplotlib.pyplot as plt

    from . import problems as toy

    ks_m = _floats(ks)
    if not (len(ks_m) == len(_floats(pathwise_var)) == len(_floats(score_var))):
        raise ValueError("ks, pathwise_var and score_var must have equal lengths")
    with_means = pathwise_mean is not None and score_mean is not None
    fig, axes = plt.subplots(1, 2 if with_means else 1, figsize=figsize, squeeze=False)
    ax = axes[0][0]
    grid = torch.linspace(min(ks_m), max(ks_m), 300, dtype=torch.float64)
    ax.plot(
        grid.tolist(),
        _floats(toy.score_function_variance(mu, sigma, grid)),
        color=SCORE_COLOR,
        label=r"score fn.: $d^4 + 14d^2 + 15$",
    )
    ax.plot(
        grid.tolist(),
        [toy.pathwise_variance(sigma)] * len(grid),
        color=PATHWISE_COLOR,
        linestyle="--",
        label="pathwise: $4$",
    )
    (score_points,) = ax.plot(
        ks_m,
        _floats(score_var),
        "o",
        color=SCORE_COLOR,
        markersize=5,
        markerfacecolor="none",
        label="measured",
    )
    (path_points,) = ax.plot(
        ks_m,
        _floats(pathwise_var),
        "s",
        color=PATHWISE_COLOR,
        markersize=5,
        markerfacecolor="none",
        label="measured",
    )
    ax.set_yscale("log")
    top = max(max(_floats(score_var)), float(toy.score_function_variance(mu, sigma, grid).max()))
    ax.set_ylim(toy.pathwise_variance(sigma) / 3, top * 30)  # room for the legend
    ax.set_xlabel("target $k$")
    ax.set_ylabel("per-sample variance")
    title = rf"variance ($\mu = {mu:g}$, $\sigma = {sigma:g}$)"
    ax.set_title(title + (f"\nn = {n:,} per k" if n else ""))
    ax.axvline(mu, color="0.7", linestyle=":", linewidth=0.8)
    handles, labels = ax.get_legend_handles_labels()
    handles, labels = handles[:2] + [(score_points, path_points)], labels[:2] + ["measured"]
    ax.legend(handles, labels, loc="upper center", handler_map={tuple: HandlerTuple(None)})
    if with_means:
        ax2 = axes[0][1]
        ax2.plot(
            grid.tolist(),
            _floats(toy.toy_gradient(mu, grid)),
            color="black",
            linewidth=1,
            label=r"exact $2(\mu - k)$",
        )
        ax2.plot(
            ks_m,
            _floats(score_mean),
            "o",
            color=SCORE_COLOR,
            markersize=5,
            markerfacecolor="none",
            label="score function, mean",
        )
        ax2.plot(
            ks_m,
            _floats(pathwise_mean),
            "s",
            color=PATHWISE_COLOR,
            markersize=5,
            markerfacecolor="none",
            label="pathwise, mean",
        )
        ax2.set_xlabel("target $k$")
        ax2.set_ylabel(r"estimate of $\partial_\mu \mathbb{E}[(x-k)^2]$")
        ax2.set_title("means: both unbiased")
        ax2.legend(loc="upper right")
    fig.tight_layout()
    return fig


def estimator_panel(
    fig: Figure,
    k: float,
    pathwise: torch.Tensor,
    score: torch.Tensor,
    *,
    mu: float = 1.0,
    sigma: float = 1.0,
    xlim: Tuple[float, float] = (-45.0, 45.0),
) -> str:
    r"""Histograms of per-draw pathwise and score-function estimates for one target :math:`k`.

    Shows both histograms (log-scaled counts, so the score function's tails stay visible;
    the score function's hatched, so that the two differ by more than their colour)
    with the exact gradient :math:`2(\mu - k)` as a vertical line, and the measured and
    closed-form variances in the legend. The estimates are computed by the caller (the
    chapter computes them with the estimators defined on its page).

    Args:
        fig: the (empty) figure to draw into.
        k: the target.
        pathwise, score: the per-draw estimates, 1-d tensors of equal length.
        mu, sigma: the toy's parameters (for the exact gradient and the closed forms).
        xlim: the horizontal range (values outside are counted in the edge bins).

    Returns:
        A caption with the measured and closed-form variances.

    Reference: Mohamed et al., JMLR 2020.
    """
    from . import problems as toy

    path = pathwise.detach().double().cpu().reshape(-1)
    score = score.detach().double().cpu().reshape(-1)
    if path.numel() != score.numel() or path.numel() < 2:
        raise ValueError("pathwise and score must hold the same number (>= 2) of estimates")
    n = path.numel()
    exact = float(toy.toy_gradient(mu, k))
    v_path, v_score = float(path.var()), float(score.var())
    c_path = float(toy.pathwise_variance(sigma))
    c_score = float(toy.score_function_variance(mu, sigma, k))

    ax = fig.add_subplot()
    lo, hi = xlim
    edges = torch.linspace(lo, hi, 91, dtype=torch.float64)
    for values, color, hatch, name, v, c in (
        (score, SCORE_COLOR, "///", "score function", v_score, c_score),
        (path, PATHWISE_COLOR, None, "pathwise", v_path, c_path),
    ):
        counts = torch.histc(values.clamp(lo, hi), bins=90, min=lo, max=hi)
        ax.stairs(
            counts.tolist(),
            edges.tolist(),
            fill=True,
            facecolor=color,
            edgecolor=color,
            hatch=hatch,
            alpha=0.55,
            baseline=0.8,
            label=f"{name}: var. {v:.3g} (exact {c:.3g})",
        )
    ax.axvline(exact, color="black", linewidth=1.3, label=f"exact gradient {exact:+.3g}")
    ax.set_yscale("log")
    ax.set_ylim(0.8, 3000 * n)  # headroom for the legend
    decades = [10**j for j in range(len(str(n)))]
    ax.yaxis.set_major_locator(FixedLocator(decades))  # fixed ticks: cheap to redraw
    ax.yaxis.set_major_formatter(FixedFormatter([f"{d:g}" for d in decades]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(lo, hi)
    ax.set_xlabel("one-sample estimate of d/dmu E[(x - k)^2]")
    ax.set_ylabel(f"count (of {n})")
    ax.set_title(f"k = {k:.2f},  d = mu - k = {mu - k:+.2f}")
    ax.legend(loc="upper left", borderaxespad=0.2)
    inch_margins(fig, left=1.05, right=0.15, bottom=0.55, top=0.35)
    return (
        f"k = {k:.2f}: variance pathwise {v_path:.3g} (exact {c_path:.3g}), "
        f"score function {v_score:.3g} (exact {c_score:.3g})"
    )
