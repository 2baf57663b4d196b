"""The tuning database, the tuner and dispatch, on a synthetic op with planted variants."""
from __future__ import annotations

import multiprocessing
import time
import warnings

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.op import FUNCTIONS, Op, Problem, Variant
from hakl.tuning import dispatch, tuner, verify
from hakl.tuning.db import NEAREST_OCTAVES, Choice, Key, TuningDB
from hakl.tuning.keys import key_for

from ..conftest import backend_params


def _double(problem, config):
    return lambda x: x * 2


def _wrong_but_fast(problem, config):
    return lambda x: x  # forgets to double: fast and wrong


def _slow_double(problem, config):
    def run(x):
        time.sleep(config["sleep"])
        return x * 2
    return run


def _broken(problem, config):
    raise RuntimeError("planted compile error")


def make_op(*variants: Variant) -> Op:
    op = Op(
        name="double_test",
        reference=lambda problem, x: x.astype(np.float64) * 2,
        sample=lambda problem, rng: (rng.standard_normal(problem.shape).astype(problem.dtype),),
        nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
        tolerances={"float32": (1e-6, 0.0), "float64": (1e-12, 0.0)},
    )
    op.add(*variants)
    return op


PROBLEM = Problem("double_test", "cpu", "float32", (64, 64))


def test_wrong_candidate_is_rejected_and_never_chosen():
    op = make_op(Variant("wrong", "cpu", _wrong_but_fast),
                 Variant("slow", "cpu", _slow_double, space={"sleep": (0.002,)}, baseline=True))
    result = tuner.tune(op, PROBLEM, repeat=3)
    status = {m.variant: m for m in result.measurements}
    assert status["wrong"].status == "rejected" and "elements off" in status["wrong"].error
    assert result.choice.variant == "slow"
    rows = list(dispatch.database().measurements())
    assert {r["variant"]: r["status"] for r in rows} == {"wrong": "rejected", "slow": "ok"}


def test_fastest_verified_config_wins_and_is_dispatched():
    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.004, 0.0)}, baseline=True))
    result = tuner.tune(op, PROBLEM, repeat=3)
    assert result.choice.config == {"sleep": 0.0}
    assert len(list(dispatch.database().measurements())) == 2
    chosen = dispatch.select(op, PROBLEM)
    assert chosen.source == "tuned" and chosen.config == {"sleep": 0.0}


def test_run_time_params_share_one_selection():
    """A new seed (a run-time param, not in the tuning key) on every call is the same
    selection, found without bucketing the shape again or adding an entry each call."""
    op = make_op(Variant("seeded", "cpu", lambda problem, config: lambda x, seed: x * 2, baseline=True))
    first = dispatch.select(op, Problem("double_test", "cpu", "float32", (64, 64), params=(("seed", 0),)))
    entries = len(dispatch._exact)
    for seed in range(1, 50):
        again = dispatch.select(op, Problem("double_test", "cpu", "float32", (64, 64), params=(("seed", seed),)))
        assert again is first
    assert len(dispatch._exact) == entries
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (64, 65), params=(("seed", 0),))) is not first


def test_build_failure_warns_and_falls_back():
    op = make_op(Variant("broken", "cpu", _broken), Variant("double", "cpu", _double, baseline=True))
    with pytest.warns(RuntimeWarning, match="broken .* failed to build.*planted compile error"):
        chosen = dispatch.select(op, PROBLEM)
    assert chosen.variant.name == "double" and chosen.source == "fallback"
    result = tuner.tune(op, PROBLEM, repeat=2)
    assert {m.variant: m.status for m in result.measurements} == {"broken": "failed", "double": "ok"}


def test_heuristic_follows_rank_then_declared_order_baseline_last():
    def named(name):
        return lambda problem, config: (lambda x: x * 2 if name else x)
    base = Variant("base", "cpu", named("base"), baseline=True, rank=lambda p: -5)
    first = Variant("first", "cpu", named("first"))
    second = Variant("second", "cpu", named("second"), rank=lambda p: 0 if p.shape[0] > 100 else 1)
    op = make_op(base, first, second)
    assert dispatch.select(op, PROBLEM).variant is first
    op.variants[1] = Variant("first", "cpu", named("first"), rank=lambda p: 1)
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).variant is op.variants[1]  # ties keep the declared order
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (256, 64))).variant is second


