"""Matrix product with NumPy's batch broadcasting, and its gradient (PaddlePaddle 2.0's
matmul_v2: `transpose_x`/`transpose_y` are `transpose_a`/`transpose_b` here).

    >>> import numpy as np
    >>> from hakl.kernels.matmul import matmul
    >>> matmul(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), transpose_b=True)
    array([[3., 3., 3., 3.],
           [3., 3., 3., 3.]], dtype=float32)

Semantics (np.matmul's): the last two axes are the matrices, the leading ones batch
axes that broadcast; a 1-D `a` is a row (its axis dropped from the result), a 1-D `b`
a column; the transpose flags swap the last two axes of an operand of rank >= 2 and
are ignored for a 1-D one (Paddle's rule). K = 0 gives zeros. float16 accumulates in
float32 and rounds once; float32 and float64 in their own type; bfloat16 (on the CPU:
oneDNN's AMX / AVX512-BF16 kernels where the CPU has them, else the baseline's float32
BLAS) accumulates in float32 and rounds once. Both operands have one dtype (convert with
hakl.cast).

The canonical problem every variant sees: shape (*batch, M, N, K), where `batch` is the
output's batch axes merged as elementwise's `collapse` merges them, at most MAXB axes,
and a `batch` flag with one letter per merged axis: "b" both operands have it, "x" only
a (b is broadcast along it), "y" only b; "" for no batch. Flags `ta`/`tb` say whether
the operand is stored transposed. The launcher gets C-contiguous operands of the
merged rank (1 along the axes they lack): a as (..., M, K), or (..., K, M) when `ta`;
b as (..., K, N), or (..., N, K) when `tb`; it returns the contiguous (*batch, M, N).
Before dispatch: views are copied, so a result never depends on its operands' layout
(a GEMM's summation order does: BLAS reads a transposed operand with other kernels;
pass a transposed matrix with its flag instead, which every kernel reads in place);
a batched a times an unbatched b (a Linear layer's x @ W) is one (B*M, K) @ (K, N)
product.

Gradients: `matmul_grad(a, b, dout, transpose_a, transpose_b) -> (da, db)`, products of
the same op: d op(a) = dout @ op(b)^T, d op(b) = op(a)^T @ dout, each summed over the
batch axes its operand was broadcast along (elementwise's sum_to), so it has that
operand's shape; an unbatched b with a batched a (Linear's weight) gets its gradient
from one (K, B*M) @ (B*M, N) product, no reduction pass.

Tolerances: the error of a K-term sum grows like sqrt(K) for rounding that does not
correlate (the kernels sum in order, blocked or not, or in OpenCL's `inner` as a few
interleaved partial sums), so `atol_growth` is sqrt(K);
atol is relative to the larger of the output's largest |reference| and each element's
terms, |op(a)| @ |op(b)| (a short product that cancels, five terms of 1-2 summing to
0.013, is off by ulps of its terms: a test failed on that).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...op import (BFLOAT16, FLOATS, Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key,
                   dtype_name, option, register, register_function, validate)
from ...tuning import dispatch
from ..cast import cast
from ..elementwise import collapse, expand, sum_to
from . import reference

MAXB = 3  # merged batch axes the kernels index; more (alternating broadcasts) are expanded first
_EPS32, _EPS64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)
# (rtol, atol per sqrt(K) as a fraction of the largest |reference|): float16 rounds the
# float32 sum once, so a result may sit one float16 ulp (2**-10 relative) from the rounded
# reference; the sums' own error is a few eps of the accumulation type times sqrt(K).
# bfloat16 likewise with its 2**-7 ulp.
TOLERANCES = {"float16": (1e-3, 8 * _EPS32), "float32": (0.0, 8 * _EPS32), "float64": (0.0, 8 * _EPS64),
              "bfloat16": (8e-3, 8 * _EPS32)}


def dtypes(backend: str) -> tuple[str, ...]:
    """matmul's dtypes on `backend`: bfloat16 on the CPU only (CuPy has no bfloat16 arrays)."""
    return FLOATS + ("bfloat16",) if backend == "cpu" else FLOATS


