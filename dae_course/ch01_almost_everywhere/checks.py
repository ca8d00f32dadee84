"""Exercise checkers of chapter 1 (differentiable almost everywhere): one-sided derivatives
by difference quotients, the subgradient test, and predictions of what autograd returns at
a kink (predict, then run).

Import explicitly: ``from dae_course.ch01_almost_everywhere import checks as ae_ex``. Needs only
torch.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch

from ..checking import CORRECT, INCORRECT, CheckContext, Feedback, call_safely, fmt

__all__ = [
    "one_sided_quotients",
    "check_one_sided_quotients",
    "is_subgradient",
    "check_is_subgradient",
    "KINK_QUESTIONS",
    "check_kink_predictions",
]

Fn = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------
# Exercise 1: one-sided difference quotients
# --------------------------------------------------------------------------------------


def one_sided_quotients(f: Fn, x: torch.Tensor, h: float) -> tuple:
    r"""The left and right difference quotients of ``f`` at ``x`` with step ``h > 0``.

    .. math::

        D^-_h f(x) = \frac{f(x) - f(x - h)}{h}, \qquad D^+_h f(x) = \frac{f(x + h) - f(x)}{h}.

    As ``h -> 0`` they tend to the left and right derivatives of ``f`` at ``x``; the two
    limits agree exactly where ``f`` is differentiable. For ReLU at 0 they are 0 and 1 for
    every ``h``, since ReLU is linear on each side.

    Args:
        f: a function of a tensor.
        x: the point, a 0-d floating tensor.
        h: the step, > 0.

    Returns:
        ``(left, right)``, two 0-d tensors.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), slide
    on ReLU's left and right gradients.
    """
    fx = f(x)
    return (fx - f(x - h)) / h, (f(x + h) - fx) / h


def _relu(t):
    return torch.relu(t)


def _abs(t):
    return torch.abs(t)


def _bent(t):  # max(2t, -t/2), written with relu so that autograd returns 0 at the kink
    return 2 * torch.relu(t) + 0.5 * torch.relu(-t)


def _relu_at_1(t):
    return torch.relu(t - 1)


def _cube(t):
    return t**3


def _autograd(f: Fn, x: torch.Tensor) -> torch.Tensor:
    t = x.detach().clone().requires_grad_(True)
    f(t).backward()
    return t.grad


def _quotient_mistakes() -> list:
    """(name, model(f, x, h) -> (left, right), message), most specific first."""
    q = one_sided_quotients

    def central(f, x, h):
        c = (f(x + h) - f(x - h)) / (2 * h)
        return c, c

    return [
        (
            "sides swapped",
            lambda f, x, h: q(f, x, h)[::-1],
            "left and right are swapped: the left quotient (f(x) - f(x - h)) / h looks at "
            "x - h, to the left of x, and comes first; the right one looks at x + h. "
            "(For {case} the answer is {expected}.)",
        ),
        (
            "central difference",
            central,
            "you returned the central difference (f(x + h) - f(x - h)) / (2h) for both "
            "sides. Away from kinks it is the better estimate of f'(x), but at a kink it "
            "averages the two sides and hides that they differ: for {case} it gives "
            "{got} instead of {expected}.",
        ),
        (
            "left sign flipped",
            lambda f, x, h: (-q(f, x, h)[0], q(f, x, h)[1]),
            "the left quotient has the wrong sign: it is (f(x) - f(x - h)) / h, not "
            "(f(x - h) - f(x)) / h. The step from x - h to x is +h, so divide the change "
            "f(x) - f(x - h) by +h. (For {case}: {expected}.)",
        ),
        (
            "divided by 2h",
            lambda f, x, h: (q(f, x, h)[0] / 2, q(f, x, h)[1] / 2),
            "both quotients are half what they should be: a one-sided quotient spans one "
            "step of length h, so divide by h, not 2h (2h belongs to the central "
            "difference). (For {case}: {expected}.)",
        ),
        (
            "both right",
            lambda f, x, h: (q(f, x, h)[1], q(f, x, h)[1]),
            "both numbers are the right (forward) quotient (f(x + h) - f(x)) / h; the "
            "left one must look at x - h: (f(x) - f(x - h)) / h. (For {case}: {expected}.)",
        ),
        (
            "both left",
            lambda f, x, h: (q(f, x, h)[0], q(f, x, h)[0]),
            "both numbers are the left (backward) quotient (f(x) - f(x - h)) / h; the "
            "right one must look at x + h: (f(x + h) - f(x)) / h. (For {case}: {expected}.)",
        ),
        (
            "autograd",
            lambda f, x, h: (_autograd(f, x), _autograd(f, x)),
            "you returned what autograd gives for f'(x) on both sides. At a kink there is "
            "no derivative, and autograd returns one conventional number (0 for relu and "
            "abs at 0), not the two one-sided limits. Use difference quotients with the "
            "step h. (For {case}: {expected}.)",
        ),
        (
            "ignores x",
            lambda f, x, h: q(f, torch.zeros_like(x), h),
            "your quotients are taken at 0, not at x: evaluate f at x - h, x and x + h. "
            "(For {case}: {expected}, you returned {got}.)",
        ),
    ]


def _quotient_cases() -> list:
    d = torch.float64
    return [
        (_bent, torch.tensor(0.0, dtype=d), 1e-3, "f(x) = max(2x, -x/2) at x = 0, h = 0.001"),
        (_relu, torch.tensor(0.0, dtype=d), 1e-3, "f = relu at x = 0, h = 0.001"),
        (_abs, torch.tensor(0.0, dtype=d), 1e-2, "f = abs at x = 0, h = 0.01"),
        (_relu_at_1, torch.tensor(1.0, dtype=d), 1e-4, "f(x) = relu(x - 1) at x = 1, h = 1e-4"),
        (_cube, torch.tensor(1.0, dtype=d), 1e-6, "f(x) = x**3 at x = 1, h = 1e-6"),
    ]


def _as_pair(out: Any) -> Optional[tuple]:
    """Two floats from a pair of numbers / 0-d tensors, or a tensor of 2 entries; else None."""
    try:
        if isinstance(out, torch.Tensor):
            if out.numel() != 2:
                return None
            vals = out.detach().reshape(-1).tolist()
        else:
            if len(out) != 2:
                return None
            vals = [float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for v in out]
        return float(vals[0]), float(vals[1])
    except (TypeError, ValueError, RuntimeError):
        return None


def _close(a: tuple, b: tuple, tol: float = 1e-6) -> bool:
    return all(math.isclose(u, v, rel_tol=tol, abs_tol=tol) for u, v in zip(a, b))


def _pair_str(p: tuple) -> str:
    return f"(left, right) = ({p[0]:.4g}, {p[1]:.4g})"


def check_one_sided_quotients(fn: Callable) -> Feedback:
    """Check ``fn(f, x, h) -> (left, right)``, the one-sided difference quotients.

    The expected answer is :func:`one_sided_quotients`. Tried on ``max(2x, -x/2)``, ReLU and
    ``|x|`` at their kink 0, on ``relu(x - 1)`` at 1, and on the smooth ``x**3`` at 1 (where
    both quotients are close to 3). Recognised mistakes: the two sides swapped, the central
    difference returned for both, the left quotient with the wrong sign, division by ``2h``,
    the same one-sided quotient returned twice, autograd's derivative instead of the
    quotients, and quotients taken at 0 instead of at ``x``. A mistake is named only when
    its model reproduces every answer checked so far.

    Args:
        fn: the student's function ``fn(f, x, h)``; ``x`` is a 0-d float64 tensor.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "one-sided quotients"
    ctx = CheckContext(exercise, 0.0, 0.0)
    cases = _quotient_cases()
    mistakes = _quotient_mistakes()
    alive = {name for name, _, _ in mistakes}  # mistakes consistent with every answer so far
    for f, x, h, label in cases:
        out, verdict = call_safely(fn, (f, x.clone(), h), ctx, label)
        if verdict is not None:
            return verdict
        got = _as_pair(out)
        if got is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"return two numbers, (left, right); for {label} you returned {fmt(out)}.",
                "not a pair",
            )
        expected = tuple(float(v) for v in one_sided_quotients(f, x.clone(), h))
        for name, model, _ in mistakes:
            if name in alive:
                try:
                    wrong = tuple(float(v) for v in model(f, x.clone(), h))
                except Exception:  # noqa: BLE001 - a model may not apply to every case
                    alive.discard(name)
                    continue
                if not _close(got, wrong):
                    alive.discard(name)
        if not _close(got, expected):
            for name, _, message in mistakes:
                if name in alive:
                    text = (
                        message.replace("{case}", label)
                        .replace("{expected}", _pair_str(expected))
                        .replace("{got}", _pair_str(got))
                    )
                    return Feedback(exercise, INCORRECT, text, name)
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} expected {_pair_str(expected)}, got {_pair_str(got)}.",
            )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(cases)} checks passed: at each kink the two quotients differ, at the "
        "smooth point they agree. Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise 2: is g a subgradient?
