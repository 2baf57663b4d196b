"""Backend registry: one instance per backend name, started lazily."""
from __future__ import annotations

from typing import Any

from .base import Backend, BackendUnavailable
from .cpu import CPUBackend
from .cuda import CUDABackend
from .opencl import OpenCLBackend

BACKENDS: dict[str, Backend] = {b.name: b for b in (CPUBackend(), CUDABackend(), OpenCLBackend())}


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown device {name!r}; expected one of {sorted(BACKENDS)}") from None


def available() -> list[str]:
    return [n for n, b in BACKENDS.items() if b.available]


_ARRAY_MODULES = {"numpy": "cpu", "cupy": "cuda", "pyopencl": "opencl"}


def backend_of(array: Any, op: str = "hakl", arg: str = "x") -> Backend:
    """The backend that owns `array`: NumPy arrays are cpu, CuPy cuda, pyopencl opencl."""
    name = _ARRAY_MODULES.get(type(array).__module__.split(".")[0])
    if name is not None and BACKENDS[name].owns(array):
        return BACKENDS[name]
    raise TypeError(
        f"{op}: argument {arg!r} must be a NumPy, CuPy or pyopencl array, got {type(array).__name__}"
    )


__all__ = ["Backend", "BackendUnavailable", "BACKENDS", "get", "available", "backend_of"]
