"""Unary activations and their gradients: relu, tanh, sigmoid, exp, log, sqrt,
elu(alpha), gelu(approximate), softplus(beta, threshold) (PaddlePaddle 2.0's names).

    >>> import numpy as np
    >>> from hakl.kernels.activation import relu, gelu
    >>> relu(np.array([-1.0, 0.5, np.nan], np.float32))
    array([0. , 0.5, nan], dtype=float32)

Floats only (float16 computes in float32). NaN and ±inf as NumPy / torch: relu,
elu and softplus keep NaN (elu(NaN) is NaN: the Paddle 2.0.1 fix), exp overflows
to inf, log(0) = -inf, log and sqrt of a negative are NaN, gelu(-inf) = 0.
gelu is x * Phi(x) (erfc form, accurate for large negative x), or with
approximate=True the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
softplus(x) = log1p(exp(beta x)) / beta, and x where beta x > threshold.

Every variant sees a contiguous 1-D array; the function is the `fn` flag (a run-time
switch in one kernel per backend and dtype); alpha, beta and threshold are run-time
params. Gradients (`relu_grad(y, dout)`, ...) take the forward's output y (relu,
tanh, sigmoid, exp, sqrt) or its input x (log, elu, gelu, softplus), as noted on
each, and run the `activation_grad` op. relu's gradient at 0 is 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, dtype_name, option,
                   register, register_function, validate)
from ...tuning import dispatch
from . import reference

FNS = {name: i for i, name in enumerate(("relu", "tanh", "sigmoid", "exp", "log", "sqrt", "elu", "gelu",
                                         "gelu_tanh", "softplus"))}
PARAMS = {"elu": ("alpha",), "softplus": ("beta", "threshold")}
DEFAULTS = {"alpha": 1.0, "beta": 1.0, "threshold": 20.0}

# (rtol, atol as a fraction of the largest |reference|): transcendental functions are
# within a few ulp (OpenCL allows 16 for erfc); atol covers gelu's and sigmoid's tails.
TOLERANCES = {"float16": (2e-3, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)}
# Gradients: float16 stores d * (a sum of terms) with one more rounding than the forward.
GRAD_TOLERANCES = {**TOLERANCES, "float16": (2e-3, 2e-3)}
_SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0, -100.0, 1000.0, -1000.0, 1e-30]


def _positive(fn: str) -> bool:
    return fn in ("log", "sqrt")


def _values(fn: str, dtype: str, shape, rng: np.random.Generator) -> np.ndarray:
    if _positive(fn):
        return np.asarray(rng.uniform(0.5, 3.0, shape)).astype(dtype)
    return np.asarray(rng.standard_normal(shape) * 3).astype(dtype)


def _sample(problem: Problem, rng: np.random.Generator):
    x = _values(problem.flag("fn"), problem.dtype, problem.shape, rng)
    if problem.op == "activation":
        return (x,)
    return x, rng.standard_normal(problem.shape).astype(problem.dtype)


def _with_specials(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = a.copy()
    picks = rng.random(a.size) < 0.1
    with np.errstate(over="ignore"):
        a[picks] = np.array(_SPECIALS)[rng.integers(0, len(_SPECIALS), int(picks.sum()))].astype(a.dtype)
    if a.size >= 2:
        a[:2] = np.array([np.nan, -np.inf]).astype(a.dtype)
    return a


SIZES = [1, 7, 1000, 70001]
QUICK_SIZES = [7, 1000]


def _params(fn: str, i: int) -> tuple:
    if fn == "elu":
        return (("alpha", 1.0 if i % 2 else 0.5),)
    if fn == "softplus":
        return (("beta", 1.0), ("threshold", 20.0)) if i % 2 else (("beta", 2.0), ("threshold", 10.0))
    return ()


def _cases(op: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for fn in FNS:
            for i, n in enumerate(QUICK_SIZES if quick else SIZES):
                problem = Problem(op, backend, dtype, (n,), (("fn", fn),), _params(fn, i))
                inputs = list(_sample(problem, rng))
                if n > 1:  # NaN, ±inf, ±0, overflowing magnitudes; negatives for log and sqrt
                    inputs[0] = _with_specials(inputs[0], rng)
                    if _positive(fn):
                        inputs[0][-3:] = np.array([-1.0, 0.0, -np.inf]).astype(dtype)
                yield problem, tuple(inputs)
    return cases


def _example(x, axis, o):
    fn = option(o, "fn", "relu")
    if fn == "gelu_tanh":
        return gelu(x, approximate=True)
    return globals()[fn](x)


ACTIVATION = register(Op(
    name="activation", reference=reference.forward_ref, sample=_sample,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize, tolerances=TOLERANCES, cases=_cases("activation"),
    inputs=(Input("x"),), example=_example, conformance_quick=("opencl",),
))
ACTIVATION_GRAD = register(Op(
    name="activation_grad", reference=reference.backward_ref, sample=_sample,
    nbytes=lambda p: 3 * p.size * p.np_dtype.itemsize, tolerances=GRAD_TOLERANCES, cases=_cases("activation_grad"),
    inputs=(Input("x"), Input("dout", role="grad")),
    example=lambda x, axis, o: activation_grad(option(o, "fn", "relu"), x, x), conformance_quick=("opencl",),
))
attach_variants(__name__, {ACTIVATION: "forward_variants", ACTIVATION_GRAD: "backward_variants"})


def _real(name: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: argument {arg!r} must be a real number, got {type(value).__name__}")
    return float(value)


def _param_values(name: str, fn: str, params: dict) -> tuple:
    values = tuple((k, _real(name, k, params[k])) for k in PARAMS.get(fn, ()))
    if dict(values).get("beta", 1.0) <= 0:
        raise ValueError(f"{name}: argument 'beta' = {params['beta']} must be > 0")
    return values


def _flat(op: Op, name: str, fn: str, arrays: tuple, params: dict):
    key = call_key(name, arrays, fn, *params.keys(), *params.values())
    return dispatch.planned(key, lambda: _prepare(op, name, fn, arrays, params))(*arrays)


def _prepare(op: Op, name: str, fn: str, arrays: tuple, params: dict):
    """The activation on arrays like `arrays`, checked: a function of the arrays."""
    specs = (Input("x"),) if op is ACTIVATION else (Input(reference.GIVEN[fn]), Input("dout", role="grad"))
    backend = validate(name, specs, arrays)
    values = _param_values(name, fn, params)
    x = arrays[0]
    shape, dtype = x.shape, x.dtype
    if x.size == 0:
        return lambda *arrays: backend.empty(shape, dtype)
    problem = Problem(op.name, backend.name, dtype_name(dtype), (x.size,), (("fn", fn),), values)
    launcher, flat, scalars = dispatch.select(op, problem).launcher, (x.size,), dict(values)
    if len(arrays) == 1:  # the forward: a small call's list and dict spared
        return lambda x: launcher(backend.ascontiguous(x).reshape(flat), **scalars).reshape(shape)
    return lambda *arrays: launcher(*[backend.ascontiguous(a).reshape(flat) for a in arrays], **scalars
                                    ).reshape(shape)


def activation(fn: str, x: Any, name: str | None = None, **params: Any) -> Any:
    """Activation `fn` (a key of FNS) of x, on x's device."""
    return _flat(ACTIVATION, name or fn, fn, (x,), params)


