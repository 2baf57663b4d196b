"""The dashboard: one self-contained HTML page per machine.

Per op: GB/s of hakl, its baseline and the peers on every case, per device and
dtype, against the copy bandwidth measured in the same run (right axis: the
fraction of it), and a table with the variant hakl dispatched; the release-note
targets (met / missed / partial / pending / not measured, with the measured
ratios); what changed since the machine's previous run; and, where asv holds
more than one commit, each case's history. Plots are PNGs drawn by matplotlib's
Agg backend and embedded as base64, so the page needs nothing beside it.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from . import detect, targets as tg
from . import results as res
from .results import Measurement, Result

IMPL_ORDER = ("hakl", "baseline", "torch", "cupy", "numpy")
COLORS = {"hakl": "#1f77b4", "baseline": "#7f7f7f", "torch": "#ee4c2c", "cupy": "#2ca02c", "numpy": "#9467bd"}
STATUS_COLORS = {tg.MET: "#d4edda", tg.MISSED: "#f8d7da", tg.PARTIAL: "#fff3cd", tg.PENDING: "#e2e3e5",
                 tg.UNMEASURED: "#f1f1f1"}
CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%} .note{color:#666;font-size:13px} h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
"""


# On load, each page counts its plots that decoded (a headless browser reads it back:
# tests/regression/test_dashboard.py).
LOADED = ("<script>addEventListener('load',()=>{document.body.dataset.plotsLoaded="
          "[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length})</script>")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # every figure is tight_layout()ed: no second draw
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _impls(ms: Iterable[Measurement]) -> list[str]:
    present = {m.impl for m in ms}
    return [i for i in IMPL_ORDER if i in present] + sorted(present - set(IMPL_ORDER))


def _esc(x: object) -> str:
    return html.escape(str(x))


def op_plot(op: str, ms: list[Measurement]) -> str:
    """Base64 PNG: one panel per (device, dtype), grouped bars of GB/s per case."""
    plt = _pyplot()
    panels = sorted({(m.device, m.dtype) for m in ms})
    impls = _impls(ms)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.4 * len(panels)), squeeze=False)
    for ax, (device, dtype) in zip(axes[:, 0], panels):
        mine = [m for m in ms if (m.device, m.dtype) == (device, dtype)]
        cases = list(dict.fromkeys(m.case for m in mine))
        width = 0.8 / max(len(impls), 1)
        by = {(m.case, m.impl): m for m in mine}
        for j, impl in enumerate(impls):
            xs, ys = [], []
            for i, case in enumerate(cases):
                m = by.get((case, impl))
                if m is not None and m.gbps is not None:
                    xs.append(i + (j - (len(impls) - 1) / 2) * width)
                    ys.append(m.gbps)
            if xs:
                ax.bar(xs, ys, width, label=impl, color=COLORS.get(impl))
        copy = next((m.copy_gbps for m in mine if m.copy_gbps), None)
        if copy:
            ax.axhline(copy, color="k", ls="--", lw=1, label=f"copy {copy:.0f} GB/s")
            sec = ax.secondary_yaxis("right", functions=(lambda g, c=copy: g / c, lambda f, c=copy: f * c))
            sec.set_ylabel("fraction of copy")
        name = next((m.device_name for m in mine if m.device_name), "")
        ax.set_title(f"{op} — {device} ({name}) {dtype}", fontsize=10)
        ax.set_ylabel("GB/s")
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=20, ha="right", fontsize=8)
        ax.legend(fontsize=8, ncol=len(impls) + 1, loc="upper left")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return png


