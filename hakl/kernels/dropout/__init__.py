"""dropout (PaddlePaddle 2.0 semantics) with a counter-based generator.

    >>> import numpy as np, hakl
    >>> from hakl.kernels.dropout import dropout
    >>> y = hakl.to_numpy(dropout(np.ones(8, np.float32), p=0.5, seed=7))
    >>> sorted(set(y.tolist())) == [0.0, 2.0]
    True

    dropout(x, p=0.5, axis=None, training=True, mode="upscale_in_train", seed=None)

- mode "upscale_in_train": training gives x * keep / (1 - p), inference x itself;
  mode "downscale_in_infer": training gives x * keep, inference x * (1 - p).
  Kept elements are multiplied by the factor in float32 (float64 for float64
  inputs) and rounded once; dropped ones are x * 0, so a dropped NaN or inf
  stays NaN, as in Paddle and PyTorch. p = 0 returns x exactly, p = 1 zeros.
- axis (an int or a list of ints) drops whole slices: the mask has x's extent on
  those axes and 1 elsewhere, and broadcasts (Paddle's `axis`).
- keep decisions come from Philox-4x32-10 keyed by (seed, offset) (see
  philox.py): mask element j depends only on (seed, offset, j), so the same seed
  gives the same mask on every backend, variant and launch configuration.
- seed=None draws a 64-bit seed from a process-wide generator seeded from OS
  entropy; `manual_seed(s)` reseeds it, which makes seed=None calls repeatable.

For training code, `dropout_forward(x, p, seed, ...)` returns (out, mask or None)
and `dropout_backward(dy, p, seed=... | mask=...)` the input gradient: with a seed
it regenerates the mask (nothing stored: the backward is dropout of dy with the
same seed), with a mask (uint8, 1 = kept) it applies the stored one.

Ops and their Problems: "dropout" sees x flat (n,), or for slice dropout x
reshaped to merged dims with the "slices" flag spelling each dim's kind ('k'
masked, 'a' broadcast); flags also say whether the mask is stored. p, seed,
offset and the kept-element factor `scale` are run-time params, outside the
tuning key: mode only changes `scale`, so both modes share one tuned choice.
"dropout_grad" applies a stored mask: dx = dy * (scale where mask else 0).
"""
from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ...backends import backend_of
from ...op import (Derivative, Function, Input, Op, Problem, Sample, attach_variants, call_key, check_axis,
                   dtype_name, option, register, register_function, validate)
from ...tuning import dispatch
from . import reference

MODES = ("upscale_in_train", "downscale_in_infer")
# (rtol, atol as a fraction of max |reference|): kept elements are x * scale rounded
# once in the compute type; atol covers float16's subnormals
TOLERANCES = {"float16": (1e-3, 1e-6), "float32": (2e-7, 0.0), "float64": (1e-15, 0.0)}

# ---- seeds --------------------------------------------------------------------

