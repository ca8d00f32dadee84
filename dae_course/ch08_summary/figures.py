"""Drawings of chapter 8: the worked model's learning curves, its images (data,
reconstructions, samples, the decoder's mean for every code), and the bias and noise of its
gradient estimators.

Needs matplotlib. The functions take what the page computed (the
:class:`~dae_course.ch08_summary.evaluation.History` records of training, images as tensors,
the dicts of :func:`~dae_course.ch08_summary.evaluation.gradient_quality`) and return a
``matplotlib.figure.Figure``; none of them trains or samples anything.

Reference: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
2017 (figure 3 plots the same kind of learning curves for its categorical VAE).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS, LINESTYLES, MARKERS, MAX_WIDTH

__all__ = [
    "METHOD_LABELS",
    "SHORT_LABELS",
    "method_color",
    "method_style",
    "learning_curves_figure",
    "mosaic",
    "image_rows_figure",
    "code_grid_figure",
    "gradient_quality_figure",
]

#: How the figures name the estimators of :data:`dae_course.ch08_summary.model.METHODS`.
METHOD_LABELS = {
    "gumbel-softmax": "Gumbel-softmax (relaxed)",
    "st-gumbel-softmax": "ST Gumbel-softmax",
    "reinforce-loo": "REINFORCE, leave-one-out",
    "reinforce": "REINFORCE, no baseline",
}

#: Two-line versions of :data:`METHOD_LABELS`, for axis ticks and row labels.
SHORT_LABELS = {
    "gumbel-softmax": "Gumbel-\nsoftmax\n(relaxed)",
    "st-gumbel-softmax": "ST Gumbel-\nsoftmax",
    "reinforce-loo": "REINFORCE,\nleave-one-out",
    "reinforce": "REINFORCE,\nno baseline",
}

_ORDER = ("gumbel-softmax", "st-gumbel-softmax", "reinforce-loo", "reinforce")


def method_color(method: str) -> str:
    """The colour of an estimator in every figure of the chapter (one of CATEGORY_COLORS)."""
    index = _ORDER.index(method) if method in _ORDER else len(_ORDER)
    return CATEGORY_COLORS[index % len(CATEGORY_COLORS)]


def method_style(method: str) -> dict:
    """The colour, line style and marker of an estimator in the chapter's line plots, so
    that the estimators differ by more than their colour."""
    index = (_ORDER.index(method) if method in _ORDER else len(_ORDER)) % len(CATEGORY_COLORS)
    return {"color": CATEGORY_COLORS[index], "ls": LINESTYLES[index], "marker": MARKERS[index]}


def learning_curves_figure(
    histories: Mapping[str, object], *, floor: Optional[float] = None, figsize=(7.0, 3.6)
) -> Figure:
    r"""Held-out negative ELBO against the training step, one line per estimator.

    Args:
        histories: method name -> :class:`~dae_course.ch08_summary.evaluation.History`
            (its ``steps`` and ``curve("neg_elbo")``), all evaluated on the same held-out
            images.
        floor: if given, the negative log-likelihood of the true data-generating process,
            drawn as a dashed line (no marker): no model can go below it (in expectation).
        figsize: the figure's size in inches.

    Returns:
        The figure (registered with pyplot, so ``plt.show()`` displays it).
    """
    if not histories:
        raise ValueError("histories is empty")
    fig, ax = plt.subplots(figsize=figsize)
    curves = {m: h.curve("neg_elbo") for m, h in histories.items()}
    for method, h in histories.items():
        ax.plot(
            h.steps,
            curves[method],
            **method_style(method),
            markevery=max(1, len(h.steps) // 12),
            label=METHOD_LABELS.get(method, method),
            lw=1.8,
        )
    if floor is not None:
        ax.axhline(floor, color="0.3", ls="--", lw=1.2, label="true model, -log p(x)")
    start = max(c[0] for c in curves.values())
    low = min(min(c) for c in curves.values())
    low = min(low, floor) if floor is not None else low
    ax.set_ylim(low - 2, start + 0.4 * (start - low) + 2)  # room for the legend above
    ax.set_xlabel("gradient step")
    ax.set_ylabel("held-out -ELBO (nats per image)")
    ax.set_title("Same data, same budget: exact held-out -ELBO")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, handlelength=2.5)
    fig.tight_layout()
    return fig


def mosaic(images: torch.Tensor, n_cols: int, image_shape=(8, 8), gap: int = 1) -> torch.Tensor:
    """Tile images ``(n, H*W)`` into one float64 array, ``n_cols`` per row, ``gap`` pixels
    apart (the gaps are NaN, drawn as the background); missing tiles at the end are NaN."""
    h, w = image_shape
    images = images.detach().double().cpu().reshape(-1, h, w)
    n_rows = -(-images.shape[0] // n_cols)
    out = torch.full(
        (n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), float("nan"), dtype=torch.float64
    )
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out.double()


def _show(ax, array: torch.Tensor) -> None:
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(array.numpy(), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")


def image_rows_figure(
    rows: Sequence[Tuple[str, torch.Tensor]],
    image_shape=(8, 8),
    *,
    grid: Optional[Tuple[int, int]] = None,
    title: Optional[str] = None,
    figsize=None,
) -> Figure:
    r"""Rows of images with a label each: data, reconstructions, samples.

    Args:
        rows: ``(label, images)`` pairs, ``images`` of shape ``(n, H*W)`` with values in
            [0, 1] (pixels or probabilities); every row the same ``n``. A label that is a
            method name is shown as its :data:`SHORT_LABELS`.
        image_shape: ``(H, W)``.
        grid: the generated data's parts per column and per row, drawn as thin red lines
            on every image; ``None`` (the default, for real images): no lines.
        title: an optional title.
        figsize: the figure's size (default: about 0.75 inch per image, at most
            :data:`dae_course.palette.MAX_WIDTH` wide).

    Returns:
        The figure: one axes showing the mosaic, with a tick label per row.
    """
    if not rows:
        raise ValueError("rows is empty")
    n = rows[0][1].shape[0]
    if any(images.shape[0] != n for _, images in rows):
        raise ValueError("every row must have the same number of images")
    h, w = image_shape
    stacked = torch.cat([images.detach().double().cpu() for _, images in rows])
    if figsize is None:
        width = min(0.75 * n + 1.6, MAX_WIDTH)
        per_row = (width - 1.6) / n * h / w + 0.05  # the images keep their aspect
        figsize = (width, max(per_row, 0.75) * len(rows) + (0.4 if title else 0.1))
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, mosaic(stacked, n, image_shape))
    if grid is not None:
        for r in range(len(rows)):
            for c in range(n):
                top, left = r * (h + 1), c * (w + 1)
                for i in range(1, grid[0]):
                    y = top + i * h / grid[0] - 0.5
                    ax.plot([left - 0.5, left + w - 0.5], [y, y], color="tab:red", lw=0.6)
                for j in range(1, grid[1]):
                    x = left + j * w / grid[1] - 0.5
                    ax.plot([x, x], [top - 0.5, top + h - 0.5], color="tab:red", lw=0.6)
    ax.set_xticks([])
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(len(rows))])
    ax.set_yticklabels([SHORT_LABELS.get(label, label) for label, _ in rows])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.3)
    return fig


def code_grid_figure(
    images: torch.Tensor,
    n_latents: int,
    n_categories: int,
    image_shape=(8, 8),
    *,
    title: Optional[str] = None,
    figsize=(6.0, 6.0),
) -> Figure:
    r"""The decoder's mean image for every code of a small code space, in one mosaic.

    ``images`` holds one image per code in the order of
    :func:`~dae_course.ch08_summary.evaluation.all_configurations` (the last latent varies
    fastest). The first half of the latents picks the row, the rest the column, so one row
    is one setting of the first latents.

    Args:
        images: ``(K**L, H*W)``, values in [0, 1].
        n_latents, n_categories: :math:`L` and :math:`K`.
        image_shape: ``(H, W)``.
        title: an optional title.
        figsize: the figure's size in inches.

    Returns:
        The figure.
    """
    codes = n_categories**n_latents
    if images.shape[0] != codes:
        raise ValueError(f"expected {codes} images (one per code), got {images.shape[0]}")
    n_cols = n_categories ** (n_latents - n_latents // 2)
    fig, ax = plt.subplots(figsize=figsize)
    _show(ax, mosaic(images, n_cols, image_shape))
    first = ", ".join(f"z{i + 1}" for i in range(n_latents // 2))
    rest = ", ".join(f"z{i + 1}" for i in range(n_latents // 2, n_latents))
    ax.set_ylabel(f"code of ({first})")
    ax.set_xlabel(f"code of ({rest})")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def gradient_quality_figure(
    qualities: Mapping[str, Dict[str, float]], *, figsize=(7.5, 4.2)
) -> Figure:
    r"""The bias and the noise of each estimator's gradient, relative to the exact gradient.

    Left: the relative bias :math:`\lVert \bar g - g\rVert/\lVert g\rVert` of the mean of the
    estimates (bars) next to the level that sampling noise alone would give an unbiased
    estimator (black ticks): a bar far above its tick is a real bias. Right: the relative
    spread :math:`\sqrt{\operatorname{tr}\operatorname{Cov}}/\lVert g\rVert` of one estimate.
    Both on a log scale.

    Args:
        qualities: method name -> the dict of
            :func:`dae_course.ch08_summary.evaluation.gradient_quality`.
        figsize: the figure's size in inches.

    Returns:
        The figure.
    """
    names = list(qualities)
    if not names:
        raise ValueError("qualities is empty")
    colors = [method_color(m) for m in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    pos = list(range(len(names)))
    ax1.bar(pos, [qualities[m]["bias"] for m in names], color=colors, width=0.6)
    ax1.scatter(
        pos,
        [qualities[m]["bias_noise"] for m in names],
        marker="_",
        s=400,
        color="k",
        zorder=3,
        label="noise level of the mean",
    )
    ax1.set_title("bias of the mean estimate")
    ax2.bar(pos, [qualities[m]["spread"] for m in names], color=colors, width=0.6)
    ax2.set_title("noise of one estimate")
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xticks(pos)
        ax.set_xticklabels([SHORT_LABELS.get(m, m) for m in names], rotation=90)
        ax.grid(alpha=0.3, axis="y")
    ax1.set_ylabel("relative to |exact gradient|")
    values = [qualities[m][k] for m in names for k in ("bias", "bias_noise")]
    ax1.set_ylim(min(values) / 3, max(values) * 30)  # room for the legend above the bars
    ax1.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig
