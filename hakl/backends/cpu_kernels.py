"""numba plumbing shared by the CPU variants: parallel kernels with a serial twin.

A numba `parallel=True` region costs a few microseconds to start on an idle machine
and, while other processes keep the cores busy, up to milliseconds: the region waits
for a descheduled worker thread. The framework makes many small calls, so below
`serial_below()` elements of work a kernel runs its serial twin — the same Python
function compiled without `parallel` (prange runs as range) — on the calling thread.

The default threshold was measured on 2 AMD EPYC cores (notes/reliability.md): near
8K elements the parallel and serial softmax row kernels cost the same on an idle
machine (8.7 vs 9.7 µs); on 256 elements with both cores busy, 7.8 ms vs 1.6 µs.
HAKL_CPU_SERIAL_BELOW=<elements> sets another one (0: always parallel).
"""
from __future__ import annotations

import os
import types
from typing import Any, Callable

from numba import njit

SERIAL_BELOW = 1 << 13


def serial_below() -> int:
    return _threshold


def set_serial_below(elements: int) -> None:
    """Change the threshold for this process (benchmarks; HAKL_CPU_SERIAL_BELOW at start-up)."""
    global _threshold
    _threshold = max(0, int(elements))


_threshold = int(os.environ.get("HAKL_CPU_SERIAL_BELOW", SERIAL_BELOW))


class ParallelKernel:
    """Calls the parallel build, or the serial twin when args[size_arg] is small."""

    def __init__(self, fn: Callable, size_arg: int, options: dict[str, Any]):
        self.parallel = njit(parallel=True, cache=True, **options)(fn)
        # A distinct qualified name: numba's on-disk cache is keyed by it, not by the flags.
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__, twin.__module__, twin.__doc__ = fn.__qualname__ + "_serial", fn.__module__, fn.__doc__
        self.serial = njit(cache=True, **options)(twin)
        self.size_arg = size_arg
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def __call__(self, *args: Any) -> Any:
        if args[self.size_arg].size < _threshold:
            return self.serial(*args)
        return self.parallel(*args)


def parallel_kernel(size_arg: int = 0, **options: Any) -> Callable[[Callable], ParallelKernel]:
    """Decorator: `njit(parallel=True, cache=True, **options)` plus a serial twin for
    calls whose argument `size_arg` (an array) has fewer than `serial_below()` elements."""
    return lambda fn: ParallelKernel(fn, size_arg, options)
