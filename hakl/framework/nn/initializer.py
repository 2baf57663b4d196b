"""paddle.nn.initializer: host-side initial values from the framework's generator (paddle.seed)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Paddle's fans: a [in, out] matrix has fan_in = in, fan_out = out; a conv weight
    [out, in, k...] multiplies both by the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


class Initializer:
    def __call__(self, shape, dtype) -> np.ndarray:
        from ..ops import generator

        return np.asarray(self.values(tuple(int(s) for s in shape), generator())).astype(dtype)

    def values(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = value

    def values(self, shape, rng):
        return np.full(shape, self.value)


class Normal(Initializer):
    def __init__(self, mean: float = 0.0, std: float = 1.0, name=None):
        self.mean, self.std = mean, std

    def values(self, shape, rng):
        return rng.normal(self.mean, self.std, shape)


class TruncatedNormal(Normal):
    def values(self, shape, rng):
        v = rng.normal(0.0, 1.0, shape)
        while (bad := np.abs(v) > 2).any():
            v[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        return self.mean + self.std * v


class Uniform(Initializer):
    def __init__(self, low: float = -1.0, high: float = 1.0, name=None):
        self.low, self.high = low, high

    def values(self, shape, rng):
        return rng.uniform(self.low, self.high, shape)


class XavierUniform(Initializer):
    def __init__(self, fan_in=None, fan_out=None, name=None):
        self.fan_in, self.fan_out = fan_in, fan_out

    def values(self, shape, rng):
        fi, fo = _fans(shape)
        limit = math.sqrt(6.0 / ((self.fan_in or fi) + (self.fan_out or fo)))
        return rng.uniform(-limit, limit, shape)


class XavierNormal(XavierUniform):
    def values(self, shape, rng):
        fi, fo = _fans(shape)
        return rng.normal(0.0, math.sqrt(2.0 / ((self.fan_in or fi) + (self.fan_out or fo))), shape)


class KaimingUniform(Initializer):
    def __init__(self, fan_in=None, name=None):
        self.fan_in = fan_in

    def values(self, shape, rng):
        limit = math.sqrt(6.0 / (self.fan_in or _fans(shape)[0]))
        return rng.uniform(-limit, limit, shape)


class KaimingNormal(KaimingUniform):
    def values(self, shape, rng):
        return rng.normal(0.0, math.sqrt(2.0 / (self.fan_in or _fans(shape)[0])), shape)


class Assign(Initializer):
    def __init__(self, value: Any, name=None):
        self.value = value

    def values(self, shape, rng):
        v = np.asarray(self.value.numpy() if hasattr(self.value, "numpy") else self.value)
        if tuple(v.shape) != tuple(shape):
            raise ValueError(f"Assign: the value has shape {list(v.shape)}, the parameter {list(shape)}")
        return v


__all__ = ["Constant", "Normal", "TruncatedNormal", "Uniform", "XavierUniform", "XavierNormal", "KaimingUniform",
           "KaimingNormal", "Assign", "Initializer"]