def test_source_change_invalidates_the_entry(tmp_path):
    src = tmp_path / "kernel.src"
    src.write_text("version 1")
    fast = Variant("fast", "cpu", _double, sources=(src,))
    op = make_op(fast, Variant("slow", "cpu", _slow_double, space={"sleep": (0.003,)}, baseline=True))
    assert tuner.tune(op, PROBLEM, repeat=3).choice.variant == "fast"
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "tuned"
    src.write_text("version 2")
    fresh = Variant("fast", "cpu", _double, sources=(src,))  # a new process re-reads its source
    op.variants[0] = fresh
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "heuristic"


def test_fingerprint_change_misses(monkeypatch):
    op = make_op(Variant("double", "cpu", _double, baseline=True))
    tuner.tune(op, PROBLEM, repeat=2)
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "tuned"
    cpu = hakl.backends.get("cpu")
    monkeypatch.setattr(cpu, "_fp_hash", "another-machine")
    dispatch.clear_memo()
    # the same kind of machine (a library upgrade, another CPU model of the family): a sibling's choice
    assert dispatch.select(op, PROBLEM).source == "sibling 64x64"
    monkeypatch.setattr(cpu, "machine_kind", lambda: "another-kind")
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "heuristic"  # the only variant: the untuned choice


def test_autotune_on_first_use(monkeypatch):
    monkeypatch.setenv("HAKL_AUTOTUNE", "1")
    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.003, 0.0)}, baseline=True))
    chosen = dispatch.select(op, PROBLEM)
    assert chosen.source == "tuned" and chosen.config == {"sleep": 0.0}


