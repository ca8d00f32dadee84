r"""Exercise checkers of chapter 11: a prediction of which estimator has the highest
variance on the Bernoulli toy (checked against the page's own measurement), and the
conditional uniform behind :math:`\tilde z \mid b` for chapter 6's coupling
:math:`b = 1[u < \theta]`.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from ..checking import (
    CORRECT,
    ERROR,
    INCORRECT,
    Case,
    CheckContext,
    Feedback,
    Mistake,
    call_safely,
    check_function,
    fmt,
)

__all__ = [
    "ESTIMATORS",
    "check_highest_variance",
    "reference_conditional_uniform",
    "check_conditional_uniform",
]

#: The estimators of the page's variance table, in its order.
ESTIMATORS = ("REINFORCE", "REINFORCE + baseline", "REBAR", "REBAR, tuned", "RELAX")

_WHY = {
    "REINFORCE": (
        "plain REINFORCE multiplies the whole loss, about 0.25 whichever b is drawn, by the "
        "score: large and of either sign."
    ),
    "REINFORCE + baseline": (
        "the baseline E[L] removes almost all of the loss, which barely depends on b when "
        "t is near 1/2; on one binary variable a constant baseline is nearly ideal."
    ),
    "REBAR": (
        "with eta = 1 and lambda = 1/2 the relaxation's control variate shrinks the score "
        "term, but its two pathwise terms, eta (d c(z)/d theta - d c(z~)/d theta), are large "
        "(the sigmoid at temperature 1/2 is steep, and dz/d theta = 1/(theta (1 - theta))) "
        "and add more variance than they remove."
    ),
    "REBAR, tuned": (
        "choosing eta to minimise the variance can always fall back to eta = 0, which is "
        "plain REINFORCE, so on the pilot samples it is never worse than REINFORCE; with the "
        "large lambda it picks, the relaxed loss is nearly a constant and REBAR acts as "
        "REINFORCE with a constant baseline."
    ),
    "RELAX": (
        "RELAX's control variate is trained to minimise this very variance, and its small "
        "network can learn the constant baseline, so it ends up among the lowest."
    ),
}


def check_highest_variance(fn: Callable, variances: Mapping[str, float]) -> Feedback:
    """Check a prediction, made before the table is printed, of which estimator has the
    highest per-sample variance on the Bernoulli toy at t = 0.499.

    Args:
        fn: the student's ``fn() -> str``, one of :data:`ESTIMATORS`.
        variances: ``{estimator: variance}`` measured on the page (revealed in the feedback).

    Returns:
        A :class:`~dae_course.checking.Feedback`; the mistake is the name predicted.
    """
    exercise = "predict: the highest variance"
    ctx = CheckContext(exercise, 0.0, 0.0)
    guess, verdict = call_safely(fn, (), ctx, "your prediction")
    if verdict is not None:
        return verdict
    if guess not in variances:
        names = ", ".join(repr(k) for k in variances)
        return Feedback(exercise, ERROR, f"return one of {names}, not {guess!r}.")
    ranking = sorted(variances, key=variances.get, reverse=True)
    reveal = "Measured, highest first: " + "; ".join(
        f"{name} {variances[name]:.3g}" for name in ranking
    )
    why = " " + _WHY.get(guess, "")
    if guess == ranking[0]:
        return Feedback(exercise, CORRECT, f"yes, {guess}: {why.strip()} {reveal}. Well done!")
    return Feedback(
        exercise,
        INCORRECT,
        f"not {guess} (rank {ranking.index(guess) + 1} of {len(ranking)}):{why} The highest "
        f"is {ranking[0]}: {_WHY.get(ranking[0], '')} {reveal}.",
        guess,
    )


def reference_conditional_uniform(v: torch.Tensor, theta: torch.Tensor, b: torch.Tensor):
    r"""For the coupling :math:`b = 1[u < \theta]`, :math:`u \sim U(0, 1)`: a uniform with the
    law of :math:`u` given :math:`b`, made from a fresh uniform :math:`v`:
    :math:`u \mid b = 1 \sim U(0, \theta)` and :math:`u \mid b = 0 \sim U(\theta, 1)`, so

    .. math:: u' = b\,v\,\theta + (1 - b)\,\bigl(\theta + v (1 - \theta)\bigr).

    Args:
        v: uniforms in :math:`(0, 1)`.
        theta: :math:`P(b = 1)`, broadcastable to ``v``.
        b: the coins, 0.0 or 1.0, broadcastable to ``v``.

    Returns:
        :math:`u'`, of the broadcast shape.
    """
    return b * v * theta + (1 - b) * (theta + v * (1 - theta))


def _page_coupling(v, theta, b):  # b = 1[u > 1 - theta], the page's coupling
    return b * (1 - theta + v * theta) + (1 - b) * v * (1 - theta)


def _swapped(v, theta, b):
    return (1 - b) * v * theta + b * (theta + v * (1 - theta))


def _ignores_b(v, theta, b):
    return v + 0 * theta


def _no_rescale(v, theta, b):
    return b * v * theta + (1 - b) * (theta + v)


_MISTAKES = (
    Mistake(
        "page coupling",
        _page_coupling,
        "for {case} you returned the page's conditional uniform, which belongs to the "
        "coupling b = 1[u > 1 - theta]. Here b = 1[u < theta]: given b = 1, u lies in "
        "(0, theta); given b = 0, in (theta, 1).",
    ),
    Mistake(
        "swapped",
        _swapped,
        "for {case} the two cases are swapped: b = 1 means u < theta, so u' = v theta when "
        "b = 1 and theta + v (1 - theta) when b = 0.",
    ),
    Mistake(
        "ignores b",
        _ignores_b,
        "for {case} you returned v itself: a fresh uniform knows nothing of b. Squeeze it "
        "into the interval that b allows.",
    ),
    Mistake(
        "not rescaled",
        _no_rescale,
        "for {case}, given b = 0 you shifted v by theta but did not shrink it: theta + v "
        "can exceed 1. Use theta + v (1 - theta).",
    ),
)


def _cases():
    d = torch.float64
    v = torch.tensor([0.1, 0.5, 0.9, 0.25, 0.75, 0.6], dtype=d)
    b = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], dtype=d)
    grid_v = torch.linspace(0.05, 0.95, 12, dtype=d).reshape(3, 4)
    grid_b = (torch.arange(12) % 2).to(d).reshape(3, 4)
    return (
        Case(
            (v, torch.tensor(0.3, dtype=d), b),
            "v = [0.1, 0.5, 0.9, 0.25, 0.75, 0.6], theta = 0.3, b = [1, 1, 1, 0, 0, 0]",
            grad=False,
        ),
        Case(
            (grid_v, torch.tensor([0.2, 0.5, 0.7, 0.9], dtype=d), grid_b),
            "a (3, 4) batch with theta = [0.2, 0.5, 0.7, 0.9]",
            grad=False,
        ),
    )


def check_conditional_uniform(fn: Callable) -> Feedback:
    r"""Check ``fn(v, theta, b)``: the uniform :math:`u'` with the law of :math:`u` given
    :math:`b = 1[u < \theta]` (see :func:`reference_conditional_uniform`), elementwise, and
    differentiable in :math:`\theta` (the conditional sample :math:`\tilde z` is
    differentiated through it).

    Recognised mistakes: the page's coupling :math:`b = 1[u > 1 - \theta]`, the two cases
    swapped, :math:`v` returned unchanged, and :math:`\theta + v` not rescaled.

    Args:
        fn: the student's function.

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """
    exercise = "conditional uniform"
    cases = _cases()
    verdict = check_function(
        fn,
        exercise=exercise,
        reference=reference_conditional_uniform,
        cases=cases,
        mistakes=_MISTAKES,
        atol=1e-9,
        rtol=1e-7,
    )
    if not verdict.passed:
        return verdict
    ctx = CheckContext(exercise, 0.0, 0.0)
    for case in cases:  # the values are right: now d u' / d theta
        v, theta, b = case.args
        mine, ref = theta.clone().requires_grad_(True), theta.clone().requires_grad_(True)
        out, failed = call_safely(fn, (v.clone(), mine, b.clone()), ctx, case.label)
        if failed is not None:
            return failed
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return Feedback(
                exercise,
                INCORRECT,
                "the values are right but no gradient flows back to theta; keep every step "
                "a torch operation (no .item(), .detach() or Python branches on theta).",
                "no gradient",
            )
        (got,) = torch.autograd.grad(out.sum(), mine, allow_unused=True, materialize_grads=True)
        (want,) = torch.autograd.grad(reference_conditional_uniform(v, ref, b).sum(), ref)
        if not torch.allclose(got, want, atol=1e-9, rtol=1e-7):
            return Feedback(
                exercise,
                INCORRECT,
                f"the values are right but d u'/d theta differs for {case.label}: expected "
                f"{fmt(want)}, got {fmt(got)}.",
                "wrong gradient",
            )
    return Feedback(
        exercise,
        CORRECT,
        "right values and gradients: u' = v theta given b = 1 and theta + v (1 - theta) "
        "given b = 0. Well done!",
    )
