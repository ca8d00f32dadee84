"""Exercise checkers of chapter 12: the inclusion probabilities of Gumbel-top-k (a small
enumeration) and the Gaussian-smoothed ReLU (a derivation whose result is checked).

Each checker lists its cases and the mistakes it recognises, and leaves the comparison to
:func:`dae_course.checking.check_function`.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch

from ..checking import Case, Feedback, Mistake, check_function
from .problems import plackett_luce_probability

__all__ = [
    "reference_inclusion_probabilities",
    "check_inclusion_probabilities",
    "reference_gaussian_smoothed_relu",
    "check_gaussian_smoothed_relu",
]

D = torch.float64


def reference_inclusion_probabilities(logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""P(item i is among the k items Gumbel-top-k draws), for every i, by enumeration.

    Sums the Plackett–Luce probability of every ordered sample of ``k`` distinct items that
    contains ``i`` (:math:`N!/(N-k)!` terms; meant for small ``N``). Differentiable.

    Args:
        logits: shape ``(N,)``.
        k: how many items are drawn, ``1 <= k <= N``.

    Returns:
        Shape ``(N,)``; the entries lie in ``[0, 1]`` and sum to ``k``.
    """
    n = logits.shape[-1]
    terms = []
    for order in itertools.permutations(range(n), k):
        chosen = torch.zeros(n, dtype=logits.dtype, device=logits.device)
        chosen[list(order)] = 1.0
        index = torch.tensor(order, device=logits.device)
        terms.append(plackett_luce_probability(logits, index) * chosen)
    return torch.stack(terms).sum(0)


def _k_times_softmax(logits, k):
    return k * torch.softmax(logits, -1)


def _softmax_only(logits, k):
    return torch.softmax(logits, -1)


def _hard_topk(logits, k):
    hard = torch.zeros_like(logits)
    return hard.scatter(-1, logits.topk(k).indices, 1.0)


def _last_draw_only(logits, k):  # P(i is the k-th item drawn), not P(i is drawn at all)
    n = logits.shape[-1]
    out = torch.zeros_like(logits)
    for order in itertools.permutations(range(n), k):
        out = out + plackett_luce_probability(logits, torch.tensor(order)) * (
            torch.arange(n) == order[-1]
        ).to(logits.dtype)
    return out


_INCLUSION_CASES = (
    Case((torch.tensor([1.0, 0.5, 0.0, -1.0], dtype=D), 2), "logits = [1, 0.5, 0, -1], k = 2"),
    Case(
        (torch.tensor([2.0, 0.0, 0.0, -1.0, 0.5], dtype=D), 3), "logits = [2, 0, 0, -1, 0.5], k = 3"
    ),
    Case((torch.tensor([0.3, -0.2, 1.5], dtype=D), 1), "logits = [0.3, -0.2, 1.5], k = 1"),
    Case((torch.tensor([0.3, -0.2, 1.5], dtype=D), 3), "logits = [0.3, -0.2, 1.5], k = 3 = N"),
)

_INCLUSION_MISTAKES = (
    Mistake(
        "k times softmax",
        _k_times_softmax,
        "for {case} you returned k * softmax(logits). That would be right if the k draws "
        "were made with replacement; without replacement a heavy item cannot be drawn twice, "
        "so its probability of being in the sample is below k * p_i (and never above 1). "
        "Sum the Plackett–Luce probabilities of the ordered samples that contain i.",
    ),
    Mistake(
        "softmax",
        _softmax_only,
        "for {case} you returned softmax(logits): that is the probability that item i is "
        "drawn FIRST. It may also be drawn second, third, ...: the answer sums to k.",
    ),
    Mistake(
        "hard top-k",
        _hard_topk,
        "for {case} you returned the indicator of the k largest logits: that is the sample "
        "without noise (σ = 0). With Gumbel noise every item has a chance to be drawn.",
    ),
    Mistake(
        "last draw only",
        _last_draw_only,
        "for {case} you returned P(item i is the k-th item drawn). Count item i wherever it "
        "appears in the ordered sample, not only in the last place.",
    ),
)


