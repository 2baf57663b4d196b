"""The `hakl` command end to end (CPU only, small shapes)."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from hakl.cli import app

runner = CliRunner()


def test_info_lists_backends_and_reasons():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert "cpu" in result.output and "available" in result.output
    assert "cuda" in result.output  # with its reason when unavailable
    assert "tuning database" in result.output


def test_tune_prints_candidates_and_records_a_choice(tmp_path):
    result = runner.invoke(app, ["tune", "softmax", "--device", "cpu", "--shape", "64x100", "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "chosen:" in result.output
    listed = runner.invoke(app, ["cache", "list"])
    assert "softmax" in listed.output
    out = tmp_path / "db.json"
    assert runner.invoke(app, ["cache", "export", str(out)]).exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["choices"][0]["op"] == "softmax" and doc["measurements"]
    assert runner.invoke(app, ["cache", "clear", "--yes"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["cache", "export"]).output)["choices"] == []


def test_tune_takes_the_problem_the_public_call_makes():
    from hakl.tuning import dispatch

    result = runner.invoke(app, ["tune", "cast", "--shape", "300x7", "--dtype", "int32", "-o", "to=float32",
                                 "--budget", "2"])
    assert result.exit_code == 0, result.output
    (choice,) = [c for c in dispatch.database().choices() if c["op"] == "cast"]
    assert choice["dtype"] == "int32" and "'to', 'float32'" in choice["flags"]
    result = runner.invoke(app, ["tune", "stack", "--shape", "64x5", "--axis", "1", "-o", "count=3", "--budget", "2"])
    assert result.exit_code == 0, result.output
    (choice,) = [c for c in dispatch.database().choices() if c["op"] == "stack"]
    assert choice["bucket"] == "64x4x8"  # (outer, inputs, inner) = (64, 3, 5), in powers of two


def test_tune_reports_bad_options_and_arguments():
    for args, message in [(["cast", "--shape", "4", "-o", "to"], "key=value"),
                          (["cumsum", "--shape", "4", "-o", "reverse=maybe"], "expected true or false"),
                          (["stack", "--shape", "4x4", "--axis", "5"], "out of range"),
                          (["cumsum", "--shape", "0x4"], "launches no kernel")]:
        result = runner.invoke(app, ["tune", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)


def test_tune_rejects_unknown_op():
    result = runner.invoke(app, ["tune", "nosuchop", "--shape", "4x4"])
    assert result.exit_code != 0 and "unknown op" in result.output


def test_check_runs_the_conformance_suite_on_cpu():
    # one family here: tests/test_ops.py runs the same check over every op
    result = runner.invoke(app, ["check", "--device", "cpu", "--op", "softmax", "--op", "softmax_grad"])
    assert result.exit_code == 0, result.output
    assert "softmax" in result.output and "ok" in result.output


def test_bench_quick_writes_records(tmp_path):
    result = runner.invoke(app, ["bench", "--quick", "--device", "cpu", "--op", "softmax_grad",
                                 "--records", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "dispatch overhead" in result.output
    (record,) = tmp_path.glob("*.json")
    doc = json.loads(record.read_text())
    assert doc["backend"] == "cpu" and doc["copy_gbps"] > 0
    row = doc["rows"][0]
    assert row["op"] == "softmax_grad" and row["gbps"] > 0 and 0 < row["frac_copy"]


def test_bench_tunes_the_keys_it_reaches_within_its_budget(tmp_path, monkeypatch):
    """make bench's one pass: each case's untuned keys are tuned, then timed as tuned."""
    from hakl import bench

    monkeypatch.setattr(bench, "ELEMENTS_QUICK_CPU", 1 << 12)
    args = ["bench", "--quick", "--device", "cpu", "--op", "cumsum", "--no-small-calls", "--records", str(tmp_path)]
    result = runner.invoke(app, [*args, "--tune-minutes", "5"])
    assert result.exit_code == 0, result.output
    assert "tuning keys (5 min): 2 tuned" in result.output
    (record,) = tmp_path.glob("*.json")
    assert {row["source"] for row in json.loads(record.read_text())["rows"]} == {"tuned"}
    again = runner.invoke(app, [*args, "--tune-minutes", "5"])
    assert "2 already tuned" in again.output


def test_tune_suite_tunes_the_declared_cases_and_says_so(monkeypatch):
    from hakl import bench

    monkeypatch.setattr(bench, "ELEMENTS_QUICK_CPU", 1 << 12)
    args = ["tune", "--suite", "--device", "cpu", "--only", "cumsum", "--quick", "--budget", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cumsum (*,) axis=0 float32" in result.output and "tuned" in result.output
    again = runner.invoke(app, args)
    assert "already tuned" in again.output
    wrong = runner.invoke(app, ["tune", "softmax", "--suite"])
    assert wrong.exit_code != 0 and "--suite" in wrong.output



def test_bench_prepares_the_cpu_cases_in_other_processes_first(tmp_path, monkeypatch):
    """Two spawned processes compile and verify cast's cases; the verdicts they store are
    what this process then serves on (HAKL_CACHE_DIR is inherited): it verifies nothing."""
    from hakl import bench
    from hakl.tuning import verify

    from hakl.tuning.db import TuningDB, cache_dir

    bench.prepare_in_processes("cpu", ["cast"], True, 1 << 12, 2)
    assert {row["op"] for row in TuningDB(cache_dir() / "tuning.sqlite").verdicts()} == {"cast"}

    def no_second_check(*args):
        raise AssertionError("verified again in the measuring process")

    with monkeypatch.context() as patch:
        patch.setattr(verify, "check", no_second_check)
        for benchmark, dtype, case in bench.cases("cpu", ["cast"], True):
            bench.Prepared(benchmark, "cpu", dtype, case.label, None, 1 << 12).launches
    monkeypatch.setenv("HAKL_BENCH_ELEMENTS", str(1 << 12))  # read in the spawned processes too
    args = ["bench", "--quick", "--device", "cpu", "--op", "cast", "--no-small-calls", "--records", str(tmp_path)]
    result = runner.invoke(app, [*args, "--prepare-processes", "2"])
    assert result.exit_code == 0, result.output
    assert "cases compiled and verified in 2 processes" in result.output
