"""NumPy reference for embedding over the canonical problem: ids flattened to (N,) and
int64, a table (V, D).

    forward  (table, ids)  -> table[ids] with the rows of ids == padding_idx zero (exact:
                              the table's own dtype, bit for bit)
    backward (dout, ids)   -> dtable (V, D) in float64: dout's rows added into the rows
                              their ids name (a scatter-add), the padding row zero

Params: padding_idx (normalised to [0, V), -1 for none); the backward's num_embeddings V.
"""
from __future__ import annotations

import numpy as np

from ...op import Problem

NO_PADDING = -1


def ids_error(name: str, value: int, num_embeddings: int) -> str:
    return f"{name}: argument 'ids' holds {value}, outside [0, {num_embeddings})"


def check_ids(name: str, ids: np.ndarray, num_embeddings: int) -> None:
    """ValueError naming the first id (in flat order) outside [0, num_embeddings)."""
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= num_embeddings):
        bad = ids[(ids < 0) | (ids >= num_embeddings)]
        raise ValueError(ids_error(name, int(bad.flat[0]), num_embeddings))


def padding(problem: Problem) -> int:
    return int(dict(problem.params).get("padding_idx", NO_PADDING))


def forward(problem: Problem, table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    check_ids(problem.op, ids, table.shape[0])
    out = table[ids]
    out[ids == padding(problem)] = 0
    return out


def backward(problem: Problem, dout: np.ndarray, ids: np.ndarray) -> np.ndarray:
    num = int(dict(problem.params)["num_embeddings"])
    check_ids(problem.op, ids, num)
    out = np.zeros((num, dout.shape[1]))
    np.add.at(out, ids, dout.astype(np.float64))
    if padding(problem) >= 0:
        out[padding(problem)] = 0
    return out
