"""paddle.optimizer: SGD, Momentum, Adam, AdamW on hakl's multi-tensor update functions.

step() takes every parameter that has a gradient, clips (grad_clip), adds L2 decay
(weight_decay as a float or paddle.regularizer.L2Decay; a ParamAttr's regularizer
overrides it; AdamW decays decoupled instead), then one call of hakl.sgd / momentum /
adam / adamw updates all of them in place on their device (parameters whose Adam step
counts differ are updated in one call per count). Per-parameter learning-rate ratios
come from ParamAttr(learning_rate=...). multi_precision=True keeps a float32 master
weight for each float16 parameter (and float32 moments for it).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

import hakl

from .. import regularizer as _reg
from ..tensor import Tensor, kernel, wrap
from . import lr  # noqa: F401
from .lr import LRScheduler


class Optimizer:
    _accumulator_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: Any = 0.001, parameters=None, weight_decay=None, grad_clip=None, name=None,
                 multi_precision: bool = False):
        if parameters is None:
            raise ValueError(f"{type(self).__name__}: pass parameters= (dygraph mode needs them)")
        self._parameter_list = list(parameters)
        if not isinstance(learning_rate, (float, int, LRScheduler)):
            raise TypeError(f"{type(self).__name__}: learning_rate must be a float or an LRScheduler, got "
                            f"{type(learning_rate).__name__}")
        self._learning_rate = learning_rate
        self.regularization = _reg.L2Decay(weight_decay) if isinstance(weight_decay, (float, int)) else weight_decay
        self._grad_clip = grad_clip
        self._multi_precision = bool(multi_precision)
        self._accumulators: dict[str, dict[str, Any]] = {n: {} for n in self._accumulator_names}
        self._master_weights: dict[str, Any] = {}
        self._steps: dict[str, int] = {}

    # ---- learning rate ------------------------------------------------------------

    def get_lr(self) -> float:
        lr_ = self._learning_rate
        return float(lr_()) if isinstance(lr_, LRScheduler) else float(lr_)

    def set_lr(self, value: float) -> None:
        if isinstance(self._learning_rate, LRScheduler):
            raise RuntimeError("set_lr: the optimizer's learning rate is an LRScheduler; set_lr would conflict "
                               "with it")
        if not isinstance(value, (float, int)):
            raise TypeError(f"set_lr: value must be a float, got {type(value).__name__}")
        self._learning_rate = float(value)

    # ---- the step ------------------------------------------------------------------------

    def _params_grads(self) -> list[tuple[Tensor, Any]]:
        return [(p, p._grad) for p in self._parameter_list if not p.stop_gradient and p._grad is not None]

    def _regularize(self, params_grads):
        out = []
        for p, g in params_grads:
            rule = getattr(p, "regularizer", None) or self.regularization
            out.append((p, g if rule is None else rule(p.data, g)))
        return out

    def step(self) -> None:
        params_grads = self._params_grads()
        if not params_grads:
            return
        if self._grad_clip is not None:
            params_grads = self._grad_clip(params_grads)
        params_grads = self._regularize(params_grads)
        lr_ = self.get_lr()
        for p, _ in params_grads:
            self._steps[p.name] = self._steps.get(p.name, 0) + 1
        groups: dict[int, list] = {}
        for p, g in params_grads:
            groups.setdefault(self._steps[p.name], []).append((p, g))
        for step, group in groups.items():
            self._update([p for p, _ in group], [g for _, g in group], lr_, step)

    def minimize(self, loss, startup_program=None, parameters=None, no_grad_set=None):
        """Dygraph: the step for gradients backward() has accumulated (call loss.backward() first)."""
        params_grads = self._params_grads()
        self.step()
        return None, params_grads

    def clear_grad(self) -> None:
        for p in self._parameter_list:
            p.clear_gradient()

    clear_gradients = clear_grad

    def _update(self, params, grads, lr_: float, step: int) -> None:
        raise NotImplementedError

    # ---- state: accumulators, master weights ----------------------------------------------

    def _master(self, p: Tensor):
        if not (self._multi_precision and p.dtype == np.float16):
            return None
        if p.name not in self._master_weights:
            self._master_weights[p.name] = hakl.cast(p.data, "float32")
        return self._master_weights[p.name]

    def _accumulator(self, name: str, p: Tensor):
        store = self._accumulators[name]
        if p.name not in store:
            dtype = np.float32 if self._master(p) is not None else p.dtype
            backend = hakl.backends.backend_of(p.data)
            store[p.name] = backend.asarray(np.zeros(p.data.shape, dtype))
        return store[p.name]

    def _common(self, params):
        masters = [self._master(p) for p in params]
        ratios = [float(getattr(p, "optimize_attr", {}).get("learning_rate", 1.0)) for p in params]
        return ([p.data for p in params], None if all(m is None for m in masters) else masters,
                None if all(r == 1.0 for r in ratios) else ratios)

    def state_dict(self) -> dict:
        """Accumulators as Paddle names them ({param}_{moment1,moment2,velocity}_0, the Adam
        {param}_beta{1,2}_pow_acc_0), master weights, step counts and the LR scheduler's state."""
        state: dict[str, Any] = {}
        for acc, store in self._accumulators.items():
            for pname, arr in store.items():
                state[f"{pname}_{acc}_0"] = wrap(arr)
        for pname, arr in self._master_weights.items():
            state[f"{pname}_fp32_master_0"] = wrap(arr)
        for pname, step in self._steps.items():
            state[f"{pname}_step"] = step
            state.update(self._step_state(pname, step))
        if isinstance(self._learning_rate, LRScheduler):
            state["LR_Scheduler"] = self._learning_rate.state_dict()
        return state

    def _step_state(self, pname: str, step: int) -> dict:
        return {}

    def set_state_dict(self, state: dict) -> None:
        """Restore what state_dict() gave, matched by parameter name (as Paddle: a model built
        again in the same process has new names, so its optimizer finds nothing: it warns)."""
        by_name = {p.name: p for p in self._parameter_list}
        keyed = [k for k in state if k != "LR_Scheduler"]
        if keyed and not any(k.startswith(f"{name}_") for k in keyed for name in by_name):
            warnings.warn("set_state_dict: no entry matches this optimizer's parameter names", stacklevel=2)
        for pname, p in by_name.items():
            if f"{pname}_step" in state:
                self._steps[pname] = int(state[f"{pname}_step"])
            master = state.get(f"{pname}_fp32_master_0")
            if master is not None:
                self._master_weights[pname] = _on_device(master, p, np.float32)
            for acc in self._accumulators:
                value = state.get(f"{pname}_{acc}_0")
                if value is not None:
                    dtype = np.float32 if pname in self._master_weights else p.dtype
                    self._accumulators[acc][pname] = _on_device(value, p, dtype)
        if "LR_Scheduler" in state and isinstance(self._learning_rate, LRScheduler):
            self._learning_rate.set_state_dict(state["LR_Scheduler"])

    set_dict = set_state_dict


