"""Chapter 3 (softmax relaxes arg max): its figures, the sliders its page shows, and its
exercise checkers, which must accept the reference answers and name each common mistake."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from shared_helpers import stored_slider_html  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import checking as ex  # noqa: E402
from dae_course import sliders  # noqa: E402
from dae_course.ch03_softmax import checks as ch3  # noqa: E402
from dae_course.ch03_softmax import figures as softmax_figures  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "chapters" / "03_softmax.ipynb"

# --------------------------------------------------------------------------------------
# figures, and the page's explorer and slider (their checks live here, not on the page)
# --------------------------------------------------------------------------------------


def test_draw_softmax_panel_caption():
    fig = plt.figure()
    caption = softmax_figures.draw_softmax_panel(fig, 0.2)
    assert caption == "T = 0.2: soft arg max = 1.0004, soft max = 3.9997"
    assert len(fig.axes) == 2
    plt.close(fig)


def test_softmax_temperature_figure():
    fig = softmax_figures.softmax_temperature_figure(marked=[1.0, 0.2])
    ax1, ax2 = fig.axes
    assert ax1.get_xscale() == "log" and ax2.get_xscale() == "log"
    assert len(ax1.get_lines()) == 4 + 2  # one curve per category + marked temperatures
    probs = [line.get_ydata() for line in ax1.get_lines()[:4]]
    assert abs(sum(p[0] for p in probs) - 1) < 1e-12  # a distribution at every T
    assert abs(probs[1][0] - 1) < 1e-12  # T = 0.01: one-hot on the arg max
    plt.close(fig)


def test_chapter3_slider_is_light():
    temps = [10 ** (1 - 3 * i / 23) for i in range(24)]
    data = sliders.jshtml(
        lambda: sliders.scrub_animation(softmax_figures.draw_softmax_panel, temps)
    ).data
    assert sliders.jshtml_frame_count(data) == 24
    assert len(data.encode()) < 1_500_000


def test_temperature_explorer_redraws_the_softmax_panel():
    explorers = pytest.importorskip("dae_course.explorers")
    explorer = explorers.temperature_explorer(
        softmax_figures.draw_softmax_panel, value=1.0, min=0.05, max=20.0
    )
    assert "soft arg max = 1.2606" in explorer.caption.value
    explorer.slider.value = 0.2  # what dragging the slider does: redraw for the new T
    assert explorer.redraws == 2 and "soft arg max = 1.0004" in explorer.caption.value


def test_page_slider_has_its_26_frames_and_loads_nothing_from_other_hosts():
    html = stored_slider_html(PAGE)
    assert sliders.jshtml_frame_count(html) == 26
    assert not sliders.external_urls(html)


# --------------------------------------------------------------------------------------
# soft arg max: the reference, then one small wrong function per named mistake
# --------------------------------------------------------------------------------------


def good_soft_argmax(x, temperature=1.0):
    p = torch.softmax(x / temperature, dim=-1)
    return p @ torch.arange(x.shape[-1], dtype=x.dtype)


def good_soft_argmax_manual(x, temperature=1.0):
    z = x / temperature
    w = torch.exp(z - z.max(-1, keepdim=True).values)
    return (w / w.sum(-1, keepdim=True) * torch.arange(x.shape[-1], dtype=x.dtype)).sum(-1)


def idx(x, start=0):
    return torch.arange(start, start + x.shape[-1], dtype=x.dtype)


SOFT_ARGMAX_MISTAKES = {
    "stub raises": (
        lambda x, t=1.0: (_ for _ in ()).throw(NotImplementedError()),
        ex.NOT_ATTEMPTED,
        None,
        "not attempted yet",
    ),
    "stub returns None": (lambda x, t=1.0: None, ex.NOT_ATTEMPTED, None, "returns None"),
    "forgot temperature": (
        lambda x, t=1.0: torch.softmax(x, -1) @ idx(x),
        ex.INCORRECT,
        "ignored temperature",
        "temperature is ignored",
    ),
    "multiplied by temperature": (
        lambda x, t=1.0: torch.softmax(x * t, -1) @ idx(x),
        ex.INCORRECT,
        "multiplied by temperature",
        "multiplied the logits by T",
    ),
    "divided after softmax": (
        lambda x, t=1.0: (torch.softmax(x, -1) / t) @ idx(x),
        ex.INCORRECT,
        "divided after softmax",
        "after the softmax",
    ),
    "indices 1..N": (
        lambda x, t=1.0: torch.softmax(x / t, -1) @ idx(x, 1),
        ex.INCORRECT,
        "indices from 1",
        "indices start at 0",
    ),
    "returned probabilities": (
        lambda x, t=1.0: torch.softmax(x / t, -1),
        ex.INCORRECT,
        "probabilities",
        "you returned the probabilities",
    ),
    "softmax over dim 0": (
        lambda x, t=1.0: torch.softmax(x / t, 0) @ idx(x),
        ex.INCORRECT,
        "softmax over wrong dim",
        "softmax is taken over the wrong dimension",
    ),
    "sum over dim 0": (
        lambda x, t=1.0: (torch.softmax(x / t, -1) * idx(x)).sum(0),
        ex.INCORRECT,
        "sum over wrong dim",
        "weighted sum runs over the wrong dimension",
    ),
    "not normalised": (
        lambda x, t=1.0: torch.exp(x / t) @ idx(x),
        ex.INCORRECT,
        "not normalised",
        "not normalised",
    ),
    "hard argmax (integer)": (
        lambda x, t=1.0: torch.argmax(x, -1),
        ex.INCORRECT,
        "hard argmax",
        "integer indices",
    ),
    "hard argmax (as float)": (
        lambda x, t=1.0: torch.argmax(x, -1).float(),
        ex.INCORRECT,
        "hard argmax",
        "no gradient",
    ),
    "detached": (
        lambda x, t=1.0: good_soft_argmax(x.detach(), t),
        ex.INCORRECT,
        "no gradient",
        "no gradient flows",
    ),
    "python float": (
        lambda x, t=1.0: float(good_soft_argmax(x, t).sum()),
        ex.INCORRECT,
        "not a tensor",
        "return a torch.Tensor",
    ),
    "in place": (
        lambda x, t=1.0: good_soft_argmax(x.div_(t), 1.0),
        ex.INCORRECT,
        "modified input",
        "changed its input in place",
    ),
    "integer index vector": (
        lambda x, t=1.0: torch.softmax(x / t, -1) @ torch.arange(x.shape[-1]),
        ex.ERROR,
        None,
        "torch.arange(N, dtype=x.dtype)",
    ),
}


@pytest.mark.parametrize("fn", [good_soft_argmax, good_soft_argmax_manual, rl.soft_argmax])
def test_soft_argmax_reference_passes(fn):
    feedback = ch3.check_soft_argmax(fn)
    assert feedback.passed, feedback
    assert feedback
    assert "passed" in str(feedback)


@pytest.mark.parametrize("name", sorted(SOFT_ARGMAX_MISTAKES))
def test_soft_argmax_mistake_named(name):
    fn, status, mistake, phrase = SOFT_ARGMAX_MISTAKES[name]
    feedback = ch3.check_soft_argmax(fn)
    assert not feedback
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message, feedback


def test_other_exception_reported():
    def broken(x, t=1.0):
        raise ValueError("oops")

    feedback = ch3.check_soft_argmax(broken)
    assert feedback.status == ex.ERROR
    assert "ValueError" in feedback.message and "oops" in feedback.message


def test_wrong_values_generic_message():
    feedback = ch3.check_soft_argmax(lambda x, t=1.0: good_soft_argmax(x, t) * 1.5)
    assert feedback.status == ex.INCORRECT and feedback.mistake is None
    assert "expected" in feedback.message and "got" in feedback.message


def test_wrong_gradient_detected():
    def half_detached(x, t=1.0):
        p = torch.softmax(x / t, -1)
        return p.detach() @ idx(x) + 0.0 * x.sum(-1)  # right value, gradient zero

    def partly(x, t=1.0):
        v = good_soft_argmax(x, t)
        return v.detach() + (x - x.detach()).sum(-1)  # right value, wrong gradient

    assert ch3.check_soft_argmax(half_detached).mistake == "no gradient"
    assert ch3.check_soft_argmax(partly).mistake == "wrong gradient"


# --------------------------------------------------------------------------------------
# soft max
# --------------------------------------------------------------------------------------


def good_soft_max(x, temperature=1.0):
    return (torch.softmax(x / temperature, dim=-1) * x).sum(-1)


SOFT_MAX_MISTAKES = {
    "forgot temperature": (
        lambda x, t=1.0: (torch.softmax(x, -1) * x).sum(-1),
        "ignored temperature",
    ),
    "multiplied": (
        lambda x, t=1.0: (torch.softmax(x * t, -1) * x).sum(-1),
        "multiplied by temperature",
    ),
    "probabilities": (lambda x, t=1.0: torch.softmax(x / t, -1), "probabilities"),
    "soft argmax": (lambda x, t=1.0: good_soft_argmax(x, t), "soft argmax"),
    "hard max": (lambda x, t=1.0: x.max(-1).values, "hard max"),
    "logsumexp": (lambda x, t=1.0: t * torch.logsumexp(x / t, -1), "logsumexp"),
    "dot with x/T": (lambda x, t=1.0: (torch.softmax(x / t, -1) * x / t).sum(-1), "dot with x/T"),
    "softmax dim 0": (
        lambda x, t=1.0: (torch.softmax(x / t, 0) * x).sum(-1),
        "softmax over wrong dim",
    ),
    "sum dim 0": (lambda x, t=1.0: (torch.softmax(x / t, -1) * x).sum(0), "sum over wrong dim"),
    "not normalised": (lambda x, t=1.0: (torch.exp(x / t) * x).sum(-1), "not normalised"),
    "detached": (lambda x, t=1.0: good_soft_max(x.detach(), t), "no gradient"),
}


@pytest.mark.parametrize("fn", [good_soft_max, rl.soft_max])
def test_soft_max_reference_passes(fn):
    assert ch3.check_soft_max(fn).passed


@pytest.mark.parametrize("name", sorted(SOFT_MAX_MISTAKES))
def test_soft_max_mistake_named(name):
    fn, mistake = SOFT_MAX_MISTAKES[name]
    feedback = ch3.check_soft_max(fn)
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback


def test_soft_max_stub_not_attempted():
    def stub(x, temperature=1.0):
        raise NotImplementedError

    feedback = ch3.check_soft_max(stub)
    assert feedback.status == ex.NOT_ATTEMPTED
    assert "not attempted" in str(feedback)


# --------------------------------------------------------------------------------------
# temperature for a tolerance
# --------------------------------------------------------------------------------------


def good_temperature(x, tol):
    lo, hi = math.log(1e-3), math.log(1e3)
    target = float(x.argmax())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if abs(float(rl.soft_argmax(x.double(), math.exp(mid))) - target) <= tol:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


def test_temperature_reference_passes():
    assert ch3.check_temperature_for_tolerance(good_temperature).passed
    assert ch3.check_temperature_for_tolerance(ch3.reference_temperature_for_tolerance).passed


def test_reference_temperature_meets_tolerance_and_is_largest():
    x = torch.tensor([1.1, 4.0, -0.1, 2.3])
    t = ch3.reference_temperature_for_tolerance(x, 0.01)
    err = abs(float(rl.soft_argmax(x.double(), t)) - 1.0)
    err_warmer = abs(float(rl.soft_argmax(x.double(), 1.01 * t)) - 1.0)
    assert err <= 0.01 < err_warmer
    assert 0.3 < t < 0.35


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda x, tol: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda x, tol: None, ex.NOT_ATTEMPTED, None),
        (lambda x, tol: 1.0, ex.INCORRECT, "too warm"),
        (lambda x, tol: 1e-3, ex.INCORRECT, "too cold"),
        (lambda x, tol: 0.8 * good_temperature(x, tol), ex.INCORRECT, "too cold"),
        (lambda x, tol: 1.2 * good_temperature(x, tol), ex.INCORRECT, "too warm"),
        (lambda x, tol: -1.0, ex.INCORRECT, "not positive"),
        (lambda x, tol: math.log(good_temperature(x, tol)), ex.INCORRECT, "not positive"),
        (lambda x, tol: tol, ex.INCORRECT, "returned error"),
        (lambda x, tol: [0.3], ex.INCORRECT, "not a number"),
    ],
)
def test_temperature_mistakes(fn, status, mistake):
    feedback = ch3.check_temperature_for_tolerance(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


def test_tensor_answer_accepted():
    assert ch3.check_temperature_for_tolerance(
        lambda x, tol: torch.tensor(good_temperature(x, tol))
    )


# --------------------------------------------------------------------------------------
# Exercise 4: predict, then run (the four limits)
# --------------------------------------------------------------------------------------

KEYS = ["soft arg max, T -> 0", "soft arg max, T -> inf", "soft max, T -> 0", "soft max, T -> inf"]
RIGHT = dict(zip(KEYS, [0, 2, 3.5, 1.2]))


def predicting(**changes):
    answer = {**RIGHT, **{KEYS[int(k[1])]: v for k, v in changes.items()}}
    return lambda: answer


def test_limits_are_what_the_relaxations_tend_to():
    x = torch.tensor(ch3.PREDICTION_X, dtype=torch.float64)
    assert rl.soft_argmax(x, 1e-3).item() == pytest.approx(RIGHT[KEYS[0]], abs=1e-9)
    assert rl.soft_argmax(x, 1e6).item() == pytest.approx(RIGHT[KEYS[1]], abs=1e-5)
    assert rl.soft_max(x, 1e-3).item() == pytest.approx(RIGHT[KEYS[2]], abs=1e-9)
    assert rl.soft_max(x, 1e6).item() == pytest.approx(RIGHT[KEYS[3]], abs=1e-5)


@pytest.mark.parametrize(
    "fn", [lambda: RIGHT, lambda: {k: torch.tensor(float(v)) for k, v in RIGHT.items()}]
)
def test_limits_right_predictions_pass_and_show_the_run(fn):
    feedback = ch3.check_limit_predictions(fn)
    assert feedback.passed, feedback
    assert "at T = 1000 the soft arg max is 1.9994" in feedback.message


LIMIT_MISTAKES = {  # wrong prediction (key index, value) -> (mistake, phrase)
    "value for position": ({"k0": 3.5}, "value for position", "returns its position, 0"),
    "from 1, cold": ({"k0": 1}, "positions from 1", "count from 0"),
    "mean for middle": ({"k1": 1.2}, "mean of the values", "(N-1)/2 = 2"),
    "N/2": ({"k1": 2.5}, "N/2", "not N/2"),
    "from 1, hot": ({"k1": 3}, "positions from 1", "average of 1, ..., N"),
    "stays at arg max": ({"k1": 0}, "stays at the arg max", "spread out evenly"),
    "weight": ({"k1": 0.2}, "a weight, not the average", "each weight"),
    "position for value": ({"k2": 0}, "position for value", "returns its value, 3.5"),
    "middle for mean": ({"k3": 2}, "mean of the positions", "their mean, 1.2"),
    "stays at max": ({"k3": 3.5}, "stays at the max", "plain mean"),
    "median": ({"k3": 1.0}, "median", "is the median"),
    "weight, hot max": ({"k3": 0.2}, "a weight, not the average", "each weight"),
    "vanishes": ({"k3": 0.0}, "vanishes", "not to 0"),
}


@pytest.mark.parametrize("name", sorted(LIMIT_MISTAKES))
def test_limits_mistake_named(name):
    changes, mistake, phrase = LIMIT_MISTAKES[name]
    feedback = ch3.check_limit_predictions(predicting(**changes))
    assert feedback.status == ex.INCORRECT, feedback
    assert feedback.mistake == mistake, feedback
    assert phrase in feedback.message and "3 of 4 right" in feedback.message, feedback


@pytest.mark.parametrize(
    "fn, status, mistake",
    [
        (lambda: (_ for _ in ()).throw(NotImplementedError()), ex.NOT_ATTEMPTED, None),
        (lambda: None, ex.NOT_ATTEMPTED, None),
        (lambda: [0, 2, 3.5, 1.2], ex.INCORRECT, "not the four keys"),
        (lambda: {**RIGHT, "extra": 1}, ex.INCORRECT, "not the four keys"),
        (lambda: {**RIGHT, KEYS[0]: "zero"}, ex.INCORRECT, "not a number"),
        (predicting(k3=1.7), ex.INCORRECT, None),
    ],
)
def test_limits_other_answers(fn, status, mistake):
    feedback = ch3.check_limit_predictions(fn)
    assert feedback.status == status, feedback
    assert feedback.mistake == mistake, feedback


def test_limits_unnamed_mistake_gets_the_limit_and_why():
    feedback = ch3.check_limit_predictions(predicting(k3=1.7))
    assert "the limit is 1.2 (the weights become equal, 1/N each)" in feedback.message
