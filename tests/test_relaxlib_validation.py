"""Input validation and general guarantees of the contract (DESIGN.md):

* temperature / beta / delta / sigma that is not finite or not > 0 -> ValueError naming the
  parameter (as a Python float and as a 0-d tensor);
* an integer or bool tensor where a floating tensor is needed -> TypeError;
* a non-tensor input -> TypeError; an invalid reduction -> ValueError;
  baseline="loo" with a single sample -> ValueError;
* functions never modify their inputs, work on non-contiguous inputs, preserve dtype and
  shape, and return results on the input's device.
"""

import math

import pytest
import torch

import relaxlib as rl

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
BAD_DTYPES = [torch.int64, torch.int32, torch.uint8, torch.bool]
BAD_VALUES = [0.0, -0.0, -1.0, -1e-8, math.nan, math.inf, -math.inf]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _x(dtype=torch.float64, shape=(3, 4), seed=0, device="cpu"):
    x = torch.randn(*shape, generator=_gen(seed), dtype=torch.float64).to(dtype)
    return x.to(device)


def _as_scalar_kinds(v):
    """The same value as a Python float, a 0-d float32 tensor and a 0-d float64 tensor."""
    return [v, torch.tensor(v), torch.tensor(v, dtype=torch.float64)]


# (function name, parameter name, call(x, param_value)) for every validated positive scalar
PARAM_CASES = [
    ("softplus", "beta", lambda x, v: rl.softplus(x, beta=v)),
    ("softmax", "temperature", lambda x, v: rl.softmax(x, temperature=v)),
    ("soft_argmax", "temperature", lambda x, v: rl.soft_argmax(x, temperature=v)),
    ("soft_max", "temperature", lambda x, v: rl.soft_max(x, temperature=v)),
    ("st_argmax", "temperature", lambda x, v: rl.st_argmax(x, temperature=v)),
    ("st_one_hot_argmax", "temperature", lambda x, v: rl.st_one_hot_argmax(x, temperature=v)),
    (
        "gumbel_softmax",
        "temperature",
        lambda x, v: rl.gumbel_softmax(x, temperature=v, generator=_gen()),
    ),
    (
        "gumbel_softmax_hard",
        "temperature",
        lambda x, v: rl.gumbel_softmax(x, temperature=v, hard=True, generator=_gen()),
    ),
    ("huber", "delta", lambda x, v: rl.huber(x, torch.zeros_like(x), delta=v)),
    ("smooth_l1", "beta", lambda x, v: rl.smooth_l1(x, torch.zeros_like(x), beta=v)),
    ("normal_rsample", "sigma", lambda x, v: rl.normal_rsample(x, v, generator=_gen())),
    ("sparsemax", "temperature", lambda x, v: rl.sparsemax(x, temperature=v)),
    ("entmax15", "temperature", lambda x, v: rl.entmax15(x, temperature=v)),
    (
        "relaxed_bernoulli_rsample",
        "temperature",
        lambda x, v: rl.relaxed_bernoulli_rsample(x, v, generator=_gen()),
    ),
    (
        "relaxed_bernoulli_rsample_hard",
        "temperature",
        lambda x, v: rl.relaxed_bernoulli_rsample(x, v, hard=True, generator=_gen()),
    ),
    (
        "perturbed_argmax",
        "sigma",
        lambda x, v: rl.perturbed_argmax(x, sigma=v, n_samples=64, generator=_gen()),
    ),
]
PARAM_IDS = [c[0] for c in PARAM_CASES]


@pytest.mark.parametrize("name,param,call", PARAM_CASES, ids=PARAM_IDS)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=[repr(v) for v in BAD_VALUES])
def test_bad_positive_parameter_raises_value_error_naming_it(name, param, call, bad):
    x = _x()
    for value in _as_scalar_kinds(bad):
        with pytest.raises(ValueError, match=param):
            call(x, value)


