"""The straight-through operator: the value of one computation, the gradient of another."""

from __future__ import annotations

import torch

from ._validation import Scalar, check_dim, check_floating, check_positive
from .relaxations import one_hot_argmax, soft_argmax, softmax

__all__ = ["stop_gradient", "straight_through", "st_argmax", "st_one_hot_argmax"]


def stop_gradient(x: torch.Tensor) -> torch.Tensor:
    r"""The value of ``x`` with no gradient: :math:`\mathrm{sg}(a) = a`, zero gradient.

    The same as ``x.detach()`` (it shares storage with ``x``; do not modify it in place).

    Args:
        x: a tensor of any shape and dtype.

    Returns:
        A tensor equal to ``x`` that autograd treats as a constant.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return x.detach()


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    r"""Forward the value of ``hard``, backpropagate through ``soft``.

    .. math:: \mathrm{ST}(h, s) = s + \mathrm{sg}(h - s)

    The value is exactly ``hard`` (computed as :math:`\mathrm{sg}(h) + (s - \mathrm{sg}(s))`,
    which is the same expression rearranged so that no rounding error creeps into the value);
    the gradient with respect to ``soft`` is the identity, and ``hard`` receives none. A
    biased but low-variance gradient estimator when ``hard`` is a discretisation of ``soft``.

    Args:
        hard: the tensor whose value is wanted (e.g. a one-hot arg max or an integer index).
            Integer tensors are accepted and promoted to ``soft``'s dtype.
        soft: a floating tensor broadcastable with ``hard`` whose gradient is wanted.

    Returns:
        A tensor of the broadcast shape of the two inputs, floating.

    Reference: Bengio, Léonard & Courville, "Estimating or propagating gradients through
    stochastic neurons for conditional computation", arXiv:1308.3432, 2013.
    """
    if not isinstance(hard, torch.Tensor):
        raise TypeError(f"hard must be a torch.Tensor, got {type(hard).__name__}")
    check_floating(soft, "soft")
    hard = hard.detach()
    if not hard.is_floating_point():
        hard = hard.to(soft.dtype)
    return hard + (soft - soft.detach())


def st_argmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Straight-through arg max: the true arg max index, with the soft arg max's gradient.

    .. math:: \mathrm{ST\,argmax}(\mathbf{x}) = \mathrm{softargmax}_T(\mathbf{x})
              + \mathrm{sg}\bigl(\arg\max(\mathbf{x}) - \mathrm{softargmax}_T(\mathbf{x})\bigr)

    Args:
        x: floating tensor, any shape with at least one dimension.
        temperature: :math:`T > 0` of the soft arg max whose gradient is used.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed; its values are whole numbers
        ``0 … N-1`` (the arg max index as a float).

    Reference: Bengio et al. 2013 (straight-through); Hare, "Differentiable Relaxations and
    Reparameterisations" (lecture).
    """
    check_floating(x, "x")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(x, dim)
    soft = soft_argmax(x, temperature, dim)
    hard = x.detach().argmax(dim).to(x.dtype)
    return straight_through(hard, soft)


def st_one_hot_argmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Straight-through one-hot arg max: value ``one_hot_argmax(x)``, gradient of ``softmax(x/T)``.

    Args:
        x: floating tensor, any shape with at least one dimension.
        temperature: :math:`T > 0` of the softmax whose gradient is used.
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x``: exactly one-hot along ``dim``.

    Reference: Bengio et al. 2013; Jang, Gu & Poole, "Categorical reparameterization with
    Gumbel-softmax", ICLR 2017 (the straight-through variant).
    """
    check_floating(x, "x")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(x, dim)
    soft = softmax(x, temperature, dim)
    return straight_through(one_hot_argmax(x, dim), soft)