INPUTS = (Input("a", dtypes), Input("b", dtypes))
GRAD_INPUTS = (Input("a", dtypes), Input("b", dtypes), Input("dout", dtypes, role="grad"))


# ---- the canonical problem ------------------------------------------------------


def operand_shapes(problem: Problem) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """a's and b's shapes (as stored: transposed where the flags say) for a canonical problem."""
    *batch, m, n, k = problem.shape
    pattern = problem.flag("batch")
    ab = tuple(d if c in "bx" else 1 for c, d in zip(pattern, batch))
    bb = tuple(d if c in "by" else 1 for c, d in zip(pattern, batch))
    return ab + ((k, m) if problem.flag("ta") else (m, k)), bb + ((n, k) if problem.flag("tb") else (k, n))


def geometry(problem: Problem, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list]:
    """For canonical operands of these shapes: the result's shape and what the OpenCL and
    CUDA kernels take after their pointers, as int64: M, N, K; the element strides of
    A(m, k) and B(k, n) (sam, sak, sbk, sbn: the transposes); the batch count; extents 1
    and 2 of the batch axes padded in front to MAXB; and each operand's strides along
    those axes (0 where it is broadcast)."""
    ta, tb = problem.flag("ta"), problem.flag("tb")
    m, k = (a_shape[-1], a_shape[-2]) if ta else a_shape[-2:]
    n = b_shape[-2] if tb else b_shape[-1]
    batch = [max(x, y) for x, y in zip(a_shape[:-2], b_shape[:-2])]

    def strides(shape):
        step, out = shape[-1] * shape[-2], []
        for d in reversed(shape[:-2]):
            out.append(step if d != 1 else 0)
            step *= d
        return [0] * (MAXB - len(batch)) + out[::-1]

    padded = [1] * (MAXB - len(batch)) + batch
    sizes = [m, n, k, *((1, m) if ta else (k, 1)), *((1, k) if tb else (n, 1)), math.prod(batch), padded[1],
             padded[2], *strides(a_shape), *strides(b_shape)]
    return tuple(batch) + (m, n), [np.int64(v) for v in sizes]


def nbytes(problem: Problem) -> int:
    sa, sb = operand_shapes(problem)
    out = math.prod(problem.shape[:-1])
    return (math.prod(sa) + math.prod(sb) + out) * problem.np_dtype.itemsize


def flops(problem: Problem) -> int:
    return 2 * problem.size  # a multiply and an add per (batch, m, n, k)


# ---- samples and conformance cases ----------------------------------------------


def _normal(dtype: str, shape, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype)


def _sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    sa, sb = operand_shapes(problem)
    return _normal(problem.dtype, sa, rng), _normal(problem.dtype, sb, rng)


# Large magnitudes stay where no sum of products overflows the accumulation type (which
# would make an order-dependent inf - inf): they go into a only.
_LARGE = {"float16": 1e3, "float32": 1e15, "float64": 1e150, "bfloat16": 1e15}


def _specials(x: np.ndarray, rng: np.random.Generator, large: float | None) -> np.ndarray:
    """x with about a tenth of its elements NaN, ±inf, ±0 (and ±large where given)."""
    values = [np.nan, np.inf, -np.inf, 0.0, -0.0] + ([large, -large] if large else [])
    x = x.copy()
    flat = x.reshape(-1)
    picks = rng.random(flat.size) < 0.1
    flat[picks] = np.array(values)[rng.integers(0, len(values), int(picks.sum()))].astype(x.dtype)
    return x


# (batch pattern, merged batch, M, N, K): tiny, odd, a row (M = 1) and a column (N = 1),
# a K longer than any tile, each batch pattern, three merged axes, and a long K.
SHAPES = [("", (), 1, 1, 1), ("", (), 7, 5, 3), ("", (), 33, 65, 17), ("", (), 1, 300, 70), ("", (), 70, 1, 300),
          ("", (), 64, 96, 520), ("b", (3,), 5, 6, 7), ("x", (4,), 9, 10, 11), ("y", (4,), 9, 10, 11),
          ("xy", (2, 3), 4, 5, 6), ("bxb", (2, 3, 2), 3, 4, 5), ("", (), 3, 4, 4100)]
