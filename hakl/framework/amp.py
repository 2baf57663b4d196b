"""paddle.amp: automatic mixed precision (auto_cast, decorate) and dynamic loss scaling (GradScaler).

    >>> import numpy as np
    >>> import hakl.framework as paddle
    >>> fc = paddle.nn.Linear(4, 3)
    >>> with paddle.amp.auto_cast():
    ...     y = fc(paddle.to_tensor(np.ones((2, 4), np.float32)))
    >>> y.dtype.name          # matmul ran in float16; the bias add promoted to float32 (a gray op)
    'float32'

auto_cast decides, for every hakl Function the tape applies inside it, the dtype its
floating inputs run in (PaddlePaddle 2.0's dygraph AutoCastInputs), with `dtype` the low
precision, float16 or (PaddlePaddle 2.3's argument) bfloat16:
- level "O1": ops on the white list run in `dtype`, ops on the black list in float32,
  any other op (gray) in float32 when one of its inputs is float32, else in `dtype`;
- level "O2" ("pure fp16"): every op in `dtype` except the black list's;
- an op whose Function takes no `dtype` on the tensor's backend runs in float32.
Only casts between float32 and the low dtypes happen (float64 and integer inputs are left
alone), each through hakl's cast on the tensor's device and recorded on the tape, so a
float32 parameter receives its gradient in float32. Casts and views (reshape, transpose,
indexing) and index-valued ops (argmax, argsort) are never cast: they compute no
floating result. The lists take PaddlePaddle's op names ("matmul_v2", "elementwise_add",
"reduce_sum", "softmax_with_cross_entropy", ...) or hakl's function names ("add", "sum").

float16 works on every backend (hakl's float16 kernels accumulate in float32). bfloat16
(ml_dtypes' NumPy dtype) is the CPU's: hakl's cast and matmul take it there (oneDNN's
AMX / AVX512-BF16 kernels where the CPU has them), so under O1 a Linear's product runs in
bfloat16 and everything else in float32; on other backends every op runs in float32.

GradScaler scales the loss, then unscales the gradients on their device and finds
inf/NaN there with hakl ops (one scalar comes back per step), skips the optimizer step
when there is one, and grows or shrinks the scale (PaddlePaddle 2.x's GradScaler).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

import hakl

from ..op import BFLOAT16
from . import tensor as _tape
from .tensor import Tensor

# PaddlePaddle 2.0's dygraph lists (python/paddle/fluid/dygraph/amp/auto_cast.py), by op name.
WHITE_LIST = frozenset({"conv2d", "matmul", "matmul_v2", "mul"})
BLACK_LIST = frozenset({"exp", "square", "log", "mean", "sum", "cos_sim", "softmax", "softmax_with_cross_entropy",
                        "sigmoid_cross_entropy_with_logits", "cross_entropy", "cross_entropy2"})
# hakl's additions to O1's black list: hakl's layer_norm takes one dtype for x, weight and
# bias, so Paddle's float16-x-with-float32-scale kernel has no counterpart (float32 keeps
# its statistics exact); log_softmax and the reductions for the reason softmax and sum are
# listed (exponentials and sums overflow float16's 65504).
EXTRA_BLACK_LIST = frozenset({"layer_norm", "log_softmax", "reduce_sum", "reduce_mean"})
# O2 ("pure fp16", PaddlePaddle 2.1): everything in float16 but the embedding lookups.
PURE_FP16_WHITE_LIST: frozenset = frozenset()
PURE_FP16_BLACK_LIST = frozenset({"lookup_table", "lookup_table_v2"})

# Paddle op name -> the hakl Function that does its work.
ALIASES = {
    "matmul_v2": "matmul", "mul": "matmul", "elementwise_add": "add", "elementwise_sub": "subtract",
    "elementwise_mul": "multiply", "elementwise_div": "divide", "elementwise_pow": "pow",
    "elementwise_max": "maximum", "elementwise_min": "minimum", "reduce_sum": "sum", "reduce_mean": "mean",
    "reduce_max": "max", "reduce_min": "min", "lookup_table": "embedding", "lookup_table_v2": "embedding",
    "cross_entropy2": "cross_entropy", "softmax_with_cross_entropy": "cross_entropy", "arg_max": "argmax",
}
# Never cast: they compute no floating result (cast itself, views, indices).
_KEEP = frozenset({"cast", "reshape", "transpose", "getitem", "argmax", "argsort"})
_F16, _F32, _BF16 = np.dtype("float16"), np.dtype("float32"), BFLOAT16
_LOWS = frozenset({_F16, _BF16})
_CASTABLE = _LOWS | {_F32}  # the dtypes auto_cast moves between


def _names(ops: Iterable[str]) -> set[str]:
    """Op names as hakl's functions are called (Paddle's names through ALIASES)."""
    return {ALIASES.get(op, op) for op in ops}


def _lists(level: str, white: Any, black: Any) -> tuple[frozenset, frozenset]:
    """The (white, black) sets of hakl function names for `level` with the custom lists applied
    (a custom entry moves an op from the other list, as Paddle's _update_list)."""
    for arg, value in (("custom_white_list", white), ("custom_black_list", black)):
        if value is not None and (isinstance(value, str) or not isinstance(value, (set, frozenset, list, tuple))):
            raise TypeError(f"auto_cast: argument {arg!r} must be a set, list or tuple of op names, got "
                            f"{type(value).__name__}")
    white, black = set(white or ()), set(black or ())
    if white & black:
        raise ValueError(f"auto_cast: {', '.join(sorted(white & black))} on both the custom white list and the "
                         "custom black list")
    if level == "O2":
        w, b = _names(PURE_FP16_WHITE_LIST), _names(PURE_FP16_BLACK_LIST)
    else:
        w, b = _names(WHITE_LIST), _names(BLACK_LIST | EXTRA_BLACK_LIST)
    white, black = _names(white), _names(black)
    return frozenset((w - black) | white), frozenset((b - white) | black)


class _State:
    __slots__ = ("level", "white", "black", "low")

    def __init__(self, level: str, white: frozenset, black: frozenset, low: np.dtype):
        self.level, self.white, self.black, self.low = level, white, black, low


_state: _State | None = None
_takes_low: dict[tuple[str, str, np.dtype], bool] = {}


def _takes(fn, backend: str, low: np.dtype) -> bool:
    key = (fn.name, backend, low)
    ok = _takes_low.get(key)
    if ok is None:
        ok = _takes_low[key] = not fn.inputs or low.name in fn.inputs[0].domain(backend)
    return ok


def _floats(values) -> Iterable[Any]:
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)) and v and isinstance(v[0], Tensor):
            yield from v


