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

**The estimators** (:data:`METHODS`), each computed for many samples in one batched
operation: the logits are copied into a leaf tensor with one row per sample, each row draws
its own sample, and one ``backward`` of the summed losses leaves every sample's own gradient
in that row (rows do not interact). They run through relaxlib itself:
:func:`relaxlib.gumbel_softmax` (soft, and ``hard=True`` for straight-through),
:func:`relaxlib.gumbel_max_sample` with :func:`relaxlib.reinforce_surrogate` (REINFORCE, with
or without the leave-one-out baseline), and PyTorch's
``torch.distributions.OneHotCategoricalStraightThrough`` for comparison.

**Exact references** for the pitfalls of the chapter: the distribution that Gumbel-max
produces when the noise has the wrong sign (:func:`reversed_gumbel_max_probs`), the exact
moments of REINFORCE by enumerating all :math:`K^m` sample tuples
(:func:`exact_reinforce_moments`) and its closed-form variance when :math:`D` such choices
share one loss (:func:`exact_reinforce_variance_many`). Plus a chi-square test
(:func:`chi2_statistic`, :func:`chi2_critical`) for checking sampled frequencies.

Needs only torch.

References: E. J. Gumbel, *Statistical Theory of Extreme Values and Some Practical
Applications*, 1954; E. Jang, S. Gu and B. Poole, "Categorical reparameterization with
Gumbel-softmax", ICLR 2017; C. J. Maddison, A. Mnih and Y. W. Teh, "The Concrete
distribution", ICLR 2017; Y. Bengio, N. Léonard and A. Courville, "Estimating or propagating
gradients through stochastic neurons for conditional computation", arXiv:1308.3432, 2013;
R. J. Williams, Machine Learning 8, 1992; W. Kool, H. van Hoof and M. Welling, "Buy 4
REINFORCE samples, get a baseline for free!", ICLR workshop 2019.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.distributions import OneHotCategoricalStraightThrough

from relaxlib import gumbel_max_sample, gumbel_softmax, reinforce_surrogate

__all__ = [
    "CategoricalToy",
    "METHODS",
    "gradient_estimates",
    "EstimatorSummary",
    "summarise",
    "compare_estimators",
    "temperature_sweep",
    "format_summaries",
    "exact_reinforce_moments",
    "many_choices_variance",
    "exact_reinforce_variance_many",
    "torch_st_rsample",
    "reversed_gumbel_max_probs",
]

#: The estimators :func:`gradient_estimates` knows, by name.
METHODS = ("gumbel-softmax", "st-gumbel-softmax", "torch-st", "reinforce", "reinforce-loo")


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
# Estimators, batched
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


def _leaf_copies(logits: torch.Tensor, shape: Tuple[int, ...]) -> torch.Tensor:
    return logits.detach().expand(*shape, logits.shape[-1]).clone().requires_grad_(True)


