"""Optimizer updates, in place over lists of parameters (one call updates them all),
with PaddlePaddle 2.0's rules (reference.py cites them):

- `adamw(params, grads, moments1, moments2, *, lr, step, beta1=0.9, beta2=0.999,
  epsilon=1e-8, coeff=0.01, decay=None, master_params=None, lr_ratios=None)`
- `adam(params, grads, moments1, moments2, *, lr, step, beta1=0.9, beta2=0.999,
  epsilon=1e-8, master_params=None, lr_ratios=None)`
- `sgd(params, grads, *, lr, master_params=None, lr_ratios=None)`
- `momentum(params, grads, velocities, *, lr, mu=0.9, use_nesterov=False,
  master_params=None, lr_ratios=None)`

All return None. `master_params[i]` is a float32 array for a float16 parameter (None
otherwise): the update runs on it and the parameter receives its float16 cast; the
states (moments, velocities) of such a parameter are float32, else of its dtype.

How a list fits the op contract: the launchers take the lists' arrays flat, one list
after the other (params..., grads..., states..., masters...), and return every updated
array in that order; the problem's shape is (elements per tensor, rounded up mean;
number of tensors), so the tuning key buckets the total size and the tensor count, and
verification's shrinking (leading extent first) keeps the count. Run-time scalars
(lr, step, betas, per-parameter lr ratios and decay switches) are problem params.
A call with parameters of several dtypes makes one problem per (dtype, master) group.

Variants (every backend): `per_param` (baseline: array expressions per parameter),
`fused` (one kernel launch per parameter), `multi` (one launch over every parameter:
on the CPU a thread-pool loop over a table of addresses, on CUDA a kernel over a device
table of pointers; OpenCL, whose buffers cannot be reached through a table of addresses,
has per_param and fused only).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ...op import (FLOATS, Function, Input, Op, Problem, Sample, _close, attach_variants, call_key, dtype_name,
                   each_output, register, register_function)
from ...tuning import dispatch

# The lists each op's launchers take (masters follow when the problem's flag says so).
LISTS = {"adamw": ("params", "grads", "moments1", "moments2"), "sgd": ("params", "grads"),
         "momentum": ("params", "grads", "velocities")}


def split(problem: Problem, arrays: tuple) -> dict[str, list]:
    """The launchers' flat arguments as lists by name."""
    names = LISTS[problem.op] + (("master_params",) if problem.flag("master") else ())
    n = len(arrays) // len(names)
    return {name: list(arrays[k * n:(k + 1) * n]) for k, name in enumerate(names)}


def updated(problem: Problem, arrays: tuple) -> tuple:
    """What a launcher returns: every array it wrote (all but the grads), in list order."""
    return tuple(a for name, values in split(problem, arrays).items() if name != "grads" for a in values)


def state_dtype(problem: Problem) -> str:
    return "float32" if problem.flag("master") else problem.dtype


def per_tensor(problem: Problem, params: dict, n: int) -> np.ndarray:
    """(n, 3) float64 scalars of each tensor, what every variant's kernel reads: adamw
    (lr_t, decay factor, epsilon_t); sgd and momentum (lr_p, 1, 0). In Python floats (the
    same IEEE operations as NumPy's): a model has a few tensors, and NumPy's calls on
    arrays of four cost more than the update of a 10K-parameter model."""
    ratios = params.get("lr_ratios") or (1.0,) * n
    lr = params["lr"]
    if problem.op != "adamw":
        return np.array([(lr * r, 1.0, 0.0) for r in ratios], np.float64).reshape(n, 3)
    b1, b2, t, coeff = params["beta1"], params["beta2"], params["step"], params["coeff"]
    decay = params.get("decay") or (False,) * n
    bias = math.sqrt(1 - b2 ** t)
    rows = [(lr * r * bias / (1 - b1 ** t), 1.0 - lr * r * coeff if d else 1.0, params["epsilon"] * bias)
            for r, d in zip(ratios, decay)]
    return np.array(rows, np.float64).reshape(n, 3)


def coefficients(params: dict, ct) -> tuple:
    """(beta1, 1 - beta1, beta2, 1 - beta2, mu) in the compute type `ct`, every kernel's
    moment coefficients. The complements are taken in float64: float32's 1 - 0.999 (0.999
    rounded first) is 1.3e-5 off, which the second moment and the step carry (Paddle's
    float32 kernel computes it so); a parameter whose second moment was tiny (1e-7) moved
    5e-6 off its float64 reference, beyond float32's tolerance."""
    b1, b2 = params.get("beta1", 0.0), params.get("beta2", 0.0)
    return ct(b1), ct(1.0 - b1), ct(b2), ct(1.0 - b2), ct(params.get("mu", 0.0))


