"""embedding baselines as array calls over the array module: the forward is NumPy's / CuPy's
take along axis 0 with the padding rows set to zero; the backward (NumPy only: CuPy's
scatter_add is atomic, not deterministic) is np.add.at into a float32 (float64 for
float64) table, one row at a time in the ids' order. The id check is one reduction and
one flag read back."""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...op import Problem
from . import reference


def _check(xp, name: str, ids, num: int) -> None:
    bad = (ids < 0) | (ids >= num)
    if bool(bad.any()):
        raise ValueError(reference.ids_error(name, int(ids[bad][0]), num))


def forward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(table, ids, padding_idx=reference.NO_PADDING):
            _check(xp, problem.op, ids, table.shape[0])
            out = xp.take(table, ids, axis=0)
            if padding_idx >= 0:
                out[ids == padding_idx] = 0
            return out

        return launch

    return build


def backward_numpy(problem: Problem, config: dict):
    acc = np.float64 if problem.dtype == "float64" else np.float32

    def launch(dout, ids, num_embeddings=0, padding_idx=reference.NO_PADDING):
        _check(np, problem.op, ids, num_embeddings)
        out = np.zeros((num_embeddings, dout.shape[1]), acc)
        np.add.at(out, ids, dout.astype(acc, copy=False))
        if padding_idx >= 0:
            out[padding_idx] = 0
        return out.astype(dout.dtype, copy=False)

    return launch


def group(xp, ids, num: int):
    """(perm, offsets): the positions of the ids sorted by id, ties in their original order,
    and each row's segment offsets[v]:offsets[v + 1] of perm (int64, on xp's device). The
    sort key id * N + position is unique, so any sort gives this one order. Checks the ids
    first (one flag read back)."""
    ids = ids.astype(xp.int64)
    n = ids.size
    if bool(((ids < 0) | (ids >= num)).any()):
        raise ValueError(reference.ids_error("embedding_grad", int(ids[(ids < 0) | (ids >= num)][0]), num))
    perm = xp.argsort(ids * n + xp.arange(n, dtype=xp.int64))
    offsets = xp.zeros(num + 1, xp.int64)
    offsets[1:] = xp.cumsum(xp.bincount(ids, minlength=num))
    return perm, offsets
