"""Statistics for the book's random claims: standard errors and critical values.

Every random claim in the book is checked against a bound computed here (see the appendix
on how the book tests random claims): the standard error of a sample variance, the
Kolmogorov-Smirnov statistic and its critical value, and Pearson's chi-square statistic
and its critical value. Needs only torch.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = [
    "chi2_critical",
    "chi2_statistic",
    "ks_critical_value",
    "ks_statistic",
    "sample_variance_standard_error",
]


def sample_variance_standard_error(variance: float, mu4: float, n: int) -> float:
    r"""Standard error of the unbiased sample variance of ``n`` independent draws:
    :math:`\sqrt{(\mu_4 - \sigma^4 (n - 3)/(n - 1))/n}`.

    Args:
        variance: :math:`\sigma^2` of one draw.
        mu4: its fourth central moment.
        n: number of draws, :math:`\ge 2`.

    Returns:
        The standard error, a Python float.

    Raises:
        ValueError: ``n`` is not an int >= 2.

    Reference: e.g. Cramér, *Mathematical Methods of Statistics*, 1946, section 27.4.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    return math.sqrt(max(mu4 - variance**2 * (n - 3) / (n - 1), 0.0) / n)


def ks_statistic(samples: torch.Tensor, cdf: Callable[[torch.Tensor], torch.Tensor]) -> float:
    r"""The Kolmogorov–Smirnov statistic :math:`D_n = \sup_y |\hat F_n(y) - F(y)|`.

    With the samples sorted, :math:`y_{(1)} \le \dots \le y_{(n)}`,
    :math:`D_n = \max_i \max\big(i/n - F(y_{(i)}),\ F(y_{(i)}) - (i - 1)/n\big)`.

    Args:
        samples: a 1-d tensor of draws.
        cdf: the hypothesised CDF, applied to a tensor (e.g.
            ``torch.distributions.Exponential(rate).cdf``).

    Returns:
        :math:`D_n`, a Python float.

    Reference: Kolmogorov, "Sulla determinazione empirica di una legge di distribuzione",
    Giornale dell'Istituto Italiano degli Attuari, 1933.
    """
    y = samples.detach().reshape(-1).sort().values
    n = y.numel()
    if n == 0:
        raise ValueError("samples must not be empty")
    f = cdf(y).to(torch.float64)
    i = torch.arange(1, n + 1, dtype=torch.float64, device=f.device)
    return float(torch.maximum(i / n - f, f - (i - 1) / n).max())


def ks_critical_value(n: int, alpha: float = 0.001) -> float:
    r"""Asymptotic critical value of :math:`D_n`: :math:`\sqrt{-\ln(\alpha/2)/2}\,/\sqrt n`.

    If the samples do follow the CDF, :math:`D_n` exceeds this with probability about
    :math:`\alpha` (:math:`1.949/\sqrt n` for :math:`\alpha = 0.001`; accurate for
    :math:`n \gtrsim 100`).

    Args:
        n: the sample size.
        alpha: the false-alarm probability, in (0, 1).

    Returns:
        The critical value, a Python float.

    Reference: Smirnov, "Table for estimating the goodness of fit of empirical
    distributions", Annals of Mathematical Statistics, 1948.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def chi2_statistic(counts: torch.Tensor, probs: torch.Tensor) -> float:
    r"""Pearson's :math:`\chi^2 = \sum_k (O_k - E_k)^2 / E_k` with :math:`E_k = n\,p_k`.

    Args:
        counts: observed counts :math:`O_k` (any numeric dtype), shape ``(K,)``.
        probs: the hypothesised probabilities, shape ``(K,)``, summing to 1.

    Returns:
        The statistic; under the hypothesis it is approximately :math:`\chi^2` with
        :math:`K - 1` degrees of freedom (when every :math:`E_k \gtrsim 5`).

    Reference: K. Pearson, *Philosophical Magazine* 50, 1900.
    """
    o = counts.detach().double().cpu()
    e = o.sum() * probs.detach().double().cpu()
    return float(((o - e) ** 2 / e).sum())


def chi2_critical(df: int, alpha: float) -> float:
    r"""The critical value :math:`c` with :math:`P(\chi^2_{\mathrm{df}} > c) = \alpha`.

    Solves :math:`Q(\mathrm{df}/2, c/2) = \alpha` (:math:`Q` the regularised upper incomplete
    gamma function, ``torch.special.gammaincc``) by bisection in float64. Examples:
    ``chi2_critical(3, 0.05) = 7.815``, ``chi2_critical(3, 0.001) = 16.266``.

    Args:
        df: degrees of freedom, a positive integer.
        alpha: the significance level, in (0, 1).

    Returns:
        The critical value.
    """
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df must be a positive integer, got {df!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    a = torch.tensor(df / 2, dtype=torch.float64)

    def tail(c: float) -> float:
        return float(torch.special.gammaincc(a, torch.tensor(c / 2, dtype=torch.float64)))

    lo, hi = 0.0, float(df)
    while tail(hi) > alpha:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if tail(mid) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * hi:
            break
    return 0.5 * (lo + hi)
