"""Check and benchmark the CUDA softmax variants on a GPU machine.

    cd <repo>; HAKL_CACHE_DIR=/tmp/hc PYTHONPATH=. python3 scripts/gpu_softmax.py [--limit 420] [--budget 8]

1. compiles, in a thread pool, every kernel the run will build (NVRTC runs outside the GIL);
2. conformance: hakl.conformance.check_variant for every CUDA variant x dtype (quick=False),
   then every configuration in each variant's space on the quick conformance cases;
3. benchmarks, forward: for each shape and dtype, each variant's default configuration,
   the tuner's best verified configuration (hakl.tuning.tuner.tune), the CuPy baseline,
   torch.softmax and the naive torch composition; the measured copy bandwidth is 100%.
   A few backward shapes with default configurations follow.

Prints a table (last) and writes everything to $OUT/softmax_cuda.json (or ./).
The float64 reference and the tolerance check run on the GPU (the same NumPy code
on CuPy arrays through NumPy's array protocols): on the host they would take
seconds per candidate at 64M elements.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

START = time.time()
HERE = Path(__file__).resolve().parent
OUT = Path(os.environ.get("OUT", "."))
N = 1 << 26  # 64M elements: 256 MB in float32, well past the 50 MB L2


def log(*args) -> None:
    print(f"[{time.time() - START:6.1f}s]", *args, flush=True)


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, default=420, help="seconds after which tuning stops")
    ap.add_argument("--budget", type=int, default=12, help="tuner configurations per variant")
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--skip-conformance", action="store_true")
    ap.add_argument("--dtypes", default="float32,float16")
    return ap.parse_args()


args = parse()

import cupy as cp  # noqa: E402
import torch  # noqa: E402

import hakl  # noqa: E402,F401
from hakl.backends import get as get_backend  # noqa: E402
from hakl.conformance import check_variant  # noqa: E402
from hakl.kernels.softmax import SOFTMAX, SOFTMAX_GRAD, _canonical  # noqa: E402
from hakl.op import Problem  # noqa: E402
from hakl.tuning import dispatch, space, timing, tuner  # noqa: E402
from hakl.tuning.db import TuningDB  # noqa: E402

backend = get_backend("cuda")
backend.require()
dispatch.set_database(TuningDB(Path(tempfile.mkdtemp()) / "tuning.sqlite"))
props = cp.cuda.runtime.getDeviceProperties(0)
log("device", props["name"], "SMs", backend.multiprocessors(), "L2", backend.l2_bytes() >> 20, "MB",
    "cupy", cp.__version__, "torch", torch.__version__, "numpy", np.__version__)


# ---- reference and check on the GPU ----------------------------------------------
def gpu_reference(original):
    def reference(problem, *inputs):
        return original(problem, *(cp.asarray(a) for a in inputs))
    return reference


def gpu_check(op):
    host_check = op.check

    def check(problem, out, expected):
        if isinstance(expected, cp.ndarray):
            return host_check(problem, cp.asarray(out), expected)
        return host_check(problem, out, expected)
    return check


for op in (SOFTMAX, SOFTMAX_GRAD):
    op.reference = gpu_reference(op.reference)
    op.check = gpu_check(op)

cuda_variants = {op.name: op.for_backend("cuda") for op in (SOFTMAX, SOFTMAX_GRAD)}
DTYPES = args.dtypes.split(",")
results: dict = {"device": str(props["name"]), "conformance": [], "configs": [], "bench": [], "backward": []}


# ---- benchmark problems --------------------------------------------------------
def bench_problems(op):
    out = []
    for dtype in DTYPES:
        for cols in (32, 128, 1024, 4096, 32768, 262144):
            out.append(((N // cols, cols), -1, dtype))
        for shape, axis in [((16384, 1000), -1), ((32, 12, 128, 128), -1), ((15, 16, 33, 33), -1),
                            ((128, 128, 16, 16), 0), ((512, 896, 4, 12), 1), ((1024, 65536), 0)]:
            out.append((shape, axis, dtype))
    return [(shape, axis, Problem(op.name, "cuda", dtype, _canonical(shape, axis % len(shape)), (("log", False),)))
            for shape, axis, dtype in out]


FWD = bench_problems(SOFTMAX)
BWD_SHAPES = [((N // c, c), -1) for c in (128, 1024, 4096, 32768, 262144)] + [((1024, 65536), 0), ((512, 896, 4, 12), 1)]
BWD = [(s, a, Problem("softmax_grad", "cuda", "float32", _canonical(s, a % len(s)), (("log", False),)))
       for s, a in BWD_SHAPES]


# ---- 1. compile everything in parallel -------------------------------------------
def compile_all() -> None:
    jobs = {}
    rng = np.random.default_rng(0)
    for op in (SOFTMAX, SOFTMAX_GRAD):
        for v in cuda_variants[op.name]:
            if v.compile_unit is None:
                continue
            for dtype in ("float16", "float32", "float64"):
                every = [(p, v.configs(p)) for p, _ in config_cases(op, dtype, rng)]
                defaults = [(p, []) for p, _ in op.cases("cuda", dtype, rng, False)]
                for problem, configs in every + defaults:
                    if v.supports(problem):
                        for c in configs + [v.default_config(problem)]:
                            jobs[(v.name, repr(v.compile_unit(problem, c)[1]))] = (v, problem, c)
    for _, _, problem in FWD + BWD:
        op = SOFTMAX if problem.op == "softmax" else SOFTMAX_GRAD
        for v in cuda_variants[op.name]:
            if v.compile_unit is None or not v.supports(problem):
                continue
            configs = [v.default_config(problem)]
            if problem.op == "softmax" and not args.no_tune:
                configs += space.candidates(v, problem, args.budget)
            for c in configs:
                jobs[(v.name, repr(v.compile_unit(problem, c)[1]))] = (v, problem, c)

    def build(job):
        v, problem, c = job
        try:
            v.build(problem, c)
            return None
        except Exception as exc:  # reported, and the conformance run reports it again
            return f"{v.name} {problem.dtype} {problem.shape} {c}: {type(exc).__name__}: {str(exc)[:400]}"

    t0 = time.time()
    with ThreadPoolExecutor(16) as pool:
        errors = [e for e in pool.map(build, jobs.values()) if e]
    log(f"compiled {len(jobs)} units in {time.time() - t0:.1f}s, {len(errors)} failed")
    for e in errors[:10]:
        log("  BUILD FAIL", e)


# ---- 2. conformance ------------------------------------------------------------
def conformance() -> None:
    bad = 0
    for op in (SOFTMAX, SOFTMAX_GRAD):
        for v in cuda_variants[op.name]:
            for dtype in ("float16", "float32", "float64"):
                report = check_variant(op, v, dtype, quick=False)
                results["conformance"].append(dict(op=op.name, variant=v.name, dtype=dtype, checked=report.checked,
                                                   failures=report.failures))
                if report.failures:
                    bad += 1
                    log(f"FAIL {op.name}/{v.name}/{dtype}: {len(report.failures)} of {report.checked}")
                    for f in report.failures[:4]:
                        log("     ", f[:300])
    log(f"conformance: {len(results['conformance'])} (op, variant, dtype) runs, {bad} with failures")


def extra_cases(op, dtype: str, rng: np.random.Generator):
    """Problems that reach what the conformance shapes do not: cols with a cluster
    (registers and streaming), long rows over a cluster, many long rows per launch,
    and the NaN/inf rows of the
    conformance set laid out along a non-last axis and along long rows."""
    from hakl.kernels.softmax import _special_rows, reference

    def pair(problem, x):
        if op.name == "softmax":
            return problem, (x,)
        y = reference.forward(problem, x.astype(np.float64)).astype(dtype)
        return problem, (y, rng.standard_normal(x.shape).astype(dtype))

    out = []
    for shape in [(3, 3000, 40), (1, 20000, 24), (2, 70001, 1), (3, 300000, 1), (600, 16384, 1), (300, 65536, 1)]:
        problem = Problem(op.name, "cuda", dtype, shape, (("log", False),))
        out.append((problem, op.sample(problem, rng)))
    for log in (False, True):
        for x in (_special_rows(5000, dtype, rng).transpose(2, 1, 0).copy(), _special_rows(70001, dtype, rng)):
            out.append(pair(Problem(op.name, "cuda", dtype, x.shape, (("log", log),)), x))
    return out


def config_cases(op, dtype: str, rng: np.random.Generator):
    return list(op.cases("cuda", dtype, rng, True)) + extra_cases(op, dtype, rng)


def every_config() -> None:
    """Every configuration in each variant's space on the quick conformance cases and
    the extra cases above."""
    rng = np.random.default_rng(1)
    runs = fails = 0
    for op in (SOFTMAX, SOFTMAX_GRAD):
        for dtype in ("float16", "float32", "float64"):
            for problem, inputs in config_cases(op, dtype, rng):
                expected = op.reference(problem, *inputs)
                device_inputs = [cp.asarray(a) for a in inputs]
                for v in cuda_variants[op.name]:
                    if v.compile_unit is None or not v.supports(problem):
                        continue
                    for c in v.configs(problem) + [v.default_config(problem)]:
                        runs += 1
                        try:
                            out = cp.asnumpy(problem.launch(v.build(problem, c), *device_inputs))
                            error = op.check(problem, out, expected)
                        except Exception as exc:
                            error = f"{type(exc).__name__}: {str(exc)[:300]}"
                        if error:
                            fails += 1
                            results["configs"].append(dict(op=op.name, variant=v.name, dtype=dtype,
                                                           shape=problem.shape, flags=dict(problem.flags),
                                                           config=c, error=error))
                            if fails <= 12:
                                log(f"CONFIG FAIL {op.name}/{v.name}/{dtype} {problem.shape} "
                                    f"{dict(problem.flags)} {c}: {error[:200]}")
    log(f"every config: {runs} runs, {fails} failures")


# ---- 3. benchmarks -------------------------------------------------------------
def device_inputs(problem: Problem, count: int) -> list[tuple]:
    """Random inputs on the device: enough copies to exceed 3x the L2."""
    nbytes = problem.size * problem.np_dtype.itemsize * count
    copies = int(np.clip(-(-3 * backend.l2_bytes() // nbytes), 1, 8))
    sets = []
    for _ in range(copies):
        arrays = [(3 * cp.random.standard_normal(problem.shape, dtype=cp.float32)).astype(problem.dtype)
                  for _ in range(count)]
        if problem.op == "softmax_grad":  # y must be a softmax output
            y = arrays[0].astype(cp.float32)
            y = cp.exp(y - y.max(axis=1, keepdims=True))
            arrays[0] = (y / y.sum(axis=1, keepdims=True)).astype(problem.dtype)
        sets.append(tuple(arrays))
    return sets


def time_fn(fn, sets, repeat=10) -> float:
    it = itertools.cycle(sets)
    return timing.median(backend.time(lambda: fn(*next(it)), warmup=3, repeat=repeat))


def anchors() -> dict:
    path = HERE / "h100-peers.json"
    if not path.exists():
        return {}
    rows = json.loads(path.read_text())["rows"]
    out = {}
    for r in rows:
        if r["op"] in ("softmax", "softmax_axis0") and r["impl"] == "torch":
            out[(r["shape"].replace(" ", ""), "float16" if "16" in r["dtype"] else "float32")] = r["GBps"]
    return out


def warm() -> None:
    """Keep the GPU busy for ~50 ms so that its clocks are up before a timing."""
    a = cp.empty(1 << 26, cp.float32)
    b = cp.empty_like(a)
    for _ in range(100):
        b[...] = a
    cp.cuda.get_current_stream().synchronize()


def bench(copy_bw: float, anchor: dict) -> None:
    """Tune first (its verification keeps the host busy and the GPU idle at times), then
    time every candidate of the table back to back on warm clocks, 20 repeats each."""
    for shape, axis, problem in FWD:
        op = SOFTMAX
        nbytes = op.nbytes(problem)
        row = dict(shape=shape, axis=axis, dtype=problem.dtype, canonical=problem.shape, nbytes=nbytes, variants={})
        if not args.no_tune and time.time() - START < args.limit:
            try:
                result = tuner.tune(op, problem, budget=args.budget, repeat=10)
                row["tuned"] = dict(variant=result.choice.variant, config=result.choice.config,
                                    tuner_ms=result.choice.seconds * 1e3) if result.choice else None
                row["tune_rejected"] = [dict(variant=m.variant, config=m.config, status=m.status, error=m.error)
                                        for m in result.measurements if m.status != "ok"]
                row["tune_all"] = [dict(variant=m.variant, config=m.config, ms=m.seconds * 1e3)
                                   for m in result.measurements if m.status == "ok"]
                for m in row["tune_rejected"][:3]:
                    log(f"  TUNE {m['status']} {m['variant']} {m['config']}: {str(m['error'])[:200]}")
            except Exception:
                row["tune_error"] = traceback.format_exc()[-600:]
                log("  tune error", row["tune_error"])
        sets = device_inputs(problem, 1)
        candidates = [(v.name, v, v.default_config(problem)) for v in cuda_variants[op.name] if v.supports(problem)]
        if row.get("tuned"):
            candidates.append(("tuned", op.variant("cuda", row["tuned"]["variant"]), row["tuned"]["config"]))
        warm()
        for name, v, c in candidates:
            try:
                launcher = v.build(problem, c)
                t = time_fn(lambda x, launcher=launcher: launcher(x), sets, repeat=20)
                row["variants"][name] = dict(variant=v.name, config=c, ms=t * 1e3)
            except Exception as exc:
                row["variants"][name] = dict(variant=v.name, config=c, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        row["heuristic"] = dispatch.select(op, problem).variant.name
        tensors = [tuple(torch.from_dlpack(a) for a in s) for s in sets]
        dim = 1
        row["torch_ms"] = time_fn(lambda t: torch.softmax(t, dim), tensors, repeat=20) * 1e3

        def naive(t):
            m = t.amax(dim, keepdim=True)
            e = torch.exp(t - m)
            return e / e.sum(dim, keepdim=True)
        row["naive_ms"] = time_fn(naive, tensors, repeat=20) * 1e3
        timings = {name: d["ms"] for name, d in row["variants"].items() if "ms" in d}
        best_name = min((n for n in timings if n != "cupy"), key=timings.get, default="cupy")
        best = row["variants"][best_name]
        row["best"] = dict(variant=best["variant"], config=best["config"], ms=best["ms"], source=best_name)
        gbps = nbytes / (best["ms"] * 1e-3) / 1e9
        row["best"].update(gbps=gbps, pct_copy=100 * gbps * 1e9 / copy_bw,
                           x_baseline=timings.get("cupy", math.nan) / best["ms"], x_torch=row["torch_ms"] / best["ms"],
                           torch_gbps=nbytes / (row["torch_ms"] * 1e-3) / 1e9)
        key = (str(tuple(shape)).replace(" ", ""), problem.dtype)
        row["anchor_torch_gbps"] = anchor.get(key)
        results["bench"].append(row)
        log(f"{str(shape):22s} ax{axis:2d} {problem.dtype:8s} best {best['variant']:10s} {best['ms']:.4f} ms "
            f"{row['best']['pct_copy']:5.1f}% copy  x{row['best']['x_baseline']:.2f} base  "
            f"x{row['best']['x_torch']:.2f} torch  | " + " ".join(f"{n}={t:.4f}" for n, t in timings.items())
            + f" | heuristic {row['heuristic']}")
        del sets, tensors
        cp.get_default_memory_pool().free_all_blocks()


def bench_backward(copy_bw: float) -> None:
    for shape, axis, problem in BWD:
        sets = device_inputs(problem, 2)
        warm()
        nbytes = SOFTMAX_GRAD.nbytes(problem)
        row = dict(shape=shape, axis=axis, dtype=problem.dtype, variants={})
        for v in cuda_variants[problem.op]:
            if not v.supports(problem):
                continue
            c = v.default_config(problem)
            try:
                launcher = v.build(problem, c)
                t = time_fn(lambda y, dy, launcher=launcher: launcher(y, dy), sets, repeat=20)
                row["variants"][v.name] = dict(config=c, ms=t * 1e3, pct_copy=100 * nbytes / t / copy_bw)
            except Exception as exc:
                row["variants"][v.name] = dict(config=c, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        tensors = [tuple(torch.from_dlpack(a) for a in s) for s in sets]
        tt = time_fn(lambda y, dy: torch._softmax_backward_data(dy, y, 1, y.dtype), tensors, repeat=20)
        row["torch_ms"] = tt * 1e3
        results["backward"].append(row)
        log(f"bwd {str(shape):22s} ax{axis:2d} " + " ".join(
            f"{n}={d.get('ms', float('nan')):.4f}ms({d.get('pct_copy', 0):.0f}%)" for n, d in row["variants"].items())
            + f" torch={tt * 1e3:.4f}ms({100 * nbytes / tt / copy_bw:.0f}%)")
        del sets, tensors
        cp.get_default_memory_pool().free_all_blocks()


def table(copy_bw: float) -> str:
    lines = [f"device {results['device']}; copy bandwidth {copy_bw / 1e9:.0f} GB/s (100%)",
             f"{'shape':20s} {'ax':>3s} {'dtype':8s} {'best variant + config':44s} {'ms':>8s} {'GB/s':>6s} "
             f"{'%copy':>6s} {'xbase':>6s} {'xtorch':>6s} {'torch%':>6s} {'anchor':>6s}"]
    for r in results["bench"]:
        b = r["best"]
        cfg = ",".join(f"{k[0]}{v}" for k, v in b["config"].items()) if b["config"] else ""
        anchor = r.get("anchor_torch_gbps")
        lines.append(f"{str(tuple(r['shape'])):20s} {r['axis']:3d} {r['dtype']:8s} {b['variant'] + ' ' + cfg:44s} "
                     f"{b['ms']:8.4f} {b['gbps']:6.0f} {b['pct_copy']:6.1f} {b['x_baseline']:6.2f} "
                     f"{b['x_torch']:6.2f} {100 * b['torch_gbps'] * 1e9 / copy_bw:6.1f} "
                     f"{anchor if anchor else '':>6}")
    return "\n".join(lines)


def main() -> None:
    for step in (compile_all,) + (() if args.skip_conformance else (conformance, every_config)):
        try:
            step()
        except Exception:
            log(f"{step.__name__} crashed:\n{traceback.format_exc()}")
    warm()
    copy_bw = backend.copy_bandwidth(repeat=20)
    results["copy_GBps"] = copy_bw / 1e9
    log(f"copy bandwidth {copy_bw / 1e9:.1f} GB/s")
    for step in (lambda: bench(copy_bw, anchors()), lambda: bench_backward(copy_bw)):
        try:
            step()
        except Exception:
            log(f"benchmark crashed:\n{traceback.format_exc()}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "softmax_cuda.json").write_text(json.dumps(results, indent=1, default=str))
    print(table(copy_bw), flush=True)


if __name__ == "__main__":
    main()
