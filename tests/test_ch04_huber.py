"""Chapter 4 (relaxing the L1 norm): the page's gradient descent (its package copy), the
figures that draw the runs the page computes, the sliders the page shows, and the exercise
checkers, which must accept correct answers and name each common mistake."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from shared_helpers import stored_slider_html  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import checking as ex  # noqa: E402
from dae_course import sliders  # noqa: E402
from dae_course.ch04_huber import checks as hx  # noqa: E402
from dae_course.ch04_huber import figures as hplot  # noqa: E402
from dae_course.ch04_huber.descent import gradient_descent  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "chapters" / "04_huber.ipynb"
X0, Y, LR = 3.3125, 0.5, 0.25  # the chapter's descent


def l1(x, y):
    return (x - y).abs()


def descents(delta, steps=80):
    """The page's ``descents``: L1, Huber(delta) and Smooth L1(beta = delta) from X0."""
    losses = {
        "L1": l1,
        "Huber": partial(rl.huber, delta=delta),
        "Smooth L1": partial(rl.smooth_l1, beta=delta),
    }
    return {name: gradient_descent(f, X0, Y, LR, steps) for name, f in losses.items()}


draw = partial(hplot.draw_delta_panel, descents=descents, target=Y)


# --------------------------------------------------------------------------------------
# gradient descent (the page's algorithm)
# --------------------------------------------------------------------------------------


def test_gradient_descent_on_l1_is_exact_walk_then_two_cycle():
    # x0 - y = 2.8125 = 11 * 0.25 + 0.0625: eleven steps down, then +-0.25 forever.
    path = gradient_descent(l1, X0, Y, LR, 30)
    assert path.shape == (31,) and path.dtype == torch.float64 and path.device.type == "cpu"
    assert path[:12].tolist() == [X0 - LR * k for k in range(12)]
    tail = path[11:].tolist()
    assert tail[0::2] == [0.5625] * len(tail[0::2])
    assert tail[1::2] == [0.3125] * len(tail[1::2])


def test_gradient_descent_stops_on_exact_landing():
    path = gradient_descent(l1, 2.0, 0.5, 0.5, 10)
    assert path[3:].tolist() == [0.5] * 8  # sign(0) = 0: it stays


def test_gradient_descent_on_huber_contracts_by_one_minus_lr():
    path = gradient_descent(partial(rl.huber, delta=1.0), X0, Y, LR, 40)
    err = (path - Y).abs()
    # linear zone: steps of lr * delta; quadratic zone (from 0.8125 on): factor 1 - lr
    assert err[:9].tolist() == [2.8125 - 0.25 * k for k in range(9)]
    assert torch.allclose(err[9:] / err[8:-1], torch.full((32,), 0.75, dtype=torch.float64))
    assert err[-1].item() == pytest.approx(0.8125 * 0.75**32)


def test_gradient_descent_accepts_integers_and_returns_cpu_float64():
    path = gradient_descent(l1, 2, 0, 1, 3)
    assert path.tolist() == [2.0, 1.0, 0.0, 0.0] and path.dtype == torch.float64


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def test_loss_gradient_figure():
    fig = hplot.loss_gradient_figure(params=(0.5, 2.0))
    ax1, ax2, ax3 = fig.axes
    assert len(ax1.get_lines()) == 3
    # middle: sign(r) + one curve per delta (+ the zero line); the Huber curves cap at delta
    assert ax2.get_lines()[0].get_ydata().tolist()[:2] == [-1.0, -1.0]
    curves = ax2.get_lines()[1:3]
    assert [max(c.get_ydata()) for c in curves] == pytest.approx([0.5, 2.0])
    curves = ax3.get_lines()[1:3]
    assert [max(c.get_ydata()) for c in curves] == pytest.approx([1.0, 1.0])
    plt.close(fig)


def test_trajectory_figure_colours_and_floor():
    paths = {
        "L1": gradient_descent(l1, X0, Y, LR, 20),
        "Huber δ=1": gradient_descent(partial(rl.huber, delta=1.0), X0, Y, LR, 20),
        "other": torch.tensor([1.0, 0.5, 0.5]),
    }
    fig = hplot.trajectory_figure(paths, Y)
    ax1, ax2 = fig.axes
    colors = [line.get_color() for line in ax1.get_lines()[:3]]
    assert colors[:2] == [hplot.LOSS_COLORS["L1"], hplot.LOSS_COLORS["Huber"]]
    assert ax2.get_yscale() == "log"
    assert min(ax2.get_lines()[2].get_ydata()) == 1e-16  # exact zeros drawn at the floor
    plt.close(fig)


