"""layer_norm: what the generic tests (tests/test_ops.py, test_functions.py) cannot see:
float64 computed in float64 (PaddlePaddle 2.0.1's fix), float16 statistics in float32,
the optional weight / bias in both directions, normalisation over several trailing axes,
bit-for-bit repeatable dweight / dbias, the statistics' own gradient, and the errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hakl
from hakl.kernels.layer_norm import reference

from ..conftest import backend_params

DEVICES = backend_params()


def _on(device, *arrays):
    return [None if a is None else hakl.asarray(a, device=device) for a in arrays]


def _np(a):
    return None if a is None else hakl.to_numpy(a)


def _float64(device):
    from hakl import backends

    if np.dtype("float64") not in backends.get(device).dtypes():
        pytest.skip(f"{device} has no float64")


@pytest.mark.parametrize("device", DEVICES)
def test_float64_is_computed_in_float64(device, rng):
    """An offset of 1e3 standard deviations: float32 statistics are off by ~1e-4 here,
    float64 ones by an ulp of the offset (~1e-13 of the deviations)."""
    _float64(device)
    x = 100 + 0.1 * rng.standard_normal((6, 300))
    w, b = rng.standard_normal(300), rng.standard_normal(300)
    y, mean, rstd = (_np(a) for a in hakl.layer_norm_with_stats(*_on(device, x), 300, *_on(device, w, b)))
    want = reference.forward_xp(np, x, w, b, 1e-5, np.float64)
    for got, ref in zip((y, mean, rstd), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    dout = rng.standard_normal(x.shape)
    grads = hakl.layer_norm_grad(*_on(device, x, dout), *_on(device, mean, rstd), 300, *_on(device, w), True)
    for got, ref in zip(grads, reference.backward_xp(x, dout, mean, rstd, w, True, np.float64)):
        np.testing.assert_allclose(_np(got), ref, rtol=1e-10, atol=1e-11 * np.abs(ref).max())


@pytest.mark.parametrize("device", DEVICES)
def test_weight_and_bias_are_optional_and_shapes_follow_the_contract(device, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float16)
    w, b = rng.standard_normal((4, 5)).astype(np.float16), rng.standard_normal((4, 5)).astype(np.float16)
    # normalized_shape as a list, a tuple, and the tuple again (those calls run the plans the
    # calls before them made: hakl.op.call_key).
    for weight, bias, shape in itertools.product((None, w), (None, b), ([4, 5], (4, 5), (4, 5))):
        y, mean, rstd = hakl.layer_norm_with_stats(*_on(device, x), shape, *_on(device, weight, bias))
        assert y.shape == x.shape and y.dtype == np.float16
        assert mean.shape == rstd.shape == (2, 3) and mean.dtype == rstd.dtype == np.float32
        x2 = x.astype(np.float64).reshape(6, 20)
        want = reference.forward_xp(np, x2, None if weight is None else weight.reshape(-1),
                                    None if bias is None else bias.reshape(-1), 1e-5, np.float64)[0]
        np.testing.assert_allclose(_np(y).reshape(6, 20), want, rtol=2e-3, atol=3e-3)
        dout = rng.standard_normal(x.shape).astype(np.float16)
        dx, dw, db = hakl.layer_norm_grad(*_on(device, x, dout, _np(mean), _np(rstd)), [4, 5], *_on(device, weight),
                                          has_bias=bias is not None)
        assert dx.shape == x.shape and (dw is None) == (weight is None) and (db is None) == (bias is None)
        if dw is not None:
            assert dw.shape == (4, 5) and dw.dtype == np.float16
        if db is not None:
            np.testing.assert_allclose(_np(db), dout.astype(np.float64).sum(axis=(0, 1)), rtol=3e-3, atol=3e-3)


@pytest.mark.parametrize("device", DEVICES)
def test_parameter_gradients_are_the_same_bits_every_call(device, rng):
    x = rng.standard_normal((700, 96)).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.standard_normal(96).astype(np.float32)
    _, mean, rstd = hakl.layer_norm_with_stats(*_on(device, x), 96, *_on(device, w))
    first = [_np(g) for g in hakl.layer_norm_grad(*_on(device, x, dout), mean, rstd, 96, *_on(device, w), True)]
    for _ in range(3):
        again = hakl.layer_norm_grad(*_on(device, x, dout), mean, rstd, 96, *_on(device, w), True)
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, _np(b))


@pytest.mark.parametrize("device", DEVICES)
def test_the_statistics_own_gradient_reaches_x(device, rng):
    """layer_norm_with_stats' Derivative with upstream gradients on mean and rstd too."""
    _float64(device)
    from hakl.op import FUNCTIONS

    x, w, b = rng.standard_normal((3, 7)), rng.standard_normal(7), rng.standard_normal(7)
    douts = rng.standard_normal((3, 7)), rng.standard_normal(3), rng.standard_normal(3)

    def loss(x):
        outs = reference.forward_xp(np, x, w, b, 1e-5, np.float64)
        return sum(float((o * d).sum()) for o, d in zip(outs, douts))

    args = tuple(_on(device, x)) + (7,) + tuple(_on(device, w, b))
    out = hakl.layer_norm_with_stats(*args)
    dx = _np(FUNCTIONS["layer_norm_with_stats"].derivative.backward(args, {}, out, tuple(_on(device, *douts)))[0])
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        numeric[i] = (loss(x + e) - loss(x - e)) / 2e-6
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_special_rows(device):
    """NaN / inf rows are NaN (the mean of a +inf row is inf); a constant row gives the bias."""
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 0.0, 1.0], [2.5, 2.5, 2.5]], np.float32)
    b = np.array([0.5, -1.0, 2.0], np.float32)
    y, mean, rstd = (_np(a) for a in hakl.layer_norm_with_stats(*_on(device, x), 3, None, *_on(device, b)))
    assert np.isnan(y[:2]).all() and np.isnan(rstd[:2]).all()
    assert np.isnan(mean[0]) and mean[1] == np.inf
    np.testing.assert_array_equal(y[2], b)


