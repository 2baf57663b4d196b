"""embedding lookup with padding_idx and its backward, a scatter-add (PaddlePaddle 2.0's
F.embedding; the backward of its lookup_table_v2 op).

    >>> import numpy as np, hakl
    >>> table = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> hakl.embedding(np.array([[3, 0], [1, 3]]), table, padding_idx=0)[0]
    array([[ 9., 10., 11.],
           [ 0.,  0.,  0.]], dtype=float32)
    >>> hakl.embedding_grad(np.array([1, 1, 2]), np.ones((3, 2), np.float32), 4)[1]
    array([2., 2.], dtype=float32)

Every variant sees the canonical problem (N, V, D): the ids flattened to (N,) (int32 or
int64, their dtype in the key) and a (V, D) table. Two ops:

    embedding       (table, ids) -> (N, D)   rows of ids == padding_idx are zero
    embedding_grad  (dout, ids)  -> (V, D)   dout (N, D) added into the rows the ids name,
                                              the padding row zero

padding_idx and num_embeddings are run-time params; a negative padding_idx counts from
the end as in Paddle (V + padding_idx). Ids outside [0, V) raise ValueError naming `ids`
and the value, checked inside the kernels on the GPU backends (one flag read back).
embedding_grad is deterministic (the same bits on every call): the ids are grouped by
row (a stable counting sort) and each table row sums its dout rows in order. With
deterministic=False (a flag, so part of the tuning key) CUDA and OpenCL may also serve
float32 with an atomic scatter-add, whose sums depend on the order the adds land in.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, dtype_name,
                   register, register_function, validate)
from ...tuning import dispatch
from . import reference
from .reference import NO_PADDING

IDS = ("int64", "int32")
# The backward sums duplicates: float16 in float32, rounded once.
GRAD_TOLERANCES = {"float16": (2e-3, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13)}


# ---- sample inputs and conformance cases -----------------------------------------


def _ids(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    n, v, _ = problem.shape
    ids = rng.integers(0, v, n)
    if n > 2:
        ids[::3] = ids[0]  # a row hit many times
    return ids.astype(problem.input_dtypes[1])


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    _, v, d = problem.shape
    return rng.standard_normal((v, d)).astype(problem.dtype), _ids(problem, rng)


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n, _, d = problem.shape
    return rng.standard_normal((n, d)).astype(problem.dtype), _ids(problem, rng)


SHAPES = [(7, 5, 3), (64, 100, 33), (300, 50, 128), (1, 1, 1), (33, 1000, 8), (5, 3, 257), (129, 7, 2)]
QUICK_SHAPES = [(7, 5, 3), (300, 50, 128)]


def _cases(op_name: str):
    grad = op_name == "embedding_grad"

    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for k, shape in enumerate(QUICK_SHAPES if quick else SHAPES):
            n, v, d = shape
            pad = (NO_PADDING, 0, v - 1)[k % 3]
            dtypes = (dtype, IDS[k % 2])
            for deterministic in ((True, False) if grad else (True,)):
                flags = (("deterministic", deterministic),) if grad else ()
                params = (("num_embeddings", v), ("padding_idx", pad)) if grad else (("padding_idx", pad),)
                problem = Problem(op_name, backend, dtype, shape, flags, params, dtypes)
                inputs = list((_sample_backward if grad else _sample_forward)(problem, rng))
                if k == 1:  # NaN and ±inf travel (the forward copies bits; the backward adds them)
                    inputs[0].flat[[0, 5, 9]] = np.array([np.nan, np.inf, -np.inf]).astype(dtype)
                yield problem, tuple(inputs)
    return cases


def _nbytes(grad: bool):
    def nbytes(p: Problem) -> int:
        n, v, d = p.shape
        ids, item = n * np.dtype(p.input_dtypes[1]).itemsize, p.np_dtype.itemsize
        return ids + (n * d + v * d) * item if grad else ids + 2 * n * d * item  # read rows, write rows
    return nbytes


def _tune_example(grad: bool):
    """`hakl tune embedding --shape VxD`: 64x512 random ids into the table (dout: N x D)."""
    def example(table, axis, o):
        from ... import backends

        backend = backends.backend_of(table)
        ids = backend.asarray(np.random.default_rng(0).integers(0, max(table.shape[0], 1), (64, 512)))
        if grad:
            dout = backend.asarray(np.ones((64, 512, table.shape[1]), table.dtype))
            return embedding_grad(ids, dout, table.shape[0])
        return embedding(ids, table)
    return example


EMBEDDING = register(Op(
    name="embedding", reference=reference.forward, sample=_sample_forward, nbytes=_nbytes(False), exact=True,
    cases=_cases("embedding"), inputs=(Input("table"), Input("ids", IDS)), example=_tune_example(False),
    conformance_quick=("opencl",),
))
EMBEDDING_GRAD = register(Op(
    name="embedding_grad", reference=reference.backward, sample=_sample_backward, nbytes=_nbytes(True),
    # A row sums the gradients of up to every id (the samples send a third of them to one row):
    # float32 sums of 10922 terms at (32768, 30522, 768) were 3e-6 of the scale off, NumPy's too.
    tolerances=GRAD_TOLERANCES, atol_growth=lambda p: math.sqrt(max(p.shape[0], 1)),
    cases=_cases("embedding_grad"), inputs=(Input("dout", role="grad"), Input("ids", IDS)),
    example=_tune_example(True), conformance_quick=("opencl",),
))
attach_variants(__name__, {EMBEDDING: "forward_variants", EMBEDDING_GRAD: "backward_variants"})


# ---- argument checks ----------------------------------------------------------------


def _int(name: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: argument {arg!r} must be an int, got {type(value).__name__}")
    return int(value)


def _padding(name: str, padding_idx: Any, num: int) -> int:
    """padding_idx in [0, num), or NO_PADDING for None; negative counts from the end."""
    if padding_idx is None:
        return NO_PADDING
    p = _int(name, "padding_idx", padding_idx)
    if not -num <= p < num:
        raise ValueError(f"{name}: argument 'padding_idx' = {p} is out of range [{-num}, {num}) for "
                         f"{num} embeddings")
    return p % num


def _empty_checked(name: str, backend, ids: Any, num: int) -> None:
    """The id check of a call with nothing to compute (D = 0): on the host."""
    reference.check_ids(name, backend.to_numpy(ids), num)


def embedding(ids: Any, table: Any, padding_idx: Any = None) -> Any:
    """table[ids] on the device holding them: ids int32/int64 of any shape, table (V, D);
    the result is ids.shape + (D,) in the table's dtype, the rows of ids == padding_idx
    zero (padding_idx < 0 counts from the end). Ids outside [0, V) raise ValueError."""
    name = "embedding"
    key = call_key(name, (ids, table), padding_idx)
    return dispatch.planned(key, lambda: _prepare_forward(name, ids, table, padding_idx))(ids, table)


def _prepare_forward(name: str, ids: Any, table: Any, padding_idx: Any):
    """embedding's checks and selection, as a function of (ids, table); the kernel checks
    each call's ids."""
    backend = validate(name, (Input("ids", IDS), Input("table")), (ids, table), same_shape=False)
    if table.ndim != 2:
        raise ValueError(f"{name}: argument 'table' must be 2-d (num_embeddings, embedding_dim), got shape "
                         f"{tuple(table.shape)}")
    num, dim = (int(d) for d in table.shape)
    pad = _padding(name, padding_idx, num)
    n = math.prod(ids.shape)
    shape = tuple(ids.shape) + (dim,)
    if n * dim == 0:
        def empty(ids, table):
            _empty_checked(name, backend, ids, num)
            return backend.empty(shape, table.dtype)
        return empty
    problem = Problem("embedding", backend.name, dtype_name(table.dtype), (n, num, dim), (), (("padding_idx", pad),),
                      (dtype_name(table.dtype), dtype_name(ids.dtype)))
    launcher, params = dispatch.select(EMBEDDING, problem).launcher, dict(problem.params)
    return lambda ids, table: launcher(backend.ascontiguous(table), backend.ascontiguous(ids).reshape(n),
                                       **params).reshape(shape)


