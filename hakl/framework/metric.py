"""paddle.metric: Metric and Accuracy (PaddlePaddle 2.0), and the accuracy function.

    >>> import numpy as np
    >>> import hakl.framework as paddle
    >>> m = paddle.metric.Accuracy(topk=(1, 2))
    >>> pred = paddle.to_tensor(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], np.float32))
    >>> m.update(m.compute(pred, paddle.to_tensor(np.array([[2], [0]]))))
    [0.5, 1.0]
    >>> m.name()
    ['acc_top1', 'acc_top2']

compute() runs on the device (hakl's argsort, a slice, a comparison); update() and
accumulate() count on the host, as Paddle's do (update receives NumPy arrays).
"""
from __future__ import annotations

import abc
from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor, call, no_grad


class Metric(abc.ABC):
    """The protocol Model drives: compute(*outputs_and_labels) on the device (default: its
    arguments unchanged), update(*compute's results as NumPy), accumulate(), reset(), name()."""

    def compute(self, *args: Any) -> Any:
        return args

    @abc.abstractmethod
    def reset(self) -> None: ...

    @abc.abstractmethod
    def update(self, *args: Any) -> Any: ...

    @abc.abstractmethod
    def accumulate(self) -> Any: ...

    @abc.abstractmethod
    def name(self) -> Any: ...


class Accuracy(Metric):
    """Top-k accuracy for each k in `topk`: labels are class ids ([N] or [N, 1]) or one-hot
    ([N, C]); a single k reports a float, several a list (names acc_top1, acc_top5, ...)."""

    def __init__(self, topk: tuple[int, ...] = (1,), name: str | None = None, *args: Any, **kwargs: Any):
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f"Accuracy: topk = {topk!r} must be positive ints")
        self.topk, self.maxk = topk, max(topk)
        base = name or "acc"
        self._name = [f"{base}_top{k}" for k in topk] if self.maxk != 1 else [base]
        self.reset()

    def compute(self, pred: Tensor, label: Tensor, *args: Any) -> Tensor:
        """[..., maxk] float32: 1 where the j-th highest prediction is the label."""
        with no_grad():
            order = call("argsort", pred, axis=-1, descending=True)
            order = order[..., :self.maxk]
            shape = label.shape
            if len(shape) == 1 or (len(shape) == 2 and shape[-1] == 1):
                label = ops.reshape(label, (-1, 1))
            elif shape[-1] != 1:  # one-hot
                label = ops.argmax(label, axis=-1, keepdim=True)
            return ops.cast(ops.equal(order, label), "float32")

    def update(self, correct: Any, *args: Any) -> Any:
        """Count a batch's hits (compute's result); returns the batch's accuracy."""
        if isinstance(correct, Tensor):
            correct = correct.numpy()
        correct = np.asarray(correct)
        samples = int(np.prod(correct.shape[:-1]))
        accs = []
        for i, k in enumerate(self.topk):
            hits = float(correct[..., :k].sum())
            accs.append(hits / samples if samples else 0.0)
            self.total[i] += hits
            self.count[i] += samples
        return accs[0] if len(self.topk) == 1 else accs

    def reset(self) -> None:
        self.total = [0.0] * len(self.topk)
        self.count = [0] * len(self.topk)

    def accumulate(self) -> Any:
        """The accuracy over every update since reset()."""
        res = [t / c if c > 0 else 0.0 for t, c in zip(self.total, self.count)]
        return res[0] if len(self.topk) == 1 else res

    def name(self) -> list[str]:
        return self._name


def accuracy(input: Tensor, label: Tensor, k: int = 1, correct=None, total=None, name=None) -> Tensor:
    """paddle.metric.accuracy: the top-k accuracy of one batch as a float32 tensor of shape [1]."""
    hits = Accuracy(topk=(k,)).compute(input, label)
    with no_grad():
        return ops.reshape(ops.mean(ops.sum(hits, axis=-1)), (1,))


__all__ = ["Metric", "Accuracy", "accuracy"]
