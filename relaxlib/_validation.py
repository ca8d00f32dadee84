"""Argument checks shared by every public function of relaxlib, one rule per helper.

Bad input fails at the call with an error naming the argument, never as a NaN cells later.
Parameters and secondary inputs are scanned; the main input never is (a full pass over the
data on every call): its NaN, +inf and all -inf rows show in the row maxima the softmax
family computes anyway (:func:`check_row_max`).
"""

from __future__ import annotations

import math
import numbers
from typing import Tuple, Union

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


def check_scale(value: object, name: str) -> Tuple[Scalar, float, float]:
    """Check a scale parameter (finite, > 0); return ``(value, smallest, largest entry)``.

    ``value`` is a float, or the tensor itself if it has several entries or a gradient (a 0-d
    tensor without one is a setting, not data). One ``aminmax`` and one sync for a tensor.
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
        elif value.numel() == 0:
            return value, 1.0, 1.0
        else:
            low, high = torch.stack(torch.aminmax(value.detach())).tolist()
            if math.isnan(low) or math.isnan(high) or math.isinf(high) or math.isinf(low):
                raise ValueError(f"{name} must be finite, got a tensor with non-finite entries")
            if low <= 0:
                raise ValueError(f"{name} must be > 0, got a tensor with entries <= 0")
            return value, low, high
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value, value, value


def check_broadcasts_to(param: object, shape: torch.Size, name: str, main: str) -> None:
    """``ValueError`` naming ``name`` and both shapes unless ``param`` broadcasts *to* ``shape``
    (one that broadcasts only *with* it, as ``(m, 1)`` with ``(m,)``, would enlarge the result).
    """
    if not isinstance(param, torch.Tensor) or param.shape == shape:
        return
    p = param.shape
    if len(p) > len(shape) or any(a not in (1, b) for a, b in zip(reversed(p), reversed(shape))):
        raise ValueError(
            f"{name} of shape {tuple(p)} does not broadcast to the shape {tuple(shape)} of "
            f"{main} (it would change the shape of the result)"
        )


def check_finite(value: torch.Tensor, name: str) -> None:
    """``ValueError`` naming ``name`` unless every entry of a secondary input is finite."""
    if value.is_floating_point() and value.numel():
        low, high = torch.stack(torch.aminmax(value.detach())).tolist()
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name} must be finite, got a tensor with NaN or infinite entries")


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


def check_categories(x: torch.Tensor, dim: int, name: str, scalar_ok: bool = False) -> None:
    """``ValueError`` naming ``name`` if ``x`` has no category dimension or it is empty."""
    if x.dim() == 0 and not scalar_ok:
        raise ValueError(f"{name} must have at least one dimension (the categories)")
    if x.dim() and x.shape[dim] == 0:
        raise ValueError(f"{name} has no categories: size 0 along dim {dim}")


def check_row_max(row_max: torch.Tensor, name: str) -> float:
    """Check logits through their maxima along the category dimension (one per row): a NaN
    makes a row's maximum NaN, a +inf +inf, a row of -inf only -inf; each is a ``ValueError``
    naming ``name``. Returns the largest ``|row maximum|`` (0 for no rows)."""
    if row_max.numel() == 0:
        return 0.0
    low, high = (v.item() for v in torch.aminmax(row_max))
    if math.isnan(low) or math.isnan(high):
        raise ValueError(f"{name} contains NaN")
    if high == math.inf:
        raise ValueError(f"{name} contains +inf (only -inf, a masked category, is allowed)")
    if low == -math.inf:
        raise ValueError(
            f"{name} is -inf for every category of some row (all masked): nothing to choose"
        )
    return max(-low, high)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of exponentials and reductions for inputs of ``dtype``: float32 for float16
    (which overflows at 65504) and bfloat16 (8 bits of mantissa), else ``dtype`` itself."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def scale_dtype(dtype: torch.dtype, low: float, high: float) -> torch.dtype:
    """``dtype``, or float64 if a scale parameter in ``[low, high]`` is outside its normal
    range (a temperature of 1e-40 or a beta of 1e39 is 0 or inf in float32, not in float64)."""
    info = torch.finfo(dtype)
    return dtype if info.tiny <= low and high <= info.max else torch.float64
