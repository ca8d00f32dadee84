r"""Exercise checkers of chapter 8 (the worked model): the KL term of the categorical VAE's
ELBO, and the leave-one-out REINFORCE loss that trains its encoder.

* :func:`check_kl_to_uniform`: ``fn(logits)`` with ``logits`` of shape ``(B, L, K)`` must
  return :math:`\mathrm{KL}(q \,\|\, \mathcal U) = \sum_l \sum_k q_{lk}(\log q_{lk} + \log K)`
  per image, shape ``(B,)``. Values and gradients are compared with
  :func:`relaxlib.discrete_vae.kl_to_uniform`; a wrong answer is matched against the
  common mistakes (wrong sign, forgotten :math:`\log K`, the sum over the wrong dimension,
  the reversed KL, unnormalised logits, ...), and a saturated softmax must not give NaN.
* :func:`check_loo_loss`: ``fn(log_q, recon)`` with both of shape ``(m, B)`` (``m`` samples
  of each of ``B`` images) must return a scalar whose value is ``recon.mean()`` and whose
  gradient is the leave-one-out REINFORCE estimate (with respect to ``log_q``) plus the
  pathwise gradient (with respect to ``recon``). Mistakes are recognised by their
  *gradients*, which is where they differ (a baseline that includes the sample itself, one
  taken over the images instead of the samples, a missing ``detach``, ...).

Needs only torch.

References: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
2017 (the categorical VAE); Kool, van Hoof & Welling, "Buy 4 REINFORCE samples, get a
baseline for free!", ICLR workshop 2019 (the leave-one-out baseline); Williams, Machine
Learning 8, 1992 (REINFORCE).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Tuple

import torch

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
)

__all__ = [
    "reference_kl_to_uniform",
    "check_kl_to_uniform",
    "reference_loo_loss",
    "check_loo_loss",
]


# --------------------------------------------------------------------------------------
# Exercise: the KL term to a uniform prior
# --------------------------------------------------------------------------------------


def reference_kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_l \sum_k q_{lk}(\log q_{lk} + \log K)` with
    :math:`q_l = \operatorname{softmax}(\text{logits}_l)`, shape ``logits.shape[:-2]``.

    The reference answer of the first exercise; the same as
    :func:`relaxlib.discrete_vae.kl_to_uniform`.
    """
    log_q = torch.log_softmax(logits, -1)
    return (log_q.exp() * (log_q + math.log(logits.shape[-1]))).sum((-1, -2))