def history_plot(op: str, runs: list[Result], nbytes: dict[tuple, float]) -> str:
    """Base64 PNG: hakl's GB/s (seconds where bytes are unknown) per case over commits,
    one panel per (device, dtype)."""
    plt = _pyplot()
    newest: dict[tuple, Result] = {}  # one value per commit and case: the newest run's
    for r in runs:
        k = (r.date, r.commit or "") + r.params
        if k not in newest or (r.started_at or 0) > (newest[k].started_at or 0):
            newest[k] = r
    runs = list(newest.values())
    commits = sorted({(r.date, r.commit or "") for r in runs})
    index = {c: i for i, c in enumerate(commits)}
    rate = all((r.param("device"), r.param("dtype"), r.param("shape")) in nbytes for r in runs)
    series: dict[tuple, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        case = (r.param("device"), r.param("dtype"), r.param("shape"))
        y = nbytes[case] / r.value / 1e9 if rate else r.value
        series[case[:2]][case[2]].append((index[(r.date, r.commit or "")], y))
    panels = sorted(series)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), squeeze=False)
    colors = plt.get_cmap("tab20").colors
    for ax, panel in zip(axes[:, 0], panels):
        for i, (shape, points) in enumerate(sorted(series[panel].items())):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=shape,
                    color=colors[i % len(colors)])
        ax.set_xticks(range(len(commits)))
        ax.set_xticklabels([c[1][:8] for c in commits], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("hakl GB/s" if rate else "hakl seconds")
        if not rate:
            ax.set_yscale("log")
        ax.set_title(f"{op} history — {panel[0]} {panel[1]}", fontsize=10)
        ax.legend(fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return png


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _op_table(ms: list[Measurement]) -> str:
    impls = _impls(ms)
    head = "".join(f"<th>{_esc(i)} GB/s (% copy)</th>" for i in impls)
    rows = []
    by = {(m.device, m.dtype, m.case, m.impl): m for m in ms}
    for device, dtype, case in dict.fromkeys((m.device, m.dtype, m.case) for m in ms):
        cells = []
        for impl in impls:
            m = by.get((device, dtype, case, impl))
            if m is None:
                cells.append("<td></td>")
            elif m.gbps is None:
                cells.append(f"<td class=num>{m.seconds * 1e3:.3g} ms</td>")
            else:
                cells.append(f"<td class=num>{m.gbps:.3g} ({_fmt(m.frac_copy and 100 * m.frac_copy, '.0f')}%)</td>")
        hakl, base = by.get((device, dtype, case, "hakl")), by.get((device, dtype, case, "baseline"))
        speedup = base.seconds / hakl.seconds if hakl and base and hakl.seconds > 0 else None
        peers = [by[(device, dtype, case, i)].seconds for i in impls
                 if i not in ("hakl", "baseline") and (device, dtype, case, i) in by]
        vs_peer = min(peers) / hakl.seconds if hakl and peers and hakl.seconds > 0 else None
        rows.append(f"<tr><td>{_esc(device)}</td><td>{_esc(dtype)}</td><td>{_esc(case)}</td>{''.join(cells)}"
                    f"<td>{_esc(hakl.variant if hakl and hakl.variant else '')}</td>"
                    f"<td class=num>{_fmt(speedup, '.2f')}</td><td class=num>{_fmt(vs_peer, '.2f')}</td></tr>")
    return (f"<table><tr><th>device</th><th>dtype</th><th>shape</th>{head}<th>hakl variant</th>"
            f"<th>× baseline</th><th>× best peer</th></tr>{''.join(rows)}</table>")


def _targets_table(statuses: list[tg.TargetStatus]) -> str:
    rows = []
    for s in statuses:
        t = s.target
        worst = s.worst
        detail = "; ".join(f"{dtype} {shape}: {x:.2f}x ({how})" for (dtype, shape), (x, how) in sorted(s.ratios.items()))
        measured = f"{len(s.ratios)}/{s.expected}" if s.ratios else ""
        rows.append(
            f"<tr style='background:{STATUS_COLORS[s.status]}'><td>{_esc(t.id)}</td><td>{_esc(t.op)}</td>"
            f"<td>{_esc(t.device)}</td><td>{_esc(', '.join(t.dtypes))}</td><td>{_esc(t.baseline)}</td>"
            f"<td class=num>≥ {t.ratio:g}x</td><td><b>{_esc(s.status)}</b></td>"
            f"<td class=num>{_fmt(worst, '.2f')}{'x' if worst is not None else ''}</td><td>{measured}</td>"
            f"<td>{_esc(t.promise)}{('<br><span class=note>' + _esc(t.why) + '</span>') if t.why else ''}"
            f"{('<br><span class=note>' + _esc(detail) + '</span>') if detail else ''}</td></tr>")
    return ("<table><tr><th>target</th><th>op</th><th>device</th><th>dtypes</th><th>baseline</th>"
            "<th>promise</th><th>status</th><th>worst measured</th><th>cases measured</th><th>details</th></tr>"
            f"{''.join(rows)}</table>")


def _changes_section(history: list[Result]) -> str:
    """Noise-aware changes from the machine's previous asv commit to its newest one."""
    commits = sorted({(r.date, r.commit) for r in history if r.commit})
    if len(commits) < 2:
        return "<p class=note>One asv run on this machine so far: no earlier run to compare with.</p>"
    prev, last = commits[-2], commits[-1]
    c = detect.compare_results([r for r in history if (r.date, r.commit) == prev],
                               [r for r in history if (r.date, r.commit) == last])
    rows = [f"<tr><td>{kind}</td><td class=num>{x.ratio:.2f}x</td><td>{_esc(x.new.label())}</td>"
            f"<td>{_esc(detect.fmt_value(x.base.value, x.base.unit))} → "
            f"{_esc(detect.fmt_value(x.new.value, x.new.unit))}</td><td>{_esc(x.describe_variant())}</td></tr>"
            for kind, xs in (("regression", c.regressions), ("improvement", c.improvements)) for x in xs]
    single = sum(1 for x in c.regressions + c.improvements if not detect.has_interval(x.base, x.new))
    title = (f"<p>{_esc(prev[1][:8])} → {_esc(last[1][:8])}: {len(c.regressions)} regressions, "
             f"{len(c.improvements)} improvements among {c.compared} results "
             f"(threshold {detect.THRESHOLD}x, 99% intervals where asv has them; {single} of these "
             "changes come from single samples — --quick runs, track_ values — judged by the threshold "
             "alone, so on a busy machine they are mostly noise).</p>")
    if not rows:
        return title
    return title + ("<table><tr><th></th><th>worse by</th><th>benchmark</th><th>value</th><th>dispatch</th></tr>"
                    + "".join(rows) + "</table>")


def render(machine: str, results: list[Result], target_list: list[tg.Target], sources: Sequence[str]) -> str:
    """The HTML page of one machine."""
    ms = res.measurements(results)
    ops = sorted({m.op for m in ms})
    devices: dict[str, dict] = defaultdict(dict)
    for m in ms:
        if m.copy_gbps:
            devices[m.device].setdefault("name", m.device_name)
            devices[m.device].setdefault("copy", m.copy_gbps)
    for r in res.latest_run(results):  # the suite's machine benchmarks, where they ran
        if r.value is not None and r.method in ("track_copy_gbps", "track_dispatch_overhead_us"):
            devices[r.param("device")]["copy" if r.method == "track_copy_gbps" else "overhead"] = r.value
    asv_history = [r for r in results if not r.benchmark.startswith(res.BENCH_PREFIX)]
    commits = sorted({(r.date, r.commit) for r in asv_history if r.commit})
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>hakl — {_esc(machine)}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>hakl benchmarks — {_esc(machine)}</h1>",
             f"<p class=note>Generated {datetime.datetime.now().isoformat(timespec='seconds')} from "
             f"{_esc(', '.join(sources))}. Newest asv commit: "
             f"{_esc(commits[-1][1][:8]) if commits else 'none'}; {len(commits)} commit(s) in the history. "
             "Times are device times (CUDA events, OpenCL profiling events, perf_counter on the CPU); "
             "GB/s counts the minimum bytes the op must move; the copy bandwidth is measured in the same run.</p>"]
    if devices:
        parts.append("<table><tr><th>device</th><th>name</th><th>copy GB/s</th>"
                     "<th>dispatch overhead per call (µs)</th></tr>" + "".join(
                         f"<tr><td>{_esc(d)}</td><td>{_esc(v.get('name') or '')}</td>"
                         f"<td class=num>{_fmt(v.get('copy'), '.1f')}</td>"
                         f"<td class=num>{_fmt(v.get('overhead'), '.1f')}</td></tr>"
                         for d, v in sorted(devices.items())) + "</table>")
    parts.append("<h2>Targets: the release notes', and parity with the peers</h2>")
    parts.append(_targets_table(tg.evaluate(target_list, results, machine)) if target_list
                 else "<p class=note>No targets file found.</p>")
    parts.append("<h2>Changes since the previous run</h2>")
    parts.append(_changes_section(asv_history))
    for op in ops:
        mine = [m for m in ms if m.op == op]
        parts.append(f"<h2 id='{_esc(op)}'>{_esc(op)}</h2>")
        parts.append(f"<img class=op-plot data-op='{_esc(op)}' alt='{_esc(op)}: GB/s per shape' "
                     f"src='data:image/png;base64,{op_plot(op, mine)}'>")
        parts.append(_op_table(mine))
        runs = [r for r in asv_history if r.op == op and r.param("impl") == "hakl" and r.unit == "seconds"
                and r.value is not None]
        if len({r.commit for r in runs}) > 1:
            nbytes = {(m.device, m.dtype, m.case): m.nbytes for m in mine if m.nbytes}
            parts.append(f"<img class=history-plot data-op='{_esc(op)}' alt='{_esc(op)}: history' "
                         f"src='data:image/png;base64,{history_plot(op, runs, nbytes)}'>")
    if not ops:
        parts.append("<p>No timing results for this machine.</p>")
    parts.append(LOADED + "</body></html>")
    return "\n".join(parts)


def machines_plot(op: str, ms: list[Measurement]) -> str:
    """Base64 PNG: hakl's fraction of its own machine's copy bandwidth on every case each
    machine ran, one bar per (machine, device, dtype, case), coloured by machine."""
    plt = _pyplot()
    rows = sorted((m for m in ms if m.impl == "hakl" and m.frac_copy is not None),
                  key=lambda m: (m.machine, m.device, m.dtype, m.case))
    machines = list(dict.fromkeys(m.machine for m in rows))
    palette = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.22 * max(len(rows), 1)))
    for i, m in enumerate(rows):
        ax.barh(i, m.frac_copy, color=palette(machines.index(m.machine) % 10),
                label=m.machine if m.machine not in {r.machine for r in rows[:i]} else None)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{m.machine} {m.device} {m.dtype} {m.case}" for m in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_xlabel("hakl's GB/s as a fraction of the machine's copy bandwidth (same run)")
    ax.set_title(f"{op} on every machine", fontsize=10)
    if rows:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return png