def _cast_to(value: Any, dst: np.dtype) -> Any:
    """value with its float32 / float16 / bfloat16 tensors (and raw device arrays) in `dst`; the rest as is."""
    if isinstance(value, Tensor):
        dt = value._data.dtype
        return _tape.call("cast", value, dst.name) if dt != dst and dt in _CASTABLE else value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
        return type(value)(_cast_to(v, dst) for v in value)
    dt = getattr(value, "dtype", None)
    if dt is not None and not isinstance(value, np.generic) and dt != dst and dt in _CASTABLE:
        return hakl.cast(value, dst)  # a raw array argument (e.g. cross_entropy's weight): not on the tape
    return value


def _autocast(fn, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The tape's hook: args and kwargs with their floating inputs in the dtype `fn` runs in."""
    state, name = _state, fn.name
    if state is None or name in _KEEP:
        return args, kwargs
    tensors = list(_floats(args))
    if not tensors:
        return args, kwargs
    low = state.low
    if name in state.white:
        dst = low
    elif name in state.black:
        dst = _F32
    elif state.level == "O2":
        dst = low
    else:  # gray: the widest of its inputs (float32 when any is, or two low dtypes meet)
        dtypes = {t._data.dtype for t in tensors}
        lows = dtypes & _LOWS
        if not lows:
            return args, kwargs
        dst = _F32 if _F32 in dtypes or len(lows) > 1 else next(iter(lows))
    if dst != _F32 and not _takes(fn, tensors[0].backend, dst):
        dst = _F32
    return tuple(_cast_to(a, dst) for a in args), {k: _cast_to(v, dst) for k, v in kwargs.items()}


def amp_state() -> _State | None:
    """The auto_cast in effect (level, white, black: hakl function names), None outside one."""
    return _state


class auto_cast:
    """`with paddle.amp.auto_cast(...):` (or as a decorator): mixed precision for the ops inside
    (see the module docstring). enable=False or level "O0" runs everything as written."""

    def __init__(self, enable: bool = True, custom_white_list=None, custom_black_list=None, level: str = "O1",
                 dtype: str = "float16"):
        level = level.upper() if isinstance(level, str) else level
        if level not in ("O0", "O1", "O2"):
            raise ValueError(f"auto_cast: argument 'level' = {level!r}; expected 'O0', 'O1' or 'O2'")
        if dtype not in ("float16", "bfloat16"):
            raise ValueError(f"auto_cast: argument 'dtype' = {dtype!r}; expected 'float16' or 'bfloat16'")
        white, black = _lists(level, custom_white_list, custom_black_list)
        self._new = _State(level, white, black, np.dtype(dtype)) if enable and level != "O0" else None

    def __enter__(self) -> "auto_cast":
        global _state
        self._prev, _state = _state, self._new
        _tape._amp_hook = None if _state is None else _autocast
        return self

    def __exit__(self, *exc) -> bool:
        global _state
        _state = self._prev
        _tape._amp_hook = None if _state is None else _autocast
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


amp_guard = auto_cast  # the fluid.dygraph name


def decorate(models, optimizers=None, level: str = "O1", master_weight: bool | None = None, save_dtype=None,
             dtype: str = "float16"):
    """PaddlePaddle 2.1's amp.decorate: for level "O2", the models' floating parameters become
    float16 (LayerNorm's stay float32, as Paddle keeps normalisation layers) and the
    optimizers keep float32 master weights (master_weight None or True). "O1" changes nothing.
    Returns the models (and the optimizers when given), as passed. `dtype` is Paddle 2.3's
    argument (last here, so 2.1's positional calls keep their meaning); "bfloat16" is refused
    for O2: no hakl optimizer updates bfloat16 parameters."""
    from .nn.layer import Layer
    from .nn.layers import LayerNorm

    level = level.upper() if isinstance(level, str) else level
    if level not in ("O1", "O2"):
        raise ValueError(f"decorate: argument 'level' = {level!r}; expected 'O1' or 'O2'")
    if dtype not in ("float16", "bfloat16"):
        raise ValueError(f"decorate: argument 'dtype' = {dtype!r}; expected 'float16' or 'bfloat16'")
    if level == "O2" and dtype == "bfloat16":
        raise NotImplementedError("decorate: level 'O2' with dtype 'bfloat16' is not supported (no hakl "
                                  "optimizer updates bfloat16 parameters); use level 'O1'")
    if save_dtype is not None:
        raise NotImplementedError("decorate: save_dtype is not supported")
    model_list = models if isinstance(models, (list, tuple)) else [models]
    for m in model_list:
        if not isinstance(m, Layer):
            raise TypeError(f"decorate: argument 'models' must be Layers, got {type(m).__name__}")
    opt_list = [] if optimizers is None else (optimizers if isinstance(optimizers, (list, tuple)) else [optimizers])
    if level == "O2":
        for m in model_list:
            for layer in m.sublayers(include_self=True):
                if isinstance(layer, LayerNorm):
                    continue
                for p in layer._parameters.values():
                    if p is not None and p.data.dtype == _F32:
                        p._data, p._grad = hakl.cast(p.data, _F16), None
                layer._dtype = "float16"
        for opt in opt_list:
            opt._multi_precision = master_weight is None or bool(master_weight)
    if optimizers is None:
        return models
    return models, optimizers


# ---- loss scaling ----------------------------------------------------------------------

_INIT, _UNSCALED, _STEPPED = "init", "unscaled", "stepped"


class GradScaler:
    """Dynamic loss scaling (PaddlePaddle 2.x's paddle.amp.GradScaler):

        scaled = scaler.scale(loss); scaled.backward(); scaler.minimize(optimizer, scaled)
        # or: scaler.step(optimizer); scaler.update()

    The step divides every gradient by the scale; when one holds inf or NaN the optimizer
    step is skipped. With use_dynamic_loss_scaling the scale is multiplied by decr_ratio
    after decr_every_n_nan_or_inf such steps (counted while they keep coming) and by
    incr_ratio after incr_every_n_steps finite steps in a row. enable=False passes
    everything through to the optimizer unchanged."""

    def __init__(self, enable: bool = True, init_loss_scaling: float = 2.0 ** 15, incr_ratio: float = 2.0,
                 decr_ratio: float = 0.5, incr_every_n_steps: int = 1000, decr_every_n_nan_or_inf: int = 2,
                 use_dynamic_loss_scaling: bool = True):
        if not incr_ratio > 1.0:
            raise ValueError(f"GradScaler: incr_ratio = {incr_ratio!r} must be > 1.0")
        if not 0.0 < decr_ratio < 1.0:
            raise ValueError(f"GradScaler: decr_ratio = {decr_ratio!r} must be in (0, 1)")
        if not init_loss_scaling > 0:
            raise ValueError(f"GradScaler: init_loss_scaling = {init_loss_scaling!r} must be > 0")
        for arg, value in (("incr_every_n_steps", incr_every_n_steps),
                           ("decr_every_n_nan_or_inf", decr_every_n_nan_or_inf)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GradScaler: {arg} = {value!r} must be a positive int")
        self._enable = bool(enable)
        self._init_loss_scaling = float(init_loss_scaling)
        self._scale = float(init_loss_scaling)
        self._incr_ratio, self._decr_ratio = float(incr_ratio), float(decr_ratio)
        self._incr_every_n_steps, self._decr_every_n_nan_or_inf = incr_every_n_steps, decr_every_n_nan_or_inf
        self._use_dynamic_loss_scaling = bool(use_dynamic_loss_scaling)
        self._incr_count = self._decr_count = 0
        self._found_inf = False
        self._states: dict[int, str] = defaultdict(lambda: _INIT)

    def scale(self, var: Tensor) -> Tensor:
        """var times the loss scale (a float16 or bfloat16 loss is cast to float32 first, so the
        product cannot overflow float16's 65504 or lose bfloat16's bits); var itself when the
        scaler is disabled."""
        if not isinstance(var, Tensor):
            raise TypeError(f"GradScaler.scale: argument 'var' must be a Tensor, got {type(var).__name__}")
        if not self._enable:
            return var
        if var.dtype == _F16 or var.dtype == _BF16:
            var = _tape.call("cast", var, "float32")
        return var * self._scale

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale and note whether any is inf or NaN
        (before step(), e.g. to clip the true gradients). Once per step."""
        if not self._enable:
            return
        state = self._states[id(optimizer)]
        if state == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update()")
        if state == _STEPPED:
            raise RuntimeError("unscale_() is being called after step()")
        self._found_inf = self._unscale(optimizer)
        self._states[id(optimizer)] = _UNSCALED

    def _unscale(self, optimizer) -> bool:
        """Unscale in place of each parameter's gradient; True when one holds inf or NaN.
        g * 0 is 0 for a finite g and NaN otherwise, so the sum of those products over all
        gradients is finite exactly when every gradient is: the test runs on the device and
        one scalar returns."""
        params = [p for p in optimizer._parameter_list if not p.stop_gradient and p._grad is not None]
        if not params:
            return False
        inverse = 1.0 / self._scale
        checks = []
        for p in params:
            p._grad = hakl.multiply(p._grad, inverse)
            check = hakl.sum(hakl.multiply(p._grad, 0.0))
            checks.append(check if check.dtype == _F32 else hakl.cast(check, _F32))
        total = hakl.sum(hakl.stack(checks)) if len(checks) > 1 else checks[0]
        return not np.isfinite(hakl.to_numpy(total)).all()

    def _step(self, optimizer, run) -> Any:
        state = self._states[id(optimizer)]
        if state == _STEPPED:
            raise RuntimeError("step() has already been called since the last update()")
        if state == _INIT:
            self._found_inf = self._unscale(optimizer)
        self._states[id(optimizer)] = _STEPPED
        return None if self._found_inf else run()

    def step(self, optimizer) -> None:
        """optimizer.step() on the unscaled gradients, skipped when one is inf or NaN; call
        update() after it."""
        if not self._enable:
            return optimizer.step()
        self._step(optimizer, optimizer.step)

    def update(self) -> None:
        """Adjust the scale after step() (dynamic loss scaling) and start the next step."""
        if not self._enable:
            return
        if self._use_dynamic_loss_scaling:
            self._update()
        self._states.clear()

    def minimize(self, optimizer, *args: Any, **kwargs: Any):
        """step() and update() in one: optimizer.minimize(*args, **kwargs) on the unscaled
        gradients unless one is inf or NaN, then the scale's update. Returns what the
        optimizer's minimize returns, (None, None) when the step was skipped."""
        if not self._enable:
            return optimizer.minimize(*args, **kwargs)
        result = self._step(optimizer, lambda: optimizer.minimize(*args, **kwargs))
        self.update()
        return (None, None) if result is None else result

    def _update(self) -> None:
        if self._found_inf:
            self._incr_count = 0
            self._decr_count += 1
            if self._decr_count == self._decr_every_n_nan_or_inf:
                self._scale *= self._decr_ratio
                self._decr_count = 0
        else:
            self._decr_count = 0
            self._incr_count += 1
            if self._incr_count == self._incr_every_n_steps:
                self._scale *= self._incr_ratio
                self._incr_count = 0

    # ---- settings and state ----------------------------------------------------------------

    def is_enable(self) -> bool:
        return self._enable

    def is_use_dynamic_loss_scaling(self) -> bool:
        return self._use_dynamic_loss_scaling

    def get_loss_scaling(self) -> float:
        """The current scale."""
        return self._scale

    def get_init_loss_scaling(self) -> float:
        return self._init_loss_scaling

    def set_init_loss_scaling(self, value: float) -> None:
        """Set the initial scale and restart from it."""
        self._init_loss_scaling = self._scale = float(value)

    def get_incr_ratio(self) -> float:
        return self._incr_ratio

    def set_incr_ratio(self, value: float) -> None:
        if not value > 1.0:
            raise ValueError(f"set_incr_ratio: {value!r} must be > 1.0")
        self._incr_ratio = float(value)

    def get_decr_ratio(self) -> float:
        return self._decr_ratio

    def set_decr_ratio(self, value: float) -> None:
        if not 0.0 < value < 1.0:
            raise ValueError(f"set_decr_ratio: {value!r} must be in (0, 1)")
        self._decr_ratio = float(value)

    def get_incr_every_n_steps(self) -> int:
        return self._incr_every_n_steps

    def set_incr_every_n_steps(self, value: int) -> None:
        self._incr_every_n_steps = int(value)

    def get_decr_every_n_nan_or_inf(self) -> int:
        return self._decr_every_n_nan_or_inf

    def set_decr_every_n_nan_or_inf(self, value: int) -> None:
        self._decr_every_n_nan_or_inf = int(value)

    def state_dict(self) -> dict:
        """The scale, its settings and counters (empty when disabled), as Paddle names them."""
        if not self._enable:
            return {}
        return {"scale": np.array([self._scale], np.float32), "incr_ratio": self._incr_ratio,
                "decr_ratio": self._decr_ratio, "incr_every_n_steps": self._incr_every_n_steps,
                "decr_every_n_nan_or_inf": self._decr_every_n_nan_or_inf, "incr_count": self._incr_count,
                "decr_count": self._decr_count, "use_dynamic_loss_scaling": self._use_dynamic_loss_scaling}

    def load_state_dict(self, state: dict) -> None:
        if not self._enable:
            return
        if not state:
            raise RuntimeError("GradScaler.load_state_dict: the state is empty (saved from a disabled scaler?)")
        scale = state["scale"]
        self._scale = float(np.asarray(scale.numpy() if isinstance(scale, Tensor) else scale).reshape(-1)[0])
        self._incr_ratio, self._decr_ratio = float(state["incr_ratio"]), float(state["decr_ratio"])
        self._incr_every_n_steps = int(state["incr_every_n_steps"])
        self._decr_every_n_nan_or_inf = int(state["decr_every_n_nan_or_inf"])
        self._incr_count, self._decr_count = int(state["incr_count"]), int(state["decr_count"])
        self._use_dynamic_loss_scaling = bool(state["use_dynamic_loss_scaling"])

    set_state_dict = load_state_dict


__all__ = ["auto_cast", "amp_guard", "decorate", "GradScaler", "amp_state", "WHITE_LIST",
           "BLACK_LIST", "EXTRA_BLACK_LIST", "PURE_FP16_WHITE_LIST", "PURE_FP16_BLACK_LIST", "ALIASES"]