# --------------------------------------------------------------------------------------


def is_subgradient(f: Fn, x0: torch.Tensor, g: float, xs: torch.Tensor, tol: float = 1e-9) -> bool:
    r"""Whether the line through :math:`(x_0, f(x_0))` with slope ``g`` stays below ``f`` on ``xs``.

    ``g`` is a subgradient of a convex ``f`` at :math:`x_0` when

    .. math:: f(x) \ge f(x_0) + g\,(x - x_0) \quad \text{for every } x;

    this checks the inequality on the points ``xs``, allowing a rounding error ``tol``. For
    ReLU at 0 the slopes that pass form the closed interval [0, 1], for ``|x|`` at 0 the
    interval [-1, 1]; at a point where ``f`` is differentiable only ``f'(x_0)`` passes (on a
    fine enough grid).

    Args:
        f: a function of a tensor, applied elementwise.
        x0: the point, a 0-d floating tensor.
        g: the candidate slope.
        xs: 1-d tensor of test points.
        tol: allowed violation (rounding).

    Returns:
        A Python bool.

    Reference: R. T. Rockafellar, *Convex Analysis*, Princeton University Press 1970,
    section 23.
    """
    return bool(torch.all(f(xs) >= f(x0) + g * (xs - x0) - tol))


def _square(t):
    return t * t


