"""Generated from the public functions' declarations (hakl.op.FUNCTIONS): error inputs
derived from the declared inputs, numeric gradients of every declared derivative in
float64, and device-built views of every sample's arrays, on every backend."""
from __future__ import annotations

import re

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.op import FLOATS, FUNCTIONS

from .conftest import backend_params

DEVICES = backend_params()
DIFFERENTIABLE = [f for f in FUNCTIONS.values() if f.derivative is not None]


def _to(backend, value):
    """Host arrays (and lists of them) in a sample, on `backend`."""
    if isinstance(value, np.ndarray):
        return backend.asarray(value)
    if isinstance(value, list):
        return [_to(backend, v) for v in value]
    return value


def _host(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v) for v in value)
    if value is None or isinstance(value, (int, float, str)):
        return value
    return hakl.to_numpy(value)


def _first_sample(function, dtype="float32"):
    dtype = dtype if dtype in function.dtypes else function.dtypes[0]
    return next(iter(function.samples(dtype, np.random.default_rng(0))))


# ---- errors: what every declared input promises ----------------------------------


def _wrong_dtype(function, backend: str):
    """A dtype outside the first input's domain on `backend`, or None when it takes them all."""
    domain = function.inputs[0].domain(backend)
    return next((d for d in ("int8", "complex64", "float16", "bool") if d not in domain
                 and np.dtype(d) in (*backends.get(backend).dtypes(), np.dtype("int8"), np.dtype("complex64"),
                                     np.dtype("bool"))), None)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("function", list(FUNCTIONS.values()), ids=lambda f: f.name)
def test_errors_name_the_function_and_argument(device, function):
    backend = backends.get(device)
    sample = _first_sample(function)
    args = [_to(backend, a) for a in sample.args]
    before = [_host(a) for a in args]
    name = re.escape(function.name)
    first = function.inputs[0].name
    with pytest.raises(TypeError, match=rf"^{name}: argument '{first}' must be "):
        function.fn(object(), *args[1:], **sample.kwargs)
    wrong = _wrong_dtype(function, device)
    if wrong is not None and isinstance(sample.args[0], np.ndarray):
        bad = backend.asarray(sample.args[0].astype(wrong))
        with pytest.raises(TypeError, match=rf"^{name}: .*argument '{first}' "):
            function.fn(bad, *args[1:], **sample.kwargs)
    if function.axis:
        for axis, error, words in ((99, ValueError, "= 99 is out of range"), (1.5, TypeError, "must be an int")):
            with pytest.raises(error, match=rf"^{name}: argument 'axis' {words}"):
                function.fn(*args, **{**sample.kwargs, "axis": axis})
    for a, b in zip(args, before):  # a failed call changes nothing
        np.testing.assert_equal(_host(a), b)


# ---- gradients: every declared derivative against finite differences in float64 ---


def _float_outputs(out):
    """The floating arrays of an output (a mask or an index output has no gradient)."""
    parts = list(out) if isinstance(out, (list, tuple)) else [out]
    return [p if p is not None and np.asarray(p).dtype.kind == "f" else None for p in parts]


def _weighted_sum(out, weights) -> float:
    return sum(float((np.asarray(o, np.float64) * w).sum())
               for o, w in zip(_float_outputs(out), weights) if o is not None)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("function", DIFFERENTIABLE, ids=lambda f: f.name)
