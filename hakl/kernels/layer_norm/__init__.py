"""layer_norm over the trailing axes (PaddlePaddle 2.0's F.layer_norm), forward and backward.

    >>> import numpy as np, hakl
    >>> x = np.array([[1.0, 2.0, 3.0, 6.0]], np.float32)
    >>> hakl.layer_norm(x, 4)
    array([[-1.0690434, -0.5345217,  0.       ,  1.6035651]], dtype=float32)
    >>> y, mean, rstd = hakl.layer_norm_with_stats(x, [4], np.ones(4, np.float32), np.zeros(4, np.float32))
    >>> dx, dw, db = hakl.layer_norm_grad(x, np.ones_like(x), mean, rstd, 4, np.ones(4, np.float32), True)

Every variant sees the canonical problem: a contiguous (rows, n) array normalised over n
(n = prod(normalized_shape), rows the product of the leading axes). Two ops:

    layer_norm       (x, [weight], [bias])           -> (y, mean, rstd)
    layer_norm_grad  (x, dout, mean, rstd, [weight])  -> (dx, [dweight], [dbias])

Flags (the tuning key): `weight`, `bias` (for the grad: has_bias). Param: epsilon.
float64 computes in float64 (PaddlePaddle 2.0.1's fix: a float64 LayerNorm ran at
float32 precision), float32 in float32, float16 in float32 with float32 statistics
(mean and rstd are float32 for float16 x, else x's dtype). The backward reads the
forward's statistics: `layer_norm_with_stats` is the function an autograd records (its
Derivative saves its outputs, so the backward never recomputes them); `layer_norm`'s own
Derivative, which only has the inputs, recomputes them first. dweight / dbias are sums
over rows made deterministic on every backend: fixed blocks of rows write partial sums
that one fixed-order pass adds.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, dtype_name,
                   register, register_function, validate)
from ...tuning import dispatch
from . import reference

# (rtol, atol as a fraction of the largest |reference|): float64 to ~1e-12 (the 2.0.1 fix is
# what this checks: float32 arithmetic would be off by 1e-7); float16 outputs are rounded
# once to half (5e-4).
TOLERANCES = {"float16": (2e-3, 2e-3), "float32": (1e-5, 1e-5), "float64": (1e-12, 1e-12)}
# Gradients add a row sum (dx) and a sum over rows (dweight, dbias).
GRAD_TOLERANCES = {"float16": (3e-3, 3e-3), "float32": (1e-4, 2e-5), "float64": (1e-11, 1e-12)}
STATS = ("float32", "float64")


def stat_dtype(dtype: str) -> str:
    return "float64" if dtype == "float64" else "float32"


# ---- sample inputs and conformance cases -----------------------------------------


def _eps(problem: Problem) -> float:
    return dict(problem.params).get("epsilon", 1e-5)


def _x(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    return (2 * rng.standard_normal(problem.shape) + 0.5).astype(problem.dtype)


def _affine(problem: Problem, rng: np.random.Generator, *flags: str) -> tuple[np.ndarray, ...]:
    n = problem.shape[1]
    return tuple(rng.uniform(-1.5, 1.5, n).astype(problem.dtype) for f in flags if problem.flag(f))


def _grad_inputs(problem: Problem, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    st = stat_dtype(problem.dtype)
    fwd = Problem("layer_norm", problem.backend, problem.dtype, problem.shape, (("weight", False), ("bias", False)),
                  problem.params)
    _, mean, rstd = reference.forward(fwd, x)
    dout = rng.standard_normal(problem.shape).astype(problem.dtype)
    return (x, dout, mean.astype(st), rstd.astype(st), *_affine(problem, rng, "weight"))


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (_x(problem, rng), *_affine(problem, rng, "weight", "bias"))


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return _grad_inputs(problem, _x(problem, rng), rng)


def _special(dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Rows: random, NaN, +inf, -inf, +inf and -inf, constant, an offset of 16 standard
    deviations (a one-pass variance loses it), large magnitudes, a single spike."""
    rows = rng.standard_normal((9, 300))
    rows[1, 7] = np.nan
    rows[2, 11] = np.inf
    rows[3, 5] = -np.inf
    rows[4, :2] = np.inf, -np.inf
    rows[5] = 3.25
    rows[6] = 8 + 0.5 * rng.standard_normal(300)
    rows[7] = 1e4 * rng.standard_normal(300)
    rows[8] = 0
    rows[8, 123] = 50
    return rows.astype(dtype)


