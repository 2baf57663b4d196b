"""Check and benchmark the CUDA dropout and cast variants on a GPU machine.

    cd <repo>; HAKL_CACHE_DIR=/tmp/hc PYTHONPATH=. python3 scripts/gpu_dropout_cast.py [--skip-conformance]

1. conformance: hakl.conformance.check_variant for every CUDA variant x dtype of
   dropout, dropout_grad and cast (cast: every source dtype, each against every
   destination); then one (seed, offset) through every variant and configuration
   must give the mask of hakl.kernels.dropout.philox.keep_mask, and every cast
   variant the documented out-of-range float -> int answer;
2. benchmarks (PaddlePaddle's configs at ~64M elements): for each case the baseline
   (simple), every configuration of the vec variant (each verified bit for bit
   against the baseline's output before it is timed; the best is "tuned"), and
   torch (aten native_dropout, which keeps a mask; Tensor.to) and CuPy's astype.
   Timing: hakl.tuning.timing (CUDA events, median of 10 after warm-up); GB/s
   counts op.nbytes (dropout: x read, out written, the 1-byte mask when kept);
   "% copy" is over the copy bandwidth measured in the same run.

Prints the tables and writes everything to $OUT/gpu_dropout_cast.json (or ./).
"""
from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from pathlib import Path

import numpy as np

START = time.time()
OUT = Path(os.environ.get("OUT", "."))
N = 1 << 26  # ~64M elements: 256 MB in float32, five times the H100's L2


def log(*args) -> None:
    print(f"[{time.time() - START:6.1f}s]", *args, flush=True)


ap = argparse.ArgumentParser()
ap.add_argument("--skip-conformance", action="store_true")
ap.add_argument("--repeat", type=int, default=10)
args = ap.parse_args()

import cupy as cp  # noqa: E402

from hakl.backends import get as get_backend  # noqa: E402
from hakl.conformance import check_variant  # noqa: E402
from hakl.kernels.cast import CAST, DTYPES  # noqa: E402
from hakl.kernels.dropout import DROPOUT, DROPOUT_GRAD, philox  # noqa: E402
from hakl.op import Problem  # noqa: E402
from hakl.tuning import dispatch, timing  # noqa: E402

try:
    import torch
except ImportError:  # the peers column stays empty
    torch = None

backend = get_backend("cuda")
backend.require()
log("device", backend.fingerprint())
results: dict = {"device": backend.fingerprint(), "conformance": [], "checks": [], "bench": []}


def save() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gpu_dropout_cast.json").write_text(json.dumps(results, indent=1, default=str))


# ---- 1. conformance ----------------------------------------------------------------

