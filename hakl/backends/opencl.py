"""OpenCL backend: pyopencl arrays; kernels are OpenCL C with `-D` tuning defines.

One source serves PoCL on CPUs (CI) and the NVIDIA driver on GPUs. pyopencl
keeps built binaries on disk, keyed by source, options and device, so a program
builds once per machine; `Backend.compile` adds the per-process cache.
HAKL_OPENCL_DEVICE="platform substring" picks a platform when several exist
(GPUs are preferred otherwise).

Arrays come from a memory pool: allocating an OpenCL buffer costs far more than
a small kernel, and every op call allocates its output. float16 is a storage
type on every device: kernels load and store it with vload_half/vstore_half
(core OpenCL, no extension) and compute in float, so it does not depend on
cl_khr_fp16, which PoCL and the NVIDIA driver may lack.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from .base import Backend

_ELEMENT = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong", 16: "uint4"}  # strided_copy's E by item size
LEAD_IN_SECONDS = 3e-4  # device work queued before a timed function (elapsed)

# Device-side gather of a strided view into a C-contiguous array, one work-item
# per output element; E is an unsigned integer type of the element's size.
_STRIDED_COPY = """
__kernel void strided_copy(__global const E *src, __global E *dst, __constant long *meta,
                           int ndim, long offset, long size)
{
    long i = get_global_id(0);
    if (i >= size) return;
    long rest = i, at = offset;            /* meta: shape[ndim], then strides[ndim] in elements */
    for (int d = ndim - 1; d >= 0; d--) {
        at += (rest % meta[d]) * meta[ndim + d];
        rest /= meta[d];
    }
    dst[i] = src[at];
}
"""
# The bandwidth ceiling: a work-item per 16 bytes (PoCL runs a work-group's
# items one after another, so a grid-stride loop would stride through memory).
_COPY = """
__kernel void copy16(__global const uint4 *src, __global uint4 *dst, long n)
{
    const long i = get_global_id(0);
    if (i < n) dst[i] = src[i];
}
"""
# A dependent chain of integer steps: device time in proportion to n.
_SPIN = """
__kernel void spin(__global int *sink, int n)
{
    int x = n;
    for (int i = 0; i < n; i++) x = x * 1664525 + 1013904223;
    if (x == 0x7fffffff) sink[0] = x;
}
"""


class OpenCLBackend(Backend):
    name = "opencl"
    copies_into_views = False  # _copy_into writes whole buffers

    def probe(self) -> str | None:
        try:
            import pyopencl as cl
            import pyopencl.array  # noqa: F401
            import pyopencl.tools  # noqa: F401
        except ImportError as exc:
            return f"pyopencl is not installed ({exc}); pip install pyopencl"
        try:
            platforms = cl.get_platforms()
        except cl.Error as exc:
            return f"no OpenCL platform (install an ICD, e.g. apt-get install pocl-opencl-icd): {exc}"
        devices = [d for p in platforms for d in p.get_devices()]
        if not devices:
            return f"OpenCL platforms {[p.name for p in platforms]} have no devices"
        wanted = os.environ.get("HAKL_OPENCL_DEVICE")
        if wanted:
            found = [d for d in devices if wanted.lower() in (d.platform.name + " " + d.name).lower()]
            if not found:
                names = [f"{d.platform.name}: {d.name.strip()}" for d in devices]
                return f"no OpenCL device matches HAKL_OPENCL_DEVICE={wanted!r} (have {names})"
            devices = found
        devices.sort(key=lambda d: d.type & cl.device_type.GPU == 0)
        self.cl = cl
        self.device = devices[0]
        self.ctx = cl.Context([self.device])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.pool = cl.tools.MemoryPool(cl.tools.ImmediateAllocator(self.queue))
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
        """Whether the device is a GPU (False when OpenCL is unavailable): kernels that
        suit GPUs and CPU devices differently pick their defaults by it."""
        return self.available and bool(self.device.type & self.cl.device_type.GPU)

    def machine_kind(self) -> str:
        if self.is_gpu():
            return super().machine_kind()
        from .cpu import host_label  # an OpenCL CPU device (PoCL) is this machine's CPU: one kind for both

        return host_label()

    def has_fp64(self) -> bool:
        return "cl_khr_fp64" in self.device.extensions or bool(self.device.double_fp_config)

    def _float_dtypes(self) -> tuple[np.dtype, ...]:
        # float16 is storage only (see the module docstring), so every device has it.
        names = ["float16", "float32"] + (["float64"] if self.has_fp64() else [])
        return tuple(np.dtype(n) for n in names)

    def max_work_group_size(self) -> int:
        return int(self.device.max_work_group_size)

    def local_mem_bytes(self) -> int:
        return int(self.device.local_mem_size)

    def owns(self, array: Any) -> bool:
        if not self.available:
            return False
        return isinstance(array, self.cl.array.Array)

    def asarray(self, array: Any, dtype: Any = None):
        self.require()
        if self.owns(array):
            return array if dtype is None or array.dtype == dtype else array.astype(dtype)
        host = np.asarray(array, dtype=dtype, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        return self.cl.array.to_device(self.queue, host, allocator=self.pool)

    def to_numpy(self, array: Any) -> np.ndarray:
        if not array.flags.forc:
            array = self.ascontiguous(array)
        return array.get()

    def empty(self, shape, dtype):
        self.require()
        return self.cl.array.empty(self.queue, shape, dtype, allocator=self.pool)

    def ascontiguous(self, array):
        if array.flags.c_contiguous:
            return array
        out = self.empty(array.shape, array.dtype)
        if out.size == 0:
            return out
        item = array.dtype.itemsize
        meta = np.array(list(array.shape) + [s // item for s in array.strides], np.int64)
        local = 64
        copy = self.kernel(_STRIDED_COPY, "strided_copy", {"E": _ELEMENT[item]})
        src, start = self.at(array)
        copy(self.queue, (-(-out.size // local) * local,), (local,), src, out.data,
             self.asarray(meta).data, np.int32(array.ndim), start, np.int64(out.size))
        return out

    def at(self, array, unit: int | None = None) -> tuple:
        """(buffer, offset) of `array`, the offset in elements of `unit` bytes (default its
        item size): a pyopencl array may start inside its buffer (a view), and `.data`
        refuses one that does. For kernels that take an offset argument."""
        return array.base_data, np.int64(array.offset // (unit or array.dtype.itemsize))

    def from_start(self, array):
        """`array`, copied when it starts inside its buffer: for kernels that index their
        buffers from element 0 (`.data` of the result is valid)."""
        return array if array.offset == 0 else array.copy()

    def synchronize(self) -> None:
        self.queue.finish()

    def elapsed(self, fn) -> float:
        """Device time between two markers around `fn`'s work. On a GPU a lead-in
        kernel keeps the device busy while the host queues that work, so the
        launch overhead in Python is not counted (a user-event gate would be
        cleaner, but the NVIDIA driver delays the commands queued behind one)."""
        cl = self.cl
        if self.is_gpu():
            self._lead_in()
        start = cl.enqueue_marker(self.queue)
        fn()
        stop = cl.enqueue_marker(self.queue)
        stop.wait()
        return (stop.profile.end - start.profile.end) * 1e-9

    def _lead_in(self) -> None:
        """Queue about LEAD_IN_SECONDS of one-work-item busy work (steps calibrated once)."""
        spin = self.kernel(_SPIN, "spin")
        sink = self.__dict__.get("_sink")
        if sink is None:
            sink = self._sink = self.empty((1,), np.int32)
            probe = 1 << 14
            event = spin(self.queue, (1,), (1,), sink.data, np.int32(probe))
            event.wait()
            seconds = max((event.profile.end - event.profile.start) * 1e-9, 1e-7)
            self._spin_steps = int(np.clip(probe * LEAD_IN_SECONDS / seconds, 1, 1 << 30))
        spin(self.queue, (1,), (1,), sink.data, np.int32(self._spin_steps))

    def _copy_into(self, dst, src) -> None:
        if dst.offset or src.offset:  # views inside their buffers (`.data` refuses them)
            self.cl.enqueue_copy(self.queue, dst.base_data, src.base_data, byte_count=src.nbytes,
                                 src_offset=src.offset, dst_offset=dst.offset)
            return
        if src.nbytes % 16:
            self.cl.enqueue_copy(self.queue, dst.data, src.data)
            return
        n = src.nbytes // 16
        local = 256 if self.is_gpu() else 64
        self.kernel(_COPY, "copy16")(self.queue, (-(-n // local) * local,), (local,),
                                     src.data, dst.data, np.int64(n))

    def l2_bytes(self) -> int:
        return max(int(self.device.global_mem_cache_size), 64 << 20)

    def kernel(self, source: str, name: str, defines: dict[str, Any] | None = None):
        """Kernel `name` of `source` built with `defines`, created once: pyopencl makes a
        new kernel object on every attribute access of a program."""
        program = self.compile(source, defines)
        kernels = self.__dict__.setdefault("_kernels", {})
        key = (id(program), name)
        if key not in kernels:
            kernels[key] = self.cl.Kernel(program, name)
        return kernels[key]

    def _compile(self, source: str, defines: dict[str, Any]):
        options = [f"-D{k}={v}" for k, v in defines.items()] + ["-cl-mad-enable"]
        with warnings.catch_warnings():
            # A successful build's log (PoCL's ABI notes on 16-wide vectors, NVIDIA's
            # informational lines) is not actionable; a failed build raises with its log.
            warnings.simplefilter("ignore", self.cl.CompilerWarning)
            return self.cl.Program(self.ctx, source).build(options=options)
