"""Binary elementwise ops with NumPy broadcasting: add, subtract, multiply, divide,
maximum, minimum, pow, and their gradients (PaddlePaddle 2.0's elementwise_* ops); and
the comparisons equal, not_equal, greater_than, greater_equal, less_than, less_equal
(forward only, a bool result: the `compare` op, which the same kernels serve).

    >>> import numpy as np, hakl
    >>> from hakl.kernels.elementwise import add, pow
    >>> add(np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32))
    array([[1., 2., 3.],
           [1., 2., 3.]], dtype=float32)
    >>> pow(np.array([2.0, 3.0]), 2)
    array([4., 9.])

Types (Paddle 2.0's rules, kept simple): both arrays have one dtype, or one
operand is a Python (or NumPy) scalar, which takes the array's dtype (a
non-integral float with an integer array is a TypeError, so is an int out of
the dtype's range). float16, float32, float64, int32 and int64; divide and pow
take floats only. float16 computes in float32 and rounds once per op. Integer
arithmetic wraps. maximum / minimum propagate NaN (NumPy's np.maximum).

The canonical problem every variant sees: the output's shape with adjacent axes
that broadcast alike merged, at most MAXD axes, and a `pattern` flag with one
letter per merged axis: "b" both inputs have it, "x" only x (y is broadcast
along it), "y" only y. Same-shape inputs are pattern "b" (one flat axis),
a scalar operand "x" or "y", (4096, 4096) + (4096,) is "xb" (only x has the
first axis, both the last), (4096, 1) + (1, 4096) is "xy". The launcher
gets x and y as contiguous arrays of the merged rank, 1 along the axes they
lack, and computes the op named by the `op` flag (one kernel per backend and
dtype serves every op: the op is a run-time switch, which LLVM, nvcc and the
OpenCL compilers hoist out of the loop). Index arithmetic is 64-bit.

Gradients (`add_grad(x, y, dout) -> (dx, dy)`, ...): each input's gradient is
summed over the axes it was broadcast along, so it has the input's shape (None
for a scalar operand). Ties: maximum's gradient goes to y where x == y (dx =
dout * (x > y), dy = dout * (x <= y)), minimum's too (dx = dout * (x < y), dy =
dout * (x >= y)): Paddle 2.0's convention. pow: dx = dout * y * x**(y-1) (0 where
y == 0), dy = dout * x**y * log(x) (0 where x == 0 and y >= 0, NaN for x < 0).
The gradients are compositions of the same op's kernels (dout * mask, ...) and a
sum over the broadcast axes (NumPy / CuPy sum; on OpenCL sum_to in elementwise.cl).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ...backends import backend_of
from ...op import (FLOATS, Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key,
                   dtype_name, option, register, register_function)
from ...tuning import dispatch
from . import reference

INTS = ("int32", "int64")
DTYPES = FLOATS + INTS
PUBLIC = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "pow")
# Every arithmetic code the kernels know: the public ops, then the pieces the gradients use
# (negmul = -(a*b); gt/le/lt/ge give 1 or 0 in the inputs' dtype, the masks of maximum's and
# minimum's gradients; pow_dx, pow_dy the partials of pow).
CODES = {name: i for i, name in enumerate(PUBLIC + ("negmul", "gt", "le", "lt", "ge", "pow_dx", "pow_dy"))}
# The public comparisons (forward only), PaddlePaddle's names, and their codes in the
# `compare` op: the same kernels with a bool output, which selects a switch of these six
# (as cases of the arithmetic switch, eq and ne made the CPU's add 15 -> 22 ms at 16M: LLVM
# stopped unswitching every case). NaN compares unequal to everything, itself included
# (IEEE, NumPy, PaddlePaddle); -0.0 == +0.0.
COMPARISONS = {name: i for i, name in enumerate(
    ("equal", "not_equal", "greater_than", "greater_equal", "less_than", "less_equal"))}
FLOAT_ONLY = frozenset(("divide", "pow", "pow_dx", "pow_dy"))
MAXD = 4  # merged axes the kernels index; more (rare: alternating broadcasts) are expanded first

# (rtol, atol): +, -, *, / are correctly rounded; pow allows a few ulp (OpenCL: 16 for powf).
TOLERANCES = {"float16": (1e-3, 0.0), "float32": (2e-6, 0.0), "float64": (1e-13, 0.0),
              "int32": (0.0, 0.0), "int64": (0.0, 0.0)}


def codes_for(dtype: str) -> tuple[str, ...]:
    return tuple(c for c in CODES if dtype in FLOATS or c not in FLOAT_ONLY)


# ---- the canonical problem ------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def collapse(xs: tuple[int, ...], ys: tuple[int, ...]):
    """(pattern, merged output shape, x's merged shape, y's merged shape) for inputs of
    shapes xs and ys (which broadcast); size-1 output axes drop out."""
    out = np.broadcast_shapes(xs, ys)
    nd = len(out)
    xs, ys = (1,) * (nd - len(xs)) + tuple(xs), (1,) * (nd - len(ys)) + tuple(ys)
    dims: list[list] = []
    for dx, dy, do in zip(xs, ys, out):
        if do == 1:
            continue
        c = "b" if dx == dy else ("x" if dx == do else "y")
        if dims and dims[-1][0] == c:
            dims[-1][1] *= do
        else:
            dims.append([c, do])
    if not dims:
        dims = [["b", 1]]
    pattern = "".join(c for c, _ in dims)
    shape = tuple(d for _, d in dims)
    return (pattern, shape, tuple(d if c in "bx" else 1 for c, d in dims),
            tuple(d if c in "by" else 1 for c, d in dims))


def input_shapes(problem: Problem) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """x's and y's merged shapes for a canonical problem."""
    pattern = problem.flag("pattern")
    return (tuple(d if c in "bx" else 1 for c, d in zip(pattern, problem.shape)),
            tuple(d if c in "by" else 1 for c, d in zip(pattern, problem.shape)))


def kernel_code(problem: Problem) -> int:
    """The op code a kernel switches on: a comparison's in the compare op, else arithmetic."""
    return (COMPARISONS if problem.op == "compare" else CODES)[problem.flag("op")]


