"""cross_entropy baselines: log_softmax, gather and reduction as array calls, one
composition over the array module: NumPy's is the CPU baseline, CuPy's the CUDA one.

Launchers see the canonical inputs (reference.py) and compute in float32 (float16 and
float32 inputs) or float64; they never widen float32 to float64. The label check is
one reduction on the device and one flag read back; the labels are copied to the host
only to name the offending value.

    forward(x, label[, weight], ignore_index)              -> (loss, lse)
    backward(x, label, dloss[, lse][, weight], ignore_index, out) -> dx
    train(x, label[, weight], ignore_index, out)            -> (loss, dx)
"""
from __future__ import annotations

from importlib import import_module

import numpy as np

from ...backends.cpu import quietly
from ...op import Problem
from . import reference


def compute_dtype(dtype: str):
    return np.float64 if dtype == "float64" else np.float32


class _Parts:
    """The per-element quantities every launcher needs, computed with array calls."""

    def __init__(self, xp, problem: Problem, x, label, weight, ignore_index: int, lse_in=None):
        ct = compute_dtype(problem.dtype)
        self.xp, self.problem, self.ct = xp, problem, ct
        self.soft, self.use_softmax = bool(problem.flag("soft")), bool(problem.flag("use_softmax"))
        self.x = x.astype(ct, copy=False)
        classes = x.shape[1]
        weight = None if weight is None else weight.astype(ct, copy=False)
        if self.soft:
            self.label = label.astype(ct, copy=False)
            self.valid = None
            self.w = (xp.ones(x.shape[::2], ct) if weight is None
                      else (self.label * weight[None, :, None]).sum(axis=1))
        else:
            valid = label != ignore_index
            bad = valid & ((label < 0) | (label >= classes))
            if bool(bad.any()):  # one flag read back
                raise ValueError(reference.label_error(int(label[bad][0]), classes, ignore_index))
            self.label, self.valid = label, valid
            self.safe = xp.where(valid, label, 0)  # an ignored label never indexes weight
            self.w = valid.astype(ct) if weight is None else xp.where(valid, weight[self.safe], ct(0))
        # softmax = exp((x - shift) - logs): (max, log sum) when computed here, (lse, 0) when given
        self.logs = ct(0)
        if not self.use_softmax:
            self.lse = xp.zeros(self.w.shape, ct)
        elif lse_in is not None:
            self.lse = lse_in.astype(ct, copy=False)
        else:
            m = self.x.max(axis=1)
            self.logs = xp.log(xp.exp(self.x - m[:, None, :]).sum(axis=1))[:, None, :]
            self.lse = m + self.logs[:, 0, :]
            self.shift = m[:, None, :]
        if not hasattr(self, "shift"):
            self.shift = self.lse[:, None, :]

    def loss(self):
        xp, x = self.xp, self.x
        if self.soft:
            if self.use_softmax:
                raw = -(self.label * (x - self.lse[:, None, :])).sum(axis=1)
            else:
                raw = -(self.label * xp.clip(xp.log(x), -reference.TOLERABLE, reference.TOLERABLE)).sum(axis=1)
            return raw * self.w
        picked = xp.take_along_axis(x, self.safe[:, None, :], axis=1)[:, 0, :]
        # (m - x_label) + log(s): lse's rounding (half an ulp of |m|) never swamps a small loss
        logs = self.logs[:, 0, :] if getattr(self.logs, "ndim", 0) else self.logs
        raw = (self.shift[:, 0, :] - picked) + logs if self.use_softmax else \
            -xp.clip(xp.log(picked), -reference.TOLERABLE, reference.TOLERABLE)
        return xp.where(self.valid, raw * self.w, self.ct(0))

    def reduce(self, loss, ignore_index: int):
        reduction = self.problem.flag("reduction")
        if reduction == "none":
            return loss
        total = loss.sum()
        return total / self._den(ignore_index) if reduction == "mean" else total

    def upstream(self, dloss, ignore_index: int):
        """Each element's gradient factor g (dloss, spread by the reduction)."""
        xp, reduction = self.xp, self.problem.flag("reduction")
        d = dloss.astype(self.ct, copy=False)
        if reduction == "none":
            return d.reshape(self.w.shape)
        g = d.reshape(())
        if reduction == "mean":
            g = g / self._den(ignore_index)
        return g * xp.ones(self.w.shape, self.ct)

    def _den(self, ignore_index: int):
        if self.problem.flag("weight") or ignore_index != reference.DEFAULT_IGNORE:
            den = self.w.sum()
        else:
            den = self.ct(self.w.size)
        return den + (den == 0)

    def grad(self, g):
        xp, x = self.xp, self.x
        coef = (g * self.w)[:, None, :]
        if self.use_softmax:
            z = (x - self.shift) - self.logs
            p = xp.exp(z)
            if self.soft:
                dx = coef * (self.label.sum(axis=1)[:, None, :] * p - self.label)
            else:
                hit = xp.arange(x.shape[1])[None, :, None] == xp.where(self.valid, self.label, -1)[:, None, :]
                dx = coef * xp.where(hit, xp.expm1(z), p)  # softmax - 1 at the label, without cancelling
        elif self.soft:
            dx = xp.where(self.label != 0, -coef * self.label / x, self.ct(0))
        else:
            hit = xp.arange(x.shape[1])[None, :, None] == xp.where(self.valid, self.label, -1)[:, None, :]
            dx = xp.where(hit, -coef / x, self.ct(0))
        if not self.soft:
            dx = xp.where(self.valid[:, None, :], dx, self.ct(0))
        return dx


def _split(problem: Problem, rest: tuple):
    rest = list(rest)
    lse_in = rest.pop(0) if problem.flag("lse") else None
    weight = rest.pop(0) if problem.flag("weight") else None
    return lse_in, weight


def _store(dx, dtype, out):
    if out is None:
        return dx.astype(dtype, copy=False)
    out[...] = dx
    return out


def forward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(x, label, *rest, ignore_index=reference.DEFAULT_IGNORE):
            _, weight = _split(problem, rest)
            parts = _Parts(xp, problem, x, label, weight, ignore_index)
            loss = parts.reduce(parts.loss(), ignore_index)
            return loss.astype(x.dtype, copy=False), parts.lse

        return quietly(launch) if xp is np else launch  # NumPy warns on the NaN and inf rows

    return build


def backward(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(x, label, dloss, *rest, ignore_index=reference.DEFAULT_IGNORE, out=None):
            lse_in, weight = _split(problem, rest)
            parts = _Parts(xp, problem, x, label, weight, ignore_index, lse_in)
            dx = parts.grad(parts.upstream(dloss, ignore_index))
            return _store(dx, x.dtype, out)

        return quietly(launch) if xp is np else launch  # NumPy warns on the NaN and inf rows

    return build


def train(module: str):
    def build(problem: Problem, config: dict):
        xp = import_module(module)

        def launch(x, label, *rest, ignore_index=reference.DEFAULT_IGNORE, out=None):
            _, weight = _split(problem, rest)
            parts = _Parts(xp, problem, x, label, weight, ignore_index)
            loss = parts.reduce(parts.loss(), ignore_index).astype(x.dtype, copy=False)
            ones = xp.ones(parts.w.shape if problem.flag("reduction") == "none" else (), x.dtype)
            dx = parts.grad(parts.upstream(ones, ignore_index))
            return loss, _store(dx, x.dtype, out)

        return quietly(launch) if xp is np else launch  # NumPy warns on the NaN and inf rows

    return build
