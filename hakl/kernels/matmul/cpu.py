"""matmul on the CPU: NumPy's matmul on OpenBLAS (the baseline; float16 through float32),
oneDNN's matmul primitive (its jit GEMM), for the dtypes this machine's oneDNN
implements (float32 on AVX2; float16 needs AVX512-FP16 or AMX, float64 has none), and
MKL's GEMM (cblas_sgemm / dgemm, cblas_gemm_bf16bf16f32 for bfloat16, rounded here; torch's
CPU GEMM is MKL's) for 2-d products.

oneDNN reads a transposed operand in place: the canonical operand is the contiguous
array, its descriptor the transposed view's strides. Batch axes of 1 broadcast in the
primitive itself. A primitive is made once per operand shapes (cached in the binding,
and looked up per launcher without building the binding's key).

No numba GEMM: a register-blocked numba kernel reached a fraction of OpenBLAS and oneDNN
at every benchmarked shape, the skinny RNN ones included (notes/matmul.md has the figures).
Bytes moved at minimum: each operand and the result once; 2 M N K flops per batch.
"""
from __future__ import annotations

import functools

import numpy as np

from ...backends import cpu, mkl, onednn, output_pool
from ...op import AFTER_BASELINE, Problem, Variant, call_key, dtype_name
from ...tuning import dispatch
from ..cast import cpu as cast_cpu
from . import baseline
from .baseline import OPENBLAS_THREADS_MNK
from .reference import logical


# Below about 100^3 multiply-adds a library call's own cost, oneDNN's ~25 us (memory
# objects, the stream) or MKL's ~10 us, is more than OpenBLAS's whole product (measured:
# oneDNN 64^3 37 us vs 13; MKL 64^3 18 us vs 8, 128^3 33 vs 35), so oneDNN serves from here.
CALL_MIN_MNK = 1 << 20
# Where MKL goes first (Intel), it takes every product above OPENBLAS_THREADS_MNK (where the
# baseline keeps OpenBLAS to one thread, so as not to wake its spinning threads), not only
# those above CALL_MIN_MNK: MKL's threads are GNU OpenMP's, numba's and oneDNN's pool.


def _onednn_supported(problem: Problem) -> bool:
    return (problem.size >= CALL_MIN_MNK and onednn.available()
            and onednn.library().matmul_supports(problem.dtype))


