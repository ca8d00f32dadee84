"""Every figure of chapters 1-12, drawn from small inputs: legible where the page shows it,
and no two series told apart by colour alone (issue 16).

Each case below draws one figure function of ``dae_course/chNN_*/figures.py`` (the
``draw(fig, value)`` functions of the sliders at the frame sizes the pages use) and the
tests check, on the drawn figure:

* it is at most :data:`dae_course.palette.MAX_WIDTH` inches wide;
* every visible text (titles, labels, tick labels, legends, annotations) is at least
  :data:`dae_course.palette.MIN_FONT_SIZE` points;
* in every axes, any two labelled lines differ by line style, marker or a line width at
  least twice the other's, and so do the entries of every legend (lines, and patches by
  hatch, fill or edge style): a reader who cannot tell the colours apart can still tell
  which is which (WCAG 2.1, 1.4.1).
"""

from __future__ import annotations

import math
from itertools import accumulate

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import palette  # noqa: E402
from dae_course.ch01_almost_everywhere import figures as f1  # noqa: E402
from dae_course.ch01_almost_everywhere import problems as p1  # noqa: E402
from dae_course.ch02_softplus import figures as f2  # noqa: E402
from dae_course.ch03_softmax import figures as f3  # noqa: E402
from dae_course.ch04_huber import figures as f4  # noqa: E402
from dae_course.ch05_reparameterisation import figures as f5  # noqa: E402
from dae_course.ch06_reinforce import figures as f6  # noqa: E402
from dae_course.ch07_gumbel_straight_through import figures as f7  # noqa: E402
from dae_course.ch08_summary import figures as f8  # noqa: E402
from dae_course.ch09_straight_through_beyond import figures as f9  # noqa: E402
from dae_course.ch10_sparsemax_entmax import figures as f10  # noqa: E402
from dae_course.ch11_relaxed_bernoulli import figures as f11  # noqa: E402
from dae_course.ch12_smoothing_by_noise import figures as f12  # noqa: E402

F64 = torch.float64

#: Frame sizes (inches) of the pages' sliders: the default, and the taller one that
#: three-panel drawings stack into two rows for.
FRAMES = [(7.0, 3.0), (7.0, 5.0)]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def frame(draw, size, *args, **kwargs):
    fig = plt.figure(figsize=size)
    draw(fig, *args, **kwargs)
    return fig


# -- chapter 1 -----------------------------------------------------------------------------


def ch01_descent():
    problem = p1.make_max_affine(7, 2, generator=gen(1))
    w_star, f_star = problem.minimum()
    w0 = torch.tensor([3.0, -3.0], dtype=F64)
    runs = {}
    for name, rule in [
        ("0.1", 0.1),
        ("0.01", 0.01),
        ("1/sqrt(k+1)", lambda k: 1 / math.sqrt(k + 1)),
    ]:
        path, values = p1.subgradient_descent(problem, w0, 50, rule)
        runs[name] = {"path": path, "values": values, "best": list(accumulate(values, min))}
    return f1.subgradient_descent_figure(problem, runs, f_star, w_star, path_steps=20)


def ch01_minibatch():
    history = {
        "batch_loss": [1.0, 0.5, 0.6, 0.2],
        "full_loss": [1.0, 0.6, 0.5, 0.3],
        "cosine": [0.5, -0.5, 0.2, 0.9],
    }
    return f1.minibatch_figure(history, noise_floor=0.1)


# -- chapter 2 -----------------------------------------------------------------------------


def ch02_training():
    curves = {
        "ReLU": torch.logspace(0, -3, 7)[:, None].repeat(1, 3),
        "softplus": torch.full((7, 3), 0.5),
        "other": torch.full((7, 2), 0.2),
    }
    return f2.training_curves_figure(curves)


# -- chapter 4 -----------------------------------------------------------------------------


def ch04_descents(delta):
    path = torch.tensor([3.0, 1.0, 0.6, 0.5], dtype=F64)
    return {"L1": path, "Huber": path * 0.9, "Smooth L1": path * 0.8}


def ch04_trajectory():
    path = torch.tensor([3.0, 1.0, 0.6, 0.5], dtype=F64)
    return f4.trajectory_figure({"L1": path, "Huber δ=1": path * 0.9, "other": path * 0.8}, 0.5)