def test_draw_delta_panel_caption_from_closed_forms():
    fig = plt.figure()
    caption = draw(fig, 1.0)
    # L1: after 80 steps (an even number, 69 after reaching 0.0625) the error is 0.1875.
    # Huber = Smooth L1 at delta = 1: 8 linear steps to 0.8125, then 72 factors 0.75.
    e = 0.8125 * 0.75**72
    assert caption == (
        f"δ = β = 1: |x − y| after 80 steps: L1 0.19, Huber {e:.2g}, Smooth L1 {e:.2g}"
    )
    assert len(fig.axes) == 3 and fig.axes[2].get_yscale() == "log"
    assert len(fig.axes[2].get_lines()) == 3  # one curve per run it was given
    plt.close(fig)
    fig = plt.figure()
    draw(fig, 5.0)  # a band wider than the axis does not widen it
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim() == (-3.0, 3.0)
    plt.close(fig)


def test_draw_delta_panel_small_beta_returns_to_l1_cycle():
    fig = plt.figure()
    # beta = 0.01 < lr / 2: no iterate ever falls inside |r| < beta, Smooth L1 = L1 here
    caption = draw(fig, 0.01)
    assert "L1 0.19," in caption and caption.endswith("Smooth L1 0.19")
    # Huber with delta = 0.01 moves lr * delta = 0.0025 per step: 80 steps cover 0.2
    assert f"Huber {2.8125 - 0.2:.2g}," in caption
    plt.close(fig)


def test_draw_delta_panel_draws_only_the_runs_it_is_given():
    fig = plt.figure()
    caption = hplot.draw_delta_panel(
        fig, 0.5, descents=lambda d: {"L1": torch.tensor([1.0, 0.25])}, target=0.5
    )
    assert caption == "δ = β = 0.5: |x − y| after 1 steps: L1 0.25"
    assert len(fig.axes[2].get_lines()) == 1
    plt.close(fig)


def test_delta_slider_is_light_and_offline():
    values = [0.05, 0.5, 2.0]
    html = sliders.jshtml(lambda: sliders.scrub_animation(draw, values, figsize=(7.0, 5.0))).data
    assert sliders.jshtml_frame_count(html) == 3
    assert "http" not in html
    assert len(html.encode()) < 3 * 120_000


def test_sparsity_figure_marks_exact_zeros():
    w_true = torch.tensor([1.0, 0.0, -0.5])
    fits = {"lasso": torch.tensor([0.8, 0.0, -0.3]), "ridge": torch.tensor([0.7, 0.1, -0.2])}
    paths = {"lasso": torch.zeros(5, 3), "ridge": torch.ones(5, 3) * 0.1}
    fig = hplot.sparsity_figure(w_true, fits, paths, index=1, band=0.2)
    ax1, ax2 = fig.axes
    rings = [line for line in ax1.get_lines() if line.get_marker() == "o"]
    assert [len(line.get_xdata()) for line in rings] == [1, 1, 0]  # true, lasso, ridge
    lines = ax2.get_lines()
    assert lines[0].get_color() == rings[1].get_markeredgecolor()  # same colour per method
    assert max(lines[1].get_ydata()) == pytest.approx(0.1)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# the page's explorer and slider (their checks live here, not on the page)
# --------------------------------------------------------------------------------------


def test_explorer_redraws_with_delta_panel():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        draw, value=1.0, min=0.02, max=5.0, description="δ = β", figsize=(7.0, 5.0)
    )
    first = explorer.image.value
    explorer.slider.value = 0.1  # what dragging the slider does: redraw for the new delta
    assert explorer.redraws == 2 and explorer.image.value != first
    assert "δ = β = 0.1:" in explorer.caption.value


def test_page_slider_has_its_16_frames_and_loads_nothing_from_other_hosts():
    html = stored_slider_html(PAGE)
    assert sliders.jshtml_frame_count(html) == 16
    assert not sliders.external_urls(html)


# --------------------------------------------------------------------------------------
# Exercise 1: Huber with delta
# --------------------------------------------------------------------------------------


def good_huber(x, y, delta):
    r = x - y
    return torch.where(r.abs() < delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))


def good_huber_le(x, y, delta):  # `<=` puts |r| = delta in the quadratic branch: same values
    r = x - y
    return torch.where(r.abs() <= delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))


