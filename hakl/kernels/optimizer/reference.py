"""float64 NumPy transcriptions of PaddlePaddle 2.0's update rules (the oracle).

Inputs are the launchers' flat argument list (see __init__: every list's arrays one
after the other); the result is every updated array, in that order, in float64.

Adam (paddle/fluid/operators/optimizers/adam_op.h, AdamFunctor, e.g. PaddlePaddle/Paddle
@94e1cc86: `lr *= sqrt(1 - beta2_pow) / (1 - beta1_pow); ...
p -= lr * (mom1 / (sqrt(mom2) + epsilon_ * sqrt(1 - beta2_pow)))`, with
`p = master_param ? master_param[i] : param[i]` and `param_out = cast(p)`); AdamW's
decoupled decay (python/paddle/optimizer/adamw.py, 2.0: `param * (1 - lr * coeff)`
assigned before the adam op); SGD (sgd_op.h: `p - lr * g`); Momentum (momentum_op.h:
`v = mu * v + g; p -= lr * v`, Nesterov `p -= (g + mu * v) * lr`).
"""
from __future__ import annotations

import numpy as np

from . import LISTS, split


def _updated(problem, arrays):
    """(lists by name, per-parameter lr) in float64."""
    lists = {k: [None if a is None else np.asarray(a, np.float64).copy() for a in v]
             for k, v in split(problem, arrays).items()}
    params = dict(problem.params)
    n = problem.shape[1]
    lr = [params["lr"] * r for r in params.get("lr_ratios") or (1.0,) * n]
    return lists, params, lr


def _result(problem, lists, weights):
    names = [k for k in LISTS[problem.op] if k != "grads"] + (["master_params"] if problem.flag("master") else [])
    for i, w in enumerate(weights):
        lists["params"][i] = w
        if problem.flag("master"):
            lists["master_params"][i] = w
    return tuple(a for k in names for a in lists[k])


def adamw(problem, *arrays):
    lists, params, lr = _updated(problem, arrays)
    b1, b2, t = params["beta1"], params["beta2"], params["step"]
    decay = params.get("decay") or (False,) * len(lr)
    weights = []
    for i, g in enumerate(lists["grads"]):
        p = lists["master_params"][i] if problem.flag("master") else lists["params"][i]
        if decay[i]:
            p = p * (1.0 - lr[i] * params["coeff"])
        m1 = lists["moments1"][i] = b1 * lists["moments1"][i] + (1 - b1) * g
        m2 = lists["moments2"][i] = b2 * lists["moments2"][i] + (1 - b2) * g * g
        lr_t = lr[i] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        with np.errstate(invalid="ignore", divide="ignore"):
            weights.append(p - lr_t * (m1 / (np.sqrt(m2) + params["epsilon"] * np.sqrt(1 - b2 ** t))))
    return _result(problem, lists, weights)


def sgd(problem, *arrays):
    lists, params, lr = _updated(problem, arrays)
    base = lists["master_params"] if problem.flag("master") else lists["params"]
    return _result(problem, lists, [p - lr[i] * g for i, (p, g) in enumerate(zip(base, lists["grads"]))])


def momentum(problem, *arrays):
    lists, params, lr = _updated(problem, arrays)
    mu = params["mu"]
    base = lists["master_params"] if problem.flag("master") else lists["params"]
    weights = []
    for i, (p, g) in enumerate(zip(base, lists["grads"])):
        v = lists["velocities"][i] = mu * lists["velocities"][i] + g
        weights.append(p - (g + mu * v) * lr[i] if problem.flag("nesterov") else p - lr[i] * v)
    return _result(problem, lists, weights)
