"""Public-API range ops at 256K-4M elements (what parallel_for splits), median of repeats:
run with an empty HAKL_CACHE_DIR to compare untuned choices across commits.

    HAKL_CACHE_DIR=$(mktemp -d) python scripts/range_ops.py
"""
import time

import numpy as np

import hakl
rng = np.random.default_rng(0)
def med(f, reps):
    for _ in range(5): f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return np.median(ts) * 1e6
rows = []
for n in (1 << 18, 1 << 20, 1 << 22):
    x = rng.standard_normal(n).astype(np.float32); y = rng.standard_normal(n).astype(np.float32)
    reps = max(30, min(400, (1 << 27) // (n * 4)))
    m = x.reshape(-1, 1024); w = np.ones(1024, np.float32); b = np.zeros(1024, np.float32)
    cases = {
        "cast f32->f16": lambda: hakl.cast(x, "float16"),
        "relu": lambda: hakl.relu(x),
        "gelu": lambda: hakl.gelu(x),
        "add": lambda: hakl.add(x, y),
        "sum": lambda: hakl.sum(x),
        "sum rows": lambda: hakl.sum(m, axis=1),
        "layer_norm": lambda: hakl.layer_norm(m, 1024, w, b),
    }
    for name, f in cases.items():
        rows.append((name, n, med(f, reps)))
for name, n, t in rows:
    print(f"{name:14s} {n:8d} {t:9.1f}")
