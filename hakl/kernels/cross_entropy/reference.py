"""float64 NumPy reference for cross_entropy over axis 1 of a contiguous (outer, C, inner) input.

Inputs as every variant sees them: x (outer, C, inner); a hard label (outer, inner) of
int32/int64, or a soft label shaped like x; weight (C,) when the `weight` flag is set.
Flags: soft, use_softmax, weight, reduction ("none", "sum", "mean"); the grad op adds
`lse` (the forward's log-sum-exp is an input). Param: ignore_index (hard labels only).

    forward  -> (loss, lse)   loss: (outer, inner) for "none", 0-d for "sum"/"mean"
    backward -> dx            given dloss (the loss's gradient) [, lse] [, weight]
    train    -> (loss, dx)    the forward and the gradient of the loss itself (dloss = 1)

The semantics are PaddlePaddle 2.0.2's (python/paddle/nn/functional/loss.py), see
reduce() and element_weights() below.
"""
from __future__ import annotations

import numpy as np

from ...op import Problem

DEFAULT_IGNORE = -100
TOLERABLE = 1e20  # PaddlePaddle's TolerableValue: log(0) = -inf is clamped to -1e20


def clamp_log(p: np.ndarray) -> np.ndarray:
    """log(p) with ±inf clamped to ±1e20 (NaN stays NaN), as PaddlePaddle's CrossEntropyFunctor."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(p)
    return np.clip(v, -TOLERABLE, TOLERABLE)


def check_labels(label: np.ndarray, classes: int, ignore_index: int) -> None:
    bad = (label != ignore_index) & ((label < 0) | (label >= classes))
    if bad.any():
        raise ValueError(label_error(int(label[bad].flat[0]), classes, ignore_index))


def label_error(value: int, classes: int, ignore_index: int) -> str:
    return (f"cross_entropy: argument 'label' holds {value}, outside [0, {classes}) "
            f"and not ignore_index ({ignore_index})")


def divisor(weight_sum: float, count: int, weighted: bool, ignore_index: int) -> float:
    """The mean's denominator, PaddlePaddle's rule: the sum of the element weights (the
    weights of the non-ignored elements, or their count when ignore_index is given a
    non-default value); without weight and with ignore_index left at -100, every element
    (ignored ones count as zero losses). 0 becomes 1, so a mean over nothing is 0."""
    den = weight_sum if weighted or ignore_index != DEFAULT_IGNORE else float(count)
    return den if den != 0 else 1.0


def shifted_lse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, log(sum(exp(x - m)))) over axis 1, m the row max: lse = m + the second, which is
    kept apart so that lse's rounding (half an ulp of |m|, 3.6e-15 at |m| = 46) never enters
    x_label - lse nor softmax - 1 (a row whose softmax is nearly one-hot)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = x.max(axis=1)
        return m, np.log(np.exp(x - m[:, None, :]).sum(axis=1))


def lse(x: np.ndarray) -> np.ndarray:
    """log(sum(exp(x))) over axis 1; NaN for rows holding NaN or +inf and for all -inf rows."""
    m, sl = shifted_lse(x)
    return m + sl


def element_weights(problem: Problem, label: np.ndarray, weight: np.ndarray | None, ignore_index: int):
    """(w, valid): each element's loss factor (weight[label], sum_c label_c * weight_c for
    soft labels, 1 without weight; 0 where ignored) and the non-ignored mask."""
    if problem.flag("soft"):
        valid = np.ones(label.shape[::2], bool)
        w = np.ones(valid.shape) if weight is None else (label * weight[None, :, None]).sum(axis=1)
        return w, valid
    valid = label != ignore_index
    safe = np.where(valid, label, 0)  # an ignored label never indexes weight
    w = valid.astype(np.float64) if weight is None else np.where(valid, weight[safe], 0.0)
    return w, valid


def _split(problem: Problem, rest: tuple) -> tuple[np.ndarray | None, np.ndarray | None]:
    rest = list(rest)
    lse_in = rest.pop(0) if problem.flag("lse") else None
    weight = rest.pop(0).astype(np.float64) if problem.flag("weight") else None
    return lse_in, weight


def _raw_loss(problem: Problem, x: np.ndarray, label: np.ndarray, valid: np.ndarray, shift):
    """Each element's loss before weighting (0 where ignored); shift = shifted_lse(x)."""
    m, sl = shift
    with np.errstate(invalid="ignore", over="ignore"):
        if problem.flag("soft"):
            if problem.flag("use_softmax"):
                return -(label * (x - (m + sl)[:, None, :])).sum(axis=1)
            return -(label * clamp_log(x)).sum(axis=1)
        safe = np.where(valid, label, 0)
        picked = np.take_along_axis(x, safe[:, None, :], axis=1)[:, 0, :]
        raw = (m - picked) + sl if problem.flag("use_softmax") else -clamp_log(picked)
        return np.where(valid, raw, 0.0)


