r"""Exact references for chapter 11 (relaxed Bernoulli, REBAR and RELAX).

The chapter's algorithms (the binary Concrete sampler and density, the conditional sample
:math:`\tilde z \mid b`, the control-variate estimators and their training loops) are written
on the page, ``chapters/11_relaxed_bernoulli.ipynb``. This module holds only closed forms
the page measures them against:

* the CDF of the binary Concrete distribution, :math:`P(X \le x) =
  \sigma(T\,\mathrm{logit}(x) - a)`, for Kolmogorov–Smirnov tests of samples;
* the KL divergence between two Bernoulli distributions given by their logits;
* the KL divergence between two binary Concrete distributions at one temperature, which does
  not depend on the temperature: it is the KL between two logistic distributions
  :math:`\mathrm{Logistic}(a_q, 1)` and :math:`\mathrm{Logistic}(a_p, 1)`, computed here by
  quadrature.

The Bernoulli toy itself (loss :math:`(b - t)^2`, its exact gradient and REINFORCE's exact
variances) lives in :mod:`dae_course.ch06_reinforce.problems`. Needs only torch.

References: C. J. Maddison, A. Mnih and Y. W. Teh, "The Concrete distribution", ICLR 2017;
E. Jang, S. Gu and B. Poole, "Categorical reparameterization with Gumbel-softmax", ICLR 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["binary_concrete_cdf", "bernoulli_kl", "relaxed_kl_same_temperature"]


def binary_concrete_cdf(x: torch.Tensor, logits, temperature) -> torch.Tensor:
    r"""CDF of the binary Concrete distribution :math:`X = \sigma((a + L)/T)`,
    :math:`L \sim \mathrm{Logistic}(0, 1)`:

    .. math:: P(X \le x) = P\bigl(L \le T\,\mathrm{logit}(x) - a\bigr)
              = \sigma\bigl(T\,\mathrm{logit}(x) - a\bigr).

    Args:
        x: points in :math:`(0, 1)`, a floating tensor.
        logits: :math:`a`, a number or a tensor broadcastable to ``x``.
        temperature: :math:`T > 0`, a number or broadcastable tensor.

    Returns:
        The CDF at ``x``, of the broadcast shape.
    """
    return torch.sigmoid(temperature * (torch.log(x) - torch.log1p(-x)) - logits)


def bernoulli_kl(logits_q, logits_p) -> torch.Tensor:
    r"""KL divergence :math:`\mathrm{KL}(\mathrm{Bernoulli}(q) \,\|\, \mathrm{Bernoulli}(p))`
    with :math:`q = \sigma(a_q)`, :math:`p = \sigma(a_p)`, computed from the logits:

    .. math:: q \log\frac{q}{p} + (1 - q)\log\frac{1 - q}{1 - p}, \qquad
              \log \sigma(a) = -\operatorname{softplus}(-a).

    Args:
        logits_q, logits_p: tensors (or numbers) of logits, broadcastable.

    Returns:
        The divergence (nats), a float64 tensor of the broadcast shape.
    """
    a_q = torch.as_tensor(logits_q, dtype=torch.float64)
    a_p = torch.as_tensor(logits_p, dtype=torch.float64)
    q = torch.sigmoid(a_q)
    log_ratio_1 = -F.softplus(-a_q) + F.softplus(-a_p)  # log q - log p
    log_ratio_0 = -F.softplus(a_q) + F.softplus(a_p)  # log(1 - q) - log(1 - p)
    return q * log_ratio_1 + (1 - q) * log_ratio_0


def relaxed_kl_same_temperature(logits_q: float, logits_p: float, points: int = 200_001) -> float:
    r"""KL divergence between two binary Concrete distributions with logits :math:`a_q`,
    :math:`a_p` and one temperature :math:`T` (any: the value does not depend on it).

    The KL divergence is unchanged by a bijection applied to both distributions. Mapping a
    sample :math:`X = \sigma((a + L)/T)` to :math:`T\,\mathrm{logit}(X) = a + L` turns both
    into logistic distributions of scale 1, so

    .. math:: \mathrm{KL} = \int f(l - a_q)\,\bigl[\log f(l - a_q) - \log f(l - a_p)\bigr]\,dl,
              \qquad f(l) = \sigma(l)\,\sigma(-l),

    computed here by the trapezoidal rule on :math:`[-80, 80]` shifted by :math:`a_q`.

    Args:
        logits_q, logits_p: the two logits (numbers).
        points: number of quadrature points.

    Returns:
        The divergence (nats), a Python float.
    """
    grid = torch.linspace(-80.0, 80.0, points, dtype=torch.float64) + float(logits_q)

    def log_f(s):
        return -F.softplus(s) - F.softplus(-s)

    log_q, log_p = log_f(grid - float(logits_q)), log_f(grid - float(logits_p))
    return float(torch.trapezoid(log_q.exp() * (log_q - log_p), grid))
