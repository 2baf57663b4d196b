"""One-off: the H100 files of 2026-11-24 (three script formats) as `hakl bench` records."""
import json, re
from pathlib import Path
H = Path("reports/h100")
NAME = "NVIDIA H100 80GB HBM3"
CREATED = "2026-11-24T15:00:00+00:00"

def shape_of(text):  # "[1820,36864]" -> (1820, 36864); "[64M]" -> (67108864,)
    dims = []
    for d in text.strip("[]").split(","):
        dims.append(int(d[:-1]) << 20 if d.endswith("M") else int(d))
    return tuple(dims)

def label(shape, rest=""):
    return f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}){rest}"

def row(op, backend, dtype, shape, lab, variant, config, seconds, nbytes, copy, baseline, peers, source="tuned"):
    gbps = nbytes / seconds / 1e9
    return dict(op=op, backend=backend, dtype=dtype, shape=list(shape), label=lab, variant=variant, config=config,
                source=source, seconds=seconds, gbps=gbps, frac_copy=gbps / copy, baseline_seconds=baseline,
                speedup=baseline / seconds, peers=peers)

def doc(backend, copy, rows, script):
    return dict(machine="h100", device=NAME, backend=backend, copy_gbps=copy, created=CREATED,
                converted_from=script, rows=rows)

d = json.loads((H / "softmax-cuda.json").read_text())
rows = []
for b in d["bench"]:
    best = b["best"]
    rows.append(row("softmax", "cuda", b["dtype"], b["shape"], label(b["shape"], f" axis={b['axis']}"), best["variant"],
                    best["config"], best["ms"] / 1e3, b["nbytes"], d["copy_GBps"], b["variants"]["cupy"]["ms"] / 1e3,
                    {"torch": b["torch_ms"] / 1e3} if b.get("torch_ms") else {}))
out = {"softmax-cuda": doc("cuda", d["copy_GBps"], rows, "softmax-cuda.json")}

d = json.loads((H / "dropout-cast-cuda.json").read_text())
rows = []
for b in d["bench"]:
    m = re.fullmatch(r"(\w+) (\[[^\]]+\]) (?:p=([\d.]+) )?(\S+)( \+mask)?", b["label"])
    op, shape, p, dtype, mask = m.groups()
    if op == "dropout" and not mask:
        continue  # the declared dropout benchmark keeps the mask (the training path)
    shape = shape_of(shape)
    lab = label(shape, f" p={p}" if op == "dropout" else "")
    best = b["best"]
    rows.append(row(op, "cuda", dtype, shape, lab, best["variant"], best["config"], best["seconds"], b["bytes"],
                    d["copy_gbps"], b["baseline_s"], b.get("peers_s") or {}))
out["dropout-cast-cuda"] = doc("cuda", d["copy_gbps"], rows, "dropout-cast-cuda.json")

d = json.loads((H / "stack-cumsum-cuda.json").read_text())
out["stack-cumsum-cuda"] = dict(machine="h100", device=NAME, backend="cuda", copy_gbps=d["copy_gbps"],
                                created=d["created"] + "+00:00", converted_from="stack-cumsum-cuda.json", rows=d["rows"])

d = json.loads((H / "softmax-opencl-nvidia.json").read_text())
rows = []  # float32 (the script timed Problem(..., "float32", ...))
by = {}
for r in d["rows"]:
    by.setdefault((r["op"], r["shape"]), {})[r["what"]] = r
for (op, shape_text), w in by.items():
    shape_part, axis = shape_text.split(" ")
    shape = shape_of(shape_part)
    t = w["tuned"]
    nbytes = t["gbps"] * 1e9 * t["ms"] / 1e3
    rows.append(row(op, "opencl", "float32", shape, label(shape, " " + axis), t["variant"], t["config"],
                    t["ms"] / 1e3, nbytes, d["copy_gbps"], w["baseline"]["ms"] / 1e3, {}))
out["softmax-opencl"] = doc("opencl", d["copy_gbps"], rows, "softmax-opencl-nvidia.json")

for name, o in out.items():
    (H / "raw" / f"h100-{name}-20261124.json").write_text(json.dumps(o, indent=1))
    print(name, len(o["rows"]))