def _neg_abs(t):
    return -torch.abs(t)


def _subgradient_queries() -> list:
    """(f, x0, g, label) to ask about, ordered so that early answers tell mistakes apart."""
    d = torch.float64
    out = []

    def add(f, name, x0, gs):
        for g in gs:
            out.append((f, torch.tensor(x0, dtype=d), g, f"f = {name}, x0 = {x0:g}, g = {g:g}"))

    add(_relu, "relu", 0.0, [0.5, 0.0, 1.0, -0.25, 1.25, 0.999, 0.001])
    add(_abs, "abs", 0.0, [0.0, -1.0, 1.0, -1.25, 1.25, 0.5])
    add(_relu, "relu", 1.0, [1.0, 0.0, 0.5])
    add(_square, "x**2", 1.0, [2.0, 2.5, 1.5])
    add(_neg_abs, "-abs (a peak: no line stays below it)", 0.0, [0.0, 0.5])
    return out


def _subgradient_points() -> torch.Tensor:
    return torch.arange(-24, 25, dtype=torch.float64) / 8  # -3 .. 3 in steps of 1/8, exact


def _sub_mistakes() -> list:
    """(name, model(f, x0, g, xs) -> bool, message), most specific first."""
    q = one_sided_quotients

    def strict(f, x0, g, xs):
        return bool(torch.all(f(xs) > f(x0) + g * (xs - x0)))

    def strict_without_x0(f, x0, g, xs):
        keep = xs != x0
        return bool(torch.all(f(xs[keep]) > f(x0) + g * (xs[keep] - x0)))

    def ends_only(f, x0, g, xs):
        left, right = (float(v) for v in q(f, x0, 1e-6))
        return any(math.isclose(g, v, abs_tol=1e-6) for v in (left, right))

    def relu_interval(f, x0, g, xs):
        return 0.0 <= g <= 1.0

    return [
        (
            "strict inequality",
            strict,
            "nothing ever passes: with a strict > the test fails at x = x0 itself, where "
            "f(x0) = f(x0) + g (x0 - x0). A supporting line may touch the graph: use >=.",
        ),
        (
            "open interval",
            strict_without_x0,
            "the ends of the interval are missing: for f = relu at 0 you accept 0 < g < 1 "
            "but reject g = 0 and g = 1. Both are subgradients (they are the left and right "
            "derivatives; the line touches the graph along a whole side). Use >=, not >.",
        ),
        (
            "reversed inequality",
            lambda f, x0, g, xs: bool(torch.all(f(xs) <= f(x0) + g * (xs - x0))),
            "the inequality is reversed: a subgradient's line stays BELOW the graph, "
            "f(x) >= f(x0) + g (x - x0) for every x.",
        ),
        (
            "any instead of all",
            lambda f, x0, g, xs: bool(torch.any(f(xs) >= f(x0) + g * (xs - x0))),
            "you accept g when the inequality holds at SOME point; it must hold at every "
            "point of xs (torch.all, not torch.any).",
        ),
        (
            "forgot f(x0)",
            lambda f, x0, g, xs: bool(torch.all(f(xs) >= g * (xs - x0))),
            "the line must pass through (x0, f(x0)): compare f(x) with f(x0) + g (x - x0); "
            "the f(x0) term is missing (it only vanishes when f(x0) = 0).",
        ),
        (
            "forgot x0",
            lambda f, x0, g, xs: bool(torch.all(f(xs) >= f(x0) + g * xs)),
            "the line's slope term must be g (x - x0), measured from x0; you used g x, "
            "which is only right at x0 = 0.",
        ),
        (
            "one-sided derivatives only",
            ends_only,
            "you accept only the left and right derivatives. Every slope BETWEEN them is a "
            "subgradient too (for relu at 0, the whole interval [0, 1]; the fan of lines).",
        ),
        (
            "relu interval hard-coded",
            relu_interval,
            "you answer 0 <= g <= 1 whatever f and x0 are; that is the subdifferential of "
            "relu at 0 only. Test the inequality f(x) >= f(x0) + g (x - x0) on the points xs.",
        ),
    ]


