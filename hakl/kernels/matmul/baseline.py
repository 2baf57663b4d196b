"""matmul baseline: the array module's matmul, written once over the module (NumPy's
BLAS is the CPU baseline, CuPy's cuBLAS the CUDA one). The launcher gets the canonical
operands (hakl.kernels.matmul: contiguous, batch axes of 1 where broadcast, transposed
as the problem's flags say), which both modules broadcast and read transposed as views."""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly, set_openblas_threads
from ...op import Problem
from .reference import logical

# Above this OpenBLAS may run a product on its own threads (it kept to one for every product
# up to 64^3 on the Ice Lake Xeon, and woke them for a (64, 128) @ (128, 64)), which spin
# about 0.1 s after the call on the cores that the next numba kernel's threads want: a 16K
# dropout took 4-8 ms after one such product against 50 us after none. So the NumPy
# baseline runs those on one thread (backends.cpu.set_openblas_threads; the count is put
# back after the call): the tuner then weighs OpenBLAS as it serves here, and MKL's or
# oneDNN's threaded GEMMs, whose threads are the GNU OpenMP pool numba uses too, serve the
# products that gain from threads. (NumPy's own np.matmul, the bench's numpy column, keeps
# its threads.)
OPENBLAS_THREADS_MNK = 1 << 18


def matmul(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)
        ta, tb = problem.flag("ta"), problem.flag("tb")
        # NumPy's float16 (and ml_dtypes' bfloat16) matmul is a loop of its own, not BLAS:
        # float32 BLAS, rounded once. (CuPy's cuBLAS GemmEx takes float16 and accumulates in
        # float32 itself.)
        host = module == "numpy"
        narrow = np.dtype(problem.dtype) if host and problem.dtype in ("float16", "bfloat16") else None

        def product(a, b, out):
            if narrow is not None:
                wide = np.matmul(logical(np, a.astype(np.float32), ta), logical(np, b.astype(np.float32), tb))
                if out is None:
                    return wide.astype(narrow)
                out[...] = wide
                return out
            return xp.matmul(logical(xp, a, ta), logical(xp, b, tb), out=out)

        if host:  # NaN and inf inputs propagate as IEEE says, without NumPy's warnings
            product = quietly(product)

        def launch(a, b, out=None):  # out: the (M, N) product's buffer, where the caller has one
            if not host or a.size * b.shape[-2 if tb else -1] <= OPENBLAS_THREADS_MNK:
                return product(a, b, out)
            threads = set_openblas_threads(1)
            try:
                return product(a, b, out)
            finally:
                set_openblas_threads(threads)

        return launch

    return build
