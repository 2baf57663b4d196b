"""cast: convert an array to another dtype (PaddlePaddle 2.0's `paddle.cast`).

    >>> import numpy as np
    >>> from hakl.kernels.cast import cast
    >>> cast(np.array([1.7, -2.5, 300.0], np.float32), "int16")
    array([  1,  -2, 300], dtype=int16)

Every pair among bool, int8, uint8, int16, int32, int64, float16, float32 and
float64 (float64 on OpenCL where the device has it), and bfloat16 (ml_dtypes' NumPy
dtype) on the CPU: CuPy has no bfloat16 arrays, and hakl's OpenCL kernels none yet.
The rules are NumPy's `astype`: integer -> integer wraps, -> float rounds to nearest
even, once (float64 -> bfloat16 does not round through float32; overflow is inf),
anything -> bool is `!= 0` (NaN is True), float -> int truncates toward zero; a
bfloat16 converts as the float32 of the same value (which holds it exactly).

Float -> int out of the target's range, and NaN/inf -> int, are undefined in C.
hakl gives the same answer on every backend and every variant, the one NumPy
gives on x86-64 (x86's truncating conversion instructions):
    -> int64:               INT64_MIN (-2**63)
    -> int32:               INT32_MIN (-2**31)
    -> int16, int8, uint8:  the low bits of the int32 result, so NaN and values
                            beyond int32 give 0, and 300.7 -> int8 gives 44.
The kernels (numba, CUDA, OpenCL) implement that rule explicitly; the NumPy
baseline inherits it from the host, so on another architecture (aarch64
saturates) only that baseline differs.

The gradient of a cast is the gradient cast back to the input's dtype, defined
for floating inputs only: `cast_grad(dy, x_dtype)`.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ...backends import backend_of, get as get_backend
from ...op import (BFLOAT16, Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key,
                   dtype_name, floating, option, register, register_function)
from ...tuning import dispatch
from . import reference

DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16")
FLOATS = ("float16", "float32", "float64", "bfloat16")


def dtypes(backend: str) -> tuple[str, ...]:
    """The dtypes cast handles on `backend`: bfloat16 on the CPU only, float64 on an OpenCL
    device that has fp64."""
    if backend == "cpu":
        return DTYPES
    b = get_backend(backend)
    if backend == "opencl" and b.available and np.dtype("float64") not in b.dtypes():
        return DTYPES[:-2]
    return DTYPES[:-1]


def _target_range(to: np.dtype, src: np.dtype) -> tuple[float, float]:
    """Values of `src` that convert to `to` without leaving its range (float -> int)."""
    lo, hi = (float(np.iinfo(to).min), float(np.iinfo(to).max) + 1) if to.kind in "iu" else (-np.inf, np.inf)
    if src == np.float16:
        lo, hi = max(lo, -65504.0), min(hi, 65505.0)
    # a margin, so that rounding to `src` cannot reach the bound (bfloat16's ulp is 2**-7)
    margin = 0.98 if src == BFLOAT16 else 0.999
    return margin * lo, margin * hi


def _values(problem: Problem, rng: np.random.Generator, extremes: bool) -> np.ndarray:
    src, to, n = problem.np_dtype, np.dtype(problem.flag("to")), problem.size
    if src == np.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if src.kind in "iu":  # the whole range: wrapping and rounding of large values
        info = np.iinfo(src)
        return rng.integers(info.min, info.max, n, endpoint=True, dtype=src)
    if to.kind in "iu":  # in range, so that the result is defined; small values test truncation
        lo, hi = _target_range(to, src)
        x = np.where(rng.random(n) < 0.5, rng.uniform(lo, hi, n), np.clip(rng.standard_normal(n) * 50, lo, hi))
        return x.astype(src)
    if not extremes:  # float -> float or bool, data as it usually is
        return (rng.standard_normal(n) * 10).astype(src)
    # magnitudes from below the narrower type's subnormals to beyond its largest
    # value (underflow and overflow), and the specials
    narrow = np.finfo(to if floating(to) and to.itemsize < src.itemsize else src)
    lo = max(np.log10(float(narrow.smallest_subnormal)) - 2, np.log10(float(np.finfo(src).smallest_subnormal)))
    hi = min(np.log10(float(narrow.max)) + 1, np.log10(float(np.finfo(src).max)))
    x = rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(lo, hi, n)
    x[rng.random(n) < 0.05] = 0.0
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -1.5])[: n]
    x[rng.choice(n, specials.size, replace=False)] = specials
    with np.errstate(over="ignore"):
        return x.astype(src)


def sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray]:
    """Inputs for tuning and benchmarks: typical values (subnormals and overflow
    take slow paths in some peers, which would make a benchmark about them)."""
    return (_values(problem, rng, extremes=False),)


SIZES = [1, 3, 16, 17, 1000, 4099, (1 << 16) + 5, (1 << 20) + 7]
QUICK_SIZES = [3, 17, 4099]


def _cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
    """For source `dtype`: every destination dtype of the backend, at every size;
    float -> float / bool with subnormals, overflow, NaN and infinities."""
    for to in dtypes(backend):
        for n in QUICK_SIZES if quick else SIZES:
            problem = Problem("cast", backend, dtype, (n,), (("to", to),))
            yield problem, (_values(problem, rng, extremes=True),)


CAST = register(Op(
    name="cast",
    reference=reference.forward,
    sample=sample,
    nbytes=lambda p: p.size * (p.np_dtype.itemsize + np.dtype(p.flag("to")).itemsize),
    exact=True,
    cases=_cases,
    inputs=(Input("x", dtypes),),
    example=lambda x, axis, o: cast(x, option(o, "to", "float32")),
    conformance_quick=("opencl",),  # 81 pairs at 8 sizes: the quick sizes on PoCL
))
attach_variants(__name__, {CAST: "variants"})


def _dtype_arg(op: str, name: str, value: Any, backend: str) -> np.dtype:
    try:
        return _known_dtype(value, backend)
    except TypeError:  # unhashable, or not a dtype: the message below
        pass
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"{op}: argument {name!r} = {value!r} is not a dtype") from None
    if dt.name not in dtypes(backend):
        raise TypeError(f"{op}: argument {name!r} = {dt.name} is not supported on {backend}; "
                        f"expected one of {', '.join(dtypes(backend))}")
    return dt


@functools.lru_cache(maxsize=256)
def _known_dtype(value: Any, backend: str) -> np.dtype:
    """np.dtype(value) where cast takes it on `backend` (TypeError otherwise), per (value,
    backend): the framework casts small tensors often, and the lookups were most of a 4x8
    cast's 20 us."""
    dt = np.dtype(value)
    if dt.name not in dtypes(backend):
        raise TypeError(value)
    return dt


