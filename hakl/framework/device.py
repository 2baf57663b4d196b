"""Devices, places and dtypes as PaddlePaddle 2.0 names them, over hakl's backends.

Paddle's "cpu" is hakl's cpu, "gpu" / "gpu:N" hakl's cuda, and "opencl" (hakl's own)
its OpenCL backend. One device is current (`set_device`); new tensors go there.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backends

_current = "cpu"
_default_dtype = np.dtype("float32")

# bfloat16: ml_dtypes' NumPy dtype (hakl.op imports it); the ops that take it say so (hakl's
# cast and matmul on the CPU).
DTYPES = {name: np.dtype(name) for name in ("bool", "int8", "uint8", "int16", "int32", "int64", "float16",
                                            "float32", "float64", "bfloat16")}


class Place:
    """Where a tensor lives: the hakl backend `backend`."""

    backend = "cpu"

    def __init__(self, device_id: int = 0):
        self.device_id = int(device_id)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Place) and other.backend == self.backend and other.device_id == self.device_id

    def __hash__(self) -> int:
        return hash((self.backend, self.device_id))

    def __repr__(self) -> str:
        return type(self).__name__ if self.backend == "cpu" else f"{type(self).__name__}({self.device_id})"


class CPUPlace(Place):
    backend = "cpu"


class CUDAPlace(Place):
    backend = "cuda"


class OpenCLPlace(Place):
    backend = "opencl"


_PLACES = {"cpu": CPUPlace, "cuda": CUDAPlace, "opencl": OpenCLPlace}


def backend_name(device: Any) -> str:
    """hakl's backend name for a Paddle device string ("cpu", "gpu", "gpu:0", "opencl") or Place."""
    if isinstance(device, Place):
        return device.backend
    if not isinstance(device, str):
        raise TypeError(f"set_device: argument 'device' must be a string or a Place, got {type(device).__name__}")
    name = device.lower().split(":")[0]
    name = {"gpu": "cuda", "cuda": "cuda", "cpu": "cpu", "opencl": "opencl"}.get(name)
    if name is None:
        raise ValueError(f"set_device: argument 'device' = {device!r}; expected 'cpu', 'gpu', 'gpu:N' or 'opencl'")
    return name


def set_device(device: Any) -> Place:
    """Make `device` current ("cpu", "gpu" (hakl's cuda), "gpu:0", "opencl"); raises when its
    backend is unavailable, with the backend's reason."""
    global _current
    name = backend_name(device)
    backends.get(name).require()
    _current = name
    return _PLACES[name]()


def get_device() -> str:
    """The current device as Paddle spells it: "cpu", "gpu:0" or "opencl"."""
    return {"cpu": "cpu", "cuda": "gpu:0", "opencl": "opencl"}[_current]


def current() -> str:
    """The current hakl backend name."""
    return _current


def place_of(backend: str) -> Place:
    return _PLACES[backend]()


def is_compiled_with_cuda() -> bool:
    return backends.get("cuda").available


def as_dtype(dtype: Any) -> np.dtype:
    """A NumPy dtype from Paddle's spellings ("float32", paddle.float32, np.float32)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unsupported dtype {dtype!r}") from None
    if dt.name not in DTYPES:
        raise TypeError(f"unsupported dtype {dt.name}; expected one of {', '.join(DTYPES)}")
    return dt


def set_default_dtype(dtype: Any) -> None:
    """The dtype Python floats become (float16, float32 or float64)."""
    global _default_dtype
    dt = as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: argument 'd' must be a floating dtype, got {dt.name}")
    _default_dtype = dt


def get_default_dtype() -> str:
    return _default_dtype.name


def default_dtype() -> np.dtype:
    return _default_dtype