def conformance() -> None:
    for op, dtypes in ((DROPOUT, ("float16", "float32", "float64")),
                       (DROPOUT_GRAD, ("float16", "float32", "float64")), (CAST, DTYPES)):
        for variant in op.for_backend("cuda"):
            for dtype in dtypes:
                t = time.time()
                try:
                    report = check_variant(op, variant, dtype)
                    row = {"op": op.name, "variant": variant.name, "dtype": dtype, "checked": report.checked,
                           "failures": report.failures[:5], "ok": report.ok}
                except Exception:
                    row = {"op": op.name, "variant": variant.name, "dtype": dtype, "ok": False,
                           "failures": [traceback.format_exc()[-2000:]]}
                results["conformance"].append(row)
                log(f"conformance {op.name:12s} {variant.name:6s} {dtype:8s} "
                    f"{'ok' if row['ok'] else 'FAIL'} {row.get('checked')} cases {time.time() - t:.1f}s",
                    "" if row["ok"] else row["failures"][:2])
    save()

    # One seed, one mask: every variant and configuration against NumPy's Philox.
    n, p, seed, offset = (1 << 22) + 3, 0.3, 0x0123_4567_89AB_CDEF, 7
    want = philox.keep_mask(seed, offset, n, p)
    for dtype in ("float16", "float32", "float64"):
        x = cp.asarray(np.random.default_rng(0).standard_normal(n).astype(dtype))
        problem = Problem("dropout", "cuda", dtype, (n,), (("mask", True), ("slices", "")),
                          (("p", p), ("seed", seed), ("offset", offset), ("scale", 1 / (1 - p))))
        first = None
        for variant in DROPOUT.for_backend("cuda"):
            for config in variant.configs(problem) or [variant.default_config(problem)]:
                out, mask = problem.launch(dispatch.force(DROPOUT, problem, variant, config).launcher, x)
                same_mask = bool(np.array_equal(cp.asnumpy(mask), want))
                first = out if first is None else first
                same_out = bool(cp.array_equal(out.view(cp.uint8), first.view(cp.uint8)))
                results["checks"].append({"check": "one seed one mask", "dtype": dtype, "variant": variant.name,
                                          "config": config, "mask": same_mask, "out": same_out})
                if not (same_mask and same_out):
                    log("MASK MISMATCH", dtype, variant.name, config, same_mask, same_out)
    log("one-seed-one-mask:", all(c["mask"] and c["out"] for c in results["checks"]))

    # Out-of-range float -> int: the documented rule (what NumPy gives on x86-64).
    specials = np.array([np.nan, np.inf, -np.inf, 300.7, -300.7, 1e10, -1e10, 3e9, 1e19, -1e19, 127.9, -128.9,
                         255.5, -0.9, 2147483520.0, -2147483648.0, 65504.0, -3.5])
    bad = 0
    for src in ("float16", "float32", "float64"):
        with np.errstate(over="ignore", invalid="ignore"):
            x = specials.astype(src)
        for to in ("int8", "uint8", "int16", "int32", "int64"):
            with np.errstate(invalid="ignore"):
                want = x.astype(to)  # this host is x86-64
            problem = Problem("cast", "cuda", src, x.shape, (("to", to),))
            for variant in CAST.for_backend("cuda"):
                got = cp.asnumpy(dispatch.force(CAST, problem, variant).launcher(cp.asarray(x)))
                if not np.array_equal(got, want):
                    bad += 1
                    log("OUT-OF-RANGE MISMATCH", src, to, variant.name, got, want)
    results["checks"].append({"check": "out-of-range rule", "mismatches": bad})
    log("out-of-range rule mismatches:", bad)
    save()


# ---- 2. benchmarks ---------------------------------------------------------------------

def dropout_case(label: str, shape: tuple, p: float, dtype: str, mask: bool) -> dict:
    n = int(np.prod(shape))
    problem = Problem("dropout", "cuda", dtype, (n,), (("mask", mask), ("slices", "")),
                      (("p", p), ("seed", 1234), ("offset", 0), ("scale", 1 / (1 - p))))

    def torch_peer(x):
        t = torch.from_dlpack(x)
        if mask:
            return lambda: torch.ops.aten.native_dropout(t, p, True)
        return lambda: torch.nn.functional.dropout(t, p, training=True)
    return {"op": DROPOUT, "label": f"dropout {label} p={p} {dtype}{' +mask' if mask else ''}",
            "problem": problem, "peers": {"torch": torch_peer}}


def cast_case(label: str, shape: tuple, src: str, to: str) -> dict:
    n = int(np.prod(shape))
    problem = Problem("cast", "cuda", src, (n,), (("to", to),))
    peers = {"cupy": lambda x: (lambda: x.astype(to))}
    if torch is not None:
        tdt = getattr(torch, "bool" if to == "bool" else to)
        peers["torch"] = lambda x: (lambda t=torch.from_dlpack(x): t.to(tdt))
    return {"op": CAST, "label": f"cast {label} {src}->{to}", "problem": problem, "peers": peers}


