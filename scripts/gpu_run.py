"""Check, tune and time every op family on one device (a GPU machine's one script).

    source scripts/gpu_env.sh; python3 scripts/gpu_run.py                  # cuda, everything
    HAKL_CACHE_DIR=/tmp/hc python3 scripts/gpu_run.py --device opencl --ops cumsum,stack --quick

1. conformance: every variant of every op (of --ops) on the device, in every dtype the
   op declares for it (hakl.conformance.check_variant, the full case set unless --quick);
2. per benchmark case the families declare (hakl/kernels/<family>/bench.py, the cases
   `hakl bench` and the asv suite run): the public call's launches are recorded, each
   launch's problem is tuned (hakl's tuner, `--budget` configurations per variant, every
   candidate verified; --no-tune keeps the heuristic choice), then the chosen kernels,
   the baseline and the peers are timed (`--runs` times, the fastest of each kept): ms,
   GB/s, % of the copy bandwidth measured in this run, x baseline, x each peer.
Writes $OUT/run_<device>.json when OUT is set. Exits 1 if a check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace

from hakl import backends, bench
from hakl.conformance import check_variant
from hakl.kernels import FAMILIES  # noqa: F401  (registers every family)
from hakl.op import OPS
from hakl.tuning import tuner


def conformance(device: str, ops: list[str], quick: bool) -> list[str]:
    failed = []
    for name in sorted(OPS):
        op = OPS[name]
        if ops and not any(name.startswith(o) for o in ops):
            continue
        for variant in op.for_backend(device):
            for dtype in op.test_dtypes(device):
                t0 = time.perf_counter()
                report = check_variant(op, variant, dtype, quick=quick)
                if not report.checked:
                    continue
                ok = not report.failures
                print(f"  {name:14s} {variant.name:14s} {dtype:10s} {report.checked:3d} cases "
                      f"{'ok' if ok else 'FAIL'} ({time.perf_counter() - t0:.1f} s)"
                      + ("" if ok else f": {report.failures[:2]}"), flush=True)
                if not ok:
                    failed.append(f"{name}/{variant.name}/{dtype}: {report.failures[:2]}")
    return failed


def best_of(rows: list[bench.BenchRow]) -> bench.BenchRow:
    """One row from repeated runs of a case: the fastest time of ours, of the baseline
    and of each peer (on a shared host, interference only ever adds time)."""
    best = min(rows, key=lambda r: r.seconds)
    base = min(r.baseline_seconds for r in rows)
    peers = {name: min((r.peers[name] for r in rows if r.peers.get(name)), default=None) for name in best.peers}
    return replace(best, baseline_seconds=base, speedup=base / best.seconds, peers=peers)


def timings(device: str, ops: list[str], budget: int, tune: bool, quick: bool, runs: int) -> tuple[float, list]:
    backend = backends.get(device)
    copy = backend.copy_bandwidth()
    print(f"copy bandwidth: {copy / 1e9:.1f} GB/s (read + write); host load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    elements = bench.element_budget(device, quick)
    rows = []
    for benchmark, dtype, case in bench.cases(device, ops, quick):
        prepared = bench.Prepared(benchmark, device, dtype, case.label, copy, elements)
        if tune:
            for launch in prepared.launches[0]:
                tuner.tune(launch.op, launch.problem, budget=budget)
            prepared = bench.Prepared(benchmark, device, dtype, case.label, copy, elements)  # dispatch the tuned
        row = best_of([bench.bench_row(prepared, copy) for _ in range(runs)])
        peers = " ".join(f"x {p} {t / row.seconds:.2f}" for p, t in row.peers.items() if t)
        print(f"  {row.op:14s} {row.label:30s} {row.dtype:18s} {row.variant + ' ' + json.dumps(row.config):44s} "
              f"{row.seconds * 1e3:9.3f} ms {row.gbps:7.1f} GB/s {100 * row.frac_copy:4.0f}% "
              f"x base {row.speedup:6.2f} {peers}", flush=True)
        rows.append(asdict(row))
    return copy, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--ops", default="", help="comma list of benchmarked ops (default: all), e.g. softmax,cast")
    parser.add_argument("--budget", type=int, default=6, help="configurations tried per variant when tuning")
    parser.add_argument("--no-tune", action="store_true", help="time the heuristic choice instead")
    parser.add_argument("--quick", action="store_true", help="the quick conformance and benchmark sets")
    parser.add_argument("--skip", default="", help="comma list of steps to skip: conformance,timing")
    parser.add_argument("--runs", type=int, default=1, help="time each case this many times, keep the fastest "
                                                             "of each implementation (for a shared, noisy host)")
    args = parser.parse_args()
    backend = backends.get(args.device)
    backend.require()
    print(f"device: {backend.fingerprint()}", flush=True)
    ops = [o for o in args.ops.split(",") if o]
    skip = set(filter(None, args.skip.split(",")))
    doc = {"device": backend.fingerprint(), "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": sys.argv[1:]}
    failed = []
    if "conformance" not in skip:
        print("conformance:")
        failed = doc["conformance_failures"] = conformance(args.device, ops, args.quick)
    if "timing" not in skip:
        copy, doc["rows"] = timings(args.device, ops, args.budget, not args.no_tune, args.quick, args.runs)
        doc["copy_gbps"] = copy / 1e9
    if os.environ.get("OUT"):
        path = os.path.join(os.environ["OUT"], f"run_{args.device}.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {path}")
    if failed:
        print(f"{len(failed)} conformance failures", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
