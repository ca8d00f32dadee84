"""The exercise-checking framework: :class:`Case`, :class:`Mistake`, :class:`Feedback` and
:func:`check_function` (how a checker works is described in :mod:`dae_course`).

Chapters add checkers, in a module of this package named after their topic, by listing
cases and mistakes and calling :func:`check_function`. Needs only torch.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch

__all__ = [
    "Feedback",
    "Case",
    "Mistake",
    "check_function",
    "CORRECT",
    "NOT_ATTEMPTED",
    "INCORRECT",
    "ERROR",
]

CORRECT = "correct"
NOT_ATTEMPTED = "not attempted"
INCORRECT = "incorrect"
ERROR = "error"

_ICONS = {
    CORRECT: "[correct]",
    NOT_ATTEMPTED: "[not attempted]",
    INCORRECT: "[incorrect]",
    ERROR: "[error]",
}


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker.

    Attributes:
        exercise: the exercise's name.
        status: ``"correct"``, ``"not attempted"``, ``"incorrect"`` or ``"error"``.
        message: what is right or wrong, specifically.
        mistake: the name of the recognised mistake, if one was recognised (else ``None``).

    ``bool(feedback)`` is true only when correct, so ``assert check(...)`` works. Its
    ``repr`` is the message (wrapped at 88 characters), so a checker called as the last line
    of a cell prints it.
    """

    exercise: str
    status: str
    message: str
    mistake: Optional[str] = None

    @property
    def passed(self) -> bool:
        """True when the answer is correct."""
        return self.status == CORRECT

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        text = f"{_ICONS[self.status]} {self.exercise}: {self.message}"
        return textwrap.fill(text, width=88, subsequent_indent="    ", break_on_hyphens=False)

    __repr__ = __str__


@dataclass(frozen=True)
class Case:
    """One input to try: positional arguments for the function, and a readable description.

    Attributes:
        args: the arguments (tensors are cloned before every call, so the student's function
            cannot alter the case).
        label: how the feedback describes this input, e.g. ``"x = [1.1, 4, -0.1, 2.3], T = 0.5"``.
        grad: whether to compare gradients with respect to the tensor arguments here.
    """

    args: tuple
    label: str
    grad: bool = True


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``model`` computes it, ``message`` explains it.

    ``model`` takes the same arguments as the reference. The mistake is recognised when the
    student's output has the model's shape and values on the first case where the student
    disagrees with the reference. ``{case}`` in the message is replaced by that case's label.
    """

    name: str
    model: Callable[..., Any]
    message: str


@dataclass
class CheckContext:
    exercise: str
    atol: float
    rtol: float
    mistakes: Sequence[Mistake] = field(default_factory=tuple)


def _clone(args: tuple, requires_grad: bool = False) -> tuple:
    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            a = a.detach().clone()
            if requires_grad and a.is_floating_point():
                a.requires_grad_(True)
        out.append(a)
    return tuple(out)


def fmt(t: Any) -> str:
    """A short, device-free, rounded rendering of a tensor or number."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        if t.dim() == 0:
            return f"{t.item():.4g}"
        if t.dim() == 1:
            return "[" + ", ".join(f"{v:.4g}" for v in t.tolist()) + "]"
        return "tensor of shape " + str(tuple(t.shape))
    if isinstance(t, float):
        return f"{t:.4g}"
    return repr(t)


def _matches(out: Any, expected: torch.Tensor, atol: float, rtol: float) -> bool:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(expected.shape):
        return False
    if not (out.is_floating_point() or out.dtype in (torch.int64, torch.int32)):
        return False
    try:
        return bool(
            torch.allclose(
                out.detach().double().cpu(), expected.detach().double().cpu(), atol=atol, rtol=rtol
            )
        )
    except RuntimeError:
        return False


_HINTS = (
    (
        "dtype",
        " Hint: mixing dtypes? Make the index vector match x, e.g. torch.arange(N, dtype=x.dtype).",
    ),
    ("shape", " Hint: check the shapes; the categories are along the last dimension (dim=-1)."),
    (
        "size of tensor",
        " Hint: check the shapes; the categories are along the last dimension (dim=-1).",
    ),
    (
        "mat1 and mat2",
        " Hint: check the shapes; the categories are along the last dimension (dim=-1).",
    ),
)


def _hint(err: Exception) -> str:
    text = str(err)
    for key, hint in _HINTS:
        if key in text:
            return hint
    return ""


def call_safely(fn: Callable, args: tuple, ctx: CheckContext, label: str):
    """Call fn; return (output, None) or (None, Feedback) when the call itself ends it."""
    try:
        out = fn(*args)
    except NotImplementedError:
        return None, Feedback(
            ctx.exercise,
            NOT_ATTEMPTED,
            "not attempted yet: replace `raise NotImplementedError` with "
            "your code, run that cell, then run this check again.",
        )
    except Exception as err:  # noqa: BLE001 - any student error becomes feedback
        return None, Feedback(
            ctx.exercise,
            ERROR,
            f"your function raised {type(err).__name__} for {label}: {err}" + _hint(err),
        )
    if out is None:
        return None, Feedback(
            ctx.exercise,
            NOT_ATTEMPTED,
            "not attempted yet: your function returns None (is the `return` missing?).",
        )
    return out, None