def embedding_grad(ids: Any, dout: Any, num_embeddings: int, padding_idx: Any = None, *,
                   deterministic: bool = True) -> Any:
    """The gradient of embedding(ids, table, padding_idx) w.r.t. the table, (num_embeddings,
    D) in dout's dtype: each row of dout (ids.shape + (D,)) added into the row its id names,
    the padding row zero. Deterministic; deterministic=False lets GPUs serve float32 with
    atomic adds (faster, the bits may differ between calls)."""
    name = "embedding_grad"
    key = call_key(name, (ids, dout), num_embeddings, padding_idx, deterministic)
    plan = dispatch.planned(key, lambda: _prepare_grad(name, ids, dout, num_embeddings, padding_idx, deterministic))
    return plan(ids, dout)


def _prepare_grad(name: str, ids: Any, dout: Any, num_embeddings: Any, padding_idx: Any, deterministic: Any):
    backend = validate(name, (Input("ids", IDS), Input("dout", role="grad")), (ids, dout), same_shape=False)
    num = _int(name, "num_embeddings", num_embeddings)
    if num < 0:
        raise ValueError(f"{name}: argument 'num_embeddings' = {num} must be >= 0")
    if not isinstance(deterministic, (bool, np.bool_)):
        raise TypeError(f"{name}: argument 'deterministic' must be a bool, got {type(deterministic).__name__}")
    if dout.ndim != ids.ndim + 1 or tuple(dout.shape[:-1]) != tuple(ids.shape):
        raise ValueError(f"{name}: argument 'dout' has shape {tuple(dout.shape)}; expected ids.shape + (D,) = "
                         f"{tuple(ids.shape)} + (D,)")
    pad = _padding(name, padding_idx, num)
    n, dim = math.prod(ids.shape), int(dout.shape[-1])
    if n * dim * num == 0:
        def empty(ids, dout):
            _empty_checked(name, backend, ids, num)
            return backend.asarray(np.zeros((num, dim), dout.dtype))
        return empty
    problem = Problem("embedding_grad", backend.name, dtype_name(dout.dtype), (n, num, dim),
                      (("deterministic", bool(deterministic)),), (("num_embeddings", num), ("padding_idx", pad)),
                      (dtype_name(dout.dtype), dtype_name(ids.dtype)))
    launcher, params = dispatch.select(EMBEDDING_GRAD, problem).launcher, dict(problem.params)
    return lambda ids, dout: launcher(backend.ascontiguous(dout).reshape(n, dim), backend.ascontiguous(ids).reshape(n),
                                      **params)


