r"""Chapter 8's worked model, as the page writes it: a categorical VAE, the training objective
of each of the four estimators, and the training loop.

Every function and class here is a copy of a cell of ``chapters/08_summary.ipynb`` (each
docstring says so, and ``tests/test_page_sources.py`` checks that the two sources are the
same, docstrings aside). The copies exist for the tests, the exercise checkers
(:mod:`dae_course.ch08_summary.checks`) and the seeds study (``benchmarks/ch08_seeds.py``);
read the page for the story.

**The model** (:class:`CategoricalVAE`), in the style of Jang, Gu & Poole (2017): an MLP
encoder maps an image :math:`x \in \{0,1\}^D` to the logits of :math:`L` independent
categorical latents, :math:`q(z \mid x) = \prod_{l=1}^{L} \mathrm{Cat}(z_l;
\operatorname{softmax}(\phi_l(x)))`, each :math:`z_l` a one-hot vector of length :math:`K`;
an MLP decoder maps the concatenated :math:`z` to Bernoulli logits of the :math:`D` pixels,
:math:`p(x \mid z)`. The prior is uniform, :math:`p(z) = K^{-L}`. Training maximises the
evidence lower bound

.. math:: \mathrm{ELBO}(x) = \mathbb E_{q(z\mid x)}[\log p(x \mid z)]
          - \mathrm{KL}(q(z\mid x)\,\|\,p(z)) \;\le\; \log p(x),

with the KL in closed form (:func:`kl_to_uniform`). The first term needs a gradient through
the discrete sample :math:`z`; :data:`METHODS` names the four ways the chapter gets one
(:func:`relaxed_objective` for the Gumbel-softmax and its straight-through version,
:func:`score_function_objective` for REINFORCE with and without the leave-one-out baseline,
:func:`neg_elbo_estimate` choosing between them), and :func:`train` is the loop, with the
chapter's settings as its defaults.

Every random draw (initial weights, minibatches, noise) comes from a CPU
``torch.Generator``, so a seed gives the same numbers on every device. Needs only torch.

References: E. Jang, S. Gu and B. Poole, "Categorical reparameterization with
Gumbel-softmax", ICLR 2017; C. J. Maddison, A. Mnih and Y. W. Teh, "The Concrete
distribution", ICLR 2017; D. P. Kingma and M. Welling, "Auto-encoding variational Bayes",
ICLR 2014; R. J. Williams, Machine Learning 8, 1992; Y. Bengio, N. Léonard and
A. Courville, arXiv:1308.3432, 2013; W. Kool, H. van Hoof and M. Welling, "Buy 4 REINFORCE
samples, get a baseline for free!", ICLR workshop 2019.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import relaxlib as rl

from .data import binary_images

__all__ = [
    "METHODS",
    "init_linear",
    "CategoricalVAE",
    "kl_to_uniform",
    "bernoulli_log_likelihood",
    "relaxed_objective",
    "score_function_objective",
    "neg_elbo_estimate",
    "train",
]

#: The estimators :func:`neg_elbo_estimate` and :func:`train` know, by name.
METHODS = ("gumbel-softmax", "st-gumbel-softmax", "reinforce-loo", "reinforce")


def init_linear(n_in, n_out, generator):
    r"""The initial weight ``(n_out, n_in)`` and bias ``(n_out,)`` of a linear layer, float64.

    PyTorch's default for ``nn.Linear``, :math:`\mathcal U(-1/\sqrt{n_{in}}, 1/\sqrt{n_{in}})`,
    but drawn from ``generator`` (a CPU ``torch.Generator``), so that a seed fixes the
    weights on every device and the global generator is left alone.

    Defined on the page: chapters/08_summary.ipynb
    """
    bound = 1.0 / math.sqrt(n_in)
    w = (torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    b = (torch.rand(n_out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return torch.nn.Parameter(w), torch.nn.Parameter(b)


class CategoricalVAE(torch.nn.Module):
    r"""Encoder and decoder of a VAE with :math:`L` categorical latents of :math:`K` classes.

    * ``encode(x)``: images ``(..., D)`` :math:`\to` logits :math:`\phi(x)` ``(..., L, K)``
      through ``D -> hidden -> L*K`` with a ReLU.
    * ``decode(z)``: codes ``(..., L, K)`` (one-hot, relaxed or straight-through)
      :math:`\to` Bernoulli logits of the pixels ``(..., D)`` through
      ``L*K -> hidden -> D`` with a ReLU.

    Args:
        n_pixels: :math:`D`.
        n_latents: :math:`L`.
        n_categories: :math:`K`.
        hidden: width of both hidden layers.
        generator: a CPU ``torch.Generator`` for the initial weights (:func:`init_linear`);
            the float64 parameters are made on the CPU (move them with ``.to(device)``).

    Reference: Jang, Gu & Poole, ICLR 2017 (section 4.3); Kingma & Welling, ICLR 2014.

    Defined on the page: chapters/08_summary.ipynb
    """

    def __init__(self, n_pixels, n_latents, n_categories, hidden, *, generator):
        super().__init__()
        self.n_pixels, self.n_latents, self.n_categories = n_pixels, n_latents, n_categories
        self.enc_w1, self.enc_b1 = init_linear(n_pixels, hidden, generator)
        self.enc_w2, self.enc_b2 = init_linear(hidden, n_latents * n_categories, generator)
        self.dec_w1, self.dec_b1 = init_linear(n_latents * n_categories, hidden, generator)
        self.dec_w2, self.dec_b2 = init_linear(hidden, n_pixels, generator)

    def encode(self, x):  # images (..., D) -> logits (..., L, K)
        h = torch.relu(F.linear(x, self.enc_w1, self.enc_b1))
        logits = F.linear(h, self.enc_w2, self.enc_b2)
        return logits.unflatten(-1, (self.n_latents, self.n_categories))

    def decode(self, z):  # codes (..., L, K) -> pixel logits (..., D)
        h = torch.relu(F.linear(z.flatten(-2), self.dec_w1, self.dec_b1))
        return F.linear(h, self.dec_w2, self.dec_b2)


def kl_to_uniform(logits):
    r""":math:`\mathrm{KL}(q \,\|\, \mathcal U)` for independent categoricals given by logits.

    .. math:: \mathrm{KL} = \sum_{l=1}^{L} \sum_{k=1}^{K} q_{lk}\,(\log q_{lk} + \log K),
              \qquad q_l = \operatorname{softmax}(\text{logits}_l),

    which is :math:`\sum_l (\log K - H(q_l))`: zero when every :math:`q_l` is uniform, at
    most :math:`L \log K`. Computed with ``log_softmax``, so a saturated softmax gives no NaN.

    Args:
        logits: ``(..., L, K)``.

    Returns:
        ``(...)``: one KL per leading index.

    Defined on the page: chapters/08_summary.ipynb
    """
    log_q = torch.log_softmax(logits, -1)
    return (log_q.exp() * (log_q + math.log(logits.shape[-1]))).sum((-1, -2))


def bernoulli_log_likelihood(pixel_logits, x):
    r""":math:`\log p(x \mid z) = \sum_d x_d \ell_d - \operatorname{softplus}(\ell_d)` for
    binary pixels with logits :math:`\ell` (``(..., D)``), summed over the last dimension.

    Defined on the page: chapters/08_summary.ipynb
    """
    return (x * pixel_logits - F.softplus(pixel_logits)).sum(-1)


def relaxed_objective(model, logits, x, *, samples, temperature, hard, kl_weight, generator):
    r"""The sampled negative ELBO through Gumbel-softmax codes (straight-through if ``hard``).

    Draws ``samples`` codes :math:`z = \operatorname{softmax}((\phi + g)/T)` per image
    (``hard=True``: their one-hot arg max, with the gradient of the soft code) and returns
    the mean over codes and images of :math:`-\log p(x \mid z)` plus the mean closed-form KL
    times ``kl_weight`` (1 for the ELBO; less during a KL warm-up). The gradient reaches
    the encoder's logits :math:`\phi` (``(B, L, K)``, or any leading
    shape that broadcasts with ``x``) by the pathwise route.

    Defined on the page: chapters/08_summary.ipynb
    """
    codes = logits.expand(samples, *logits.shape)  # m draws for every image
    z = rl.gumbel_softmax(codes, temperature, hard=hard, generator=generator)
    recon = -bernoulli_log_likelihood(model.decode(z), x)  # (m, B)
    return recon.mean() + kl_weight * kl_to_uniform(logits).mean()


def score_function_objective(model, logits, x, *, samples, baseline, kl_weight, generator):
    r"""The sampled negative ELBO whose encoder gradient is REINFORCE's.

    Draws ``samples`` exact one-hot codes per image by Gumbel-max; the reconstruction term
    goes through :func:`relaxlib.reinforce_surrogate` with
    :math:`\log q(z \mid x) = \sum_l \log q_l(z_l)` and ``baseline`` (``None``, or
    ``"loo"``: the mean loss of the image's other codes), and the closed-form KL is added
    times ``kl_weight``. The value is the sampled negative ELBO (for ``kl_weight=1``); the
    decoder gets its ordinary pathwise gradient.

    Defined on the page: chapters/08_summary.ipynb
    """
    codes = logits.expand(samples, *logits.shape)
    z = F.one_hot(rl.gumbel_max_sample(codes, generator=generator), logits.shape[-1])
    z = z.to(logits.dtype)  # exact one-hot codes: no gradient flows through them
    log_q = (torch.log_softmax(codes, -1) * z).sum((-1, -2))  # log q(z | x), (m, B)
    recon = -bernoulli_log_likelihood(model.decode(z), x)  # (m, B)
    kl = kl_to_uniform(logits).mean()
    return rl.reinforce_surrogate(log_q, recon, baseline=baseline) + kl_weight * kl


def neg_elbo_estimate(
    model, logits, x, method, *, samples=4, temperature=0.5, kl_weight=1.0, generator
):
    r"""The sampled negative ELBO of images ``x`` at encoder ``logits``, with ``method``'s
    gradient (one of :data:`METHODS`).

    Args:
        model: the :class:`CategoricalVAE` (its decoder is used).
        logits: :math:`\phi`, ``(B, L, K)`` (usually ``model.encode(x)``).
        x: images ``(B, D)``.
        method: ``"gumbel-softmax"``, ``"st-gumbel-softmax"``, ``"reinforce-loo"`` or
            ``"reinforce"``.
        samples: codes per image, :math:`m` (at least 2 for the leave-one-out baseline).
        temperature: :math:`T` of the Gumbel-softmax methods.
        kl_weight: the KL term's weight: 1 for the negative ELBO, less during a warm-up.
        generator: CPU ``torch.Generator`` for the noise.

    Returns:
        A 0-d tensor.

    Defined on the page: chapters/08_summary.ipynb
    """
    draws = dict(samples=samples, kl_weight=kl_weight, generator=generator)
    if method == "gumbel-softmax":
        return relaxed_objective(model, logits, x, temperature=temperature, hard=False, **draws)
    if method == "st-gumbel-softmax":
        return relaxed_objective(model, logits, x, temperature=temperature, hard=True, **draws)
    if method == "reinforce-loo":
        return score_function_objective(model, logits, x, baseline="loo", **draws)
    if method == "reinforce":
        return score_function_objective(model, logits, x, baseline=None, **draws)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def train(method, x_train, *, seed, n_latents=4, n_categories=4, hidden=64, steps=800,
          batch_size=50, samples=4, lr=1e-2, temperature=0.5, warmup=0, monitor=None,
          every=50):  # fmt: skip
    r"""Train a :class:`CategoricalVAE` on binary images with one estimator.

    The seed fixes the initial weights (``seed``), the minibatches (``seed + 1``) and the
    noise (``seed + 2``), so every method trained with the same seed starts from the same
    weights and sees the same minibatches. Adam's learning rate decays linearly to 0 over
    the ``steps``. With ``warmup`` > 0 the KL term's weight grows linearly from 0 to 1 over
    the first ``warmup`` steps (a KL warm-up: Bowman et al., CoNLL 2016; Sønderby et al.,
    NeurIPS 2016). The defaults are the chapter's settings.

    Args:
        method: one of :data:`METHODS`.
        x_train: images ``(N, D)`` of 0s and 1s (a tensor or a numpy array; checked by
            :func:`dae_course.ch08_summary.data.binary_images`). The model lives on their
            device.
        seed: see above.
        n_latents, n_categories, hidden: the model's size.
        steps, batch_size, samples, lr, temperature: the training budget and estimator.
        warmup: steps of KL warm-up (0: none, the objective is the ELBO from the start).
        monitor: ``monitor(step, model)`` is called every ``every`` steps and after the
            last one (e.g. a :class:`dae_course.ch08_summary.evaluation.History`).

    Returns:
        The trained model.

    Defined on the page: chapters/08_summary.ipynb
    """
    x_train = binary_images(x_train, "x_train")
    init = torch.Generator().manual_seed(seed)
    batches = torch.Generator().manual_seed(seed + 1)
    noise = torch.Generator().manual_seed(seed + 2)
    model = CategoricalVAE(x_train.shape[1], n_latents, n_categories, hidden, generator=init)
    model.to(x_train.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1 - step / steps)
    estimator = dict(samples=samples, temperature=temperature, generator=noise)
    for step in range(steps):
        if monitor is not None and step % every == 0:
            monitor(step, model)
        index = torch.randint(len(x_train), (batch_size,), generator=batches)
        x = x_train[index.to(x_train.device)]
        kl_weight = min(1.0, step / warmup) if warmup else 1.0
        loss = neg_elbo_estimate(
            model, model.encode(x), x, method, kl_weight=kl_weight, **estimator
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        decay.step()
    if monitor is not None:
        monitor(steps, model)
    return model
