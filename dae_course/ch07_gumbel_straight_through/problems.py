r"""Toys of chapter 7 (Gumbel-max, Gumbel-softmax and the straight-through operator).

**The categorical toy.** Logits :math:`\theta \in \mathbb R^K`, a one-hot sample
:math:`y \sim \mathrm{Cat}(p)` with :math:`p = \operatorname{softmax}(\theta)`, and the loss
:math:`f(y) = \lVert y - t \rVert^2` for a fixed target vector :math:`t` (the categorical
version of chapter 6's Bernoulli toy :math:`(b - t)^2`). Because :math:`y` takes only the
:math:`K` values :math:`e_1, \dots, e_K`, the objective and its gradient are finite sums:

.. math:: F(\theta) = \sum_k p_k f(e_k), \qquad
          \nabla_\theta F = \sum_k f(e_k)\,\nabla_\theta p_k = p \odot (f - p^\top f),

with :math:`f = (f(e_1), \dots, f(e_K))`. Every estimator of this gradient can therefore be
measured against the truth: its bias (the mean estimate minus :math:`\nabla F`, with its
standard error) and its variance.

**The estimators and their measurement** are written on the chapter's page,
``chapters/07_gumbel_straight_through.ipynb``; this module holds the copies that chapter 8
and the tests use (each says "Defined on the page", and ``tests/test_page_sources.py`` checks
that it is the page's code): :func:`st_gumbel_softmax`, :func:`gradient_estimates` (all
samples in one batch: the logits are copied into a leaf tensor with one row per sample, so
one ``backward`` leaves every sample's own gradient in its row), :func:`measure` (bias,
noise level, variance and MSE against the exact gradient), :func:`st_cold_limit` (the mean
of the straight-through estimator as :math:`T \to 0`) and :func:`many_choices_variance`.

**Exact references** for the pitfalls of the chapter: the distribution that Gumbel-max
produces when the noise has the wrong sign (:func:`reversed_gumbel_max_probs`), the exact
moments of REINFORCE by enumerating all :math:`K^m` sample tuples
(:func:`exact_reinforce_moments`) and its closed-form variance when :math:`D` such choices
share one loss (:func:`exact_reinforce_variance_many`); and PyTorch's
``OneHotCategoricalStraightThrough`` run on a given draw (:func:`torch_st_rsample`).

Needs torch and relaxlib.

References: E. J. Gumbel, *Statistical Theory of Extreme Values and Some Practical
Applications*, 1954; E. Jang, S. Gu and B. Poole, "Categorical reparameterization with
Gumbel-softmax", ICLR 2017; C. J. Maddison, A. Mnih and Y. W. Teh, "The Concrete
distribution", ICLR 2017; Y. Bengio, N. Léonard and A. Courville, "Estimating or propagating
gradients through stochastic neurons for conditional computation", arXiv:1308.3432, 2013;
R. J. Williams, Machine Learning 8, 1992; W. Kool, H. van Hoof and M. Welling, "Buy 4
REINFORCE samples, get a baseline for free!", ICLR workshop 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch.distributions import OneHotCategoricalStraightThrough

import relaxlib as rl

__all__ = [
    "CategoricalToy",
    "METHODS",
    "st_gumbel_softmax",
    "gradient_estimates",
    "measure",
    "st_cold_limit",
    "many_choices_variance",
    "exact_reinforce_moments",
    "exact_reinforce_variance_many",
    "torch_st_rsample",
    "reversed_gumbel_max_probs",
]

#: The estimators :func:`gradient_estimates` knows, by name.
METHODS = ("gumbel-softmax", "st-gumbel-softmax", "reinforce", "reinforce-loo")


# --------------------------------------------------------------------------------------
# The toy and its exact gradient
# --------------------------------------------------------------------------------------


def check_floating(x, name: str) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor, else raise ``TypeError`` naming it."""
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {x!r:.60}")
    return x


