"""Synthetic benchmark results written by asv's own writer (asv.results.Results.save),
so that the fixtures are asv's format by construction, plus the suite's dispatch log
and `hakl bench` records."""
from __future__ import annotations

import datetime
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

asv_results = pytest.importorskip("asv.results")
from asv import util  # noqa: E402
from asv.runner import BenchmarkResult  # noqa: E402

TIME_PARAMS = {"device": ["cpu"], "dtype": ["float32"],
               "shape": ["(16384, 1000) axis=-1", "(*, 1024) axis=-1"], "impl": ["hakl", "baseline", "torch"]}
# op family -> (benchmark name, seconds of each impl on each shape)
SUITE = {
    "softmax": ("bench_softmax.Softmax.time_softmax", {"hakl": 0.010, "baseline": 0.040, "torch": 0.020}),
    "cast": ("bench_cast.Cast.time_cast", {"hakl": 0.004, "baseline": 0.008, "torch": 0.006}),
}
SPEEDUP = "bench_softmax.SoftmaxSpeedup.track_softmax_speedup"
SPEEDUP_PARAMS = {"device": ["cuda"], "dtype": ["float32"], "shape": ["(16384, 1000) axis=-1", "(*, 1024) axis=-1"]}
NBYTES = {"(16384, 1000) axis=-1": 131072000, "(*, 1024) axis=-1": 33554432}


def _repr_params(params: dict) -> list[list[str]]:
    return [[repr(v) for v in values] for values in params.values()]


def _benchmark(name: str, params: dict, kind: str, unit: str) -> dict:
    return {"name": name, "params": _repr_params(params), "param_names": list(params), "type": kind,
            "unit": unit, "version": "1"}


def write_suite(root: Path, machine: str = "testbox", commit: str = "a" * 40, date_ms: int = 1_700_000_000_000,
                seed: int = 0, noise: float = 0.03, slow: dict | None = None, variants: dict | None = None,
                speedups: tuple[float, float] = (4.0, 2.5), samples: int = 10) -> Path:
    """One asv run into `root` (an asv results_dir): every time_ benchmark with
    `samples` noisy samples (log-normal, `noise` spread); `slow` maps
    (op, shape, impl) to a factor applied to its samples; `variants` maps
    (op, shape) to the variant recorded in the dispatch log (default numba_rows)."""
    rng = np.random.default_rng(seed)
    slow, variants = slow or {}, variants or {}
    root.mkdir(parents=True, exist_ok=True)
    util.write_json(str(root / machine / "machine.json"), {"machine": machine}, 1)
    benchmarks = {}
    started = datetime.datetime.fromtimestamp(date_ms / 1e3 + 3600, datetime.timezone.utc)
    result = asv_results.Results({"machine": machine, "python": "3.11"}, {}, commit, date_ms, "3.11",
                                 "existing-py", {})
    log = []
    for op, (name, base_seconds) in SUITE.items():
        benchmarks[name] = _benchmark(name, TIME_PARAMS, "time", "seconds")
        values, sample_lists, numbers = [], [], []
        for device, dtype, shape, impl in itertools.product(*TIME_PARAMS.values()):
            t = base_seconds[impl] * slow.get((op, shape, impl), 1.0)
            s = list(t * np.exp(noise * rng.standard_normal(samples)))
            values.append(float(np.median(s)))
            sample_lists.append(s)
            numbers.append(1)
        result.add_result(benchmarks[name], BenchmarkResult(values, sample_lists, numbers, 0, "", None),
                          started_at=started, duration=30.0)
        for shape in TIME_PARAMS["shape"]:
            log.append({"t": started.timestamp() + 5, "family": op, "device": "cpu", "dtype": "float32",
                        "shape": shape, "device_name": "Test CPU", "copy_gbps": 20.0, "nbytes": NBYTES[shape],
                        "variant": variants.get((op, shape), "numba_rows")})
    benchmarks[SPEEDUP] = _benchmark(SPEEDUP, SPEEDUP_PARAMS, "track", "x")
    result.add_result(benchmarks[SPEEDUP], BenchmarkResult(list(speedups), [None, None], [None, None], 0, "", None),
                      started_at=started + datetime.timedelta(seconds=60), duration=10.0)
    result.save(str(root))
    util.write_json(str(root / "benchmarks.json"), benchmarks, 2)
    (root / "dispatch").mkdir(exist_ok=True)
    with open(root / "dispatch" / "testhost.jsonl", "a") as f:
        for record in log:
            f.write(json.dumps(record) + "\n")
    return root


def result_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.json") if p.name != "machine.json")


def write_record(folder: Path, machine: str = "testbox", device: str = "cuda", speedup: float = 3.5) -> Path:
    """A `hakl bench` record (the schema `hakl bench` writes)."""
    doc = {"machine": machine, "device": "Test GPU", "backend": device, "fingerprint": {"device": "Test GPU"},
           "copy_gbps": 2800.0, "created": "2026-11-24T12:00:00+00:00", "hakl_version": "0.1.0",
           "rows": [{"op": "softmax", "backend": device, "dtype": "float16", "shape": [2097152, 32, 1],
                     "label": "(2097152, 32) axis=-1", "axis": -1, "variant": "warp_row", "config": {"rows": 4},
                     "source": "tuned", "seconds": 1e-4, "gbps": 2684.4, "frac_copy": 0.96,
                     "baseline_seconds": speedup * 1e-4, "speedup": speedup,
                     "peers": {"torch": 2e-4, "numpy": None, "cupy": None}}]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{machine}-{device}-20261124T120000.json"
    path.write_text(json.dumps(doc))
    return path
