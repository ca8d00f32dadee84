r"""Exercise checkers of chapter 6 (discrete outputs and REINFORCE): the REINFORCE surrogate
from logits, the leave-one-out baseline without a loop, the exact variance of the Bernoulli
toy's estimator, and a prediction about a loss shifted by a constant.

Import explicitly: ``from dae_course.ch06_reinforce import checks as rex``. Needs only torch.
"""

from __future__ import annotations

import math
from typing import Callable, List, Tuple

import torch
from torch.overrides import TorchFunctionMode

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
from . import problems as toy

__all__ = [
    "check_reinforce_surrogate",
    "reference_surrogate",
    "check_loo_baseline",
    "reference_loo_baseline",
    "check_baseline_variance",
    "reference_baseline_variance",
    "check_shift_prediction",
    "SHIFT_THETA",
    "SHIFT_TARGET",
    "SHIFT",
]


# --------------------------------------------------------------------------------------
# Exercise 1: the REINFORCE surrogate, from logits
# --------------------------------------------------------------------------------------


def _log_p(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1)[y]


def reference_surrogate(logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    r"""A REINFORCE surrogate for samples of a categorical distribution given by its logits.

    Returns :math:`\frac1m\sum_i \mathrm{sg}(\mathcal L_i)\log p_{y_i} + \frac1m\sum_i
    \mathcal L_i` with :math:`\log p = \operatorname{log\_softmax}(\text{logits})` (``sg`` is
    stop-gradient). Its gradient with respect to the logits is the score-function estimate
    :math:`\frac1m\sum_i \mathcal L_i (\mathbf e_{y_i} - \operatorname{softmax}(\text{logits}))`;
    with respect to :math:`\mathcal L_i` it is :math:`1/m`, the ordinary gradient of the mean
    loss. ``log_softmax`` works on the logits and stays finite where ``log(softmax(...))``
    underflows to :math:`-\infty`.

    Args:
        logits: shape ``(K,)``, the categorical distribution's logits.
        y: int64, shape ``(m,)``, the drawn categories.
        loss: :math:`\mathcal L_i`, shape ``(m,)``.

    Returns:
        A 0-d tensor.

    Reference: Williams, Machine Learning 8, 1992; Schulman, Heess, Weber & Abbeel,
    "Gradient estimation using stochastic computation graphs", NeurIPS 2015 (surrogate losses).
    """
    return (loss.detach() * _log_p(logits, y)).mean() + loss.mean()


# Each known mistake is a wrong surrogate, recognised by the gradient it gives:
# (name, surrogate(logits, y, loss), message). "{case}" is replaced by the case's label.
_Surrogate = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_LOGITS_MISTAKES: List[Tuple[str, _Surrogate, str]] = [
    (
        "logits as log-probabilities",
        lambda z, y, L: (L.detach() * z[y]).mean() + L.mean(),
        "you used logits[y] as if it were log p_y ({case}). Logits are log-probabilities only "
        "up to a shift: log p_y = logits[y] - logsumexp(logits). Use "
        "torch.log_softmax(logits, dim=-1)[y].",
    ),
    (
        "forgot log",
        lambda z, y, L: (L.detach() * torch.softmax(z, -1)[y]).mean() + L.mean(),
        "you weighted the probability p_y by the loss ({case}), but REINFORCE weights the "
        "LOG-probability (grad p = p grad log p). Use torch.log_softmax(logits, dim=-1)[y].",
    ),
    (
        "wrong sign",
        lambda z, y, L: -(L.detach() * _log_p(z, y)).mean() + L.mean(),
        "the REINFORCE part has the wrong sign ({case}): minimising the surrogate would make "
        "costly samples MORE likely. The term is + L_i log p_i (the gradient of E[L] is "
        "E[L grad log p]).",
    ),
    (
        "sum instead of mean",
        lambda z, y, L: (L.detach() * _log_p(z, y)).sum() + L.mean(),
        "the gradient is m times too large ({case}): you summed over the samples. The "
        "estimate is the AVERAGE (1/m) sum_i L_i grad log p_i; use .mean().",
    ),
    (
        "no score term",
        lambda z, y, L: L.mean(),
        "no gradient reaches the logits ({case}), so the distribution never learns: the "
        "surrogate needs the term L_i * log p_i (with L_i detached).",
    ),
    (
        "log prob not weighted",
        lambda z, y, L: _log_p(z, y).mean() + L.mean(),
        "the log-probabilities are not multiplied by the losses ({case}). The score term is "
        "L_i * log p_i, with L_i detached.",
    ),
]

_LOSS_MISTAKES: List[Tuple[str, _Surrogate, str]] = [
    (
        "loss not detached",
        lambda z, y, L: (L * _log_p(z, y)).mean() + L.mean(),
        "the loss weight in front of log p is not detached ({case}): gradient also flows "
        "through L_i * log p_i into whatever L depends on, multiplied by log p_i. Use "
        "loss.detach() in the score term; the mean-loss term passes the right gradient.",
    ),
    (
        "loss not detached",
        lambda z, y, L: (L * _log_p(z, y)).mean(),
        "the loss weight in front of log p is not detached ({case}): gradient flows back "
        "into the loss as log(p_i)/m, which is not the gradient of the mean loss. Write the "
        "score term with loss.detach() and add loss.mean() for the loss's own gradient.",
    ),
    (
        "no pathwise term",
        lambda z, y, L: (L.detach() * _log_p(z, y)).mean(),
        "the REINFORCE part is right, but no gradient reaches `loss` ({case}). When the "
        "loss also depends on parameters directly (a decoder, a learned target), those "
        "need the ordinary gradient of the mean loss: add loss.mean() to the surrogate.",
    ),
]

_NOT_FINITE = (
    "the gradient is not finite for {case}: you probably took the log of softmax "
    "probabilities. In float32 a category whose logit is 120 below the largest has "
    "probability exp(-120), which rounds to exactly 0; its log is -inf and the gradient NaN. "
    "Stay with the logits: torch.log_softmax(logits, dim=-1)[y] (or "
    "torch.distributions.Categorical(logits=logits).log_prob(y))."
)


def _surrogate_cases() -> List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]]:
    f64 = torch.float64
    g = torch.Generator().manual_seed(6)
    costs = torch.tensor([1.0, 3.0, -2.0], dtype=f64)
    y3 = torch.tensor([2, 0, 2, 1])
    y6 = torch.randint(0, 4, (6,), generator=g)
    return [
        (
            torch.tensor([0.5, -1.0, 1.5], dtype=f64),
            y3,
            costs[y3],
            "logits = [0.5, -1, 1.5], y = [2, 0, 2, 1], loss = [-2, 1, -2, 3]",
        ),
        (
            torch.randn(4, generator=g, dtype=f64),
            y6,
            torch.rand(6, generator=g, dtype=f64) * 2 - 0.5,
            "4 categories, 6 samples, random logits and losses",
        ),
        (
            torch.tensor([100.0, 0.0, -20.0]),
            torch.tensor([0, 2]),
            torch.tensor([1.0, -2.0]),
            "a confident model in float32: logits = [100, 0, -20], y = [0, 2], loss = [1, -2]",
        ),
    ]