@dataclass(frozen=True)
class CategoricalToy:
    r"""Minimise :math:`F(\theta) = \mathbb E_{y \sim \mathrm{Cat}(\operatorname{softmax}\theta)}
    \lVert y - t\rVert^2` over the logits :math:`\theta`; :math:`y` is one-hot.

    Attributes:
        logits: :math:`\theta`, a 1-d floating tensor of length :math:`K \ge 2`.
        target: :math:`t`, a floating tensor of the same shape, dtype and device.

    Reference: the categorical analogue of the Bernoulli toy of Tucker et al., "REBAR",
    NeurIPS 2017 (chapter 6).
    """

    logits: torch.Tensor
    target: torch.Tensor

    def __post_init__(self) -> None:
        check_floating(self.logits, "logits")
        check_floating(self.target, "target")
        if self.logits.dim() != 1 or self.logits.numel() < 2:
            raise ValueError(
                f"logits must be 1-d with at least 2 entries, got shape {tuple(self.logits.shape)}"
            )
        if self.target.shape != self.logits.shape:
            raise ValueError(
                f"target must have the shape of logits {tuple(self.logits.shape)}, got "
                f"{tuple(self.target.shape)}"
            )

    @property
    def num_categories(self) -> int:
        """:math:`K`, the number of categories."""
        return self.logits.numel()

    def probs(self) -> torch.Tensor:
        r""":math:`p = \operatorname{softmax}(\theta)`, shape ``(K,)``."""
        return torch.softmax(self.logits.detach(), -1)

    def loss(self, y: torch.Tensor) -> torch.Tensor:
        r""":math:`f(y) = \lVert y - t\rVert^2` over the last dimension (one-hot or relaxed
        :math:`y` of shape ``(..., K)``; returns shape ``(...)``)."""
        return ((y - self.target) ** 2).sum(-1)

    def outcome_losses(self) -> torch.Tensor:
        r"""The vector :math:`f = (f(e_1), \dots, f(e_K))` of the losses of the :math:`K`
        outcomes, shape ``(K,)``."""
        eye = torch.eye(self.num_categories, dtype=self.logits.dtype, device=self.logits.device)
        return self.loss(eye)

    def expected_loss(self) -> torch.Tensor:
        r""":math:`F(\theta) = \sum_k p_k f(e_k)`, exact (a 0-d tensor)."""
        return self.probs() @ self.outcome_losses()

    def exact_gradient(self) -> torch.Tensor:
        r"""The exact gradient :math:`\nabla_\theta F = p \odot (f - p^\top f)`, shape ``(K,)``.

        From :math:`\partial p_k / \partial\theta_j = p_k(\delta_{kj} - p_j)`:
        :math:`\partial F/\partial\theta_j = \sum_k f_k p_k (\delta_{kj} - p_j) = p_j (f_j -
        p^\top f)`.
        """
        p, f = self.probs(), self.outcome_losses()
        return p * (f - p @ f)

    def exact_gradient_autograd(self) -> torch.Tensor:
        r"""The same gradient by autograd through the enumeration :math:`\sum_k p_k(\theta)
        f(e_k)` (an independent check of :meth:`exact_gradient`)."""
        theta = self.logits.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            objective = torch.softmax(theta, -1) @ self.outcome_losses()
            (grad,) = torch.autograd.grad(objective, theta)
        return grad


# --------------------------------------------------------------------------------------
# PyTorch's straight-through estimator, with a given draw
# --------------------------------------------------------------------------------------


class _GivenSample(OneHotCategoricalStraightThrough):
    """PyTorch's straight-through one-hot categorical whose random draw is supplied."""

    def __init__(self, logits: torch.Tensor, one_hot: torch.Tensor):
        super().__init__(logits=logits, validate_args=False)
        self._given = one_hot

    def sample(self, sample_shape=torch.Size()):  # noqa: B008 - torch's own signature
        return self._given


