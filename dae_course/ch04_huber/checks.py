"""Exercise checkers of chapter 4 (relaxing the L1 norm): the Huber loss with a threshold
``delta``, Smooth L1 written through PyTorch's Huber loss, the two points between which
gradient descent on ``|x - y|`` ends up bouncing, and an experiment: the width ``beta`` with
which gradient descent on Smooth L1 converges fastest.

Needs only torch. Import explicitly: ``from dae_course.ch04_huber import checks as hx``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

import relaxlib as rl

from ..checking import (
    CORRECT,
    INCORRECT,
    Case,
    CheckContext,
    Feedback,
    Mistake,
    call_for_number,
    call_safely,
    check_function,
    fmt,
)
from .descent import gradient_descent

__all__ = [
    "check_huber",
    "check_smooth_l1_via_huber",
    "check_l1_cycle",
    "reference_l1_cycle",
    "steps_to_converge",
    "check_fastest_beta",
]


# --------------------------------------------------------------------------------------
# Exercise 1: the Huber loss with threshold delta
# --------------------------------------------------------------------------------------


def _r(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x - y


def _branches(x, y, delta, inner, outer, condition=None):
    r = _r(x, y)
    near = r.abs() < delta if condition is None else condition(r, delta)
    return torch.where(near, inner(r), outer(r))


def _huber_cases() -> list:
    """Residuals on both sides of +-delta (and beyond -delta), delta != 1 first."""
    g = torch.Generator().manual_seed(4)
    batch = torch.randn(3, 4, generator=g, dtype=torch.float64) * 2.5
    target_b = torch.randn(3, 4, generator=g, dtype=torch.float64)
    return [
        Case(
            (
                torch.tensor([-3.5, -1.0, 0.25, 1.5, 2.5, 4.5], dtype=torch.float64),
                torch.full((6,), 0.5, dtype=torch.float64),
                2.0,
            ),
            "input = [-3.5, -1, 0.25, 1.5, 2.5, 4.5], target = 0.5 everywhere, delta = 2",
        ),
        Case(
            (torch.tensor([-2.0, -0.3, 0.1, 0.9, 3.0]), torch.zeros(5), 0.5),
            "input = [-2, -0.3, 0.1, 0.9, 3], target = 0, delta = 0.5",
        ),
        Case(
            (torch.tensor([-1.5, -0.5, 0.5, 2.0]), torch.tensor([0.0, 0.25, -0.25, 0.5]), 1.0),
            "input = [-1.5, -0.5, 0.5, 2], target = [0, 0.25, -0.25, 0.5], delta = 1",
        ),
        Case((batch, target_b, 1.5), "a batch of shape (3, 4), delta = 1.5"),
    ]


def check_huber(fn: Callable) -> Feedback:
    r"""Check ``fn(input, target, delta)``: the elementwise Huber loss with threshold ``delta``.

    The expected answer is :func:`relaxlib.huber` (``reduction='none'``): with
    :math:`r = \text{input} - \text{target}`,

    .. math:: \ell_\delta(r) = \tfrac12 r^2 \ \text{if } |r| < \delta, \qquad
              \delta\,(|r| - \tfrac12\delta) \ \text{otherwise},

    a tensor of the shape of ``input``, with gradients for ``input`` and ``target``. Whether
    ``|r| = delta`` goes to the first or the second branch does not matter (both give
    :math:`\tfrac12\delta^2`, with slope :math:`\pm\delta`), so ``<=`` is accepted.
    Recognised mistakes: Smooth L1 returned instead (everything divided by ``delta``), the
    linear branch not multiplied by ``delta``, the offset ``-delta/2`` forgotten or kept at
    the lecture's ``-1/2``, ``delta`` ignored (the lecture's threshold 1), the condition on
    ``r`` instead of ``|r|``, the half missing from the quadratic branch, the branches
    swapped, a mean (or sum) instead of the elementwise loss.

    Args:
        fn: the student's function ``fn(input, target, delta) -> tensor``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.

    Reference: Huber, "Robust estimation of a location parameter", Ann. Math. Statist. 35(1),
    1964; PyTorch, ``torch.nn.functional.huber_loss``.
    """
    import relaxlib as rl

    def half_sq(r):
        return 0.5 * r**2

    mistakes = [
        Mistake(
            "smooth l1",
            lambda x, y, d: F.smooth_l1_loss(x, y, beta=d, reduction="none"),
            "that is Smooth L1 with beta = delta ({case}): every value is the Huber loss "
            "divided by delta. Huber keeps 0.5 r^2 unscaled near 0 and multiplies the "
            "linear part by delta: delta * (|r| - delta / 2).",
        ),
        Mistake(
            "linear branch not scaled",
            lambda x, y, d: _branches(x, y, d, half_sq, lambda r: r.abs() - d / 2),
            "the linear branch is missing its factor delta ({case}): you wrote |r| - delta/2, "
            "but Huber's is delta * (|r| - delta/2). As written the two branches do not meet "
            "at |r| = delta unless delta = 1, so the loss jumps there.",
        ),
        Mistake(
            "no offset",
            lambda x, y, d: _branches(x, y, d, half_sq, lambda r: d * r.abs()),
            "the linear branch lacks its offset ({case}): delta * |r| lies delta^2/2 above "
            "0.5 r^2 at |r| = delta, so the loss jumps there. Subtract it: "
            "delta * (|r| - delta/2).",
        ),
        Mistake(
            "lecture offset",
            lambda x, y, d: _branches(x, y, d, half_sq, lambda r: d * (r.abs() - 0.5)),
            "the offset is the lecture's 0.5, which is right only for delta = 1 ({case}): "
            "the linear branch is delta * (|r| - delta/2).",
        ),
        Mistake(
            "ignored delta",
            lambda x, y, d: F.huber_loss(x, y, delta=1.0, reduction="none"),
            "delta is ignored ({case}): your result is the lecture's formula with threshold "
            "1. Use delta both in the condition |r| < delta and in the linear branch.",
        ),
        Mistake(
            "r instead of |r|",
            lambda x, y, d: _branches(
                x, y, d, half_sq, lambda r: d * (r.abs() - d / 2), lambda r, d: r < d
            ),
            "the condition compares r, not |r|, with delta ({case}): a large negative "
            "residual then falls into the quadratic branch. Use r.abs() < delta.",
        ),
        Mistake(
            "missing half",
            lambda x, y, d: _branches(x, y, d, lambda r: r**2, lambda r: d * (r.abs() - d / 2)),
            "the quadratic branch is missing its factor 1/2 ({case}): it is 0.5 * r^2, whose "
            "slope r meets the linear branch's slope delta at |r| = delta.",
        ),
        Mistake(
            "swapped branches",
            lambda x, y, d: _branches(x, y, d, lambda r: d * (r.abs() - d / 2), half_sq),
            "the branches are swapped ({case}): the quadratic 0.5 r^2 belongs near the "
            "minimum (|r| < delta), the linear part far from it.",
        ),
        Mistake(
            "mean reduction",
            lambda x, y, d: F.huber_loss(x, y, delta=d),
            "you returned the mean over all elements (reduction='mean', the default of "
            "F.huber_loss); return the elementwise loss, one value per element.",
        ),
        Mistake(
            "sum reduction",
            lambda x, y, d: F.huber_loss(x, y, delta=d, reduction="sum"),
            "you returned the sum over all elements; return the elementwise loss, one value "
            "per element.",
        ),
    ]
    return check_function(
        fn,
        exercise="Huber loss",
        reference=lambda x, y, d: rl.huber(x, y, delta=d),
        cases=_huber_cases(),
        mistakes=mistakes,
        no_grad_message="the values are right but no gradient flows back to the input. Keep "
        "every step a differentiable torch operation (torch.where, abs, **), with no "
        ".item(), .detach() or numpy.",
    )


# --------------------------------------------------------------------------------------
# Exercise 2: Smooth L1 through F.huber_loss
# --------------------------------------------------------------------------------------


def _smooth_cases() -> list:
    g = torch.Generator().manual_seed(5)
    batch = torch.randn(2, 5, generator=g, dtype=torch.float64) * 2.0
    return [
        Case(
            (
                torch.tensor([-3.0, -0.75, 0.2, 1.0, 2.5], dtype=torch.float64),
                torch.zeros(5, dtype=torch.float64),
                2.0,
            ),
            "input = [-3, -0.75, 0.2, 1, 2.5], target = 0, beta = 2",
        ),
        Case(
            (torch.tensor([-1.0, -0.1, 0.3, 2.0]), torch.tensor([0.5, 0.0, 0.0, -0.5]), 0.25),
            "input = [-1, -0.1, 0.3, 2], target = [0.5, 0, 0, -0.5], beta = 0.25",
        ),
        Case((batch, torch.zeros(2, 5, dtype=torch.float64), 0.8), "a batch (2, 5), beta = 0.8"),
    ]


def check_smooth_l1_via_huber(fn: Callable) -> Feedback:
    r"""Check ``fn(input, target, beta)``: Smooth L1 with width ``beta``, elementwise.

    The exercise asks for it to be written with ``F.huber_loss``, using
    :math:`\mathrm{smooth\_l1}_\beta = \mathrm{huber}_{\delta=\beta} / \beta`; the expected
    values are those of :func:`relaxlib.smooth_l1` (``reduction='none'``), with gradients.
    Recognised mistakes: multiplying by ``beta`` instead of dividing, not dividing at all
    (Huber itself), ``delta`` left at its default 1 (with or without the division),
    dividing by ``beta**2`` (the same as rescaling the residual to ``r / beta`` and
    forgetting the factor ``beta``), and the default ``reduction='mean'``.

    Args:
        fn: the student's function ``fn(input, target, beta) -> tensor``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.

    Reference: Girshick, "Fast R-CNN", ICCV 2015 (Smooth L1); PyTorch,
    ``torch.nn.functional.huber_loss`` and ``smooth_l1_loss``.
    """
    import relaxlib as rl

    def hub(x, y, d):
        return F.huber_loss(x, y, delta=d, reduction="none")

    mistakes = [
        Mistake(
            "multiplied by beta",
            lambda x, y, b: b * hub(x, y, b),
            "you multiplied by beta; the identity is huber(delta) = delta * smooth_l1(beta = "
            "delta), so going the other way you divide: huber(delta = beta) / beta.",
        ),
        Mistake(
            "not divided",
            lambda x, y, b: hub(x, y, b),
            "that is the Huber loss itself ({case}): its linear part has slope beta, Smooth "
            "L1's has slope 1. Divide by beta.",
        ),
        Mistake(
            "default delta, divided",
            lambda x, y, b: hub(x, y, 1.0) / b,
            "delta is left at its default 1 ({case}): pass delta=beta to F.huber_loss "
            "(then divide by beta).",
        ),
        Mistake(
            "default delta",
            lambda x, y, b: hub(x, y, 1.0),
            "that is F.huber_loss with its default delta = 1 and nothing else ({case}): pass "
            "delta=beta and divide the result by beta.",
        ),
        Mistake(
            "divided by beta squared",
            lambda x, y, b: hub(x, y, b) / b**2,
            "one factor beta too few ({case}): your values are huber(delta = beta) / beta^2, "
            "which is also what huber_1(r / beta) gives if you rescale the residual. Smooth "
            "L1 is huber(delta = beta) / beta, or beta * huber_1(r / beta).",
        ),
        Mistake(
            "mean reduction",
            lambda x, y, b: F.huber_loss(x, y, delta=b) / b,
            "you returned one number, the mean over all elements: F.huber_loss averages by "
            "default. Pass reduction='none' to get the elementwise loss.",
        ),
    ]
    return check_function(
        fn,
        exercise="Smooth L1 via Huber",
        reference=lambda x, y, b: rl.smooth_l1(x, y, beta=b),
        cases=_smooth_cases(),
        mistakes=mistakes,
    )


# --------------------------------------------------------------------------------------
# Exercise 3: where gradient descent on |x - y| ends up
# --------------------------------------------------------------------------------------


def reference_l1_cycle(x0: float, target: float, lr: float) -> tuple:
    r"""The two points between which gradient descent on ``|x - target|`` ends up bouncing.

    Gradient descent with a fixed step ``lr`` (:math:`\eta`) and PyTorch's gradient
    ``sign(x - y)`` (which is 0 at ``x = y``) walks towards ``y`` in steps of :math:`\eta`.
    With :math:`\rho = (x_0 - y) \bmod \eta \in [0, \eta)` (Python's ``%``, whose result has
    the sign of :math:`\eta` for either sign of :math:`x_0 - y`), the iterates end up
    alternating between :math:`y + \rho - \eta` and :math:`y + \rho`: two points less than
    :math:`\eta` from ``y``, exactly :math:`\eta` apart. If :math:`\rho = 0` the walk lands
    on ``y`` exactly, where the gradient is 0, and stays.

    Args:
        x0: the starting point.
        target: the minimiser ``y``.
        lr: the step size :math:`\eta > 0`.

    Returns:
        ``(low, high)``, the two points in increasing order (``(y, y)`` when it lands on
        ``y``).

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture), the
    slides on relaxing the L1 norm.
    """
    rho = (x0 - target) % lr
    if rho == 0:
        return (float(target), float(target))
    return (target + rho - lr, target + rho)


def _l1_cases() -> list:
    # Dyadic numbers: every iterate is exact in binary floating point.
    return [
        (3.3125, 0.375, 0.25, "x0 = 3.3125, y = 0.375, lr = 0.25"),
        (-1.375, 0.625, 0.75, "x0 = -1.375, y = 0.625, lr = 0.75"),
        (2.0, 0.5, 0.5, "x0 = 2, y = 0.5, lr = 0.5"),
        (0.75, 0.0, 2.0, "x0 = 0.75, y = 0, lr = 2"),
        (-5.0, -2.0, 0.75, "x0 = -5, y = -2, lr = 0.75"),
    ]


def _l1_mistakes() -> list:
    def symmetric(x0, y, lr):
        return (y - lr / 2, y + lr / 2)

    def mirrored(x0, y, lr):
        rho = abs(x0 - y) % lr
        return (y - rho, y + rho)

    def abs_remainder(x0, y, lr):
        rho = abs(x0 - y) % lr
        return (y + rho - lr, y + rho) if rho else (y, y)

    def fmod(x0, y, lr):
        rho = math.fmod(x0 - y, lr)
        return (y + rho - lr, y + rho) if rho else (y, y)

    def no_landing(x0, y, lr):
        rho = (x0 - y) % lr
        return (y + rho - lr, y + rho)

    def offsets(x0, y, lr):
        rho = (x0 - y) % lr
        return (rho - lr, rho) if rho else (0.0, 0.0)

    def ignores_target(x0, y, lr):
        rho = x0 % lr
        return (y + rho - lr, y + rho) if rho else (y, y)

    return [
        (
            "offsets",
            offsets,
            "you returned the errors x - y, not the points x ({case}); add y.",
        ),
        (
            "symmetric",
            symmetric,
            "the two points are not y -+ lr/2 in general ({case}): where the walk crosses y "
            "depends on where it started. With rho = (x0 - y) % lr they are y + rho - lr and "
            "y + rho.",
        ),
        (
            "mirrored",
            mirrored,
            "the two points are not mirror images y -+ rho ({case}): the last step before "
            "crossing leaves the iterate rho from y, the next one lands lr - rho on the other "
            "side. They are exactly lr apart.",
        ),
        (
            "ignores target",
            ignores_target,
            "the remainder must be taken of the distance to the target, x0 - y, not of x0 "
            "({case}).",
        ),
        (
            "fmod",
            fmod,
            "wrong for a start below the target ({case}): math.fmod (and torch.fmod) return "
            "a remainder with the sign of x0 - y, so y + rho - lr lands more than lr below y. "
            "Python's % (or adding lr to a negative remainder) gives rho in [0, lr).",
        ),
        (
            "abs remainder",
            abs_remainder,
            "wrong for a start below the target ({case}): using |x0 - y| forgets the "
            "direction; from below, the last iterate before crossing is y - rho, not y + rho.",
        ),
        (
            "missed exact landing",
            no_landing,
            "when x0 - y is a whole number of steps ({case}) the walk lands exactly on y, "
            "where PyTorch's gradient of |x - y| is 0 (sign(0) = 0), so it stops there: "
            "return (y, y).",
        ),
    ]


def _as_pair(out):
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().reshape(-1).tolist()
    try:
        values = [float(v) for v in out]
    except (TypeError, ValueError):
        return None
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        return None
    return tuple(sorted(values))


def _same(a, b, tol=1e-9) -> bool:
    return all(abs(u - v) <= tol for u, v in zip(a, b))


def check_l1_cycle(fn: Callable) -> Feedback:
    r"""Check ``fn(x0, target, lr)``: where gradient descent on ``|x - y|`` ends up bouncing.

    The answer is compared with :func:`reference_l1_cycle` on starts above and below the
    target, one that lands on the target exactly, and a step larger than the distance. Any
    two numbers are accepted in either order, as a tuple, list or tensor. Recognised
    mistakes: the errors ``x - y`` instead of the points, the symmetric guess
    ``y -+ lr/2``, mirrored points ``y -+ rho``, the remainder of ``x0`` instead of
    ``x0 - y``, ``math.fmod``'s sign for starts below the target, ``|x0 - y|`` (direction
    lost), and a missed exact landing (``(y, y)``).

    Args:
        fn: the student's function ``fn(x0, target, lr) -> (low, high)``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """
    exercise = "L1 cycle"
    ctx = CheckContext(exercise, 0.0, 0.0)
    cases = _l1_cases()
    for x0, y, lr, label in cases:
        out, verdict = call_safely(fn, (x0, y, lr), ctx, label)
        if verdict is not None:
            return verdict
        pair = _as_pair(out)
        if pair is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"return two finite numbers (the low and the high point); for {label} you "
                f"returned {fmt(out)}.",
                "not a pair",
            )
        expected = reference_l1_cycle(x0, y, lr)
        if _same(pair, expected):
            continue
        for name, model, message in _l1_mistakes():
            if _same(pair, tuple(sorted(model(x0, y, lr)))):
                return Feedback(exercise, INCORRECT, message.replace("{case}", label), name)
        return Feedback(
            exercise,
            INCORRECT,
            f"for {label} expected the points {expected[0]:.6g} and {expected[1]:.6g}, got "
            f"{pair[0]:.6g} and {pair[1]:.6g}.",
        )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(cases)} checks passed: your points match where gradient descent ends up. "
        "Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise 4 (an experiment): the beta with which Smooth L1 descent converges fastest