def ch04_sparsity():
    w_true = torch.tensor([1.0, 0.0, -0.5])
    fits = {"lasso": torch.tensor([0.8, 0.0, -0.3]), "ridge": torch.tensor([0.7, 0.1, -0.2])}
    paths = {"lasso": torch.zeros(5, 3), "ridge": torch.ones(5, 3) * 0.1}
    return f4.sparsity_figure(w_true, fits, paths, index=1, band=0.2)


# -- chapter 5 -----------------------------------------------------------------------------


def ch05_density():
    y = -torch.log(torch.rand(5000, generator=gen(0), dtype=F64)) / 2.0
    dist = torch.distributions.Exponential(torch.tensor(2.0, dtype=F64))
    return f5.density_check_figure([("a", y, dist), ("b", y, dist), ("c", y, dist)])


def ch05_variance():
    ks = [-1.0, 1.0, 3.0]
    return f5.estimator_variance_figure(
        ks,
        [4.0, 4.1, 3.9],
        [80.0, 15.0, 87.0],
        pathwise_mean=[4, 0, -4],
        score_mean=[4, 0, -4],
        n=1000,
    )


def ch05_panel(fig):
    z = torch.randn(2000, generator=gen(0), dtype=F64)
    return f5.estimator_panel(fig, 3.0, 4.0 + 2 * z, (z**2 - 1) * 10)


# -- chapter 6 -----------------------------------------------------------------------------


def ch06_sample_loss():
    grid = torch.linspace(0.01, 0.99, 99, dtype=F64)
    return f6.sample_loss_figure(0.45, [0.2, 0.55, 0.8], grid, 0.2 + 0.1 * grid, 0 * grid)


def ch06_variance():
    ms = [1, 2, 4]
    exact = {"t = 0.45": (ms, [1.0, 0.5, 0.25]), "t = 0.499": (ms, [0.8, 0.4, 0.2])}
    measured = {"t = 0.45": (ms, [1.0, 0.5, 0.26]), "t = 0.499": (ms, [0.8, 0.41, 0.2])}
    return f6.variance_vs_samples_figure(measured, exact, title="demo")


def ch06_sgd():
    runs = torch.rand(11, 30, generator=gen(0))
    exact = torch.linspace(0.5, 0.1, 11)
    return f6.sgd_figure([("a", runs, exact), ("b", runs, exact), ("c", runs, exact)], show=5)


# -- chapter 7 -----------------------------------------------------------------------------

X3 = torch.tensor([0.2, 0.3, 0.5], dtype=F64).log()
NOISE = rl.gumbel_noise((300, 3), generator=gen(1), dtype=F64)


def ch07_bias_variance():
    def point(bias, var):
        return {"|bias|": bias, "noise": bias / 10, "var/sample": var}

    sweep = {
        "soft": [(0.5, point(0.1, 2.0)), (1.0, point(0.2, 1.0))],
        "straight-through": [(0.5, point(0.2, 3.0)), (1.0, point(0.3, 2.0))],
    }
    return f7.bias_variance_figure(sweep, {"A": 0.5, "B": 0.2})


def ch07_many_choices():
    variances = {"a": [1.0, 4.0], "b": [2.0, 2.0], "c": [0.5, 0.5]}
    return f7.many_choices_figure([1, 4], variances, {"a": [1.0, 4.0], "b": [2.0, 2.0]})


# -- chapter 8 -----------------------------------------------------------------------------


class FakeHistory:
    def __init__(self, values):
        self.steps = [50 * i for i in range(len(values))]
        self.values = values

    def curve(self, key="neg_elbo"):
        return list(self.values)


def ch08_learning():
    histories = {m: FakeHistory([45.0 - i, 30.0, 25.0 + i]) for i, m in enumerate(f8.METHOD_LABELS)}
    return f8.learning_curves_figure(histories, floor=18.0)


def ch08_quality():
    q = {
        m: {"bias": 0.1 * (i + 1), "bias_noise": 0.02, "spread": 0.6 * (i + 1), "cosine": 0.8}
        for i, m in enumerate(f8.METHOD_LABELS)
    }
    return f8.gradient_quality_figure(q)


def ch08_rows():
    images = torch.rand(10, 64, generator=gen(0), dtype=F64)
    rows = [("data", images)] + [(m, images) for m in f8.METHOD_LABELS]
    return f8.image_rows_figure(rows, grid=(2, 2), title="reconstructions")


# -- chapter 9 -----------------------------------------------------------------------------


