"""stack and unstack (PaddlePaddle 2.0 semantics), every dtype, bit-exact.

    >>> import numpy as np, hakl
    >>> y = hakl.stack([np.array([1, 2], np.int32), np.array([3, 4], np.int32)], axis=-1)
    >>> hakl.to_numpy(y)
    array([[1, 3],
           [2, 4]], dtype=int32)
    >>> [hakl.to_numpy(a) for a in hakl.unstack(y, axis=-1)]
    [array([1, 2], dtype=int32), array([3, 4], dtype=int32)]

Every variant sees the k inputs as contiguous (outer, inner) arrays and the
output as a contiguous (outer, k, inner) array, where outer is the product of
the input dims before `axis` and inner of those from `axis` on: axis=0 is
outer == 1 (one long copy per input), axis=-1 is inner == 1 (the inputs'
elements interleaved). unstack is the same move backwards, and stack's
backward: the gradient of each input is its slice of the output's gradient.
The kernels move bits, so each works on every dtype through an unsigned
integer view of the element's size.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...backends import backend_of
from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, check_axis,
                   dtype_name, option, register, register_function)
from ...tuning import dispatch
from . import reference

# What stack accepts: everything that is plain bits of a fixed size.
DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128")


def _sample_one(shape: tuple[int, ...], dtype: str, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    x = rng.standard_normal(shape)
    if dt.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


def _sample_stack(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    outer, k, inner = problem.shape
    return tuple(_sample_one((outer, inner), problem.dtype, rng) for _ in range(k))


def _sample_unstack(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (_sample_one(problem.shape, problem.dtype, rng),)


# (outer, k, inner): one input, axis=0 (outer 1), axis=-1 (inner 1), odd sizes that
# break vector widths, a middle axis, many inputs (the 2.0.2 fix was for stacks
# of many inputs reading past the last one) and empty inputs.
SHAPES = [(1, 1, 1), (1, 1, 1000), (1, 16, 4096), (1, 3, 1001), (4096, 16, 1), (1001, 3, 1),
          (33, 5, 7), (8, 4, 64), (3, 2, 70001), (2, 1000, 5), (517, 300, 1), (1, 700, 33),
          (0, 3, 5), (4, 2, 0)]
QUICK_SHAPES = [(1, 3, 1001), (1001, 3, 1), (33, 5, 7), (2, 1000, 5), (0, 3, 5)]


def _cases(op_name: str):
    sample = _sample_stack if op_name == "stack" else _sample_unstack

    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for shape in QUICK_SHAPES if quick else SHAPES:
            problem = Problem(op_name, backend, dtype, shape)
            yield problem, sample(problem, rng)
    return cases


# Devices other than the CPU copy words of 1, 2, 4, 8 or 16 bytes whatever the dtype:
# one dtype per word size (and bool) covers them in the conformance test.
WORD_DTYPES = ("bool", "int16", "float32", "float64", "complex128")


def _conformance_dtypes(backend: str) -> tuple[str, ...]:
    return DTYPES if backend == "cpu" else WORD_DTYPES


STACK = register(Op(
    name="stack",
    reference=reference.stack,
    sample=_sample_stack,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    exact=True,
    cases=_cases("stack"),
    inputs=(Input("xs", DTYPES),),
    example=lambda x, axis, o: stack([x] * option(o, "count", 2), axis),
    conformance_dtypes=_conformance_dtypes,
))
UNSTACK = register(Op(
    name="unstack",
    reference=reference.unstack,
    sample=_sample_unstack,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    exact=True,
    cases=_cases("unstack"),
    inputs=(Input("x", DTYPES),),
    example=lambda x, axis, o: unstack(x, axis),
    conformance_dtypes=_conformance_dtypes,
))
attach_variants(__name__, {STACK: "stack_variants", UNSTACK: "unstack_variants"})


def _check_dtype(op: str, what: str, dtype: np.dtype) -> None:
    if dtype_name(dtype) not in DTYPES:
        raise TypeError(f"{op}: {what} has dtype {dtype}, which is not supported; supported: {', '.join(DTYPES)}")


def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """Join arrays of one shape and dtype along a new axis, on the device that holds them.

    `axis` is in [-(ndim + 1), ndim]; the output has shape
    x.shape[:axis] + (len(xs),) + x.shape[axis:].
    """
    key = call_key("stack", xs, axis) if type(xs) in (list, tuple) else None  # a generator is read once
    return dispatch.planned(key, lambda: _prepare_stack(xs, axis))(xs)


def _prepare_stack(xs: Any, axis: Any):
    """stack() of lists like `xs`, checked: a function of the list."""
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(f"stack: argument 'xs' must be a list or tuple of arrays, got {type(xs).__name__}")
    if len(xs) == 0:
        raise ValueError("stack: argument 'xs' is empty; stack needs at least one input")
    first = xs[0]
    backend = backend_of(first, "stack", "xs[0]")
    _check_dtype("stack", "input 0", first.dtype)
    for i, x in enumerate(xs[1:], 1):
        if type(x) is not type(first):  # the same array type is the same backend (thousands of inputs: µs each)
            b = backend_of(x, "stack", f"xs[{i}]")
            if b is not backend:
                raise TypeError(f"stack: input {i} is on {b.name} but input 0 is on {backend.name}")
        if x.shape != first.shape:
            raise ValueError(f"stack: input {i} has shape {tuple(x.shape)} but input 0 has {tuple(first.shape)}")
        if x.dtype != first.dtype:
            raise TypeError(f"stack: input {i} has dtype {x.dtype} but input 0 has {first.dtype}")
    ndim = first.ndim
    axis = check_axis("stack", axis, ndim + 1, f"{ndim}-d inputs")
    shape = tuple(first.shape)
    out_shape = shape[:axis] + (len(xs),) + shape[axis:]
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis:])
    dtype = first.dtype
    if outer * inner == 0:
        return lambda xs: backend.empty(out_shape, dtype)
    problem = Problem("stack", backend.name, dtype_name(dtype), (outer, len(xs), inner))
    launcher = dispatch.select(STACK, problem).launcher
    return lambda xs: launcher(*[backend.ascontiguous(x).reshape(outer, inner) for x in xs]).reshape(out_shape)


def unstack(x: Any, axis: int = 0, num: int | None = None) -> list[Any]:
    """Split `x` along `axis` into x.shape[axis] arrays of x.shape without that axis.

    The inverse of `stack`, and its backward: given the gradient of stack's
    output, `unstack(dy, axis)` is the list of the inputs' gradients.
    `num`, when given, must equal x.shape[axis].
    """
    return dispatch.planned(call_key("unstack", (x,), axis, num), lambda: _prepare_unstack(x, axis, num))(x)


def _prepare_unstack(x: Any, axis: Any, num: Any):
    """unstack() of arrays like `x`, checked: a function of the array."""
    backend = backend_of(x, "unstack", "x")
    _check_dtype("unstack", "argument 'x'", x.dtype)
    if x.ndim == 0:
        raise ValueError("unstack: argument 'x' must have at least one dimension, got a 0-d array")
    axis = check_axis("unstack", axis, x.ndim, f"a {x.ndim}-d input")
    shape = tuple(x.shape)
    k = shape[axis]
    if num is not None and num != k:
        raise ValueError(f"unstack: argument 'num' = {num} does not match x.shape[{axis}] = {k}")
    part_shape = shape[:axis] + shape[axis + 1:]
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    dtype = x.dtype
    if k == 0:
        return lambda x: []
    if outer * inner == 0:
        return lambda x: [backend.empty(part_shape, dtype) for _ in range(k)]
    launcher = dispatch.select(UNSTACK, Problem("unstack", backend.name, dtype_name(dtype), (outer, k, inner))).launcher

    def run(x):
        return [p.reshape(part_shape) for p in launcher(backend.ascontiguous(x).reshape(outer, k, inner))]

    return run


# ---- the public functions' declarations ----------------------------------------


def _samples(function: str):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis, count in (((3, 4), 0, 3), ((3, 4), -1, 2), ((5,), 1, 4)):
            xs = [rng.standard_normal(shape).astype(dtype) for _ in range(count)]
            if function == "stack":
                yield Sample((xs,), {"axis": axis})
            else:
                yield Sample((np.stack(xs, axis),), {"axis": axis})
    return samples


register_function(
    Function("stack", stack, ("stack",), (Input("xs", DTYPES),), _samples("stack"), axis=True,
             derivative=Derivative((0,), lambda args, kwargs, out, dout: (unstack(dout, kwargs.get("axis", 0)),))),
    Function("unstack", unstack, ("unstack",), (Input("x", DTYPES),), _samples("unstack"), axis=True,
             derivative=Derivative((0,), lambda args, kwargs, out, dout: (stack(dout, kwargs.get("axis", 0)),))),
)