_seed_lock = threading.Lock()
_seeds = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the process-wide generator that seed=None calls draw from."""
    global _seeds
    with _seed_lock:
        _seeds = np.random.default_rng(seed)


def next_seed() -> int:
    """A fresh 64-bit seed from the process-wide generator: its raw 64 bits, the values
    integers(0, 2**64, uint64) draws, at a tenth of its cost (0.6 against 4.5 us)."""
    with _seed_lock:
        return _seeds.bit_generator.random_raw()


# ---- ops ----------------------------------------------------------------------


def _sample_forward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.standard_normal(problem.shape, dtype=np.float32).astype(problem.dtype),)


def _sample_backward(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    (dy,) = _sample_forward(problem, rng)
    return dy, rng.integers(0, 2, reference.mask_size(problem), dtype=np.uint8)


SIZES = [1, 3, 4, 5, 17, 1000, 4099, (1 << 16) + 3, (1 << 18) + 5]
QUICK_SIZES = [5, 4099, (1 << 16) + 3]
# merged slice shapes and their kinds: channel dropout (N, C, 1, 1) is "ka", etc.
SLICES = [((6, 50), "ka"), ((50, 6), "ak"), ((3, 40, 5), "aka"), ((4, 3, 50), "kak"),
          ((2, 3, 4, 5), "akak"), ((100,), "a")]
PS = (0.0, 0.1, 0.5, 0.65, 1.0)


def _params(rng: np.random.Generator, p: float, upscale: bool) -> tuple:
    seed = int(rng.integers(0, 1 << 64, dtype=np.uint64))
    offset = int(rng.choice([0, 1, int(rng.integers(0, 1 << 63))]))
    return (("p", p), ("seed", seed), ("offset", offset), ("scale", _scale(p, upscale)))


def _cases(op_name: str):
    def cases(backend: str, dtype: str, rng: np.random.Generator, quick: bool = False):
        shapes = [((n,), "") for n in (QUICK_SIZES if quick else SIZES)] + (SLICES[:3] if quick else SLICES)
        for i, (shape, pattern) in enumerate(shapes):
            for j, p in enumerate(PS):
                store = (i + j) % 2 == 0
                flags = (("mask", store), ("slices", pattern)) if op_name == "dropout" else (("slices", pattern),)
                params = _params(rng, p, (i + j) % 3 != 0)
                problem = Problem(op_name, backend, dtype, shape, flags,
                                  params if op_name == "dropout" else params[-1:])
                inputs = (_sample_forward if op_name == "dropout" else _sample_backward)(problem, rng)
                if j == 2 and inputs[0].size > 4:  # NaN and inf, kept or dropped, stay NaN/inf or become NaN
                    inputs[0].reshape(-1)[[1, 2, 4]] = [np.nan, np.inf, -np.inf]
                yield problem, inputs
    return cases


DROPOUT = register(Op(
    name="dropout",
    reference=reference.forward,
    sample=_sample_forward,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize + (reference.mask_size(p) if p.flag("mask") else 0),
    tolerances=TOLERANCES,
    cases=_cases("dropout"),
    inputs=(Input("x"),),
    example=lambda x, axis, o: dropout_forward(x, option(o, "p", 0.5), seed=0, keep_mask=option(o, "mask", True)),
))
DROPOUT_GRAD = register(Op(
    name="dropout_grad",
    reference=reference.backward,
    sample=_sample_backward,
    nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize + reference.mask_size(p),
    tolerances=TOLERANCES,
    cases=_cases("dropout_grad"),
    inputs=(Input("dy", role="grad"), Input("mask", ("uint8",), role="mask")),
    example=lambda x, axis, o: dropout_backward(
        x, option(o, "p", 0.5), mask=backend_of(x).asarray(np.ones(x.shape, np.uint8))),
))
attach_variants(__name__, {DROPOUT: "forward_variants", DROPOUT_GRAD: "backward_variants"})


# ---- validation ---------------------------------------------------------------


def _scale(p: float, upscale: bool) -> float:
    """The factor applied to kept elements in training."""
    if not upscale:
        return 1.0
    return 1.0 / (1.0 - p) if p < 1.0 else 0.0


def _check_array(op: str, name: str, a: Any):
    return validate(op, (Input(name),), (a,))


def _check_p(op: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: argument 'p' must be a number, got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:  # NaN fails too
        raise ValueError(f"{op}: argument 'p' = {p!r} is out of range [0, 1]")
    return float(p)


def _check_mode(op: str, mode: Any) -> bool:
    """True for upscale_in_train."""
    if mode not in MODES:
        raise ValueError(f"{op}: argument 'mode' must be one of {MODES}, got {mode!r}")
    return mode == MODES[0]


def _check_u64(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: argument {name!r} must be an int, got {type(value).__name__}")
    if not 0 <= int(value) < 1 << 64:
        raise ValueError(f"{op}: argument {name!r} = {value} is out of range [0, 2**64)")
    return int(value)


def _check_axis(op: str, axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not items:
        raise ValueError(f"{op}: argument 'axis' is empty")
    out = [check_axis(op, a, ndim, f"a {ndim}-d input", "an int or a list of ints") for a in items]
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: argument 'axis' = {axis!r} repeats an axis")
    return tuple(sorted(out))


def _layout(shape: tuple[int, ...], axes: tuple[int, ...] | None):
    """(merged shape, slices pattern, mask shape): dims of size 1 go, neighbours of one
    kind merge; a mask covering x is the flat case (mask element j is element j)."""
    n = math.prod(shape)
    if axes is None:
        return (n,), "", shape
    mask = tuple(d if i in axes else 1 for i, d in enumerate(shape))
    dims, kinds = [], ""
    for i, d in enumerate(shape):
        if d == 1:
            continue
        kind = "k" if i in axes else "a"
        if kinds.endswith(kind):
            dims[-1] *= d
        else:
            dims.append(d)
            kinds += kind
    if "a" not in kinds:
        return (n,), "", mask
    return tuple(dims), kinds, mask


def _forward(backend, x, p: float, axes, scale: float, keep_mask: bool):
    """The forward on arrays like `x`: a function of (x, seed, offset) giving (out, mask)."""
    shape = x.shape
    merged, pattern, mshape = _layout(shape, axes)
    if x.size == 0:
        return lambda x, seed, offset: (backend.empty(shape, x.dtype),
                                        backend.empty(mshape, np.uint8) if keep_mask else None)
    # The params verify the choice on its first use; each call passes its own seed and offset.
    problem = Problem("dropout", backend.name, dtype_name(x.dtype), merged, (("mask", keep_mask), ("slices", pattern)),
                      (("p", p), ("seed", 0), ("offset", 0), ("scale", scale)))
    launcher = dispatch.select(DROPOUT, problem).launcher

    def run(x, seed, offset):
        result = launcher(backend.ascontiguous(x).reshape(merged), p=p, seed=seed, offset=offset, scale=scale)
        out, mask = result if keep_mask else (result, None)
        return out.reshape(shape), None if mask is None else mask.reshape(mshape)

    return run


# ---- public functions ---------------------------------------------------------


def _prepare_forward(op: str, arg: str, x: Any, p: Any, axis: Any, mode: Any, keep_mask: bool = False,
                     training: Any = True):
    """`op` on arrays like `x` (its argument `arg`), checked: _forward's function of (x, seed, offset)."""
    backend = _check_array(op, arg, x)
    p = _check_p(op, p)
    upscale = _check_mode(op, mode)
    axes = _check_axis(op, axis, x.ndim)
    if not training:  # upscale_in_train: the identity, else the scaling by 1 - p
        return (lambda x, seed, offset: (x, None)) if upscale else _forward(backend, x, 0.0, None, 1.0 - p, False)
    return _forward(backend, x, p, axes, _scale(p, upscale), keep_mask)