def torch_st_rsample(logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    r"""``OneHotCategoricalStraightThrough(logits=logits).rsample()`` for a given one-hot draw.

    PyTorch's ``rsample`` is ``sample + (probs - probs.detach())``: the value is the one-hot
    sample, and the gradient is that of the *noise-free* probabilities
    :math:`\operatorname{softmax}(\theta)` at temperature 1, whatever the sample was. (The
    straight-through Gumbel-softmax instead passes the gradient of the noisy, tempered
    :math:`\operatorname{softmax}((\theta + g)/T)`.) PyTorch draws the sample with the
    global random generator, which a seeded notebook cannot pin across devices; this runs
    PyTorch's own ``rsample`` with its draw replaced by ``one_hot``, so the gradient path is
    exactly PyTorch's.

    Args:
        logits: floating tensor ``(..., K)``.
        one_hot: a one-hot tensor of the same shape (e.g. from :func:`relaxlib.gumbel_max_sample`).

    Returns:
        Tensor equal to ``one_hot`` whose gradient with respect to ``logits`` is that of
        ``softmax(logits)``.

    Raises:
        RuntimeError: if PyTorch's ``rsample`` did not use the supplied draw (a changed
            implementation).

    Reference: PyTorch, ``torch.distributions.OneHotCategoricalStraightThrough``; Bengio,
    Léonard & Courville 2013.
    """
    check_floating(logits, "logits")
    one_hot = one_hot.to(dtype=logits.dtype, device=logits.device)
    y = _GivenSample(logits, one_hot).rsample()
    if not torch.equal(y.detach(), one_hot):
        raise RuntimeError("OneHotCategoricalStraightThrough.rsample ignored the given sample")
    return y


# --------------------------------------------------------------------------------------
# The estimators and their measurement: copies of the page's definitions
# --------------------------------------------------------------------------------------


def st_gumbel_softmax(logits, temperature=1.0, generator=None):
    r"""Straight-through Gumbel-softmax: a one-hot sample of Cat(softmax(logits)) along the
    last dimension whose gradient is that of the soft sample softmax((logits + g) / T).

    .. math:: \mathbf y = \mathbf s + \operatorname{sg}(\mathbf h - \mathbf s), \quad
              \mathbf s = \operatorname{softmax}((\boldsymbol\theta + \mathbf g)/T), \quad
              \mathbf h = \operatorname{onehot}(\arg\max \mathbf s),

    :math:`\mathbf g` i.i.d. Gumbel(0, 1) noise from :func:`relaxlib.gumbel_noise` (drawn on
    the generator's device, so a CPU generator gives the same sample on every device). The
    same sample and gradient as ``relaxlib.gumbel_softmax(logits, T, hard=True)`` with the
    same generator.

    Args:
        logits: floating tensor ``(..., K)``.
        temperature: :math:`T > 0`, a float.
        generator: optional ``torch.Generator``.

    Returns:
        Tensor of the shape and dtype of ``logits``, exactly one-hot along the last dimension.

    Defined on the page: chapters/07_gumbel_straight_through.ipynb

    Reference: Jang, Gu & Poole, ICLR 2017; Bengio, Léonard & Courville 2013.
    """
    g = rl.gumbel_noise(logits.shape, generator, logits.device, logits.dtype)
    soft = torch.softmax((logits + g) / temperature, dim=-1)  # the Gumbel-softmax sample
    hard = rl.one_hot_argmax(soft)  # one-hot of arg max(logits + g): the Gumbel-max sample
    return rl.straight_through(hard, soft)  # soft + sg(hard - soft): value hard, gradient soft


def gradient_estimates(problem, method, *, n_estimates, m=1, temperature=1.0, generator=None):
    r"""``n_estimates`` independent estimates of :math:`\nabla_\theta F`, each the mean of ``m``
    per-sample gradients.

    Methods (``y`` the sample, :math:`T` the temperature):

    * ``"gumbel-softmax"``: the loss of the relaxed sample
      :math:`\operatorname{softmax}((\theta + g)/T)`, differentiated (pathwise);
    * ``"st-gumbel-softmax"``: the loss of the one-hot sample of :func:`st_gumbel_softmax`,
      differentiated through the soft sample;
    * ``"reinforce"``: :math:`f(y)\,\nabla_\theta \log p_y`, ``y`` from Gumbel-max, through
      :func:`relaxlib.reinforce_surrogate`;
    * ``"reinforce-loo"``: the same with the leave-one-out baseline of the ``m`` samples
      (needs ``m >= 2``).

    The logits are copied into a leaf of shape ``(m, n_estimates, K)``, one row per sample,
    so that one ``backward`` leaves every sample's own gradient in its row.

    Args:
        problem: an object with ``logits`` (``(K,)``) and ``loss(y)`` (``(..., K) -> (...)``),
            e.g. a :class:`CategoricalToy`.
        method: one of :data:`METHODS` (another name raises ``KeyError``).
        n_estimates: how many independent estimates.
        m: samples per estimate.
        temperature: :math:`T > 0` of the Gumbel-softmax methods.
        generator: optional ``torch.Generator`` (CPU: the same draws on every device).

    Returns:
        Tensor ``(n_estimates, K)`` in the dtype and on the device of ``problem.logits``.

    Defined on the page: chapters/07_gumbel_straight_through.ipynb
    """
    # One leaf row per sample: one backward leaves each sample's own gradient in its row.
    theta = problem.logits.detach().expand(m, n_estimates, -1).clone().requires_grad_(True)
    if method in ("gumbel-softmax", "st-gumbel-softmax"):
        sample = st_gumbel_softmax if method == "st-gumbel-softmax" else rl.gumbel_softmax
        problem.loss(sample(theta, temperature, generator=generator)).sum().backward()
        return theta.grad.mean(0)
    y = F.one_hot(rl.gumbel_max_sample(theta, generator=generator), theta.shape[-1])
    y = y.to(theta.dtype)
    log_p = (torch.log_softmax(theta, -1) * y).sum(-1)
    baseline = {"reinforce": None, "reinforce-loo": "loo"}[method]
    rl.reinforce_surrogate(log_p, problem.loss(y), baseline=baseline).backward()
    return (theta.grad * (m * n_estimates)).mean(0)  # the surrogate averaged all m * n


def measure(estimates, exact, m):
    r"""Bias and variance of an estimator, from ``n`` independent ``m``-sample estimates.

    Args:
        estimates: ``(n, K)``, one estimate per row (e.g. from :func:`gradient_estimates`).
        exact: the exact gradient, ``(K,)``.
        m: the samples per estimate.

    Returns:
        A dict of floats, computed in float64 on the CPU: ``"|bias|"`` (the norm of the mean
        estimate minus ``exact``), ``"noise"`` (:math:`\sqrt{\operatorname{tr}\operatorname{Cov}
        /n}`, the size ``|bias|`` has from sampling noise alone when the true bias is 0),
        ``"max|z|"`` (the largest bias component in standard errors), ``"var/sample"``
        (:math:`m\operatorname{tr}\operatorname{Cov}`) and ``"MSE"`` (:math:`\lVert
        \text{bias}\rVert^2 + \operatorname{tr}\operatorname{Cov}`, the expected squared
        error of one ``m``-sample estimate).

    Defined on the page: chapters/07_gumbel_straight_through.ipynb
    """
    est, exact = estimates.detach().double().cpu(), exact.detach().double().cpu()
    n, var = est.shape[0], est.var(0)  # the variance of each component across the n rows
    bias = est.mean(0) - exact
    return {
        "|bias|": bias.norm().item(),
        "noise": (var.sum() / n).sqrt().item(),  # |bias| from sampling noise alone
        "max|z|": (bias.abs() / (var / n).sqrt()).max().item(),  # in standard errors
        "var/sample": m * var.sum().item(),
        "MSE": bias.norm().item() ** 2 + var.sum().item(),  # of one m-sample estimate
    }


def exact_reinforce_moments(
    toy: CategoricalToy, m: int = 1, baseline: Optional[str] = None
) -> Tuple[torch.Tensor, float]:
    r"""Exact mean and total variance of the ``m``-sample REINFORCE estimate, by enumeration.

    The estimate :math:`\frac1m \sum_i (f(y_i) - b_i)(e_{y_i} - p)` (the score of a
    categorical is :math:`\nabla_\theta \log p_y = e_y - p`) is a function of the tuple
    :math:`(y_1, \dots, y_m)`, which takes :math:`K^m` values with probabilities
    :math:`\prod_i p_{y_i}`; summing over all of them gives the exact moments.

    Args:
        toy: the problem.
        m: samples per estimate (:math:`K^m` must stay below :math:`10^6`).
        baseline: ``None`` or ``"loo"`` (:math:`b_i` = mean loss of the other samples).

    Returns:
        ``(mean, trace_cov)``: the exact mean (equal to :meth:`CategoricalToy.exact_gradient`
        for both baselines: they are unbiased) and :math:`\operatorname{tr}\operatorname{Cov}`
        of one ``m``-sample estimate (multiply by ``m`` for the variance per sample).
    """
    k = toy.num_categories
    if baseline not in (None, "loo"):
        raise ValueError(f"baseline must be None or 'loo', got {baseline!r}")
    if baseline == "loo" and m < 2:
        raise ValueError("the leave-one-out baseline needs m >= 2")
    if k**m > 1_000_000:
        raise ValueError(f"K**m = {k**m} tuples is too many to enumerate")
    p, f = toy.probs(), toy.outcome_losses()
    grids = torch.meshgrid(*[torch.arange(k, device=p.device)] * m, indexing="ij")
    tuples = torch.stack([g.reshape(-1) for g in grids], -1)  # (K^m, m)
    weight = p[tuples].prod(-1)  # (K^m,)
    losses = f[tuples]  # (K^m, m)
    if baseline == "loo":
        losses = losses - (losses.sum(-1, keepdim=True) - losses) / (m - 1)
    scores = torch.eye(k, dtype=p.dtype, device=p.device)[tuples] - p  # (K^m, m, K)
    est = (losses[..., None] * scores).mean(1)  # (K^m, K)
    mean = weight @ est
    second = weight @ (est**2).sum(-1)
    return mean, float(second - (mean**2).sum())


# --------------------------------------------------------------------------------------
# Why cooling does not remove the straight-through bias; many choices sharing one loss
# --------------------------------------------------------------------------------------


def st_cold_limit(problem):
    r"""The T -> 0 limit of the mean ST Gumbel-softmax estimate: the exact gradient with each
    difference f(e_i) - f(e_j) replaced by the mean of the slopes of f at both ends.

    The exact gradient is :math:`\partial F/\partial\theta_i = p_i \sum_j p_j (f_i - f_j)`
    (:math:`p_i p_j` is the rate at which raising :math:`\theta_i` moves samples from
    :math:`e_j` to :math:`e_i`). As :math:`T \to 0` the straight-through gradient is nonzero
    only near the boundary between two categories, and there it is the slope of :math:`f`
    along the edge :math:`e_j \to e_i`, taken at :math:`e_i` on one side and at :math:`e_j` on
    the other. So the mean estimate tends to

    .. math:: p_i \sum_j p_j\,\tfrac12\bigl[\nabla f(e_i) + \nabla f(e_j)\bigr]^\top
              (e_i - e_j),

    the trapezoid rule for :math:`f(e_i) - f(e_j) = \int \nabla f^\top (e_i - e_j)`: exact
    when :math:`f` is quadratic along every edge (as :math:`\lVert y - t\rVert^2`), biased
    otherwise. For :math:`K = 2` with logits :math:`(0, \theta)` it is
    :math:`\sigma'(\theta)\,(f'(0) + f'(1))/2` against the true
    :math:`\sigma'(\theta)\,(f(1) - f(0))`.

    Args:
        problem: an object with ``probs()`` (``(K,)``) and ``loss(y)``, e.g. a
            :class:`CategoricalToy` (or a subclass with another loss).

    Returns:
        Tensor ``(K,)``.

    Defined on the page: chapters/07_gumbel_straight_through.ipynb
    """
    p = problem.probs()
    eye = torch.eye(p.numel(), dtype=p.dtype, device=p.device).requires_grad_(True)
    (slope,) = torch.autograd.grad(problem.loss(eye).sum(), eye)  # row k: gradient of f at e_k
    d = slope.diagonal()
    trapezoid = (d[:, None] - slope + slope.T - d[None, :]) / 2  # [i, j]: along e_j -> e_i
    return p * (trapezoid @ p)


def many_choices_variance(problem, n_vars, method, *, n_estimates, m, generator):
    r"""Variance per sample of the gradient for one of ``n_vars`` choices sharing one loss.

    :math:`D` = ``n_vars`` independent copies of the problem, :math:`y_d \sim
    \mathrm{Cat}(\operatorname{softmax}\theta)`, scored by one loss :math:`L = \sum_d
    f(y_d)` (a model that emits :math:`D` tokens and is scored once). Methods:
    ``"st-gumbel-softmax"`` (at :math:`T = 1`) differentiates each term; ``"reinforce"`` and
    ``"reinforce-loo"`` multiply the joint score :math:`\sum_d \nabla\log p(y_d)` by the
    whole :math:`L`; ``"reinforce, own term"`` multiplies each choice's score by its own
    term :math:`f(y_d)` only (possible because :math:`L` is a sum over choices).

    Args:
        problem: as for :func:`gradient_estimates`.
        n_vars: :math:`D \ge 1`.
        method: see above.
        n_estimates, m, generator: as for :func:`gradient_estimates`.

    Returns:
        :math:`m \cdot \operatorname{tr}\operatorname{Cov}` of the estimate of
        :math:`\nabla_{\theta_d} \mathbb E[L]`, averaged over the :math:`D` choices.

    Defined on the page: chapters/07_gumbel_straight_through.ipynb
    """
    theta = problem.logits.detach().expand(m, n_estimates, n_vars, -1).clone().requires_grad_()
    if method == "st-gumbel-softmax":
        problem.loss(st_gumbel_softmax(theta, 1.0, generator=generator)).sum().backward()
    else:
        y = F.one_hot(rl.gumbel_max_sample(theta, generator=generator), theta.shape[-1])
        y = y.to(theta.dtype)
        log_p, losses = (torch.log_softmax(theta, -1) * y).sum(-1), problem.loss(y)  # (m, n, D)
        if method == "reinforce, own term":  # each choice's score times its own f(y_d)
            rl.reinforce_surrogate(log_p, losses).backward()
            theta.grad *= n_vars
        else:  # the joint score times the whole loss
            baseline = {"reinforce": None, "reinforce-loo": "loo"}[method]
            rl.reinforce_surrogate(log_p.sum(-1), losses.sum(-1), baseline=baseline).backward()
        theta.grad *= m * n_estimates  # the surrogate averaged over its entries
    est = theta.grad.mean(0).double()  # (n_estimates, n_vars, K)
    return m * est.var(0).sum(-1).mean().item()


def exact_reinforce_variance_many(toy: CategoricalToy, n_vars: int) -> float:
    r"""Exact per-sample variance of plain REINFORCE for one of ``n_vars`` choices sharing a loss.

    With :math:`s = e_y - p` the score of choice :math:`d`, :math:`L = f(y_d) + R` where
    :math:`R = \sum_{d' \ne d} f(y_{d'})` is independent of :math:`y_d`, with mean
    :math:`(D-1)\mu` and second moment :math:`(D-1)\sigma^2 + (D-1)^2\mu^2`
    (:math:`\mu, \sigma^2` the mean and variance of :math:`f(y)`):

    .. math:: \operatorname{tr}\operatorname{Cov}[L s] = A + 2\,\mathbb E[R]\,B
              + \mathbb E[R^2]\,C - \lVert\nabla_\theta F\rVert^2,

    :math:`A = \mathbb E[f^2 \lVert s\rVert^2]`, :math:`B = \mathbb E[f \lVert s\rVert^2]`,
    :math:`C = \mathbb E\lVert s\rVert^2 = 1 - \lVert p\rVert^2`. It grows like :math:`D^2`.

    Args:
        toy: the problem for one choice.
        n_vars: :math:`D \ge 1`.

    Returns:
        The variance (a float).
    """
    if n_vars < 1:
        raise ValueError(f"n_vars must be >= 1, got {n_vars}")
    p, f = toy.probs().double(), toy.outcome_losses().double()
    eye = torch.eye(p.numel(), dtype=p.dtype, device=p.device)
    s2 = ((eye - p) ** 2).sum(-1)  # ||e_k - p||^2
    a, b, c = p @ (f**2 * s2), p @ (f * s2), p @ s2
    mu = p @ f
    var = p @ (f - mu) ** 2
    d = n_vars - 1
    second = a + 2 * d * mu * b + (d * var + d**2 * mu**2) * c
    return float(second - (toy.exact_gradient().double() ** 2).sum())


# --------------------------------------------------------------------------------------
# Gumbel-max with the wrong noise, and the chi-square test
# --------------------------------------------------------------------------------------


def reversed_gumbel_max_probs(logits: torch.Tensor) -> torch.Tensor:
    r"""Exact :math:`P(\arg\max_i (x_i - g_i) = k)` for i.i.d. Gumbel(0, 1) :math:`g_i`.

    This is what Gumbel-max samples when the noise is computed as :math:`\log(-\log U)`
    (the negative of a Gumbel variate: a *reversed* Gumbel) instead of
    :math:`-\log(-\log U)`. Write :math:`-g_i = \log E_i` with :math:`E_i = -\log U_i \sim
    \mathrm{Exp}(1)`: then :math:`\arg\max_i (x_i + \log E_i) = \arg\max_i w_i E_i` with
    :math:`w = \operatorname{softmax}(x)`, the largest of independent exponentials with means
    :math:`w_i`. Expanding :math:`\prod_{j \ne k}(1 - e^{-t/w_j})` (inclusion-exclusion):

    .. math:: P(k) = \sum_{S \subseteq \{j \ne k\}} (-1)^{|S|}
              \frac{1/w_k}{1/w_k + \sum_{j \in S} 1/w_j} .

    (With the correct sign, :math:`\arg\min_i E_i / w_i` is the first of independent
    exponential clocks with rates :math:`w_i`, which gives exactly :math:`w_k`.)

    Args:
        logits: a 1-d floating tensor of :math:`K \le 20` logits.

    Returns:
        The :math:`K` probabilities (float64, on the logits' device).
    """
    check_floating(logits, "logits")
    if logits.dim() != 1:
        raise ValueError("logits must be 1-d")
    k = logits.numel()
    if k > 20:
        raise ValueError("inclusion-exclusion over 2**(K-1) subsets: K must be <= 20")
    rates = 1.0 / torch.softmax(logits.detach().double(), -1)  # 1 / w_i
    masks = torch.arange(2**k, device=logits.device)
    members = ((masks[:, None] >> torch.arange(k, device=logits.device)) & 1).to(rates.dtype)
    sizes = members.sum(-1)
    subset_rate = members @ rates  # sum of 1/w_j over each subset
    probs = torch.empty(k, dtype=rates.dtype, device=rates.device)
    for i in range(k):
        others = members[:, i] == 0  # subsets S that do not contain i
        sign = 1.0 - 2.0 * (sizes[others] % 2)
        probs[i] = (sign * rates[i] / (rates[i] + subset_rate[others])).sum()
    return probs
