"""paddle.callbacks: the hooks Model.fit / evaluate / predict call (PaddlePaddle 2.0),
ProgBarLogger (a rich progress bar per epoch), ModelCheckpoint and EarlyStopping."""
from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np


class Callback:
    """Override what you need: on_{train,eval,predict}_{begin,end}(logs),
    on_epoch_{begin,end}(epoch, logs), on_{train,eval,predict}_batch_{begin,end}(step, logs).
    `self.model` and `self.params` (epochs, steps, verbose, metrics, ...) are set before use."""

    def __init__(self):
        self.model, self.params = None, {}

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self.model = model


def _hook(name: str):
    def hook(self, *args, **kwargs):
        return None
    hook.__name__ = name
    return hook


for _mode in ("train", "eval", "predict"):
    for _when in ("begin", "end"):
        setattr(Callback, f"on_{_mode}_{_when}", _hook(f"on_{_mode}_{_when}"))
        setattr(Callback, f"on_{_mode}_batch_{_when}", _hook(f"on_{_mode}_batch_{_when}"))
for _when in ("begin", "end"):
    setattr(Callback, f"on_epoch_{_when}", _hook(f"on_epoch_{_when}"))


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(_fmt(v) for v in np.asarray(value).reshape(-1))
    return f"{float(value):.4f}" if isinstance(value, numbers.Number) else str(value)


class ProgBarLogger(Callback):
    """verbose 0: silent; 1 or 2: a rich progress bar per epoch (and per evaluation) showing
    the logged values every `log_freq` steps, and a summary line when it ends."""

    def __init__(self, log_freq: int = 1, verbose: int = 2):
        super().__init__()
        self.log_freq, self.verbose = max(int(log_freq), 1), int(verbose)
        self._progress = self._task = None

    def _keys(self) -> list[str]:
        return list(self.params.get("metrics") or [])

    def _text(self, logs: dict | None) -> str:
        logs = logs or {}
        return " - ".join(f"{k}: {_fmt(logs[k])}" for k in self._keys() if k in logs)

    def _start(self, title: str, steps: int | None) -> None:
        if not self.verbose:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.fields[logs]}"))
        self._progress.start()
        self._task = self._progress.add_task(title, total=steps, logs="")

    def _advance(self, step: int, logs: dict | None) -> None:
        if self._progress is not None:
            shown = self._text(logs) if (step + 1) % self.log_freq == 0 else None
            self._progress.update(self._task, completed=step + 1,
                                  **({} if shown is None else {"logs": shown}))

    def _stop(self, logs: dict | None, prefix: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, logs=self._text(logs))
            self._progress.stop()
            self._progress.console.print(f"{prefix}{self._text(logs)}")
            self._progress = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch
        self._start(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", self.params.get("steps"))

    def on_train_batch_end(self, step: int, logs=None) -> None:
        self._advance(step, logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._stop(logs, f"Epoch {epoch + 1}: ")

    def on_eval_begin(self, logs=None) -> None:
        self._start("Eval", (logs or {}).get("steps"))

    def on_eval_batch_end(self, step: int, logs=None) -> None:
        self._advance(step, logs)

    def on_eval_end(self, logs=None) -> None:
        self._stop(logs, f"Eval samples: {(logs or {}).get('samples', '?')} ")

    def on_predict_begin(self, logs=None) -> None:
        self._start("Predict", (logs or {}).get("steps"))

    def on_predict_batch_end(self, step: int, logs=None) -> None:
        self._advance(step, logs)

    def on_predict_end(self, logs=None) -> None:
        self._stop(logs, f"Predict samples: {(logs or {}).get('samples', '?')} ")


class ModelCheckpoint(Callback):
    """Model.save(save_dir/<epoch>) every `save_freq` epochs and save_dir/final at the end."""

    def __init__(self, save_freq: int = 1, save_dir: str | None = None):
        super().__init__()
        self.save_freq, self.save_dir = max(int(save_freq), 1), save_dir

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.save_dir and (epoch + 1) % self.save_freq == 0:
            self.model.save(os.path.join(self.save_dir, str(epoch)))

    def on_train_end(self, logs=None) -> None:
        if self.save_dir:
            self.model.save(os.path.join(self.save_dir, "final"))


class EarlyStopping(Callback):
    """Stop fit when the evaluated `monitor` has not improved by `min_delta` for `patience`
    evaluations (mode "auto": "max" for accuracy-like names, else "min"); save_best_model
    writes save_dir/best_model when fit has a save_dir."""

    def __init__(self, monitor: str = "loss", mode: str = "auto", patience: int = 0, verbose: int = 1,
                 min_delta: float = 0, baseline: float | None = None, save_best_model: bool = True):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode = {mode!r}; expected 'auto', 'min' or 'max'")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.verbose = monitor, int(patience), int(verbose)
        self.sign = 1.0 if mode == "max" else -1.0
        self.min_delta, self.baseline, self.save_best_model = abs(float(min_delta)), baseline, save_best_model
        self.wait = 0
        self.best: float | None = None
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None) -> None:
        self.wait, self.stopped_epoch = 0, 0
        self.best = None if self.baseline is None else float(self.baseline)

    def on_eval_end(self, logs=None) -> None:
        if not logs or self.monitor not in logs:
            return
        value = float(np.asarray(logs[self.monitor]).reshape(-1)[0])
        if self.best is None or self.sign * (value - self.best) > self.min_delta:
            self.best, self.wait = value, 0
            save_dir = self.params.get("save_dir")
            if self.save_best_model and save_dir:
                self.model.save(os.path.join(save_dir, "best_model"))
            return
        self.wait += 1
        if self.wait > self.patience:
            self.model.stop_training = True
            if self.verbose:
                print(f"Early stopping: {self.monitor} has not improved for {self.wait} evaluations "
                      f"(best {self.best:.4f})")


class CallbackList:
    """The callbacks fit / evaluate / predict run, called in order."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = callbacks

    def __getattr__(self, name: str):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            for c in self.callbacks:
                getattr(c, name)(*args, **kwargs)
        return call


def config_callbacks(callbacks, model, epochs=None, steps=None, log_freq=10, verbose=2, save_freq=1,
                     save_dir=None, metrics=None, mode="train") -> CallbackList:
    """The user's callbacks plus a ProgBarLogger (and, in training with a save_dir, a
    ModelCheckpoint) unless they brought their own."""
    cbks = list(callbacks or [])
    if not any(isinstance(c, ProgBarLogger) for c in cbks):
        cbks.insert(0, ProgBarLogger(log_freq, verbose))
    if mode == "train" and save_dir and not any(isinstance(c, ModelCheckpoint) for c in cbks):
        cbks.append(ModelCheckpoint(save_freq, save_dir))
    params = {"epochs": epochs, "steps": steps, "verbose": verbose, "metrics": metrics or [], "save_dir": save_dir}
    for c in cbks:
        c.set_model(model)
        c.set_params(dict(params))
    return CallbackList(cbks)


__all__ = ["Callback", "ProgBarLogger", "ModelCheckpoint", "EarlyStopping"]
