"""Benchmark cases for dropout: PaddlePaddle's configs plus 1-D bandwidth cases.

Training forward with the mask kept (what Paddle's dropout stores for backward):
bytes = x read + out written + 1 mask byte per element. Peers: torch's
native_dropout, which also keeps a mask; on CPU also NumPy's naive
`x * (rng.random(n) >= p) / (1 - p)` (hakl's NumPy baseline runs Philox in NumPy
instead, to draw the same mask as every other variant, and is much slower).
"""
from __future__ import annotations

import numpy as np

from ...bench import BenchCase, fill
from ...op import Problem

GPU_ELEMENTS = 1 << 26  # 64M: 256 MB in float32, five times the H100's L2
CPU_ELEMENTS = 1 << 24
# PaddlePaddle's configs (shape, p); -1 fills the element budget. The asv suite reads these too.
PADDLE = [((-1, 36864), 0.5), ((-1, 35, 1500), 0.65)]


def _torch_peer(device: str, p: float):
    def factory(host):
        import torch

        if device == "cuda":
            import cupy

            x = torch.from_dlpack(cupy.asarray(host[0]))
        else:
            x = torch.from_numpy(np.ascontiguousarray(host[0]))
        return lambda: torch.ops.aten.native_dropout(x, p, True)
    return factory


def _numpy_rand_peer(p: float):
    def factory(host):
        x, rng, scale = host[0], np.random.default_rng(0), np.float32(1 / (1 - p))

        def run():
            keep = rng.random(x.size, dtype=np.float32) >= p
            return x * keep * scale, keep
        return run
    return factory


def cases(device: str, quick: bool = False, gpu: bool = False) -> list[BenchCase]:
    n = GPU_ELEMENTS if gpu else CPU_ELEMENTS
    shapes = [(fill(shape, n), p) for shape, p in PADDLE] + [((n,), 0.5)]
    dtypes = ("float32",) if quick or device == "cpu" else ("float32", "float16")
    out = []
    for dtype in dtypes:
        for shape, p in shapes[-1:] if quick else shapes:
            size = int(np.prod(shape))
            problem = Problem("dropout", device, dtype, (size,), (("mask", True), ("slices", "")),
                              (("p", p), ("seed", 1234), ("offset", 0), ("scale", 1 / (1 - p))))
            peers = {"torch": _torch_peer(device, p)} if device in ("cpu", "cuda") else {}
            if device == "cpu":
                peers["numpy_rand"] = _numpy_rand_peer(p)
            out.append(BenchCase(f"{list(shape)} p={p} +mask", "dropout", problem, None, peers))
    return out
