"""Chapter 1's drawings (dae_course.ch01_almost_everywhere.figures), and the explorer and
kernel-free slider exactly as the page builds them (the page keeps no widget checks).
"""

from __future__ import annotations

import math
from itertools import accumulate

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dae_course import sliders  # noqa: E402
from dae_course.ch01_almost_everywhere import figures as ae_plot  # noqa: E402
from dae_course.ch01_almost_everywhere import problems as toys  # noqa: E402


def _slope(line) -> float:
    x, y = line.get_xdata(), line.get_ydata()
    return (y[-1] - y[0]) / (x[-1] - x[0])


@pytest.mark.parametrize("h", [2.0, 0.5, 1e-2, 1e-6])
def test_quotients_at_the_kink_are_0_and_1_for_every_h(h):
    assert ae_plot.one_sided_quotients_at(0.0, h) == (0.0, 1.0)


def test_quotients_near_the_kink_by_hand():
    # at 0.1 with h = 0.5 the left secant runs from (-0.4, 0) to (0.1, 0.1): slope 0.2
    left, right = ae_plot.one_sided_quotients_at(0.1, 0.5)
    assert left == pytest.approx(0.2) and right == 1.0
    assert ae_plot.one_sided_quotients_at(0.1, 0.05) == pytest.approx((1.0, 1.0))


def test_draw_difference_quotients():
    fig = plt.figure()
    caption = ae_plot.draw_difference_quotients(fig, 0.5)
    assert caption == (
        "h = 0.5: at x = 0 left = 0.000, right = 1.000; at x = 0.1 left = 0.200, right = 1.000"
    )
    ax0, ax1, ax2 = fig.axes
    # the window [x - 2h, x + 2h] in coordinates scaled by 1/h: u = (x - x0) / h in [-2, 2]
    assert ax0.get_xlim() == pytest.approx((-2.0, 2.0))
    relu, left, right = ax0.get_lines()[:3]
    assert list(relu.get_xdata()) == [-2.0, 0.0, 2.0] and list(relu.get_ydata()) == [0, 0, 2]
    assert _slope(left) == 0.0 and _slope(right) == 1.0  # the one-sided quotients at 0
    assert _slope(ax1.get_lines()[1]) == pytest.approx(0.2)  # at 0.1 the left secant bends
    assert ax2.get_xscale() == "log"
    plt.close(fig)
    # h = 0.01 around 0.1: the kink (at u = -10) is out of the window, ReLU is a straight line
    fig = plt.figure()
    ae_plot.draw_difference_quotients(fig, 0.01)
    relu = fig.axes[1].get_lines()[0]
    assert list(relu.get_xdata()) == [-2.0, 2.0]
    assert list(relu.get_ydata()) == pytest.approx([-2.0, 2.0])
    plt.close(fig)
    with pytest.raises(ValueError):
        ae_plot.draw_difference_quotients(plt.figure(), 0.0)
    plt.close("all")


def test_subgradient_fan_lines_support_the_graph():
    fig = ae_plot.subgradient_fan_figure()
    for ax, f in zip(fig.axes, (torch.relu, torch.abs)):
        lines = ax.get_lines()
        fan, bad = lines[:6], lines[6]
        for line in fan:  # a supporting line never goes above the function
            x = torch.as_tensor(line.get_xdata(), dtype=torch.float64)
            y = torch.as_tensor(line.get_ydata(), dtype=torch.float64)
            assert torch.all(y <= f(x) + 1e-12)
        x = torch.as_tensor(bad.get_xdata(), dtype=torch.float64)
        y = torch.as_tensor(bad.get_ydata(), dtype=torch.float64)
        assert torch.any(y > f(x) + 0.1)  # the red line crosses above it
    slopes = sorted(round(_slope(line), 6) for line in fig.axes[0].get_lines()[:6])
    assert slopes[0] == 0.0 and slopes[-1] == 1.0
    plt.close(fig)


def test_subgradient_descent_figure():
    problem = toys.make_max_affine(7, 2, generator=torch.Generator().manual_seed(1))
    w_star, f_star = problem.minimum()
    w0 = torch.tensor([3.0, -3.0], dtype=torch.float64)
    runs = {}
    for name, rule in [("constant", 0.1), ("diminishing", lambda k: 1 / math.sqrt(k + 1))]:
        path, values = toys.subgradient_descent(problem, w0, 50, rule)
        runs[name] = {"path": path, "values": values, "best": list(accumulate(values, min))}
    fig = ae_plot.subgradient_descent_figure(problem, runs, f_star, w_star, path_steps=20)
    ax1, ax2 = fig.axes[0], fig.axes[-1]
    path = ax1.get_lines()[0]
    assert len(path.get_xdata()) == 21
    assert ax2.get_xscale() == "log" and ax2.get_yscale() == "log"
    assert len(ax2.get_lines()) == 4  # thin and thick line per run
    plt.close(fig)


def test_minibatch_figure_title_counts_downhill_steps():
    history = {
        "batch_loss": [1.0, 0.5, 0.6, 0.2],
        "full_loss": [1.0, 0.6, 0.5, 0.3],
        "cosine": [0.5, -0.5, 0.2, 0.9],
    }
    fig = ae_plot.minibatch_figure(history, noise_floor=0.1)
    assert fig.axes[1].get_title() == "75% of steps point downhill"
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_explorer_as_on_the_page():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        ae_plot.draw_difference_quotients,
        value=0.5,
        min=1e-3,
        max=1.0,
        description="step h",
        figsize=(7.0, 5.0),
    )
    first = explorer.image.value
    assert explorer.redraws == 1
    assert "at x = 0 left = 0.000, right = 1.000" in explorer.caption.value
    explorer.slider.value = 0.02  # what dragging the slider does: redraw for the new h
    assert explorer.redraws == 2 and explorer.image.value != first
    assert "at x = 0.1 left = 1.000" in explorer.caption.value
    assert "at x = 0 left = 0.000, right = 1.000" in explorer.caption.value
    plt.close("all")


def test_kernel_free_slider_as_on_the_page():
    steps_h = torch.logspace(0, -3, 13).tolist()  # the page's 13 values of h
    slider = sliders.jshtml(
        lambda: sliders.scrub_animation(
            ae_plot.draw_difference_quotients, steps_h, figsize=(7.0, 5.0)
        ),
        alt="ReLU magnified around x = 0 and x = 0.1 with its one-sided secants, h from 1 to 0.001",
    )
    html = slider.data
    assert sliders.jshtml_frame_count(html) == len(steps_h)
    assert not sliders.external_urls(html)  # nothing is loaded from another host
    assert len(html.encode()) < 1_000_000  # the chapter's slider keeps the page light
