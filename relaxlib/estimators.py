"""Gradient estimators for losses of discrete random choices: the score function (REINFORCE)."""

from __future__ import annotations

import math
import numbers
from typing import Union

import torch

from ._validation import check_broadcasts_to, check_finite, check_floating

__all__ = ["reinforce_surrogate"]

Baseline = Union[None, float, torch.Tensor, str]


def _baseline_values(loss: torch.Tensor, baseline: Baseline) -> torch.Tensor:
    """The baseline b_i for each sample, detached, as a tensor that broadcasts to ``loss``."""
    if baseline is None:
        return torch.zeros((), dtype=loss.dtype, device=loss.device)
    if isinstance(baseline, str):
        if baseline != "loo":
            raise ValueError(
                f"baseline must be None, a number, a tensor or 'loo', got {baseline!r}"
            )
        m = loss.shape[0] if loss.dim() > 0 else 1
        if m < 2:
            raise ValueError(
                "baseline='loo' needs at least 2 samples along dim 0 of loss "
                f"(got shape {tuple(loss.shape)})"
            )
        return (loss.sum(0, keepdim=True) - loss) / (m - 1)
    if isinstance(baseline, bool):
        raise TypeError("baseline must be None, a number, a tensor or 'loo', got a bool")
    if isinstance(baseline, numbers.Real):
        if not math.isfinite(baseline):
            raise ValueError(f"baseline must be finite, got {baseline}")
        return torch.tensor(float(baseline), dtype=loss.dtype, device=loss.device)
    if isinstance(baseline, torch.Tensor):
        if baseline.dtype == torch.bool or baseline.is_complex():
            raise TypeError(f"baseline must be a real tensor, got dtype {baseline.dtype}")
        check_broadcasts_to(baseline, loss.shape, "baseline", "loss")
        check_finite(baseline, "baseline")
        return baseline.detach().to(dtype=loss.dtype, device=loss.device)
    raise TypeError(
        f"baseline must be None, a number, a tensor or 'loo', got {type(baseline).__name__}"
    )


def reinforce_surrogate(
    log_prob: torch.Tensor, loss: torch.Tensor, baseline: Baseline = None
) -> torch.Tensor:
    r"""A surrogate scalar whose value is the mean loss and whose gradient is REINFORCE's.

    For samples :math:`y_i \sim p(y;\omega)`, :math:`i = 1 \dots m`, with losses
    :math:`L_i` and baselines :math:`b_i`, ``backward()`` on the result gives

    .. math:: \hat g = \frac1m\sum_{i=1}^m (L_i - b_i)\,\nabla_\omega \log p(y_i;\omega)
              \;+\; \frac1m\sum_{i=1}^m \nabla_\omega L_i ,

    the score-function (log-derivative) estimate of :math:`\nabla_\omega\,\mathbb E[L]`, plus
    any pathwise gradient that reaches ``loss`` directly (zero when ``loss`` depends on
    :math:`\omega` only through the discrete sample). The value of the result is exactly
    ``loss.mean()``, so it can be printed and logged as the loss. Built as
    :math:`\bar L + \bar s - \mathrm{sg}(\bar s)` with
    :math:`s_i = \mathrm{sg}(L_i - b_i)\log p(y_i)`.

    Baselines. Any :math:`b_i` that does not depend on :math:`y_i` keeps the estimate unbiased,
    because :math:`\mathbb E[\nabla\log p(y)] = 0`; a good one lowers its variance.

    * ``None``: :math:`b_i = 0`.
    * a number or tensor (detached: train a learned baseline with a loss of its own).
    * ``"loo"``: leave-one-out, :math:`b_i = \frac{1}{m-1}\sum_{j\ne i} L_j` over dim 0, the
      mean loss of the *other* samples: independent of :math:`y_i`, hence unbiased. Needs
      :math:`m \ge 2`.

    Args:
        log_prob: :math:`\log p(y_i;\omega)`, floating, differentiable in :math:`\omega`
            (e.g. ``dist.log_prob(dist.sample())``), shape ``(m, ...)``: samples along dim 0.
        loss: :math:`L_i`, floating, same shape as ``log_prob``.
        baseline: ``None``, a finite number, a finite tensor that broadcasts to ``loss``
            (cast to its dtype), or ``"loo"``.

    Returns:
        A 0-d tensor of ``loss``'s dtype: the mean over all entries.

    Raises:
        TypeError: ``log_prob`` or ``loss`` is not a floating tensor; ``baseline`` is a bool,
            or a bool or complex tensor.
        ValueError: ``log_prob`` and ``loss`` differ in shape or are empty; ``baseline`` is
            not finite, does not broadcast to ``loss`` (shape ``(m, 1)`` for losses of shape
            ``(m,)`` would pair every loss with every baseline), or a string but ``"loo"``;
            ``"loo"`` with fewer than 2 samples.

    Reference: Williams, "Simple statistical gradient-following algorithms for connectionist
    reinforcement learning", Machine Learning 8, 1992; Mohamed et al., "Monte Carlo gradient
    estimation in machine learning", JMLR 2020; Kool, van Hoof & Welling, "Buy 4 REINFORCE
    samples, get a baseline for free!", ICLR workshop 2019 (the leave-one-out baseline).

    Examples:
        >>> import torch, relaxlib as rl
        >>> theta = torch.tensor(0.3, requires_grad=True)  # p(y = 1) for a Bernoulli y
        >>> y = torch.tensor([1.0, 0.0, 0.0, 1.0])  # four samples
        >>> log_p = y * theta.log() + (1 - y) * (1 - theta).log()
        >>> s = rl.reinforce_surrogate(log_p, (y - 0.45) ** 2, baseline="loo")
        >>> s  # the mean loss
        tensor(0.2525, grad_fn=<AddBackward0>)
        >>> s.backward(); theta.grad  # (1/4) sum (L_i - b_i) d log p(y_i) / d theta
        tensor(0.1587)
    """
    check_floating(log_prob, "log_prob")
    check_floating(loss, "loss")
    if log_prob.shape != loss.shape:
        raise ValueError(
            f"log_prob and loss must have the same shape (one entry per sample), got "
            f"{tuple(log_prob.shape)} and {tuple(loss.shape)}"
        )
    if loss.numel() == 0:
        raise ValueError("log_prob and loss are empty: the mean over no samples is undefined")
    b = _baseline_values(loss.detach(), baseline)
    score = (loss.detach() - b) * log_prob
    mean_score = score.mean()
    return loss.mean() + (mean_score - mean_score.detach())
