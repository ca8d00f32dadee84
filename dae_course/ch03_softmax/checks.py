"""Exercise checkers of chapter 3 (softmax relaxes arg max): soft arg max, soft max, the
temperature that meets a tolerance, and a prediction of the four limits as T -> 0 and T -> inf.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

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

__all__ = [
    "check_soft_argmax",
    "check_soft_max",
    "reference_temperature_for_tolerance",
    "check_temperature_for_tolerance",
    "PREDICTION_X",
    "check_limit_predictions",
]


_LECTURE_X = (1.1, 4.0, -0.1, 2.3)


def _lecture_x() -> torch.Tensor:
    return torch.tensor(_LECTURE_X)


def _batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randn(3, 5, generator=g) * 2


def _idx(x: torch.Tensor, start: int = 0) -> torch.Tensor:
    n = x.shape[-1]
    return torch.arange(start, start + n, dtype=x.dtype)


def _softmax_cases(name: str) -> list:
    """Inputs for soft arg max / soft max: lecture vector at T != 1 first, then a batch."""
    x = _lecture_x()
    xs = "x = [1.1, 4.0, -0.1, 2.3]"
    return [
        Case((x, 0.5), f"{xs}, T = 0.5"),
        Case((x, 1.0), f"{xs}, T = 1"),
        Case((x, 2.0), f"{xs}, T = 2"),
        Case((torch.tensor([3.0, -1.0, 0.5]), 0.3), "x = [3.0, -1.0, 0.5], T = 0.3"),
        Case((_batch(), 0.7), "a batch x of shape (3, 5) (one row per example), T = 0.7"),
    ]


def _sm(x, t, dim=-1):
    return torch.softmax(x / t, dim=dim)


def check_soft_argmax(fn: Callable) -> Feedback:
    """Check ``fn(x, temperature)`` = soft arg max of ``x`` along its last dimension.

    The expected answer is :func:`relaxlib.soft_argmax`: ``softmax(x / T) @ [0, 1, ..., N-1]``,
    a float tensor with the last dimension removed (shape ``x.shape[:-1]``), differentiable.
    Recognised mistakes: the temperature ignored or multiplied, indices ``1..N``, the
    probabilities returned instead of the index, the softmax normalised over the wrong
    dimension, the sum taken over the wrong dimension, no normalisation, a hard
    ``torch.argmax`` (no gradient).

    Args:
        fn: the student's function ``fn(x, temperature) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    import relaxlib as rl

    mistakes = [
        Mistake(
            "probabilities",
            lambda x, t: _sm(x, t),
            "you returned the probabilities softmax(x/T); the soft arg max is one number "
            "per row: their dot product with the indices [0, 1, ..., N-1].",
        ),
        Mistake(
            "hard argmax",
            lambda x, t: torch.argmax(x, -1).to(x.dtype),
            "these are the hard arg max indices: right only as T -> 0, and torch.argmax "
            "has no gradient. Weight the indices by softmax(x/T) instead.",
        ),
        Mistake(
            "ignored temperature",
            lambda x, t: _sm(x, 1.0) @ _idx(x),
            "the temperature is ignored ({case}): your result equals the one for T = 1. "
            "Divide the logits by T before the softmax.",
        ),
        Mistake(
            "multiplied by temperature",
            lambda x, t: _sm(x * t, 1.0) @ _idx(x),
            "you multiplied the logits by T; divide them: softmax(x / T).",
        ),
        Mistake(
            "divided after softmax",
            lambda x, t: (torch.softmax(x, -1) / t) @ _idx(x),
            "you divided the probabilities by T after the softmax; divide the logits "
            "before it: softmax(x / T).",
        ),
        Mistake(
            "indices from 1",
            lambda x, t: _sm(x, t) @ _idx(x, 1),
            "your answer is exactly 1 too large: Python indices start at 0, so use "
            "[0, 1, ..., N-1] (torch.arange(N)), not [1, ..., N].",
        ),
        Mistake(
            "softmax over wrong dim",
            lambda x, t: _sm(x, t, 0) @ _idx(x),
            "the softmax is taken over the wrong dimension ({case}): normalise along the "
            "last dimension (dim=-1), which indexes the categories; dim=0 mixes the rows.",
        ),
        Mistake(
            "sum over wrong dim",
            lambda x, t: (_sm(x, t) * _idx(x)).sum(0),
            "the weighted sum runs over the wrong dimension ({case}): reduce over the last "
            "dimension (dim=-1), giving one index per row.",
        ),
        Mistake(
            "not normalised",
            lambda x, t: torch.exp(x / t) @ _idx(x),
            "the weights exp(x/T) are not normalised; divide by their sum (that is what "
            "softmax does).",
        ),
    ]
    return check_function(
        fn,
        exercise="soft arg max",
        reference=lambda x, t: rl.soft_argmax(x, t),
        cases=_softmax_cases("soft arg max"),
        mistakes=mistakes,
        integer_message="your function returns integer indices (torch.argmax?). That is the "
        "hard arg max: right only as T -> 0 and without any gradient. Weight the indices "
        "[0, ..., N-1] by softmax(x/T) instead.",
    )