def test_corrupt_database_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "tuning.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    db = TuningDB(path)
    with pytest.warns(RuntimeWarning, match="unreadable.*moved it to"):
        assert db.lookup(Key("a", "cpu", "f", "float32", "1", "()")) is None
    aside = list(tmp_path.glob("tuning.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    db.choose(Key("a", "cpu", "f", "float32", "1", "()"), Choice("v", {"k": 1}, "h", "0", 1.0))
    assert db.lookup(Key("a", "cpu", "f", "float32", "1", "()")).config == {"k": 1}


def test_truncated_database_is_moved_aside(tmp_path):
    path = tmp_path / "tuning.sqlite"
    db = TuningDB(path)
    for i in range(200):
        db.record(Key("a", "cpu", "f", "float32", str(i), "()"), (i,), "v", {}, "h", "0", 1.0, 1.0, "ok")
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    for extra in tmp_path.glob("tuning.sqlite-*"):
        extra.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db2 = TuningDB(path)
        db2.record(Key("b", "cpu", "f", "float32", "1", "()"), (1,), "v", {}, "h", "0", 1.0, 1.0, "ok")
        rows = list(db2.measurements())
    assert any("unreadable" in str(w.message) for w in caught)
    assert [r["op"] for r in rows] == ["b"]


def test_a_broken_database_never_stops_a_call(tmp_path):
    db = TuningDB(tmp_path / "t.sqlite")
    dispatch.set_database(db)
    db.conn.execute("DROP TABLE choices")  # a database that answers lookups with errors
    op = make_op(Variant("double", "cpu", _double, baseline=True))
    with pytest.warns(RuntimeWarning, match="lookup failed"):
        assert dispatch.select(op, PROBLEM).variant.name == "double"


def _tune_in_process(path: str, tag: int, n: int) -> None:
    db = TuningDB(path)
    for i in range(n):
        key = Key("op", "cpu", "fp", "float32", f"{tag}-{i}", "()")
        db.record(key, (i,), f"v{tag}", {"i": i}, "h", "0", 1e-3, 1.0, "ok")
        db.choose(key, Choice(f"v{tag}", {"i": i}, "h", "0", 1e-3))
    db.close()


def test_two_processes_tuning_at_once_both_land_their_rows(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    TuningDB(path).conn  # create the schema first, as the first process to open it would
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_tune_in_process, args=(path, tag, 150)) for tag in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    db = TuningDB(path)
    rows = list(db.measurements())
    assert len(rows) == 300
    assert {r["variant"] for r in rows} == {"v1", "v2"}
    assert sum(1 for _ in db.choices()) == 300


def test_compile_once_per_process():
    from hakl.backends.base import Backend

    class Counting(hakl.backends.cpu.CPUBackend):
        calls = 0

        def _compile(self, source, defines):
            Counting.calls += 1
            return (source, defines)

    b = Counting()
    assert b.compile("src", {"A": 1, "B": 2}) is b.compile("src", {"B": 2, "A": 1})
    b.compile("src", {"A": 2})
    assert Counting.calls == 2 and isinstance(b, Backend)


# ---- verification: the same in the tuner and in dispatch -----------------------------


def _nan_to_zero(problem, config):
    return lambda x: np.nan_to_num(x * 2, nan=0.0)  # right on random data, wrong on NaN


def make_op_with_specials(*variants: Variant) -> Op:
    """make_op whose conformance cases hold NaN and ±inf, as the real ops' do."""
    op = make_op(*variants)

    def cases(backend, dtype, rng, quick=False):
        x = rng.standard_normal((8, 16)).astype(dtype)
        x[1, 3], x[2, 5], x[3] = np.nan, np.inf, -np.inf
        yield Problem(op.name, backend, dtype, x.shape), (x,)
    op.cases = cases
    return op


def test_tuner_rejects_a_candidate_that_is_wrong_only_on_special_values():
    op = make_op_with_specials(Variant("nan_to_zero", "cpu", _nan_to_zero),
                               Variant("double", "cpu", _slow_double, space={"sleep": (0.001,)}, baseline=True))
    result = tuner.tune(op, PROBLEM, repeat=2)
    status = {m.variant: m for m in result.measurements}
    assert status["nan_to_zero"].status == "rejected" and "NaN pattern differs" in status["nan_to_zero"].error
    assert result.choice.variant == "double"
    verdicts = {v["variant"]: v["status"] for v in dispatch.database().verdicts()}
    assert verdicts == {"nan_to_zero": "rejected", "double": "ok"}


def test_heuristic_choice_is_verified_before_it_serves_and_the_verdict_is_stored():
    calls = []

    def counted(problem, config):
        inner = _nan_to_zero(problem, config)
        return lambda x: calls.append(x.shape) or inner(x)

    op = make_op_with_specials(Variant("nan_to_zero", "cpu", counted), Variant("double", "cpu", _double, baseline=True))
    with pytest.warns(RuntimeWarning, match="nan_to_zero .* gives wrong results .*NaN pattern differs"):
        chosen = dispatch.select(op, PROBLEM)
    assert chosen.variant.name == "double" and chosen.source == "fallback"
    (row,) = [v for v in dispatch.database().verdicts() if v["variant"] == "nan_to_zero"]
    assert row["status"] == "rejected" and "NaN" in row["error"] and row["seconds"] > 0
    # A new process on this device: the stored verdict decides, nothing runs again.
    seen = len(calls)
    dispatch.clear_memo()
    verify.forget()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert dispatch.select(op, PROBLEM).variant.name == "double"
    assert len(calls) == seen


def test_a_wrong_tuned_entry_is_verified_and_the_next_candidate_serves():
    op = make_op_with_specials(Variant("nan_to_zero", "cpu", _nan_to_zero), Variant("double", "cpu", _double, baseline=True))
    key = key_for(op, PROBLEM)
    wrong = op.variant("cpu", "nan_to_zero")
    dispatch.database().choose(key, Choice("nan_to_zero", {}, wrong.source_hash(), hakl.__version__, 1e-6))
    with pytest.warns(RuntimeWarning, match="nan_to_zero .* gives wrong results"):
        chosen = dispatch.select(op, PROBLEM)
    assert chosen.variant.name == "double"


def test_verification_shrinks_huge_problems():
    from hakl.tuning.verify import VERIFY_ELEMENTS, shrunk

    big = Problem("double_test", "cpu", "float32", (1 << 20, 3, 1 << 10))
    small = shrunk(big)
    assert small.size <= VERIFY_ELEMENTS and small.shape[1:] == big.shape[1:]
    assert shrunk(PROBLEM) == PROBLEM
    assert shrunk(Problem("x", "cpu", "float32", (1 << 31,))).shape == (VERIFY_ELEMENTS,)


# ---- freshness and reproducibility --------------------------------------------------

NUMBA_MODULE = '''
import numpy as np
from numba import njit


@njit(cache=True)
def _twice(x, out):
    for i in range(x.size):
        out.flat[i] = x.flat[i] * {factor}


def build(problem, config):
    def launch(x):
        out = np.empty_like(x)
        _twice(x, out)
        return out
    return launch
'''


def _load(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_editing_a_numba_kernel_invalidates_its_tuned_entry(tmp_path):
    """The variant declares no sources: its key hashes the module that builds it anyway."""
    path = tmp_path / "user_kernel.py"
    path.write_text(NUMBA_MODULE.format(factor=2))
    fast = Variant("numba_user", "cpu", _load(path, "user_kernel_v1").build)
    op = make_op(fast, Variant("slow", "cpu", _slow_double, space={"sleep": (0.003,)}, baseline=True))
    assert tuner.tune(op, PROBLEM, repeat=3).choice.variant == "numba_user"
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "tuned"
    path.write_text(NUMBA_MODULE.format(factor="2.0  # edited"))
    op.variants[0] = Variant("numba_user", "cpu", _load(path, "user_kernel_v2").build)  # a new process
    dispatch.clear_memo()
    assert dispatch.select(op, PROBLEM).source == "heuristic"


CANDIDATES = '''
import json
from hakl.op import Problem, Variant
from hakl.tuning import space
variant = Variant("big", "cpu", lambda p, c: None, space={"a": tuple(range(20)), "b": tuple(range(20))})
print(json.dumps(space.candidates(variant, Problem("op", "cpu", "float32", (4096, 1000)), budget=8)))
'''


def test_two_processes_tuning_the_same_key_try_the_same_candidates():
    import json
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", CANDIDATES], capture_output=True, text=True, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)})
            for seed in (1, 2)]
    first, second = (json.loads(r.stdout) for r in runs)
    assert first == second and len(first) == 8


def test_observers_see_every_select_and_may_wrap_the_launcher():
    op = make_op(Variant("double", "cpu", _double, baseline=True))
    seen = []

    def observer(op_, problem, selection):
        seen.append(problem)
        return selection
    with dispatch.observing(observer):
        dispatch.select(op, PROBLEM)
        with dispatch.capture() as captured:
            dispatch.select(op, PROBLEM)
    dispatch.select(op, PROBLEM)
    assert seen == [PROBLEM, PROBLEM] and captured == [(op, PROBLEM)]


def test_a_neighbour_bucket_takes_the_nearest_tuned_choice_once_verified():
    calls = []

    def counted(problem, config):
        return lambda x: calls.append(x.shape) or x * 2

    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.02,)}, baseline=True),
                 Variant("fast", "cpu", counted, rank=lambda p: 1))
    tuner.tune(op, Problem("double_test", "cpu", "float32", (4096, 1024)), repeat=3)
    tuner.tune(op, Problem("double_test", "cpu", "float32", (64, 8)), repeat=3)
    assert dispatch.database().lookup(key_for(op, PROBLEM)) is None
    verify.forget()
    calls.clear()
    chosen = dispatch.select(op, Problem("double_test", "cpu", "float32", (2048, 1000)))
    assert chosen.source == "nearest 4096x1024" and chosen.variant.name == "fast"
    assert calls, "the nearest bucket's choice is verified at this problem before it serves"
    (row,) = [v for v in dispatch.database().verdicts() if v["bucket"] == "2048x1024"]
    assert row["status"] == "ok" and row["variant"] == "fast"
    # another rank, or another dtype, has no neighbour: the heuristics serve
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (8, 8, 8))).source == "heuristic"
    assert dispatch.select(op, Problem("double_test", "cpu", "float64", (2048, 1000))).source == "heuristic"