def output_dtype(problem: Problem) -> np.dtype:
    return np.dtype(np.bool_) if problem.op == "compare" else problem.np_dtype


def nbytes(problem: Problem) -> int:
    xs, ys = input_shapes(problem)
    return (math.prod(xs) + math.prod(ys)) * problem.np_dtype.itemsize + problem.size * output_dtype(problem).itemsize


# ---- samples and conformance cases ----------------------------------------------


def _values(op: str, dtype: str, shape, rng: np.random.Generator, side: str) -> np.ndarray:
    if op in COMPARISONS:  # halves in [-2, 2]: ties in about one pair in nine
        return (rng.integers(-4, 4, shape, endpoint=True) / (1 if dtype in INTS else 2)).astype(dtype)
    if dtype in INTS:
        return rng.integers(-100, 100, shape, endpoint=True).astype(dtype)
    if op in ("pow", "pow_dx", "pow_dy"):
        v = rng.uniform(0.5, 2.0, shape) if side == "x" else rng.uniform(-3.0, 3.0, shape)
    elif op == "divide" and side == "y":
        v = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        v = rng.standard_normal(shape) * 3
    return np.asarray(v).astype(dtype)


def _sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = input_shapes(problem)
    op = problem.flag("op")
    return _values(op, problem.dtype, xs, rng, "x"), _values(op, problem.dtype, ys, rng, "y")


_SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-30, 3e38, -3e38, 60000.0, 1e300]


