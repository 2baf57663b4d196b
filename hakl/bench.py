"""`hakl bench`: time the dispatched variant, the baseline and the peers per shape.

Every row carries the minimum bytes the op must move, the copy bandwidth
measured in the same run (the 100% mark), and the speed-up over the baseline
and the peers, all timed with the backend's own clock on rotating inputs.
"""
from __future__ import annotations

import datetime
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .backends import get as get_backend
from .op import OPS, Op, Problem
from .tuning import dispatch, timing

# A peer maps host inputs (after the op's sample) to a zero-argument callable
# that runs the peer's implementation on the device.
PeerFactory = Callable[[tuple[np.ndarray, ...]], Callable[[], Any]]


def fill(shape: tuple[int, ...], elements: int, parts: int = 1) -> tuple[int, ...]:
    """`shape` with its -1 extent sized so that `parts` arrays of it hold about `elements`:
    how a declared benchmark shape such as Paddle's [N, 36864] fills a device's budget."""
    known = math.prod(d for d in shape if d != -1)
    return tuple(max(elements // parts // known, 1) if d == -1 else d for d in shape)


@dataclass
class BenchCase:
    label: str  # what a reader recognises: "(16384, 1000) axis=-1"
    op: str
    problem: Problem
    axis: int | None = None
    peers: dict[str, PeerFactory] = field(default_factory=dict)


@dataclass
class BenchRow:
    op: str
    backend: str
    dtype: str
    shape: list[int]
    label: str
    axis: int | None
    variant: str
    config: dict
    source: str
    seconds: float
    gbps: float
    frac_copy: float
    baseline_seconds: float | None
    speedup: float | None
    peers: dict[str, float | None]


def bench_case(case: BenchCase, copy_bps: float, repeat: int = 10) -> BenchRow:
    op: Op = OPS[case.op]
    problem = case.problem
    backend = get_backend(problem.backend)
    host = op.sample(problem, np.random.default_rng(0))
    inputs = timing.rotating_inputs(backend, host)
    chosen = dispatch.select(op, problem)
    t = timing.median(timing.time_launcher(backend, problem, chosen.launcher, inputs, repeat=repeat))
    baseline = op.baseline(problem.backend)
    if chosen.variant is baseline:
        tb = t
    else:
        base = dispatch.force(op, problem, baseline)
        tb = timing.median(timing.time_launcher(backend, problem, base.launcher, inputs, repeat=repeat))
    peers: dict[str, float | None] = {}
    for name, factory in case.peers.items():
        try:
            run = factory(host)
            peers[name] = backend.median_time(run, warmup=2, repeat=repeat)
        except Exception:  # a missing or failing peer leaves a gap, not a crash
            peers[name] = None
    nbytes = op.nbytes(problem)
    return BenchRow(case.op, problem.backend, problem.dtype, list(problem.shape), case.label, case.axis,
                    chosen.variant.name, chosen.config, chosen.source, t, timing.gbps(nbytes, t),
                    nbytes / t / copy_bps, tb, tb / t, peers)


def _per_call_seconds(fn: Callable[[], Any], repeat: int, samples: int = 7) -> float:
    """Median over `samples` of the mean wall time of `repeat` back-to-back calls."""
    for _ in range(min(repeat, 200)):
        fn()
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - t0) / repeat)
    return float(np.median(times))


def dispatch_overhead_us(repeat: int = 2000) -> float:
    """Microseconds a cache-hit `hakl.softmax` call spends above its launcher (CPU, tiny input)."""
    from .kernels.softmax import SOFTMAX, softmax

    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    softmax(x)
    launcher = dispatch.select(SOFTMAX, Problem("softmax", "cpu", "float32", (4, 8, 1), (("log", False),))).launcher
    x3 = x.reshape(4, 8, 1)
    return max(_per_call_seconds(lambda: softmax(x), repeat) - _per_call_seconds(lambda: launcher(x3), repeat),
               0.0) * 1e6


def small_calls(shape: tuple[int, ...] = (4, 8)) -> dict[str, tuple[Callable[[], Any], Callable[[], Any] | None]]:
    """op -> (hakl call, torch call or None) on a small float32 CPU input: the calls a
    training framework makes many of."""
    import hakl

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    calls: dict[str, list] = {
        "softmax": [lambda: hakl.softmax(x), "torch.softmax(t, -1)"],
        "log_softmax_grad": [lambda: hakl.log_softmax_grad(x, x), None],
        "cumsum": [lambda: hakl.cumsum(x, axis=1), "torch.cumsum(t, 1)"],
        "cast": [lambda: hakl.cast(x, "float16"), "t.to(torch.float16)"],
        "dropout": [lambda: hakl.dropout(x, 0.5), "torch.nn.functional.dropout(t, 0.5)"],
        "stack": [lambda: hakl.stack([x, x]), "torch.stack([t, t])"],
    }
    try:
        import torch

        env = {"torch": torch, "t": torch.from_numpy(x)}
        for entry in calls.values():
            entry[1] = None if entry[1] is None else eval(f"lambda: {entry[1]}", env)  # noqa: S307
    except ImportError:
        for entry in calls.values():
            entry[1] = None
    return {name: (a, b) for name, (a, b) in calls.items()}


def _spin() -> None:
    while True:
        pass


def small_call_overhead(repeat: int = 500) -> list[dict[str, Any]]:
    """Microseconds per small call, idle and while a second process keeps every core
    busy, for hakl and torch (what numba parallel regions suffer when a worker thread
    is descheduled, and what the serial path below the threshold avoids)."""
    import multiprocessing
    import os

    calls = small_calls()
    rows = {name: {"op": name} for name in calls}
    for state in ("idle", "busy"):
        spinners = []
        if state == "busy":
            ctx = multiprocessing.get_context("spawn")
            spinners = [ctx.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
            for p in spinners:
                p.start()
            time.sleep(0.5)
        try:
            for name, (ours, torch_call) in calls.items():
                rows[name][f"hakl_{state}_us"] = _per_call_seconds(ours, repeat) * 1e6
                rows[name][f"torch_{state}_us"] = (None if torch_call is None else
                                                   _per_call_seconds(torch_call, repeat) * 1e6)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
    return list(rows.values())


def record(rows: list[BenchRow], backend_name: str, copy_bps: float, path: Path,
           small: list[dict[str, Any]] | None = None) -> Path:
    backend = get_backend(backend_name)
    doc = {
        "machine": machine_name(backend_name),
        "device": backend.fingerprint().get("device", backend_name),
        "backend": backend_name,
        "fingerprint": backend.fingerprint(),
        "copy_gbps": copy_bps / 1e9,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hakl_version": __version__,
        "rows": [asdict(r) for r in rows],
    }
    if small is not None:
        doc["small_calls"] = small
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def machine_name(backend_name: str) -> str:
    """A short folder name for reports: the GPU's model, or cpu-<cores>core."""
    backend = get_backend(backend_name)
    if backend_name == "cpu" or (backend_name == "opencl" and not backend.is_gpu()):
        import os  # an OpenCL CPU device (PoCL) is this machine's CPU: one page for both

        return f"cpu-{os.cpu_count()}core"
    device = backend.fingerprint().get("device", backend_name)
    for model in ("H200", "H100", "A100", "L40S", "L4", "B200"):
        if model in device:
            return model.lower()
    return f"{backend_name}-{platform.node()}"
