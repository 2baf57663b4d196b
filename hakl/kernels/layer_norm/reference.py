"""float64 NumPy reference for layer_norm over the last axis of a contiguous (rows, n) input,
and the formulas the NumPy / CuPy baselines run in their compute dtype (one composition
over the array module, as elementwise's apply).

    forward  (x, [weight], [bias])            -> (y, mean, rstd)
    backward (x, dout, mean, rstd, [weight])  -> (dx, [dweight], [dbias])

Flags: `weight`, `bias` (which optional inputs are there). Param: epsilon.
mean = sum(x) / n, var = sum((x - mean)^2) / n (biased, as PaddlePaddle), rstd =
1 / sqrt(var + epsilon), y = (x - mean) * rstd * weight + bias. A row holding NaN or
±inf gives NaN y and rstd (x - mean is NaN there) and the mean NumPy's mean gives (inf
for a row with +inf and no -inf). The backward reads the given mean and rstd (the
forward's statistics), xhat = (x - mean) * rstd, g = dout * weight:

    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dweight = sum_rows dout * xhat,
    dbias = sum_rows dout
"""
from __future__ import annotations

import numpy as np

from ...op import Problem


def forward_xp(xp, x, weight, bias, epsilon: float, ct):
    """(y, mean, rstd) in dtype `ct`, rows of a 2-d array on the array module `xp`."""
    x = x.astype(ct, copy=False)
    mean = x.mean(axis=1)
    d = x - mean[:, None]
    rstd = 1 / xp.sqrt((d * d).mean(axis=1) + ct(epsilon))
    y = d * rstd[:, None]
    if weight is not None:
        y = y * weight.astype(ct, copy=False)
    if bias is not None:
        y = y + bias.astype(ct, copy=False)
    return y, mean, rstd


def backward_xp(x, dout, mean, rstd, weight, has_bias: bool, ct):
    """(dx, [dweight], [dbias]) in dtype `ct`, for the rows of a 2-d array."""
    x, dout = x.astype(ct, copy=False), dout.astype(ct, copy=False)
    mean, rstd = mean.astype(ct, copy=False)[:, None], rstd.astype(ct, copy=False)[:, None]
    xhat = (x - mean) * rstd
    g = dout if weight is None else dout * weight.astype(ct, copy=False)
    n = x.shape[1]
    dx = rstd * (g - g.sum(axis=1, keepdims=True) / ct(n) - xhat * ((g * xhat).sum(axis=1, keepdims=True) / ct(n)))
    out = (dx,)
    if weight is not None:
        out += ((dout * xhat).sum(axis=0),)
    if has_bias:
        out += (dout.sum(axis=0),)
    return out


def _optional(problem: Problem, rest: tuple) -> tuple:
    rest = list(rest)
    weight = rest.pop(0) if problem.flag("weight") else None
    bias = rest.pop(0) if problem.flag("bias") else None
    return weight, bias


def forward(problem: Problem, x: np.ndarray, *rest: np.ndarray):
    weight, bias = _optional(problem, rest)
    with np.errstate(all="ignore"):
        return forward_xp(np, x, weight, bias, dict(problem.params).get("epsilon", 1e-5), np.float64)


def backward(problem: Problem, x: np.ndarray, dout: np.ndarray, mean: np.ndarray, rstd: np.ndarray,
             *rest: np.ndarray):
    weight = rest[0] if problem.flag("weight") else None
    with np.errstate(all="ignore"):
        return backward_xp(x, dout, mean, rstd, weight, bool(problem.flag("bias")), np.float64)
