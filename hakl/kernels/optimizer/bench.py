"""The optimizer's benchmarks (issue 14): AdamW over a 10M-parameter model in 200
tensors (sizes drawn log-uniform, seed 0), float32 and float16 with float32 masters.
hakl's row is the dispatched variant (multi when untuned), the baseline per_param;
peers torch.optim.AdamW(foreach=True) and foreach=False (float32 only: torch has no
master weights). Bytes: what the update must read and write (nbytes in __init__: 28
per float32 parameter). Target: multi >= 2x the per-parameter baseline on CPUs and
>= 3x on GPUs (the issue's words), >= torch foreach (a peer ratio: notes/optimizer.md)."""
from __future__ import annotations

import numpy as np

from ...bench import Benchmark, Goal, case, import_peer
from . import _sizes

TENSORS = 200
CASES = (case(50_000, TENSORS, quick=True),)  # (mean elements per tensor, tensors): 10M parameters


def _inputs(shape, dtype, rng, kwargs):
    """Flat arrays (params, grads, moments1, moments2[, masters]): one input set."""
    mean, count = shape
    sizes = _sizes(mean, count, np.random.default_rng(0))
    master = dtype == "float16"
    w = [rng.standard_normal(s, dtype=np.float32) for s in sizes]
    params = [a.astype(dtype) for a in w]
    grads = [(0.1 * rng.standard_normal(s, dtype=np.float32)).astype(dtype) for s in sizes]
    state = np.float32 if master else dtype
    moments = [np.zeros(s, state) for s in sizes] + [np.zeros(s, state) for s in sizes]
    return tuple(params + grads + moments + (w if master else []))


def _lists(inputs):
    n = TENSORS
    parts = [list(inputs[k * n:(k + 1) * n]) for k in range(len(inputs) // n)]
    return parts[:4], (parts[4] if len(parts) > 4 else None)


def _call(fn, *inputs, **kwargs):
    (params, grads, m1, m2), masters = _lists(inputs)
    return fn(params, grads, m1, m2, lr=1e-3, step=10, master_params=masters)


def _torch(foreach: bool):
    def peer(device, sets, kwargs):
        torch = import_peer("torch")
        if device != "cpu":
            raise NotImplementedError("torch peer: cpu here")
        (params, grads, _, _), masters = _lists(sets[0])
        if masters is not None:
            raise NotImplementedError("torch.optim.AdamW keeps no float32 master weights")
        tensors = [torch.nn.Parameter(torch.from_numpy(p)) for p in params]
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g)
        optimizer = torch.optim.AdamW(tensors, lr=1e-3, weight_decay=0.01, foreach=foreach)
        optimizer.step()  # creates its state outside the timing
        return optimizer.step
    return peer


BENCHMARKS = (Benchmark(
    "adamw", "adamw", "optimizer", CASES, dtypes=("float32", "float16"), host_dtypes=("float32", "float16"),
    inputs=_inputs, call=_call, peers={"torch_foreach": _torch(True), "torch": _torch(False)},
    goals=(Goal("adamw-multi-cpu", "cpu", ("float32",), ("(50000, 200)",), "per_param", 2.0,
                promise="AdamW: significantly improved (issue 14: >= 2x the per-parameter baseline)"),
           Goal("adamw-multi-gpu", "cuda", ("float32", "float16"), ("(50000, 200)",), "per_param", 3.0,
                promise="AdamW: significantly improved (issue 14: >= 3x at 200 tensors on GPUs)")),
),)