def _specials(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """a with about a tenth of its elements replaced by NaN, ±inf, ±0, huge and tiny values."""
    if a.dtype.kind != "f" or a.size < 2:
        return a
    a = a.copy()
    flat = a.reshape(-1)
    picks = rng.random(flat.size) < 0.1
    with np.errstate(over="ignore"):
        flat[picks] = np.array(_SPECIALS)[rng.integers(0, len(_SPECIALS), int(picks.sum()))].astype(a.dtype)
    return a


# (pattern, merged shape): flat of several lengths (vector tails, several parallel parts),
# a scalar on either side, rows, columns, an outer product and 3- and 4-axis mixes.
SHAPES = [("b", (1,)), ("b", (7,)), ("b", (1000,)), ("b", (70001,)), ("x", (1000,)), ("y", (33,)),
          ("xb", (33, 65)), ("bx", (17, 31)), ("xy", (9, 13)), ("bxb", (3, 5, 7)), ("ybyb", (2, 3, 4, 5))]
QUICK_SHAPES = [("b", (1000,)), ("x", (33,)), ("xb", (33, 65)), ("bxb", (3, 5, 7))]


def _cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False, op_name: str = "elementwise"):
    for op in (COMPARISONS if op_name == "compare" else codes_for(dtype)):
        for i, (pattern, shape) in enumerate(QUICK_SHAPES if quick else SHAPES):
            problem = Problem(op_name, backend, dtype, shape, (("op", op), ("pattern", pattern)))
            x, y = _sample(problem, rng)
            # NaN / inf / zeros / overflow on every other shape; not for pow's partials, whose
            # intermediate x**(y-1) may overflow in the dtype where the float64 product does not.
            if i % 2 == 0 and op not in ("pow_dx", "pow_dy"):
                x, y = _specials(x, rng), _specials(y, rng)
            yield problem, (x, y)


ELEMENTWISE = register(Op(
    name="elementwise",
    reference=reference.forward,
    sample=_sample,
    nbytes=nbytes,
    tolerances=TOLERANCES,
    cases=_cases,
    inputs=(Input("x", DTYPES), Input("y", DTYPES)),
    example=lambda x, axis, o: binary(option(o, "op", "add"), x, x),
    conformance_quick=("opencl",),
))
COMPARE = register(Op(
    name="compare",
    reference=reference.compare,
    sample=_sample,
    nbytes=nbytes,
    exact=True,
    cases=lambda backend, dtype, rng, quick=False: _cases(backend, dtype, rng, quick, "compare"),
    inputs=(Input("x", DTYPES), Input("y", DTYPES)),
    example=lambda x, axis, o: _COMPARE[option(o, "op", "less_than")](x, x),
    conformance_quick=("opencl",),
))
attach_variants(__name__, {ELEMENTWISE: "variants", COMPARE: "compare_variants"})


# ---- the public functions --------------------------------------------------------


_NUMBERS, _BOOLS = (int, float, np.integer, np.floating), (bool, np.bool_)  # looked up once, not per call


def _is_scalar(v: Any) -> bool:
    return isinstance(v, _NUMBERS) and not isinstance(v, _BOOLS)


def _scalar(name: str, arg: str, value: Any, dtype: np.dtype, backend) -> Any:
    """The scalar operand as a 1-element array of the other operand's dtype."""
    if dtype.kind in "iu":
        if isinstance(value, (float, np.floating)):
            if not float(value).is_integer():
                raise TypeError(f"{name}: argument {arg!r} = {value!r} is not an integer, but the other "
                                f"operand has dtype {dtype}")
            value = int(value)
        info = np.iinfo(dtype)
        if not info.min <= int(value) <= info.max:
            raise TypeError(f"{name}: argument {arg!r} = {value!r} does not fit in {dtype}")
    elif dtype.kind == "f" and not abs(value) <= _largest(dtype) and math.isfinite(value):
        with np.errstate(over="ignore"):  # a finite number past the dtype's range becomes inf
            return backend.asarray(np.array([value], dtype))
    # (np.errstate on every call cost a third of a planned 0-d multiply by a number.)
    return backend.asarray(np.array([value], dtype))