def cases() -> list[dict]:
    out = []
    for dtype in ("float32", "float16"):
        out.append(dropout_case(f"[{N // 36864},36864]", (N // 36864, 36864), 0.5, dtype, True))
        out.append(dropout_case(f"[{N // 52500},35,1500]", (N // 52500, 35, 1500), 0.65, dtype, True))
        out.append(dropout_case("[64M]", (N,), 0.5, dtype, True))
        out.append(dropout_case("[64M]", (N,), 0.5, dtype, False))
    out.append(cast_case(f"[{N // 1785},1785]", (N // 1785, 1785), "bool", "float32"))
    out.append(cast_case("[30522,1024]", (30522, 1024), "float16", "float32"))
    out.append(cast_case(f"[{N // 263169},1,513,513]", (N // 263169, 1, 513, 513), "int32", "float32"))
    out.append(cast_case("[64M]", (N,), "float32", "float16"))
    out.append(cast_case("[64M]", (N,), "float16", "float32"))
    return out


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    return bool(cp.array_equal(a.view(cp.uint8), b.view(cp.uint8)))


def bench(case: dict, copy_bps: float) -> dict:
    op, problem = case["op"], case["problem"]
    host = op.sample(problem, np.random.default_rng(0))
    inputs = timing.rotating_inputs(backend, host)
    nbytes = op.nbytes(problem)

    def run(launcher) -> float:
        return timing.median(timing.time_launcher(backend, problem, launcher, inputs, repeat=args.repeat))

    base_variant = op.baseline("cuda")
    base = dispatch.force(op, problem, base_variant).launcher
    expected = problem.launch(base, *inputs[0])
    t_base = run(base)
    configs = []
    for variant in op.for_backend("cuda"):
        if variant.baseline or not variant.supports(problem):
            continue
        for config in variant.configs(problem):
            try:
                launcher = dispatch.force(op, problem, variant, config).launcher
                ok = same(problem.launch(launcher, *inputs[0]), expected)
                t = run(launcher) if ok else None
            except Exception as exc:
                ok, t = False, None
                log("  failed", variant.name, config, exc)
            configs.append({"variant": variant.name, "config": config, "verified": ok, "seconds": t,
                            "default": config == variant.default_config(problem)})
    timed = [c for c in configs if c["seconds"]]
    best = min(timed, key=lambda c: c["seconds"]) if timed else None
    default = next((c for c in configs if c["default"] and c["seconds"]), None)
    peers = {}
    for name, factory in case["peers"].items():
        try:
            peers[name] = backend.median_time(factory(inputs[0][0]), warmup=2, repeat=args.repeat)
        except Exception as exc:
            peers[name] = None
            log("  peer failed", name, exc)
    t = best["seconds"] if best else t_base
    row = {"label": case["label"], "elements": problem.size, "bytes": nbytes, "baseline_s": t_base,
           "best": best, "default": default, "configs": configs, "peers_s": peers,
           "gbps": nbytes / t / 1e9, "pct_copy": 100 * nbytes / t / copy_bps, "x_baseline": t_base / t,
           "default_gbps": nbytes / default["seconds"] / 1e9 if default else None,
           "x_peers": {k: (v / t if v else None) for k, v in peers.items()},
           "peer_gbps": {k: (nbytes / v / 1e9 if v else None) for k, v in peers.items()}}
    return row


def benchmarks() -> None:
    copy_bps = backend.copy_bandwidth(1 << 28)
    results["copy_gbps"] = copy_bps / 1e9
    log(f"copy bandwidth {copy_bps / 1e9:.0f} GB/s (256 MB device-to-device)")
    for case in cases():
        try:
            row = bench(case, copy_bps)
        except Exception:
            log("BENCH FAILED", case["label"], traceback.format_exc()[-1500:])
            continue
        finally:
            cp.get_default_memory_pool().free_all_blocks()  # this case's inputs and outputs
        results["bench"].append(row)
        best = row["best"] or {}
        peers = " ".join(f"{k} {v:.2f}x" for k, v in row["x_peers"].items() if v)
        log(f"{row['label']:46s} {row['gbps']:7.0f} GB/s {row['pct_copy']:5.1f}% copy "
            f"{row['x_baseline']:5.2f}x baseline  {peers}  best {best.get('config')}")
        save()


if not args.skip_conformance:
    conformance()
benchmarks()
save()
log("done")