@pytest.mark.parametrize("device", DEVICES)
def test_errors_name_layer_norm_and_the_argument(device, rng):
    x = hakl.asarray(rng.standard_normal((4, 6)).astype(np.float32), device=device)
    with pytest.raises(ValueError, match=r"^layer_norm: argument 'normalized_shape' = \[5\] does not match"):
        hakl.layer_norm(x, 5)
    with pytest.raises(ValueError, match=r"^layer_norm: argument 'normalized_shape' = \[2, 4, 6\]"):
        hakl.layer_norm(x, (2, 4, 6))
    with pytest.raises(ValueError, match=r"^layer_norm: argument 'normalized_shape' must name"):
        hakl.layer_norm(x, ())
    with pytest.raises(TypeError, match=r"^layer_norm: argument 'normalized_shape' must be an int"):
        hakl.layer_norm(x, 6.0)
    with pytest.raises(ValueError, match=r"^layer_norm: argument 'weight' has shape \(5,\)"):
        hakl.layer_norm(x, 6, hakl.asarray(np.ones(5, np.float32), device=device))
    with pytest.raises(TypeError, match=r"^layer_norm: argument 'bias' has dtype float16"):
        hakl.layer_norm(x, 6, None, hakl.asarray(np.ones(6, np.float16), device=device))
    with pytest.raises(TypeError, match=r"^layer_norm: argument 'x' must have a floating dtype"):
        hakl.layer_norm(hakl.asarray(np.ones((2, 3), np.int32), device=device), 3)
    with pytest.raises(ValueError, match=r"^layer_norm: argument 'epsilon' = -1"):
        hakl.layer_norm(x, 6, epsilon=-1)
    _, mean, rstd = hakl.layer_norm_with_stats(x, 6)
    with pytest.raises(ValueError, match=r"^layer_norm_grad: argument 'mean' must have shape \(4,\)"):
        hakl.layer_norm_grad(x, x, rstd[:2], rstd, 6)
    with pytest.raises(ValueError, match=r"^layer_norm_grad: argument 'dout' must have x's shape"):
        hakl.layer_norm_grad(x, x[:2], mean, rstd, 6)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_inputs(device):
    x = hakl.asarray(np.ones((0, 5), np.float32), device=device)
    y, mean, rstd = hakl.layer_norm_with_stats(x, 5)
    assert y.shape == (0, 5) and mean.shape == (0,)
    dx, dw, db = hakl.layer_norm_grad(x, x, mean, rstd, 5, hakl.asarray(np.ones(5, np.float32), device=device), True)
    assert dx.shape == (0, 5)
    np.testing.assert_array_equal(_np(dw), np.zeros(5))
    np.testing.assert_array_equal(_np(db), np.zeros(5))


def test_verification_allows_the_rounding_of_cancelling_rows():
    """Two rows that made correct float32 kernels fail verification: a mean of values of 1e4
    whose sum nearly cancels (its error follows the terms, not the small result), and a row
    of two near-equal values with weight and bias (rstd ~ 1/sqrt(eps) magnifies x's
    rounding). A plain float32 evaluation passes; errors of 1e3 ulps of the terms fail."""
    from hakl.kernels.layer_norm import LAYER_NORM
    from hakl.op import Problem

    rng = np.random.default_rng(3)
    big = 1e4 * rng.standard_normal(300)
    big -= big.mean() - 0.05  # the mean cancels to 0.05
    pair = np.array([2.0, 2.0 + 1e-3])
    for x, flags in [(big[None, :], (("weight", True), ("bias", False))),
                     (pair[None, :], (("weight", True), ("bias", True)))]:
        x = x.astype(np.float32)
        n = x.shape[1]
        w = rng.uniform(-1.5, 1.5, n).astype(np.float32)
        b = rng.uniform(-1.5, 1.5, n).astype(np.float32) if dict(flags)["bias"] else None
        inputs = (x, w) if b is None else (x, w, b)
        problem = Problem("layer_norm", "cpu", "float32", x.shape, flags, (("epsilon", 1e-5),),
                          ("float32",) * len(inputs))
        expected = LAYER_NORM.reference(problem, *inputs)
        plain = reference.forward_xp(np, x, w, b, 1e-5, np.float32)
        assert LAYER_NORM.check(problem, plain, expected, inputs) is None
        k = 1 if b is None else 0  # the mean for the first row, y for the pair
        worse = list(plain)
        terms = np.abs(x).mean() if k == 1 else float(np.abs(x).max() * expected[2][0] * np.abs(w).max())
        worse[k] = worse[k] + np.float32(1e3 * np.spacing(np.float32(terms)))
        assert f"output {k}" in LAYER_NORM.check(problem, tuple(worse), expected, inputs)
