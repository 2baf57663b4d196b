"""argsort / sort on the CPU: the NumPy baselines and two numba radix sorts.

Every launcher sees the contiguous (outer, n, inner) view and sorts along n; the
argsort launchers return (values, int64 indices), the sort launchers the values.
Bytes: at least read x and write the outputs once (see `nbytes` in __init__).

The numba kernels sort the order-preserving unsigned keys of reference.py (made on
the fly from x's bits: -0.0 and NaN canonicalised, descending complemented) with
8-bit digits, least significant first. A counting scatter is stable, so every
numba variant is stable: `stable=False` gets the same (stable) order.

rows: one row per step of a task (tasks are blocks of rows, or of (outer, inner)
  columns when inner > 1, gathered with a stride): the row's keys and the
  histograms of every digit in one read, insertion sort for rows of at most
  `small` elements, else one counting pass per digit that is not the same for
  the whole row (a row of small integers skips the high bytes), in buffers that
  stay in L1/L2. Values are gathered from x at the indices: x's own bits.
radix: one parallel LSD radix sort over all elements (1-D, and short rows),
  rows made digits of their own: after the key passes, stable passes on the row
  number (payload // n) put every row back in its place, which for many short
  rows beats sorting each row (CUB's segmented sort does the same with a
  (segment << 32 | key) composite, see notes/argsort.md). Each pass: per-thread
  histograms of a contiguous chunk, one scan over (digit, thread), a stable
  scatter of keys and payload (int32 positions below 2^31 elements, int64 above).
  Values are decoded from the keys when x holds no -0.0 and no NaN (the key map
  is then a bijection), else gathered from x. The sort launchers scatter keys
  alone (no payload) when decoding is exact; 8-bit keys in 1-D are counted
  (a counting sort: a histogram and runs of values, no scatter).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ...backends import cpu, output_pool
from ...backends.cpu_kernels import parallel_kernel
from ...op import AFTER_BASELINE, Problem, Variant
from ...backends.cpu_kernels import parallel_for
from . import baseline
from .reference import FLOAT_BITS, KINDS, unsigned

# Positions of the radix payload are int32 below this many elements (half the bytes
# per pass), int64 from it on; tests lower it to run the int64 path on small inputs.
INT32_PAYLOAD_BELOW = 1 << 31

# ---------------------------------------------------------------------------
# numba building blocks (all integer arithmetic in uint64 / int64: numba widens
# small integers, and mixing uint64 with int64 would give floats)
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _key(v, kind, desc, sign, absmask, inf, nan):
    """The order-preserving key of bits v (reference.keys), as uint64 (bits above the
    dtype's width are garbage: stores truncate them). Branch-free: the signs of random
    data would mispredict every other branch (4x slower)."""
    zero = np.uint64(0)
    k = np.uint64(v)
    if kind == 1:
        k = k ^ sign
    elif kind == 2:
        a = k & absmask
        k = k & (zero - np.uint64(a != zero))  # -0.0 -> +0.0
        k = nan if a > inf else k  # every NaN -> the canonical one
        k = k ^ (sign | (zero - np.uint64((k & sign) != zero)))
    return k ^ (zero - np.uint64(desc))


@njit(cache=True, inline="always")
def _unkey(k, kind, desc, sign, mask):
    """Bits of the value whose key is k (exact for values other than -0.0 and NaN)."""
    k = np.uint64(k) & mask
    if desc:
        k = ~k & mask
    if kind == 1:
        return k ^ sign
    if kind == 2:
        if k & sign:
            return k ^ sign
        return ~k & mask
    return k


@njit(cache=True, inline="always")
def _special(v, kind, absmask, inf):
    """-0.0 or a NaN: values whose key does not give their bits back."""
    if kind != 2:
        return False
    k = np.uint64(v)
    a = k & absmask
    return (a == np.uint64(0) and k != np.uint64(0)) or a > inf


@njit(cache=True, inline="always")
def _digit(k, shift):
    return np.int64((np.uint64(k) >> np.uint64(shift)) & np.uint64(255))


# ---------------------------------------------------------------------------
# rows: a row per step, in cache
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _insertion(ka, ia, lo, hi):
    """Stable insertion sort of ka[lo:hi] with ia moved alongside."""
    for j in range(lo + 1, hi):
        kj, ij = ka[j], ia[j]
        m = j
        while m > lo and ka[m - 1] > kj:
            ka[m] = ka[m - 1]
            ia[m] = ia[m - 1]
            m -= 1
        ka[m] = kj
        ia[m] = ij


@njit(cache=True)
def _merge_sort(ka, ia, kb, ib, n, run):
    """Stable bottom-up merge sort of ka[:n] (runs of `run` insertion-sorted first);
    returns True when the result ended in kb/ib."""
    for lo in range(0, n, run):
        _insertion(ka, ia, lo, min(lo + run, n))
    src_k, src_i, dst_k, dst_i = ka, ia, kb, ib
    swapped = False
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b = lo, mid
            for p in range(lo, hi):
                # take from the right run only when strictly smaller: stable
                if b < hi and (a >= mid or src_k[b] < src_k[a]):
                    dst_k[p] = src_k[b]
                    dst_i[p] = src_i[b]
                    b += 1
                else:
                    dst_k[p] = src_k[a]
                    dst_i[p] = src_i[a]
                    a += 1
        src_k, src_i, dst_k, dst_i = dst_k, dst_i, src_k, src_i
        swapped = not swapped
        width *= 2
    return swapped


@parallel_kernel()
def _sort_rows(u, vals, out_idx, n, inner, small, merge, tasks, kind, desc, sign, absmask, inf, nan, want_idx):
    """Sort every (outer, inner) row of u (flat bits, rows of n strided by inner) into
    vals (bits) and, when want_idx, out_idx (int64): insertion sort up to `small`
    elements, a merge sort (runs of `small`) up to `merge`, else LSD radix passes."""
    rows = u.size // n
    nbytes = u.itemsize
    radix = n > merge
    for t in prange(tasks):
        lo = np.int64(t) * rows // tasks
        hi = (np.int64(t) + 1) * rows // tasks
        ka = np.empty(n, u.dtype)
        kb = np.empty(n, u.dtype)
        ia = np.empty(n, np.int32)
        ib = np.empty(n, np.int32)
        hist = np.zeros((nbytes, 256), np.int64)
        for r in range(lo, hi):
            o = r // inner
            base = o * n * inner + (r - o * inner)
            for j in range(n):
                k = _key(u[base + j * inner], kind, desc, sign, absmask, inf, nan)
                ka[j] = k
                ia[j] = j
                if radix:
                    for b in range(nbytes):
                        hist[b, _digit(k, 8 * b)] += 1
            src_k, src_i, dst_k, dst_i = ka, ia, kb, ib
            if n <= small:
                _insertion(ka, ia, 0, n)
            elif not radix:
                if _merge_sort(ka, ia, kb, ib, n, small):
                    src_k, src_i = kb, ib
            else:
                for b in range(nbytes):
                    shift = 8 * b
                    h = hist[b]
                    if h[_digit(src_k[0], shift)] == n:
                        h[:] = 0
                        continue  # every key has this digit: the pass would not move anything
                    run = np.int64(0)
                    for d in range(256):
                        c = h[d]
                        h[d] = run
                        run += c
                    for j in range(n):
                        k = src_k[j]
                        d = _digit(k, shift)
                        p = h[d]
                        h[d] = p + 1
                        dst_k[p] = k
                        dst_i[p] = src_i[j]
                    h[:] = 0  # zeroed for the next row as it is used, not all digits up front
                    src_k, src_i, dst_k, dst_i = dst_k, dst_i, src_k, src_i
            for j in range(n):
                s = src_i[j]
                vals[base + j * inner] = u[base + np.int64(s) * inner]
                if want_idx:
                    out_idx[base + j * inner] = s
    return vals


# ---------------------------------------------------------------------------
# radix: one LSD sort over all elements, rows as extra digits
# ---------------------------------------------------------------------------


@parallel_kernel()
def _make_keys(u, keys, hist, specials, kind, desc, sign, absmask, inf, nan):
    """keys = key(u); hist[t, b, d]: digit b's histogram over chunk t; specials[t]: the
    -0.0 / NaN in chunk t."""
    tasks = hist.shape[0]
    nbytes = hist.shape[1]
    size = u.size
    for t in prange(tasks):
        lo = np.int64(t) * size // tasks
        hi = (np.int64(t) + 1) * size // tasks
        count = 0
        for i in range(lo, hi):
            v = u[i]
            k = _key(v, kind, desc, sign, absmask, inf, nan)
            keys[i] = k
            if _special(v, kind, absmask, inf):
                count += 1
            for b in range(nbytes):
                hist[t, b, _digit(k, 8 * b)] += 1
        specials[t] = count
    return keys


@parallel_kernel()
def _radix_pass(src_k, src_i, dst_k, dst_i, hist, shift, row_n, first, pairs):
    """One stable counting pass on digit `shift` of the keys (row_n == 0) or of the row
    number payload // row_n; hist[t] arrives zeroed (first: hist holds chunk t's counts
    already, and the payload is the position)."""
    tasks = hist.shape[0]
    size = src_k.size
    if not first:
        for t in prange(tasks):
            lo = np.int64(t) * size // tasks
            hi = (np.int64(t) + 1) * size // tasks
            for i in range(lo, hi):
                if row_n:
                    d = _digit(np.uint64(src_i[i] // row_n), shift)
                else:
                    d = _digit(src_k[i], shift)
                hist[t, d] += 1
    run = np.int64(0)
    for d in range(256):
        for t in range(tasks):
            c = hist[t, d]
            hist[t, d] = run
            run += c
    for t in prange(tasks):
        lo = np.int64(t) * size // tasks
        hi = (np.int64(t) + 1) * size // tasks
        offs = hist[t]
        for i in range(lo, hi):
            k = src_k[i]
            if row_n:
                d = _digit(np.uint64(src_i[i] // row_n), shift)
            else:
                d = _digit(k, shift)
            p = offs[d]
            offs[d] = p + 1
            dst_k[p] = k
            if pairs:
                dst_i[p] = i if first else src_i[i]
    return dst_k


@parallel_kernel()
def _finish(keys, payload, u, vals, out_idx, n, moved, decode, want_idx, kind, desc, sign, mask):
    """Outputs from the sorted keys and payload (moved == False: nothing moved, the
    input order is sorted)."""
    size = keys.size
    for i in prange(size):
        row0 = (np.int64(i) // n) * n
        s = np.int64(payload[i]) if moved else np.int64(i)
        if want_idx:
            out_idx[i] = s - row0
        if decode:
            vals[i] = _unkey(keys[i], kind, desc, sign, mask)
        else:
            vals[i] = u[s]
    return vals


@parallel_kernel()
def _count_hist(u, hist, kind, desc, sign, absmask, inf, nan):
    tasks = hist.shape[0]
    size = u.size
    for t in prange(tasks):
        lo = np.int64(t) * size // tasks
        hi = (np.int64(t) + 1) * size // tasks
        for i in range(lo, hi):
            hist[t, _digit(_key(u[i], kind, desc, sign, absmask, inf, nan), 0)] += 1
    return hist


@parallel_kernel()
def _count_fill(vals, starts, kind, desc, sign, mask):
    """vals[starts[d]:starts[d + 1]] = the value of key d, in `tasks` slices of vals."""
    size = vals.size
    tasks = 8
    for t in prange(tasks):
        lo = np.int64(t) * size // tasks
        hi = (np.int64(t) + 1) * size // tasks
        for d in range(256):
            a = max(starts[d], lo)
            b = min(starts[d + 1], hi)
            if a < b:
                v = _unkey(np.uint64(d), kind, desc, sign, mask)
                for i in range(a, b):
                    vals[i] = v
    return vals


# ---------------------------------------------------------------------------
# launchers
# ---------------------------------------------------------------------------


def _constants(problem: Problem) -> dict:
    ut = unsigned(problem.dtype).type
    bits = 8 * np.dtype(problem.dtype).itemsize
    absmask, inf, nan = FLOAT_BITS.get(problem.dtype, (0, 0, 0))
    return dict(kind=KINDS[problem.dtype], desc=bool(problem.flag("descending")), sign=np.uint64(1 << (bits - 1)),
                absmask=np.uint64(absmask), inf=np.uint64(inf), nan=np.uint64(nan),
                mask=np.uint64((1 << bits) - 1), ut=ut)


def _tasks(work: int) -> int:
    return max(1, min(work, 4 * numba.get_num_threads()))


def _rows(problem: Problem, config: dict, want_idx: bool):
    c = _constants(problem)
    small, merge = int(config["small"]), int(config["merge"])

    def launch(x: np.ndarray):
        outer, n, inner = x.shape
        u = x.reshape(-1).view(c["ut"])
        vals = output_pool.empty_like(u)
        out_idx = output_pool.empty(u.size if want_idx else 0, np.int64)
        if u.size:
            _sort_rows(u, vals, out_idx, n, inner, small, merge, _tasks(outer * inner), c["kind"], c["desc"], c["sign"],
                       c["absmask"], c["inf"], c["nan"], want_idx)
        values = vals.view(x.dtype).reshape(x.shape)
        return (values, out_idx.reshape(x.shape)) if want_idx else values

    return launch


def _to_rows(x: np.ndarray) -> np.ndarray:
    """(outer, n, inner) as contiguous rows (outer * inner, n)."""
    outer, n, inner = x.shape
    if inner == 1:
        return x.reshape(outer, n)
    return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(outer * inner, n)


def _from_rows(a: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    outer, n, inner = shape
    if inner == 1:
        return a.reshape(shape)
    return np.ascontiguousarray(a.reshape(outer, inner, n).transpose(0, 2, 1))


# ---- NumPy's sort on blocks of rows, one block per thread ---------------------


@njit(nogil=True, cache=True)
def _gather_block(x, order, vals, idx, desc):
    """vals = x at the block's sorted positions along axis 1, and idx those positions,
    from NumPy's ascending `order` of x (of x reversed along the axis when desc: the
    positions mirrored and read backwards keep equal keys in input order)."""
    outer, n, inner = x.shape
    for o in range(outer):
        for j in range(n):
            for i in range(inner):
                k = n - 1 - order[o, n - 1 - j, i] if desc else order[o, j, i]
                idx[o, j, i] = k
                vals[o, j, i] = x[o, k, i]


_BLOCK_GRAIN = 1 << 14  # elements a thread's part holds at least


def _block(x: np.ndarray, lo: int, hi: int) -> tuple[slice, slice, slice]:
    """Blocks [lo, hi) of the (outer, n, inner) view: of outer, or of inner when outer is 1."""
    if x.shape[0] > 1:
        return slice(lo, hi), slice(None), slice(None)
    return slice(None), slice(None), slice(lo, hi)


def _numpy_blocks(problem: Problem, config: dict, want_idx: bool):
    """np.argsort / np.sort (x86-simd-sort where the CPU has AVX-512) on blocks of the
    (outer, n, inner) view, in parallel_for's threads: NumPy releases the GIL while it
    sorts. Blocks split outer, or inner when outer is 1; argsort's values and indices are
    gathered by a numba kernel in the same thread."""
    kind = "stable" if problem.flag("stable") else "quicksort"
    desc = bool(problem.flag("descending"))

    def argsort_block(x, vals, idx, lo, hi):
        part = _block(x, lo, hi)
        block = x[part]
        order = np.argsort(block[:, ::-1] if desc else block, axis=1, kind=kind)
        half = block.dtype == np.float16  # numba has no float16: its bits travel
        _gather_block(block.view(np.uint16) if half else block, order,
                      vals[part].view(np.uint16) if half else vals[part], idx[part], desc)

    def sort_block(x, vals, lo, hi):
        part = _block(x, lo, hi)
        out = vals[part]
        out[...] = x[part]
        baseline.sort_rows(out[:, ::-1] if desc else out, kind)  # descending: ascending read backwards, NaN first

    def launch(x: np.ndarray):
        outer, n, inner = x.shape
        vals = output_pool.empty(x.shape, x.dtype)
        blocks = outer if outer > 1 else inner
        grain = -(-_BLOCK_GRAIN * blocks // max(x.size, 1))  # blocks per part: a small sort stays on one thread
        if want_idx:
            idx = output_pool.empty(x.shape, np.int64)
            if x.size:
                parallel_for(argsort_block, blocks, grain, x, vals, idx)
            return vals, idx
        if x.size:
            parallel_for(sort_block, blocks, grain, x, vals)
        return vals

    return launch


def _numpy_blocks_rank(vectorised_with: tuple[str, ...]):
    """First for rows of 32- and 64-bit keys where the CPU has the features NumPy's
    x86-simd-sort needs: AVX-512 for argsort, where it beat the numba row sort on a 2-core
    Xeon ((65536, 64) float32: 17 ms on one thread against 126), AVX2 for sort (np.sort
    won every shape on an EPYC). Elsewhere, and in 1-D (one block), it serves when tuned."""
    def rank(problem: Problem) -> int:
        outer, n, inner = problem.shape
        rows = outer * inner > 1 and n > 1
        return -2 if rows and problem.np_dtype.itemsize >= 4 and cpu.has_features(*vectorised_with) \
            else AFTER_BASELINE

    return rank


def radix_sort(x: np.ndarray, problem: Problem, want_idx: bool):
    """Sort the rows (r, n) of contiguous x with the parallel LSD radix passes."""
    c = _constants(problem)
    rows, n = x.shape
    size = x.size
    u = x.reshape(-1).view(c["ut"])
    nbytes = u.itemsize
    tasks = numba.get_num_threads() if size >= 1 << 16 else 1
    vals = output_pool.empty_like(u)
    out_idx = output_pool.empty(size if want_idx else 0, np.int64)
    if size == 0:
        return vals.view(x.dtype).reshape(x.shape), out_idx.reshape(x.shape) if want_idx else None
    if nbytes == 1 and rows == 1 and not want_idx:  # counting sort: 256 runs of values
        hist = np.zeros((tasks, 256), np.int64)
        _count_hist(u, hist, c["kind"], c["desc"], c["sign"], c["absmask"], c["inf"], c["nan"])
        starts = np.zeros(257, np.int64)
        np.cumsum(hist.sum(axis=0), out=starts[1:])
        _count_fill(vals, starts, c["kind"], c["desc"], c["sign"], c["mask"])
        return vals.view(x.dtype).reshape(x.shape), None
    keys = output_pool.empty_like(u)
    hist = np.zeros((tasks, nbytes, 256), np.int64)
    specials = np.zeros(tasks, np.int64)
    _make_keys(u, keys, hist, specials, c["kind"], c["desc"], c["sign"], c["absmask"], c["inf"], c["nan"])
    decode = not specials.any()
    pairs = want_idx or not decode or rows > 1
    totals = hist.sum(axis=0)
    first_digits = [_digit_of(keys[0], 8 * b) for b in range(nbytes)]
    passes = [(8 * b, 0) for b in range(nbytes) if totals[b, first_digits[b]] != size]
    if passes and rows > 1:
        passes += [(8 * b, n) for b in range(((rows - 1).bit_length() + 7) // 8)]
    payload_dtype = np.int32 if size < INT32_PAYLOAD_BELOW else np.int64
    src_k, src_i = keys, output_pool.empty(size if pairs else 0, payload_dtype)
    if passes:
        dst_k, dst_i = output_pool.empty_like(keys), output_pool.empty_like(src_i)
        for number, (shift, row_n) in enumerate(passes):
            first = number == 0
            if first:
                pass_hist = np.ascontiguousarray(hist[:, shift // 8, :])
            else:
                pass_hist = np.zeros((tasks, 256), np.int64)
            _radix_pass(src_k, src_i, dst_k, dst_i, pass_hist, shift, row_n, first, pairs)
            src_k, src_i, dst_k, dst_i = dst_k, dst_i, src_k, src_i
    _finish(src_k, src_i if pairs else src_k, u, vals, out_idx, n, bool(passes) and pairs, decode, want_idx,
            c["kind"], c["desc"], c["sign"], c["mask"])
    return vals.view(x.dtype).reshape(x.shape), out_idx.reshape(x.shape) if want_idx else None


def _digit_of(k, shift: int) -> int:
    return (int(k) >> shift) & 255


def _radix(problem: Problem, config: dict, want_idx: bool):
    def launch(x: np.ndarray):
        values, idx = radix_sort(_to_rows(x), problem, want_idx)
        values = _from_rows(values, x.shape)
        return (values, _from_rows(idx, x.shape)) if want_idx else values

    return launch


# ---------------------------------------------------------------------------
# composite: (key << 32 | position) sorted by NumPy's vectorised sort
# ---------------------------------------------------------------------------


@parallel_kernel()
def _compose(u, comp, n, kind, desc, sign, absmask, inf, nan):
    """comp[i] = key(u[i]) << 32 | (i mod n): distinct words whose order is the stable order."""
    for i in prange(u.size):
        k = _key(u[i], kind, desc, sign, absmask, inf, nan) & (sign | (sign - np.uint64(1)))
        comp[i] = (k << np.uint64(32)) | np.uint64(np.int64(i) % n)
    return comp


@parallel_kernel()
def _decompose(comp, u, vals, out_idx, n, want_idx):
    for i in prange(comp.size):
        s = np.int64(comp[i] & np.uint64(0xFFFFFFFF))
        vals[i] = u[(np.int64(i) // n) * n + s]
        if want_idx:
            out_idx[i] = s
    return vals


def _sort_words(comp: np.ndarray) -> None:
    """Sort each row of comp (rows, n) in place: NumPy's sort (x86-simd-sort, unstable,
    but the words are distinct), in row blocks on the CPU's threads (it releases the GIL)."""
    rows = comp.shape[0]
    threads = numba.get_num_threads()
    if threads == 1 or rows < 2 * threads or comp.size < 1 << 16:
        comp.sort(axis=1)
        return
    from concurrent.futures import ThreadPoolExecutor

    bounds = [rows * t // threads for t in range(threads + 1)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda t: comp[bounds[t]:bounds[t + 1]].sort(axis=1), range(threads)))


def _composite(problem: Problem, config: dict, want_idx: bool):
    c = _constants(problem)

    def launch(x: np.ndarray):
        rows_x = _to_rows(x)
        rows, n = rows_x.shape
        u = rows_x.reshape(-1).view(c["ut"])
        comp = output_pool.empty(u.size, np.uint64)
        vals = output_pool.empty_like(u)
        out_idx = output_pool.empty(u.size if want_idx else 0, np.int64)
        if u.size:
            _compose(u, comp, n, c["kind"], c["desc"], c["sign"], c["absmask"], c["inf"], c["nan"])
            _sort_words(comp.reshape(rows, n))
            _decompose(comp, u, vals, out_idx, n, want_idx)
        values = _from_rows(vals.view(x.dtype).reshape(rows, n), x.shape)
        return (values, _from_rows(out_idx.reshape(rows, n), x.shape)) if want_idx else values

    return launch


# ---------------------------------------------------------------------------
# backward: the scatter dx[o, idx[o, j, i], i] = dy[o, j, i]
# ---------------------------------------------------------------------------


_SCATTER_CHUNK = 1 << 14  # positions of a row per task: a 1-D scatter splits over the threads


@parallel_kernel()
def _scatter(dy, idx, dx, n, inner):
    """Tasks of up to _SCATTER_CHUNK positions j of one row (o, i): a row's indices are a
    permutation, so its tasks write disjoint elements. A task per whole row left a 1-D
    scatter on one thread, 0.6x NumPy's on the Zen 5 EPYC."""
    rows = dy.size // n
    per_row = (n + _SCATTER_CHUNK - 1) // _SCATTER_CHUNK
    for t in prange(rows * per_row):
        r = t // per_row
        o = r // inner
        base = o * n * inner + (r - o * inner)
        j0 = (t - r * per_row) * _SCATTER_CHUNK
        for j in range(j0, min(n, j0 + _SCATTER_CHUNK)):
            dx[base + idx[base + j * inner] * inner] = dy[base + j * inner]
    return dx


def _numba_scatter(problem: Problem, config: dict):
    def launch(dy: np.ndarray, idx: np.ndarray) -> np.ndarray:
        _, n, inner = dy.shape
        flat = dy.reshape(-1)
        view = flat.view(np.uint16) if dy.dtype == np.float16 else flat
        dx = output_pool.empty_like(view)
        if dy.size:
            _scatter(view, idx.reshape(-1), dx, n, inner)
        return dx.view(dy.dtype).reshape(dy.shape)

    return launch


# ---------------------------------------------------------------------------


def _rows_rank(problem: Problem) -> int:
    # Rows that fit in L2 sort in cache; 1-D and long rows go to the global radix sort.
    outer, n, inner = problem.shape
    return 0 if 1 < outer * inner and n <= 1 << 16 else 1


ROWS_SPACE = {"small": (8, 16, 32), "merge": (64, 256, 1024)}


def _rows_default(problem: Problem) -> dict:
    return {"small": 16, "merge": 256}


def argsort_variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.argsort("numpy"), baseline=True),
        Variant("rows", "cpu", lambda p, c: _rows(p, c, True), space=ROWS_SPACE, default=_rows_default, supports=lambda p: p.shape[1] < 1 << 31, rank=_rows_rank),
        Variant("radix", "cpu", lambda p, c: _radix(p, c, True), rank=lambda p: 1 - _rows_rank(p)),
        Variant("composite", "cpu", lambda p, c: _composite(p, c, True), rank=lambda p: -1,
                supports=lambda p: p.np_dtype.itemsize <= 4 and p.size < 1 << 31),
        Variant("numpy_blocks", "cpu", lambda p, c: _numpy_blocks(p, c, True),
                rank=_numpy_blocks_rank(cpu.AVX512_SKX)),
    ]


