"""cumsum (PaddlePaddle 2.0 semantics, with the exclusive / reverse flags of its scan op).

    >>> import numpy as np, hakl
    >>> hakl.to_numpy(hakl.cumsum(np.array([[1, 2, 3], [4, 5, 6]], np.int32), axis=1))
    array([[ 1,  3,  6],
           [ 4,  9, 15]], dtype=int32)
    >>> hakl.to_numpy(hakl.cumsum(np.array([1, 2, 3], np.int64), exclusive=True, reverse=True))
    array([5, 3, 0])

Every variant sees the input as a contiguous (outer, n, inner) array and scans
along n: inner == 1 is the last-axis case (rows; outer == 1 too is a 1-D scan),
inner > 1 a non-last axis (columns, read coalesced along inner).

dtypes: float16, float32, float64, int32, int64 (Paddle's, plus float16). The
output has x's dtype, or `dtype`'s when given (x is converted first), as in
Paddle; NumPy instead promotes small integers to the platform int. float16
accumulates in float32 (at least), integers wrap on overflow as in Paddle.

Precision: against a float64 scan, the tuned variants keep |error| within
8 * eps * cumsum(|x|) on any data (tested on positive data, where drift is
worst): their error does not grow with the scan's length beyond the blocks
they scan in one piece. The baselines accumulate sequentially in the dtype
(drift ~ sqrt(n) eps) and are held to the op's tolerances on the mixed-sign
data of the conformance set. Figures per variant: notes/stack-cumsum.md.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...backends import backend_of
from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, check_axis,
                   dtype_name, option, register, register_function)
from ...tuning import dispatch
from ..cast import cast, dtypes as cast_dtypes
from . import reference

DTYPES = ("float16", "float32", "float64", "int32", "int64")

# (rtol, atol as a fraction of the largest |reference| value). Scans of n mixed-sign
# values in float32 drift by ~eps * sqrt(n) of the running sums' scale, so atol
# carries the length; the tighter, length-free bound is tested on its own.
TOLERANCES = {"float16": (1e-3, 1e-3), "float32": (1e-5, 1e-4), "float64": (1e-12, 1e-12),
              "int32": (0.0, 0.0), "int64": (0.0, 0.0)}


def _sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    if np.dtype(problem.dtype).kind == "i":
        return (rng.integers(-100, 100, problem.shape, endpoint=True).astype(problem.dtype),)
    return (rng.standard_normal(problem.shape, dtype=np.float32).astype(problem.dtype),)


# (outer, n, inner): 1-D of several lengths (one element, one block, several tiles of
# the GPU scans, several segments of the CPU ones), short and long rows, columns with
# inner small / wide / odd, and empty.
SHAPES = [(1, 1, 1), (1, 7, 1), (1, 1000, 1), (1, 4097, 1), (1, 200003, 1), (64, 32, 1), (33, 1000, 1),
          (1000, 3, 1), (3, 70001, 1), (1, 1000, 64), (4, 33, 17), (2, 3000, 100), (3, 5, 1000),
          (1, 9000, 3), (7, 1, 5), (2, 0, 3), (0, 4, 1)]
QUICK_SHAPES = [(1, 7, 1), (1, 4097, 1), (33, 1000, 1), (4, 33, 17), (2, 3000, 100)]
FLAGS = [(False, False), (True, False), (False, True), (True, True)]


def _cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
    for i, shape in enumerate(QUICK_SHAPES if quick else SHAPES):
        # Every shape forward; the exclusive / reverse combinations rotate over the shapes.
        for exclusive, reverse in (FLAGS[0], FLAGS[1 + i % 3]):
            problem = Problem("cumsum", backend, dtype, shape, (("exclusive", exclusive), ("reverse", reverse)))
            yield problem, _sample(problem, rng)


CUMSUM = register(Op(
    name="cumsum",
    reference=reference.forward,
    sample=_sample,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    tolerances=TOLERANCES,
    cases=_cases,
    inputs=(Input("x", DTYPES),),
    example=lambda x, axis, o: cumsum(x, axis, exclusive=option(o, "exclusive"), reverse=option(o, "reverse")),
))
attach_variants(__name__, {CUMSUM: "variants"})


def _check_flag(op: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: argument {name!r} must be a bool, got {type(value).__name__}")
    return bool(value)


def _scan(op: str, x_name: str, x: Any, axis: Any, dtype: Any, exclusive: Any, reverse: Any) -> Any:
    """cumsum's work for the public functions `op` (errors name it and `x_name`)."""
    prepared = dispatch.planned(call_key(op, (x,), axis, dtype, exclusive, reverse),
                                lambda: _prepare(op, x_name, x, axis, dtype, exclusive, reverse))
    return prepared(x)


