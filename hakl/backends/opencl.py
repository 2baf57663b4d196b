"""OpenCL backend: pyopencl arrays; kernels are OpenCL C with `-D` tuning defines.

One source serves PoCL on CPUs (CI) and the NVIDIA driver on GPUs. pyopencl
keeps built binaries on disk, keyed by source, options and device, so a program
builds once per machine; `Backend.compile` adds the per-process cache.
HAKL_OPENCL_DEVICE="platform substring" picks a platform when several exist
(GPUs are preferred otherwise).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .base import Backend


class OpenCLBackend(Backend):
    name = "opencl"

    def probe(self) -> str | None:
        try:
            import pyopencl as cl
            import pyopencl.array  # noqa: F401
        except ImportError as exc:
            return f"pyopencl is not installed ({exc})"
        try:
            platforms = cl.get_platforms()
        except cl.Error as exc:
            return f"no OpenCL platform (install an ICD, e.g. apt-get install pocl-opencl-icd): {exc}"
        devices = [d for p in platforms for d in p.get_devices()]
        if not devices:
            return "OpenCL platforms have no devices"
        wanted = os.environ.get("HAKL_OPENCL_DEVICE")
        if wanted:
            devices = [d for d in devices if wanted.lower() in (d.platform.name + " " + d.name).lower()]
            if not devices:
                return f"no OpenCL device matches HAKL_OPENCL_DEVICE={wanted!r}"
        devices.sort(key=lambda d: d.type & cl.device_type.GPU == 0)
        self.cl = cl
        self.device = devices[0]
        self.ctx = cl.Context([self.device])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        return None

    def fingerprint(self) -> dict[str, str]:
        d = self.device
        return {
            "device": d.name.strip(),
            "platform": f"{d.platform.name} {d.platform.version}",
            "driver": d.driver_version,
            "compute_units": str(d.max_compute_units),
            "pyopencl": self.cl.VERSION_TEXT,
        }

    def is_gpu(self) -> bool:
        return bool(self.device.type & self.cl.device_type.GPU)

    def dtypes(self) -> tuple[np.dtype, ...]:
        exts = self.device.extensions
        names = ["float32"]
        if "cl_khr_fp16" in exts:
            names.insert(0, "float16")
        if "cl_khr_fp64" in exts or self.device.double_fp_config:
            names.append("float64")
        return tuple(np.dtype(n) for n in names)

    def owns(self, array: Any) -> bool:
        if not self.available:
            return False
        return isinstance(array, self.cl.array.Array)

    def asarray(self, array: Any, dtype: Any = None):
        self.require()
        if self.owns(array):
            return array if dtype is None or array.dtype == dtype else array.astype(dtype)
        host = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        return self.cl.array.to_device(self.queue, host)

    def to_numpy(self, array: Any) -> np.ndarray:
        return array.get()

    def empty(self, shape, dtype):
        self.require()
        return self.cl.array.empty(self.queue, shape, dtype)

    def ascontiguous(self, array):
        if array.flags.c_contiguous:
            return array
        # pyopencl copies strided arrays through the host; correct, if slow.
        return self.cl.array.to_device(self.queue, np.ascontiguousarray(array.get()))

    def synchronize(self) -> None:
        self.queue.finish()

    def elapsed(self, fn) -> float:
        cl = self.cl
        start = cl.enqueue_marker(self.queue)
        fn()
        stop = cl.enqueue_marker(self.queue)
        stop.wait()
        return (stop.profile.end - start.profile.end) * 1e-9

    def _copy_into(self, dst, src) -> None:
        self.cl.enqueue_copy(self.queue, dst.data, src.data)

    def l2_bytes(self) -> int:
        return max(int(self.device.global_mem_cache_size), 64 << 20)

    def _compile(self, source: str, defines: dict[str, Any]):
        options = [f"-D{k}={v}" for k, v in defines.items()] + ["-cl-mad-enable"]
        return self.cl.Program(self.ctx, source).build(options=options)
