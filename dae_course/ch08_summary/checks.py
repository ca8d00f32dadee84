r"""Exercise checkers of chapter 8 (the worked model).

* :func:`check_kl_to_prior`: ``fn(logits, prior_logits)`` must return
  :math:`\mathrm{KL}(q \,\|\, p) = \sum_l \sum_k q_{lk}(\log q_{lk} - \log p_{lk})` per image,
  for :math:`L` categorical latents with a prior :math:`p_l = \operatorname{softmax}(
  \text{prior\_logits}_l)` that need not be uniform (a learned prior). Values and gradients
  (with respect to both arguments) are compared with :func:`reference_kl_to_prior`; a wrong
  answer is matched against the common mistakes (wrong sign, the prior forgotten or left
  unnormalised, the reversed KL, sums over the wrong dimensions, ...), and a saturated
  softmax must not give NaN.
* :func:`check_loo_loss`: ``fn(log_q, recon)`` with both of shape ``(m, B)`` (``m`` samples
  of each of ``B`` images) must return a scalar whose value is ``recon.mean()`` and whose
  gradient is the leave-one-out REINFORCE estimate (with respect to ``log_q``) plus the
  pathwise gradient (with respect to ``recon``). Mistakes are recognised by their
  *gradients*, which is where they differ.
* :func:`check_untrained_neg_elbo`: a short derivation typed as a function: the negative
  ELBO of a model whose decoder outputs the logit 0 for every pixel and whose encoder is
  uniform, ``fn(n_pixels)`` (it is :math:`D \log 2`); named mistakes are bits instead of
  nats, one pixel instead of all, the sign, and the KL's maximum added.
* :func:`check_capstone`: the student's REINFORCE-with-leave-one-out objective for the
  chapter's categorical VAE at fixed Gumbel noise (value and every parameter's gradient
  against :func:`reference_capstone_objective`, with named mistakes: the KL forgotten, the
  baseline including the sample's own loss, no detach on the score term, ...), then the
  student's training loop, watched step by step (``zero_grad`` forgotten, ``step`` without a
  gradient, parameters that never change), then both together, trained for a few seconds
  and judged by the exact held-out negative ELBO.

Needs only torch.

References: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
2017 (the categorical VAE); Kool, van Hoof & Welling, "Buy 4 REINFORCE samples, get a
baseline for free!", ICLR workshop 2019 (the leave-one-out baseline); Williams, Machine
Learning 8, 1992 (REINFORCE).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_pre_hook

import relaxlib as rl

from ..checking import (
    CORRECT,
    ERROR,
    INCORRECT,
    NOT_ATTEMPTED,
    Case,
    CheckContext,
    Feedback,
    Mistake,
    call_safely,
    check_function,
)
from .data import make_parts_data
from .evaluation import exact_bounds
from .model import CategoricalVAE, bernoulli_log_likelihood, kl_to_uniform

__all__ = [
    "reference_kl_to_prior",
    "check_kl_to_prior",
    "reference_loo_loss",
    "check_loo_loss",
    "check_untrained_neg_elbo",
    "reference_capstone_objective",
    "reference_capstone_train",
    "check_capstone",
]


# --------------------------------------------------------------------------------------
# Exercise: the KL term to a prior that need not be uniform
# --------------------------------------------------------------------------------------


def reference_kl_to_prior(logits: torch.Tensor, prior_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_l \sum_k q_{lk}(\log q_{lk} - \log p_{lk})` with
    :math:`q_l = \operatorname{softmax}(\text{logits}_l)` (``(B, L, K)``) and
    :math:`p_l = \operatorname{softmax}(\text{prior\_logits}_l)` (``(L, K)``, the same for
    every image), shape ``(B,)``. With ``prior_logits`` all equal it is the chapter's
    ``kl_to_uniform``.
    """
    log_q = torch.log_softmax(logits, -1)
    log_p = torch.log_softmax(prior_logits, -1)
    return (log_q.exp() * (log_q - log_p)).sum((-1, -2))


