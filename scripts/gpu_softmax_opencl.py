"""OpenCL softmax on a GPU: conformance of every variant, then tuned timings.

On the GPU machine (see ../shared/gpu/README.md: pyopencl comes as cp312 wheels),
from the repository root:

    PYTHONPATH=.:/tmp/site python3 scripts/gpu_softmax_opencl.py [--budget 48] [--json out.json]

The NVIDIA OpenCL driver is registered for this process when no ICD names it
(OCL_ICD_VENDORS pointing at a folder with nvidia.icd), and HAKL_OPENCL_DEVICE
defaults to "NVIDIA". Every variant x dtype runs the op's conformance cases.
Then each shape (fp32, forward and backward) is tuned in a fresh tuning
database (every candidate is verified against the reference before it is
timed), and the baseline, the heuristic default and the tuned best are timed
again, interleaved with a device copy over --rounds rounds; the report gives
the median of the rounds in GB/s and as a fraction of that copy's bandwidth.

`--set cpu` runs the same on the CPU shapes (PoCL):
    HAKL_OPENCL_DEVICE=portable python scripts/gpu_softmax_opencl.py --set cpu
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

NVIDIA_ICD = "/usr/local/nvidia/lib64/libnvidia-opencl.so.1"
# (label, shape, axis): last-axis rows and the non-last-axis case of the anchors
SHAPES = {
    "gpu": [("[65536,1024] axis=-1", (65536, 1024), -1), ("[16384,4096] axis=-1", (16384, 4096), -1),
            ("[2048,32768] axis=-1", (2048, 32768), -1), ("[1024,65536] axis=0", (1024, 65536), 0)],
    "cpu": [("[16384,1024] axis=-1", (16384, 1024), -1), ("[131072,128] axis=-1", (131072, 128), -1),
            ("[512,32768] axis=-1", (512, 32768), -1), ("[1024,16384] axis=0", (1024, 16384), 0)],
}


def register_icd() -> None:
    """Point the ICD loader at the NVIDIA driver when no registered ICD names it (before
    pyopencl loads; the machine may register PoCL alone)."""
    if os.environ.get("OCL_ICD_VENDORS"):
        return
    if any("nvidia" in Path(f).read_text().lower() for f in glob.glob("/etc/OpenCL/vendors/*.icd")):
        return
    if os.path.exists(NVIDIA_ICD):
        folder = Path(tempfile.mkdtemp(prefix="hakl-icd-"))
        (folder / "nvidia.icd").write_text(NVIDIA_ICD + "\n")
        os.environ["OCL_ICD_VENDORS"] = str(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SHAPES), default="gpu", help="which shapes")
    parser.add_argument("--budget", type=int, default=48, help="candidates per variant in tuning")
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per candidate (median)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved re-timing rounds of the picks")
    parser.add_argument("--ops", default="softmax,softmax_grad", help="which ops to time")
    parser.add_argument("--match", default="", help="time only shapes whose label contains this")
    parser.add_argument("--shrink", type=int, default=1, help="divide each shape's first extent (a dry run)")
    parser.add_argument("--skip-conformance", action="store_true")
    parser.add_argument("--json", type=Path, help="write the timing rows here")
    args = parser.parse_args()

    if args.set == "gpu":
        register_icd()
        os.environ.setdefault("HAKL_OPENCL_DEVICE", "NVIDIA")
    os.environ.setdefault("HAKL_CACHE_DIR", tempfile.mkdtemp(prefix="hakl-cache-"))

    import numpy as np

    from hakl.backends import get
    from hakl.conformance import check_variant
    from hakl.kernels.softmax import SOFTMAX, SOFTMAX_GRAD, _canonical
    from hakl.op import Problem
    from hakl.tuning import dispatch, timing, tuner

    backend = get("opencl")
    backend.require()
    print("device:", json.dumps(backend.fingerprint()), flush=True)
    ops = (SOFTMAX, SOFTMAX_GRAD)

    failed = 0
    if not args.skip_conformance:
        for op in ops:
            for variant in op.for_backend("opencl"):
                for dtype in backend.dtypes():
                    report = check_variant(op, variant, dtype.name)
                    failed += not report.ok
                    print(f"conformance {op.name:13s} {variant.name:7s} {dtype.name:8s} "
                          f"{'ok' if report.ok else 'FAIL'} ({report.checked} cases)", flush=True)
                    for line in report.failures[:5]:
                        print("    ", line[:400])

    rows = []
    print(f"{'op':13s} {'shape':22s} {'what':9s} {'variant':7s} {'ms':>8s} {'GB/s':>7s} {'% copy':>7s}"
          "  config")
    for op in (o for o in ops if o.name in args.ops.split(",")):
        for label, shape, axis in (s for s in SHAPES[args.set] if args.match in s[0]):
            shape = (shape[0] // args.shrink, *shape[1:])
            shape3 = _canonical(shape, axis % len(shape))
            problem = Problem(op.name, "opencl", "float32", shape3, (("log", False),))
            result = tuner.tune(op, problem, budget=args.budget, repeat=args.repeat)
            ok = [m for m in result.measurements if m.status == "ok"]
            for m in result.measurements:
                if m.status != "ok":
                    print(f"  {m.status}: {m.variant} {m.config}: {m.error}")
            failed += any(m.status == "rejected" for m in result.measurements)
            # the picks: baseline, the heuristic default of the other variant, the tuned best
            picks = {"baseline": (op.baseline("opencl"), {})}
            for variant in op.for_backend("opencl"):
                if variant.supports(problem) and not variant.baseline:
                    picks["default"] = (variant, variant.default_config(problem))
            if ok:
                best = min(ok, key=lambda m: m.seconds)
                picks["tuned"] = (op.variant("opencl", best.variant), best.config)
            launchers = {what: dispatch.force(op, problem, v, c).launcher for what, (v, c) in picks.items()}
            inputs = timing.rotating_inputs(backend, op.sample(problem, np.random.default_rng(0)))
            samples: dict[str, list[float]] = {what: [] for what in ["copy", *launchers]}
            for _ in range(args.rounds):
                samples["copy"].append(backend.copy_bandwidth(1 << 28, repeat=args.repeat))
                for what, launcher in launchers.items():
                    samples[what].append(timing.median(
                        timing.time_launcher(backend, problem, launcher, inputs, repeat=args.repeat)))
            copy_bps = statistics.median(samples["copy"])
            for what, (variant, config) in picks.items():
                seconds = statistics.median(samples[what])
                gbps = timing.gbps(op.nbytes(problem), seconds)
                row = {"op": op.name, "shape": label, "what": what, "variant": variant.name, "config": config,
                       "ms": seconds * 1e3, "gbps": gbps, "copy_gbps": copy_bps / 1e9,
                       "frac_copy": gbps * 1e9 / copy_bps, "candidates": len(result.measurements)}
                rows.append(row)
                print(f"{op.name:13s} {label:22s} {what:9s} {variant.name:7s} {row['ms']:8.3f} {gbps:7.1f} "
                      f"{100 * row['frac_copy']:6.1f}%  {config}", flush=True)
            print(f"{'':13s} {label:22s} copy {copy_bps / 1e9:.1f} GB/s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": backend.fingerprint(), "rows": rows}, indent=1))
    print("FAILURES" if failed else "all verified", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