def good_huber_clamp(x, y, delta):  # 0.5 q^2 + delta (|r| - q), q = min(|r|, delta)
    a = (x - y).abs()
    q = torch.clamp(a, max=delta)
    return 0.5 * q**2 + delta * (a - q)


def good_huber_target_minus_input(x, y, delta):
    return good_huber(y, x, delta)


def _where(x, y, cond, inner, outer):
    r = x - y
    return torch.where(cond(r), inner(r), outer(r))


HUBER_MISTAKES = {
    # name: (wrong function, expected mistake name, phrase in the message)
    "smooth l1 instead": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2 / d, lambda r: r.abs() - d / 2
        ),
        "smooth l1",
        "Smooth L1",
    ),
    "linear branch missing delta": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: r.abs() - d / 2
        ),
        "linear branch not scaled",
        "missing its factor delta",
    ),
    "forgot offset": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: d * r.abs()
        ),
        "no offset",
        "jumps",
    ),
    "kept 0.5 offset": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: 0.5 * r**2, lambda r: d * (r.abs() - 0.5)
        ),
        "lecture offset",
        "lecture's 0.5",
    ),
    "threshold 1": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < 1, lambda r: 0.5 * r**2, lambda r: r.abs() - 0.5
        ),
        "ignored delta",
        "delta is ignored",
    ),
    "r < delta": (
        lambda x, y, d: _where(
            x, y, lambda r: r < d, lambda r: 0.5 * r**2, lambda r: d * (r.abs() - d / 2)
        ),
        "r instead of |r|",
        "r.abs() < delta",
    ),
    "no half": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: r**2, lambda r: d * (r.abs() - d / 2)
        ),
        "missing half",
        "factor 1/2",
    ),
    "swapped": (
        lambda x, y, d: _where(
            x, y, lambda r: r.abs() < d, lambda r: d * (r.abs() - d / 2), lambda r: 0.5 * r**2
        ),
        "swapped branches",
        "swapped",
    ),
    "mean": (lambda x, y, d: good_huber(x, y, d).mean(), "mean reduction", "mean"),
    "sum": (lambda x, y, d: good_huber(x, y, d).sum(), "sum reduction", "sum"),
    "detached": (lambda x, y, d: good_huber(x.detach(), y.detach(), d), "no gradient", "gradient"),
}


@pytest.mark.parametrize(
    "fn", [good_huber, good_huber_le, good_huber_clamp, good_huber_target_minus_input, rl.huber]
)
def test_huber_correct_answers_pass(fn):
    feedback = hx.check_huber(fn)
    assert feedback.passed, feedback
    assert "passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(HUBER_MISTAKES))