def activation_grad(fn: str, saved: Any, dout: Any, name: str | None = None, **params: Any) -> Any:
    """dx of activation `fn` given `saved` (its output y or input x, see reference.GIVEN) and dout."""
    return _flat(ACTIVATION_GRAD, name or f"{fn}_grad", fn, (saved, dout), params)


def _approximate(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: argument 'approximate' must be a bool, got {type(value).__name__}")
    return bool(value)


def relu(x: Any) -> Any:
    """max(x, 0); NaN stays NaN."""
    return activation("relu", x)


def tanh(x: Any) -> Any:
    """tanh(x)."""
    return activation("tanh", x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x))."""
    return activation("sigmoid", x)


def exp(x: Any) -> Any:
    """e**x (inf where it overflows)."""
    return activation("exp", x)


def log(x: Any) -> Any:
    """Natural log: -inf at 0, NaN below."""
    return activation("log", x)


def sqrt(x: Any) -> Any:
    """Square root: NaN below 0."""
    return activation("sqrt", x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """x where x > 0, else alpha * (exp(x) - 1); NaN stays NaN."""
    return activation("elu", x, alpha=alpha)


def gelu(x: Any, approximate: bool = False) -> Any:
    """x * Phi(x) (Phi the standard normal CDF), or its tanh approximation."""
    fn = "gelu_tanh" if _approximate("gelu", approximate) else "gelu"
    return activation(fn, x, name="gelu")


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta * x)) / beta, and x where beta * x > threshold."""
    return activation("softplus", x, beta=beta, threshold=threshold)


