"""Gradient clipping (paddle.nn.ClipGradByNorm, ClipGradByGlobalNorm, ClipGradByValue).

Each takes the optimizer's [(param, grad array)] and returns the clipped list, computed on
the gradients' device with hakl's elementwise, activation and reduction functions.
"""
from __future__ import annotations

import numpy as np

import hakl
from hakl.kernels.elementwise import binary

from ..tensor import kernel


def _square_sum(g):
    return kernel("sum")(hakl.multiply(g, g))


def _clippable(params_grads):
    return [(p, g) for p, g in params_grads if g is not None and getattr(p, "need_clip", True)]


class ClipGradByNorm:
    """Each gradient on its own: g * s with s = t + (1 - t) * clip_norm / (||g|| + eps),
    t = [||g|| <= clip_norm], eps = 1e-6 only where ||g|| <= 1e-30: an all-zero gradient
    stays zero, never 0 * inf = NaN (PaddlePaddle 2.0.1, #32038)."""

    def __init__(self, clip_norm: float):
        self.clip_norm = float(clip_norm)

    def __call__(self, params_grads):
        out = []
        for p, g in params_grads:
            if g is None or not getattr(p, "need_clip", True):
                out.append((p, g))
                continue
            out.append((p, hakl.multiply(g, self._scale(hakl.sqrt(_square_sum(g))))))
        return out

    def _scale(self, norm):
        """s of the docstring. For clip_norm > 1e-30 it is clip_norm / max(||g||, clip_norm)
        to the bit: at ||g|| <= clip_norm, clip_norm / clip_norm = 1; above it t = 0 and eps
        = 0. Two small calls instead of seven, on every parameter of every step."""
        c = self.clip_norm
        if c > 1e-30:
            return hakl.divide(c, hakl.maximum(norm, c))
        t = binary("le", norm, c)
        eps = hakl.multiply(binary("le", norm, 1e-30), 1e-6)
        return hakl.add(t, hakl.multiply(hakl.subtract(1.0, t), hakl.divide(c, hakl.add(norm, eps))))

    def __repr__(self) -> str:
        return f"ClipGradByNorm(clip_norm={self.clip_norm})"


class ClipGradByGlobalNorm:
    """All gradients scaled by clip_norm / max(global_norm, clip_norm), global_norm the
    2-norm of every gradient together (float16 gradients sum in float32)."""

    def __init__(self, clip_norm: float, group_name: str = "default_group"):
        self.clip_norm = float(clip_norm)
        self.group_name = group_name

    def __call__(self, params_grads):
        chosen = _clippable(params_grads)
        if not chosen:
            return list(params_grads)
        sums = []
        for _, g in chosen:
            s = _square_sum(g)
            sums.append(hakl.cast(s, "float32") if s.dtype == np.float16 else s)
        common = np.result_type(*(s.dtype for s in sums))
        total = None
        for s in sums:
            s = s if s.dtype == common else hakl.cast(s, common)
            total = s if total is None else hakl.add(total, s)
        scale = hakl.divide(self.clip_norm, hakl.maximum(hakl.sqrt(total), self.clip_norm))
        scaled = {}
        for p, g in chosen:
            sg = scale if scale.dtype == g.dtype else hakl.cast(scale, g.dtype)
            scaled[id(p)] = hakl.multiply(g, sg)
        return [(p, scaled.get(id(p), g)) for p, g in params_grads]

    def __repr__(self) -> str:
        return f"ClipGradByGlobalNorm(clip_norm={self.clip_norm})"


class ClipGradByValue:
    """Each gradient element clipped to [min, max] (min defaults to -max)."""

    def __init__(self, max: float, min: float | None = None):  # noqa: A002
        self.max = float(max)
        self.min = -self.max if min is None else float(min)

    def __call__(self, params_grads):
        return [(p, g if g is None or not getattr(p, "need_clip", True)
                 else hakl.minimum(hakl.maximum(g, self.min), self.max)) for p, g in params_grads]
