"""Benchmarks: what each family declares, how one case is measured, and `hakl bench`.

A family declares its benchmarks in hakl/kernels/<family>/bench.py: the cases
(PaddlePaddle's configs and a bandwidth-scale set, a -1 extent filling the
device's element budget), dtypes, inputs, peers and the release-note targets
(`Goal`s). `hakl bench` and the asv suite (asv_bench/) read those declarations
and measure them the same way (`Prepared`): the public function is called once
per input set while dispatch is observed, and what it launched is replayed.

Every `hakl bench` row carries the minimum bytes the op must move, the copy
bandwidth measured in the same run (the 100% mark), and the speed-up over the
baseline and the peers, all timed with the backend's own clock on rotating inputs.
Ops bound by arithmetic (GEMM) declare their flops: their rows add GFLOP/s and the
fraction of the op's `peak` case on the same device in the same run (a large GEMM).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib
import itertools
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import __version__
from .backends import get as get_backend
from .op import BFLOAT16, FUNCTIONS
from .tuning import dispatch, timing

ELEMENTS_GPU = 1 << 26  # 64M: 256 MB in float32, five times an H100's L2
ELEMENTS_CPU = 1 << 24  # 64 MB in float32: several times this machine's last-level cache
ELEMENTS_QUICK_CPU = 1 << 22


def fill(shape: tuple[int, ...], elements: int, parts: int = 1) -> tuple[int, ...]:
    """`shape` with its -1 extent sized so that `parts` arrays of it hold about `elements`:
    how a declared benchmark shape such as Paddle's [N, 36864] fills a device's budget."""
    known = math.prod(d for d in shape if d != -1)
    return tuple(max(elements // parts // known, 1) if d == -1 else d for d in shape)


# ---------------------------------------------------------------------------
# What a family declares (in hakl/kernels/<family>/bench.py)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One benchmarked shape. A -1 extent is sized to fill the device's element
    budget, shared by `parts` inputs (stack's n inputs); the label shows it as *."""

    shape: tuple[int, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    parts: int = 1
    dtypes: tuple[str, ...] | None = None  # only these dtypes (cast's pairs)
    gpu_only: bool = False  # too large for a CPU run
    quick: bool | tuple[str, ...] = False  # in `hakl bench --quick`'s short set (in the first dtype, or these)
    peak: bool = False  # its GFLOP/s (the best of such cases) is the 100% mark of the op's rows

    def quick_in(self, dtype: str, first: str) -> bool:
        return dtype in self.quick if isinstance(self.quick, tuple) else self.quick and dtype == first

    @property
    def label(self) -> str:
        dims = ", ".join("*" if d == -1 else str(d) for d in self.shape)
        dims = f"({dims},)" if len(self.shape) == 1 else f"({dims})"
        return " ".join([dims] + [f"{k}={v}" for k, v in self.kwargs])

    def resolve(self, elements: int) -> tuple[int, ...]:
        return fill(self.shape, elements, self.parts)


def case(*shape: int, parts: int = 1, dtypes: Sequence[str] | None = None, gpu_only: bool = False,
         quick: bool | Sequence[str] = False, peak: bool = False, **kwargs: Any) -> Case:
    return Case(tuple(shape), tuple(kwargs.items()), parts, tuple(dtypes) if dtypes else None, gpu_only,
                quick if isinstance(quick, bool) else tuple(quick), peak)


# A peer gets the device, the input sets on that device and the case's kwargs, and
# returns a zero-argument callable that runs the peer once (cycling the sets); it
# raises NotImplementedError where it cannot run (not installed, another device).
Peer = Callable[[str, list[tuple], dict], Callable[[], Any]]


def normal_inputs(shape: tuple[int, ...], dtype: str, rng: np.random.Generator, kwargs: dict) -> tuple:
    return ((3 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype),)


# Peers that run on one device only; the others run on the CPU (torch also on GPUs).
PEER_DEVICES = {"cupy": "cuda"}


@dataclass(frozen=True)
class Goal:
    """A target of the benchmark that declares it: on `device`, every shape pattern (a
    case label; * matches any extent) in every dtype runs at least `ratio` times faster
    than `against`, measured in one run: the op's baseline variant (named `baseline`),
    or a peer (against="torch")."""

    id: str
    device: str
    dtypes: tuple[str, ...]
    shapes: tuple[str, ...]
    baseline: str
    ratio: float
    promise: str = ""  # what the release note promised, quoted
    why: str = ""  # why this ratio, where the note only says "significantly improved"
    against: str = "baseline"


@dataclass(frozen=True)
class Benchmark:
    """What to measure for one public function: its cases, dtypes, inputs and peers."""

    op: str  # names the benchmarks (time_<op>, track_<op>_speedup) and the targets
    function: str  # public function: hakl.<function>, else hakl.kernels.<module>.<function>
    module: str  # hakl.kernels.<module>: the family
    cases: tuple[Case, ...]
    dtypes: tuple[str, ...] = ("float32", "float16")
    host_dtypes: tuple[str, ...] = ("float32",)  # dtypes benchmarked on CPU devices
    inputs: Callable[[tuple[int, ...], str, np.random.Generator, dict], tuple] = normal_inputs
    call: Callable[..., Any] | None = None  # (fn, *inputs, **kwargs); default fn(*inputs, **kwargs)
    dtype_kwargs: Callable[[str], dict] | None = None  # call kwargs the dtype parameter implies (cast's dtype)
    peers: dict[str, Peer] = field(default_factory=dict)
    goals: tuple[Goal, ...] = ()

    def case(self, label: str) -> Case:
        return next(c for c in self.cases if c.label == label)

    def public_function(self) -> Callable[..., Any]:
        import hakl

        fn = getattr(hakl, self.function, None)
        if fn is None:
            try:
                fn = getattr(importlib.import_module(f"hakl.kernels.{self.module}"), self.function, None)
            except ImportError:
                fn = None
        if fn is None:
            raise NotImplementedError(f"{self.op}: hakl.{self.function} is not built yet (its targets are pending)")
        return fn

    def parity_goals(self) -> tuple[Goal, ...]:
        """What every family owes beside its release-note targets, so that a dashboard
        judges the machines it runs on and not only GPUs: on the CPU, hakl at or above
        each CPU peer at every benchmark shape; on OpenCL, at or above its own baseline."""
        shapes = tuple(c.label for c in self.cases if not c.gpu_only)
        peers = [p for p in self.peers if PEER_DEVICES.get(p, "cpu") == "cpu"]
        return (*(Goal(f"{self.op}-cpu-vs-{peer}", "cpu", self.host_dtypes, shapes, peer, 1.0, against=peer,
                       promise=f"{self.op} on the CPU at or above {peer} at every benchmark shape")
                  for peer in peers),
                Goal(f"{self.op}-opencl-vs-baseline", "opencl", self.host_dtypes, shapes, "baseline", 1.0,
                     promise=f"{self.op}'s OpenCL kernels at or above their baseline at every benchmark shape"))

    def runs(self, gpu: bool, quick: bool = False) -> list[tuple[str, Case]]:
        """The (dtype, case) pairs a device measures: on GPUs every dtype and case, on CPUs
        the host dtypes and no GPU-only case; `quick`: the quick cases in the first dtype
        (a case quick in named dtypes: in those)."""
        dtypes = self.dtypes if gpu else self.host_dtypes
        return [(dtype, c) for dtype in dtypes for c in self.cases
                if not ((c.gpu_only and not gpu) or (c.dtypes and dtype not in c.dtypes)
                        or (quick and not c.quick_in(dtype, dtypes[0])))]

    def takes(self, device: str, dtype: str) -> bool:
        """Whether the benchmarked function takes `dtype` (cast's "source->destination": both)
        on `device`: some input of its declaration has it in its domain there (embedding's
        table, not its ids; bfloat16: the CPU's)."""
        declared = FUNCTIONS.get(self.function)
        domains = [d for d in (i.domain(device) for i in declared.inputs) if d] if declared else []
        return not domains or all(any(part in d for d in domains) for part in dtype.split("->"))


# ---- peers' helpers -----------------------------------------------------------

def import_peer(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise NotImplementedError(f"peer {name} is not installed ({exc})") from None


def cycling(sets: list[tuple], run: Callable[..., Any]) -> Callable[[], Any]:
    it = itertools.cycle(sets)
    return lambda: run(*next(it))


def torch_sets(device: str, sets: list[tuple]) -> tuple[Any, list[tuple]]:
    """torch and the input sets as tensors sharing the device arrays' memory (a bfloat16
    array, which torch.from_numpy does not know, through its int16 bits)."""
    if device not in ("cpu", "cuda"):
        raise NotImplementedError(f"torch has no {device} device here")
    torch = import_peer("torch")
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("torch is a CPU build")

    def convert(a):
        if device != "cpu":
            return torch.from_dlpack(a)
        if a.dtype == BFLOAT16:
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(a)

    return torch, [tuple(convert(a) for a in s) for s in sets]


def only_on(device: str, wanted: str, peer: str) -> None:
    if device != wanted:
        raise NotImplementedError(f"peer {peer} runs on {wanted} only")


# ---------------------------------------------------------------------------
# Measuring one case: the public function is called once per input set while
# dispatch is observed; what it launched is replayed (hakl), or replayed through
# the op's baseline variant (baseline); peers run on the same input sets.
# ---------------------------------------------------------------------------

@dataclass
class Launch:
    """One launcher call a public function made, kept so that it can be replayed."""

    op: Any
    problem: Any
    selection: Any
    args: tuple
    kwargs: dict
    nested: bool = False  # made inside another launch (an RNN's products): tuned, not replayed

    def replay(self, launcher: Callable[..., Any] | None = None) -> Any:
        return (launcher or self.selection.launcher)(*self.args, **self.kwargs)


@contextlib.contextmanager
def recording():
    """Every launch made through hakl.tuning.dispatch.select inside the block; those made
    while another one runs are marked nested."""
    launches: list[Launch] = []
    depth = [0]

    def observe(op, problem, selection):
        def capture(*args, **kwargs):
            launches.append(Launch(op, problem, selection, args, kwargs, depth[0] > 0))
            depth[0] += 1
            try:
                return selection.launcher(*args, **kwargs)
            finally:
                depth[0] -= 1

        return dataclasses.replace(selection, launcher=capture)

    with dispatch.observing(observe):
        yield launches


def is_gpu(device: str) -> bool:
    backend = get_backend(device)
    return device == "cuda" or (device == "opencl" and backend.available and backend.is_gpu())


class Prepared:
    """Inputs and runners for one (benchmark, device, dtype, case) at `elements`;
    `on_recorded` sees it once the public function's launches are known."""

    def __init__(self, benchmark: Benchmark, device: str, dtype: str, label: str, copy_bps: float | None,
                 elements: int, on_recorded: Callable[["Prepared"], None] | None = None):
        backend = get_backend(device)
        if not backend.available:
            raise NotImplementedError(f"{device}: {backend.unavailable_reason}")
        c = benchmark.case(label)
        if c.dtypes is not None and dtype not in c.dtypes:
            raise NotImplementedError(f"{benchmark.op} {label} is benchmarked in {', '.join(c.dtypes)} only")
        if not benchmark.takes(device, dtype):
            raise NotImplementedError(f"{benchmark.op} has no {dtype} on {device}")
        if not is_gpu(device) and (c.gpu_only or dtype not in benchmark.host_dtypes):
            raise NotImplementedError(f"{benchmark.op} {label} {dtype} is benchmarked on GPUs only")
        self.fn = benchmark.public_function()
        self.benchmark, self.device, self.dtype, self.label = benchmark, device, dtype, label
        self.backend, self.copy_bps, self.on_recorded = backend, copy_bps, on_recorded
        self.kwargs = dict(c.kwargs)
        if benchmark.dtype_kwargs is not None:
            self.kwargs.update(benchmark.dtype_kwargs(dtype))
        self.shape = c.resolve(elements)
        host = benchmark.inputs(self.shape, dtype, np.random.default_rng(0), self.kwargs)
        self.sets = timing.rotating_inputs(backend, host)
        self._launches: list[list[Launch]] | None = None

    def call(self, *inputs: Any) -> Any:
        if self.benchmark.call is not None:
            return self.benchmark.call(self.fn, *inputs, **self.kwargs)
        return self.fn(*inputs, **self.kwargs)

    @property
    def timed(self) -> list[list[Launch]]:
        """The launches the timing replays, per input set: a nested one runs inside its outer
        one (an RNN layer's launcher makes its products), and replayed on its own as well, it
        counted an rnn_train's GEMMs twice (102 ms for a 50 ms call)."""
        return [[launch for launch in seen if not launch.nested] for seen in self.launches]

    @property
    def launches(self) -> list[list[Launch]]:
        """Every launch of one public call per input set, nested ones too (the tuning suite's
        keys; recorded on first use)."""
        if self._launches is None:
            launches = []
            for inputs in self.sets:
                with recording() as seen:
                    self.call(*inputs)
                if not seen:
                    raise RuntimeError(f"{self.benchmark.op}: hakl.{self.benchmark.function} launched nothing "
                                       "through hakl.tuning.dispatch.select")
                launches.append(seen)
            self.backend.synchronize()
            self._launches = launches
            if self.on_recorded is not None:
                self.on_recorded(self)
        return self._launches

    def runner(self, impl: str) -> Callable[[], Any]:
        """A zero-argument callable that runs `impl` once on the next input set."""
        if impl == "hakl":
            sets = itertools.cycle(self.timed)
            return lambda: [launch.replay() for launch in next(sets)]
        if impl == "baseline":
            forced: dict[int, Callable] = {}
            for launch in itertools.chain.from_iterable(self.timed):
                baseline = launch.op.baseline(launch.problem.backend)
                forced[id(launch)] = dispatch.force(launch.op, launch.problem, baseline).launcher
            sets = itertools.cycle(self.timed)
            return lambda: [launch.replay(forced[id(launch)]) for launch in next(sets)]
        peer = self.benchmark.peers.get(impl)
        if peer is None:
            raise NotImplementedError(f"{self.benchmark.op}: no peer {impl!r}")
        return peer(self.device, self.sets, self.kwargs)

    def dispatched_baseline(self) -> bool:
        return all(launch.selection.variant.baseline for launch in self.timed[0])

    def nbytes(self) -> int:
        return sum(int(launch.op.nbytes(launch.problem)) for launch in self.timed[0])

    def flops(self) -> int | None:
        """The arithmetic of one call, where every op it launches declares its flops."""
        launches = self.timed[0]
        if any(launch.op.flops is None for launch in launches):
            return None
        return sum(int(launch.op.flops(launch.problem)) for launch in launches)

    def seconds(self, impl: str, repeat: int = 7, budget: float | None = None) -> float:
        """Device seconds of one `impl` call: the median of `repeat` after warm-up; with a
        `budget` (seconds), fewer repeats (never under 3) where `repeat` would take longer,
        judged by the first warm-up call (an LSTM on PoCL takes seconds a call)."""
        run = self.runner(impl)
        warmup = 2
        if budget is not None:
            first = self.backend.elapsed(run)  # cold, only to size the repeats: a warm-up too
            repeat = max(3, min(repeat, int(budget / max(first, 1e-9))))
            warmup = 1 if first < budget else 0  # a call of seconds needs no second warm-up
        return statistics.median(self.backend.time(run, warmup=warmup, repeat=repeat))

    def speedup(self, repeat: int = 7) -> float:
        """Baseline seconds over hakl seconds, medians of `repeat` after warm-up."""
        if self.dispatched_baseline():
            return 1.0  # the dispatcher chose the baseline itself: the same kernels
        return self.seconds("baseline", repeat) / self.seconds("hakl", repeat)


# ---------------------------------------------------------------------------
# `hakl bench`
# ---------------------------------------------------------------------------

def element_budget(device: str, quick: bool = False) -> int:
    """How many elements a case's -1 extent fills (HAKL_BENCH_ELEMENTS overrides)."""
    if os.environ.get("HAKL_BENCH_ELEMENTS"):
        return int(os.environ["HAKL_BENCH_ELEMENTS"])
    if is_gpu(device):
        return ELEMENTS_GPU
    return ELEMENTS_QUICK_CPU if quick else ELEMENTS_CPU


def cases(device: str, ops: Sequence[str] = (), quick: bool = False) -> list[tuple[Benchmark, str, Case]]:
    """The declared (benchmark, dtype, case) triples `device` measures, of `ops` (default all)."""
    from .kernels import benchmarks

    return [(b, dtype, c) for b in benchmarks() if not ops or b.op in ops
            for dtype, c in b.runs(is_gpu(device), quick) if b.takes(device, dtype)]


def _prepare_share(device: str, ops: Sequence[str], quick: bool, elements: int, share: int, shares: int,
                   small: bool) -> None:
    """Every `shares`-th case of `device` from `share`, called once: what a case's first call
    compiles (numba) and verifies lands on disk, in numba's cache and the tuning database."""
    if small:
        for hakl_call, _ in small_calls().values():
            hakl_call()
    for benchmark, dtype, c in cases(device, ops, quick)[share::shares]:
        try:
            Prepared(benchmark, device, dtype, c.label, None, elements).launches
        except Exception:  # the measuring process meets it again and reports it
            continue


def prepare_in_processes(device: str, ops: Sequence[str], quick: bool, elements: int, processes: int,
                         small: bool = False) -> None:
    """Compile and verify `device`'s cases in `processes` processes before the measuring
    process times them. numba compiles on one thread, and a fresh clone's cold cache left
    about 2.3 of the cpu step's 3.9 minutes to compiling (2-core Xeon, `hakl bench --quick`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child would inherit numba's threading layer mid-flight
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        shares = [pool.submit(_prepare_share, device, tuple(ops), quick, elements, i, processes, small and i == 0)
                  for i in range(processes)]
        for share in shares:
            share.result()


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
    gflops: float | None = None  # ops that declare their flops
    frac_peak: float | None = None  # of the op's peak case on this device (peak_fractions)


def bench_row(p: Prepared, copy_bps: float, repeat: int = 10, budget: float = 0.5) -> BenchRow:
    """One row: the dispatched kernels, the baseline's and each peer's median time (each
    in about `budget` seconds, at least 3 repeats)."""
    t = p.seconds("hakl", repeat, budget)
    tb = t if p.dispatched_baseline() else p.seconds("baseline", repeat, budget)
    peers: dict[str, float | None] = {}
    for name in p.benchmark.peers:
        try:
            peers[name] = p.seconds(name, repeat, budget)
        except NotImplementedError:
            continue  # not on this device, or not installed: no column
        except Exception:  # a failing peer leaves a gap, not a crash
            peers[name] = None
    first = p.timed[0][0].selection
    nbytes, flops = p.nbytes(), p.flops()
    return BenchRow(p.benchmark.op, p.device, p.dtype, list(p.shape), p.label, p.kwargs.get("axis"),
                    "+".join(launch.selection.variant.name for launch in p.timed[0]), first.config,
                    first.source, t, timing.gbps(nbytes, t), nbytes / t / copy_bps, tb, tb / t, peers,
                    None if flops is None else flops / t / 1e9)


def peak_fractions(rows: list[BenchRow], measured: Sequence[tuple[Benchmark, str, Case]]) -> None:
    """Set each row's frac_peak: its GFLOP/s over the best of its op's `peak` cases in the
    same dtype among `rows` (one device's run; `measured` are the rows' cases, in order)."""
    best: dict[tuple[str, str], float] = {}
    for row, (_, _, c) in zip(rows, measured):
        if c.peak and row.gflops:
            best[(row.op, row.dtype)] = max(best.get((row.op, row.dtype), 0.0), row.gflops)
    for row in rows:
        peak = best.get((row.op, row.dtype))
        if peak and row.gflops is not None:
            row.frac_peak = row.gflops / peak


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


def _best_per_call(backend, fn: Callable[[], Any], calls: int = 1000, batches: int = 5) -> float:
    """The fastest of `batches` mean wall times of `calls` back-to-back calls: the floor
    of what a call costs, which interference on a shared host only ever raises."""
    best = float("inf")
    for _ in range(batches):
        backend.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        backend.synchronize()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def dispatch_overhead_us(device: str = "cpu") -> float:
    """Microseconds a cache-hit `hakl.softmax` call on a 4x8 float32 input spends above
    the launcher it dispatches to (validation, canonical shape, key, lookup): the one
    measurement `hakl bench` prints and the asv suite tracks."""
    import hakl

    backend = get_backend(device)
    x = backend.asarray(np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32))
    with recording() as seen:
        hakl.softmax(x)
    (launch,) = seen
    return max(_best_per_call(backend, lambda: hakl.softmax(x)) - _best_per_call(backend, launch.replay), 0.0) * 1e6


def framework_overhead_us(device: str = "cpu") -> float:
    """Microseconds `a + b` on two hakl.framework Tensors (4x8 float32, recorded on the
    tape) spends above the `hakl.add` call it makes: the framework's per-op cost."""
    import hakl
    import hakl.framework as paddle

    backend = get_backend(device)
    host = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    x, y = backend.asarray(host), backend.asarray(host)
    a = paddle.to_tensor(host, place=device, stop_gradient=False)
    b = paddle.to_tensor(host, place=device, stop_gradient=False)
    # interleaved batches, the floor of each: on a shared host two separate runs of
    # minima drift apart by more than the few microseconds measured here
    direct = framework = float("inf")
    for _ in range(15):
        direct = min(direct, _best_per_call(backend, lambda: hakl.add(x, y), batches=1))
        framework = min(framework, _best_per_call(backend, lambda: a + b, batches=1))
    return max(framework - direct, 0.0) * 1e6


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
    """A short folder name for reports: the device's kind (Backend.machine_kind: the GPU's
    model, or the CPU's, xeon-avx512-2core)."""
    return get_backend(backend_name).machine_kind()
