"""stack / unstack on CUDA: CuPy baselines and the three kernels of stack.cu.

Bytes: both directions read and write outer * k * inner elements once.

The k parts reach a kernel as a device array of their addresses (uint64). It is
built on the host and copied once per distinct set of addresses; a small cache
keyed by the addresses skips the copy when a caller stacks the same buffers
again (the array's content is a function of the key, so it cannot go stale).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...op import Problem, Variant
from . import baseline

SOURCE = Path(__file__).with_name("stack.cu")
_WORD = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}


def word_size(dtype) -> int:
    """Bytes of the unsigned words the kernels move elements as (stack.cu and stack.cl)."""
    size = np.dtype(dtype).itemsize
    return next(w for w in (8, 4, 2, 1) if size % w == 0)


def launcher(direction: str, empty, run):
    """The stack (direction "stack") or unstack launcher around `run(parts, big)`, which
    moves between the k (outer, inner) parts and big (outer, k, inner); `empty(shape,
    dtype)` allocates on the device (the OpenCL launchers share this)."""
    if direction == "stack":
        def launch(*xs):
            outer, inner = xs[0].shape
            out = empty((outer, len(xs), inner), xs[0].dtype)
            run(xs, out)
            return out
    else:
        def launch(x):
            outer, k, inner = x.shape
            parts = tuple(empty((outer, inner), x.dtype) for _ in range(k))
            run(parts, x)
            return parts
    return launch


def magic(d: int) -> tuple[int, int]:
    """(m, s) with n // d == (umulhi(n, m) + n) >> s for every n < 2**32 (1 <= d < 2**31)."""
    s = (d - 1).bit_length()
    return ((1 << 32) * ((1 << s) - d)) // d + 1, s


class _Addresses:
    """Device arrays of part addresses, cached by the addresses themselves."""

    def __init__(self, size: int = 32):
        self.size = size
        self.table: OrderedDict[tuple, object] = OrderedDict()

    def __call__(self, arrays) -> object:
        key = tuple(a.data.ptr for a in arrays)
        hit = self.table.get(key)
        if hit is None:
            hit = get_backend("cuda").cp.asarray(np.array(key, np.uint64))
            self.table[key] = hit
            if len(self.table) > self.size:
                self.table.popitem(last=False)
        else:
            self.table.move_to_end(key)
        return hit


_addresses = _Addresses()


def vec_width(dtype) -> int:
    """Words per 16-byte access: interleave and segments use vectors this wide wherever
    the data allows (the module holds V=1 kernels for the rest)."""
    return max(1, 16 // word_size(dtype))


def compile_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    defines = {"W": _WORD[word_size(problem.dtype)], "BLOCK": config["block"], "VEC": vec_width(problem.dtype),
               "ITEMS": config.get("items", 1), "TILE": config.get("tile", 4096)}
    return SOURCE.read_text(), defines


def _vector_ok(arrays, inner_words: int, vec: int, word: int) -> bool:
    return vec > 1 and inner_words % vec == 0 and all(a.data.ptr % (vec * word) == 0 for a in arrays)


def _build(direction: str, strategy: str):
    """Launcher for stack (direction 'stack') or unstack by one of stack.cu's strategies."""

    def build(problem: Problem, config: dict):
        backend = get_backend("cuda")
        backend.require()
        source, defines = compile_unit(problem, config)
        module = backend.compile(source, defines)
        if strategy == "tiles":
            kernels = {False: module.get_function(f"{direction}_tiles")}
        else:
            kernels = {v: module.get_function(f"{direction}_{strategy}{'' if v else '_1'}") for v in (True, False)}
        block, vec, items = config["block"], vec_width(problem.dtype), config.get("items", 1)
        word = word_size(problem.dtype)
        span = block * vec * items  # elements a block moves in interleave / segments

        def run(parts, big):
            outer, k, inner = big.shape
            inner_w = inner * big.dtype.itemsize // word
            total = outer * k * inner_w
            if total == 0:
                return
            ptrs = _addresses(parts)
            if strategy == "tiles":
                # PB parts x RB rows per block, RB * PB * inner elements in shared memory.
                pb = max(1, min(k, config["pb"], config["tile"] // inner_w))
                rb = max(1, config["tile"] // (pb * inner_w))
                part_blocks = -(-k // pb)
                grid = -(-outer // rb) * part_blocks
                magics = [np.uint32(m) for d in (rb * inner_w, pb * inner_w, inner_w) for m in magic(d)]
                kernels[False]((grid,), (block,), (ptrs, big, np.uint64(outer), np.uint32(k), np.uint32(inner_w),
                                                   np.uint32(pb), np.uint32(rb), np.uint32(part_blocks), *magics))
                return
            kernel = kernels[_vector_ok([big, *parts], inner_w, vec, word)]
            if strategy == "interleave":
                row = k * inner_w
                mL, sL = magic(row)
                mI, sI = magic(inner_w)
                grid = -(-total // span)
                kernel((grid,), (block,), (ptrs, big, np.uint64(total), np.uint32(k), np.uint32(inner_w),
                                           np.uint32(row), np.uint32(mL), np.uint32(sL), np.uint32(mI),
                                           np.uint32(sI)))
            else:
                pieces = -(-inner_w // span)
                kernel((outer * k * pieces,), (block,), (ptrs, big, np.uint64(inner_w), np.uint32(k),
                                                         np.uint32(pieces)))

        return launcher(direction, backend.cp.empty, run)

    return build


def _words(problem: Problem) -> int:
    return problem.shape[2] * np.dtype(problem.dtype).itemsize // word_size(problem.dtype)


def _supports(strategy: str):
    def supports(problem: Problem) -> bool:
        outer, k, inner = problem.shape
        words = max(_words(problem), 1)
        if strategy == "tiles":  # short segments: at least one part's rows fit a 2048-element tile
            return words <= 2048 and -(-outer // max(1, 2048 // words)) * k < 2 ** 31
        if strategy == "interleave":  # 32-bit column index within a row of big (fast_div's range)
            return k * words < 2 ** 31
        return words >= 1024 and outer * k * -(-words // 128) < 2 ** 31  # grid.x at the smallest piece
    return supports


def _default(strategy: str):
    def default(problem: Problem) -> dict:
        if strategy == "tiles":
            return {"block": 256, "tile": 4096, "pb": 16}
        return {"block": 256, "items": 2 if strategy == "interleave" else 4}
    return default


_SPACE = {"block": (256, 512), "items": (1, 2, 4, 8)}
_TILES_SPACE = {"block": (128, 256, 512), "tile": (2048, 4096), "pb": (8, 16, 32)}


def _variants(direction: str) -> list[Variant]:
    base = baseline.stack("cupy") if direction == "stack" else baseline.unstack("cupy")
    out = [Variant("cupy", "cuda", base, baseline=True)]
    # In the order the heuristic prefers them: tiles for short segments, segments for
    # long ones, interleave for what neither takes.
    for strategy in ("tiles", "segments", "interleave"):
        out.append(Variant(strategy, "cuda", _build(direction, strategy),
                           space=_TILES_SPACE if strategy == "tiles" else _SPACE, default=_default(strategy),
                           supports=_supports(strategy), sources=(SOURCE,), compile_unit=compile_unit))
    return out


def stack_variants() -> list[Variant]:
    return _variants("stack")


def unstack_variants() -> list[Variant]:
    return _variants("unstack")
