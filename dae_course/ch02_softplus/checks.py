"""Exercise checkers of chapter 2 (relaxing ReLU): a stable softplus with sharpness β, its
derivative, the β that keeps softplus within a tolerance of ReLU, and the curvature of
softplus_β at 0 (a short derivation).

Import explicitly: ``from dae_course.ch02_softplus import checks as sx``. Needs only torch.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..checking import (
    CORRECT,
    INCORRECT,
    Case,
    CheckContext,
    Feedback,
    Mistake,
    _clone,
    call_for_number,
    call_safely,
    check_function,
    fmt,
)

__all__ = [
    "softplus_cases",
    "check_softplus_beta",
    "check_softplus_derivative",
    "reference_beta_for_gap",
    "check_beta_for_gap",
    "check_curvature_at_zero",
]

_SMALL = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0)
_LARGE = (-100.0, -20.0, 0.0, 20.0, 100.0)


def softplus_cases() -> list:
    """The inputs both function checkers use, ordered so that early cases tell mistakes apart.

    1. seven moderate values in float64 with β = 2 (β ≠ 1 exposes every misplaced β);
    2. ``[-100, -20, 0, 20, 100]`` in float32 with β = 1, where ``exp(100)`` overflows;
    3. a 3 x 4 float64 batch with entries up to 2000 and β = 0.5, where ``exp(βx)`` overflows
       even float64;
    4. nine values in ``[-2, 2]`` in float32 with β = 10 (a sharp softplus).

    Returns:
        A list of :class:`dae_course.checking.Case` with arguments ``(x, beta)``.
    """
    batch = torch.tensor(
        [[-2000.0, -3.0, 0.25, 2000.0], [-1.5, 0.0, 1.5, 40.0], [-800.0, -0.5, 2.0, 800.0]],
        dtype=torch.float64,
    )
    return [
        Case(
            (torch.tensor(_SMALL, dtype=torch.float64), 2.0),
            "x = [-3, -1, -0.5, 0, 0.5, 1, 3], β = 2",
        ),
        Case(
            (torch.tensor(_LARGE, dtype=torch.float32), 1.0),
            "x = [-100, -20, 0, 20, 100] (float32), β = 1",
        ),
        Case((batch, 0.5), "a 3 x 4 float64 batch with entries from -2000 to 2000, β = 0.5"),
        Case((torch.linspace(-2, 2, 9), 10.0), "x = 9 points from -2 to 2 (float32), β = 10"),
    ]


def _nonfinite_output(fn: Callable, cases: Sequence[Case], reference: Callable) -> Optional[Case]:
    """The first case where ``fn`` returns inf/nan where the reference is finite."""
    for case in cases:
        try:
            out = fn(*_clone(case.args))
        except Exception:  # noqa: BLE001 - the main checker reports exceptions
            return None
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            return None
        expected = reference(*_clone(case.args))
        if out.shape == expected.shape and bool(
            (~torch.isfinite(out.detach()) & torch.isfinite(expected)).any()
        ):
            return case
    return None


def _nonfinite_gradient(fn: Callable, cases: Sequence[Case]) -> Optional[Case]:
    """The first case where the gradient of ``fn(x, beta).sum()`` has an inf or a nan."""
    for case in cases:
        args = _clone(case.args, True)
        try:
            fn(*args).sum().backward()
        except Exception:  # noqa: BLE001
            continue
        grad = args[0].grad
        if grad is not None and not bool(torch.isfinite(grad).all()):
            return case
    return None


def _gradient_off_only_at_zero(fn: Callable, cases: Sequence[Case], reference: Callable):
    """``(case, gradient at 0)`` if the gradient of ``fn`` differs from the reference's only
    at entries where ``x == 0`` (the kink of max and abs), else ``None``."""
    for case in cases:
        mine, theirs = _clone(case.args, True), _clone(case.args, True)
        try:
            fn(*mine).sum().backward()
        except Exception:  # noqa: BLE001
            return None
        reference(*theirs).sum().backward()
        x, g, ref = mine[0], mine[0].grad, theirs[0].grad
        if g is None:
            return None
        wrong = ~torch.isclose(g, ref, rtol=1e-4, atol=1e-5)
        if bool(wrong.any()):
            if bool((x.detach()[wrong] == 0).all()):
                return case, float(g[wrong][0])
            return None
    return None


_STABLE_HINT = (
    "Rewrite it so that exp only ever sees numbers <= 0: "
    "softplus_β(x) = max(x, 0) + log1p(exp(-β|x|)) / β."
)


def check_softplus_beta(fn: Callable) -> Feedback:
    r"""Check ``fn(x, beta)`` = :math:`\frac1\beta \log(1 + e^{\beta x})`, overflow-safe.

    The expected answer is :func:`relaxlib.softplus` (values and gradients), including for
    inputs where :math:`e^{\beta x}` overflows float32 and float64. Recognised mistakes: the
    naive formula that overflows to ``inf`` (and its mirror image ``x + log1p(exp(-βx))/β``,
    which overflows for large negative ``x``), the ``1/β`` in front forgotten, β ignored or
    used only in front, β dividing instead of multiplying, β and ``1/β`` swapped, a factor β
    instead of ``1/β``, the stable form with a missing or unscaled term, ReLU itself, the
    sigmoid (the derivative) instead of the function, the ``torch.where`` trap (right
    values but a ``nan`` gradient, because the unused branch still overflows), and the kink
    trap (right values, but the gradient at exactly ``x = 0`` is autograd's choice for
    ``relu``/``clamp``/``abs`` at 0 instead of :math:`\sigma(0) = 1/2`).

    Args:
        fn: the student's function ``fn(x, beta) -> tensor`` (``beta`` a Python float).

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture);
    PyTorch ``torch.nn.functional.softplus``.
    """
    import relaxlib as rl

    def reference(x, b):
        return rl.softplus(x, b)

    mistakes = [
        Mistake(
            "naive overflow",
            lambda x, b: torch.log(1 + torch.exp(b * x)) / b,
            "for {case} your function returns inf: exp(βx) overflows (float32 above "
            "βx = 88.7, float64 above βx = 709.8), and log(inf) = inf although the answer "
            "is about x. " + _STABLE_HINT,
        ),
        Mistake(
            "overflow for negative x",
            lambda x, b: x + torch.log1p(torch.exp(-b * x)) / b,
            "for {case} your function returns inf: x + log1p(exp(-βx))/β is the right "
            "identity, but for large negative x, exp(-βx) overflows. Use |x| inside the "
            "exponential and max(x, 0) outside: max(x, 0) + log1p(exp(-β|x|)) / β.",
        ),
        Mistake(
            "sigmoid",
            lambda x, b: torch.sigmoid(b * x),
            "you returned σ(βx), the derivative of softplus_β; the exercise asks for "
            "softplus_β itself, (1/β) log(1 + exp(βx)).",
        ),
        Mistake(
            "relu",
            lambda x, b: torch.relu(x),
            "you returned ReLU, max(x, 0): that is the limit β -> infinity, not softplus_β. "
            "Add the smooth correction log1p(exp(-β|x|)) / β.",
        ),
        Mistake(
            "forgot 1/β",
            lambda x, b: F.softplus(b * x),
            "the 1/β in front is missing ({case}): your values are β times too large. "
            "softplus_β(x) = (1/β) log(1 + exp(βx)).",
        ),
        Mistake(
            "ignored β",
            lambda x, b: F.softplus(x),
            "β is ignored ({case}): your result equals softplus with β = 1. Multiply x by β "
            "inside the exponential and divide the result by β.",
        ),
        Mistake(
            "β only in front",
            lambda x, b: F.softplus(x) / b,
            "you divided by β but left it out of the exponential ({case}): it must be "
            "exp(βx), not exp(x).",
        ),
        Mistake(
            "x/β inside",
            lambda x, b: F.softplus(x / b) / b,
            "you divided x by β inside the exponential ({case}); multiply: exp(βx). "
            "(A large β must make the curve sharper, closer to ReLU.)",
        ),
        Mistake(
            "β and 1/β swapped",
            lambda x, b: b * F.softplus(x / b),
            "β and 1/β are swapped ({case}): you computed β log(1 + exp(x/β)), which is "
            "softplus with sharpness 1/β. The right one is (1/β) log(1 + exp(βx)).",
        ),
        Mistake(
            "times β in front",
            lambda x, b: b * F.softplus(b * x),
            "you multiplied by β in front ({case}); divide by it: (1/β) log(1 + exp(βx)).",
        ),
        Mistake(
            "missing max term",
            lambda x, b: torch.log1p(torch.exp(-(b * x).abs())) / b,
            "the max(x, 0) term is missing ({case}): log1p(exp(-β|x|))/β alone is only the "
            "gap between softplus_β and ReLU. Add max(x, 0).",
        ),
        Mistake(
            "max term not divided",
            lambda x, b: torch.relu(b * x) + torch.log1p(torch.exp(-(b * x).abs())) / b,
            "the first term is max(βx, 0) but should be max(βx, 0)/β = max(x, 0) ({case}): "
            "divide both terms by β.",
        ),
        Mistake(
            "log term not divided",
            lambda x, b: torch.relu(x) + torch.log1p(torch.exp(-(b * x).abs())),
            "the log1p term is not divided by β ({case}): max(x, 0) + log1p(exp(-β|x|)) / β.",
        ),
        Mistake(
            "β missing in |x|",
            lambda x, b: torch.relu(x) + torch.log1p(torch.exp(-x.abs())) / b,
            "inside the exponential you wrote exp(-|x|) instead of exp(-β|x|) ({case}).",
        ),
    ]
    cases = softplus_cases()
    verdict = check_function(
        fn, exercise="softplus_β", reference=reference, cases=cases, mistakes=mistakes
    )
    if verdict.status == INCORRECT and verdict.mistake is None:
        case = _nonfinite_output(fn, cases, reference)
        if case is not None:
            return Feedback(
                "softplus_β",
                INCORRECT,
                f"for {case.label} your function returns inf or nan where softplus_β is "
                "finite: some exp overflows. " + _STABLE_HINT,
                "overflow",
            )
    if verdict.mistake == "wrong gradient":
        at_zero = _gradient_off_only_at_zero(fn, cases, reference)
        if at_zero is not None:
            case, value = at_zero
            return Feedback(
                "softplus_β",
                INCORRECT,
                f"the values are right, and so is the gradient everywhere except at x = 0 "
                f"exactly, where autograd gives {value:g} instead of σ(0) = 0.5 ({case.label}). "
                "The kinks of max(x, 0) and |x| cancel in the value, but autograd "
                "differentiates each piece with its own convention at 0 (relu: 0, clamp: 1, "
                "abs: 0), and those do not cancel. Write max(x, 0) as torch.maximum(x, "
                "torch.zeros_like(x)), whose gradient at a tie is 1/2, or use "
                "torch.logaddexp(beta * x, torch.zeros_like(x)) / beta.",
                "kink at 0",
            )
        case = _nonfinite_gradient(fn, cases)
        if case is not None:
            return Feedback(
                "softplus_β",
                INCORRECT,
                f"the values are right, but for {case.label} the gradient contains nan. "
                "This is the torch.where trap: where(βx > 20, x, log1p(exp(βx))/β) picks the "
                "right value, but autograd differentiates both branches, and at large x the "
                "unused one gives 0 * exp(βx) = 0 * inf = nan. " + _STABLE_HINT,
                "nan gradient (where)",
            )
    return verdict


def check_softplus_derivative(fn: Callable) -> Feedback:
    r"""Check ``fn(x, beta)`` = the derivative of softplus_β, :math:`\sigma(\beta x)`.

    Values only (an answer computed with ``torch.autograd.grad`` is accepted). Recognised
    mistakes: the β left out of the sigmoid (:math:`\sigma(x)`), an extra factor β or
    :math:`1/\beta`, :math:`\sigma(x/\beta)`, the sign flipped (:math:`\sigma(-\beta x)`),
    ReLU's step, the softplus itself instead of its derivative, the second derivative, and
    ``exp(βx) / (1 + exp(βx))``, which is ``inf/inf = nan`` once the exponential overflows.

    Args:
        fn: the student's function ``fn(x, beta) -> tensor`` (``beta`` a Python float).

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), "its
    derivative is the sigmoid function".
    """
    import relaxlib as rl

    def reference(x, b):
        return torch.sigmoid(b * x)

    def sig(x, b):
        return torch.sigmoid(b * x)

    mistakes = [
        Mistake(
            "forgot β",
            lambda x, b: torch.sigmoid(x),
            "the β inside the sigmoid is missing ({case}): by the chain rule "
            "d/dx (1/β) log(1 + exp(βx)) = (1/β) · β · exp(βx)/(1 + exp(βx)) = σ(βx). The "
            "β from the chain rule cancels the 1/β in front, but σ's argument keeps its β.",
        ),
        Mistake(
            "extra factor β",
            lambda x, b: b * sig(x, b),
            "your values are β times too large ({case}): the β from the chain rule cancels "
            "the 1/β in front of softplus_β, leaving σ(βx).",
        ),
        Mistake(
            "extra factor 1/β",
            lambda x, b: sig(x, b) / b,
            "your values are divided by β ({case}): you kept the 1/β in front but dropped "
            "the β from the chain rule (d/dx of βx is β); they cancel, leaving σ(βx).",
        ),
        Mistake(
            "σ(x/β)",
            lambda x, b: torch.sigmoid(x / b),
            "you wrote σ(x/β) ({case}); softplus_β has exp(βx) inside, so its derivative is σ(βx).",
        ),
        Mistake(
            "wrong sign",
            lambda x, b: torch.sigmoid(-b * x),
            "the sign is flipped ({case}): you returned σ(-βx) = 1 - σ(βx). Softplus rises "
            "with x, so its derivative must grow from 0 (x -> -inf) to 1 (x -> +inf).",
        ),
        Mistake(
            "step",
            lambda x, b: (x > 0).to(x.dtype),
            "you returned ReLU's derivative, the step 1[x > 0]: the limit β -> infinity. "
            "For finite β the derivative is the smooth σ(βx).",
        ),
        Mistake(
            "returned softplus",
            lambda x, b: rl.softplus(x, b),
            "you returned softplus_β itself; the exercise asks for its derivative, σ(βx).",
        ),
        Mistake(
            "second derivative",
            lambda x, b: b * sig(x, b) * (1 - sig(x, b)),
            "you differentiated once too often ({case}): β σ(βx)(1 - σ(βx)) is the second "
            "derivative. The first is σ(βx).",
        ),
    ]
    cases = [Case(c.args, c.label, grad=False) for c in softplus_cases()]
    verdict = check_function(
        fn,
        exercise="derivative of softplus_β",
        reference=reference,
        cases=cases,
        mistakes=mistakes,
    )
    if verdict.status == INCORRECT and verdict.mistake is None:
        case = _nonfinite_output(fn, cases, reference)
        if case is not None:
            return Feedback(
                "derivative of softplus_β",
                INCORRECT,
                f"for {case.label} your function returns nan or inf where σ(βx) is finite: "
                "exp(βx) / (1 + exp(βx)) becomes inf/inf = nan once exp(βx) overflows. "
                "Divide through by exp(βx): 1 / (1 + exp(-βx)), or use torch.sigmoid(beta * x).",
                "overflow",
            )
    if verdict.passed:
        return Feedback(
            "derivative of softplus_β",
            CORRECT,
            f"all {len(cases)} checks passed (values, including where exp(βx) overflows). "
            "Well done!",
        )
    return verdict


def reference_beta_for_gap(tol: float) -> float:
    r"""The smallest β with :math:`\operatorname{softplus}_\beta(x) - \max(0, x) \le` ``tol``
    for every x: :math:`\beta = \log(2)/\mathrm{tol}`.

    The gap :math:`\frac1\beta\log(1 + e^{-\beta|x|})` is largest at :math:`x = 0`, where it
    is :math:`\log(2)/\beta`, and it shrinks as β grows.

    Args:
        tol: the tolerance, a finite number > 0.

    Returns:
        β, a Python float.
    """
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    return math.log(2) / tol


def check_beta_for_gap(fn: Callable) -> Feedback:
    r"""Check ``fn(tol)``: the smallest β whose softplus stays within ``tol`` of ReLU.

    Accepted: a finite β > 0 whose largest gap :math:`\log(2)/\beta` is at most ``tol`` and
    which is at most 1 % above :math:`\log(2)/\mathrm{tol}` (see
    :func:`reference_beta_for_gap`). Recognised mistakes: ``1/tol`` (the :math:`\log 2`
    forgotten), ``tol/log 2`` (inverted), ``log(2)·tol``, ``log10(2)/tol`` and
    ``log2(2)/tol`` (wrong logarithm), ``tol`` itself; otherwise the feedback says whether
    β is too small (the gap exceeds ``tol``) or needlessly large.

    Args:
        fn: the student's function ``fn(tol) -> float`` (a 0-d tensor is accepted).

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    exercise = "β for a tolerance"
    ctx = CheckContext(exercise, 0.0, 0.0)
    recognised = [
        (
            "forgot log 2",
            lambda t: 1 / t,
            "you returned 1/tol: the log 2 is missing. The gap at "
            "x = 0 is softplus_β(0) = log(1 + 1)/β = log(2)/β, so β = log(2)/tol.",
        ),
        (
            "inverted",
            lambda t: t / math.log(2),
            "you returned tol/log(2), the reciprocal of the "
            "answer: the gap log(2)/β shrinks as β grows, so β = log(2)/tol.",
        ),
        (
            "times tol",
            lambda t: math.log(2) * t,
            "you returned log(2)·tol; solve log(2)/β = tol for β: β = log(2)/tol.",
        ),
        (
            "log10",
            lambda t: math.log10(2) / t,
            "you used log10(2); the natural logarithm "
            "appears in softplus (math.log, torch.log): β = ln(2)/tol.",
        ),
        ("returned tol", lambda t: t, "you returned the tolerance itself; return β = log(2)/tol."),
    ]
    cases = [0.1, 0.01, 0.5, 1e-3, 2.0]
    for tol in cases:
        label = f"tol = {tol:g}"
        beta, verdict = call_for_number(fn, (tol,), ctx, label, "β")
        if verdict is not None:
            return verdict
        best = math.log(2) / tol
        if math.isclose(beta, best, rel_tol=1e-6):
            continue
        for name, model, message in recognised:
            if math.isclose(beta, model(tol), rel_tol=1e-6):
                return Feedback(exercise, INCORRECT, f"{message} (for {label})", name)
        if not math.isfinite(beta) or beta <= 0:
            return Feedback(
                exercise,
                INCORRECT,
                f"β must be finite and > 0; for {label} you returned {beta:.4g}.",
                "not positive",
            )
        gap = math.log(2) / beta
        if gap > tol * (1 + 1e-9):
            return Feedback(
                exercise,
                INCORRECT,
                f"too small: for {label}, β = {beta:.4g} leaves a gap of log(2)/β = "
                f"{gap:.4g} > tol at x = 0. Increase β.",
                "too soft",
            )
        if beta > 1.01 * best:
            return Feedback(
                exercise,
                INCORRECT,
                f"within tolerance, but needlessly sharp: for {label} a β more than 1% "
                f"below your {beta:.4g} also keeps the gap under tol. Find the smallest.",
                "too sharp",
            )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(cases)} checks passed: each β keeps softplus_β within tol of ReLU, and "
        "is the smallest that does. Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise 4: the curvature of softplus_beta at 0 (a short derivation)