SHAPES = [(7, 5), (33, 1000), (4, 4097), (130, 64), (1, 1), (3, 1), (65, 3), (2, 1024)]
QUICK_SHAPES = [(7, 5), (33, 1000), (65, 3)]


def _flag_sets(grad: bool):
    if grad:
        return [(("weight", False), ("bias", False)), (("weight", True), ("bias", True)),
                (("weight", False), ("bias", True))]
    return [(("weight", False), ("bias", False)), (("weight", True), ("bias", False)),
            (("weight", True), ("bias", True))]


def _dtypes(op_name: str, dtype: str, flags) -> tuple[str, ...]:
    f = dict(flags)
    if op_name == "layer_norm":
        return (dtype,) * (1 + f["weight"] + f["bias"])
    st = stat_dtype(dtype)
    return (dtype, dtype, st, st) + ((dtype,) if f["weight"] else ())


def _cases(op_name: str):
    grad = op_name == "layer_norm_grad"

    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        for k, flags in enumerate(_flag_sets(grad)):
            params = () if grad else (("epsilon", 1e-5 if k != 1 else 1e-3),)
            dtypes = _dtypes(op_name, dtype, flags)
            shapes = QUICK_SHAPES if quick else SHAPES
            for shape in shapes:
                problem = Problem(op_name, backend, dtype, shape, flags, params, dtypes)
                yield problem, (_sample_backward if grad else _sample_forward)(problem, rng)
            x = _special(dtype, rng)
            problem = Problem(op_name, backend, dtype, x.shape, flags, params, dtypes)
            yield problem, (_grad_inputs(problem, x, rng) if grad else (x, *_affine(problem, rng, "weight", "bias")))
    return cases


