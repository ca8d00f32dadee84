"""Exercise checkers of chapter 10: which entries sparsemax sets to zero (a prediction,
then the run), and the sparsemax Jacobian-vector product (the backward pass).

Each checker lists the wrong answers it recognises as data, (answer, name, message), so
that a new mistake is one more entry.
"""

from __future__ import annotations

from typing import Callable, Optional

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
from .problems import sparsemax_by_sorting

__all__ = [
    "ZEROS_X",
    "reference_zero_entries",
    "check_zero_entries",
    "reference_sparsemax_jvp",
    "check_sparsemax_jvp",
]

# --------------------------------------------------------------------------------------
# Exercise: predict the exact zeros of sparsemax
# --------------------------------------------------------------------------------------

#: The vector of the prediction exercise (its sparsemax at T = 1 is [0, 0.7, 0.3, 0, 0, 0]).
ZEROS_X = (0.5, 2.0, 1.6, -0.3, 1.2, 0.9)


def reference_zero_entries() -> set:
    """The indices where sparsemax(ZEROS_X) at T = 1 is exactly 0."""
    p = sparsemax_by_sorting(torch.tensor(ZEROS_X, dtype=torch.float64))
    return {i for i, v in enumerate(p.tolist()) if v == 0}


# (the zero set a mistake gives, its name, the explanation)
_ZERO_MISTAKES = (
    (
        set(),
        "softmax's answer",
        "no entry is zero under softmax, but sparsemax subtracts a threshold tau and "
        "clips at 0, so every entry at or below tau is exactly 0.",
    ),
    (
        {3},
        "threshold at 0",
        "you zeroed the negative entry only: the clip is at z_i - tau, not at z_i, and "
        "tau is not 0 here. Find tau first: sort, and grow the support while "
        "1 + k z_(k) > z_(1) + ... + z_(k).",
    ),
    (
        {0, 3},
        "threshold from all entries",
        "you kept four entries. That is tau = (sum of all six - 1) / 6 = 0.82, which "
        "assumes every entry is in the support; with it the kept weights sum to more "
        "than 1 (the four entries give [z - 0.82]_+ summing to 2.43). Grow the support "
        "from the largest entry while 1 + k z_(k) > z_(1) + ... + z_(k). (Four nonzero "
        "entries is what 1.5-entmax gives here, not sparsemax.)",
    ),
    (
        {0, 3, 5},
        "one entry too many",
        "you kept three entries, 2.0, 1.6 and 1.2. With those three, tau = "
        "(2.0 + 1.6 + 1.2 - 1) / 3 = 1.27, which is above 1.2: the third would get a "
        "negative weight, so the support stops at two (1 + 3 * 1.2 = 4.6 is not above "
        "4.8).",
    ),
    (
        {0, 2, 3, 4, 5},
        "arg max only",
        "you kept only the arg max. At T = 1 the gap between 2.0 and 1.6 is 0.4, less "
        "than 1, so the second entry stays in: 1 + 2 * 1.6 = 4.2 > 2.0 + 1.6 = 3.6. "
        "Sparsemax becomes one-hot only once every gap to the top is at least T.",
    ),
)


def _as_index_set(out) -> Optional[set]:
    if isinstance(out, torch.Tensor):
        out = out.tolist()
    if isinstance(out, int):
        out = [out]
    try:
        items = list(out)
    except TypeError:
        return None
    if len(items) == len(ZEROS_X) and all(isinstance(v, bool) for v in items):
        return {i for i, v in enumerate(items) if v}  # a mask of the zeros
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return None
    return set(items)


def check_zero_entries(fn: Callable) -> Feedback:
    """Check a prediction of which entries of sparsemax(ZEROS_X) at T = 1 are exactly 0.

    ``fn()`` returns the indices (0-based) of the entries predicted to be zero: a set,
    list, tuple or integer tensor (or a boolean mask of length 6). The feedback then shows
    the values sparsemax gives; a wrong prediction is explained by the first recognised
    mistake (softmax's answer, a threshold at 0, a threshold from all entries, one entry
    too many, the arg max only).

    Args:
        fn: the student's function ``fn() -> indices``.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Martins & Astudillo, ICML 2016 (the sorting algorithm for the threshold).
    """
    exercise = "exact zeros of sparsemax"
    label = "x = [" + ", ".join(f"{v:g}" for v in ZEROS_X) + "], T = 1"
    out, verdict = call_safely(fn, (), CheckContext(exercise, 0.0, 0.0), label)
    if verdict is not None:
        return verdict
    predicted = _as_index_set(out)
    if predicted is None or not predicted <= set(range(len(ZEROS_X))):
        return Feedback(
            exercise,
            INCORRECT,
            "return the indices of the zero entries, e.g. {0, 5} (0-based, from 0 to "
            f"{len(ZEROS_X) - 1}); you returned {fmt(out)}.",
            "not indices",
        )
    truth = reference_zero_entries()
    p = sparsemax_by_sorting(torch.tensor(ZEROS_X, dtype=torch.float64))
    ran = f" Running it: sparsemax(x) = {fmt(p)}."
    if predicted == truth:
        return Feedback(
            exercise,
            CORRECT,
            f"right: entries {sorted(truth)} are exactly 0. The support is the two largest "
            "entries, tau = (2.0 + 1.6 - 1) / 2 = 1.3, and everything at or below 1.3 is "
            "clipped." + ran,
        )
    for zeros, name, message in _ZERO_MISTAKES:
        if predicted == zeros:
            return Feedback(exercise, INCORRECT, message + ran, name)
    return Feedback(
        exercise,
        INCORRECT,
        f"you predicted zeros at {sorted(predicted)}; the zeros are at {sorted(truth)}." + ran,
    )