def _per_sample_gradients(
    toy: CategoricalToy,
    method: str,
    theta: torch.Tensor,
    temperature: float,
    generator: Optional[torch.Generator],
) -> torch.Tensor:
    """Every sample's gradient estimate, by one ``backward`` through the leaf ``theta``.

    ``theta`` has shape ``(m, n_estimates, *choices, K)``; a sample's loss is the sum of
    ``toy.loss`` over its choices (none for a single choice). Methods as in
    :func:`gradient_estimates`. Returns a tensor of ``theta``'s shape.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    m, n_estimates = theta.shape[:2]
    if method == "reinforce-loo" and m < 2:
        raise ValueError("the leave-one-out baseline needs m >= 2 samples per estimate")
    choice_dims = tuple(range(2, theta.dim() - 1))

    def per_sample_loss(values: torch.Tensor) -> torch.Tensor:  # (m, n_estimates)
        loss = toy.loss(values)
        return loss.sum(choice_dims) if choice_dims else loss

    with torch.enable_grad():
        if method in ("gumbel-softmax", "st-gumbel-softmax"):
            hard = method == "st-gumbel-softmax"
            y = gumbel_softmax(theta, temperature, hard=hard, generator=generator)
            per_sample_loss(y).sum().backward()
            return theta.grad
        index = gumbel_max_sample(theta, generator=generator)
        one_hot = F.one_hot(index, toy.num_categories).to(theta.dtype)
        if method == "torch-st":
            per_sample_loss(torch_st_rsample(theta, one_hot)).sum().backward()
            return theta.grad
        log_prob = (torch.log_softmax(theta, -1) * one_hot).sum(-1)
        if choice_dims:  # the joint log-probability of all choices
            log_prob = log_prob.sum(choice_dims)
        baseline = "loo" if method == "reinforce-loo" else None
        reinforce_surrogate(log_prob, per_sample_loss(one_hot), baseline=baseline).backward()
        return theta.grad * (m * n_estimates)  # undo the surrogate's mean


def gradient_estimates(
    toy: CategoricalToy,
    method: str,
    *,
    n_estimates: int,
    m: int = 1,
    temperature: float = 1.0,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""``n_estimates`` independent estimates of :math:`\nabla_\theta F`, each from ``m`` samples.

    Methods (``y`` is the sample, :math:`g` Gumbel noise, :math:`T` the temperature):

    * ``"gumbel-softmax"``: :math:`y = \operatorname{softmax}((\theta + g)/T)`, the loss
      evaluated on the relaxed :math:`y`, gradient :math:`\nabla_\theta f(y)` (pathwise).
    * ``"st-gumbel-softmax"``: :math:`y` = ``gumbel_softmax(θ, T, hard=True)``: the loss on
      the one-hot value, the gradient through the soft sample.
    * ``"torch-st"``: PyTorch's ``OneHotCategoricalStraightThrough`` (see
      :func:`torch_st_rsample`); ``temperature`` is ignored.
    * ``"reinforce"``: :math:`f(y)\,\nabla_\theta \log p_y` with :math:`y` from Gumbel-max,
      through :func:`relaxlib.reinforce_surrogate`.
    * ``"reinforce-loo"``: the same with the leave-one-out baseline of the ``m`` samples
      (``baseline="loo"``; needs ``m >= 2``).

    Each estimate is the mean of its ``m`` per-sample gradients. All samples are drawn at
    once: the logits are copied into a leaf of shape ``(m, n_estimates, K)``, so one
    ``backward`` gives every sample its own gradient.

    Args:
        toy: the problem.
        method: one of :data:`METHODS`.
        n_estimates: how many independent estimates.
        m: samples per estimate.
        temperature: :math:`T > 0` of the Gumbel-softmax methods.
        generator: optional ``torch.Generator`` for the noise.

    Returns:
        Tensor ``(n_estimates, K)`` in the toy's dtype and device.
    """
    theta = _leaf_copies(toy.logits, (m, n_estimates))
    per_sample = _per_sample_gradients(toy, method, theta, temperature, generator)
    return per_sample.mean(0)


@dataclass(frozen=True)
class EstimatorSummary:
    r"""Bias and variance of a gradient estimator, measured against the exact gradient.

    Attributes:
        name: the estimator's label.
        m: samples per estimate.
        n_estimates: number of independent estimates measured.
        bias: mean estimate minus the exact gradient, shape ``(K,)``.
        standard_error: the standard error of each component of ``bias``.
        bias_norm: :math:`\lVert\text{bias}\rVert`.
        noise_norm: :math:`\sqrt{\operatorname{tr}\operatorname{Cov}/n}`, the size that
            ``bias_norm`` has from sampling noise alone when the true bias is 0.
        max_abs_z: :math:`\max_k |\text{bias}_k| / \text{se}_k`.
        variance_per_sample: :math:`m \cdot \operatorname{tr}\operatorname{Cov}` of one
            estimate: the total variance of a single-sample estimate for i.i.d. samples, and
            the cost-adjusted variance otherwise.
        mse: :math:`\lVert\text{bias}\rVert^2 + \operatorname{tr}\operatorname{Cov}`, the
            expected squared error of one ``m``-sample estimate.
    """

    name: str
    m: int
    n_estimates: int
    bias: torch.Tensor
    standard_error: torch.Tensor
    bias_norm: float
    noise_norm: float
    max_abs_z: float
    variance_per_sample: float
    mse: float


def summarise(
    estimates: torch.Tensor, exact: torch.Tensor, m: int = 1, name: str = ""
) -> EstimatorSummary:
    r"""Bias, standard errors, variance and mean squared error of a set of estimates.

    Args:
        estimates: ``(n, K)``, independent estimates (rows), e.g. from
            :func:`gradient_estimates`.
        exact: the exact gradient, ``(K,)``.
        m: the samples per estimate (to report the variance per sample).
        name: a label.

    Returns:
        An :class:`EstimatorSummary` (floats computed in float64).
    """
    est = estimates.detach().double().cpu()
    exact = exact.detach().double().cpu()
    n = est.shape[0]
    if n < 2:
        raise ValueError("need at least 2 estimates to measure a variance")
    var = est.var(0)
    bias = est.mean(0) - exact
    se = (var / n).sqrt()
    trace = float(var.sum())
    z = bias.abs() / se.clamp_min(torch.finfo(torch.float64).tiny)
    return EstimatorSummary(
        name=name,
        m=m,
        n_estimates=n,
        bias=bias,
        standard_error=se,
        bias_norm=float(bias.norm()),
        noise_norm=math.sqrt(trace / n),
        max_abs_z=float(z.max()),
        variance_per_sample=m * trace,
        mse=float(bias.norm()) ** 2 + trace,
    )


