"""cumsum baseline: the array module's cumsum (float16 accumulating in float32), a
shift for exclusive scans and flips for reverse ones; one composition over the
array module: NumPy's is the CPU baseline, CuPy's the CUDA one.

Every launcher sees the contiguous (outer, n, inner) view and scans along n.
`module` names the array module ("numpy" or "cupy"), imported when a launcher is
built, so that CuPy need not be installed to declare it.
"""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...op import Problem


def scan(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        exclusive, reverse = problem.flag("exclusive"), problem.flag("reverse")
        acc = np.float32 if problem.dtype == "float16" else problem.np_dtype

        def launch(x):
            if reverse:
                x = x[:, ::-1]
            y = xp.cumsum(x, axis=1, dtype=acc)
            if exclusive:
                y = xp.concatenate([xp.zeros_like(y[:, :1]), y[:, :-1]], axis=1)
            if reverse:
                y = y[:, ::-1]
            return xp.ascontiguousarray(y.astype(problem.dtype, copy=False))

        return launch

    return build