def ch09_vq():
    g = gen(0)
    centres = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]], dtype=F64)
    z = centres.repeat(25, 1) + 0.4 * torch.randn(100, 2, generator=g, dtype=F64)
    start = 0.1 * torch.randn(4, 2, generator=g, dtype=F64)
    before = (0.3 * z, start, torch.cdist(0.3 * z, start).argmin(-1))
    after = (z, centres, torch.cdist(z, centres).argmin(-1))
    return f9.vq_figure(z, before, after)


def ch09_curves(f):
    """Exact d/dp E[f(D)], the straight-through mean E[f'(D)] and the trapezoid (ReinMax-
    like) mean (f'(D) + f'(p)) / 2 against p, for a smooth f, as the page's ``curves``."""
    p = torch.linspace(0.02, 0.98, 25, dtype=F64)

    def slope(b):
        b = torch.as_tensor(b, dtype=F64).clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(b).sum(), b)
        return grad

    zero, one = torch.zeros_like(p), torch.ones_like(p)
    exact = f(one) - f(zero)
    st = p * slope(one) + (1 - p) * slope(zero)
    heun = (st + slope(p)) / 2
    return p, (exact.detach(), st.detach(), heun.detach())


def ch09_bias_panels(fig):
    losses = {
        "$f(b) = 2b - 1$": lambda b: 2 * b - 1,
        "$f(b) = (b - 0.3)^2$": lambda b: (b - 0.3) ** 2,
        "$f(b) = b^3$": lambda b: b**3,
    }
    f9.draw_bias_panels(fig, {title: ch09_curves(f) for title, f in losses.items()})


# -- chapter 10 ----------------------------------------------------------------------------


def ch10_against_temperature():
    zero_at = {"1.5-entmax": [2.5, 0.0, 1.6, 6.0], "sparsemax": [3.0, 0.0, 4.0, 12.0]}
    temperatures = torch.logspace(-1, 2, 31).tolist()
    return f10.maps_against_temperature_figure(list(f10.LECTURE_X), temperatures, zero_at)


def ch10_two_categories():
    t = torch.linspace(-3, 3, 61, dtype=F64)
    two = torch.stack([t, torch.zeros_like(t)], -1)
    maps = f10.three_maps(two, 1.0)
    curves = {
        r"softmax: $\sigma(t)$": maps["softmax"][:, 0].tolist(),
        "1.5-entmax": maps["1.5-entmax"][:, 0].tolist(),
        r"sparsemax: clip$((t+1)/2, 0, 1)$": maps["sparsemax"][:, 0].tolist(),
    }
    return f10.two_categories_figure(t.tolist(), curves)


# -- chapter 11 ----------------------------------------------------------------------------

CH11_LOGIT = math.log(0.3 / 0.7)


def ch11_log_density(x, logits, temperature):
    """The binary Concrete log-density, with the page's signature."""
    t = torch.tensor(float(temperature), dtype=F64)
    return torch.distributions.RelaxedBernoulli(t, logits=logits).log_prob(x)


def ch11_variance():
    names = ["REINFORCE", "REINFORCE + baseline", "REBAR", "REBAR, tuned", "RELAX"]
    values = {0.45: [0.1, 0.03, 0.2, 5e-4, 0.01], 0.499: [0.1, 2e-6, 0.2, 0.09, 3e-6]}
    return f11.variance_figure({t: dict(zip(names, v)) for t, v in values.items()})


def ch11_trajectories():
    steps = torch.arange(201, dtype=F64)
    names = ["REINFORCE", "REINFORCE + learned baseline", "REBAR (η = 1, λ = 1/2)", "RELAX"]
    rates = [0.0005, 0.02, -0.001, 0.03]
    paths = {n: (0.5 * torch.exp(-r * steps)).clamp(0, 1).tolist() for n, r in zip(names, rates)}
    return f11.trajectories_figure(paths, 0.499)


# -- chapter 12 ----------------------------------------------------------------------------


def ch12_smoothed_relu():
    xs = torch.linspace(-3, 3, 61, dtype=F64)
    at = torch.linspace(-3, 3, 13, dtype=F64)
    u = torch.rand(2000, 1, generator=gen(0), dtype=F64).clamp(1e-9, 1 - 1e-9)
    noise = torch.log(u) - torch.log1p(-u)  # standard logistic
    betas = [1.0, 2.0, 5.0]
    curves = {b: torch.nn.functional.softplus(xs, beta=b) for b in betas}
    points = {b: torch.relu(at + noise / b).mean(0) for b in betas}
    return f12.smoothed_relu_figure(xs, curves, at, points)


