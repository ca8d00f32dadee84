r"""Chapter 4's algorithm, as the page writes it: fixed-step gradient descent on a loss of
one variable, with the gradient from autograd.

:func:`gradient_descent` is a copy of a cell of ``chapters/04_huber.ipynb`` (its docstring
says so, and ``tests/test_page_sources.py`` checks that the two sources are the same,
docstrings aside). The copy exists for the exercise checkers
(:mod:`dae_course.ch04_huber.checks`) and the tests; read the page for the story. Needs
only torch.
"""

from __future__ import annotations

import torch

__all__ = ["gradient_descent"]


def gradient_descent(loss, x0, y, lr, steps, device=None):
    r"""Fixed-step gradient descent on ``loss(x, y)`` over a scalar ``x``.

    Iterates :math:`x_{k+1} = x_k - \eta\,\partial_x \ell(x_k, y)` for ``steps`` steps from
    :math:`x_0`, in float64, with the slope from autograd (so at a kink it is whatever
    PyTorch picks: 0 for ``abs`` at 0). ``loss(x, y)`` is an elementwise loss such as
    ``(x - y).abs()``, ``partial(relaxlib.huber, delta=...)`` or
    ``partial(relaxlib.smooth_l1, beta=...)``.

    Args:
        loss: ``loss(x, y) -> 0-d tensor``.
        x0: the start :math:`x_0`, a number.
        y: the target :math:`y`, a number.
        lr: the step size :math:`\eta`.
        steps: the number of steps :math:`K`.
        device: where to compute (default: the CPU).

    Returns:
        A float64 CPU tensor of shape ``(steps + 1,)``: :math:`x_0, x_1, \dots, x_K`.

    Example:
        >>> path = gradient_descent(lambda x, y: (x - y).abs(), 1.0, 0.0, 0.75, 3)
        >>> path.tolist()
        [1.0, 0.25, -0.5, 0.25]

    Defined on the page: chapters/04_huber.ipynb
    """
    x = torch.tensor(x0, dtype=torch.float64, device=device)
    y = torch.tensor(y, dtype=torch.float64, device=device)
    path = [x]
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        (slope,) = torch.autograd.grad(loss(x, y), x)  # autograd's gradient at x_k
        x = (x - lr * slope).detach()  # x_{k+1} = x_k - lr * slope
        path.append(x)
    return torch.stack(path).cpu()
