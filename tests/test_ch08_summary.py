"""Chapter 8, the worked model: its data and boundary check, the page's model, objectives
and loop (the package copies), the exact and importance-weighted evaluation, the figures,
the exercise checkers, and what moved off the page (the summary table's names).

Expected values come from closed forms (KL, Bernoulli log-likelihood, D log 2), from
explicit loops over the codes with ``torch.distributions``, from finite differences, or
from Monte Carlo with a margin of several standard errors.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.distributions import Bernoulli, Categorical, kl_divergence  # noqa: E402

import relaxlib as rl  # noqa: E402
from dae_course import checking as core  # noqa: E402
from dae_course.ch08_summary import checks as ex  # noqa: E402
from dae_course.ch08_summary import data as ch8_data  # noqa: E402
from dae_course.ch08_summary import evaluation as ev  # noqa: E402
from dae_course.ch08_summary import figures as vplot  # noqa: E402
from dae_course.ch08_summary import model as ch8  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "chapters" / "08_summary.ipynb"


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_model(seed=0, n_pixels=6, n_latents=2, n_categories=3, hidden=5):
    return ch8.CategoricalVAE(n_pixels, n_latents, n_categories, hidden, generator=gen(seed))


def binary(n, d, seed):
    return torch.rand(n, d, generator=gen(seed), dtype=torch.float64).round()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one intra-op thread is fastest, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------
# data: generated parts
# --------------------------------------------------------------------------------------


def test_parts_data_shapes_binary_and_reproducible():
    a = ch8_data.make_parts_data(30, generator=gen(1))
    b = ch8_data.make_parts_data(30, generator=gen(1))
    assert a.x.shape == (30, 64) and a.choices.shape == (30, 4)
    assert a.prototypes.shape == (4, 4, 64) and a.masks.shape == (4, 64)
    assert a.x.dtype == torch.float64
    assert set(a.x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a.x, b.x) and torch.equal(a.prototypes, b.prototypes)
    assert not torch.equal(a.x, ch8_data.make_parts_data(30, generator=gen(2)).x)


def test_parts_are_the_four_quadrants():
    d = ch8_data.make_parts_data(1, generator=gen(0))
    masks = d.masks.reshape(4, 8, 8)
    assert masks.sum((1, 2)).tolist() == [16.0] * 4
    assert torch.equal(masks.sum(0), torch.ones(8, 8, dtype=masks.dtype))
    assert masks[0, :4, :4].sum() == 16 and masks[3, 4:, 4:].sum() == 16
    assert torch.equal(d.prototypes * (1 - d.masks[:, None, :]), torch.zeros_like(d.prototypes))


def test_without_noise_images_are_the_chosen_prototypes():
    d = ch8_data.make_parts_data(20, generator=gen(3), flip=0.0)
    for i in range(20):
        expected = sum(d.prototypes[p, d.choices[i, p]] for p in range(4))
        assert torch.equal(d.x[i], expected)


def test_flip_rate_and_uniform_choices():
    d = ch8_data.make_parts_data(4000, generator=gen(4), flip=0.1)
    clean = ch8_data.make_parts_data(1, generator=gen(4), flip=0.0)
    assert torch.equal(d.prototypes, clean.prototypes)
    chosen = d.prototypes[torch.arange(4)[None, :], d.choices].sum(1)
    rate = (d.x != chosen).double().mean().item()
    se = math.sqrt(0.1 * 0.9 / d.x.numel())
    assert abs(rate - 0.1) < 5 * se
    counts = torch.bincount(d.choices.reshape(-1), minlength=4).double()
    assert torch.all((counts / counts.sum() - 0.25).abs() < 0.02)


def test_test_set_shares_the_prototypes():
    train = ch8_data.make_parts_data(10, generator=gen(5))
    test = ch8_data.make_parts_data(7, generator=gen(6), prototypes=train.prototypes)
    assert torch.equal(test.prototypes, train.prototypes)
    with pytest.raises(ValueError):
        ch8_data.make_parts_data(3, generator=gen(0), prototypes=train.prototypes[:2])
    with pytest.raises(ValueError):
        ch8_data.make_parts_data(3, generator=gen(0), flip=0.5)


def test_true_log_likelihood_is_a_normalised_distribution():
    d = ch8_data.make_parts_data(5, generator=gen(7), image_shape=(2, 2), grid=(1, 2), flip=0.2)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    total = ch8_data.true_log_likelihood(d, images).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_true_log_likelihood_by_brute_force():
    d = ch8_data.make_parts_data(6, generator=gen(8), image_shape=(2, 4), grid=(1, 2), flip=0.15)
    k = d.prototypes.shape[1]
    for x in d.x:
        p = 0.0
        for c in itertools.product(range(k), repeat=2):
            clean = d.prototypes[0, c[0]] + d.prototypes[1, c[1]]
            flips = (x != clean).sum().item()
            p += (1 / k**2) * 0.15**flips * 0.85 ** (8 - flips)
        assert ch8_data.true_log_likelihood(d, x[None])[0].item() == pytest.approx(math.log(p))


# --------------------------------------------------------------------------------------
# data: the digits and the boundary check
# --------------------------------------------------------------------------------------


def test_load_binary_digits():
    x, labels = ch8_data.load_binary_digits()
    assert x.shape == (1797, 64) and x.dtype == torch.float64
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    from sklearn.datasets import load_digits

    raw = torch.as_tensor(load_digits().data)
    assert torch.equal(x, (raw >= 8).double())  # binarised at half intensity
    assert torch.equal(ch8_data.load_binary_digits(1)[0], (raw >= 1).double())


@pytest.mark.parametrize(
    "images",
    [
        np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8),
        np.array([[False, True, True], [True, False, False]]),
        np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32),
        torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.uint8),
        torch.tensor([[False, True, True], [True, False, False]]),
        torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.int64),
        [[0, 1, 1], [1, 0, 0]],
    ],
    ids=["numpy-uint8", "numpy-bool", "numpy-float32", "uint8", "bool", "int64", "list"],
)
def test_binary_images_accepts_numpy_bool_and_integers(images):
    x = ch8_data.binary_images(images, "x_train")
    assert x.dtype == torch.float64 and x.shape == (2, 3)
    assert x.tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


def test_binary_images_keeps_a_float64_tensor():
    x = binary(4, 5, 0)
    assert ch8_data.binary_images(x) is x or torch.equal(ch8_data.binary_images(x), x)


@pytest.mark.parametrize(
    "images, error, phrases",
    [
        (torch.zeros(3, 8, 8), ValueError, ["x_train", "(N, D)", "(3, 8, 8)", "reshape"]),
        (torch.zeros(64), ValueError, ["x_train", "(64,)", "reshape(1, -1)"]),
        (torch.zeros(0, 64), ValueError, ["x_train", "no images"]),
        (torch.full((2, 64), 16.0), ValueError, ["x_train", "0s and 1s", "16", ">= 8"]),
        (torch.tensor([[0.0, 0.5]]), ValueError, ["x_train", "0.5"]),
        (torch.tensor([[0.0, float("nan")]]), ValueError, ["x_train", "nan"]),
        (torch.zeros(2, 3, dtype=torch.complex64), TypeError, ["x_train", "complex64"]),
        (np.array([["a", "b"]]), TypeError, ["x_train", "numpy array"]),
        ("not images", TypeError, ["x_train", "str"]),
    ],
    ids=[
        "unflattened",
        "one image",
        "empty",
        "grey",
        "probabilities",
        "nan",
        "complex",
        "strings",
        "string",
    ],  # fmt: skip
)
def test_binary_images_refuses_clearly(images, error, phrases):
    with pytest.raises(error) as info:
        ch8_data.binary_images(images, "x_train")
    for phrase in phrases:
        assert phrase in str(info.value), (phrase, str(info.value))


def test_binary_images_checks_the_pixel_count():
    with pytest.raises(ValueError, match="x has 10 pixels per image, but the model was built"):
        ch8_data.binary_images(torch.zeros(2, 10), "x", n_pixels=64)


def test_the_model_refuses_grey_or_unflattened_data_at_its_boundary():
    grey = torch.randint(17, (20, 64), generator=gen(0)).double()
    with pytest.raises(ValueError, match="x_train must hold only 0s and 1s"):
        ch8.train("st-gumbel-softmax", grey, seed=0, steps=1)
    with pytest.raises(ValueError, match=r"x_train must have shape \(N, D\)"):
        ch8.train("st-gumbel-softmax", (grey > 8).reshape(20, 8, 8), seed=0, steps=1)
    model = tiny_model()
    with pytest.raises(ValueError, match="x must hold only 0s and 1s"):
        ev.exact_bounds(model, torch.full((2, 6), 3.0))
    with pytest.raises(ValueError, match="7 pixels per image"):
        ev.iwae_bounds(model, torch.zeros(2, 7), samples=2, generator=gen(0))


# --------------------------------------------------------------------------------------
# the model (the page's definitions)
# --------------------------------------------------------------------------------------


def test_model_shapes_and_seeded_init():
    m = tiny_model()
    x = binary(7, 6, 1)
    assert m.encode(x).shape == (7, 2, 3)
    assert m.decode(torch.zeros(9, 7, 2, 3, dtype=torch.float64)).shape == (9, 7, 6)
    a, b = tiny_model(3), tiny_model(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.enc_w1, tiny_model(4).enc_w1)
    assert a.enc_w1.abs().max() <= 1 / math.sqrt(6)  # nn.Linear's bound 1/sqrt(fan_in)
    assert all(p.dtype == torch.float64 for p in a.parameters())


def test_init_does_not_touch_the_global_generator():
    state = torch.get_rng_state()
    tiny_model(5)
    ch8_data.make_parts_data(3, generator=gen(0))
    assert torch.equal(state, torch.get_rng_state())


def test_kl_to_uniform_matches_torch_distributions():
    logits = torch.randn(5, 3, 4, generator=gen(2), dtype=torch.float64) * 2
    uniform = Categorical(logits=torch.zeros(4, dtype=torch.float64))
    expected = kl_divergence(Categorical(logits=logits), uniform).sum(-1)
    assert torch.allclose(ch8.kl_to_uniform(logits), expected)


def test_kl_to_uniform_limits():
    assert torch.allclose(ch8.kl_to_uniform(torch.zeros(2, 3, 4)), torch.zeros(2))
    saturated = torch.tensor([[[500.0, 0.0, 0.0, 0.0]] * 3])
    out = ch8.kl_to_uniform(saturated)
    assert torch.isfinite(out).all() and out.item() == pytest.approx(3 * math.log(4), rel=1e-6)


def test_bernoulli_log_likelihood_matches_torch():
    logits = torch.randn(4, 6, generator=gen(3), dtype=torch.float64) * 3
    x = binary(4, 6, 4)
    expected = Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert torch.allclose(ch8.bernoulli_log_likelihood(logits, x), expected)


def test_st_and_reinforce_values_are_discrete_monte_carlo_of_the_elbo():
    model = tiny_model(8)
    x = binary(3, 6, 9)
    exact = ev.exact_bounds(model, x)["neg_elbo"].mean().item()
    with torch.no_grad():
        logits = model.encode(x)
        for method in ("st-gumbel-softmax", "reinforce-loo", "reinforce"):
            values = [
                ch8.neg_elbo_estimate(model, logits, x, method, samples=4000, generator=gen(s))
                for s in range(3)
            ]
            mean = sum(v.item() for v in values) / 3
            assert mean == pytest.approx(exact, abs=0.15), method


def test_kl_weight_scales_only_the_kl():
    model = tiny_model(2)
    x = binary(3, 6, 3)
    logits = model.encode(x)
    kl = ch8.kl_to_uniform(logits).mean()
    for method in ch8.METHODS:
        full = ch8.neg_elbo_estimate(model, logits, x, method, generator=gen(1))
        default = ch8.neg_elbo_estimate(model, logits, x, method, kl_weight=1.0, generator=gen(1))
        recon = ch8.neg_elbo_estimate(model, logits, x, method, kl_weight=0.0, generator=gen(1))
        assert torch.equal(full, default)
        assert (full - recon).item() == pytest.approx(kl.item(), rel=1e-12)


def logit_gradient_estimates(model, x, method, *, n_estimates, temperature=0.5, generator):
    """As on the page (a deep dive): one estimate per row of a leaf copy of the logits."""
    with torch.no_grad():
        logits = model.encode(x)
    leaf = logits.expand(n_estimates, *logits.shape).clone().requires_grad_(True)
    loss = ch8.neg_elbo_estimate(
        model, leaf, x, method, temperature=temperature, generator=generator
    )
    (grad,) = torch.autograd.grad(loss * n_estimates, leaf)
    return grad


def test_reinforce_loo_gradient_is_unbiased_and_relaxations_are_not():
    model = tiny_model(10)
    x = binary(3, 6, 11)
    exact = ev.exact_logit_gradient(model, x)
    logits = model.encode(x).detach()
    fd = torch.zeros_like(logits)
    for idx in itertools.product(*(range(s) for s in logits.shape)):
        e = torch.zeros_like(logits)
        e[idx] = 1e-6
        plus = ev.exact_neg_elbo(model, x, logits + e).mean()
        minus = ev.exact_neg_elbo(model, x, logits - e).mean()
        fd[idx] = (plus - minus) / 2e-6
    assert torch.allclose(exact, fd, atol=1e-7)
    loo = logit_gradient_estimates(model, x, "reinforce-loo", n_estimates=20000, generator=gen(12))
    se = loo.std(0) / math.sqrt(loo.shape[0])
    assert ((loo.mean(0) - exact).abs() / se).max() < 5
    q = ev.gradient_quality(loo, exact)
    assert q["bias"] < 2 * q["bias_noise"]
    soft = logit_gradient_estimates(
        model, x, "gumbel-softmax", n_estimates=20000, temperature=1.0, generator=gen(13)
    )
    q = ev.gradient_quality(soft, exact)
    assert q["bias"] > 5 * q["bias_noise"]


def test_objective_validates_the_method_and_the_loo_sample_count():
    model = tiny_model()
    x = torch.zeros(2, 6, dtype=torch.float64)
    logits = model.encode(x)
    with pytest.raises(ValueError, match="method must be one of"):
        ch8.neg_elbo_estimate(model, logits, x, "rebar", generator=gen())
    with pytest.raises(ValueError):
        ch8.neg_elbo_estimate(model, logits, x, "reinforce-loo", samples=1, generator=gen())


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data():
    g = gen(100)
    train = ch8_data.make_parts_data(200, generator=g)
    test = ch8_data.make_parts_data(100, generator=g, prototypes=train.prototypes)
    return train, test


def test_training_is_reproducible_and_monitored(small_data):
    train, test = small_data
    kw = dict(seed=3, steps=30, every=10, hidden=16)
    a = ev.History(lambda model: ev.exact_bounds(model, test.x))
    b = ev.History(lambda model: ev.exact_bounds(model, test.x))
    ch8.train("st-gumbel-softmax", train.x, monitor=a, **kw)
    ch8.train("st-gumbel-softmax", train.x, monitor=b, **kw)
    assert a.steps == [0, 10, 20, 30] and a.curve() == b.curve()
    c = ev.History(lambda model: ev.exact_bounds(model, test.x))
    ch8.train("reinforce-loo", train.x, monitor=c, **kw)
    assert c.curve()[0] == a.curve()[0]  # the same initial weights for every method
    assert c.curve()[1:] != a.curve()[1:]
    assert torch.equal(a.final["neg_elbo"], a.values[-1]["neg_elbo"])


def test_every_method_learns_with_the_chapters_defaults(small_data):
    train, test = small_data
    floor = -ch8_data.true_log_likelihood(train, test.x).mean().item()
    start = ev.exact_bounds(ch8.CategoricalVAE(64, 4, 4, 64, generator=gen(1)), test.x)
    for method in ch8.METHODS:
        model = ch8.train(method, train.x, seed=1, steps=150)
        bounds = {k: v.mean().item() for k, v in ev.exact_bounds(model, test.x).items()}
        assert bounds["neg_elbo"] < start["neg_elbo"].mean().item() - 5, method
        assert bounds["neg_elbo"] >= bounds["nll"] > floor - 1.0


def test_train_accepts_numpy_and_warms_up_the_kl(small_data, monkeypatch):
    train, _ = small_data
    weights = []
    original = ch8.neg_elbo_estimate

    def spy(*args, **kwargs):
        weights.append(kwargs["kl_weight"])
        return original(*args, **kwargs)

    monkeypatch.setattr(ch8, "neg_elbo_estimate", spy)
    a = ch8.train("gumbel-softmax", train.x.numpy().astype(bool), seed=0, steps=8, warmup=4)
    assert weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    weights.clear()
    b = ch8.train("gumbel-softmax", train.x, seed=0, steps=8, warmup=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    weights.clear()
    ch8.train("gumbel-softmax", train.x, seed=0, steps=3)
    assert weights == [1.0, 1.0, 1.0]  # no warm-up by default: the ELBO from the start


def test_train_validates_method(small_data):
    train, _ = small_data
    with pytest.raises(ValueError, match="method must be one of"):
        ch8.train("nope", train.x, seed=0, steps=1)


def test_the_chapters_settings_are_the_defaults():
    import inspect

    defaults = {
        k: v.default
        for k, v in inspect.signature(ch8.train).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    assert defaults == dict(
        n_latents=4, n_categories=4, hidden=64, steps=800, batch_size=50, samples=4, lr=1e-2,
        temperature=0.5, warmup=0, monitor=None, every=50,
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------


def test_all_configurations():
    c = ev.all_configurations(3, 2)
    assert c.shape == (8, 3, 2)
    assert torch.equal(c.sum(-1), torch.ones(8, 3, dtype=c.dtype))
    assert len({tuple(r.argmax(-1).tolist()) for r in c}) == 8
    assert c[1].argmax(-1).tolist() == [0, 0, 1]  # the last latent varies fastest


def _loop_bounds(model, x):
    """ELBO and log p(x) by explicit loops over the codes (torch.distributions)."""
    logits = model.encode(x)
    configs = list(itertools.product(range(model.n_categories), repeat=model.n_latents))
    neg_elbo, nll = [], []
    for b in range(x.shape[0]):
        q = Categorical(logits=logits[b])
        e_log_lik, p_x = 0.0, 0.0
        for c in configs:
            z = F.one_hot(torch.tensor(c), model.n_categories).double()
            log_lik = Bernoulli(logits=model.decode(z)).log_prob(x[b]).sum()
            q_c = q.log_prob(torch.tensor(c)).sum().exp()
            e_log_lik += q_c * log_lik
            p_x += log_lik.exp() / len(configs)
        kl = kl_divergence(q, Categorical(logits=torch.zeros_like(logits[b]))).sum()
        neg_elbo.append(float(-e_log_lik + kl))
        nll.append(-math.log(float(p_x)))
    return torch.tensor(neg_elbo, dtype=torch.float64), torch.tensor(nll, dtype=torch.float64)


def test_exact_bounds_by_explicit_enumeration():
    model = tiny_model(6)
    x = binary(4, 6, 7)
    with torch.no_grad():
        neg_elbo, nll = _loop_bounds(model, x)
    bounds = ev.exact_bounds(model, x)
    assert bounds["neg_elbo"].shape == bounds["nll"].shape == bounds["kl"].shape == (4,)
    assert torch.allclose(bounds["neg_elbo"], neg_elbo, rtol=1e-10)
    assert torch.allclose(bounds["nll"], nll, rtol=1e-10)
    assert torch.all(bounds["neg_elbo"] >= bounds["nll"])  # the ELBO is a lower bound
    assert torch.allclose(ev.exact_neg_elbo(model, x), neg_elbo, rtol=1e-10)


def test_exact_bounds_refuse_a_huge_code_space_and_point_to_iwae():
    model = ch8.CategoricalVAE(6, 20, 10, 5, generator=gen(0))
    with pytest.raises(ValueError, match="iwae_bounds"):
        ev.exact_bounds(model, binary(2, 6, 0))


def test_iwae_bounds_against_the_exact_ones():
    model = tiny_model(9, n_latents=2, n_categories=3)
    x = binary(5, 6, 10)
    exact = ev.exact_bounds(model, x)
    one = ev.iwae_bounds(model, x, samples=1, generator=gen(1))
    many = ev.iwae_bounds(model, x, samples=4000, generator=gen(2), chunk=1000)
    assert torch.allclose(one["kl"], exact["kl"]) and torch.allclose(many["kl"], exact["kl"])
    assert torch.allclose(many["nll_iwae"], exact["nll"], atol=0.02)  # S large: -log p(x)
    assert torch.allclose(many["neg_elbo"], exact["neg_elbo"], atol=0.1)  # unbiased estimate
    # IWAE with S = 1 is a single-sample -ELBO: its mean over draws is the exact -ELBO.
    draws = torch.stack(
        [ev.iwae_bounds(model, x, samples=1, generator=gen(s))["nll_iwae"] for s in range(200)]
    )
    se = draws.std(0) / math.sqrt(200)
    assert torch.all((draws.mean(0) - exact["neg_elbo"]).abs() < 5 * se)
    assert torch.all(many["nll_iwae"] <= draws.mean(0))  # more samples, a tighter bound
    with pytest.raises(ValueError, match="samples"):
        ev.iwae_bounds(model, x, samples=0, generator=gen(0))


def test_iwae_bounds_are_chunk_independent():
    model = tiny_model(11)
    x = binary(3, 6, 12)
    a = ev.iwae_bounds(model, x, samples=30, generator=gen(3), chunk=30)
    b = ev.iwae_bounds(model, x, samples=30, generator=gen(3), chunk=7)
    for key in a:
        assert a[key].shape == (3,)
    # the noise is drawn chunk by chunk, so the draws differ; both are estimates of the same
    assert torch.allclose(a["kl"], b["kl"])


def test_mean_and_se():
    mean, se = ev.mean_and_se(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert mean == 2.5 and se == pytest.approx(math.sqrt(5 / 3) / 2)
    with pytest.raises(ValueError):
        ev.mean_and_se(torch.tensor([1.0]))


def test_gradient_quality_on_known_numbers():
    exact = torch.tensor([3.0, 4.0])
    est = torch.tensor([[3.0, 4.0], [5.0, 4.0], [3.0, 6.0], [5.0, 6.0]])  # mean [4, 5]
    q = ev.gradient_quality(est, exact)
    assert q["bias"] == pytest.approx(math.sqrt(2) / 5)
    var = 4.0 / 3.0  # per component, unbiased sample variance
    assert q["spread"] == pytest.approx(math.sqrt(2 * var) / 5)
    assert q["bias_noise"] == pytest.approx(math.sqrt(2 * var / 4) / 5)
    with pytest.raises(ValueError):
        ev.gradient_quality(est[:1], exact)


def test_results_table_columns_blanks_and_margins():
    a = {"neg_elbo": torch.tensor([20.0, 22.0]), "nll": torch.tensor([19.0, 21.0])}
    a["kl"] = torch.tensor([1.0, 1.0])
    b = {"neg_elbo": torch.tensor([21.0, 21.0]), "nll_iwae": torch.tensor([20.0, 20.0])}
    b["kl"] = torch.tensor([0.5, 0.5])
    reference = torch.tensor([25.0, 25.0])
    text = ev.results_table({"ref": {"nll": reference}, "a": a, "b": b}, reference=reference)
    lines = text.splitlines()
    assert lines[0].split() == ["-ELBO", "-log", "p(x)", "KL", "evaluated", "margin"]
    assert lines[1].split() == ["ref", "25.0"]  # blanks where the reference has no ELBO
    assert lines[2].split() == ["a", "21.0", "20.0", "1.0", "exact", "+4.0"]
    assert lines[3].split() == ["b", "21.0", "20.0", "0.5", "IWAE", "+4.0"]
    with_se = ev.results_table({"a": a}, reference=reference, with_se=True).splitlines()[1]
    assert with_se.split() == ["a", "21.00", "±", "1.00", "20.00", "±", "1.00", "1.0", "+4.00", "±",
                               "1.00"]  # fmt: skip
    assert "evaluated" not in ev.results_table({"a": a})


def test_history_needs_a_record():
    with pytest.raises(ValueError):
        ev.History(lambda model: {}).final  # noqa: B018


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def fake_history(values):
    h = ev.History(lambda model: {})
    h.steps = [0, 50, 100][: len(values)]
    h.values = [{"neg_elbo": torch.tensor([v, v])} for v in values]
    return h


def test_every_method_has_a_label_and_its_own_colour():
    colours = [vplot.method_color(m) for m in ch8.METHODS]
    assert len(set(colours)) == len(ch8.METHODS)
    for m in ch8.METHODS:
        assert m in vplot.METHOD_LABELS and m in vplot.SHORT_LABELS
    assert vplot.method_color("something else").startswith("#")


def test_learning_curves_plot_the_histories_and_the_floor():
    hs = {
        "gumbel-softmax": fake_history([45.0, 30.0, 25.0]),
        "reinforce": fake_history([45, 40, 38]),
    }
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
        vplot.learning_curves_figure({})


def test_mosaic_places_every_image():
    images = torch.arange(5 * 4, dtype=torch.float64).reshape(5, 4) / 20
    tiled = vplot.mosaic(images, 3, (2, 2))
    assert tiled.shape == (2 * 2 + 1, 3 * 2 + 2)
    assert torch.equal(tiled[:2, :2].reshape(-1), images[0])
    assert torch.equal(tiled[3:5, 3:5].reshape(-1), images[4])
    assert torch.isnan(tiled[2]).all() and torch.isnan(tiled[3:5, 6:8]).all()  # gap, no tile


def test_image_rows_show_the_data_and_draw_a_grid_only_when_asked():
    d = ch8_data.make_parts_data(5, generator=gen(0))
    model = ch8.CategoricalVAE(64, 4, 4, 8, generator=gen(1))
    with torch.no_grad():
        recon = torch.sigmoid(model.decode(F.one_hot(model.encode(d.x).argmax(-1), 4).double()))
    fig = vplot.image_rows_figure([("data", d.x), ("st-gumbel-softmax", recon)])
    ax = fig.axes[0]
    shown = torch.as_tensor(ax.get_images()[0].get_array().filled(np.nan))
    assert torch.allclose(shown, vplot.mosaic(torch.cat([d.x, recon]), 5, (8, 8)), equal_nan=True)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["data", vplot.SHORT_LABELS["st-gumbel-softmax"]]
    assert not ax.get_lines()  # real images: no part lines
    gridded = vplot.image_rows_figure([("data", d.x)], grid=(2, 2)).axes[0]
    assert len(gridded.get_lines()) == 5 * 2  # one horizontal and one vertical per image
    with pytest.raises(ValueError):
        vplot.image_rows_figure([("a", d.x), ("b", d.x[:2])])


def test_code_grid_shows_one_image_per_code():
    images = torch.rand(16, 4, generator=gen(0), dtype=torch.float64)
    fig = vplot.code_grid_figure(images, 2, 4, (2, 2))
    shown = torch.as_tensor(fig.axes[0].get_images()[0].get_array().filled(np.nan))
    assert torch.allclose(shown, vplot.mosaic(images, 4, (2, 2)), equal_nan=True)
    assert "z1" in fig.axes[0].get_ylabel() and "z2" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="one per code"):
        vplot.code_grid_figure(images[:3], 2, 4, (2, 2))


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


# --------------------------------------------------------------------------------------
# what moved off the page
# --------------------------------------------------------------------------------------


def _summary_table_rows() -> list:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "| technique" in text.lower():
            lines = [ln for ln in text.splitlines() if ln.startswith("|")]
            return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return []


def test_the_summary_table_names_exported_relaxlib_functions_and_every_chapter():
    rows = _summary_table_rows()
    assert len(rows) == 11
    named = {name for row in rows for name in re.findall(r"`rl\.(\w+)", row[2])}
    assert len(named) == 16
    for name in named:
        assert name in rl.__all__ and callable(getattr(rl, name)), name
    chapters = [int(row[-1]) for row in rows]
    assert chapters == sorted(chapters) and set(chapters) == set(range(1, 8))


def test_model_data_evaluation_and_checks_need_only_torch():
    code = (
        "import sys; import dae_course.ch08_summary.model, dae_course.ch08_summary.data, "
        "dae_course.ch08_summary.evaluation, dae_course.ch08_summary.checks; "
        "bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython', 'sklearn') "
        "if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------
# Exercise 1: the KL to a learned prior
# --------------------------------------------------------------------------------------


def kl_good(logits, prior_logits):
    log_q = torch.log_softmax(logits, dim=-1)
    return (log_q.exp() * (log_q - torch.log_softmax(prior_logits, -1))).sum(dim=(-1, -2))


def kl_distributions(logits, prior_logits):
    q = torch.distributions.Categorical(logits=logits)
    p = torch.distributions.Categorical(logits=prior_logits.expand_as(logits))
    return torch.distributions.kl_divergence(q, p).sum(-1)


def kl_cross_entropy_form(logits, prior_logits):
    q = torch.softmax(logits, -1)
    cross = -(q * torch.log_softmax(prior_logits, -1)).sum(-1)
    entropy = -(q * torch.log_softmax(logits, -1)).sum(-1)
    return (cross - entropy).sum(-1)


@pytest.mark.parametrize("fn", [kl_good, kl_distributions, kl_cross_entropy_form])
def test_kl_correct_answers_pass(fn):
    feedback = ex.check_kl_to_prior(fn)
    assert feedback.passed and feedback.status == core.CORRECT, feedback


def test_kl_reference_is_the_uniform_kl_for_a_uniform_prior():
    logits = torch.randn(3, 4, 5, generator=gen(0), dtype=torch.float64)
    assert torch.allclose(
        ex.reference_kl_to_prior(logits, torch.zeros(4, 5, dtype=torch.float64)),
        ch8.kl_to_uniform(logits),
    )


def _lq(x, dim=-1):
    return torch.log_softmax(x, dim)


def _kl_terms(x, p, dim=-1):
    return _lq(x, dim).exp() * (_lq(x, dim) - _lq(p, dim))


KL_MISTAKES = {
    "wrong sign": (lambda x, p: -kl_good(x, p), "wrong sign"),
    "uniform prior": (lambda x, p: ch8.kl_to_uniform(x), "*uniform* prior"),
    "prior not normalised": (
        lambda x, p: (_lq(x).exp() * (_lq(x) - p)).sum((-1, -2)),
        "prior's raw logits",
    ),
    "logits not log-probabilities": (
        lambda x, p: (_lq(x).exp() * (x - _lq(p))).sum((-1, -2)),
        "raw logits where log q belongs",
    ),
    "entropy": (lambda x, p: -(_lq(x).exp() * _lq(x)).sum((-1, -2)), "entropy"),
    "forgot the prior": (lambda x, p: (_lq(x).exp() * _lq(x)).sum((-1, -2)), "forgot the prior"),
    "reversed KL": (
        lambda x, p: (_lq(p).exp() * (_lq(p) - _lq(x))).sum((-1, -2)),
        "reversed divergence",
    ),
    "softmax over latents": (lambda x, p: _kl_terms(x, p, -2).sum((-1, -2)), "dim=-2"),
    "mean over latents": (lambda x, p: _kl_terms(x, p).sum(-1).mean(-1), "averaged over the L"),
    "summed over categories only": (lambda x, p: _kl_terms(x, p).sum(-1), "one KL per latent"),
    "summed over the batch": (lambda x, p: _kl_terms(x, p).sum((0, -1)), "over the batch"),
    "summed everything": (lambda x, p: _kl_terms(x, p).sum(), "over everything"),
}


@pytest.mark.parametrize("name", list(KL_MISTAKES))
def test_kl_mistakes_are_named(name):
    fn, phrase = KL_MISTAKES[name]
    feedback = ex.check_kl_to_prior(fn)
    assert feedback.status == core.INCORRECT, feedback
    assert feedback.mistake == name, feedback
    assert phrase in feedback.message


def test_kl_nan_when_saturated_and_other_failures():
    def log_of_softmax(x, p):
        q = torch.softmax(x, -1)
        return (q * (torch.log(q) - torch.log_softmax(p, -1))).sum((-1, -2))

    feedback = ex.check_kl_to_prior(log_of_softmax)
    assert feedback.mistake == "NaN when saturated" and "log_softmax" in feedback.message
    assert ex.check_kl_to_prior(lambda x, p: kl_good(x, p).detach()).mistake == "no gradient"
    prior_detached = ex.check_kl_to_prior(lambda x, p: kl_good(x, p.detach()))
    assert prior_detached.mistake == "no gradient"  # a learned prior needs its gradient

    def stub(x, p):
        raise NotImplementedError

    assert ex.check_kl_to_prior(stub).status == core.NOT_ATTEMPTED
    assert ex.check_kl_to_prior(lambda x, p: None).status == core.NOT_ATTEMPTED
    assert ex.check_kl_to_prior(lambda x, p: 1 / 0).status == core.ERROR
    odd = ex.check_kl_to_prior(lambda x, p: kl_good(x, p) + 0.1)
    assert odd.status == core.INCORRECT and odd.mistake is None and "expected" in odd.message


# --------------------------------------------------------------------------------------
# Exercise 2: the leave-one-out REINFORCE loss
# --------------------------------------------------------------------------------------


def loo_good(log_q, recon):
    m = recon.shape[0]
    b = (recon.sum(0, keepdim=True) - recon) / (m - 1)
    s = ((recon - b).detach() * log_q).mean()
    return recon.mean() + s - s.detach()


def loo_relaxlib(log_q, recon):
    return rl.reinforce_surrogate(log_q, recon, baseline="loo")


def loo_loop(log_q, recon):  # written sample by sample
    m, n = recon.shape
    total = 0.0
    for i in range(m):
        others = torch.cat([recon[:i], recon[i + 1 :]]).mean(0)
        w = (recon[i] - others).detach()
        total = total + (recon[i] + w * log_q[i] - (w * log_q[i]).detach()).sum()
    return total / (m * n)


@pytest.mark.parametrize("fn", [loo_good, loo_relaxlib, loo_loop])
def test_loo_correct_answers_pass(fn):
    feedback = ex.check_loo_loss(fn)
    assert feedback.passed, feedback


def _score_loss(baseline_fn, detach=True):
    def fn(log_q, recon):
        b = baseline_fn(recon)
        w = (recon - b).detach() if detach else recon - b
        s = (w * log_q).mean()
        return recon.mean() + s - s.detach()

    return fn


LOO_MISTAKES = {
    "includes own sample": (_score_loss(lambda r: r.mean(0, keepdim=True).detach()), "own loss"),
    "baseline over images": (
        _score_loss(lambda r: ((r.sum(1, keepdim=True) - r) / (r.shape[1] - 1)).detach()),
        "over the images",
    ),
    "divided by m": (
        _score_loss(lambda r: ((r.sum(0, keepdim=True) - r) / r.shape[0]).detach()),
        "divide by m - 1",
    ),
    "no baseline": (_score_loss(lambda r: torch.zeros_like(r)), "no baseline"),
    "sign flipped": (lambda lq, r: loo_good(-lq, r), "wrong sign"),
    "baseline not detached": (
        _score_loss(lambda r: (r.sum(0, keepdim=True) - r) / (r.shape[0] - 1), detach=False),
        "must be a constant",
    ),
    "only baseline detached": (
        _score_loss(lambda r: ((r.sum(0, keepdim=True) - r) / (r.shape[0] - 1)).detach(), False),
        "not L_i",
    ),
    "no pathwise term": (lambda lq, r: loo_good(lq, r.detach()), "decoder gets no gradient"),
    "summed": (lambda lq, r: loo_good(lq, r) * r.numel(), "instead of averaging"),
}


@pytest.mark.parametrize("name", list(LOO_MISTAKES))
def test_loo_mistakes_are_named(name):
    fn, phrase = LOO_MISTAKES[name]
    feedback = ex.check_loo_loss(fn)
    assert feedback.status == core.INCORRECT, feedback
    assert feedback.mistake == name, feedback
    assert phrase in feedback.message


def test_loo_value_not_the_mean_loss():
    def plain_sum(log_q, recon):
        b = (recon.sum(0, keepdim=True) - recon) / (recon.shape[0] - 1)
        return (recon + (recon - b).detach() * log_q).mean()

    feedback = ex.check_loo_loss(plain_sum)
    assert feedback.mistake == "value not the mean loss" and "s.detach()" in feedback.message


def test_loo_other_failures():
    assert ex.check_loo_loss(lambda lq, r: loo_good(lq, r).detach()).mistake == "no gradient"
    assert ex.check_loo_loss(lambda lq, r: r.mean(0)).mistake == "not a scalar"
    assert ex.check_loo_loss(lambda lq, r: r.mean()).mistake == "no score term"

    def stub(lq, r):
        raise NotImplementedError

    assert ex.check_loo_loss(stub).status == core.NOT_ATTEMPTED
    assert ex.check_loo_loss(lambda lq, r: None).status == core.NOT_ATTEMPTED
    assert ex.check_loo_loss(lambda lq, r: lq @ r).status == core.ERROR
    odd = ex.check_loo_loss(lambda lq, r: loo_good(lq, r) + 0.5 * (lq.mean() - lq.mean().detach()))
    assert odd.status == core.INCORRECT and odd.mistake is None


def test_loo_reference_matches_relaxlib():
    g = torch.Generator().manual_seed(0)
    lq = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    r = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.autograd.grad(ex.reference_loo_loss(lq, r), (lq, r))
    b = torch.autograd.grad(rl.reinforce_surrogate(lq, r, baseline="loo"), (lq, r))
    assert all(torch.allclose(x, y) for x, y in zip(a, b))
    assert ex.reference_loo_loss(lq, r).item() == pytest.approx(r.mean().item())


# --------------------------------------------------------------------------------------
# Exercise 3: the untrained model's loss, derived
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda d: d * math.log(2),
        lambda d: torch.tensor(d * math.log(2)),
        lambda d: -d * math.log(0.5) + 0.0,
        lambda d: float(np.log(2.0) * d),
    ],
)
def test_untrained_correct_answers_pass(fn):
    feedback = ex.check_untrained_neg_elbo(fn, measured=44.8)
    assert feedback.passed, feedback
    assert "44.80" in feedback.message and "+0.44" in feedback.message
    assert ex.check_untrained_neg_elbo(fn).passed


UNTRAINED_MISTAKES = {
    "sign": (lambda d: -d * math.log(2), "negative* ELBO"),
    "bits": (lambda d: d, "bits"),
    "log10": (lambda d: d * math.log10(2), "base 10"),
    "one pixel": (lambda d: math.log(2), "one pixel"),
    "probability": (lambda d: 0.5**d, "probability"),
    "KL maximum added": (lambda d: d * math.log(2) + 4 * math.log(4), "largest* KL"),
}


@pytest.mark.parametrize("name", list(UNTRAINED_MISTAKES))
def test_untrained_mistakes_are_named(name):
    fn, phrase = UNTRAINED_MISTAKES[name]
    feedback = ex.check_untrained_neg_elbo(fn)
    assert feedback.status == core.INCORRECT and feedback.mistake == name, feedback
    assert phrase in feedback.message


def test_untrained_other_failures():
    def stub(d):
        raise NotImplementedError

    assert ex.check_untrained_neg_elbo(stub).status == core.NOT_ATTEMPTED
    assert ex.check_untrained_neg_elbo(lambda d: None).status == core.NOT_ATTEMPTED
    assert ex.check_untrained_neg_elbo(lambda d: [d]).mistake == "not a number"
    assert ex.check_untrained_neg_elbo(lambda d: torch.ones(2)).mistake == "not a number"
    assert ex.check_untrained_neg_elbo(lambda d: 1 / 0).status == core.ERROR
    odd = ex.check_untrained_neg_elbo(lambda d: d * 0.7)
    assert odd.status == core.INCORRECT and odd.mistake is None and "expected" in odd.message


# --------------------------------------------------------------------------------------
# Exercise 4: the capstone
# --------------------------------------------------------------------------------------


def capstone_objective(model, x, gumbel):
    logits = model.encode(x)
    z = F.one_hot((logits + gumbel).argmax(-1), model.n_categories).to(x.dtype)
    log_q = (torch.log_softmax(logits, -1) * z).sum((-1, -2))
    recon = -ch8.bernoulli_log_likelihood(model.decode(z), x)
    baseline = (recon.sum(0) - recon) / (len(recon) - 1)
    score = ((recon - baseline).detach() * log_q).mean()
    return recon.mean() + score - score.detach() + ch8.kl_to_uniform(logits).mean()


def capstone_objective_relaxlib(model, x, gumbel):
    logits = model.encode(x)
    index = (logits + gumbel).argmax(-1)
    z = F.one_hot(index, model.n_categories).double()
    log_q = torch.distributions.Categorical(logits=logits).log_prob(index).sum(-1)
    recon = -ch8.bernoulli_log_likelihood(model.decode(z), x)
    kl = ch8.kl_to_uniform(logits).mean()
    return rl.reinforce_surrogate(log_q, recon, baseline="loo") + kl


def capstone_train(model, x_train, objective, *, steps, generator):
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        x = x_train[torch.randint(len(x_train), (50,), generator=generator)]
        shape = (4, len(x), model.n_latents, model.n_categories)
        loss = objective(model, x, rl.gumbel_noise(shape, generator=generator, dtype=x.dtype))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def capstone_train_returning_model(model, x_train, objective, *, steps, generator):
    capstone_train(model, x_train, objective, steps=steps, generator=generator)
    return model


@pytest.mark.parametrize(
    "objective, loop",
    [
        (capstone_objective, capstone_train),
        (capstone_objective_relaxlib, capstone_train_returning_model),
        (ex.reference_capstone_objective, ex.reference_capstone_train),
    ],
)
def test_capstone_correct_answers_pass(objective, loop, one_thread):
    feedback = ex.check_capstone(objective, loop)
    assert feedback.passed, feedback
    assert "fell by more than 10 nats" in feedback.message


@pytest.mark.parametrize("name", list(ex._capstone_variants()))
def test_capstone_objective_mistakes_are_named(name):
    wrong, message = ex._capstone_variants()[name]
    feedback = ex.check_capstone(wrong, capstone_train)  # stops before training
    assert feedback.status == core.INCORRECT and feedback.mistake == name, feedback
    assert feedback.message == message


def test_capstone_named_mistakes_in_the_brief():
    variants = ex._capstone_variants()
    for name in ("forgot the KL", "includes own sample", "no detach on the score term"):
        assert name in variants


def test_capstone_objective_other_failures():
    def stub(model, x, gumbel):
        raise NotImplementedError

    assert ex.check_capstone(stub, stub).status == core.NOT_ATTEMPTED
    detached = ex.check_capstone(lambda m, x, g: capstone_objective(m, x, g).detach(), stub)
    assert detached.mistake == "no gradient"
    vector = ex.check_capstone(lambda m, x, g: capstone_objective(m, x, g).expand(2), stub)
    assert vector.mistake == "not a scalar"
    shifted = ex.check_capstone(lambda m, x, g: capstone_objective(m, x, g) + 1.0, stub)
    assert shifted.mistake == "wrong value" and "sampled negative ELBO" in shifted.message

    def double_encoder_gradient(model, x, gumbel):
        logits = model.encode(x)
        extra = logits.sum() - logits.sum().detach()
        return capstone_objective(model, x, gumbel) + 1e-3 * extra

    other = ex.check_capstone(double_encoder_gradient, stub)
    assert other.mistake == "wrong gradient" and "encoder" in other.message


def _loop(zero_grad="before", params="all", step=True, call=True):
    def loop(model, x_train, objective, *, steps, generator):
        chosen = [p for n, p in model.named_parameters() if params == "all" or n.startswith("enc")]
        optimiser = torch.optim.Adam(chosen, lr=0.01)
        for _ in range(steps):
            x = x_train[torch.randint(len(x_train), (50,), generator=generator)]
            g = rl.gumbel_noise((4, 50, 4, 4), generator=generator, dtype=x.dtype)
            if not call:
                loss = ex.reference_capstone_objective(model, x, g)
            else:
                loss = objective(model, x, g)
            if zero_grad == "before":
                optimiser.zero_grad()
            loss.backward()
            if zero_grad == "between":
                optimiser.zero_grad()
            if step:
                optimiser.step()

    return loop


@pytest.mark.parametrize(
    "loop, name",
    [
        (_loop(zero_grad="never"), "gradients accumulate"),
        (_loop(zero_grad="between"), "no gradient at step"),
        (_loop(params="encoder"), "some parameters frozen"),
        (_loop(step=False), "no update"),
        (_loop(call=False), "objective not called"),
    ],
)
def test_capstone_loop_mistakes_are_named(loop, name, one_thread):
    feedback = ex.check_capstone(capstone_objective, loop)
    assert feedback.status == core.INCORRECT and feedback.mistake == name, feedback


def test_capstone_loop_runs_the_asked_number_of_steps(one_thread):
    def twice(model, x_train, objective, *, steps, generator):
        capstone_train(model, x_train, objective, steps=2 * steps, generator=generator)

    assert ex.check_capstone(capstone_objective, twice).mistake == "wrong number of steps"


def test_capstone_a_loop_that_does_not_learn_is_told_so(one_thread):
    def tiny_steps(model, x_train, objective, *, steps, generator):
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-6)
        for _ in range(steps):
            x = x_train[torch.randint(len(x_train), (50,), generator=generator)]
            g = rl.gumbel_noise((4, 50, 4, 4), generator=generator, dtype=x.dtype)
            loss = objective(model, x, g)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

    feedback = ex.check_capstone(capstone_objective, tiny_steps, steps=20)
    assert feedback.mistake == "does not learn" and "fall by more than 10" in feedback.message
