"""Check and time hakl's stack, unstack and cumsum kernels on one device.

    HAKL_CACHE_DIR=/tmp/hc PYTHONPATH=. python3 scripts/gpu_stack_cumsum.py            # cuda
    HAKL_CACHE_DIR=/tmp/hc PYTHONPATH=. python3 scripts/gpu_stack_cumsum.py --device cpu

1. conformance: every variant of the three ops on the device, every dtype
   (hakl.conformance.check_variant against the NumPy references);
2. cumsum precision: max |y - y64| / (eps * cumsum|x|) of every variant on positive
   data (the worst case for error growth), which the tuned variants keep below 8;
3. per benchmark case (hakl/kernels/{stack,cumsum}/bench.py): tune (hakl's tuner,
   `--budget` configurations per variant, every candidate verified), then time the
   chosen variant, the baseline and torch with hakl.bench.bench_case (`--runs` times,
   the fastest of each kept): ms, GB/s, % of the copy bandwidth measured in this run,
   x baseline, x torch.
Writes $OUT/stack_cumsum_<device>.json when OUT is set. Exits 1 if a check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace

import numpy as np

from hakl import backends, bench
from hakl.conformance import check_variant
from hakl.kernels.cumsum import CUMSUM, DTYPES as CUMSUM_DTYPES
from hakl.kernels.cumsum import bench as cumsum_bench
from hakl.kernels.cumsum.reference import error_ratio
from hakl.kernels.stack import STACK, UNSTACK
from hakl.kernels.stack import bench as stack_bench
from hakl.op import Problem
from hakl.tuning import dispatch, tuner

STACK_DTYPES = ("bool", "int8", "int16", "float16", "float32", "float64", "int64", "complex128")
PRECISION_SHAPES = [(1, 1 << 22, 1), (64, 70001, 1), (4096, 300, 1), (1, 20000, 512), (3, 5000, 33)]


def conformance(device: str) -> list[str]:
    failed = []
    for op, dtypes in ((STACK, STACK_DTYPES), (UNSTACK, STACK_DTYPES), (CUMSUM, CUMSUM_DTYPES)):
        for variant in op.for_backend(device):
            for dtype in dtypes:
                t0 = time.perf_counter()
                report = check_variant(op, variant, dtype)
                ok = report.checked > 0 and not report.failures
                print(f"  {op.name:8s} {variant.name:12s} {dtype:10s} {report.checked:3d} cases "
                      f"{'ok' if ok else 'FAIL'} ({time.perf_counter() - t0:.1f} s)"
                      + ("" if ok else f": {report.failures[:2]}"), flush=True)
                if not ok and report.checked:
                    failed.append(f"{op.name}/{variant.name}/{dtype}: {report.failures[:2]}")
    return failed


def precision(device: str) -> list[dict]:
    backend = backends.get(device)
    rng = np.random.default_rng(0)
    rows = []
    for variant in CUMSUM.for_backend(device):
        for dtype in ("float16", "float32"):
            for shape in PRECISION_SHAPES:
                for flags in ((False, False), (True, True)):
                    problem = Problem("cumsum", device, dtype, shape, (("exclusive", flags[0]), ("reverse", flags[1])))
                    if not variant.supports(problem):
                        continue
                    # Positive values, scaled so that float16 sums stay finite (< 65504).
                    scale = min(1.0, 3e4 / shape[1]) if dtype == "float16" else 1.0
                    x = (scale * rng.random(shape, dtype=np.float32)).astype(dtype)
                    launcher = dispatch.force(CUMSUM, problem, variant).launcher
                    y = backend.to_numpy(launcher(backend.asarray(x)))
                    ratio = error_ratio(problem, x, y)
                    rows.append({"variant": variant.name, "dtype": dtype, "shape": list(shape),
                                 "flags": dict(problem.flags), "ratio": ratio})
                    print(f"  {variant.name:12s} {dtype:8s} {str(shape):18s} {dict(problem.flags)}: "
                          f"max error = {ratio:.2f} eps * cumsum|x|", flush=True)
    return rows


def best_of(rows: list) -> "bench.BenchRow":
    """One row from repeated bench_case runs of a case: the fastest time of ours, of the
    baseline and of each peer (on a shared host, interference only ever adds time)."""
    best = min(rows, key=lambda r: r.seconds)
    base = min(r.baseline_seconds for r in rows)
    peers = {name: min((r.peers[name] for r in rows if r.peers.get(name)), default=None) for name in best.peers}
    return replace(best, baseline_seconds=base, speedup=base / best.seconds, peers=peers)


def timings(device: str, budget: int, tune: bool, quick: bool, only: str = "",
            runs: int = 1) -> tuple[float, list[dict]]:
    backend = backends.get(device)
    gpu = device == "cuda" or (device == "opencl" and backend.is_gpu())
    copy = backend.copy_bandwidth()
    print(f"copy bandwidth: {copy / 1e9:.1f} GB/s (read + write); host load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = []
    print(f"  {'op':7s} {'case':30s} {'variant (config)':48s} {'ms':>8s} {'GB/s':>7s} {'%copy':>6s} "
          f"{'x base':>7s} {'x torch':>7s}")
    for case in stack_bench.cases(device, quick, gpu) + cumsum_bench.cases(device, quick, gpu):
        if only and not any(word in f"{case.op} {case.label}" for word in only.split(",")):
            continue
        op = STACK if case.op == "stack" else CUMSUM
        if tune:
            tuner.tune(op, case.problem, budget=budget)
        row = best_of([bench.bench_case(case, copy) for _ in range(runs)])
        torch_s = row.peers.get("torch")
        print(f"  {row.op:7s} {row.label:30s} {row.variant + ' ' + json.dumps(row.config):48s} "
              f"{row.seconds * 1e3:8.3f} {row.gbps:7.1f} {100 * row.frac_copy:5.0f}% {row.speedup:7.2f} "
              f"{torch_s / row.seconds if torch_s else float('nan'):7.2f}", flush=True)
        rows.append(asdict(row))
    return copy, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=int, default=6, help="configurations tried per variant when tuning")
    parser.add_argument("--no-tune", action="store_true", help="time the heuristic choice instead")
    parser.add_argument("--quick", action="store_true", help="two shapes per op")
    parser.add_argument("--skip", default="", help="comma list of steps to skip: conformance,precision,timing")
    parser.add_argument("--runs", type=int, default=1, help="time each case this many times, keep the fastest "
                                                             "of each implementation (for a shared, noisy host)")
    parser.add_argument("--only", default="", help="time only the cases whose 'op label' contains one of these "
                                                   "comma-separated words")
    args = parser.parse_args()
    backend = backends.get(args.device)
    backend.require()
    print(f"device: {backend.fingerprint()}", flush=True)
    skip = set(filter(None, args.skip.split(",")))
    doc = {"device": backend.fingerprint(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    failed = []
    if "conformance" not in skip:
        print("conformance:")
        failed = conformance(args.device)
        doc["conformance_failures"] = failed
    if "precision" not in skip:
        print("cumsum precision (positive data):")
        doc["precision"] = precision(args.device)
    if "timing" not in skip:
        doc["copy_gbps"], doc["rows"] = timings(args.device, args.budget, not args.no_tune, args.quick,
                                                    args.only, args.runs)
        doc["copy_gbps"] /= 1e9
    if os.environ.get("OUT"):
        path = os.path.join(os.environ["OUT"], f"stack_cumsum_{args.device}.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {path}")
    if failed:
        print(f"{len(failed)} conformance failures", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
