"""paddle.Model: PaddlePaddle 2.0's high-level API (hapi) over a dygraph Layer.

    >>> import numpy as np
    >>> import hakl.framework as paddle
    >>> net = paddle.nn.Sequential(paddle.nn.Linear(4, 8), paddle.nn.ReLU(), paddle.nn.Linear(8, 3))
    >>> model = paddle.Model(net)
    >>> model.prepare(paddle.optimizer.Adam(parameters=model.parameters()), paddle.nn.CrossEntropyLoss(),
    ...               paddle.metric.Accuracy())
    >>> data = paddle.io.TensorDataset([np.ones((6, 4), np.float32), np.zeros((6, 1), np.int64)])
    >>> model.fit(data, batch_size=3, epochs=1, verbose=0)
    >>> sorted(model.evaluate(data, batch_size=3, verbose=0))
    ['acc', 'loss']

A batch is split as Paddle's Model splits it: the first len(inputs) fields go to the
network (len(inputs) = the number of positional arguments of network.forward when no
InputSpecs are given), the rest are labels for the loss and the metrics.
"""
from __future__ import annotations

import inspect
import os
import warnings
from typing import Any

import numpy as np

from . import amp as _amp
from . import io as _io
from .callbacks import config_callbacks
from .metric import Metric
from .nn.layer import Layer
from .tensor import Tensor, no_grad, to_tensor

_NAME_TABLE = "StructuredToParameterName@@"  # what paddle.save adds beside a state dict


def _to_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flatten(data: Any) -> list:
    out = []
    for d in _to_list(data):
        out.extend(_flatten(d) if isinstance(d, (list, tuple)) else [d])
    return out


def _tensors(values: list) -> list:
    return [v if isinstance(v, Tensor) else to_tensor(v) for v in values]


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


def _forward_arity(network: Layer) -> int:
    """How many positional inputs network.forward takes (*args counts as one, as in Paddle)."""
    params = inspect.signature(network.forward).parameters.values()
    return max(sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params), 1)