@functools.lru_cache(maxsize=None)
def _largest(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).max)


def _check_array(name: str, arg: str, a: Any, spec: Input):
    backend = backend_of(a, name, arg)
    domain = spec.domain(backend.name)
    if dtype_name(a.dtype) not in domain:
        raise TypeError(f"{name}: argument {arg!r} must have a dtype of {', '.join(domain)} on {backend.name}, "
                        f"got {a.dtype}")
    return backend


@functools.lru_cache(maxsize=None)
def _inputs(name: str) -> tuple[Input, Input]:
    dt = FLOATS if name in FLOAT_ONLY else DTYPES
    return Input("x", dt), Input("y", dt)


def expand(backend, a: Any, shape: tuple[int, ...]) -> Any:
    """a broadcast to `shape`, contiguous (for the rare problems of more than MAXD merged axes)."""
    if backend.name == "cpu":
        return np.ascontiguousarray(np.broadcast_to(a, shape))
    if backend.name == "cuda":
        return backend.cp.ascontiguousarray(backend.cp.broadcast_to(a, shape))
    a = a.reshape((1,) * (len(shape) - a.ndim) + tuple(a.shape))
    strides = tuple(0 if d == 1 and s != 1 else st for d, s, st in zip(a.shape, shape, a.strides))
    view = backend.cl.array.Array(backend.queue, shape, a.dtype, data=a.base_data, offset=a.offset,
                                  strides=strides)
    return backend.ascontiguous(view)


def binary(name: str, x: Any, y: Any) -> Any:
    """op `name` (a public op or an internal code) of x and y, broadcast, on their device."""
    return _binary(ELEMENTWISE, name, x, y)


def _binary(op: Op, name: str, x: Any, y: Any) -> Any:
    """op's code `name` of x and y (an arithmetic op or a comparison); errors name it."""
    scalar_x, scalar_y = _is_scalar(x), _is_scalar(y)
    if scalar_x != scalar_y:  # a number's value changes from call to call; its type does not
        key = call_key(f"{op.name} {name}", (y,) if scalar_x else (x,), scalar_x, type(x if scalar_x else y))
    else:
        key = call_key(f"{op.name} {name}", (x, y))
    return dispatch.planned(key, lambda: _prepare(op, name, x, y))(x, y)


def _prepare(op: Op, name: str, x: Any, y: Any):
    """The op on operands like x and y, checked: a function of (x, y)."""
    scalar = "x" if _is_scalar(x) and not _is_scalar(y) else "y" if _is_scalar(y) else None
    xa, ya, (backend, out_shape, problem, xm, ym) = _plan(op, name, x, y)
    if problem is None:  # an empty output
        dtype = np.bool_ if op is COMPARE else xa.dtype
        return lambda x, y: backend.empty(out_shape, dtype)
    launcher = dispatch.select(op, problem).launcher
    if scalar is None and getattr(launcher, "broadcasts", False):  # NumPy's own broadcasting (baseline.py)
        if backend.ascontiguous(xa) is xa and backend.ascontiguous(ya) is ya:
            return launcher  # the operands as given (the plan's key holds their strides)
        # Views contiguous first, as the kernels get them: NumPy's strided loops round some
        # ufuncs (log, power) differently from its SIMD ones, and a view must match its copy.
        return lambda x, y: launcher(backend.ascontiguous(x), backend.ascontiguous(y))
    dtype = xa.dtype

    def run(x, y):
        if scalar == "x":  # the number as a 1-element array, its value checked against the dtype
            x = _scalar(name, "x", x, dtype, backend)
        elif scalar == "y":
            y = _scalar(name, "y", y, dtype, backend)
        x, y = backend.ascontiguous(x), backend.ascontiguous(y)
        if xm is None:  # more merged axes than the kernels index
            x, y = expand(backend, x, out_shape).reshape(-1), expand(backend, y, out_shape).reshape(-1)
            return launcher(x, y).reshape(out_shape)
        return launcher(x.reshape(xm), y.reshape(ym)).reshape(out_shape)

    return run


