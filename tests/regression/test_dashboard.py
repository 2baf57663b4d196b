"""The dashboard page and the release-note targets, from fixture results."""
from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

import hakl.kernels
from hakl.regression import report, results as res, targets as tg

from .synth import SUITE, write_record, write_suite

pytest.importorskip("matplotlib")

VOID = {"meta", "img", "br", "hr", "input", "link"}


class PageParser(HTMLParser):
    """Collects images and table rows, and checks that every tag is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.rows, self.errors = [], [], [], []
        self._row = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag not in VOID:
            self.stack.append(tag)
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def parse(path):
    p = PageParser()
    p.feed(path.read_text())
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


def test_page_is_valid_and_has_one_plot_per_op(tmp_path):
    results = write_suite(tmp_path / "results", seed=1)
    write_suite(results, seed=2, commit="b" * 40, date_ms=1_700_100_000_000, slow={("cast", "(*, 1024) axis=-1", "hakl"): 2})
    pages = report([results], tmp_path / "no-records", tmp_path / "out")
    assert pages == [tmp_path / "out" / "testbox" / "index.html", tmp_path / "out" / "index.html"]
    page = parse(pages[0])
    op_plots = [i for i in page.images if i.get("class") == "op-plot"]
    assert sorted(i["data-op"] for i in op_plots) == sorted(SUITE)
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # two commits: a history plot per op, and the planted slowdown among the changes
    assert sorted(i["data-op"] for i in page.images if i.get("class") == "history-plot") == sorted(SUITE)
    changes = [r for r in page.rows if r and r[0] == "regression"]
    assert len(changes) == 1 and "bench_cast.Cast.time_cast" in changes[0][2]
    # GB/s and the fraction of copy bandwidth from the dispatch log: 131072000 B in 10 ms
    softmax_rows = [r for r in page.rows if r[:3] == ["cpu", "float32", "(16384, 1000) axis=-1"]]
    assert any(cell.startswith("13.1 (66%)") for row in softmax_rows for cell in row)
    assert any("numba_rows" in row for row in softmax_rows)


def test_targets_table_statuses(tmp_path):
    results = write_suite(tmp_path / "results", seed=1, speedups=(4.0, 2.5))
    page = parse(report([results], None, tmp_path / "out")[0])
    status = {r[0]: r[6] for r in page.rows if r and r[0] in {t.id for t in tg.load()}}
    assert status["softmax-cuda-last-axis"] == tg.MISSED  # 2.5x on one shape < 3x
    assert status["rnn-cuda"] == tg.UNMEASURED and status["argsort-cuda-1d-forward"] == tg.UNMEASURED  # built
    assert status["dropout-cuda-fp32"] == tg.UNMEASURED  # built, but no cuda results here


def test_targets_from_speedups_and_records(tmp_path):
    results = res.load(write_suite(tmp_path / "results", seed=1, speedups=(4.0, 3.5)))
    results += res.load_records(write_record(tmp_path / "records", speedup=5.0).parent)
    softmax = next(t for t in tg.load() if t.id == "softmax-cuda-last-axis")
    (status,) = tg.evaluate([softmax], results, "testbox")
    assert status.status == tg.PARTIAL  # every measured case meets 3x, most are not measured
    assert status.ratios[("float32", "(16384, 1000) axis=-1")] == (4.0, "track_speedup")
    # the record's (2097152, 32) case fits the (*, 32) bandwidth pattern
    assert status.ratios[("float16", "(*, 32) axis=-1")] == (5.0, "hakl bench")
    assert softmax.matches("(2097152, 32) axis=-1") == "(*, 32) axis=-1"
    assert softmax.matches("(2097152, 32) axis=0") is None


def test_time_ratio_is_the_fallback_speedup(tmp_path):
    results = res.load(write_suite(tmp_path / "results", seed=1, noise=0.0))
    ratios = tg.speedups(results)
    x, how = ratios[("testbox", "softmax", "cpu", "float32", "(*, 1024) axis=-1")]
    assert how == "time ratio" and x == pytest.approx(4.0)


def test_report_tolerates_bad_inputs(tmp_path):
    results = write_suite(tmp_path / "results", seed=1)
    (results / "testbox" / "ffffffff-bad.json").write_text('{"version": 2, "results": {"x": [1, 2')
    records = tmp_path / "records"
    write_record(records)
    (records / "truncated.json").write_text(json.dumps({"rows": [{"op": "softmax"}]}))
    (records / "other.json").write_text("[1, 2, 3]")
    with pytest.warns(res.ResultWarning):
        pages = report([results, tmp_path / "absent"], records, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in pages] == ["testbox/index.html", "index.html"]
    parse(pages[0])


def test_record_cases_join_the_asv_pattern_they_fit(tmp_path):
    results = res.load(write_suite(tmp_path / "results", seed=1))
    record = res.load_records(write_record(tmp_path / "records", device="cpu").parent)
    for r in record:  # the record measured the (*, 1024) case at its concrete size, in float32
        r.params = (("device", "cpu"), ("dtype", "float32"), ("shape", "(4096, 1024) axis=-1")) + r.params[3:]
    ms = res.measurements(results + record)
    cases = {(m.op, m.case, m.impl) for m in ms if m.op == "softmax"}
    assert ("softmax", "(4096, 1024) axis=-1", "hakl") not in cases
    assert ("softmax", "(*, 1024) axis=-1", "hakl") in cases  # asv's own, kept over the record's
    assert record[0].param("shape") == "(4096, 1024) axis=-1"  # the inputs are not modified


def test_targets_are_declared_once_and_fit_their_benchmarks():
    """A built family's targets are its benchmarks' Goals; each shape names a declared
    case, and a pending target leaves PENDING once its op is built."""
    from hakl.kernels import benchmarks

    targets = tg.load()
    assert len({t.id for t in targets}) == len(targets)
    for t in tg.PENDING_TARGETS:
        assert not tg.is_built(t), f"{t.op} is built: move {t.id} into hakl/kernels/{t.module}/bench.py"
    labels = {b.op: {c.label for c in b.cases} for b in benchmarks()}
    for t in targets:
        if t not in tg.PENDING_TARGETS:
            assert set(t.shapes) <= labels[t.op], f"{t.id}: {set(t.shapes) - labels[t.op]} are not cases of {t.op}"


def _snapshot(root, machine, device, speedup, asv_seed=None):
    """A committed snapshot as reports/<machine>/raw/ holds it: a record, maybe asv results."""
    write_record(root / machine / "raw", machine="named-by-the-run", device=device, speedup=speedup)
    if asv_seed is not None:
        write_suite(root / machine / "raw" / "asv-results", machine=machine, seed=asv_seed)


def test_index_covers_every_machine_under_the_snapshots(tmp_path):
    snapshots = tmp_path / "reports"
    _snapshot(snapshots, "gpu-box", "cuda", 5.0)
    _snapshot(snapshots, "cpu-box", "cpu", 2.0, asv_seed=1)
    pages = report([], None, tmp_path / "site", snapshots=snapshots)
    names = [p.relative_to(tmp_path / "site").as_posix() for p in pages]
    assert names == ["cpu-box/index.html", "gpu-box/index.html", "index.html"]  # the folder names the machine
    index = parse(pages[-1])
    machines = {r[0]: r for r in index.rows if r and r[0] in ("cpu-box", "gpu-box")}
    assert set(machines) == {"cpu-box", "gpu-box"}
    assert "cuda: Test GPU (2800 GB/s copy)" in machines["gpu-box"][1]
    assert any("met" in cell or "partial" in cell for cell in machines["gpu-box"])
    ops = {m.op for m in res.measurements(res.load_snapshots(snapshots))}
    assert sorted(i["data-op"] for i in index.images if i.get("class") == "op-plot") == sorted(ops)
    assert "gpu-box/index.html" in pages[-1].read_text()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser`, which `make bench` runs, installs it)")
def test_the_committed_site_loads_in_a_headless_browser(tmp_path):
    """The site `hakl report` builds from the committed reports/ snapshots: every page
    loads without a script error and every plot decodes (the pages count them on load)."""
    from hakl.regression import default_results_dir

    snapshots = default_results_dir().parents[1] / "reports"
    pages = report([], None, tmp_path / "site", snapshots=snapshots)
    assert pages[-1] == tmp_path / "site" / "index.html"
    assert {p.parent.name for p in pages[:-1]} == {p.parent.name for p in snapshots.glob("*/raw")}
    for page in pages:
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                               "--v=0", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        plots = len(parse(page).images)
        assert plots > 0, page
        assert re.search(rf'data-plots-loaded="{plots}"', done.stdout), (page, plots)
        errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
        assert not errors, errors


def test_every_family_owes_parity_with_its_cpu_peers(tmp_path):
    """Beside the release-note targets: hakl at or above torch and NumPy on the CPU, and
    OpenCL kernels at or above their baseline, at every benchmark shape (issue 16)."""
    targets = {t.id: t for t in tg.load()}
    for b in hakl.kernels.benchmarks():
        assert f"{b.op}-opencl-vs-baseline" in targets
        for peer in b.peers:
            assert (f"{b.op}-cpu-vs-{peer}" in targets) == (peer != "cupy")
    vs_torch = targets["softmax-cpu-vs-torch"]
    assert vs_torch.against == "torch" and vs_torch.ratio == 1.0 and vs_torch.matches("(2097152, 32) axis=-1")
    # a float16 record where hakl takes 1e-4 s and torch 2e-4 s: 2x torch on the one case measured
    results = res.load_records(write_record(tmp_path / "records", device="cpu").parent)
    half = dataclasses.replace(vs_torch, dtypes=("float16",))
    (status,) = tg.evaluate([half], results, "testbox")
    assert status.status == tg.PARTIAL and status.ratios == {("float16", "(*, 32) axis=-1"): (2.0, "hakl bench")}
    (status,) = tg.evaluate([dataclasses.replace(half, ratio=3.0)], results, "testbox")
    assert status.status == tg.MISSED and status.worst == pytest.approx(2.0)
