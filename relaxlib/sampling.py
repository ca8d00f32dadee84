"""Sampling and reparameterisation: Gaussian rsample, Gumbel noise, Gumbel-max, Gumbel-softmax.

Where the noise comes from. Every sampler takes an optional ``torch.Generator``; the noise is
drawn on *the generator's device* and then moved to where the result lives. A CPU generator
therefore gives bit-identical noise whether the result ends up on the CPU or on a GPU, which
is what lets a seeded notebook print the same numbers on both. Without a generator the noise
is drawn from PyTorch's global generator on the result's device.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Sequence, Union

import torch

from ._validation import Scalar, check_dim, check_floating, check_positive, compute_dtype
from .relaxations import _tempered_probs, one_hot_argmax
from .straight_through import straight_through

__all__ = ["normal_rsample", "gumbel_noise", "gumbel_max_sample", "gumbel_softmax"]

ShapeLike = Union[int, Sequence[int], torch.Size]


def _check_generator(generator: object) -> Optional[torch.Generator]:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    return generator


def _as_shape(shape: object, name: str = "shape") -> torch.Size:
    if isinstance(shape, bool):
        raise TypeError(f"{name} must be an int or a sequence of ints, got a bool")
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {shape!r}") from None
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{name} must contain only ints, got {shape!r}")
    if any(d < 0 for d in dims):
        raise ValueError(f"{name} must not contain negative sizes, got {shape!r}")
    return torch.Size(dims)


def _noise_device(generator: Optional[torch.Generator], device: torch.device) -> torch.device:
    return generator.device if generator is not None else device


def normal_rsample(
    mu: Union[torch.Tensor, float],
    sigma: Union[torch.Tensor, float],
    sample_shape: ShapeLike = (),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""A reparameterised Gaussian sample :math:`y = \mu + \sigma z`, :math:`z \sim N(0, 1)`.

    The randomness enters through :math:`z` alone, whose distribution depends on no
    parameter, so :math:`\partial y/\partial\mu = 1` and :math:`\partial y/\partial\sigma = z`
    flow back to ``mu`` and ``sigma`` (the reparameterisation trick).

    Args:
        mu: mean, a floating tensor (or a number).
        sigma: standard deviation (not the variance), finite and > 0: a number or a floating
            tensor broadcastable with ``mu``.
        sample_shape: leading shape of independent draws, as in ``torch.distributions``.
        generator: optional ``torch.Generator``; :math:`z` is drawn on its device.

    Returns:
        Tensor of shape ``sample_shape + broadcast(mu.shape, sigma.shape)``, on ``mu``'s device
        (or ``sigma``'s), in the promoted floating dtype of the two.

    Reference: Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014; Rezende,
    Mohamed & Wierstra, "Stochastic backpropagation and approximate inference in deep
    generative models", ICML 2014.
    """
    generator = _check_generator(generator)
    if isinstance(mu, torch.Tensor):
        check_floating(mu, "mu")
    elif isinstance(mu, bool) or not isinstance(mu, (int, float)):
        raise TypeError(f"mu must be a floating tensor or a number, got {type(mu).__name__}")
    sigma_checked = check_positive(sigma, "sigma")
    if isinstance(sigma, torch.Tensor) and isinstance(sigma_checked, float):
        sigma_checked = sigma  # keep a 0-d tensor as given (device, dtype, graph)
    ref = next((t for t in (mu, sigma_checked) if isinstance(t, torch.Tensor)), None)
    if ref is None:
        dtype, device, batch = torch.get_default_dtype(), torch.device("cpu"), torch.Size()
    else:
        tensors = [t for t in (mu, sigma_checked) if isinstance(t, torch.Tensor)]
        # PyTorch's own promotion: a 0-d sigma does not widen a float16 mu, as in mu + sigma*z.
        dtype = tensors[0].dtype if len(tensors) == 1 else torch.result_type(mu, sigma_checked)
        device = ref.device
        shapes = [t.shape for t in tensors]
        # (torch.broadcast_shapes costs ~50 us of Python; skip it when the shapes agree.)
        batch = (
            shapes[0] if shapes.count(shapes[0]) == len(shapes) else torch.broadcast_shapes(*shapes)
        )
    shape = _as_shape(sample_shape, "sample_shape") + batch
    draw_dtype = compute_dtype(dtype)
    z = torch.randn(
        shape, generator=generator, dtype=draw_dtype, device=_noise_device(generator, device)
    )
    z = z.to(device=device, dtype=dtype)
    return mu + sigma_checked * z


