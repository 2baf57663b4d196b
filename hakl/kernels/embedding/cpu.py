"""embedding on the CPU: the NumPy baseline and numba kernels (backends.cpu_kernels.parallel_for).

Forward: each task copies the table rows of a contiguous range of ids as bytes (one
kernel for every dtype: LLVM turns the loops into memcpy / memset), zero for padding.
Backward (deterministic): a serial counting sort groups the ids by row (stable: each
row's dout rows in their original order; it also checks the ids), then each task owns a
contiguous range of table rows and sums their dout rows in that order into a
float32 (float64) row buffer: no two tasks write one row, the sums do not depend on the
thread count. Bytes: ids, the rows read and written (nbytes in __init__).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ...backends import output_pool
from ...op import Problem, Variant
from ...backends.cpu_kernels import parallel_for
from ..cross_entropy.cpu import _bits, _ld, _st
from . import baseline, reference

_BODY = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_BODY)
def _gather_rows(table, ids, out, pad, lo, hi):
    """out[j] = table[ids[j]] (bytes), zero where ids[j] == pad, for j in [lo, hi)."""
    width = table.shape[1]
    for j in range(lo, hi):
        v = ids[j]
        o = out[j]
        if v == pad:
            for k in range(width):
                o[k] = 0
        else:
            t = table[v]
            for k in range(width):
                o[k] = t[k]


@njit(**_BODY)
def _first_bad(ids, num):
    """Index of the first id outside [0, num), or -1."""
    for j in range(ids.size):
        if ids[j] < 0 or ids[j] >= num:
            return j
    return -1


@njit(**_BODY)
def _group(ids, num, offsets, perm):
    """Counting sort: rows' segments offsets[v]:offsets[v + 1] of perm, ids in their order.
    Returns the index of the first bad id (nothing sorted), or -1."""
    bad = _first_bad(ids, num)
    if bad >= 0:
        return bad
    for j in range(ids.size):
        offsets[ids[j] + 1] += 1
    for v in range(num):
        offsets[v + 1] += offsets[v]
    fill = offsets[:-1].copy()
    for j in range(ids.size):
        v = ids[j]
        perm[fill[v]] = j
        fill[v] += 1
    return -1


@njit(**_BODY)
def _segment_rows(dout, perm, offsets, out, proto, pad, lo, hi):
    """out[v] = the sum of dout[perm[offsets[v]:offsets[v + 1]]] in order, for v in [lo, hi)."""
    d = dout.shape[1]
    acc = np.empty_like(proto)  # this task's row buffer in the accumulator type
    for v in range(lo, hi):
        o = out[v]
        s, e = offsets[v], offsets[v + 1]
        if v == pad or s == e:
            for k in range(d):
                o[k] = _st(out, 0.0)
            continue
        r = dout[perm[s]]
        for k in range(d):
            acc[k] = _ld(r[k])
        for j in range(s + 1, e):
            r = dout[perm[j]]
            for k in range(d):
                acc[k] += _ld(r[k])
        for k in range(d):
            o[k] = _st(out, acc[k])


def _rows(config: dict, width: int) -> int:
    return max(1, int(config["grain"]) // max(width, 1))


def _ids64(ids: np.ndarray) -> np.ndarray:
    return ids if ids.dtype == np.int64 else ids.astype(np.int64)  # one specialisation fewer


def _forward(problem: Problem, config: dict):
    def launch(table, ids, padding_idx=reference.NO_PADDING):
        ids = _ids64(ids)
        num = table.shape[0]
        bad = _first_bad(ids, num)
        if bad >= 0:
            raise ValueError(reference.ids_error(problem.op, int(ids[bad]), num))
        out = output_pool.empty((ids.size, table.shape[1]), table.dtype)
        raw, dst = table.view(np.uint8), out.view(np.uint8)
        parallel_for(_gather_rows, ids.size, _rows(config, raw.shape[1]), raw, ids, dst, int(padding_idx))
        return out

    return launch


def _backward(problem: Problem, config: dict):
    acc = np.float64 if problem.dtype == "float64" else np.float32

    def launch(dout, ids, num_embeddings=0, padding_idx=reference.NO_PADDING):
        ids = _ids64(ids)
        offsets, perm = np.zeros(num_embeddings + 1, np.int64), np.empty(ids.size, np.int64)
        bad = _group(ids, num_embeddings, offsets, perm)
        if bad >= 0:
            raise ValueError(reference.ids_error(problem.op, int(ids[bad]), num_embeddings))
        out = output_pool.empty((num_embeddings, dout.shape[1]), dout.dtype)
        parallel_for(_segment_rows, num_embeddings, _rows(config, dout.shape[1]), _bits(dout), perm, offsets,
                     _bits(out), np.empty(dout.shape[1], acc), int(padding_idx))
        return out

    return launch


def forward_variants() -> list[Variant]:
    return [
        Variant("numba_rows", "cpu", _forward, space={"grain": (1 << 16, 1 << 18, 1 << 20)},
                default=lambda p: {"grain": 1 << 18}, sources=(__file__,)),
        Variant("numpy", "cpu", baseline.forward("numpy"), baseline=True),
    ]


def backward_variants() -> list[Variant]:
    return [
        Variant("numba_sorted", "cpu", _backward, space={"grain": (1 << 14, 1 << 16, 1 << 18)},
                default=lambda p: {"grain": 1 << 16}, sources=(__file__,)),
        Variant("numpy", "cpu", baseline.backward_numpy, baseline=True),
    ]