def dropout(x: Any, p: float = 0.5, axis: Any = None, training: bool = True,
            mode: str = "upscale_in_train", seed: int | None = None) -> Any:
    """Zero each element (or each slice along `axis`) with probability p; see the module docstring."""
    # The seed is the call's, not the plan's: checked on every call, drawn only in training.
    seed = None if seed is None else _check_u64("dropout", "seed", seed)
    prepared = dispatch.planned(call_key("dropout", (x,), p, axis, training, mode),
                                lambda: _prepare_forward("dropout", "x", x, p, axis, mode, training=training))
    if seed is None:
        seed = next_seed() if training else 0
    return prepared(x, seed, 0)[0]


def dropout_forward(x: Any, p: float, seed: int, offset: int = 0, axis: Any = None,
                    mode: str = "upscale_in_train", keep_mask: bool = True):
    """(out, mask) in training: mask is uint8 (1 = kept) shaped like x, or with 1 on the
    axes not in `axis`; None when keep_mask=False (regenerate it from seed and offset)."""
    op = "dropout_forward"
    seed, offset = _check_u64(op, "seed", seed), _check_u64(op, "offset", offset)
    prepared = dispatch.planned(call_key(op, (x,), p, axis, mode, keep_mask),
                                lambda: _prepare_forward(op, "x", x, p, axis, mode, bool(keep_mask)))
    return prepared(x, seed, offset)


