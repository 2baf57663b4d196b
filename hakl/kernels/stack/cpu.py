"""stack / unstack on the CPU: NumPy baselines, one numba block-copy kernel and
oneDNN's concat for stack.

Bytes: both directions read and write outer * k * inner elements once.

The numba kernel takes the k inputs (or outputs) as an array of their
addresses, so one compiled function serves 1 or 3000 of them (a typed list
costs microseconds per element to build, a tuple a compilation per length);
the elements are moved as unsigned integers of the element's size, so four
compilations (1, 2, 4, 8 bytes) serve every dtype. Work is cut into tasks of
about `chunk` elements: pieces of one (row, input) segment when segments are
long (axis=0), whole rows of the output when they are short (axis=-1), so
that both threads get work and each task streams through memory.
Indices are int64 throughout: outputs past 2**31 elements are fine. Copies are
element loops, not slice assignments: numba's parfor pass drops a slice
assignment into a carray as a dead store (numba 0.68).

oneDNN concatenates the inputs, seen as (outer, 1, inner) blocks of 4-byte words
(or bytes when a row is not a whole number of words: its concat copies bits,
whatever the type), along the middle axis; one primitive takes at most 1024
inputs.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from ...backends import output_pool
from ...backends import onednn
from ...backends.cpu import data_address
from ...backends.cpu_kernels import parallel_kernel
from ...op import Problem, Variant
from . import baseline


@intrinsic
def _pointer(typingctx, address, like):
    """The int64 `address` as a pointer to `like`'s dtype (for numba.carray)."""
    sig = types.CPointer(like.dtype)(address, like)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@njit(cache=True)
def _copy(part, segment, to_big):
    """segment[:] = part (stack) or part[:] = segment (unstack), as an element loop over
    views: the range index needs no negative-index wrap, so the loop vectorises."""
    if to_big:
        for i in range(part.size):
            segment[i] = part[i]
    else:
        for i in range(part.size):
            part[i] = segment[i]


@parallel_kernel(size_arg=1)
def _move(addresses, big, chunk, to_big):
    """big[r, j, :] <-> part_j[r, :] for the parts at `addresses`; to_big: stack, else unstack."""
    outer, k, inner = big.shape
    flat = big.reshape(outer * k * inner)
    if inner >= chunk:
        # Long segments: tasks are pieces of one segment, each a straight copy.
        pieces = (inner + chunk - 1) // chunk
        for t in prange(outer * k * pieces):
            segment, piece = divmod(np.int64(t), pieces)  # prange's index may be unsigned
            r, j = divmod(segment, k)
            part = numba.carray(_pointer(addresses[j], big), (outer * inner,))
            lo = piece * chunk
            n = min(chunk, inner - lo)
            src, dst = r * inner + lo, segment * inner + lo
            _copy(part[src:src + n], flat[dst:dst + n], to_big)
    else:
        # Short segments: tasks are blocks of output rows; per input, the block's rows.
        # At least 256 rows, so that each input's run in a task is long enough to pay
        # for picking the input (many inputs of short rows: 5x faster than chunk // k).
        rows = max(256, chunk // (k * inner))
        for t in prange((outer + rows - 1) // rows):
            r0 = np.int64(t) * rows
            r1 = min(r0 + rows, outer)
            for j in range(k):
                part = numba.carray(_pointer(addresses[j], big), (outer * inner,))
                if inner == 1:  # part j's column of the block: stride k in big
                    _copy(part[r0:r1], flat[r0 * k + j:r1 * k:k], to_big)
                else:
                    for r in range(r0, r1):
                        src, dst = r * inner, (r * k + j) * inner
                        _copy(part[src:src + inner], flat[dst:dst + inner], to_big)
    return big


def words(dtype: np.dtype) -> tuple[np.dtype, int]:
    """The unsigned integer type the kernels move `dtype` as, and how many make one element."""
    size = np.dtype(dtype).itemsize
    word = next(w for w in (8, 4, 2, 1) if size % w == 0)
    return np.dtype(f"uint{8 * word}"), size // word


def _addresses(arrays) -> np.ndarray:
    return np.fromiter(map(data_address, arrays), np.int64, count=len(arrays))


def _numba_stack(problem: Problem, config: dict):
    chunk = config["chunk"]
    word, ratio = words(problem.dtype)

    def launch(*xs: np.ndarray) -> np.ndarray:
        outer, inner = xs[0].shape
        out = output_pool.empty((outer, len(xs), inner * ratio), word)
        if out.size:
            _move(_addresses(xs), out, chunk, True)
        return out.view(xs[0].dtype)
    return launch


def _numba_unstack(problem: Problem, config: dict):
    chunk = config["chunk"]
    word, ratio = words(problem.dtype)

    def launch(x: np.ndarray) -> tuple[np.ndarray, ...]:
        outer, k, inner = x.shape
        parts = [output_pool.empty((outer, inner * ratio), word) for _ in range(k)]
        if x.size:
            _move(_addresses(parts), x.view(word), chunk, False)
        return tuple(p.view(x.dtype) for p in parts)
    return launch


def _onednn_word(dtype: np.dtype, inner: int) -> tuple[str, int]:
    """The oneDNN type the concat moves and how many of them make one input row."""
    row_bytes = inner * np.dtype(dtype).itemsize
    return ("int32", row_bytes // 4) if row_bytes % 4 == 0 else ("uint8", row_bytes)


def _onednn_supported(problem: Problem) -> bool:
    return problem.shape[1] <= onednn.MAX_CONCAT_SOURCES and onednn.available() and \
        onednn.library().concat_supports(_onednn_word(problem.dtype, problem.shape[2])[0])


def _onednn_stack(problem: Problem, config: dict):
    lib = onednn.library()
    primitives: dict[tuple, onednn.Primitive] = {}

    def launch(*xs: np.ndarray) -> np.ndarray:
        outer, inner = xs[0].shape
        word, row = _onednn_word(xs[0].dtype, inner)
        key = (outer, len(xs), row, word)
        prim = primitives.get(key)
        if prim is None:
            prim = primitives[key] = lib.concat([(outer, 1, row)] * len(xs), word, 1)
        out = output_pool.empty((outer, len(xs), inner), xs[0].dtype)
        args = {onednn.ARG_MULTIPLE_SRC + i: x.view(word).reshape(outer, 1, row) for i, x in enumerate(xs)}
        args[onednn.ARG_DST] = out.view(word).reshape(outer, len(xs), row)
        lib.execute(prim, args)
        return out
    return launch


# Elements per task: small enough for both threads to get several, large enough
# that a task's start-up (a carray, a divmod) is noise.
_SPACE = {"chunk": (4096, 16384, 65536, 262144)}


def _default(problem: Problem) -> dict:
    return {"chunk": 65536}


def stack_variants() -> list[Variant]:
    return [Variant("numpy", "cpu", baseline.stack("numpy"), baseline=True),
            Variant("numba", "cpu", _numba_stack, space=_SPACE, default=_default),
            Variant("onednn", "cpu", _onednn_stack, supports=_onednn_supported,
                    sources=(__file__, onednn.__file__))]


def unstack_variants() -> list[Variant]:
    return [Variant("numpy", "cpu", baseline.unstack("numpy"), baseline=True),
            Variant("numba", "cpu", _numba_unstack, space=_SPACE, default=_default)]
