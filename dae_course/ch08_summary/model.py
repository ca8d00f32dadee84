r"""Chapter 8's worked model: a categorical VAE trained three ways, and the book's techniques
in one table.

**The data** (:func:`make_parts_data`): binary images of :math:`P` parts (for example the
four :math:`4 \times 4` quadrants of an :math:`8 \times 8` image). For every part there are
:math:`K` random prototype patterns; an image picks one prototype per part, uniformly and
independently, and then flips every pixel with probability :math:`\varepsilon`. The data
therefore *has* :math:`P` categorical causes with :math:`K` values each, and its exact
log-likelihood is known (:func:`true_log_likelihood`), a floor for every model's loss.

**The model** (:class:`CategoricalVAE`), in the style of Jang, Gu & Poole (2017): an MLP
encoder maps an image :math:`x \in \{0,1\}^D` to the logits of :math:`L` independent
categorical latents, :math:`q(z \mid x) = \prod_{l=1}^{L} \mathrm{Cat}(z_l;
\operatorname{softmax}(\phi_l(x)))`, each :math:`z_l` a one-hot vector of length :math:`K`;
an MLP decoder maps the concatenated :math:`z` to Bernoulli logits of the :math:`D` pixels,
:math:`p(x \mid z)`. The prior is uniform, :math:`p(z) = K^{-L}`. Training maximises the
evidence lower bound

.. math:: \mathrm{ELBO}(x) = \mathbb E_{q(z\mid x)}[\log p(x \mid z)]
          - \mathrm{KL}(q(z\mid x)\,\|\,p(z)) \;\le\; \log p(x),

with :math:`\mathrm{KL}(q \| p) = \sum_l \bigl(\sum_k q_{lk}\log q_{lk} + \log K\bigr)`
(:func:`kl_to_uniform`, in closed form). The first term needs a gradient through the
discrete sample :math:`z`, which is where the book's estimators come in (:data:`METHODS`):

* ``"gumbel-softmax"``: the decoder sees the relaxed sample
  :math:`\operatorname{softmax}((\phi + g)/T)`; pathwise gradient of a *relaxed* objective
  (biased, low variance).
* ``"st-gumbel-softmax"``: the decoder sees the one-hot sample, the gradient is that of the
  relaxed one (straight-through; biased, low variance, discrete forward pass).
* ``"reinforce-loo"``: the decoder sees one-hot samples from Gumbel-max; the encoder gets
  the score-function gradient with the leave-one-out baseline over the ``samples`` draws per
  image (unbiased, higher variance); the decoder gets its ordinary pathwise gradient.
* ``"reinforce"``: the same without a baseline.

With :math:`K^L` small (256 for :math:`L = K = 4`) the ELBO and even :math:`\log p(x)` are
computed *exactly* by enumerating every configuration of :math:`z`
(:func:`exact_bounds`): all variants are judged on held-out data with discrete latents, by
the same exact numbers, with no sampling noise in the evaluation.

:func:`exact_logit_gradient` gives the exact gradient of that objective with respect to the
encoder's logits, so :func:`logit_gradient_estimates` and :func:`gradient_quality` can
measure each estimator's bias and noise on the real model. :data:`TECHNIQUES` is the
chapter's summary table of the whole book, and :func:`tiny_gradient_estimates` and
:func:`gaussian_gradient_estimates` are the small problems with exact answers that check its
bias and variance labels.

Every random draw (data, initial weights, minibatches, noise) comes from a CPU
``torch.Generator``; computation runs in the dtype and on the device asked for.

Needs only torch.

References: E. Jang, S. Gu and B. Poole, "Categorical reparameterization with
Gumbel-softmax", ICLR 2017; C. J. Maddison, A. Mnih and Y. W. Teh, "The Concrete
distribution: a continuous relaxation of discrete random variables", ICLR 2017; D. P. Kingma
and M. Welling, "Auto-encoding variational Bayes", ICLR 2014; R. J. Williams, "Simple
statistical gradient-following algorithms for connectionist reinforcement learning",
Machine Learning 8, 1992; Y. Bengio, N. Léonard and A. Courville, "Estimating or propagating
gradients through stochastic neurons for conditional computation", arXiv:1308.3432, 2013;
W. Kool, H. van Hoof and M. Welling, "Buy 4 REINFORCE samples, get a baseline for free!",
ICLR workshop 2019.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F

from relaxlib import gumbel_max_sample, gumbel_softmax, normal_rsample, reinforce_surrogate

__all__ = [
    "METHODS",
    "PartsData",
    "make_parts_data",
    "true_log_likelihood",
    "CategoricalVAE",
    "kl_to_uniform",
    "bernoulli_log_likelihood",
    "all_configurations",
    "exact_bounds",
    "exact_neg_elbo",
    "estimator_objective",
    "training_loss",
    "logit_gradient_estimates",
    "exact_logit_gradient",
    "gradient_quality",
    "History",
    "train",
    "Technique",
    "TECHNIQUES",
    "TINY_LOGITS",
    "TINY_TARGET",
    "TINY_METHODS",
    "tiny_exact_gradient",
    "tiny_gradient_estimates",
    "gaussian_gradient_estimates",
]

#: The estimators :func:`training_loss` and :func:`train` know, by name.
METHODS = ("gumbel-softmax", "st-gumbel-softmax", "reinforce-loo", "reinforce")


@contextlib.contextmanager
def _threads(n: Optional[int]) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (``None``: unchanged), then restore."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartsData:
    r"""A generated data set of binary images made of parts.

    Attributes:
        x: the images, float tensor ``(N, D)`` of 0s and 1s, rows flattened row-major from
            ``image_shape``.
        choices: which prototype each part uses, long tensor ``(N, P)``.
        prototypes: the patterns, float tensor ``(P, K, D)``: prototype ``k`` of part ``p``
            as a full image that is 0 outside the part.
        masks: ``(P, D)``, 1 on the pixels of part ``p``.
        flip: the bit-flip probability :math:`\varepsilon`.
        image_shape: ``(H, W)``.
    """

    x: torch.Tensor
    choices: torch.Tensor
    prototypes: torch.Tensor
    masks: torch.Tensor
    flip: float
    image_shape: Tuple[int, int]


def _quadrant_masks(image_shape: Tuple[int, int], grid: Tuple[int, int]) -> torch.Tensor:
    h, w = image_shape
    gh, gw = grid
    if h % gh or w % gw:
        raise ValueError(f"image_shape {image_shape} is not divisible by the grid {grid}")
    masks = []
    for i in range(gh):
        for j in range(gw):
            m = torch.zeros(h, w)
            m[i * h // gh : (i + 1) * h // gh, j * w // gw : (j + 1) * w // gw] = 1.0
            masks.append(m.reshape(-1))
    return torch.stack(masks)


def make_parts_data(
    n: int,
    *,
    generator: torch.Generator,
    prototypes: Optional[torch.Tensor] = None,
    n_choices: int = 4,
    image_shape: Tuple[int, int] = (8, 8),
    grid: Tuple[int, int] = (2, 2),
    flip: float = 0.05,
    dtype: torch.dtype = torch.float64,
    device: Optional[torch.device] = None,
) -> PartsData:
    r"""Draw ``n`` binary images: one random prototype per part, then bit-flip noise.

    The image of ``image_shape`` is cut into a ``grid`` of :math:`P` rectangular parts. Each
    part has :math:`K` = ``n_choices`` prototypes, random binary patterns (each pixel 0 or 1
    with probability 1/2, drawn once). An image chooses :math:`c_p \sim \mathcal U\{0..K-1\}`
    independently for every part, pastes the chosen patterns together, and flips each pixel
    independently with probability :math:`\varepsilon` = ``flip``.

    Pass the ``prototypes`` of an earlier call to draw more images (a test set) from the same
    distribution; otherwise new prototypes are drawn first.

    Args:
        n: number of images.
        generator: a CPU ``torch.Generator``; every draw comes from it.
        prototypes: ``(P, K, D)`` from an earlier :class:`PartsData`, or ``None``.
        n_choices: :math:`K`, prototypes per part (ignored when ``prototypes`` is given).
        image_shape: ``(H, W)``.
        grid: parts per column and per row; :math:`P` = ``grid[0] * grid[1]``.
        flip: :math:`\varepsilon \in [0, 1/2)`.
        dtype: floating dtype of ``x`` and ``prototypes``.
        device: where the tensors live (drawn on the CPU, then moved).

    Returns:
        A :class:`PartsData`; ``x`` has shape ``(n, H * W)``.
    """
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip}")
    masks = _quadrant_masks(image_shape, grid).to(torch.float64)
    n_parts, d = masks.shape
    if prototypes is None:
        bits = torch.rand(n_parts, n_choices, d, generator=generator, dtype=torch.float64) < 0.5
        protos = bits.to(torch.float64) * masks[:, None, :]
    else:
        protos = prototypes.detach().to("cpu", torch.float64)
        if protos.shape[0] != n_parts or protos.shape[2] != d:
            raise ValueError(
                f"prototypes of shape {tuple(protos.shape)} do not fit {n_parts} parts of "
                f"an image of {d} pixels"
            )
    k = protos.shape[1]
    choices = torch.randint(k, (n, n_parts), generator=generator)
    clean = protos[torch.arange(n_parts)[None, :], choices].sum(1)  # (n, D)
    noise = (torch.rand(n, d, generator=generator, dtype=torch.float64) < flip).to(torch.float64)
    x = (clean + noise) % 2
    return PartsData(
        x=x.to(device=device, dtype=dtype),
        choices=choices.to(device=device),
        prototypes=protos.to(device=device, dtype=dtype),
        masks=masks.to(device=device, dtype=dtype),
        flip=float(flip),
        image_shape=tuple(image_shape),
    )


def true_log_likelihood(data: PartsData, x: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""The exact :math:`\log p(x)` of images under the process that generated ``data``.

    Parts are independent, so
    :math:`\log p(x) = \sum_p \log \frac1K \sum_k \prod_{i \in p}
    \varepsilon^{[x_i \ne m_{pki}]}(1-\varepsilon)^{[x_i = m_{pki}]}`
    with :math:`m_{pk}` the prototypes. No model of this data can have a lower expected
    negative log-likelihood; it is the floor of the chapter's table.

    Args:
        data: the :class:`PartsData` whose prototypes and flip probability define the model.
        x: images ``(N, D)`` (default ``data.x``).

    Returns:
        ``(N,)`` log-likelihoods in nats, in float64.
    """
    x = (data.x if x is None else x).to(torch.float64)
    protos = data.prototypes.to(x.device, torch.float64)  # (P, K, D)
    masks = data.masks.to(x.device, torch.float64)  # (P, D)
    eps = data.flip
    if eps == 0.0:
        raise ValueError("true_log_likelihood needs flip > 0 (else it is -inf off the prototypes)")
    mismatch = (x[:, None, None, :] - protos[None]).abs() * masks[None, :, None, :]
    n_mismatch = mismatch.sum(-1)  # (N, P, K)
    n_pixels = masks.sum(-1)  # (P,)
    log_lik = n_mismatch * math.log(eps) + (n_pixels[None, :, None] - n_mismatch) * math.log1p(-eps)
    k = protos.shape[1]
    return (torch.logsumexp(log_lik, -1) - math.log(k)).sum(-1)


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


