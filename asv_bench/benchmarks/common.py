"""The machinery every op family's benchmark module shares.

A family module declares what to measure — its cases (PaddlePaddle's benchmark
configs and a bandwidth-scale set), dtypes and peers — and `family.suite()`
turns that into two asv classes:

- ``<Name>.time_<op>(device, dtype, shape, impl)``: device seconds of one call of
  the kernels hakl dispatched (impl="hakl"), of the op's baseline variant
  ("baseline") or of a peer library ("torch", "cupy", "numpy"). The backend's
  own clock (CUDA events, OpenCL profiling events, perf_counter on the CPU) is
  handed to asv as its `timer`, so asv's statistics, `compare` and `continuous`
  all work on device time rather than on the host's view of an async launch.
- ``<Name>Speedup.track_<op>_speedup(device, dtype, shape)``: baseline time over
  hakl time, both measured in the same process, on GPUs: the ratios that
  asv_bench/targets.json promises (on a machine without a GPU the class is None,
  and the time_ results of hakl and the baseline give the CPU ratios).

hakl's side is timed at the kernel level: the public function is called once per
input set while `hakl.tuning.dispatch.select` is observed, and what it launched
(launcher, arguments, chosen variant) is replayed; the baseline replays the same
arguments through the op's baseline variant. The dispatched variant, its
config, whether it was tuned, the bytes moved and the copy bandwidth of the
run go to ``<results_dir>/dispatch/<host>.jsonl``, one line per benchmark
process; hakl.regression matches them to asv's results by parameters and time.

The parameters list the devices this machine has (present_devices), and GPU-only
dtypes and cases only where a GPU may be, so that asv does not start a process
per combination that could only be skipped; what is listed but not there (a
device that fails to start, a peer not installed, an op not built yet) raises
NotImplementedError in setup, which asv records as skipped.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# Imported here, not lazily: asv forks each benchmark process from one that imported
# the suite, so hakl (numba, the kernel families) is imported once per run.
import hakl
import hakl.backends
from hakl.bench import fill
from hakl.tuning import dispatch
from hakl.tuning.timing import rotating_inputs

IMPLS = ("hakl", "baseline")
PEER_DEVICES = {"cupy": "cuda"}  # peers that exist on one device only
# Bandwidth-scale cases fill this many elements: 64M (256 MB in fp32, five times
# an H100's L2) on GPUs; 4M on CPUs so that the quick suite stays short on 2 cores.
GPU_ELEMENTS = 1 << 26
CPU_ELEMENTS = 1 << 22
MIN_SAMPLE = 1e-3  # seconds: shorter calls are timed in back-to-back batches


# ---- which devices this machine benchmarks -------------------------------------

def present_devices() -> tuple[str, ...]:
    """The devices this machine may have (HAKL_BENCH_DEVICES="cpu,cuda" overrides).

    Decided without starting a driver: asv forks every benchmark process from the
    one that imported this suite, and a CUDA or OpenCL runtime started before a
    fork is unusable in the child. Listing only these keeps asv from spawning a
    process per parameter combination that could only be skipped; a device listed
    here that then fails to start is still skipped, with its reason."""
    override = os.environ.get("HAKL_BENCH_DEVICES")
    if override:
        return tuple(d.strip() for d in override.split(",") if d.strip())
    devices = ["cpu"]
    if importlib.util.find_spec("pyopencl") and (glob.glob("/etc/OpenCL/vendors/*.icd")
                                                 or os.environ.get("OCL_ICD_VENDORS")):
        devices.append("opencl")
    if importlib.util.find_spec("cupy") and os.path.exists("/dev/nvidiactl"):
        devices.append("cuda")
    return tuple(devices)


def gpu_possible() -> bool:
    """Whether a GPU may be here: then GPU-only dtypes, cases and speed-ups are listed."""
    icds = " ".join(Path(p).read_text(errors="ignore") for p in glob.glob(
        os.path.join(os.environ.get("OCL_ICD_VENDORS") or "/etc/OpenCL/vendors", "*.icd")))
    return "cuda" in DEVICES or any(v in icds.lower() for v in ("nvidia", "amdocl", "intel-opencl"))


DEVICES = present_devices()
GPU = gpu_possible()


# ---- what a family declares ---------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One benchmarked shape. A -1 extent is sized to fill the device's element
    budget, shared by `parts` inputs (stack's n inputs); the label shows it as *."""

    shape: tuple[int, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    parts: int = 1
    dtypes: tuple[str, ...] | None = None  # only these dtypes (cast's pairs)
    gpu_only: bool = False  # too large for a CPU run

    @property
    def label(self) -> str:
        dims = ", ".join("*" if d == -1 else str(d) for d in self.shape)
        dims = f"({dims},)" if len(self.shape) == 1 else f"({dims})"
        return " ".join([dims] + [f"{k}={v}" for k, v in self.kwargs])

    def resolve(self, elements: int) -> tuple[int, ...]:
        return fill(self.shape, elements, self.parts)


def case(*shape: int, parts: int = 1, dtypes: Sequence[str] | None = None, gpu_only: bool = False,
         **kwargs: Any) -> Case:
    return Case(tuple(shape), tuple(kwargs.items()), parts, tuple(dtypes) if dtypes else None, gpu_only)


# A peer gets the device, the input sets on that device and the case's kwargs, and
# returns a zero-argument callable that runs the peer once (cycling the sets).
Peer = Callable[[str, list[tuple], dict], Callable[[], Any]]


def normal_inputs(shape: tuple[int, ...], dtype: str, rng: np.random.Generator, kwargs: dict) -> tuple:
    return ((3 * rng.standard_normal(shape, dtype=np.float32)).astype(dtype),)


@dataclass(frozen=True)
class Family:
    op: str  # names the benchmarks (time_<op>, track_<op>_speedup) and the targets
    function: str  # public function: hakl.<function>, else hakl.kernels.<module>.<function>
    module: str  # hakl.kernels.<module>
    cases: tuple[Case, ...]
    dtypes: tuple[str, ...] = ("float32", "float16")
    host_dtypes: tuple[str, ...] = ("float32",)  # dtypes benchmarked on CPU devices
    inputs: Callable[[tuple[int, ...], str, np.random.Generator, dict], tuple] = normal_inputs
    call: Callable[..., Any] | None = None  # (fn, *inputs, **kwargs); default fn(*inputs, **kwargs)
    dtype_kwargs: Callable[[str], dict] | None = None  # call kwargs the dtype parameter implies (cast's dtype)
    peers: dict[str, Peer] = field(default_factory=dict)

    def case(self, label: str) -> Case:
        return next(c for c in self.cases if c.label == label)

    def suite(self) -> tuple[type, type | None]:
        """The asv classes (time_<op>, track_<op>_speedup), to bind to module-level names."""
        return build_suite(self, inspect.currentframe().f_back.f_globals)

    def public_function(self) -> Callable[..., Any]:
        fn = getattr(hakl, self.function, None)
        if fn is None:
            try:
                fn = getattr(importlib.import_module(f"hakl.kernels.{self.module}"), self.function, None)
            except ImportError:
                fn = None
        if fn is None:
            raise NotImplementedError(f"{self.op}: hakl.{self.function} is not built yet (its targets are pending)")
        return fn


# ---- the device clock ---------------------------------------------------------

class DeviceClock:
    """asv's `timer`: the seconds of device time the benchmarked calls have used so
    far. A time_ benchmark runs its call through `run`, so the difference asv takes
    between two readings is device time, measured by the backend's own events."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    def run(self, backend: Any, fn: Callable[[], Any], calls: int = 1) -> None:
        """Run `fn` (which makes `calls` back-to-back calls) and count its device time per call."""
        self.seconds += backend.elapsed(fn) / calls


CLOCK = DeviceClock()


# ---- observing dispatch -------------------------------------------------------

@dataclass
class Launch:
    """One launcher call a public function made, kept so that it can be replayed."""

    op: Any
    problem: Any
    selection: Any
    args: tuple
    kwargs: dict

    def replay(self, launcher: Callable[..., Any] | None = None) -> Any:
        return (launcher or self.selection.launcher)(*self.args, **self.kwargs)


@contextlib.contextmanager
def recording():
    """Every launch made through hakl.tuning.dispatch.select inside the block."""
    launches: list[Launch] = []

    def observe(op, problem, selection):
        def capture(*args, **kwargs):
            launches.append(Launch(op, problem, selection, args, kwargs))
            return selection.launcher(*args, **kwargs)

        return dataclasses.replace(selection, launcher=capture)

    with dispatch.observing(observe):
        yield launches


# ---- one prepared benchmark case ---------------------------------------------

def is_gpu(device: str) -> bool:
    backend = hakl.backends.get(device)
    return device == "cuda" or (device == "opencl" and backend.available and backend.is_gpu())


def element_budget(device: str) -> int:
    override = os.environ.get("HAKL_BENCH_ELEMENTS")
    if override:
        return int(override)
    return GPU_ELEMENTS if is_gpu(device) else CPU_ELEMENTS


class Prepared:
    """Inputs and runners for one (family, device, dtype, case); built once per
    process, because asv re-runs setup before every sample."""

    def __init__(self, family: Family, device: str, dtype: str, label: str, copy_bps: float | None):
        backend = hakl.backends.get(device)
        if not backend.available:
            raise NotImplementedError(f"{device}: {backend.unavailable_reason}")
        c = family.case(label)
        gpu = is_gpu(device)
        if c.dtypes is not None and dtype not in c.dtypes:
            raise NotImplementedError(f"{family.op} {label} is benchmarked in {', '.join(c.dtypes)} only")
        if not gpu and (c.gpu_only or dtype not in family.host_dtypes):
            raise NotImplementedError(f"{family.op} {label} {dtype} is benchmarked on GPUs only")
        self.fn = family.public_function()
        self.family, self.device, self.dtype, self.label = family, device, dtype, label
        self.backend, self.copy_bps = backend, copy_bps
        self.kwargs = dict(c.kwargs)
        if family.dtype_kwargs is not None:
            self.kwargs.update(family.dtype_kwargs(dtype))
        self.shape = c.resolve(element_budget(device))
        host = family.inputs(self.shape, dtype, np.random.default_rng(0), self.kwargs)
        self.sets = rotating_inputs(backend, host)
        self._launches: list[list[Launch]] | None = None
        self._timed: dict[str, tuple[Callable[[], Any], int]] = {}

    def call(self, *inputs: Any) -> Any:
        if self.family.call is not None:
            return self.family.call(self.fn, *inputs, **self.kwargs)
        return self.fn(*inputs, **self.kwargs)

    @property
    def launches(self) -> list[list[Launch]]:
        """The launches of one public call per input set (recorded on first use)."""
        if self._launches is None:
            launches = []
            for inputs in self.sets:
                with recording() as seen:
                    self.call(*inputs)
                if not seen:
                    raise RuntimeError(f"{self.family.op}: hakl.{self.family.function} launched nothing "
                                       "through hakl.tuning.dispatch.select")
                launches.append(seen)
            self.backend.synchronize()
            self._launches = launches
            log_dispatch(self)
        return self._launches

    def runner(self, impl: str) -> Callable[[], Any]:
        """A zero-argument callable that runs `impl` once on the next input set."""
        if impl == "hakl":
            sets = itertools.cycle(self.launches)
            return lambda: [launch.replay() for launch in next(sets)]
        if impl == "baseline":
            forced: dict[int, Callable] = {}
            for launch in itertools.chain.from_iterable(self.launches):
                baseline = launch.op.baseline(launch.problem.backend)
                forced[id(launch)] = dispatch.force(launch.op, launch.problem, baseline).launcher
            sets = itertools.cycle(self.launches)
            return lambda: [launch.replay(forced[id(launch)]) for launch in next(sets)]
        peer = self.family.peers.get(impl)
        if peer is None:
            raise NotImplementedError(f"{self.family.op}: no peer {impl!r}")
        return peer(self.device, self.sets, self.kwargs)

    def timed(self, impl: str) -> tuple[Callable[[], Any], int]:
        """(fn, calls): `impl`, warmed, and on asynchronous devices batched as the
        backend's own timer batches it — calls shorter than MIN_SAMPLE run back to
        back, so that a sample measures the device rather than the host's launch
        latency. On the CPU a call is its own time: no batch, no extra calls."""
        if impl not in self._timed:
            run = self.runner(impl)
            if impl != "hakl":  # hakl's launches ran once on every input set while recording
                run()
                self.backend.synchronize()
            calls = 1
            if self.device != "cpu":
                first = self.backend.elapsed(run)
                if 0 < first < MIN_SAMPLE:
                    calls = min(int(MIN_SAMPLE / first) + 1, 200)

            def batched() -> None:
                for _ in range(calls):
                    run()

            self._timed[impl] = (run if calls == 1 else batched, calls)
        return self._timed[impl]

    def dispatched_baseline(self) -> bool:
        return all(launch.selection.variant.baseline for launch in self.launches[0])

    def nbytes(self) -> int:
        return sum(int(launch.op.nbytes(launch.problem)) for launch in self.launches[0])

    def speedup(self, repeat: int = 7) -> float:
        """Baseline seconds over hakl seconds, medians of `repeat` after warm-up."""
        if self.dispatched_baseline():
            return 1.0  # the dispatcher chose the baseline itself: the same kernels
        hakl_run, base_run = self.runner("hakl"), self.runner("baseline")
        th = statistics.median(self.backend.time(hakl_run, warmup=2, repeat=repeat))
        tb = statistics.median(self.backend.time(base_run, warmup=2, repeat=repeat))
        return tb / th


_prepared: dict[tuple, Prepared] = {}


def prepare(family: Family, cache: dict, device: str, dtype: str, label: str) -> Prepared:
    key = (family.op, device, dtype, label)
    if key not in _prepared:
        _prepared.clear()  # one case per process under asv; keep memory flat elsewhere
        _prepared[key] = Prepared(family, device, dtype, label, cache.get(device))
    return _prepared[key]


# ---- the dispatch log ---------------------------------------------------------

def dispatch_log_path() -> Path:
    """<results_dir>/dispatch/<host>.jsonl beside this suite's asv.conf.json
    (HAKL_ASV_DISPATCH_LOG overrides it). asv passes no ASV_* variables to
    benchmarks in an existing environment (--python=same), and runs them in a
    cache folder, so the suite finds its configuration from its own location."""
    override = os.environ.get("HAKL_ASV_DISPATCH_LOG")
    if override:
        return Path(override)
    conf_dir = os.environ.get("ASV_CONF_DIR") or Path(__file__).resolve().parents[1]
    try:
        results = json.loads((Path(conf_dir) / "asv.conf.json").read_text()).get("results_dir", "results")
    except (OSError, ValueError):
        results = "results"
    # .jsonl, not .json: asv reads every *.json under results_dir as a result file.
    return Path(conf_dir) / results / "dispatch" / f"{platform.node() or 'host'}.jsonl"


def log_dispatch(p: Prepared) -> None:
    path = dispatch_log_path()
    launches = p.launches[0]
    record = {
        "t": time.time(),
        "host": platform.node(),
        "family": p.family.op,
        "device": p.device,
        "dtype": p.dtype,
        "shape": p.label,
        "input_shape": list(p.shape),
        "device_name": p.backend.fingerprint().get("device", p.device),
        "copy_gbps": p.copy_bps / 1e9 if p.copy_bps else None,
        "nbytes": p.nbytes(),
        "variant": "+".join(launch.selection.variant.name for launch in launches),
        "launches": [{"op": launch.op.name, "variant": launch.selection.variant.name,
                      "config": launch.selection.config, "source": launch.selection.source,
                      "baseline": launch.op.baseline(launch.problem.backend).name,
                      "problem_shape": list(launch.problem.shape)} for launch in launches],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # One short line per append: concurrent writers never interleave within it.
    with open(path, "a") as f:
        f.write(json.dumps(record, default=str) + "\n")


# ---- peers --------------------------------------------------------------------

def _preload_peers() -> None:
    """Import the installed peer libraries now: asv forks every benchmark process from
    one that imported this suite, so torch's ~2 s import is paid once, not per case.
    Importing starts no threads and touches no GPU, so forking afterwards is safe."""
    for name in ("torch", "cupy", "cupyx.scipy.special"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


_preload_peers()

def import_peer(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise NotImplementedError(f"peer {name} is not installed ({exc})") from None


def cycling(sets: list[tuple], run: Callable[..., Any]) -> Callable[[], Any]:
    it = itertools.cycle(sets)
    return lambda: run(*next(it))


def torch_sets(device: str, sets: list[tuple]) -> tuple[Any, list[tuple]]:
    """torch and the input sets as tensors sharing the device arrays' memory."""
    if device not in ("cpu", "cuda"):
        raise NotImplementedError(f"torch has no {device} device here")
    torch = import_peer("torch")
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("torch is a CPU build")
    convert = torch.from_numpy if device == "cpu" else torch.from_dlpack
    return torch, [tuple(convert(a) for a in s) for s in sets]


def only_on(device: str, wanted: str, peer: str) -> None:
    if device != wanted:
        raise NotImplementedError(f"peer {peer} runs on {wanted} only")


# ---- the asv classes ----------------------------------------------------------

class _Base:
    """setup_cache is shared by every class (asv keys it by this definition), so the
    copy bandwidth of each device is measured once per run."""

    def setup_cache(self) -> dict:
        return {name: b.copy_bandwidth() for name, b in hakl.backends.BACKENDS.items() if b.available}


def _class_name(op: str) -> str:
    return "".join(part.capitalize() for part in op.split("_"))


def build_suite(family: Family, caller: dict) -> tuple[type, type | None]:
    """The time_ and track_ classes of `family`, declared in the module whose
    globals are `caller`; the module's source is part of the benchmarks' version.
    Parameters list only what this machine can run (see present_devices); the
    track_ class exists only where a GPU may be (None elsewhere)."""
    source = Path(__file__).read_text() + Path(caller["__file__"]).read_text()
    version = hashlib.sha256(source.encode()).hexdigest()[:16]
    labels = [c.label for c in family.cases if GPU or not c.gpu_only]
    impls = list(IMPLS) + [p for p in family.peers if PEER_DEVICES.get(p, "cpu") in DEVICES]
    dtypes = list(family.dtypes if GPU else family.host_dtypes)

    def setup(self, cache, device, dtype, shape, impl=None):
        self.prepared = prepare(family, cache, device, dtype, shape)
        if impl is not None:
            self.run, self.calls = self.prepared.timed(impl)

    def time_op(self, cache, device, dtype, shape, impl):
        CLOCK.run(self.prepared.backend, self.run, self.calls)

    def setup_speedup(self, cache, device, dtype, shape):
        # The release-note ratios are GPU ratios; on CPUs the time_ results of the
        # same run give hakl/baseline without another process per case.
        if not is_gpu(device):
            raise NotImplementedError(f"{family.op} speed-ups are tracked on GPUs; {device} is not one")
        setup(self, cache, device, dtype, shape)

    def track_speedup(self, cache, device, dtype, shape):
        return self.prepared.speedup()

    name = _class_name(family.op)
    timing = type(name, (_Base,), {
        "__module__": caller["__name__"],
        "__doc__": f"Device seconds of one {family.op} call: hakl, its baseline and the peers.",
        "params": [list(DEVICES), dtypes, labels, impls],
        "param_names": ["device", "dtype", "shape", "impl"],
        "timer": CLOCK,
        "version": version,
        "setup": setup,
        f"time_{family.op}": time_op,
    })
    if not GPU:
        return timing, None
    speedup = type(f"{name}Speedup", (_Base,), {
        "__module__": caller["__name__"],
        "__doc__": f"{family.op}: baseline time / hakl time, measured in the same process.",
        "params": [list(DEVICES), dtypes, labels],
        "param_names": ["device", "dtype", "shape"],
        "unit": "x",
        "version": version,
        "setup": setup_speedup,
        f"track_{family.op}_speedup": track_speedup,
    })
    return timing, speedup
