"""cross_entropy's benchmarks: the forward (mean over hard labels) and the training pass
(loss and gradient, cross_entropy_with_grad), on a language-model vocabulary (8192 x 32000),
medium rows (4096 x 8192), many small rows (262144 x 10, 1M x 10), PaddlePaddle's config
and a class axis that is not last; `hakl bench` and the asv suite read these.

PADDLE: PaddlePaddle's op-benchmark config for softmax_with_cross_entropy as recalled
(logits [16, 37007], a translation vocabulary): the config file itself was not available
here, see notes/cross_entropy.md."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, torch_sets

PADDLE = [((16, 37007), -1)]
CASES = (
    *(case(*shape, axis=axis, quick=True) for shape, axis in PADDLE),
    case(8192, 32000, axis=-1, gpu_only=True),
    case(4096, 8192, axis=-1, quick=True),
    case(262144, 10, axis=-1, quick=True),
    case(1048576, 10, axis=-1),
    case(64, 1000, 64, axis=1),
)


def _inputs(shape, dtype, rng, kwargs):
    axis = kwargs.get("axis", -1) % len(shape)
    label_shape = shape[:axis] + shape[axis + 1:]
    x = (3 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype)
    return x, rng.integers(0, shape[axis], label_shape)


def _call(fn, x, label, axis=-1):
    return fn(x, label, axis=axis)


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    f = torch.nn.functional.cross_entropy
    axis = kwargs.get("axis", -1)

    def run(x, label):
        ax = axis % x.ndim
        return f(x if ax == 1 else torch.movedim(x, ax, 1), label)

    return cycling(tensors, run)


def _torch_train(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    f = torch.nn.functional.cross_entropy
    axis = kwargs.get("axis", -1)

    def run(x, label):
        y = x.detach().requires_grad_()
        ax = axis % y.ndim
        loss = f(y if ax == 1 else torch.movedim(y, ax, 1), label)
        loss.backward()
        return loss, y.grad

    return cycling(tensors, run)


SHAPES = tuple(c.label for c in CASES if not c.gpu_only)
CPU_GOAL = Goal(
    "cross_entropy-cpu-vs-numpy", "cpu", ("float32",), SHAPES, baseline="numpy", ratio=1.0,
    promise="issue 12: faster than the NumPy baseline everywhere (and at most half of torch CPU's time at "
            "4096x8192 and 262144x10, which the torch peer columns show)")

BENCHMARKS = (
    Benchmark("cross_entropy", "cross_entropy", "cross_entropy", CASES, inputs=_inputs, call=_call,
              peers={"torch": _torch}, goals=(CPU_GOAL,)),
    Benchmark("cross_entropy_train", "cross_entropy_with_grad", "cross_entropy", CASES, inputs=_inputs,
              call=_call, peers={"torch": _torch_train}),
)