def _as_bool(out: Any) -> Optional[bool]:
    if isinstance(out, bool):
        return out
    if isinstance(out, torch.Tensor) and out.numel() == 1 and out.dtype == torch.bool:
        return bool(out)
    return None


def check_is_subgradient(fn: Callable) -> Feedback:
    """Check ``fn(f, x0, g, xs) -> bool``: is ``g`` a subgradient of ``f`` at ``x0`` (on ``xs``)?

    The expected answer is :func:`is_subgradient`. Asked about ReLU and ``|x|`` at their
    kink (slopes inside, at the ends of, and outside the subdifferential), about ReLU at 1
    and ``x**2`` at 1 (smooth points: only the derivative passes), and about ``-|x|`` at 0
    (a peak: no line through it stays below, so no slope passes). Recognised mistakes: a
    strict inequality (nothing passes, or the open interval without its ends), the reversed
    inequality, ``any`` instead of ``all``, the ``f(x0)`` term or the ``- x0`` forgotten, only
    the two one-sided derivatives accepted, and ReLU's interval [0, 1] hard-coded. A
    mistake is named only when it reproduces every answer.

    Args:
        fn: the student's function ``fn(f, x0, g, xs)``; ``x0`` is a 0-d float64 tensor,
            ``g`` a Python float, ``xs`` the points ``-3, -2.875, ..., 3``.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "subgradient test"
    ctx = CheckContext(exercise, 0.0, 0.0)
    xs = _subgradient_points()
    queries = _subgradient_queries()
    answers, expected = [], []
    for f, x0, g, label in queries:
        out, verdict = call_safely(fn, (f, x0.clone(), g, xs.clone()), ctx, label)
        if verdict is not None:
            return verdict
        got = _as_bool(out)
        if got is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"return True or False (a bool, or a one-element bool tensor); for {label} "
                f"you returned {fmt(out)}.",
                "not a bool",
            )
        answers.append(got)
        expected.append(is_subgradient(f, x0.clone(), g, xs.clone()))
    if answers == expected:
        return Feedback(
            exercise,
            CORRECT,
            f"all {len(queries)} questions answered correctly, including the ends of the "
            "intervals. Well done!",
        )
    for name, model, message in _sub_mistakes():
        try:
            predicted = [model(f, x0.clone(), g, xs.clone()) for f, x0, g, _ in queries]
        except Exception:  # noqa: BLE001
            continue
        if predicted == answers:
            return Feedback(exercise, INCORRECT, message, name)
    wrong = [(q[3], e) for q, a, e in zip(queries, answers, expected) if a != e]
    label, right = wrong[0]
    return Feedback(
        exercise,
        INCORRECT,
        f"{len(wrong)} of {len(queries)} answers are wrong; the first: for {label} the "
        f"answer is {right}, you said {not right}.",
    )


# --------------------------------------------------------------------------------------
# Exercise 3: predict, then run (what autograd returns at a kink)
# --------------------------------------------------------------------------------------

KINK_QUESTIONS = {
    "minimum": (
        "torch.minimum(x, torch.zeros_like(x))",
        lambda t: torch.minimum(t, torch.zeros_like(t)),
        0.0,
    ),
    "clamp": ("x.clamp(-1, 1)", lambda t: t.clamp(-1, 1), 1.0),
    "relu + relu": (
        "torch.relu(x) + torch.relu(-x)",
        lambda t: torch.relu(t) + torch.relu(-t),
        0.0,
    ),
}
"""key -> (expression, function, point): the three questions of exercise 3."""

_WHY = {
    "minimum": "x and 0 tie at x = 0, and torch.minimum splits a tie evenly between its two "
    "arguments, as torch.maximum does: 1/2 each",
    "clamp": "clamp passes the gradient through wherever min <= x <= max, the bounds "
    "included, so at x = 1 it is 1 (F.hardtanh, the same function, passes it only strictly "
    "inside and returns 0)",
    "relu + relu": "autograd differentiates the two relu calls separately and adds: "
    "relu'(0) * 1 + relu'(0) * (-1) = 0 + 0 = 0. The function is |x|, which has no "
    "derivative at 0; the program's answer happens to be a subgradient",
}

# (name, the predictions that betray it, message), most specific first
_PREDICTION_MISTAKES = [
    (
        "always zero",
        {"minimum": 0.0, "clamp": 0.0, "relu + relu": 0.0},
        "you predicted 0 everywhere, as if PyTorch always chose f'(kink) = 0. That is "
        "torch.relu's rule, not a general one: every operation has its own backward formula. "
        "Here {why_minimum}; and {why_clamp}.",
    ),
    (
        "hardtanh's rule for clamp",
        {"minimum": 0.5, "clamp": 0.0, "relu + relu": 0.0},
        "two of three: only the clamp is off. You gave it F.hardtanh's answer (0, from the "
        "table), but the two compute the same function with different backward rules: "
        "{why_clamp}.",
    ),
    (
        "midpoint of the one-sided derivatives",
        {"minimum": 0.5, "clamp": 0.5, "relu + relu": 0.0},
        "you predicted the midpoint of the left and right derivatives everywhere. That is "
        "what a tie in torch.minimum or torch.maximum gives, but not a general rule: "
        "{why_clamp}.",
    ),
]


def _as_number(v: Any) -> Optional[float]:
    if isinstance(v, bool):
        return None
    if isinstance(v, torch.Tensor):
        return float(v.detach()) if v.numel() == 1 else None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def check_kink_predictions(fn: Callable) -> Feedback:
    """Check ``fn() -> {key: number}``: predictions of what autograd returns at three kinks.

    The questions are :data:`KINK_QUESTIONS`; the truth is what ``backward()`` returns,
    computed here in float64 (0.5, 1 and 0). A prediction counts as right within 0.01.
    Recognised patterns: 0 everywhere (ReLU's convention taken as a rule), ``F.hardtanh``'s
    answer for ``clamp`` (same function, different backward), the midpoint of the one-sided
    derivatives everywhere. Otherwise each wrong prediction gets the rule that decides it.

    Args:
        fn: the student's function, no arguments, returning a dict with the keys
            ``"minimum"``, ``"clamp"`` and ``"relu + relu"``.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "predict, then run"
    ctx = CheckContext(exercise, 0.0, 0.0)
    out, verdict = call_safely(fn, (), ctx, "your predictions")
    if verdict is not None:
        return verdict
    if not isinstance(out, dict):
        return Feedback(
            exercise,
            INCORRECT,
            'return a dict {"minimum": ..., "clamp": ..., "relu + relu": ...} of '
            f"numbers; you returned {fmt(out)}.",
            "not a dict",
        )
    guesses = {}
    for key, (expression, _, x0) in KINK_QUESTIONS.items():
        guess = _as_number(out.get(key))
        if guess is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"give a number for {key!r} ({expression} at x = {x0:g}); you gave "
                f"{fmt(out.get(key))}.",
                "missing prediction",
            )
        guesses[key] = guess
    truth = {}
    for key, (_, f, x0) in KINK_QUESTIONS.items():
        t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        truth[key] = float(t.grad)
    wrong = [k for k in KINK_QUESTIONS if not math.isclose(guesses[k], truth[k], abs_tol=0.01)]
    if not wrong:
        return Feedback(
            exercise,
            CORRECT,
            "all 3 predictions match what autograd returns: a tie split evenly, clamp's "
            "bounds included, and the chain rule applied piece by piece. Well done!",
        )
    fill = {f"why_{k.split()[0]}": why for k, why in _WHY.items()}
    for name, pattern, message in _PREDICTION_MISTAKES:
        if all(math.isclose(guesses[k], v, abs_tol=0.01) for k, v in pattern.items()):
            return Feedback(exercise, INCORRECT, message.format(**fill), name)
    details = "; ".join(
        f"{KINK_QUESTIONS[k][0]} at x = {KINK_QUESTIONS[k][2]:g}: autograd returns "
        f"{truth[k]:g} (you predicted {guesses[k]:g}): {_WHY[k]}"
        for k in wrong
    )
    verb = "differs" if len(wrong) == 1 else "differ"
    return Feedback(exercise, INCORRECT, f"{len(wrong)} of 3 predictions {verb}. {details}.")
