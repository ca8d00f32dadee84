"""Time every relaxlib function forward + backward against PyTorch's own, side by side.

    .venv/bin/python benchmarks/bench_relaxlib.py                  # CPU, the full grid
    .venv/bin/python benchmarks/bench_relaxlib.py --sizes 1e6 --threads 1
    .venv/bin/python benchmarks/bench_relaxlib.py --only gumbel --sizes 1e6
    .venv/bin/python benchmarks/bench_relaxlib.py --device cuda    # on a GPU machine
    make bench                                                     # the full grid, CPU

For each function, size (number of elements) and thread count, relaxlib and its PyTorch
counterpart do the same work (forward, then backward where the function is differentiable)
timed by ``torch.utils.benchmark`` in one process, *interleaved*: short blocks of A, then B,
then A, ... so that a load that comes and goes on a shared machine hits both alike. The table
prints the median time per call of each and the median over blocks of the paired ratio
relaxlib / PyTorch (above 1: relaxlib is slower).

Before timing, every deterministic pair is checked to give the same values, so that the two
columns really compute the same thing. Not a test: nothing here runs in ``make test``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.utils import benchmark

import relaxlib as rl

T = 0.5  # the temperature / beta / delta used throughout
WIDTH = 100  # categories per row for the softmax family


# ----------------------------------------------------------------------------- the cases


def _rows(n: int) -> tuple[int, int]:
    return (max(n // WIDTH, 1), WIDTH)


def _flat(n: int) -> tuple[int]:
    return (n,)


Inputs = tuple


@dataclass
class Case:
    """One relaxlib function and its hand-written PyTorch counterpart.

    ``make(n, device, dtype)`` returns the argument tuple; ``ours(*args)`` and
    ``theirs(*args)`` return the output. ``grad``: the arguments that require a gradient
    (the output is backpropagated with ones into them); empty for forward-only functions.
    """

    name: str
    ours: Callable[..., torch.Tensor]
    theirs: Callable[..., torch.Tensor]
    make: Callable[[int, torch.device, torch.dtype], Inputs]
    deterministic: bool = True


def _x(shape, device, dtype, *, grad=True, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=dtype) * scale).to(device)
    return x.requires_grad_(grad)


def _one(n, device, dtype, shape=_flat):
    return (_x(shape(n), device, dtype),)


def _one_rows(n, device, dtype):
    return _one(n, device, dtype, _rows)


def _pair(n, device, dtype):
    return (_x(_flat(n), device, dtype), _x(_flat(n), device, dtype, grad=False, seed=1))


def _rows_nograd(n, device, dtype):
    return (_x(_rows(n), device, dtype, grad=False),)


def _mu_sigma(n, device, dtype):
    mu = _x(_flat(n), device, dtype)
    sigma = _x(_flat(n), device, dtype, grad=False, seed=1).abs_().add_(0.1).requires_grad_()
    return (mu, sigma)


def _hard_soft(n, device, dtype):
    soft = _x(_flat(n), device, dtype)
    return (soft.detach().round(), soft)


def _logp_loss(n, device, dtype):
    # log-probabilities of m = n / WIDTH samples of WIDTH entries each; a loss that does
    # not depend on them (the pure score-function case); leave-one-out baseline.
    return (_x(_rows(n), device, dtype), _x(_rows(n), device, dtype, grad=False, seed=1))


def _noise_size(n, device, dtype):
    return (n, device, dtype)


def _soft_argmax_ref(x):
    p = torch.softmax(x / T, dim=-1)
    return p @ torch.arange(x.shape[-1], dtype=x.dtype, device=x.device)


def _st_one_hot_ref(x):
    soft = torch.softmax(x / T, -1)
    hard = torch.zeros_like(x).scatter_(-1, x.argmax(-1, keepdim=True), 1.0)
    return soft + (hard - soft).detach()


def _st_argmax_ref(x):
    soft = _soft_argmax_ref(x)
    hard = x.argmax(-1).to(x.dtype)
    return soft + (hard - soft).detach()


def _one_hot_ref(x):
    return torch.zeros_like(x).scatter_(-1, x.argmax(-1, keepdim=True), 1.0)


def _reinforce_loo_ref(log_prob, loss):
    m = loss.shape[0]
    baseline = (loss.sum(0, keepdim=True) - loss) / (m - 1)
    score = ((loss - baseline).detach() * log_prob).mean()
    return loss.mean() + score - score.detach()


def _gumbel_ref(n, device, dtype):
    return -torch.log(-torch.log(torch.rand(n, device=device, dtype=dtype)))


# PyTorch has no Gumbel sampler of its own: the references are the textbook formula with
# torch.rand, and (second row) F.gumbel_softmax's -log(Exp(1)) with Tensor.exponential_.
def _gumbel_max_ref(x):
    u = torch.rand_like(x)
    return (x - torch.log(-torch.log(u))).argmax(-1)


CASES = [
    # A control: PyTorch against itself. Its ratio shows how far apart two identical
    # computations time on this machine, the noise floor of every other row.
    Case(
        "control: torch vs torch",
        lambda x: F.softplus(x, T),
        lambda x: F.softplus(x, T),
        _one,
    ),
    Case("softplus(beta)", lambda x: rl.softplus(x, T), lambda x: F.softplus(x, T), _one),
    Case(
        "huber(delta)",
        lambda x, y: rl.huber(x, y, T, "mean"),
        lambda x, y: F.huber_loss(x, y, "mean", T),
        _pair,
    ),
    Case(
        "smooth_l1(beta)",
        lambda x, y: rl.smooth_l1(x, y, T, "mean"),
        lambda x, y: F.smooth_l1_loss(x, y, reduction="mean", beta=T),
        _pair,
    ),
    Case("softmax(T)", lambda x: rl.softmax(x, T), lambda x: torch.softmax(x / T, -1), _one_rows),
    Case("soft_argmax(T)", lambda x: rl.soft_argmax(x, T), _soft_argmax_ref, _one_rows),
    Case(
        "soft_max(T)",
        lambda x: rl.soft_max(x, T),
        lambda x: (torch.softmax(x / T, -1) * x).sum(-1),
        _one_rows,
    ),
    Case("one_hot_argmax", rl.one_hot_argmax, _one_hot_ref, _rows_nograd),
    Case("st_argmax(T)", lambda x: rl.st_argmax(x, T), _st_argmax_ref, _one_rows),
    Case("st_one_hot_argmax(T)", lambda x: rl.st_one_hot_argmax(x, T), _st_one_hot_ref, _one_rows),
    Case(
        "straight_through",
        rl.straight_through,
        lambda hard, soft: soft + (hard - soft).detach(),
        _hard_soft,
    ),
    Case(
        "stop_gradient: x*sg(x)",
        lambda x: x * rl.stop_gradient(x),
        lambda x: x * x.detach(),
        _one,
    ),
    Case(
        "reinforce_surrogate(loo)",
        lambda lp, loss: rl.reinforce_surrogate(lp, loss, "loo"),
        _reinforce_loo_ref,
        _logp_loss,
    ),
    Case(
        "normal_rsample",
        rl.normal_rsample,
        lambda mu, sigma: mu + sigma * torch.randn_like(mu),
        _mu_sigma,
        deterministic=False,
    ),
    Case(
        "gumbel_noise",
        lambda n, device, dtype: rl.gumbel_noise(n, device=device, dtype=dtype),
        _gumbel_ref,
        _noise_size,
        deterministic=False,
    ),
    Case(
        "gumbel_noise vs -log(Exp)",
        lambda n, device, dtype: rl.gumbel_noise(n, device=device, dtype=dtype),
        lambda n, device, dtype: -torch.empty(n, device=device, dtype=dtype).exponential_().log(),
        _noise_size,
        deterministic=False,
    ),
    Case(
        "gumbel_max_sample",
        rl.gumbel_max_sample,
        _gumbel_max_ref,
        _rows_nograd,
        deterministic=False,
    ),
    Case(
        "gumbel_softmax soft",
        lambda x: rl.gumbel_softmax(x, T),
        lambda x: F.gumbel_softmax(x, tau=T),
        _one_rows,
        deterministic=False,
    ),
    Case(
        "gumbel_softmax hard",
        lambda x: rl.gumbel_softmax(x, T, hard=True),
        lambda x: F.gumbel_softmax(x, tau=T, hard=True),
        _one_rows,
        deterministic=False,
    ),
]


# ----------------------------------------------------------------------------- timing


def _grads(args: Inputs) -> list[torch.Tensor]:
    return [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]


def _step(fn, args, grads):
    y = fn(*args)
    if grads:
        y.backward(torch.ones_like(y))
        for a in grads:
            a.grad = None
    return y


def _check_same(case: Case, args: Inputs) -> None:
    """The two implementations give the same values (and gradients) on these inputs."""
    outs, grads = [], []
    for fn in (case.ours, case.theirs):
        y = fn(*args)
        g = _grads(args)
        if g:
            grads.append(torch.autograd.grad(y, g, torch.ones_like(y)))
        outs.append(y.detach())
    torch.testing.assert_close(outs[0], outs[1], msg=lambda m: f"{case.name}: values: {m}")
    if grads:
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, msg=lambda m: f"{case.name}: gradients: {m}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class Row:
    name: str
    n: int
    threads: int
    ours: float  # median seconds per call
    theirs: float
    ratio: float  # median of the paired per-block ratios
    spread: tuple[float, float]  # quartiles of the paired ratios


def time_pair(case: Case, n: int, threads: int, device, dtype, min_run_time: float) -> Row:
    args = case.make(n, device, dtype)
    grads = _grads(args)
    if case.deterministic and n <= 10**5:
        _check_same(case, args)
    timers = []
    for fn in (case.ours, case.theirs):
        setup = "torch.cuda.synchronize()" if device.type == "cuda" else "pass"
        stmt = "step(fn, args, grads)" + (
            "; torch.cuda.synchronize()" if device.type == "cuda" else ""
        )
        timers.append(
            benchmark.Timer(
                stmt=stmt,
                setup=setup,
                globals={"step": _step, "fn": fn, "args": args, "grads": grads, "torch": torch},
                num_threads=threads,
            )
        )
    # Warm up both (allocator, lazy init), then size the blocks to ~min_run_time / 20 each.
    once = []
    for timer in timers:
        timer.timeit(2)
        once.append(timer.timeit(3).median)
    number = max(1, int(min_run_time / 20 / max(once)))
    ours, theirs, ratios = [], [], []
    start = time.perf_counter()
    while len(ratios) < 5 or time.perf_counter() - start < min_run_time:
        a = timers[0].timeit(number).median
        b = timers[1].timeit(number).median
        c = timers[0].timeit(number).median  # A B A: the ratio pairs B with A's mean
        ours += [a, c]
        theirs.append(b)
        ratios.append((a + c) / 2 / b)
        if len(ratios) >= 200:
            break
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    return Row(
        case.name,
        n,
        threads,
        statistics.median(ours),
        statistics.median(theirs),
        statistics.median(ratios),
        (q[0], q[2]),
    )


def _fmt_time(s: float) -> str:
    return f"{s * 1e3:.3f}" if s < 1 else f"{s * 1e3:.0f}"


def _print_row(r: Row) -> None:
    print(
        f"{r.name:<25} {r.n:>9.0e} {r.threads:>7} {_fmt_time(r.ours):>12} {_fmt_time(r.theirs):>12}"
        f" {r.ratio:>7.2f}  [{r.spread[0]:.2f}, {r.spread[1]:.2f}]",
        flush=True,
    )


def markdown(rows: Sequence[Row], sizes: Sequence[int], threads: Sequence[int]) -> str:
    """A table: one line per function, one column per (threads, size) with the ratio."""
    cols = [(t, n) for t in threads for n in sizes]
    head = ["function"] + [f"{t} thr, {n:.0e}" for t, n in cols]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by = {(r.name, r.threads, r.n): r for r in rows}
    for case in dict.fromkeys(r.name for r in rows):
        cells = [case]
        for t, n in cols:
            r = by.get((case, t, n))
            cells.append("" if r is None else f"{r.ratio:.2f}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, "
        f"python {platform.python_version()}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6, 1e7])
    parser.add_argument("--threads", nargs="+", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--min-run-time", type=float, default=0.5, help="seconds per pair (at least 5 rounds)"
    )
    parser.add_argument("--only", nargs="+", default=None, help="substrings of function names")
    parser.add_argument("--markdown", default=None, help="also write a Markdown table here")
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help="exit 1 if a ratio at 1e6 elements exceeds this (default: report only)",
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch.cuda.is_available() is False")
    threads = args.threads or sorted({1, torch.get_num_threads()})
    sizes = [int(s) for s in args.sizes]
    cases = [c for c in CASES if not args.only or any(s in c.name for s in args.only)]
    dtype = getattr(torch, args.dtype)
    print(f"{machine()}; device {device}, {args.dtype}")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    print(
        f"{'function':<25} {'elements':>9} {'threads':>7} {'relaxlib ms':>12} {'torch ms':>12}"
        f" {'ratio':>7}  [quartiles]"
    )
    rows = []
    for t in threads:
        for n in sizes:
            for case in cases:
                row = time_pair(case, n, t, device, dtype, args.min_run_time)
                _print_row(row)
                rows.append(row)
    at_1e6 = [r for r in rows if r.n == 10**6]
    if at_1e6:
        worst = max(at_1e6, key=lambda r: r.ratio)
        print(
            f"\nworst ratio at 1e6 elements: {worst.ratio:.2f}"
            f" ({worst.name}, {worst.threads} thread(s))"
        )
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, sizes, threads) + "\n")
    if args.max_ratio is not None and any(r.ratio > args.max_ratio for r in at_1e6):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