def tables(problem: Problem, arrays: tuple, params: dict, address, chunk: int):
    """The multi-tensor kernels' tables for one call: (n, 6) int64 addresses (param, grad,
    state1, state2, master; 0 where a rule has none) and size of each tensor; (c, 3) int64
    work chunks (tensor, first, last element) of at most `chunk` elements; (n, 3) float64
    per-tensor scalars (per_tensor). `address(array)` is the backend's data pointer."""
    lists = split(problem, arrays)
    n = len(lists["params"])
    states = [k for k in ("moments1", "moments2", "velocities") if k in lists]
    columns = ["params", "grads", *states, *[None] * (2 - len(states)), "master_params"]
    addresses = [[address(a) for a in lists[name]] if name in lists else [0] * n for name in columns]
    sizes = tuple(a.size for a in lists["params"])
    table = np.array(list(zip(*addresses, sizes)), np.int64).reshape(n, 6)
    return table, _chunks(sizes, chunk), per_tensor(problem, params, n)


@functools.lru_cache(maxsize=256)
def _chunks(sizes: tuple[int, ...], chunk: int) -> np.ndarray:
    """The work chunks of tensors of `sizes` (a model's sizes repeat every step); read only."""
    sizes_ = np.array(sizes, np.int64)
    pieces = -(-sizes_ // chunk)
    t = np.repeat(np.arange(len(sizes), dtype=np.int64), pieces)
    start = np.repeat(np.cumsum(pieces) - pieces, pieces)
    first = (np.arange(t.size, dtype=np.int64) - start) * chunk
    chunks = np.ascontiguousarray(np.stack([t, first, np.minimum(first + chunk, sizes_[t])], axis=1).reshape(-1, 3))
    chunks.flags.writeable = False
    return chunks


def one_by_one(problem: Problem, arrays: tuple, params: dict):
    """(arrays, params) of each tensor alone: how the per-parameter variants walk a call."""
    lists = split(problem, arrays)
    for i in range(len(lists["params"])):
        yield (tuple(values[i] for values in lists.values()),
               {k: (v[i:i + 1] if isinstance(v, tuple) else v) for k, v in params.items()})


# Rule codes the kernels switch on at run time (one compiled kernel per dtype pair).
RULES = {"adamw": 0, "sgd": 1, "momentum": 2}


def rule(problem: Problem) -> int:
    return 3 if problem.flag("nesterov") else RULES[problem.op]


# ---- problems, samples and conformance cases -----------------------------------

def problem_for(op: str, backend: str, dtype: str, sizes: list[int], master: bool, params: dict,
                nesterov: bool = False) -> Problem:
    count = len(sizes)
    mean = -(-sum(sizes) // count) if count else 0
    flags = (("master", master),) + ((("nesterov", nesterov),) if op == "momentum" else ())
    return Problem(op, backend, dtype, (mean, count), flags, tuple(sorted(params.items())))


def _tensors(problem: Problem, shapes: list[tuple], rng: np.random.Generator) -> tuple:
    dt, st = problem.np_dtype, np.dtype(state_dtype(problem))
    master = problem.flag("master")
    lists: dict[str, list] = {name: [] for name in LISTS[problem.op]}
    masters = []
    for shape in shapes:
        w = np.asarray(rng.standard_normal(shape), np.float32 if master else dt)
        lists["params"].append(w.astype(dt))
        masters.append(w)
        lists["grads"].append(np.asarray(0.5 * rng.standard_normal(shape), dt))
        if "moments1" in lists:
            lists["moments1"].append(np.asarray(0.1 * rng.standard_normal(shape), st))
            lists["moments2"].append(np.asarray(0.01 * rng.random(shape), st))
        if "velocities" in lists:
            lists["velocities"].append(np.asarray(0.1 * rng.standard_normal(shape), st))
    flat = [a for name in LISTS[problem.op] for a in lists[name]]
    return tuple(flat + (masters if master else []))


def _sizes(mean: int, count: int, rng: np.random.Generator) -> list[int]:
    """`count` sizes drawn log-uniform, summing to about mean * count."""
    if count == 0 or mean == 0:
        return [0] * count
    w = np.exp(rng.uniform(0, np.log(64), count))
    return [int(s) for s in np.maximum(1, np.round(w / w.sum() * mean * count))]


def _sample(problem: Problem, rng: np.random.Generator) -> tuple:
    return _tensors(problem, [(s,) for s in _sizes(*problem.shape, rng)], rng)


def default_params(op: str, n: int, **overrides: Any) -> dict:
    base = {"adamw": dict(lr=1e-2, step=3, beta1=0.9, beta2=0.999, epsilon=1e-8, coeff=0.01,
                          decay=(True,) * n, lr_ratios=(1.0,) * n),
            "sgd": dict(lr=1e-2, lr_ratios=(1.0,) * n),
            "momentum": dict(lr=1e-2, mu=0.9, lr_ratios=(1.0,) * n)}[op]
    return {**base, **overrides}


def _cases(op: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        masters = (False, True) if dtype == "float16" else (False,)
        nesterovs = (False, True) if op == "momentum" else (False,)
        layouts = [[(7,), (33, 5), (1000,)], [(0,), (3, 4), (), (0, 2), (130,)]]
        if not quick:
            layouts.append([(4097,), (1,), (65, 63), (17,), (20000,)])
        for master in masters:
            for nesterov in nesterovs:
                for shapes in layouts:
                    n = len(shapes)
                    extra = {}
                    if op == "adamw":
                        extra = dict(step=1 + int(rng.integers(0, 9)), decay=tuple(bool(i % 2 == 0) for i in range(n)))
                    params = default_params(op, n, lr_ratios=tuple(float(r) for r in rng.choice([0.5, 1.0, 2.0], n)),
                                            **extra)
                    problem = problem_for(op, backend, dtype, [int(np.prod(s)) for s in shapes], master, params,
                                          nesterov)
                    yield problem, _tensors(problem, shapes, rng)
                # NaN and ±inf gradients propagate as in IEEE arithmetic
                shapes = [(9,), (5,)]
                problem = problem_for(op, backend, dtype, [9, 5], master, default_params(op, 2), nesterov)
                arrays = list(_tensors(problem, shapes, rng))
                arrays[2][:3] = [np.nan, np.inf, -np.inf]
                arrays[3][0] = np.nan
                yield problem, tuple(arrays)
    return cases


TOLERANCES = {"float16": (2e-3, 1e-3), "float32": (2e-5, 1e-6), "float64": (1e-12, 1e-13)}
_PARAM_INPUTS = {op: tuple(Input(name, FLOATS) for name in names) for op, names in LISTS.items()}


def _example(op: str):
    def example(x, axis, options):
        params = [x[:, j].copy() for j in range(x.shape[1])] if x.ndim == 2 else [x]
        zeros = [p * 0 for p in params]
        if op == "adamw":
            return adamw(params, zeros, [p * 0 for p in params], [p * 0 for p in params], lr=1e-3, step=1)
        if op == "sgd":
            return sgd(params, zeros, lr=1e-3)
        return momentum(params, zeros, [p * 0 for p in params], lr=1e-3)
    return example


def _compare(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """Each updated array against the reference, the absolute tolerance relative to the terms
    its update adds per element (its old value and its tensor's gradient), not only to the
    array's largest result: a one-element tensor's moment b1*m + (1-b1)*g can cancel to 1e-5
    of those terms, and float32 rounds them at their own scale."""
    lists = split(problem, inputs)
    grads = lists.pop("grads")
    olds = [(old, grads[i]) for values in lists.values() for i, old in enumerate(values)]  # updated()'s order
    rtol, atol = TOLERANCES[problem.dtype]

    def one(k: int, o: np.ndarray, e: np.ndarray) -> str | None:
        old, g = olds[k]
        with np.errstate(invalid="ignore"):
            terms = np.abs(np.asarray(old, np.float64)) + np.abs(np.asarray(g, np.float64))
        return _close(o, e, rtol, atol, np.where(np.isfinite(terms), terms, 0.0))

    return each_output(out, expected, one)


def _declare(name: str, ref) -> Op:
    return register(Op(
        name=name, reference=ref, sample=_sample, nbytes=lambda p: nbytes(p), tolerances=TOLERANCES, compare=_compare,
        cases=_cases(name), inputs=_PARAM_INPUTS[name], example=_example(name), conformance_quick=("opencl",),
        mutates=tuple(range(len(LISTS[name]) + 1)),
    ))


def nbytes(problem: Problem) -> int:
    """The least the update moves: every list read once, every updated list written once
    (adamw float32: p, g, m1, m2 read and p, m1, m2 written: 28 bytes per element)."""
    item, state = problem.np_dtype.itemsize, np.dtype(state_dtype(problem)).itemsize
    states = {"adamw": 2, "sgd": 0, "momentum": 1}[problem.op]
    master = 4 if problem.flag("master") else 0
    per_element = 2 * item + item + 2 * states * state + 2 * master  # p read+write, g read, states, master
    return problem.size * per_element


from . import reference  # noqa: E402  (reads LISTS and split above)

ADAMW = _declare("adamw", reference.adamw)
SGD = _declare("sgd", reference.sgd)
MOMENTUM = _declare("momentum", reference.momentum)
attach_variants(__name__, {ADAMW: "adamw_variants", SGD: "sgd_variants", MOMENTUM: "momentum_variants"})


# ---- the public functions ------------------------------------------------------

def _list(fn: str, name: str, value: Any, n: int | None, optional: bool = False) -> list | None:
    if value is None and optional:
        return None
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{fn}: argument {name!r} must be a list of arrays, got {type(value).__name__}")
    if n is not None and len(value) != n:
        raise ValueError(f"{fn}: argument {name!r} has {len(value)} entries but 'params' has {n}")
    return list(value)


def _scalar(fn: str, name: str, value: Any, integer: bool = False) -> float:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{fn}: argument {name!r} must be {'an int' if integer else 'a number'}, "
                        f"got {type(value).__name__}")
    return int(value) if integer else float(value)


def _run(fn: str, op: Op, lists: dict[str, list], masters: list | None, params: dict, per_param: dict,
         nesterov: bool = False) -> None:
    """The update, through the call's plan: the framework's optimizer repeats one call of the
    same arrays every step, and its checks (every array's backend, dtype and shape), groups
    and selection cost a 4-parameter MLP's AdamW more than its kernel did."""
    n = len(lists["params"])
    masters = masters if masters is not None else [None] * n
    arrays = [a for values in lists.values() for a in values] + [m for m in masters if m is not None]
    key = call_key(fn, arrays, n, tuple(m is None for m in masters), nesterov)
    plan = dispatch.planned(key, lambda: _prepare(fn, op, lists, masters, arrays, params, per_param, nesterov))
    plan(arrays, params, per_param)


def _prepare(fn: str, op: Op, lists: dict[str, list], masters: list, arrays: list, params: dict, per_param: dict,
             nesterov: bool):
    """The checked call as a function of (`arrays`: the lists' arrays flat, then the masters
    given; the run-time scalars; the per-parameter values)."""
    from ...backends import backend_of

    params_list = lists["params"]
    n = len(params_list)
    backend = None
    for name, values in list(lists.items()) + [("master_params", masters)]:
        for i, a in enumerate(values):
            if a is None and name == "master_params":
                continue
            b = backend_of(a, fn, f"{name}[{i}]")
            if backend is None:
                backend = b
            elif b is not backend:
                raise TypeError(f"{fn}: argument '{name}[{i}]' is on {b.name} but 'params[0]' is on {backend.name}")
    for i, p in enumerate(params_list):
        dt = dtype_name(p.dtype)
        if dt not in FLOATS or dt not in _PARAM_INPUTS[op.name][0].domain(backend.name):
            raise TypeError(f"{fn}: argument 'params[{i}]' must have a floating dtype "
                            f"({', '.join(_PARAM_INPUTS[op.name][0].domain(backend.name))} on {backend.name}), "
                            f"got {p.dtype}")
        m = masters[i]
        if m is not None:
            if dt != "float16":
                raise ValueError(f"{fn}: argument 'master_params[{i}]' must be None for a {dt} parameter "
                                 "(master weights are kept for float16 parameters)")
            if dtype_name(m.dtype) != "float32" or tuple(m.shape) != tuple(p.shape):
                raise ValueError(f"{fn}: argument 'master_params[{i}]' must be float32 of shape {tuple(p.shape)}, "
                                 f"got {m.dtype} {tuple(m.shape)}")
        st = "float32" if m is not None else dt
        for name, values in lists.items():
            if name == "params":
                continue
            a = values[i]
            want = dt if name == "grads" else st
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"{fn}: argument '{name}[{i}]' has shape {tuple(a.shape)} but 'params[{i}]' has "
                                 f"{tuple(p.shape)}")
            if dtype_name(a.dtype) != want:
                raise TypeError(f"{fn}: argument '{name}[{i}]' must be {want} (for a {dt} parameter"
                                f"{' with a master' if m is not None else ''}), got {a.dtype}")
    # Where each array sits in the flat list _run passes: the lists one after the other, then
    # the masters given.
    position, k = {}, 0
    for name, values in lists.items():
        for i in range(n):
            position[name, i], k = k, k + 1
    for i, m in enumerate(masters):
        if m is not None:
            position["master_params", i], k = k, k + 1
    # One problem per (dtype, master) group of parameters, each with its launcher and the
    # positions of its arrays; a non-contiguous one is staged, and updated back unless a grad.
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(params_list):
        groups.setdefault((dtype_name(p.dtype), masters[i] is not None), []).append(i)
    prepared = []
    for (dt, master), idx in groups.items():
        members = [(name, i) for name in list(lists) + (["master_params"] if master else []) for i in idx]
        positions = [position[m] for m in members]
        staged = [(j, name != "grads") for j, (name, _) in enumerate(members)
                  if backend.ascontiguous(arrays[positions[j]]) is not arrays[positions[j]]]
        sizes = [int(np.prod(params_list[i].shape, dtype=np.int64)) for i in idx]
        group_params = dict(params, **{k: tuple(v[i] for i in idx) for k, v in per_param.items()})
        problem = problem_for(op.name, backend.name, dt, sizes, master, group_params, nesterov)
        prepared.append((idx, positions, staged, dispatch.select(op, problem).launcher))

    def run(call_arrays: list, call_params: dict, call_per_param: dict) -> None:
        for idx, positions, staged, launcher in prepared:
            flat = [call_arrays[j] for j in positions]
            for j, _ in staged:
                flat[j] = backend.ascontiguous(flat[j])
            group = dict(call_params, **{k: tuple(v[i] for i in idx) for k, v in call_per_param.items()})
            launcher(*flat, **group)
            for j, back in staged:  # a non-contiguous view gets its update back
                if back:
                    backend.copy_into(call_arrays[positions[j]], flat[j])

    return run


def _per_param_values(fn: str, name: str, value: Any, n: int, default: Any, kind) -> tuple:
    if value is None:
        return (default,) * n
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{fn}: argument {name!r} must be a list, got {type(value).__name__}")
    if len(value) != n:
        raise ValueError(f"{fn}: argument {name!r} has {len(value)} entries but 'params' has {n}")
    return tuple(kind(fn, name, v) for v in value)


def _ratio(fn, name, v):
    return _scalar(fn, name, v)


def _flag(fn, name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument {name!r} must hold bools, got {type(v).__name__}")
    return bool(v)


def _adam(fn: str, params, grads, moments1, moments2, lr, step, beta1, beta2, epsilon, coeff, decay,
          master_params, lr_ratios) -> None:
    params = _list(fn, "params", params, None)
    n = len(params)
    lists = {"params": params, "grads": _list(fn, "grads", grads, n),
             "moments1": _list(fn, "moments1", moments1, n), "moments2": _list(fn, "moments2", moments2, n)}
    masters = _list(fn, "master_params", master_params, n, optional=True)
    step = _scalar(fn, "step", step, integer=True)
    if step < 1:
        raise ValueError(f"{fn}: argument 'step' = {step} must be >= 1 (bias correction uses beta**step)")
    values = {"lr": _scalar(fn, "lr", lr), "step": step, "beta1": _scalar(fn, "beta1", beta1),
              "beta2": _scalar(fn, "beta2", beta2), "epsilon": _scalar(fn, "epsilon", epsilon),
              "coeff": _scalar(fn, "coeff", coeff)}
    for name in ("beta1", "beta2"):
        if not 0 <= values[name] < 1:
            raise ValueError(f"{fn}: argument {name!r} = {values[name]} must be in [0, 1)")
    decay = _per_param_values(fn, "decay", decay, n, True, _flag)
    # PaddlePaddle 2.0's adamw.py decays the float16 parameter before the adam op, which then
    # reads the master weight and overwrites the parameter with its cast: the decay is lost
    # (a bug, fixed later by the fused adamw op). hakl decays the master, the weight the step
    # updates, so multi_precision trains as float32 does.
    per_param = {"decay": decay, "lr_ratios": _per_param_values(fn, "lr_ratios", lr_ratios, n, 1.0, _ratio)}
    _run(fn, ADAMW, lists, masters, values, per_param)


def adamw(params, grads, moments1, moments2, *, lr, step, beta1=0.9, beta2=0.999, epsilon=1e-8, coeff=0.01,
          decay=None, master_params=None, lr_ratios=None) -> None:
    """PaddlePaddle 2.0's AdamW step over every parameter, in place: per parameter (lr_p =
    lr * lr_ratios[i]) p <- p * (1 - lr_p * coeff) where decay[i] (None: all), then
    m1 <- beta1 m1 + (1 - beta1) g, m2 <- beta2 m2 + (1 - beta2) g^2,
    p <- p - lr_p sqrt(1 - beta2^t) / (1 - beta1^t) * m1 / (sqrt(m2) + epsilon sqrt(1 - beta2^t)).
    With master_params[i] (float32, for a float16 parameter) the decay and the step run on
    the master and the parameter receives its cast.

    >>> import numpy as np, hakl
    >>> p = [np.ones(3, np.float32)]; g = [np.ones(3, np.float32)]
    >>> m1, m2 = [np.zeros(3, np.float32)], [np.zeros(3, np.float32)]
    >>> hakl.adamw(p, g, m1, m2, lr=0.1, step=1, coeff=0.0)
    >>> p[0].round(4)
    array([0.9, 0.9, 0.9], dtype=float32)
    """
    _adam("adamw", params, grads, moments1, moments2, lr, step, beta1, beta2, epsilon, coeff, decay,
          master_params, lr_ratios)


def adam(params, grads, moments1, moments2, *, lr, step, beta1=0.9, beta2=0.999, epsilon=1e-8,
         master_params=None, lr_ratios=None) -> None:
    """PaddlePaddle 2.0's Adam step (adamw without decay), in place; see adamw."""
    _adam("adam", params, grads, moments1, moments2, lr, step, beta1, beta2, epsilon, 0.0,
          [False] * len(params) if isinstance(params, (list, tuple)) else None, master_params, lr_ratios)


def sgd(params, grads, *, lr, master_params=None, lr_ratios=None) -> None:
    """p <- p - lr * lr_ratios[i] * g for every parameter, in place (master weights as adamw)."""
    params = _list("sgd", "params", params, None)
    n = len(params)
    lists = {"params": params, "grads": _list("sgd", "grads", grads, n)}
    masters = _list("sgd", "master_params", master_params, n, optional=True)
    _run("sgd", SGD, lists, masters, {"lr": _scalar("sgd", "lr", lr)},
         {"lr_ratios": _per_param_values("sgd", "lr_ratios", lr_ratios, n, 1.0, _ratio)})


def momentum(params, grads, velocities, *, lr, mu=0.9, use_nesterov=False, master_params=None,
             lr_ratios=None) -> None:
    """PaddlePaddle 2.0's Momentum, in place: v <- mu v + g; p <- p - lr_p v, or with
    use_nesterov p <- p - (g + mu v) lr_p (master weights as adamw)."""
    fn = "momentum"
    params = _list(fn, "params", params, None)
    n = len(params)
    lists = {"params": params, "grads": _list(fn, "grads", grads, n), "velocities": _list(fn, "velocities", velocities, n)}
    masters = _list(fn, "master_params", master_params, n, optional=True)
    if not isinstance(use_nesterov, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'use_nesterov' must be a bool, got {type(use_nesterov).__name__}")
    _run(fn, MOMENTUM, lists, masters, {"lr": _scalar(fn, "lr", lr), "mu": _scalar(fn, "mu", mu)},
         {"lr_ratios": _per_param_values(fn, "lr_ratios", lr_ratios, n, 1.0, _ratio)}, bool(use_nesterov))


# ---- declarations for the generic tests ----------------------------------------

def _samples(op: str):
    def samples(dtype: str, rng: np.random.Generator):
        shapes = [(3,), (2, 4), ()]
        problem = problem_for(op, "cpu", dtype, [3, 8, 1], False, default_params(op, 3))
        arrays = _tensors(problem, shapes, rng)
        lists = [list(arrays[k * 3:(k + 1) * 3]) for k in range(len(LISTS[op]))]
        kwargs = {"adamw": dict(lr=1e-2, step=2), "sgd": dict(lr=1e-2), "momentum": dict(lr=1e-2)}[op]
        yield Sample(tuple(lists), kwargs)
    return samples


register_function(
    Function("adamw", adamw, ("adamw",), _PARAM_INPUTS["adamw"], _samples("adamw")),
    Function("adam", adam, ("adamw",), _PARAM_INPUTS["adamw"], _samples("adamw")),
    Function("sgd", sgd, ("sgd",), _PARAM_INPUTS["sgd"], _samples("sgd")),
    Function("momentum", momentum, ("momentum",), _PARAM_INPUTS["momentum"], _samples("momentum")),
)
