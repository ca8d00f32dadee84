"""Drawings of chapter 8: the worked model's learning curves, its reconstructions, and the
bias and noise of its gradient estimators.

Needs matplotlib. The functions take the results of :mod:`relaxlib.discrete_vae` (its
:class:`~relaxlib.discrete_vae.History` records, trained models, and the dicts of
:func:`~relaxlib.discrete_vae.gradient_quality`) and return a ``matplotlib.figure.Figure``.

Reference: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
2017 (figure 3 plots the same kind of learning curves for its categorical VAE).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ..palette import CATEGORY_COLORS

__all__ = [
    "METHOD_LABELS",
    "SHORT_LABELS",
    "method_color",
    "learning_curves_figure",
    "reconstructions_figure",
    "gradient_quality_figure",
]

#: How the figures name the estimators of :data:`relaxlib.discrete_vae.METHODS`.
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


def learning_curves_figure(
    histories: Sequence, *, floor: Optional[float] = None, figsize=(7.0, 3.6)
) -> Figure:
    r"""Held-out exact negative ELBO against the training step, one line per estimator.

    Args:
        histories: :class:`~relaxlib.discrete_vae.History` records (``method``, ``steps``,
            ``neg_elbo``), all evaluated on the same held-out images.
        floor: if given, the negative log-likelihood of the true data-generating process,
            drawn as a dashed line: no model can go below it (in expectation).
        figsize: the figure's size in inches.

    Returns:
        The figure (registered with pyplot, so ``plt.show()`` displays it).
    """
    if not histories:
        raise ValueError("histories is empty")
    fig, ax = plt.subplots(figsize=figsize)
    for h in histories:
        ax.plot(
            h.steps,
            h.neg_elbo,
            color=method_color(h.method),
            label=METHOD_LABELS.get(h.method, h.method),
            lw=1.8,
        )
    if floor is not None:
        ax.axhline(floor, color="0.3", ls="--", lw=1, label="true model, -log p(x)")
    start = max(h.neg_elbo[0] for h in histories)
    low = min(min(h.neg_elbo) for h in histories)
    low = min(low, floor) if floor is not None else low
    ax.set_ylim(low - 2, start + 2)
    ax.set_xlabel("gradient step")
    ax.set_ylabel("held-out -ELBO (nats per image)")
    ax.set_title("Same data, same budget: exact held-out negative ELBO")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@torch.no_grad()
def reconstructions_figure(
    models: Mapping[str, torch.nn.Module],
    x: torch.Tensor,
    image_shape=(8, 8),
    *,
    grid=(2, 2),
    figsize=None,
) -> Figure:
    r"""Images and their reconstructions through the most probable latent code.

    Row 0 shows the images ``x``; each further row shows, for one model, the decoder's pixel
    probabilities :math:`\sigma(\text{decode}(\hat z))` at the mode
    :math:`\hat z_l = \arg\max_k q(z_l = k \mid x)` of the encoder (a discrete code, as at
    test time).

    Args:
        models: method name -> trained :class:`~relaxlib.discrete_vae.CategoricalVAE`.
        x: images ``(n, D)`` with ``D = H * W``.
        image_shape: ``(H, W)``.
        grid: the parts per column and per row, drawn as thin lines (``None``: no lines).
        figsize: the figure's size (default: about 0.8 inch per image).

    Returns:
        The figure.
    """
    n = x.shape[0]
    rows = 1 + len(models)
    figsize = figsize or (0.8 * n + 1.6, 0.85 * rows)
    fig, axes = plt.subplots(rows, n, figsize=figsize, squeeze=False)
    panels = [("data", x.detach().double().cpu())]
    for method, model in models.items():
        logits = model.encode(x.to(model.dec_w1.dtype))
        code = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
        panels.append((method, torch.sigmoid(model.decode(code)).double().cpu()))
    for r, (name, images) in enumerate(panels):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(images[c].reshape(image_shape).numpy(), cmap="gray_r", vmin=0, vmax=1)
            if grid is not None:
                for i in range(1, grid[0]):
                    ax.axhline(i * image_shape[0] / grid[0] - 0.5, color="tab:red", lw=0.6)
                for j in range(1, grid[1]):
                    ax.axvline(j * image_shape[1] / grid[1] - 0.5, color="tab:red", lw=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
        label = "data" if name == "data" else SHORT_LABELS.get(name, name)
        axes[r][0].set_ylabel(
            label,
            rotation=0,
            ha="right",
            va="center",
            fontsize=7,
        )
    fig.tight_layout(pad=0.3)
    return fig


def gradient_quality_figure(
    qualities: Mapping[str, Dict[str, float]], *, figsize=(7.0, 3.0)
) -> Figure:
    r"""The bias and the noise of each estimator's gradient, relative to the exact gradient.

    Left: the relative bias :math:`\lVert \bar g - g\rVert/\lVert g\rVert` of the mean of the
    estimates (bars) next to the level that sampling noise alone would give an unbiased
    estimator (black ticks): a bar far above its tick is a real bias. Right: the relative
    spread :math:`\sqrt{\operatorname{tr}\operatorname{Cov}}/\lVert g\rVert` of one estimate.
    Both on a log scale.

    Args:
        qualities: method name -> the dict of :func:`relaxlib.discrete_vae.gradient_quality`.
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
    ax1.set_title("bias of the mean estimate", fontsize=9)
    ax2.bar(pos, [qualities[m]["spread"] for m in names], color=colors, width=0.6)
    ax2.set_title("noise of one estimate", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xticks(pos)
        ax.set_xticklabels([SHORT_LABELS.get(m, m) for m in names], fontsize=7)
        ax.set_ylabel("relative to |exact gradient|", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    values = [qualities[m][k] for m in names for k in ("bias", "bias_noise")]
    ax1.set_ylim(min(values) / 3, max(values) * 30)  # room for the legend above the bars
    ax1.legend(frameon=False, fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