def test_declared_derivative_matches_finite_differences(device, function, rng):
    backend = backends.get(device)
    if np.dtype("float64") not in backend.dtypes():
        pytest.skip(f"{device} has no float64")
    rule = function.derivative
    for sample in function.samples("float64", rng):
        host_out = _host(function.fn(*_to(backend, list(sample.args)), **sample.kwargs))
        weights = [None if o is None else rng.standard_normal(np.shape(o)) for o in _float_outputs(host_out)]
        out = function.fn(*_to(backend, list(sample.args)), **sample.kwargs)
        dout_parts = [None if w is None else backend.asarray(w) for w in weights]
        dout = (dout_parts if isinstance(host_out, list) else tuple(dout_parts)
                if isinstance(host_out, tuple) else dout_parts[0])
        grads = rule.backward(tuple(_to(backend, list(sample.args))), sample.kwargs, out, dout)
        assert len(grads) == len(rule.wrt)
        # Central differences of a sum whose terms reach S in magnitude carry a rounding
        # error of about eps * S / step: the absolute tolerance covers it (exp's outputs
        # reach thousands).
        magnitude = sum(float(np.abs(np.asarray(o, np.float64) * w).sum())
                        for o, w in zip(_float_outputs(host_out), weights) if o is not None)
        atol = 1e-8 + 10 * np.finfo(np.float64).eps * magnitude / 2e-6
        for position, grad in zip(rule.wrt, grads):
            arg = sample.args[position]
            if arg is None:  # an optional input not given (an RNN's initial state) has no gradient
                assert grad is None, f"{function.name}: a gradient for argument {position}, which was None"
                continue
            leaves = arg if isinstance(arg, list) else [arg]
            grad_leaves = grad if isinstance(arg, list) else [grad]
            for leaf, g in zip(leaves, grad_leaves):
                numeric = np.zeros_like(leaf, dtype=np.float64)
                for i in np.ndindex(leaf.shape):
                    value = leaf[i]
                    parts = []
                    for step in (1e-6, -1e-6):
                        leaf[i] = value + step
                        parts.append(_weighted_sum(_host(function.fn(*_to(backend, list(sample.args)),
                                                                     **sample.kwargs)), weights))
                    leaf[i] = value
                    numeric[i] = (parts[0] - parts[1]) / 2e-6
                np.testing.assert_allclose(hakl.to_numpy(g), numeric, rtol=1e-6, atol=atol,
                                           err_msg=f"{function.name} {sample.kwargs} on {device}")


# ---- layouts: every sample's arrays as views built on the device ----------------------


def _views(backend, host: np.ndarray) -> dict[str, object]:
    """Views on `backend` whose logical value is `host`: negative strides, an offset, and
    (2-d and up) a transposed one; each made from a device copy of a rearranged array."""
    views = {}
    if host.ndim >= 1 and host.size:
        views["negative_strides"] = backend.asarray(np.ascontiguousarray(host[::-1]))[::-1]
        padded = np.concatenate([host[:1], host])
        views["offset"] = backend.asarray(padded)[1:]
    if host.ndim >= 2:
        axes = tuple(reversed(range(host.ndim)))
        views["transposed"] = backend.asarray(np.ascontiguousarray(host.transpose(axes))).transpose(axes)
    return views


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("function", list(FUNCTIONS.values()), ids=lambda f: f.name)
def test_device_views_of_every_sample(device, function, rng):
    backend = backends.get(device)
    dtype = next(d for d in ("float32", *function.dtypes) if d in function.dtypes)
    for sample in function.samples(dtype, rng):
        want = _host(function.fn(*_to(backend, list(sample.args)), **sample.kwargs))
        for position, arg in enumerate(sample.args):
            if not isinstance(arg, np.ndarray):
                continue
            for view_name, view in _views(backend, arg).items():
                np.testing.assert_array_equal(_host(view), arg)
                args = list(_to(backend, list(sample.args)))
                args[position] = view
                got = _host(function.fn(*args, **sample.kwargs))
                where = f"{function.name} arg {position} {view_name} on {device}"
                for g, w in zip(_float_outputs(got) if isinstance(got, (list, tuple)) else [got],
                                _float_outputs(want) if isinstance(want, (list, tuple)) else [want]):
                    if w is not None:
                        np.testing.assert_array_equal(g, w, err_msg=where)


def test_every_public_function_is_declared():
    exported = {name for name in hakl.__all__ if callable(getattr(hakl, name))}
    helpers = {"asarray", "to_numpy", "device_of", "manual_seed"}
    assert exported - helpers <= set(FUNCTIONS), exported - helpers - set(FUNCTIONS)
    known = set(FLOATS) | {"bool", "int8", "uint8", "int16", "int32", "int64", "bfloat16"}
    assert all(f.dtypes and set(f.dtypes) <= known for f in FUNCTIONS.values())
