"""Exercise checkers with specific feedback.

Import explicitly: ``from relaxlib import exercises as ex`` (the framework and chapter 3's
checkers) or a chapter's own module, e.g. ``from relaxlib.exercises import softmax``.
Needs only torch.

A checker runs the student's function on several inputs, compares it with the reference
implementation of :mod:`relaxlib` and, when they disagree, tests the answer against a list
of *known mistakes* (each a small wrong implementation with an explanation). The result is
a :class:`Feedback` that names the mistake ("the temperature is ignored", "indices start
at 1", "no gradient flows", ...) instead of a bare pass/fail. A stub that raises
``NotImplementedError`` or returns ``None`` is reported as "not attempted yet".

The framework is in :mod:`relaxlib.exercises.core`; each chapter's checkers live in a
module named after its topic (``softmax`` for chapter 3, ...).
"""

from .core import (
    CORRECT,
    ERROR,
    INCORRECT,
    NOT_ATTEMPTED,
    Case,
    Feedback,
    Mistake,
    check_function,
)
from .softmax import (
    check_soft_argmax,
    check_soft_max,
    check_temperature_for_tolerance,
    reference_temperature_for_tolerance,
)

__all__ = [
    "CORRECT",
    "ERROR",
    "INCORRECT",
    "NOT_ATTEMPTED",
    "Case",
    "Feedback",
    "Mistake",
    "check_function",
    "check_soft_argmax",
    "check_soft_max",
    "check_temperature_for_tolerance",
    "reference_temperature_for_tolerance",
]