def _logits(shape, seed: int, scale: float = 1.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _kl_cases() -> list:
    return [
        Case((_logits((3, 2, 4), 1),), "logits of shape (B, L, K) = (3, 2, 4)"),
        Case((_logits((5, 4, 4), 2),), "logits of shape (5, 4, 4), as in the worked model"),
        Case((_logits((2, 3, 2), 3, 3.0),), "logits of shape (2, 3, 2) (binary latents)"),
    ]


def _q(logits, dim=-1):
    return torch.softmax(logits, dim)


def _kl_mistakes() -> list:
    lk = math.log
    return [
        Mistake(
            "wrong sign",
            lambda x: -reference_kl_to_uniform(x),
            "your KL is negative: it has the wrong sign. KL(q || p) = sum_k q_k (log q_k - "
            "log p_k) is never negative; with p_k = 1/K that is sum_k q_k (log q_k + log K).",
        ),
        Mistake(
            "entropy",
            lambda x: -(_q(x) * torch.log_softmax(x, -1)).sum((-1, -2)),
            "that is the entropy H(q) = -sum q log q, summed over the latents. The KL to the "
            "uniform prior is log K - H(q) per latent: flip the sign and add log K.",
        ),
        Mistake(
            "forgot log K",
            lambda x: (_q(x) * torch.log_softmax(x, -1)).sum((-1, -2)),
            "you forgot the log K term: sum q log q alone is -H(q), which is negative. The "
            "prior's log-probability is log(1/K) = -log K, so add log K for every latent "
            "(sum_k q_k log K = log K).",
        ),
        Mistake(
            "log K once",
            lambda x: (_q(x) * torch.log_softmax(x, -1)).sum((-1, -2)) + lk(x.shape[-1]),
            "log K is added only once per image; every one of the L latents has its own "
            "uniform prior, so the KL gets log K per latent (L log K in all).",
        ),
        Mistake(
            "reversed KL",
            lambda x: ((1.0 / x.shape[-1]) * (-lk(x.shape[-1]) - torch.log_softmax(x, -1))).sum(
                (-1, -2)
            ),
            "that is the reversed divergence KL(uniform || q) = sum_k (1/K) log((1/K)/q_k). "
            "The ELBO has KL(q || p): the expectation is under q, so weight by q_k.",
        ),
        Mistake(
            "logits not log-probabilities",
            lambda x: (_q(x) * (x + lk(x.shape[-1]))).sum((-1, -2)),
            "you used the raw logits where log q belongs. Logits are log-probabilities only "
            "up to a constant; use torch.log_softmax(logits, dim=-1).",
        ),
        Mistake(
            "softmax over latents",
            lambda x: (_q(x, -2) * (torch.log_softmax(x, -2) + lk(x.shape[-1]))).sum((-1, -2)),
            "the softmax is taken over the latents (dim=-2) instead of the categories "
            "(dim=-1): each latent's K probabilities must sum to 1.",
        ),
        Mistake(
            "mean over latents",
            lambda x: reference_kl_to_uniform(x) / x.shape[-2],
            "you averaged over the L latents; they are independent, so their KLs add up: sum "
            "over the latents (dim=-2) as well as the categories.",
        ),
        Mistake(
            "summed over categories only",
            lambda x: (_q(x) * (torch.log_softmax(x, -1) + lk(x.shape[-1]))).sum(-1),
            "you summed over the categories only and returned one KL per latent, shape "
            "(B, L); sum over the latents too (dims -1 and -2) to get one number per image.",
        ),
        Mistake(
            "summed over the batch",
            lambda x: (_q(x) * (torch.log_softmax(x, -1) + lk(x.shape[-1]))).sum((0, -1)),
            "you summed over the batch (dim 0) instead of the latents: the result must keep "
            "one KL per image, shape (B,); sum over dims -1 and -2.",
        ),
        Mistake(
            "summed everything",
            lambda x: reference_kl_to_uniform(x).sum(),
            "you summed over everything, the batch included, and returned one number; return "
            "one KL per image, shape (B,) (the training loop takes the mean itself).",
        ),
    ]


def check_kl_to_uniform(fn: Callable) -> Feedback:
    r"""Check ``fn(logits)``: the KL from :math:`L` independent categoricals to the uniform prior.

    ``logits`` has shape ``(B, L, K)``; the answer is
    :math:`\mathrm{KL}_b = \sum_{l}\sum_{k} q_{blk}(\log q_{blk} + \log K)`,
    :math:`q_{bl} = \operatorname{softmax}(\text{logits}_{bl})`, shape ``(B,)``, differentiable.
    After values and gradients, a saturated input (a logit 200 above the others, in float32)
    must give a finite answer: ``torch.log(torch.softmax(...))`` computes ``0 * log 0 = NaN``
    there, ``torch.log_softmax`` does not.

    Recognised mistakes: wrong sign; the entropy instead of the KL; the :math:`\log K` term
    forgotten, or added once instead of once per latent; the reversed KL; raw logits used as
    log-probabilities; the softmax over the latents; a mean over the latents; sums over the
    categories only, over the batch, or over everything; NaN on a saturated softmax; no
    gradient.

    Args:
        fn: the student's function ``fn(logits) -> tensor``.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "KL to a uniform prior"
    verdict = check_function(
        fn,
        exercise=exercise,
        reference=reference_kl_to_uniform,
        cases=_kl_cases(),
        mistakes=_kl_mistakes(),
        atol=1e-6,
        rtol=1e-6,
    )
    if not verdict.passed:
        return verdict
    saturated = torch.tensor([[[200.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]]])
    out, problem = call_safely(
        fn, (saturated.clone(),), CheckContext(exercise, 0, 0), "saturated logits"
    )
    if problem is not None:
        return problem
    if not isinstance(out, torch.Tensor) or not bool(torch.isfinite(out).all()):
        return Feedback(
            exercise,
            INCORRECT,
            "right for moderate logits, but NaN or inf for a saturated softmax (logits "
            "[200, 0, 0, 0] in float32, where softmax underflows to exactly 0): "
            "torch.log(softmax) gives log 0 = -inf and 0 * -inf = NaN. Use "
            "torch.log_softmax(logits, dim=-1) and exponentiate it for q.",
            "NaN when saturated",
        )
    expected = reference_kl_to_uniform(saturated)
    if not torch.allclose(out.detach().double(), expected.double(), atol=1e-4, rtol=1e-4):
        return Feedback(
            exercise,
            INCORRECT,
            "right for moderate logits, but wrong for a saturated softmax (logits [200, 0, 0, "
            f"0] in float32): expected {expected.item():.4f}, got {out.flatten()[0].item():.4f}.",
            "wrong when saturated",
        )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(_kl_cases()) + 1} checks passed (values, gradients, and a saturated "
        "softmax). Well done!",
    )


# --------------------------------------------------------------------------------------
# Exercise: the leave-one-out REINFORCE loss
# --------------------------------------------------------------------------------------


def _sg(t: torch.Tensor) -> torch.Tensor:
    return t.detach()


def _loo_baseline(recon: torch.Tensor, dim: int = 0) -> torch.Tensor:
    m = recon.shape[dim]
    return (recon.sum(dim, keepdim=True) - recon) / (m - 1)


def _surrogate(log_q, recon, baseline, detach_score=True):
    score = ((recon - baseline).detach() if detach_score else (recon - baseline)) * log_q
    s = score.mean()
    return recon.mean() + s - s.detach()


def reference_loo_loss(log_q: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    r"""The leave-one-out REINFORCE loss for ``m`` samples of each of ``B`` images.

    With :math:`b_{ib} = \frac{1}{m-1}\sum_{j \ne i} L_{jb}` (the mean loss of the *other*
    samples of the same image, dim 0), and :math:`\mathrm{sg}` the stop-gradient,

    .. math:: \text{loss} = \bar L + \bar s - \mathrm{sg}(\bar s), \qquad
              s_{ib} = \mathrm{sg}(L_{ib} - b_{ib}) \log q(z_{ib} \mid x_b),

    bars the mean over all :math:`mB` entries: the value is the mean reconstruction loss,
    the gradient with respect to ``log_q`` is :math:`(L_{ib} - b_{ib})/(mB)` (score function),
    and with respect to ``recon`` it is :math:`1/(mB)` (the decoder's pathwise gradient).
    The same as ``relaxlib.reinforce_surrogate(log_q, recon, baseline="loo")``.

    Args:
        log_q: :math:`\log q(z_{ib} \mid x_b)`, shape ``(m, B)``, :math:`m \ge 2`.
        recon: :math:`L_{ib} = -\log p(x_b \mid z_{ib})`, shape ``(m, B)``.

    Returns:
        A 0-d tensor.
    """
    return _surrogate(log_q, recon, _sg(_loo_baseline(recon)))


def _loo_inputs(m: int, b: int, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    log_q = -torch.rand(m, b, generator=g, dtype=torch.float64) * 4 - 0.1
    recon = 20 + torch.rand(m, b, generator=g, dtype=torch.float64) * 10
    return log_q, recon


_LOO_CASES = (
    ((4, 3), 11, "m = 4 samples of B = 3 images"),
    ((3, 5), 12, "m = 3 samples of B = 5 images"),
    ((2, 2), 13, "m = 2 samples of B = 2 images"),
)


def _loo_mistakes() -> Dict[str, Tuple[Callable, str]]:
    """name -> (wrong function, message), most specific first."""
    return {
        "includes own sample": (
            lambda lq, r: _surrogate(lq, r, _sg(r.mean(0, keepdim=True))),
            "your baseline is the mean of *all* m losses of the image, the sample's own loss "
            "included. Then b_i depends on z_i and the estimate is biased (shrunk by a factor "
            "(m-1)/m). Leave the sample out: b_i = (sum_j L_j - L_i) / (m - 1).",
        ),
        "baseline over images": (
            lambda lq, r: _surrogate(lq, r, _sg(_loo_baseline(r, 1))),
            "the leave-one-out mean runs over the images (dim 1) instead of the samples "
            "(dim 0). A baseline must come from other samples of the *same* image, which "
            "share its x; other images have different losses.",
        ),
        "divided by m": (
            lambda lq, r: _surrogate(lq, r, _sg((r.sum(0, keepdim=True) - r) / r.shape[0])),
            "the leave-one-out sum is divided by m; it has m - 1 terms, so divide by m - 1.",
        ),
        "no baseline": (
            lambda lq, r: _surrogate(lq, r, torch.zeros_like(r)),
            "there is no baseline: the score term uses L_i itself. That is unbiased but has a "
            "much larger variance; subtract b_i, the mean loss of the other samples.",
        ),
        "sign flipped": (
            lambda lq, r: _surrogate(lq, r, _sg(2 * r - _loo_baseline(r))),
            "the score term has the wrong sign, (b_i - L_i) log q: your gradient would make "
            "high-loss samples *more* likely. Use (L_i - b_i) log q.",
        ),
        "baseline not detached": (
            lambda lq, r: _surrogate(lq, r, _loo_baseline(r), detach_score=False),
            "gradient flows through (L_i - b_i) into the decoder: the weight of log q must be "
            "a constant. Detach it: (L_i - b_i).detach() * log_q.",
        ),
        "only baseline detached": (
            lambda lq, r: _surrogate(lq, r, _sg(_loo_baseline(r)), detach_score=False),
            "you detached the baseline but not L_i in the score term, so gradient flows from "
            "L_i * log q into the decoder. Detach the whole weight: (L_i - b_i).detach().",
        ),
        "no pathwise term": (
            lambda lq, r: _surrogate(lq, r, _sg(_loo_baseline(r))) - r.mean() + r.mean().detach(),
            "the decoder gets no gradient: your loss only has the score term. Add the mean "
            "reconstruction loss itself (its gradient trains the decoder).",
        ),
        "summed": (
            lambda lq, r: _surrogate(lq, r, _sg(_loo_baseline(r))) * r.numel(),
            "you summed over the samples and images instead of averaging: the gradient is m*B "
            "times too large. Take the mean over all m*B entries.",
        ),
    }


def _value_and_grads(fn: Callable, log_q: torch.Tensor, recon: torch.Tensor):
    lq = log_q.detach().clone().requires_grad_(True)
    r = recon.detach().clone().requires_grad_(True)
    out = fn(lq, r)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        return out, None, None
    if not out.requires_grad:
        return out, torch.zeros_like(lq), torch.zeros_like(r)
    g_lq, g_r = torch.autograd.grad(out.reshape(()), (lq, r), allow_unused=True)
    g_lq = torch.zeros_like(lq) if g_lq is None else g_lq
    g_r = torch.zeros_like(r) if g_r is None else g_r
    return out, g_lq, g_r


def _same(a: Optional[torch.Tensor], b: Optional[torch.Tensor], tol: float = 1e-9) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(torch.allclose(a.double(), b.double(), rtol=1e-6, atol=tol))


def check_loo_loss(fn: Callable) -> Feedback:
    r"""Check ``fn(log_q, recon)``: the leave-one-out REINFORCE loss (:func:`reference_loo_loss`).

    Both inputs have shape ``(m, B)``: ``m`` latent samples (dim 0) of each of ``B`` images.
    The answer must be a scalar with value ``recon.mean()`` and gradients
    :math:`(L_{ib} - b_{ib})/(mB)` with respect to ``log_q`` and :math:`1/(mB)` with respect
    to ``recon``. A wrong answer is matched, by its value and both gradients, against the
    common mistakes: a baseline that includes the sample itself, a leave-one-out mean over
    the images instead of the samples, division by :math:`m` instead of :math:`m-1`, no
    baseline, the sign flipped, the weight of :math:`\log q` not detached (fully or only
    the baseline), the decoder's pathwise term missing, a sum instead of a mean; and the
    right gradients with a value that is not the mean loss.

    Args:
        fn: the student's function ``fn(log_q, recon) -> 0-d tensor``.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "leave-one-out REINFORCE loss"
    ctx = CheckContext(exercise, 0, 0)
    mistakes = _loo_mistakes()
    for shape, seed, label in _LOO_CASES:
        log_q, recon = _loo_inputs(*shape, seed)
        _, problem = call_safely(fn, (log_q.clone(), recon.clone()), ctx, label)
        if problem is not None:
            return problem
        try:
            out, g_lq, g_r = _value_and_grads(fn, log_q, recon)
        except Exception as err:  # noqa: BLE001 - any student error becomes feedback
            return Feedback(
                exercise,
                ERROR,
                f"your function raised {type(err).__name__} when run with gradients for "
                f"{label}: {err}",
            )
        if g_lq is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"return one number (a 0-d tensor) to call .backward() on; for {label} you "
                f"returned {type(out).__name__}"
                + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else "")
                + ". Average over the samples and the images.",
                "not a scalar",
            )
        ref, r_lq, r_r = _value_and_grads(reference_loo_loss, log_q, recon)
        value_ok = _same(out.detach().reshape(()), ref.detach(), 1e-9)
        if value_ok and _same(g_lq, r_lq) and _same(g_r, r_r):
            continue
        if not torch.any(g_lq != 0) and not torch.any(g_r != 0):
            return Feedback(
                exercise,
                INCORRECT,
                "no gradient reaches log_q or recon: keep the computation in torch and do not "
                "detach log_q (only the weight (L_i - b_i) is detached).",
                "no gradient",
            )
        if _same(g_lq, r_lq) and _same(g_r, r_r):
            return Feedback(
                exercise,
                INCORRECT,
                f"the gradients are right, but the value is not the mean reconstruction loss "
                f"(for {label} expected {ref.item():.4f}, got {out.item():.4f}). Write the "
                "score term as s - s.detach(), which is 0 in value, so that the loss you "
                "print and log is recon.mean().",
                "value not the mean loss",
            )
        for name, (model, message) in mistakes.items():
            w, w_lq, w_r = _value_and_grads(model, log_q, recon)
            if _same(g_lq, w_lq) and _same(g_r, w_r):
                return Feedback(exercise, INCORRECT, message, name)
        if not torch.any(g_lq != 0):
            return Feedback(
                exercise,
                INCORRECT,
                "no gradient reaches log_q, so the encoder would not learn: the score term "
                "(L_i - b_i).detach() * log_q is missing, or log_q was detached.",
                "no score term",
            )
        what = "value" if not value_ok else "gradient"
        return Feedback(
            exercise,
            INCORRECT,
            f"for {label} the {what} differs from the leave-one-out REINFORCE loss "
            f"(expected value {ref.item():.4f}, got {out.item():.4f}); the gradient with "
            "respect to log_q must be (L_i - b_i) / (m B).",
        )
    return Feedback(
        exercise,
        CORRECT,
        f"all {len(_LOO_CASES)} checks passed (value and both gradients). Well done!",
    )