def cast(x: Any, dtype: Any) -> Any:
    """`x` converted to `dtype`, a new array on x's device (see the module docstring for the rules)."""
    return dispatch.planned(call_key("cast", (x,), dtype), lambda: _prepare(x, dtype))(x)


def _prepare(x: Any, dtype: Any):
    """The cast of arrays like `x`, checked: a function of the array."""
    backend = backend_of(x, "cast", "x")
    to = _dtype_arg("cast", "dtype", dtype, backend.name)
    if dtype_name(x.dtype) not in dtypes(backend.name):
        raise TypeError(f"cast: argument 'x' has dtype {x.dtype}, not supported on {backend.name}; "
                        f"expected one of {', '.join(dtypes(backend.name))}")
    shape = x.shape
    if x.size == 0:
        return lambda x: backend.empty(shape, to)
    launcher = dispatch.select(CAST, Problem("cast", backend.name, dtype_name(x.dtype), (x.size,),
                                             (("to", dtype_name(to)),))).launcher
    return lambda x: launcher(backend.ascontiguous(x).reshape(-1)).reshape(shape)


def cast_grad(dy: Any, dtype: Any) -> Any:
    """Gradient of `cast(x, ...)` w.r.t. x: `dy` cast back to x's dtype `dtype` (floating only)."""
    backend = backend_of(dy, "cast_grad", "dy")
    to = _dtype_arg("cast_grad", "dtype", dtype, backend.name)
    if to.name not in FLOATS or dy.dtype.name not in FLOATS:
        raise TypeError(f"cast_grad: a gradient flows between floating dtypes only: argument 'dy' has dtype "
                        f"{dy.dtype}, argument 'dtype' is {to.name}")
    return cast(dy, to)




# ---- the public functions' declarations ----------------------------------------


def _samples(function: str):
    def samples(dtype: str, rng: np.random.Generator):
        for shape in ((3, 5, 4), (7,), ()):
            x = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
            # to the same dtype: the float64 gradient check sees no rounding
            yield Sample((x, dtype))
    return samples


register_function(
    Function("cast", cast, ("cast",), (Input("x", dtypes),), _samples("cast"), dtypes=DTYPES,
             derivative=Derivative((0,), lambda args, kwargs, out, dout: (cast_grad(dout, args[0].dtype),))),
    Function("cast_grad", cast_grad, ("cast",), (Input("dy", role="grad"),), _samples("cast_grad")),
)

__all__ = ["cast", "cast_grad", "CAST", "DTYPES", "dtypes"]