def _linear(
    n_in: int, n_out: int, generator: torch.Generator
) -> Tuple[torch.nn.Parameter, torch.nn.Parameter]:
    # PyTorch's default for nn.Linear, U(-1/sqrt(n_in), 1/sqrt(n_in)), drawn from `generator`.
    bound = 1.0 / math.sqrt(n_in)
    w = (torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    b = (torch.rand(n_out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return torch.nn.Parameter(w), torch.nn.Parameter(b)


class CategoricalVAE(torch.nn.Module):
    r"""Encoder and decoder of a VAE with :math:`L` categorical latents of :math:`K` classes.

    * ``encode(x)``: :math:`x` ``(..., D)`` :math:`\to` logits :math:`\phi(x)` ``(..., L, K)``
      through ``D -> hidden -> L*K`` with a ReLU.
    * ``decode(z)``: :math:`z` ``(..., L, K)`` (one-hot, relaxed, or straight-through)
      :math:`\to` Bernoulli logits of the pixels ``(..., D)`` through
      ``L*K -> hidden -> D`` with a ReLU.

    Weights are initialised as ``torch.nn.Linear`` does, but drawn from ``generator`` so that
    a seed fixes them on every device.

    Args:
        n_pixels: :math:`D`.
        n_latents: :math:`L`.
        n_categories: :math:`K`.
        hidden: width of both hidden layers.
        generator: a CPU ``torch.Generator`` for the initial weights.
        dtype, device: of the parameters.

    Reference: Jang, Gu & Poole, ICLR 2017 (section 4.3, the categorical VAE); Kingma &
    Welling, ICLR 2014 (the VAE).
    """

    def __init__(
        self,
        n_pixels: int,
        n_latents: int = 4,
        n_categories: int = 4,
        hidden: int = 64,
        *,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float64,
        device: Optional[torch.device] = None,
    ):
        super().__init__()
        self.n_pixels, self.n_latents, self.n_categories = n_pixels, n_latents, n_categories
        lk = n_latents * n_categories
        self.enc_w1, self.enc_b1 = _linear(n_pixels, hidden, generator)
        self.enc_w2, self.enc_b2 = _linear(hidden, lk, generator)
        self.dec_w1, self.dec_b1 = _linear(lk, hidden, generator)
        self.dec_w2, self.dec_b2 = _linear(hidden, n_pixels, generator)
        self.to(device=device, dtype=dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of :math:`q(z \\mid x)`, shape ``x.shape[:-1] + (L, K)``."""
        h = torch.relu(F.linear(x, self.enc_w1, self.enc_b1))
        out = F.linear(h, self.enc_w2, self.enc_b2)
        return out.reshape(*x.shape[:-1], self.n_latents, self.n_categories)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of :math:`p(x \\mid z)`, shape ``z.shape[:-2] + (D,)``."""
        h = torch.relu(F.linear(z.flatten(-2), self.dec_w1, self.dec_b1))
        return F.linear(h, self.dec_w2, self.dec_b2)


def kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}(q \,\|\, \mathcal U)` for independent categoricals given by logits.

    .. math:: \mathrm{KL} = \sum_{l=1}^{L} \sum_{k=1}^{K} q_{lk}\,(\log q_{lk} + \log K),
              \qquad q_l = \operatorname{softmax}(\text{logits}_l),

    which is :math:`\sum_l (\log K - H(q_l))`: zero when every :math:`q_l` is uniform, at
    most :math:`L \log K` when every :math:`q_l` is one-hot. Differentiable; computed with
    ``log_softmax`` so that a saturated softmax gives no NaN.

    Args:
        logits: ``(..., L, K)``.

    Returns:
        ``(...)``: one KL per leading index (summed over latents and categories).
    """
    log_q = torch.log_softmax(logits, -1)
    k = logits.shape[-1]
    return (log_q.exp() * (log_q + math.log(k))).sum((-1, -2))


def bernoulli_log_likelihood(pixel_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log p(x \mid z) = \sum_d x_d \ell_d - \operatorname{softplus}(\ell_d)` for
    Bernoulli pixels with logits :math:`\ell`, summed over the last dimension.

    Args:
        pixel_logits: ``(..., D)``.
        x: ``(..., D)`` of 0s and 1s (broadcastable).

    Returns:
        ``(...)``, in nats.
    """
    return (x * pixel_logits - F.softplus(pixel_logits)).sum(-1)


def all_configurations(
    n_latents: int, n_categories: int, dtype=torch.float64, device=None
) -> torch.Tensor:
    r"""Every one-hot latent configuration, shape ``(K**L, L, K)``, in lexicographic order.

    Row ``c`` sets latent ``l`` to the ``l``-th digit (base :math:`K`, most significant
    first) of ``c``.
    """
    index = torch.tensor(
        list(itertools.product(range(n_categories), repeat=n_latents)), device=device
    )
    return F.one_hot(index, n_categories).to(dtype)


@torch.no_grad()
def exact_bounds(model: CategoricalVAE, x: torch.Tensor) -> Dict[str, float]:
    r"""The exact negative ELBO and negative log-likelihood of ``x``, averaged over images.

    With all :math:`C = K^L` configurations :math:`z^{(c)}` enumerated,

    .. math:: -\mathrm{ELBO}(x) = -\sum_c q(z^{(c)} \mid x)\log p(x \mid z^{(c)})
              + \mathrm{KL}(q \,\|\, \mathcal U),
              \qquad -\log p(x) = -\log \frac{1}{C}\sum_c p(x \mid z^{(c)}).

    The latents are discrete here whatever estimator trained the model: this is the
    discrete model's true objective, measured without sampling noise.

    Args:
        model: the VAE.
        x: images ``(N, D)``.

    Returns:
        ``{"neg_elbo", "nll", "kl"}``: means over the ``N`` images, in nats, as Python
        floats; ``neg_elbo >= nll`` (the gap is the KL from :math:`q(z\mid x)` to the
        posterior).
    """
    x = x.to(model.dec_w1.dtype)
    logits = model.encode(x)
    configs = all_configurations(
        model.n_latents, model.n_categories, model.dec_w1.dtype, model.dec_w1.device
    )
    logits_px = model.decode(configs)  # (C, D)
    log_lik = x @ logits_px.T - F.softplus(logits_px).sum(-1)  # (N, C)
    nll = -(torch.logsumexp(log_lik, -1) - math.log(configs.shape[0]))
    return {
        "neg_elbo": float(exact_neg_elbo(model, x, logits).mean()),
        "nll": float(nll.mean()),
        "kl": float(kl_to_uniform(logits).mean()),
    }


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def estimator_objective(
    model: CategoricalVAE,
    logits: torch.Tensor,
    x: torch.Tensor,
    method: str,
    *,
    samples: int,
    temperature: float,
    generator: torch.Generator,
) -> torch.Tensor:
    r"""The sampled negative ELBO for given encoder logits, with ``method``'s gradient.

    Writing :math:`\phi` for ``logits`` (shape ``(..., L, K)``, one set per image of ``x``,
    shape ``(..., D)``), draws :math:`m` = ``samples`` latent samples :math:`z_i` per image
    and returns the mean over images of

    .. math:: \frac1m \sum_{i=1}^m -\log p(x \mid z_i) + \mathrm{KL}(q_\phi \,\|\, \mathcal U),

    the KL in closed form (:func:`kl_to_uniform`), with

    * ``"gumbel-softmax"``: :math:`z = \operatorname{softmax}((\phi + g)/T)` (relaxed: the
      decoder sees a point inside the simplex; pathwise gradient);
    * ``"st-gumbel-softmax"``: :math:`z` = ``gumbel_softmax(φ, T, hard=True)`` (one-hot value,
      gradient of the relaxed sample);
    * ``"reinforce-loo"``: one-hot :math:`z` by Gumbel-max; the reconstruction term goes
      through :func:`relaxlib.reinforce_surrogate` with
      :math:`\log q(z_i \mid x) = \sum_l \log q_l(z_{il})` and ``baseline="loo"``: the
      baseline of sample :math:`i` is the mean loss of the other :math:`m - 1` samples of the
      same image. The decoder still gets its ordinary (pathwise) gradient;
    * ``"reinforce"``: the same with no baseline.

    The value is the sampled negative ELBO (with relaxed :math:`z` for ``"gumbel-softmax"``).

    Args:
        model: the VAE (its decoder is used).
        logits: :math:`\phi`, ``(..., L, K)``.
        x: images ``(..., D)``, broadcastable against ``logits.shape[:-2]``.
        method: one of :data:`METHODS`.
        samples: :math:`m \ge 1` (:math:`\ge 2` for ``"reinforce-loo"``).
        temperature: :math:`T > 0` of the Gumbel-softmax methods (unused by REINFORCE).
        generator: CPU ``torch.Generator`` for the noise.

    Returns:
        A 0-d tensor.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "reinforce-loo" and samples < 2:
        raise ValueError("the leave-one-out baseline needs samples >= 2")
    kl = kl_to_uniform(logits).mean()
    rep = logits.expand(samples, *logits.shape)  # (m, ..., L, K)
    if method in ("gumbel-softmax", "st-gumbel-softmax"):
        z = gumbel_softmax(
            rep, temperature, hard=method == "st-gumbel-softmax", generator=generator
        )
        return -bernoulli_log_likelihood(model.decode(z), x).mean() + kl
    index = gumbel_max_sample(rep, generator=generator)  # (m, ..., L)
    z = F.one_hot(index, model.n_categories).to(logits.dtype)
    log_q = (torch.log_softmax(rep, -1) * z).sum((-1, -2))  # (m, ...)
    recon = -bernoulli_log_likelihood(model.decode(z), x)  # (m, ...)
    baseline = "loo" if method == "reinforce-loo" else None
    return reinforce_surrogate(log_q, recon, baseline=baseline) + kl


def training_loss(
    model: CategoricalVAE,
    x: torch.Tensor,
    method: str,
    *,
    samples: int,
    temperature: float,
    generator: torch.Generator,
) -> torch.Tensor:
    r"""The loss of one training step: :func:`estimator_objective` at the encoder's logits.

    A scalar whose gradient (with respect to the encoder *and* the decoder) is ``method``'s
    estimate of :math:`-\nabla\,\overline{\mathrm{ELBO}}`, the mean over the ``B`` images of
    ``x`` (shape ``(B, D)``), from ``samples`` latent draws per image.
    """
    return estimator_objective(
        model,
        model.encode(x),
        x,
        method,
        samples=samples,
        temperature=temperature,
        generator=generator,
    )


def logit_gradient_estimates(
    model: CategoricalVAE,
    x: torch.Tensor,
    method: str,
    *,
    n_estimates: int,
    samples: int = 4,
    temperature: float = 0.5,
    generator: torch.Generator,
    threads: Optional[int] = 1,
) -> torch.Tensor:
    r"""``n_estimates`` independent estimates of :math:`\nabla_\phi` of the mean negative ELBO.

    The gradient is taken with respect to the encoder's *output*, the logits
    :math:`\phi = \phi(x)` of the ``B`` images: the encoder's weights get
    :math:`J^\top \nabla_\phi`, so all the estimator's bias and noise is already in
    :math:`\nabla_\phi`. The logits are copied into a leaf with one row per estimate, so a
    single ``backward`` gives every estimate its own gradient. Compare with
    :func:`exact_logit_gradient`.

    Args:
        model: the VAE.
        x: images ``(B, D)``.
        method: one of :data:`METHODS`.
        n_estimates: how many independent estimates.
        samples, temperature, generator: as in :func:`estimator_objective`.
        threads: intra-op threads while computing, restored afterwards (see :func:`train`).

    Returns:
        ``(n_estimates, B, L, K)``.
    """
    with torch.no_grad():
        logits = model.encode(x)
    leaf = logits.expand(n_estimates, *logits.shape).clone().requires_grad_(True)
    with torch.enable_grad(), _threads(threads):
        objective = estimator_objective(
            model, leaf, x, method, samples=samples, temperature=temperature, generator=generator
        )
        (grad,) = torch.autograd.grad(objective * n_estimates, leaf)
    return grad


def exact_neg_elbo(model: CategoricalVAE, x: torch.Tensor, logits=None) -> torch.Tensor:
    r"""The exact negative ELBO of every image, by enumerating all :math:`K^L` latent values.

    .. math:: -\mathrm{ELBO}(x) = -\sum_c q(z^{(c)} \mid x)\log p(x \mid z^{(c)})
              + \mathrm{KL}(q \,\|\, \mathcal U).

    Differentiable (with respect to ``logits`` and the model).

    Args:
        model: the VAE.
        x: images ``(N, D)``.
        logits: the encoder's logits ``(N, L, K)`` (default ``model.encode(x)``).

    Returns:
        ``(N,)``, in nats.
    """
    configs = all_configurations(
        model.n_latents, model.n_categories, model.dec_w1.dtype, model.dec_w1.device
    )
    logits = model.encode(x) if logits is None else logits
    logits_px = model.decode(configs)  # (C, D)
    log_lik = x @ logits_px.T - F.softplus(logits_px).sum(-1)  # (N, C)
    log_q = torch.einsum("nlk,clk->nc", torch.log_softmax(logits, -1), configs)  # (N, C)
    return -(log_q.exp() * log_lik).sum(-1) + kl_to_uniform(logits)


def exact_logit_gradient(model: CategoricalVAE, x: torch.Tensor) -> torch.Tensor:
    r"""The exact :math:`\nabla_\phi` of the mean negative ELBO of ``x`` (``(B, D)``), by
    autograd through :func:`exact_neg_elbo`: the truth that
    :func:`logit_gradient_estimates` estimates. Shape ``(B, L, K)``."""
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
    """What :func:`train` records.

    Attributes:
        method: the estimator.
        steps: the step numbers at which the model was evaluated (0 = untrained).
        neg_elbo: exact held-out negative ELBO at those steps (nats per image).
        nll: exact held-out negative log-likelihood at those steps.
        final: :func:`exact_bounds` of the trained model on the held-out images.
        seconds: wall-clock time of the training loop, evaluations included.
    """

    method: str
    steps: List[int] = field(default_factory=list)
    neg_elbo: List[float] = field(default_factory=list)
    nll: List[float] = field(default_factory=list)
    final: Dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def train(
    method: str,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    seed: int,
    steps: int = 1000,
    batch_size: int = 50,
    samples: int = 4,
    lr: float = 3e-3,
    temperature: float = 1.0,
    n_latents: int = 4,
    n_categories: int = 4,
    hidden: int = 64,
    eval_every: int = 50,
    lr_decay: bool = True,
    threads: Optional[int] = 1,
) -> Tuple[CategoricalVAE, History]:
    r"""Train a :class:`CategoricalVAE` on ``x_train`` with one estimator; evaluate exactly.

    Every method gets the same budget: the same initial weights (from ``seed``), the same
    minibatches (from ``seed + 1``), the same number of Adam steps, and ``samples`` latent
    draws per image per step (so the same number of decoder evaluations). The noise comes
    from a generator seeded with ``seed + 2``. Every ``eval_every`` steps the exact
    held-out negative ELBO and NLL (:func:`exact_bounds`) are recorded.

    Args:
        method: one of :data:`METHODS`.
        x_train, x_test: images ``(N, D)`` (their dtype and device are the model's).
        seed: fixes the initial weights, the minibatches and the noise.
        steps: number of gradient steps.
        batch_size: images per step.
        samples: latent draws per image per step (:math:`m`).
        lr: Adam's (initial) learning rate.
        temperature: :math:`T` of the Gumbel-softmax methods.
        n_latents, n_categories, hidden: the model's size.
        eval_every: steps between evaluations.
        lr_decay: decay the learning rate linearly to 0 over the ``steps`` (so that the
            final numbers measure where each estimator led, not the noise of its last step).
        threads: intra-op threads for the loop (``torch.set_num_threads``), restored
            afterwards; ``None`` leaves the setting alone. A model this small runs fastest
            on one thread (on a busy machine, several threads spend their time waiting for
            each other); the results do not depend on it.

    Returns:
        ``(model, history)``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    with _threads(threads):
        return _train(
            method,
            x_train,
            x_test,
            seed=seed,
            steps=steps,
            batch_size=batch_size,
            samples=samples,
            lr=lr,
            temperature=temperature,
            n_latents=n_latents,
            n_categories=n_categories,
            hidden=hidden,
            eval_every=eval_every,
            lr_decay=lr_decay,
        )


def _train(
    method,
    x_train,
    x_test,
    *,
    seed,
    steps,
    batch_size,
    samples,
    lr,
    temperature,
    n_latents,
    n_categories,
    hidden,
    eval_every,
    lr_decay,
) -> Tuple[CategoricalVAE, History]:
    start = time.perf_counter()
    model = CategoricalVAE(
        x_train.shape[-1],
        n_latents,
        n_categories,
        hidden,
        generator=torch.Generator().manual_seed(seed),
        dtype=x_train.dtype,
        device=x_train.device,
    )
    batches = torch.Generator().manual_seed(seed + 1)
    noise = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, (lambda step: 1.0 - step / steps) if lr_decay else (lambda step: 1.0)
    )
    history = History(method)
    n = x_train.shape[0]
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            bounds = exact_bounds(model, x_test)
            history.steps.append(step)
            history.neg_elbo.append(bounds["neg_elbo"])
            history.nll.append(bounds["nll"])
        if step == steps:
            break
        index = torch.randint(n, (batch_size,), generator=batches).to(x_train.device)
        loss = training_loss(
            model,
            x_train[index],
            method,
            samples=samples,
            temperature=temperature,
            generator=noise,
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    history.final = exact_bounds(model, x_test)
    history.seconds = time.perf_counter() - start
    return model, history


# --------------------------------------------------------------------------------------
# The book in one table, and a tiny problem to measure its estimators on
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Technique:
    """One row of the chapter's summary table.

    Attributes:
        name: the technique.
        problem: the problem it solves, in a few words.
        functions: the relaxlib names that implement it (each exported by ``relaxlib``).
        character: ``"exact"`` (nothing approximated), ``"deterministic"`` (no noise; a
            biased surrogate whose bias a parameter controls), ``"unbiased"``
            (stochastic, unbiased), ``"biased"`` (stochastic, biased, low variance).
        variance: ``"none"``, ``"low"`` or ``"high"``.
        chapter: the chapter that teaches it.
    """

    name: str
    problem: str
    functions: Tuple[str, ...]
    character: str
    variance: str
    chapter: int


#: The summary table of chapter 8, one :class:`Technique` per row, in the book's order.
TECHNIQUES: Tuple[Technique, ...] = (
    Technique(
        "differentiable almost everywhere",
        "kinks (ReLU, |x|): autograd picks a subgradient",
        (),
        "exact",
        "none",
        1,
    ),
    Technique("softplus", "ReLU's dead zone", ("softplus",), "deterministic", "none", 2),
    Technique(
        "softmax with temperature",
        "one-hot arg max has zero gradient",
        ("softmax", "one_hot_argmax"),
        "deterministic",
        "none",
        3,
    ),
    Technique(
        "soft arg max / soft max",
        "an index or a max value with a gradient",
        ("soft_argmax", "soft_max"),
        "deterministic",
        "none",
        3,
    ),
    Technique(
        "Huber / Smooth L1",
        "|x| makes gradient descent oscillate",
        ("huber", "smooth_l1"),
        "deterministic",
        "none",
        4,
    ),
    Technique(
        "reparameterisation",
        "gradient through a continuous sample",
        ("normal_rsample",),
        "unbiased",
        "low",
        5,
    ),
    Technique(
        "REINFORCE (score function)",
        "gradient through any sample, even discrete",
        ("reinforce_surrogate",),
        "unbiased",
        "high",
        6,
    ),
    Technique(
        "baselines (leave-one-out)",
        "REINFORCE's variance",
        ("reinforce_surrogate",),
        "unbiased",
        "low",
        6,
    ),
    Technique(
        "Gumbel-max",
        "exact categorical samples from logits",
        ("gumbel_max_sample", "gumbel_noise"),
        "exact",
        "none",
        7,
    ),
    Technique(
        "Gumbel-softmax",
        "a differentiable (relaxed) categorical sample",
        ("gumbel_softmax",),
        "biased",
        "low",
        7,
    ),
    Technique(
        "straight-through",
        "a discrete value with a surrogate's gradient",
        ("straight_through", "stop_gradient", "st_argmax", "st_one_hot_argmax", "gumbel_softmax"),
        "biased",
        "low",
        7,
    ),
)

#: Logits and target of the tiny categorical problem of :func:`tiny_gradient_estimates`.
TINY_LOGITS = (0.5, -0.2, 0.1)
TINY_TARGET = (0.1, 0.3, 0.8)

TINY_METHODS = ("reinforce", "reinforce-loo", "gumbel-softmax", "st-gumbel-softmax")


def tiny_exact_gradient(dtype=torch.float64) -> torch.Tensor:
    r"""The exact gradient of the tiny problem :math:`F(\theta) = \mathbb E_{y \sim
    \mathrm{Cat}(\operatorname{softmax}\theta)} \lVert y - t\rVert^2`, :math:`y` one-hot:
    :math:`\nabla F = p \odot (f - p^\top f)` with :math:`f_k = \lVert e_k - t\rVert^2`.

    :math:`\theta` = :data:`TINY_LOGITS`, :math:`t` = :data:`TINY_TARGET`. Shape ``(3,)``.
    """
    theta = torch.tensor(TINY_LOGITS, dtype=dtype)
    t = torch.tensor(TINY_TARGET, dtype=dtype)
    p = torch.softmax(theta, -1)
    f = ((torch.eye(3, dtype=dtype) - t) ** 2).sum(-1)
    return p * (f - p @ f)


def tiny_gradient_estimates(
    method: str,
    *,
    n_estimates: int,
    m: int = 4,
    temperature: float = 0.5,
    generator: torch.Generator,
) -> torch.Tensor:
    r"""``n_estimates`` independent estimates of the tiny problem's gradient, ``m`` samples each.

    The same four estimators as the worked model (:data:`TINY_METHODS`), on
    :math:`F(\theta) = \mathbb E\lVert y - t\rVert^2` (see :func:`tiny_exact_gradient`), so
    their bias and variance can be measured against the truth: REINFORCE without and with
    the leave-one-out baseline (unbiased), the Gumbel-softmax and the straight-through
    Gumbel-softmax at temperature :math:`T` (biased). All samples are drawn at once; the
    logits are copied into a leaf of shape ``(m, n_estimates, 3)`` so that one ``backward``
    gives every sample its own gradient.

    Args:
        method: one of :data:`TINY_METHODS`.
        n_estimates: how many independent estimates.
        m: samples per estimate (:math:`\ge 2` for ``"reinforce-loo"``).
        temperature: :math:`T` of the Gumbel-softmax methods.
        generator: CPU ``torch.Generator`` for the noise.

    Returns:
        ``(n_estimates, 3)``, float64 on the CPU.
    """
    if method not in TINY_METHODS:
        raise ValueError(f"method must be one of {TINY_METHODS}, got {method!r}")
    theta = (
        torch.tensor(TINY_LOGITS, dtype=torch.float64)
        .expand(m, n_estimates, 3)
        .clone()
        .requires_grad_(True)
    )
    target = torch.tensor(TINY_TARGET, dtype=torch.float64)
    if method.startswith("reinforce"):
        y = F.one_hot(gumbel_max_sample(theta, generator=generator), 3).to(torch.float64)
        log_prob = (torch.log_softmax(theta, -1) * y).sum(-1)
        loss = ((y - target) ** 2).sum(-1)
        base = "loo" if method == "reinforce-loo" else None
        (reinforce_surrogate(log_prob, loss, baseline=base) * (m * n_estimates)).backward()
    else:
        y = gumbel_softmax(theta, temperature, hard=method != "gumbel-softmax", generator=generator)
        ((y - target) ** 2).sum().backward()
    return theta.grad.mean(0)


def gaussian_gradient_estimates(
    method: str, *, n_estimates: int, mu: float = 0.5, k: float = 2.0, generator: torch.Generator
) -> torch.Tensor:
    r"""One-sample estimates of :math:`\frac{d}{d\mu}\mathbb E_{y \sim N(\mu, 1)}(y - k)^2 =
    2(\mu - k)`.

    * ``"reparameterisation"``: :math:`2(\mu + z - k)`, through :func:`relaxlib.normal_rsample`;
      variance 4.
    * ``"score-function"``: :math:`(y - k)^2 (y - \mu)`, through
      :func:`relaxlib.reinforce_surrogate`; with :math:`a = \mu - k` its variance is
      :math:`15 + 14a^2 + a^4` (51.6 for the defaults, against 4).

    Returns:
        ``(n_estimates,)``, float64 on the CPU.
    """
    mu_t = torch.full((n_estimates,), mu, dtype=torch.float64, requires_grad=True)
    if method == "reparameterisation":
        y = normal_rsample(mu_t, 1.0, generator=generator)
        ((y - k) ** 2).sum().backward()
    elif method == "score-function":
        y = normal_rsample(mu_t, 1.0, generator=generator).detach()
        log_prob = -0.5 * (y - mu_t) ** 2
        (reinforce_surrogate(log_prob, (y - k) ** 2) * n_estimates).backward()
    else:
        raise ValueError(f"method must be 'reparameterisation' or 'score-function', got {method!r}")
    return mu_t.grad.clone()
