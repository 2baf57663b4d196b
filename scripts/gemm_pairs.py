"""A GEMM (hakl's or the user's NumPy one) alternating with hakl range ops and softmax, per
pair, median: the clash of spinning thread pools (README, "GEMMs beside numba's threads").
hakl is imported first, as its OPENBLAS_THREAD_TIMEOUT default needs.

    python scripts/gemm_pairs.py
"""
import hakl  # first: before NumPy loads OpenBLAS
import time

import numpy as np
rng = np.random.default_rng(0)
a = rng.standard_normal((512, 256)).astype(np.float32); b = rng.standard_normal((256, 512)).astype(np.float32)
x = rng.standard_normal((4096, 1024)).astype(np.float32); v = rng.standard_normal(1 << 20).astype(np.float32)
def med(f, reps=60):
    for _ in range(5): f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return np.median(ts) * 1e3
rows = {
  "sum rows alone": lambda: hakl.sum(x, axis=1),
  "hakl.matmul alone": lambda: hakl.matmul(a, b),
  "np.matmul alone": lambda: a @ b,
  "hakl.matmul + sum rows": lambda: (hakl.matmul(a, b), hakl.sum(x, axis=1)),
  "np.matmul + sum rows": lambda: (a @ b, hakl.sum(x, axis=1)),
  "np.matmul + relu 1M": lambda: (a @ b, hakl.relu(v)),
  "np.matmul + softmax": lambda: (a @ b, hakl.softmax(x, -1)),
}
for k, f in rows.items():
    print(f"{k:24s} {med(f):7.3f} ms")