def _behind_np_sort(problem: Problem) -> int:
    # Values only: np.sort (x86-simd-sort on AVX2, for 32- and 64-bit keys) won at every
    # benchmarked shape and order in float32 and int64 (notes/argsort.md: 1.1-10x), so it
    # serves those untuned; 1- and 2-byte keys keep the counting / radix paths (two sorts of
    # 2^31 int8 values: 177 s through np.sort, 11-13 s through the counting sort).
    return AFTER_BASELINE if problem.np_dtype.itemsize >= 4 else 0


def sort_variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.sort("numpy"), baseline=True),
        Variant("rows", "cpu", lambda p, c: _rows(p, c, False), space=ROWS_SPACE, default=_rows_default,
                supports=lambda p: p.shape[1] < 1 << 31, rank=lambda p: _behind_np_sort(p) + _rows_rank(p)),
        Variant("radix", "cpu", lambda p, c: _radix(p, c, False),
                rank=lambda p: _behind_np_sort(p) + 1 - _rows_rank(p)),
        Variant("numpy_blocks", "cpu", lambda p, c: _numpy_blocks(p, c, False), rank=_numpy_blocks_rank(("avx2",))),
    ]


def backward_variants() -> list[Variant]:
    return [
        Variant("numpy", "cpu", baseline.scatter("numpy"), baseline=True),
        Variant("scatter", "cpu", _numba_scatter),
    ]
