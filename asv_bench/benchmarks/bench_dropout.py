"""dropout (training, upscale_in_train): PaddlePaddle's configs [N, 36864] p=0.5 and
[N, 35, 1500] p=0.65, N filling the element budget, and a 1-D bandwidth case."""
from __future__ import annotations

from hakl.kernels.dropout.bench import PADDLE

from .common import Family, case, cycling, torch_sets

CASES = (*(case(*shape, p=p) for shape, p in PADDLE), case(-1, p=0.5))


def _call(dropout, x, p):
    return dropout(x, p=p, training=True, seed=0)


def _torch(device, sets, kwargs):
    torch, tensors = torch_sets(device, sets)
    return cycling(tensors, lambda x: torch.nn.functional.dropout(x, kwargs["p"], training=True))


DROPOUT = Family("dropout", "dropout", "dropout", CASES, call=_call, peers={"torch": _torch})
Dropout, DropoutSpeedup = DROPOUT.suite()
