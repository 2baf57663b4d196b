"""The per-parameter baseline, written once over an array module: each parameter's
update as a composition of array expressions (NumPy on the CPU, CuPy on CUDA, pyopencl
arrays on OpenCL), in the compute type (float32 for float16 storage, as Paddle's MPType)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...op import Problem
from . import coefficients, per_tensor, rule, split, state_dtype, updated


def build(sqrt: Callable, write: Callable) -> Callable:
    """A variant's build: `sqrt(array)` and `write(dst, src)` (dst[...] = src, cast) of the module."""
    def make(problem: Problem, config: dict):
        code = rule(problem)
        ct = np.dtype(np.float64 if state_dtype(problem) == "float64" else np.float32).type

        def launch(*arrays, **params):
            lists = split(problem, arrays)
            n = len(lists["params"])
            scal = per_tensor(problem, params, n)
            # (not backends.cpu.quietly, which is for NumPy code: this runs CuPy's and pyopencl's too)
            with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf grads propagate (NumPy)
                _each(lists, n, scal, *coefficients(params, ct))
            return updated(problem, arrays)

        def _each(lists, n, scal, b1, c1, b2, c2, mu):
            for i in range(n):
                p = lists["params"][i]
                if p.size == 0:
                    continue
                master = lists["master_params"][i] if "master_params" in lists else None
                w = (p if master is None else master).astype(ct)
                g = lists["grads"][i].astype(ct)
                lr, decay, eps = ct(scal[i, 0]), ct(scal[i, 1]), ct(scal[i, 2])
                if code == 0:
                    m1 = lists["moments1"][i].astype(ct) * b1 + g * c1
                    m2 = lists["moments2"][i].astype(ct) * b2 + g * g * c2
                    w = w * decay - lr * (m1 / (sqrt(m2) + eps))
                    write(lists["moments1"][i], m1)
                    write(lists["moments2"][i], m2)
                elif code == 1:
                    w = w - lr * g
                else:
                    v = lists["velocities"][i].astype(ct) * mu + g
                    w = w - (g + v * mu) * lr if code == 3 else w - lr * v
                    write(lists["velocities"][i], v)
                write(p, w)
                if master is not None:
                    write(master, w)

        return launch

    return make
