"""Benchmark shapes for stack: the issue's bandwidth set plus many-input stacks.

A case's problem is the canonical (outer, k, inner); the label says what a user
wrote: k inputs of one shape, stacked along `axis`.
"""
from __future__ import annotations

import math

import numpy as np

from ...bench import BenchCase
from ...op import Problem

# (k, input shape, axis): axis 0 is one long copy per input; axis -1 interleaves the
# inputs' elements (PyTorch runs at 4-24% of bandwidth there on an H100); the
# 3000-input cases are the size the 2.0.2 out-of-bounds fix was about.
GPU = [(16, (1 << 22,), 0), (16, (1 << 22,), -1), (2, (1 << 25,), -1), (256, (1 << 18,), -1),
       (16, (2048, 128, 64), 1), (3000, (4096,), 0), (3000, (4096,), -1)]
CPU = [(16, (1 << 20,), 0), (16, (1 << 20,), -1), (3000, (1024,), -1)]


def canonical(k: int, shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    axis = axis % (len(shape) + 1)
    return (math.prod(shape[:axis]), k, math.prod(shape[axis:]))


def _torch_peer(device: str):
    """torch.stack over dim 1 of the same (outer, inner) inputs."""
    def factory(host):
        import torch

        if device == "cuda":
            import cupy

            tensors = [torch.from_dlpack(cupy.asarray(a)) for a in host]
        else:
            tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in host]
        return lambda: torch.stack(tensors, 1)
    return factory


def cases(device: str, quick: bool = False, gpu: bool = False) -> list[BenchCase]:
    shapes = GPU if gpu else CPU
    if quick:
        shapes = shapes[:2]
    out = []
    for k, shape, axis in shapes:
        problem = Problem("stack", device, "float32", canonical(k, shape, axis))
        peers = {"torch": _torch_peer(device)} if device in ("cpu", "cuda") else {}
        out.append(BenchCase(f"{k} x {shape} axis={axis}", "stack", problem, axis, peers))
    return out
