"""softmax baselines: max, exp, sum and divide as array calls, one composition over
the array module: NumPy's is the CPU baseline, CuPy's the CUDA one.

Every launcher sees the contiguous (outer, n, inner) view and normalises over n;
float16 computes in float32. `module` names the array module ("numpy" or "cupy"),
imported when a launcher is built, so that CuPy need not be installed to declare it.
"""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly
from ...op import Problem


def _compute(problem: Problem):
    return np.float32 if problem.dtype == "float16" else problem.np_dtype


def forward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        log, compute = problem.flag("log"), _compute(problem)

        def launch(x):
            x = x.astype(compute, copy=False)
            shifted = x - x.max(axis=1, keepdims=True)
            e = xp.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            y = shifted - xp.log(s) if log else e / s
            return y.astype(problem.dtype, copy=False)

        # NumPy warns on the NaN and inf rows the conformance cases hold; CuPy never warns.
        return quietly(launch) if xp is np else launch

    return build


def backward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        log, compute = problem.flag("log"), _compute(problem)

        def launch(y, dy):
            y, dy = y.astype(compute, copy=False), dy.astype(compute, copy=False)
            if log:
                dx = dy - xp.exp(y) * dy.sum(axis=1, keepdims=True)
            else:
                dx = y * (dy - (dy * y).sum(axis=1, keepdims=True))
            return dx.astype(problem.dtype, copy=False)

        return launch

    return build