def _logits(shape, seed: int, scale: float = 1.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _kl_cases() -> list:
    return [
        Case(
            (_logits((3, 2, 4), 1), _logits((2, 4), 4) + 2.0),
            "logits of shape (B, L, K) = (3, 2, 4) and prior logits of shape (2, 4)",
        ),
        Case(
            (_logits((5, 4, 4), 2), _logits((4, 4), 5) - 1.0),
            "logits (5, 4, 4), as in the worked model, and prior logits (4, 4)",
        ),
        Case(
            (_logits((2, 3, 2), 3, 3.0), torch.zeros(3, 2, dtype=torch.float64)),
            "logits (2, 3, 2) (binary latents) and a uniform prior (prior logits 0)",
        ),
    ]


def _lq(x, dim=-1):
    return torch.log_softmax(x, dim)


def _kl_mistakes() -> list:
    def kl(q_logits, log_p, dim=-1):
        log_q = _lq(q_logits, dim)
        return log_q.exp() * (log_q - log_p)

    return [
        Mistake(
            "wrong sign",
            lambda x, p: -reference_kl_to_prior(x, p),
            "your KL is negative: it has the wrong sign. KL(q || p) = sum_k q_k (log q_k - "
            "log p_k) is never negative.",
        ),
        Mistake(
            "uniform prior",
            lambda x, p: kl_to_uniform(x),
            "that is the KL to the *uniform* prior, log p_k = -log K: use the given prior, "
            "log p = torch.log_softmax(prior_logits, dim=-1).",
        ),
        Mistake(
            "prior not normalised",
            lambda x, p: (_lq(x).exp() * (_lq(x) - p)).sum((-1, -2)),
            "you used the prior's raw logits as log-probabilities. Logits are "
            "log-probabilities only up to a constant; normalise them with "
            "torch.log_softmax(prior_logits, dim=-1).",
        ),
        Mistake(
            "logits not log-probabilities",
            lambda x, p: (_lq(x).exp() * (x - _lq(p))).sum((-1, -2)),
            "you used the raw logits where log q belongs. Logits are log-probabilities only "
            "up to a constant; use torch.log_softmax(logits, dim=-1).",
        ),
        Mistake(
            "entropy",
            lambda x, p: -(_lq(x).exp() * _lq(x)).sum((-1, -2)),
            "that is the entropy H(q) = -sum q log q, summed over the latents; the KL "
            "compares q with the prior: sum q (log q - log p).",
        ),
        Mistake(
            "forgot the prior",
            lambda x, p: (_lq(x).exp() * _lq(x)).sum((-1, -2)),
            "you forgot the prior: sum q log q alone is -H(q). Subtract log p, weighted by "
            "q: sum_k q_k (log q_k - log p_k).",
        ),
        Mistake(
            "reversed KL",
            lambda x, p: (_lq(p).exp() * (_lq(p) - _lq(x))).sum((-1, -2)),
            "that is the reversed divergence KL(p || q) = sum_k p_k log(p_k / q_k). The ELBO "
            "has KL(q || p): the expectation is under q, so weight by q_k.",
        ),
        Mistake(
            "softmax over latents",
            lambda x, p: kl(x, _lq(p, -2), -2).sum((-1, -2)),
            "the softmax is taken over the latents (dim=-2) instead of the categories "
            "(dim=-1): each latent's K probabilities must sum to 1.",
        ),
        Mistake(
            "mean over latents",
            lambda x, p: reference_kl_to_prior(x, p) / x.shape[-2],
            "you averaged over the L latents; they are independent, so their KLs add up: sum "
            "over the latents (dim=-2) as well as the categories.",
        ),
        Mistake(
            "summed over categories only",
            lambda x, p: kl(x, _lq(p)).sum(-1),
            "you summed over the categories only and returned one KL per latent, shape "
            "(B, L); sum over the latents too (dims -1 and -2) to get one number per image.",
        ),
        Mistake(
            "summed over the batch",
            lambda x, p: kl(x, _lq(p)).sum((0, -1)),
            "you summed over the batch (dim 0) instead of the latents: the result must keep "
            "one KL per image, shape (B,); sum over dims -1 and -2.",
        ),
        Mistake(
            "summed everything",
            lambda x, p: reference_kl_to_prior(x, p).sum(),
            "you summed over everything, the batch included, and returned one number; return "
            "one KL per image, shape (B,) (the training loop takes the mean itself).",
        ),
    ]


def check_kl_to_prior(fn: Callable) -> Feedback:
    r"""Check ``fn(logits, prior_logits)``: the KL from :math:`L` independent categoricals to a
    categorical prior given by its own logits.

    ``logits`` has shape ``(B, L, K)``, ``prior_logits`` shape ``(L, K)``; the answer is
    :math:`\mathrm{KL}_b = \sum_{l}\sum_{k} q_{blk}(\log q_{blk} - \log p_{lk})`, shape
    ``(B,)``, differentiable with respect to both (a learned prior needs its gradient).
    After values and gradients, a saturated input (a logit 200 above the others, in float32)
    must give a finite answer: ``torch.log(torch.softmax(...))`` computes ``0 * log 0 = NaN``
    there, ``torch.log_softmax`` does not.

    Recognised mistakes: wrong sign; the uniform prior instead of the given one; the prior's
    logits used unnormalised; raw logits used as log q; the entropy, or :math:`\sum q\log q`
    alone; the reversed KL; the softmax over the latents; a mean over the latents; sums over
    the categories only, over the batch, or over everything; NaN on a saturated softmax; no
    gradient.

    Args:
        fn: the student's function ``fn(logits, prior_logits) -> tensor``.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "KL to a categorical prior"
    verdict = check_function(
        fn,
        exercise=exercise,
        reference=reference_kl_to_prior,
        cases=_kl_cases(),
        mistakes=_kl_mistakes(),
        atol=1e-6,
        rtol=1e-6,
    )
    if not verdict.passed:
        return verdict
    saturated = torch.tensor([[[200.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]]])
    prior = torch.tensor([[0.0, 1.0, 0.0, -1.0], [0.5, 0.0, 0.0, 0.0]])
    out, problem = call_safely(
        fn, (saturated.clone(), prior.clone()), CheckContext(exercise, 0, 0), "saturated logits"
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
    expected = reference_kl_to_prior(saturated, prior)
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
        f"all {len(_kl_cases()) + 1} checks passed (values, gradients with respect to both "
        "arguments, and a saturated softmax). Well done!",
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
    The same gradient as ``relaxlib.reinforce_surrogate(log_q, recon, baseline="loo")``.

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


# --------------------------------------------------------------------------------------
# Exercise: the untrained model's loss, derived
# --------------------------------------------------------------------------------------

_LOG2 = math.log(2.0)


def _untrained_mistakes() -> List[Tuple[str, Callable[[int], float], str]]:
    """(name, wrong answer as a function of D, message), most specific first."""
    return [
        (
            "sign",
            lambda d: -d * _LOG2,
            "that is the ELBO itself, a log-likelihood (negative). The loss the chapter "
            "prints is the *negative* ELBO, a positive number of nats.",
        ),
        (
            "bits",
            lambda d: float(d),
            "you counted in bits (log base 2: one bit per pixel). The chapter measures in "
            "nats, natural logarithms: each pixel costs -log(1/2) = log 2 = 0.693 nats.",
        ),
        (
            "log10",
            lambda d: d * math.log10(2.0),
            "you used log base 10. The chapter measures in nats, natural logarithms: "
            "log 2 = 0.693 per pixel.",
        ),
        (
            "one pixel",
            lambda d: _LOG2,
            "that is the cost of one pixel. The D pixels are independent given the code, so "
            "their log-probabilities add up: multiply by D.",
        ),
        (
            "probability",
            lambda d: 0.5**d,
            "that is the probability of the image, p(x | z) = (1/2)^D. The loss is its "
            "negative logarithm, -log p(x | z).",
        ),
        (
            "KL maximum added",
            lambda d: d * _LOG2 + 4 * math.log(4.0),
            "you added L log K = 4 log 4, the *largest* KL. A uniform encoder q(z | x) equals "
            "the uniform prior, so its KL is 0.",
        ),
    ]


def _as_number(out) -> Optional[float]:
    if isinstance(out, bool):
        return None
    if isinstance(out, (int, float)):
        return float(out)
    if isinstance(out, torch.Tensor) and out.numel() == 1 and not out.is_complex():
        return float(out.detach().double().cpu().reshape(()))
    return None


def check_untrained_neg_elbo(fn: Callable, measured: Optional[float] = None) -> Feedback:
    r"""Check ``fn(n_pixels)``: the negative ELBO of an untrained-looking categorical VAE.

    The model's decoder outputs the logit 0 for every pixel, whatever the code, and its
    encoder is uniform. Then :math:`p(x \mid z) = 2^{-D}` for every binary image and code,
    the KL from the uniform :math:`q` to the uniform prior is 0, and
    :math:`-\mathrm{ELBO} = D \log 2` nats. The answer is tried at :math:`D` = 1, 64 and 784;
    a number, or a one-element tensor, is accepted.

    Recognised mistakes: the sign (the ELBO itself), bits instead of nats, log base 10, one
    pixel instead of all, the probability instead of its negative log, and the largest KL
    :math:`L \log K` (the chapter's :math:`L = K = 4`) added.

    Args:
        fn: the student's function ``fn(n_pixels) -> number``.
        measured: the untrained model's exact held-out negative ELBO, printed by the
            chapter, to compare the formula with.

    Returns:
        A :class:`Feedback`.
    """
    exercise = "the untrained model's loss"
    ctx = CheckContext(exercise, 0, 0)
    for d in (64, 1, 784):
        out, problem = call_safely(fn, (d,), ctx, f"n_pixels = {d}")
        if problem is not None:
            return problem
        value = _as_number(out)
        if value is None:
            return Feedback(
                exercise,
                INCORRECT,
                f"return one number (nats per image); for n_pixels = {d} you returned "
                f"{type(out).__name__}.",
                "not a number",
            )
        expected = d * _LOG2
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        for name, wrong, message in _untrained_mistakes():
            if math.isclose(value, wrong(d), rel_tol=1e-6, abs_tol=1e-12):
                return Feedback(exercise, INCORRECT, message, name)
        return Feedback(
            exercise,
            INCORRECT,
            f"for n_pixels = {d} expected {expected:.4g} nats, got {value:.4g}. With logit 0 "
            "every pixel has probability 1/2 whatever its value; what does one pixel cost, "
            "and what does the KL from a uniform q to the uniform prior add?",
        )
    message = (
        "right: D log 2 nats, 0.693 per pixel, whatever the image (44.36 nats for D = 64), "
        "and a KL of 0."
    )
    if measured is not None:
        message += (
            f" The untrained model above measured {measured:.2f}: its initial logits are "
            "small but not exactly 0 and its encoder not exactly uniform, so it costs a "
            f"little more ({measured - 64 * _LOG2:+.2f} nats). Every trained model of the "
            "chapter has to beat this number."
        )
    return Feedback(exercise, CORRECT, message)


# --------------------------------------------------------------------------------------
# Capstone: REINFORCE with the leave-one-out baseline, and the training loop
# --------------------------------------------------------------------------------------

CAPSTONE_SAMPLES = 4
CAPSTONE_BATCH = 50
CAPSTONE_LR = 1e-2


def reference_capstone_objective(model, x: torch.Tensor, gumbel: torch.Tensor) -> torch.Tensor:
    r"""The sampled negative ELBO of images ``x`` (``(B, D)``) whose gradient is REINFORCE's
    with the leave-one-out baseline, for Gumbel noise ``gumbel`` (``(m, B, L, K)``).

    The codes are the Gumbel-max samples :math:`z_i = \text{one\_hot}(\arg\max(\phi(x) +
    g_i))`; the value is :math:`\frac{1}{mB}\sum_{i,b} -\log p(x_b \mid z_{ib})` plus the mean
    closed-form KL; the gradient is the leave-one-out score-function estimate for the
    encoder, the pathwise gradient for the decoder, and the KL's own gradient. The same as
    the chapter's ``score_function_objective(..., baseline="loo")`` with the noise given.
    """
    logits = model.encode(x)
    z = F.one_hot((logits + gumbel).argmax(-1), model.n_categories).to(logits.dtype)
    log_q = (torch.log_softmax(logits, -1) * z).sum((-1, -2))  # (m, B)
    recon = -bernoulli_log_likelihood(model.decode(z), x)  # (m, B)
    return rl.reinforce_surrogate(log_q, recon, baseline="loo") + kl_to_uniform(logits).mean()


def reference_capstone_train(model, x_train, objective, *, steps: int, generator):
    r"""The capstone's training loop: ``steps`` Adam steps (learning rate 0.01), each on
    :data:`CAPSTONE_BATCH` images drawn with ``generator``, with Gumbel noise for
    :data:`CAPSTONE_SAMPLES` codes per image drawn from the same generator. Returns the
    model, trained in place."""
    optimiser = torch.optim.Adam(model.parameters(), lr=CAPSTONE_LR)
    for _ in range(steps):
        index = torch.randint(len(x_train), (CAPSTONE_BATCH,), generator=generator)
        x = x_train[index]
        shape = (CAPSTONE_SAMPLES, len(x), model.n_latents, model.n_categories)
        gumbel = rl.gumbel_noise(shape, generator=generator, dtype=x.dtype)
        loss = objective(model, x, gumbel)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model


def _capstone_variants() -> Dict[str, Tuple[Callable, str]]:
    """name -> (wrong objective, message), most specific first."""

    def build(baseline="loo", kl=True, detach=True, sign=1.0, kl_sum=False, codes="gumbel-max"):
        def objective(model, x, gumbel):
            logits = model.encode(x)
            if codes == "mode":
                index = logits.argmax(-1).expand(gumbel.shape[:-1])
            elif codes == "minus":
                index = (logits - gumbel).argmax(-1)
            else:
                index = (logits + gumbel).argmax(-1)
            z = F.one_hot(index, model.n_categories).to(logits.dtype)
            log_q = (torch.log_softmax(logits, -1) * z).sum((-1, -2))
            recon = -bernoulli_log_likelihood(model.decode(z), x)
            m = recon.shape[0]
            if baseline == "loo":
                b = (recon.sum(0, keepdim=True) - recon) / (m - 1)
            elif baseline == "mean":
                b = recon.mean(0, keepdim=True)
            else:
                b = torch.zeros_like(recon)
            weight = (recon - b) if not detach else (recon - b).detach()
            score = (sign * weight * log_q).mean()
            loss = recon.mean() + score - score.detach()
            if kl:
                k = kl_to_uniform(logits)
                loss = loss + (k.sum() if kl_sum else k.mean())
            return loss

        return objective

    def straight_through(temperature):
        def objective(model, x, gumbel):
            logits = model.encode(x)
            soft = torch.softmax((logits + gumbel) / temperature, -1)
            z = rl.straight_through(rl.one_hot_argmax(soft), soft)
            recon = -bernoulli_log_likelihood(model.decode(z), x)
            return recon.mean() + kl_to_uniform(logits).mean()

        return objective

    return {
        "forgot the KL": (
            build(kl=False),
            "the KL term is missing: the value is only the reconstruction loss. Add "
            "kl_to_uniform(logits).mean(), the closed-form KL to the uniform prior (its "
            "gradient is exact; only the reconstruction term needs an estimator).",
        ),
        "KL summed over images": (
            build(kl_sum=True),
            "the KL is summed over the images while the reconstruction loss is averaged: "
            "take the mean of both, so the loss is the mean negative ELBO per image.",
        ),
        "includes own sample": (
            build(baseline="mean"),
            "your baseline is the mean of *all* m losses of the image, the code's own loss "
            "included, so it depends on that code and the estimate is biased (shrunk by "
            "(m-1)/m). Leave the code out: b_i = (sum_j L_j - L_i) / (m - 1).",
        ),
        "no baseline": (
            build(baseline=None),
            "there is no baseline: the score term uses L_i itself. That is unbiased but far "
            "noisier (the chapter measured it); subtract b_i, the mean loss of the image's "
            "other codes.",
        ),
        "no detach on the score term": (
            build(detach=False),
            "the weight (L_i - b_i) of log q is not detached, so the score term also sends "
            "gradient into the decoder (through L_i and b_i). The weight must be a constant: "
            "(recon - baseline).detach() * log_q.",
        ),
        "sign flipped": (
            build(sign=-1.0),
            "the score term has the wrong sign, (b_i - L_i) log q: your gradient would make "
            "high-loss codes *more* likely. Use (L_i - b_i) log q.",
        ),
        "codes without noise": (
            build(codes="mode"),
            "your codes ignore the noise: argmax(logits) is the mode of q, the same code every "
            "time, not a sample. Gumbel-max samples: argmax(logits + gumbel).",
        ),
        "noise subtracted": (
            build(codes="minus"),
            "argmax(logits - gumbel) does not sample q (chapter 7: the noise must be added, "
            "argmax(logits + gumbel)).",
        ),
        "straight-through instead": (
            straight_through(0.5),
            "that is the straight-through Gumbel-softmax (at T = 0.5): the value is right, "
            "but the encoder's gradient comes through the relaxed sample. The capstone asks "
            "for REINFORCE: the score term (L_i - b_i) log q(z_i | x).",
        ),
        "straight-through (T = 1)": (
            straight_through(1.0),
            "that is the straight-through Gumbel-softmax (at T = 1): the value is right, but "
            "the encoder's gradient comes through the relaxed sample. The capstone asks for "
            "REINFORCE: the score term (L_i - b_i) log q(z_i | x).",
        ),
    }


def _capstone_problem(seed: int = 0):
    g = torch.Generator().manual_seed(500 + seed)
    train = make_parts_data(300, generator=g)
    test = make_parts_data(200, generator=g, prototypes=train.prototypes)
    return train.x, test.x


def _small_model(seed: int = 0, hidden: int = 32) -> CategoricalVAE:
    return CategoricalVAE(64, 4, 4, hidden, generator=torch.Generator().manual_seed(seed))


def _value_and_gradients(objective, model, x, gumbel):
    model.zero_grad(set_to_none=True)
    out = objective(model, x.clone(), gumbel.clone())
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        return out, None
    if not out.requires_grad:
        return out, {}
    out.reshape(()).backward()
    grads = {
        name: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
        for name, p in model.named_parameters()
    }
    model.zero_grad(set_to_none=True)
    return out.detach(), grads


def _close(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> bool:
    return all(torch.allclose(a[k], b[k], rtol=1e-7, atol=1e-9) for k in b)


def _which(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> str:
    wrong = [k for k in b if not torch.allclose(a[k], b[k], rtol=1e-7, atol=1e-9)]
    parts = sorted({"encoder" if k.startswith("enc") else "decoder" for k in wrong})
    return " and ".join(parts)


def _check_objective(fn: Callable, exercise: str) -> Optional[Feedback]:
    ctx = CheckContext(exercise, 0, 0)
    x_train, _ = _capstone_problem()
    variants = _capstone_variants()
    for seed, b in ((1, 6), (2, 3)):
        model = _small_model(seed)
        x = x_train[:b]
        gumbel = rl.gumbel_noise(
            (CAPSTONE_SAMPLES, b, 4, 4), generator=torch.Generator().manual_seed(seed)
        )
        label = f"{b} images and m = {CAPSTONE_SAMPLES} codes each"
        _, problem = call_safely(fn, (model, x.clone(), gumbel.clone()), ctx, label)
        if problem is not None:
            return problem
        try:
            out, grads = _value_and_gradients(fn, model, x, gumbel)
        except Exception as err:  # noqa: BLE001 - any student error becomes feedback
            return Feedback(exercise, ERROR, f"your objective raised {type(err).__name__}: {err}")
        if grads is None:
            return Feedback(
                exercise,
                INCORRECT,
                "the objective must return one number (a 0-d tensor) to call .backward() on; "
                f"for {label} it returned {type(out).__name__}"
                + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""),
                "not a scalar",
            )
        ref, ref_grads = _value_and_gradients(reference_capstone_objective, model, x, gumbel)
        value_ok = bool(torch.allclose(out.double().reshape(()), ref, rtol=1e-9, atol=1e-9))
        if value_ok and grads and _close(grads, ref_grads):
            continue
        if not grads or not any(bool(torch.any(g != 0)) for g in grads.values()):
            return Feedback(
                exercise,
                INCORRECT,
                "no gradient reaches the model's parameters: keep the computation in torch "
                "(no .item(), no .detach() of the loss or of log q).",
                "no gradient",
            )
        for name, (wrong, message) in variants.items():
            w_out, w_grads = _value_and_gradients(wrong, model, x, gumbel)
            same_value = bool(torch.allclose(out.double().reshape(()), w_out, rtol=1e-9))
            if same_value and _close(grads, w_grads):
                return Feedback(exercise, INCORRECT, message, name)
        if not value_ok:
            return Feedback(
                exercise,
                INCORRECT,
                f"for {label} the value should be the sampled negative ELBO, {ref.item():.4f} "
                f"nats per image (mean reconstruction loss plus mean KL), got "
                f"{out.reshape(()).item():.4f}.",
                "wrong value",
            )
        return Feedback(
            exercise,
            INCORRECT,
            f"the value is right, but the gradient of the {_which(grads, ref_grads)} differs "
            "from REINFORCE with the leave-one-out baseline at the same noise. The encoder "
            "gets (L_i - b_i) log q(z_i | x) (weight detached) plus the KL's gradient; the "
            "decoder gets the gradient of the mean reconstruction loss.",
            "wrong gradient",
        )
    return None


class _LoopSpy:
    """Watches a training loop: the gradient of every backward and what optimiser.step sees."""

    def __init__(self, model, objective):
        self.model, self.objective = model, objective
        self.calls = 0
        self.fresh: Dict[int, torch.Tensor] = {}
        self.steps = 0
        self.problem: Optional[str] = None
        self.handles = [
            p.register_hook(self._recorder(i)) for i, p in enumerate(model.parameters())
        ]
        self.handles.append(register_optimizer_step_pre_hook(self._step))

    def _recorder(self, i):
        def hook(grad):
            self.fresh[i] = grad.detach().clone()

        return hook

    def __call__(self, model, x, gumbel):
        self.calls += 1
        self.fresh = {}
        return self.objective(model, x, gumbel)

    def _step(self, optimiser, args, kwargs):
        mine = {id(p) for p in self.model.parameters()}
        watched = [p for group in optimiser.param_groups for p in group["params"]]
        if not any(id(p) in mine for p in watched):
            return
        self.steps += 1
        if self.problem is not None:
            return
        for i, p in enumerate(self.model.parameters()):
            if id(p) not in {id(q) for q in watched}:
                continue
            if p.grad is None or i not in self.fresh:
                self.problem = "no gradient at step"
            elif not torch.allclose(p.grad, self.fresh[i], rtol=1e-9, atol=1e-12):
                self.problem = "gradients accumulate"

    def remove(self):
        for h in self.handles:
            h.remove()


_LOOP_MESSAGES = {
    "no gradient at step": (
        "when optimiser.step() ran, the parameters had no gradient from this step's loss. "
        "The order is: loss = objective(...); optimiser.zero_grad(); loss.backward(); "
        "optimiser.step() (zero_grad must come before backward, not between backward and "
        "step)."
    ),
    "gradients accumulate": (
        "the gradient that optimiser.step() used was not this step's: PyTorch adds every "
        "backward's gradient to .grad, so without optimiser.zero_grad() each step uses the "
        "sum of all the gradients so far. Call optimiser.zero_grad() before loss.backward() "
        "in every step."
    ),
}


def _check_loop(train_fn: Callable, exercise: str) -> Optional[Feedback]:
    x_train, _ = _capstone_problem()
    model = _small_model(3)
    before = [p.detach().clone() for p in model.parameters()]
    spy = _LoopSpy(model, reference_capstone_objective)
    try:
        _, problem = call_safely(
            lambda: train_fn(
                model, x_train.clone(), spy, steps=6, generator=torch.Generator().manual_seed(4)
            ),
            (),
            CheckContext(exercise, 0, 0),
            "6 steps with the reference objective",
        )
    finally:
        spy.remove()
    if problem is not None:
        if problem.status == NOT_ATTEMPTED and "returns None" in problem.message:
            problem = None  # a loop that trains the model in place may return nothing
        else:
            return problem
    if spy.calls == 0:
        return Feedback(
            exercise,
            INCORRECT,
            "your loop never called objective(model, x, gumbel): each step's loss must come "
            "from it.",
            "objective not called",
        )
    if spy.problem is not None:
        return Feedback(exercise, INCORRECT, _LOOP_MESSAGES[spy.problem], spy.problem)
    unchanged = [
        name for (name, p), b in zip(model.named_parameters(), before) if torch.equal(p.detach(), b)
    ]
    if len(unchanged) == len(before):
        return Feedback(
            exercise,
            INCORRECT,
            "after 6 steps the model's parameters have not changed: create "
            "torch.optim.Adam(model.parameters(), lr=0.01) for the model you are given and "
            "call optimiser.step() in every step.",
            "no update",
        )
    if unchanged:
        which = sorted({"encoder" if n.startswith("enc") else "decoder" for n in unchanged})
        return Feedback(
            exercise,
            INCORRECT,
            f"after 6 steps the {' and '.join(which)}'s parameters have not changed: give the "
            "optimiser all of model.parameters().",
            "some parameters frozen",
        )
    if spy.calls != 6:
        return Feedback(
            exercise,
            INCORRECT,
            f"for steps=6 your loop called the objective {spy.calls} times: one loss, one "
            "backward and one optimiser step per step.",
            "wrong number of steps",
        )
    return None


def check_capstone(
    my_objective: Callable, my_train: Callable, *, steps: int = 300, margin: float = 10.0
) -> Feedback:
    r"""Check the capstone: a REINFORCE-with-leave-one-out objective and a training loop.

    ``my_objective(model, x, gumbel)``: for a :class:`~dae_course.ch08_summary.model.
    CategoricalVAE`, images ``x`` ``(B, D)`` and standard Gumbel noise ``gumbel``
    ``(m, B, L, K)``, the sampled negative ELBO with REINFORCE's leave-one-out gradient
    (:func:`reference_capstone_objective`). Compared at fixed noise, value and the
    gradient of every parameter, on two small problems; a mismatch is matched against the
    named mistakes (the KL forgotten or summed, the baseline including the code's own loss,
    no baseline, no detach on the score term, the sign, codes without noise or with the
    noise subtracted, the straight-through estimator instead).

    ``my_train(model, x_train, objective, *, steps, generator)``: ``steps`` Adam steps on
    ``model`` (in place), each on a minibatch with fresh noise
    (:func:`reference_capstone_train`). Run for 6 steps with the reference objective and
    watched: each ``optimiser.step()`` must see exactly that step's gradient
    (``zero_grad`` forgotten, or called between ``backward`` and ``step``, is named), every
    parameter must change, one objective call per step.

    Then both together train a fresh model on generated data (as in the chapter: 300
    training and 200 held-out images) for ``steps`` steps, and the exact held-out negative
    ELBO must fall by more than ``margin`` nats from the untrained model's.

    Returns:
        A :class:`Feedback` (the numbers of the trained model only when it fails, so that
        a correct answer reads the same on every machine).
    """
    exercise = "capstone: REINFORCE-LOO and the training loop"
    problem = _check_objective(my_objective, exercise)
    if problem is not None:
        return problem
    problem = _check_loop(my_train, exercise)
    if problem is not None:
        return problem
    x_train, x_test = _capstone_problem()
    model = _small_model(7, hidden=64)
    start = float(exact_bounds(model, x_test)["neg_elbo"].mean())
    with torch.random.fork_rng():
        my_train(
            model, x_train, my_objective, steps=steps, generator=torch.Generator().manual_seed(8)
        )
    final = float(exact_bounds(model, x_test)["neg_elbo"].mean())
    if not final < start - margin:
        return Feedback(
            exercise,
            INCORRECT,
            f"both parts pass their checks, but {steps} steps took the held-out negative "
            f"ELBO only from {start:.1f} to {final:.1f} nats (it should fall by more than "
            f"{margin:g}). Are the learning rate (0.01), the batch (50 images) and the "
            f"number of codes per image ({CAPSTONE_SAMPLES}) as asked?",
            "does not learn",
        )
    return Feedback(
        exercise,
        CORRECT,
        "your objective matches REINFORCE with the leave-one-out baseline at fixed noise "
        "(value and every gradient), your loop passes each step's gradient to Adam, and "
        f"together they trained: in {steps} steps the exact held-out negative ELBO fell by "
        f"more than {margin:g} nats. Well done!",
    )