def _grads(out: torch.Tensor, z: torch.Tensor, ell: torch.Tensor):
    gz, gl = torch.autograd.grad(out.sum(), (z, ell), allow_unused=True)
    gz = torch.zeros_like(z) if gz is None else gz.detach()
    gl = torch.zeros_like(ell) if gl is None else gl.detach()
    return gz, gl


def _gradients(fn: Callable, logits, y, loss):
    """(value, d/dlogits, d/dloss) of a known surrogate, on fresh copies of the inputs."""
    z, ell = logits.clone().requires_grad_(True), loss.clone().requires_grad_(True)
    out = fn(z, y.clone(), ell)
    return (out, *_grads(out, z, ell))


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b.to(a.dtype), atol=1e-5, rtol=1e-4, equal_nan=True))


def check_reinforce_surrogate(fn: Callable) -> Feedback:
    r"""Check ``fn(logits, y, loss)``: a scalar surrogate whose gradient is REINFORCE's.

    ``logits`` (shape ``(K,)``) define a categorical distribution, ``y`` (int64, ``(m,)``)
    holds the drawn categories and ``loss`` (``(m,)``) their losses; logits and losses carry
    gradients. The answer is judged by its gradients alone (as :func:`reference_surrogate`):
    with respect to the logits, the score-function estimate
    :math:`\frac1m\sum_i \mathcal L_i\nabla\log p_{y_i}`; with respect to ``loss``,
    :math:`1/m`, the ordinary gradient of the mean loss. Its value is free (the feedback says
    whether it equals the mean loss, as for :func:`relaxlib.reinforce_surrogate`).

    Recognised mistakes: a gradient that is not finite (the log of softmax probabilities,
    which underflow in float32), logits used as log-probabilities, the probability instead of
    its log, the wrong sign, a sum instead of a mean, no score term, log-probabilities not
    weighted by the losses, the loss weight not detached, no gradient for the loss itself,
    and a result that is not a tensor, not a scalar, or carries no gradient.

    Args:
        fn: the student's function ``fn(logits, y, loss) -> 0-d tensor``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """
    exercise = "REINFORCE surrogate"
    ctx = CheckContext(exercise, 0.0, 0.0)
    value_is_mean = True
    cases = _surrogate_cases()
    for logits, y, losses, label in cases:
        z, ell = logits.clone().requires_grad_(True), losses.clone().requires_grad_(True)
        out, verdict = call_safely(fn, (z, y.clone(), ell), ctx, label)
        if verdict is not None:
            return verdict
        problem = _form_problem(out, label)
        if problem is not None:
            return Feedback(exercise, INCORRECT, *problem)
        try:
            gz, gl = _grads(out, z, ell)
        except RuntimeError as err:  # e.g. an in-place change of a tensor autograd needs
            return Feedback(
                exercise, ERROR, f"backward through your result failed for {label}: {err}"
            )
        _, want_z, want_l = _gradients(reference_surrogate, logits, y, losses)
        if not (torch.isfinite(gz).all() and torch.isfinite(gl).all()):
            return Feedback(
                exercise, INCORRECT, _NOT_FINITE.replace("{case}", label), "log of softmax"
            )
        for name, grad, wanted, mistakes, index in (
            ("logits", gz, want_z, _LOGITS_MISTAKES, 1),
            ("loss", gl, want_l, _LOSS_MISTAKES, 2),
        ):
            if _close(grad, wanted):
                continue
            for mistake, model, message in mistakes:
                if _close(grad, _gradients(model, logits, y, losses)[index]):
                    return Feedback(exercise, INCORRECT, message.replace("{case}", label), mistake)
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} the gradient with respect to {name} should be {fmt(wanted)}, "
                f"but yours is {fmt(grad)}.",
                f"wrong gradient ({name})",
            )
        value = out.detach().reshape(()).to(losses.dtype)
        value_is_mean &= bool(torch.allclose(value, losses.mean(), atol=1e-5, rtol=1e-4))
    note = (
        " Its value is also the mean loss, like rl.reinforce_surrogate's."
        if value_is_mean
        else " (Its value is not the mean loss; that is fine for the gradient, but "
        "rl.reinforce_surrogate also makes the value the mean loss, handy for logging.)"
    )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(cases)} checks passed, the float32 one included: the gradients are "
        "REINFORCE's." + note + " Well done!",
    )