def _prepare(op: str, x_name: str, x: Any, axis: Any, dtype: Any, exclusive: Any, reverse: Any):
    """The scan of arrays like `x`, checked: a function of the array."""
    backend = backend_of(x, op, x_name)
    exclusive, reverse = _check_flag(op, "exclusive", exclusive), _check_flag(op, "reverse", reverse)
    if dtype is not None:
        try:
            wanted = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{op}: argument 'dtype' = {dtype!r} is not a dtype") from None
        if dtype_name(wanted) not in DTYPES:
            raise TypeError(f"{op}: argument 'dtype' must be one of {', '.join(DTYPES)}, got {wanted}")
        if x.dtype != wanted and dtype_name(x.dtype) not in cast_dtypes(backend.name):
            raise TypeError(f"{op}: argument {x_name!r} has dtype {x.dtype}, which cannot be converted "
                            f"to {wanted} on {backend.name}")
    elif dtype_name(x.dtype) not in DTYPES:
        raise TypeError(f"{op}: argument {x_name!r} has dtype {x.dtype}; supported: {', '.join(DTYPES)} "
                        "(pass dtype= to convert)")
    if axis is None:
        shape, axis = (x.size,), 0
    else:
        axis = check_axis(op, axis, max(x.ndim, 1), f"a {x.ndim}-d input", "an int or None")
        shape = tuple(x.shape)
    out_dtype = x.dtype if dtype is None else wanted
    if x.size == 0:
        return lambda x: backend.empty(shape, out_dtype)
    dims = shape or (1,)
    shape3 = (math.prod(dims[:axis]), dims[axis], math.prod(dims[axis + 1:]))
    problem = Problem("cumsum", backend.name, dtype_name(out_dtype), shape3,
                      (("exclusive", exclusive), ("reverse", reverse)))
    launcher = dispatch.select(CUMSUM, problem).launcher

    def run(x):
        # Contiguous first (the backend's strided copy takes any view), then convert with
        # the cast op, which has every dtype pair of the backend.
        x = backend.ascontiguous(x)
        if x.dtype != out_dtype:
            x = cast(x, out_dtype)
        return launcher(x.reshape(shape3)).reshape(shape)

    return run


def cumsum(x: Any, axis: int | None = None, dtype: Any = None, exclusive: bool = False,
           reverse: bool = False) -> Any:
    """Cumulative sum of `x` along `axis` (of the flattened `x` when None), on x's device.

    `dtype` converts x before the scan and is the output's dtype; `exclusive`
    leaves each element's own value out (the first output is 0); `reverse` sums
    from the end.
    """
    return _scan("cumsum", "x", x, axis, dtype, exclusive, reverse)


def cumsum_grad(dy: Any, axis: int | None = None, exclusive: bool = False, reverse: bool = False,
                x_shape: tuple[int, ...] | None = None) -> Any:
    """Gradient of cumsum w.r.t. x given the output gradient `dy`: the cumsum of dy in
    the other direction (same `exclusive`). With axis=None, dy is 1-D and the
    result takes `x_shape` when given."""
    reverse = _check_flag("cumsum_grad", "reverse", reverse)
    if x_shape is not None:
        try:
            x_shape = tuple(int(d) for d in x_shape)
        except (TypeError, ValueError):
            raise TypeError(f"cumsum_grad: argument 'x_shape' must be a sequence of ints, got {x_shape!r}") from None
        if math.prod(x_shape) != getattr(dy, "size", None):
            raise ValueError(f"cumsum_grad: argument 'x_shape' = {x_shape} does not hold the "
                             f"{getattr(dy, 'size', '?')} elements of 'dy'")
    dx = _scan("cumsum_grad", "dy", dy, axis, None, exclusive, not reverse)
    return dx if x_shape is None else dx.reshape(x_shape)


# ---- the public functions' declarations ----------------------------------------


def _samples(function: str):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis, exclusive, reverse in (((3, 5, 4), 1, False, False), ((3, 5, 4), 0, True, False),
                                                ((3, 5, 4), None, False, True), ((6,), -1, True, True)):
            x = rng.standard_normal(shape).astype(dtype)
            if function == "cumsum_grad" and axis is None:
                x = x.reshape(-1)
            yield Sample((x,), {"axis": axis, "exclusive": exclusive, "reverse": reverse})
    return samples


def _cumsum_backward(args, kwargs, out, dout):
    return (cumsum_grad(dout, kwargs.get("axis"), kwargs.get("exclusive", False), kwargs.get("reverse", False),
                        args[0].shape),)


register_function(
    Function("cumsum", cumsum, ("cumsum",), (Input("x", DTYPES),), _samples("cumsum"), axis=True,
             derivative=Derivative((0,), _cumsum_backward)),
    Function("cumsum_grad", cumsum_grad, ("cumsum",), (Input("dy", DTYPES, role="grad"),), _samples("cumsum_grad"),
             axis=True),
)