@pytest.mark.parametrize("name,param,call", PARAM_CASES, ids=PARAM_IDS)
def test_valid_parameter_as_tensor_equals_float(name, param, call):
    x = _x()
    ref = call(x, 0.7)
    for value in _as_scalar_kinds(0.7)[1:]:
        torch.testing.assert_close(call(x, value), ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,param,call", PARAM_CASES, ids=PARAM_IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_valid_parameter_as_tensor_keeps_input_dtype(name, param, call, dtype):
    # A scalar setting given as a 0-d tensor (float32 or float64) must not change the dtype
    # of the result, exactly as the same setting given as a Python float does not.
    x = _x(dtype)
    assert call(x, 0.7).dtype == dtype
    for value in _as_scalar_kinds(0.7)[1:]:
        out = call(x, value)
        assert out.dtype == dtype, f"{param}=tensor(0.7, dtype={value.dtype}) gave {out.dtype}"


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_sigma_tensor_with_one_bad_entry_raises(bad):
    sigma = torch.tensor([1.0, 0.5, bad, 2.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="sigma"):
        rl.normal_rsample(torch.zeros(4, dtype=torch.float64), sigma, generator=_gen())


def test_sigma_tensor_all_positive_is_fine():
    sigma = torch.tensor([1.0, 0.5, 3.0, 2.0], dtype=torch.float64)
    y = rl.normal_rsample(torch.zeros(4, dtype=torch.float64), sigma, generator=_gen())
    assert y.shape == (4,) and torch.isfinite(y).all()


# --------------------------------------------------------------------------------------
# TypeError for integer / bool tensors and for non-tensors
# --------------------------------------------------------------------------------------

# (function name, call(x)) for every function whose tensor argument must be floating
FLOAT_INPUT_CASES = [
    ("softplus(x)", lambda x: rl.softplus(x)),
    ("softmax(x)", lambda x: rl.softmax(x)),
    ("soft_argmax(x)", lambda x: rl.soft_argmax(x)),
    ("soft_max(x)", lambda x: rl.soft_max(x)),
    ("st_argmax(x)", lambda x: rl.st_argmax(x)),
    ("st_one_hot_argmax(x)", lambda x: rl.st_one_hot_argmax(x)),
    ("gumbel_softmax(logits)", lambda x: rl.gumbel_softmax(x, generator=_gen())),
    ("gumbel_softmax(logits,hard)", lambda x: rl.gumbel_softmax(x, hard=True, generator=_gen())),
    ("gumbel_max_sample(logits)", lambda x: rl.gumbel_max_sample(x, generator=_gen())),
    ("huber(input)", lambda x: rl.huber(x, torch.zeros(3))),
    ("smooth_l1(input)", lambda x: rl.smooth_l1(x, torch.zeros(3))),
    ("normal_rsample(mu)", lambda x: rl.normal_rsample(x, 1.0, generator=_gen())),
    ("sparsemax(x)", lambda x: rl.sparsemax(x)),
    ("entmax15(x)", lambda x: rl.entmax15(x)),
    (
        "relaxed_bernoulli_rsample(logits)",
        lambda x: rl.relaxed_bernoulli_rsample(x, 0.5, generator=_gen()),
    ),
    ("gumbel_topk(logits)", lambda x: rl.gumbel_topk(x, 2, generator=_gen())),
    ("perturbed_argmax(x)", lambda x: rl.perturbed_argmax(x, n_samples=8, generator=_gen())),
]
FLOAT_INPUT_IDS = [c[0] for c in FLOAT_INPUT_CASES]


@pytest.mark.parametrize("name,call", FLOAT_INPUT_CASES, ids=FLOAT_INPUT_IDS)
@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=str)
def test_integer_or_bool_tensor_raises_type_error(name, call, dtype):
    x = torch.tensor([[1, 0, 3], [2, 2, 0]]).to(dtype)
    with pytest.raises(TypeError):
        call(x)


# every public function given a Python list where a tensor belongs
NON_TENSOR_CASES = FLOAT_INPUT_CASES + [
    ("one_hot_argmax(x)", lambda x: rl.one_hot_argmax(x)),
    ("stop_gradient(x)", lambda x: rl.stop_gradient(x)),
    ("straight_through(hard)", lambda x: rl.straight_through(x, torch.full((3,), 0.5))),
    ("straight_through(soft)", lambda x: rl.straight_through(torch.ones(3), x)),
    ("huber(target)", lambda x: rl.huber(torch.full((3,), 0.5), x)),
    ("smooth_l1(target)", lambda x: rl.smooth_l1(torch.full((3,), 0.5), x)),
    ("reinforce_surrogate(log_prob)", lambda x: rl.reinforce_surrogate(x, torch.ones(3))),
    ("reinforce_surrogate(loss)", lambda x: rl.reinforce_surrogate(-torch.ones(3), x)),
]


@pytest.mark.parametrize("name,call", NON_TENSOR_CASES, ids=[c[0] for c in NON_TENSOR_CASES])
def test_non_tensor_input_raises_type_error(name, call):
    with pytest.raises(TypeError):
        call([1.0, 0.0, 2.0])


def test_gumbel_noise_with_non_floating_dtype_is_refused():
    with pytest.raises((TypeError, ValueError)):
        rl.gumbel_noise((3,), generator=_gen(), dtype=torch.int64)


@pytest.mark.parametrize("fn", [rl.huber, rl.smooth_l1], ids=["huber", "smooth_l1"])
@pytest.mark.parametrize("reduction", ["avg", "Mean", "batchmean", "", "elementwise_mean"])
def test_invalid_reduction_raises_value_error(fn, reduction):
    x = _x()
    with pytest.raises(ValueError, match="reduction"):
        fn(x, torch.zeros_like(x), reduction=reduction)


def test_loo_baseline_needs_two_samples():
    log_prob = torch.full((1,), -0.3, requires_grad=True)
    with pytest.raises(ValueError):
        rl.reinforce_surrogate(log_prob, torch.ones(1), baseline="loo")
    # two samples are enough
    rl.reinforce_surrogate(torch.full((2,), -0.3, requires_grad=True), torch.ones(2), "loo")


# --------------------------------------------------------------------------------------
# General guarantees: no mutation, non-contiguous inputs, dtype/shape, device
# --------------------------------------------------------------------------------------


def _drop(shape, dim):
    s = list(shape)
    del s[dim]
    return tuple(s)


# (name, call(x), expected output shape from x's shape) -- x is (rows, categories)-like;
# random functions re-create their generator, so two calls give the same draw.
GENERAL_CASES = [
    ("softplus", lambda x: rl.softplus(x, beta=2.0), lambda s: s),
    ("softmax", lambda x: rl.softmax(x, 0.5, dim=0), lambda s: s),
    ("soft_argmax", lambda x: rl.soft_argmax(x, 0.5, dim=0), lambda s: _drop(s, 0)),
    ("soft_max", lambda x: rl.soft_max(x, 0.5, dim=-1), lambda s: _drop(s, -1)),
    ("one_hot_argmax", lambda x: rl.one_hot_argmax(x, dim=0), lambda s: s),
    ("huber", lambda x: rl.huber(x, x.flip(-1), delta=0.5), lambda s: s),
    ("huber_mean", lambda x: rl.huber(x, x.flip(-1), reduction="mean"), lambda s: ()),
    ("smooth_l1", lambda x: rl.smooth_l1(x, x.flip(0), beta=0.5), lambda s: s),
    ("smooth_l1_sum", lambda x: rl.smooth_l1(x, x.flip(0), reduction="sum"), lambda s: ()),
    ("stop_gradient", lambda x: rl.stop_gradient(x), lambda s: s),
    ("straight_through", lambda x: rl.straight_through(x.round(), x), lambda s: s),
    ("st_argmax", lambda x: rl.st_argmax(x, 0.5, dim=0), lambda s: _drop(s, 0)),
    ("st_one_hot_argmax", lambda x: rl.st_one_hot_argmax(x, 0.5, dim=-1), lambda s: s),
    (
        "normal_rsample",
        lambda x: rl.normal_rsample(x, 0.5, sample_shape=(2,), generator=_gen(1)),
        lambda s: (2, *s),
    ),
    ("gumbel_softmax", lambda x: rl.gumbel_softmax(x, 0.5, generator=_gen(2)), lambda s: s),
    (
        "gumbel_softmax_hard",
        lambda x: rl.gumbel_softmax(x, 0.5, hard=True, dim=0, generator=_gen(3)),
        lambda s: s,
    ),
    ("gumbel_max_sample", lambda x: rl.gumbel_max_sample(x, generator=_gen(4)), None),
    ("sparsemax", lambda x: rl.sparsemax(x, 0.5, dim=0), lambda s: s),
    ("entmax15", lambda x: rl.entmax15(x, 0.5, dim=-1), lambda s: s),
    (
        "relaxed_bernoulli_rsample",
        lambda x: rl.relaxed_bernoulli_rsample(x, 0.5, (2,), generator=_gen(5)),
        lambda s: (2, *s),
    ),
    (
        "relaxed_bernoulli_rsample_hard",
        lambda x: rl.relaxed_bernoulli_rsample(x, 0.5, hard=True, generator=_gen(6)),
        lambda s: s,
    ),
    ("gumbel_topk", lambda x: rl.gumbel_topk(x, 2, dim=0, generator=_gen(7)), "index"),
    (
        "perturbed_argmax",
        lambda x: rl.perturbed_argmax(x, 0.5, 64, dim=0, generator=_gen(8)),
        lambda s: s,
    ),
    (
        "perturbed_argmax_normal",
        lambda x: rl.perturbed_argmax(x, 0.5, 64, noise="normal", generator=_gen(9)),
        lambda s: s,
    ),
    (
        "reinforce_surrogate",
        lambda x: rl.reinforce_surrogate(x.flatten(), x.flatten() ** 2, baseline="loo"),
        lambda s: (),
    ),
]
GENERAL_IDS = [c[0] for c in GENERAL_CASES]


@pytest.mark.parametrize("name,call,shape_of", GENERAL_CASES, ids=GENERAL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("device", DEVICES)
def test_dtype_shape_device_preserved(name, call, shape_of, dtype, device):
    x = _x(dtype, (5, 4), device=device)
    out = call(x)
    assert isinstance(out, torch.Tensor)
    assert out.device == x.device
    if shape_of is None:  # gumbel_max_sample: integer indices
        assert out.dtype == torch.long and out.shape == (5,)
    elif shape_of == "index":  # gumbel_topk(x, 2, dim=0): two indices per column
        assert out.dtype == torch.long and out.shape == (2, 4)
    else:
        assert out.dtype == dtype
        assert tuple(out.shape) == shape_of(tuple(x.shape))


@pytest.mark.parametrize("name,call,shape_of", GENERAL_CASES, ids=GENERAL_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_inputs_never_modified(name, call, shape_of, dtype):
    x = _x(dtype, (5, 4), seed=3).requires_grad_(dtype.is_floating_point)
    before = x.detach().clone()
    out = call(x)
    if out.requires_grad:
        out.double().sum().backward()
    assert torch.equal(x.detach(), before)
    # and without autograd (in-place ops would not be caught by autograd's version check)
    y = _x(dtype, (5, 4), seed=3)
    call(y)
    assert torch.equal(y, before)


def test_two_argument_functions_never_modify_either_input():
    a, b = _x(seed=4), _x(seed=5)
    a0, b0 = a.clone(), b.clone()
    for fn in (rl.huber, rl.smooth_l1):
        for reduction in ("none", "mean", "sum"):
            fn(a, b, reduction=reduction)
    rl.straight_through(a, b)
    mu, sigma = _x(seed=6), _x(seed=7).abs() + 0.1
    mu0, sigma0 = mu.clone(), sigma.clone()
    rl.normal_rsample(mu, sigma, generator=_gen())
    assert torch.equal(a, a0) and torch.equal(b, b0)
    assert torch.equal(mu, mu0) and torch.equal(sigma, sigma0)


@pytest.mark.parametrize("name,call,shape_of", GENERAL_CASES, ids=GENERAL_IDS)
def test_non_contiguous_input_same_result_as_contiguous(name, call, shape_of):
    base = _x(torch.float64, (4, 10), seed=8)
    x = base.t()[::2]  # (5, 4), neither contiguous nor with unit stride
    assert not x.is_contiguous()
    out_nc = call(x)
    out_c = call(x.contiguous())
    torch.testing.assert_close(out_nc, out_c, rtol=1e-12, atol=1e-12)
    # gradients too: through a non-contiguous view of a leaf, and through a contiguous copy
    if out_nc.dtype.is_floating_point:
        leaf1 = base.clone().requires_grad_(True)
        leaf2 = base.clone().requires_grad_(True)
        o1 = call(leaf1.t()[::2])
        o2 = call(leaf2.t()[::2].contiguous())
        if o1.requires_grad:
            (g1,) = torch.autograd.grad(o1.sum(), leaf1)
            (g2,) = torch.autograd.grad(o2.sum(), leaf2)
            torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name,call,shape_of", GENERAL_CASES, ids=GENERAL_IDS)
def test_cuda_matches_cpu(name, call, shape_of):
    x = _x(torch.float32, (5, 4), seed=9)
    out_cpu = call(x)
    out_gpu = call(x.cuda())
    assert out_gpu.device.type == "cuda"
    torch.testing.assert_close(out_gpu.cpu(), out_cpu, rtol=1e-5, atol=1e-5)
