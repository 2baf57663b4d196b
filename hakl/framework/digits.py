"""The training run behind `hakl train digits`: scikit-learn's 8x8 digits (shipped with the
package, no download), a model written against hakl.framework as Paddle code, AdamW,
a loss / accuracy curve per epoch, and which hakl variants served it.

The split and every random choice (initial weights, shuffling, dropout) follow `seed`:
the same seed gives the same curve.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import hakl.framework as paddle
from hakl.tuning import dispatch

MODELS = ("mlp", "lstm", "gru")
TEST_SIZE = 360


@dataclass
class Epoch:
    epoch: int
    loss: float  # mean training loss over the epoch's batches
    accuracy: float  # on the held-out test split after the epoch
    samples_per_s: float
    variants: list[str] = field(default_factory=list)  # op:variant that served


def load(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): pixels scaled to [0, 1] as float32, labels int64;
    the test split is TEST_SIZE images chosen by `seed`."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RuntimeError("the digits data set comes with scikit-learn: pip install 'hakl[train]'") from None
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return x[train], y[train], x[test], y[test]


class Recurrent(paddle.nn.Layer):
    """Each 8x8 image as 8 steps of 8 features (its rows), an LSTM or GRU over them, the
    last step's hidden state through a Linear to the 10 classes."""

    def __init__(self, kind: str, hidden: int):
        super().__init__()
        self.rnn = (paddle.nn.LSTM if kind == "lstm" else paddle.nn.GRU)(8, hidden)
        self.head = paddle.nn.Linear(hidden, 10)

    def forward(self, x):
        _, state = self.rnn(paddle.reshape(x, [-1, 8, 8]))
        h = state[0] if isinstance(state, tuple) else state  # [1, B, H]
        return self.head(paddle.reshape(h, [-1, h.shape[-1]]))


def build(model: str, hidden: int = 128) -> paddle.nn.Layer:
    if model == "mlp":
        return paddle.nn.Sequential(paddle.nn.Linear(64, hidden), paddle.nn.ReLU(), paddle.nn.Dropout(0.1),
                                    paddle.nn.Linear(hidden, 10))
    if model in ("lstm", "gru"):
        return Recurrent(model, hidden)
    raise ValueError(f"--model {model!r}: expected one of {', '.join(MODELS)}")


def accuracy(model: paddle.nn.Layer, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with paddle.no_grad():
        pred = paddle.argmax(model(paddle.to_tensor(x)), axis=1)
        hits = paddle.cast(pred == paddle.to_tensor(y), "float32")
        value = paddle.mean(hits).item()
    model.train()
    return value


AMP = ("float16", "bfloat16")


def train(model: str = "mlp", device: str = "cpu", epochs: int = 10, batch_size: int = 64, lr: float = 3e-3,
          seed: int = 0, hidden: int = 128, on_batch: Callable[[int, int], None] | None = None,
          on_epoch: Callable[[Epoch], None] | None = None, amp: str | None = None) -> list[Epoch]:
    """Train `model` on the digits for `epochs`; `on_batch(epoch, batch)` after each step,
    `on_epoch(result)` after each epoch. `amp` "float16" or "bfloat16": the forward passes
    under paddle.amp.auto_cast (O1) in that dtype, float16's loss through a GradScaler.
    Returns the curve."""
    if amp is not None and amp not in AMP:
        raise ValueError(f"--amp {amp!r}: expected one of {', '.join(AMP)}")
    paddle.set_device(device)
    paddle.seed(seed)
    net = build(model, hidden)
    x_train, y_train, x_test, y_test = load(seed)
    loader = paddle.io.DataLoader(paddle.io.TensorDataset([x_train, y_train]), batch_size=batch_size, shuffle=True)
    opt = paddle.optimizer.AdamW(learning_rate=lr, parameters=net.parameters(), weight_decay=1e-4)
    loss_fn = paddle.nn.CrossEntropyLoss()
    mixed = contextlib.nullcontext if amp is None else lambda: paddle.amp.auto_cast(dtype=amp)
    scaler = paddle.amp.GradScaler() if amp == "float16" else None  # bfloat16 has float32's range

    curve = []
    served: set[tuple[str, str]] = set()

    def note(op, problem, selection):
        served.add((op.name, selection.variant.name))
        return selection

    for epoch in range(1, epochs + 1):
        start, losses, seen = time.perf_counter(), [], 0
        # The first epoch's calls say which variants serve (an observer makes every call check
        # and select again, where the later epochs' calls run their plans: dispatch.planned).
        with dispatch.observing(note) if epoch == 1 else contextlib.nullcontext():
            for i, (xb, yb) in enumerate(loader):
                with mixed():
                    loss = loss_fn(net(xb), yb)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    scaled = scaler.scale(loss)
                    scaled.backward()
                    scaler.minimize(opt, scaled)
                opt.clear_grad()
                losses.append(loss.item())
                seen += xb.shape[0]
                if on_batch is not None:
                    on_batch(epoch, i)
        elapsed = time.perf_counter() - start
        variants = sorted(f"{op}:{v}" for op, v in served)
        result = Epoch(epoch, float(np.mean(losses)), accuracy(net, x_test, y_test), seen / elapsed, variants)
        curve.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return curve