def gumbel_noise(
    shape: ShapeLike,
    generator: Optional[torch.Generator] = None,
    device: Optional[Union[str, torch.device]] = None,
    dtype: Optional[torch.dtype] = None,
) -> torch.Tensor:
    r"""Standard Gumbel(0, 1) noise :math:`g = -\log(-\log U)`, :math:`U \sim \mathcal U(0, 1)`.

    Drawn as :math:`g = -\log E` with :math:`E = -\log U \sim \mathrm{Exp}(1)`, the same
    distribution with one logarithm fewer. :math:`E` is clamped to
    :math:`[\text{tiny}, \text{max}]` of the drawing dtype, which keeps :math:`U` strictly inside
    :math:`(0, 1)`: the noise is always finite, in float16 and bfloat16 too. (A plain
    ``-log(E)`` is ``+inf`` when the draw gives :math:`E = 0`; that is how
    ``F.gumbel_softmax`` can return NaN.) Mean: the Euler–Mascheroni constant
    :math:`\gamma \approx 0.5772`; variance :math:`\pi^2/6`.

    Args:
        shape: int or sequence of ints.
        generator: optional ``torch.Generator``; the noise is drawn on its device.
        device: where the result lives (default: the generator's device, else the CPU).
        dtype: floating dtype of the result (default ``torch.get_default_dtype()``). float16
            and bfloat16 noise is drawn in float32 and rounded.

    Returns:
        Tensor of the given shape, dtype and device.

    Reference: Gumbel, *Statistical Theory of Extreme Values*, 1954; Maddison, Tarlow &
    Minka, "A* sampling", NeurIPS 2014.
    """
    generator = _check_generator(generator)
    size = _as_shape(shape)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    device = torch.device(device)
    return _gumbel(size, generator, device, dtype)


# ------------------------------------------------------------------------------------------
# Exp(1) draws on the CPU, faster and bit for bit the same as Tensor.exponential_.
#
# PyTorch's CPU exponential_ is a serial loop that draws, per element, a 53-bit uniform u
# (exactly what torch.rand(dtype=float64) draws from the same generator) and returns
# float(-log1p(-u)) with the C library's scalar log1p: about 20-40 ns an element, four times
# the cost of torch.rand. Below, the same u are drawn by torch.rand and log1p runs vectorised
# in float64. The vectorised log1p and the C library's can differ by one unit in the last
# place (ulp) of the double, which changes the float32 result only when the double lies
# within an ulp or two of a midpoint between two float32 values (a midpoint has the 29
# mantissa bits that float32 drops equal to 2^28). Those rare elements (about 3 in 10^8) are
# recomputed with math.log1p, which is the C library's, from the same u drawn again from a
# copy of the generator's state. A check at first use falls back to exponential_ if this
# PyTorch draws differently.
# ------------------------------------------------------------------------------------------

_DROPPED = (1 << 29) - 1  # the 29 low mantissa bits a float64 -> float32 rounding drops
_MIDPOINT = 1 << 28  # their value at a midpoint between two float32s
_SLACK = 8  # flag doubles within 8 ulps of a midpoint (the two log1p differ by <= 1 ulp)
_FAST_MIN_NUMEL = 1024  # below this the serial loop costs about the same or less


def _exponential_f32_cpu(size: torch.Size, generator: Optional[torch.Generator]) -> torch.Tensor:
    gen = generator if generator is not None else torch.default_generator
    state = gen.get_state()
    u = torch.rand(size, dtype=torch.float64, generator=generator)
    log1m_u = u.neg_().log1p_()  # log1p(-u) <= 0, in place
    e = log1m_u.to(torch.float32).neg_()  # rounding is symmetric: float(-x) == -float(x)
    near = log1m_u.view(torch.int64).add_(_SLACK - _MIDPOINT).bitwise_and_(_DROPPED)
    if near.numel() and bool(near.min() <= 2 * _SLACK):
        flat_e, flat_near = e.view(-1), near.view(-1)
        index = (flat_near <= 2 * _SLACK).nonzero().view(-1)
        again = torch.Generator()
        again.set_state(state)
        u_again = torch.rand(int(index[-1]) + 1, dtype=torch.float64, generator=again)
        for i in index.tolist():
            flat_e[i] = -math.log1p(-float(u_again[i]))
    return e


@functools.cache
def _fast_exponential_matches() -> bool:
    """Whether, in this PyTorch, _exponential_f32_cpu draws what exponential_ draws.

    Checks the float32 values and the generator's state afterwards, and that the scalar
    formula used for the flagged elements is, in float64, exponential_'s own.
    """
    n = 8192
    a = torch.Generator().manual_seed(20240611)
    b = torch.Generator().manual_seed(20240611)
    expected = torch.empty(n, dtype=torch.float32).exponential_(generator=a)
    got = _exponential_f32_cpu(torch.Size((n,)), b)
    same = torch.equal(expected.view(torch.int32), got.view(torch.int32))
    same = same and torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    exact = torch.empty(512, dtype=torch.float64).exponential_(generator=a)
    u = torch.rand(512, dtype=torch.float64, generator=b)
    scalar = torch.tensor([-math.log1p(-v) for v in u.tolist()], dtype=torch.float64)
    return same and torch.equal(exact.view(torch.int64), scalar.view(torch.int64))