def check_soft_max(fn: Callable) -> Feedback:
    """Check ``fn(x, temperature)`` = soft max value of ``x`` along its last dimension.

    The expected answer is :func:`relaxlib.soft_max`: ``softmax(x / T) @ x`` (per row for a
    batch). Recognised mistakes: the temperature ignored or multiplied, the probabilities or
    the soft arg max returned, a dot product with ``x / T`` instead of ``x``, the log-sum-exp
    smooth maximum, the hard maximum, the softmax over the wrong dimension, no normalisation.

    Args:
        fn: the student's function ``fn(x, temperature) -> tensor``.

    Returns:
        A :class:`Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    import relaxlib as rl

    def dot(p, x):
        return (p * x).sum(-1)

    mistakes = [
        Mistake(
            "probabilities",
            lambda x, t: _sm(x, t),
            "you returned the probabilities softmax(x/T); the soft max is one value per "
            "row: their dot product with x itself.",
        ),
        Mistake(
            "soft argmax",
            lambda x, t: _sm(x, t) @ _idx(x),
            "that is the soft arg max (weights times the indices); for the soft max, "
            "weight the values x instead of the indices.",
        ),
        Mistake(
            "hard max",
            lambda x, t: x.max(-1).values,
            "that is the hard maximum x.max(): right only as T -> 0, and its gradient "
            "reaches the largest entry alone. Weight x by softmax(x/T).",
        ),
        Mistake(
            "logsumexp",
            lambda x, t: t * torch.logsumexp(x / t, -1),
            "that is T * logsumexp(x / T), the log-sum-exp smooth maximum: also a "
            "relaxation of max (an upper bound on it), but not the one asked for here, "
            "softmax(x/T) . x (which stays below the max).",
        ),
        Mistake(
            "ignored temperature",
            lambda x, t: dot(_sm(x, 1.0), x),
            "the temperature is ignored ({case}): your result equals the one for T = 1. "
            "Divide the logits by T inside the softmax.",
        ),
        Mistake(
            "multiplied by temperature",
            lambda x, t: dot(_sm(x * t, 1.0), x),
            "you multiplied the logits by T; divide them: softmax(x / T).",
        ),
        Mistake(
            "dot with x/T",
            lambda x, t: dot(_sm(x, t), x / t),
            "you took the dot product with x / T; the temperature belongs inside the "
            "softmax only, the values weighted are x themselves.",
        ),
        Mistake(
            "softmax over wrong dim",
            lambda x, t: dot(_sm(x, t, 0), x),
            "the softmax is taken over the wrong dimension ({case}): normalise along the "
            "last dimension (dim=-1); dim=0 mixes the rows.",
        ),
        Mistake(
            "sum over wrong dim",
            lambda x, t: (_sm(x, t) * x).sum(0),
            "the weighted sum runs over the wrong dimension ({case}): reduce over the last "
            "dimension (dim=-1), giving one value per row.",
        ),
        Mistake(
            "not normalised",
            lambda x, t: dot(torch.exp(x / t), x),
            "the weights exp(x/T) are not normalised; divide by their sum (softmax).",
        ),
    ]
    return check_function(
        fn,
        exercise="soft max",
        reference=lambda x, t: rl.soft_max(x, t),
        cases=_softmax_cases("soft max"),
        mistakes=mistakes,
    )


def _tolerance_error(x: torch.Tensor, temperature: float) -> float:
    import relaxlib as rl

    x = x.double()
    return abs(float(rl.soft_argmax(x, temperature)) - float(x.argmax()))


def reference_temperature_for_tolerance(x: torch.Tensor, tol: float) -> float:
    """The largest ``T`` with ``|soft_argmax(x, T) - argmax(x)| <= tol``, by bisection on log T.

    Assumes the error grows with ``T`` (true for the inputs the checker uses; not for every
    ``x``). Searches ``T`` in ``[1e-4, 1e4]`` in float64.

    Args:
        x: a 1-d floating tensor with a unique maximum.
        tol: the tolerance, > 0.

    Returns:
        The temperature, a Python float.
    """
    lo, hi = math.log(1e-4), math.log(1e4)
    if _tolerance_error(x, math.exp(hi)) <= tol:
        return math.exp(hi)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if _tolerance_error(x, math.exp(mid)) <= tol:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


def check_temperature_for_tolerance(fn: Callable) -> Feedback:
    """Check ``fn(x, tol)``: (nearly) the largest ``T`` whose soft arg max is within ``tol``.

    Accepted: a positive finite number ``T`` with ``|soft_argmax(x, T) - argmax(x)| <= tol``
    and ``T`` at least 95 % of the largest such temperature (see
    :func:`reference_temperature_for_tolerance`). Feedback says whether an answer is too warm
    (the error exceeds ``tol``) or needlessly cold, and recognises the error returned instead
    of the temperature.

    Args:
        fn: the student's function ``fn(x, tol) -> float`` (a 0-d tensor is accepted).

    Returns:
        A :class:`Feedback`.
    """
    exercise = "temperature for a tolerance"
    ctx = CheckContext(exercise, 0.0, 0.0)
    cases = [
        (_lecture_x(), 0.01, "x = [1.1, 4.0, -0.1, 2.3], tol = 0.01"),
        (_lecture_x(), 0.1, "x = [1.1, 4.0, -0.1, 2.3], tol = 0.1"),
        (torch.tensor([0.2, -0.5, 1.0]), 0.001, "x = [0.2, -0.5, 1.0], tol = 0.001"),
        (
            torch.tensor([2.0, 0.0, 1.5, -1.0, 0.5]),
            0.05,
            "x = [2.0, 0.0, 1.5, -1.0, 0.5], tol = 0.05",
        ),
    ]
    for x, tol, label in cases:
        t, verdict = call_for_number(fn, (x.clone(), tol), ctx, label, "the temperature")
        if verdict is not None:
            return verdict
        if not math.isfinite(t) or t <= 0:
            return Feedback(
                exercise,
                INCORRECT,
                f"a temperature must be finite and > 0; for {label} you returned "
                f"{t:.4g}. (Searching over log T? Return exp of it.)",
                "not positive",
            )
        best = reference_temperature_for_tolerance(x, tol)
        err = _tolerance_error(x, t)
        if math.isclose(t, tol, rel_tol=1e-3):
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} you returned {t:.4g}, which is the tolerance (the "
                "error at the answer), not a temperature. Return T.",
                "returned error",
            )
        if err > tol * (1 + 1e-6):
            return Feedback(
                exercise,
                INCORRECT,
                f"too warm: for {label}, T = {t:.4g} gives |soft arg max - arg max|"
                f" = {err:.4g} > tol. Lower the temperature.",
                "too warm",
            )
        if t < 0.95 * best:
            return Feedback(
                exercise,
                INCORRECT,
                f"within tolerance, but needlessly cold: for {label} a temperature "
                f"more than 5% above your T = {t:.4g} also works. Search for the "
                "largest one (bisection on log T works well).",
                "too cold",
            )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(cases)} checks passed: each T is within 5% of the largest "
        "temperature that meets the tolerance. Well done!",
    )


# --------------------------------------------------------------------------------------
# Predict, then run: the limits of the soft arg max and the soft max
# --------------------------------------------------------------------------------------

#: The vector whose limits the student predicts (largest entry first, N = 5).
PREDICTION_X = (3.5, 0.5, -1.5, 2.5, 1.0)
_COLD, _HOT = 1e-3, 1e3  # the temperatures at which the check "runs" the relaxations
_KEYS = ("soft arg max, T -> 0", "soft arg max, T -> inf", "soft max, T -> 0", "soft max, T -> inf")


def _limits(x: torch.Tensor) -> dict:
    n = x.numel()
    return dict(zip(_KEYS, (float(x.argmax()), (n - 1) / 2, float(x.max()), float(x.mean()))))


def _limit_mistakes(x: torch.Tensor) -> list:
    """(key, wrong value, name, message): the predictions that a known confusion gives."""
    n, k = x.numel(), int(x.argmax())
    mean, top, middle = float(x.mean()), float(x.max()), (n - 1) / 2
    median = float(x.median())
    cold_sam, hot_sam, cold_sm, hot_sm = _KEYS
    return [
        (
            cold_sam,
            top,
            "value for position",
            f"{top:g} is the largest value; the soft arg max returns its position, {k}.",
        ),
        (
            cold_sam,
            k + 1.0,
            "positions from 1",
            f"positions count from 0 (as in Python): the largest entry sits at index {k}.",
        ),
        (
            hot_sam,
            mean,
            "mean of the values",
            f"{mean:g} is the mean of the values, the soft max's hot limit. The soft arg max "
            f"averages the positions 0, 1, ..., N-1 with equal weights: (N-1)/2 = {middle:g}.",
        ),
        (
            hot_sam,
            n / 2,
            "N/2",
            f"the average of the positions 0, 1, ..., N-1 is (N-1)/2 = {middle:g}, not N/2.",
        ),
        (
            hot_sam,
            (n + 1) / 2,
            "positions from 1",
            f"that is the average of 1, ..., N; the positions run from 0 to N-1, so their "
            f"average is (N-1)/2 = {middle:g}.",
        ),
        (
            hot_sam,
            float(k),
            "stays at the arg max",
            f"{k} is the cold limit. As T grows the weights spread out evenly (they never "
            f"vanish: they sum to 1), so the soft arg max tends to the middle position "
            f"(N-1)/2 = {middle:g}, whatever the values of x.",
        ),
        (
            hot_sam,
            1 / n,
            "a weight, not the average",
            f"1/N = {1 / n:g} is each weight in the limit; the soft arg max is the "
            f"weighted average of the positions, (N-1)/2 = {middle:g}.",
        ),
        (
            cold_sm,
            float(k),
            "position for value",
            f"{k} is the position of the largest entry; the soft max returns its value, {top:g}.",
        ),
        (
            hot_sm,
            middle,
            "mean of the positions",
            f"(N-1)/2 = {middle:g} is the soft arg max's hot limit; the soft max averages the "
            f"values of x: their mean, {mean:g}.",
        ),
        (
            hot_sm,
            top,
            "stays at the max",
            f"{top:g} is the cold limit. As T grows the weights become equal, 1/N each, and "
            f"the soft max tends to the plain mean of x, {mean:g}.",
        ),
        (
            hot_sm,
            median,
            "median",
            f"{median:g} is the median; equal weights give the mean, {mean:g}.",
        ),
        (
            hot_sm,
            1 / n,
            "a weight, not the average",
            f"1/N = {1 / n:g} is each weight in the limit; the soft max is the weighted "
            f"average of the values, their mean {mean:g}.",
        ),
        (
            hot_sm,
            0.0,
            "vanishes",
            f"the weights tend to 1/N each, not to 0 (they always sum to 1), so the soft max "
            f"tends to the mean of x, {mean:g}.",
        ),
    ]


def _revealed(x: torch.Tensor) -> str:
    import relaxlib as rl

    parts = []
    for t in (_COLD, _HOT):
        parts.append(
            f"at T = {t:g} the soft arg max is {float(rl.soft_argmax(x, t)):.4f} and the "
            f"soft max {float(rl.soft_max(x, t)):.4f}"
        )
    return "; ".join(parts)


def check_limit_predictions(fn: Callable, tol: float = 0.01) -> Feedback:
    r"""Check predicted limits of the soft arg max and the soft max of :data:`PREDICTION_X`.

    ``fn()`` returns a dict with the four keys ``"soft arg max, T -> 0"``,
    ``"soft arg max, T -> inf"``, ``"soft max, T -> 0"`` and ``"soft max, T -> inf"``, each a
    number worked out by hand. The truth: the arg max position and the max value as
    :math:`T \to 0`, the middle position :math:`(N-1)/2` and the mean of ``x`` as
    :math:`T \to \infty`; a prediction within ``tol`` of it passes. The feedback then
    "runs" both relaxations at :math:`T = 10^{-3}` and :math:`T = 10^{3}` and shows the
    values. A wrong prediction is explained by the first confusion (see
    ``_limit_mistakes``) that reproduces it, such as the mean of the values for the soft arg
    max's hot limit, positions counted from 1, or a cold limit kept for the hot one.

    Args:
        fn: the student's function ``fn() -> dict``.
        tol: how close a prediction must be.

    Returns:
        A :class:`Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture).
    """
    exercise = "limits"
    x = torch.tensor(PREDICTION_X, dtype=torch.float64)
    label = "x = [" + ", ".join(f"{v:g}" for v in PREDICTION_X) + "]"
    out, verdict = call_safely(fn, (), CheckContext(exercise, tol, 0.0), label)
    if verdict is not None:
        return verdict
    if not isinstance(out, dict) or set(out) != set(_KEYS):
        return Feedback(
            exercise,
            INCORRECT,
            "return a dict with exactly the four keys "
            + ", ".join(repr(k) for k in _KEYS)
            + f"; you returned {fmt(out)}.",
            "not the four keys",
        )
    try:
        predicted = {key: float(out[key]) for key in _KEYS}
    except (TypeError, ValueError, RuntimeError):
        return Feedback(exercise, INCORRECT, "each prediction must be one number.", "not a number")
    truth, ran = _limits(x), _revealed(x)
    wrong = [key for key in _KEYS if not abs(predicted[key] - truth[key]) <= tol]
    if not wrong:
        return Feedback(
            exercise,
            CORRECT,
            f"all four predictions right. Running them: {ran}. Cold, the position and the "
            "value of the largest entry; hot, the middle position (N-1)/2, which depends on "
            "N alone, and the mean of x.",
        )
    key = wrong[0]
    summary = f"{4 - len(wrong)} of 4 right. For {key} ({label}) you predicted {predicted[key]:g}: "
    for mistake_key, value, name, message in _limit_mistakes(x):
        if mistake_key == key and abs(predicted[key] - value) <= tol:
            return Feedback(exercise, INCORRECT, summary + message + f" Running it: {ran}.", name)
    why = (
        "all the weight goes to the largest entry"
        if key.endswith("0")
        else ("the weights become equal, 1/N each")
    )
    return Feedback(
        exercise,
        INCORRECT,
        summary + f"the limit is {truth[key]:g} ({why}). Running it: {ran}.",
    )
