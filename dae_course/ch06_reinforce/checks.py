r"""Exercise checkers of chapter 6 (discrete outputs and REINFORCE): the REINFORCE surrogate,
the leave-one-out baseline, and the exact variance of the Bernoulli toy's estimator.

Import explicitly: ``from dae_course.ch06_reinforce import checks as reinforce``. Needs only torch.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import torch

from ..checking import (
    CORRECT,
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
    "check_reinforce_surrogate",
    "reference_surrogate",
    "check_loo_baseline",
    "reference_loo_baseline",
    "check_baseline_variance",
    "reference_baseline_variance",
]


# --------------------------------------------------------------------------------------
# Exercise 1: the REINFORCE surrogate
# --------------------------------------------------------------------------------------


def reference_surrogate(probs: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    r"""A REINFORCE surrogate from the probabilities of the drawn samples.

    Returns :math:`\frac1m\sum_i \mathrm{sg}(\mathcal L_i)\log p_i + \frac1m\sum_i
    \mathcal L_i`, whose gradient is :math:`\mathcal L_i/(m p_i)` with respect to
    :math:`p_i` (so, through :math:`p_i`, the score-function estimate
    :math:`\frac1m\sum_i \mathcal L_i\nabla\log p_i`) and :math:`1/m` with respect to
    :math:`\mathcal L_i` (the ordinary gradient of the mean loss). ``sg`` is stop-gradient.

    Args:
        probs: :math:`p(y_i;\omega)` for the ``m`` drawn samples, shape ``(m,)``, in (0, 1].
        loss: :math:`\mathcal L_i`, shape ``(m,)``.

    Returns:
        A 0-d tensor.

    Reference: Williams, Machine Learning 8, 1992; Schulman, Heess, Weber & Abbeel,
    "Gradient estimation using stochastic computation graphs", NeurIPS 2015 (surrogate losses).
    """
    return (loss.detach() * torch.log(probs)).mean() + loss.mean()


# Each known mistake is recognised by its gradients: (name, d/dprobs, d/dloss, message).
_Grad = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _zeros(p, ell):
    return torch.zeros_like(p)


def _probs_mistakes() -> List[Tuple[str, _Grad, str]]:
    m = lambda p: p.shape[0]  # noqa: E731
    return [
        (
            "forgot log",
            lambda p, ell: ell / m(p),
            "the gradient through the probabilities is L_i / m instead of L_i / (m p_i): you "
            "weighted the probability p_i by the loss, but REINFORCE weights the LOG-"
            "probability (grad p = p grad log p). Use torch.log(probs).",
        ),
        (
            "wrong sign",
            lambda p, ell: -ell / (m(p) * p),
            "the REINFORCE part has the wrong sign: minimising the surrogate would make costly "
            "samples MORE likely. The term is + L_i log p_i (the gradient of E[L] is "
            "E[L grad log p]).",
        ),
        (
            "sum instead of mean",
            lambda p, ell: ell / p,
            "the gradient is m times too large ({case}): you summed over the samples. The "
            "estimate is the AVERAGE (1/m) sum_i L_i grad log p_i; use .mean().",
        ),
        (
            "no score term",
            _zeros,
            "no gradient reaches the probabilities, so the distribution's parameters never "
            "learn: the surrogate needs the term L_i * log p_i (with L_i detached).",
        ),
        (
            "log prob not weighted",
            lambda p, ell: 1 / (m(p) * p),
            "the gradient through the probabilities is 1/(m p_i): the log-probabilities are "
            "not multiplied by the losses. The score term is L_i * log p_i.",
        ),
    ]


def _loss_mistakes() -> List[Tuple[str, _Grad, str]]:
    m = lambda p: p.shape[0]  # noqa: E731
    return [
        (
            "loss not detached",
            lambda p, ell: (1 + torch.log(p)) / m(p),
            "the loss weight in front of log p is not detached ({case}): gradient also flows "
            "through L_i * log p_i into whatever L depends on, multiplied by log p_i. Use "
            "loss.detach() in the score term; the mean-loss term passes the right gradient.",
        ),
        (
            "loss not detached",
            lambda p, ell: torch.log(p) / m(p),
            "the loss weight in front of log p is not detached ({case}): gradient flows back "
            "into the loss as log(p_i)/m, which is not the gradient of the mean loss. Write the "
            "score term with loss.detach() and add loss.mean() for the loss's own gradient.",
        ),
        (
            "no pathwise term",
            _zeros,
            "the REINFORCE part is right, but no gradient reaches `loss` ({case}). When the "
            "loss also depends on parameters directly (a decoder, a learned target), those "
            "need the ordinary gradient of the mean loss: add loss.mean() to the surrogate.",
        ),
    ]


def _surrogate_cases() -> List[Tuple[torch.Tensor, torch.Tensor, str]]:
    g = torch.Generator().manual_seed(6)
    probs = torch.rand(6, generator=g, dtype=torch.float64) * 0.8 + 0.1
    losses = torch.rand(6, generator=g, dtype=torch.float64) * 2 - 0.5
    toy_p = torch.tensor([0.3, 0.7, 0.7, 0.3], dtype=torch.float64)
    toy_l = torch.tensor([0.3025, 0.2025, 0.2025, 0.3025], dtype=torch.float64)
    return [
        (toy_p, toy_l, "the Bernoulli toy: b = [1, 0, 0, 1], theta = 0.3, t = 0.45"),
        (probs, losses, "6 samples with random probabilities and losses"),
        (
            torch.tensor([0.5, 0.25], dtype=torch.float32),
            torch.tensor([1.0, -2.0], dtype=torch.float32),
            "probs = [0.5, 0.25], loss = [1, -2] (float32)",
        ),
    ]


def check_reinforce_surrogate(fn: Callable) -> Feedback:
    r"""Check ``fn(probs, loss)``: a scalar surrogate whose gradient is REINFORCE's.

    ``probs[i]`` is :math:`p(y_i;\omega)` for the ``m`` drawn samples and ``loss[i]`` is
    :math:`\mathcal L_i`; both may carry gradients. The answer is judged by its gradients
    alone (as :func:`reference_surrogate`): with respect to ``probs``,
    :math:`\mathcal L_i/(m p_i)`, i.e. the score-function estimate
    :math:`\frac1m\sum_i\mathcal L_i\nabla\log p_i` once chained into :math:`\omega`; with
    respect to ``loss``, :math:`1/m`, the ordinary gradient of the mean loss (no gradient
    through the weight :math:`\mathcal L_i` in front of :math:`\log p_i`). Its value is free
    (the feedback says whether it equals the mean loss, as for
    :func:`relaxlib.reinforce_surrogate`). Recognised mistakes: the probability instead of
    its log, the wrong sign, a sum instead of a mean, no score term, log-probabilities not
    weighted by the losses, the loss weight not detached, no gradient for the loss itself,
    and a result that is not a scalar or not a tensor.

    Args:
        fn: the student's function ``fn(probs, loss) -> 0-d tensor``.

    Returns:
        A :class:`~relaxlib.exercises.core.Feedback`.
    """
    exercise = "REINFORCE surrogate"
    ctx = CheckContext(exercise, 0.0, 0.0)
    value_is_mean = True
    for probs, losses, label in _surrogate_cases():
        p = probs.clone().requires_grad_(True)
        ell = losses.clone().requires_grad_(True)
        out, verdict = call_safely(fn, (p, ell), ctx, label)
        if verdict is not None:
            return verdict
        if not isinstance(out, torch.Tensor):
            return Feedback(
                exercise,
                INCORRECT,
                f"return a torch.Tensor, not {type(out).__name__} (for {label} you returned "
                f"{fmt(out)}); a Python number cannot carry a gradient.",
                "not a tensor",
            )
        if out.numel() != 1:
            return Feedback(
                exercise,
                INCORRECT,
                f"return one number (a 0-d tensor) to call .backward() on; for {label} yours "
                f"has shape {tuple(out.shape)}. Average over the samples with .mean().",
                "not a scalar",
            )
        if not out.requires_grad:
            return Feedback(
                exercise,
                INCORRECT,
                "no gradient flows back from your result: keep log p and the loss as torch "
                "operations on the inputs (no .item(), numpy or detaching everything).",
                "no gradient",
            )
        gp, gl = torch.autograd.grad(out.sum(), (p, ell), allow_unused=True)
        gp = torch.zeros_like(probs) if gp is None else gp.detach()
        gl = torch.zeros_like(losses) if gl is None else gl.detach()
        tol = dict(atol=1e-5, rtol=1e-4)
        m = probs.shape[0]
        want_p, want_l = losses / (m * probs), torch.full_like(losses, 1.0 / m)
        for name, grad, wanted, mistakes in (
            ("probs", gp, want_p, _probs_mistakes()),
            ("loss", gl, want_l, _loss_mistakes()),
        ):
            if torch.allclose(grad, wanted, **tol):
                continue
            for mistake, model, message in mistakes:
                if torch.allclose(grad, model(probs, losses).to(grad.dtype), **tol):
                    return Feedback(exercise, INCORRECT, message.replace("{case}", label), mistake)
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} the gradient with respect to {name} should be {fmt(wanted)}, "
                f"but yours is {fmt(grad)}.",
                f"wrong gradient ({name})",
            )
        value_is_mean &= bool(
            torch.allclose(out.detach().reshape(()), losses.mean().to(out.dtype), **tol)
        )
    note = (
        " Its value is also the mean loss, like rl.reinforce_surrogate's."
        if value_is_mean
        else " (Its value is not the mean loss; that is fine for the gradient, but "
        "rl.reinforce_surrogate also makes the value the mean loss, handy for logging.)"
    )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(_surrogate_cases())} checks passed: the gradients are REINFORCE's."
        + note
        + " Well done!",
    )


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


def check_loo_baseline(fn: Callable) -> Feedback:
    r"""Check ``fn(loss)`` = the leave-one-out baseline along dim 0 (see
    :func:`reference_loo_baseline`).

    Recognised mistakes: the mean of all samples (sample :math:`i` included, which biases the
    estimate), dividing by :math:`m` instead of :math:`m - 1`, not dividing at all, the mean
    over the wrong dimension, returning :math:`\mathcal L_i - b_i` (the centred loss), and
    returning :math:`\mathcal L_i` itself.

    Args:
        fn: the student's function ``fn(loss) -> tensor`` of the shape of ``loss``.

    Returns:
        A :class:`~relaxlib.exercises.core.Feedback`.
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
    return check_function(
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


# --------------------------------------------------------------------------------------
# Exercise 3: the exact variance with a constant baseline
# --------------------------------------------------------------------------------------


def reference_baseline_variance(theta, t, c):
    r"""Exact variance of one sample's REINFORCE estimate on the Bernoulli toy with a constant
    baseline :math:`c`: :math:`((1-t)^2 - c)^2/\theta + (t^2 - c)^2/(1 - \theta) - (1 - 2t)^2`
    (as :func:`relaxlib.toys.reinforce.per_sample_variance`).
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
        A :class:`~relaxlib.exercises.core.Feedback`.
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
