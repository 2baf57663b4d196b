"""layer_norm's benchmarks (issue 14): the forward (layer_norm with weight and bias) and the
training pass (layer_norm_with_stats, then layer_norm_grad: dx, dweight, dbias) on a
transformer's (8192, 1024) activations and on (4096, 4096), float32 and float16 on every
device. Peers: torch (F.layer_norm; its autograd for the training pass) and NumPy (the
formulas of reference.py).

The issue's CPU target, layer_norm (8192, 1024) forward+backward at least as fast as torch
CPU (2 threads), is a ratio to a peer, which a Goal (a ratio to the op's baseline) cannot
express: the torch column of `hakl bench` shows it."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, case, cycling, only_on, torch_sets
from . import reference

CASES = (case(8192, 1024, quick=True), case(4096, 4096))
DTYPES = ("float32", "float16")


def _inputs(shape, dtype, rng, kwargs):
    n = shape[-1]
    x = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, n).astype(dtype), rng.standard_normal(n).astype(dtype)
    return x, w, b, rng.standard_normal(shape, dtype=np.float32).astype(dtype)


def _forward(fn, x, w, b, dout):
    return fn(x, x.shape[-1], w, b)


def _train(fn, x, w, b, dout):
    from . import layer_norm_grad

    y, mean, rstd = fn(x, x.shape[-1], w, b)
    return y, layer_norm_grad(x, dout, mean, rstd, x.shape[-1], w, True)


def _torch(train: bool):
    def peer(device, sets, kwargs):
        torch, tensors = torch_sets(device, sets)
        f = torch.nn.functional.layer_norm

        def run(x, w, b, dout):
            if not train:
                return f(x, x.shape[-1:], w, b)
            x, w, b = (t.detach().requires_grad_() for t in (x, w, b))
            y = f(x, x.shape[-1:], w, b)
            y.backward(dout)
            return y, x.grad, w.grad, b.grad

        return cycling(tensors, run)
    return peer


def _numpy(train: bool):
    def peer(device, sets, kwargs):
        only_on(device, "cpu", "numpy")

        def run(x, w, b, dout):
            ct = np.float32 if x.dtype != np.float64 else np.float64
            y, mean, rstd = reference.forward_xp(np, x, w, b, 1e-5, ct)
            return reference.backward_xp(x, dout, mean, rstd, w, True, ct) if train else y

        return cycling(sets, run)
    return peer


BENCHMARKS = (
    Benchmark("layer_norm", "layer_norm", "layer_norm", CASES, dtypes=DTYPES, host_dtypes=DTYPES, inputs=_inputs,
              call=_forward, peers={"torch": _torch(False), "numpy": _numpy(False)}),
    Benchmark("layer_norm_train", "layer_norm_with_stats", "layer_norm", CASES, dtypes=DTYPES, host_dtypes=DTYPES,
              inputs=_inputs, call=_train, peers={"torch": _torch(True), "numpy": _numpy(True)}),
)
