"""Exercise checkers of chapter 7: Gumbel noise from uniforms, the straight-through arg max,
the straight-through Gumbel-softmax, and the cold limit of the straight-through estimator
(a derivation whose result is checked).

The straight-through checkers compare values first (with
:func:`dae_course.checking.check_function`) and
then gradients with their own stage: the gradient is taken of ``(output * w).sum()`` for
fixed random weights ``w`` (the plain sum of a softmax is constant, so its gradient says
nothing), and a wrong gradient is matched against known mistakes (the stop-gradient on the
wrong term, forgotten, the noise-free probabilities of PyTorch's
``OneHotCategoricalStraightThrough``, ...).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

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
    "reference_gumbel_noise",
    "check_gumbel_noise",
    "check_st_argmax",
    "check_st_gumbel_softmax",
    "reference_st_cold_limit",
    "check_st_cold_limit",
]


# --------------------------------------------------------------------------------------
# Exercise: Gumbel noise from uniform noise
# --------------------------------------------------------------------------------------


def reference_gumbel_noise(u: torch.Tensor) -> torch.Tensor:
    r"""Gumbel(0, 1) noise from uniforms: :math:`g = -\log(-\log u)`, with :math:`u` clamped.

    :math:`u` is first clamped to :math:`[\text{tiny}, 1 - \varepsilon]` of its dtype
    (``torch.finfo``), so :math:`u = 0` and :math:`u = 1` give finite values (about
    :math:`-4.5` and :math:`15.9` in float32) instead of :math:`\mp\infty`.

    Args:
        u: floating tensor of numbers in :math:`[0, 1]`.

    Returns:
        Tensor of the shape and dtype of ``u``.

    Reference: Gumbel 1954; Jang, Gu & Poole, ICLR 2017 (the sampling formula).
    """
    info = torch.finfo(u.dtype)
    u = u.clamp(info.tiny, 1 - info.eps)
    return -torch.log(-torch.log(u))


def _close(out, expected, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        return False
    if not out.is_floating_point():
        return False
    a, b = out.detach().double().cpu(), expected.detach().double().cpu()
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _probe(fn: Callable, u: torch.Tensor) -> Optional[torch.Tensor]:
    try:
        out = fn(u.clone())
    except Exception:  # noqa: BLE001 - a probe that fails recognises nothing
        return None
    return out if isinstance(out, torch.Tensor) else None


_INTERIOR = (
    (
        torch.tensor([1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6], dtype=torch.float64),
        "u = [1e-06, 0.01, 0.2, 0.5, 0.8, 0.99, 0.999999] (float64)",
    ),
    (
        torch.tensor([1e-4, 0.3, 0.7, 0.9999], dtype=torch.float32),
        "u = [0.0001, 0.3, 0.7, 0.9999] (float32)",
    ),
    (
        torch.tensor([[0.1, 0.6, 0.35], [0.9, 0.05, 0.5]], dtype=torch.float32),
        "u of shape (2, 3) (float32)",
    ),
)

_EDGES = (
    (torch.tensor([0.0, 0.5, 1.0], dtype=torch.float32), "u = [0, 0.5, 1] (float32)"),
    (torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), "u = [0, 0.5, 1] (float64)"),
)


def check_gumbel_noise(fn: Callable) -> Feedback:
    r"""Check ``fn(u)``: Gumbel(0, 1) noise :math:`-\log(-\log u)` from uniforms, always finite.

    Inside :math:`(0, 1)` the values must equal :math:`-\log(-\log u)` (relative tolerance
    :math:`10^{-4}`, inputs from :math:`10^{-6}` to :math:`1 - 10^{-6}`), with the shape and
    dtype of ``u``; at :math:`u = 0` and :math:`u = 1` they must be finite, of moderate size
    and in increasing order (clamp ``u`` first). Recognised mistakes: the sign error
    :math:`-\log(-\log(-u))` and :math:`-\log(\log u)` (both take the log of a negative
    number: NaN), the negated noise :math:`\log(-\log u)`, the exponential
    :math:`-\log u` (one log too few), :math:`1 - u` in place of :math:`u`, clamping so far
    that ordinary inputs change, and no clamping (infinities at 0 or 1).

    Args:
        fn: the student's function ``fn(u) -> tensor``.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Gumbel 1954; PyTorch issues #22442 and #22557 (NaN from an unguarded log).
    """
    exercise = "Gumbel noise"
    ctx = CheckContext(exercise, 0.0, 0.0)
    for u, label in _INTERIOR:
        arg = u.clone()
        out, verdict = call_safely(fn, (arg,), ctx, label)
        if verdict is not None:
            return verdict
        if not torch.equal(arg, u):
            return Feedback(
                exercise,
                INCORRECT,
                f"your function changed its input in place for {label}; use out-of-place "
                "operations (u.clamp(...), not u.clamp_(...)).",
                "modified input",
            )
        if not isinstance(out, torch.Tensor):
            return Feedback(
                exercise,
                INCORRECT,
                f"return a torch.Tensor, not {type(out).__name__} (for {label}).",
                "not a tensor",
            )
        if out.shape != u.shape:
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} the noise should have the shape of u, {tuple(u.shape)}, but "
                f"yours has shape {tuple(out.shape)}: one Gumbel variate per uniform.",
                "wrong shape",
            )
        if not out.is_floating_point():
            return Feedback(
                exercise,
                INCORRECT,
                f"your function returns an integer tensor ({out.dtype}); Gumbel noise is real.",
                "integer output",
            )
        expected = reference_gumbel_noise(u)
        if torch.isnan(out).any():
            return _nan_feedback(fn, u, expected, label, exercise)
        if not _close(out, expected):
            return _value_feedback(out, u, expected, label, exercise)
        if out.dtype != u.dtype:
            return Feedback(
                exercise,
                INCORRECT,
                f"the values are right, but for {label} you return {out.dtype}; return the "
                "noise in the dtype of u (no .double() or torch.tensor(...) on the way).",
                "wrong dtype",
            )
    for u, label in _EDGES:
        arg = u.clone()
        out, verdict = call_safely(fn, (arg,), ctx, label)
        if verdict is not None:
            return verdict
        if not torch.equal(arg, u):
            return Feedback(
                exercise,
                INCORRECT,
                f"your function changed its input in place for {label} (u.clamp_?); clamp "
                "out of place, u = u.clamp(...), so the caller's uniforms stay as they were.",
                "modified input",
            )
        if not isinstance(out, torch.Tensor) or out.shape != u.shape:
            return Feedback(
                exercise, INCORRECT, f"for {label} return a tensor of shape {tuple(u.shape)}."
            )
        if not torch.isfinite(out).all():
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} you return {fmt(out)}: log(0) = -inf, so u = 0 or u = 1 "
                "gives an infinite (or NaN) noise, and one infinite entry turns a whole "
                "Gumbel-softmax sample into NaN. torch.rand can return exactly 0. Clamp u "
                "into [tiny, 1 - eps] of its dtype first: info = torch.finfo(u.dtype); "
                "u = u.clamp(info.tiny, 1 - info.eps).",
                "no clamping",
            )
        if out.abs().max() > 100:
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} you return {fmt(out)}: finite, but far outside the range "
                "of Gumbel noise (replacing infinities by huge numbers, as nan_to_num "
                "does, still overflows (x + g) / T). Clamp u itself instead: "
                "u.clamp(torch.finfo(u.dtype).tiny, 1 - torch.finfo(u.dtype).eps).",
                "huge values",
            )
        if not (out[0] < out[1] < out[2]):
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} you return {fmt(out)}: the noise must increase with u "
                "(small u, very negative g; u near 1, large g). Clamp u rather than "
                "patching the output.",
                "not increasing",
            )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(_INTERIOR) + len(_EDGES)} checks passed: -log(-log u) inside (0, 1), finite "
        "and increasing at u = 0 and u = 1. Well done!",
    )


def _nan_feedback(fn, u, expected, label, exercise) -> Feedback:
    if _close(_probe(fn, -u), expected):
        return Feedback(
            exercise,
            INCORRECT,
            f"NaN for {label}: you wrote -log(-log(-u)). With u in (0, 1), -u is negative and "
            "the log of a negative number is NaN. The minus signs go outside the logs: "
            "-log(-log(u)).",
            "sign error",
        )
    if _close(_probe(fn, 1 / u), expected):
        return Feedback(
            exercise,
            INCORRECT,
            f"NaN for {label}: you wrote -log(log(u)). For u in (0, 1), log(u) < 0, and the "
            "outer log of a negative number is NaN; negate it first: -log(-log(u)).",
            "log of log",
        )
    return Feedback(
        exercise,
        INCORRECT,
        f"your function returns NaN for {label}: somewhere a log gets a negative argument. "
        "For u in (0, 1), log(u) < 0 and -log(u) > 0, so the formula is -log(-log(u)) "
        "(not -log(-log(-u)), not -log(log(u))).",
        "nan",
    )


def _value_feedback(out, u, expected, label, exercise) -> Feedback:
    if _close(out, -expected):
        return Feedback(
            exercise,
            INCORRECT,
            f"your noise is exactly minus the Gumbel noise for {label}: log(-log(u)) is a "
            "reversed (minimum) Gumbel variate. Gumbel-max with it picks arg max(x - g), "
            "whose frequencies are not softmax(x). Negate: -log(-log(u)).",
            "negated",
        )
    if _close(out, -torch.log(u)):
        return Feedback(
            exercise,
            INCORRECT,
            f"for {label} you return -log(u): that is Exponential(1) noise, one log short. "
            "Gumbel noise is -log of it: -log(-log(u)).",
            "exponential",
        )
    if _close(out, reference_gumbel_noise(1 - u)):
        return Feedback(
            exercise,
            INCORRECT,
            f"for {label} you return -log(-log(1 - u)). That is Gumbel-distributed too "
            "(1 - u is uniform when u is), but this exercise maps each u to -log(-log(u)) "
            "so that the answer can be checked value by value; use u itself.",
            "one minus u",
        )
    extreme = (u < 1e-3) | (u > 1 - 1e-3)
    if extreme.any() and _close(out[~extreme], expected[~extreme]):
        return Feedback(
            exercise,
            INCORRECT,
            f"right for moderate u, wrong near 0 or 1 ({label}): expected {fmt(expected)}, "
            f"got {fmt(out)}. Your clamp is too tight and changes legitimate inputs such "
            "as u = 1e-6; clamp only to [finfo.tiny, 1 - finfo.eps] of the dtype.",
            "over-clamped",
        )
    return Feedback(
        exercise,
        INCORRECT,
        f"for {label} expected {fmt(expected)}, got {fmt(out)}.",
    )


# --------------------------------------------------------------------------------------
# Straight-through: shared gradient stage
# --------------------------------------------------------------------------------------


def _weights(shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def _first_arg_grad(fn: Callable, args: tuple) -> Tuple[object, Optional[torch.Tensor]]:
    """Call fn with a fresh copy of args whose first tensor requires grad; return (out, grad).

    grad is None when the output carries no gradient at all.
    """
    x = args[0].detach().clone().requires_grad_(True)
    rest = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args[1:])
    out = fn(x, *rest)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return out, None
    (out * _weights(out.shape, out.dtype)).sum().backward()
    return out, (x.grad if x.grad is not None else torch.zeros_like(x))


def _gradient_stage(
    fn: Callable,
    exercise: str,
    reference: Callable,
    cases: Sequence[Case],
    grad_mistakes: Sequence[Mistake],
    no_grad_message: str,
    zero_grad_message: str,
) -> Optional[Feedback]:
    for case in cases:
        try:
            out, grad = _first_arg_grad(fn, case.args)
        except Exception as err:  # noqa: BLE001 - any student error becomes feedback
            return Feedback(
                exercise,
                ERROR,
                f"your function raised {type(err).__name__} when run with gradients for "
                f"{case.label}: {err}",
            )
        if grad is None:
            return Feedback(exercise, INCORRECT, no_grad_message, "no gradient")
        _, expected = _first_arg_grad(reference, case.args)
        if _close(grad, expected, rtol=1e-5, atol=1e-8):
            continue
        if not torch.any(grad != 0):
            return Feedback(exercise, INCORRECT, zero_grad_message, "zero gradient")
        for mistake in grad_mistakes:
            try:
                _, wrong = _first_arg_grad(mistake.model, case.args)
            except Exception:  # noqa: BLE001
                continue
            if wrong is not None and _close(grad, wrong, rtol=1e-5, atol=1e-8):
                return Feedback(
                    exercise,
                    INCORRECT,
                    mistake.message.replace("{case}", case.label),
                    mistake.name,
                )
        return Feedback(
            exercise,
            INCORRECT,
            f"the values are right but the gradient differs for {case.label} (weighted by "
            f"fixed random weights): expected {fmt(expected)}, got {fmt(grad)}.",
            "wrong gradient",
        )
    return None


def straight_through_check(
    fn: Callable,
    *,
    exercise: str,
    reference: Callable,
    cases: Sequence[Case],
    value_mistakes: Sequence[Mistake],
    grad_mistakes: Sequence[Mistake],
    integer_message: str,
    no_grad_message: str,
    zero_grad_message: str,
) -> Feedback:
    """Check a straight-through function in two stages: its values (``check_function``
    against ``reference``, naming ``value_mistakes``), then its gradients (those of
    ``reference`` on the same ``cases``, naming ``grad_mistakes``). Chapters 7 and 9 use it."""
    value_cases = [Case(c.args, c.label, grad=False) for c in cases]
    verdict = check_function(
        fn,
        exercise=exercise,
        reference=reference,
        cases=value_cases,
        mistakes=value_mistakes,
        atol=1e-6,
        rtol=1e-6,
        integer_message=integer_message,
    )
    if not verdict.passed:
        return verdict
    verdict = _gradient_stage(
        fn, exercise, reference, cases, grad_mistakes, no_grad_message, zero_grad_message
    )
    if verdict is not None:
        return verdict
    return Feedback(
        exercise, CORRECT, f"all {len(cases)} checks passed (values and gradients). Well done!"
    )


def _st(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    return soft + (hard - soft).detach()


# --------------------------------------------------------------------------------------
# Exercise: the straight-through arg max (the lecture's STargmax)
# --------------------------------------------------------------------------------------


def _hard_index(x: torch.Tensor) -> torch.Tensor:
    return x.detach().argmax(-1).to(x.dtype)


def _soft_index(x: torch.Tensor, t) -> torch.Tensor:
    return torch.softmax(x / t, -1) @ torch.arange(x.shape[-1], dtype=x.dtype)


def _st_argmax_cases() -> list:
    g = torch.Generator().manual_seed(11)
    batch = torch.randn(3, 5, generator=g, dtype=torch.float64) * 2
    d = torch.float64
    return [
        Case(
            (torch.tensor([1.1, 4.0, -0.1, 2.3], dtype=d), 0.5),
            "y = [1.1, 4.0, -0.1, 2.3], T = 0.5",
        ),
        Case(
            (torch.tensor([2.0, 1.9, -3.0, 1.95], dtype=d), 1.0),
            "y = [2.0, 1.9, -3.0, 1.95], T = 1",
        ),
        Case((batch, 0.7), "a batch y of shape (3, 5) (one row per example), T = 0.7"),
        Case((torch.tensor([0.3, -1.2, 0.8], dtype=d), 2.0), "y = [0.3, -1.2, 0.8], T = 2"),
    ]


def check_st_argmax(fn: Callable) -> Feedback:
    r"""Check ``fn(y, temperature)``: the straight-through arg max of the lecture.

    .. math:: \mathrm{STargmax}(\mathbf y) = \mathrm{softargmax}_T(\mathbf y)
              + \mathrm{sg}\bigl(\arg\max(\mathbf y) - \mathrm{softargmax}_T(\mathbf y)\bigr)

    Value: the arg max index along the last dimension, as a float (shape
    ``y.shape[:-1]``). Gradient: that of the soft arg max at temperature ``T`` (the expected
    answer is :func:`relaxlib.st_argmax`). Recognised mistakes: the soft arg max returned as
    the value, the soft arg max rounded, the one-hot vector instead of the index, indices
    from 1, an integer tensor, no gradient at all, a zero gradient (the stop-gradient
    forgotten, so the soft terms cancel), the stop-gradient on the wrong term (the gradient
    negated), the temperature ignored in the soft part, and the soft *max* used in place of
    the soft *arg max*.

    Args:
        fn: the student's function ``fn(y, temperature) -> tensor``.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Hare, "Differentiable Relaxations and Reparameterisations" (lecture); Bengio,
    Léonard & Courville 2013.
    """
    import relaxlib as rl

    value_mistakes = [
        Mistake(
            "integer index",
            lambda y, t: y.argmax(-1),
            "torch.argmax returns integer indices, which carry no gradient.",
        ),
        Mistake(
            "soft value",
            lambda y, t: _soft_index(y, t),
            "you returned the soft arg max itself, a fractional index ({case}). The ST arg "
            "max must output the exact index argmax(y) and borrow only the *gradient* of "
            "the soft arg max: soft + stop_gradient(hard - soft).",
        ),
        Mistake(
            "rounded soft",
            lambda y, t: torch.round(_soft_index(y, t)),
            "you rounded the soft arg max ({case}). Rounding does not give the arg max in "
            "general, and torch.round has a zero gradient: the lecture's point that we "
            "cannot round or clip. Take the value from argmax(y) and the gradient from the "
            "soft arg max.",
        ),
        Mistake(
            "one-hot",
            lambda y, t: rl.st_one_hot_argmax(y, t),
            "you returned a one-hot vector ({case}); the lecture's ST arg max returns the "
            "index itself, one number per row (shape y.shape[:-1]).",
        ),
        Mistake(
            "indices from 1",
            lambda y, t: _hard_index(y) + 1,
            "your index is exactly 1 too large: positions run 0, ..., N-1.",
        ),
    ]
    grad_mistakes = [
        Mistake(
            "negated gradient",
            lambda y, t: _soft_index(y, t).detach() + (_hard_index(y) - _soft_index(y, t)),
            "the value is right but the gradient is minus the soft arg max's ({case}): the "
            "stop-gradient is on the wrong term, as in stop_gradient(soft) + (hard - soft). "
            "Stop the difference instead: soft + stop_gradient(hard - soft).",
        ),
        Mistake(
            "ignored temperature",
            lambda y, t: _st(_hard_index(y), _soft_index(y, 1.0)),
            "the value is right, but the gradient is the soft arg max's at T = 1 ({case}): "
            "use softmax(y / T) in the soft part.",
        ),
        Mistake(
            "soft max gradient",
            lambda y, t: _st(_hard_index(y), (torch.softmax(y / t, -1) * y).sum(-1)),
            "the gradient is that of the soft max, softmax(y/T) . y ({case}); the ST arg "
            "max borrows the gradient of the soft *arg* max, softmax(y/T) . [0, ..., N-1].",
        ),
    ]
    return straight_through_check(
        fn,
        exercise="straight-through arg max",
        reference=lambda y, t: rl.st_argmax(y, t),
        cases=_st_argmax_cases(),
        value_mistakes=value_mistakes,
        grad_mistakes=grad_mistakes,
        integer_message="torch.argmax returns integer indices, which carry no gradient. "
        "Convert the index to y's dtype and attach the soft arg max's gradient: "
        "soft + stop_gradient(hard - soft).",
        no_grad_message="the value is right but nothing flows back to y: the arg max alone "
        "has no gradient (or everything was detached). Add the soft arg max's gradient: "
        "soft + stop_gradient(hard - soft).",
        zero_grad_message="the value is right but the gradient is exactly zero. Without the "
        "stop-gradient, soft + (hard - soft) cancels the soft term in the gradient as well "
        "as in the value; wrap the difference: soft + (hard - soft).detach().",
    )


# --------------------------------------------------------------------------------------
# Exercise: the straight-through Gumbel-softmax, from given noise
# --------------------------------------------------------------------------------------


def _one_hot_of(z: torch.Tensor) -> torch.Tensor:
    z = z.detach()
    return F.one_hot(z.argmax(-1), z.shape[-1]).to(z.dtype)


def _st_gumbel_cases() -> list:
    d = torch.float64
    g = torch.Generator().manual_seed(12)
    logits = torch.randn(4, 5, generator=g, dtype=d)
    noise = -torch.log(torch.empty(4, 5, dtype=d).exponential_(generator=g))
    x1, g1 = [1.0, 0.5, -0.5, 0.2], [0.3, 1.2, -2.0, 0.0]
    x3, g3 = [2.0, -1.0, 0.0], [-0.4, 0.8, 2.5]
    return [
        Case(
            (torch.tensor(x1, dtype=d), torch.tensor(g1, dtype=d), 0.5),
            f"logits = {x1}, noise = {g1}, T = 0.5",
        ),
        Case((logits, noise, 2.0), "a batch of logits and noise of shape (4, 5), T = 2"),
        Case(
            (torch.tensor(x3, dtype=d), torch.tensor(g3, dtype=d), 1.0),
            f"logits = {x3}, noise = {g3}, T = 1",
        ),
    ]


def check_st_gumbel_softmax(fn: Callable) -> Feedback:
    r"""Check ``fn(logits, noise, temperature)``: a straight-through Gumbel-softmax sample.

    Value: the one-hot vector of :math:`\arg\max(\text{logits} + \text{noise})` (a float
    tensor of the shape of ``logits``). Gradient with respect to the logits: that of the soft
    sample :math:`\operatorname{softmax}((\text{logits} + \text{noise})/T)`. The expected
    answer is ``relaxlib.st_one_hot_argmax(logits + noise, T)``, which is what
    ``relaxlib.gumbel_softmax(logits, T, hard=True)`` computes with its own noise.
    Recognised mistakes: the soft sample returned, the noise ignored or subtracted, the index
    returned instead of the one-hot vector, no gradient, a zero gradient (stop-gradient
    forgotten), the gradient negated, the gradient of the noise-free probabilities
    :math:`\operatorname{softmax}(\text{logits})` (what PyTorch's
    ``OneHotCategoricalStraightThrough`` passes), of
    :math:`\operatorname{softmax}(\text{logits}/T)`, and of the noisy softmax at :math:`T = 1`.

    Args:
        fn: the student's function ``fn(logits, noise, temperature) -> tensor``.

    Returns:
        A :class:`dae_course.checking.Feedback`.

    Reference: Jang, Gu & Poole, ICLR 2017 (section 2.2, straight-through Gumbel-softmax).
    """
    import relaxlib as rl

    value_mistakes = [
        Mistake(
            "soft sample",
            lambda x, g, t: torch.softmax((x + g) / t, -1),
            "you returned the soft sample softmax((logits + noise)/T) ({case}); the straight-"
            "through sample's value is its one-hot arg max, only the gradient is the soft "
            "sample's.",
        ),
        Mistake(
            "noise ignored",
            lambda x, g, t: _one_hot_of(x),
            "your one-hot vector marks arg max(logits), the mode, for {case}: the noise is "
            "ignored, so the sample is not random. Take the arg max of logits + noise.",
        ),
        Mistake(
            "noise subtracted",
            lambda x, g, t: _one_hot_of(x - g),
            "your one-hot vector marks arg max(logits - noise) ({case}); Gumbel-max adds the "
            "noise.",
        ),
        Mistake(
            "index",
            lambda x, g, t: (x + g).argmax(-1).to(x.dtype),
            "you returned the index of the sample ({case}); this exercise wants the one-hot "
            "vector (shape of logits).",
        ),
    ]
    grad_mistakes = [
        Mistake(
            "noise-free gradient",
            lambda x, g, t: _st(_one_hot_of(x + g), torch.softmax(x, -1)),
            "the value is right but the gradient is that of softmax(logits), the noise-free "
            "probabilities at T = 1 ({case}). That is what PyTorch's "
            "OneHotCategoricalStraightThrough passes; the straight-through Gumbel-softmax "
            "passes the gradient of the noisy, tempered softmax((logits + noise)/T).",
        ),
        Mistake(
            "noise-free tempered gradient",
            lambda x, g, t: _st(_one_hot_of(x + g), torch.softmax(x / t, -1)),
            "the gradient is that of softmax(logits/T) without the noise ({case}); add the "
            "noise inside the soft part too: softmax((logits + noise)/T).",
        ),
        Mistake(
            "ignored temperature",
            lambda x, g, t: _st(_one_hot_of(x + g), torch.softmax(x + g, -1)),
            "the value is right, but the gradient is the soft sample's at T = 1 ({case}): "
            "divide by T inside the softmax.",
        ),
        Mistake(
            "negated gradient",
            lambda x, g, t: (
                torch.softmax((x + g) / t, -1).detach()
                + (_one_hot_of(x + g) - torch.softmax((x + g) / t, -1))
            ),
            "the gradient is minus the soft sample's ({case}): the stop-gradient is on the "
            "wrong term. Use soft + stop_gradient(hard - soft).",
        ),
    ]
    return straight_through_check(
        fn,
        exercise="straight-through Gumbel-softmax",
        reference=lambda x, g, t: rl.st_one_hot_argmax(x + g, t),
        cases=_st_gumbel_cases(),
        value_mistakes=value_mistakes,
        grad_mistakes=grad_mistakes,
        integer_message="return a float one-hot tensor (F.one_hot(...).to(logits.dtype)), "
        "which can carry the soft sample's gradient; an integer tensor cannot.",
        no_grad_message="the value is right but nothing flows back to the logits: a one-hot "
        "vector built from an arg max has no gradient. Attach the soft sample's: "
        "soft + stop_gradient(hard - soft).",
        zero_grad_message="the value is right but the gradient is exactly zero: without the "
        "stop-gradient, soft + (hard - soft) cancels the soft term in the gradient too. "
        "Use soft + (hard - soft).detach().",
    )


# --------------------------------------------------------------------------------------
# Exercise: the cold limit of the straight-through estimator (a derivation)
# --------------------------------------------------------------------------------------


def reference_st_cold_limit(theta: torch.Tensor) -> torch.Tensor:
    r"""The :math:`T \to 0` mean of the binary ST Gumbel-softmax estimate for :math:`f(b) = b^3`.

    Two categories with logits :math:`(0, \theta)`, :math:`b = y_1`, so
    :math:`P(b = 1) = \sigma(\theta)`. Near the decision boundary half of the samples have
    :math:`b = 0` and half :math:`b = 1`, so the estimate's mean tends to
    :math:`\sigma'(\theta)\,(f'(0) + f'(1))/2 = \tfrac32\,\sigma(\theta)(1 - \sigma(\theta))`,
    against the true gradient :math:`\sigma'(\theta)\,(f(1) - f(0)) = \sigma'(\theta)`.

    Args:
        theta: floating tensor of logits.

    Returns:
        Tensor of the shape and dtype of ``theta``.
    """
    s = torch.sigmoid(theta)
    return 1.5 * s * (1 - s)


def _sigma_prime(theta: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(theta)
    return s * (1 - s)


_COLD_LIMIT_MISTAKES = (
    Mistake(
        "true gradient",
        _sigma_prime,
        "that is the true gradient, sigma'(theta) * (f(1) - f(0)) = sigma'(theta) ({case}). "
        "The straight-through estimator never sees the difference f(1) - f(0): as T -> 0 its "
        "gradient lives at the decision boundary, where it uses the slope of f at the sample, "
        "f'(0) = 0 on one side and f'(1) = 3 on the other. Average the two slopes.",
    ),
    Mistake(
        "bias",
        lambda theta: 0.5 * _sigma_prime(theta),
        "that is the bias, the limit minus the true gradient sigma'(theta) ({case}); the "
        "exercise asks for the limit of the mean estimate itself.",
    ),
    Mistake(
        "one slope",
        lambda theta: 3 * _sigma_prime(theta),
        "you used the slope f'(1) = 3 alone, or added both slopes without halving ({case}). "
        "At the boundary a sample is on either side with equal chance: half of the time "
        "b = 0 (slope 0), half b = 1 (slope 3), so the factor is (0 + 3) / 2.",
    ),
    Mistake(
        "zero",
        torch.zeros_like,
        "zero everywhere ({case}): that uses only the slope f'(0) = 0 of the sample b = 0. "
        "Near the boundary half of the samples have b = 1, where the slope is f'(1) = 3.",
    ),
    Mistake(
        "sigmoid",
        lambda theta: 1.5 * torch.sigmoid(theta),
        "the factor in front is the density of the logistic noise at the boundary, "
        "sigma'(theta) = sigma(theta) * (1 - sigma(theta)), not sigma(theta) ({case}).",
    ),
    Mistake(
        "no density",
        lambda theta: torch.full_like(theta, 1.5),
        "(f'(0) + f'(1)) / 2 = 1.5 is right, but it must be weighted by how often a sample sits "
        "at the boundary: sigma'(theta) = sigma(theta) * (1 - sigma(theta)) ({case}).",
    ),
    Mistake(
        "noise-free gradient",
        lambda theta: 3 * torch.sigmoid(theta) * _sigma_prime(theta),
        "that is E[f'(b)] * sigma'(theta) = 3 sigma(theta) sigma'(theta) ({case}): the slope at "
        "the sample times the gradient of the noise-free probability, which is what PyTorch's "
        "OneHotCategoricalStraightThrough passes. The straight-through Gumbel-softmax takes "
        "its gradient only near the boundary, where b is 0 or 1 with equal chance.",
    ),
    Mistake(
        "sign",
        lambda theta: -1.5 * _sigma_prime(theta),
        "the size is right but the sign is not ({case}): raising theta makes b = 1 likelier, "
        "and f(1) > f(0), so every slope involved is >= 0.",
    ),
)


def check_st_cold_limit(fn: Callable) -> Feedback:
    r"""Check ``fn(theta)``: the cold (:math:`T \to 0`) mean of the binary straight-through
    Gumbel-softmax estimate of :math:`\frac{d}{d\theta}\mathbb E[b^3]`, elementwise.

    The expected answer is :func:`reference_st_cold_limit`. Recognised mistakes: the true
    gradient :math:`\sigma'(\theta)`, the bias :math:`\sigma'(\theta)/2`, one slope only
    (or both without halving), zero, :math:`\sigma` in place of :math:`\sigma'`, no density
    factor, PyTorch's noise-free gradient :math:`3\sigma\sigma'`, and the wrong sign.

    Args:
        fn: the student's function ``fn(theta) -> tensor``.

    Returns:
        A :class:`dae_course.checking.Feedback`.
    """
    exercise = "cold limit of straight-through"
    d = torch.float64
    cases = [
        Case((torch.tensor([0.0, 0.8, -1.5, 3.0], dtype=d),), "theta = [0, 0.8, -1.5, 3]", False),
        Case(
            (torch.tensor([[0.3, -0.7, 2.0], [-2.5, 1.2, 0.1]], dtype=torch.float32),),
            "theta of shape (2, 3) (float32)",
            False,
        ),
    ]
    verdict = check_function(
        fn,
        exercise=exercise,
        reference=reference_st_cold_limit,
        cases=cases,
        mistakes=_COLD_LIMIT_MISTAKES,
        atol=1e-6,
        rtol=1e-5,
    )
    if not verdict.passed:
        return verdict
    return Feedback(
        exercise,
        CORRECT,
        "right for every theta tried: sigma'(theta) * (f'(0) + f'(1)) / 2 = 1.5 sigma'(theta), "
        "half as large again as the true gradient sigma'(theta), however cold T is. Well done!",
    )
