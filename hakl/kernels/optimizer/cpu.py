"""Optimizer updates on the CPU.

- per_param (baseline): NumPy expressions per parameter (baseline.py).
- fused: one numba kernel call per parameter (its chunks split over the threads).
- multi: one call over every parameter: the kernel walks a table of work chunks
  (tensor, first, last element) of at most CHUNK elements, split over cast's thread
  pool, and reaches each tensor through a table of its arrays' addresses (numba takes
  no list of differently sized arrays without boxing each one: an address table is
  one int64 array, built in microseconds).

One nogil kernel serves every rule (adamw, sgd, momentum, Nesterov: a run-time code)
and compiles once per (storage, state) dtype pair: (f64, f64), (f32, f32), (f16, f16),
(f16 params, f32 states and masters). float16 travels as uint16 bits and computes in
float32 (cast's halfbits), float32 in float32, float64 in float64, as Paddle does.
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.core.extending import intrinsic, overload

from ...backends.cpu import data_address
from ...op import Problem, Variant
from ...backends.cpu_kernels import parallel_for
from ..elementwise.cpu import _load, _store  # float16 bits <-> the float32 compute type
from . import baseline, coefficients, one_by_one, rule, state_dtype, tables, updated

CHUNK = 1 << 15  # elements per work item: equal-sized pieces balance the threads
_JIT = dict(cache=True, error_model="numpy")


@intrinsic
def _pointer(typingctx, address, like):
    """An int64 address as a pointer to `like`'s element type."""
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    signature = types.CPointer(like.dtype)(address, like)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


def _compute(like, v):
    """v in the compute type of states shaped like `like` (float64 stays float64)."""


@overload(_compute, jit_options=_JIT)
def _compute_impl(like, v):
    if like.dtype == types.float64:
        return lambda like, v: np.float64(v)
    return lambda like, v: np.float32(v)


@njit(nogil=True, **_JIT)
def _update(code, master, table, chunks, scal, beta1, comp1, beta2, comp2, mu, lp, ls, lo, hi):
    """Chunks lo..hi: table[t] = (param, grad, state1, state2, master addresses, size)."""
    b1, c1, b2, c2 = _compute(ls, beta1), _compute(ls, comp1), _compute(ls, beta2), _compute(ls, comp2)
    m = _compute(ls, mu)
    for c in range(lo, hi):
        t, first, last = chunks[c, 0], chunks[c, 1], chunks[c, 2]
        size = table[t, 5]
        # The chunk's slices, walked from 0: an index LLVM cannot prove non-negative keeps
        # the wrap-around of negative indices in the loop, which stopped it vectorising
        # (scalar sqrtss and divss: 42 us for a 10K-parameter MLP's update on the Ice Lake Xeon).
        p = carray(_pointer(table[t, 0], lp), size)[first:last]
        g = carray(_pointer(table[t, 1], lp), size)[first:last]
        s1 = carray(_pointer(table[t, 2], ls), size)[first:last]
        s2 = carray(_pointer(table[t, 3], ls), size)[first:last]
        w32 = carray(_pointer(table[t, 4], ls), size)[first:last]
        lr, decay, eps = _compute(ls, scal[t, 0]), _compute(ls, scal[t, 1]), _compute(ls, scal[t, 2])
        # One loop per rule (and master or not): branch-free bodies that LLVM vectorises.
        if code == 0:
            for i in range(last - first):
                gi = _compute(ls, _load(g, i))
                v1 = b1 * _compute(ls, _load(s1, i)) + c1 * gi
                v2 = b2 * _compute(ls, _load(s2, i)) + c2 * gi * gi
                _store(s1, i, v1)
                _store(s2, i, v2)
                if master:
                    w = _load(w32, i) * decay - lr * (v1 / (np.sqrt(v2) + eps))
                    _store(w32, i, w)
                    _store(p, i, w)
                else:
                    _store(p, i, _compute(ls, _load(p, i)) * decay - lr * (v1 / (np.sqrt(v2) + eps)))
        else:
            for i in range(last - first):
                gi = _compute(ls, _load(g, i))
                w = _load(w32, i) if master else _compute(ls, _load(p, i))
                if code == 1:
                    w = w - lr * gi
                else:
                    v = _compute(ls, _load(s1, i)) * m + gi
                    w = w - (gi + v * m) * lr if code == 3 else w - lr * v
                    _store(s1, i, v)
                _store(p, i, w)
                if master:
                    _store(w32, i, w)


def _build(per_parameter: bool):
    def build(problem: Problem, config: dict):
        code, master = rule(problem), bool(problem.flag("master"))
        lp = np.empty(0, np.uint16 if problem.dtype == "float16" else problem.np_dtype)
        ls = np.empty(0, np.uint16 if state_dtype(problem) == "float16" else np.dtype(state_dtype(problem)))
        grain = max(1, config["grain"] // CHUNK)

        def run(arrays, params):
            table, chunks, scal = tables(problem, arrays, params, data_address, CHUNK)
            # Parts of at least `grain` elements: a chunk holds up to CHUNK, but a bias is a
            # chunk of its own, so a count of chunks alone sent a 10K-element model's four
            # chunks to two threads (a parallel region for microseconds of work).
            parts_grain = len(chunks) if int(table[:, 5].sum()) < 2 * config["grain"] else grain
            parallel_for(_update, len(chunks), parts_grain, code, master, table, chunks, scal,
                         *coefficients(params, float), lp, ls)

        def launch(*arrays, **params):
            if per_parameter:
                for one, its in one_by_one(problem, arrays, params):
                    run(one, its)
            else:
                run(arrays, params)
            return updated(problem, arrays)

        return launch

    return build


def _write(dst, src):
    np.copyto(dst, src, casting="unsafe")


def _variants() -> list[Variant]:
    space = {"grain": (1 << 15, 1 << 17)}
    return [
        Variant("multi", "cpu", _build(False), space=space, sources=(__file__,)),
        Variant("fused", "cpu", _build(True), space=space, sources=(__file__,)),
        Variant("per_param", "cpu", baseline.build(np.sqrt, _write), baseline=True),
    ]


adamw_variants = sgd_variants = momentum_variants = _variants
