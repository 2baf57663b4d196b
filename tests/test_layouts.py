"""Every public op on every backend, given views built *on the device*: transposed,
Fortran order, negative strides, steps, offsets, broadcast, 0-d and empty. Each result
must equal the same call on a contiguous copy of the view (dropout: the same seed gives
the same mask by logical position), and the input must be left as it was."""
from __future__ import annotations

import numpy as np
import pytest

import hakl
from hakl import backends

from .conftest import backend_params


def _fortran(backend, host):
    if backend.name == "opencl":
        return backend.cl.array.to_device(backend.queue, np.asfortranarray(host), allocator=backend.pool)
    if backend.name == "cuda":
        return backend.cp.asfortranarray(backend.asarray(host))
    return np.asfortranarray(host)


def _broadcast(backend, row, rows: int):
    """`row` repeated `rows` times with a zero stride (no copy)."""
    d = backend.asarray(row)
    if backend.name == "opencl":
        return backend.cl.array.Array(backend.queue, (rows,) + d.shape, d.dtype, data=d.data,
                                      strides=(0,) + d.strides)
    if backend.name == "cuda":
        return backend.cp.broadcast_to(d, (rows,) + d.shape)
    return np.broadcast_to(d, (rows,) + d.shape)


def device_views(backend, host: np.ndarray) -> dict[str, object]:
    """Views of the 3-d `host` made on `backend` from a device copy."""
    d = backend.asarray(host)
    return {
        "transposed": d.transpose((2, 0, 1)),
        "fortran": _fortran(backend, host),
        "negative_strides": d[::-1, :, ::-1],
        "steps": d[:, ::2, ::3],
        "offset": d[1:, 2:],
        "broadcast": _broadcast(backend, host[0], 3),
        "zero_d": backend.asarray(host[0, 0, 0]),
        "empty": d[:, :0],
    }


# name -> (input dtypes, call(x) on one array)
CALLS = {
    "softmax": (("float32",), lambda x: hakl.softmax(x, axis=-1)),
    "log_softmax_axis0": (("float32",), lambda x: hakl.log_softmax(x, axis=0)),
    "softmax_grad": (("float32",), lambda x: hakl.softmax_grad(x, x, axis=-1)),
    "dropout": (("float32",), lambda x: hakl.dropout_forward(x, 0.3, seed=7)[0]),
    "dropout_backward": (("float32",), lambda x: hakl.dropout_backward(x, 0.3, seed=7)),
    "cast": (("float32", "int32", "float16"), lambda x: hakl.cast(x, "float64" if x.dtype != np.float64 else "int8")),
    "stack": (("float32", "complex64", "complex128", "bool"), lambda x: hakl.stack([x, x], axis=-1)),
    "unstack": (("float32", "complex128"), lambda x: hakl.unstack(x, axis=0) if x.ndim else [x]),
    "cumsum": (("float32", "int32"), lambda x: hakl.cumsum(x, axis=-1 if x.ndim else None)),
    "cumsum_to_float64": (("float32", "float16", "int32"), lambda x: hakl.cumsum(x, axis=0 if x.ndim else None,
                                                                                  dtype="float64")),
    "cumsum_from_bool": (("bool", "float16"), lambda x: hakl.cumsum(x, dtype="int32")),
    "cumsum_grad": (("float32",), lambda x: hakl.cumsum_grad(x, axis=-1 if x.ndim else None)),
    "add_broadcast": (("float32", "int32"), lambda x: hakl.add(x, x[..., :1] if x.ndim else x)),
    "multiply_grad": (("float32",), lambda x: hakl.multiply_grad(x, x, x)),
    "gelu": (("float32",), lambda x: hakl.gelu(x)),
    "relu_grad": (("float32",), lambda x: hakl.relu_grad(x, x)),
    "argsort": (("float32", "int32", "bool"), lambda x: hakl.argsort(x, axis=-1, stable=True)),
    "sort_descending_axis0": (("float32", "int32"), lambda x: hakl.sort(x, axis=0, descending=True)),
    "sort_grad": (("float32",), lambda x: hakl.sort_grad(x, hakl.argsort(x, axis=-1, stable=True), axis=-1)),
    "layer_norm": (("float32", "float16"), lambda x: hakl.layer_norm_with_stats(x, x.shape[-2:]) if x.ndim
                   else hakl.layer_norm(x.reshape(1), 1)),
    "sum_axes": (("float32", "int32", "bool"), lambda x: hakl.sum(x, axis=(0, -1) if x.ndim == 3 else None)),
    "max_keepdim": (("float32", "int32"), lambda x: hakl.max(x, axis=-1, keepdim=True)),
    "argmax": (("float32",), lambda x: hakl.argmax(x, axis=-1)),
    "mean_grad_axis0": (("float32",), lambda x: hakl.mean_grad(x, hakl.mean(x, axis=0), axis=0)),
}


def _host(dtype: str, rng) -> np.ndarray:
    x = rng.standard_normal((4, 6, 9)) * 4
    if dtype == "bool":
        return x > 0
    if "complex" in dtype:
        return (x + 1j * rng.standard_normal(x.shape)).astype(dtype)
    return x.astype(dtype)


def _as_list(out):
    return [hakl.to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else [hakl.to_numpy(out)]


@pytest.mark.parametrize("device", backend_params())
@pytest.mark.parametrize("name", sorted(CALLS))
def test_device_views_give_the_contiguous_result(device, name, rng):
    backend = backends.get(device)
    dtypes, call = CALLS[name]
    for dtype in dtypes:
        if dtype == "float64" and np.dtype(dtype) not in backend.dtypes():
            continue
        host = _host(dtype, rng)
        for view_name, view in device_views(backend, host).items():
            logical = hakl.to_numpy(view)
            before = logical.copy()
            want = _as_list(call(backend.asarray(np.array(logical, order="C"))))
            got = _as_list(call(view))
            where = f"{name} {dtype} {view_name} on {device}"
            assert len(got) == len(want), where
            for g, w in zip(got, want):
                assert g.shape == w.shape and g.dtype == w.dtype, where
                np.testing.assert_array_equal(g, w, err_msg=where)
            np.testing.assert_array_equal(hakl.to_numpy(view), before, err_msg=f"{where}: input changed")


@pytest.mark.parametrize("device", backend_params())
def test_cumsum_dtype_of_device_views_matches_numpy(device, rng):
    """cumsum(x, dtype=) converts after making x contiguous: the values are NumPy's."""
    backend = backends.get(device)
    host = _host("float32", rng)
    for view_name, view in device_views(backend, host).items():
        logical = hakl.to_numpy(view)
        if logical.ndim == 0:
            continue
        got = hakl.to_numpy(hakl.cumsum(view, axis=0, dtype="float64"))
        np.testing.assert_allclose(got, np.cumsum(logical.astype(np.float64), axis=0), rtol=1e-12,
                                   err_msg=f"{view_name} on {device}")
