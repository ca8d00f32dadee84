r"""Exact answers for the toy of chapter 6 (discrete outputs and REINFORCE): the Bernoulli
toy of REBAR and RELAX.

The problem: minimise :math:`F(\theta) = \mathbb E_{b \sim \mathrm{Bernoulli}(\theta)}[(b - t)^2]`
over :math:`\theta \in (0, 1)` for a fixed target :math:`t`. Because :math:`b` takes two values,

.. math:: F(\theta) = \theta (1 - t)^2 + (1 - \theta) t^2, \qquad
          F'(\theta) = (1 - t)^2 - t^2 = 1 - 2t ,

so the exact gradient is known and, for :math:`t` close to :math:`1/2`, tiny: the two outcomes
are almost equally good (Tucker et al. use :math:`t = 0.45`, Grathwohl et al. :math:`t = 0.499`).

The single-sample score-function (REINFORCE) estimator with a constant baseline :math:`c` is

.. math:: g = \bigl((b - t)^2 - c\bigr)\,\frac{\partial \log p(b;\theta)}{\partial\theta}
          = \bigl((b - t)^2 - c\bigr)\Bigl(\frac{b}{\theta} - \frac{1 - b}{1 - \theta}\Bigr),

which takes the value :math:`g_1 = ((1-t)^2 - c)/\theta` with probability :math:`\theta` and
:math:`g_0 = -(t^2 - c)/(1 - \theta)` otherwise. Every moment of it, and of the average of
:math:`m` independent copies, is therefore exact: the average depends on the samples only
through the number :math:`K \sim \mathrm{Binomial}(m, \theta)` of ones. The same holds for the
leave-one-out baseline, whose estimate is
:math:`K (m - K)(1 - 2t) / (m (m - 1)\theta(1 - \theta))`.

This module holds only those exact values (expected loss, gradient, per-sample and
:math:`m`-sample variances, the optimal constant baseline, the exact distribution of an
estimate, the standard error of a measured variance), against which the chapter measures its
estimators. The estimators themselves (the sample, its log-probability, the REINFORCE
surrogate, the baselines and the SGD loop) are written on the page,
``chapters/06_reinforce.ipynb``. Needs only torch.

References: G. Tucker, A. Mnih, C. J. Maddison, D. Lawson and J. Sohl-Dickstein, "REBAR:
Low-variance, unbiased gradient estimates for discrete latent variable models", NeurIPS 2017;
W. Grathwohl, D. Choi, Y. Wu, G. Roeder and D. Duvenaud, "Backpropagation through the void:
Optimizing control variates for black-box gradient estimation", ICLR 2018; R. J. Williams,
"Simple statistical gradient-following algorithms for connectionist reinforcement learning",
Machine Learning 8, 1992; W. Kool, H. van Hoof and M. Welling, "Buy 4 REINFORCE samples, get
a baseline for free!", ICLR workshop 2019.
"""

from __future__ import annotations

import math
from typing import Tuple, Union

import torch

from ..stats import sample_variance_standard_error

__all__ = [
    "expected_loss",
    "exact_gradient",
    "estimator_values",
    "per_sample_variance",
    "optimal_baseline",
    "loo_variance",
    "mean_baseline_expectation",
    "estimate_distribution",
    "distribution_moments",
    "sign_probability",
    "samples_for_sign",
    "variance_standard_error",
]

Number = Union[float, torch.Tensor]
Baseline = Union[None, float, str]

_BASELINES = ("loo", "mean", "self")


# --------------------------------------------------------------------------------------
# The toy and its exact answers
# --------------------------------------------------------------------------------------


def expected_loss(theta: Number, t: Number) -> Number:
    r"""The exact expected loss :math:`F(\theta) = \theta(1 - t)^2 + (1 - \theta)t^2`.

    Args:
        theta: :math:`P(b = 1)`, a number or tensor in :math:`[0, 1]`.
        t: the target, a number or broadcastable tensor.

    Returns:
        :math:`\mathbb E[(b - t)^2]`, of the broadcast shape (a number for numbers).

    Reference: Tucker et al., "REBAR", NeurIPS 2017, section 5 (the toy problem).
    """
    return theta * (1 - t) ** 2 + (1 - theta) * t**2