def _compare_forward(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """TOLERANCES per output, the absolute part relative to each element's own terms where
    the result cancels: a row's mean of large values of both signs (its terms: mean |x|),
    and y = xhat * w + b, where xhat carries x's rounding times rstd (two near-equal values
    in a row of two: rstd ~ 1/sqrt(eps) turns ulps of x into 3e-5 of y) and b may cancel
    xhat * w. rstd keeps the plain tolerance: it is what catches a variance computed badly
    (one pass over a row offset by 16 standard deviations), which moves y by less than the
    terms allow."""
    from ...op import _close, each_output

    x = np.asarray(inputs[0], np.float64)
    rest = iter(inputs[1:])
    w = np.asarray(next(rest), np.float64) if problem.flag("weight") else 1.0
    b = np.asarray(next(rest), np.float64) if problem.flag("bias") else 0.0
    _, mean, rstd = expected
    with np.errstate(all="ignore"):
        terms_y = (np.abs(x) + np.abs(mean)[:, None]) * rstd[:, None] * np.abs(w) + np.abs(b)
        terms_mean = np.abs(x).mean(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    rtol, atol = TOLERANCES[problem.dtype]
    terms = (terms_y, terms_mean, None)

    def one(i: int, o: np.ndarray, e: np.ndarray) -> str | None:
        t = terms[i]
        return _close(o, e, rtol, atol, None if t is None else np.where(np.isfinite(t), t, 0.0))

    return each_output(out, expected, one)


def _compare_grad(problem: Problem, out: Any, expected: Any, inputs: tuple) -> str | None:
    """GRAD_TOLERANCES per output, with an absolute floor where the result cancels: dx =
    rstd * (g - mean(g) - xhat * mean(g * xhat)) is ~0 for rows of n <= 2 (and near it
    for many rows), where any kernel is off by a few ulps of rstd * |g| times sqrt(n); the
    sums over rows likewise by ulps of their terms times sqrt(rows)."""
    from ...op import _close, each_output

    x, dout, mean, rstd = (np.asarray(a, np.float64) for a in inputs[:4])
    w = np.asarray(inputs[4], np.float64) if problem.flag("weight") else np.ones(x.shape[1])
    rows, n = x.shape
    eps = float(np.finfo(stat_dtype(problem.dtype)).eps)
    with np.errstate(all="ignore"):
        g = np.abs(dout * w)
        terms = np.abs(dout * (x - mean[:, None]) * rstd[:, None])
        scales = [np.nanmax(np.where(np.isfinite(g), g, 0), axis=1) * np.where(np.isfinite(rstd), rstd, 0),
                  np.where(np.isfinite(terms), terms, 0), np.abs(dout)]
    floors = [8 * eps * math.sqrt(n) * float(scales[0].max(initial=0))]
    if problem.flag("weight"):
        floors.append(8 * eps * math.sqrt(rows) * float(scales[1].max(initial=0)))
    if problem.flag("bias"):
        floors.append(8 * eps * math.sqrt(rows) * float(scales[2].max(initial=0)))
    rtol, atol = GRAD_TOLERANCES[problem.dtype]
    def one(i: int, o: np.ndarray, e: np.ndarray) -> str | None:
        finite = np.isfinite(e)
        scale = float(np.abs(e[finite]).max()) if finite.any() else 0.0
        floor = floors[i] + (2.0 ** -24 if problem.dtype == "float16" else 0.0)
        if scale == 0:  # an exact zero (rows of n = 1): the floor is all there is
            got = np.abs(o.astype(np.float64)[finite])
            return f"{int((got > floor).sum())} elements off zero by up to {got.max():.3g}" if (got > floor).any() \
                else _close(o, e, rtol, atol)
        return _close(o, e, rtol, max(atol, floor / scale))

    return each_output(out, expected, one)


def _nbytes(grad: bool):
    def nbytes(p: Problem) -> int:
        rows, n = p.shape
        item, st = p.np_dtype.itemsize, np.dtype(stat_dtype(p.dtype)).itemsize
        if grad:  # x, dout, dx; the statistics; weight, dweight, dbias
            return 3 * p.size * item + 2 * rows * st + n * item * (2 * bool(p.flag("weight")) + bool(p.flag("bias")))
        return 2 * p.size * item + 2 * rows * st + n * item * (bool(p.flag("weight")) + bool(p.flag("bias")))
    return nbytes


LAYER_NORM = register(Op(
    name="layer_norm", reference=reference.forward, sample=_sample_forward, nbytes=_nbytes(False),
    tolerances=TOLERANCES, cases=_cases("layer_norm"), inputs=(Input("x"), Input("weight"), Input("bias")),
    example=lambda x, axis, o: layer_norm_with_stats(x, x.shape[axis:]), conformance_quick=("opencl",),
    compare=_compare_forward,
))
LAYER_NORM_GRAD = register(Op(
    name="layer_norm_grad", reference=reference.backward, sample=_sample_backward, nbytes=_nbytes(True),
    tolerances=GRAD_TOLERANCES, cases=_cases("layer_norm_grad"),
    inputs=(Input("x"), Input("dout", role="grad"), Input("mean", STATS), Input("rstd", STATS), Input("weight")),
    example=lambda x, axis, o: _tune_grad(x, axis), conformance_quick=("opencl",), compare=_compare_grad,
))
attach_variants(__name__, {LAYER_NORM: "forward_variants", LAYER_NORM_GRAD: "backward_variants"})


def _tune_grad(x: Any, axis: int) -> Any:
    shape = x.shape[axis:]
    _, mean, rstd = layer_norm_with_stats(x, shape)
    return layer_norm_grad(x, x, mean, rstd, shape)


# ---- argument checks and the canonical problem ------------------------------------


def _normalized(name: str, normalized_shape: Any, x: Any) -> tuple[int, ...]:
    """normalized_shape as a tuple equal to x's trailing dimensions (an int is one axis)."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        shape = (int(normalized_shape),)
    elif isinstance(normalized_shape, (tuple, list)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in normalized_shape):
        shape = tuple(int(d) for d in normalized_shape)
    else:
        raise TypeError(f"{name}: argument 'normalized_shape' must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    if not shape:
        raise ValueError(f"{name}: argument 'normalized_shape' must name at least one trailing axis, got ()")
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"{name}: argument 'normalized_shape' = {list(shape)} does not match the trailing "
                         f"dimensions of 'x' with shape {tuple(x.shape)}")
    return shape


def _check_affine(name: str, arg: str, a: Any, x: Any, shape: tuple[int, ...]) -> None:
    if tuple(a.shape) not in (shape, (math.prod(shape),)):
        expected = f"{shape}" + (f" or ({math.prod(shape)},)" if len(shape) > 1 else "")
        raise ValueError(f"{name}: argument {arg!r} has shape {tuple(a.shape)}; expected {expected}")
    if a.dtype != x.dtype:
        raise TypeError(f"{name}: argument {arg!r} has dtype {a.dtype} but 'x' has {x.dtype}")


def _epsilon(name: str, epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: argument 'epsilon' must be a real number, got {type(epsilon).__name__}")
    if not epsilon >= 0:
        raise ValueError(f"{name}: argument 'epsilon' = {epsilon} must be >= 0")
    return float(epsilon)


class _Call:
    """One validated call: the backend, the (rows, n) view of x, the optional inputs."""

    def __init__(self, name: str, x: Any, normalized_shape: Any, extra: tuple[tuple[Input, Any], ...]):
        specs, arrays = [Input("x")], [x]
        for spec, a in extra:
            if a is not None:
                specs.append(spec)
                arrays.append(a)
        self.backend = validate(name, tuple(specs), tuple(arrays), same_shape=False)
        self.shape = _normalized(name, normalized_shape, x)
        self.lead = tuple(x.shape[:x.ndim - len(self.shape)])
        self.rows, self.n = math.prod(self.lead), math.prod(self.shape)
        self.dtype, self.stat = dtype_name(x.dtype), stat_dtype(dtype_name(x.dtype))

    def flat(self, a: Any, shape: tuple[int, ...]) -> Any:
        return self.backend.ascontiguous(a).reshape(shape)

    @property
    def empty(self) -> bool:
        return self.rows * self.n == 0


def _forward(name: str, x: Any, normalized_shape: Any, weight: Any, bias: Any, epsilon: Any):
    """(y, mean, rstd) through the call's plan (hakl.op.call_key): checks and selection once
    per layout and options."""
    arrays = (x, *(a for a in (weight, bias) if a is not None))
    key = call_key(name, arrays, weight is None, bias is None, normalized_shape, epsilon)
    plan = dispatch.planned(key, lambda: _prepare_forward(name, x, normalized_shape, weight, bias, epsilon))
    return plan(x, weight, bias)


def _prepare_forward(name: str, x: Any, normalized_shape: Any, weight: Any, bias: Any, epsilon: Any):
    call = _Call(name, x, normalized_shape, ((Input("weight"), weight), (Input("bias"), bias)))
    for arg, a in (("weight", weight), ("bias", bias)):
        if a is not None:
            _check_affine(name, arg, a, x, call.shape)
    eps = _epsilon(name, epsilon)
    backend = call.backend
    if call.empty:  # the statistics of no elements are NaN (NumPy's mean of nothing)
        nan = lambda: backend.asarray(np.full(call.lead, np.nan, call.stat))  # noqa: E731
        return lambda x, weight, bias: (backend.empty(x.shape, x.dtype), nan(), nan())
    flags = (("weight", weight is not None), ("bias", bias is not None))
    problem = Problem("layer_norm", backend.name, call.dtype, (call.rows, call.n), flags, (("epsilon", eps),),
                      (call.dtype,) * (1 + sum(a is not None for a in (weight, bias))))
    launcher, params = dispatch.select(LAYER_NORM, problem).launcher, dict(problem.params)

    def run(x, weight, bias):
        extra = tuple(call.flat(a, (call.n,)) for a in (weight, bias) if a is not None)
        y, mean, rstd = launcher(call.flat(x, (call.rows, call.n)), *extra, **params)
        return y.reshape(x.shape), mean.reshape(call.lead), rstd.reshape(call.lead)

    return run


def layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, epsilon: float = 1e-05) -> Any:
    """(x - mean) / sqrt(var + epsilon) * weight + bias, the statistics over the trailing axes
    `normalized_shape` (an int or a sequence equal to x.shape[-len:]), on x's device.
    weight and bias: shaped normalized_shape (or flattened), x's dtype; None leaves them out."""
    return _forward("layer_norm", x, normalized_shape, weight, bias, epsilon)[0]


def layer_norm_with_stats(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
                          epsilon: float = 1e-05) -> tuple[Any, Any, Any]:
    """(y, mean, rstd): layer_norm's output and its row statistics, shaped like x's leading
    axes (float32 for float16 x, else x's dtype), which layer_norm_grad reads."""
    return _forward("layer_norm_with_stats", x, normalized_shape, weight, bias, epsilon)


def layer_norm_grad(x: Any, dout: Any, mean: Any, rstd: Any, normalized_shape: Any, weight: Any = None,
                    has_bias: bool = False) -> tuple[Any, Any, Any]:
    """(dx, dweight, dbias) of layer_norm(x, normalized_shape, weight, bias) given dout, the
    gradient of its output, and the forward's statistics (layer_norm_with_stats). dweight
    (weight's shape) is None when weight is None; dbias (the sum of dout over the leading
    axes, normalized_shape) is None unless has_bias. Deterministic."""
    name = "layer_norm_grad"
    arrays = (x, dout, mean, rstd) if weight is None else (x, dout, mean, rstd, weight)
    key = call_key(name, arrays, weight is None, normalized_shape, has_bias)
    plan = dispatch.planned(key, lambda: _prepare_grad(name, x, dout, mean, rstd, normalized_shape, weight, has_bias))
    return plan(x, dout, mean, rstd, weight)


def _prepare_grad(name: str, x: Any, dout: Any, mean: Any, rstd: Any, normalized_shape: Any, weight: Any,
                  has_bias: Any):
    stats = Input("mean", STATS), Input("rstd", STATS)
    call = _Call(name, x, normalized_shape, ((Input("dout", role="grad"), dout), (stats[0], mean), (stats[1], rstd),
                                             (Input("weight"), weight)))
    if not isinstance(has_bias, (bool, np.bool_)):
        raise TypeError(f"{name}: argument 'has_bias' must be a bool, got {type(has_bias).__name__}")
    if tuple(dout.shape) != tuple(x.shape) or dout.dtype != x.dtype:
        raise ValueError(f"{name}: argument 'dout' must have x's shape {tuple(x.shape)} and dtype {x.dtype}, got "
                         f"{tuple(dout.shape)} {dout.dtype}")
    for arg, a in (("mean", mean), ("rstd", rstd)):
        if tuple(a.shape) != call.lead or dtype_name(a.dtype) != call.stat:
            raise ValueError(f"{name}: argument {arg!r} must have shape {call.lead} and dtype {call.stat}, got "
                             f"{tuple(a.shape)} {a.dtype}")
    if weight is not None:
        _check_affine(name, "weight", weight, x, call.shape)
    backend, has_bias = call.backend, bool(has_bias)
    if call.empty:
        zeros = lambda shape: backend.asarray(np.zeros(shape, x.dtype))  # noqa: E731
        return lambda x, dout, mean, rstd, weight: (backend.empty(x.shape, x.dtype),
                                                    None if weight is None else zeros(weight.shape),
                                                    zeros(call.shape) if has_bias else None)
    flags = (("weight", weight is not None), ("bias", has_bias))
    problem = Problem("layer_norm_grad", backend.name, call.dtype, (call.rows, call.n), flags, (),
                      _dtypes("layer_norm_grad", call.dtype, flags))
    launcher = dispatch.select(LAYER_NORM_GRAD, problem).launcher
    two = (call.rows, call.n)

    def run(x, dout, mean, rstd, weight):
        extra = () if weight is None else (call.flat(weight, (call.n,)),)
        out = list(launcher(call.flat(x, two), call.flat(dout, two), call.flat(mean, (call.rows,)),
                            call.flat(rstd, (call.rows,)), *extra))
        dx = out.pop(0).reshape(x.shape)
        dweight = out.pop(0).reshape(weight.shape) if weight is not None else None
        dbias = out.pop(0).reshape(call.shape) if has_bias else None
        return dx, dweight, dbias

    return run


# ---- the public functions' declarations ----------------------------------------


def _args(args: tuple, kwargs: dict) -> tuple:
    """(x, normalized_shape, weight, bias, epsilon) of a layer_norm call, positional or keyword."""
    names = ("x", "normalized_shape", "weight", "bias", "epsilon")
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound["x"], bound["normalized_shape"], bound.get("weight"), bound.get("bias"), bound.get("epsilon", 1e-5)


def _stat_terms(x: Any, mean: Any, rstd: Any, dmean: Any, drstd: Any, k: int) -> Any:
    """The gradient that reaches x through the statistics themselves, when something used
    them: dmean / n - drstd * rstd^2 * xhat / n (d rstd / d x_i = -rstd^3 (x_i - mean) / n),
    in the statistics' dtype and broadcastable to x (hakl's elementwise ops: a rare path)."""
    from ...backends import backend_of
    from ..cast import cast
    from ..elementwise import divide, multiply, subtract

    backend = backend_of(x)
    n = math.prod(x.shape[x.ndim - k:])
    lead = tuple(mean.shape) + (1,) * k
    m, r = mean.reshape(lead), rstd.reshape(lead)
    total = None
    if dmean is not None:
        total = divide(backend.ascontiguous(dmean).reshape(lead), n)
    if drstd is not None:
        xs = x if x.dtype == mean.dtype else cast(x, mean.dtype)
        scale = divide(multiply(multiply(backend.ascontiguous(drstd).reshape(lead), r), r), n)
        term = multiply(multiply(subtract(xs, m), r), scale)
        total = term if total is None else subtract(total, term)
    return total if total.dtype == x.dtype else cast(total, x.dtype)


def _backward_with(args: tuple, kwargs: dict, stats: tuple, dy: Any, dstats: tuple = (None, None)) -> tuple:
    from ..elementwise import add

    x, shape, weight, bias, _ = _args(args, kwargs)
    mean, rstd = stats
    dx, dweight, dbias = layer_norm_grad(x, dy, mean, rstd, shape, weight, bias is not None)
    if dstats[0] is not None or dstats[1] is not None:
        dx = add(dx, _stat_terms(x, mean, rstd, *dstats, len(_normalized("layer_norm", shape, x))))
    return dx, dweight, dbias


def _derivative_recompute(args, kwargs, out, dout):
    """layer_norm's: only the inputs are saved, so the statistics are computed again."""
    x, shape, weight, bias, epsilon = _args(args, kwargs)
    _, mean, rstd = layer_norm_with_stats(x, shape, None, None, epsilon)
    return _backward_with(args, kwargs, (mean, rstd), dout)


def _derivative_stats(args, kwargs, out, dout):
    """layer_norm_with_stats': the forward's mean and rstd are read from its outputs."""
    dy, dmean, drstd = dout
    return _backward_with(args, kwargs, out[1:], dy, (dmean, drstd))


_SAMPLE_SHAPES = (((4, 6), 6, (6,)), ((2, 3, 5), (3, 5), (3, 5)), ((3, 4, 2), [2], (2,)), ((5, 7), (7,), (7,)))


def _samples(kind: str):
    """Small calls: an int, a tuple and a list normalized_shape, weight shaped
    normalized_shape or flattened, a non-default epsilon; weight and bias are always given
    (positions 2 and 3 are differentiable: the finite-difference test perturbs them)."""
    def samples(dtype: str, rng: np.random.Generator):
        for i, (xs, shape, ws) in enumerate(_SAMPLE_SHAPES):
            x = (rng.standard_normal(xs) * 2 + 0.3).astype(dtype)
            w = rng.uniform(0.5, 1.5, ws).astype(dtype)
            b = rng.standard_normal(ws).astype(dtype)
            if i == 1:
                w = w.reshape(-1)  # the flattened form
            kwargs = {"epsilon": 1e-3} if i == 3 else {}
            if kind != "grad":
                yield Sample((x, shape, w, b), kwargs)
                continue
            _, mean, rstd = layer_norm_with_stats(x, shape, w, b, **kwargs)
            dout = rng.standard_normal(xs).astype(dtype)
            yield Sample((x, dout, mean, rstd, shape, w), {"has_bias": i % 2 == 0})
    return samples


_X = (Input("x"),)
register_function(
    Function("layer_norm", layer_norm, ("layer_norm", "layer_norm_grad"), _X, _samples("forward"),
             derivative=Derivative((0, 2, 3), _derivative_recompute, saves=("inputs",))),
    Function("layer_norm_with_stats", layer_norm_with_stats, ("layer_norm", "layer_norm_grad"), _X,
             _samples("forward"), derivative=Derivative((0, 2, 3), _derivative_stats, saves=("inputs", "output"))),
    Function("layer_norm_grad", layer_norm_grad, ("layer_norm_grad",),
             (Input("x"), Input("dout", role="grad"), Input("mean", STATS), Input("rstd", STATS)), _samples("grad")),
)

__all__ = ["layer_norm", "layer_norm_with_stats", "layer_norm_grad", "LAYER_NORM", "LAYER_NORM_GRAD"]
