"""Argument checks shared by every public function of relaxlib.

Bad input must fail at the call with an error that names the parameter, never as a
NaN that surfaces several cells later. Two rules:

* a tensor argument that the maths needs to be floating (logits, inputs, means) must be a
  floating ``torch.Tensor``; anything else raises :class:`TypeError`;
* a scale parameter (temperature, ``beta``, ``delta``, ``sigma``) must be a real number or a
  floating tensor whose every entry is finite and strictly positive; otherwise
  :class:`ValueError` (bad value) or :class:`TypeError` (bad type).
"""

from __future__ import annotations

import math
import numbers
from typing import Union

import torch

Scalar = Union[float, int, torch.Tensor]

_REDUCTIONS = ("none", "mean", "sum")


def check_floating(x: object, name: str) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor, else raise ``TypeError`` naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64), "
            f"got dtype {x.dtype}; convert it with {name}.float()"
        )
    return x


def check_positive(value: object, name: str) -> Scalar:
    """Check a scale parameter: finite and > 0. Returns a Python float or the tensor itself.

    A 0-d tensor is turned into a Python float (it is a scalar setting, not data); a tensor
    with several entries is kept as a tensor (for per-row temperatures, for example) after
    every entry has been checked.
    """
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise TypeError(f"{name} must be a positive real number, got a bool")
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(
                f"{name} must be a number or a floating tensor, got dtype {value.dtype}"
            )
        if value.numel() == 1 and value.dim() == 0 and not value.requires_grad:
            value = float(value)
        else:
            # One pass, one sync: min > 0 and max < inf (a NaN fails both). Only when that
            # fails are the two checks below run, to say which rule is broken.
            if value.numel() and _all_positive_finite(value):
                return value
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} must be finite, got a tensor with non-finite entries")
            if not bool((value > 0).all()):
                raise ValueError(f"{name} must be > 0, got a tensor with entries <= 0")
            return value
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _all_positive_finite(value: torch.Tensor) -> bool:
    low, high = torch.aminmax(value.detach())
    return low.item() > 0 and high.item() < math.inf  # False for NaN


def check_reduction(reduction: object) -> str:
    """Check a loss ``reduction`` argument: one of ``'none'``, ``'mean'``, ``'sum'``."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction  # type: ignore[return-value]


def check_dim(x: torch.Tensor, dim: object, name: str = "dim") -> int:
    """Check that ``dim`` is an int that indexes a dimension of ``x``; return it non-negative."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    nd = max(x.dim(), 1)
    if not -nd <= dim < nd:
        raise ValueError(f"{name}={dim} is out of range for a tensor with {x.dim()} dimension(s)")
    return dim % nd


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which to do exponentials and reductions for inputs of ``dtype``.

    float16 overflows at 65504, so ``x / T`` with ``|x| = 1e4`` and ``T = 1e-3`` is already
    ``inf`` there; bfloat16 keeps only 8 bits of mantissa, too few for index sums. Both are
    computed in float32 and the result is cast back. float32 and float64 are used as they are.
    """
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
