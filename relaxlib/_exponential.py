"""Private: the Exp(1) draws of relaxlib's Gumbel noise, ``Tensor.exponential_``'s bits but
faster on the CPU. Seeded notebooks depend on those bits: ``benchmarks/check_noise.py``."""

from __future__ import annotations

import functools
import math
from typing import Optional

import torch

__all__ = ["exponential"]


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


def exponential(
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
