"""The RNN family's benchmarks (issue 13): LSTM, GRU and SimpleRNN (tanh) at T=64 B=32
I=256 H=256 and T=128 B=64 I=512 H=512, one layer, batch-major input, forward (hakl.rnn)
and forward+backward (hakl.rnn_train, then its Derivative: dx and every weight's
gradient from the reserve). A case is (T, B, I, H) with the mode. Peer: torch
(nn.LSTM / nn.GRU / nn.RNN with the same weights; no_grad for the forward, autograd for
the training pass). The issue's CPU target (at or above torch CPU at every shape) is a
ratio to a peer, which a Goal (a ratio to the baseline) cannot express: the torch column
shows it. PaddlePaddle's own RNN benchmark configs are not in the stored references."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, cycling, torch_sets
from .reference import GATES

MODES = ("LSTM", "GRU", "RNN_TANH")
CASES = tuple(case(64, 32, 256, 256, mode=m, quick=m == "LSTM") for m in MODES) + \
    tuple(case(128, 64, 512, 512, mode=m) for m in MODES)


def _inputs(shape, dtype, rng, kwargs):
    t, b, n_in, h = shape
    g = GATES[kwargs["mode"]] * h
    bound = 1 / np.sqrt(h)
    x = rng.standard_normal((b, t, n_in), dtype=np.float32).astype(dtype)
    w = [rng.uniform(-bound, bound, s).astype(dtype) for s in ((g, n_in), (g, h), (g,), (g,))]
    dy = rng.standard_normal((b, t, h), dtype=np.float32).astype(dtype)
    return (x, *w, dy)


def _forward(fn, x, *rest, mode):
    return fn(mode, x, list(rest[:4]))


def _train(fn, x, *rest, mode):
    from . import _backward

    weights = list(rest[:4])
    out = fn(mode, x, weights)
    return _backward((mode, x, weights), {}, out, (rest[4], None, None, None))


def _torch(train: bool):
    def peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        mode = kwargs["mode"]
        x, w_ih, w_hh, b_ih, b_hh, _ = tensors[0]
        cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
        net = cls(x.shape[2], w_hh.shape[1], batch_first=True).to(device=x.device, dtype=x.dtype)
        with torch.no_grad():
            for p, w in zip(net.parameters(), (w_ih, w_hh, b_ih, b_hh)):
                p.copy_(w)

        def run(x, *rest):
            if not train:
                with torch.no_grad():
                    return net(x)[0]
            x = x.detach().requires_grad_()
            y = net(x)[0]
            y.backward(rest[4])
            return y, x.grad

        return cycling(tensors, run)
    return peer


GOALS = (
    Goal("rnn-cuda", "cuda", ("float32",), tuple(c.label for c in CASES[:2]), baseline="cupy", ratio=1.5,
         promise="RNN (LSTM, GRU, SimpleRNN) on GPU: significantly improved",
         why="a step-by-step composition of GEMM and elementwise calls pays one launch per gate per step; fusing "
             "the gates into one kernel per step halves the launches and the memory traffic of the gate "
             "activations, >= 1.5x at batch 32"),
)

BENCHMARKS = (
    Benchmark("rnn", "rnn", "rnn", CASES, dtypes=("float32",), inputs=_inputs, call=_forward,
              peers={"torch": _torch(False)}, goals=GOALS),
    Benchmark("rnn_train", "rnn_train", "rnn", CASES, dtypes=("float32",), inputs=_inputs, call=_train,
              peers={"torch": _torch(True)}),
)
