"""The asv side of the benchmarks each op family declares.

A family declares what to measure in hakl/kernels/<family>/bench.py — its cases
(PaddlePaddle's benchmark configs and a bandwidth-scale set), dtypes, peers and
release-note targets, as hakl.bench.Benchmark — and `suite(benchmark)` in
bench_<family>.py turns each declaration into two asv classes:

- ``<Name>.time_<op>(device, dtype, shape, impl)``: device seconds of one call of
  the kernels hakl dispatched (impl="hakl"), of the op's baseline variant
  ("baseline") or of a peer library ("torch", "cupy", "numpy"). The backend's
  own clock (CUDA events, OpenCL profiling events, perf_counter on the CPU) is
  handed to asv as its `timer`, so asv's statistics, `compare` and `continuous`
  all work on device time rather than on the host's view of an async launch.
- ``<Name>Speedup.track_<op>_speedup(device, dtype, shape)``: baseline time over
  hakl time, both measured in the same process, on GPUs: the ratios that the
  family's targets (hakl.bench.Goal) promise (on a machine without a GPU the
  class is None, and the time_ results of hakl and the baseline give the CPU
  ratios).

hakl's side is timed at the kernel level (hakl.bench.Prepared, which `hakl bench`
measures with too): the public function is called once per
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

import glob
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

# Imported here, not lazily: asv forks each benchmark process from one that imported
# the suite, so hakl (numba, the kernel families) is imported once per run.
import hakl
import hakl.backends
from hakl import bench
from hakl.bench import PEER_DEVICES, Benchmark, Prepared, is_gpu

IMPLS = ("hakl", "baseline")
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
# HAKL_ASV_QUICK=1 (make bench): only the cases and the first dtype `hakl bench --quick`
# measures, so that the main job stays within minutes on 2 cores; unset, the whole suite.
QUICK = os.environ.get("HAKL_ASV_QUICK", "") not in ("", "0")


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


# ---- one prepared benchmark case ---------------------------------------------

def element_budget(device: str) -> int:
    if os.environ.get("HAKL_BENCH_ELEMENTS"):
        return bench.element_budget(device)  # the override, read one way
    return GPU_ELEMENTS if is_gpu(device) else CPU_ELEMENTS


_prepared: dict[tuple, Prepared] = {}


def prepare(benchmark: Benchmark, cache: dict, device: str, dtype: str, label: str) -> Prepared:
    """The case, built once per process (asv re-runs setup before every sample)."""
    key = (benchmark.op, device, dtype, label)
    if key not in _prepared:
        _prepared.clear()  # one case per process under asv; keep memory flat elsewhere
        _prepared[key] = Prepared(benchmark, device, dtype, label, cache.get(device), element_budget(device),
                                  on_recorded=log_dispatch)
    return _prepared[key]


def timed(p: Prepared, impl: str) -> tuple[Callable[[], Any], int]:
    """(fn, calls): `impl`, warmed, and on asynchronous devices batched as the
    backend's own timer batches it — calls shorter than MIN_SAMPLE run back to
    back, so that a sample measures the device rather than the host's launch
    latency. On the CPU a call is its own time: no batch, no extra calls."""
    run = p.runner(impl)
    if impl != "hakl":  # hakl's launches ran once on every input set while recording
        run()
        p.backend.synchronize()
    calls = 1
    if p.device != "cpu":
        first = p.backend.elapsed(run)
        if 0 < first < MIN_SAMPLE:
            calls = min(int(MIN_SAMPLE / first) + 1, 200)
    if calls == 1:
        return run, 1

    def batched() -> None:
        for _ in range(calls):
            run()
    return batched, calls


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
        "family": p.benchmark.op,
        "device": p.device,
        "dtype": p.dtype,
        "shape": p.label,
        "input_shape": list(p.shape),
        "device_name": p.backend.fingerprint().get("device", p.device),
        "copy_gbps": p.copy_bps / 1e9 if p.copy_bps else None,
        "nbytes": p.nbytes(),
        "variant": "+".join(launch.selection.variant.name for launch in p.timed[0]),
        "launches": [{"op": launch.op.name, "variant": launch.selection.variant.name,
                      "config": launch.selection.config, "source": launch.selection.source,
                      "baseline": launch.op.baseline(launch.problem.backend).name,
                      "problem_shape": list(launch.problem.shape), "nested": launch.nested}
                     for launch in launches],
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


def _load_numba_registries() -> None:
    """Load numba's lowering registries now, as its first compile or cache load would:
    0.4 s that every forked benchmark process paid again (195 of them in make bench's
    quick run on the 2-core Xeon). It imports scipy's BLAS bindings, whose OpenBLAS starts a
    thread pool; OpenBLAS shuts it down at a fork (its atfork handler), and the benchmark
    children start with one thread."""
    from numba.core.registry import cpu_target
    cpu_target.target_context.refresh()


_load_numba_registries()


# ---- the asv classes ----------------------------------------------------------

class _Base:
    """setup_cache is shared by every class (asv keys it by this definition), so the
    copy bandwidth of each device is measured once per run."""

    def setup_cache(self) -> dict:
        return {name: b.copy_bandwidth() for name, b in hakl.backends.BACKENDS.items() if b.available}


def _class_name(op: str) -> str:
    return "".join(part.capitalize() for part in op.split("_"))


def suite(benchmark: Benchmark) -> tuple[type, type | None]:
    """The asv classes (time_<op>, track_<op>_speedup) of a family's declared
    benchmark, to bind to module-level names of the calling bench_<family>.py."""
    return build_suite(benchmark, sys._getframe(1).f_globals)


def build_suite(family: Benchmark, caller: dict) -> tuple[type, type | None]:
    """The time_ and track_ classes of `family`, declared in the module whose
    globals are `caller`; that module's, this one's and the family's declaration's
    sources are part of the benchmarks' version. Parameters list only what this
    machine can run (see present_devices); the track_ class exists only where a
    GPU may be (None elsewhere)."""
    declaration = Path(importlib.import_module(f"hakl.kernels.{family.module}.bench").__file__)
    source = Path(__file__).read_text() + Path(caller["__file__"]).read_text() + declaration.read_text()
    version = hashlib.sha256(source.encode()).hexdigest()[:16]
    runs = family.runs(GPU, quick=QUICK)  # in declaration order, as asv lists them
    labels = [c.label for c in family.cases if any(c is case for _, case in runs)]
    dtypes = list(dict.fromkeys(d for d in (*family.dtypes, *family.host_dtypes) if d in {dt for dt, _ in runs}))
    impls = list(IMPLS) + [p for p in family.peers if PEER_DEVICES.get(p, "cpu") in DEVICES]

    def setup(self, cache, device, dtype, shape, impl=None):
        self.prepared = prepare(family, cache, device, dtype, shape)
        if impl is not None:
            self.run, self.calls = timed(self.prepared, impl)

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
