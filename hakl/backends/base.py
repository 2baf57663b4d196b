"""The backend protocol: what every device family gives the kernels above it.

A backend owns one kind of array (NumPy, CuPy, pyopencl) and knows how to make
them, move them, wait for them, time work on them with its own clock and compile
kernel sources once per process.
"""
from __future__ import annotations

import hashlib
import platform
import statistics
import sys
import sysconfig
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

import ml_dtypes
import numpy as np


# bfloat16 is ml_dtypes' NumPy dtype (its kind is "V", not "f"): importing ml_dtypes
# also makes np.dtype("bfloat16") work. The backends and ops that have it say so in their
# dtype domains.
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def wheel_library_dirs() -> list[Path]:
    """Where a wheel's shared libraries land (its data files' lib/): this interpreter's
    prefix, its data dir and the base prefix, in that order, each once."""
    return list(dict.fromkeys(Path(p) / "lib" for p in (sys.prefix, sysconfig.get_paths()["data"], sys.base_prefix)))


class BackendUnavailable(RuntimeError):
    """Raised when a backend is asked for work it cannot start (the message says why)."""


class Backend(ABC):
    name: str = ""

    @abstractmethod
    def probe(self) -> str | None:
        """Start the backend; return None when usable, else the reason it is not."""

    @abstractmethod
    def fingerprint(self) -> dict[str, str]:
        """Device name, driver/runtime and compiler versions: what a tuned choice depends on."""

    @abstractmethod
    def owns(self, array: Any) -> bool:
        """True when `array` is this backend's array type."""

    @abstractmethod
    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Copy a NumPy (or own) array onto the device."""

    @abstractmethod
    def to_numpy(self, array: Any) -> np.ndarray:
        """Copy a device array back to the host."""

    def to_host(self, out: Any) -> Any:
        """`to_numpy` of an op's output: one array or a tuple of them."""
        if isinstance(out, tuple):
            return tuple(self.to_numpy(o) for o in out)
        return self.to_numpy(out)

    @abstractmethod
    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """An uninitialised contiguous array."""

    @abstractmethod
    def ascontiguous(self, array: Any) -> Any:
        """`array` itself when C-contiguous, else a contiguous copy on the same device."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait until all queued work has finished."""

    @abstractmethod
    def elapsed(self, fn: Callable[[], Any]) -> float:
        """Seconds `fn` keeps the device busy, measured with the device's own clock."""

    def dtypes(self) -> tuple[np.dtype, ...]:
        """Floating dtypes this backend computes in (asked once: it sits on every call's path)."""
        if not hasattr(self, "_dtypes"):
            self._dtypes = self._float_dtypes() if self.available else ()
        return self._dtypes

    def _float_dtypes(self) -> tuple[np.dtype, ...]:
        return tuple(np.dtype(d) for d in ("float16", "float32", "float64"))

    # ---- shared machinery -------------------------------------------------

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    @property
    def unavailable_reason(self) -> str | None:
        if not hasattr(self, "_reason"):
            try:
                self._reason = self.probe()
            except Exception as exc:  # a broken driver must not break import
                self._reason = f"{type(exc).__name__}: {exc}"
        return self._reason

    def require(self) -> None:
        if self.unavailable_reason is not None:
            raise BackendUnavailable(f"backend {self.name!r} is unavailable: {self.unavailable_reason}")

    def machine_kind(self) -> str:
        """What kind of machine this device is: the GPU's model (h100), or the host CPU's
        (cpu.host_label: xeon-avx512-2core). It names the machine's folder under reports/,
        and devices of one kind share tuned choices where their own have none (the
        tuning database's sibling choices)."""
        device = self.fingerprint().get("device", self.name)
        for model in ("H200", "H100", "A100", "L40S", "L4", "B200"):
            if model in device:
                return model.lower()
        return f"{self.name}-{platform.node()}"

    def fingerprint_hash(self) -> str:
        if not hasattr(self, "_fp_hash"):
            items = sorted(self.fingerprint().items())
            self._fp_hash = hashlib.sha256(repr(items).encode()).hexdigest()[:16]
        return self._fp_hash

    def time(self, fn: Callable[[], Any], warmup: int = 2, repeat: int = 10,
             warm_seconds: float = 0.02, min_sample: float = 1e-3) -> list[float]:
        """Device seconds per call of `fn` for `repeat` calls, after at least `warmup`
        untimed calls and `warm_seconds` of work: a GPU left idle while the host
        verified the last candidate clocks down, and would time its first calls slow."""
        start, calls = time.perf_counter(), 0
        while calls < warmup or time.perf_counter() - start < warm_seconds:
            fn()
            self.synchronize()
            calls += 1
        # Calls shorter than `min_sample` are timed in back-to-back batches, so a
        # sample measures the device rather than the host's launch latency.
        first = self.elapsed(fn)
        batch = 1 if first >= min_sample or first <= 0 else min(int(min_sample / first) + 1, 200)
        if batch == 1:
            return [first] + [self.elapsed(fn) for _ in range(repeat - 1)]

        def batched() -> None:
            for _ in range(batch):
                fn()

        return [self.elapsed(batched) / batch for _ in range(repeat)]

    def median_time(self, fn: Callable[[], Any], warmup: int = 2, repeat: int = 10) -> float:
        return statistics.median(self.time(fn, warmup, repeat))

    def copy_bandwidth(self, nbytes: int = 1 << 28, repeat: int = 10) -> float:
        """Measured device-to-device copy bandwidth in bytes/s, counting read + write."""
        n = nbytes // 4
        src = self.asarray(np.random.default_rng(0).standard_normal(n, dtype=np.float32))
        dst = self.empty((n,), np.float32)
        t = self.median_time(lambda: self._copy_into(dst, src), warmup=3, repeat=repeat)
        return 2 * n * 4 / t

    copies_into_views = True  # whether copy_into may write a non-contiguous destination

    def copy_into(self, dst: Any, src: Any) -> None:
        """dst[...] = src for two arrays of this backend of one shape and dtype (a caller's
        `out=` buffer)."""
        if tuple(dst.shape) != tuple(src.shape) or dst.dtype != src.dtype:
            raise ValueError(f"out: expected shape {tuple(src.shape)} and dtype {src.dtype}, got "
                             f"{tuple(dst.shape)} {dst.dtype}")
        if not self.copies_into_views and not dst.flags.c_contiguous:
            raise ValueError(f"out: a {self.name} destination must be C-contiguous")
        self._copy_into(dst, src)

    @abstractmethod
    def _copy_into(self, dst: Any, src: Any) -> None:
        """dst[...] = src, the fastest way the backend has (the bandwidth ceiling)."""

    def compile(self, source: str, defines: dict[str, Any] | None = None) -> Any:
        """Compiled module for (source, defines), built at most once per process.

        Backends whose compilers keep an on-disk cache (CuPy, pyopencl) also skip
        the compiler across processes."""
        defines = dict(sorted((defines or {}).items()))
        key = (source_hash(source), tuple(defines.items()))
        modules = self.__dict__.setdefault("_modules", {})
        if key not in modules:
            modules[key] = self._compile(source, defines)
            self.compile_count = getattr(self, "compile_count", 0) + 1
        return modules[key]

    def _compile(self, source: str, defines: dict[str, Any]) -> Any:
        raise NotImplementedError(f"backend {self.name!r} compiles no kernel sources")

    def l2_bytes(self) -> int:
        """Size of the last-level cache that could flatter a timing of small inputs."""
        return 64 << 20


class HostTimer:
    """Wall-clock timing for backends whose work runs on the calling thread."""

    @staticmethod
    def elapsed(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def source_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
    return h.hexdigest()[:16]
