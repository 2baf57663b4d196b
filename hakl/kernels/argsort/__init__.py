"""argsort and sort (PaddlePaddle 2.0 names; NumPy's and PyTorch's order), and their backward.

    >>> import numpy as np, hakl
    >>> from hakl.kernels.argsort import argsort, sort, sort_with_indices
    >>> x = np.array([[3.0, -0.0, np.nan, 1.0, 0.0]], np.float32)
    >>> hakl.to_numpy(argsort(x, stable=True))
    array([[1, 4, 3, 0, 2]])
    >>> hakl.to_numpy(argsort(x, descending=True, stable=True))
    array([[2, 0, 3, 1, 4]])
    >>> hakl.to_numpy(sort(np.array([3, 1, 2], np.int8), descending=True))
    array([3, 2, 1], dtype=int8)

Order: NaN (any sign, any payload) sorts after +inf ascending and before it
descending; -0.0 and +0.0 are equal; `stable=True` keeps input order among equal
keys in both directions (as `paddle.argsort(..., stable=True)`, NumPy's
kind="stable" ascending). `stable=False` may order ties any way. Values are x's
own elements (a zero keeps its sign, a NaN its payload). Indices are int64.

Three ops, because their fastest kernels differ: `argsort` (outputs: values and
indices, like Paddle's argsort op; `hakl.argsort` returns the indices, and
`sort_with_indices` both, for a framework's backward), `sort` (values alone: no
index payload to move, and NumPy's values-only sort is itself much faster than its
argsort) and `argsort_grad`, the scatter dx[..., idx[..., j], ...] = dy[..., j, ...]
along the axis (Paddle's argsort_grad; `sort_grad` and `argsort_grad` are the
same function).

Every variant sees the contiguous (outer, n, inner) view and sorts along n;
flags (in the tuning key): descending, stable. dtypes: bool, int8, uint8, int16,
int32, int64, float16, float32, float64 (no backend here has bfloat16). 0-d
inputs: argsort gives 0, sort the value; empty inputs give empty outputs.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...op import (FLOATS, Derivative, Function, Input, Op, Problem, Sample, attach_variants, check_axis,
                   dtype_name, option, register, register_function, validate)
from ...tuning import dispatch
from . import reference

DTYPES = ("float16", "float32", "float64", "bool", "int8", "uint8", "int16", "int32", "int64")
X = Input("x", DTYPES)
DY = Input("dy", FLOATS, role="grad")
INDICES = Input("indices", ("int64",), role="index")


# ---- sample inputs and conformance cases -----------------------------------------

# Data kinds the cases rotate over: many ties (small integers), all-equal rows,
# sorted and reverse-sorted rows, and (floats) NaN of both signs and payloads, ±inf,
# ±0.0; (integers) the extremes.
DATA = ("random", "ties", "special", "sorted", "reversed", "equal")


def _random(shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    return (3 * rng.standard_normal(shape)).astype(dt)


def _special(shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    x = _random(shape, dtype, rng)
    if dt.kind == "b":
        return x
    if dt.kind in "iu":
        info = np.iinfo(dt)
        pool = np.array([info.min, info.max, 0, 1, info.min + 1, info.max - 1] + ([-1] if dt.kind == "i" else []),
                        dt)
    else:
        u = reference.unsigned(dt).type
        bits = 8 * dt.itemsize
        absmask, inf, nan = reference.FLOAT_BITS[dt.name]
        sign = 1 << (bits - 1)
        raw = [nan, nan | sign, inf + 1, (inf + 5) | sign, absmask, inf, inf | sign, 0, sign, 1, 1 | sign]
        pool = np.array([u(v) for v in raw], reference.unsigned(dt)).view(dt)
    where = rng.random(shape) < 0.4
    return np.where(where, pool[rng.integers(0, len(pool), shape)], x)


def data(kind: str, shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    """An input of `kind` (see DATA) sorted along axis 1 where the kind says."""
    dt = np.dtype(dtype)
    if kind == "ties":
        return rng.integers(0, 4, shape).astype(dt)
    if kind == "equal":
        return np.full(shape, _random((1,), dtype, rng)[0], dt)
    if kind == "special":
        return _special(shape, dtype, rng)
    x = _random(shape, dtype, rng)
    if kind in ("sorted", "reversed"):
        x = np.sort(x, axis=1)
        if kind == "reversed":
            x = np.ascontiguousarray(x[:, ::-1])
    return x


def _sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (_random(problem.shape, problem.dtype, rng),)


# (outer, n, inner): rows of 1 and 2, lengths on both sides of every variant's
# threshold (CPU insertion sort 8/16/32, CUDA warp 32/128, block 4096, OpenCL
# work-group 256/1024/2048, the CPU rank switch at 2^16), many rows (the radix
# sorts' row digits: more than 256 rows take two row passes), columns (inner > 1),
# 1-D of several lengths, and empty.
SHAPES = [(1, 1, 1), (1, 2, 1), (5, 2, 1), (3, 7, 1), (7, 8, 1), (7, 9, 1), (6, 16, 1), (6, 17, 1),
          (5, 32, 1), (5, 33, 1), (9, 64, 1), (4, 128, 1), (4, 129, 1), (3, 256, 1), (3, 257, 1),
          (2, 1024, 1), (2, 1025, 1), (2, 2048, 1), (2, 2049, 1), (2, 4096, 1), (2, 4097, 1),
          (300, 5, 1), (1, 1000, 1), (1, 20001, 1), (1, 70001, 1), (2, 70001, 1),
          (4, 33, 5), (3, 100, 7), (1, 300, 64), (2, 5000, 3), (2, 0, 3), (0, 4, 1)]
QUICK_SHAPES = [(1, 7, 1), (3, 17, 1), (33, 100, 1), (1, 5000, 1), (4, 33, 5), (2, 129, 1), (300, 5, 1)]
FLAGS = [(False, False), (False, True), (True, False), (True, True)]


def _flags(descending: bool, stable: bool) -> tuple:
    return (("descending", bool(descending)), ("stable", bool(stable)))


def _cases(op_name: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for i, shape in enumerate(QUICK_SHAPES if quick else SHAPES):
            # Every shape ascending unstable and one other flag set; data kinds rotate.
            for f in (0, 1 + i % 3):
                problem = Problem(op_name, backend, dtype, shape, _flags(*FLAGS[f]))
                kind = DATA[(2 * i + f) % len(DATA)] if not quick else DATA[(i + f) % 3]
                x = data(kind, shape, dtype, rng)
                if op_name == "argsort_grad":
                    dy = _random(shape, dtype, rng)
                    yield (Problem(op_name, backend, dtype, shape, dtypes=(dtype, "int64")),
                           (dy, reference.indices(problem, x)))
                    break
                yield problem, (x,)
    return cases


# ---- comparing outputs --------------------------------------------------------------


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(reference.unsigned(a.dtype)) if a.dtype.kind == "f" else a


def _values_error(got: np.ndarray, want: np.ndarray, exact_bits: bool) -> str | None:
    if got.shape != want.shape:
        return f"values: shape {got.shape} != expected {want.shape}"
    if got.dtype != want.dtype:
        return f"values: dtype {got.dtype} != expected {want.dtype}"
    if exact_bits:
        differ = _bits(np.ascontiguousarray(got)) != _bits(np.ascontiguousarray(want))
    else:
        differ = ~((got == want) | (np.isnan(got) & np.isnan(want) if got.dtype.kind == "f" else False))
    return f"values: {int(differ.sum())} elements differ" if differ.any() else None


def _compare_argsort(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """Values equal the reference's; indices: with stable, exactly the reference's;
    without, a permutation of each row whose gathered values are the sorted values.
    Either way the values are x's own bits gathered at the returned indices."""
    if not isinstance(out, tuple) or len(out) != 2:
        return "expected (values, indices)"
    (values, idx), (want_values, want_idx) = out, expected
    if idx.shape != want_idx.shape or idx.dtype != np.int64:
        return f"indices: shape {idx.shape} dtype {idx.dtype}, expected {want_idx.shape} int64"
    error = _values_error(values, want_values, False)
    if error is not None:
        return error
    x = inputs[0]
    if problem.flag("stable"):
        if not np.array_equal(idx, want_idx):
            return f"indices: {int((idx != want_idx).sum())} differ from the stable order"
    else:
        if not np.array_equal(np.sort(idx, axis=1), np.sort(want_idx, axis=1)):
            return "indices are not a permutation of each row"
    return _values_error(values, np.take_along_axis(x, idx, axis=1), True)


