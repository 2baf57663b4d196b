"""Timing a launcher the way the tuner and the benchmarks both do.

Device clock (CUDA events, OpenCL profiling, perf_counter on CPU), warm-up
first, median of repeats, and enough rotating copies of the inputs that the
working set exceeds the last-level cache several times over.
"""
from __future__ import annotations

import itertools
import statistics
from typing import Sequence

import numpy as np

from ..backends.base import Backend
from ..op import Launcher, Problem


def rotating_inputs(backend: Backend, host_inputs: Sequence[np.ndarray], max_copies: int = 8) -> list[tuple]:
    """Device copies of `host_inputs`, as many as it takes to exceed 3x the cache. Copies
    on every backend: the CPU's asarray returns a NumPy array itself, and sets that alias
    one buffer would time a warm cache (and share an in-place op's writes)."""
    nbytes = max(sum(a.nbytes for a in host_inputs), 1)
    copies = int(np.clip(-(-3 * backend.l2_bytes() // nbytes), 1, max_copies))
    first = tuple(backend.asarray(np.array(a)) for a in host_inputs)
    return [first] + [tuple(map(_another_copy, [backend] * len(first), host_inputs, first))
                      for _ in range(copies - 1)]


def _another_copy(backend: Backend, host: np.ndarray, device):
    """One more copy of `device`, made on the device when it is a contiguous device buffer:
    uploading every copy from the host again (two host copies each) took 72 of PoCL's 226 s
    in `hakl bench --quick` on the 2-core Xeon. A NumPy array is copied as np.array does,
    keeping its memory order (a Fortran-ordered input stays one)."""
    if isinstance(device, np.ndarray) or not device.flags.c_contiguous:
        return backend.asarray(np.array(host))
    out = backend.empty(device.shape, device.dtype)
    if out.size:
        backend.copy_into(out, device)
    return out


def time_launcher(backend: Backend, problem: Problem, launcher: Launcher, input_sets: Sequence[tuple],
                  warmup: int = 2, repeat: int = 10) -> list[float]:
    """Device seconds of each of `repeat` calls, cycling through `input_sets`."""
    sets = itertools.cycle(input_sets)
    return backend.time(lambda: problem.launch(launcher, *next(sets)), warmup=warmup, repeat=repeat)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def gbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e9 if seconds > 0 else float("nan")