def test_huber_mistake_named(name):
    fn, mistake, phrase = HUBER_MISTAKES[name]
    feedback = hx.check_huber(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_huber_mistakes_are_wrong_where_claimed():
    # The checker's first case has delta = 2; the named discontinuities are real there.
    r = torch.tensor([2.0 - 1e-9, 2.0], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    no_offset = HUBER_MISTAKES["forgot offset"][0](r, zero, 2.0)
    assert no_offset[1] - no_offset[0] == pytest.approx(2.0)  # jump of delta^2 / 2
    unscaled = HUBER_MISTAKES["linear branch missing delta"][0](r, zero, 2.0)
    assert unscaled[0] - unscaled[1] == pytest.approx(1.0)  # 2 at the left, 1 at the right
    good = good_huber(r, zero, 2.0)
    assert good[1] - good[0] == pytest.approx(0.0, abs=1e-8)


def test_huber_stub_and_errors():
    def stub(x, y, delta):
        raise NotImplementedError

    assert hx.check_huber(stub).status == ex.NOT_ATTEMPTED
    assert hx.check_huber(lambda x, y, d: None).status == ex.NOT_ATTEMPTED
    fb = hx.check_huber(lambda x, y, d: float(good_huber(x, y, d).sum()))
    assert fb.mistake == "not a tensor"
    fb = hx.check_huber(lambda x, y, d: good_huber(x, y, d) * 1.1)
    assert fb.status == ex.INCORRECT and fb.mistake is None and "expected" in fb.message


# --------------------------------------------------------------------------------------
# Exercise 2: Smooth L1 through F.huber_loss
# --------------------------------------------------------------------------------------


def good_smooth(x, y, beta):
    return F.huber_loss(x, y, delta=beta, reduction="none") / beta


def good_smooth_rescaled(x, y, beta):
    return beta * F.huber_loss(x / beta, y / beta, delta=1.0, reduction="none")


def good_smooth_by_hand(x, y, beta):
    r = (x - y).abs()
    return torch.where(r < beta, 0.5 * r**2 / beta, r - 0.5 * beta)


def hub(x, y, d):
    return F.huber_loss(x, y, delta=d, reduction="none")


SMOOTH_MISTAKES = {
    "times beta": (lambda x, y, b: b * hub(x, y, b), "multiplied by beta"),
    "huber itself": (lambda x, y, b: hub(x, y, b), "not divided"),
    "default delta then divide": (lambda x, y, b: hub(x, y, 1.0) / b, "default delta, divided"),
    "F.huber_loss(reduction=none)": (lambda x, y, b: hub(x, y, 1.0), "default delta"),
    "rescaled without beta": (lambda x, y, b: hub(x / b, y / b, 1.0), "divided by beta squared"),
    "beta squared": (lambda x, y, b: hub(x, y, b) / b**2, "divided by beta squared"),
    "default reduction": (lambda x, y, b: F.huber_loss(x, y, delta=b) / b, "mean reduction"),
}


@pytest.mark.parametrize(
    "fn",
    [
        good_smooth,
        good_smooth_rescaled,
        good_smooth_by_hand,
        lambda x, y, b: F.smooth_l1_loss(x, y, beta=b, reduction="none"),
    ],
)
def test_smooth_correct_answers_pass(fn):
    feedback = hx.check_smooth_l1_via_huber(fn)
    assert feedback.passed, feedback


@pytest.mark.parametrize("name", sorted(SMOOTH_MISTAKES))
def test_smooth_mistake_named(name):
    fn, mistake = SMOOTH_MISTAKES[name]
    feedback = hx.check_smooth_l1_via_huber(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_smooth_stub():
    def stub(x, y, beta):
        raise NotImplementedError

    assert hx.check_smooth_l1_via_huber(stub).status == ex.NOT_ATTEMPTED


# --------------------------------------------------------------------------------------
# Exercise 3: the L1 cycle
# --------------------------------------------------------------------------------------


def simulate_l1(x0, y, lr, steps=400):
    """Gradient descent on |x - y| with autograd, float64; the last two iterates, sorted."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    for _ in range(steps):
        (g,) = torch.autograd.grad((x - y).abs(), x)
        x = (x - lr * g).detach().requires_grad_(True)
    a = x.item()
    (g,) = torch.autograd.grad((x - y).abs(), x)
    b = (x - lr * g).item()
    return tuple(sorted((a, b)))


DYADIC = [
    (3.3125, 0.375, 0.25),
    (-1.375, 0.625, 0.75),
    (-1.375, 0.25, 0.5),
    (2.0, 0.5, 0.5),
    (0.75, 0.0, 2.0),
    (-5.0, -2.0, 0.75),
    (10.0, 1.0, 1.5),
    (-7.25, 3.5, 0.125),
    (0.5, 0.5, 0.25),
    (1.0, 0.0, 0.375),
]


@pytest.mark.parametrize("x0, y, lr", DYADIC)
def test_reference_cycle_matches_gradient_descent_exactly(x0, y, lr):
    assert hx.reference_l1_cycle(x0, y, lr) == simulate_l1(x0, y, lr)


@pytest.mark.parametrize("seed", range(5))
def test_reference_cycle_matches_gradient_descent_generic(seed):
    g = torch.Generator().manual_seed(seed)
    x0, y = (torch.rand(2, generator=g, dtype=torch.float64) * 20 - 10).tolist()
    lr = 0.05 + torch.rand(1, generator=g, dtype=torch.float64).item()
    low, high = hx.reference_l1_cycle(x0, y, lr)
    sim = simulate_l1(x0, y, lr, steps=int(abs(x0 - y) / lr) + 10)
    assert sim == pytest.approx((low, high), abs=1e-9)
    assert high - low == pytest.approx(lr)
    assert low < y < high and max(y - low, high - y) < lr


def sim_solution(x0, y, lr):
    return simulate_l1(x0, y, lr)


def closed_form(x0, y, lr):
    d = x0 - y
    n = math.floor(d / lr)
    rho = d - n * lr
    return torch.tensor([y + rho - lr, y + rho]) if rho else [y, y]


@pytest.mark.parametrize("fn", [hx.reference_l1_cycle, sim_solution, closed_form])
def test_l1_cycle_correct_answers_pass(fn):
    assert hx.check_l1_cycle(fn).passed


def _pts(y, rho, lr):
    return (y + rho - lr, y + rho) if rho else (y, y)


L1_MISTAKES = {
    "offsets": (
        lambda x0, y, lr: (((x0 - y) % lr) - lr, (x0 - y) % lr),
        "offsets",
    ),
    "symmetric": (lambda x0, y, lr: (y - lr / 2, y + lr / 2), "symmetric"),
    "mirrored": (lambda x0, y, lr: (y - abs(x0 - y) % lr, y + abs(x0 - y) % lr), "mirrored"),
    "x0 % lr": (lambda x0, y, lr: _pts(y, x0 % lr, lr), "ignores target"),
    "math.fmod": (lambda x0, y, lr: _pts(y, math.fmod(x0 - y, lr), lr), "fmod"),
    "abs": (lambda x0, y, lr: _pts(y, abs(x0 - y) % lr, lr), "abs remainder"),
    "no landing": (
        lambda x0, y, lr: (y + (x0 - y) % lr - lr, y + (x0 - y) % lr),
        "missed exact landing",
    ),
}


@pytest.mark.parametrize("name", sorted(L1_MISTAKES))
def test_l1_cycle_mistake_named(name):
    fn, mistake = L1_MISTAKES[name]
    feedback = hx.check_l1_cycle(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda x0, y, lr: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda x0, y, lr: None, ex.NOT_ATTEMPTED, None),
        (lambda x0, y, lr: 0.5, ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (1.0, 2.0, 3.0), ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (float("nan"), 1.0), ex.INCORRECT, "not a pair"),
        (lambda x0, y, lr: (y - 3 * lr, y + 7 * lr), ex.INCORRECT, None),
    ],
)
def test_l1_cycle_other_answers(fn, status, mistake):
    feedback = hx.check_l1_cycle(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


# --------------------------------------------------------------------------------------
# Exercise 4 (an experiment): the fastest beta
# --------------------------------------------------------------------------------------


def test_steps_to_converge_counts_the_experiment():
    # beta = lr: eleven steps of 0.25 reach 0.0625 < beta, the twelfth lands on y exactly
    assert hx.steps_to_converge(0.25, 0.25) == 12
    assert hx.steps_to_converge(0.125, 0.25) == 401  # beta = lr / 2: a cycle, never settles
    assert hx.steps_to_converge(1.0, 0.25) == 80  # PyTorch's default: factor 0.75
    counts = {b: hx.steps_to_converge(b, 0.25) for b in (0.15, 0.2, 0.25, 0.3, 0.5)}
    assert min(counts, key=counts.get) == 0.25


def search_beta(lr):
    """A student's experiment: a grid of beta, keep the one that settles in fewest steps."""
    grid = [lr * f for f in (0.6, 0.8, 1.0, 1.25, 2.0)]
    return min(grid, key=lambda b: hx.steps_to_converge(b, lr))


@pytest.mark.parametrize(
    "fn", [lambda lr: lr, lambda lr: 1.05 * lr, lambda lr: torch.tensor(lr), search_beta]
)
def test_fastest_beta_correct_answers_pass(fn):
    feedback = hx.check_fastest_beta(fn)
    assert feedback.passed, feedback
    assert "beta = lr" in feedback.message


BETA_MISTAKES = {
    "lr / 2": (lambda lr: lr / 2, "boundary lr/2", "bounces for ever"),
    "too narrow": (lambda lr: 0.3 * lr, "oscillates", "needs beta > lr/2"),
    "default": (lambda lr: 1.0, "default beta", "PyTorch's default"),
    "2 lr": (lambda lr: 2 * lr, "2 lr", "only halves"),
    "overshoots": (lambda lr: 0.7 * lr, "overshoots", "flipping its sign"),
    "too wide": (lambda lr: 1.5 * lr, "too cautious", "Narrow the zone"),
}


@pytest.mark.parametrize("name", sorted(BETA_MISTAKES))
def test_fastest_beta_mistake_named(name):
    fn, mistake, phrase = BETA_MISTAKES[name]
    feedback = hx.check_fastest_beta(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback
    assert "with the fastest beta, in 12" in feedback.message  # the experiment is reported


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda lr: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda lr: None, ex.NOT_ATTEMPTED, None),
        (lambda lr: [lr, lr], ex.INCORRECT, "not a number"),
        (lambda lr: -lr, ex.INCORRECT, "not positive"),
        (lambda lr: float("inf"), ex.INCORRECT, "not positive"),
    ],
)
def test_fastest_beta_other_answers(fn, status, mistake):
    feedback = hx.check_fastest_beta(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
