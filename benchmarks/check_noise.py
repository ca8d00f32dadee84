"""Check that relaxlib's fast CPU noise is bit for bit what ``Tensor.exponential_`` draws.

    .venv/bin/python benchmarks/check_noise.py            # 15 s to a minute
    .venv/bin/python benchmarks/check_noise.py --draws 1e9  # longer, more seeds

relaxlib draws its Gumbel noise as -log(E), E ~ Exp(1). On the CPU in float32 it computes E
from ``torch.rand(dtype=float64)`` and a vectorised log1p instead of calling the slow serial
``exponential_`` (see ``relaxlib/_exponential.py``), and promises the same bits. This script
compares, bit for bit, for many seeds, sizes, shapes and dtypes, with a generator and with
the global one:

* ``gumbel_noise``, ``gumbel_softmax`` (soft and hard, with gradients) and
  ``gumbel_max_sample`` against the same computations written with ``exponential_``;
* the generator's state afterwards (the next draw must agree);
* the rare-element correction, by making it fire on about a quarter of all elements;
* the premise of that correction: float64 ``exponential_`` equals ``-math.log1p(-u)``.

Not part of ``make test``; run it after changing the noise code or PyTorch.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

import relaxlib as rl
from relaxlib import _exponential as sampling

FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def reference_gumbel(shape, generator, dtype):
    """relaxlib's Gumbel noise as it was written before the fast path: with exponential_."""
    draw = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    info = torch.finfo(draw)
    e = torch.empty(shape, dtype=draw).exponential_(generator=generator)
    return e.clamp_(min=info.tiny, max=info.max).log_().neg_().to(dtype)


def reference_gumbel_softmax(logits, t, hard, generator):
    cdt = torch.float32 if logits.dtype in (torch.float16, torch.bfloat16) else logits.dtype
    g = reference_gumbel(logits.shape, generator, cdt)
    probs = torch.softmax((g + logits.to(cdt)) / t, -1)
    soft = probs.to(logits.dtype)
    if not hard:
        return soft
    one_hot = torch.zeros_like(probs).scatter_(-1, probs.argmax(-1, keepdim=True), 1.0)
    return one_hot.to(logits.dtype) + (soft - soft.detach())


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.is_floating_point():
        return torch.equal(a.view(torch.uint8), b.view(torch.uint8))
    return torch.equal(a, b)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def check_noise(seed: int, shape, dtype) -> None:
    a, b = gen(seed), gen(seed)
    got = rl.gumbel_noise(shape, generator=a, dtype=dtype)
    want = reference_gumbel(shape, b, dtype)
    assert same_bits(got, want), f"gumbel_noise differs: seed {seed}, shape {shape}, {dtype}"
    assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b)), "state"
    # the global generator
    torch.manual_seed(seed)
    got = rl.gumbel_noise(shape, dtype=dtype)
    after = torch.rand(3)
    torch.manual_seed(seed)
    want = reference_gumbel(shape, None, dtype)
    assert same_bits(got, want) and torch.equal(after, torch.rand(3)), "global generator"


def check_samplers(seed: int, rows: int, k: int, dtype) -> None:
    logits = (torch.randn(rows, k, generator=gen(seed + 1)) * 3).to(dtype)
    for hard in (False, True):
        x1 = logits.clone().requires_grad_()
        x2 = logits.clone().requires_grad_()
        y1 = rl.gumbel_softmax(x1, 0.7, hard=hard, generator=gen(seed))
        y2 = reference_gumbel_softmax(x2, 0.7, hard, gen(seed))
        assert same_bits(y1.detach(), y2.detach()), f"gumbel_softmax hard={hard} {dtype}"
        w = torch.randn(rows, k, generator=gen(seed + 2)).to(dtype)
        (y1 * w).sum().backward()
        (y2 * w).sum().backward()
        assert same_bits(x1.grad, x2.grad), f"gumbel_softmax gradient hard={hard} {dtype}"
    idx = rl.gumbel_max_sample(logits, generator=gen(seed))
    cdt = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    want = (reference_gumbel(logits.shape, gen(seed), cdt) + logits.to(cdt)).argmax(-1)
    assert torch.equal(idx, want), f"gumbel_max_sample {dtype}"


def check_premise(n: int) -> int:
    """float64 exponential_ is -log1p(-u) with the C library's log1p (= math.log1p)."""
    e = torch.empty(n, dtype=torch.float64).exponential_(generator=gen(5))
    u = torch.rand(n, dtype=torch.float64, generator=gen(5))
    scalar = torch.tensor([-math.log1p(-v) for v in u.tolist()], dtype=torch.float64)
    assert same_bits(e, scalar), "float64 exponential_ is not -math.log1p(-u)"
    vectorised = -torch.log1p(-u)
    return int((vectorised.view(torch.int64) != e.view(torch.int64)).sum())


def check_correction(n: int) -> None:
    """Flag about a quarter of all elements: the scalar recomputation must give the same bits."""
    slack = sampling._SLACK
    sampling._SLACK = 1 << 26
    try:
        for seed in range(3):
            got = sampling._exponential_f32_cpu(torch.Size((n,)), gen(seed))
            want = torch.empty(n, dtype=torch.float32).exponential_(generator=gen(seed))
            assert same_bits(got, want), "the correction of flagged elements"
    finally:
        sampling._SLACK = slack


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=float, default=2e8, help="float32 draws compared in all")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    assert sampling._fast_exponential_matches(), "the fast path is switched off in this PyTorch"

    differ = check_premise(200_000)
    print(
        f"premise: float64 exponential_ == -math.log1p(-u) on 200000 draws "
        f"(the vectorised log1p differs on {differ} of them)"
    )
    check_correction(100_000)
    print("correction: forced on ~25% of 3 x 100000 draws, same bits as exponential_")

    shapes = [(1023,), (1024,), (1025,), (4096,), (3, 5, 700), (64, 100), (100_003,)]
    seeds = range(20)
    for dtype in FLOATS:
        for seed in seeds:
            for shape in shapes:
                check_noise(seed, shape, dtype)
        for seed in range(5):
            check_samplers(seed, 200, 37, dtype)
            check_samplers(seed, 2000, 10, dtype)
    print(
        f"gumbel_noise / gumbel_softmax / gumbel_max_sample: same bits, {len(seeds)} seeds, "
        f"shapes {shapes}, dtypes {[str(d) for d in FLOATS]}, generator and global"
    )

    chunk, total, seed, flagged = 10**7, int(args.draws), 1000, 0
    done = 0
    while done < total:
        got = sampling._exponential_f32_cpu(torch.Size((chunk,)), gen(seed))
        want = torch.empty(chunk, dtype=torch.float32).exponential_(generator=gen(seed))
        assert same_bits(got, want), f"bulk draws differ for seed {seed}"
        u = torch.rand(chunk, dtype=torch.float64, generator=gen(seed))
        near = torch.log1p(-u).view(torch.int64)
        near = near.add_(sampling._SLACK - sampling._MIDPOINT).bitwise_and_(sampling._DROPPED)
        flagged += int((near <= 2 * sampling._SLACK).sum())
        done += chunk
        seed += 1
    print(
        f"bulk: {done:.2e} float32 draws in chunks of 1e7, same bits; {flagged} were "
        f"flagged and recomputed by math.log1p"
    )
    print(f"all checks passed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
