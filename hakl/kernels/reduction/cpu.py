"""Reductions on the CPU: the NumPy baseline and two numba kernels that compute the
package's fixed tree (see hakl/kernels/reduction/__init__.py), so both give the same
bits as each other and as the GPU kernels' tree.

- rows (inner == 1): a task per chunk of CHUNK elements of a row: 32 lane accumulators
  take 32 consecutive elements at a time, as one LLVM vector held in registers
  (`_combine_blocks`: 4 AVX2 or 2 AVX-512 registers of float32), then fold by halving; the chunk values (one per chunk) then
  combine level by level, per row (`_tree`). Rows of up to CHUNK elements are one
  chunk: a task per row, no second pass.
- columns (inner > 1): a task per (chunk, block of `width` columns): 32 lane rows of
  accumulators, each row of x added to lane row (i % 32) along the columns (unit
  stride, vectorised over inner), the same fold and tree.

The op is a run-time code (sum / max / min): one specialisation per dtype, not per op
(compile time is CI time). argmax is NumPy's (the baseline): its vectorised search is
hard to beat, and an index is the same whatever the order, so it needs no fixed tree.
Tasks go to backends.cpu_kernels.parallel_for (a contiguous range of tasks per thread;
small calls run on the calling thread); how tasks are split never changes the
arithmetic. The updates store a computed value, never the loaded one (`_combine`): LLVM
turned `acc[j] = a if ... else t` into masked stores, microcoded on Zen 3, and max / min
ran at 0.3-0.7x NumPy's speed; now 1.0-1.5x it (4096x4096 float32, notes/reduction.md). float16 travels as
uint16 bits and accumulates in float32. Integers (sum: int64, exact; max / min) are served by the NumPy baseline,
which has no order to fix. Bytes moved at minimum: x once and the output once (nbytes
in __init__).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic, overload

from ...backends import get as get_backend, output_pool
from ...backends.cpu import quietly
from ...op import FLOATS, Problem, Variant
from ...backends.cpu_kernels import parallel_for
from ..cumsum.cpu import _half_to_float
from . import CHUNK, CODES, LANES, accumulator, baseline, out_dtype

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


def _load(x, i):
    """x[i] in the accumulator type (float16 bits -> float32)."""


@overload(_load, jit_options=dict(cache=True))
def _load_impl(x, i):
    if x.dtype == types.uint16:
        return lambda x, i: _half_to_float(x[i])
    return lambda x, i: x[i]


@njit(inline="always", **_OPTS)
def _combine(op, a, b):
    """sum (op 0), max (1) or min (2) of a (the earlier elements) and b; NaN propagates as
    np.maximum. Branch-free: every candidate is computed and one selected, which LLVM
    vectorises (a branch on op inside the loop it does not unswitch well: max ran 1.6x
    slower). Every backend's kernels use these same selects (max: a > b ? a : b, then NaN
    where a is NaN), so ties of -0.0 and +0.0 resolve alike everywhere."""
    larger = a if a > b else b
    smaller = a if a < b else b
    t = a + b if op == 0 else (larger if op == 1 else smaller)
    # A NaN a gives a + b (that NaN: x86 returns a quiet NaN's first operand), not a itself:
    # `acc[j] = a if ... else t` stores the loaded value or t, which LLVM turned into masked
    # stores (vmaskmovps, microcoded on Zen 3: max / min at 0.3-0.7x NumPy, 2-2.6x slower).
    return a + b if a != a else t


def _combine_ir(builder, code: int, a, b):
    """_combine's selects for one op (a Python int), on LLVM values (vectors too)."""
    total = builder.fadd(a, b)
    if code == 0:
        return total
    picked = builder.select(builder.fcmp_ordered(">" if code == 1 else "<", a, b), a, b)
    return builder.select(builder.fcmp_unordered("uno", a, a), total, picked)


