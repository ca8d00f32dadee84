r"""Judging chapter 8's categorical VAE: exact bounds where the code space is small, an
importance-weighted bound where it is not, and the bias and noise of gradient estimates.

* :func:`exact_bounds`: with all :math:`C = K^L` codes enumerated, the exact negative ELBO
  and the exact :math:`-\log p(x)` of every image: no sampling noise. Feasible while
  :math:`C` is small (256 for :math:`L = K = 4`; it refuses more than ``max_codes``).
* :func:`iwae_bounds`: for any size, the importance-weighted bound of Burda, Grosse &
  Salakhutdinov (2016) from ``samples`` codes drawn from :math:`q(z \mid x)`, and the
  negative ELBO with a sampled reconstruction term and the exact KL. Both are estimates
  with sampling noise; the IWAE bound lies above :math:`-\log p(x)` on average and comes
  down to it as ``samples`` grows.
* :func:`mean_and_se`: the mean over held-out images and its standard error.
* :func:`exact_logit_gradient` and :func:`gradient_quality`: the exact gradient of the mean
  negative ELBO with respect to the encoder's logits, and how far estimates of it are off.
* :class:`History`: a monitor for :func:`dae_course.ch08_summary.model.train` that records
  an evaluation every few steps.

Every function takes images as the model does (checked by
:func:`dae_course.ch08_summary.data.binary_images`). Needs only torch.

References: Jang, Gu & Poole, ICLR 2017; Y. Burda, R. Grosse and R. Salakhutdinov,
"Importance weighted autoencoders", ICLR 2016.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F

from relaxlib import gumbel_max_sample

from ..tables import table
from .data import binary_images
from .model import bernoulli_log_likelihood, kl_to_uniform

__all__ = [
    "all_configurations",
    "exact_neg_elbo",
    "exact_bounds",
    "iwae_bounds",
    "mean_and_se",
    "exact_logit_gradient",
    "gradient_quality",
    "History",
    "results_table",
]


def _images_for(model, x: torch.Tensor, name: str) -> torch.Tensor:
    device = model.dec_w1.device
    return binary_images(x, name, n_pixels=model.n_pixels).to(device)


def all_configurations(n_latents: int, n_categories: int, device=None) -> torch.Tensor:
    r"""Every one-hot code, float64 ``(K**L, L, K)``, in lexicographic order.

    Row ``c`` sets latent ``l`` to the ``l``-th digit (base :math:`K`, most significant
    first) of ``c``.
    """
    index = torch.tensor(
        list(itertools.product(range(n_categories), repeat=n_latents)), device=device
    )
    return F.one_hot(index, n_categories).to(torch.float64)


def _check_code_space(model, max_codes: int) -> int:
    codes = model.n_categories**model.n_latents
    if codes > max_codes:
        raise ValueError(
            f"the model has {model.n_categories}**{model.n_latents} = {codes:,} codes, more "
            f"than max_codes = {max_codes:,} to enumerate; estimate the bounds with "
            "iwae_bounds(model, x, samples=..., generator=...) instead"
        )
    return codes


def exact_neg_elbo(model, x: torch.Tensor, logits=None, *, max_codes: int = 100_000):
    r"""The exact negative ELBO of every image, by enumerating all :math:`K^L` codes.

    .. math:: -\mathrm{ELBO}(x) = -\sum_c q(z^{(c)} \mid x)\log p(x \mid z^{(c)})
              + \mathrm{KL}(q \,\|\, \mathcal U).

    Differentiable (with respect to ``logits`` and the model).

    Args:
        model: the VAE.
        x: images ``(N, D)``.
        logits: the encoder's logits ``(N, L, K)`` (default ``model.encode(x)``).
        max_codes: refuse larger code spaces (see :func:`iwae_bounds`).

    Returns:
        ``(N,)``, in nats.
    """
    _check_code_space(model, max_codes)
    x = _images_for(model, x, "x")
    configs = all_configurations(model.n_latents, model.n_categories, x.device)
    logits = model.encode(x) if logits is None else logits
    logits_px = model.decode(configs)  # (C, D)
    log_lik = x @ logits_px.T - F.softplus(logits_px).sum(-1)  # (N, C)
    log_q = torch.einsum("nlk,clk->nc", torch.log_softmax(logits, -1), configs)  # (N, C)
    return -(log_q.exp() * log_lik).sum(-1) + kl_to_uniform(logits)


@torch.no_grad()
def exact_bounds(model, x: torch.Tensor, *, max_codes: int = 100_000) -> Dict[str, torch.Tensor]:
    r"""The exact negative ELBO, negative log-likelihood and KL of every image.

    With all :math:`C = K^L` codes :math:`z^{(c)}` enumerated,

    .. math:: -\mathrm{ELBO}(x) = -\sum_c q(z^{(c)} \mid x)\log p(x \mid z^{(c)})
              + \mathrm{KL}(q \,\|\, \mathcal U),
              \qquad -\log p(x) = -\log \frac{1}{C}\sum_c p(x \mid z^{(c)}).

    The codes are discrete here whatever estimator trained the model: this is the discrete
    model's own objective, without sampling noise.

    Args:
        model: the VAE.
        x: images ``(N, D)`` (a tensor or an array of 0s and 1s).
        max_codes: refuse to enumerate more codes than this (the cost grows as
            :math:`N \cdot C`); use :func:`iwae_bounds` for larger models.

    Returns:
        ``{"neg_elbo", "nll", "kl"}``, each a float64 tensor ``(N,)`` in nats;
        ``neg_elbo >= nll`` for every image (the gap is the KL from :math:`q(z\mid x)` to the
        posterior).
    """
    _check_code_space(model, max_codes)
    x = _images_for(model, x, "x")
    logits = model.encode(x)
    configs = all_configurations(model.n_latents, model.n_categories, x.device)
    logits_px = model.decode(configs)  # (C, D)
    log_lik = x @ logits_px.T - F.softplus(logits_px).sum(-1)  # (N, C)
    nll = -(torch.logsumexp(log_lik, -1) - math.log(configs.shape[0]))
    return {
        "neg_elbo": exact_neg_elbo(model, x, logits, max_codes=max_codes),
        "nll": nll,
        "kl": kl_to_uniform(logits),
    }


@torch.no_grad()
def iwae_bounds(
    model, x: torch.Tensor, *, samples: int = 100, generator: torch.Generator, chunk: int = 50
) -> Dict[str, torch.Tensor]:
    r"""Sampled bounds for a code space too large to enumerate.

    With :math:`S` = ``samples`` codes :math:`z_s \sim q(z \mid x)` (exact one-hot codes, by
    Gumbel-max) and weights :math:`w_s = p(x \mid z_s)\,p(z_s)/q(z_s \mid x)`:

    * ``"nll_iwae"``: :math:`-\log \frac1S \sum_s w_s`, the importance-weighted bound
      (Burda et al., 2016). On average it lies above :math:`-\log p(x)` and below the
      negative ELBO, and it decreases to :math:`-\log p(x)` as :math:`S` grows;
    * ``"neg_elbo"``: :math:`-\frac1S\sum_s \log p(x \mid z_s) + \mathrm{KL}(q\,\|\,\mathcal
      U)`, an unbiased estimate of the negative ELBO (the KL exact);
    * ``"kl"``: the exact KL.

    Args:
        model: the VAE.
        x: images ``(N, D)``.
        samples: :math:`S`, codes per image.
        generator: CPU ``torch.Generator`` for the codes.
        chunk: codes decoded at once (memory grows as ``chunk * N * D``).

    Returns:
        A dict of float64 tensors ``(N,)``, in nats.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    x = _images_for(model, x, "x")
    logits = model.encode(x)
    log_q_all = torch.log_softmax(logits, -1)
    log_prior = -model.n_latents * math.log(model.n_categories)
    log_w, log_px = [], []
    for start in range(0, samples, chunk):
        s = min(chunk, samples - start)
        index = gumbel_max_sample(logits.expand(s, *logits.shape), generator=generator)
        log_q = log_q_all.expand(s, *logits.shape).gather(-1, index[..., None]).sum((-1, -2))
        z = F.one_hot(index, model.n_categories).to(logits.dtype)
        log_lik = bernoulli_log_likelihood(model.decode(z), x)  # (s, N)
        log_px.append(log_lik)
        log_w.append(log_lik + log_prior - log_q)
    log_w, log_px = torch.cat(log_w), torch.cat(log_px)
    kl = kl_to_uniform(logits)
    return {
        "nll_iwae": -(torch.logsumexp(log_w, 0) - math.log(samples)),
        "neg_elbo": -log_px.mean(0) + kl,
        "kl": kl,
    }


