"""Exercise checkers of chapter 9: stochastic rounding with a straight-through gradient, and
a prediction of which losses the straight-through estimator gets exactly right.

The first checker compares values, then gradients, through chapter 7's straight-through
check (values with :func:`dae_course.checking.check_function`, gradients weighted by fixed
random weights, each wrong gradient matched against known mistakes). The second is a
prediction checked against the exact means, with a declarative list of
``(condition, mistake, message)`` rules.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterable, Tuple

import torch

from ..ch07_gumbel_straight_through.checks import straight_through_check
from ..checking import CORRECT, INCORRECT, Case, CheckContext, Feedback, Mistake, call_safely

__all__ = [
    "reference_stochastic_round_ste",
    "check_stochastic_round_ste",
    "EXACTNESS_CASES",
    "st_mean_and_exact",
    "exact_cases",
    "check_st_exactness",
]


# --------------------------------------------------------------------------------------
# Exercise: stochastic rounding with a straight-through gradient
# --------------------------------------------------------------------------------------


def reference_stochastic_round_ste(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""Stochastic rounding of ``x`` with given uniforms ``u``, identity gradient.

    The value is :math:`\lfloor x \rfloor + 1[u < x - \lfloor x \rfloor]`: ``x`` is rounded
    up with probability equal to its fractional part, so :math:`E[\text{value}] = x`. The
    gradient with respect to ``x`` is the identity (straight-through): the value is written
    as :math:`x + \mathrm{sg}(\text{hard} - x)`.

    Args:
        x: floating tensor.
        u: uniforms in :math:`[0, 1)`, the shape of ``x``.

    Returns:
        A tensor of the shape and dtype of ``x`` whose entries are integers.

    Reference: Gupta et al., "Deep learning with limited numerical precision", ICML 2015
    (stochastic rounding); Bengio, Léonard & Courville 2013 (straight-through).
    """
    low = torch.floor(x)
    hard = low + (u < x - low).to(x.dtype)
    return x + (hard - x).detach()


def _hard_from(x, up):
    return x + (torch.floor(x) + up.to(x.dtype) - x).detach()


_VALUE_MISTAKES = (
    Mistake(
        "deterministic rounding",
        lambda x, u: x + (torch.round(x) - x).detach(),
        "for {case} you rounded to the nearest integer and ignored u. Stochastic rounding "
        "rounds x up with probability x - floor(x): compare u with that fractional part.",
    ),
    Mistake(
        "reversed comparison",
        lambda x, u: _hard_from(x, u > x - torch.floor(x)),
        "for {case} you rounded up when u > x - floor(x): that happens with probability "
        "1 - (x - floor(x)), so 0.9 would be rounded up only one time in ten and the mean "
        "would not be x. Round up when u < x - floor(x).",
    ),
    Mistake(
        "floor only",
        lambda x, u: x + (torch.floor(x) - x).detach(),
        "for {case} you returned floor(x): add 1 where u < x - floor(x).",
    ),
    Mistake(
        "truncation",
        lambda x, u: x + (torch.trunc(x) + (u < x - torch.trunc(x)).to(x.dtype) - x).detach(),
        "for {case} you measured the fractional part from trunc(x) (towards zero), which is "
        "negative for negative x. Use floor(x).",
    ),
)

_GRAD_MISTAKES = (
    Mistake(
        "negated gradient",
        lambda x, u: x.detach() + (torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype) - x),
        "the values are right but the gradient is minus the identity for {case}: you "
        "detached x instead of (hard - x). Write x + (hard - x).detach().",
    ),
    Mistake(
        "doubled gradient",
        lambda x, u: (
            2 * x + (torch.floor(x) + (u < x - torch.floor(x)).to(x.dtype) - 2 * x).detach()
        ),
        "the values are right but the gradient is 2 for {case}: x was counted twice.",
    ),
)

