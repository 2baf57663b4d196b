"""elementwise baselines: the array module's arithmetic and comparisons with its own broadcasting, written
once over the module (NumPy's is the CPU baseline, CuPy's the CUDA one). The launcher
gets x and y in their merged shapes (hakl.kernels.elementwise.collapse)."""
from __future__ import annotations

import contextlib
from importlib import import_module

import numpy as np

from ...op import Problem
from . import reference


def arithmetic(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        op, dtype = problem.flag("op"), problem.np_dtype
        quiet = (lambda: np.errstate(all="ignore")) if module == "numpy" else contextlib.nullcontext

        def launch(x, y):
            with quiet():
                out = reference.apply(xp, op, x, y, dtype)
            return xp.ascontiguousarray(out)

        return launch

    return build


def comparison(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        op = problem.flag("op")
        return lambda x, y: xp.ascontiguousarray(reference.compare_with(xp, op, x, y))

    return build