def mean_and_se(values: torch.Tensor) -> Tuple[float, float]:
    r"""The mean of per-image values and its standard error :math:`s/\sqrt N`, as floats
    (computed in float64 on the CPU)."""
    v = values.detach().double().cpu().reshape(-1)
    if v.numel() < 2:
        raise ValueError("need at least 2 values for a standard error")
    return float(v.mean()), float(v.std() / math.sqrt(v.numel()))


def exact_logit_gradient(model, x: torch.Tensor) -> torch.Tensor:
    r"""The exact :math:`\nabla_\phi` of the mean negative ELBO of ``x`` (``(B, D)``) with
    respect to the encoder's logits :math:`\phi` (``(B, L, K)``), by autograd through
    :func:`exact_neg_elbo`."""
    x = _images_for(model, x, "x")
    with torch.no_grad():
        logits = model.encode(x)
    leaf = logits.clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(exact_neg_elbo(model, x, leaf).mean(), leaf)
    return grad


def gradient_quality(estimates: torch.Tensor, exact: torch.Tensor) -> Dict[str, float]:
    r"""Bias and noise of gradient estimates, relative to the size of the exact gradient.

    With :math:`n` estimates :math:`\hat g_j` (rows, flattened) of :math:`g`:

    * ``bias``: :math:`\lVert \bar g - g\rVert / \lVert g\rVert`, the relative error of the
      mean estimate;
    * ``bias_noise``: :math:`\sqrt{\operatorname{tr}\operatorname{Cov}/n} / \lVert g\rVert`,
      what ``bias`` would be from sampling noise alone if the estimator were unbiased (for
      an unbiased estimator :math:`\mathbb E\lVert \bar g - g\rVert^2 =
      \operatorname{tr}\operatorname{Cov}/n` exactly);
    * ``spread``: :math:`\sqrt{\operatorname{tr}\operatorname{Cov}} / \lVert g\rVert`, the
      relative size of the noise in *one* estimate;
    * ``cosine``: the mean over estimates of :math:`\cos(\hat g_j, g)`: how well a single
      step points the right way.

    Args:
        estimates: ``(n, ...)``.
        exact: ``(...)``.

    Returns:
        A dict of Python floats (computed in float64).
    """
    est = estimates.detach().reshape(estimates.shape[0], -1).double().cpu()
    g = exact.detach().reshape(-1).double().cpu()
    n = est.shape[0]
    if n < 2:
        raise ValueError("need at least 2 estimates to measure a variance")
    norm = float(g.norm())
    trace = float(est.var(0).sum())
    cosine = F.cosine_similarity(est, g[None, :], dim=-1)
    return {
        "bias": float((est.mean(0) - g).norm()) / norm,
        "bias_noise": math.sqrt(trace / n) / norm,
        "spread": math.sqrt(trace) / norm,
        "cosine": float(cosine.mean()),
    }