def exact_gradient(theta: Number, t: Number) -> Number:
    r"""The exact gradient :math:`F'(\theta) = (1 - t)^2 - t^2 = 1 - 2t` (the same for every
    :math:`\theta`: the expected loss is linear in :math:`\theta`).

    Args:
        theta: :math:`P(b = 1)`, a number or tensor (only its shape matters).
        t: the target, a number or tensor.

    Returns:
        :math:`1 - 2t`, broadcast to the shape of ``theta * t``.
    """
    return 0 * theta + (1 - 2 * t)


def estimator_values(theta: Number, t: Number, c: Number = 0.0) -> Tuple[Number, Number]:
    r"""The two values of the single-sample estimator :math:`((b - t)^2 - c)\,\partial_\theta
    \log p(b;\theta)`: :math:`g_1 = ((1 - t)^2 - c)/\theta` (taken with probability
    :math:`\theta`) and :math:`g_0 = -(t^2 - c)/(1 - \theta)`.

    Args:
        theta, t: the toy's parameter and target.
        c: a constant baseline (0: plain REINFORCE).

    Returns:
        ``(g1, g0)``.
    """
    return ((1 - t) ** 2 - c) / theta, -(t**2 - c) / (1 - theta)


def per_sample_variance(theta: Number, t: Number, c: Number = 0.0) -> Number:
    r"""Exact variance of the single-sample estimator with a constant baseline :math:`c`:

    .. math:: \operatorname{Var}[g] = \frac{((1 - t)^2 - c)^2}{\theta}
              + \frac{(t^2 - c)^2}{1 - \theta} - (1 - 2t)^2 .

    The average of :math:`m` independent copies has variance :math:`\operatorname{Var}[g]/m`.

    Args:
        theta, t: the toy's parameter and target.
        c: a constant baseline (0: plain REINFORCE).

    Returns:
        The variance, of the broadcast shape.
    """
    g1, g0 = estimator_values(theta, t, c)
    return theta * g1**2 + (1 - theta) * g0**2 - (1 - 2 * t) ** 2


def optimal_baseline(theta: Number, t: Number) -> Number:
    r"""The constant baseline that minimises :func:`per_sample_variance`:

    .. math:: c^\star = \frac{\mathbb E[\mathcal L\, s^2]}{\mathbb E[s^2]}
              = (1 - \theta)(1 - t)^2 + \theta t^2 ,

    with :math:`s` the score. For this toy (one binary variable) it makes :math:`g_1 = g_0 =
    1 - 2t`: a zero-variance estimator. It is :math:`F(\theta)` with the weights swapped, and
    equals the expected loss only at :math:`\theta = 1/2`.

    Reference: Greensmith, Bartlett & Baxter, "Variance reduction techniques for gradient
    estimates in reinforcement learning", JMLR 2004 (the optimal constant baseline).
    """
    return (1 - theta) * (1 - t) ** 2 + theta * t**2


