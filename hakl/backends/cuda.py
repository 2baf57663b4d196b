"""CUDA backend: CuPy arrays; kernels are CUDA C++ compiled by NVRTC through CuPy.

CuPy keeps compiled modules on disk (~/.cupy/kernel_cache, keyed by source,
options, architecture and NVRTC version), so a module compiles once per machine
and loads in milliseconds afterwards; `Backend.compile` adds the per-process cache.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


class CUDABackend(Backend):
    name = "cuda"

    def probe(self) -> str | None:
        try:
            import cupy
        except ImportError as exc:
            return f"CuPy is not installed ({exc}); pip install 'hakl[cuda]'"
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            return f"no CUDA device: {exc}"
        if n == 0:
            return "no CUDA device"
        self.cp = cupy
        return None

    def fingerprint(self) -> dict[str, str]:
        cp = self.cp
        dev = cp.cuda.Device()
        props = cp.cuda.runtime.getDeviceProperties(dev.id)
        return {
            "device": props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"]),
            "cc": dev.compute_capability,
            "driver": str(cp.cuda.runtime.driverGetVersion()),
            "runtime": str(cp.cuda.runtime.runtimeGetVersion()),
            "nvrtc": ".".join(map(str, cp.cuda.nvrtc.getVersion())),
            "cupy": cp.__version__,
        }

    def owns(self, array: Any) -> bool:
        return self.available and isinstance(array, self.cp.ndarray)

    def asarray(self, array: Any, dtype: Any = None):
        self.require()
        return self.cp.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        return self.cp.asnumpy(array)

    def empty(self, shape, dtype):
        self.require()
        return self.cp.empty(shape, dtype)

    def ascontiguous(self, array):
        return self.cp.ascontiguousarray(array).reshape(array.shape)  # ascontiguousarray makes 0-d 1-d

    def synchronize(self) -> None:
        self.cp.cuda.get_current_stream().synchronize()

    def elapsed(self, fn) -> float:
        cp = self.cp
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return cp.cuda.get_elapsed_time(start, stop) / 1e3

    def _copy_into(self, dst, src) -> None:
        dst[...] = src

    def l2_bytes(self) -> int:
        return int(self.cp.cuda.runtime.getDeviceProperties(self.cp.cuda.Device().id)["l2CacheSize"])

    def multiprocessors(self) -> int:
        return int(self.cp.cuda.Device().attributes["MultiProcessorCount"])

    def _compile(self, source: str, defines: dict[str, Any]):
        options = ("--std=c++17", "-default-device") + tuple(f"-D{k}={v}" for k, v in defines.items())
        return self.cp.RawModule(code=source, options=options)