def compare_estimators(
    toy: CategoricalToy,
    specs: Sequence[Tuple[str, str, float]],
    *,
    n_estimates: int,
    m: int,
    seed: int = 0,
) -> List[EstimatorSummary]:
    r"""Measure several estimators on the toy: one :class:`EstimatorSummary` per spec.

    Args:
        toy: the problem.
        specs: ``(label, method, temperature)`` triples; ``method`` from :data:`METHODS`.
        n_estimates, m: as in :func:`gradient_estimates`.
        seed: estimator ``i`` draws its noise from a CPU generator seeded with ``seed + i``.

    Returns:
        The summaries, in the order of ``specs``.
    """
    exact = toy.exact_gradient()
    out = []
    for i, (label, method, temperature) in enumerate(specs):
        gen = torch.Generator().manual_seed(seed + i)
        est = gradient_estimates(
            toy, method, n_estimates=n_estimates, m=m, temperature=temperature, generator=gen
        )
        out.append(summarise(est, exact, m, label))
    return out


def temperature_sweep(
    toy: CategoricalToy,
    method: str,
    temperatures: Sequence[float],
    *,
    n_estimates: int,
    m: int,
    seed: int = 0,
) -> List[Tuple[float, EstimatorSummary]]:
    r"""Bias and variance of a Gumbel-softmax method at each temperature.

    The same seed is used at every temperature (common random numbers), so the curves are
    smooth: only the temperature changes between points.

    Args:
        toy: the problem.
        method: ``"gumbel-softmax"`` or ``"st-gumbel-softmax"``.
        temperatures: the values of :math:`T`.
        n_estimates, m: as in :func:`gradient_estimates`.
        seed: the seed of the CPU generator, reset for every temperature.

    Returns:
        ``[(T, summary), ...]``.
    """
    exact = toy.exact_gradient()
    out = []
    for t in temperatures:
        gen = torch.Generator().manual_seed(seed)
        est = gradient_estimates(
            toy, method, n_estimates=n_estimates, m=m, temperature=t, generator=gen
        )
        out.append((float(t), summarise(est, exact, m, f"{method}, T = {t:g}")))
    return out


def format_summaries(summaries: Sequence[EstimatorSummary]) -> str:
    r"""A plain-text table of summaries: bias norm (with its noise level), the largest
    :math:`|z|` of a bias component, the variance per sample and the MSE of one estimate.

    Args:
        summaries: from :func:`summarise` or :func:`compare_estimators`.

    Returns:
        The table, one line per estimator, numbers rounded to 3 significant digits.
    """
    width = max([len(s.name) for s in summaries] + [9])
    head = (
        f"{'estimator':<{width}}  {'|bias|':>8}  {'noise':>7}  {'max|z|':>6}  "
        f"{'var/sample':>10}  {'MSE':>7}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        lines.append(
            f"{s.name:<{width}}  {s.bias_norm:>8.3g}  {s.noise_norm:>7.2g}  {s.max_abs_z:>6.1f}  "
            f"{s.variance_per_sample:>10.3g}  {s.mse:>7.3g}"
        )
    return "\n".join(lines)


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
# Many discrete choices sharing one loss
# --------------------------------------------------------------------------------------


def many_choices_variance(
    toy: CategoricalToy,
    n_vars: int,
    method: str,
    *,
    n_estimates: int,
    m: int = 1,
    temperature: float = 1.0,
    generator: Optional[torch.Generator] = None,
) -> float:
    r"""Per-sample variance of the gradient for one choice when ``n_vars`` choices share a loss.

    :math:`D` = ``n_vars`` independent copies of the toy, :math:`y_d \sim \mathrm{Cat}(
    \operatorname{softmax}\theta_d)` with identical :math:`\theta_d = \theta`, and one scalar
    loss :math:`L = \sum_d f(y_d)` (as when a model emits :math:`D` tokens and is scored
    once). A pathwise estimator (Gumbel-softmax, straight-through) differentiates each term
    separately; REINFORCE multiplies every score :math:`\nabla\log p(y_d)` by the *whole*
    :math:`L`, so the other :math:`D - 1` terms act as noise. Methods as in
    :func:`gradient_estimates`; for REINFORCE the log-probability is the joint
    :math:`\sum_d \log p(y_d)`.

    Args:
        toy: the problem for one choice.
        n_vars: :math:`D \ge 1`.
        method: one of :data:`METHODS`.
        n_estimates, m, temperature, generator: as in :func:`gradient_estimates`.

    Returns:
        :math:`m \cdot \operatorname{tr}\operatorname{Cov}` of the estimate of
        :math:`\nabla_{\theta_d} \mathbb E[L]` (a :math:`K`-vector), averaged over the
        :math:`D` choices.
    """
    theta = _leaf_copies(toy.logits, (m, n_estimates, n_vars))
    per_sample = _per_sample_gradients(toy, method, theta, temperature, generator)
    est = per_sample.mean(0).double()  # (n, D, K)
    return float(m * est.var(0).sum(-1).mean())


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
