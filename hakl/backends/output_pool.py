"""Large CPU outputs from memory that earlier outputs gave back.

A fresh NumPy array of 64 MiB is fresh pages from the kernel (glibc maps every request
above 32 MiB, and unmaps it on free), and the kernel zeroes each page on its first write:
on the 2-core AMD EPYC a (4096, 4096) float32 add took 21 ms into a new array and 13 ms
into one written before; np.empty + fill cost 15 ms against 7 for fill alone. The
framework and a benchmark loop make the same large shapes over and over, so the CPU
kernels take their outputs from here: a block that an earlier output no longer uses is
handed out again, its pages already mapped (torch's CUDA caching allocator does the same
for device memory).

An output is a NumPy array over a ctypes array at its block's address, made for it. Every
view of the output (slices, reshapes, np.asarray) reaches that ctypes object through its
chain of bases, so the block comes back to the pool only when the last array over it is
gone (a weakref.finalize on the ctypes object). A view of the block or a memoryview would
not do: NumPy shortens a view's base chain to the block itself, and a memoryview of a
memoryview refers to the block, not to it, so the block would go back while a slice of the
old output still read it.

Blocks are kept by exact size (the same shapes repeat) up to HAKL_OUTPUT_POOL_MB in all
(default 1024; 0 turns the pool off); smaller outputs than MIN_BYTES are plain arrays.
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
import weakref
from collections import defaultdict

import numpy as np

MIN_BYTES = 1 << 20  # below this a new array's pages are a small part of its cost


def _limit() -> int:
    try:
        return max(0, int(os.environ.get("HAKL_OUTPUT_POOL_MB", "1024"))) << 20
    except ValueError:
        return 1024 << 20


class OutputPool:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.cached = 0  # bytes in free blocks
        self._free: dict[int, list[np.ndarray]] = defaultdict(list)
        self._lock = threading.Lock()

    def empty(self, shape, dtype) -> np.ndarray:
        # math.prod, not np.prod, and a tuple taken as it is: a 4x8 call must not pay
        # microseconds here (this took 1.8 us against np.empty's 0.5)
        if type(shape) is not tuple:
            shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        count = math.prod(shape)
        dtype = np.dtype(dtype)
        nbytes = count * dtype.itemsize
        if nbytes < MIN_BYTES or not self.limit or dtype.hasobject:
            return np.empty(shape, dtype)
        block = None
        with self._lock:
            free = self._free.get(nbytes)
            if free:
                block = free.pop()
                self.cached -= nbytes
        if block is None:
            block = np.empty(nbytes, np.uint8)
        holder = (ctypes.c_byte * nbytes).from_address(block.ctypes.data)
        weakref.finalize(holder, self._give_back, block)
        return np.frombuffer(holder, dtype, count).reshape(shape)

    def _give_back(self, block: np.ndarray) -> None:
        with self._lock:
            if self.cached + block.size <= self.limit:
                self._free[block.size].append(block)
                self.cached += block.size

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self.cached = 0


POOL = OutputPool(_limit())


def empty(shape, dtype) -> np.ndarray:
    """np.empty(shape, dtype), from the pool when it is large."""
    return POOL.empty(shape, dtype)


def empty_like(a: np.ndarray) -> np.ndarray:
    """An array of a's shape and dtype, C-ordered whatever a's layout (np.empty_like keeps a
    Fortran order): the launchers reshape their outputs flat, which a C array does in place."""
    if a.nbytes < MIN_BYTES:  # a 4x8 output: 0.35 us, against 0.7 through the pool's checks
        return np.empty(a.shape, a.dtype)
    return POOL.empty(a.shape, a.dtype)
