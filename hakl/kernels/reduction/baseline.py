"""Reduction baselines: the array module's own sum / mean / max / min / argmax over axis 1
of the (outer, n, inner) view (float16 accumulating in float32), and the gradients as
broadcasts and a where; written once over the module: NumPy's is the CPU baseline,
CuPy's the CUDA one. Their summation orders are the libraries' (see the package
docstring: the hakl kernels share one fixed tree, the baselines do not)."""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly
from ...op import Problem


def forward(module: str):
    def build(problem: Problem, config: dict):
        from . import out_dtype

        xp = import_module(module)
        op, dtype = problem.flag("op"), problem.np_dtype
        result = out_dtype(op, dtype)
        acc = np.float32 if dtype == np.float16 else (np.int64 if dtype.kind in "biu" else None)

        def launch(x):
            if op in ("sum", "mean"):
                return (xp.sum if op == "sum" else xp.mean)(x, axis=1, dtype=acc).astype(result, copy=False)
            if op == "argmax":
                return xp.argmax(x, axis=1).astype(np.int64, copy=False)
            return (xp.max if op == "max" else xp.min)(x, axis=1)

        return quietly(launch) if module == "numpy" else launch  # inf - inf is NaN, as in the kernels

    return build


def backward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        op, dtype = problem.flag("op"), problem.np_dtype
        acc = np.dtype(np.float32 if dtype == np.float16 else dtype)

        def launch(x, out, dout):
            if op == "sum":
                return xp.broadcast_to(dout, x.shape).copy()
            if op == "mean":
                return xp.broadcast_to((dout.astype(acc) / acc.type(x.shape[1])).astype(dtype), x.shape).copy()
            return xp.where(x == out, dout, xp.zeros((), dtype))

        return launch

    return build