def dropout_backward(dy: Any, p: float, seed: int | None = None, offset: int = 0, mask: Any = None,
                     axis: Any = None, mode: str = "upscale_in_train") -> Any:
    """Gradient w.r.t. x of dropout_forward(x, p, seed, offset, axis, mode): from the
    stored `mask`, or, given `seed` instead, from the regenerated one."""
    op = "dropout_backward"
    offset = _check_u64(op, "offset", offset)
    if (seed is None) == (mask is None):
        raise ValueError(f"{op}: pass exactly one of 'seed' (regenerate the mask) and 'mask' (the stored one)")
    if mask is None:
        seed = _check_u64(op, "seed", seed)
        prepared = dispatch.planned(call_key(op, (dy,), p, axis, mode),
                                    lambda: _prepare_forward(op, "dy", dy, p, axis, mode))
        return prepared(dy, seed, offset)[0]
    return dispatch.planned(call_key(op, (dy, mask), p, axis, mode),
                            lambda: _prepare_masked(dy, p, mask, axis, mode))(dy, mask)


def _prepare_masked(dy: Any, p: Any, mask: Any, axis: Any, mode: Any):
    """dropout_backward from the stored mask, checked: a function of (dy, mask)."""
    op = "dropout_backward"
    backend = _check_array(op, "dy", dy)
    p = _check_p(op, p)
    scale = _scale(p, _check_mode(op, mode))
    axes = _check_axis(op, axis, dy.ndim)
    shape = dy.shape
    merged, pattern, mshape = _layout(shape, axes)
    if backend_of(mask, op, "mask") is not backend:
        raise TypeError(f"{op}: argument 'mask' is on {backend_of(mask).name} but 'dy' is on {backend.name}")
    if mask.dtype not in (np.uint8, np.bool_):
        raise TypeError(f"{op}: argument 'mask' must be uint8 or bool, got {mask.dtype}")
    if tuple(mask.shape) != tuple(mshape):
        raise ValueError(f"{op}: argument 'mask' has shape {tuple(mask.shape)}, expected {tuple(mshape)}")
    dtype = dy.dtype
    if dy.size == 0:
        return lambda dy, mask: backend.empty(shape, dtype)
    problem = Problem("dropout_grad", backend.name, dtype_name(dtype), merged, (("slices", pattern),),
                      (("scale", scale),), dtypes=(dtype_name(dtype), "uint8"))
    launcher = dispatch.select(DROPOUT_GRAD, problem).launcher

    def run(dy, mask):
        flat_mask = backend.ascontiguous(mask).reshape(-1).view(np.uint8)
        return launcher(backend.ascontiguous(dy).reshape(merged), flat_mask, scale=scale).reshape(shape)

    return run


# ---- the public functions' declarations ----------------------------------------


def _samples(function: str):
    def samples(dtype: str, rng: np.random.Generator):
        for shape, axis in (((3, 5, 4), None), ((3, 5, 4), 1), ((6,), None)):
            x = rng.standard_normal(shape).astype(dtype)
            seed = int(rng.integers(0, 1 << 63))
            if function == "dropout":
                yield Sample((x,), {"p": 0.4, "axis": axis, "seed": seed})
            elif function == "dropout_forward":
                yield Sample((x, 0.4, seed), {"axis": axis})
            else:
                yield Sample((x, 0.4), {"seed": seed, "axis": axis})
    return samples


def _dropout_backward_rule(args, kwargs, out, dout):
    """dropout_forward's: the stored mask (out[1]) applied to the gradient of out[0]."""
    p = args[1]
    mode = kwargs.get("mode", MODES[0])
    return (dropout_backward(dout[0], p, mask=out[1], axis=kwargs.get("axis"), mode=mode),)


register_function(
    Function("dropout", dropout, ("dropout",), (Input("x"),), _samples("dropout"),
             derivative=Derivative((0,), lambda args, kwargs, out, dout: (dropout_backward(
                 dout, kwargs.get("p", 0.5), seed=kwargs["seed"], axis=kwargs.get("axis"),
                 mode=kwargs.get("mode", MODES[0])),))),
    Function("dropout_forward", dropout_forward, ("dropout",), (Input("x"),), _samples("dropout_forward"),
             derivative=Derivative((0,), _dropout_backward_rule, saves=("output",))),
    Function("dropout_backward", dropout_backward, ("dropout", "dropout_grad"), (Input("dy", role="grad"),),
             _samples("dropout_backward")),
)

__all__ = ["dropout", "dropout_forward", "dropout_backward", "manual_seed", "next_seed",
           "DROPOUT", "DROPOUT_GRAD", "MODES"]
