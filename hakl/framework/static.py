"""paddle.static's InputSpec: the shape and dtype of a network input, for jit.save and
Model(inputs=...). None (or -1) marks a dimension of any size (the batch, mostly)."""
from __future__ import annotations

from typing import Any

from . import device as _device


class InputSpec:
    def __init__(self, shape: Any, dtype: Any = "float32", name: str | None = None):
        try:
            dims = [None if d is None or int(d) == -1 else int(d) for d in shape]
        except TypeError:
            raise TypeError(f"InputSpec: argument 'shape' must be a list of ints and None, got {shape!r}") from None
        if any(d is not None and d < 0 for d in dims):
            raise ValueError(f"InputSpec: argument 'shape' = {list(shape)} has a negative size other than -1")
        self.shape = tuple(dims)
        self.dtype = _device.as_dtype(dtype)
        self.name = name

    def __repr__(self) -> str:
        return f"InputSpec(shape={self.shape}, dtype={self.dtype.name}, name={self.name})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, InputSpec) and (self.shape, self.dtype, self.name) == \
            (other.shape, other.dtype, other.name)
