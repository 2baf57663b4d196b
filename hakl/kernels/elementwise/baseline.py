"""elementwise baseline: the array module's arithmetic with its own broadcasting, written
once over the module (NumPy's is the CPU baseline, CuPy's the CUDA one). The launcher
gets x and y in their merged shapes (hakl.kernels.elementwise.collapse)."""
from __future__ import annotations

import contextlib
from importlib import import_module

import numpy as np

from ...op import Problem


def apply(xp, op: str, a, b, dtype):
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


def arithmetic(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        op, dtype = problem.flag("op"), problem.np_dtype
        quiet = (lambda: np.errstate(all="ignore")) if module == "numpy" else contextlib.nullcontext

        def launch(x, y):
            with quiet():
                out = apply(xp, op, x, y, dtype)
            return xp.ascontiguousarray(out)

        return launch

    return build