def call_for_number(fn: Callable, args: tuple, ctx: CheckContext, label: str, what: str):
    """Call fn and read its result as one float: (value, None), or (None, Feedback).

    ``what`` names the number in the feedback ("the temperature", "beta").
    """
    out, verdict = call_safely(fn, args, ctx, label)
    if verdict is not None:
        return None, verdict
    try:
        return float(out), None
    except (TypeError, ValueError, RuntimeError):
        return None, Feedback(
            ctx.exercise,
            INCORRECT,
            f"return one number ({what}); for {label} you returned {fmt(out)}.",
            "not a number",
        )


def _recognise(out: Any, args: tuple, case: Case, ctx: CheckContext) -> Optional[Feedback]:
    for mistake in ctx.mistakes:
        try:
            wrong = mistake.model(*_clone(args))
        except Exception:  # noqa: BLE001 - a mistake model may not apply to every input
            continue
        if _matches(out, wrong, ctx.atol, ctx.rtol):
            return Feedback(
                ctx.exercise, INCORRECT, mistake.message.replace("{case}", case.label), mistake.name
            )
    return None


def check_function(
    fn: Callable,
    *,
    exercise: str,
    reference: Callable,
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    atol: float = 1e-5,
    rtol: float = 1e-4,
    integer_message: Optional[str] = None,
    no_grad_message: str = "the values are right but no gradient flows back to the input. "
    "Keep every step a differentiable torch operation (no .item(), .detach(), numpy or "
    "torch.argmax).",
) -> Feedback:
    """Check a student's tensor function against a reference, with specific feedback.

    For every case: call ``fn(*case.args)`` on fresh copies of the inputs. A
    ``NotImplementedError`` or a ``None`` result means "not attempted"; another exception is
    reported with its message; an integer tensor gets ``integer_message``; an input changed
    in place is reported. When the output differs from ``reference(*case.args)`` (shape or
    values within ``atol``/``rtol``), each :class:`Mistake` is tried in order and the first
    that reproduces the output gives the message; otherwise the expected and actual values
    are shown. When every value is right, the gradient of ``output.sum()`` with respect to
    the floating tensor arguments is compared with the reference's. Exceptions whose
    message mentions dtypes or shapes get a hint.

    Args:
        fn: the student's function.
        exercise: the exercise's name, used in the feedback.
        reference: the correct function, same signature.
        cases: the inputs; order them so that early cases tell mistakes apart.
        mistakes: the known wrong answers, most specific first.
        atol, rtol: tolerances for values and gradients.
        integer_message: feedback when ``fn`` returns an integer tensor.
        no_grad_message: feedback when the values are right but no gradient flows.

    Returns:
        A :class:`Feedback`.
    """
    ctx = CheckContext(exercise, atol, rtol, mistakes)
    for case in cases:
        args = _clone(case.args)
        out, verdict = call_safely(fn, args, ctx, case.label)
        if verdict is not None:
            return verdict
        for before, after in zip(case.args, args):
            if isinstance(before, torch.Tensor) and not torch.equal(before, after.detach()):
                return Feedback(
                    exercise,
                    INCORRECT,
                    f"your function changed its input in place for {case.label}; "
                    "use out-of-place operations (x / T, not x /= T).",
                    "modified input",
                )
        if not isinstance(out, torch.Tensor):
            return Feedback(
                exercise,
                INCORRECT,
                f"return a torch.Tensor, not {type(out).__name__} (for "
                f"{case.label} you returned {fmt(out)}); a Python number "
                "cannot carry a gradient.",
                "not a tensor",
            )
        expected = reference(*_clone(case.args))
        if not out.is_floating_point():
            mistake = _recognise(out, args, case, ctx)
            message = integer_message or (
                f"your function returns an integer tensor ({out.dtype}); the answer is a "
                "float tensor that can carry a gradient."
            )
            return Feedback(
                exercise,
                INCORRECT,
                message,
                mistake.mistake if mistake is not None else "integer output",
            )
        if not _matches(out, expected, atol, rtol):
            recognised = _recognise(out, args, case, ctx)
            if recognised is not None:
                return recognised
            if tuple(out.shape) != tuple(expected.shape):
                return Feedback(
                    exercise,
                    INCORRECT,
                    f"for {case.label} the result should have shape "
                    f"{tuple(expected.shape)} but yours has shape "
                    f"{tuple(out.shape)}; check which dimension you reduce over.",
                    "wrong shape",
                )
            return Feedback(
                exercise,
                INCORRECT,
                f"for {case.label} expected {fmt(expected)}, got {fmt(out)}.",
            )

    # Every value is right: now the gradients (in the case's own dtype).
    for case in cases:
        if not case.grad:
            continue
        mine, theirs = _clone(case.args, True), _clone(case.args, True)
        out, verdict = call_safely(fn, mine, ctx, case.label)
        if verdict is not None:
            return verdict
        ref = reference(*theirs)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return Feedback(exercise, INCORRECT, no_grad_message, "no gradient")
        out.sum().backward()
        ref.sum().backward()
        for a, b in zip(mine, theirs):
            if not isinstance(a, torch.Tensor) or not a.requires_grad:
                continue
            if a.grad is None or not torch.any(a.grad != 0):
                return Feedback(exercise, INCORRECT, no_grad_message, "no gradient")
            if not torch.allclose(a.grad, b.grad, atol=atol, rtol=rtol):
                return Feedback(
                    exercise,
                    INCORRECT,
                    f"the values are right but the gradient differs for "
                    f"{case.label}: expected {fmt(b.grad)}, got {fmt(a.grad)}. "
                    "Is part of the computation detached?",
                    "wrong gradient",
                )
    return Feedback(
        exercise, CORRECT, f"all {len(cases)} checks passed (values and gradients). Well done!"
    )
