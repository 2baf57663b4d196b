"""Intel MKL's vector math (VML) for numba kernels, and its GEMM (CBLAS) for Python callers:
the mkl wheel's libmkl_rt (installed
with mkl-service), loaded into the process once so that numba code calls its functions by
symbol name, which keeps `cache=True` working (a ctypes pointer would not).

VML computes e.g. exp, tanh and ln over an array with hand-written AVX2 / AVX-512 code:
on the 2-core Xeon, vmsExp of 4M float32 on one thread took 1.2-1.4 ms (torch's exp, which
calls MKL too, the same; vecmath's exp 2.0). Calls are made in the LA (within 4 ulp) mode,
errors ignored, the thread's floating-point mode kept; each of hakl's threads calls VML on
its own part with MKL's threading off for that thread (set_num_threads_local), so that MKL
starts no OpenMP team of its own beside hakl's pool. The library is loaded when this module
is imported (2 ms): a kernel calling VML before it was loaded would jump to an unresolved
symbol (SIGSEGV), whether compiled or read from numba's cache.

    >>> from hakl.backends import mkl
    >>> mkl.available()   # False, with mkl.unavailable_reason(), where the wheel is absent
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys
from pathlib import Path

import numpy as np
from llvmlite import binding as llvm
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .base import BFLOAT16, wheel_library_dirs

# VML_LA | VML_ERRMODE_IGNORE; VML_FTZDAZ_CURRENT (0): no MXCSR change on entry and exit.
MODE = 0x1 | 0x100


def library_candidates() -> list[Path]:
    """libmkl_rt in this interpreter's <prefix>/lib ($HAKL_MKL_LIBRARY alone when set)."""
    explicit = os.environ.get("HAKL_MKL_LIBRARY")
    if explicit:
        return [Path(explicit)]
    return [Path(p) for d in wheel_library_dirs() for p in sorted(glob.glob(str(d / "libmkl_rt.so*")))]


_loaded: list[Path] = []  # the libmkl_rt that _load loaded
_THREADING_GNU = 3


def _prefer_gnu_openmp(path: Path) -> None:
    """MKL's threads from GNU OpenMP, the runtime of numba's omp layer and oneDNN's gomp
    build: one pool for all of hakl's parallel regions, where Intel's libiomp5 beside them
    was a second one (its threads spin 200 ms after a call by default, on the cores the next
    numba kernel wants). Only where libgomp loads (MKL would end the process at its first
    call without it) and MKL_THREADING_LAYER does not choose; called before any other MKL
    function, which fixes the layer."""
    if "MKL_THREADING_LAYER" in os.environ:
        return
    try:
        ctypes.CDLL("libgomp.so.1")
        ctypes.CDLL(str(path)).MKL_Set_Threading_Layer(_THREADING_GNU)
    except (OSError, AttributeError):
        pass  # Intel's OpenMP, MKL's default


@functools.lru_cache(maxsize=None)
def _load() -> str | None:
    """None once libmkl_rt is loaded for numba's linker, else why not."""
    reasons = []
    for path in library_candidates():
        try:
            llvm.load_library_permanently(str(path))
            _prefer_gnu_openmp(path)
            _loaded.append(path)
            return None
        except RuntimeError as exc:
            reasons.append(f"{path}: {exc}")
    return "; ".join(reasons) or f"libmkl_rt not found in {sys.prefix}/lib (pip install mkl-service)"


def available() -> bool:
    return _load() is None


def unavailable_reason() -> str | None:
    return _load()


def _vml(name: str) -> types.ExternalFunction:
    """void vm?<name>(MKL_INT n, const T *a, T *r, MKL_INT64 mode) (LP64: MKL_INT is 32-bit)."""
    return types.ExternalFunction(name, types.void(types.int32, types.voidptr, types.voidptr, types.int64))


# The functions hakl's kernels use, float32 (vms) and float64 (vmd).
vmsExp, vmdExp = _vml("vmsExp"), _vml("vmdExp")
vmsTanh, vmdTanh = _vml("vmsTanh"), _vml("vmdTanh")
vmsLn, vmdLn = _vml("vmsLn"), _vml("vmdLn")
# int MKL_Set_Num_Threads_Local(int n): the calling thread's count (0: back to the global), the old one.
set_num_threads_local = types.ExternalFunction("MKL_Set_Num_Threads_Local", types.int32(types.int32))


_ROW_MAJOR, _PLAIN, _TRANSPOSED = 101, 111, 112
_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), BFLOAT16)


def _cblas(name: str, scalar) -> types.ExternalFunction:
    """void cblas_?gemm(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    (LP64: the enums and MKL_INT are 32-bit)."""
    i, p = types.int32, types.voidptr
    return types.ExternalFunction(name, types.void(i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i))


_sgemm, _dgemm = _cblas("cblas_sgemm", types.float32), _cblas("cblas_dgemm", types.float64)
# bfloat16 operands, float32 result and scalars (MKL 2020+; AMX / AVX512-BF16 where the CPU has them)
_bf16gemm = _cblas("cblas_gemm_bf16bf16f32", types.float32)


def gemm_supports(dtype: np.dtype) -> bool:
    return np.dtype(dtype) in _GEMM_DTYPES and available()


def gemm(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool, out: np.ndarray) -> np.ndarray:
    """out = op(a) @ op(b) by MKL's GEMM (its own threads), for C-contiguous 2-d operands
    as stored (a is (K, M) where ta, b (N, K) where tb) of one dtype gemm_supports, and a
    C-contiguous (M, N) `out` of that dtype (float32 for bfloat16 operands: MKL sums and
    returns them in float32). beta = 0: out is never read (its NaNs do not leak in). The
    call is made from numba by symbol: through ctypes, its 14 arguments and 3 addresses
    cost 9 us of a 1x1x1 product's 9 (a (64, 128) @ (128, 10) took 16 us, OpenBLAS's 7)."""
    if a.dtype == BFLOAT16:  # numba knows no bfloat16: its bits
        a, b = a.view(np.uint16), b.view(np.uint16)
    _gemm(a, b, ta, tb, out)
    return out


@njit(cache=True, nogil=True)
def _gemm(a, b, ta, tb, out):
    m, k = (a.shape[1], a.shape[0]) if ta else (a.shape[0], a.shape[1])
    n = b.shape[0] if tb else b.shape[1]
    args = (np.int32(_ROW_MAJOR), np.int32(_TRANSPOSED if ta else _PLAIN), np.int32(_TRANSPOSED if tb else _PLAIN),
            np.int32(m), np.int32(n), np.int32(k))
    pa, pb, po = address(a, 0), address(b, 0), address(out, 0)
    lda, ldb, ldo = np.int32(max(1, a.shape[1])), np.int32(max(1, b.shape[1])), np.int32(max(1, n))
    if a.itemsize == 4:
        _sgemm(*args, np.float32(1), pa, lda, pb, ldb, np.float32(0), po, ldo)
    elif a.itemsize == 2:
        _bf16gemm(*args, np.float32(1), pa, lda, pb, ldb, np.float32(0), po, ldo)
    else:
        _dgemm(*args, 1.0, pa, lda, pb, ldb, 0.0, po, ldo)


@intrinsic
def address(typingctx, array, index):
    """A void pointer to array[index] (a contiguous 1-d array), for VML's arguments."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        return builder.bitcast(builder.gep(data, [i]), cgutils.voidptr_t)

    return types.voidptr(array, index), codegen


_load()