@dataclass
class History:
    """A monitor for ``train``: records ``evaluate(model)`` at the steps it is called with.

    Attributes:
        evaluate: ``model -> dict`` of per-image tensors (e.g. a call of
            :func:`exact_bounds` on held-out images).
        steps: the steps recorded (0 = untrained).
        values: what ``evaluate`` returned at those steps.
    """

    evaluate: Callable[[Any], Dict[str, torch.Tensor]]
    steps: List[int] = field(default_factory=list)
    values: List[Dict[str, torch.Tensor]] = field(default_factory=list)

    def __call__(self, step: int, model) -> None:
        self.steps.append(step)
        self.values.append(self.evaluate(model))

    def curve(self, key: str = "neg_elbo") -> List[float]:
        """The mean of ``key`` over the images at every recorded step."""
        return [float(v[key].double().mean()) for v in self.values]

    @property
    def final(self) -> Dict[str, torch.Tensor]:
        """The last record (after the last step)."""
        if not self.values:
            raise ValueError("nothing recorded yet")
        return self.values[-1]


def results_table(
    results: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    reference: Optional[torch.Tensor] = None,
    with_se: bool = False,
) -> str:
    r"""The chapter's results as a plain-text table, one row per model.

    Columns: :math:`-`\ ELBO, :math:`-\log p(x)`, KL (means over the images, in nats), how
    :math:`-\log p(x)` was evaluated when any row used the importance-weighted bound
    (``"exact"`` or ``"IWAE"``), and, with a ``reference``, the margin: the mean over images
    of ``reference - neg_elbo``, paired image by image (positive: the row's model is better
    than the reference even by its ELBO). A key a row lacks leaves its cell blank.

    Args:
        results: label -> per-image tensors ``(N,)`` under the keys of :func:`exact_bounds`
            (``neg_elbo``, ``nll``, ``kl``) or of :func:`iwae_bounds` (``nll_iwae`` for
            ``nll``).
        reference: a reference model's per-image :math:`-\log p(x)`, ``(N,)``.
        with_se: print every mean with its standard error over the images, at two
            decimals (else one decimal, no standard error).

    Returns:
        The table.
    """

    def cell(values, sign=""):
        mean, se = mean_and_se(values)
        if with_se:
            return f"{mean:{sign}.2f} ± {se:.2f}"
        return f"{mean:{sign}.1f}"

    iwae = any("nll_iwae" in r for r in results.values())
    headers = ["", "-ELBO", "-log p(x)", "KL"] + (["evaluated"] if iwae else [])
    if reference is not None:
        headers.append("margin")
    rows = []
    for label, r in results.items():
        nll = r.get("nll", r.get("nll_iwae"))
        row = [
            label,
            cell(r["neg_elbo"]) if "neg_elbo" in r else "",
            cell(nll) if nll is not None else "",
            f"{float(r['kl'].double().mean()):.1f}" if "kl" in r else "",
        ]
        if iwae:
            row.append("IWAE" if "nll_iwae" in r else "exact" if "neg_elbo" in r else "")
        if reference is not None:
            ref = reference.detach().double().to(r.get("neg_elbo", reference).device)
            row.append(cell(ref - r["neg_elbo"].double(), "+") if "neg_elbo" in r else "")
        rows.append(row)
    return table(rows, headers)
