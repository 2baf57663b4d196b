"""The oneDNN ctypes binding: loading, version check, primitive cache, errors,
unavailability. The softmax variant's results are checked with every other variant
in tests/kernels/test_softmax.py."""
from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from hakl.backends import onednn
from hakl.kernels.softmax import cpu as softmax_cpu
from hakl.op import Problem

needs_onednn = pytest.mark.skipif(not onednn.available(), reason=f"oneDNN: {onednn.unavailable_reason()}")


@pytest.fixture
def fresh_state(monkeypatch):
    """Forget the process's loaded library for one test (restored afterwards)."""
    monkeypatch.setattr(onednn, "_state", {})


@needs_onednn
def test_loads_the_wheels_library_and_checks_its_version():
    lib = onednn.library()
    assert lib.version[:2] == onednn.SUPPORTED_VERSION
    assert lib.cpu_runtime == onednn.RUNTIME_OMP
    assert os.path.basename(lib.path).startswith("libdnnl.so")
    assert onednn.describe()["onednn"] == ".".join(map(str, lib.version))


def test_other_versions_are_refused_with_a_reason():
    assert onednn.version_problem((3, 2, 1)) is None
    reason = onednn.version_problem((3, 4, 0))
    assert "3.4.0" in reason and "3.2.x" in reason


def test_missing_library_is_reported_with_the_path(fresh_state, monkeypatch, tmp_path):
    missing = tmp_path / "libdnnl.so.3"
    monkeypatch.setenv("HAKL_ONEDNN_LIBRARY", str(missing))
    with pytest.warns(RuntimeWarning, match="oneDNN is unavailable"):
        assert not onednn.available()
    assert str(missing) in onednn.unavailable_reason()
    assert "cannot load" in onednn.unavailable_reason()
    with pytest.raises(onednn.OneDNNUnavailable, match="cannot load"):
        onednn.library()
    assert not softmax_cpu._onednn_supported(Problem("softmax", "cpu", "float32", (2, 8, 1)))


def test_a_library_without_the_api_is_refused(fresh_state, monkeypatch):
    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("no libm to stand in for a wrong library")
    monkeypatch.setenv("HAKL_ONEDNN_LIBRARY", libm)
    with pytest.warns(RuntimeWarning):
        assert onednn.unavailable_reason() is not None
    assert "has no symbol dnnl_" in onednn.unavailable_reason()


@needs_onednn
def test_primitives_are_created_once_per_key():
    lib = onednn.library()
    shape = (3, 1237)  # a shape no other test uses, so the first call creates it
    t0 = time.perf_counter()
    first = lib.softmax_forward(shape, "float32", 1)
    created = time.perf_counter() - t0
    hits = []
    for _ in range(5):
        t0 = time.perf_counter()
        again = lib.softmax_forward(shape, "float32", 1)
        hits.append(time.perf_counter() - t0)
        assert again is first
    assert min(hits) < created
    assert lib.softmax_forward(shape, "float32", 1, log=True) is not first
    assert lib.softmax_forward(shape, "float32", 1, training=True) is not first


@needs_onednn
def test_error_status_raises_naming_the_function():
    lib = onednn.library()
    with pytest.raises(onednn.OneDNNError) as info:
        lib.softmax_forward((4, 5), "float32", axis=2)  # no axis 2 in a 2-D tensor
    err = info.value
    assert err.function == "dnnl_softmax_forward_primitive_desc_create"
    assert err.status == 2
    assert "dnnl_softmax_forward_primitive_desc_create failed with dnnl_invalid_arguments (2)" in str(err)


@needs_onednn
def test_dtype_support_is_probed_not_assumed():
    lib = onednn.library()
    assert lib.softmax_supports("float32")
    assert not lib.softmax_supports("float64")  # oneDNN 3.2 has no f64 softmax on CPU
    assert not lib.softmax_supports("int16")  # no oneDNN data type at all


@needs_onednn
@pytest.mark.parametrize("shape, axis", [((5, 33), 1), ((4, 6, 7), 1), ((6, 7), 0)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward_and_backward_execute(shape, axis, log, rng):
    lib = onednn.library()
    x = rng.standard_normal(shape).astype(np.float32)
    y, dy, dx = np.empty_like(x), rng.standard_normal(shape).astype(np.float32), np.empty_like(x)
    lib.softmax_forward(shape, "float32", axis, log).execute({onednn.ARG_SRC: x, onednn.ARG_DST: y})
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis, keepdims=True))
    want = np.log(e / e.sum(axis, keepdims=True)) if log else e / e.sum(axis, keepdims=True)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    lib.softmax_backward(shape, "float32", axis, log).execute(
        {onednn.ARG_DST: y, onednn.ARG_DIFF_DST: dy, onednn.ARG_DIFF_SRC: dx})
    y64, dy64 = y.astype(np.float64), dy.astype(np.float64)
    if log:
        want_dx = dy64 - np.exp(y64) * dy64.sum(axis, keepdims=True)
    else:
        want_dx = y64 * (dy64 - (dy64 * y64).sum(axis, keepdims=True))
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-5)