def loo_variance(theta: Number, t: Number, m: int) -> Number:
    r"""Exact variance of the :math:`m`-sample estimate with the leave-one-out baseline,
    :math:`\hat g = \frac1m\sum_i (\mathcal L_i - \frac{1}{m-1}\sum_{j\ne i}\mathcal L_j) s_i`.

    Splitting :math:`\hat g = A - B` with :math:`A = \frac1m\sum_i \mathcal L_i s_i` and
    :math:`B = \frac{1}{m(m-1)}\sum_{i\ne j}\mathcal L_j s_i`, and using independence and
    :math:`\mathbb E[s] = 0`:

    .. math:: \operatorname{Var}[\hat g] = \frac{\operatorname{Var}[\mathcal L s]}{m}
        + \frac{\mathbb E[\mathcal L^2]\mathbb E[s^2] + (m-2)\,\mathbb E[s^2]\,\mu_L^2
        + \mu_g^2}{m(m-1)} - \frac{2\mu_L\,\mathbb E[\mathcal L s^2]}{m},

    with :math:`\mu_L = \mathbb E[\mathcal L]` and :math:`\mu_g = \mathbb E[\mathcal L s] = 1 - 2t`.
    As :math:`m \to \infty`, :math:`m\operatorname{Var}[\hat g] \to
    \operatorname{Var}[(\mathcal L - \mu_L)s]`: the variance with the constant baseline
    :math:`\mu_L`.

    Args:
        theta, t: the toy's parameter and target.
        m: number of samples, at least 2.

    Returns:
        The variance, of the broadcast shape.
    """
    if m < 2:
        raise ValueError(f"the leave-one-out baseline needs m >= 2, got {m}")
    l1, l0 = (1 - t) ** 2, t**2
    s1, s0 = 1 / theta, -1 / (1 - theta)

    def moment(f1, f0):
        return theta * f1 + (1 - theta) * f0

    mu_l = moment(l1, l0)
    mu_g = moment(l1 * s1, l0 * s0)
    e_s2 = moment(s1**2, s0**2)
    e_l2 = moment(l1**2, l0**2)
    e_ls2 = moment(l1 * s1**2, l0 * s0**2)
    var_ls = moment((l1 * s1) ** 2, (l0 * s0) ** 2) - mu_g**2
    return (
        var_ls / m
        + (e_l2 * e_s2 + (m - 2) * e_s2 * mu_l**2 + mu_g**2) / (m * (m - 1))
        - 2 * mu_l * e_ls2 / m
    )


def mean_baseline_expectation(theta: Number, t: Number, m: int) -> Number:
    r"""Expected value of the estimate with the *wrong* baseline :math:`b_i = \bar{\mathcal L}`
    (the mean of all :math:`m` losses, sample :math:`i` included): :math:`\frac{m-1}{m}(1 - 2t)`.

    Since :math:`\mathcal L_i - \bar{\mathcal L} = \frac{m-1}{m}(\mathcal L_i - b^{\rm loo}_i)`,
    this estimate is the leave-one-out one shrunk by :math:`(m-1)/m`: biased towards zero.
    """
    return (m - 1) / m * exact_gradient(theta, t)


# --------------------------------------------------------------------------------------
# Exact distribution of an m-sample estimate
# --------------------------------------------------------------------------------------