@intrinsic
def _combine_blocks(typingctx, op, xs, blocks, acc):
    """acc[j] = _combine(op, acc[j], xs[s * LANES + j]) for s in range(blocks), j < LANES:
    the chunk's lanes as one <LANES x T> value in registers. The loop numba compiled
    kept them in memory (a store and a reload per block on the dependency chain), and on
    AVX-512 LLVM's 4 x 16-lane main loop never ran for 32 lanes, leaving an 8-lane one."""
    if not (isinstance(xs, types.Array) and isinstance(acc, types.Array)):
        return None

    def codegen(context, builder, signature, args):
        op_value, xs_value, blocks_value, acc_value = args
        vector = ir.VectorType(context.get_value_type(acc.dtype), LANES)
        x_ptr = context.make_array(xs)(context, builder, xs_value).data
        acc_ptr = builder.bitcast(context.make_array(acc)(context, builder, acc_value).data, vector.as_pointer())
        start = builder.load(acc_ptr, align=acc.dtype.bitwidth // 8)
        done = builder.append_basic_block("done")
        with builder.goto_block(done):
            result = builder.phi(vector)

        # One loop per op, chosen before it: the op is a run-time code (one compile per dtype).
        loops = [builder.append_basic_block(f"op{code}") for code in range(3)]
        switch = builder.switch(op_value, loops[2])
        for code, loop in enumerate(loops):
            if code < 2:
                switch.add_case(op_value.type(code), loop)
            entry = builder.append_basic_block(f"op{code}.entry")
            builder.position_at_end(loop)
            builder.cbranch(builder.icmp_signed(">", blocks_value, blocks_value.type(0)), entry, done)
            result.add_incoming(start, loop)
            builder.position_at_end(entry)
            body = builder.append_basic_block(f"op{code}.blocks")
            builder.branch(body)
            builder.position_at_end(body)
            s = builder.phi(blocks_value.type)
            a = builder.phi(vector)
            block_ptr = builder.gep(x_ptr, [builder.mul(s, s.type(LANES))])
            b = builder.load(builder.bitcast(block_ptr, ir.VectorType(x_ptr.type.pointee, LANES).as_pointer()),
                             align=xs.dtype.bitwidth // 8)
            if xs.dtype == types.uint16:  # float16 bits
                b = builder.fpext(builder.bitcast(b, ir.VectorType(ir.HalfType(), LANES)), vector)
            combined = _combine_ir(builder, code, a, b)
            s_next = builder.add(s, s.type(1))
            s.add_incoming(s.type(0), entry)
            s.add_incoming(s_next, body)
            a.add_incoming(start, entry)
            a.add_incoming(combined, body)
            builder.cbranch(builder.icmp_signed("<", s_next, blocks_value), body, done)
            result.add_incoming(combined, body)
        builder.position_at_end(done)
        builder.store(result, acc_ptr, align=acc.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(op, xs, blocks, acc), codegen


@intrinsic
def _fold_lanes(typingctx, op, acc):
    """The fold by halving of acc's LANES lanes (lane j with lane j + 16, then + 8, ...,
    + 1: _combine(op, acc[j], acc[j + off])), as shuffles of one vector: the scalar loop
    took 1.8x the time of the chunk's loads when x streamed from DRAM (16M float32 sum,
    one thread, Zen 5: 3.5 ms against 2.0 for the loads alone). Returns lane 0."""
    if not isinstance(acc, types.Array):
        return None

    def codegen(context, builder, signature, args):
        op_value, acc_value = args
        vector = ir.VectorType(context.get_value_type(acc.dtype), LANES)
        acc_ptr = builder.bitcast(context.make_array(acc)(context, builder, acc_value).data, vector.as_pointer())
        start = builder.load(acc_ptr, align=acc.dtype.bitwidth // 8)
        done = builder.append_basic_block("fold.done")
        with builder.goto_block(done):
            result = builder.phi(vector.element)
        blocks = [builder.append_basic_block(f"fold.op{code}") for code in range(3)]
        switch = builder.switch(op_value, blocks[2])
        for code, block in enumerate(blocks):
            if code < 2:
                switch.add_case(op_value.type(code), block)
            builder.position_at_end(block)
            v, width = start, LANES
            while width > 1:
                width //= 2
                lanes = [ir.Constant(ir.VectorType(ir.IntType(32), width), list(range(first, first + width)))
                         for first in (0, width)]
                v = _combine_ir(builder, code, *(builder.shuffle_vector(v, v, mask) for mask in lanes))
            result.add_incoming(builder.extract_element(v, ir.IntType(32)(0)), builder.block)
            builder.branch(done)
        builder.position_at_end(done)
        return result

    return acc.dtype(op, acc), codegen


@njit(**_OPTS)
def _rows(x, vals, op, n, m, ident, lanes, lo, hi):
    """Tasks [lo, hi): chunk t % m of row t // m of x (rows * n, flat) -> vals[t].
    `lanes` is LANES, the width `_combine_blocks` loads and stores; as an argument it keeps
    the remainder loop rolled (a constant trip count unrolled it)."""
    acc = np.empty(lanes, vals.dtype)
    for t in range(lo, hi):
        r = t // m
        start = (t - r * m) * CHUNK
        count = min(CHUNK, n - start)
        xs = x[r * n + start:r * n + start + count]  # slices indexed from 0: LLVM vectorises
        full = count // lanes
        acc[:] = ident
        _combine_blocks(op, xs, full, acc)
        for j in range(count - full * lanes):
            acc[j] = _combine(op, acc[j], _load(xs, full * lanes + j))
        vals[t] = _fold_lanes(op, acc)


@njit(**_OPTS)
def _columns(x, vals, op, n, inner, width, ident, lo, hi):
    """Tasks [lo, hi) over (outer, chunk, column block) of x ((outer, n, inner), flat) ->
    vals ((outer, m, inner), flat). Flat 1-D slices: 3-d indexing compiled 5x slower."""
    m = (n + CHUNK - 1) // CHUNK
    blocks = (inner + width - 1) // width
    acc = np.empty(LANES * width, vals.dtype)
    for t in range(lo, hi):
        o = t // (m * blocks)
        k = (t - o * m * blocks) // blocks
        c0 = (t - o * m * blocks - k * blocks) * width
        w = min(width, inner - c0)
        start = k * CHUNK
        acc[:] = ident
        base = (o * n + start) * inner + c0
        for p in range(min(CHUNK, n - start)):
            row = x[base + p * inner:base + p * inner + w]
            lane = acc[(p % LANES) * width:(p % LANES) * width + w]
            for c in range(w):
                lane[c] = _combine(op, lane[c], _load(row, c))
        off = LANES // 2
        while off > 0:  # lane j (columns j * width ...) with lane j + off
            for j in range(off * width):
                acc[j] = _combine(op, acc[j], acc[j + off * width])
            off //= 2
        vals[(o * m + k) * inner + c0:(o * m + k) * inner + c0 + w] = acc[:w]


@njit(**_OPTS)
def _tree(vals, op, lo, hi):
    """Combine the chunk values vals[o, :, :] (outer, m, inner) level by level, in place,
    for o in [lo, hi): pairs (2i, 2i + 1), an odd last one carried; the result in [o, 0]."""
    outer, count, inner = vals.shape
    for o in range(lo, hi):
        m = count
        while m > 1:
            half = m // 2
            for i in range(half):
                for c in range(inner):
                    vals[o, i, c] = _combine(op, vals[o, 2 * i, c], vals[o, 2 * i + 1, c])
            if m % 2:
                vals[o, half, :] = vals[o, m - 1, :]
            m = half + m % 2


def identity(op: str, acc: np.dtype):
    """What every lane starts from: 0 (sum, mean), -inf (max) or +inf (min)."""
    return acc.type({"sum": 0.0, "mean": 0.0, "max": -np.inf, "min": np.inf}[op])


def finisher(problem: Problem):
    """The output from the combined values (outer, inner) of rows of n, as a function
    finish(vals, n) made once per launcher: the sum divided by n in float64 for mean, then
    (every op) rounded to the output dtype (exact for max / min). n comes from the call: a
    launcher serves its whole bucket (the build's problem.shape[1] made a mean over 1020
    elements divide by 1000, the first call's)."""
    rounded = out_dtype(problem.flag("op"), problem.dtype)

    @quietly  # a float16 sum beyond 65504 is inf, as in float16
    def finish(vals: np.ndarray, n: int) -> np.ndarray:
        return vals.astype(rounded, copy=False)

    if problem.flag("op") == "mean":
        return lambda vals, n: finish(vals.astype(np.float64) / n, n)
    return finish


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a


def _build(columns: bool):
    def build(problem: Problem, config: dict):
        op = problem.flag("op")
        code, acc = np.int64(CODES[op]), accumulator(problem.dtype)
        ident, grain, finish = identity(op, acc), config["grain"], finisher(problem)

        def launch(x: np.ndarray) -> np.ndarray:
            outer, n, inner = x.shape
            m = -(-n // CHUNK)
            vals = output_pool.empty((outer, m, inner), acc)
            # `grain` is in elements, tasks are up to CHUNK rows (x width columns): a (32, 10)
            # sum is 32 tasks of 10 elements, which a grain in tasks sent to two threads.
            if columns:
                width = min(config["width"], inner)
                per_task = grain // (min(n, CHUNK) * width)
                parallel_for(_columns, outer * m * -(-inner // width), max(1, per_task), _bits(x).reshape(-1),
                             vals.reshape(-1), code, n, inner, width, ident)
            else:
                parallel_for(_rows, outer * m, max(1, grain // min(n, CHUNK)), _bits(x).reshape(-1),
                             vals.reshape(-1), code, n, m, ident, LANES)
            if m > 1:  # n / CHUNK values per output: serial, a small fraction of the work
                _tree(vals, code, 0, outer)
            return finish(vals[:, 0, :], n)

        return launch

    return build


def _supports(columns: bool):
    # argmax: NumPy's (the baseline), whose vectorised search is hard to beat; an index
    # is the same whatever the order, so it needs no tree.
    return lambda p: p.dtype in FLOATS and p.flag("op") != "argmax" and (p.shape[2] > 1) == columns


def _columns_default(p: Problem) -> dict:
    """Blocks of 2048 columns (32 lane rows of them: 256 KB of float32 accumulators, in L2),
    narrower where that leaves fewer than two tasks a thread. (4096, 4096) over axis 0 on
    the 2-core EPYC: width 128 11-12 ms, 512 7.1, 1024 5.6, 2048 5.1, 4096 5.4; NumPy 7.4."""
    outer, n, inner = p.shape
    width = min(2048, inner)
    threads = get_backend("cpu").threads()
    while width > 128 and outer * -(-n // CHUNK) * -(-inner // width) < 2 * threads:
        width //= 2
    return {"width": width, "grain": 1 << 14}


def variants() -> list[Variant]:
    return [
        Variant("rows", "cpu", _build(False), space={"grain": (1 << 12, 1 << 14, 1 << 16)},
                default=lambda p: {"grain": 1 << 14}, supports=_supports(False)),
        Variant("columns", "cpu", _build(True), space={"width": (128, 512, 2048, 4096), "grain": (1 << 14, 1 << 17)},
                default=_columns_default, supports=_supports(True)),
        Variant("numpy", "cpu", baseline.forward("numpy"), baseline=True),
    ]


def grad_variants() -> list[Variant]:
    # One pass that NumPy's broadcasting already makes: a kernel would add no speed.
    return [Variant("numpy", "cpu", baseline.backward("numpy"), baseline=True)]