def reduce(problem: Problem, loss: np.ndarray, w: np.ndarray, ignore_index: int) -> np.ndarray:
    reduction = problem.flag("reduction", "mean")
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / divisor(float(w.sum()), w.size, bool(problem.flag("weight")), ignore_index))


def _loss_and_lse(problem, x, label, weight, ignore_index):
    x = x.astype(np.float64)
    if not problem.flag("soft"):
        check_labels(label, x.shape[1], ignore_index)
    else:
        label = label.astype(np.float64)
    w, valid = element_weights(problem, label, weight, ignore_index)
    shift = shifted_lse(x) if problem.flag("use_softmax") else (np.zeros(w.shape), np.zeros(w.shape))
    with np.errstate(invalid="ignore"):
        loss = np.where(valid, _raw_loss(problem, x, label, valid, shift) * w, 0.0)
    return x, label, w, valid, loss, shift


def forward(problem: Problem, x: np.ndarray, label: np.ndarray, *rest: np.ndarray):
    ignore_index = dict(problem.params).get("ignore_index", DEFAULT_IGNORE)
    _, weight = _split(problem, rest)
    _, _, w, _, loss, (m, sl) = _loss_and_lse(problem, x, label, weight, ignore_index)
    return reduce(problem, loss, w, ignore_index), m + sl


def _grad(problem, x, label, w, valid, shift, g):
    """shift: (m, log(sum(exp(x - m)))), or (lse, 0) for a given lse; softmax = exp((x - m) - sl)
    and, at a hard label, softmax - 1 = expm1((x - m) - sl) without cancelling (a nearly
    one-hot row's gradient there is far below 1, known to a few of its own ulps)."""
    coef = g * w  # (outer, inner)
    soft, use_softmax = problem.flag("soft"), problem.flag("use_softmax")
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if use_softmax:
            m, sl = shift
            z = (x - m[:, None, :]) - sl[:, None, :]
            p = np.exp(z)
            if soft:
                dx = coef[:, None, :] * (label.sum(axis=1)[:, None, :] * p - label)
            else:
                onehot = np.arange(x.shape[1])[None, :, None] == np.where(valid, label, -1)[:, None, :]
                dx = coef[:, None, :] * np.where(onehot, np.expm1(z), p)
        elif soft:
            dx = np.where(label != 0, -coef[:, None, :] * label / x, 0.0)
        else:
            onehot = np.arange(x.shape[1])[None, :, None] == np.where(valid, label, -1)[:, None, :]
            dx = np.where(onehot, -coef[:, None, :] / x, 0.0)
    return np.where(valid[:, None, :], dx, 0.0)


def _upstream(problem: Problem, dloss: np.ndarray, w: np.ndarray, ignore_index: int) -> np.ndarray:
    d = np.asarray(dloss, np.float64)
    if problem.flag("reduction", "mean") == "none":
        return d.reshape(w.shape)
    g = float(d.reshape(-1)[0])
    if problem.flag("reduction", "mean") == "mean":
        g /= divisor(float(w.sum()), w.size, bool(problem.flag("weight")), ignore_index)
    return np.full(w.shape, g)


def backward(problem: Problem, x: np.ndarray, label: np.ndarray, dloss: np.ndarray, *rest: np.ndarray):
    ignore_index = dict(problem.params).get("ignore_index", DEFAULT_IGNORE)
    lse_in, weight = _split(problem, rest)
    x, label, w, valid, _, shift = _loss_and_lse(problem, x, label, weight, ignore_index)
    if lse_in is not None and problem.flag("use_softmax"):
        # the softmax the op computes from its input lse: exp(x - lse)
        given = np.asarray(lse_in, np.float64).reshape(w.shape)
        shift = (given, np.zeros_like(given))
    return _grad(problem, x, label, w, valid, shift, _upstream(problem, dloss, w, ignore_index))


def train(problem: Problem, x: np.ndarray, label: np.ndarray, *rest: np.ndarray):
    ignore_index = dict(problem.params).get("ignore_index", DEFAULT_IGNORE)
    _, weight = _split(problem, rest)
    x, label, w, valid, loss, shift = _loss_and_lse(problem, x, label, weight, ignore_index)
    ones = np.ones(w.shape) if problem.flag("reduction") == "none" else np.ones(())
    return reduce(problem, loss, w, ignore_index), _grad(problem, x, label, w, valid, shift,
                                                          _upstream(problem, ones, w, ignore_index))
