"""Chapter 8's worked model (relaxlib.discrete_vae): data, model, exact bounds, estimators,
training, and the summary table."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Categorical, kl_divergence

import relaxlib as rl
from dae_course.ch08_summary import model as dv

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "chapters" / "08_summary.ipynb"


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_model(seed=0, n_pixels=6, n_latents=2, n_categories=3, hidden=5):
    return dv.CategoricalVAE(n_pixels, n_latents, n_categories, hidden, generator=gen(seed))


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


def test_parts_data_shapes_binary_and_reproducible():
    a = dv.make_parts_data(30, generator=gen(1))
    b = dv.make_parts_data(30, generator=gen(1))
    assert a.x.shape == (30, 64) and a.choices.shape == (30, 4)
    assert a.prototypes.shape == (4, 4, 64) and a.masks.shape == (4, 64)
    assert a.x.dtype == torch.float64
    assert set(a.x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a.x, b.x) and torch.equal(a.prototypes, b.prototypes)
    assert not torch.equal(a.x, dv.make_parts_data(30, generator=gen(2)).x)


def test_parts_are_the_four_quadrants():
    d = dv.make_parts_data(1, generator=gen(0))
    masks = d.masks.reshape(4, 8, 8)
    assert masks.sum((1, 2)).tolist() == [16.0] * 4
    assert torch.equal(masks.sum(0), torch.ones(8, 8, dtype=masks.dtype))
    assert masks[0, :4, :4].sum() == 16 and masks[3, 4:, 4:].sum() == 16
    # each prototype lives inside its own part
    assert torch.equal(d.prototypes * (1 - d.masks[:, None, :]), torch.zeros_like(d.prototypes))


def test_without_noise_images_are_the_chosen_prototypes():
    d = dv.make_parts_data(20, generator=gen(3), flip=0.0)
    for i in range(20):
        expected = sum(d.prototypes[p, d.choices[i, p]] for p in range(4))
        assert torch.equal(d.x[i], expected)


def test_flip_rate_and_uniform_choices():
    d = dv.make_parts_data(4000, generator=gen(4), flip=0.1)
    clean = dv.make_parts_data(1, generator=gen(4), flip=0.0)
    assert torch.equal(d.prototypes, clean.prototypes)
    chosen = d.prototypes[torch.arange(4)[None, :], d.choices].sum(1)
    rate = (d.x != chosen).double().mean().item()
    se = math.sqrt(0.1 * 0.9 / d.x.numel())
    assert abs(rate - 0.1) < 5 * se
    counts = torch.bincount(d.choices.reshape(-1), minlength=4).double()
    assert torch.all((counts / counts.sum() - 0.25).abs() < 0.02)


def test_test_set_shares_the_prototypes():
    train = dv.make_parts_data(10, generator=gen(5))
    test = dv.make_parts_data(7, generator=gen(6), prototypes=train.prototypes)
    assert torch.equal(test.prototypes, train.prototypes)
    with pytest.raises(ValueError):
        dv.make_parts_data(3, generator=gen(0), prototypes=train.prototypes[:2])
    with pytest.raises(ValueError):
        dv.make_parts_data(3, generator=gen(0), flip=0.5)


def test_true_log_likelihood_is_a_normalised_distribution():
    # 2 x 2 images in two parts of 2 pixels: sum p(x) over all 16 images must be 1.
    d = dv.make_parts_data(5, generator=gen(7), image_shape=(2, 2), grid=(1, 2), flip=0.2)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    total = dv.true_log_likelihood(d, images).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_true_log_likelihood_by_brute_force():
    d = dv.make_parts_data(6, generator=gen(8), image_shape=(2, 4), grid=(1, 2), flip=0.15)
    k = d.prototypes.shape[1]
    for x in d.x:
        p = 0.0
        for c in itertools.product(range(k), repeat=2):
            clean = d.prototypes[0, c[0]] + d.prototypes[1, c[1]]
            flips = (x != clean).sum().item()
            p += (1 / k**2) * 0.15**flips * 0.85 ** (8 - flips)
        assert dv.true_log_likelihood(d, x[None])[0].item() == pytest.approx(math.log(p))


# --------------------------------------------------------------------------------------
# model pieces
# --------------------------------------------------------------------------------------


def test_model_shapes_and_seeded_init():
    m = tiny_model()
    x = torch.rand(7, 6, generator=gen(1), dtype=torch.float64).round()
    assert m.encode(x).shape == (7, 2, 3)
    assert m.decode(torch.zeros(9, 7, 2, 3, dtype=torch.float64)).shape == (9, 7, 6)
    a, b = tiny_model(3), tiny_model(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.enc_w1, tiny_model(4).enc_w1)
    assert a.enc_w1.abs().max() <= 1 / math.sqrt(6)  # nn.Linear's bound 1/sqrt(fan_in)


def test_init_does_not_touch_the_global_generator():
    state = torch.get_rng_state()
    tiny_model(5)
    dv.make_parts_data(3, generator=gen(0))
    assert torch.equal(state, torch.get_rng_state())


def test_kl_to_uniform_matches_torch_distributions():
    logits = torch.randn(5, 3, 4, generator=gen(2), dtype=torch.float64) * 2
    uniform = Categorical(logits=torch.zeros(4, dtype=torch.float64))
    expected = kl_divergence(Categorical(logits=logits), uniform).sum(-1)
    assert torch.allclose(dv.kl_to_uniform(logits), expected)


def test_kl_to_uniform_limits():
    assert torch.allclose(dv.kl_to_uniform(torch.zeros(2, 3, 4)), torch.zeros(2))
    saturated = torch.tensor([[[500.0, 0.0, 0.0, 0.0]] * 3])
    out = dv.kl_to_uniform(saturated)
    assert torch.isfinite(out).all() and out.item() == pytest.approx(3 * math.log(4), rel=1e-6)


def test_bernoulli_log_likelihood_matches_torch():
    logits = torch.randn(4, 6, generator=gen(3), dtype=torch.float64) * 3
    x = torch.rand(4, 6, generator=gen(4), dtype=torch.float64).round()
    expected = Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert torch.allclose(dv.bernoulli_log_likelihood(logits, x), expected)


def test_all_configurations():
    c = dv.all_configurations(3, 2)
    assert c.shape == (8, 3, 2)
    assert torch.equal(c.sum(-1), torch.ones(8, 3, dtype=c.dtype))
    assert len({tuple(r.argmax(-1).tolist()) for r in c}) == 8
    assert c[1].argmax(-1).tolist() == [0, 0, 1]  # last latent varies fastest


def _loop_bounds(model, x):
    """ELBO and log p(x) by explicit loops over the latent values (torch.distributions)."""
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
    return sum(neg_elbo) / len(neg_elbo), sum(nll) / len(nll)


def test_exact_bounds_by_explicit_enumeration():
    model = tiny_model(6)
    x = torch.rand(4, 6, generator=gen(7), dtype=torch.float64).round()
    with torch.no_grad():
        neg_elbo, nll = _loop_bounds(model, x)
    bounds = dv.exact_bounds(model, x)
    assert bounds["neg_elbo"] == pytest.approx(neg_elbo, rel=1e-10)
    assert bounds["nll"] == pytest.approx(nll, rel=1e-10)
    assert bounds["neg_elbo"] >= bounds["nll"]  # the ELBO is a lower bound
    assert dv.exact_neg_elbo(model, x).mean().item() == pytest.approx(neg_elbo, rel=1e-10)


def test_st_and_reinforce_values_are_discrete_monte_carlo_of_the_elbo():
    model = tiny_model(8)
    x = torch.rand(3, 6, generator=gen(9), dtype=torch.float64).round()
    exact = dv.exact_bounds(model, x)["neg_elbo"]
    for method in ("st-gumbel-softmax", "reinforce-loo", "reinforce"):
        values = [
            dv.training_loss(
                model, x, method, samples=4000, temperature=0.5, generator=gen(s)
            ).detach()
            for s in range(3)
        ]
        mean = sum(v.item() for v in values) / 3
        assert mean == pytest.approx(exact, abs=0.15), method


def test_reinforce_loo_gradient_is_unbiased_and_relaxations_are_not():
    model = tiny_model(10)
    x = torch.rand(3, 6, generator=gen(11), dtype=torch.float64).round()
    exact = dv.exact_logit_gradient(model, x)
    # the exact gradient by finite differences of the exact objective
    logits = model.encode(x).detach()
    fd = torch.zeros_like(logits)
    for idx in itertools.product(*(range(s) for s in logits.shape)):
        e = torch.zeros_like(logits)
        e[idx] = 1e-6
        plus = dv.exact_neg_elbo(model, x, logits + e).mean()
        minus = dv.exact_neg_elbo(model, x, logits - e).mean()
        fd[idx] = (plus - minus) / 2e-6
    assert torch.allclose(exact, fd, atol=1e-7)
    loo = dv.logit_gradient_estimates(
        model, x, "reinforce-loo", n_estimates=20000, samples=4, generator=gen(12)
    )
    se = loo.std(0) / math.sqrt(loo.shape[0])
    assert ((loo.mean(0) - exact).abs() / se).max() < 5
    q = dv.gradient_quality(loo, exact)
    assert q["bias"] < 2 * q["bias_noise"]
    soft = dv.logit_gradient_estimates(
        model,
        x,
        "gumbel-softmax",
        n_estimates=20000,
        samples=4,
        temperature=1.0,
        generator=gen(13),
    )
    q = dv.gradient_quality(soft, exact)
    assert q["bias"] > 5 * q["bias_noise"]


def test_gradient_quality_on_known_numbers():
    exact = torch.tensor([3.0, 4.0])
    est = torch.tensor([[3.0, 4.0], [5.0, 4.0], [3.0, 6.0], [5.0, 6.0]])  # mean [4, 5]
    q = dv.gradient_quality(est, exact)
    assert q["bias"] == pytest.approx(math.sqrt(2) / 5)
    var = 4.0 / 3.0  # per component, unbiased sample variance
    assert q["spread"] == pytest.approx(math.sqrt(2 * var) / 5)
    assert q["bias_noise"] == pytest.approx(math.sqrt(2 * var / 4) / 5)
    with pytest.raises(ValueError):
        dv.gradient_quality(est[:1], exact)


def test_estimator_objective_validates():
    model = tiny_model()
    x = torch.zeros(2, 6, dtype=torch.float64)
    with pytest.raises(ValueError):
        dv.training_loss(model, x, "reinforce-loo", samples=1, temperature=1.0, generator=gen())
    with pytest.raises(ValueError):
        dv.training_loss(model, x, "rebar", samples=2, temperature=1.0, generator=gen())


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data():
    g = gen(100)
    train = dv.make_parts_data(200, generator=g)
    test = dv.make_parts_data(100, generator=g, prototypes=train.prototypes)
    return train, test


def test_training_is_reproducible_and_restores_threads(small_data):
    train, test = small_data
    threads = torch.get_num_threads()
    kw = dict(seed=3, steps=30, eval_every=10, hidden=16)
    _, a = dv.train("st-gumbel-softmax", train.x, test.x, **kw)
    _, b = dv.train("st-gumbel-softmax", train.x, test.x, **kw)
    assert torch.get_num_threads() == threads
    assert a.steps == [0, 10, 20, 30] and a.neg_elbo == b.neg_elbo
    _, c = dv.train("reinforce-loo", train.x, test.x, **kw)
    assert c.neg_elbo[0] == a.neg_elbo[0]  # same initial weights for every method
    assert c.neg_elbo[1:] != a.neg_elbo[1:]


def test_every_method_learns(small_data):
    train, test = small_data
    for method in dv.METHODS:
        _, h = dv.train(method, train.x, test.x, seed=1, steps=150, eval_every=150, lr=1e-2)
        assert h.final["neg_elbo"] < h.neg_elbo[0] - 5, method
        assert h.final["neg_elbo"] >= h.final["nll"]
        floor = -dv.true_log_likelihood(train, test.x).mean().item()
        assert h.final["nll"] > floor - 1.0


def test_train_validates_method(small_data):
    train, test = small_data
    with pytest.raises(ValueError):
        dv.train("nope", train.x, test.x, seed=0, steps=1)


# --------------------------------------------------------------------------------------
# the summary table and its tiny problems
# --------------------------------------------------------------------------------------


def test_every_technique_names_exported_functions_and_a_chapter():
    for t in dv.TECHNIQUES:
        for name in t.functions:
            assert name in rl.__all__ and callable(getattr(rl, name)), name
        assert t.character in ("exact", "deterministic", "unbiased", "biased")
        assert t.variance in ("none", "low", "high")
    assert {t.chapter for t in dv.TECHNIQUES} == set(range(1, 8))
    chapters = [t.chapter for t in dv.TECHNIQUES]
    assert chapters == sorted(chapters)


def _markdown_table_rows(nb: dict) -> list:
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "| technique" in text.lower():
            lines = [ln for ln in text.splitlines() if ln.startswith("|")]
            return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return []


@pytest.mark.skipif(not NOTEBOOK.exists(), reason="chapter 8 not written yet")
def test_notebook_table_agrees_with_techniques():
    rows = _markdown_table_rows(json.loads(NOTEBOOK.read_text(encoding="utf-8")))
    assert len(rows) == len(dv.TECHNIQUES)
    for row, t in zip(rows, dv.TECHNIQUES):
        assert row[0].strip("*") == t.name
        named = set(re.findall(r"`(?:rl\.)?(\w+)", row[2]))
        assert named == set(t.functions), (t.name, named)
        assert str(t.chapter) in row[-1]


def test_tiny_exact_gradient_by_autograd():
    theta = torch.tensor(dv.TINY_LOGITS, dtype=torch.float64, requires_grad=True)
    target = torch.tensor(dv.TINY_TARGET, dtype=torch.float64)
    f = ((torch.eye(3, dtype=torch.float64) - target) ** 2).sum(-1)
    (torch.softmax(theta, -1) @ f).backward()
    assert torch.allclose(dv.tiny_exact_gradient(), theta.grad)


@pytest.mark.parametrize("method", dv.TINY_METHODS)
def test_tiny_estimators_bias(method):
    est = dv.tiny_gradient_estimates(method, n_estimates=40000, m=4, generator=gen(21))
    exact = dv.tiny_exact_gradient()
    z = ((est.mean(0) - exact).abs() / (est.std(0) / 200)).max().item()
    if method.startswith("reinforce"):
        assert z < 5
    else:
        assert z > 10


def test_gaussian_estimators():
    n = 100000
    rep = dv.gaussian_gradient_estimates("reparameterisation", n_estimates=n, generator=gen(1))
    sf = dv.gaussian_gradient_estimates("score-function", n_estimates=n, generator=gen(2))
    exact = 2 * (0.5 - 2.0)
    for est in (rep, sf):
        assert abs(est.mean().item() - exact) < 5 * est.std().item() / math.sqrt(n)
    assert rep.var().item() == pytest.approx(4.0, rel=0.03)
    assert sf.var().item() > 5 * rep.var().item()
    with pytest.raises(ValueError):
        dv.gaussian_gradient_estimates("pathwise", n_estimates=3, generator=gen())


def test_module_needs_only_torch():
    import subprocess
    import sys

    code = (
        "import sys, dae_course.ch08_summary.model; "
        "bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gradient_estimates_do_not_depend_on_threads_and_restore_them():
    model = tiny_model(14)
    x = torch.rand(3, 6, generator=gen(15), dtype=torch.float64).round()
    threads = torch.get_num_threads()
    kw = dict(n_estimates=50, samples=3)
    one = dv.logit_gradient_estimates(model, x, "reinforce-loo", generator=gen(16), **kw)
    assert torch.get_num_threads() == threads
    unchanged = dv.logit_gradient_estimates(
        model, x, "reinforce-loo", generator=gen(16), threads=None, **kw
    )
    assert torch.allclose(one, unchanged, rtol=1e-12, atol=1e-12)
