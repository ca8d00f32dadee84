"""Sampling and reparameterisation: Gaussian rsample, Gumbel noise, Gumbel-max, Gumbel-softmax,
the relaxed Bernoulli (binary Concrete) sample and Gumbel-top-k.

Where the noise comes from. Every sampler takes an optional ``torch.Generator``; the noise is
drawn on *the generator's device* and then moved to where the result lives. A CPU generator
therefore gives bit-identical noise whether the result ends up on the CPU or on a GPU, which
is what lets a seeded notebook print the same numbers on both. Without a generator the noise
is drawn from PyTorch's global generator on the result's device.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

from ._exponential import exponential
from ._validation import (
    Scalar,
    check_broadcasts_to,
    check_categories,
    check_dim,
    check_floating,
    check_row_max,
    check_scale,
    compute_dtype,
)
from .relaxations import _check_tempered, _one_hot_max, _tempered_dtype, _tempered_probs
from .straight_through import straight_through

__all__ = ["normal_rsample", "gumbel_noise", "gumbel_max_sample", "gumbel_softmax"]
__all__ += ["relaxed_bernoulli_rsample", "gumbel_topk"]

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
    flow back to ``mu`` and ``sigma`` (the reparameterisation trick). :math:`z` is drawn in
    the result's dtype (float32 for float16 and bfloat16, then rounded).

    Args:
        mu: mean, a floating tensor (it sets the result's shape, dtype and device) or a number
            (then ``sigma`` does).
        sigma: standard deviation (not the variance), finite, > 0 and at most
            ``finfo(dtype).max / 16`` (finite samples): a number, or a floating tensor that
            broadcasts to ``mu``.
        sample_shape: leading shape of independent draws, as in ``torch.distributions``.
        generator: optional ``torch.Generator``; :math:`z` is drawn on its device.

    Returns:
        Tensor of shape ``sample_shape + mu.shape``, on ``mu``'s device, of ``mu``'s dtype
        (both numbers: ``torch.get_default_dtype()`` on the CPU).

    Raises:
        TypeError: ``mu`` or ``sigma`` is neither a number nor a floating tensor; a bad
            ``generator`` or ``sample_shape``.
        ValueError: a bad ``sigma`` (see above); a negative size in ``sample_shape``.

    Reference: Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014; Rezende,
    Mohamed & Wierstra, "Stochastic backpropagation and approximate inference in deep
    generative models", ICML 2014.

    Examples:
        >>> import torch, relaxlib as rl
        >>> mu = torch.tensor([0.0, 10.0], requires_grad=True)
        >>> y = rl.normal_rsample(mu, 2.0, generator=torch.Generator().manual_seed(0))
        >>> y
        tensor([3.0820, 9.4131], grad_fn=<AddBackward0>)
        >>> y.sum().backward(); mu.grad
        tensor([1., 1.])
    """
    generator = _check_generator(generator)
    if isinstance(mu, torch.Tensor):
        check_floating(mu, "mu")
    elif isinstance(mu, bool) or not isinstance(mu, (int, float)):
        raise TypeError(f"mu must be a floating tensor or a number, got {type(mu).__name__}")
    sigma_checked, _, high = check_scale(sigma, "sigma")
    if isinstance(sigma, torch.Tensor) and isinstance(sigma_checked, float):
        sigma_checked = sigma  # keep a 0-d tensor as given (device, graph)
    main = mu if isinstance(mu, torch.Tensor) else sigma_checked
    if isinstance(main, torch.Tensor):
        dtype, device, batch = main.dtype, main.device, main.shape
    else:
        dtype, device, batch = torch.get_default_dtype(), torch.device("cpu"), torch.Size()
    check_broadcasts_to(sigma_checked, batch, "sigma", "mu")
    if high > torch.finfo(dtype).max / 16:
        raise ValueError(f"sigma={high:g} is too large for {dtype}: samples would overflow")
    if isinstance(sigma_checked, torch.Tensor) and sigma_checked.dtype != dtype:
        sigma_checked = sigma_checked.to(dtype)
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

    Raises:
        TypeError: a bad ``shape`` or ``generator``, a non-floating ``dtype``.
        ValueError: a negative size in ``shape``.

    Reference: Gumbel, *Statistical Theory of Extreme Values*, 1954; Maddison, Tarlow &
    Minka, "A* sampling", NeurIPS 2014.

    Examples:
        >>> import torch, relaxlib as rl
        >>> rl.gumbel_noise((2, 3), generator=torch.Generator().manual_seed(0))
        tensor([[-1.2551, -0.2073,  0.4861],
                [-0.9302, -0.0351, -0.4486]])
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


