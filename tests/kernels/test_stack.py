"""stack / unstack: every variant bit-exact against NumPy for every dtype, the public
API's axes, layouts, input counts and errors, unstack as stack's gradient, 64-bit
indexing on the CPU, and every CUDA compile unit through nvcc."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.kernels.stack import STACK, UNSTACK, stack, unstack
from hakl.op import Problem

from ..conftest import backend_params


@pytest.mark.parametrize("op, variant", [pytest.param(op, v, id=f"{op.name}-{v.name}")
                                         for op in (STACK, UNSTACK) for v in op.for_backend("opencl") if v.space])
def test_every_opencl_configuration(op, variant, rng):
    """Each point of the tuning space on shapes that cross its block, chunk and
    16-part boundaries (the conformance test runs the default only)."""
    if not backends.get("opencl").available:
        pytest.skip(f"opencl: {backends.get('opencl').unavailable_reason}")
    for shape in [(1, 3, 70001), (1001, 17, 1), (37, 18, 33)]:
        problem = Problem(op.name, "opencl", "float32", shape)
        inputs = op.sample(problem, rng)
        expected = op.reference(problem, *inputs)
        for config in variant.configs(problem):
            out = problem.launch(variant.build(problem, config), *(hakl.asarray(a, device="opencl") for a in inputs))
            out = tuple(hakl.to_numpy(o) for o in out) if isinstance(out, tuple) else hakl.to_numpy(out)
            assert op.check(problem, out, expected) is None, f"{shape} {config}"


def _device(xs, device):
    return [hakl.asarray(x, device=device) for x in xs]


@pytest.mark.parametrize("device", backend_params())
def test_any_axis_layout_and_count(device, rng):
    base = rng.standard_normal((4, 6, 5)).astype(np.float32)
    for count in (1, 2, 17):
        xs = [base + i for i in range(count)]
        for axis in range(-4, 4):
            y = hakl.to_numpy(stack(_device(xs, device), axis=axis))
            np.testing.assert_array_equal(y, np.stack(xs, axis=axis))
    strided = [base[:, ::2, 1:] * i for i in range(3)]       # non-contiguous inputs
    transposed = [base.transpose(2, 0, 1) + i for i in range(3)]
    for xs in (strided, transposed):
        for axis in (0, 1, -1):
            np.testing.assert_array_equal(hakl.to_numpy(stack(_device(xs, device), axis)), np.stack(xs, axis))
    if device != "opencl":  # pyopencl arrays made from 0-d NumPy arrays come out 1-d
        zero_d = [np.array(float(i)) for i in range(5)]
        np.testing.assert_array_equal(hakl.to_numpy(stack(_device(zero_d, device), 0)), np.arange(5.0))


@pytest.mark.parametrize("device", backend_params())
def test_many_inputs_stay_in_bounds(device, rng):
    """3000 inputs, each a different constant, at sizes around vector and tile widths:
    every output element comes from the right input (the 2.0.2 fix: reads past the last one)."""
    for shape in [(5,), (1,), (3, 7)]:
        xs = [np.full(shape, i, np.int32) for i in range(3000)]
        for axis in (0, -1):
            y = hakl.to_numpy(stack(_device(xs, device), axis=axis))
            np.testing.assert_array_equal(y, np.stack(xs, axis=axis))
    xs = [rng.integers(0, 255, 4099, dtype=np.uint8) for _ in range(3)]
    for axis in (0, 1):
        np.testing.assert_array_equal(hakl.to_numpy(stack(_device(xs, device), axis)), np.stack(xs, axis))


@pytest.mark.parametrize("device", backend_params())
def test_empty_inputs(device):
    for shape, axis in [((0,), 0), ((0, 3), 1), ((3, 0), -1), ((2, 0, 4), 2)]:
        xs = [np.empty(shape, np.float32)] * 3
        y = stack(_device(xs, device), axis)
        assert hakl.to_numpy(y).shape == np.stack(xs, axis).shape
    parts = unstack(hakl.asarray(np.empty((0, 3), np.int64), device=device), axis=1)
    assert [hakl.to_numpy(p).shape for p in parts] == [(0,)] * 3
    assert unstack(hakl.asarray(np.empty((2, 0)), device=device), axis=1) == []


@pytest.mark.parametrize("device", backend_params())
def test_unstack_inverts_stack(device, rng):
    x = rng.integers(-100, 100, (3, 4, 5)).astype(np.int16)
    for axis in (-3, -2, -1, 0, 1, 2):
        parts = unstack(hakl.asarray(x, device=device), axis=axis)
        want = [np.take(x, i, axis=axis) for i in range(x.shape[axis])]
        assert len(parts) == len(want)
        for p, w in zip(parts, want):
            np.testing.assert_array_equal(hakl.to_numpy(p), w)
        back = stack(parts, axis=axis)
        np.testing.assert_array_equal(hakl.to_numpy(back), x)
    assert len(unstack(hakl.asarray(x, device=device), axis=1, num=4)) == 4


@pytest.mark.parametrize("device", backend_params())
def test_unstack_is_the_gradient_of_stack(device, rng):
    """d/dx_i sum(stack(xs) * w) by central differences equals unstack(w)[i]."""
    xs = [rng.standard_normal((3, 2)) for _ in range(3)]
    for axis in (0, 1, -1):
        w = rng.standard_normal(np.stack(xs, axis).shape)
        grads = [hakl.to_numpy(g) for g in unstack(hakl.asarray(w, device=device), axis)]
        h = 1e-6
        for i, x in enumerate(xs):
            numeric = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                plus = [a.copy() for a in xs]
                minus = [a.copy() for a in xs]
                plus[i][idx] += h
                minus[i][idx] -= h
                fp = (hakl.to_numpy(stack(_device(plus, device), axis)) * w).sum()
                fm = (hakl.to_numpy(stack(_device(minus, device), axis)) * w).sum()
                numeric[idx] = (fp - fm) / (2 * h)
            np.testing.assert_allclose(grads[i], numeric, rtol=1e-6, atol=1e-8)


def test_errors_name_the_op_and_input():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"stack: input 3 has shape \(2, 4\) but input 0 has \(2, 3\)"):
        stack([x, x, x, np.ones((2, 4), np.float32)])
    with pytest.raises(TypeError, match=r"stack: input 1 has dtype float64 but input 0 has float32"):
        stack([x, np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"stack: argument 'axis' = 3 is out of range \[-3, 2\] for 2-d inputs"):
        stack([x, x], axis=3)
    with pytest.raises(ValueError, match=r"stack: argument 'axis' = -4 is out of range"):
        stack([x, x], axis=-4)
    with pytest.raises(TypeError, match=r"stack: argument 'axis' must be an int, got float"):
        stack([x, x], axis=1.0)
    with pytest.raises(ValueError, match=r"stack: argument 'xs' is empty"):
        stack([])
    with pytest.raises(TypeError, match=r"stack: argument 'xs' must be a list or tuple of arrays, got ndarray"):
        stack(x)
    with pytest.raises(TypeError, match=r"stack: argument 'xs\[1\]' must be a NumPy, CuPy or pyopencl array, got list"):
        stack([x, [[1.0, 2.0, 3.0]] * 2])
    with pytest.raises(TypeError, match=r"stack: input 0 has dtype object, which is not supported"):
        stack([np.array([None]), np.array([None])])
    with pytest.raises(ValueError, match=r"unstack: argument 'axis' = 2 is out of range \[-2, 1\] for a 2-d input"):
        unstack(x, axis=2)
    with pytest.raises(ValueError, match=r"unstack: argument 'num' = 3 does not match x.shape\[0\] = 2"):
        unstack(x, num=3)
    with pytest.raises(ValueError, match=r"unstack: argument 'x' must have at least one dimension"):
        unstack(np.array(1.0))


def test_inputs_are_not_modified(rng):
    xs = [rng.standard_normal((100, 3)).astype(np.float32) for _ in range(4)]
    before = [x.copy() for x in xs]
    stack(xs, axis=1)
    unstack(stack(xs, axis=-1), axis=-1)
    for x, b in zip(xs, before):
        np.testing.assert_array_equal(x, b)


def test_read_only_inputs_stack_on_every_cpu_variant(rng):
    """The numba kernel takes input addresses through a writable-buffer fast path; read-only
    inputs (np.broadcast_to, frozen arrays) take the fallback and give the same result."""
    xs = [rng.standard_normal((7, 5)).astype(np.float32) for _ in range(3)]
    for x in xs:
        x.flags.writeable = False
    problem = Problem("stack", "cpu", "float32", (7, 3, 5))
    for variant in STACK.for_backend("cpu"):
        if variant.supports(problem):
            got = variant.build(problem, variant.default_config(problem))(*xs)
            np.testing.assert_array_equal(np.asarray(got).reshape(7, 3, 5), np.stack(xs, axis=1))


@pytest.mark.big_memory
def test_more_than_2_to_the_31_elements_on_cpu():
    """Two int8 inputs of 2**30 + 8 elements along axis 0: the numba kernel's indices
    pass 2**31 (a 32-bit index would wrap and write the second half over the first)."""
    n = (1 << 30) + 8
    a = np.resize(np.arange(251, dtype=np.uint8).view(np.int8), n)
    b = np.resize(np.arange(241, dtype=np.uint8).view(np.int8), n)
    a[-1], b[-1] = 7, 9
    numba_stack = STACK.variant("cpu", "numba")
    launcher = numba_stack.build(Problem("stack", "cpu", "int8", (1, 2, n)), {"chunk": 65536})
    y = launcher(a.reshape(1, n), b.reshape(1, n))
    assert y.shape == (1, 2, n) and y.size > 2 ** 31
    assert np.array_equal(y[0, 0], a) and np.array_equal(y[0, 1], b)
    assert y[0, 1, -1] == 9 and y[0, 0, -1] == 7
    del y
    parts = UNSTACK.variant("cpu", "numba").build(Problem("unstack", "cpu", "int8", (1, 2, n)),
                                                  {"chunk": 65536})(np.stack([a, b]).reshape(1, 2, n))
    assert np.array_equal(parts[1][0], b) and np.array_equal(parts[0][0], a)


NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
@pytest.mark.xdist_group("nvcc")
def test_cuda_units_compile_for_every_element_size():
    """stack.cu for each element size (1, 2, 4, 8 bytes) with each variant's default
    configuration (unstack builds the same units; the generic source test compiles
    every configuration for the float dtypes)."""
    from .test_cuda_sources import compile_all

    units = []
    for dtype in ("int8", "float16", "float32", "complex128"):
        problem = Problem("stack", "cuda", dtype, (7, 5, 1000))
        for variant in STACK.for_backend("cuda"):
            if variant.compile_unit is not None:
                units.append((f"stack {dtype}", *variant.compile_unit(problem, variant.default_config(problem))))
    failures = compile_all(units)
    assert not failures, "\n\n".join(failures[:5])