def render_index(results: list[Result], target_list: list[tg.Target], sources: Sequence[str]) -> str:
    """The site's front page: every machine (its devices, newest run, targets met) and,
    per op, one plot across the machines."""
    ms = res.measurements(results)
    rows = []
    for machine in sorted({r.machine for r in results}):
        mine = [r for r in results if r.machine == machine]
        devices = sorted({(m.device, m.device_name or "", m.copy_gbps) for m in ms
                          if m.machine == machine and m.copy_gbps}, key=lambda d: d[0])
        seen: dict[str, str] = {}
        for device, name, copy in devices:  # one line per device: its first run's name and copy
            seen.setdefault(device, f"{device}: {name} ({copy:.0f} GB/s copy)")
        newest = max((r.date for r in mine), default=0.0)
        date = datetime.datetime.fromtimestamp(newest / 1e3, datetime.timezone.utc).date() if newest else "-"
        counts = defaultdict(int)
        for status in tg.evaluate(target_list, mine, machine):
            counts[status.status] += 1
        summary = ", ".join(f"{counts[k]} {k}" for k in (tg.MET, tg.MISSED, tg.PARTIAL, tg.UNMEASURED, tg.PENDING)
                            if counts[k])
        rows.append(f"<tr><td><a href='{_esc(machine)}/index.html'>{_esc(machine)}</a></td>"
                    f"<td>{'<br>'.join(_esc(v) for v in seen.values()) or '-'}</td><td>{_esc(date)}</td>"
                    f"<td>{_esc(summary) or '-'}</td>"
                    f"<td class=num>{len({m.op for m in ms if m.machine == machine})}</td></tr>")
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>hakl — all machines</title>"
             f"<style>{CSS}</style></head><body><h1>hakl benchmarks — all machines</h1>",
             f"<p class=note>Generated {datetime.datetime.now().isoformat(timespec='seconds')} from "
             f"{_esc(', '.join(sources))}. Each machine's page has its plots, tables, targets and history; "
             "below, each op on every machine as a fraction of that machine's copy bandwidth.</p>",
             "<table><tr><th>machine</th><th>devices</th><th>newest run</th><th>targets (release notes, parity)</th>"
             "<th>ops</th></tr>" + "".join(rows) + "</table>"]
    for op in sorted({m.op for m in ms}):
        parts.append(f"<h2 id='{_esc(op)}'>{_esc(op)}</h2>")
        parts.append(f"<img class=op-plot data-op='{_esc(op)}' alt='{_esc(op)}: fraction of copy per machine' "
                     f"src='data:image/png;base64,{machines_plot(op, [m for m in ms if m.op == op])}'>")
    parts.append(LOADED + "</body></html>")
    return "\n".join(parts)