def _as64(x: Number) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def estimate_distribution(
    theta: float, t: float, m: int, baseline: Baseline = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""The exact distribution of the :math:`m`-sample estimate, as values and probabilities.

    The estimate depends on the samples only through the number of ones
    :math:`K \sim \mathrm{Binomial}(m, \theta)`, so it takes at most :math:`m + 1` values:

    * ``None`` or a number :math:`c`: :math:`(K g_1 + (m - K) g_0)/m`, see
      :func:`estimator_values`;
    * ``"loo"``: :math:`K(m - K)(1 - 2t)/(m(m - 1)\theta(1 - \theta))`;
    * ``"mean"`` (the biased batch-mean baseline): :math:`(m-1)/m` times the ``"loo"`` value;
    * ``"self"`` (the biased :math:`b_i = \mathcal L_i`): always 0.

    Args:
        theta: :math:`P(b = 1)` in :math:`(0, 1)`, a number.
        t: the target, a number.
        m: number of samples, :math:`\ge 1` (:math:`\ge 2` for ``"loo"``).
        baseline: ``None``, a number, ``"loo"``, ``"mean"`` or ``"self"``.

    Returns:
        ``(values, probs)``, float64 tensors of shape ``(m + 1,)`` indexed by :math:`K`.
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    k = torch.arange(m + 1, dtype=torch.float64)
    theta64 = _as64(float(theta))
    log_pmf = (
        torch.lgamma(_as64(m + 1.0))
        - torch.lgamma(k + 1)
        - torch.lgamma(m - k + 1)
        + k * torch.log(theta64)
        + (m - k) * torch.log1p(-theta64)
    )
    probs = torch.exp(log_pmf)
    if baseline is None or isinstance(baseline, (int, float)):
        c = 0.0 if baseline is None else float(baseline)
        g1, g0 = estimator_values(float(theta), float(t), c)
        return (k * g1 + (m - k) * g0) / m, probs
    if baseline not in _BASELINES:
        raise ValueError(
            f"baseline must be None, a number, 'loo', 'mean' or 'self', got {baseline!r}"
        )
    if baseline == "self":
        return torch.zeros_like(k), probs
    if m < 2:
        raise ValueError(f"baseline={baseline!r} needs m >= 2, got {m}")
    loo = k * (m - k) * (1 - 2 * float(t)) / (m * (m - 1) * float(theta) * (1 - float(theta)))
    return (loo if baseline == "loo" else loo * (m - 1) / m), probs


def distribution_moments(values: torch.Tensor, probs: torch.Tensor) -> Tuple[float, float, float]:
    r"""Mean, variance and fourth central moment of a discrete distribution.

    Args:
        values, probs: as returned by :func:`estimate_distribution`.

    Returns:
        ``(mean, variance, mu4)`` as Python floats.
    """
    mean = float((probs * values).sum())
    centred = values - mean
    return mean, float((probs * centred**2).sum()), float((probs * centred**4).sum())


def sign_probability(theta: float, t: float, m: int, baseline: Baseline = None) -> float:
    r"""Exact probability that the :math:`m`-sample estimate has the sign of the true gradient
    :math:`1 - 2t` (strictly: an estimate of exactly 0 does not count).

    Args:
        theta, t, m, baseline: as for :func:`estimate_distribution`; :math:`t \ne 1/2`.

    Returns:
        The probability, a Python float.
    """
    values, probs = estimate_distribution(theta, t, m, baseline)
    sign = math.copysign(1.0, 1 - 2 * t)
    return float(probs[values * sign > 0].sum())


def samples_for_sign(theta: float, t: float, prob: float = 0.95, c: float = 0.0) -> int:
    r"""Samples :math:`m` for the average of :math:`m` single-sample estimates to have the right
    sign with probability ``prob``, by the normal approximation:
    :math:`m = \lceil (z_{p}\,\sigma/|\mu|)^2 \rceil` with :math:`\mu = 1 - 2t`,
    :math:`\sigma^2` from :func:`per_sample_variance` and :math:`z_p` the standard normal
    quantile. :math:`|\mu|/\sigma` is the signal-to-noise ratio of one sample.

    Args:
        theta, t: the toy's parameter and target (:math:`t \ne 1/2`).
        prob: the required probability, in (0.5, 1).
        c: a constant baseline.

    Returns:
        :math:`m`, an int. Check it with :func:`sign_probability` (exact).
    """
    z = math.sqrt(2) * float(torch.erfinv(_as64(2 * prob - 1)))
    mu = abs(1 - 2 * t)
    sigma = math.sqrt(per_sample_variance(theta, t, c))
    return math.ceil((z * sigma / mu) ** 2)


def variance_standard_error(
    theta: float, t: float, m: int, n: int, baseline: Baseline = None
) -> float:
    r"""Standard error of the sample variance of ``n`` independent :math:`m`-sample estimates.

    A measured variance is itself random. Its standard error is
    :math:`\sqrt{(\mu_4 - \sigma^4 (n - 3)/(n - 1))/n}`
    (:func:`dae_course.stats.sample_variance_standard_error`), and here both the variance
    :math:`\sigma^2` and the fourth central moment :math:`\mu_4` of one estimate are exact,
    from :func:`estimate_distribution`.

    Args:
        theta, t, m, baseline: as for :func:`estimate_distribution`.
        n: the number of independent estimates whose sample variance is measured.

    Returns:
        The standard error, a Python float.
    """
    _, var, mu4 = distribution_moments(*estimate_distribution(theta, t, m, baseline))
    return sample_variance_standard_error(var, mu4, n)