def ch12_perturbed(fig, sigma):
    g = gen(6)
    theta = torch.tensor([0.5, 1.5, 1.0, 0.0], dtype=F64)
    gumbel = -torch.log(-torch.log(torch.rand(1000, 4, generator=g, dtype=F64)))
    normal = torch.randn(1000, 4, generator=g, dtype=F64)
    return f12.draw_perturbed_panel(fig, sigma, theta, gumbel, normal)


def ch12_training():
    steps = list(range(0, 101, 10))
    history = [0.38 + 0.06 * i for i in range(len(steps))]
    fig = f12.training_figure(steps, {"perturbed top-k, σ = 1": history})
    ax = fig.axes[0]
    ax.axhline(3 / 8, color="0.4", linestyle=":", label="random choice, k/N")  # as the page does
    ax.legend(loc="lower right")
    return fig


CASES = {
    **{
        f"ch01_quotients_{w}x{h}": (lambda s=(w, h): frame(f1.draw_difference_quotients, s, 0.5))
        for w, h in FRAMES
    },
    "ch01_fan": f1.subgradient_fan_figure,
    "ch01_descent": ch01_descent,
    "ch01_minibatch": ch01_minibatch,
    "ch02_panel": lambda: frame(f2.draw_softplus_panel, FRAMES[0], 1.0),
    "ch02_beta": lambda: f2.softplus_beta_figure(betas=[0.5, 2.0, 8.0], gap_betas=[0.25, 1.0]),
    "ch02_training": ch02_training,
    "ch03_panel": lambda: frame(f3.draw_softmax_panel, FRAMES[0], 0.5),
    "ch03_temperature": lambda: f3.softmax_temperature_figure(marked=[1.0, 0.2]),
    "ch04_losses": f4.loss_gradient_figure,
    "ch04_trajectory": ch04_trajectory,
    **{
        f"ch04_delta_{w}x{h}": (
            lambda s=(w, h): frame(f4.draw_delta_panel, s, 1.0, descents=ch04_descents, target=0.5)
        )
        for w, h in FRAMES
    },
    "ch04_sparsity": ch04_sparsity,
    "ch05_sgd": lambda: f5.sgd_fit_figure([0.0, 1.0, 1.9], [1.0, 0.7, 0.5], (2.0, 0.5)),
    "ch05_density": ch05_density,
    "ch05_variance": ch05_variance,
    "ch05_panel": lambda: frame(ch05_panel, FRAMES[0]),
    "ch06_sample_loss": ch06_sample_loss,
    "ch06_variance": ch06_variance,
    "ch06_sgd": ch06_sgd,
    "ch06_baseline": lambda: f6.baseline_variance_figure(
        0.3, 0.45, [0.0, 0.1, 0.4], [0.35, 0.14, 0.08], {2: 0.03, 4: 0.015, 16: 0.01}
    ),
    "ch06_distribution_m1": lambda: frame(f6.draw_estimate_distribution, (7.0, 3.4), 1),
    "ch06_distribution_m8": lambda: frame(f6.draw_estimate_distribution, (7.0, 3.4), 8),
    "ch07_simplex_panel": lambda: frame(f7.draw_simplex_panel, FRAMES[0], 0.5, X3, NOISE),
    "ch07_simplex": lambda: f7.simplex_figure(X3, NOISE[:50], [0.1, 0.5, 1.0, 5.0]),
    "ch07_bias_variance": ch07_bias_variance,
    "ch07_many_choices": ch07_many_choices,
    "ch08_learning": ch08_learning,
    "ch08_quality": ch08_quality,
    "ch08_rows": ch08_rows,
    "ch08_codes": lambda: f8.code_grid_figure(
        torch.rand(256, 64, generator=gen(0), dtype=F64), 4, 4, title="every code"
    ),
    "ch09_accuracy": lambda: f9.accuracy_figure(
        [1, 2, 3, 4, 8], [0.85, 0.93, 0.95, 0.96, 0.96], [0.1, 0.6, 0.88, 0.94, 0.96], 0.96
    ),
    "ch09_vq": ch09_vq,
    "ch09_bias_panels": lambda: frame(ch09_bias_panels, (7.5, 3.8)),
    **{
        f"ch09_curvature_{c:g}": (
            lambda c=c: frame(f9.draw_curvature, (6.0, 3.8), c, curves=ch09_curves)
        )
        for c in (0.0, -3.0, 1.0)
    },
    "ch10_maps_panel_T1": lambda: frame(f10.draw_maps_panel, FRAMES[0], 1.0),
    "ch10_maps_panel_T0.1": lambda: frame(f10.draw_maps_panel, FRAMES[0], 0.1),
    "ch10_against_temperature": ch10_against_temperature,
    "ch10_two_categories": ch10_two_categories,
    **{
        f"ch11_density_panel_{w}x{h}": (
            lambda s=(w, h): frame(
                f11.draw_density_panel,
                s,
                0.5,
                log_density=ch11_log_density,
                logits=CH11_LOGIT,
            )
        )
        for w, h in [(7.0, 3.0), (6.0, 3.2)]
    },
    "ch11_density": lambda: f11.density_figure(ch11_log_density, CH11_LOGIT, [0.2, 0.5, 1.0, 2.0]),
    "ch11_variance": ch11_variance,
    "ch11_trajectories": ch11_trajectories,
    "ch12_smoothed_relu": ch12_smoothed_relu,
    **{
        f"ch12_perturbed_{w}x{h}": (lambda s=(w, h): frame(ch12_perturbed, s, 1.0))
        for w, h in [(7.0, 3.0), (7.0, 3.6)]
    },
    "ch12_training": ch12_training,
}