def _form_problem(out, label: str):
    """(message, mistake) when the result cannot be a surrogate at all, else None."""
    if not isinstance(out, torch.Tensor):
        return (
            f"return a torch.Tensor, not {type(out).__name__} (for {label} you returned "
            f"{fmt(out)}); a Python number cannot carry a gradient.",
            "not a tensor",
        )
    if out.numel() != 1:
        return (
            f"return one number (a 0-d tensor) to call .backward() on; for {label} yours "
            f"has shape {tuple(out.shape)}. Average over the samples with .mean().",
            "not a scalar",
        )
    if not out.requires_grad:
        return (
            "no gradient flows back from your result: keep log p and the loss as torch "
            "operations on the inputs (no .item(), numpy or detaching everything).",
            "no gradient",
        )
    return None


# --------------------------------------------------------------------------------------
# Exercise 2: the leave-one-out baseline
# --------------------------------------------------------------------------------------


def reference_loo_baseline(loss: torch.Tensor) -> torch.Tensor:
    r"""The leave-one-out baseline :math:`b_i = \frac{1}{m-1}\sum_{j\ne i}\mathcal L_j` along
    dim 0 (samples), for every other index (a batch): ``(loss.sum(0) - loss) / (m - 1)``.

    Args:
        loss: :math:`\mathcal L`, shape ``(m, ...)`` with :math:`m \ge 2`.

    Returns:
        :math:`b`, the shape of ``loss``.

    Reference: Kool, van Hoof & Welling, "Buy 4 REINFORCE samples, get a baseline for
    free!", ICLR workshop 2019.
    """
    m = loss.shape[0]
    return (loss.sum(0, keepdim=True) - loss) / (m - 1)


