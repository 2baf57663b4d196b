"""embedding's benchmarks (issue 14): a BERT-base lookup, ids (64, 512) into a (30522, 768)
table, forward and backward (embedding_grad, deterministic); the case shape is (batch,
sequence, num_embeddings, embedding_dim). Peers: torch (F.embedding; its dense backward
aten.embedding_dense_backward) and NumPy (table[ids]; np.add.at)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, case, cycling, only_on, torch_sets

CASES = (case(64, 512, 30522, 768, quick=True),)


def _inputs(shape, dtype, rng, kwargs):
    batch, seq, num, dim = shape
    ids = rng.integers(0, num, (batch, seq))
    return ids, rng.standard_normal((num, dim), dtype=np.float32).astype(dtype), \
        rng.standard_normal((batch, seq, dim), dtype=np.float32).astype(dtype)


def _forward(fn, ids, table, dout):
    return fn(ids, table)


def _backward(fn, ids, table, dout):
    return fn(ids, dout, table.shape[0])


def _torch(grad: bool):
    def peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        if grad:
            backward = torch.ops.aten.embedding_dense_backward
            return cycling(tensors, lambda ids, table, dout: backward(dout, ids, table.shape[0], -1, False))
        return cycling(tensors, lambda ids, table, dout: torch.nn.functional.embedding(ids, table))
    return peer


def _numpy(grad: bool):
    def peer(device, sets, kwargs):
        only_on(device, "cpu", "numpy")

        def backward(ids, table, dout):
            out = np.zeros(table.shape, np.float32)
            np.add.at(out, ids.reshape(-1), dout.reshape(-1, table.shape[1]))
            return out

        return cycling(sets, backward if grad else (lambda ids, table, dout: table[ids]))
    return peer


BENCHMARKS = (
    Benchmark("embedding", "embedding", "embedding", CASES, inputs=_inputs, call=_forward,
              peers={"torch": _torch(False), "numpy": _numpy(False)}),
    Benchmark("embedding_grad", "embedding_grad", "embedding", CASES, inputs=_inputs, call=_backward,
              peers={"torch": _torch(True), "numpy": _numpy(True)}),
)
