"""softmax / log_softmax: every variant against the float64 reference, the public
API's axis / layout / error handling, and gradients checked numerically."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import hakl
from hakl.backends import onednn
from hakl.kernels.softmax import SOFTMAX_GRAD, reference
from hakl.op import Problem

from hakl.conformance import check_variant

from hakl.tuning import dispatch, verify

from ..conftest import backend_params, variant_params

@pytest.mark.skipif(not onednn.available(), reason="oneDNN is not installed")
def test_onednn_backward_keeps_nan_where_its_isa_kernel_gives_inf(monkeypatch):
    """oneDNN's AVX-512 jit backward returns -inf where the reference has NaN (seen on a
    Xeon; AVX2 machines run its reference code, which is right): replay that here."""
    lib = onednn.library()
    real = type(lib).execute

    def avx512_like(self, primitive, args):
        real(self, primitive, args)
        dx = args.get(onednn.ARG_DIFF_SRC)
        if isinstance(dx, np.ndarray):
            dx[np.isnan(dx)] = -np.inf

    monkeypatch.setattr(type(lib), "execute", avx512_like)
    variant = SOFTMAX_GRAD.variant("cpu", "onednn")
    report = check_variant(SOFTMAX_GRAD, variant, "float32", quick=True)
    assert report.checked and not report.failures, "\n".join(report.failures)


@pytest.mark.parametrize("op, variant, dtype", variant_params(SOFTMAX_GRAD, ["float16"]))
def test_backward_of_a_nearly_one_hot_row_among_float16_subnormals(op, variant, dtype, rng):
    """A CI run failed on a row of 7 whose softmax is nearly one-hot: every gradient is a
    float16 subnormal (scale 6e-6), where a correctly rounded result is off by 3e-8, more
    than atol * scale. The check allows an ulp of the output's dtype; without it every
    variant, the NumPy baseline included, fails here."""
    x = np.concatenate([[8.0], rng.uniform(-8, -4, 6)])[None, :, None]
    problem = Problem(op.name, variant.backend, dtype, x.shape, (("log", False),))
    y = reference.forward(problem, x).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    assert np.abs(reference.backward(problem, y.astype(np.float64), dy.astype(np.float64))).max() \
        < np.finfo(np.float16).tiny
    if variant.supports(problem):
        launcher = dispatch.force(op, problem, variant).launcher
        assert verify.run_case(op, problem, launcher, (y, dy)) is None


@pytest.mark.parametrize("device", backend_params())
@pytest.mark.parametrize("fn, log", [(hakl.softmax, False), (hakl.log_softmax, True)])
def test_public_api_any_axis_and_layout(device, fn, log, rng):
    base = rng.standard_normal((6, 10, 12)).astype(np.float32)
    cases = [(base, -1), (base, 0), (base, 1), (base[:, ::2, 3:], -1),      # strided
             (base.transpose(2, 0, 1), 2), (base[0], 0), (np.float32(2.0) * base[..., 0], -2)]
    for x, axis in cases:
        y = hakl.to_numpy(fn(hakl.asarray(x, device=device), axis=axis))
        moved = np.moveaxis(x.astype(np.float64), axis, -1)
        want = reference.forward(Problem("softmax", device, "float64", (1,) * 3, (("log", log),)),
                                 moved.reshape(-1, moved.shape[-1], 1))
        want = np.moveaxis(want.reshape(moved.shape), -1, axis)
        assert y.shape == x.shape and y.dtype == x.dtype
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("device", backend_params())
def test_empty_and_zero_d_inputs(device):
    for shape, axis in [((0, 5), -1), ((5, 0), -1), ((5, 0), 0), ((0,), 0)]:
        x = hakl.asarray(np.empty(shape, np.float32), device=device)
        assert hakl.to_numpy(hakl.softmax(x, axis)).shape == shape
        assert hakl.to_numpy(hakl.softmax_grad(x, x, axis)).shape == shape
    if device == "cpu":
        assert hakl.softmax(np.array(3.0), 0) == 1.0
        assert hakl.log_softmax(np.array(3.0), -1) == 0.0


@pytest.mark.parametrize("device", backend_params())
@pytest.mark.parametrize("log", [False, True])
def test_gradient_matches_finite_differences(device, log, rng):
    fwd = hakl.log_softmax if log else hakl.softmax
    grad = hakl.log_softmax_grad if log else hakl.softmax_grad
    x = rng.standard_normal((3, 5, 4))
    w = rng.standard_normal(x.shape)
    for axis in (-1, 1, 0):
        y = fwd(hakl.asarray(x, device=device), axis)
        dx = hakl.to_numpy(grad(y, hakl.asarray(w, device=device), axis))
        numeric = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            fp = (hakl.to_numpy(fwd(hakl.asarray(xp, device=device), axis)) * w).sum()
            fm = (hakl.to_numpy(fwd(hakl.asarray(xm, device=device), axis)) * w).sum()
            numeric[i] = (fp - fm) / (2 * h)
        np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_errors_name_the_op_and_argument():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"softmax: argument 'axis' = 2 is out of range"):
        hakl.softmax(x, axis=2)
    with pytest.raises(ValueError, match=r"log_softmax: argument 'axis' = -3"):
        hakl.log_softmax(x, axis=-3)
    with pytest.raises(TypeError, match=r"softmax: argument 'axis' must be an int"):
        hakl.softmax(x, axis=1.0)
    with pytest.raises(TypeError, match=r"softmax: argument 'x' must have a floating dtype .* got int32"):
        hakl.softmax(np.ones((2, 3), np.int32))
    with pytest.raises(TypeError, match=r"softmax: argument 'x' must be a NumPy, CuPy or pyopencl array, got list"):
        hakl.softmax([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"softmax_grad: argument 'dy' has shape \(3, 2\)"):
        hakl.softmax_grad(x, np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match=r"softmax_grad: argument 'dy' has dtype float64"):
        hakl.softmax_grad(x, np.ones((2, 3)))


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((8, 100)).astype(np.float32)
    before = x.copy()
    hakl.softmax(x)
    hakl.softmax_grad(x, x)
    np.testing.assert_array_equal(x, before)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), data=st.data())
def test_random_shapes_and_axes_on_cpu(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    x = np.random.default_rng().standard_normal(shape).astype(dtype)
    y = hakl.softmax(x, axis)
    moved = np.moveaxis(x.astype(np.float64), axis, -1)
    e = np.exp(moved - moved.max(-1, keepdims=True))
    np.testing.assert_allclose(y, np.moveaxis(e / e.sum(-1, keepdims=True), -1, axis), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("log", [False, True])
def test_nan_fixups_agree_for_every_dtype(log, rng):
    """The float16 path of oneDNN's NaN fix-up (NumPy; oneDNN has f16 only on some ISAs)
    marks the same elements as the numba one and as the reference."""
    from hakl.kernels.softmax import cpu

    x = np.concatenate([rng.standard_normal((3, 40, 2)), np.full((1, 40, 2), np.nan)])
    x[1, 7, 0] = np.nan
    problem = Problem("softmax_grad", "cpu", "float32", x.shape, (("log", log),))
    y = reference.forward(problem, x)
    dy = rng.standard_normal(x.shape)
    want = np.isnan(reference.backward(problem, y, dy))
    for dtype, fixup in (("float32", cpu._nan_grad), ("float16", cpu._nan_grad_numpy)):
        dx = np.zeros(x.shape, dtype)
        fixup(y.astype(dtype), dy.astype(dtype), dx, log)
        np.testing.assert_array_equal(np.isnan(dx), want)


@pytest.mark.parametrize("device", backend_params())
@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("log", [False, True])
def test_public_backward_keeps_nan_rows(device, dtype, log, rng):
    """Through the default dispatch (no tuning): a NaN row of y gives a NaN row of dx
    (float16 log_softmax_grad gave ±inf on an AVX-512 CPU, through oneDNN)."""
    from hakl.kernels.softmax import _special_rows

    x = _special_rows(300, dtype, rng)[:, :, 0]
    problem = Problem("softmax_grad", device, dtype, x.shape + (1,), (("log", log),))
    y = reference.forward(problem, x[:, :, None].astype(np.float64))[:, :, 0].astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    grad = hakl.log_softmax_grad if log else hakl.softmax_grad
    dx = hakl.to_numpy(grad(hakl.asarray(y, device=device), hakl.asarray(dy, device=device)))
    want = reference.backward(problem, y[:, :, None], dy[:, :, None])[:, :, 0]
    np.testing.assert_array_equal(np.isnan(dx), np.isnan(want))
    assert np.isfinite(dx[~np.isnan(want)]).all()


def test_backward_tolerance_follows_cancellation_in_nearly_one_hot_rows():
    """dy - sum(y * dy) cancels where y is nearly one-hot: a plain float32 evaluation is off by
    ulps of |dy| there, far above the result's own scale (a PoCL run failed on such a row), and
    passes; an error ten thousand ulps of those terms still fails."""
    rng = np.random.default_rng(7)
    x = np.array([[0.0, 9.0, -1.0, 0.5, 0.2], [9.5, 1.0, -9.0, 0.0, 0.3]])[:, :, None]
    problem = Problem("softmax_grad", "cpu", "float32", x.shape, (("log", False),))
    y = reference.forward(problem, x).astype(np.float32)
    for _ in range(50):
        dy = rng.standard_normal(x.shape).astype(np.float32)
        got = y * (dy - (y * dy).sum(axis=1, keepdims=True, dtype=np.float32))
        want = reference.backward(problem, y, dy)
        assert SOFTMAX_GRAD.check(problem, got, want, (y, dy)) is None
        worst = np.unravel_index(np.argmax(y), y.shape)
        terms = abs(float(dy[worst])) + float(np.abs(y * dy)[worst[0]].sum())  # |dy_i| + sum |y dy|
        wrong = got.copy()
        wrong[worst] += 1e4 * np.finfo(np.float32).eps * terms
        assert SOFTMAX_GRAD.check(problem, wrong, want, (y, dy)) is not None
