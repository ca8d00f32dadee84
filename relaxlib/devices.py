"""Which device the book's notebooks put their tensors on."""

from __future__ import annotations

import os

import torch

__all__ = ["default_device"]


def default_device() -> torch.device:
    """The device for the book's tensors: ``$RELAXLIB_DEVICE`` if set, else the CPU.

    The notebooks create their tensors with ``device=rl.default_device()`` so the same
    notebook runs unchanged on a GPU (``RELAXLIB_DEVICE=cuda``). Noise is still drawn from
    CPU generators, so the printed numbers do not depend on the device.

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: ``RELAXLIB_DEVICE`` does not name a device, or names CUDA when no CUDA
            device is available.

    Examples:
        >>> import torch, relaxlib as rl
        >>> x = torch.zeros(3, device=rl.default_device())
        >>> x.device == rl.default_device()
        True
    """
    name = os.environ.get("RELAXLIB_DEVICE", "").strip() or "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"RELAXLIB_DEVICE={name!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"RELAXLIB_DEVICE={name!r} but torch.cuda.is_available() is False")
    return device
