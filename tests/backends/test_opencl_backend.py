"""The OpenCL backend (pooled arrays, device-side strided copies, dtypes, timing,
probe reasons) and softmax.cl configurations beyond the heuristic defaults that
tests/kernels/test_softmax.py runs."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.backends.opencl import OpenCLBackend
from hakl.kernels.softmax import SOFTMAX, SOFTMAX_GRAD
from hakl.op import Problem
from hakl.tuning import dispatch

from ..conftest import backend_params

pytestmark = pytest.mark.parametrize("device", backend_params(("opencl",)))


@pytest.fixture
def cl_backend(device):
    return backends.get(device)


def test_dtypes_reflect_the_device(cl_backend):
    names = [d.name for d in cl_backend.dtypes()]
    # half is storage (vload_half / vstore_half are core OpenCL), so every device has it
    assert names[:2] == ["float16", "float32"]
    assert ("float64" in names) == cl_backend.has_fp64()


def test_arrays_come_from_the_pool(cl_backend):
    a = cl_backend.asarray(np.arange(10, dtype=np.float32))
    b = cl_backend.empty((3, 4), np.float16)
    assert a.allocator is cl_backend.pool and b.allocator is cl_backend.pool
    np.testing.assert_array_equal(cl_backend.to_numpy(a), np.arange(10, dtype=np.float32))
    assert cl_backend.to_numpy(cl_backend.asarray(np.empty((0, 5), np.float32))).shape == (0, 5)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_ascontiguous_copies_strided_views_on_the_device(cl_backend, dtype):
    if np.dtype(dtype) not in cl_backend.dtypes():
        pytest.skip(f"no {dtype}")
    host = np.arange(6 * 10 * 12).reshape(6, 10, 12).astype(dtype)
    dev = cl_backend.asarray(host)
    assert cl_backend.ascontiguous(dev) is dev
    for view, want in [(dev[:, ::2, 3:], host[:, ::2, 3:]), (dev[1:, 4], host[1:, 4]),
                       (dev[::-1, :, ::3], host[::-1, :, ::3]), (dev[2:], host[2:])]:
        out = cl_backend.ascontiguous(view)
        assert out.flags.c_contiguous and out.shape == want.shape
        np.testing.assert_array_equal(out.get(), want)
        np.testing.assert_array_equal(cl_backend.to_numpy(view), want)


def test_kernels_are_built_once(cl_backend):
    source = "__kernel void k(__global float *a) { a[get_global_id(0)] = VALUE; }"
    k = cl_backend.kernel(source, "k", {"VALUE": 2})
    assert cl_backend.kernel(source, "k", {"VALUE": 2}) is k
    a = cl_backend.empty((4,), np.float32)
    k(cl_backend.queue, (4,), None, a.data)
    np.testing.assert_array_equal(a.get(), 2)


def test_timing_and_copy_bandwidth(cl_backend):
    a = cl_backend.asarray(np.ones(1 << 16, np.float32))
    b = cl_backend.empty(a.shape, a.dtype)
    assert cl_backend.elapsed(lambda: cl_backend._copy_into(b, a)) > 0
    np.testing.assert_array_equal(b.get(), 1)
    assert cl_backend.copy_bandwidth(1 << 20, repeat=3) > 0
    cl_backend._lead_in()  # what a GPU queues before a timed function; calibrated once
    cl_backend.synchronize()
    assert cl_backend._spin_steps >= 1


def test_probe_names_the_unmatched_device(device, monkeypatch):
    monkeypatch.setenv("HAKL_OPENCL_DEVICE", "no such device")
    reason = OpenCLBackend().unavailable_reason
    assert "HAKL_OPENCL_DEVICE='no such device'" in reason and "have [" in reason


def test_softmax_of_a_view_with_an_offset(cl_backend):
    host = np.random.default_rng(0).standard_normal((5, 33)).astype(np.float32)
    y = hakl.softmax(cl_backend.asarray(host)[1:], axis=-1)
    e = np.exp(host[1:] - host[1:].max(-1, keepdims=True))
    np.testing.assert_allclose(y.get(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


# Configurations the defaults on this device do not reach: each mode and split
# of wg_row, odd vector widths, cols with SPLIT and with the VEC = 1 fallback.
ROWS_CONFIGS = [
    {"WG": 64, "VEC": 1, "ROWS": 1, "BLOCKED": 0, "MODE": 0},
    {"WG": 32, "VEC": 2, "ROWS": 4, "BLOCKED": 1, "MODE": 1},
    {"WG": 32, "VEC": 4, "ROWS": 2, "BLOCKED": 0, "MODE": 2},
]
COLS_CONFIGS = [{"WG": 16, "VEC": 4, "SPLIT": 4, "CACHE": 1}, {"WG": 32, "VEC": 1, "SPLIT": 8, "CACHE": 0}]


@pytest.mark.parametrize("variant, configs", [("wg_row", ROWS_CONFIGS), ("cols", COLS_CONFIGS)])
def test_softmax_configs_beyond_the_defaults(cl_backend, variant, configs):
    rng = np.random.default_rng(1)
    for op in (SOFTMAX, SOFTMAX_GRAD):
        v = op.variant("opencl", variant)
        for config in configs:
            if op is SOFTMAX_GRAD and config.get("MODE") == 1:
                config = dict(config, MODE=0)
            for problem, inputs in op.cases("opencl", "float32", rng, True):
                if not v.supports(problem):
                    continue
                out = cl_backend.to_host(dispatch.force(op, problem, v, config).launcher(
                    *(cl_backend.asarray(a) for a in inputs)))
                error = op.check(problem, out, op.reference(problem, *inputs), inputs)
                assert error is None, f"{op.name} {variant} {config} {problem.shape} {problem.flags}: {error}"


@pytest.mark.parametrize("variant, config", [
    ("wg_row", {"WG": 8, "VEC": 1, "ROWS": 8, "BLOCKED": 0, "MODE": 2}),
    ("cols", {"WG": 8, "VEC": 1, "SPLIT": 1, "CACHE": 1}),
])
def test_builds_refuse_extents_longer_than_they_keep(cl_backend, variant, config):
    """Private copies are sized at build time (a launcher serves its bucket); a
    longer row or column is refused, never truncated."""
    shape = (4, 64, 1) if variant == "wg_row" else (1, 64, 4)
    problem = Problem("softmax", "opencl", "float32", shape, (("log", False),))
    launcher = dispatch.force(SOFTMAX, problem, SOFTMAX.variant("opencl", variant), config).launcher
    longer = (shape[0], 4097, shape[2])
    with pytest.raises(ValueError, match="exceed"):
        launcher(cl_backend.asarray(np.zeros(longer, np.float32)))
