"""CPU backend: NumPy arrays; kernels are numba, oneDNN or NumPy."""
from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from .base import Backend, HostTimer


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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

        # oneDNN's version and threads are in the key: an upgrade makes tuned entries stale.
        return {
            "device": _cpu_name(),
            "cores": str(os.cpu_count()),
            "threads": str(self.threads()),
            "numpy": np.__version__,
            "numba": numba.__version__,
            **onednn.describe(),
        }

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray)

    def asarray(self, array: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def empty(self, shape, dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def ascontiguous(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, order="C")  # keeps 0-d arrays 0-d, as ascontiguousarray does not

    def synchronize(self) -> None:
        pass

    def _copy_into(self, dst, src) -> None:
        np.copyto(dst, src)

    def l2_bytes(self) -> int:
        # The last-level cache on this kind of host is up to a few hundred MB.
        return 256 << 20
