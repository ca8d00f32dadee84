"""Chapter 2's drawings (dae_course.ch02_softplus.figures): what they draw, checked against
values computed here with the math module."""

from __future__ import annotations

import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dae_course import sliders  # noqa: E402
from dae_course.ch02_softplus import figures as splot  # noqa: E402


@pytest.fixture(autouse=True)
def no_figure_left_open():
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    for number in leaked:
        plt.close(number)
    assert not leaked, "a drawing function left a pyplot figure open"


def softplus_beta(x: float, beta: float) -> float:
    return math.log1p(math.exp(beta * x)) / beta


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@pytest.fixture
def panel():
    fig = plt.figure(figsize=(7, 3))
    caption = splot.draw_softplus_panel(fig, 2.0)
    yield fig, caption
    plt.close(fig)


def test_panel_caption(panel):
    _, caption = panel
    assert caption == "β = 2: largest gap to ReLU = log(2)/β = 0.3466, at x = 0"


def test_panel_draws_relu_softplus_and_gap(panel):
    fig, _ = panel
    assert len(fig.axes) == 2
    relu, soft, bar = fig.axes[0].get_lines()
    x = np.asarray(soft.get_xdata())
    assert x.min() == -3.0 and x.max() == 3.0 and (x == 0).sum() == 1
    expected = [softplus_beta(v, 2.0) for v in x]
    assert np.allclose(soft.get_ydata(), expected, rtol=1e-12, atol=0)
    assert np.array_equal(relu.get_ydata(), np.maximum(x, 0))
    assert list(bar.get_xdata()) == [0, 0]
    assert bar.get_ydata()[1] == pytest.approx(math.log(2) / 2, rel=1e-15)
    # the bar ends exactly on the softplus curve, at its largest distance from ReLU
    assert bar.get_ydata()[1] == pytest.approx(np.asarray(soft.get_ydata())[x == 0][0])


def test_panel_draws_sigmoid_and_step(panel):
    fig, _ = panel
    step, slope = fig.axes[1].get_lines()
    x = np.asarray(slope.get_xdata())
    assert np.allclose(slope.get_ydata(), [sigmoid(2.0 * v) for v in x], rtol=1e-12, atol=0)
    assert np.array_equal(step.get_ydata(), (x > 0).astype(float))


def test_panel_gap_shrinks_with_beta():
    captions = []
    for beta in [0.5, 5.0, 50.0]:
        fig = plt.figure()
        captions.append(splot.draw_softplus_panel(fig, beta))
        plt.close(fig)
    assert captions[0].endswith("= 1.3863, at x = 0")
    assert captions[1].endswith("= 0.1386, at x = 0")
    assert captions[2].endswith("= 0.0139, at x = 0")


def test_softplus_beta_figure():
    betas = [0.5, 2.0, 8.0]
    fig = splot.softplus_beta_figure(betas=betas, gap_betas=[0.25, 1.0, 4.0, 16.0])
    ax1, ax2, ax3 = fig.axes
    assert len(ax1.get_lines()) == 1 + len(betas)  # ReLU + one curve per beta
    assert len(ax2.get_lines()) == 1 + len(betas)  # step + one sigmoid per beta
    line, points = ax3.get_lines()
    assert ax3.get_xscale() == "log" and ax3.get_yscale() == "log"
    assert list(points.get_xdata()) == [0.25, 1.0, 4.0, 16.0]
    for beta, gap in zip(points.get_xdata(), points.get_ydata()):
        assert gap == pytest.approx(math.log(2) / beta, rel=1e-12)
    sharpest = ax1.get_lines()[-1]
    x = np.asarray(sharpest.get_xdata())
    assert np.allclose(sharpest.get_ydata(), [softplus_beta(v, 8.0) for v in x], rtol=1e-12)
    plt.close(fig)


def test_training_curves_figure():
    steps = 7
    curves = {
        "ReLU": torch.logspace(0, -3, steps)[:, None].repeat(1, 3),
        "softplus": torch.full((steps, 3), 0.5),
    }
    fig = splot.training_curves_figure(curves)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 6
    assert list(lines[0].get_xdata()) == list(range(1, steps + 1))
    assert lines[0].get_ydata()[-1] == pytest.approx(1e-3)
    assert lines[0].get_color() == splot.RELU_COLOR
    assert lines[3].get_color() == splot.SOFTPLUS_COLOR
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ReLU (3 seeds)", "softplus (3 seeds)"]
    plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        splot.training_curves_figure({"ReLU": torch.ones(5)})


def test_chapter2_slider_is_offline_and_light():
    betas = torch.logspace(math.log10(0.3), math.log10(30), 20).tolist()
    html = sliders.jshtml(lambda: sliders.scrub_animation(splot.draw_softplus_panel, betas)).data
    assert sliders.jshtml_frame_count(html) == 20
    # Outside the frames' base64 data (where "http" can occur by chance), no address at all:
    page = re.sub(r'"data:image/png;base64,[^"]*"', '""', html)
    assert "http" not in page.lower() and "<link" not in page
    assert not re.search(r'\bsrc="(?!data:)', page)
    assert len(html.encode()) < 1_500_000


def test_chapter2_slider_as_on_the_page():
    betas = torch.logspace(math.log10(0.3), math.log10(30), 20).tolist()
    slider = sliders.jshtml(
        lambda: sliders.scrub_animation(splot.draw_softplus_panel, betas),
        alt="ReLU and softplus with sharpness beta from 0.3 to 30, and their derivatives",
    )
    assert sliders.jshtml_frame_count(slider.data) == len(betas)
    assert not sliders.external_urls(slider.data)  # nothing is loaded from another host


def test_explorer_redraws_with_softplus_panel():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.parameter_explorer(
        splot.draw_softplus_panel, value=1.0, min=0.2, max=50.0, description="sharpness β"
    )
    assert explorer.redraws == 1 and "log(2)/β = 0.6931" in explorer.caption.value
    first = explorer.image.value
    explorer.slider.value = 5.0
    assert explorer.redraws == 2 and explorer.image.value != first
    assert "log(2)/β = 0.1386" in explorer.caption.value
