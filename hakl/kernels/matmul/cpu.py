"""matmul on the CPU: NumPy's matmul on OpenBLAS (the baseline; float16 through float32)
and oneDNN's matmul primitive (its jit GEMM), for the dtypes this machine's oneDNN
implements (float32 on AVX2; float16 needs AVX512-FP16 or AMX, float64 has none).

oneDNN reads a transposed operand in place: the canonical operand is the contiguous
array, its descriptor the transposed view's strides. Batch axes of 1 broadcast in the
primitive itself. A primitive is made once per operand shapes (cached in the binding,
and looked up per launcher without building the binding's key).

No numba GEMM: a register-blocked numba kernel reached a fraction of OpenBLAS and oneDNN
at every benchmarked shape, the skinny RNN ones included (notes/matmul.md has the figures).
Bytes moved at minimum: each operand and the result once; 2 M N K flops per batch.
"""
from __future__ import annotations

import numpy as np

from ...backends import output_pool
from ...backends import onednn
from ...op import AFTER_BASELINE, Problem, Variant
from . import baseline
from .reference import logical


# Below about 100^3 multiply-adds oneDNN's ~25 us a call (memory objects, the stream)
# costs more than OpenBLAS's whole product (measured: 64^3 37 us vs 13 us, 128^3 105 us
# vs 1.3 ms), so small products (a framework's many) stay with NumPy untuned.
ONEDNN_MIN_MNK = 1 << 20


def _onednn_supported(problem: Problem) -> bool:
    return (problem.size >= ONEDNN_MIN_MNK and onednn.available()
            and onednn.library().matmul_supports(problem.dtype))


def _elements(strides: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    return tuple(s // itemsize for s in strides)


def _onednn(problem: Problem, config: dict):
    lib, dtype = onednn.library(), problem.dtype
    ta, tb = problem.flag("ta"), problem.flag("tb")
    primitives: dict[tuple, tuple[onednn.Primitive, tuple[int, ...]]] = {}

    def launch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        key = (a.shape, b.shape)
        hit = primitives.get(key)
        if hit is None:
            src, weights = logical(np, a, ta), logical(np, b, tb)
            prim = lib.matmul(src.shape, weights.shape, dtype, _elements(src.strides, a.itemsize),
                              _elements(weights.strides, b.itemsize))
            out_shape = tuple(max(x, y) for x, y in zip(src.shape[:-2], weights.shape[:-2])) + \
                (src.shape[-2], weights.shape[-1])
            hit = primitives[key] = (prim, out_shape)
        prim, out_shape = hit
        out = output_pool.empty(out_shape, a.dtype)
        # The contiguous arrays back the strided descriptors (execute checks their size).
        lib.execute(prim, {onednn.ARG_SRC: a, onednn.ARG_WEIGHTS: b, onednn.ARG_DST: out})
        return out

    return launch


def variants() -> list[Variant]:
    return [
        # Behind OpenBLAS untuned: on znver3 (AVX2) it was as fast or faster at every benchmark
        # shape, idle and with the machine busy (skinny RNN products 1.1-1.2x); the tuner
        # times oneDNN where its jit GEMM may win (AVX-512, AMX hosts).
        Variant("onednn", "cpu", _onednn, supports=_onednn_supported, rank=lambda p: AFTER_BASELINE,
                sources=(onednn.__file__,)),
        Variant("numpy", "cpu", baseline.matmul("numpy"), baseline=True),
    ]