# --------------------------------------------------------------------------------------
# Exercise: the sparsemax Jacobian-vector product
# --------------------------------------------------------------------------------------


def reference_sparsemax_jvp(p, v, temperature=1.0):
    r"""The product :math:`J v` of sparsemax's Jacobian at ``p = sparsemax(x / T)``.

    :math:`J = (\operatorname{diag}(s) - s s^\top / |S|) / T` with :math:`s` the indicator
    of the support :math:`S = \{i : p_i > 0\}`, so :math:`J v = s \odot (v - \bar v_S) / T`,
    :math:`\bar v_S` the mean of ``v`` over the support; along the last dimension, any
    batch shape. Also the vector-Jacobian product (``J`` is symmetric).

    Reference: Martins & Astudillo, ICML 2016 (the Jacobian of sparsemax).
    """
    s = (p > 0).to(v.dtype)
    mean_on_support = (s * v).sum(-1, keepdim=True) / s.sum(-1, keepdim=True)
    return s * (v - mean_on_support) / temperature


def _support(p, v):
    return (p > 0).to(v.dtype)


def _mean_s(p, v):
    s = _support(p, v)
    return (s * v).sum(-1, keepdim=True) / s.sum(-1, keepdim=True)


_JVP_MISTAKES = (
    Mistake(
        "softmax's Jacobian",
        lambda p, v, t=1.0: p * (v - (p * v).sum(-1, keepdim=True)) / t,
        "for {case} you return p * (v - p.v) / T: that is softmax's Jacobian "
        "(diag(p) - p p^T) / T applied to v. Sparsemax's is (diag(s) - s s^T / |S|) / T, "
        "with s = (p > 0) the indicator of the support, not p itself.",
    ),
    Mistake(
        "p for s",
        lambda p, v, t=1.0: p * (v - _mean_s(p, v)) / t,
        "for {case} you multiply by p where the Jacobian has the indicator s = (p > 0): "
        "on its support sparsemax is z - tau, whose slope is 1 whatever the value of p_i.",
    ),
    Mistake(
        "mean over all entries",
        lambda p, v, t=1.0: _support(p, v) * (v - v.mean(-1, keepdim=True)) / t,
        "for {case} you subtract the mean of v over all entries; the mean must be taken "
        "over the support only, sum(s * v) / sum(s), because tau depends only on the "
        "entries in the support.",
    ),
    Mistake(
        "no mask",
        lambda p, v, t=1.0: (v - _mean_s(p, v)) / t,
        "for {case} the entries outside the support are not zero. Off the support the "
        "output is clipped at 0 whatever the logits do, so those rows of J are zero: "
        "multiply by s = (p > 0).",
    ),
    Mistake(
        "no temperature",
        lambda p, v, t=1.0: _support(p, v) * (v - _mean_s(p, v)),
        "for {case} the direction is right but the size is T times too large: p is "
        "sparsemax(x / T), so the chain rule divides by T.",
    ),
    Mistake(
        "times the temperature",
        lambda p, v, t=1.0: _support(p, v) * (v - _mean_s(p, v)) * t,
        "for {case} you multiply by T; the chain rule through z = x / T divides by it.",
    ),
)


def _jvp_cases():
    x = torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=torch.float64)
    v = torch.tensor([0.3, -1.0, 2.0, 0.5], dtype=torch.float64)
    g = torch.Generator().manual_seed(10)
    xb = 2 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    vb = torch.randn(3, 5, generator=g, dtype=torch.float64)
    x32, v32 = xb[:, :4].float(), vb[:, :4].float()
    cases = []
    for xs, vs, t, label in [
        (x, v, 2.0, "x = [1.1, 4, -0.1, 2.3], T = 2, v = [0.3, -1, 2, 0.5]"),
        (x, v, 8.0, "x = [1.1, 4, -0.1, 2.3], T = 8, v = [0.3, -1, 2, 0.5]"),
        (xb, vb, 1.0, "a batch of 3 rows of 5 entries, T = 1"),
        (x32, v32, 0.5, "a float32 batch of 3 rows of 4 entries, T = 0.5"),
    ]:
        cases.append(Case((sparsemax_by_sorting(xs, t), vs, t), label, grad=False))
    return cases


def check_sparsemax_jvp(fn: Callable) -> Feedback:
    r"""Check ``fn(p, v, temperature)``: sparsemax's Jacobian times ``v`` at ``p``.

    ``p = sparsemax(x / T)`` along the last dimension (any batch shape); the answer is
    :math:`s \odot (v - \bar v_S) / T`. Tried on the lecture's logits at two temperatures,
    a batch, and float32. Recognised mistakes: softmax's Jacobian, ``p`` in place of the
    indicator ``s``, the mean over all entries, no mask off the support, the temperature
    forgotten or multiplied.

    Args:
        fn: the student's function.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Martins & Astudillo, ICML 2016.
    """
    feedback = check_function(
        fn,
        exercise="sparsemax JVP",
        reference=reference_sparsemax_jvp,
        cases=_jvp_cases(),
        mistakes=_JVP_MISTAKES,
        atol=1e-5,
        rtol=1e-4,
    )
    if feedback.status == CORRECT:
        return Feedback(
            feedback.exercise,
            CORRECT,
            "all 4 checks passed: s * (v - mean of v on the support) / T, in a batch and in "
            "float32. No matrix was needed: the backward pass of sparsemax costs O(N).",
        )
    return feedback