# ---- the public functions' declarations ----------------------------------------

_SAMPLES = (((4,), 5, 3, None, "int64"), ((2, 3), 4, 2, 1, "int32"), ((), 3, 4, -1, "int64"),
            ((3, 1, 2), 6, 5, 0, "int32"))


def _samples(grad: bool):
    """Small calls: 1-d, 2-d, 0-d and 3-d ids of both dtypes, padding_idx None, positive,
    negative; repeated ids (the backward's sums)."""
    def samples(dtype: str, rng: np.random.Generator):
        for shape, num, dim, pad, ids_dtype in _SAMPLES:
            ids = np.asarray(rng.integers(0, num, shape)).astype(ids_dtype)
            if ids.size > 2:
                ids.flat[1] = ids.flat[0]
            kwargs = {} if pad is None else {"padding_idx": pad}
            if grad:
                dout = rng.standard_normal(shape + (dim,)).astype(dtype)
                yield Sample((ids, dout, num), kwargs)
            else:
                yield Sample((ids, rng.standard_normal((num, dim)).astype(dtype)), kwargs)
    return samples


def _derivative(args, kwargs, out, dout):
    ids, table = args[0], args[1]
    pad = args[2] if len(args) > 2 else kwargs.get("padding_idx")
    return (embedding_grad(ids, dout, table.shape[0], pad),)


register_function(
    Function("embedding", embedding, ("embedding",), (Input("ids", IDS), Input("table")), _samples(False),
             derivative=Derivative((1,), _derivative, saves=("inputs",))),
    Function("embedding_grad", embedding_grad, ("embedding_grad",), (Input("ids", IDS), Input("dout", role="grad")),
             _samples(True)),
)

__all__ = ["embedding", "embedding_grad", "EMBEDDING", "EMBEDDING_GRAD"]