def _on_device(value: Any, like: Tensor, dtype) -> Any:
    host = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    return hakl.backends.backend_of(like.data).asarray(np.ascontiguousarray(host.astype(dtype)))


class SGD(Optimizer):
    """p <- p - lr * g."""

    def __init__(self, learning_rate=0.001, parameters=None, weight_decay=None, grad_clip=None, name=None,
                 multi_precision=False):
        super().__init__(learning_rate, parameters, weight_decay, grad_clip, name, multi_precision)

    def _update(self, params, grads, lr_, step):
        arrays, masters, ratios = self._common(params)
        kernel("sgd")(arrays, grads, lr=lr_, master_params=masters, lr_ratios=ratios)


class Momentum(Optimizer):
    """v <- momentum v + g; p <- p - lr v (Nesterov: p - lr (g + momentum v))."""

    _accumulator_names = ("velocity",)

    def __init__(self, learning_rate=0.001, momentum=0.9, parameters=None, use_nesterov=False, weight_decay=None,
                 grad_clip=None, multi_precision=False, rescale_grad=1.0, name=None):
        super().__init__(learning_rate, parameters, weight_decay, grad_clip, name, multi_precision)
        self._momentum, self._use_nesterov, self._rescale = float(momentum), bool(use_nesterov), float(rescale_grad)

    def _update(self, params, grads, lr_, step):
        arrays, masters, ratios = self._common(params)
        if self._rescale != 1.0:
            grads = [hakl.multiply(g, self._rescale) for g in grads]
        velocities = [self._accumulator("velocity", p) for p in params]
        kernel("momentum")(arrays, grads, velocities, lr=lr_, mu=self._momentum, use_nesterov=self._use_nesterov,
                           master_params=masters, lr_ratios=ratios)


