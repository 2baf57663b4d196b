"""reduction: the same bits whatever the variant, configuration or backend (the fixed
tree), NumPy's semantics (axes, keepdim, dtypes, NaN, empty), float16 accumulating in
float32, and the gradients' tie rule; the generated tests cover the rest."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.kernels import reduction as red
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

AVAILABLE = [name for name in ("cpu", "opencl", "cuda") if backends.get(name).available]


def _awkward(op: str, shape, dtype: str, rng) -> np.ndarray:
    """Mixed signs over many decades (a sum's bits depend on its order) and, in a fifth of
    the places, +0.0 and -0.0, among negative values for max (its sign of zero depends on
    the order) and positive ones for min."""
    x = np.exp(rng.uniform(-8, 4 if dtype == "float16" else 8, shape)) * rng.choice([-1.0, 1.0], shape)
    if op in ("max", "min"):
        x = np.abs(x) * (-1 if op == "max" else 1)
    return np.where(rng.random(shape) < 0.2, rng.choice([0.0, -0.0], shape), x).astype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax"])
def test_same_bits_whatever_variant_config_or_backend(op, dtype, rng):
    spec = red.REDUCE_SUM if op in red.SUM_OPS else red.REDUCE_MAX
    for shape in ((1, 70001, 1), (3, 5000, 1), (2, 3000, 7)):
        x = _awkward(op, shape, dtype, rng)
        seen = {}
        for device in AVAILABLE:
            backend = backends.get(device)
            if np.dtype(dtype) not in backend.dtypes():
                continue
            problem = Problem(spec.name, device, dtype, shape, (("op", op),))
            for variant in spec.for_backend(device):
                if variant.baseline or not variant.supports(problem):
                    continue
                for config in variant.configs(problem):
                    launcher = dispatch.force(spec, problem, variant, config).launcher
                    for repeat in range(2):
                        out = hakl.to_numpy(launcher(backend.asarray(x)))
                        seen[f"{device}/{variant.name} {config} #{repeat}"] = out.view(f"u{out.dtype.itemsize}")
        assert seen or op == "argmax", f"no kernel serves {op} {dtype}"
        first = next(iter(seen.values()), None)
        differ = [k for k, v in seen.items() if not np.array_equal(v, first)]
        assert not differ, f"{op} {dtype} {shape}: {differ} differ from {next(iter(seen))}"


def _numpy(op):
    return {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[op]


@pytest.mark.parametrize("device", backend_params())
def test_axes_and_keepdim_match_numpy(device, rng):
    backend = backends.get(device)
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    d = backend.asarray(x)
    for op in ("sum", "mean", "max", "min"):
        for axis in (None, 0, -1, 2, (0, 2), (1, -1), (0, 1, 2, 3), (3, 0)):
            for keepdim in (False, True):
                got = hakl.to_numpy(getattr(hakl, op)(d, axis, keepdim))
                want = _numpy(op)(x.astype(np.float64), axis=axis, keepdims=keepdim)
                assert got.shape == want.shape and got.dtype == np.float32, (op, axis, keepdim)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{op} {axis} {keepdim}")
    for axis in (None, 0, -1):
        for keepdim in (False, True):
            np.testing.assert_array_equal(hakl.to_numpy(hakl.argmax(d, axis, keepdim)),
                                          np.argmax(x, axis=axis, keepdims=keepdim))


@pytest.mark.parametrize("device", backend_params())
def test_dtypes_follow_paddle(device):
    backend = backends.get(device)
    ints = backend.asarray(np.array([[100, 120], [-7, 3]], np.int8))
    total = hakl.to_numpy(hakl.sum(ints, axis=1))
    assert total.dtype == np.int64 and total.tolist() == [220, -4]  # no int8 wrap: int64 as Paddle
    assert hakl.to_numpy(hakl.sum(backend.asarray(np.ones((3, 5), bool)))).tolist() == 15
    top = hakl.to_numpy(hakl.max(ints, axis=0))
    assert top.dtype == np.int8 and top.tolist() == [100, 120]
    assert hakl.to_numpy(hakl.argmax(ints)).dtype == np.int64
    with pytest.raises(TypeError, match=r"^mean: argument 'x' must have a floating dtype"):
        hakl.mean(ints)
    with pytest.raises(TypeError, match=r"^argmax: argument 'axis' must be an int or None"):
        hakl.argmax(ints, axis=(0, 1))
    with pytest.raises(ValueError, match=r"^sum: argument 'axis' = \(1, -1\) names an axis twice"):
        hakl.sum(ints, axis=(1, -1))
    with pytest.raises(TypeError, match=r"^max: argument 'keepdim' must be a bool"):
        hakl.max(ints, keepdim=1)


@pytest.mark.parametrize("device", backend_params())
def test_nan_inf_and_first_index(device):
    backend = backends.get(device)
    x = np.array([[1.0, np.nan, 5.0, np.nan], [2.0, 7.0, 7.0, -np.inf], [-np.inf] * 4, [np.inf, 1.0, -np.inf, 0.0]],
                 np.float32)
    d = backend.asarray(x)
    with np.errstate(invalid="ignore"):
        for op in ("sum", "max", "min"):
            np.testing.assert_array_equal(hakl.to_numpy(getattr(hakl, op)(d, axis=1)), _numpy(op)(x, axis=1))
    assert hakl.to_numpy(hakl.argmax(d, axis=1)).tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize("device", backend_params())
def test_empty_reductions(device):
    backend = backends.get(device)
    empty = backend.asarray(np.ones((3, 0), np.float32))
    assert hakl.to_numpy(hakl.sum(empty, axis=1)).tolist() == [0, 0, 0]
    assert np.isnan(hakl.to_numpy(hakl.mean(empty, axis=1))).all()
    assert hakl.to_numpy(hakl.sum(empty)) == 0
    assert hakl.to_numpy(hakl.max(empty, axis=0)).shape == (0,)  # nothing to reduce: no error
    for op in ("max", "min", "argmax"):
        with pytest.raises(ValueError, match=rf"^{op}: argument 'axis' = 1 reduces a zero-size axis"):
            getattr(hakl, op)(empty, axis=1)


@pytest.mark.parametrize("device", backend_params())
def test_float16_accumulates_in_float32(device):
    backend = backends.get(device)
    x = backend.asarray(np.ones((2, 5000), np.float16))  # float16 steps are 4 wide above 4096
    assert hakl.to_numpy(hakl.sum(x, axis=1)).tolist() == [5000, 5000]
    assert hakl.to_numpy(hakl.mean(x)).tolist() == 1.0


@pytest.mark.parametrize("device", backend_params())
def test_max_grad_gives_every_tie_the_gradient(device):
    backend = backends.get(device)
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    d, dout = backend.asarray(x), backend.asarray(np.array([10.0, 6.0], np.float32))
    out = hakl.max(d, axis=1)
    np.testing.assert_array_equal(hakl.to_numpy(hakl.max_grad(d, out, dout, axis=1)),
                                  [[10.0, 0.0, 10.0], [6.0, 6.0, 6.0]])
    low = hakl.min(d, axis=0, keepdim=True)
    np.testing.assert_array_equal(hakl.to_numpy(hakl.min_grad(d, low, backend.asarray(np.ones((1, 3), np.float32)),
                                                              axis=0, keepdim=True)), [[0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(hakl.to_numpy(hakl.mean_grad(d, dout, axis=1)), [[10 / 3] * 3, [2.0] * 3])
    with pytest.raises(ValueError, match=r"^sum_grad: argument 'dout' has shape \(3,\)"):
        hakl.sum_grad(d, backend.asarray(np.ones(3, np.float32)), axis=1)


def test_small_cpu_reductions_stay_on_the_calling_thread(monkeypatch):
    """The kernels' grain is in elements: a (32, 10) sum (32 tasks of 10 elements) is one
    part, a (4096, 4096) one is split (parallel_for runs one part when n < 2 * grain)."""
    from hakl.kernels.reduction import cpu as reduction_cpu

    calls = []
    real = reduction_cpu.parallel_for
    monkeypatch.setattr(reduction_cpu, "parallel_for",
                        lambda fn, n, grain, *a, **k: (calls.append((n, grain)), real(fn, n, grain, *a, **k)))
    rows = next(v for v in red.REDUCE_SUM.for_backend("cpu") if v.name == "rows")
    for shape in ((32, 10, 1), (4096, 4096, 1)):
        problem = Problem("reduce_sum", "cpu", "float32", shape, (("op", "sum"),))
        rows.build(problem, rows.default_config(problem))(np.ones(shape, np.float32))
    (small_n, small_grain), (big_n, big_grain) = calls
    assert small_n < 2 * small_grain and big_n >= 4 * big_grain


def test_repeated_calls_run_their_plan_and_bad_options_fail_every_time(rng):
    """A call like one before it runs that call's plan (hakl.op.call_key): new values give new
    results, a list axis and a tuple axis both serve, and bad options raise each time."""
    for axis in ([1], (1,), 1, [1]):
        x = rng.standard_normal((3, 4)).astype(np.float32)
        # against float64: two float32 orders of 4 terms differ by 2e-6 where the sum cancels
        np.testing.assert_allclose(hakl.sum(x, axis), x.astype(np.float64).sum(1), rtol=1e-6, atol=1e-6)
        dout = rng.standard_normal(3).astype(np.float32)
        np.testing.assert_array_equal(hakl.mean_grad(x, dout, axis), np.repeat(dout[:, None] / 4, 4, 1))
    for _ in range(2):
        with pytest.raises(TypeError, match=r"^sum: argument 'axis' must be an int"):
            hakl.sum(x, True)
        with pytest.raises(ValueError, match=r"^sum: argument 'axis' = \[1, 1\] names an axis twice"):
            hakl.sum(x, [1, 1])
        with pytest.raises(ValueError, match=r"^mean_grad: argument 'dout' has shape \(4,\)"):
            hakl.mean_grad(x, np.ones(4, np.float32), [1])


@pytest.mark.parametrize("device", backend_params())
def test_a_mean_divides_by_its_own_length_where_a_launcher_serves_the_bucket(device, rng):
    """(4, 1000) and (4, 1020) share a tuning bucket, and so a launcher: the second mean's
    divisor is 1020, not the first call's 1000 (the CPU launchers once read it from the build)."""
    backend = backends.get(device)
    for first, second, axis in (((4, 1000), (4, 1020), -1), ((1000, 4), (1020, 4), 0)):
        for shape in (first, second):
            x = rng.uniform(1, 2, shape).astype(np.float32)
            got = hakl.to_numpy(red.mean(backend.asarray(x), axis=axis))
            np.testing.assert_allclose(got, x.astype(np.float64).mean(axis=axis), rtol=1e-5, err_msg=str(shape))


def test_an_unhashable_axis_is_checked_in_full_and_named():
    """call_key cannot key a set or an array: planned() then checks the call afresh, which names it."""
    x = np.ones((2, 3), np.float32)
    for axis in ({0}, np.array([0])):
        for _ in range(2):
            with pytest.raises(TypeError, match="sum: argument 'axis'"):
                red.sum(x, axis=axis)
