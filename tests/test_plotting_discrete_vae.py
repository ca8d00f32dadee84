"""Chapter 8's drawings: learning curves, reconstructions, gradient bias and noise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dae_course.ch08_summary import figures as vplot  # noqa: E402
from dae_course.ch08_summary import model as dv  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def fake_history(method, values):
    h = dv.History(method)
    h.steps = [0, 50, 100][: len(values)]
    h.neg_elbo = list(values)
    return h


def test_every_method_has_a_label_and_its_own_colour():
    colours = [vplot.method_color(m) for m in dv.METHODS]
    assert len(set(colours)) == len(dv.METHODS)
    for m in dv.METHODS:
        assert m in vplot.METHOD_LABELS and m in vplot.SHORT_LABELS
    assert vplot.method_color("something else").startswith("#")


def test_learning_curves_plot_the_histories_and_the_floor():
    hs = [
        fake_history("gumbel-softmax", [45.0, 30.0, 25.0]),
        fake_history("reinforce", [45, 40, 38]),
    ]
    fig = vplot.learning_curves_figure(hs, floor=18.0)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [list(line.get_ydata()) for line in lines[:2]] == [[45.0, 30.0, 25.0], [45, 40, 38]]
    assert list(lines[0].get_xdata()) == [0, 50, 100]
    assert list(lines[2].get_ydata()) == [18.0, 18.0]  # the dashed floor
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == [vplot.METHOD_LABELS["gumbel-softmax"], vplot.METHOD_LABELS["reinforce"]]
    low, high = ax.get_ylim()
    assert low < 18.0 and high > 45.0
    with pytest.raises(ValueError):
        vplot.learning_curves_figure([])


def test_reconstructions_show_the_data_and_one_row_per_model():
    g = torch.Generator().manual_seed(0)
    data = dv.make_parts_data(5, generator=g)
    models = {
        m: dv.CategoricalVAE(64, generator=torch.Generator().manual_seed(1)) for m in dv.METHODS[:2]
    }
    fig = vplot.reconstructions_figure(models, data.x, data.image_shape)
    axes = fig.axes
    assert len(axes) == 3 * 5
    first = axes[0].get_images()[0].get_array()
    assert first.shape == (8, 8)
    assert torch.equal(torch.as_tensor(first.data).reshape(-1), data.x[0])
    # the model rows are probabilities of the decoder at the mode of the encoder
    model = models[dv.METHODS[0]]
    with torch.no_grad():
        code = torch.nn.functional.one_hot(model.encode(data.x[:1]).argmax(-1), 4).double()
        expected = torch.sigmoid(model.decode(code))[0]
    shown = torch.as_tensor(axes[5].get_images()[0].get_array().data).reshape(-1)
    assert torch.allclose(shown, expected)
    assert axes[5].get_ylabel() == vplot.SHORT_LABELS[dv.METHODS[0]]
    assert len(axes[0].get_lines()) == 2  # the quadrant lines


def test_gradient_quality_figure_bars_are_the_numbers():
    q = {
        "st-gumbel-softmax": {"bias": 0.1, "bias_noise": 0.02, "spread": 0.6, "cosine": 0.8},
        "reinforce-loo": {"bias": 0.05, "bias_noise": 0.05, "spread": 1.6, "cosine": 0.5},
    }
    fig = vplot.gradient_quality_figure(q)
    ax1, ax2 = fig.axes
    assert [p.get_height() for p in ax1.patches] == [0.1, 0.05]
    assert [p.get_height() for p in ax2.patches] == [0.6, 1.6]
    ticks = ax1.collections[0].get_offsets()[:, 1].tolist()
    assert ticks == [0.02, 0.05]
    assert ax1.get_yscale() == ax2.get_yscale() == "log"
    with pytest.raises(ValueError):
        vplot.gradient_quality_figure({})