# --------------------------------------------------------------------------------------

# (name, the wrong formula, why it is wrong), most specific first
_CURVATURE_MISTAKES = [
    (
        "slope, not curvature",
        lambda b: 0.5,
        "you returned 1/2, the slope σ(0) at x = 0. The curvature is the derivative of the "
        "slope: d/dx σ(βx) = β σ'(βx) = β σ(βx)(1 - σ(βx)).",
    ),
    (
        "forgot β",
        lambda b: 0.25,
        "you returned 1/4 whatever β is: that is the curvature of plain softplus (β = 1). "
        "Differentiating σ(βx) brings out a factor β by the chain rule.",
    ),
    (
        "β squared",
        lambda b: b * b / 4,
        "you returned β²/4: one β too many. The slope is σ(βx) (the β from the first "
        "derivative cancelled the 1/β in front); differentiating it once more brings out one "
        "β, so the curvature is β σ'(0) = β/4.",
    ),
    (
        "divided by β",
        lambda b: 1 / (4 * b),
        "you returned 1/(4β): the curvature grows with β (a sharper corner), it does not "
        "shrink. d/dx σ(βx) = β σ'(βx), and σ'(0) = 1/4.",
    ),
    (
        "σ'(0) = 1/2",
        lambda b: b / 2,
        "you returned β/2: the factor β is right, but σ'(0) = σ(0)(1 - σ(0)) = 1/2 · 1/2 "
        "= 1/4, not 1/2.",
    ),
    (
        "the gap",
        lambda b: math.log(2) / b,
        "you returned log(2)/β, the largest gap between softplus_β and ReLU. The question "
        "is the second derivative at 0: differentiate the slope σ(βx) once more.",
    ),
    (
        "ReLU's second derivative",
        lambda b: 0.0,
        "you returned 0, ReLU's second derivative away from its kink. softplus_β bends at "
        "0: its slope σ(βx) has derivative β σ(βx)(1 - σ(βx)) there.",
    ),
]


