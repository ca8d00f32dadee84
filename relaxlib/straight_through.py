"""The straight-through operator: the value of one computation, the gradient of another."""

from __future__ import annotations

import torch

from ._validation import Scalar, check_dim, check_floating
from .relaxations import _check_tempered, _one_hot_max, _tempered_probs, soft_argmax

__all__ = ["stop_gradient", "straight_through", "st_argmax", "st_one_hot_argmax"]


def stop_gradient(x: torch.Tensor) -> torch.Tensor:
    r"""The value of ``x`` with no gradient: :math:`\mathrm{sg}(a) = a`, zero gradient.

    The same as ``x.detach()`` (it shares storage with ``x``; do not modify it in place).

    Args:
        x: a tensor of any shape and dtype.

    Returns:
        A tensor equal to ``x`` (shape, dtype, device) that autograd treats as a constant.

    Raises:
        TypeError: ``x`` is not a tensor.

    Examples:
        >>> import torch, relaxlib as rl
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * rl.stop_gradient(x)).sum().backward()  # d/dx of x * sg(x) is sg(x)
        >>> x.grad
        tensor([1., 2.])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return x.detach()


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    r"""Forward the value of ``hard``, backpropagate through ``soft``.

    .. math:: \mathrm{ST}(h, s) = s + \mathrm{sg}(h - s)

    The value is exactly ``hard`` (computed as :math:`\mathrm{sg}(h) + (s - \mathrm{sg}(s))`,
    the same expression rearranged so that no rounding error creeps into the value); the
    gradient with respect to ``soft`` is the identity, ``hard`` receives none. A biased but
    low-variance gradient estimator when ``hard`` is a discretisation of ``soft``.

    Args:
        hard: the tensor whose value is wanted (e.g. a one-hot arg max or an integer index).
            Integer tensors are accepted and promoted to ``soft``'s dtype.
        soft: a floating tensor whose gradient is wanted; ``hard`` and ``soft`` broadcast
            with each other (two inputs of equal standing, not a parameter and its input).

    Returns:
        A tensor of the broadcast shape of the two inputs, of their promoted floating dtype.

    Raises:
        TypeError: ``hard`` is not a tensor, or ``soft`` is not a floating tensor.

    Reference: Bengio, Léonard & Courville, "Estimating or propagating gradients through
    stochastic neurons for conditional computation", arXiv:1308.3432, 2013.

    Examples:
        >>> import torch, relaxlib as rl
        >>> soft = torch.tensor([0.3, 0.8], requires_grad=True)
        >>> y = rl.straight_through(soft.round(), soft)
        >>> y
        tensor([0., 1.], grad_fn=<AddBackward0>)
        >>> (y * torch.tensor([2.0, 3.0])).sum().backward(); soft.grad
        tensor([2., 3.])
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

    Ties go to the first maximal index; masked entries (-inf) are never chosen and get a
    zero gradient.

    Args:
        x: floating tensor, any shape with at least one dimension.
        temperature: :math:`T > 0` of the soft arg max whose gradient is used; a number or a
            tensor that broadcasts to ``x``.
        dim: the dimension to reduce.

    Returns:
        Tensor of ``x``'s dtype with ``dim`` removed; its values are whole numbers
        ``0 … N-1`` (the arg max index as a float).

    Raises:
        TypeError, ValueError: as :func:`relaxlib.soft_argmax`.

    Reference: Bengio et al. 2013 (straight-through); Hare, "Differentiable Relaxations and
    Reparameterisations" (lecture).

    Examples:
        >>> import torch, relaxlib as rl
        >>> x = torch.tensor([1.1, 4.0, -0.1, 2.3], requires_grad=True)
        >>> i = rl.st_argmax(x, 0.5)
        >>> i
        tensor(1., grad_fn=<AddBackward0>)
        >>> i.backward(); x.grad  # the gradient of soft_argmax(x, 0.5)
        tensor([-0.0062, -0.1191,  0.0005,  0.1248])
    """
    soft = soft_argmax(x, temperature, dim)  # all the checks
    hard = x.detach().argmax(check_dim(x, dim)).to(x.dtype)
    return straight_through(hard, soft)


def st_one_hot_argmax(x: torch.Tensor, temperature: Scalar = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Straight-through one-hot arg max: value ``one_hot_argmax(x)``, gradient of ``softmax(x/T)``.

    .. math:: \mathrm{ST}(\mathbf{x}) = \operatorname{softmax}(\mathbf{x}/T)
              + \mathrm{sg}\bigl(\operatorname{one\_hot}(\mathbf{x})
              - \operatorname{softmax}(\mathbf{x}/T)\bigr)

    Args:
        x: floating tensor, any shape with at least one dimension.
        temperature: :math:`T > 0` of the softmax whose gradient is used; a number or a
            tensor that broadcasts to ``x``.
        dim: the dimension that indexes the categories.

    Returns:
        Tensor of the shape and dtype of ``x``: exactly one-hot along ``dim``.

    Raises:
        TypeError, ValueError: as :func:`relaxlib.softmax`; also ``ValueError`` for a 0-d ``x``.

    Reference: Bengio et al. 2013; Jang, Gu & Poole, "Categorical reparameterization with
    Gumbel-softmax", ICLR 2017 (the straight-through variant).

    Examples:
        >>> import torch, relaxlib as rl
        >>> x = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
        >>> y = rl.st_one_hot_argmax(x, 0.5)
        >>> y
        tensor([0., 1., 0.], grad_fn=<AddBackward0>)
        >>> y[1].backward(); x.grad  # the gradient of softmax(x / 0.5)[1]
        tensor([-0.1927,  0.2636, -0.0709])
    """
    t, low, high, dim = _check_tempered(x, temperature, dim, "x", scalar_ok=False)
    soft = _tempered_probs(x, t, low, high, dim, "x").to(x.dtype)
    return straight_through(_one_hot_max(x, dim, None), soft)