_CASES = (
    Case(
        (
            torch.tensor([-1.7, -0.2, 0.3, 1.45, 2.9], dtype=torch.float64),
            torch.tensor([0.5, 0.9, 0.1, 0.3, 0.95], dtype=torch.float64),
        ),
        "x = [-1.7, -0.2, 0.3, 1.45, 2.9], u = [0.5, 0.9, 0.1, 0.3, 0.95]",
    ),
    Case(
        (
            torch.tensor([[0.25, 3.6, -2.4], [7.05, -0.75, 0.5]], dtype=torch.float32),
            torch.tensor([[0.2, 0.7, 0.3], [0.01, 0.3, 0.6]], dtype=torch.float32),
        ),
        "x and u of shape (2, 3) (float32)",
    ),
)


def check_stochastic_round_ste(fn: Callable) -> Feedback:
    r"""Check ``fn(x, u)``: stochastic rounding (up where :math:`u < x - \lfloor x\rfloor`)
    whose gradient with respect to ``x`` is the identity.

    Values first (recognised mistakes: rounding to the nearest integer, the comparison
    reversed, the floor alone, the fractional part taken from ``trunc``), then the gradient
    of the output weighted by fixed random weights (recognised: the stop-gradient on the
    wrong term, which negates the gradient; ``x`` counted twice; no straight-through at
    all, whose gradient is zero).

    Args:
        fn: the student's function.

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    return straight_through_check(
        fn,
        exercise="Stochastic rounding, straight through",
        reference=reference_stochastic_round_ste,
        cases=_CASES,
        value_mistakes=_VALUE_MISTAKES,
        grad_mistakes=_GRAD_MISTAKES,
        integer_message="your function returns an integer tensor; return x's floating dtype "
        "(e.g. with .to(x.dtype)) so that a gradient can flow.",
        no_grad_message="the values are right but no gradient flows back to x: floor and the "
        "comparison are constant almost everywhere. Add the straight-through: "
        "x + (hard - x).detach().",
        zero_grad_message="the values are right but the gradient is zero: floor and the "
        "comparison have zero derivative almost everywhere. Forward the rounded value and "
        "backpropagate the identity: x + (hard - x).detach().",
    )


# --------------------------------------------------------------------------------------
# Exercise: predict where the straight-through estimator is exact
# --------------------------------------------------------------------------------------

#: letter -> (description, loss f, its derivative f', p = P(D = 1)).
EXACTNESS_CASES: Dict[str, Tuple[str, Callable, Callable, float]] = {
    "A": ("f(b) = 2b - 1, p = 0.2", lambda b: 2 * b - 1, lambda b: 2.0, 0.2),
    "B": ("f(b) = (b - 0.3)^2, p = 0.5", lambda b: (b - 0.3) ** 2, lambda b: 2 * (b - 0.3), 0.5),
    "C": ("f(b) = (b - 0.3)^2, p = 0.9", lambda b: (b - 0.3) ** 2, lambda b: 2 * (b - 0.3), 0.9),
    "D": ("f(b) = b^3, p = 0.5", lambda b: b**3, lambda b: 3 * b**2, 0.5),
    "E": ("f(b) = exp(b), p = 0.5", lambda b: math.e**b, lambda b: math.e**b, 0.5),
    "F": ("f(b) = 4 - b, p = 0.7", lambda b: 4 - b, lambda b: -1.0, 0.7),
}


def st_mean_and_exact(letter: str) -> Tuple[float, float]:
    r"""For case ``letter``: the mean straight-through estimate
    :math:`(1 - p) f'(0) + p f'(1)` and the exact gradient :math:`f(1) - f(0)` of
    :math:`E[f(D)]`, :math:`D \sim \mathrm{Bernoulli}(p)`, with respect to :math:`p`."""
    _, f, df, p = EXACTNESS_CASES[letter]
    return (1 - p) * df(0.0) + p * df(1.0), f(1.0) - f(0.0)


def exact_cases() -> set:
    """The letters of :data:`EXACTNESS_CASES` where the mean straight-through estimate equals
    the exact gradient (to 1e-12)."""
    return {
        k for k in EXACTNESS_CASES if abs(st_mean_and_exact(k)[0] - st_mean_and_exact(k)[1]) < 1e-12
    }


_EXACTNESS_RULES = (
    (
        lambda s: "C" in s,
        "quadratic away from 1/2",
        "C is not exact: for a quadratic f the slope at 0 is f''/2 below the chord "
        "f(1) - f(0) and the slope at 1 is f''/2 above it; straight-through weights them by "
        "1 - p and p, so the errors cancel only at p = 1/2. At p = 0.9 its mean is {C_st} "
        "against {C_exact}.",
    ),
    (
        lambda s: "D" in s or "E" in s,
        "trapezoid taken for exact",
        "at p = 1/2 straight-through averages the slopes at both ends (the trapezoid rule for "
        "f(1) - f(0) = integral of f'), which is exact only when f' is linear. For b^3 the "
        "mean is {D_st} against {D_exact}; for exp(b), {E_st} against {E_exact}.",
    ),
    (
        lambda s: not {"A", "F"} <= s,
        "linear missed",
        "a linear f has a constant slope, so every first-order expansion is exact and "
        "straight-through is unbiased at every p (A and F).",
    ),
    (
        lambda s: "B" not in s,
        "quadratic at one half missed",
        "B is exact: at p = 1/2 the errors -f''/2 and +f''/2 of the two slopes cancel for a "
        "quadratic f (mean {B_st}, exact {B_exact}).",
    ),
)


def _numbers() -> Dict[str, str]:
    out = {}
    for k in EXACTNESS_CASES:
        st, exact = st_mean_and_exact(k)
        out[f"{k}_st"], out[f"{k}_exact"] = f"{st:.3g}", f"{exact:.3g}"
    return out


def _as_letters(answer) -> set:
    if isinstance(answer, str):
        answer = [answer] if len(answer) == 1 else list(answer.replace(",", " ").split())
    if not isinstance(answer, Iterable):
        raise TypeError
    letters = {str(a).strip().upper() for a in answer}
    if not letters <= set(EXACTNESS_CASES):
        raise ValueError(", ".join(sorted(letters - set(EXACTNESS_CASES))))
    return letters


def check_st_exactness(fn: Callable) -> Feedback:
    """Check ``fn()``: the set of letters of :data:`EXACTNESS_CASES` for which the mean
    straight-through estimate of the gradient equals the exact gradient.

    Each wrong answer is matched against a list of ``(condition, mistake, message)`` rules:
    a quadratic loss taken to be exact away from p = 1/2, the trapezoid rule taken to be
    exact for a cubic or exponential loss, a linear loss missed, the quadratic loss at
    p = 1/2 missed. Messages quote the exact means.

    Args:
        fn: the student's function, called with no argument, returning letters (a set, a
            list, or a string such as ``"A, B"``).

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    exercise = "Where straight-through is exact"
    ctx = CheckContext(exercise, 0.0, 0.0)
    out, verdict = call_safely(fn, (), ctx, "your prediction")
    if verdict is not None:
        return verdict
    try:
        letters = _as_letters(out)
    except ValueError as err:
        return Feedback(exercise, INCORRECT, f"unknown letters: {err}; use A to F.", "unknown")
    except TypeError:
        return Feedback(
            exercise, INCORRECT, "return a set of letters, e.g. {'A', 'C'}.", "not letters"
        )
    if letters == exact_cases():
        return Feedback(
            exercise,
            CORRECT,
            "right: A, B and F. Linear losses at every p, quadratic ones only at p = 1/2.",
        )
    numbers = _numbers()
    for condition, mistake, message in _EXACTNESS_RULES:
        if condition(letters):
            return Feedback(exercise, INCORRECT, message.format(**numbers), mistake)
    return Feedback(exercise, INCORRECT, "not quite; compare each case's two numbers.")