class Adam(Optimizer):
    """PaddlePaddle 2.0's adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    p <- p - lr_t m1 / (sqrt(m2) + eps sqrt(1 - b2^t)); weight_decay is L2 on the gradient."""

    _accumulator_names = ("moment1", "moment2")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, parameters=None,
                 weight_decay=None, grad_clip=None, name=None, lazy_mode=False, multi_precision=False):
        super().__init__(learning_rate, parameters, weight_decay, grad_clip, name, multi_precision)
        for arg, value, lo in (("beta1", beta1, 0), ("beta2", beta2, 0), ("epsilon", epsilon, 0)):
            if not (isinstance(value, (float, int)) and (lo <= value < 1 if arg != "epsilon" else value >= 0)):
                raise ValueError(f"{type(self).__name__}: {arg} = {value!r} is out of range")
        self._beta1, self._beta2, self._epsilon = float(beta1), float(beta2), float(epsilon)

    def _moments(self, params):
        return [self._accumulator("moment1", p) for p in params], [self._accumulator("moment2", p) for p in params]

    def _update(self, params, grads, lr_, step):
        arrays, masters, ratios = self._common(params)
        m1, m2 = self._moments(params)
        kernel("adam")(arrays, grads, m1, m2, lr=lr_, step=step, beta1=self._beta1, beta2=self._beta2,
                       epsilon=self._epsilon, master_params=masters, lr_ratios=ratios)

    def _step_state(self, pname, step):
        return {f"{pname}_beta1_pow_acc_0": np.array([self._beta1 ** (step + 1)], np.float32),
                f"{pname}_beta2_pow_acc_0": np.array([self._beta2 ** (step + 1)], np.float32)}


class AdamW(Adam):
    """Adam with decoupled decay p <- p (1 - lr_p coeff) before the step, for the parameters
    apply_decay_param_fun(param.name) accepts (all when it is None)."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, parameters=None,
                 weight_decay=0.01, apply_decay_param_fun: Callable[[str], bool] | None = None, grad_clip=None,
                 lazy_mode=False, multi_precision=False, name=None):
        if not isinstance(weight_decay, (float, int)):
            raise TypeError(f"AdamW: weight_decay must be a float coefficient, got {type(weight_decay).__name__}")
        super().__init__(learning_rate, beta1, beta2, epsilon, parameters, None, grad_clip, name, lazy_mode,
                         multi_precision)
        self._coeff = float(weight_decay)
        self._apply_decay_param_fun = apply_decay_param_fun

    def _update(self, params, grads, lr_, step):
        arrays, masters, ratios = self._common(params)
        m1, m2 = self._moments(params)
        fun = self._apply_decay_param_fun
        decay = None if fun is None else [bool(fun(p.name)) for p in params]
        kernel("adamw")(arrays, grads, m1, m2, lr=lr_, step=step, beta1=self._beta1, beta2=self._beta2,
                        epsilon=self._epsilon, coeff=self._coeff, decay=decay, master_params=masters,
                        lr_ratios=ratios)


__all__ = ["Optimizer", "SGD", "Momentum", "Adam", "AdamW", "lr"]