def check_curvature_at_zero(fn: Callable) -> Feedback:
    r"""Check ``fn(beta)``: the second derivative of :math:`\operatorname{softplus}_\beta` at 0.

    The answer is :math:`\beta\,\sigma(0)\,(1 - \sigma(0)) = \beta/4`; each case compares
    with what autograd returns when it differentiates ``F.softplus(x, beta)`` twice at 0,
    for β = 3, 1, 0.5 and 10 (values at which the recognised mistakes all differ). A
    mistake is named when its formula reproduces every answer. Recognised mistakes: the
    slope 1/2, the β forgotten (1/4), β²/4, 1/(4β), σ'(0) taken as 1/2 (β/2), the gap
    log(2)/β, and ReLU's 0.

    Args:
        fn: the student's function ``fn(beta) -> float`` (a 0-d tensor is accepted).

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    exercise = "curvature at 0"
    ctx = CheckContext(exercise, 0.0, 0.0)
    cases = [3.0, 1.0, 0.5, 10.0]
    answers, truths = [], []
    for beta in cases:
        label = f"β = {beta:g}"
        out, verdict = call_safely(fn, (beta,), ctx, label)
        if verdict is not None:
            return verdict
        try:
            answers.append(float(out))
        except (TypeError, ValueError, RuntimeError):
            return Feedback(
                exercise,
                INCORRECT,
                f"return one number; for {label} you returned {fmt(out)}.",
                "not a number",
            )
        x = torch.zeros((), dtype=torch.float64, requires_grad=True)
        (slope,) = torch.autograd.grad(F.softplus(x, beta=beta), x, create_graph=True)
        (curvature,) = torch.autograd.grad(slope, x)
        truths.append(float(curvature))

    def same(values: list) -> bool:
        return all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12) for a, b in zip(answers, values))

    if same(truths):
        return Feedback(
            exercise,
            CORRECT,
            f"all {len(cases)} checks passed: the curvature at 0 is β/4, so the corner gets "
            "sharper in proportion to β. Well done!",
        )
    for name, model, message in _CURVATURE_MISTAKES:
        if same([model(beta) for beta in cases]):
            return Feedback(exercise, INCORRECT, message, name)
    k = next(i for i, (a, t) in enumerate(zip(answers, truths)) if not math.isclose(a, t))
    return Feedback(
        exercise,
        INCORRECT,
        f"for β = {cases[k]:g} autograd finds the curvature {truths[k]:.4g} at 0, you "
        f"returned {answers[k]:.4g}. Differentiate σ(βx) with the chain rule and use "
        "σ' = σ (1 - σ).",
    )