def test_a_bucket_more_than_eight_octaves_away_is_not_a_neighbour():
    """A choice tuned for 4M elements says nothing of 32 (the regime differs: a library call's
    own cost against the whole small problem): past NEAREST_OCTAVES the heuristics serve."""
    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.0,)}, baseline=True),
                 Variant("fast", "cpu", _double, rank=lambda p: 1))
    tuner.tune(op, Problem("double_test", "cpu", "float32", (4096, 1024)), repeat=3)
    assert NEAREST_OCTAVES == 8
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (256, 64))).source == "nearest 4096x1024"
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (128, 64))).source == "heuristic"
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (4, 8))).source == "heuristic"


def test_a_stale_nearest_choice_is_ignored():
    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.0,)}, baseline=True),
                 Variant("fast", "cpu", _double))
    near = Problem("double_test", "cpu", "float32", (4096, 1024))
    dispatch.database().choose(key_for(op, near), Choice("fast", {}, "not-its-hash", hakl.__version__, 1e-6))
    assert dispatch.select(op, Problem("double_test", "cpu", "float32", (2048, 1000))).source == "heuristic"


def _sibling(op, problem, variant, kind, fingerprint="fp-sibling", source_hash=None):
    """A choice tuned on another device, `fingerprint`, described as of machine kind `kind`."""
    db = dispatch.database()
    key = key_for(op, problem)
    theirs = Key(key.op, key.backend, fingerprint, key.dtype, key.bucket, key.flags)
    db.choose(theirs, Choice(variant, {}, source_hash or op.variant("cpu", variant).source_hash(),
                             hakl.__version__, 1e-6))
    db.describe(fingerprint, "cpu", kind, {"device": "another CPU"})


