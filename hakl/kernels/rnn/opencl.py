"""RNN layers on OpenCL: the fused structure (fused.py) with hakl.matmul's OpenCL GEMM (the
input projection of every step as one product, one product a step) and rnn.cl's gates
kernels. It is also the baseline: pyopencl has no GEMM of its own, so there is no
composition of library calls to compare against (as for matmul's naive kernel).
float64 where the device has cl_khr_fp64."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import RNN, fused

SOURCE = Path(__file__).with_name("rnn.cl")
KIND = {"float32": 1, "float64": 2}
LOCAL = 64


class _Lib:
    """fused.py's array operations on pyopencl arrays, through hakl's functions."""

    def __init__(self):
        self.backend = get_backend("opencl")

    def empty(self, shape, dtype):
        return self.backend.empty(shape, dtype)

    def gemm(self, a, b, ta=False, tb=False, out=None):
        from ..matmul import matmul

        return matmul(a, b, transpose_a=ta, transpose_b=tb)  # a new array: hakl.matmul has no out=

    def step_weights(self, w_hh):
        return w_hh, True  # the tuned kernels read the transpose in place

    def colsum(self, a):
        from ..reduction import sum as total

        return total(a, axis=0)

    def lengths(self, lengths, t: int, b: int):
        return self.backend.asarray(np.full((b,), t, np.int32)) if lengths is None else lengths


def _kernels(dtype: str):
    backend = get_backend("opencl")
    backend.require()
    source = SOURCE.read_text()
    step, grad = (backend.kernel(source, name, {"KIND": KIND[dtype]}) for name in ("rnn_step", "rnn_step_grad"))
    at = backend.at

    def launch(kernel, code, arrays, lengths, s, b, h):
        n = b * h
        args = [np.int32(code)]
        for a in arrays:
            args.extend(at(a))
        kernel(backend.queue, (-(-n // LOCAL) * LOCAL,), (LOCAL,), *args, *at(lengths), np.int64(s), np.int64(b),
               np.int64(h))

    def run_step(code, xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths, s):
        b, h = h_prev.shape
        arrays = (xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y)
        launch(step, code, arrays, lengths, s, b, h)

    def run_grad(code, gates, h_prev, c_prev, c_new, dy, dh, dc, lengths, s, d_in, d_hid):
        b, h = h_prev.shape
        args = [np.int32(code)]
        for a in (gates, h_prev, c_prev, c_new, dy, dh, dc):
            args.extend(at(a))
        args.extend(at(lengths))
        args.append(np.int64(s))
        for a in (d_in, d_hid):
            args.extend(at(a))
        n = b * h
        grad(backend.queue, (-(-n // LOCAL) * LOCAL,), (LOCAL,), *args, np.int64(b), np.int64(h))

    return run_step, run_grad


def _supports(problem: Problem) -> bool:
    return problem.dtype in RNN.dtypes("opencl")


def _forward(problem: Problem, config: dict):
    return fused.forward_launcher(problem, _Lib(), _kernels(problem.dtype)[0])


def _backward(problem: Problem, config: dict):
    return fused.backward_launcher(problem, _Lib(), _kernels(problem.dtype)[1])


def forward_variants() -> list[Variant]:
    return [Variant("fused", "opencl", _forward, baseline=True, supports=_supports, sources=(SOURCE,),
                    accepts_out=True)]


def backward_variants() -> list[Variant]:
    return [Variant("fused", "opencl", _backward, baseline=True, supports=_supports, sources=(SOURCE,))]
