"""hakl's CPU reduction kernels beside NumPy and torch CPU (2 threads) in one process:
max, min and sum of a (4096, 4096) float32 array (several times the last-level cache)
over the last axis, the first axis and all of it; each kernel with its variant's default
configuration, checked against NumPy first; the CPU backend's clock, median of 11, ms
(notes/reduction.md).

    python scripts/reductions.py
"""
import numpy as np
import torch

import hakl
from hakl.kernels import reduction
from hakl.op import Problem

torch.set_num_threads(2)
cpu = hakl.backends.get("cpu")
x = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
tx = torch.from_numpy(x)
TORCH = {"max": torch.amax, "min": torch.amin, "sum": torch.sum}

print(f"copy {cpu.copy_bandwidth() / 1e9:.1f} GB/s")
for axis, shape3 in [(-1, (4096, 4096, 1)), (0, (1, 4096, 4096)), (None, (1, 4096 * 4096, 1))]:
    for op in ("max", "min", "sum"):
        spec = reduction.REDUCE_SUM if op == "sum" else reduction.REDUCE_MAX
        problem = Problem(spec.name, "cpu", "float32", shape3, (("op", op),))
        variant = next(v for v in spec.for_backend("cpu") if not v.baseline and v.supports(problem))
        launch = variant.build(problem, variant.default_config(problem))
        x3 = x.reshape(shape3)
        got, want = launch(x3).reshape(-1), getattr(np, op)(x, axis=axis).reshape(-1)
        assert np.array_equal(got, want) if op != "sum" else np.allclose(got, want, rtol=1e-4, atol=1e-2)
        ours, numpy_s, torch_s = (cpu.median_time(fn, repeat=11) * 1e3 for fn in (
            lambda: launch(x3), lambda: getattr(np, op)(x, axis=axis),
            lambda: TORCH[op](tx) if axis is None else TORCH[op](tx, axis)))
        print(f"{op} axis={axis}: {variant.name} {ours:.2f} ms, numpy {numpy_s:.2f}, torch {torch_s:.2f} "
              f"({numpy_s / ours:.2f}x numpy, {torch_s / ours:.2f}x torch)")
