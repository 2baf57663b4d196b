"""CUDA backend: CuPy arrays; kernels are CUDA C++ compiled by NVRTC through CuPy.

CuPy keeps compiled modules on disk (~/.cupy/kernel_cache, keyed by source,
options, architecture and NVRTC version), so a module compiles once per machine
and loads in milliseconds afterwards; `Backend.compile` adds the per-process cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Backend

STORAGE_HEADER = Path(__file__).with_name("storage.cuh")


def source_with_storage(source: Path) -> str:
    """storage.cuh (the KIND typedefs and float16 conversions) followed by `source`: the
    kernels that share that preamble are compiled as this one text, with no #include."""
    return STORAGE_HEADER.read_text() + "\n" + source.read_text()


class CUDABackend(Backend):
    name = "cuda"
    MAX_GRID = (1 << 31) - 1  # blocks in grid.x
    FALLBACK_SMS = 132  # an H100's: the launch geometry and heuristics of a machine without a GPU
    RESIDENT_THREADS = 2048  # per SM (A100, H100): what one wave of blocks holds

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
        """SMs of the current device; FALLBACK_SMS when CUDA is unavailable, so that
        defaults and compile units can be worked out (and tested) without a GPU."""
        if not self.available:
            return self.FALLBACK_SMS
        device = self.cp.cuda.Device().id
        counts = self.__dict__.setdefault("_sms", {})  # Device().attributes asks for every attribute
        if device not in counts:
            counts[device] = int(self.cp.cuda.Device().attributes["MultiProcessorCount"])
        return counts[device]

    def blocks(self, n: int, block: int) -> int:
        """Blocks of `block` threads for n work items: at least one, at most MAX_GRID
        (the kernels stride over the grid for the rest)."""
        return min(max(-(-n // block), 1), self.MAX_GRID)

    def one_wave(self, blocks: int, block: int) -> int:
        """`blocks` (at least one) capped at one wave of `block`-thread blocks, as many as
        the SMs hold at once: a grid-stride kernel needs no more to reach full bandwidth."""
        return max(1, min(blocks, self.multiprocessors() * (self.RESIDENT_THREADS // block)))

    def shared_optin(self) -> int:
        """Shared memory one block may have when it opts in (227 KB on an H100), asked once."""
        if not hasattr(self, "_shared_optin"):
            props = self.cp.cuda.runtime.getDeviceProperties(self.cp.cuda.Device().id)
            self._shared_optin = int(props.get("sharedMemPerBlockOptin", 48 << 10))
        return self._shared_optin

    def _compile(self, source: str, defines: dict[str, Any]):
        options = ("--std=c++17", "-default-device") + tuple(f"-D{k}={v}" for k, v in defines.items())
        return self.cp.RawModule(code=source, options=options)
