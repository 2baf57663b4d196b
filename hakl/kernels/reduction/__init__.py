"""Reductions: sum, mean, max, min over any axes, argmax, and their gradients
(PaddlePaddle 2.0's reduce_sum / reduce_mean / reduce_max / reduce_min / arg_max).

    >>> import numpy as np, hakl
    >>> x = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], np.float32)
    >>> hakl.to_numpy(hakl.sum(x, axis=1))
    array([ 9., 12.], dtype=float32)
    >>> hakl.to_numpy(hakl.max(x, axis=0, keepdim=True))
    array([[4., 5., 6.]], dtype=float32)
    >>> hakl.to_numpy(hakl.argmax(x, axis=-1))
    array([1, 2])

`axis`: None (every axis), an int or a tuple of ints (negative counts from the end;
argmax takes None or an int); `keepdim` keeps the reduced axes with extent 1.
dtypes: float16 (accumulating in float32, rounded once), float32, float64; sum also
of bool and integers, giving int64 (Paddle's rule; integers wrap); max, min and
argmax of integers keep the dtype (argmax gives int64). max / min propagate NaN and
argmax counts NaN as the maximum (NumPy's rules); argmax gives the first index of
the maximum. Empty reductions: sum 0, mean NaN, max / min / argmax a ValueError.

Every variant sees a contiguous (outer, n, inner) array and reduces over n: the
reduced axes, when they are adjacent in memory (size-1 axes aside), are n and the
axes around them outer and inner, with no copy; reduced axes apart from each other
are moved together first (one transposing copy: kept axes, then reduced ones).

Determinism: every hakl kernel, on every backend, computes one fixed reduction tree
that depends on n alone (not on the launch configuration, the variant or the
layout), so the same input gives the same bits whichever kernel the dispatcher or
the tuner picks. Along n, chunks of CHUNK = LANES * STEPS elements: within a chunk,
lane j (of LANES = 32) combines elements j, j + 32, j + 64, ... in order, starting
from the identity; the lanes fold by halving (lane j with lane j + 16, then + 8, ...,
+ 1: a warp's shuffle-down tree); the chunk values combine pairwise level by level
(values 2i and 2i + 1, an odd last one carried up), so any aligned power-of-two run
of chunks is one node of the tree and a kernel may combine such runs where it likes
(a block's warps, a second pass) with the same result. No float atomics anywhere.
The baselines (NumPy, CuPy, an OpenCL loop) keep their libraries' own orders: they are
what the speed-ups are measured against, and serve integers (exact, so order-free),
CPU argmax (an index does not depend on the order) and, as everywhere, the fallback; a
float sum or max that a tuning run hands to a baseline (where it measured faster) has
that library's bits.

Gradients (`sum_grad(x, dout, axis, keepdim)`, `mean_grad`, `max_grad(x, out, dout,
axis, keepdim)`, `min_grad`): dout broadcast back to x's shape; divided by the
count for mean; for max and min PaddlePaddle 2.0's rule dx = dout * (x == out), so
every position tied with the result gets the whole gradient (and none where the
result is NaN).
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ...op import (FLOATS, Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key,
                   check_axis, dtype_name, option, register, register_function, validate)
from ...tuning import dispatch
from . import reference

INTS = ("int8", "uint8", "int16", "int32", "int64")
SUM_DTYPES = FLOATS + ("bool",) + INTS
EXTREME_DTYPES = FLOATS + INTS
LANES, STEPS = 32, 32
CHUNK = LANES * STEPS  # the reduction tree's leaves (see the module docstring)
# Op codes the kernels share.
CODES = {"sum": 0, "mean": 0, "max": 1, "min": 2, "argmax": 3}

# Sums: |error| <= rtol * |reference| (the output's rounding) + (SUM_TERMS + sqrt(n)) * eps
# * sum(|x|) (eps of the accumulator): the fixed tree's lanes add STEPS terms, the fold 5
# and the chunk tree log2(n / CHUNK) levels; sqrt(n) covers the baselines' sequential
# orders. Integers exactly.
TOLERANCES = {"float16": (1e-3, 0.0), "float32": (1e-6, 0.0), "float64": (1e-15, 0.0),
              **{d: (0.0, 0.0) for d in ("bool",) + INTS}}
SUM_TERMS = 64
GRAD_TOLERANCES = {"float16": (1e-3, 0.0), "float32": (1e-6, 0.0), "float64": (1e-14, 0.0)}


def out_dtype(op: str, dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if op == "argmax" or (op == "sum" and dtype.kind in "biu"):
        return np.dtype(np.int64)
    return dtype


def accumulator(dtype: str) -> np.dtype:
    """What the kernels accumulate a float dtype in: float16 in float32, others in their own."""
    return np.dtype(np.float32 if dtype == "float16" else dtype)


# ---- samples and conformance cases ----------------------------------------------


def _data(kind: str, shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if kind == "ties" or dt.kind in "iu":
        lo, hi = (-3, 3) if kind == "ties" else (-100, 100)
        lo = 0 if dt.kind == "u" else lo
        return rng.integers(lo, hi, shape, endpoint=True).astype(dt)
    x = (3 * rng.standard_normal(shape)).astype(dt)
    if kind == "special" and x.size > 1:
        flat = x.reshape(-1)
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e4, -1e4], dt)
        picks = rng.random(flat.size) < 0.05
        flat[picks] = pool[rng.integers(0, len(pool), int(picks.sum()))]
        x[:, :, 0] = -np.inf if x.shape[1] > 1 else x[:, :, 0]  # a row of -inf and specials
    return x


def _sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (_data("random", problem.shape, problem.dtype, rng),)


def _sample_grad(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """x (ties among small integers for max / min), the forward's out and a random dout."""
    op = problem.flag("op")
    x = _data("ties" if op in ("max", "min") else "random", problem.shape, problem.dtype, rng)
    outer, _, inner = problem.shape
    if op in ("max", "min"):
        out = reference.forward(Problem("reduce_max", "cpu", problem.dtype, problem.shape, (("op", op),)), x)
    else:
        out = np.zeros((outer, inner), x.dtype)
    dout = rng.standard_normal((outer, 1, inner)).astype(problem.dtype)
    return x, out.reshape(outer, 1, inner).astype(x.dtype), dout