def _plan(op: Op, name: str, x: Any, y: Any) -> tuple[Any, Any, tuple]:
    """(x, y, plan) after every check: a scalar operand becomes a 1-element array of the
    other's dtype; the plan is (backend, output shape, problem or None for an empty output,
    x's and y's merged shapes or None where they must be expanded first)."""
    spec_x, spec_y = _inputs(name)
    if _is_scalar(x) and not _is_scalar(y):
        backend = _check_array(name, "y", y, spec_y)
        dtype = y.dtype
        x = _scalar(name, "x", x, dtype, backend)
        xs, ys = (), tuple(y.shape)
    else:
        backend = _check_array(name, "x", x, spec_x)
        dtype = x.dtype
        if _is_scalar(y):
            y = _scalar(name, "y", y, dtype, backend)
            ys = ()
        else:
            other = backend_of(y, name, "y")
            if other is not backend:
                raise TypeError(f"{name}: argument 'y' is on {other.name} but 'x' is on {backend.name}")
            if y.dtype != dtype:
                raise TypeError(f"{name}: argument 'y' has dtype {y.dtype} but 'x' has {dtype} (convert one "
                                "with hakl.cast)")
            ys = tuple(y.shape)
        xs = tuple(x.shape)
    geometry = _geometry(xs, ys)
    if geometry is None:
        raise ValueError(f"{name}: shapes {xs} of 'x' and {ys} of 'y' do not broadcast")
    out_shape, pattern, shape, xm, ym = geometry
    if 0 in out_shape:
        return x, y, (backend, out_shape, None, None, None)
    if len(shape) > MAXD:
        pattern, shape, xm, ym = "b", (math.prod(out_shape),), None, None
    return x, y, (backend, out_shape, _problem(op.name, name, backend.name, dtype_name(dtype), shape, pattern), xm, ym)


@functools.lru_cache(maxsize=4096)
def _geometry(xs: tuple[int, ...], ys: tuple[int, ...]):
    """(out shape, collapse(xs, ys)) or None where they do not broadcast: per pair of shapes,
    which the framework repeats (np.broadcast_shapes alone was a fifth of a 4x8 add)."""
    try:
        out_shape = np.broadcast_shapes(xs, ys)
    except ValueError:
        return None
    return (out_shape, *collapse(xs, ys)) if 0 not in out_shape else (out_shape, "", (), (), ())


@functools.lru_cache(maxsize=4096)
def _problem(op: str, code: str, backend: str, dtype: str, shape: tuple[int, ...], pattern: str) -> Problem:
    return Problem(op, backend, dtype, shape, (("op", code), ("pattern", pattern)))


def add(x: Any, y: Any) -> Any:
    """x + y, broadcast (NumPy's rules), on the inputs' device."""
    return binary("add", x, y)


def subtract(x: Any, y: Any) -> Any:
    """x - y, broadcast."""
    return binary("subtract", x, y)


def multiply(x: Any, y: Any) -> Any:
    """x * y, broadcast."""
    return binary("multiply", x, y)


def divide(x: Any, y: Any) -> Any:
    """x / y, broadcast (floats only; x / 0 is ±inf or NaN as in IEEE)."""
    return binary("divide", x, y)


def maximum(x: Any, y: Any) -> Any:
    """The larger of x and y elementwise, broadcast; NaN if either is NaN."""
    return binary("maximum", x, y)


def minimum(x: Any, y: Any) -> Any:
    """The smaller of x and y elementwise, broadcast; NaN if either is NaN."""
    return binary("minimum", x, y)


def pow(x: Any, y: Any) -> Any:  # noqa: A001  (Paddle's and NumPy's name)
    """x ** y, broadcast (floats only)."""
    return binary("pow", x, y)


