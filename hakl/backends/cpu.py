"""CPU backend: NumPy arrays; kernels are numba, oneDNN or NumPy."""
from __future__ import annotations

import contextvars
import ctypes
import functools
import os
import platform
import re
import threading
from typing import Any, Callable

import numpy as np

from . import output_pool
from .base import Backend, HostTimer


def data_address(a: np.ndarray) -> int:
    """The address of a's first element. ctypes' from_buffer takes 0.4 us where a.ctypes.data
    takes 1.4-3 (which a GEMM's three operands, or thousands of stacked inputs, feel), but wants
    a writable contiguous buffer."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError, BufferError):
        return a.ctypes.data


_in_quiet = contextvars.ContextVar("hakl_in_quiet", default=False)


class _Quiet(threading.local):
    """Per thread, a context in which NumPy's floating-point error state is "ignore": a
    Context runs one caller at a time, and each thread is one."""

    def __init__(self) -> None:
        self.context = contextvars.Context()
        self.context.run(np.errstate(all="ignore").__enter__)  # left entered: the context is ours
        self.context.run(_in_quiet.set, True)


_QUIET = _Quiet()


def quietly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, run without NumPy's warnings of overflow, invalid values or division by zero (a
    kernel's inf and NaN are results, not events), in a context of its own: fn sees none of
    the caller's context variables, so it is for NumPy code. A `with np.errstate` block cost
    a small call 1.3 us on the Xeon, errstate as a decorator 0.6, this 0.1."""
    def run(*args: Any, **kwargs: Any) -> Any:
        if _in_quiet.get():  # called by a quiet function: a Context cannot be entered twice
            return fn(*args, **kwargs)
        return _QUIET.context.run(fn, *args, **kwargs)

    return functools.update_wrapper(run, fn)


@functools.cache  # dispatch reads the host's kind on every memo miss
def _cpuinfo(field: str) -> str | None:
    """The first `field` line of /proc/cpuinfo (None where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_vendor() -> str:
    """GenuineIntel, AuthenticAMD, ... ('' where the system does not say)."""
    return _cpuinfo("vendor_id") or ""


# The instruction-set features that change which code numba's LLVM and oneDNN's jit emit.
ISA_FEATURES = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512bf16", "avx512fp16", "amx-tile")


def isa() -> str:
    """The host's CPU as LLVM names it (znver3, sapphirerapids, ...) and the ISA features
    of ISA_FEATURES it has: the same model string can hide an AVX2 or an AVX-512 host."""
    import llvmlite.binding as llvm

    return "+".join([llvm.get_host_cpu_name(), *(f for f in ISA_FEATURES if has_features(f))])


def _portable(described: dict[str, str]) -> dict[str, str]:
    """oneDNN's build as the library file's name and size, not its path: a tuned choice
    must keep its fingerprint in another checkout's virtualenv (reports/<machine>/tuning.json)."""
    path = described.get("onednn_library")
    if path:
        try:
            described = {**described, "onednn_library": f"{os.path.basename(path)} {os.path.getsize(path)} bytes"}
        except OSError:
            described = {**described, "onednn_library": os.path.basename(path)}
    return described


def host_label() -> str:
    """The host CPU in a folder name: its family (xeon, epyc, or the vendor), its widest
    vector ISA and its cores, e.g. xeon-avx512-2core. Two VMs that both report 2 cores
    but differ in ISA run different code (numba, oneDNN, NumPy's sorts) and must not
    share a dashboard page."""
    name = _cpu_name().lower()
    words = re.findall(r"[a-z0-9]+", name) or [platform.machine().lower()]
    family = next((f for f in ("xeon", "epyc", "ryzen", "core", "neoverse") if f in words), words[0])
    widest = next((label for label, feature in (("avx512", "avx512f"), ("avx2", "avx2")) if has_features(feature)),
                  platform.machine().lower())
    return f"{family}-{widest}-{os.cpu_count()}core"


# AVX-512 as NumPy's x86-simd-sort asks for it (Skylake-X and later).
AVX512_SKX = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")


@functools.cache
def _host_features() -> frozenset[str]:
    import llvmlite.binding as llvm

    return frozenset(name for name, on in llvm.get_host_cpu_features().items() if on)


