"""Chapter 8's worked model on many seeds: the numbers its prose quotes, and the margins its
asserts rely on.

    .venv/bin/python benchmarks/ch08_seeds.py                 # 10 seeds, writes ch08_seeds.md
    .venv/bin/python benchmarks/ch08_seeds.py --seeds 2 --out /tmp/quick.md

The chapter trains its categorical VAE once per dataset, on one seed; this script repeats
those runs with the chapter's own code (the package copies of the page's definitions,
``dae_course.ch08_summary.model``, which ``tests/test_page_sources.py`` keeps identical to
the page) and the chapter's settings, on ``--seeds`` seeds. Seed ``s`` changes everything
random: the generated data (``gen(1000 + s)``) or the digits' train/test split
(``randperm`` with ``gen(s)``), the initial weights, the minibatches and the noise (training
seed ``3 s``). Seed 0 is the chapter's own run.

Generated data (500 training and 500 held-out images of four 4 x 4 parts): the four
estimators at T = 0.5, the two Gumbel-softmax ones again at T = 1, whether every part got a
latent of its own, and (on the first three seeds) how far each final number moves when the
initial weights are multiplied by 1 + 1e-13.

Digits (scikit-learn's 1,797 8 x 8 digits, binarised at 8; 500 held out): the four
estimators with the chapter's KL warm-up, the three good ones again without it, the
independent-pixel model, and a 20 x 10 latent space trained with the straight-through
Gumbel-softmax and judged by the importance-weighted bound.

Every number is in nats per held-out image. Runs with one intra-op thread; about 10 minutes
on an idle 2-core machine for 10 seeds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dae_course.ch08_summary import data as ch8_data  # noqa: E402
from dae_course.ch08_summary import evaluation as ev  # noqa: E402
from dae_course.ch08_summary import model as ch8  # noqa: E402

GOOD = ("gumbel-softmax", "st-gumbel-softmax", "reinforce-loo")
DIGITS = dict(warmup=400)  # the chapter's digits settings (the rest are train's defaults)
BIG = dict(n_latents=20, n_categories=10, warmup=400)
IWAE_SAMPLES = 100


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def perturbed_init(factor: float):
    """A stand-in for ``init_linear`` that scales the weights it draws by ``factor``."""
    original = ch8.init_linear

    def init_linear(n_in, n_out, generator):
        w, b = original(n_in, n_out, generator)
        with torch.no_grad():
            w.mul_(factor)
            b.mul_(factor)
        return w, b

    return original, init_linear


def own_latent_per_part(model, parts: ch8_data.PartsData) -> bool:
    """Does every part's prototype choice have its own most informative latent?

    For part p and latent l, the mutual information (in nats, from the counts on the
    held-out images) between the part's prototype choice and the latent's most probable
    value under q(z | x); each part picks the latent that tells most about it. True when
    the parts pick different latents.
    """
    with torch.no_grad():
        modes = model.encode(parts.x).argmax(-1)  # (N, L)
    choices = parts.choices  # (N, P)
    k_c, k_z = parts.prototypes.shape[1], model.n_categories
    best = []
    for p in range(choices.shape[1]):
        infos = []
        for latent in range(modes.shape[1]):
            joint = torch.zeros(k_c, k_z, dtype=torch.float64)
            joint.index_put_(
                (choices[:, p], modes[:, latent]), torch.ones(len(modes)).double(), True
            )
            joint /= joint.sum()
            outer = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
            mask = joint > 0
            infos.append(float((joint[mask] * (joint[mask] / outer[mask]).log()).sum()))
        best.append(max(range(len(infos)), key=infos.__getitem__))
    return len(set(best)) == len(best)


def generated_seed(s: int, perturb: bool) -> dict:
    g = gen(1000 + s)
    train = ch8_data.make_parts_data(500, generator=g)
    test = ch8_data.make_parts_data(500, generator=g, prototypes=train.prototypes)
    out = {"floor": -float(ch8_data.true_log_likelihood(train, test.x).mean())}
    for temperature in (0.5, 1.0):
        methods = ch8.METHODS if temperature == 0.5 else GOOD[:2]
        for method in methods:
            start = time.perf_counter()
            model = ch8.train(method, train.x, seed=3 * s, temperature=temperature)
            bounds = ev.exact_bounds(model, test.x)
            out[(method, temperature)] = {
                "neg_elbo": float(bounds["neg_elbo"].mean()),
                "nll": float(bounds["nll"].mean()),
                "own_latents": own_latent_per_part(model, test),
                "seconds": time.perf_counter() - start,
            }
    if perturb:
        original, patched = perturbed_init(1 + 1e-13)
        ch8.init_linear = patched
        try:
            for method in ch8.METHODS:
                model = ch8.train(method, train.x, seed=3 * s)
                moved = float(ev.exact_bounds(model, test.x)["neg_elbo"].mean())
                out[("perturbed", method)] = abs(moved - out[(method, 0.5)]["neg_elbo"])
        finally:
            ch8.init_linear = original
    return out


def digits_seed(s: int, x: torch.Tensor) -> dict:
    order = torch.randperm(len(x), generator=gen(s))
    test, train = x[order[:500]], x[order[500:]]
    p = (train.sum(0) + 1) / (len(train) + 2)
    independent = -(test * p.log() + (1 - test) * (1 - p).log()).sum(1)
    out = {"independent": ev.mean_and_se(independent)}
    for method in ch8.METHODS:
        start = time.perf_counter()
        model = ch8.train(method, train, seed=3 * s, **DIGITS)
        bounds = ev.exact_bounds(model, test)
        out[method] = {
            "neg_elbo": ev.mean_and_se(bounds["neg_elbo"]),
            "nll": float(bounds["nll"].mean()),
            "kl": float(bounds["kl"].mean()),
            "margin": ev.mean_and_se(independent - bounds["neg_elbo"]),
            "seconds": time.perf_counter() - start,
        }
    for method in GOOD:
        model = ch8.train(method, train, seed=3 * s)
        bounds = ev.exact_bounds(model, test)
        out[("no warm-up", method)] = {
            "neg_elbo": float(bounds["neg_elbo"].mean()),
            "kl": float(bounds["kl"].mean()),
        }
    start = time.perf_counter()
    model = ch8.train("st-gumbel-softmax", train, seed=3 * s, **BIG)
    bounds = ev.iwae_bounds(model, test, samples=IWAE_SAMPLES, generator=gen(5))
    out["big"] = {
        "nll_iwae": ev.mean_and_se(bounds["nll_iwae"]),
        "neg_elbo": ev.mean_and_se(bounds["neg_elbo"]),
        "margin": ev.mean_and_se(independent - bounds["nll_iwae"]),
        "seconds": time.perf_counter() - start,
    }
    return out


def fmt_range(values) -> str:
    return f"{min(values):.1f} to {max(values):.1f} (mean {statistics.mean(values):.1f})"


def report(gen_runs: list, digit_runs: list, seconds: float) -> str:
    n = len(gen_runs)
    lines = [
        "# Chapter 8 across seeds",
        "",
        f"Written by `benchmarks/ch08_seeds.py` ({n} seeds; seed 0 is the chapter's own run). "
        "All numbers are nats per held-out image, lower is better; exact means by enumerating "
        "every code, IWAE the importance-weighted bound with "
        f"{IWAE_SAMPLES} codes per image. Machine: {platform.machine()}, "
        f"torch {torch.__version__}, Python {platform.python_version()}, 1 thread; "
        f"{seconds / 60:.1f} minutes in all.",
        "",
        "## Generated data (four 4 x 4 parts, four prototypes each, 5 % bit flips)",
        "",
        "Exact held-out -ELBO after 800 steps (T = 0.5 unless marked), and the true model's "
        "-log p(x) (the floor):",
        "",
        "| seed | floor | Gumbel-softmax | ST Gumbel-softmax | REINFORCE-LOO | REINFORCE "
        "| Gumbel-softmax, T = 1 | ST, T = 1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s, run in enumerate(gen_runs):
        cells = [f"{run[(m, 0.5)]['neg_elbo']:.1f}" for m in ch8.METHODS]
        cells += [f"{run[(m, 1.0)]['neg_elbo']:.1f}" for m in GOOD[:2]]
        lines.append(f"| {s} | {run['floor']:.1f} | " + " | ".join(cells) + " |")
    good = {m: [r[(m, 0.5)]["neg_elbo"] for r in gen_runs] for m in ch8.METHODS}
    behind = [
        min(r[("reinforce", 0.5)]["neg_elbo"] - r[(m, 0.5)]["neg_elbo"] for m in GOOD)
        for r in gen_runs
    ]
    firsts = [min(GOOD, key=lambda m, r=r: r[(m, 0.5)]["neg_elbo"]) for r in gen_runs]
    loo_beats_st = sum(
        r[("reinforce-loo", 0.5)]["neg_elbo"] < r[("st-gumbel-softmax", 0.5)]["neg_elbo"]
        for r in gen_runs
    )
    own = [(r[(m, 0.5)]["own_latents"], r[(m, 0.5)]["neg_elbo"]) for r in gen_runs for m in GOOD]
    t1 = {
        m: statistics.mean(r[(m, 1.0)]["neg_elbo"] - r[(m, 0.5)]["neg_elbo"] for r in gen_runs)
        for m in GOOD[:2]
    }

    def mean_gap(other):
        return statistics.mean(good["reinforce-loo"]) - statistics.mean(good[other])

    lines += [
        "",
        "Summary:",
        "",
        *[f"* {m}: {fmt_range(v)}" for m, v in good.items()],
        f"* plain REINFORCE behind each of the three good estimators by at least "
        f"{min(behind):.1f} nats on every seed (smallest gap per seed: "
        f"{', '.join(f'{b:.1f}' for b in behind)})",
        f"* mean gap, REINFORCE-LOO minus ST: {mean_gap('st-gumbel-softmax'):+.2f}; "
        f"REINFORCE-LOO minus Gumbel-softmax: {mean_gap('gumbel-softmax'):+.2f}",
        f"* REINFORCE-LOO beat ST on {loo_beats_st} seeds of {n}",
        "* first of the three good estimators: "
        + ", ".join(f"{m} {firsts.count(m)}" for m in GOOD),
        "* spread over seeds (max - min) of each good estimator: "
        + ", ".join(f"{m} {max(good[m]) - min(good[m]):.1f}" for m in GOOD),
        f"* every part got a latent of its own in {sum(o for o, _ in own)} of {len(own)} runs"
        + (
            " (final -ELBO " + ", ".join(f"{e:.1f}" for o, e in own if o) + ")"
            if any(o for o, _ in own)
            else ""
        ),
        "* T = 1 minus T = 0.5, mean over seeds: "
        + ", ".join(f"{m} {d:+.2f}" for m, d in t1.items()),
    ]
    perturbed = [r for r in gen_runs if ("perturbed", "reinforce") in r]
    if perturbed:
        lines += [
            "",
            f"Initial weights multiplied by 1 + 1e-13 (seeds 0 to {len(perturbed) - 1}): "
            "how far the final exact -ELBO moved:",
            "",
            "| seed | " + " | ".join(ch8.METHODS) + " |",
            "| --- | " + " | ".join("---" for _ in ch8.METHODS) + " |",
        ]
        for s, r in enumerate(perturbed):
            lines.append(
                f"| {s} | " + " | ".join(f"{r[('perturbed', m)]:.1e}" for m in ch8.METHODS) + " |"
            )
    lines += [
        "",
        "## Digits (scikit-learn's 8 x 8 digits, binarised at 8; 1,297 training, 500 held out)",
        "",
        "4 latents x 4 categories, 800 steps with a 400-step KL warm-up: exact held-out -ELBO "
        "(standard error over the images), its KL, and the margin over the independent-pixel "
        "model (paired: mean and standard error of the per-image difference; positive = the "
        "VAE is better). 20 x 10: straight-through Gumbel-softmax, same settings, IWAE bound.",
        "",
        "| seed | independent pixels | "
        + " | ".join(f"{m} (KL; margin)" for m in ch8.METHODS)
        + " | 20 x 10 ST, IWAE (margin) |",
        "| --- | --- | " + " | ".join("---" for _ in ch8.METHODS) + " | --- |",
    ]
    for s, r in enumerate(digit_runs):
        cells = [
            f"{r[m]['neg_elbo'][0]:.2f} ± {r[m]['neg_elbo'][1]:.2f} ({r[m]['kl']:.1f}; "
            f"{r[m]['margin'][0]:+.2f} ± {r[m]['margin'][1]:.2f})"
            for m in ch8.METHODS
        ]
        big = r["big"]
        cells.append(
            f"{big['nll_iwae'][0]:.2f} ± {big['nll_iwae'][1]:.2f} "
            f"({big['margin'][0]:+.2f} ± {big['margin'][1]:.2f})"
        )
        ind = r["independent"]
        lines.append(f"| {s} | {ind[0]:.2f} ± {ind[1]:.2f} | " + " | ".join(cells) + " |")
    margins = {m: [r[m]["margin"] for r in digit_runs] for m in ch8.METHODS}
    z = {m: min(mu / se for mu, se in v) for m, v in margins.items()}
    no_warm = {
        m: [(r[("no warm-up", m)]["neg_elbo"], r[("no warm-up", m)]["kl"]) for r in digit_runs]
        for m in GOOD
    }
    lines += [
        "",
        "Summary:",
        "",
        *[
            f"* {m}: -ELBO {fmt_range([r[m]['neg_elbo'][0] for r in digit_runs])}; margin over "
            f"independent pixels {fmt_range([mu for mu, _ in margins[m]])}, at least "
            f"{z[m]:.1f} standard errors"
            for m in ch8.METHODS
        ],
        f"* 20 x 10 ST (IWAE): {fmt_range([r['big']['nll_iwae'][0] for r in digit_runs])}; "
        f"margin {fmt_range([r['big']['margin'][0] for r in digit_runs])}, at least "
        f"{min(r['big']['margin'][0] / r['big']['margin'][1] for r in digit_runs):.1f} "
        "standard errors; -ELBO "
        f"{fmt_range([r['big']['neg_elbo'][0] for r in digit_runs])}",
        "* without the KL warm-up (same seeds): "
        + "; ".join(
            f"{m} -ELBO {fmt_range([e for e, _ in v])}, KL {fmt_range([k for _, k in v])}"
            for m, v in no_warm.items()
        ),
        "* with it, KL: "
        + "; ".join(f"{m} {fmt_range([r[m]['kl'] for r in digit_runs])}" for m in GOOD),
        "* seconds per 4 x 4 run: "
        + fmt_range([r[m]["seconds"] for r in digit_runs for m in ch8.METHODS])
        + "; per 20 x 10 run (IWAE included): "
        + fmt_range([r["big"]["seconds"] for r in digit_runs]),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--perturbed-seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "ch08_seeds.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    gen_runs, digit_runs = [], []
    x, _ = ch8_data.load_binary_digits()
    for s in range(args.seeds):
        gen_runs.append(generated_seed(s, perturb=s < args.perturbed_seeds))
        digit_runs.append(digits_seed(s, x))
        print(f"seed {s} done after {time.perf_counter() - start:.0f} s", flush=True)
    text = report(gen_runs, digit_runs, time.perf_counter() - start)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