def _comparison(name: str):
    def compare(x: Any, y: Any) -> Any:
        return _binary(COMPARE, name, x, y)

    symbol = ("==", "!=", ">", ">=", "<", "<=")[COMPARISONS[name]]
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = (f"x {symbol} y elementwise, broadcast, as a bool array on the inputs' device (NaN: "
                       "unequal to everything).")
    return compare


# ---- gradients -------------------------------------------------------------------


def _reduce_axes(full: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    lead = len(full) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and full[lead + i] != 1)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """g (of the broadcast output's shape) summed over the axes an input of `shape` was
    broadcast along: the input's gradient. float16 sums in float32."""
    backend = backend_of(g, "sum_to", "g")
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    axes = _reduce_axes(tuple(g.shape), shape)
    acc = np.float32 if g.dtype == np.float16 else g.dtype
    if backend.name == "cpu":
        return np.asarray(np.sum(g, axis=axes, dtype=acc)).astype(g.dtype, copy=False).reshape(shape)
    if backend.name == "cuda":
        return backend.cp.sum(g, axis=axes, dtype=acc).astype(g.dtype, copy=False).reshape(shape)
    from .opencl import sum_to as cl_sum_to

    return cl_sum_to(backend.ascontiguous(g), shape)


_GRADS = {  # op -> (the full-shape dx, dy) as compositions of op codes
    "add": lambda x, y, d: (d, d),
    "subtract": lambda x, y, d: (d, binary("negmul", d, 1)),
    "multiply": lambda x, y, d: (binary("multiply", d, y), binary("multiply", d, x)),
    "maximum": lambda x, y, d: (binary("multiply", d, binary("gt", x, y)), binary("multiply", d, binary("le", x, y))),
    "minimum": lambda x, y, d: (binary("multiply", d, binary("lt", x, y)), binary("multiply", d, binary("ge", x, y))),
    "pow": lambda x, y, d: (binary("multiply", d, binary("pow_dx", x, y)),
                            binary("multiply", d, binary("pow_dy", x, y))),
}


def _divide_grads(x, y, d):
    dx = binary("divide", d, y)
    return dx, binary("negmul", dx, binary("divide", x, y))  # -(d / y) * (x / y)


_GRADS["divide"] = _divide_grads