def has_features(*names: str) -> bool:
    """Whether the host CPU has every one of these LLVM feature names ("avx2", "avx512f")."""
    return _host_features().issuperset(names)


def _widen_numba_vectors() -> None:
    """numba's LLVM vectorises for 256-bit registers on AVX-512 hosts (the prefer-256-bit
    tuning, for Skylake-X's clock drop); telling it otherwise makes the compute-bound
    kernels 1.5x faster on a 2-core Xeon (16M float32, two A/B rounds: gelu 20.9 -> 14.2 ms,
    tanh 14.5 -> 9.5, sigmoid 10.0 -> 6.7, exp 8.4 -> 5.5; memory-bound ones unchanged). Done before
    hakl's first compile, unless the user chose numba's features (NUMBA_CPU_FEATURES) or
    asked hakl not to (HAKL_NUMBA_512=0); numba's cache keys hold the features, so code
    compiled either way is never mixed up."""
    from numba.core import codegen, config

    if config.CPU_FEATURES is not None or os.environ.get("HAKL_NUMBA_512", "1") == "0":
        return
    if has_features("avx512f"):
        config.CPU_FEATURES = codegen.get_host_cpu_features() + ",-prefer-256-bit"


@functools.cache
def _openblas() -> tuple:
    """threadpoolctl's controllers of the OpenBLAS libraries in this process (NumPy's), or
    none where threadpoolctl is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(internal_api="openblas").lib_controllers)


def set_openblas_threads(n: int | None) -> int | None:
    """Set NumPy's OpenBLAS to `n` threads (None: leave it) and return the count it had
    (None where it cannot be read), 0.5 us a call. hakl's BLAS baseline runs OpenBLAS on one
    thread for its call and restores the count: once OpenBLAS wakes its own threads they
    spin 2**28 cycles (~0.1 s) after the call on the cores that numba's and MKL's threads
    want next. A digits MLP training step (its (64, 128) @ (128, 64) products woke them) took
    18.5 ms against 0.5 with OPENBLAS_NUM_THREADS=1 (2-core AMX Xeon: 54 against 1902 steps/s;
    torch's steps in the same process 724 against 2088)."""
    libraries = _openblas()
    if not libraries:
        return None
    previous = libraries[0].get_num_threads()
    if n is not None and n != previous:
        for library in libraries:
            library.set_num_threads(n)
    return previous


def numba_vector_bits() -> int:
    """The widest vectors numba's kernels use on this host (in the CPU fingerprint)."""
    from numba.core import config

    if not has_features("avx512f"):
        return 256 if has_features("avx") else 128
    return 512 if "-prefer-256-bit" in (config.CPU_FEATURES or "") else 256


_widen_numba_vectors()


class CPUBackend(Backend):
    name = "cpu"
    elapsed = staticmethod(HostTimer.elapsed)

    def probe(self) -> str | None:
        return None

    def threads(self) -> int:
        import numba

        return numba.get_num_threads()

    def fingerprint(self) -> dict[str, str]:
        import numba

        from . import onednn

        # oneDNN's version and threads are in the key: an upgrade makes tuned entries stale;
        # so is the ISA, which numba and oneDNN specialise their code for.
        return {
            "device": _cpu_name(),
            "isa": isa(),
            "vector_bits": str(numba_vector_bits()),
            "cores": str(os.cpu_count()),
            "threads": str(self.threads()),
            "numpy": np.__version__,
            "numba": numba.__version__,
            **_portable(onednn.describe()),
        }

    def machine_kind(self) -> str:
        return host_label()

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray)

    def asarray(self, array: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def empty(self, shape, dtype) -> np.ndarray:
        return output_pool.empty(shape, dtype)

    def ascontiguous(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, order="C")  # keeps 0-d arrays 0-d, as ascontiguousarray does not

    def synchronize(self) -> None:
        pass

    def _copy_into(self, dst, src) -> None:
        np.copyto(dst, src)

    def l2_bytes(self) -> int:
        # The last-level cache on this kind of host is up to a few hundred MB.
        return 256 << 20