# --------------------------------------------------------------------------------------

_START, _TARGET = 3.3125, 0.5  # the chapter's descent: x0 and y
_TOL, _MAX_STEPS = 1e-9, 400


def steps_to_converge(beta: float, lr: float, x0: float = _START, y: float = _TARGET) -> int:
    r"""Steps gradient descent on Smooth L1 (width ``beta``) needs to stay within 1e-9 of y.

    Runs the page's ``gradient_descent`` (:mod:`dae_course.ch04_huber.descent`) with step
    ``lr`` for 400 steps from ``x0`` and returns the first step :math:`k` from which on
    every :math:`|x_k - y| \le 10^{-9}`, or 401 when the run never settles there (a cycle).

    Args:
        beta: the width :math:`\beta > 0` of Smooth L1.
        lr: the step :math:`\eta > 0`.
        x0, y: start and target.

    Returns:
        The number of steps, an int in ``0..401``.
    """
    loss = partial(rl.smooth_l1, beta=beta)
    errors = (gradient_descent(loss, x0, y, lr, _MAX_STEPS) - y).abs()
    late = (errors > _TOL).nonzero()
    return int(late.max()) + 1 if late.numel() else 0


def _beta_verdict(beta: float, lr: float) -> tuple:
    """(name, message) for a beta that is not (close to) the fastest, from 1 - lr / beta."""
    factor = 1 - lr / beta
    named = [
        (
            math.isclose(beta, lr / 2),
            "boundary lr/2",
            f"beta = lr/2 = {beta:g} is exactly where convergence starts: inside |r| < beta "
            "each step multiplies the error by 1 - lr/beta = -1, so it bounces for ever.",
        ),
        (
            factor <= -1,
            "oscillates",
            f"beta = {beta:g} is too narrow for the step lr = {lr:g}: inside |r| < beta each "
            f"step multiplies the error by 1 - lr/beta = {factor:.3g}, which is <= -1, so the "
            "L1 oscillation is back. Smooth L1 needs beta > lr/2.",
        ),
        (
            math.isclose(beta, 1.0) and not math.isclose(lr, 1.0),
            "default beta",
            f"beta = 1 is PyTorch's default, not tuned to the step lr = {lr:g}.",
        ),
        (
            math.isclose(beta, 2 * lr),
            "2 lr",
            f"beta = 2 lr = {beta:g} converges, but each step inside the zone only halves the "
            "error (1 - lr/beta = 0.5).",
        ),
        (
            factor < 0,
            "overshoots",
            f"beta = {beta:g} converges, but overshoots: inside |r| < beta each step multiplies "
            f"the error by 1 - lr/beta = {factor:.3g}, flipping its sign. Widen the zone a little.",
        ),
        (
            True,
            "too cautious",
            f"beta = {beta:g} converges without overshooting, but slowly: each step inside "
            f"|r| < beta multiplies the error by 1 - lr/beta = {factor:.3g}. Narrow the zone.",
        ),
    ]
    return next((name, message) for condition, name, message in named if condition)


