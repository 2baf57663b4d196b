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

`parallel_driver(kernel)` runs a nogil range kernel `kernel(*args, lo, hi)` over a few
(lo, hi) parts in one numba parallel region: cast's `parallel_for` hands its parts to
numba's threads this way (OpenMP's workers spin a while between regions; a Python pool's
sleeping worker took 20-60 us to wake, and ran its part slower).
"""
from __future__ import annotations

import os
import types
from typing import Any, Callable

from numba import njit, prange
from numba.core.registry import CPUDispatcher

SERIAL_BELOW = 1 << 13
# A threshold past any size (the test suite's): the serial twins always, and parallel_for
# runs a numba kernel's parts one after another on the calling thread (no parfor to compile).
NEVER_PARALLEL = 1 << 62


def serial_below() -> int:
    return _threshold


def parallel_regions() -> bool:
    """False when the threshold is NEVER_PARALLEL or past it."""
    return _threshold < NEVER_PARALLEL


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


kernel = None  # what _drive calls: each driver's globals bind it to a kernel (parallel_driver)


def _drive(bounds, args):
    for k in prange(bounds.shape[0]):
        kernel(*args, bounds[k, 0], bounds[k, 1])


_drivers: dict[CPUDispatcher, CPUDispatcher] = {}


def parallel_driver(kernel: CPUDispatcher) -> CPUDispatcher:
    """driver(bounds, args): kernel(*args, lo, hi) for each row (lo, hi) of the int64
    array `bounds`, in parallel. The driver is `_drive` compiled with `kernel` as a global
    under the kernel's own file and name: numba's on-disk cache then keys it by that file,
    so an edit there makes it stale as it makes the kernel (a kernel passed as an argument
    would be typed per process: no cache hit, a second of compiling every time)."""
    driver = _drivers.get(kernel)
    if driver is None:
        py = kernel.py_func
        code = _drive.__code__.replace(co_filename=py.__code__.co_filename, co_name=py.__name__ + "_parallel")
        fn = types.FunctionType(code, {"kernel": kernel, "prange": prange, "__name__": py.__module__},
                                py.__name__ + "_parallel")
        fn.__qualname__, fn.__module__ = py.__qualname__ + "_parallel", py.__module__
        driver = _drivers[kernel] = njit(parallel=True, cache=True, nogil=True)(fn)
    return driver
