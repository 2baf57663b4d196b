"""Benchmark results as one list of rows, whatever wrote them.

Two sources:
- asv result folders (``<results_dir>/<machine>/<commit>-<env>.json``, asv's
  format version 2, and ``benchmarks.json`` for units and parameter names),
  with the suite's dispatch log (``<results_dir>/dispatch/*.jsonl``: what hakl
  dispatched, the bytes it moved, the copy bandwidth) matched to each result by
  op, parameters and time;
- `hakl bench` records: JSON files with a "rows" list, one file per device and run.

A file that cannot be read (truncated, corrupt, another format version) is
skipped with a `ResultWarning` naming it; nothing here raises on bad input.
"""
from __future__ import annotations

import ast
import dataclasses
import datetime
import itertools
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ASV_API_VERSION = 2
# A dispatch record belongs to a result when it was written within the benchmark's
# run: asv stores when the benchmark's last round started and how long all rounds
# took, so the window reaches one duration back and forward, plus clock slack.
SLACK_S = 10.0
BENCH_PREFIX = "hakl-bench."


class ResultWarning(UserWarning):
    """A result file or record was skipped because it could not be read."""


def _warn(path: Path | str, reason: str) -> None:
    warnings.warn(f"hakl.regression: skipping {path}: {reason}", ResultWarning, stacklevel=3)


@dataclass
class Result:
    """One value of one benchmark with one set of parameters in one run."""

    machine: str
    commit: str | None
    date: float  # ms since the epoch: the commit's date (asv) or the record's creation
    benchmark: str  # "bench_softmax.Softmax.time_softmax", or "hakl-bench.softmax" for records
    params: tuple[tuple[str, str], ...]
    value: float | None  # None: the benchmark failed
    unit: str
    stats: dict[str, float] | None = None  # asv's ci_99_a, ci_99_b, q_25, q_75, repeat, number
    samples: list[float] | None = None
    started_at: float | None = None  # ms
    duration: float | None = None  # s
    dispatch: dict[str, Any] | None = None
    path: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.params).get(name, default)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.benchmark, self.params

    @property
    def method(self) -> str:
        return self.benchmark.rsplit(".", 1)[-1]

    @property
    def op(self) -> str | None:
        """The op family a benchmark measures, read from its name."""
        if self.benchmark.startswith(BENCH_PREFIX):
            return self.benchmark[len(BENCH_PREFIX):].split(".")[0]
        m = re.fullmatch(r"time_(\w+)", self.method) or re.fullmatch(r"track_(\w+)_speedup", self.method)
        return m.group(1) if m else None

    @property
    def lower_is_better(self) -> bool:
        return self.unit in ("seconds", "bytes", "us")

    @property
    def variant(self) -> str | None:
        if self.param("impl", "hakl") != "hakl" and not self.method.startswith("track_"):
            return None  # baseline and peers are not dispatched
        return self.dispatch.get("variant") if self.dispatch else None

    def label(self) -> str:
        return f"{self.benchmark}({', '.join(f'{k}={v}' for k, v in self.params)})"


# ---- asv ----------------------------------------------------------------------

def _unquote(value: str) -> str:
    try:
        return str(ast.literal_eval(value))
    except (ValueError, SyntaxError):
        return str(value)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _benchmarks_meta(root: Path) -> dict[str, dict]:
    path = root / "benchmarks.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
        return {k: v for k, v in meta.items() if isinstance(v, dict)}
    except (OSError, ValueError) as exc:
        _warn(path, f"unreadable ({exc}); units and parameter names are guessed")
        return {}


def machine_dirs(root: Path) -> list[Path]:
    """Folders under `root` (or `root` itself) that hold an asv machine.json."""
    root = Path(root)
    if (root / "machine.json").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/machine.json"))


def results_root(path: Path) -> Path:
    """The results_dir a machine folder or result file belongs to."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    return path.parent if (path / "machine.json").is_file() else path


def _machine_name(folder: Path) -> str:
    try:
        name = json.loads((folder / "machine.json").read_text()).get("machine")
        if isinstance(name, str) and name:
            return name
    except (OSError, ValueError, AttributeError):
        pass
    return folder.name


def read_asv_file(path: Path, machine: str | None = None, meta: dict | None = None) -> list[Result]:
    """The results in one asv result file; [] with a warning when it cannot be read."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("version") != ASV_API_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            _warn(path, f"not an asv result file of format version {ASV_API_VERSION} (version {version!r})")
            return []
        return list(_parse_asv(data, path, machine or data["params"].get("machine", path.parent.name),
                               meta or {}))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        _warn(path, f"{type(exc).__name__}: {exc}")
        return []