def report(results_dirs: Sequence[Path] = (), records_dir: Path | None = None, out_dir: Path = Path("reports"),
           targets: list | None = None, snapshots: Path | None = None) -> list[Path]:
    """Write <out_dir>/<machine>/index.html for every machine found in the asv results
    dirs, the `hakl bench` records and the committed snapshots (<snapshots>/<machine>/raw/,
    see results.load_snapshots), and <out_dir>/index.html over all of them; returns the
    pages written, the index last (none when there are no results)."""
    results: list[Result] = []
    sources = []
    for d in results_dirs:
        if Path(d).exists():
            results.extend(res.load(Path(d)))
            sources.append(str(d))
    if records_dir is not None and Path(records_dir).exists():
        results.extend(res.load_records(Path(records_dir)))
        sources.append(str(records_dir))
    if snapshots is not None and Path(snapshots).is_dir():
        found = res.load_snapshots(Path(snapshots))
        if found:
            results.extend(found)
            sources.append(f"{snapshots}/*/raw")
    target_list = tg.load() if targets is None else targets
    pages = []
    for machine in sorted({r.machine for r in results}):
        page = Path(out_dir) / machine / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render(machine, [r for r in results if r.machine == machine], target_list, sources))
        pages.append(page)
    if pages:
        index = Path(out_dir) / "index.html"
        index.write_text(render_index(results, target_list, sources))
        pages.append(index)
    return pages
