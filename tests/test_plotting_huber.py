"""Chapter 4's drawings and the gradient descent runs behind them."""

from __future__ import annotations

from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import sliders  # noqa: E402
from dae_course.ch04_huber import figures as hplot  # noqa: E402


def l1(x, y):
    return (x - y).abs()


def test_gradient_descent_on_l1_is_exact_walk_then_two_cycle():
    # x0 - y = 2.8125 = 11 * 0.25 + 0.0625: eleven steps down, then +-0.25 forever.
    path = hplot.gradient_descent(l1, 3.3125, 0.5, 0.25, 30)
    assert path.shape == (31,) and path.dtype == torch.float64 and path.device.type == "cpu"
    expected = [3.3125 - 0.25 * k for k in range(12)]
    assert path[:12].tolist() == expected
    tail = path[11:].tolist()
    assert tail[0::2] == [0.5625] * len(tail[0::2])
    assert tail[1::2] == [0.3125] * len(tail[1::2])


def test_gradient_descent_stops_on_exact_landing():
    path = hplot.gradient_descent(l1, 2.0, 0.5, 0.5, 10)
    assert path[3:].tolist() == [0.5] * 8  # sign(0) = 0: it stays


def test_gradient_descent_on_huber_contracts_by_one_minus_lr():
    lr = 0.25
    path = hplot.gradient_descent(partial(rl.huber, delta=1.0), 3.3125, 0.5, lr, 40)
    err = (path - 0.5).abs()
    # linear zone: steps of lr * delta; quadratic zone (from 0.8125 on): factor 1 - lr
    assert err[:9].tolist() == [2.8125 - 0.25 * k for k in range(9)]
    assert torch.allclose(err[9:] / err[8:-1], torch.full((32,), 0.75, dtype=torch.float64))
    assert err[-1].item() == pytest.approx(0.8125 * 0.75**32)


def test_gradient_descent_validates_lr():
    with pytest.raises(ValueError):
        hplot.gradient_descent(l1, 1.0, 0.0, 0.0, 3)


def test_loss_gradients_match_closed_forms():
    r = torch.tensor([-3.0, -1.0, -0.4, 0.0, 0.3, 1.0, 2.5], dtype=torch.float64)
    v, g = hplot.loss_gradients(l1, r)
    assert v.tolist() == [3.0, 1.0, 0.4, 0.0, 0.3, 1.0, 2.5]
    assert g.tolist() == [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0]
    _, g = hplot.loss_gradients(partial(rl.huber, delta=0.5), r)
    assert g.tolist() == pytest.approx([-0.5, -0.5, -0.4, 0.0, 0.3, 0.5, 0.5])
    _, g = hplot.loss_gradients(partial(rl.smooth_l1, beta=0.5), r)
    assert g.tolist() == pytest.approx([-1.0, -1.0, -0.8, 0.0, 0.6, 1.0, 1.0])


def test_loss_gradient_figure():
    fig = hplot.loss_gradient_figure(params=(0.5, 2.0))
    ax1, ax2, ax3 = fig.axes
    assert len(ax1.get_lines()) == 3
    # middle: sign(r) + one curve per delta (+ the zero line); the Huber curves cap at delta
    curves = ax2.get_lines()[1:3]
    assert [max(c.get_ydata()) for c in curves] == pytest.approx([0.5, 2.0])
    curves = ax3.get_lines()[1:3]
    assert [max(c.get_ydata()) for c in curves] == pytest.approx([1.0, 1.0])
    plt.close(fig)


def test_trajectory_figure_colours_and_floor():
    paths = {
        "L1": hplot.gradient_descent(l1, 3.3125, 0.5, 0.25, 20),
        "Huber δ=1": hplot.gradient_descent(partial(rl.huber, delta=1.0), 3.3125, 0.5, 0.25, 20),
        "other": torch.tensor([1.0, 0.5, 0.5]),
    }
    fig = hplot.trajectory_figure(paths, 0.5)
    ax1, ax2 = fig.axes
    colors = [line.get_color() for line in ax1.get_lines()[:3]]
    assert colors[:2] == [hplot.LOSS_COLORS["L1"], hplot.LOSS_COLORS["Huber"]]
    assert ax2.get_yscale() == "log"
    assert min(ax2.get_lines()[2].get_ydata()) == 1e-16  # exact zeros drawn at the floor
    plt.close(fig)


def test_draw_delta_panel_caption_from_closed_forms():
    fig = plt.figure()
    caption = hplot.draw_delta_panel(fig, 1.0)
    # L1: after 80 steps (an even number, 69 after reaching 0.0625) the error is 0.1875.
    # Huber = Smooth L1 at delta = 1: 8 linear steps to 0.8125, then 72 factors 0.75.
    e = 0.8125 * 0.75**72
    assert caption == (
        f"δ = β = 1: |x − y| after 80 steps: L1 0.19, Huber {e:.2g}, Smooth L1 {e:.2g}"
    )
    assert len(fig.axes) == 3 and fig.axes[2].get_yscale() == "log"
    plt.close(fig)
    fig = plt.figure()
    hplot.draw_delta_panel(fig, 5.0)  # a band wider than the axis does not widen it
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim() == (-3.0, 3.0)
    plt.close(fig)


def test_draw_delta_panel_small_beta_returns_to_l1_cycle():
    fig = plt.figure()
    # beta = 0.01 < lr / 2: no iterate ever falls inside |r| < beta, Smooth L1 = L1 here
    caption = hplot.draw_delta_panel(fig, 0.01)
    assert "L1 0.19," in caption and caption.endswith("Smooth L1 0.19")
    # Huber with delta = 0.01 moves lr * delta = 0.0025 per step: 80 steps cover 0.2
    assert f"Huber {2.8125 - 0.2:.2g}," in caption
    plt.close(fig)


def test_delta_slider_is_light_and_offline():
    values = [0.05, 0.5, 2.0]
    html = sliders.jshtml(
        lambda: sliders.scrub_animation(hplot.draw_delta_panel, values, figsize=(9, 3))
    ).data
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


def test_explorer_redraws_with_delta_panel():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        hplot.draw_delta_panel, value=1.0, min=0.02, max=5.0, description="δ", figsize=(9, 3)
    )
    first = explorer.image.value
    explorer.slider.value = 0.1
    assert explorer.redraws == 2 and explorer.image.value != first
    assert "δ = β = 0.1:" in explorer.caption.value