@pytest.fixture(params=sorted(CASES))
def drawn(request):
    fig = CASES[request.param]()
    fig.canvas.draw()  # tick labels exist only once drawn
    yield fig
    plt.close(fig)


def test_figure_fits_the_text_column(drawn):
    assert drawn.get_size_inches()[0] <= palette.MAX_WIDTH + 1e-9


def test_every_text_is_at_least_the_minimum_size(drawn):
    small = [
        f"{t.get_text()!r}: {t.get_fontsize():g} pt"
        for t in drawn.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < palette.MIN_FONT_SIZE
    ]
    assert not small, small


def _line_key(line: Line2D):
    dashes = getattr(line, "_unscaled_dash_pattern", None)
    style = line.get_linestyle() if line.get_linestyle() in ("-", "None", "") else str(dashes)
    marker = line.get_marker()
    return (style, None if marker in (None, "None", "", " ") else marker)


def _lines_apart(a: Line2D, b: Line2D) -> bool:
    widths = sorted((a.get_linewidth(), b.get_linewidth()))
    return _line_key(a) != _line_key(b) or widths[1] >= 2 * widths[0]


def _patches_apart(a: Patch, b: Patch) -> bool:
    def key(p):
        return (p.get_hatch() or "", p.get_fill(), p.get_linestyle())

    return key(a) != key(b)


def _confusable(artists) -> list:
    pairs = []
    for i, a in enumerate(artists):
        for b in artists[i + 1 :]:
            if isinstance(a, Line2D) and isinstance(b, Line2D) and not _lines_apart(a, b):
                pairs.append((a.get_label(), b.get_label()))
            if isinstance(a, Patch) and isinstance(b, Patch) and not _patches_apart(a, b):
                pairs.append((a.get_label(), b.get_label()))
    return pairs


def test_labelled_lines_differ_by_more_than_colour(drawn):
    found = []
    for ax in drawn.axes:
        labelled = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        found += _confusable(labelled)
    assert not found, found


def test_legend_entries_differ_by_more_than_colour(drawn):
    legends = [ax.get_legend() for ax in drawn.axes] + list(drawn.legends)
    found = []
    for legend in filter(None, legends):
        handles = legend.legend_handles
        texts = [t.get_text() for t in legend.get_texts()]
        for handle, text in zip(handles, texts):
            if handle is not None:
                handle.set_label(text)
        found += _confusable([h for h in handles if h is not None])
    assert not found, found


def test_the_confusable_check_catches_colour_alone():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color="red", label="a")
    ax.plot([0, 1], [1, 0], color="blue", label="b")
    ax.bar([0], [1], color="red", label="c")
    ax.bar([1], [1], color="blue", label="d")
    ax.legend()
    assert _confusable(ax.get_lines()) == [("a", "b")]
    handles = ax.get_legend().legend_handles
    assert len(_confusable(handles)) == 2  # the lines and the bars
    ax.plot([0, 1], [0.5, 0.5], color="green", ls="--", label="e")
    ax.plot([0, 1], [0.2, 0.2], color="green", marker="o", label="f")
    ax.plot([0, 1], [0.3, 0.3], color="green", lw=5, label="g")
    assert _confusable(ax.get_lines()) == [("a", "b")]
    plt.close(fig)