def test_a_sibling_devices_choice_serves_where_this_device_has_none_once_verified():
    calls = []

    def counted(problem, config):
        return lambda x: calls.append(x.shape) or x * 2

    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.0,)}, baseline=True),
                 Variant("fast", "cpu", counted, rank=lambda p: 1), Variant("other", "cpu", _double, rank=lambda p: 2))
    kind = backends.get("cpu").machine_kind()
    _sibling(op, Problem("double_test", "cpu", "float32", (512, 256)), "fast", kind)
    _sibling(op, PROBLEM, "other", "epyc-avx2-64core", fingerprint="fp-stranger")  # another kind: never read
    calls.clear()
    verify.forget()
    chosen = dispatch.select(op, PROBLEM)
    assert (chosen.source, chosen.variant.name) == ("sibling 512x256", "fast")
    assert calls, "a sibling's choice is verified at this problem before it serves"
    # this device's own neighbour comes before any sibling's, even the sibling's own bucket
    tuner.tune(op, Problem("double_test", "cpu", "float32", (64, 128)), repeat=3)
    assert dispatch.select(op, PROBLEM).source == "nearest 64x128"
    # the tuner described this device, so its choices are siblings' on another of its kind
    (mine,) = [d for d in dispatch.database().devices() if d["fingerprint"] == key_for(op, PROBLEM).fingerprint]
    assert mine["kind"] == kind and mine["backend"] == "cpu"


def test_a_stale_sibling_choice_is_passed_over_for_a_current_one():
    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.0,)}, baseline=True),
                 Variant("fast", "cpu", _double, rank=lambda p: 1), Variant("other", "cpu", _double, rank=lambda p: 2))
    kind = backends.get("cpu").machine_kind()
    _sibling(op, PROBLEM, "fast", kind, source_hash="edited-since")
    assert dispatch.select(op, PROBLEM).source == "heuristic"
    _sibling(op, Problem("double_test", "cpu", "float32", (64, 256)), "other", kind, fingerprint="fp-second")
    dispatch.clear_memo()
    chosen = dispatch.select(op, PROBLEM)
    assert (chosen.source, chosen.variant.name) == ("sibling 64x256", "other")


def test_a_variant_ranked_after_the_baseline_serves_only_tuned():
    from hakl.op import AFTER_BASELINE

    op = make_op(Variant("slow", "cpu", _slow_double, space={"sleep": (0.0,)}, baseline=True),
                 Variant("behind", "cpu", _double, rank=lambda p: AFTER_BASELINE),
                 Variant("ahead", "cpu", _double, rank=lambda p: 5, supports=lambda p: p.shape[0] > 8))
    big, small = Problem("double_test", "cpu", "float32", (64, 8)), Problem("double_test", "cpu", "float32", (8, 8))
    assert dispatch.select(op, big).variant.name == "ahead"  # any rank below AFTER_BASELINE goes first
    chosen = dispatch.select(op, small)
    assert (chosen.variant.name, chosen.source) == ("slow", "heuristic")  # the baseline leads: not a fallback
    dispatch.database().choose(key_for(op, small), Choice("behind", {}, op.variant("cpu", "behind").source_hash(),
                                                          hakl.__version__, 1e-6))
    dispatch.clear_memo()
    assert dispatch.select(op, small).variant.name == "behind"  # tuned, it serves


