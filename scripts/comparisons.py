"""hakl.greater_than beside NumPy and torch CPU (2 threads) in one process: a (4096, 4096)
float32 pair (several times the last-level cache) with the machine's copy bandwidth, and a
4x8 pair (the framework's small calls); the CPU backend's clock, median of 21 after warm-up
(issue 14's note).

    python scripts/comparisons.py
"""
import numpy as np
import torch

import hakl

torch.set_num_threads(2)
rng = np.random.default_rng(0)
cpu = hakl.backends.get("cpu")

for shape in [(4096, 4096), (4, 8)]:
    x, y = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert (hakl.greater_than(x, y) == np.greater(x, y)).all()
    ours, numpy_s, torch_s = (cpu.median_time(fn, repeat=21) for fn in (
        lambda: hakl.greater_than(x, y), lambda: np.greater(x, y), lambda: torch.gt(tx, ty)))
    moved = 2 * x.nbytes + x.size  # two float32 inputs read, one bool output written
    print(f"{shape}: hakl {ours * 1e6:.1f} us ({moved / ours / 1e9:.1f} GB/s), numpy {numpy_s * 1e6:.1f}, "
          f"torch {torch_s * 1e6:.1f}: {torch_s / ours:.2f}x torch")
print(f"copy {cpu.copy_bandwidth() / 1e9:.1f} GB/s")
