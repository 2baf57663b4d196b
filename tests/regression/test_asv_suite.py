"""The asv suite: `asv check` passes, every op family has a module, and the shared
machinery times, records and skips as the suite's docstring says."""
from __future__ import annotations

import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hakl.backends
import hakl.kernels
from hakl import bench
from hakl.tuning import dispatch

ASV_BENCH = Path(__file__).resolve().parents[2] / "asv_bench"
sys.path.insert(0, str(ASV_BENCH))
common = pytest.importorskip("benchmarks.common")
bench_softmax = pytest.importorskip("benchmarks.bench_softmax")


def test_asv_check_passes():
    asv = Path(sys.executable).with_name("asv")
    if not asv.exists():
        asv = shutil.which("asv")
        if asv is None:
            pytest.skip("asv is not installed (pip install 'hakl[bench]')")
    out = subprocess.run([str(asv), "check", "--python=same"], cwd=ASV_BENCH, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout


def test_every_op_family_has_a_benchmark_module():
    families = [m.name for m in pkgutil.iter_modules(hakl.kernels.__path__) if m.ispkg]
    assert "softmax" in families
    missing = [f for f in families if not (ASV_BENCH / "benchmarks" / f"bench_{f}.py").is_file()]
    assert not missing, f"add asv_bench/benchmarks/bench_<family>.py for {missing}"


@pytest.fixture
def gpu_suite(monkeypatch):
    """The softmax classes as a machine with a GPU lists them."""
    monkeypatch.setattr(common, "GPU", True)
    monkeypatch.setattr(common, "DEVICES", ("cpu", "opencl", "cuda"))
    return common.build_suite(bench_softmax.SOFTMAX, vars(bench_softmax))


def test_benchmark_names_carry_the_op(gpu_suite):
    assert {"time_softmax", "params", "param_names"} <= set(dir(bench_softmax.Softmax))
    assert bench_softmax.Softmax.param_names == ["device", "dtype", "shape", "impl"]
    assert hasattr(bench_softmax.SoftmaxGrad, "time_softmax_grad")
    timing, speedup = gpu_suite
    assert timing.params[:2] == [["cpu", "opencl", "cuda"], ["float32", "float16"]]
    assert "cupy" in timing.params[3]
    assert hasattr(speedup, "track_softmax_speedup") and speedup.unit == "x"


def test_quick_suite_lists_what_hakl_bench_quick_measures(monkeypatch):
    """HAKL_ASV_QUICK (make bench) keeps asv to `hakl bench --quick`'s dtype and cases."""
    monkeypatch.setattr(common, "QUICK", True)
    timing, _ = common.build_suite(bench_softmax.SOFTMAX, vars(bench_softmax))
    runs = bench_softmax.SOFTMAX.runs(common.GPU, quick=True)
    assert timing.params[1] == [runs[0][0]]
    assert timing.params[2] == [c.label for _, c in runs]
    monkeypatch.setattr(common, "QUICK", False)
    full, _ = common.build_suite(bench_softmax.SOFTMAX, vars(bench_softmax))
    assert set(timing.params[2]) < set(full.params[2])


def test_parameters_list_what_this_machine_can_run():
    assert "cpu" in common.DEVICES and set(common.DEVICES) <= {"cpu", "opencl", "cuda"}
    if not common.GPU:
        assert bench_softmax.SoftmaxSpeedup is None
        assert bench_softmax.Softmax.params[1] == ["float32"]


def test_case_labels_and_the_element_budget():
    c = bench.case(-1, 32, axis=-1)
    assert c.label == "(*, 32) axis=-1" and c.resolve(1 << 10) == (32, 32)
    assert bench.case(-1, parts=16, n=16, axis=0).resolve(1 << 10) == (64,)
    assert bench.case(-1).label == "(*,)"
    assert bench.case(15, 16, 33, 33, axis=-1).label == "(15, 16, 33, 33) axis=-1"


def test_every_family_module_binds_its_declared_benchmarks():
    """bench_<family>.py turns each of the family's declarations into its asv classes."""
    import importlib

    for benchmark in hakl.kernels.benchmarks():
        module = importlib.import_module(f"benchmarks.bench_{benchmark.module}")
        timing = getattr(module, common._class_name(benchmark.op))
        assert hasattr(timing, f"time_{benchmark.op}")
        assert timing.params[2] == [c.label for c in benchmark.cases if common.GPU or not c.gpu_only]


@pytest.fixture
def small(monkeypatch, tmp_path):
    monkeypatch.setenv("HAKL_BENCH_ELEMENTS", str(1 << 12))
    log = tmp_path / "dispatch.jsonl"
    monkeypatch.setenv("HAKL_ASV_DISPATCH_LOG", str(log))
    return log


def test_prepared_case_times_hakl_baseline_and_records_the_variant(small):
    bench = bench_softmax.Softmax()
    bench.setup({"cpu": 20e9}, "cpu", "float32", "(*, 32) axis=-1", "hakl")
    before = common.CLOCK()
    bench.time_softmax({}, "cpu", "float32", "(*, 32) axis=-1", "hakl")
    assert common.CLOCK() > before  # the device clock advanced by the call's time
    prepared = bench.prepared
    assert prepared.shape == (128, 32)
    (record,) = [json.loads(line) for line in small.read_text().splitlines()]
    launch = prepared.launches[0][0]
    assert record["variant"] == launch.selection.variant.name
    assert record["launches"][0]["baseline"] == "numpy"
    assert record["nbytes"] == 2 * 128 * 32 * 4 and record["copy_gbps"] == 20.0
    assert record["shape"] == "(*, 32) axis=-1" and record["input_shape"] == [128, 32]
    # replays compute what the public function computes
    x = prepared.sets[0][0]
    expected = hakl.softmax(x)
    np.testing.assert_allclose(prepared.launches[0][0].replay().reshape(x.shape), expected, rtol=1e-5)
    base = prepared.runner("baseline")()
    np.testing.assert_allclose(base[0].reshape(x.shape), expected, rtol=1e-5, atol=1e-7)
    assert prepared.speedup(repeat=3) > 0


def test_recording_restores_dispatch_after_an_error():
    real = dispatch.select
    with pytest.raises(ValueError):
        with bench.recording():
            hakl.softmax(np.ones((2, 3), np.float32), axis=5)
    assert dispatch.select is real


@pytest.mark.parametrize("device,dtype,impl,why", [
    ("cpu", "float16", "hakl", "GPUs only"),
    ("cpu", "float32", "cupy", "runs on cuda only"),
    ("cuda", "float32", "hakl", "cuda"),
])
def test_what_is_not_there_is_skipped(small, device, dtype, impl, why):
    if device == "cuda" and hakl.backends.get("cuda").available:
        pytest.skip("a GPU is here")
    bench = bench_softmax.Softmax()
    with pytest.raises(NotImplementedError, match=why):
        bench.setup({}, device, dtype, "(*, 32) axis=-1", impl)


def test_ops_not_built_yet_are_skipped(small):
    family = bench.Benchmark("nope", "nope", "nope", (bench.case(-1),))
    with pytest.raises(NotImplementedError, match="not built yet"):
        bench.Prepared(family, "cpu", "float32", "(*,)", None, 1 << 12)


def test_speedups_are_tracked_on_gpus_only(small, gpu_suite):
    with pytest.raises(NotImplementedError, match="tracked on GPUs"):
        gpu_suite[1]().setup({}, "cpu", "float32", "(*, 32) axis=-1")


def test_a_time_budget_cuts_the_repeats_of_slow_calls(small, monkeypatch):
    """`hakl bench` times each implementation in about a budget: a call that takes longer
    than the budget gets 3 repeats (its sizing call the warm-up), a quick one all of `repeat`."""
    p = bench.Prepared(bench_softmax.SOFTMAX, "cpu", "float32", "(*, 32) axis=-1", None, 1 << 12)
    asked = []
    timer = p.backend.time
    monkeypatch.setattr(p.backend, "time", lambda fn, warmup, repeat: asked.append((warmup, repeat)) or
                        timer(fn, warmup=warmup, repeat=repeat))
    p.seconds("hakl", repeat=10, budget=0.0)  # as if the first call took the whole budget
    p.seconds("hakl", repeat=10, budget=1e3)
    p.seconds("hakl", repeat=10)
    assert asked == [(0, 3), (1, 10), (2, 10)]