def check_fastest_beta(fn: Callable) -> Feedback:
    r"""Check ``fn(lr)``: the width :math:`\beta` of Smooth L1 that descent with step lr likes best.

    For the steps ``lr`` = 0.25, 0.1 and 0.6 the student's :math:`\beta` is run (the
    experiment: :func:`steps_to_converge` from :math:`x_0 = 3.3125` to :math:`y = 0.5`) and
    compared with the fastest, :math:`\beta = \eta`: inside the zone :math:`|r| < \beta`
    the slope is :math:`r/\beta`, so one step multiplies the error by
    :math:`1 - \eta/\beta`, which is 0 at :math:`\beta = \eta` (a Newton step on the
    parabola). A :math:`\beta` whose factor :math:`|1 - \eta/\beta|` is at most 0.1 (about
    10 % from :math:`\eta`) passes. Named mistakes: :math:`\beta \le \eta/2` (the cycle
    is back, :math:`\eta/2` itself named), PyTorch's default 1, :math:`2\eta`, and
    otherwise overshooting (:math:`\beta < \eta`) or too cautious (:math:`\beta > \eta`).

    Args:
        fn: the student's function ``fn(lr) -> beta`` (a number or a 0-d tensor).

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """
    exercise = "fastest beta"
    ctx = CheckContext(exercise, 0.0, 0.0)
    for lr in (0.25, 0.1, 0.6):
        label = f"lr = {lr:g}"
        beta, verdict = call_for_number(fn, (lr,), ctx, label, "beta")
        if verdict is not None:
            return verdict
        if not math.isfinite(beta) or beta <= 0:
            return Feedback(
                exercise,
                INCORRECT,
                f"beta must be finite and > 0; for {label} you returned {beta:.4g}.",
                "not positive",
            )
        if abs(1 - lr / beta) > 0.1:
            name, message = _beta_verdict(beta, lr)
            mine, best = steps_to_converge(beta, lr), steps_to_converge(lr, lr)
            ran = "never settles" if mine > _MAX_STEPS else f"settles in {mine} steps"
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label}: {message} (Run from x0 = {_START}: with your beta the descent "
                f"{ran} within 1e-9 of y; with the fastest beta, in {best}.)",
                name,
            )
    runs = ", ".join(f"lr = {lr:g}: {steps_to_converge(lr, lr)} steps" for lr in (0.25, 0.1, 0.6))
    return Feedback(
        exercise,
        CORRECT,
        f"all 3 checks passed: your beta is within 10% of the fastest, beta = lr ({runs}). "
        "Inside |r| < beta one step multiplies the error by 1 - lr/beta, and beta = lr "
        "makes that 0: a Newton step on the parabola r^2/(2 beta). Well done!",
    )