# (outer, n, inner): 1-D of one element, one lane row, one chunk, a chunk and one, many
# chunks (an odd count: the tree's carry), rows short and long, columns narrow, wide and
# odd, with several chunks along n, a reduced axis of one.
SHAPES = [(1, 1, 1), (1, 7, 1), (1, 1000, 1), (1, 1024, 1), (1, 1025, 1), (1, 4097, 1), (1, 70001, 1),
          (64, 32, 1), (33, 1000, 1), (5, 3000, 1), (1, 5, 1000), (4, 33, 17), (2, 3000, 100), (3, 1, 5),
          (1, 2049, 3)]
QUICK_SHAPES = [(1, 7, 1), (1, 4097, 1), (33, 1000, 1), (4, 33, 17), (2, 3000, 5)]
SUM_OPS, EXTREME_OPS, GRAD_OPS = ("sum", "mean"), ("max", "min", "argmax"), ("sum", "mean", "max", "min")


def _ops_for(op_name: str, dtype: str) -> tuple[str, ...]:
    if op_name == "reduce_sum":
        return SUM_OPS if dtype in FLOATS else ("sum",)
    return EXTREME_OPS if op_name == "reduce_max" else GRAD_OPS


def _cases(op_name: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for i, shape in enumerate(QUICK_SHAPES if quick else SHAPES):
            for op in _ops_for(op_name, dtype):
                problem = Problem(op_name, backend, dtype, shape, (("op", op),))
                if op_name == "reduce_grad":
                    yield problem, _sample_grad(problem, rng)
                    continue
                kind = ("random", "special", "ties")[i % 3]
                yield problem, (_data(kind, shape, dtype, rng),)
    return cases


def _nbytes(problem: Problem) -> int:
    outer, _, inner = problem.shape
    op = problem.flag("op")
    return problem.size * problem.np_dtype.itemsize + outer * inner * out_dtype(op, problem.dtype).itemsize


def _compare_sums(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """An Op.compare for sums and means: the bound of TOLERANCES per output element (NaN
    and infinities exactly where the reference has them)."""
    if out.shape != expected.shape:
        return f"shape {out.shape} != expected {expected.shape}"
    if out.dtype != out_dtype(problem.flag("op"), problem.dtype):
        return f"dtype {out.dtype} != expected {out_dtype(problem.flag('op'), problem.dtype)}"
    got = out.astype(np.float64)
    nan_differs = np.isnan(got) != np.isnan(expected)
    if nan_differs.any():
        return f"NaN pattern differs at {int(nan_differs.sum())} elements"
    infinite = np.isinf(expected)
    if (got[infinite] != expected[infinite]).any():
        return "infinities differ"
    finite = np.isfinite(expected)
    n = problem.shape[1]
    magnitude = np.abs(inputs[0].astype(np.float64)).sum(axis=1) / (n if problem.flag("op") == "mean" else 1)
    rtol = TOLERANCES[problem.dtype][0]
    eps = float(np.finfo(accumulator(problem.dtype)).eps) if problem.dtype in FLOATS else 0.0
    bound = rtol * np.abs(expected) + (SUM_TERMS + math.sqrt(n)) * eps * magnitude
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite: checked above
        err = np.abs(got - expected)
    bad = finite & ~(err <= bound)
    if bad.any():
        return f"{int(bad.sum())} elements off, max abs error {float(err[bad].max()):.3g}"
    return None


REDUCE_SUM = register(Op(
    name="reduce_sum", reference=reference.forward, sample=_sample, nbytes=_nbytes, tolerances=TOLERANCES,
    compare=_compare_sums, cases=_cases("reduce_sum"), inputs=(Input("x", SUM_DTYPES),),
    example=lambda x, axis, o: (mean if option(o, "op", "sum") == "mean" else sum)(x, axis),
    conformance_dtypes=lambda backend: FLOATS + ("bool", "int32"), conformance_quick=("opencl",),
))
REDUCE_MAX = register(Op(
    name="reduce_max", reference=reference.forward, sample=_sample, nbytes=_nbytes, exact=True,
    cases=_cases("reduce_max"), inputs=(Input("x", EXTREME_DTYPES),),
    example=lambda x, axis, o: {"max": max, "min": min, "argmax": argmax}[option(o, "op", "max")](x, axis),
    conformance_dtypes=lambda backend: FLOATS + ("int32",), conformance_quick=("opencl",),
))
REDUCE_GRAD = register(Op(
    name="reduce_grad", reference=reference.backward, sample=_sample_grad,
    nbytes=lambda p: (2 if p.flag("op") in ("max", "min") else 1) * p.size * p.np_dtype.itemsize
    + 2 * p.shape[0] * p.shape[2] * p.np_dtype.itemsize,
    tolerances=GRAD_TOLERANCES, cases=_cases("reduce_grad"),
    inputs=(Input("x"), Input("out"), Input("dout", role="grad")),
    example=lambda x, axis, o: _GRADS[option(o, "op", "sum")](x, axis),
    conformance_quick=("opencl",),
))
attach_variants(__name__, {REDUCE_SUM: "variants", REDUCE_MAX: "variants", REDUCE_GRAD: "grad_variants"})


# ---- the canonical problem ------------------------------------------------------


def _check_keepdim(name: str, keepdim: Any) -> bool:
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"{name}: argument 'keepdim' must be a bool, got {type(keepdim).__name__}")
    return bool(keepdim)


def reduced_axes(name: str, axis: Any, ndim: int, tuples: bool = True) -> tuple[int, ...]:
    """`axis` as sorted non-negative axes of an ndim-d array (None: all; a 0-d array takes
    0 and -1 and reduces nothing); TypeError / ValueError name `name` and 'axis'."""
    expected = "an int, a tuple of ints or None" if tuples else "an int or None"
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if tuples and isinstance(axis, (tuple, list)) else (axis,)
    axes = [check_axis(name, a, builtins.max(ndim, 1), f"a {ndim}-d input", expected) for a in items]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: argument 'axis' = {axis} names an axis twice")
    return tuple(sorted(a for a in axes if a < ndim))


def layout(shape: tuple[int, ...], axes: tuple[int, ...]):
    """(perm, (outer, n, inner)): perm is None when the reduced axes (size-1 ones aside) are
    adjacent, so x reshapes to (outer, n, inner) as it is; else the transposition that
    puts the kept axes first and the reduced ones last, after which inner is 1."""
    reduced = set(axes)
    outer = n = inner = 1
    state = 0  # 0: before the reduced run, 1: in it, 2: after it
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if i in reduced:
            if state == 2:
                kept = [j for j in range(len(shape)) if j not in reduced]
                return tuple(kept + sorted(reduced)), (math.prod(shape[j] for j in kept),
                                                       math.prod(shape[j] for j in reduced), 1)
            state, n = 1, n * d
        elif state == 0:
            outer *= d
        else:
            state, inner = 2, inner * d
    return None, (outer, n, inner)


def _canonical(backend, x: Any, perm, shape3):
    x = backend.ascontiguous(x.transpose(perm) if perm is not None else x)
    return x.reshape(shape3)


def _fill(backend, shape, dtype, value) -> Any:
    return backend.asarray(np.full(shape, value, dtype))


# The first argument of each forward function: its dtype domain.
_X = {"sum": Input("x", SUM_DTYPES), "mean": Input("x", FLOATS),
      **{op: Input("x", EXTREME_DTYPES) for op in EXTREME_OPS}}


def _reduce(name: str, op: str, x: Any, axis: Any, keepdim: Any) -> Any:
    prepared = dispatch.planned(call_key(name, (x,), axis, keepdim),
                                lambda: _prepare(name, op, x, axis, keepdim))
    return prepared(x)


def _prepare(name: str, op: str, x: Any, axis: Any, keepdim: Any):
    """The checked reduction of arrays like x, as a function of x."""
    backend = validate(name, (_X[op],), (x,))
    keepdim = _check_keepdim(name, keepdim)
    axes = reduced_axes(name, axis, x.ndim, tuples=op != "argmax")
    shape = tuple(x.shape)
    out_shape = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdim else \
        tuple(d for i, d in enumerate(shape) if i not in axes)
    result_dtype = out_dtype(op, x.dtype)
    perm, shape3 = layout(shape, axes)
    outer, n, inner = shape3
    if outer * inner == 0:
        return lambda x: backend.empty(out_shape, result_dtype)
    if n == 0:
        if op in EXTREME_OPS:
            raise ValueError(f"{name}: argument 'axis' = {axis} reduces a zero-size axis of shape {shape}, and "
                             f"{name} has no identity")
        return lambda x: _fill(backend, out_shape, result_dtype, np.nan if op == "mean" else 0)
    op_spec = REDUCE_SUM if op in SUM_OPS else REDUCE_MAX
    problem = Problem(op_spec.name, backend.name, dtype_name(x.dtype), shape3, (("op", op),))
    launcher = dispatch.select(op_spec, problem).launcher
    return lambda x: launcher(_canonical(backend, x, perm, shape3)).reshape(out_shape)


def sum(x: Any, axis: Any = None, keepdim: bool = False) -> Any:  # noqa: A001  (Paddle's and NumPy's name)
    """The sum of x's elements over `axis` (None: all), on x's device; int64 for bool and
    integer x."""
    return _reduce("sum", "sum", x, axis, keepdim)


def mean(x: Any, axis: Any = None, keepdim: bool = False) -> Any:
    """The mean over `axis` (floats; NaN over an empty axis)."""
    return _reduce("mean", "mean", x, axis, keepdim)


def max(x: Any, axis: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element over `axis`; NaN where one is NaN."""
    return _reduce("max", "max", x, axis, keepdim)


def min(x: Any, axis: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The smallest element over `axis`; NaN where one is NaN."""
    return _reduce("min", "min", x, axis, keepdim)


def argmax(x: Any, axis: int | None = None, keepdim: bool = False) -> Any:
    """The index (int64) of the first maximum along `axis` (of the flattened x when None);
    a NaN counts as the maximum."""
    return _reduce("argmax", "argmax", x, axis, keepdim)


# ---- gradients -------------------------------------------------------------------

GRAD_X, GRAD_OUT, GRAD_DOUT = Input("x"), Input("out"), Input("dout", role="grad")


def _grad(name: str, op: str, x: Any, out: Any, dout: Any, axis: Any, keepdim: Any) -> Any:
    arrays = (x, dout) if out is None else (x, out, dout)
    prepared = dispatch.planned(call_key(name, arrays, axis, keepdim),
                                lambda: _prepare_grad(name, op, x, out, dout, axis, keepdim))
    return prepared(x, out, dout)


def _prepare_grad(name: str, op: str, x: Any, out: Any, dout: Any, axis: Any, keepdim: Any):
    """The checked gradient, as a function of (x, out, dout)."""
    arrays = (x, dout) if out is None else (x, out, dout)
    specs = (GRAD_X, GRAD_DOUT) if out is None else (GRAD_X, GRAD_OUT, GRAD_DOUT)
    backend = validate(name, specs, arrays, same_shape=False)
    keepdim = _check_keepdim(name, keepdim)
    for spec, a in zip(specs[1:], arrays[1:]):
        if a.dtype != x.dtype:
            raise TypeError(f"{name}: argument {spec.name!r} has dtype {a.dtype} but 'x' has {x.dtype}")
    axes = reduced_axes(name, axis, x.ndim)
    shape = tuple(x.shape)
    want = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdim else \
        tuple(d for i, d in enumerate(shape) if i not in axes)
    for spec, a in zip(specs[1:], arrays[1:]):
        if tuple(a.shape) != want:
            raise ValueError(f"{name}: argument {spec.name!r} has shape {tuple(a.shape)} but the reduction of "
                             f"'x' {shape} over axis {axis} (keepdim={keepdim}) has {want}")
    if x.size == 0:
        return lambda x, out, dout: backend.empty(shape, x.dtype)
    perm, shape3 = layout(shape, axes)
    outer, _, inner = shape3
    small = (outer, 1, inner)
    problem = Problem("reduce_grad", backend.name, dtype_name(x.dtype), shape3, (("op", op),))
    launcher = dispatch.select(REDUCE_GRAD, problem).launcher
    back = None if perm is None else tuple(int(i) for i in np.argsort(perm))
    moved = None if perm is None else tuple(shape[p] for p in perm)

    def run(x, out, dout):
        d3 = backend.ascontiguous(dout).reshape(small)
        o3 = d3 if out is None else backend.ascontiguous(out).reshape(small)
        dx = launcher(_canonical(backend, x, perm, shape3), o3, d3)
        if perm is None:
            return dx.reshape(shape)
        return backend.ascontiguous(dx.reshape(moved).transpose(back))

    return run


def sum_grad(x: Any, dout: Any, axis: Any = None, keepdim: bool = False) -> Any:
    """Gradient of sum w.r.t. x: dout (the output's gradient) broadcast back to x's shape."""
    return _grad("sum_grad", "sum", x, None, dout, axis, keepdim)


def mean_grad(x: Any, dout: Any, axis: Any = None, keepdim: bool = False) -> Any:
    """Gradient of mean w.r.t. x: dout broadcast back to x's shape, divided by the count."""
    return _grad("mean_grad", "mean", x, None, dout, axis, keepdim)


def max_grad(x: Any, out: Any, dout: Any, axis: Any = None, keepdim: bool = False) -> Any:
    """Gradient of max w.r.t. x given its output `out`: dout where x == out (every tie)."""
    return _grad("max_grad", "max", x, out, dout, axis, keepdim)


def min_grad(x: Any, out: Any, dout: Any, axis: Any = None, keepdim: bool = False) -> Any:
    """Gradient of min w.r.t. x given its output `out`: dout where x == out (every tie)."""
    return _grad("min_grad", "min", x, out, dout, axis, keepdim)


def _example_grad(op: str):
    def run(x, axis):
        if op in ("sum", "mean"):
            forward = sum(x, axis)
            return (sum_grad if op == "sum" else mean_grad)(x, forward, axis)
        forward = (max if op == "max" else min)(x, axis)
        return (max_grad if op == "max" else min_grad)(x, forward, forward, axis)
    return run


_GRADS = {op: _example_grad(op) for op in GRAD_OPS}


# ---- the public functions' declarations ------------------------------------------

SAMPLE_CALLS = (((3, 4, 5), None, False), ((3, 4, 5), 1, False), ((3, 4, 5), -1, True), ((3, 4, 5), (0, 2), False),
                ((3, 4, 5), (0, 1), True), ((7,), 0, False), ((), None, False))
FORWARD = {"sum": sum, "mean": mean, "max": max, "min": min, "argmax": argmax}
BACKWARD = {"sum": sum_grad, "mean": mean_grad, "max": max_grad, "min": min_grad}


def _values(op: str, shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    if np.dtype(dtype).kind != "f":
        return np.asarray(_data("random", shape, dtype, rng))
    if op in ("max", "min", "argmax"):  # distinct (a finite difference across a tie of max sees a kink)
        return np.asarray(rng.permutation(math.prod(shape)).reshape(shape) / 7.0 - 3.0).astype(dtype)
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def _samples(op: str, backward: bool):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis, keepdim in SAMPLE_CALLS:
            if op == "argmax" and isinstance(axis, tuple):
                continue
            kwargs = {"axis": axis, "keepdim": keepdim}
            x = _values(op, shape, dtype, rng)
            if not backward:
                yield Sample((x,), kwargs)
                continue
            forward = FORWARD[op](x, axis, keepdim)
            dout = np.asarray(rng.standard_normal(np.shape(forward))).astype(dtype)
            yield Sample((x, dout) if op in SUM_OPS else (x, np.asarray(forward), dout), kwargs)
    return samples


def _derivative(op: str) -> Derivative:
    grad = BACKWARD[op]
    if op in SUM_OPS:
        return Derivative((0,), lambda args, kwargs, out, dout: (grad(args[0], dout, **kwargs),))
    return Derivative((0,), lambda args, kwargs, out, dout: (grad(args[0], out, dout, **kwargs),),
                      saves=("inputs", "output"))


for _op, _fn in FORWARD.items():
    _dts = _X[_op].dtypes
    register_function(Function(_op, _fn, ("reduce_sum" if _op in SUM_OPS else "reduce_max",),
                               (_X[_op],), _samples(_op, False), dtypes=_dts, axis=True,
                               derivative=None if _op == "argmax" else _derivative(_op)))
for _op, _fn in BACKWARD.items():
    register_function(Function(f"{_op}_grad", _fn, ("reduce_grad",),
                               (GRAD_X, GRAD_DOUT) if _op in SUM_OPS else (GRAD_X, GRAD_OUT, GRAD_DOUT),
                               _samples(_op, True), axis=True))

__all__ = ["sum", "mean", "max", "min", "argmax", "sum_grad", "mean_grad", "max_grad", "min_grad"]
