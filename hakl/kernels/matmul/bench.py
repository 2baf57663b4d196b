"""matmul's benchmarks (issue 13): square GEMMs of 1024, 2048 and 4096 (GPUs only: a
second a call on two cores), the 100% mark of GFLOP/s on each device (`peak`: the best
square one of the run, so a --quick run has one too); the RNN shapes — the per-step h @ W_hh^T at batch
64 (H=512, 4 gates) and 32 (H=256), and the input projection of every step at once
(T*B = 4096 rows) — with W stored [gates*H, in] as PaddlePaddle's RNN weights are
(transpose_b=True); and a batched product (64 of 256x64 @ 64x256, attention-sized).
On the CPU every case also in bfloat16 (the quick run: 2048^3, the bfloat16 peak), against
torch's bfloat16 matmul and NumPy's float32 one of the same values (NumPy has no bfloat16 GEMM).
A case is (M, K, N) with `batch` (leading axis of both operands) and `transpose_b`.
Peers: torch and NumPy (CuPy on CUDA)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, import_peer, only_on, torch_sets
from ...op import BFLOAT16

SQUARE = (case(1024, 1024, 1024, quick=True, peak=True), case(2048, 2048, 2048, quick=["bfloat16"], peak=True),
          case(4096, 4096, 4096, gpu_only=True, peak=True))
RNN = (case(64, 512, 2048, transpose_b=True, quick=True), case(32, 256, 1024, transpose_b=True),
       case(4096, 512, 2048, transpose_b=True))
BATCHED = (case(256, 64, 256, batch=64),)
CASES = SQUARE + RNN + BATCHED


def _inputs(shape, dtype, rng, kwargs):
    m, k, n = shape
    lead = (kwargs["batch"],) if "batch" in kwargs else ()
    a = rng.standard_normal(lead + (m, k), dtype=np.float32).astype(dtype)
    b = rng.standard_normal(lead + ((n, k) if kwargs.get("transpose_b") else (k, n)), dtype=np.float32)
    return a, b.astype(dtype)


def _call(fn, a, b, **kwargs):
    return fn(a, b, transpose_b=kwargs.get("transpose_b", False))  # `batch` shaped the inputs


def _transposed(kwargs, swap):
    return (lambda a, b: (a, swap(b))) if kwargs.get("transpose_b") else (lambda a, b: (a, b))


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    views = _transposed(kwargs, lambda b: b.mT)
    return cycling(tensors, lambda a, b: torch.matmul(*views(a, b)))


def _numpy(device, sets, kwargs):
    only_on(device, "cpu", "numpy")
    views = _transposed(kwargs, lambda b: np.swapaxes(b, -1, -2))
    # bfloat16: NumPy's loop over ml_dtypes' type is not a GEMM; its float32 BLAS on the same values is
    sets = [tuple(x.astype(np.float32) if x.dtype == BFLOAT16 else x for x in s) for s in sets]
    return cycling(sets, lambda a, b: np.matmul(*views(a, b)))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    cupy = import_peer("cupy")
    views = _transposed(kwargs, lambda b: cupy.swapaxes(b, -1, -2))
    return cycling(sets, lambda a, b: cupy.matmul(*views(a, b)))


LABELS = tuple(c.label for c in CASES)
GOALS = (
    Goal("matmul-cuda-cublas", "cuda", ("float32", "float16"), LABELS, baseline="cupy", ratio=0.9,
         promise="matmul: within 10% of cuBLAS where it uses it (issue 13)",
         why="hakl serves cuBLAS or a kernel that beats it; dispatch and a skinny-shape kernel may cost at "
             "most 10%"),
    Goal("matmul-cpu-blas", "cpu", ("float32",), tuple(c.label for c in CASES if not c.gpu_only), baseline="numpy",
         ratio=0.9, against="numpy", promise="matmul: within 10% of oneDNN/BLAS where it uses them (issue 13)",
         why="hakl serves oneDNN's, MKL's or OpenBLAS's GEMM: at most 10% behind NumPy's own threaded matmul "
             "at every shape (hakl's baseline keeps OpenBLAS to one thread)"),
)

BENCHMARKS = (Benchmark("matmul", "matmul", "matmul", CASES, host_dtypes=("float32", "bfloat16"), inputs=_inputs,
                        call=_call, peers={"torch": _torch, "numpy": _numpy, "cupy": _cupy}, goals=GOALS),)
