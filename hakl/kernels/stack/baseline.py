"""stack / unstack baselines: the array module's stack, and contiguous copies of
the slices of the stacked axis; one composition over the array module: NumPy's
is the CPU baseline, CuPy's the CUDA one.

Launchers see the parts as (outer, inner) and the stacked array as (outer, k, inner).
`module` names the array module ("numpy" or "cupy"), imported when a launcher is
built, so that CuPy need not be installed to declare it.
"""
from __future__ import annotations

from importlib import import_module

from ...op import Problem


def stack(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(*xs):
            return xp.stack(xs, axis=1)
        return launch
    return build


def unstack(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(x):
            return tuple(xp.ascontiguousarray(x[:, j, :]) for j in range(x.shape[1]))
        return launch
    return build
