"""matmul baseline: the array module's matmul, written once over the module (NumPy's
BLAS is the CPU baseline, CuPy's cuBLAS the CUDA one). The launcher gets the canonical
operands (hakl.kernels.matmul: contiguous, batch axes of 1 where broadcast, transposed
as the problem's flags say), which both modules broadcast and read transposed as views."""
from __future__ import annotations

import contextlib
from importlib import import_module

import numpy as np

from ...op import Problem
from .reference import logical


def matmul(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ta, tb = problem.flag("ta"), problem.flag("tb")
        # NumPy's float16 matmul is a loop of its own, not BLAS: float32 BLAS, rounded once.
        # (CuPy's cuBLAS GemmEx takes float16 and accumulates in float32 itself.)
        widen = module == "numpy" and problem.dtype == "float16"
        quiet = (lambda: np.errstate(all="ignore")) if module == "numpy" else contextlib.nullcontext

        def launch(a, b, out=None):  # out: the (M, N) product's buffer, where the caller has one
            with quiet():  # NaN and inf inputs propagate as IEEE says, without NumPy's warnings
                if widen:
                    wide = np.matmul(logical(np, a.astype(np.float32), ta), logical(np, b.astype(np.float32), tb))
                    if out is None:
                        return wide.astype(np.float16)
                    out[...] = wide
                    return out
                return xp.matmul(logical(xp, a, ta), logical(xp, b, tb), out=out)

        return launch

    return build