def check_inclusion_probabilities(fn: Callable) -> Feedback:
    r"""Check ``fn(logits, k)``: for each item, the probability that Gumbel-top-k includes it.

    The answer is the vector :math:`\pi_i = \sum_{s \ni i} \mathrm{PL}(s)` over ordered
    samples :math:`s` of ``k`` distinct items (values and gradients with respect to the
    logits). Recognised mistakes: ``k * softmax`` (draws with replacement), ``softmax``
    (first draw only), the hard top-k indicator (no noise), and the probability of being
    the last item drawn.

    Args:
        fn: the student's function ``fn(logits, k) -> tensor of shape (N,)``.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Kool, van Hoof & Welling, ICML 2019 (the Gumbel-top-k trick).
    """
    return check_function(
        fn,
        exercise="Inclusion probabilities of Gumbel-top-k",
        reference=reference_inclusion_probabilities,
        cases=_INCLUSION_CASES,
        mistakes=_INCLUSION_MISTAKES,
        atol=1e-6,
        rtol=1e-5,
    )


def _normal_cdf(v):
    return 0.5 * torch.erfc(-v / math.sqrt(2))


def _normal_pdf(v):
    return torch.exp(-0.5 * v**2) / math.sqrt(2 * math.pi)


def reference_gaussian_smoothed_relu(x: torch.Tensor, sigma) -> torch.Tensor:
    r""":math:`\mathbb E[\operatorname{ReLU}(x + \sigma Z)] = x\,\Phi(x/\sigma) +
    \sigma\,\varphi(x/\sigma)` for standard normal :math:`Z`, entry by entry."""
    return x * _normal_cdf(x / sigma) + sigma * _normal_pdf(x / sigma)


_RELU_CASES = (
    Case(
        (torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0], dtype=D), 0.5),
        "x = [-2, -0.5, 0, 0.7, 3], σ = 0.5",
    ),
    Case(
        (torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0], dtype=D), 2.0),
        "x = [-2, -0.5, 0, 0.7, 3], σ = 2",
    ),
    Case((torch.tensor([[-1.0, 0.0], [1.0, 4.0]], dtype=D), 1.0), "a 2 x 2 batch of x, σ = 1"),
)

_RELU_MISTAKES = (
    Mistake(
        "sigma missing",
        lambda x, s: x * _normal_cdf(x / s) + _normal_pdf(x / s),
        "for {case} the second term lacks its factor σ: E[ReLU(x + σZ)] has the units of x, "
        "and σ·φ(x/σ) is what the noise adds at x = 0.",
    ),
    Mistake(
        "first term only",
        lambda x, s: x * _normal_cdf(x / s),
        "for {case} you returned x·Φ(x/σ) only: at x = 0 that is 0, but E[ReLU(σZ)] = "
        "σ/√(2π) > 0. Integrating (x + σz)φ(z) over z > -x/σ gives a second term.",
    ),
    Mistake(
        "minus sign",
        lambda x, s: x * _normal_cdf(x / s) - s * _normal_pdf(x / s),
        "for {case} the second term has the wrong sign: ∫ z φ(z) dz over z > a is +φ(a).",
    ),
    Mistake(
        "logistic noise",
        lambda x, s: s * torch.nn.functional.softplus(x / s),
        "for {case} you returned σ·softplus(x/σ): that is the answer for LOGISTIC noise of "
        "scale σ. With normal noise, Φ and φ take the places of the sigmoid and its density.",
    ),
    Mistake(
        "variance for scale",
        lambda x, s: x * _normal_cdf(x / s**2) + s**2 * _normal_pdf(x / s**2),
        "for {case} you used σ² where σ belongs: σ is the noise's standard deviation.",
    ),
)


def check_gaussian_smoothed_relu(fn: Callable) -> Feedback:
    r"""Check ``fn(x, sigma)``: :math:`\mathbb E[\operatorname{ReLU}(x + \sigma Z)]` for
    standard normal :math:`Z`, entry by entry (values and gradients with respect to ``x``).

    Recognised mistakes: the factor :math:`\sigma` missing from the second term, the first
    term alone, a minus sign, the logistic-noise answer :math:`\sigma\,\mathrm{softplus}
    (x/\sigma)`, and :math:`\sigma^2` in place of :math:`\sigma`.

    Args:
        fn: the student's function ``fn(x, sigma) -> tensor of the shape of x``.

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    return check_function(
        fn,
        exercise="Gaussian-smoothed ReLU",
        reference=reference_gaussian_smoothed_relu,
        cases=_RELU_CASES,
        mistakes=_RELU_MISTAKES,
        atol=1e-6,
        rtol=1e-5,
    )
