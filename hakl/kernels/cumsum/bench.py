"""Benchmark shapes for cumsum: PaddlePaddle's configs plus a bandwidth set.

Paddle's op benchmark times cumsum on [1700971, 1] and [1700971, 100]; the axis
is not part of the shape, so both are run along axis 0 (a 1.7M-long scan; for
[1700971, 1] that is the flattened, axis=None, case) and along axis -1 (1.7M
short rows: of length 1, a copy, and of 100).
"""
from __future__ import annotations

import math

import numpy as np

from ...bench import BenchCase
from ...op import Problem

PADDLE = [((1700971, 1), 0), ((1700971, 1), -1), ((1700971, 100), 0), ((1700971, 100), -1)]
# ~64M elements on a GPU (256 MB in float32, five times an H100's L2); the last two are
# the shapes of ../shared/anchors/h100-peers.json (torch at 43% and 3% of copy there).
GPU = [((1 << 26,), 0), ((8192, 8192), 1), ((8192, 8192), 0), ((4096, 16384), 1), ((4096, 16384), 0),
       ((1048576, 64), 1)]
CPU = [((1 << 24,), 0), ((4096, 4096), 1), ((4096, 4096), 0)]
FLAGS = (("exclusive", False), ("reverse", False))


def canonical(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    axis = axis % len(shape)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


def _torch_peer(device: str):
    """torch.cumsum over dim 1 of the same (outer, n, inner) input."""
    def factory(host):
        import torch

        if device == "cuda":
            import cupy

            (x,) = [torch.from_dlpack(cupy.asarray(a)) for a in host]
        else:
            x = torch.from_numpy(np.ascontiguousarray(host[0]))
        return lambda: torch.cumsum(x, 1)
    return factory


def cases(device: str, quick: bool = False, gpu: bool = False) -> list[BenchCase]:
    shapes = (GPU if gpu else CPU) + PADDLE
    if quick:
        shapes = shapes[:2]
    out = []
    for shape, axis in shapes:
        problem = Problem("cumsum", device, "float32", canonical(shape, axis), FLAGS)
        peers = {"torch": _torch_peer(device)} if device in ("cpu", "cuda") else {}
        out.append(BenchCase(f"{shape} axis={axis}", "cumsum", problem, axis, peers))
    return out
