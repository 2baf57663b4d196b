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

from ...backends import backend_of
from ...op import Op, Problem, check_axis, dtype_name, register
from ...tuning import dispatch
from . import cpu, cuda, opencl, reference

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
))
SOFTMAX_GRAD = register(Op(
    name="softmax_grad",
    reference=reference.backward,
    sample=_sample_backward,
    nbytes=lambda p: 3 * p.size * p.np_dtype.itemsize,
    tolerances=GRAD_TOLERANCES,
    cases=_cases("softmax_grad"),
))
for module in (cpu, cuda, opencl):
    SOFTMAX.add(*module.forward_variants())
    SOFTMAX_GRAD.add(*module.backward_variants())


def _validate(op: str, arrays: dict[str, Any], axis: Any):
    """Backend, dtype and normalised axis of the inputs; raises naming `op` and the argument."""
    backend = None
    first_name, first = next(iter(arrays.items()))
    for name, a in arrays.items():
        b = backend_of(a, op, name)
        if backend is None:
            backend = b
        elif b is not backend:
            raise TypeError(f"{op}: argument {name!r} is on {b.name} but {first_name!r} is on {backend.name}")
        if a.dtype not in backend.dtypes():
            allowed = ", ".join(d.name for d in backend.dtypes())
            raise TypeError(f"{op}: argument {name!r} must have a floating dtype ({allowed} on "
                            f"{backend.name}), got {a.dtype}")
        if a.shape != first.shape:
            raise ValueError(f"{op}: argument {name!r} has shape {a.shape} but {first_name!r} has {first.shape}")
        if a.dtype != first.dtype:
            raise TypeError(f"{op}: argument {name!r} has dtype {a.dtype} but {first_name!r} has {first.dtype}")
    return backend, check_axis(op, axis, max(first.ndim, 1), f"a {first.ndim}-d input")


def _canonical(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    if not shape:
        return (1, 1, 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


def _run(op: Op, name: str, flags: tuple, axis: Any, **arrays: Any):
    backend, axis = _validate(name, arrays, axis)
    first = next(iter(arrays.values()))
    if first.size == 0:
        return backend.empty(first.shape, first.dtype)
    shape3 = _canonical(first.shape, axis)
    inputs = [backend.ascontiguous(a).reshape(shape3) for a in arrays.values()]
    problem = Problem(op.name, backend.name, dtype_name(first.dtype), shape3, flags)
    out = dispatch.select(op, problem).launcher(*inputs)
    return out.reshape(first.shape)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, on the device that holds `x`."""
    return _run(SOFTMAX, "softmax", (("log", False),), axis, x=x)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - log(sum(exp(x))) along `axis`, computed without overflow."""
    return _run(SOFTMAX, "log_softmax", (("log", True),), axis, x=x)


def softmax_grad(y: Any, dy: Any, axis: int = -1) -> Any:
    """Gradient of softmax w.r.t. its input, given its output `y` and the output gradient `dy`."""
    return _run(SOFTMAX_GRAD, "softmax_grad", (("log", False),), axis, y=y, dy=dy)


def log_softmax_grad(y: Any, dy: Any, axis: int = -1) -> Any:
    """Gradient of log_softmax w.r.t. its input, given its output `y` and `dy`."""
    return _run(SOFTMAX_GRAD, "log_softmax_grad", (("log", True),), axis, y=y, dy=dy)