def relu_grad(y: Any, dout: Any) -> Any:
    """relu's dx given its output y: dout where y > 0, else 0."""
    return activation_grad("relu", y, dout)


def tanh_grad(y: Any, dout: Any) -> Any:
    """tanh's dx given its output y: dout * (1 - y**2)."""
    return activation_grad("tanh", y, dout)


def sigmoid_grad(y: Any, dout: Any) -> Any:
    """sigmoid's dx given its output y: dout * y * (1 - y)."""
    return activation_grad("sigmoid", y, dout)


def exp_grad(y: Any, dout: Any) -> Any:
    """exp's dx given its output y: dout * y."""
    return activation_grad("exp", y, dout)


def log_grad(x: Any, dout: Any) -> Any:
    """log's dx given its input x: dout / x."""
    return activation_grad("log", x, dout)


def sqrt_grad(y: Any, dout: Any) -> Any:
    """sqrt's dx given its output y: dout / (2 y)."""
    return activation_grad("sqrt", y, dout)


def elu_grad(x: Any, dout: Any, alpha: float = 1.0) -> Any:
    """elu's dx given its input x: dout where x > 0, else dout * alpha * exp(x)."""
    return activation_grad("elu", x, dout, alpha=alpha)


def gelu_grad(x: Any, dout: Any, approximate: bool = False) -> Any:
    """gelu's dx given its input x."""
    fn = "gelu_tanh" if _approximate("gelu_grad", approximate) else "gelu"
    return activation_grad(fn, x, dout, name="gelu_grad")


def softplus_grad(x: Any, dout: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """softplus's dx given its input x: dout * sigmoid(beta x), dout where beta x > threshold."""
    return activation_grad("softplus", x, dout, beta=beta, threshold=threshold)


# ---- the public functions' declarations ------------------------------------------

PUBLIC = ("relu", "tanh", "sigmoid", "exp", "log", "sqrt", "elu", "gelu", "softplus")
SAMPLE_SHAPES = ((3, 4), (2, 3, 5), ())
_KWARGS = {"elu": ({}, {"alpha": 0.5}), "gelu": ({}, {"approximate": True}),
           "softplus": ({}, {"beta": 2.0, "threshold": 3.0})}


def _function_samples(fn: str, grad: bool):
    def samples(dtype: str, rng: np.random.Generator):
        for i, shape in enumerate(SAMPLE_SHAPES):
            kwargs = _KWARGS.get(fn, ({},))[i % len(_KWARGS.get(fn, ({},)))]
            x = _values(fn, dtype, shape, rng)
            if not grad:
                yield Sample((x,), kwargs)
                continue
            given = reference.GIVEN["gelu_tanh" if kwargs.get("approximate") else fn]
            s = x if given == "x" else np.asarray(globals()[fn](x, **kwargs))
            yield Sample((s, np.asarray(rng.standard_normal(shape)).astype(dtype)), kwargs)
    return samples


def _backward(fn: str):
    grad = globals()[f"{fn}_grad"]
    if reference.GIVEN[fn] == "y":
        return Derivative((0,), lambda args, kwargs, out, dout: (grad(out, dout, **kwargs),), saves=("output",))
    return Derivative((0,), lambda args, kwargs, out, dout: (grad(args[0], dout, **kwargs),))


for _fn in PUBLIC:
    _given = reference.GIVEN[_fn]
    register_function(
        Function(_fn, globals()[_fn], ("activation",), (Input("x"),), _function_samples(_fn, False),
                 derivative=_backward(_fn)),
        Function(f"{_fn}_grad", globals()[f"{_fn}_grad"], ("activation_grad",),
                 (Input(_given), Input("dout", role="grad")), _function_samples(_fn, True)),
    )

__all__ = [*PUBLIC, *(f"{n}_grad" for n in PUBLIC), "activation", "activation_grad"]