class _CountTorchCalls(TorchFunctionMode):
    """Counts the torch functions and tensor methods called while it is active."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _torch_calls(fn: Callable, m: int) -> int:
    """How many torch calls ``fn`` makes on a batch of ``m`` losses."""
    loss = torch.linspace(0.0, 1.0, m, dtype=torch.float64)
    with _CountTorchCalls() as counter:
        fn(loss)
    return counter.calls


def check_loo_baseline(fn: Callable) -> Feedback:
    r"""Check ``fn(loss)`` = the leave-one-out baseline along dim 0, computed without a loop
    over the samples (see :func:`reference_loo_baseline`).

    Recognised mistakes: the mean of all samples (sample :math:`i` included, which biases the
    estimate), dividing by :math:`m` instead of :math:`m - 1`, not dividing at all, the mean
    over the wrong dimension, returning :math:`\mathcal L_i - b_i` (the centred loss),
    returning :math:`\mathcal L_i` itself, and, once the values are right, a loop over the
    samples (detected by counting the torch calls made for :math:`m = 4` and :math:`m = 16`:
    a loop makes more of them for the larger batch).

    Args:
        fn: the student's function ``fn(loss) -> tensor`` of the shape of ``loss``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """

    def m(x):
        return x.shape[0]

    mistakes = [
        Mistake(
            "includes itself",
            lambda x: x.mean(0, keepdim=True).expand_as(x),
            "that is the mean of ALL the losses, sample i included ({case}). Then b_i depends "
            "on y_i, E[b_i grad log p(y_i)] is no longer 0, and the estimate is biased "
            "(shrunk by (m-1)/m). Leave sample i out: (sum - L_i) / (m - 1).",
        ),
        Mistake(
            "includes itself",
            lambda x: x.mean(0),
            "that is the mean of ALL the losses, sample i included, as one number per column "
            "({case}). It must leave sample i out, and have the shape of loss: "
            "(loss.sum(0) - loss) / (m - 1).",
        ),
        Mistake(
            "divided by m",
            lambda x: (x.sum(0, keepdim=True) - x) / m(x),
            "you divided by m, but after leaving sample i out only m - 1 losses remain "
            "({case}): divide by m - 1.",
        ),
        Mistake(
            "not divided",
            lambda x: x.sum(0, keepdim=True) - x,
            "that is the SUM of the other losses; the baseline is their mean: divide by m - 1.",
        ),
        Mistake(
            "wrong dim",
            lambda x: (x.sum(-1, keepdim=True) - x) / (x.shape[-1] - 1),
            "the mean runs over the wrong dimension ({case}): the samples are along dim 0 "
            "(one row per sample); each column is a separate problem.",
        ),
        Mistake(
            "centred loss",
            lambda x: x - (x.sum(0, keepdim=True) - x) / (m(x) - 1),
            "you returned L_i - b_i (the centred loss, or 'advantage'); return the baseline b_i "
            "itself.",
        ),
        Mistake(
            "own loss",
            lambda x: x.clone(),
            "that is each sample's own loss: with b_i = L_i every term (L_i - b_i) is 0 and "
            "the estimate is always zero. Use the OTHER samples' losses.",
        ),
    ]
    g = torch.Generator().manual_seed(7)
    batch = torch.rand(4, 3, generator=g, dtype=torch.float64) * 3
    feedback = check_function(
        fn,
        exercise="leave-one-out baseline",
        reference=reference_loo_baseline,
        cases=[
            Case((torch.tensor([1.0, 2.0, 3.0, 6.0]),), "loss = [1, 2, 3, 6]", grad=False),
            Case(
                (torch.tensor([0.3025, 0.2025, 0.2025]),),
                "loss = [0.3025, 0.2025, 0.2025]",
                grad=False,
            ),
            Case((torch.tensor([5.0, -1.0]),), "loss = [5, -1] (m = 2)", grad=False),
            Case((batch,), "loss of shape (4, 3): 4 samples (rows) of 3 problems", grad=False),
        ],
        mistakes=mistakes,
    )
    if not feedback.passed:
        return feedback
    try:
        small, large = _torch_calls(fn, 4), _torch_calls(fn, 16)
    except Exception:  # noqa: BLE001 - the values passed; an odd failure here is not a loop
        return feedback
    if large > small:
        return Feedback(
            feedback.exercise,
            INCORRECT,
            f"the values are right, but your function loops over the samples: it makes {small} "
            f"torch calls for m = 4 and {large} for m = 16. Work on the whole batch at once: "
            "the other losses sum to (total - own), so b = (loss.sum(0) - loss) / (m - 1).",
            "loops over samples",
        )
    return Feedback(
        feedback.exercise,
        CORRECT,
        "all 4 checks passed (values), and the work does not grow with m: no loop over "
        "the samples. Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise 3: the exact variance with a constant baseline
# --------------------------------------------------------------------------------------


def reference_baseline_variance(theta, t, c):
    r"""Exact variance of one sample's REINFORCE estimate on the Bernoulli toy with a constant
    baseline :math:`c`: :math:`((1-t)^2 - c)^2/\theta + (t^2 - c)^2/(1 - \theta) - (1 - 2t)^2`
    (as :func:`dae_course.ch06_reinforce.problems.per_sample_variance`).
    """
    g1 = ((1 - t) ** 2 - c) / theta
    g0 = -(t**2 - c) / (1 - theta)
    return theta * g1**2 + (1 - theta) * g0**2 - (1 - 2 * t) ** 2


def check_baseline_variance(fn: Callable) -> Feedback:
    r"""Check ``fn(theta, t, c)``: the exact per-sample variance of the Bernoulli toy's
    REINFORCE estimator with a constant baseline ``c`` (see
    :func:`reference_baseline_variance`). Inputs are 0-d float64 tensors.

    Recognised mistakes: the second moment (mean not subtracted), the baseline ignored, the
    baseline added instead of subtracted, the two outcomes weighted equally instead of by
    their probabilities, the score squared twice over (:math:`1/\theta^2` weights), and the
    variance of the loss instead of the estimator.

    Args:
        fn: the student's function ``fn(theta, t, c) -> 0-d tensor``.

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """

    def outcomes(theta, t, c):
        return ((1 - t) ** 2 - c) / theta, -(t**2 - c) / (1 - theta)

    def unweighted(theta, t, c):
        g1, g0 = outcomes(theta, t, c)
        mean = (g1 + g0) / 2
        return ((g1 - mean) ** 2 + (g0 - mean) ** 2) / 2

    def second_moment(theta, t, c):
        g1, g0 = outcomes(theta, t, c)
        return theta * g1**2 + (1 - theta) * g0**2

    def score_squared_twice(theta, t, c):
        g1, g0 = outcomes(theta, t, c)
        return g1**2 + g0**2 - (1 - 2 * t) ** 2

    mistakes = [
        Mistake(
            "second moment",
            second_moment,
            "that is E[g^2], the second moment ({case}); the variance subtracts the squared "
            "mean, and the mean of g is the true gradient 1 - 2t whatever c is.",
        ),
        Mistake(
            "baseline ignored",
            lambda theta, t, c: reference_baseline_variance(theta, t, 0 * c),
            "your answer does not depend on c ({case}): it is the variance WITHOUT a baseline. "
            "The baseline is subtracted from the loss: ((b - t)^2 - c) * score.",
        ),
        Mistake(
            "baseline added",
            lambda theta, t, c: reference_baseline_variance(theta, t, -c),
            "you added the baseline ({case}); it is subtracted from the loss: "
            "((b - t)^2 - c) * score.",
        ),
        Mistake(
            "unweighted outcomes",
            unweighted,
            "you weighted the two outcomes equally ({case}); b = 1 happens with probability "
            "theta and b = 0 with probability 1 - theta.",
        ),
        Mistake(
            "score squared twice",
            score_squared_twice,
            "you added g1^2 + g0^2 without weighting them by their probabilities ({case}): "
            "E[g^2] = theta * g1^2 + (1 - theta) * g0^2 with g1 = ((1-t)^2 - c)/theta.",
        ),
        Mistake(
            "variance of the loss",
            lambda theta, t, c: theta * (1 - theta) * (1 - 2 * t) ** 2 + 0 * c,
            "that is the variance of the loss (b - t)^2, not of the gradient estimate "
            "((b - t)^2 - c) * (b/theta - (1 - b)/(1 - theta)).",
        ),
    ]

    def case(theta, t, c):
        f = torch.float64
        return Case(
            (torch.tensor(theta, dtype=f), torch.tensor(t, dtype=f), torch.tensor(c, dtype=f)),
            f"theta = {theta}, t = {t}, c = {c}",
            grad=False,
        )

    return check_function(
        fn,
        exercise="variance with a baseline",
        reference=reference_baseline_variance,
        cases=[
            case(0.3, 0.45, 0.1),
            case(0.6, 0.2, 0.3),
            case(0.5, 0.499, 0.0),
            case(0.8, 0.7, 0.9),
        ],
        mistakes=mistakes,
        atol=1e-9,
        rtol=1e-7,
    )


# --------------------------------------------------------------------------------------
# Exercise 4: predict, then run: a constant added to the loss
# --------------------------------------------------------------------------------------

#: The setting of exercise 4: the Bernoulli toy at theta = 0.3, t = 0.45, with the constant
#: SHIFT added to every loss (the same as the constant baseline c = -SHIFT).
SHIFT_THETA, SHIFT_TARGET, SHIFT = 0.3, 0.45, 1.0


def _shift_ratio() -> float:
    """Var[g with L + SHIFT] / Var[g with L], exact: ((SHIFT + c*) / c*)^2."""
    theta, t = SHIFT_THETA, SHIFT_TARGET
    return toy.per_sample_variance(theta, t, -SHIFT) / toy.per_sample_variance(theta, t)


def check_shift_prediction(fn: Callable, measured: float) -> Feedback:
    r"""Check a prediction, made before the run, of how much a constant added to the loss
    multiplies the variance of one REINFORCE estimate.

    On the toy at :math:`\theta = 0.3`, :math:`t = 0.45`, adding :math:`1` to every loss is the
    constant baseline :math:`c = -1`; since :math:`\operatorname{Var}_c = (c -
    c^\star)^2/(\theta(1 - \theta))`, the ratio to the plain variance is
    :math:`((1 + c^\star)/c^\star)^2 \approx 21.8`. A prediction within a factor of 2 of it
    counts as right. Recognised mistakes, in this order: a ratio that is not positive, no
    change (the mean does not change, the variance does), a decrease, the ratio of standard
    deviations instead of variances, and the right direction but the wrong size.

    Args:
        fn: the student's ``fn() -> number``, the predicted ratio.
        measured: the ratio measured on the page, revealed in the feedback (and only once a
            prediction was made).

    Returns:
        A :class:`~dae_course.checking.Feedback`.
    """
    exercise = "predict: a constant added to the loss"
    ctx = CheckContext(exercise, 0.0, 0.0)
    guess, verdict = call_safely(fn, (), ctx, "your prediction")
    if verdict is not None:
        return verdict
    try:
        guess = float(guess)
    except (TypeError, ValueError):
        return Feedback(exercise, ERROR, f"return a number, not {type(guess).__name__}.")
    if not math.isfinite(guess):
        return Feedback(exercise, ERROR, f"return a finite number, not {guess}.")
    exact = _shift_ratio()
    cstar = toy.optimal_baseline(SHIFT_THETA, SHIFT_TARGET)
    reveal = (
        f"You predicted {guess:.3g}; the run measured {measured:.1f} and the exact ratio is "
        f"((1 + c*)/c*)^2 = {exact:.1f} with c* = {cstar:.4f}."
    )
    why = (
        " The mean stays 1 - 2t (the score has mean zero, so a constant times it averages "
        "out), but the estimator multiplies the WHOLE loss by the score: the constant is "
        "noise. Adding 1 is the baseline c = -1, and Var_c = (c - c*)^2 / (theta (1 - theta)) "
        "grows with the distance from c*."
    )
    # (condition, mistake, message), tried in order: the first that holds names the mistake
    mistakes = [
        (lambda g: g <= 0, "not positive", "a ratio of two variances is positive."),
        (lambda g: abs(g - 1) <= 0.1, "unchanged", "the variance does change."),
        (lambda g: g < 1, "decrease", "it goes up, not down."),
        (
            lambda g: abs(math.log(g / math.sqrt(exact))) < math.log(1.25),
            "standard deviations",
            "that is about the ratio of the standard deviations; the variance is its square.",
        ),
        (
            lambda g: abs(math.log(g / exact)) > math.log(2),
            "wrong size",
            "right direction, but more than a factor of 2 off.",
        ),
    ]
    for condition, name, message in mistakes:
        if condition(guess):
            return Feedback(exercise, INCORRECT, f"{message} {reveal}{why}", name)
    return Feedback(exercise, CORRECT, f"within a factor of 2. {reveal}{why} Well done!")
