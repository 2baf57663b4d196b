"""elementwise baselines: the array module's arithmetic and comparisons with its own broadcasting, written
once over the module (NumPy's is the CPU baseline, CuPy's the CUDA one). Their launchers
broadcast as NumPy does, so they take the operands in any of their layouts: the merged
shapes of hakl.kernels.elementwise.collapse, or the shapes the caller gave (`broadcasts`,
which spares a small call three reshapes)."""
from __future__ import annotations

from importlib import import_module

from ...backends.cpu import quietly
from ...op import Problem
from . import reference


def arithmetic(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        op, dtype = problem.flag("op"), problem.np_dtype

        def launch(x, y):
            return xp.asarray(reference.apply(xp, op, x, y, dtype), order="C")  # 0-d stays 0-d

        if module == "numpy":  # NumPy warns of overflow and division by zero, as a kernel does not
            launch = quietly(launch)
        launch.broadcasts = True
        return launch

    return build


def comparison(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ufunc = reference.compare_ufunc(xp, problem.flag("op"))

        def launch(x, y):
            return xp.asarray(ufunc(x, y), order="C")

        launch.broadcasts = True
        return launch

    return build
