"""layer_norm baselines: reference.forward_xp / backward_xp over the array module (NumPy on
the CPU, CuPy on CUDA), in float32 for float16 and float32 inputs, float64 for float64:
a mean, a variance, a normalisation and the affine step as separate array calls."""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly
from ...op import Problem
from . import reference


def forward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ct = np.float64 if problem.dtype == "float64" else np.float32
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))

        def launch(x, *rest, epsilon=1e-5):
            rest = list(rest)
            weight = rest.pop(0) if has_w else None
            bias = rest.pop(0) if has_b else None
            y, mean, rstd = reference.forward_xp(xp, x, weight, bias, epsilon, ct)
            return xp.ascontiguousarray(y.astype(x.dtype, copy=False)), mean, rstd

        return quietly(launch) if module == "numpy" else launch

    return build


def backward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ct = np.float64 if problem.dtype == "float64" else np.float32
        has_w, has_b = bool(problem.flag("weight")), bool(problem.flag("bias"))

        def launch(x, dout, mean, rstd, *rest):
            out = reference.backward_xp(x, dout, mean, rstd, rest[0] if has_w else None, has_b, ct)
            return tuple(xp.ascontiguousarray(o.astype(x.dtype, copy=False)) for o in out)

        return quietly(launch) if module == "numpy" else launch

    return build
