"""Reference elementwise binary ops: float64 NumPy (integers in their own dtype, which
wraps as the kernels do), NumPy broadcasting, the result rounded to the problem's
dtype (a float32 sum that overflows is inf in float32, not a large float64) and
returned as float64 for the comparison."""
from __future__ import annotations

import numpy as np

from ...op import Problem


def _where_nonzero(mask, value):
    return np.where(mask, value, 0.0)


def apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """op(a, b) with NumPy broadcasting, in a's (common) dtype; every code the kernels know."""
    if op == "add":
        return a + b
    if op == "subtract":
        return a - b
    if op == "multiply":
        return a * b
    if op == "divide":
        return a / b
    if op == "maximum":
        return np.maximum(a, b)
    if op == "minimum":
        return np.minimum(a, b)
    if op == "pow":
        return np.power(a, b)
    if op == "negmul":
        return -(a * b)
    if op in ("gt", "le", "lt", "ge"):
        mask = {"gt": a > b, "le": a <= b, "lt": a < b, "ge": a >= b}[op]
        return np.broadcast_to(mask, np.broadcast_shapes(a.shape, b.shape)).astype(a.dtype)
    if op == "pow_dx":  # d/da a**b = b * a**(b-1); 0 where b == 0 (torch's convention)
        return np.where(b == 0, 0.0, b * np.power(a, b - 1)).astype(a.dtype)
    if op == "pow_dy":  # d/db a**b = a**b * log(a); 0 where a == 0 and b >= 0
        return np.where((a == 0) & (b >= 0), 0.0, np.power(a, b) * np.log(a)).astype(a.dtype)
    raise ValueError(f"unknown elementwise op {op!r}")


def forward(problem: Problem, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    op = problem.flag("op")
    with np.errstate(all="ignore"):
        if problem.np_dtype.kind in "iu":
            return apply(op, x, y)
        out = apply(op, x.astype(np.float64), y.astype(np.float64))
        return out.astype(problem.dtype).astype(np.float64)