@pytest.mark.parametrize("name", backend_params())
def test_rotating_inputs_are_separate_buffers_with_the_same_contents(name):
    from hakl.tuning import timing

    backend = backends.get(name)
    rng = np.random.default_rng(7)
    host = [rng.standard_normal((64, 33)).astype(np.float32), np.asfortranarray(rng.standard_normal((5, 3))),
            np.array(2.5), np.zeros((0, 4), np.int64), rng.integers(0, 2, 17).astype(np.bool_)]
    sets = timing.rotating_inputs(backend, host, max_copies=3)
    assert len(sets) == 3  # 3x the cache is far more than these bytes
    for arrays in sets:
        for h, d in zip(host, arrays):
            assert backend.to_numpy(d).shape == h.shape and backend.to_numpy(d).dtype == h.dtype
            np.testing.assert_array_equal(backend.to_numpy(d), h)
    if name == "cpu":
        assert all(s[1].flags.f_contiguous for s in sets)  # a Fortran-ordered input stays one
        assert len({s[0].ctypes.data for s in sets}) == 3
    backend.copy_into(sets[1][0], backend.asarray(np.zeros((64, 33), np.float32)))  # one copy written...
    np.testing.assert_array_equal(backend.to_numpy(sets[2][0]), host[0])  # ...leaves the others alone


@pytest.mark.parametrize("name", backend_params())
def test_a_repeated_call_is_served_by_its_plan_and_anything_that_differs_is_checked_again(name, monkeypatch,
                                                                                         tmp_path):
    backend = backends.get(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    hakl.softmax(backend.asarray(x))

    def no_select(*args, **kwargs):
        raise AssertionError("selected again")

    monkeypatch.setattr(dispatch, "select", no_select)
    y = rng.standard_normal((4, 8)).astype(np.float32)  # new data, the same call: the plan
    expected = np.exp(y - y.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(backend.to_numpy(hakl.softmax(backend.asarray(y))),
                               expected / expected.sum(axis=-1, keepdims=True), rtol=1e-5)
    with pytest.raises(TypeError, match="softmax.*'axis'"):  # True is not axis 1's plan
        hakl.softmax(backend.asarray(x), axis=True)
    with pytest.raises(TypeError, match="softmax.*'x'"):
        hakl.softmax(backend.asarray(x.astype(np.int32)))
    with pytest.raises(AssertionError, match="selected again"):  # another layout, same shape
        hakl.softmax(backend.asarray(np.ascontiguousarray(x.T)).T)
    with pytest.raises(AssertionError, match="selected again"):  # another database forgets the plans
        dispatch.set_database(TuningDB(tmp_path / "other.sqlite"))
        hakl.softmax(backend.asarray(x))


def test_an_options_type_counts_inside_a_tuple_too():
    x = np.ones((2, 3), np.float32)
    hakl.dropout(x, axis=(0, 1), seed=1)
    with pytest.raises(TypeError, match="dropout.*'axis'"):  # (0, True) == (0, 1), and hashes the same
        hakl.dropout(x, axis=(0, True), seed=1)


def test_observers_see_the_selects_of_calls_that_have_a_plan():
    x = np.ones((4, 8), np.float32)
    hakl.cumsum(x, axis=1)
    with dispatch.capture() as seen:
        hakl.cumsum(x, axis=1)
        hakl.cumsum(x, axis=1)
    assert [op.name for op, _ in seen] == ["cumsum", "cumsum"]


def _fresh(value):
    """value with every array in it (inside lists and tuples too) a new copy, and the copies."""
    if isinstance(value, np.ndarray):
        copy = np.array(value)
        return copy, [copy]
    if isinstance(value, (list, tuple)):
        pairs = [_fresh(v) for v in value]
        return type(value)(v for v, _ in pairs), [a for _, arrays in pairs for a in arrays]
    return value, []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_plan_keeps_none_of_its_first_calls_arrays(name):
    """The plans outlive the calls that made them (up to thousands of them): one that held its
    first call's logits or table would hold them for good."""
    import gc
    import weakref

    function = FUNCTIONS[name]
    sample = next(iter(function.samples(function.dtypes[0], np.random.default_rng(0))))
    args, arrays = _fresh(list(sample.args))
    refs = [weakref.ref(a) for a in arrays]
    del arrays
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        function.fn(*args, **sample.kwargs)
    del args
    gc.collect()
    assert refs and all(r() is None for r in refs), f"a plan of {name} keeps an input array alive"