def _exponential(
    size: torch.Size, generator: Optional[torch.Generator], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Exp(1) noise: ``torch.empty(size, ...).exponential_(generator)``, computed faster on the
    CPU in float32 (the same bits)."""
    if (
        device.type == "cpu"
        and dtype == torch.float32
        and size.numel() >= _FAST_MIN_NUMEL
        and _fast_exponential_matches()
    ):
        return _exponential_f32_cpu(size, generator)
    return torch.empty(size, dtype=dtype, device=device).exponential_(generator=generator)


def _gumbel(
    size: torch.Size, generator: Optional[torch.Generator], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    draw_dtype = compute_dtype(dtype)
    info = torch.finfo(draw_dtype)
    e = _exponential(size, generator, _noise_device(generator, device), draw_dtype)
    g = e.clamp_(min=info.tiny, max=info.max).log_().neg_()
    return g.to(device=device, dtype=dtype)


def gumbel_max_sample(
    logits: torch.Tensor, dim: int = -1, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    r"""Exact categorical samples by the Gumbel-max trick: :math:`\arg\max_i (x_i + g_i)`.

    With :math:`g_i` i.i.d. Gumbel(0, 1), the index is distributed as
    :math:`\mathrm{Categorical}(\operatorname{softmax}(\mathbf{x}))`: the logits need not be
    normalised, and no probability is ever formed.

    Args:
        logits: floating tensor; ``dim`` indexes the ``K`` categories, other dimensions are
            independent distributions.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        ``torch.long`` tensor of indices in ``0 … K-1`` with ``dim`` removed. Not differentiable.

    Reference: Gumbel 1954; Maddison et al. 2014; Jang, Gu & Poole 2017.
    """
    check_floating(logits, "logits")
    dim = check_dim(logits, dim)
    if logits.dim() == 0:
        raise ValueError("logits must have at least one dimension (the categories)")
    generator = _check_generator(generator)
    cdt = compute_dtype(logits.dtype)
    g = _gumbel(logits.shape, generator, logits.device, cdt)
    return (g.add_(logits.detach().to(cdt))).argmax(dim)


def gumbel_softmax(
    logits: torch.Tensor,
    temperature: Scalar = 1.0,
    hard: bool = False,
    dim: int = -1,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""A Gumbel-softmax (Concrete) sample: :math:`\mathrm{softmax}((\mathbf{x} + \mathbf{g})/T)`.

    A point on the probability simplex that relaxes the one-hot Gumbel-max sample; it is a
    differentiable function of the logits for fixed noise :math:`\mathbf g` (reparameterised).
    As :math:`T \to 0` it approaches the one-hot of :math:`\arg\max(\mathbf x + \mathbf g)`.

    With ``hard=True`` the value is that one-hot vector exactly and the gradient is that of
    the soft sample (straight-through Gumbel-softmax): ``straight_through(one_hot, soft)``.
    Same semantics as ``F.gumbel_softmax(logits, tau=T, hard=hard)``, but the noise is
    always finite and can be seeded.

    Args:
        logits: floating tensor of unnormalised log-probabilities; ``dim`` indexes categories.
        temperature: :math:`T > 0`, finite.
        hard: return a straight-through one-hot sample.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        Tensor of the shape and dtype of ``logits``, summing to 1 along ``dim``.

    Reference: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
    2017; Maddison, Mnih & Teh, "The Concrete distribution", ICLR 2017.
    """
    check_floating(logits, "logits")
    temperature = check_positive(temperature, "temperature")
    dim = check_dim(logits, dim)
    if logits.dim() == 0:
        raise ValueError("logits must have at least one dimension (the categories)")
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
    generator = _check_generator(generator)
    cdt = compute_dtype(logits.dtype)
    g = _gumbel(logits.shape, generator, logits.device, cdt)
    noisy = g.add_(logits.to(cdt))
    if isinstance(temperature, float):
        # ``noisy`` is ours: divide it in place (the values of noisy / T, one buffer fewer).
        probs = torch.softmax(noisy if temperature == 1.0 else noisy.div_(temperature), dim)
    else:
        probs = _tempered_probs(noisy, temperature, dim)
    soft = probs.to(logits.dtype)
    if not hard:
        return soft
    # The arg max is taken before rounding to a half dtype, where near-ties could merge.
    return straight_through(one_hot_argmax(probs, dim).to(logits.dtype), soft)