def _parse_asv(data: dict, path: Path, machine: str, meta: dict) -> Iterable[Result]:
    columns = data["result_columns"]
    out = []
    for name, row in data["results"].items():
        cols = dict(zip(columns, row))
        bench_meta = meta.get(name, {})
        params = cols.get("params") or []
        names = bench_meta.get("param_names") or [f"p{i}" for i in range(len(params))]
        unit = bench_meta.get("unit") or ("seconds" if name.rsplit(".", 1)[-1].startswith("time_") else "unit")
        combos = [tuple(zip(names, map(_unquote, c))) for c in itertools.product(*params)] if params else [()]
        values = cols.get("result")
        if values is None:
            values = [None] * len(combos)
        elif not isinstance(values, list):
            values = [values]
        if len(values) != len(combos):
            raise ValueError(f"{name}: {len(values)} results for {len(combos)} parameter combinations")
        stats_cols = {k[6:]: cols.get(k) for k in columns if k.startswith("stats_")}
        samples = cols.get("samples")
        for i, (combo, value) in enumerate(zip(combos, values)):
            if isinstance(value, float) and math.isnan(value):
                continue  # skipped: device, dtype or op not there
            stats = {k: v[i] for k, v in stats_cols.items() if isinstance(v, list) and _finite(v[i])}
            out.append(Result(
                machine=machine, commit=data.get("commit_hash"), date=float(data.get("date") or 0),
                benchmark=name, params=combo, value=float(value) if _finite(value) else None, unit=unit,
                stats=stats or None,
                samples=samples[i] if isinstance(samples, list) and isinstance(samples[i], list) else None,
                started_at=(cols.get("started_at") or None), duration=cols.get("duration"),
                path=str(path)))
    return out


def read_dispatch_log(root: Path) -> dict[tuple, list[dict]]:
    """Dispatch records under <root>/dispatch, by (op, device, dtype, shape), oldest first."""
    records: dict[tuple, list[dict]] = {}
    for path in sorted((Path(root) / "dispatch").glob("*.jsonl")):
        bad = 0
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            _warn(path, str(exc))
            continue
        for line in lines:
            try:
                r = json.loads(line)
                key = (r["family"], r["device"], r["dtype"], r["shape"])
                float(r["t"])
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            records.setdefault(key, []).append(r)
        if bad:
            _warn(f"{bad} line(s) of {path}", "not dispatch records")
    for rs in records.values():
        rs.sort(key=lambda r: r["t"])
    return records


def attach_dispatch(results: list[Result], records: dict[tuple, list[dict]]) -> None:
    """Give each result the dispatch record of its case written during its run."""
    for r in results:
        op = r.op
        if op is None or r.started_at is None or r.benchmark.startswith(BENCH_PREFIX):
            continue
        candidates = records.get((op, r.param("device"), r.param("dtype"), r.param("shape")), ())
        start = r.started_at / 1e3
        reach = (r.duration or 0.0) + SLACK_S
        near = [rec for rec in candidates if start - reach <= rec["t"] <= start + reach]
        if near:
            r.dispatch = min(near, key=lambda rec: abs(rec["t"] - start))


def load_asv(root: Path) -> list[Result]:
    """Every result under an asv results_dir (or one machine folder of it)."""
    root = Path(root)
    if root.is_file():
        files = [(root, None)]
        base = results_root(root)
    else:
        base = results_root(root)
        files = [(f, _machine_name(d)) for d in machine_dirs(root)
                 for f in sorted(d.glob("*.json")) if f.name != "machine.json"]
    meta = _benchmarks_meta(base)
    results = [r for f, machine in files for r in read_asv_file(f, machine, meta)]
    attach_dispatch(results, read_dispatch_log(base))
    return results


# ---- hakl bench records -------------------------------------------------------

def _iso_ms(text: Any) -> float:
    try:
        return datetime.datetime.fromisoformat(str(text)).timestamp() * 1e3
    except ValueError:
        return 0.0


def read_record(path: Path) -> list[Result]:
    """The rows of one `hakl bench` record as results (impl = hakl, baseline, peers)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            _warn(path, "not a hakl bench record (no 'rows')")
            return []
        out = []
        for row in doc["rows"]:
            out.extend(_record_row(doc, row, path))
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        _warn(path, f"{type(exc).__name__}: {exc}")
        return []


def _record_row(doc: dict, row: dict, path: Path) -> list[Result]:
    label = row.get("label") or f"{tuple(row['shape'])} axis={row.get('axis')}"
    params = (("device", str(row.get("backend", doc.get("backend")))), ("dtype", str(row["dtype"])),
              ("shape", str(label)))
    seconds = row.get("seconds")
    nbytes = row["gbps"] * 1e9 * seconds if _finite(row.get("gbps")) and _finite(seconds) else None
    dispatch = {"variant": row.get("variant"), "config": row.get("config"), "source": row.get("source"),
                "nbytes": nbytes, "copy_gbps": doc.get("copy_gbps"), "device_name": doc.get("device"),
                "input_shape": row.get("shape")}
    impls = {"hakl": seconds, "baseline": row.get("baseline_seconds"), **(row.get("peers") or {})}
    common = dict(machine=str(doc.get("machine") or path.stem), commit=None, date=_iso_ms(doc.get("created")),
                  dispatch=dispatch, path=str(path))
    out = [Result(benchmark=BENCH_PREFIX + str(row["op"]), params=params + (("impl", impl),),
                  value=float(t), unit="seconds", **common)
           for impl, t in impls.items() if _finite(t)]
    if _finite(row.get("speedup")):
        out.append(Result(benchmark=f"{BENCH_PREFIX}{row['op']}.track_speedup", params=params,
                          value=float(row["speedup"]), unit="x", **common))
    return out


def load_records(folder: Path) -> list[Result]:
    """Every `hakl bench` record in a folder (a missing folder holds none)."""
    folder = Path(folder)
    files = [folder] if folder.is_file() else sorted(folder.glob("*.json"))
    return [r for f in files for r in read_record(f)]


def load_snapshots(root: Path) -> list[Result]:
    """The committed snapshots under `root` (reports/): every `<root>/<machine>/raw/` holds
    `hakl bench` records (*.json) and optionally asv results (raw/asv-results/); their
    results are that folder's machine, whatever name the run gave itself."""
    out: list[Result] = []
    for raw in sorted(Path(root).glob("*/raw")):
        machine = raw.parent.name
        found = load_records(raw)
        if (raw / "asv-results").is_dir():
            found += load_asv(raw / "asv-results")
        out.extend(dataclasses.replace(r, machine=machine) for r in found)
    return out