def _compare_sort(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    # stable: the bits of the stable order (which -0.0 comes first, which NaN payload)
    return _values_error(out, expected, bool(problem.flag("stable")))


# OpenCL kernels differ by key width and kind: one dtype each of the widths and kinds
# (bool: 8-bit unsigned; float16; int32; float32; float64), on the quick shapes (each
# row length is a bitonic build on PoCL). CUDA (compiled in CI, not run there): every
# (width, kind) pair.
CONFORMANCE_DTYPES = {"opencl": ("bool", "float16", "int32", "float32", "float64"),
                      "cuda": ("bool", "int8", "int16", "float16", "int32", "float32", "int64", "float64")}


# sort (values) runs the argsort kernels' key transforms without the indices: on the CPU one
# dtype per key width and kind (argsort's conformance takes every dtype).
SORT_CPU_DTYPES = ("bool", "int16", "float16", "float32", "int64", "float64")


def _conformance_dtypes(backend: str) -> tuple[str, ...]:
    return CONFORMANCE_DTYPES.get(backend, DTYPES)


def _sort_conformance_dtypes(backend: str) -> tuple[str, ...]:
    return SORT_CPU_DTYPES if backend == "cpu" else _conformance_dtypes(backend)


def _nbytes_argsort(p: Problem) -> int:
    return p.size * (2 * p.np_dtype.itemsize + 8)


def _example(function):
    def example(x, axis, o):
        return function(x, axis, descending=option(o, "descending"), stable=option(o, "stable"))
    return example


ARGSORT = register(Op(
    name="argsort",
    reference=reference.forward,
    sample=_sample,
    nbytes=_nbytes_argsort,
    exact=True,
    compare=_compare_argsort,
    cases=_cases("argsort"),
    inputs=(X,),
    conformance_dtypes=_conformance_dtypes,
    conformance_quick=("opencl",),
    example=_example(lambda *a, **k: sort_with_indices(*a, **k)),
))
SORT = register(Op(
    name="sort",
    reference=reference.sort,
    sample=_sample,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    exact=True,
    compare=_compare_sort,
    cases=_cases("sort"),
    inputs=(X,),
    conformance_dtypes=_sort_conformance_dtypes,
    conformance_quick=("opencl",),
    example=_example(lambda *a, **k: sort(*a, **k)),
))


def _sample_grad(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    outer, n, inner = problem.shape
    idx = np.argsort(rng.random(problem.shape), axis=1).astype(np.int64)
    return (_random(problem.shape, problem.dtype, rng), idx)


ARGSORT_GRAD = register(Op(
    name="argsort_grad",
    reference=reference.backward,
    sample=_sample_grad,
    nbytes=_nbytes_argsort,
    exact=True,
    cases=_cases("argsort_grad"),
    inputs=(DY, INDICES),
    example=lambda x, axis, o: argsort_grad(x, argsort(x, axis), axis),
))
attach_variants(__name__, {ARGSORT: "argsort_variants", SORT: "sort_variants", ARGSORT_GRAD: "backward_variants"})


# ---- the public functions -------------------------------------------------------------


def _check_flag(function: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: argument {name!r} must be a bool, got {type(value).__name__}")
    return bool(value)


def _canonical(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    dims = shape or (1,)
    return (math.prod(dims[:axis]), dims[axis], math.prod(dims[axis + 1:]))


def _sort(function: str, op: Op, x: Any, axis: Any, descending: Any, stable: Any) -> Any:
    """The argsort / sort op's outputs for `x` (errors name `function`)."""
    backend = validate(function, (X,), (x,))
    descending = _check_flag(function, "descending", descending)
    stable = _check_flag(function, "stable", stable)
    axis = check_axis(function, axis, max(x.ndim, 1), f"a {x.ndim}-d input")
    want_idx = op is ARGSORT
    if x.ndim == 0 or x.size == 0:  # nothing to order: the value itself (index 0), or nothing
        values = backend.ascontiguous(x).copy()
        if not want_idx:
            return values
        idx = backend.asarray(np.zeros(x.shape, np.int64)) if x.size else backend.empty(x.shape, np.int64)
        return values, idx
    shape = tuple(x.shape)
    shape3 = _canonical(shape, axis)
    x = backend.ascontiguous(x)
    problem = Problem(op.name, backend.name, dtype_name(x.dtype), shape3, _flags(descending, stable))
    out = dispatch.select(op, problem).launcher(x.reshape(shape3))
    if want_idx:
        return out[0].reshape(shape), out[1].reshape(shape)
    return out.reshape(shape)


def argsort(x: Any, axis: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """int64 indices that sort `x` along `axis`, on x's device.

    NaN sorts last (first when `descending`), -0.0 equals +0.0; `stable` keeps input
    order among equal elements (descending too)."""
    return _sort("argsort", ARGSORT, x, axis, descending, stable)[1]


def sort(x: Any, axis: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """`x` sorted along `axis` (the order of `argsort`), on x's device."""
    return _sort("sort", SORT, x, axis, descending, stable)


def sort_with_indices(x: Any, axis: int = -1, descending: bool = False, stable: bool = False) -> tuple[Any, Any]:
    """(values, indices) in one call — what a framework's forward keeps for the
    backward (`sort_grad(dy, indices, axis)`); `torch.sort`'s pair, Paddle's argsort
    op's two outputs."""
    return _sort("sort_with_indices", ARGSORT, x, axis, descending, stable)


def _grad(function: str, dy: Any, indices: Any, axis: Any) -> Any:
    backend = validate(function, (DY, INDICES), (dy, indices))
    axis = check_axis(function, axis, max(dy.ndim, 1), f"a {dy.ndim}-d input")
    if dy.ndim == 0 or dy.size == 0:
        return backend.ascontiguous(dy).copy()
    shape = tuple(dy.shape)
    shape3 = _canonical(shape, axis)
    dy, indices = backend.ascontiguous(dy), backend.ascontiguous(indices)
    problem = Problem("argsort_grad", backend.name, dtype_name(dy.dtype), shape3, dtypes=(dtype_name(dy.dtype), "int64"))
    return dispatch.select(ARGSORT_GRAD, problem).launcher(dy.reshape(shape3), indices.reshape(shape3)).reshape(shape)


def sort_grad(dy: Any, indices: Any, axis: int = -1) -> Any:
    """Gradient of the sorted values w.r.t. x: dx[..., indices[..., j], ...] = dy[..., j, ...]
    along `axis`. `indices` is what argsort (or sort_with_indices) returned: a
    permutation of each row."""
    return _grad("sort_grad", dy, indices, axis)


def argsort_grad(dy: Any, indices: Any, axis: int = -1) -> Any:
    """Paddle's name for `sort_grad` (the gradient flows through argsort's values output)."""
    return _grad("argsort_grad", dy, indices, axis)


# ---- the public functions' declarations ---------------------------------------------------


def _samples(kind: str):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis, descending, stable in (((3, 5, 4), 1, False, False), ((3, 5, 4), 0, True, True),
                                                ((4, 6), -1, True, False), ((7,), 0, False, True)):
            x = _random(shape, dtype, rng)
            if kind == "grad":
                idx = np.argsort(rng.random(shape), axis=axis).astype(np.int64)
                yield Sample((x, idx), {"axis": axis})
            else:
                yield Sample((x,), {"axis": axis, "descending": descending, "stable": stable})
    return samples


def _sort_backward(args, kwargs, out, dout):
    idx = argsort(args[0], **kwargs)
    return (sort_grad(dout, idx, kwargs.get("axis", -1)),)


def _pair_backward(args, kwargs, out, dout):
    return (sort_grad(dout[0], out[1], kwargs.get("axis", -1)),)


_SAMPLE_DTYPES = ("float32", "float64", "int32")
register_function(
    Function("argsort", argsort, ("argsort",), (X,), _samples("sort"), dtypes=_SAMPLE_DTYPES, axis=True),
    Function("sort", sort, ("sort",), (X,), _samples("sort"), dtypes=_SAMPLE_DTYPES, axis=True,
             derivative=Derivative((0,), _sort_backward)),
    Function("sort_with_indices", sort_with_indices, ("argsort",), (X,), _samples("sort"), dtypes=_SAMPLE_DTYPES,
             axis=True, derivative=Derivative((0,), _pair_backward, saves=("output",))),
    Function("sort_grad", sort_grad, ("argsort_grad",), (DY, INDICES), _samples("grad"), dtypes=FLOATS, axis=True),
    Function("argsort_grad", argsort_grad, ("argsort_grad",), (DY, INDICES), _samples("grad"), dtypes=FLOATS,
             axis=True),
)