def _elements(strides: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    return tuple(s // itemsize for s in strides)


# OpenBLAS's names (openblas_get_corename, as threadpoolctl reports it) of its AVX-512 kernels.
_OPENBLAS_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


@functools.cache
def onednn_first() -> bool:
    """Whether oneDNN's GEMM goes before NumPy's untuned: where the CPU has AVX-512 and
    NumPy's OpenBLAS runs an AVX2 kernel on it (OpenBLAS 0.3.31 names the Zen 5 EPYC
    "Haswell"). There, float32: 1024^3 329 GFLOP/s against 191, an LSTM step's (32, 256) @
    (256, 1024) 188 against 142, its (2048, 256) input projection 381 against 205."""
    if not (cpu.has_features("avx512f") and onednn.available() and onednn.library().matmul_supports("float32")):
        return False
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # OpenBLAS's kernel unknown: keep NumPy first
        return False
    cores = [info.get("architecture", "") for info in threadpool_info() if info.get("internal_api") == "openblas"]
    return bool(cores) and all(core.lower() not in _OPENBLAS_AVX512_CORES for core in cores)


_primitives: dict[tuple, tuple[onednn.Primitive, tuple[int, ...]]] = {}


def onednn_product(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool, out: np.ndarray | None = None) -> np.ndarray:
    """op(a) @ op(b) (op: the transpose where asked) by oneDNN's matmul, a and b
    C-contiguous, into `out` (C-contiguous, the product's shape) or a pooled array. A
    primitive is made once per operand shapes and dtype."""
    key = (a.shape, b.shape, a.dtype.char, ta, tb)
    hit = _primitives.get(key)
    if hit is None:
        src, weights = logical(np, a, ta), logical(np, b, tb)
        prim = onednn.library().matmul(src.shape, weights.shape, a.dtype, _elements(src.strides, a.itemsize),
                                       _elements(weights.strides, b.itemsize))
        out_shape = tuple(max(x, y) for x, y in zip(src.shape[:-2], weights.shape[:-2])) + \
            (src.shape[-2], weights.shape[-1])
        hit = _primitives[key] = (prim, out_shape)
    prim, out_shape = hit
    if out is None:
        out = output_pool.empty(out_shape, a.dtype)
    # The contiguous arrays back the strided descriptors (execute checks their size).
    onednn.library().execute(prim, {onednn.ARG_SRC: a, onednn.ARG_WEIGHTS: b, onednn.ARG_DST: out})
    return out


def _problem(m: int, n: int, k: int, dtype: np.dtype, ta: bool, tb: bool) -> Problem:
    return Problem("matmul", "cpu", dtype_name(dtype), (m, n, k), (("batch", ""), ("ta", ta), ("tb", tb)))


def gemm_variant(m: int, n: int, k: int, dtype: np.dtype, ta: bool = False, tb: bool = False) -> str:
    """The matmul family's variant for an (m, n, k) product (tuned, nearest, sibling or heuristic)."""
    from . import MATMUL  # the family's declaration imports this module

    return dispatch.select(MATMUL, _problem(m, n, k, dtype, ta, tb)).variant.name


def gemm(a: np.ndarray, b: np.ndarray, ta: bool = False, tb: bool = False, out: np.ndarray | None = None,
         variant: str | None = None):
    """op(a) @ op(b) for 2-d operands as stored (the RNN's products), into `out` where
    given, by the matmul family's choice for the product (tuned, nearest, sibling or
    heuristic, verified like hakl.matmul's), or by `variant` where it serves the product:
    an RNN's GEMMs are tuned as matmul keys when the suite tunes the RNN cases, as on OpenCL.
    Through the call's plan (hakl.op.call_key): a digits LSTM's step makes twenty of these
    small products, and choosing one cost as much as MKL's product of (64, 128) @ (128, 10)."""
    key = call_key("matmul.cpu.gemm", (a, b) if out is None else (a, b, out), ta, tb, variant)
    return dispatch.planned(key, lambda: _prepare_gemm(a, b, ta, tb, out, variant))(a, b, out)


def _prepare_gemm(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool, out: np.ndarray | None, variant: str | None):
    from . import MATMUL

    if out is not None and not out.flags.c_contiguous:  # the launchers write C order
        def strided(a, b, out):
            out[...] = gemm(a, b, ta, tb, variant=variant)
            return out
        return strided
    m, k = (a.shape[1], a.shape[0]) if ta else a.shape
    n = b.shape[0] if tb else b.shape[1]
    problem = _problem(m, n, k, a.dtype, ta, tb)
    try:
        selection = dispatch.select(MATMUL, problem, variant)
    except NotImplementedError:  # `variant` does not serve this product (too small for oneDNN)
        selection = dispatch.select(MATMUL, problem)
    # as hakl.matmul hands them over
    return lambda a, b, out: selection.run(problem, np.ascontiguousarray(a), np.ascontiguousarray(b), out=out)


def _mkl_supports(problem: Problem) -> bool:
    return problem.flag("batch") == "" and mkl.gemm_supports(problem.np_dtype)


def mkl_first() -> bool:
    """Whether MKL's GEMM goes first untuned: on Intel CPUs, where MKL runs its own
    AVX-512 / AVX2 kernels (on the 2-core Ice Lake Xeon, float32: 1024^3 203-212 GFLOP/s
    against OpenBLAS's 173, an LSTM step's (32, 256) @ (256, 1024) 115-120 us against 177,
    its (2048, 256) @ (256, 1024) input projection 200 against 155). Elsewhere it serves
    once tuned."""
    return cpu.cpu_vendor() == "GenuineIntel"


def _mkl(problem: Problem, config: dict):
    ta, tb = problem.flag("ta"), problem.flag("tb")
    narrow = problem.dtype == "bfloat16"  # MKL sums in float32 and returns that: round once here

    def launch(a, b, out=None):  # the launcher serves a bucket of shapes: M and N from the operands
        shape = (a.shape[1] if ta else a.shape[0], b.shape[0] if tb else b.shape[1])
        if out is None:
            out = output_pool.empty(shape, a.dtype)
        if narrow:
            return cast_cpu.round_to_bfloat16(mkl.gemm(a, b, ta, tb, output_pool.empty(shape, np.float32)), out)
        return mkl.gemm(a, b, ta, tb, out)

    return launch


def _onednn(problem: Problem, config: dict):
    ta, tb = problem.flag("ta"), problem.flag("tb")
    return lambda a, b: onednn_product(a, b, ta, tb)


def variants() -> list[Variant]:
    return [
        # Untuned, first where MKL is not (AMD hosts; on znver3 OpenBLAS's threaded GEMM was as
        # fast or faster at every benchmark shape, skinny RNN products 1.1-1.2x, but the
        # baseline now keeps OpenBLAS to one thread, which halves it on two cores), and on
        # Intel hosts only where onednn_first; the tuner times oneDNN wherever it serves.
        Variant("onednn", "cpu", _onednn, supports=_onednn_supported,
                rank=lambda p: -1 if onednn_first() or not mkl_first() else AFTER_BASELINE,
                sources=(onednn.__file__,)),
        Variant("mkl", "cpu", _mkl, supports=_mkl_supports, accepts_out=True,
                rank=lambda p: -2 if mkl_first() and p.size > OPENBLAS_THREADS_MNK else AFTER_BASELINE,
                sources=(mkl.__file__, cast_cpu.__file__)),
        Variant("numpy", "cpu", baseline.matmul("numpy"), baseline=True, accepts_out=True),
    ]
