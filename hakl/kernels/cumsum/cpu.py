"""cumsum on the CPU: a NumPy baseline and numba row and column scans.

Every launcher sees the contiguous (outer, n, inner) view and scans along n.
Bytes: at least read x and write y once, 2 * size * itemsize.

Accumulators (the `acc` dtype of the offsets arrays below): float16 in float32
(the op's contract), float32 and float64 in float64 (a scan on a CPU waits on
the latency of each add, which is the same for doubles, so the extra
precision is free), integers in int64 (wrapping to int32 on the store gives the
same bits as int32 arithmetic).

rows (inner == 1): a row is cut into segments of `seg` elements. With more than
  one segment per row (long rows, 1-D) it is the two-pass blocked scan:
  per-segment sums (vectorised), an exclusive scan of the sums per row, then
  every segment scanned from its offset: x is read twice, y written once. A
  task scans one span (a segment, or a whole short row) in vectors of BLOCK
  elements (`_scan_block`): the running sum then waits on one add per block,
  where a scalar scan waits on an add's latency per element; rows of 1024
  float32 ran 2x faster in cache and 2.5-3x from DRAM on the Emerald Rapids
  Xeon. The scalar rest of a span is indexed unsigned: numba wraps negative
  indices, and that check took the step from 5 instructions to 14.
columns (inner > 1): tasks are blocks of `width` columns; each walks the scan
  axis adding a whole row of its block at a time (vectorised, unit stride).
  When blocks are too few to feed every thread (inner small, outer 1: the
  [1700971, 100] axis 0 shape), the scan axis is also cut into chunks with the
  same sums / offsets / rescan passes.
reverse scans walk from the end; exclusive ones store before adding.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from ...backends import output_pool
from ...backends.cpu_kernels import parallel_kernel
from ...op import Problem, Variant
from . import baseline

# ---------------------------------------------------------------------------
# numba building blocks
# ---------------------------------------------------------------------------


@intrinsic
def _half_to_float(typingctx, bits):
    """float16 bits (uint16) -> float32; numba has no float16, LLVM does."""
    if bits != types.uint16:
        return None

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(bits), codegen


@intrinsic
def _float_to_half(typingctx, value):
    """float32 -> float16 bits (uint16), rounded to nearest even."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))

    return types.uint16(value), codegen


def _load(x, i):
    """x[i] widened to the accumulator type (float16 arrays arrive as uint16 views)."""


@overload(_load)
def _load_impl(x, i):
    if x.dtype == types.uint16:
        return lambda x, i: _half_to_float(x[i])
    if isinstance(x.dtype, types.Float):
        return lambda x, i: np.float64(x[i])
    return lambda x, i: np.int64(x[i])


def _store(out, i, value):
    """out[i] = value narrowed to out's dtype."""


@overload(_store)
def _store_impl(out, i, value):
    if out.dtype == types.uint16:
        def store(out, i, value):
            out[i] = _float_to_half(np.float32(value))
    else:
        def store(out, i, value):
            out[i] = value
    return store


@njit(cache=True, fastmath={"reassoc", "contract"})
def _sum(x, lo, hi, zero):
    """x[lo:hi] summed in the accumulator type; reassociated so that LLVM vectorises it,
    over the slice indexed from 0 (over range(lo, hi) numba's negative-index wraparound
    stopped that: 1M float32 372 -> 46 us on the Zen 5 EPYC)."""
    xs = x[lo:hi]
    acc = zero
    for i in range(xs.size):
        acc += _load(xs, i)
    return acc


@njit(cache=True, inline="always")
def _span(s, seg, n, reverse):
    """Array positions [lo, hi) of segment s of a row of n scanned in `reverse` or forward order."""
    lo = s * seg
    hi = min(lo + seg, n)
    return (n - hi, n - lo) if reverse else (lo, hi)


@njit(cache=True)
def _step(x, out, i, acc, exclusive):
    """One scan step at i: returns the new running sum (a select, not a branch, picks
    what an exclusive scan stores)."""
    u = np.uint64(i)  # an unsigned index: numba's negative-index wraparound doubled the loop's instructions
    after = acc + _load(x, u)
    _store(out, u, acc if exclusive else after)
    return after


BLOCK = 8  # elements a vector scan step takes


