"""softmax and its backward: PaddlePaddle 2.0's softmax benchmark configs plus rows
of 32 to 262144 columns filling the device's element budget."""
from __future__ import annotations

import numpy as np

from hakl.kernels.softmax.bench import PADDLE

from .common import Family, case, cycling, import_peer, only_on, torch_sets

CASES = (
    # PaddlePaddle's configs, as the family declares them
    *(case(*shape, axis=axis) for shape, axis in PADDLE),
    # bandwidth scale: the row length decides which kernel serves it
    *(case(-1, cols, axis=-1) for cols in (32, 128, 1024, 4096, 32768, 262144)),
    case(1024, -1, axis=0),
)
GRAD_CASES = (case(-1, 1024, axis=-1), case(1024, -1, axis=0), case(32, 12, 128, 128, axis=-1))


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.softmax(x, kwargs["axis"]))


def _cupy(device, sets, kwargs):
    only_on(device, "cuda", "cupy")
    special = import_peer("cupyx.scipy.special")
    return cycling(sets, lambda x: special.softmax(x, axis=kwargs["axis"]))


def _grad_inputs(shape, dtype, rng, kwargs):
    x = 3 * rng.standard_normal(shape, dtype=np.float32)
    e = np.exp(x - x.max(axis=kwargs["axis"], keepdims=True))
    y = e / e.sum(axis=kwargs["axis"], keepdims=True)
    return y.astype(dtype), rng.standard_normal(shape, dtype=np.float32).astype(dtype)


def _torch_grad(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    axis = kwargs["axis"]
    return cycling(tensors, lambda y, dy: torch._softmax_backward_data(dy, y, axis, y.dtype))


SOFTMAX = Family("softmax", "softmax", "softmax", CASES, peers={"torch": _torch, "cupy": _cupy})
SOFTMAX_GRAD = Family("softmax_grad", "softmax_grad", "softmax", GRAD_CASES, inputs=_grad_inputs,
                      peers={"torch": _torch_grad})

Softmax, SoftmaxSpeedup = SOFTMAX.suite()
SoftmaxGrad, SoftmaxGradSpeedup = SOFTMAX_GRAD.suite()
