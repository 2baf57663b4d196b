"""The `hakl` command: info, tune, bench, check, cache and report."""
from __future__ import annotations

import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import hakl

from . import __version__, backends
from .op import OPS, Problem
from .tuning import dispatch

app = typer.Typer(help="hakl: tuned, verified kernels on CPU, CUDA and OpenCL.", no_args_is_help=True,
                  add_completion=False)
cache_app = typer.Typer(help="Inspect or reset the tuning database.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
train_app = typer.Typer(help="Train a model with hakl.framework (PaddlePaddle 2.0's API on hakl's kernels).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")
console = Console(width=None if sys.stdout.isatty() else 160)


def _ops() -> dict:
    from . import kernels  # noqa: F401  (registers every family)

    return OPS


@app.command()
def info() -> None:
    """Backends, devices, why one is unavailable, and the tuning database."""
    table = Table("backend", "status", "device / reason")
    for name, b in backends.BACKENDS.items():
        if b.available:
            fp = b.fingerprint()
            table.add_row(name, "[green]available", ", ".join(f"{k}={v}" for k, v in fp.items()))
        else:
            table.add_row(name, "[red]unavailable", b.unavailable_reason)
    console.print(table)
    from .backends import onednn

    console.print("oneDNN: " + ", ".join(f"{k}={v}" for k, v in onednn.describe().items()))
    db = dispatch.database()
    choices = sum(1 for _ in db.choices())
    console.print(f"[yellow]{db.problem}" if db.problem else
                  f"tuning database: {db.path} ({db.size_bytes() / 1024:.1f} KiB, {choices} choices)",
                  markup=bool(db.problem), highlight=False)
    console.print(f"ops: {', '.join(sorted(_ops()))}; hakl {__version__}")


OPTIONS_HELP = ("key=value, repeatable: log=true (softmax*), to=DTYPE (cast), count=N (stack), "
                "exclusive=, reverse= (cumsum), p=, mask= (dropout*)")


def _problem(op_name: str, device: str, shape: str, dtype: str, axis: int, options: dict[str, str]) -> Problem:
    """The problem `hakl.<op>` makes for an input of `shape` and `dtype` on `device`."""
    try:
        dims = tuple(int(d) for d in shape.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"--shape {shape!r}: expected sizes joined by x, e.g. 4096x1000") from None
    # The op's declared example call, made once on an input of that shape: dispatch.capture
    # then tells the problem the public function makes (its canonical shape and flags).
    example = _ops()[op_name].example
    if example is None:
        raise typer.BadParameter(f"{op_name} declares no example call, so it cannot be tuned from the command line")
    dt = np.dtype(dtype)
    x = np.ones(dims, dt) if dt.kind in "biu" else np.random.default_rng(0).standard_normal(dims).astype(dt)
    with dispatch.capture() as seen:
        try:
            example(hakl.asarray(x, device=device), axis, options)
        except (TypeError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from None
    problems = [problem for op, problem in seen if op.name == op_name]
    if not problems:
        raise typer.BadParameter(f"{op_name} on a {shape} input launches no kernel (an empty input?)")
    return problems[-1]


@app.command()
def tune(op: Optional[str] = typer.Argument(None, help="op name, e.g. softmax (not with --suite)"),
         device: Optional[list[str]] = typer.Option(None, help="cpu, cuda or opencl (--suite: default every "
                                                               "available one; else cpu)"),
         shape: Optional[str] = typer.Option(None, help="e.g. 4096x1000"),
         dtype: str = typer.Option("float32"),
         axis: int = typer.Option(-1),
         log: bool = typer.Option(False, help="log_softmax instead of softmax (same as -o log=true)"),
         option: Optional[list[str]] = typer.Option(None, "--option", "-o", help=OPTIONS_HELP),
         budget: Optional[int] = typer.Option(None, help="configurations tried per variant at most "
                                                         "(default 32; --suite: 8)"),
         suite: bool = typer.Option(False, help="tune every declared benchmark case (of the --only ops)"),
         ops: Optional[list[str]] = typer.Option(None, "--only", help="--suite: only these benchmarked ops"),
         quick: bool = typer.Option(False, help="--suite: the quick cases (those `hakl bench --quick` runs)"),
         minutes: float = typer.Option(5.0, help="--suite: stop starting new keys after this long"),
         force: bool = typer.Option(False, help="--suite: tune keys that already hold a choice too"),
         ray: Optional[str] = typer.Option(None, help="--suite: measure on a Ray cluster at this address "
                                                      "('local' starts one on this machine)"),
         cpu_workers: int = typer.Option(2, help="--ray: CPU actors per machine, pinned to disjoint cores")) -> None:
    """Tune one op for one shape, or (--suite) every benchmark case: verify and time every
    candidate, record all, keep the fastest.

    The problem is the one `hakl.<op>` makes for an input of --shape, --dtype and --axis
    (stack: --option count=N inputs of that shape). --suite is resumable: keys that hold
    a current choice are skipped, so a stopped run continues where it ended."""
    if suite:
        if op is not None or shape is not None:
            raise typer.BadParameter("--suite tunes the declared benchmark cases: give no op or --shape "
                                     "(--only OP restricts it)")
        if ray is not None:
            _sweep(ray, device or backends.available(), ops or (), quick, minutes, budget or 8, force, cpu_workers)
        else:
            _tune_suite(device or backends.available(), ops or (), quick, minutes, budget or 8, force)
        return
    if op is None or shape is None:
        raise typer.BadParameter("give an op and --shape, or --suite")
    device, budget = (device or ["cpu"])[0], budget or 32
    from .tuning import tuner

    ops = _ops()
    if op not in ops:
        raise typer.BadParameter(f"unknown op {op!r}; known: {', '.join(sorted(ops))}")
    backends.get(device).require()
    if any("=" not in item for item in option or []):
        raise typer.BadParameter(f"--option takes key=value, got {option}")
    options = dict(item.split("=", 1) for item in option or [])
    if log:
        options["log"] = "true"
    problem = _problem(op, device, shape, dtype, axis, options)
    todo = tuner.plan(ops[op], problem, budget)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task(f"tuning {op} {shape} {dtype} on {device}", total=len(todo))
        result = tuner.tune(ops[op], problem, budget, progress=lambda m: bar.advance(task))
    base = result.baseline_seconds
    table = Table("variant", "config", "time", "GB/s", "x baseline", "status")
    for m in sorted(result.measurements, key=lambda m: (m.seconds is None, m.seconds or 0)):
        table.add_row(m.variant, json.dumps(m.config), f"{m.seconds * 1e3:.3f} ms" if m.seconds else "-",
                      f"{m.gbps:.1f}" if m.gbps else "-",
                      f"{base / m.seconds:.2f}" if base and m.seconds else "-",
                      "[green]verified" if m.status == "ok" else f"[red]{m.status}: {m.error}")
    console.print(table)
    if result.choice is None:
        console.print("[red]no candidate verified; nothing recorded as the choice")
        raise typer.Exit(1)
    console.print(f"chosen: {result.choice.variant} {json.dumps(result.choice.config)} "
                  f"-> {dispatch.database().path}")


def _sweep(address: str, devices: list[str], ops, quick: bool, minutes: float, budget: int, force: bool,
           cpu_workers: int) -> None:
    from .tuning import distributed

    try:
        distributed.connect(address)
    except RuntimeError as exc:
        raise typer.BadParameter(str(exc)) from None
    with Progress(TextColumn("{task.description}"), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("candidates measured", total=None)
        jobs = distributed.sweep(devices, ops, quick, minutes, budget, force, cpu_workers,
                                 on_result=lambda job, m: bar.update(task, advance=1,
                                                                     description=f"{job.label}: {m.variant} {m.status}"))
    table = Table("fingerprint", "case", "op", "shape", "status", title=f"ray sweep -> {dispatch.database().path}")
    for job in jobs:
        table.add_row(job.key.fingerprint, job.label, job.op_name, "x".join(map(str, job.problem.shape)), job.status)
    console.print(table)
    left = sum(job.status == "incomplete" for job in jobs)
    if left:
        console.print(f"[yellow]{left} keys incomplete (out of time, or a worker died): run again to resume")


def _tune_suite(devices: list[str], ops, quick: bool, minutes: float, budget: int, force: bool) -> None:
    from .tuning import suite

    for dev in devices:
        backends.get(dev).require()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("reading the benchmark cases", total=None)
        best: list[float] = []

        def started(item, candidates: int) -> None:
            best.clear()
            bar.reset(task, total=candidates, description=f"{item.device} {item.label}")

        def advanced(m) -> None:
            if m.seconds is not None:
                best.append(m.seconds)
            desc = bar.tasks[0].description.split(" | best")[0]
            bar.update(task, advance=1, description=f"{desc} | best {min(best) * 1e3:.3f} ms" if best else desc)

        done = suite.run(devices, ops, quick, minutes, budget, force, started=started, progress=advanced)
    table = Table("device", "case", "op", "shape", "status", "choice",
                  title=f"tuning suite -> {dispatch.database().path}")
    for item in done:
        table.add_row(item.device, item.label, item.op.name if item.op else "-",
                      "x".join(map(str, item.problem.shape)) if item.problem else "-", item.status, item.choice)
    console.print(table)
    left = sum(item.status == "out of time" for item in done)
    unreached = sum(item.status == "not reached" for item in done)
    if left or unreached:
        console.print(f"[yellow]out of time after {minutes:g} min: {left} keys and {unreached} benchmark cases "
                      "left for the next run")


@app.command()
def bench(op: Optional[list[str]] = typer.Option(None, help="ops to run (default: all with benchmarks)"),
          device: Optional[list[str]] = typer.Option(None, help="devices (default: every available one)"),
          quick: bool = typer.Option(False, help="a short set of shapes"),
          json_out: Optional[Path] = typer.Option(None, "--json", help="also write the records here"),
          records: Optional[Path] = typer.Option(None, help="records folder (default: <cache>/bench)"),
          small_calls: bool = typer.Option(True, help="per-call cost on 4x8 inputs, idle and busy, beside torch"),
          tune_minutes: float = typer.Option(0.0, help="first tune each case's keys that hold no choice, until "
                                             "this many minutes have passed (make bench: one pass, not two)"),
          prepare_processes: int = typer.Option(1, help="first compile and verify the cpu cases in this many "
                                                "processes (a cold numba cache; make bench: every core)")
          ) -> None:
    """Time the dispatched variant, the baseline and the peers; report GB/s and % of copy bandwidth."""
    from . import bench as benchmod
    from .tuning import suite
    from .tuning.db import cache_dir

    deadline = time.monotonic() + 60 * tune_minutes
    tuning: list = []
    seen_keys: set = set()

    devices = device or backends.available()
    if prepare_processes > 1 and "cpu" in devices:
        with console.status(f"cpu: compiling and verifying the cases in {prepare_processes} processes"):
            start = time.monotonic()
            benchmod.prepare_in_processes("cpu", op or (), quick, benchmod.element_budget("cpu", quick),
                                          prepare_processes, small=small_calls)
        console.print(f"cpu: cases compiled and verified in {prepare_processes} processes, "
                      f"{time.monotonic() - start:.0f} s")
    console.print("dispatch overhead on a cache hit (softmax 4x8, best of 5 x 1000 calls minus its launcher): "
                  + ", ".join(f"{dev} {benchmod.dispatch_overhead_us(dev):.1f} µs" for dev in devices
                              if backends.get(dev).available))
    small = None
    if small_calls and "cpu" in devices:
        small = benchmod.small_call_overhead()
        _print_small(small)
    for dev in devices:
        backend = backends.get(dev)
        if not backend.available:
            console.print(f"[yellow]{dev}: unavailable ({backend.unavailable_reason})")
            continue
        cases = benchmod.cases(dev, op or (), quick)
        elements = benchmod.element_budget(dev, quick)
        copy_bps = backend.copy_bandwidth()
        rows = []
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(f"{dev}", total=len(cases))
            for benchmark, dtype, case in cases:
                prepared = benchmod.Prepared(benchmark, dev, dtype, case.label, copy_bps, elements)
                if tune_minutes:  # its keys without a choice, tuned in this pass (make bench)
                    label = suite.case_label(benchmark, case, dtype)
                    keys = suite.case_items(prepared, label, seen_keys)
                    for item in keys:
                        bar.update(task, description=f"{dev} tuning {label}")
                        suite.tune_item(item, deadline)
                    tuning.extend(keys)
                    if any(item.status == "tuned" for item in keys):  # replay what it now dispatches
                        prepared = benchmod.Prepared(benchmark, dev, dtype, case.label, copy_bps, elements)
                    bar.update(task, description=f"{dev}")
                # --quick (make bench): a quarter second per column and row, not half
                rows.append(benchmod.bench_row(prepared, copy_bps, budget=0.25 if quick else 0.5))
                bar.advance(task)
        benchmod.peak_fractions(rows, cases)
        _print_rows(dev, backend, copy_bps, rows)
        if not rows:
            continue
        name = f"{benchmod.machine_name(dev)}-{dev}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        extra = small if dev == "cpu" else None
        console.print(f"records: {benchmod.record(rows, dev, copy_bps, (records or cache_dir() / 'bench') / name, extra)}")
        if json_out is not None:
            target = json_out if len(devices) == 1 else json_out.with_name(f"{json_out.stem}-{dev}.json")
            benchmod.record(rows, dev, copy_bps, target, extra)
    if tuning:
        counts = Counter(item.status for item in tuning)
        console.print(f"tuning keys ({tune_minutes:g} min): " + ", ".join(f"{n} {s}" for s, n in counts.items()))


def _print_small(rows: list[dict]) -> None:
    from .backends.cpu_kernels import serial_below

    def us(v):
        return f"{v:.1f}" if v is not None else "-"

    table = Table("op", "hakl idle", "torch idle", "hakl busy", "torch busy",
                  title=f"cpu: µs per call on a 4x8 float32 input (busy: a second process on every core; "
                        f"serial below {serial_below()} elements)")
    for r in rows:
        table.add_row(r["op"], us(r["hakl_idle_us"]), us(r["torch_idle_us"]), us(r["hakl_busy_us"]),
                      us(r["torch_busy_us"]))
    console.print(table)


def _print_rows(dev, backend, copy_bps, rows) -> None:
    peers = sorted({p for r in rows for p in r.peers})
    compute = any(r.gflops is not None for r in rows)  # a GEMM's rows: GFLOP/s and % of its peak case
    table = Table("op", "shape", "dtype", "variant", "ms", "GB/s", "% copy", *(("GFLOP/s", "% peak") * compute),
                  "x baseline", *[f"x {p}" for p in peers],
                  title=f"{dev}: {backend.fingerprint().get('device')} — copy {copy_bps / 1e9:.1f} GB/s")
    for r in rows:
        flops = (f"{r.gflops:.1f}" if r.gflops is not None else "-",
                 f"{100 * r.frac_peak:.0f}%" if r.frac_peak is not None else "-")
        table.add_row(r.op, r.label, r.dtype, f"{r.variant} ({r.source})", f"{r.seconds * 1e3:.3f}",
                      f"{r.gbps:.1f}", f"{100 * r.frac_copy:.0f}%", *(flops * compute), f"{r.speedup:.2f}",
                      *[f"{r.peers[p] / r.seconds:.2f}" if r.peers.get(p) else "-" for p in peers])
    console.print(table)


@app.command()
def check(device: Optional[list[str]] = typer.Option(None), quick: bool = typer.Option(True),
          op: Optional[list[str]] = typer.Option(None, help="only these ops (default: every one)")) -> None:
    """The conformance suite: every variant x dtype against the float64 reference."""
    from .conformance import check_variant

    unknown = sorted(set(op or ()) - set(_ops()))
    if unknown:
        raise typer.BadParameter(f"unknown op {', '.join(unknown)}; known: {', '.join(sorted(_ops()))}")
    failed = 0
    table = Table("op", "backend", "variant", "dtype", "cases", "result")
    for name, declared in sorted(_ops().items()):
        if op and name not in op:
            continue
        for v in declared.variants:
            b = backends.get(v.backend)
            if (device and v.backend not in device) or not b.available:
                continue
            for dt in declared.test_dtypes(v.backend):  # the op's declared domain on that backend
                rep = check_variant(declared, v, dt, quick=quick)
                if rep.checked == 0:
                    continue
                failed += bool(rep.failures)
                table.add_row(name, v.backend, v.name, dt, str(rep.checked),
                              "[green]ok" if not rep.failures else f"[red]{rep.failures[0]}")
    console.print(table)
    for name, b in backends.BACKENDS.items():
        if not b.available:
            console.print(f"[yellow]{name} skipped: {b.unavailable_reason}")
    raise typer.Exit(1 if failed else 0)


@app.command()
def report(results: Optional[list[Path]] = typer.Option(None, help="asv results dirs (default: the suite's)"),
           records: Optional[Path] = typer.Option(None, help="`hakl bench` records (default: <cache>/bench)"),
           out: Path = typer.Option(Path("reports"), help="pages go to <out>/<machine>/index.html, "
                                    "the index over every machine to <out>/index.html"),
           snapshots: Optional[Path] = typer.Option(None, help="committed snapshots, <dir>/<machine>/raw/ "
                                                    "(default: --out)"),
           compare: Optional[tuple[Path, Path]] = typer.Option(None, help="BASE NEW: list regressions"),
           threshold: float = typer.Option(1.1, help="slow-down ratio that counts as a regression")) -> None:
    """The dashboard from asv results and bench records, or regressions between two result sets."""
    from . import regression
    from .tuning.db import cache_dir

    if compare:
        code, text = regression.compare(compare[0], compare[1], threshold)
        console.print(text, markup=False, highlight=False)
        raise typer.Exit(code)
    pages = regression.report(results or [regression.default_results_dir()], records or cache_dir() / "bench", out,
                              snapshots=snapshots or out)
    if not pages:
        console.print("[yellow]no results found; run `make bench` or `hakl bench` first")
        raise typer.Exit(1)
    for page in pages:
        console.print(f"dashboard: {page}")


@cache_app.command("list")
def cache_list() -> None:
    """The recorded choices."""
    db = dispatch.database()
    table = Table("op", "backend", "dtype", "bucket", "flags", "variant", "config", "ms", title=str(db.path),
                  caption=db.problem)
    for c in db.choices():
        table.add_row(c["op"], c["backend"], c["dtype"], c["bucket"], c["flags"], c["variant"], c["config"],
                      f"{c['seconds'] * 1e3:.3f}" if c["seconds"] else "-")
    console.print(table)


@cache_app.command("clear")
def cache_clear(yes: bool = typer.Option(False, "--yes", help="do not ask")) -> None:
    """Delete every choice and measurement."""
    db = dispatch.database()
    if not yes and not typer.confirm(f"clear {db.path}?"):
        raise typer.Exit(1)
    db.clear()
    console.print(f"cleared {db.path}")


@cache_app.command("export")
def cache_export(out: Path = typer.Argument(Path("-"), help="JSON file (default: stdout)"),
                 choices: bool = typer.Option(False, "--choices", help="the choices and the devices they were "
                                              "tuned on, alone (what `make bench` keeps in "
                                              "reports/<machine>/tuning.json): a machine that imports them still "
                                              "verifies each one before it serves")) -> None:
    """Every choice, measurement, verdict and device as JSON (for `hakl cache import` elsewhere)."""
    from .tuning.db import COLUMNS

    doc = json.dumps(dispatch.database().export(("choices", "devices") if choices else tuple(COLUMNS)), indent=1)
    if str(out) == "-":
        sys.stdout.write(doc + "\n")
    else:
        out.write_text(doc)
        console.print(f"wrote {out}")


@cache_app.command("import")
def cache_import(source: Path = typer.Argument(..., help="a `hakl cache export` file from another machine")) -> None:
    """Merge another machine's tuning rows: another device's never overwrite this one's."""
    db = dispatch.database()
    try:
        added = db.merge(json.loads(source.read_text()))
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        console.print(f"[red]hakl cache import: {source} refused, nothing changed: {exc}")
        raise typer.Exit(2)
    dispatch.clear_memo()
    console.print(f"{source} -> {db.path}: " + ", ".join(f"{n} {table}" for table, n in added.items()) + " added")


@train_app.callback()
def _train() -> None:
    """Train a model with hakl.framework."""


@train_app.command("digits")
def train_digits(model: str = typer.Option("mlp", help="mlp, lstm (each image as 8 steps of 8 features) or gru"),
                 device: str = typer.Option("cpu", help="cpu, opencl or gpu (hakl's cuda)"),
                 epochs: int = typer.Option(10, min=1),
                 batch_size: int = typer.Option(64, min=1),
                 lr: float = typer.Option(3e-3, help="AdamW's learning rate"),
                 hidden: Optional[int] = typer.Option(None, min=1, help="hidden width (default: 128 for mlp, "
                                                                        "64 for lstm and gru)"),
                 seed: int = typer.Option(0, help="the split, initial weights, shuffling and dropout follow it"),
                 amp: Optional[str] = typer.Option(None, help="mixed precision (auto_cast O1): float16, or "
                                                              "bfloat16 (the CPU's matmul)"),
                 plot: Optional[Path] = typer.Option(None, help="write the loss / accuracy curve to this PNG "
                                                                "(needs matplotlib: the bench extra)")) -> None:
    """scikit-learn's 8x8 digits: a progress bar, a table per epoch (loss, test accuracy,
    samples/s, the hakl variants that served) and, last, the test accuracy."""
    from .framework import digits

    if model not in digits.MODELS:
        raise typer.BadParameter(f"--model {model!r}: expected one of {', '.join(digits.MODELS)}")
    try:
        digits.build(model)  # fails fast, before any data is read, for a model the kernels cannot serve yet
    except NotImplementedError as exc:
        console.print(f"[red]{exc}", highlight=False)
        raise typer.Exit(2) from None
    table = Table("epoch", "loss", "test acc", "samples/s", "variants",
                  title=f"digits, {model} on {device}" + (f", amp {amp}" if amp else ""))
    with Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("train", total=None, epoch=1)

        def on_batch(epoch: int, batch: int) -> None:
            progress.update(task, completed=batch + 1, epoch=epoch)

        def on_epoch(e) -> None:
            progress.update(task, completed=0)
            table.add_row(str(e.epoch), f"{e.loss:.4f}", f"{e.accuracy:.4f}", f"{e.samples_per_s:,.0f}",
                          ", ".join(e.variants))

        try:
            curve = digits.train(model, device, epochs, batch_size, lr, seed,
                                 hidden=hidden or (128 if model == "mlp" else 64), on_batch=on_batch,
                                 on_epoch=on_epoch, amp=amp)
        except (RuntimeError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from None
    console.print(table)
    if plot is not None:
        _plot_curve(curve, plot)
        console.print(f"curve -> {plot}")
    console.print(f"test accuracy: {curve[-1].accuracy:.4f}", highlight=False)


def _plot_curve(curve, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise typer.BadParameter("--plot needs matplotlib (pip install 'hakl[bench]')") from None
    fig, loss_ax = plt.subplots(figsize=(6, 3.5))
    epochs = [e.epoch for e in curve]
    loss_ax.plot(epochs, [e.loss for e in curve], "o-", color="tab:blue")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss", color="tab:blue")
    acc_ax = loss_ax.twinx()
    acc_ax.plot(epochs, [e.accuracy for e in curve], "s-", color="tab:green")
    acc_ax.set_ylabel("test accuracy", color="tab:green")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main() -> None:
    warnings.formatwarning = _one_line_warning  # a user reads what is wrong, not our source line
    app()


if __name__ == "__main__":
    main()
