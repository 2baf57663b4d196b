"""RNN layers on CUDA (never run on a GPU here: the sources compile in CI with nvcc):

- cupy (baseline): the composition, reference.py's step code as CuPy calls (two cuBLAS
  GEMMs and about ten elementwise kernels per step).
- fused: fused.py's structure with cuBLAS through CuPy (the input projection of every
  step as one GEMM, one GEMM a step into a preallocated buffer) and rnn.cl's gates kernel
  compiled with NVRTC behind rnn.cu's prelude: one launch a step for the gate math.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import fused, reference

SOURCE = Path(__file__).with_name("rnn.cu")
BODY = Path(__file__).with_name("rnn.cl")
KIND = {"float32": 1, "float64": 2}
BLOCK = 256
ZERO = np.int64(0)


@functools.lru_cache(maxsize=None)
def _source() -> str:
    return SOURCE.read_text() + "\n" + BODY.read_text()


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source(), {"KIND": KIND[problem.dtype]}


def _kernels(problem: Problem):
    backend = get_backend("cuda")
    backend.require()
    module = backend.compile(*compile_unit(problem, {}))
    step, grad = module.get_function("rnn_step"), module.get_function("rnn_step_grad")

    def args(arrays):
        out = []
        for a in arrays:
            out += [a, ZERO]  # a CuPy view's pointer is already at its first element
        return out

    def run_step(code, xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths, s):
        b, h = h_prev.shape
        step((-(-b * h // BLOCK),), (BLOCK,),
             (np.int32(code), *args((xa, ha, b_ih, b_hh, h_prev, h_new, c_prev, c_new, gates, y, lengths)),
              np.int64(s), np.int64(b), np.int64(h)))

    def run_grad(code, gates, h_prev, c_prev, c_new, dy, dh, dc, lengths, s, d_in, d_hid):
        b, h = h_prev.shape
        grad((-(-b * h // BLOCK),), (BLOCK,),
             (np.int32(code), *args((gates, h_prev, c_prev, c_new, dy, dh, dc, lengths)), np.int64(s),
              *args((d_in, d_hid)), np.int64(b), np.int64(h)))

    return run_step, run_grad


def _fused_forward(problem: Problem, config: dict):
    return fused.forward_launcher(problem, fused.ArrayLib("cupy"), _kernels(problem)[0])


def _fused_backward(problem: Problem, config: dict):
    return fused.backward_launcher(problem, fused.ArrayLib("cupy"), _kernels(problem)[1])


def _cupy_forward(problem: Problem, config: dict):
    return reference.baseline_forward(get_backend("cuda").cp, problem)


def _cupy_backward(problem: Problem, config: dict):
    return reference.baseline_backward(get_backend("cuda").cp, problem)


def forward_variants() -> list[Variant]:
    return [Variant("fused", "cuda", _fused_forward, sources=(SOURCE, BODY), compile_unit=compile_unit,
                    accepts_out=True),
            Variant("cupy", "cuda", _cupy_forward, baseline=True, accepts_out=True)]


def backward_variants() -> list[Variant]:
    return [Variant("fused", "cuda", _fused_backward, sources=(SOURCE, BODY), compile_unit=compile_unit),
            Variant("cupy", "cuda", _cupy_backward, baseline=True)]