# ---- either -------------------------------------------------------------------

def load(path: Path) -> list[Result]:
    """Results from an asv results_dir / machine folder / result file, or from
    `hakl bench` records (a folder of them or one file), told apart by content."""
    path = Path(path)
    if not path.exists():
        _warn(path, "does not exist")
        return []
    if path.is_dir():
        if machine_dirs(path):
            return load_asv(path)
        return load_records(path)
    try:
        head = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _warn(path, f"{type(exc).__name__}: {exc}")
        return []
    if isinstance(head, dict) and "rows" in head:
        return read_record(path)
    return load_asv(path)


def latest_run(results: list[Result]) -> list[Result]:
    """Per machine, each (benchmark, params) from its newest run: commit date, then start."""
    best: dict[tuple, Result] = {}
    for r in results:
        k = (r.machine,) + r.key
        order = (r.date, r.started_at or 0.0)
        if k not in best or order >= (best[k].date, best[k].started_at or 0.0):
            best[k] = r
    return list(best.values())


def fits(pattern: str, label: str) -> bool:
    """Whether a case label fits a pattern whose * stands for any extent."""
    return label == pattern or re.fullmatch(re.escape(pattern).replace(r"\*", r"\d+"), label) is not None


@dataclass
class Measurement:
    """One implementation's time on one case: what the dashboard plots."""

    machine: str
    op: str
    device: str
    dtype: str
    case: str
    impl: str
    seconds: float
    nbytes: float | None = None
    copy_gbps: float | None = None
    variant: str | None = None
    device_name: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def gbps(self) -> float | None:
        return self.nbytes / self.seconds / 1e9 if self.nbytes and self.seconds > 0 else None

    @property
    def frac_copy(self) -> float | None:
        g = self.gbps
        return g / self.copy_gbps if g is not None and self.copy_gbps else None


def measurements(results: list[Result]) -> list[Measurement]:
    """Times of the latest run per machine, with bytes and copy bandwidth of the case
    (shared by every impl of that case in the run). Where asv results and `hakl
    bench` records both have a case, asv's is kept and the record fills gaps."""
    latest = [r for r in latest_run(results) if r.unit == "seconds" and r.value is not None
              and r.op is not None and r.param("impl") is not None]
    # A record names a bandwidth-scale case by its size, "(524288, 32) axis=-1"; asv by
    # its pattern, "(*, 32) axis=-1": a record's case joins the asv case it fits.
    patterns = {(r.machine, r.op, r.param("shape")) for r in latest if not r.benchmark.startswith(BENCH_PREFIX)
                and "*" in (r.param("shape") or "")}
    for i, r in enumerate(latest):
        if r.benchmark.startswith(BENCH_PREFIX):
            fit = next((p for m, op, p in patterns if (m, op) == (r.machine, r.op) and fits(p, r.param("shape"))),
                       None)
            if fit is not None:
                latest[i] = dataclasses.replace(r, params=tuple((k, fit if k == "shape" else v) for k, v in r.params))
    case_info: dict[tuple, dict] = {}  # after the renaming: a record's bytes join its asv case
    for r in latest:
        if r.dispatch:
            case_info.setdefault((r.machine, r.op, r.param("device"), r.param("dtype"), r.param("shape")),
                                 r.dispatch)
    chosen: dict[tuple, Result] = {}
    for r in sorted(latest, key=lambda r: r.benchmark.startswith(BENCH_PREFIX)):
        chosen.setdefault((r.machine, r.op) + r.params, r)
    out = []
    for r in chosen.values():
        info = case_info.get((r.machine, r.op, r.param("device"), r.param("dtype"), r.param("shape")), {})
        out.append(Measurement(
            machine=r.machine, op=r.op, device=r.param("device"), dtype=r.param("dtype"), case=r.param("shape"),
            impl=r.param("impl"), seconds=r.value, nbytes=info.get("nbytes"), copy_gbps=info.get("copy_gbps"),
            variant=info.get("variant") if r.param("impl") == "hakl" else None,
            device_name=info.get("device_name")))
    return out