def _gumbel(
    size: torch.Size, generator: Optional[torch.Generator], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    draw_dtype = compute_dtype(dtype)
    info = torch.finfo(draw_dtype)
    e = exponential(size, generator, _noise_device(generator, device), draw_dtype)
    g = e.clamp_(min=info.tiny, max=info.max).log_().neg_()
    return g.to(device=device, dtype=dtype)


def gumbel_max_sample(
    logits: torch.Tensor, dim: int = -1, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    r"""Exact categorical samples by the Gumbel-max trick: :math:`\arg\max_i (x_i + g_i)`.

    With :math:`g_i` i.i.d. Gumbel(0, 1), the index is distributed as
    :math:`\mathrm{Categorical}(\operatorname{softmax}(\mathbf{x}))`: the logits need not be
    normalised, and no probability is ever formed.

    A logit of -inf masks its category: it is never drawn.

    Args:
        logits: floating tensor with at least one dimension; ``dim`` indexes the ``K``
            categories, other dimensions are independent distributions.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        ``torch.long`` tensor of indices in ``0 … K-1`` with ``dim`` removed. Not differentiable.

    Raises:
        TypeError: ``logits`` is not a floating tensor; ``dim`` is not an int; a bad ``generator``.
        ValueError: ``logits`` is 0-d, has no categories, holds NaN or +inf, or a row of -inf
            only (nothing to draw); ``dim`` is out of range.

    Reference: Gumbel 1954; Maddison et al. 2014; Jang, Gu & Poole 2017.

    Examples:
        >>> import torch, relaxlib as rl
        >>> logits = torch.tensor([0.0, 1.0, float("-inf")]).expand(8, 3)
        >>> rl.gumbel_max_sample(logits, generator=torch.Generator().manual_seed(1))
        tensor([0, 0, 1, 1, 1, 0, 1, 1])
    """
    check_floating(logits, "logits")
    dim = check_dim(logits, dim)
    check_categories(logits, dim, "logits")
    generator = _check_generator(generator)
    cdt = compute_dtype(logits.dtype)
    g = _gumbel(logits.shape, generator, logits.device, cdt)
    values, index = g.add_(logits.detach().to(cdt)).max(dim)
    check_row_max(values, "logits")  # g is finite: NaN, +inf or all -inf come from logits
    return index


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
    always finite and can be seeded, and the softmax is :func:`relaxlib.softmax`'s (finite for
    every valid temperature; a logit of -inf masks its category: weight 0, gradient 0).

    Args:
        logits: floating tensor of unnormalised log-probabilities, at least one dimension;
            ``dim`` indexes categories.
        temperature: :math:`T > 0`, finite; a number or a tensor that broadcasts to ``logits``.
        hard: return a straight-through one-hot sample.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        Tensor of the shape and dtype of ``logits``, summing to 1 along ``dim``.

    Raises:
        TypeError: as :func:`relaxlib.softmax`; ``hard`` is not a bool; a bad ``generator``.
        ValueError: as :func:`relaxlib.softmax`; ``logits`` is 0-d.

    Reference: Jang, Gu & Poole, "Categorical reparameterization with Gumbel-softmax", ICLR
    2017; Maddison, Mnih & Teh, "The Concrete distribution", ICLR 2017.

    Examples:
        >>> import torch, relaxlib as rl
        >>> logits = torch.tensor([1.0, 2.0, 0.5])
        >>> rl.gumbel_softmax(logits, 0.5, generator=torch.Generator().manual_seed(0))
        tensor([0.0137, 0.8224, 0.1639])
        >>> rl.gumbel_softmax(logits, 0.5, hard=True, generator=torch.Generator().manual_seed(0))
        tensor([0., 1., 0.])
    """
    t, low, high, dim = _check_tempered(logits, temperature, dim, "logits", scalar_ok=False)
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
    generator = _check_generator(generator)
    cdt = compute_dtype(logits.dtype)
    g = _gumbel(logits.shape, generator, logits.device, cdt)
    noisy = g.add_(logits.to(cdt))  # ours: _tempered_probs may overwrite it
    probs = _tempered_probs(noisy, t, low, high, dim, "logits", own=True)
    soft = probs.to(logits.dtype)
    if not hard:
        return soft
    # The arg max is taken before rounding to a half dtype, where near-ties could merge.
    return straight_through(_one_hot_max(probs, dim, None).to(logits.dtype), soft)


def relaxed_bernoulli_rsample(
    logits: torch.Tensor,
    temperature: Scalar,
    sample_shape: ShapeLike = (),
    hard: bool = False,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    r"""A relaxed Bernoulli (binary Concrete) sample :math:`\sigma((x + L)/T)`.

    .. math:: y = \sigma\Bigl(\frac{x + L}{T}\Bigr), \qquad
              L = \log U - \log(1 - U) \sim \mathrm{Logistic}(0, 1), \quad U \sim \mathcal U(0, 1)

    The two-category case of the Gumbel-softmax (the difference of two Gumbel variables is
    logistic): a reparameterised point of :math:`(0, 1)` that relaxes the Bernoulli sample
    :math:`[x + L > 0]`, whose probability of 1 is :math:`\sigma(x)`. As :math:`T \to 0` it
    tends to that 0/1 sample, as :math:`T \to \infty` to :math:`\tfrac12`. :math:`U` is kept
    inside :math:`(0, 1)` and the result is kept strictly inside :math:`(0, 1)` in its dtype
    (between ``finfo.tiny`` and the largest number below 1: float16 and bfloat16 round
    :math:`\sigma` to 0 or 1 early) with the gradient of the unclamped sample. With
    ``hard=True`` the value is :math:`[y > \tfrac12]` and the gradient that of :math:`y`
    (straight-through). Same distribution as ``torch.distributions.RelaxedBernoulli(T,
    logits=x).rsample()``.

    Args:
        logits: floating tensor :math:`x` of log-odds, any shape: each entry one Bernoulli
            (-inf and +inf: a sure 0 and a sure 1).
        temperature: :math:`T > 0`, finite: a number or a tensor that broadcasts to ``logits``
            (it may require a gradient).
        sample_shape: leading shape of independent draws, as in ``torch.distributions``.
        hard: return the straight-through 0/1 sample.
        generator: optional ``torch.Generator``; :math:`U` is drawn on its device.

    Returns:
        Tensor of shape ``sample_shape + logits.shape`` and ``logits``' dtype and device.

    Raises:
        TypeError: ``logits`` is not a floating tensor; a bad ``temperature``, ``hard``,
            ``sample_shape`` or ``generator``.
        ValueError: ``temperature`` is not finite and > 0 or does not broadcast to ``logits``;
            ``logits`` contains NaN; a negative size in ``sample_shape``.

    Reference: Maddison, Mnih & Teh, "The Concrete distribution", ICLR 2017; Jang, Gu &
    Poole, "Categorical reparameterization with Gumbel-softmax", ICLR 2017.

    Examples:
        >>> import torch, relaxlib as rl
        >>> logits = torch.tensor([-1.0, 0.0, 2.0])
        >>> rl.relaxed_bernoulli_rsample(logits, 0.5, generator=torch.Generator().manual_seed(0))
        tensor([0.1161, 0.9166, 0.3397])
        >>> g = torch.Generator().manual_seed(0)
        >>> rl.relaxed_bernoulli_rsample(logits, 0.5, hard=True, generator=g)
        tensor([0., 1., 0.])
    """
    check_floating(logits, "logits")
    t, low, high = check_scale(temperature, "temperature")
    check_broadcasts_to(t, logits.shape, "temperature", "logits")
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
    generator = _check_generator(generator)
    shape = _as_shape(sample_shape, "sample_shape") + logits.shape
    draw = compute_dtype(logits.dtype)
    u = torch.rand(
        shape, generator=generator, dtype=draw, device=_noise_device(generator, logits.device)
    )
    u = u.clamp_(torch.finfo(draw).tiny, 1 - torch.finfo(draw).eps / 2)  # U inside (0, 1)
    noise = u.log().sub_(u.neg_().log1p_()).to(logits.device)
    cdt = _tempered_dtype(logits, t, low, high)
    t = t.to(cdt) if isinstance(t, torch.Tensor) else t
    # sigma is 0 or 1 beyond |z / T| = 2 log(max): clamping there keeps z / T and its
    # gradient in T finite (a logit of +-inf, a temperature of 1e-300)
    top = torch.finfo(cdt).max
    b = (
        t.detach() * (2 * math.log(top))
        if isinstance(t, torch.Tensor)
        else min(t * 2 * math.log(top), top)
    )
    z = (logits.to(cdt) + noise.to(cdt)).clamp(-b, b)
    y = torch.sigmoid(z / t)
    if y.numel() and bool(torch.isnan(y.detach()).any()):
        raise ValueError("logits contains NaN")
    soft = y.to(logits.dtype)
    if hard:
        return straight_through((z.detach() > 0).to(logits.dtype), soft)
    info = torch.finfo(logits.dtype)
    return straight_through(soft.detach().clamp(info.tiny, 1 - info.eps / 2), soft)


def gumbel_topk(
    logits: torch.Tensor, k: int, dim: int = -1, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    r"""An ordered sample of ``k`` categories without replacement, by Gumbel-top-k.

    .. math:: (i_1, \dots, i_k) = \operatorname{topk}_i\,(x_i + g_i),
              \qquad g_i \sim \mathrm{Gumbel}(0, 1)\ \text{i.i.d.}

    The indices of the ``k`` largest perturbed logits, largest first. They are distributed as
    ``k`` successive draws without replacement from :math:`\operatorname{softmax}(\mathbf x)`,
    each renormalised over what is left (the Plackett–Luce model):
    :math:`P(i_1, \dots, i_k) = \prod_{j=1}^{k} e^{x_{i_j}} / \sum_{l \notin
    \{i_1..i_{j-1}\}} e^{x_l}`. ``k = 1`` is :func:`gumbel_max_sample`, with the same noise
    for the same generator. A logit of -inf masks its category: it is never drawn, and ``k``
    larger than the number of unmasked categories of a row is refused. Not differentiable.

    Args:
        logits: floating tensor with at least one dimension; ``dim`` indexes the ``N``
            categories, other dimensions are independent distributions.
        k: the number of categories to draw, an int in ``1 … N``.
        dim: the category dimension.
        generator: optional ``torch.Generator``; the noise is drawn on its device.

    Returns:
        ``torch.long`` tensor of indices, the shape of ``logits`` with ``dim`` of size ``k``.

    Raises:
        TypeError: ``logits`` is not a floating tensor; ``k`` or ``dim`` is not an int; a bad
            ``generator``.
        ValueError: ``k`` is outside ``1 … N`` or larger than the number of unmasked
            categories of some row; ``logits`` as :func:`gumbel_max_sample`.

    Reference: Vieira, "Gumbel-max trick and weighted reservoir sampling", 2014; Kool, van
    Hoof & Welling, "Stochastic beams and where to find them", ICML 2019.

    Examples:
        >>> import torch, relaxlib as rl
        >>> logits = torch.tensor([0.0, 1.0, 2.0, float("-inf")]).expand(4, 4)
        >>> rl.gumbel_topk(logits, 2, generator=torch.Generator().manual_seed(1))
        tensor([[2, 0],
                [1, 2],
                [2, 1],
                [2, 1]])
    """
    check_floating(logits, "logits")
    dim = check_dim(logits, dim)
    check_categories(logits, dim, "logits")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    n = logits.shape[dim]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is outside 1..{n}, the number of categories along dim {dim}")
    generator = _check_generator(generator)
    cdt = compute_dtype(logits.dtype)
    g = _gumbel(logits.shape, generator, logits.device, cdt)
    values, index = g.add_(logits.detach().to(cdt)).topk(k, dim)
    check_row_max(values.select(dim, 0), "logits")  # NaN is the largest in topk
    if values.numel() and bool(torch.isneginf(values.select(dim, k - 1)).any()):
        raise ValueError(f"k={k} is larger than the number of unmasked categories of a row")
    return index