class Model:
    """network wrapped for training, evaluation and prediction (see the module docstring).
    `inputs` / `labels`: InputSpecs (or anything with a length) naming the network's inputs
    and the labels; in dygraph only their number matters."""

    def __init__(self, network: Layer, inputs: Any = None, labels: Any = None):
        if not isinstance(network, Layer):
            raise TypeError(f"Model: argument 'network' must be a paddle.nn.Layer, got {type(network).__name__}")
        self.network = network
        self._inputs = _to_list(inputs)
        self._n_inputs = len(self._inputs) if inputs is not None else _forward_arity(network)
        self._labels = _to_list(labels)
        self._optimizer = self._loss = None
        self._metrics: list[Metric] = []
        self._amp_level, self._amp_cast, self._scaler = "O0", {}, None
        self.stop_training = False

    # ---- configuration -------------------------------------------------------------------

    def prepare(self, optimizer=None, loss=None, metrics=None, amp_configs=None) -> None:
        """The optimizer, the loss (a Layer or callable: loss(*outputs, *labels)), the metrics
        (paddle.metric.Metric) and mixed precision: amp_configs "O1" / "O2" or a dict of
        level, custom_white_list, custom_black_list and GradScaler's arguments."""
        if loss is not None and not callable(loss):
            raise TypeError(f"prepare: argument 'loss' must be a Layer or a callable, got {type(loss).__name__}")
        metrics = _to_list(metrics)
        for m in metrics:
            if not isinstance(m, Metric):
                raise TypeError(f"prepare: every metric must be a paddle.metric.Metric, got {type(m).__name__}")
        self._optimizer, self._loss, self._metrics = optimizer, loss, metrics
        self._prepare_amp(amp_configs)

    def _prepare_amp(self, configs: Any) -> None:
        if configs is None:
            self._amp_level, self._amp_cast, self._scaler = "O0", {}, None
            return
        configs = {"level": configs} if isinstance(configs, str) else dict(configs)
        level = str(configs.pop("level", "O1")).upper()
        if level not in ("O0", "O1", "O2"):
            raise ValueError(f"prepare: amp_configs level = {level!r}; expected 'O0', 'O1' or 'O2'")
        cast = {k: configs.pop(k) for k in ("custom_white_list", "custom_black_list") if k in configs}
        configs.pop("use_fp16_guard", None)  # static-graph only
        scaler_args = set(inspect.signature(_amp.GradScaler).parameters)
        unknown = set(configs) - scaler_args
        if unknown:
            raise ValueError(f"prepare: amp_configs has unknown keys {sorted(unknown)}")
        self._amp_level, self._amp_cast = level, cast
        if level == "O0":
            self._scaler = None
            return
        _amp.auto_cast(level=level, **cast)  # validates the lists now rather than at the first batch
        self._scaler = _amp.GradScaler(**configs)
        if level == "O2":
            _amp.decorate(self.network, self._optimizer, level="O2")

    def _autocast(self) -> _amp.auto_cast:
        return _amp.auto_cast(level=self._amp_level, **self._amp_cast)  # "O0": as written

    def parameters(self, *args: Any, **kwargs: Any) -> list:
        return self.network.parameters(*args, **kwargs)

    def _metrics_name(self) -> list[str]:
        names = ["loss"] if self._loss is not None else []
        for m in self._metrics:
            names.extend(_to_list(m.name()))
        return names

    # ---- one batch -------------------------------------------------------------------------

    def _losses(self, outputs: list, labels: list) -> list:
        return _to_list(self._loss(*(outputs + labels)))

    def _update_metrics(self, outputs: list, labels: list) -> list:
        results = []
        for m in self._metrics:
            computed = m.compute(*(outputs + labels))
            results.append(m.update(*[_numpy(c) for c in _to_list(computed)]))
        return results

    def train_batch(self, inputs, labels=None):
        """One optimizer step on a batch; returns [loss as NumPy] (and the metrics' batch
        values when there are metrics)."""
        if self._optimizer is None or self._loss is None:
            raise RuntimeError("train_batch: call prepare(optimizer, loss) first")
        self.network.train()
        inputs, labels = _tensors(_to_list(inputs)), _tensors(_to_list(labels))
        with self._autocast():
            outputs = _to_list(self.network(*inputs))
            losses = self._losses(outputs, labels)
        final = losses[0]
        for extra in losses[1:]:
            final = final + extra
        if self._scaler is not None:
            scaled = self._scaler.scale(final)
            scaled.backward()
            self._scaler.minimize(self._optimizer, scaled)
        else:
            final.backward()
            self._optimizer.minimize(final)
        self._optimizer.clear_grad()
        metrics = self._update_metrics(outputs, labels)
        loss_values = [_numpy(v) for v in losses]
        return (loss_values, metrics) if self._metrics else loss_values

    @no_grad()
    def eval_batch(self, inputs, labels=None):
        """Outputs, loss and metrics of a batch without gradients."""
        self.network.eval()
        inputs, labels = _tensors(_to_list(inputs)), _tensors(_to_list(labels))
        with self._autocast():
            outputs = _to_list(self.network(*inputs))
            losses = self._losses(outputs, labels) if self._loss is not None and labels else []
        metrics = self._update_metrics(outputs, labels)
        loss_values = [_numpy(v) for v in losses]
        return (loss_values, metrics) if self._metrics else loss_values

    @no_grad()
    def predict_batch(self, inputs):
        """The network's outputs on a batch, as NumPy arrays."""
        self.network.eval()
        with self._autocast():
            outputs = _to_list(self.network(*_tensors(_to_list(inputs))))
        return [_numpy(o) for o in outputs]

    # ---- loops -------------------------------------------------------------------------

    def _loader(self, data, batch_size: int, shuffle: bool, drop_last: bool):
        if data is None or isinstance(data, _io.DataLoader):
            return data
        if isinstance(data, _io.Dataset):
            return _io.DataLoader(data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        raise TypeError(f"expected a paddle.io.Dataset or DataLoader, got {type(data).__name__}")

    def _run_one_epoch(self, loader, cbks, mode: str) -> dict:
        for m in self._metrics:
            m.reset()
        logs: dict[str, Any] = {}
        samples = 0
        outputs = []
        for step, data in enumerate(loader):
            data = _flatten(data)
            getattr(cbks, f"on_{mode}_batch_begin")(step, logs)
            inputs, labels = data[:self._n_inputs], data[self._n_inputs:]
            if mode == "predict":
                outputs.append(self.predict_batch(inputs))
            else:
                outs = getattr(self, f"{mode}_batch")(inputs, labels)
                losses = outs[0] if self._metrics else outs
                values = [[float(np.asarray(v).reshape(-1)[0]) for v in losses]] if losses else []
                for m in self._metrics:
                    values.extend(_to_list(m.accumulate()))
                names = self._metrics_name() if losses else self._metrics_name()[1 if self._loss else 0:]
                logs.update(zip(names, values))
            batch = int(data[0].shape[0]) if data else 0
            samples += batch
            logs["step"], logs["batch_size"] = step, batch
            getattr(cbks, f"on_{mode}_batch_end")(step, logs)
            if mode == "train" and self.stop_training:
                break
        logs["samples"] = samples
        if mode == "predict":
            logs["outputs"] = outputs
        return logs

    def fit(self, train_data=None, eval_data=None, batch_size: int = 1, epochs: int = 1, eval_freq: int = 1,
            log_freq: int = 10, save_dir: str | None = None, save_freq: int = 1, verbose: int = 2,
            drop_last: bool = False, shuffle: bool = True, num_workers: int = 0, callbacks=None) -> None:
        """Train for `epochs` over train_data (a Dataset, batched here, or a DataLoader),
        evaluating on eval_data every `eval_freq` epochs; save_dir: Model.save every
        `save_freq` epochs and at the end. verbose: 0 silent, 1 or 2 a progress bar per epoch."""
        if train_data is None:
            raise ValueError("fit: train_data is required")
        train_loader = self._loader(train_data, batch_size, shuffle, drop_last)
        eval_loader = self._loader(eval_data, batch_size, False, False)
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        cbks = config_callbacks(callbacks, self, epochs, steps, log_freq, verbose, save_freq, save_dir,
                                self._metrics_name())
        self.stop_training = False
        cbks.on_train_begin({})
        logs: dict = {}
        for epoch in range(epochs):
            cbks.on_epoch_begin(epoch, {})
            logs = self._run_one_epoch(train_loader, cbks, "train")
            cbks.on_epoch_end(epoch, logs)
            if eval_loader is not None and (epoch + 1) % eval_freq == 0:
                self._evaluate(eval_loader, cbks)
            if self.stop_training:
                break
        cbks.on_train_end(logs)

    def _evaluate(self, loader, cbks) -> dict:
        steps = len(loader) if hasattr(loader, "__len__") else None
        cbks.on_eval_begin({"steps": steps, "metrics": self._metrics_name()})
        logs = self._run_one_epoch(loader, cbks, "eval")
        cbks.on_eval_end(logs)
        return logs

    def evaluate(self, eval_data, batch_size: int = 1, log_freq: int = 10, verbose: int = 2, num_workers: int = 0,
                 callbacks=None) -> dict:
        """{'loss': [one value per loss], metric name: value, ...} over eval_data (a Dataset or
        DataLoader); the loss is the last batch's, the metrics accumulate over all (Paddle's)."""
        loader = self._loader(eval_data, batch_size, False, False)
        cbks = config_callbacks(callbacks, self, log_freq=log_freq, verbose=verbose,
                                metrics=self._metrics_name(), mode="eval")
        logs = self._evaluate(loader, cbks)
        return {k: logs[k] for k in self._metrics_name() if k in logs}

    def predict(self, test_data, batch_size: int = 1, num_workers: int = 0, stack_outputs: bool = False,
                verbose: int = 1, callbacks=None) -> list:
        """One list per network output of its per-batch NumPy arrays (one array per output
        with stack_outputs=True). Fields beyond the network's inputs (labels) are ignored."""
        loader = self._loader(test_data, batch_size, False, False)
        steps = len(loader) if hasattr(loader, "__len__") else None
        cbks = config_callbacks(callbacks, self, steps=steps, verbose=verbose, mode="predict")
        cbks.on_predict_begin({"steps": steps})
        logs = self._run_one_epoch(loader, cbks, "predict")
        cbks.on_predict_end(logs)
        outputs = [list(o) for o in zip(*logs["outputs"])]
        return [np.concatenate(o) for o in outputs] if stack_outputs else outputs

    # ---- saving ---------------------------------------------------------------------------

    def save(self, path: str, training: bool = True) -> None:
        """path.pdparams (the network's state dict) and, with an optimizer, path.pdopt (its state,
        with the structured-name table that lets load() match it to another model's parameters).
        training=False: the inference program instead, traced at the Model's `inputs`
        (path.pdmodel and path.pdiparams; paddle.jit.load reads them)."""
        if os.path.basename(path) == "":
            raise ValueError(f"Model.save: path {path!r} names a directory; give a file prefix ('dir/model')")
        if not training:
            from . import jit
            from .static import InputSpec

            if not self._inputs or not all(isinstance(s, InputSpec) for s in self._inputs):
                raise ValueError("Model.save(training=False) traces the network at its inputs' shapes: create the "
                                 "Model with inputs=[paddle.static.InputSpec(shape, dtype), ...]")
            jit.save(self.network, path, self._inputs)
            return
        _io.save(self.network.state_dict(), path + ".pdparams")
        if self._optimizer is not None:
            state = dict(self._optimizer.state_dict())
            state[_NAME_TABLE] = {k: p.name for k, p in self.network.named_parameters()}
            _io.save(state, path + ".pdopt")

    def load(self, path: str, skip_mismatch: bool = False, reset_optimizer: bool = False) -> None:
        """The network's parameters from path.pdparams and, unless reset_optimizer or there is
        no path.pdopt, the optimizer's state from it. skip_mismatch: leave parameters whose
        saved shape differs (with a warning) instead of raising."""
        for suffix in (".pdparams", ".pdopt"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
        state = _io.load(path + ".pdparams")
        own = self.network.state_dict()
        matched = {}
        for key, target in own.items():
            if key not in state:
                warnings.warn(f"Model.load: no value for {key}", stacklevel=2)
                continue
            if list(state[key].shape) != target.shape:
                if not skip_mismatch:
                    raise ValueError(f"Model.load: {key} has shape {list(state[key].shape)} in {path}.pdparams but "
                                     f"{target.shape} in the network (skip_mismatch=True leaves it)")
                warnings.warn(f"Model.load: skipping {key}: saved shape {list(state[key].shape)}, network "
                              f"{target.shape}", stacklevel=2)
                continue
            matched[key] = state[key]
        for key, value in matched.items():
            own[key].set_value(value)
        if self._optimizer is None or reset_optimizer or not os.path.exists(path + ".pdopt"):
            return
        opt_state = _io.load(path + ".pdopt")
        self._optimizer.set_state_dict(self._renamed(opt_state))

    def _renamed(self, state: dict) -> dict:
        """The optimizer state keyed by this network's parameter names (saved under another
        model's: parameter names are unique per process)."""
        table = state.pop(_NAME_TABLE, None)
        if not table:
            return state
        rename = {old: p.name for key, p in self.network.named_parameters() if (old := table.get(key))}
        out = {}
        for key, value in state.items():
            for old in sorted(rename, key=len, reverse=True):  # the longest name that prefixes the key
                if key.startswith(old + "_"):
                    key = rename[old] + key[len(old):]
                    break
            out[key] = value
        return out

    # ---- description ------------------------------------------------------------------------

    def summary(self, input_size=None, dtype=None) -> dict:
        """Print each layer's parameter count; returns {'total_params', 'trainable_params'}."""
        rows, total, trainable = [], 0, 0
        for name, layer in self.network.named_sublayers(include_self=True):
            own = [p for p in layer._parameters.values() if p is not None]
            count = sum(p.size for p in own)
            rows.append((name or type(layer).__name__, type(layer).__name__,
                         ", ".join(str(p.shape) for p in own), count))
            total += count
            trainable += sum(p.size for p in own if not p.stop_gradient)
        width = max([len(r[0]) for r in rows] + [5])
        lines = [f"{'Layer':<{width}}  {'Type':<16} {'Param shapes':<28} {'Params':>10}"]
        lines += [f"{n:<{width}}  {t:<16} {s:<28} {c:>10,}" for n, t, s, c in rows]
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}"]
        print("\n".join(lines))
        return {"total_params": total, "trainable_params": trainable}


__all__ = ["Model"]
