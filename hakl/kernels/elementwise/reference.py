"""Reference elementwise binary ops and comparisons. The arithmetic: float64 NumPy
(integers in their own dtype, which wraps as the kernels do), NumPy broadcasting, the
result rounded to the problem's dtype (a float32 sum that overflows is inf in float32,
not a large float64) and returned as float64 for the comparison. The comparisons: NumPy's
ufuncs in the inputs' dtype, an exact bool result."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def _where_nonzero(mask, value):
    return np.where(mask, value, 0.0)


def apply(xp, op: str, a, b, dtype):
    """op(a, b) with broadcasting on NumPy or CuPy arrays, in `dtype`: every code the kernels
    know (the reference calls it in float64, the baselines in the problem's dtype)."""
    if op == "add":
        return a + b
    if op == "subtract":
        return a - b
    if op == "multiply":
        return a * b
    if op == "divide":
        return a / b
    if op == "maximum":
        return xp.maximum(a, b)
    if op == "minimum":
        return xp.minimum(a, b)
    if op == "pow":
        return xp.power(a, b)
    if op == "negmul":
        return -(a * b)
    if op == "gt":
        return (a > b).astype(dtype)
    if op == "le":
        return (a <= b).astype(dtype)
    if op == "lt":
        return (a < b).astype(dtype)
    if op == "ge":
        return (a >= b).astype(dtype)
    if dtype == np.float16:  # the partials' several steps in float32, rounded once
        a, b = a.astype(np.float32), b.astype(np.float32)
    zero = xp.zeros((), a.dtype)
    if op == "pow_dx":
        return xp.where(b == 0, zero, b * xp.power(a, b - 1)).astype(dtype)
    if op == "pow_dy":
        return xp.where((a == 0) & (b >= 0), zero, xp.power(a, b) * xp.log(a)).astype(dtype)
    raise ValueError(f"unknown elementwise op {op!r}")


COMPARE_UFUNCS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")  # COMPARISONS' order


def compare_ufunc(xp, op: str):
    """The array module's ufunc of the comparison `op` (a public name)."""
    from . import COMPARISONS

    return getattr(xp, COMPARE_UFUNCS[COMPARISONS[op]])


def compare(problem: Problem, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The bool result, exactly: NumPy compares float16 and integers in their own dtype."""
    return compare_ufunc(np, problem.flag("op"))(x, y)


def forward(problem: Problem, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    op = problem.flag("op")
    with np.errstate(all="ignore"):
        if problem.np_dtype.kind in "iu":
            return apply(np, op, x, y, x.dtype)
        out = apply(np, op, x.astype(np.float64), y.astype(np.float64), np.float64)
        return out.astype(problem.dtype).astype(np.float64)