@needs_onednn
def test_reorder_converts_and_relayouts(rng):
    lib = onednn.library()
    assert lib.reorder_supports("float32", "float16") and lib.reorder_supports("int8", "int32")
    assert not lib.reorder_supports("float64", "float32")  # no f64 reorder on CPU
    assert not lib.reorder_supports("bool", "float32")  # dnnl_boolean is the graph API's
    x = (rng.standard_normal((6, 9)) * 100).astype(np.float32)
    y = np.empty((6, 9), np.float16)
    lib.reorder(x.shape, "float32", y.shape, "float16").execute({onednn.ARG_FROM: x, onednn.ARG_TO: y})
    np.testing.assert_array_equal(y, x.astype(np.float16))
    t = np.empty((9, 6), np.float32)  # the transpose, written through strides
    lib.reorder(x.shape, "float32", x.shape, "float32", dst_strides=(1, 6)).execute(
        {onednn.ARG_FROM: x, onednn.ARG_TO: onednn.Memory(lib, lib.memory_desc(x.shape, "float32", (1, 6)), t.T)})
    np.testing.assert_array_equal(t, x.T)


@needs_onednn
def test_reorder_into_takes_transposed_and_reversed_views(rng):
    """RNN weights reordered from a transposed view (size-1 axes in front, stride 0) and from
    a reversed one (copied first) give the bytes the contiguous copy gives."""
    lib = onednn.library()
    prim = lib.rnn_forward("lstm", 3, 2, 5, 4, "float32")
    w = rng.standard_normal((16, 5)).astype(np.float32)  # PaddlePaddle's (G*H, I)
    view = w.reshape(4, 4, 5).transpose(2, 0, 1)[None, None]
    want = lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, np.ascontiguousarray(view)).array
    np.testing.assert_array_equal(lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, view).array, want)
    flipped = w[::-1].reshape(4, 4, 5).transpose(2, 0, 1)[None, None]
    np.testing.assert_array_equal(lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, flipped).array,
                                  lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, np.ascontiguousarray(flipped)).array)
    assert not np.array_equal(want, lib.reorder_into(prim, onednn.ARG_WEIGHTS_LAYER, flipped).array)


@needs_onednn
def test_concat_joins_along_an_axis_and_caps_the_sources(rng):
    lib = onednn.library()
    xs = [rng.integers(-9, 9, (4, n, 5)).astype(np.int32) for n in (1, 3, 2)]
    out = np.empty((4, 6, 5), np.int32)
    prim = lib.concat([x.shape for x in xs], "int32", 1)
    prim.execute({**{onednn.ARG_MULTIPLE_SRC + i: x for i, x in enumerate(xs)}, onednn.ARG_DST: out})
    np.testing.assert_array_equal(out, np.concatenate(xs, 1))
    with pytest.raises(ValueError, match="1 to 1024 sources"):
        lib.concat([(1, 1)] * 1025, "int32", 0)


@needs_onednn
def test_execute_refuses_buffers_that_do_not_fit():
    lib = onednn.library()
    prim = lib.softmax_forward((4, 8), "float32", 1)
    x = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="cannot back"):
        prim.execute({onednn.ARG_SRC: x, onednn.ARG_DST: np.empty((4, 4), np.float32)})
    with pytest.raises(ValueError, match="cannot back"):
        prim.execute({onednn.ARG_SRC: np.ones((8, 8), np.float32)[:, ::2], onednn.ARG_DST: x})
    with pytest.raises(ValueError, match="takes no argument"):
        prim.execute({onednn.ARG_SRC: x, onednn.ARG_DST: x.copy(), onednn.ARG_WEIGHTS_LAYER: x})


@needs_onednn
def test_memory_descriptors_plain_strided_and_tagged():
    lib = onednn.library()
    assert lib.memory_desc((2, 3, 4), "float32").nbytes == 96
    assert lib.memory_desc((2, 3, 4), "float32", tag=onednn.FORMAT_TAG_PLAIN[3]).nbytes == 96
    view = np.zeros((6, 10), np.float32)[::2, 1:9]  # rows 20 elements apart
    md = onednn.MemoryDesc.of(lib, view)
    assert (md.shape, md.strides, md.nbytes) == ((3, 8), (20, 1), 3 * 20 * 4)
    assert lib.memory(md, view).array is view
    with pytest.raises(ValueError, match="cannot back"):
        lib.memory(md, np.zeros((3, 8), np.float32))
    with pytest.raises(TypeError, match="no data type"):
        lib.memory_desc((2,), "complex64")


@needs_onednn
def test_openmp_threads_follow_numba_unless_the_user_set_them():
    import numba

    lib = onednn.library()
    if "OMP_NUM_THREADS" in os.environ:
        assert lib.threads is None
    else:
        assert lib.threads == numba.get_num_threads()
    code = "from hakl.backends import onednn; print(onednn.library().threads)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "None"
