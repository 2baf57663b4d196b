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

import inspect
import os
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numba
import numpy as np
from numba import njit, prange
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher

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


# ---- range kernels: fn(*args, lo, hi) over [0, n), one contiguous part per thread ----


kernel: Any = None  # the name _run_parts calls: each driver's own globals bind it to its kernel


def _run_parts(bounds, *args):
    for p in prange(bounds.shape[0]):
        kernel(*args, bounds[p, 0], bounds[p, 1])


_drivers: dict[Any, Any] = {}


def _driver(kernel: Any) -> Any:
    """A prange over parts that calls the numba `kernel`, compiled on first use and cached
    on disk beside the kernel: its code is _run_parts' under the kernel's file and line, so
    that numba's cache, keyed by file, name and line and stamped by the file, goes stale
    with the kernel's source (a template's name and file would serve an old kernel). Its
    key holds no closure: parallel_for keeps closures' kernels off it (two from one factory
    would share a file, name and line, and so a driver)."""
    driver = _drivers.get(kernel)
    if driver is None:
        fn = kernel.py_func
        name = fn.__name__ + "_parts"
        where = dict(co_filename=inspect.getfile(fn), co_firstlineno=fn.__code__.co_firstlineno, co_name=name)
        if hasattr(_run_parts.__code__, "co_qualname"):  # Python 3.11 and later
            where["co_qualname"] = fn.__qualname__ + "_parts"
        code = _run_parts.__code__.replace(**where)
        twin = types.FunctionType(code, {"kernel": kernel, "prange": prange}, name)
        twin.__qualname__, twin.__module__ = fn.__qualname__ + "_parts", fn.__module__
        cached = not isinstance(kernel._cache, NullCache)  # a kernel with no file to cache beside
        driver = _drivers[kernel] = njit(parallel=True, cache=cached, nogil=True)(twin)
    return driver


_region_lock = threading.Lock()
_regions_concurrent: bool | None = None  # whether numba's threading layer takes concurrent regions


def _in_region(kernel: Any, bounds: list[tuple[int, int]], args: tuple) -> None:
    """One region; serialised where numba's layer is "workqueue", which aborts the process
    on regions from two Python threads at once (OpenMP and TBB take them)."""
    global _regions_concurrent
    driver = _driver(kernel)
    if _regions_concurrent:
        driver(np.array(bounds, np.int64), *args)
        return
    with _region_lock:  # the layer is known once a region has run
        driver(np.array(bounds, np.int64), *args)
        _regions_concurrent = numba.threading_layer() != "workqueue"


_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def parallel_for(fn: Callable, n: int, grain: int, *args: Any, align: int = 1) -> None:
    """fn(*args, lo, hi) over [0, n) in one contiguous part per thread (numba's thread
    count; parts of at least `grain` items, their bounds multiples of `align`: 64 for
    element ranges, so that threads do not share the output's cache lines; 1 for rows and
    tasks, where rounding 4 tasks up to 64 left one part: a (4096, 4096) axis-0 sum ran on
    one thread).

    A numba kernel's parts run in one numba parallel region (OpenMP's threads, which spin
    a while between regions); a Python function's (NumPy calls that release the GIL) on a
    thread pool. On the 2-core AMX Xeon VM, a float32 -> float16 cast of 1M elements in two
    parts took 109 us in the region, 222 us on the pool and 213 us serially: a pool thread
    sleeps between calls, and waking it cost ~90 us there. A range kernel must not raise
    (hakl's take error_model="numpy" and check nothing per element): numba's region drops a
    part's exception."""
    if n < 2 * grain:  # one part: no thread-count query (5 us of a framework's small call)
        fn(*args, 0, n)
        return
    parts = max(1, min(numba.get_num_threads(), n // max(grain, 1)))
    if parts == 1:
        fn(*args, 0, n)
        return
    if align == 1:  # as even as can be: 9 tasks on 8 threads are 8 parts, not 5 of 2
        bounds = [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]
    else:
        step = -(-(-(-n // parts)) // align) * align
        bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    if isinstance(fn, CPUDispatcher) and fn.py_func.__closure__ is None:
        _in_region(fn, bounds, args)
    else:
        _in_pool(fn, bounds, args)


def _in_pool(fn: Callable, bounds: list[tuple[int, int]], args: tuple) -> None:
    global _pool, _pool_size
    if len(bounds) > _pool_size:
        _pool, _pool_size = ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix="hakl-cpu"), len(bounds)
    # The first part runs here, not on a woken pool thread while the caller waits: a relu
    # of 64K float32 in two parts on the 2-core Xeon VM, 400 alternating calls, 160 -> 140 us.
    futures = [_pool.submit(fn, *args, lo, hi) for lo, hi in bounds[1:]]
    try:
        fn(*args, *bounds[0])
    finally:
        for future in futures:
            future.result()