# Quick: also one of 2^20 multiply-adds, the least the CPU's oneDNN variant takes.
QUICK_SHAPES = [("", (), 7, 5, 3), ("", (), 33, 65, 17), ("", (), 1, 40, 70), ("xy", (2, 3), 4, 5, 6),
                ("", (), 64, 128, 128)]


def _cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
    i = 0
    for pattern, batch, m, n, k in QUICK_SHAPES if quick else SHAPES:
        for ta in (False, True):
            for tb in (False, True):
                problem = Problem("matmul", backend, dtype, (*batch, m, n, k),
                                  (("batch", pattern), ("ta", ta), ("tb", tb)))
                a, b = _sample(problem, rng)
                if i % 2:  # NaN / inf / zeros / large magnitudes on every other case
                    a, b = _specials(a, rng, _LARGE[dtype]), _specials(b, rng, None)
                i += 1
                yield problem, (a, b)


def _compare(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """TOLERANCES with each element's terms |op(a)| @ |op(b)| as its scale (module docstring)."""
    from ...op import _close, each_output

    terms = reference.forward(problem, np.abs(inputs[0]), np.abs(inputs[1]))
    terms = np.where(np.isfinite(terms), terms, 0.0)
    rtol, atol = TOLERANCES[problem.dtype]
    atol *= MATMUL.atol_growth(problem)
    return each_output(out, expected, lambda i, o, e: _close(o, e, rtol, atol, terms))


MATMUL = register(Op(
    name="matmul", reference=reference.forward, sample=_sample, nbytes=nbytes, flops=flops,
    tolerances=TOLERANCES, atol_growth=lambda p: math.sqrt(max(p.shape[-1], 1)), cases=_cases, compare=_compare,
    inputs=INPUTS, conformance_quick=("opencl",),
    # `hakl tune matmul --shape MxK`: x @ x^T (-o transpose_b=false: a square x @ x)
    example=lambda x, axis, o: matmul(x, x, transpose_b=option(o, "transpose_b", True)),
))
attach_variants(__name__, {MATMUL: "variants"})


# ---- the public functions --------------------------------------------------------


def _flag(name: str, arg: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: argument {arg!r} must be a bool, got {type(value).__name__}")
    return bool(value)


def _operands(name: str, arrays: tuple, specs: tuple, transpose_a: Any, transpose_b: Any):
    """(backend, a's and b's shapes at rank >= 2 with their flags, M, N, K, batch, result
    shape): a 1-D a is a (1, K) row, a 1-D b a (K, 1) column; raises naming the argument."""
    backend = validate(name, specs, arrays, same_shape=False)
    a, b = arrays[0], arrays[1]
    for spec, x in zip(specs[1:], arrays[1:]):
        if x.dtype != a.dtype:
            raise TypeError(f"{name}: argument {spec.name!r} has dtype {x.dtype} but 'a' has {a.dtype} (convert "
                            "one with hakl.cast)")
    ta, tb = _flag(name, "transpose_a", transpose_a), _flag(name, "transpose_b", transpose_b)
    for arg, x in (("a", a), ("b", b)):
        if x.ndim == 0:
            raise ValueError(f"{name}: argument {arg!r} must have at least 1 dimension, got a 0-d array")
    sa, ta = ((1, a.shape[0]), False) if a.ndim == 1 else (tuple(a.shape), ta)
    sb, tb = ((b.shape[0], 1), False) if b.ndim == 1 else (tuple(b.shape), tb)
    (ka, m), (kb, n) = (sa[-2:] if ta else sa[-2:][::-1]), (sb[-2:][::-1] if tb else sb[-2:])
    if ka != kb:
        raise ValueError(f"{name}: argument 'b' of shape {tuple(b.shape)} (transpose_b={tb}) has {kb} rows but "
                         f"'a' of shape {tuple(a.shape)} (transpose_a={ta}) has {ka} columns")
    try:
        batch = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    except ValueError:
        raise ValueError(f"{name}: the batch dimensions {tuple(a.shape[:-2])} of 'a' and {tuple(b.shape[:-2])} of "
                         "'b' do not broadcast") from None
    result = batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    return backend, sa, ta, sb, tb, m, n, ka, batch, result


def _product(backend, dtype: np.dtype, sa: tuple, ta: bool, sb: tuple, tb: bool, m: int, n: int, k: int,
             batch: tuple):
    """The (*batch, M, N) product of operands of shapes sa and sb (already checked), through
    dispatch: a function of the two operands."""
    if 0 in batch or m == 0 or n == 0:
        return lambda a, b: backend.empty(batch + (m, n), dtype)
    if k == 0:
        return lambda a, b: backend.asarray(np.zeros(batch + (m, n), dtype))
    nb, rows, expanded = len(batch), m, False
    lead_a = (1,) * (nb - len(sa) + 2) + sa[:-2]
    lead_b = (1,) * (nb - len(sb) + 2) + sb[:-2]
    if math.prod(batch) == 1:
        pattern, merged, ma, mb = "", (), (), ()
    else:
        pattern, merged, ma, mb = collapse(lead_a, lead_b)
        if pattern == "x" and not ta:  # only a is batched: its rows are one (B*M, K) operand
            pattern, merged, ma, mb, rows = "", (), (), (), merged[0] * m
        elif len(pattern) > MAXB:
            pattern, merged, expanded = "b", (math.prod(batch),), True
            ma = mb = merged
    problem = Problem("matmul", backend.name, dtype_name(dtype), (*merged, rows, n, k),
                      (("batch", pattern), ("ta", ta), ("tb", tb)))
    launcher = dispatch.select(MATMUL, problem).launcher
    shape_a, shape_b = ma + ((k, rows) if ta else (rows, k)), mb + ((n, k) if tb else (k, n))

    def run(a, b):
        a, b = backend.ascontiguous(a), backend.ascontiguous(b)
        if expanded:
            a, b = expand(backend, a, batch + sa[-2:]), expand(backend, b, batch + sb[-2:])
        return launcher(a.reshape(shape_a), b.reshape(shape_b)).reshape(batch + (m, n))

    return run


def _lifted(backend, x: Any, shape: tuple) -> Any:
    """x at rank >= 2 (shape, from _operands: a 1-D x as a row or a column)."""
    return backend.ascontiguous(x).reshape(shape) if x.ndim == 1 else x


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
    """op(a) @ op(b) (op: transposed over the last two axes where its flag says), batch axes
    broadcast as np.matmul, on the inputs' device."""
    key = call_key("matmul", (a, b), transpose_a, transpose_b)
    return dispatch.planned(key, lambda: _prepare(a, b, transpose_a, transpose_b))(a, b)


def _prepare(a: Any, b: Any, transpose_a: Any, transpose_b: Any):
    """matmul of operands like a and b, checked: a function of (a, b)."""
    backend, sa, ta, sb, tb, m, n, k, batch, result = _operands("matmul", (a, b), INPUTS, transpose_a, transpose_b)
    product = _product(backend, a.dtype, sa, ta, sb, tb, m, n, k, batch)
    return lambda a, b: product(_lifted(backend, a, sa), _lifted(backend, b, sb)).reshape(result)


def _reduce(backend, g: Any, shape: tuple[int, ...]) -> Any:
    """g summed over the batch axes an operand of `shape` was broadcast along."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    if math.prod(shape) == 0:
        return backend.empty(shape, g.dtype)
    if g.dtype == BFLOAT16:  # the reductions have no bfloat16: sum in float32, round once
        return cast(sum_to(cast(g, "float32"), shape), BFLOAT16)
    return sum_to(g, shape)


def matmul_grad(a: Any, b: Any, dout: Any, transpose_a: bool = False, transpose_b: bool = False) -> tuple[Any, Any]:
    """(da, db) of matmul(a, b, transpose_a, transpose_b) given the result's gradient `dout`,
    each of its operand's shape (summed over the batch axes it was broadcast along)."""
    key = call_key("matmul_grad", (a, b, dout), transpose_a, transpose_b)
    return dispatch.planned(key, lambda: _prepare_grad(a, b, dout, transpose_a, transpose_b))(a, b, dout)


def _prepare_grad(a: Any, b: Any, dout: Any, transpose_a: Any, transpose_b: Any):
    """matmul_grad of arrays like a, b and dout, checked: a function of (a, b, dout)."""
    name = "matmul_grad"
    backend, sa, ta, sb, tb, m, n, k, batch, result = _operands(name, (a, b, dout), GRAD_INPUTS, transpose_a,
                                                                transpose_b)
    if tuple(dout.shape) != result:
        raise ValueError(f"{name}: argument 'dout' has shape {tuple(dout.shape)} but the result has {result}")
    sd, dtype, a_shape, b_shape = batch + (m, n), a.dtype, a.shape, b.shape

    def mm(x_shape, tx, y_shape, ty):
        rows, cols = (x_shape[-1], x_shape[-2]) if tx else x_shape[-2:]
        out_batch = tuple(np.broadcast_shapes(x_shape[:-2], y_shape[:-2]))
        return _product(backend, dtype, x_shape, tx, y_shape, ty, rows, y_shape[-2] if ty else y_shape[-1], cols,
                        out_batch)

    # d op(a) = dout @ op(b)^T; da is its transpose when a is stored transposed.
    da = mm(sb, tb, sd, True) if ta else mm(sd, False, sb, not tb)
    # Linear's weight: one product over every row of a (and of dout)
    weight_rows = len(sb) == 2 and len(sa) > 2 and not ta
    if weight_rows:
        rows, drows = (math.prod(sa[:-1]), k), (math.prod(sd[:-1]), n)
        db = mm(drows, True, rows, False) if tb else mm(rows, True, drows, False)
    else:  # d op(b) = op(a)^T @ dout; db is its transpose when b is stored transposed
        db = mm(sd, True, sa, ta) if tb else mm(sa, not ta, sd, False)

    def run(a, b, dout):
        a2, b2, d = _lifted(backend, a, sa), _lifted(backend, b, sb), backend.ascontiguous(dout).reshape(sd)
        ga = da(b2, d) if ta else da(d, b2)
        if weight_rows:
            x, dx = backend.ascontiguous(a2).reshape(rows), d.reshape(drows)
            gb = db(dx, x) if tb else db(x, dx)
        else:
            gb = db(d, a2) if tb else db(a2, d)
        return _reduce(backend, ga, sa).reshape(a_shape), _reduce(backend, gb, sb).reshape(b_shape)

    return run


# ---- the public functions' declarations ------------------------------------------

# (a's shape, b's shape, kwargs): plain, a batched (folded), b batched, broadcast batches,
# 1-D operands (a vector times a vector is 0-d), and each transpose.
SAMPLE_SHAPES = (((3, 4), (4, 5), {}), ((2, 3, 4), (4, 2), {}), ((3, 4), (2, 4, 5), {}),
                 ((2, 1, 3, 4), (3, 4, 2), {}), ((4,), (4, 3), {}), ((3, 4), (4,), {}), ((4,), (4,), {}),
                 ((4, 3), (4, 5), {"transpose_a": True}), ((3, 4), (5, 4), {"transpose_b": True}),
                 ((2, 4, 3), (5, 4), {"transpose_a": True, "transpose_b": True}))


def _function_samples(with_dout: bool):
    def samples(dtype: str, rng: np.random.Generator):
        for sa, sb, kwargs in SAMPLE_SHAPES:
            a, b = _normal(dtype, sa, rng), _normal(dtype, sb, rng)
            if not with_dout:
                yield Sample((a, b), kwargs)
            else:
                out = np.matmul(np.swapaxes(a, -1, -2) if kwargs.get("transpose_a") else a,
                                np.swapaxes(b, -1, -2) if kwargs.get("transpose_b") else b)
                yield Sample((a, b, _normal(dtype, np.shape(out), rng)), kwargs)
    return samples


register_function(
    Function("matmul", matmul, ("matmul",), INPUTS, _function_samples(False),
             derivative=Derivative((0, 1), lambda args, kwargs, out, dout: matmul_grad(args[0], args[1], dout,
                                                                                         **kwargs))),
    Function("matmul_grad", matmul_grad, ("matmul",), GRAD_INPUTS, _function_samples(True)),
)

__all__ = ["matmul", "matmul_grad", "MATMUL", "MAXB", "dtypes", "operand_shapes", "geometry"]
