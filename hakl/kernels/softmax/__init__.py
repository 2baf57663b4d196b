"""softmax and log_softmax, forward and backward (PaddlePaddle 2.0 semantics).

    >>> import numpy as np, hakl
    >>> y = hakl.softmax(np.array([[1.0, 2.0, 3.0]], np.float32), axis=-1)
    >>> np.round(hakl.to_numpy(y), 4)
    array([[0.09  , 0.2447, 0.6652]], dtype=float32)

Every variant sees the input as a contiguous (outer, n, inner) array and
normalises over n: inner == 1 is the last-axis case (rows), inner > 1 a
non-last axis (columns, read coalesced along inner). A row that holds NaN or
+inf, or is all -inf, gives NaN, as in PyTorch and Paddle.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, check_axis, dtype_name,
                   option, register, register_function, validate)
from ...tuning import dispatch
from . import reference

# (rtol, atol as a fraction of the largest |reference| value)
TOLERANCES = {"float16": (2e-3, 2e-4), "float32": (1e-4, 1e-6), "float64": (1e-9, 1e-12)}
# The backward's dy - sum(y * dy) cancels: a float32 kernel (oneDNN's) loses bits
# relative to |dy|, so its absolute term is looser.
GRAD_TOLERANCES = {**TOLERANCES, "float32": (1e-4, 1e-5)}


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return ((3 * rng.standard_normal(problem.shape, dtype=np.float32)).astype(problem.dtype),)


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """y = the forward's output (log_softmax's when the log flag is set) and a random dy."""
    (x,) = _sample_forward(problem, rng)
    y = reference.forward(problem, x.astype(np.float64)).astype(problem.dtype)
    return y, rng.standard_normal(problem.shape, dtype=np.float32).astype(problem.dtype)


# (outer, n, inner): short / medium / long / odd rows, one row, one column, non-last axes
SHAPES = [(1, 1, 1), (1, 7, 1), (64, 32, 1), (33, 1000, 1), (5, 1025, 1), (3, 4097, 1),
          (2, 70001, 1), (1, 3, 1000), (4, 33, 17), (16, 128, 16), (2, 1, 9), (7, 300, 3)]
QUICK_SHAPES = [(1, 7, 1), (33, 1000, 1), (3, 4097, 1), (4, 33, 17)]


def _special_rows(n: int, dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Rows: random, all -inf, half -inf, a NaN, a +inf, magnitudes near ±1e4 (±3e4 in fp16,
    so that log_softmax's x - max stays inside fp16's range)."""
    big = 3e4 if dtype == "float16" else 1e4
    rows = 3 * rng.standard_normal((6, n))
    rows[1] = -np.inf
    rows[2, ::2] = -np.inf
    rows[3, n // 2] = np.nan
    rows[4, n // 3] = np.inf
    rows[5] = rng.uniform(-big, big, n)
    return rows.astype(dtype)[:, :, None]


def _compare_grad(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """The tolerances relative to each element's terms, not only to the array's scale: dy_i - s
    (s = sum(y * dy)) cancels in a row whose softmax is nearly one-hot, so a float32 kernel is
    off by ulps of |dy_i| + |s| there, however small the result and the array's largest value."""
    from ...op import _close

    if out.shape != expected.shape:
        return f"shape {out.shape} != expected {expected.shape}"
    if len(inputs) != 2:
        raise TypeError("softmax_grad's check reads the host inputs (y, dy): pass them to Op.check")
    y, dy = (np.asarray(a, np.float64) for a in inputs)
    with np.errstate(invalid="ignore", over="ignore"):
        if problem.flag("log"):  # dy - exp(y) * sum(dy)
            magnitude = np.abs(dy) + np.exp(y) * np.abs(dy).sum(axis=1, keepdims=True)
        else:
            magnitude = np.abs(y) * (np.abs(dy) + np.abs(y * dy).sum(axis=1, keepdims=True))
    rtol, atol = GRAD_TOLERANCES[problem.dtype]
    return _close(out, expected, rtol, atol * SOFTMAX_GRAD.atol_growth(problem), magnitude)


def _cases(op_name: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for log in (False, True):
            flags = (("log", log),)
            for shape in QUICK_SHAPES if quick else SHAPES:
                problem = Problem(op_name, backend, dtype, shape, flags)
                yield problem, (_sample_forward if op_name == "softmax" else _sample_backward)(problem, rng)
            for n in (5, 300) if quick else (5, 300, 5000):
                x = _special_rows(n, dtype, rng)
                problem = Problem(op_name, backend, dtype, x.shape, flags)
                if op_name == "softmax":
                    yield problem, (x,)
                else:  # the forward's output on those rows (NaN rows included), random dy
                    y = reference.forward(problem, x.astype(np.float64)).astype(dtype)
                    yield problem, (y, rng.standard_normal(x.shape).astype(dtype))
    return cases


SOFTMAX = register(Op(
    name="softmax",
    reference=reference.forward,
    sample=_sample_forward,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    tolerances=TOLERANCES,
    cases=_cases("softmax"),
    inputs=(Input("x"),),
    example=lambda x, axis, o: (log_softmax if option(o, "log") else softmax)(x, axis),
))
SOFTMAX_GRAD = register(Op(
    name="softmax_grad",
    reference=reference.backward,
    sample=_sample_backward,
    nbytes=lambda p: 3 * p.size * p.np_dtype.itemsize,
    tolerances=GRAD_TOLERANCES,
    # A float32 kernel (oneDNN's) sums n values of dy in float32: its error grows as sqrt(n).
    atol_growth=lambda p: max(1.0, math.sqrt(p.shape[1] / 4096)),
    compare=_compare_grad,
    cases=_cases("softmax_grad"),
    inputs=(Input("y"), Input("dy", role="grad")),
    example=lambda x, axis, o: (log_softmax_grad if option(o, "log") else softmax_grad)(x, x, axis),
))
attach_variants(__name__, {SOFTMAX: "forward_variants", SOFTMAX_GRAD: "backward_variants"})


FORWARD_INPUTS, BACKWARD_INPUTS = SOFTMAX.inputs, SOFTMAX_GRAD.inputs


def _canonical(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    if not shape:
        return (1, 1, 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


def _run(op: Op, name: str, flags: tuple, axis: Any, *arrays: Any):
    prepared = dispatch.planned(call_key(name, arrays, axis), lambda: _prepare(op, name, flags, axis, arrays))
    return prepared(*arrays)


def _prepare(op: Op, name: str, flags: tuple, axis: Any, arrays: tuple):
    """The call on arrays like `arrays`, checked: a function of the arrays."""
    backend = validate(name, FORWARD_INPUTS if len(arrays) == 1 else BACKWARD_INPUTS, arrays)
    first = arrays[0]
    shape, dtype = first.shape, first.dtype
    axis = check_axis(name, axis, max(first.ndim, 1), f"a {first.ndim}-d input")
    if first.size == 0:
        return lambda *arrays: backend.empty(shape, dtype)
    shape3 = _canonical(shape, axis)
    launcher = dispatch.select(op, Problem(op.name, backend.name, dtype_name(dtype), shape3, flags)).launcher

    def run(*arrays):
        return launcher(*[backend.ascontiguous(a).reshape(shape3) for a in arrays]).reshape(shape)

    return run


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, on the device that holds `x`."""
    return _run(SOFTMAX, "softmax", (("log", False),), axis, x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - log(sum(exp(x))) along `axis`, computed without overflow."""
    return _run(SOFTMAX, "log_softmax", (("log", True),), axis, x)


def softmax_grad(y: Any, dy: Any, axis: int = -1) -> Any:
    """Gradient of softmax w.r.t. its input, given its output `y` and the output gradient `dy`."""
    return _run(SOFTMAX_GRAD, "softmax_grad", (("log", False),), axis, y, dy)


def log_softmax_grad(y: Any, dy: Any, axis: int = -1) -> Any:
    """Gradient of log_softmax w.r.t. its input, given its output `y` and `dy`."""
    return _run(SOFTMAX_GRAD, "log_softmax_grad", (("log", True),), axis, y, dy)


# ---- the public functions' declarations ----------------------------------------


def _samples(backward: bool, log: bool):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis in (((3, 5, 4), -1), ((3, 5, 4), 1), ((3, 5, 4), 0), ((7,), 0)):
            x = rng.standard_normal(shape).astype(dtype)
            if not backward:
                yield Sample((x,), {"axis": axis})
                continue
            y = (log_softmax if log else softmax)(x, axis)
            yield Sample((y, rng.standard_normal(shape).astype(dtype)), {"axis": axis})
    return samples


def _forward_derivative(grad):
    return Derivative((0,), lambda args, kwargs, out, dout: (grad(out, dout, kwargs.get("axis", -1)),),
                      saves=("output",))


register_function(
    Function("softmax", softmax, ("softmax",), FORWARD_INPUTS, _samples(False, False), axis=True,
             derivative=_forward_derivative(softmax_grad)),
    Function("log_softmax", log_softmax, ("softmax",), FORWARD_INPUTS, _samples(False, True), axis=True,
             derivative=_forward_derivative(log_softmax_grad)),
    Function("softmax_grad", softmax_grad, ("softmax_grad",), BACKWARD_INPUTS, _samples(True, False), axis=True),
    Function("log_softmax_grad", log_softmax_grad, ("softmax_grad",), BACKWARD_INPUTS, _samples(True, True),
             axis=True),
)