def _convert(builder, value, source, target):
    """Vector `value` of numba dtype `source` as numba dtype `target`: float16 bits (uint16)
    through LLVM's half, floats extended or truncated, integers sign-extended or wrapped."""
    lanes = value.type.count
    if source == types.uint16:
        value, source = builder.fpext(builder.bitcast(value, ir.VectorType(ir.HalfType(), lanes)),
                                      ir.VectorType(ir.FloatType(), lanes)), types.float32
    if target == types.uint16:
        return builder.bitcast(builder.fptrunc(value, ir.VectorType(ir.HalfType(), lanes)),
                               ir.VectorType(ir.IntType(16), lanes))
    if source == target:
        return value
    wanted = ir.VectorType(ir.DoubleType() if target == types.float64 else
                           ir.FloatType() if target == types.float32 else ir.IntType(target.bitwidth), lanes)
    if isinstance(target, types.Float):
        return builder.fpext(value, wanted) if target.bitwidth > source.bitwidth else builder.fptrunc(value, wanted)
    return builder.sext(value, wanted) if target.bitwidth > source.bitwidth else builder.trunc(value, wanted)


@intrinsic
def _scan_block(typingctx, x, out, base, acc, exclusive, reverse):
    """Scan x[base:base + BLOCK] into out (from the end when `reverse`), starting from acc;
    returns the new running sum. One vector: the block's prefix sums in three shifted adds
    (lanes 1, 2, 4 back), then acc added to all lanes, so the running sum waits on one
    add and one lane extract per BLOCK elements, not an add per element."""
    if not (isinstance(x, types.Array) and isinstance(out, types.Array)):
        return None

    def codegen(context, builder, signature, args):
        x_value, out_value, base_value, acc_value, exclusive_value, reverse_value = args
        acc_type = signature.args[3]
        is_float = isinstance(acc_type, types.Float)
        add = builder.fadd if is_float else builder.add
        vector = ir.VectorType(context.get_value_type(acc_type), BLOCK)
        zero = ir.Constant(vector, None)

        def pointer(array_type, array_value):
            data = context.make_array(array_type)(context, builder, array_value).data
            return builder.bitcast(builder.gep(data, [base_value]),
                                   ir.VectorType(data.type.pointee, BLOCK).as_pointer())

        def shuffle(a, b, lanes):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), BLOCK), lanes))

        def in_scan_order(v):  # lanes reversed for a reverse scan (its own inverse)
            return builder.select(reverse_value, shuffle(v, v, list(range(BLOCK - 1, -1, -1))), v)

        loaded = builder.load(pointer(x, x_value), align=x.dtype.bitwidth // 8)
        running = _convert(builder, in_scan_order(loaded), x.dtype, acc_type)
        for back in (1, 2, 4):  # lane j += lane j - back (zeros shifted in)
            running = add(running, shuffle(running, zero, [BLOCK + j if j < back else j - back for j in range(BLOCK)]))
        start = builder.insert_element(ir.Constant(vector, ir.Undefined), acc_value, ir.IntType(32)(0))
        start = shuffle(start, start, [0] * BLOCK)
        inclusive = add(running, start)
        stored = builder.select(exclusive_value, shuffle(inclusive, start, [BLOCK] + list(range(BLOCK - 1))), inclusive)
        builder.store(in_scan_order(_convert(builder, stored, acc_type, out.dtype)), pointer(out, out_value),
                      align=out.dtype.bitwidth // 8)
        return builder.extract_element(inclusive, ir.IntType(32)(BLOCK - 1))

    return acc(x, out, base, acc, exclusive, reverse), codegen


@njit(cache=True)
def _scan_span(x, out, lo, hi, start, exclusive, reverse):
    """Scan x[lo:hi] into out[lo:hi] (from the end when `reverse`), starting from `start`:
    blocks of BLOCK elements, then the rest one at a time."""
    blocks = (hi - lo) // BLOCK
    acc = start
    for b in range(blocks):
        base = hi - BLOCK * (b + 1) if reverse else lo + BLOCK * b
        acc = _scan_block(x, out, np.uint64(base), acc, exclusive, reverse)
    step = -1 if reverse else 1
    p = hi - 1 - blocks * BLOCK if reverse else lo + blocks * BLOCK
    for _ in range((hi - lo) % BLOCK):
        acc = _step(x, out, p, acc, exclusive)
        p += step


@njit(cache=True, inline="always")
def _lane(offsets, t, seg, n, reverse):
    """Span t of a rows scan (segment t % nseg of row t // nseg): its flat [lo, hi) and the
    sum it starts from."""
    r, s = divmod(t, offsets.shape[1])
    lo, hi = _span(s, seg, n, reverse)
    return r * n + lo, r * n + hi, offsets[r, s]


@parallel_kernel()
def _scan_rows(x, out, offsets, seg, exclusive, reverse, zero):
    """Scan each row of x (rows * n, flat); offsets (rows, segments) arrives zeroed.
    Flat indices, not row views: with 1.7M rows of one element a view per row cost
    more than the scan."""
    rows, nseg = offsets.shape
    n = x.size // rows
    if nseg > 1:
        for t in prange(rows * nseg):
            r, s = divmod(np.int64(t), nseg)  # prange's index may be unsigned
            lo, hi = _span(s, seg, n, reverse)
            offsets[r, s] = _sum(x, r * n + lo, r * n + hi, zero)
        for r in prange(rows):
            run = zero
            for s in range(nseg):
                total = offsets[r, s]
                offsets[r, s] = run
                run += total
    for t in prange(rows * nseg):
        lo, hi, start = _lane(offsets, np.int64(t), seg, n, reverse)
        _scan_span(x, out, lo, hi, start, exclusive, reverse)
    return out


@parallel_kernel()
def _scan_columns(x, out, offsets, width, exclusive, reverse, zero):
    """Scan x (outer, n, inner) along n; offsets (outer, chunks, inner) arrives zeroed."""
    outer, n, inner = x.shape
    nchunks = offsets.shape[1]
    chunk = (n + nchunks - 1) // nchunks
    blocks = (inner + width - 1) // width
    if nchunks > 1:
        for t in prange(outer * nchunks * blocks):
            o, rest = divmod(np.int64(t), nchunks * blocks)
            c, b = divmod(rest, blocks)
            lo, hi = _span(c, chunk, n, reverse)
            c0, c1 = b * width, min(b * width + width, inner)
            acc = offsets[o, c]
            for i in range(lo, hi):
                row = x[o, i]
                for col in range(c0, c1):
                    acc[col] += _load(row, col)
        for t in prange(outer * blocks):
            o, b = divmod(np.int64(t), blocks)
            for col in range(b * width, min(b * width + width, inner)):
                run = zero
                for c in range(nchunks):
                    total = offsets[o, c, col]
                    offsets[o, c, col] = run
                    run += total
    for t in prange(outer * nchunks * blocks):
        o, rest = divmod(np.int64(t), nchunks * blocks)
        c, b = divmod(rest, blocks)
        lo, hi = _span(c, chunk, n, reverse)
        c0, c1 = b * width, min(b * width + width, inner)
        acc = offsets[o, c, c0:c1].copy()
        for j in range(hi - lo):
            i = hi - 1 - j if reverse else lo + j
            row, dst = x[o, i], out[o, i]
            for col in range(c1 - c0):
                acc[col] = _step(row, dst, c0 + col, acc[col], exclusive)
    return out


def accumulator(dtype: str) -> np.dtype:
    if dtype == "float16":
        return np.dtype(np.float32)
    return np.dtype(np.float64 if np.dtype(dtype).kind == "f" else np.int64)


def _view(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a


def _numba_rows(problem: Problem, config: dict):
    exclusive, reverse = problem.flag("exclusive"), problem.flag("reverse")
    acc = accumulator(problem.dtype)
    zero = acc.type(0)

    def launch(x: np.ndarray) -> np.ndarray:
        outer, n, _ = x.shape
        if n == 1:  # scans of one element: the identity (0 when exclusive), at copy speed
            return np.zeros_like(x) if exclusive else x.copy()
        out = output_pool.empty(x.shape, x.dtype)
        if x.size:
            seg = config["seg"]
            offsets = np.zeros((outer, -(-n // seg)), acc)
            _scan_rows(_view(x).reshape(-1), _view(out).reshape(-1), offsets, seg, exclusive, reverse, zero)
        return out

    return launch


def _numba_columns(problem: Problem, config: dict):
    exclusive, reverse = problem.flag("exclusive"), problem.flag("reverse")
    width = config["width"]
    acc = accumulator(problem.dtype)
    zero = acc.type(0)
    tasks = 4 * numba.get_num_threads()

    def launch(x: np.ndarray) -> np.ndarray:
        outer, n, inner = x.shape
        out = output_pool.empty(x.shape, x.dtype)
        if x.size:
            blocks = outer * -(-inner // width)
            # Chunks along n only when column blocks alone leave threads idle; a chunk
            # of at least 64 rows keeps the sums pass and the offsets small.
            chunks = 1 if blocks >= tasks else max(1, min(-(-tasks // blocks), n // 64))
            offsets = np.zeros((outer, chunks, inner), acc)
            _scan_columns(_view(x), _view(out), offsets, width, exclusive, reverse, zero)
        return out

    return launch


def variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.scan("numpy"), baseline=True),
        Variant("rows", "cpu", _numba_rows, space={"seg": (16384, 65536, 262144)},
                default=lambda p: {"seg": 65536}, supports=lambda p: p.shape[2] == 1),
        Variant("columns", "cpu", _numba_columns, space={"width": (64, 256, 1024, 4096)},
                default=lambda p: {"width": 1024}, supports=lambda p: p.shape[2] > 1),
    ]