def grad(name: str, x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of op `name` at (x, y) given the output's gradient `dout`, each of its input's
    shape (None for a scalar operand)."""
    fn = f"{name}_grad"
    spec_x, spec_y = Input("x"), Input("y")
    arrays = [(a, arg, spec) for a, arg, spec in ((x, "x", spec_x), (y, "y", spec_y)) if not _is_scalar(a)]
    if not arrays:
        backend_of(x, fn, "x")  # raises: an array is needed
    backend = _check_array(fn, arrays[0][1], arrays[0][0], arrays[0][2])
    for a, arg, spec in arrays[1:]:
        _check_array(fn, arg, a, spec)
    dtype = arrays[0][0].dtype
    for a, arg, _ in arrays[1:]:
        if a.dtype != dtype:
            raise TypeError(f"{fn}: argument {arg!r} has dtype {a.dtype} but 'x' has {dtype}")
    other = backend_of(dout, fn, "dout")
    if other is not backend:
        raise TypeError(f"{fn}: argument 'dout' is on {other.name} but the inputs are on {backend.name}")
    if dout.dtype != dtype:
        raise TypeError(f"{fn}: argument 'dout' has dtype {dout.dtype} but the inputs have {dtype}")
    xs = () if _is_scalar(x) else tuple(x.shape)
    ys = () if _is_scalar(y) else tuple(y.shape)
    try:
        out_shape = np.broadcast_shapes(xs, ys)
    except ValueError:
        raise ValueError(f"{fn}: shapes {xs} of 'x' and {ys} of 'y' do not broadcast") from None
    if tuple(dout.shape) != out_shape:
        raise ValueError(f"{fn}: argument 'dout' has shape {tuple(dout.shape)} but the output has {out_shape}")
    if 0 in out_shape:
        return (None if _is_scalar(x) else backend.empty(xs, dtype) if 0 in xs else _zeros(backend, xs, dtype),
                None if _is_scalar(y) else backend.empty(ys, dtype) if 0 in ys else _zeros(backend, ys, dtype))
    dout = backend.ascontiguous(dout)
    gx, gy = _GRADS[name](x, y, dout)
    return (None if _is_scalar(x) else sum_to(gx, xs), None if _is_scalar(y) else sum_to(gy, ys))


def _zeros(backend, shape, dtype):
    return backend.asarray(np.zeros(shape, dtype))


def add_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of add: dout summed over each input's broadcast axes."""
    return grad("add", x, y, dout)


def subtract_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of subtract: dout and -dout, each summed to its input's shape."""
    return grad("subtract", x, y, dout)


def multiply_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of multiply: dout * y and dout * x, summed to each input's shape."""
    return grad("multiply", x, y, dout)


def divide_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of divide: dout / y and -dout * x / y**2, summed to each input's shape."""
    return grad("divide", x, y, dout)


def maximum_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of maximum: dout where x > y, and where x <= y (ties go to y)."""
    return grad("maximum", x, y, dout)


def minimum_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of minimum: dout where x < y, and where x >= y (ties go to y)."""
    return grad("minimum", x, y, dout)


def pow_grad(x: Any, y: Any, dout: Any) -> tuple[Any, Any]:
    """(dx, dy) of pow: dout * y * x**(y-1) and dout * x**y * log(x) (see the module docstring)."""
    return grad("pow", x, y, dout)


# ---- the public functions' declarations ------------------------------------------

SAMPLE_SHAPES = (((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((), (3,)), ((2, 1, 3), (4, 1)))


def _function_samples(name: str, with_dout: bool):
    def samples(dtype: str, rng: np.random.Generator):
        for xs, ys in SAMPLE_SHAPES:
            x, y = _values(name, dtype, xs, rng, "x"), _values(name, dtype, ys, rng, "y")
            if not with_dout:
                yield Sample((x, y))
            else:
                yield Sample((x, y, rng.standard_normal(np.broadcast_shapes(xs, ys)).astype(dtype)))
    return samples


def _backward(name: str):
    return lambda args, kwargs, out, dout: grad(name, args[0], args[1], dout)


_FORWARD = {"add": add, "subtract": subtract, "multiply": multiply, "divide": divide, "maximum": maximum,
            "minimum": minimum, "pow": pow}
_BACKWARD = {"add": add_grad, "subtract": subtract_grad, "multiply": multiply_grad, "divide": divide_grad,
             "maximum": maximum_grad, "minimum": minimum_grad, "pow": pow_grad}

for _name in PUBLIC:
    _dts = FLOATS if _name in FLOAT_ONLY else DTYPES
    register_function(
        Function(_name, _FORWARD[_name], ("elementwise",), _inputs(_name), _function_samples(_name, False),
                 dtypes=_dts, derivative=Derivative((0, 1), _backward(_name))),
        Function(f"{_name}_grad", _BACKWARD[_name], ("elementwise",),
                 (Input("x"), Input("y"), Input("dout", role="grad")), _function_samples(_name, True)),
    )

_COMPARE = {name: _comparison(name) for name in COMPARISONS}
equal, not_equal, greater_than, greater_equal, less_than, less_equal = _COMPARE.values()  # COMPARISONS' order
for _name, _fn in _COMPARE.items():
    register_function(Function(_name, _fn, ("compare",), _inputs(_name),
                               _function_samples(_name, False), dtypes=DTYPES))

__all__ = [*PUBLIC, *(f"{n}_grad" for n in PUBLIC), *COMPARISONS, "sum_to", "expand"]
