"""Custom operators from outside the library (hakl.custom): user variants of built-in ops and
user ops are verified, tuned, dispatched and checked exactly like built-in ones."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from numba import njit, prange
from typer.testing import CliRunner

import hakl
from hakl import backends, custom
from hakl.cli import app
from hakl.conformance import check_variant
from hakl.op import OPS, Op, Problem, Variant
from hakl.tuning import dispatch, tuner

from .conftest import backend_params

SOFTMAX = OPS["softmax"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def restore_registry():
    """Whatever a test registers is gone afterwards: the ops and each op's variant list as before."""
    ops = dict(OPS)
    variants = {name: list(op.variants) for name, op in ops.items()}
    modules = set(sys.modules)
    yield
    OPS.clear()
    OPS.update(ops)
    for name, op in ops.items():
        op.variants[:] = variants[name]
    for name in set(sys.modules) - modules:
        if name.startswith("hakl_test_plugin"):
            del sys.modules[name]
    dispatch.clear_memo()


def _selected(problem_op: str):
    """An observer that records the variant every select() of `problem_op` serves."""
    served = []

    def note(op, problem, selection):
        if op.name == problem_op:
            served.append(selection)
        return selection

    return served, dispatch.observing(note)


# ---------------------------------------------------------------------------
# user variants of softmax on the CPU
# ---------------------------------------------------------------------------


def _nan_blind_softmax(problem: Problem, config: dict):
    """Planted wrong: fmax/nansum skip NaN, so a row holding a NaN is not all NaN (right on
    random data; only the special-value cases catch it)."""
    log = problem.flag("log")

    def launch(x):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            shifted = x - np.fmax.reduce(x, axis=1, keepdims=True)
            s = np.nansum(np.exp(shifted), axis=1, keepdims=True)
            return (shifted - np.log(s)) if log else np.exp(shifted) / s

    return launch


def _singleton_axis_softmax(problem: Problem, config: dict):
    """softmax over an axis of extent 1: 1 (log_softmax: 0) where x is finite, NaN for NaN and
    ±inf, as in the reference; one pass instead of max, exp, sum and divide."""
    log = problem.flag("log")

    def launch(x):
        with np.errstate(invalid="ignore"):
            y = np.subtract(x, x)
        if not log:
            y += 1
        return y

    return launch


def nan_blind() -> Variant:
    return Variant("nan_blind", "cpu", _nan_blind_softmax, supports=lambda p: p.dtype in ("float32", "float64"),
                   rank=lambda p: -1)


def singleton_axis() -> Variant:
    return Variant("singleton_axis", "cpu", _singleton_axis_softmax, supports=lambda p: p.shape[1] == 1)


def test_register_variant_appends_ranks_after_builtins_and_forgets_the_memo():
    problem = Problem("softmax", "cpu", "float32", (64, 1, 1), (("log", False),))
    before = dispatch.select(SOFTMAX, problem)
    assert not custom.is_user_variant(before.variant)
    registered = custom.register_variant("softmax", singleton_axis())
    assert SOFTMAX.variants[-1] is registered and custom.is_user_variant(registered)
    assert registered.rank(problem) == custom.USER_RANK
    # untuned, the built-in heuristic still serves (the user variant ranks after it)
    chosen = dispatch.select(SOFTMAX, problem)
    assert chosen.variant is before.variant and chosen.source == "heuristic"
    # preferred=True keeps the user's own rank: -1 goes before every built-in
    custom.unregister_variant("softmax", "cpu", "singleton_axis")
    assert registered not in SOFTMAX.variants
    preferred = custom.register_variant(
        "softmax", Variant("singleton_axis", "cpu", _singleton_axis_softmax,
                           supports=lambda p: p.shape[1] == 1, rank=lambda p: -1), preferred=True)
    chosen = dispatch.select(SOFTMAX, problem)  # the memo was cleared: the new variant competes
    assert chosen.variant is preferred and chosen.source == "heuristic"
    x = np.random.default_rng(0).standard_normal((64, 1)).astype(np.float32)
    served, observer = _selected("softmax")
    with observer:
        np.testing.assert_array_equal(hakl.softmax(x), np.ones_like(x))
    assert served[-1].variant is preferred


def test_register_variant_refuses_unknown_ops_duplicates_and_bad_variants():
    with pytest.raises(KeyError, match="register_variant: argument 'op_name': unknown op 'nosuchop'"):
        custom.register_variant("nosuchop", singleton_axis())
    with pytest.raises(ValueError, match="register_variant: argument 'variant': op 'softmax' already has a "
                                         "variant 'numpy' on cpu"):
        custom.register_variant("softmax", Variant("numpy", "cpu", _singleton_axis_softmax))
    with pytest.raises(ValueError, match="already has a baseline on cpu"):
        custom.register_variant("softmax", Variant("mine", "cpu", _singleton_axis_softmax, baseline=True))
    with pytest.raises(ValueError, match="names backend 'tpu'"):
        custom.register_variant("softmax", Variant("mine", "tpu", _singleton_axis_softmax))
    with pytest.raises(TypeError, match="argument 'variant' must be a hakl.op.Variant"):
        custom.register_variant("softmax", _singleton_axis_softmax)
    with pytest.raises(ValueError, match=r"space\['wg'\] must be a non-empty tuple"):
        custom.register_variant("softmax", Variant("mine", "cpu", _singleton_axis_softmax, space={"wg": ()}))
    built_at_a_prompt = eval("lambda problem, config: (lambda x: x)")  # no file to hash
    with pytest.raises(ValueError, match="cannot hash the code that builds it"):
        custom.register_variant("softmax", Variant("mine", "cpu", built_at_a_prompt))
    with pytest.raises(ValueError, match="built-in variants cannot be removed"):
        custom.unregister_variant("softmax", "cpu", "numpy")
    assert len(SOFTMAX.variants) == len({(v.backend, v.name) for v in SOFTMAX.variants})


def test_wrong_user_variant_is_rejected_by_dispatch_and_the_builtin_serves():
    custom.register_variant("softmax", nan_blind(), preferred=True)  # rank -1: tried first
    problem = Problem("softmax", "cpu", "float32", (33, 1000, 1), (("log", False),))
    with pytest.warns(RuntimeWarning, match="nan_blind .* gives wrong results on cpu .*NaN pattern differs"):
        chosen = dispatch.select(SOFTMAX, problem)
    assert not custom.is_user_variant(chosen.variant) and chosen.variant.name != "nan_blind"
    verdicts = {r["variant"]: r for r in dispatch.database().verdicts() if r["op"] == "softmax"}
    assert verdicts["nan_blind"]["status"] == "rejected" and "NaN" in verdicts["nan_blind"]["error"]
    assert verdicts[chosen.variant.name]["status"] == "ok"
    # the public call serves the built-in too, and gets NaN rows right
    x = np.random.default_rng(1).standard_normal((33, 1000)).astype(np.float32)
    x[3, 10] = np.nan
    y = hakl.softmax(x)
    assert np.isnan(y[3]).all() and np.isfinite(np.delete(y, 3, axis=0)).all()


def test_wrong_user_variant_is_rejected_by_the_tuner_and_never_dispatched():
    custom.register_variant("softmax", nan_blind(), preferred=True)
    problem = Problem("softmax", "cpu", "float32", (64, 32, 1), (("log", True),))
    result = tuner.tune(SOFTMAX, problem, budget=2, repeat=3)
    mine = [m for m in result.measurements if m.variant == "nan_blind"]
    assert mine and all(m.status == "rejected" and "NaN" in m.error for m in mine)
    assert result.choice is not None and result.choice.variant != "nan_blind"
    rows = [r for r in dispatch.database().measurements() if r["variant"] == "nan_blind"]
    assert rows and {r["status"] for r in rows} == {"rejected"}
    with warnings.catch_warnings(record=True) as caught:  # the stored rejection stands
        warnings.simplefilter("always")
        chosen = dispatch.select(SOFTMAX, problem)
    assert chosen.source == "tuned" and chosen.variant.name == result.choice.variant
    assert not [w for w in caught if "nan_blind" in str(w.message)]  # the tuned built-in serves at once
    dispatch.clear_memo()
    dispatch.database().clear()  # no tuned choice: the heuristic order tries nan_blind first
    with pytest.warns(RuntimeWarning, match="nan_blind .* gives wrong results"):
        assert dispatch.select(SOFTMAX, problem).variant.name != "nan_blind"


def test_faster_correct_user_variant_wins_the_tuning_and_is_served():
    mine = custom.register_variant("softmax", singleton_axis())
    assert check_variant(SOFTMAX, mine, "float32").ok  # every conformance case it supports
    problem = Problem("softmax", "cpu", "float32", (16384, 1, 1), (("log", False),))
    result = tuner.tune(SOFTMAX, problem, budget=2, repeat=5)
    status = {m.variant: m.status for m in result.measurements}
    assert status["singleton_axis"] == "ok" and len(status) > 1
    assert result.choice.variant == "singleton_axis", [(m.variant, m.seconds) for m in result.measurements]
    chosen = dispatch.select(SOFTMAX, problem)
    assert chosen.variant is mine and chosen.source == "tuned"
    x = np.random.default_rng(2).standard_normal((10000, 1)).astype(np.float32)  # same bucket
    x[5] = np.inf
    served, observer = _selected("softmax")
    with observer:
        y = hakl.softmax(x, axis=1)
    assert served[-1].variant is mine and served[-1].source == "tuned"
    expected = np.ones_like(x)
    expected[5] = np.nan
    np.testing.assert_array_equal(y, expected)


def test_hakl_tune_sees_a_user_variant():
    custom.register_variant("softmax", singleton_axis())
    result = CliRunner().invoke(app, ["tune", "softmax", "--device", "cpu", "--shape", "16384x1", "--budget", "2"])
    assert result.exit_code == 0, result.output
    assert "singleton_axis" in result.output and "chosen: singleton_axis" in result.output


# ---------------------------------------------------------------------------
# a user op: leaky_relu with a run-time slope
# ---------------------------------------------------------------------------


def _lrelu_reference(problem: Problem, x: np.ndarray) -> np.ndarray:
    slope = dict(problem.params).get("slope", 0.01)
    x = x.astype(np.float64)
    return np.where(x >= 0, x, slope * x)


def _lrelu_sample(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.standard_normal(problem.shape).astype(problem.dtype),)


def _lrelu_special(problem: Problem, rng: np.random.Generator):
    x = rng.standard_normal(problem.shape).astype(problem.dtype)
    flat = x.reshape(-1)
    flat[:: 7] = np.nan
    flat[1:: 7] = np.inf
    flat[2:: 7] = -np.inf
    flat[3:: 7] = -0.0
    yield (x,)


def _lrelu_numpy(problem: Problem, config: dict):
    def launch(x, slope=0.01):
        return np.where(x >= 0, x, x * x.dtype.type(slope))

    return launch


@njit(parallel=True, cache=True)
def _lrelu_kernel(x, y, slope):
    for i in prange(x.size):
        v = x[i]
        y[i] = v if v >= 0 else v * slope


def _lrelu_numba(problem: Problem, config: dict):
    def launch(x, slope=0.01):
        y = np.empty_like(x)
        _lrelu_kernel(x.reshape(-1), y.reshape(-1), x.dtype.type(slope))
        return y

    return launch


def make_lrelu(name: str = "lrelu_test", variants: tuple = ()) -> Op:
    return Op(
        name=name,
        reference=_lrelu_reference,
        sample=_lrelu_sample,
        nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
        tolerances={"float32": (1e-6, 0.0), "float64": (1e-14, 0.0)},
        cases=custom.sample_cases(name, _lrelu_sample, [(1,), (7,), (1000,), (33, 65), (2, 3, 4097)],
                                  special=_lrelu_special),
        variants=list(variants) or [Variant("numpy", "cpu", _lrelu_numpy, baseline=True),
                                    Variant("numba", "cpu", _lrelu_numba,
                                            supports=lambda p: p.dtype in ("float32", "float64"))],
    )


def test_user_op_runs_through_call_is_verified_and_conforms():
    op = custom.register_op(make_lrelu())
    assert OPS["lrelu_test"] is op and custom.is_user_op("lrelu_test")
    x = np.random.default_rng(3).standard_normal((256, 100)).astype(np.float32)
    x[0, :3] = (np.nan, np.inf, -np.inf)
    served, observer = _selected("lrelu_test")
    with observer:
        y = custom.call("lrelu_test", x[:, ::2], params={"slope": 0.2})  # strided: made contiguous
    assert served[-1].variant.name == "numba" and served[-1].source == "heuristic"
    np.testing.assert_allclose(y, np.where(x[:, ::2] >= 0, x[:, ::2], np.float32(0.2) * x[:, ::2]), rtol=0)
    assert np.isnan(y[0, 0]) and y[0, 1] == -np.inf  # x[0, 0] and x[0, 2]
    verdicts = {r["variant"]: r["status"] for r in dispatch.database().verdicts() if r["op"] == "lrelu_test"}
    assert verdicts == {"numba": "ok"}
    for variant in op.variants:
        for dtype in ("float32", "float64"):
            report = check_variant(op, variant, dtype, quick=False)
            assert report.ok and report.checked == 10, report.failures  # 5 shapes, sample + special
        assert check_variant(op, variant, "float16").checked == 0  # no float16 tolerances: not defined
    with pytest.raises(TypeError, match="lrelu_test: no tolerances for float16"):
        custom.call("lrelu_test", x.astype(np.float16))
    result = tuner.tune(op, custom.problem_for("lrelu_test", "cpu", "float64", (4096,)), repeat=3)
    assert {m.variant: m.status for m in result.measurements} == {"numpy": "ok", "numba": "ok"}
    assert dispatch.select(op, custom.problem_for("lrelu_test", "cpu", np.float64, (3000,))).source == "tuned"
    if getattr(op, "example", None) is not None:  # what `hakl tune lrelu_test --shape 300x7` runs
        with dispatch.capture() as seen:
            op.example(np.ones((300, 7), np.float32), -1, {})
        assert seen[-1][1] == custom.problem_for("lrelu_test", "cpu", "float32", (300, 7))
    assert custom.unregister_op("lrelu_test") is op and "lrelu_test" not in OPS


def test_wrong_variant_of_a_user_op_is_rejected():
    def wrong(problem, config):
        return lambda x, slope=0.01: np.maximum(x, 0)  # plain relu: ignores the slope

    op = custom.register_op(make_lrelu())
    custom.register_variant("lrelu_test", Variant("relu", "cpu", wrong, rank=lambda p: -1), preferred=True)
    x = np.random.default_rng(4).standard_normal(1000).astype(np.float64)
    with pytest.warns(RuntimeWarning, match="relu .* gives wrong results"):
        y = custom.call("lrelu_test", x)
    np.testing.assert_allclose(y, np.where(x >= 0, x, 0.01 * x))
    assert not check_variant(op, op.variant("cpu", "relu"), "float64", quick=True).ok


def _masked_sample(problem: Problem, rng: np.random.Generator):
    return (rng.standard_normal(problem.shape).astype(problem.dtype),
            (rng.random(problem.shape) < 0.5).astype(np.uint8))


def _masked(problem: Problem, config: dict):
    return lambda x, mask: x * mask


def test_inputs_of_different_dtypes_key_the_problem_by_all_of_them():
    op = custom.register_op(Op(
        name="masked_test", reference=lambda p, x, m: x.astype(np.float64) * m, sample=_masked_sample,
        nbytes=lambda p: p.size * (p.np_dtype.itemsize * 2 + 1), tolerances={"float32": (0.0, 0.0)},
        cases=custom.sample_cases("masked_test", _masked_sample, [(5,), (64, 3)]),
        variants=[Variant("numpy", "cpu", _masked, baseline=True)]))
    x, mask = _masked_sample(Problem("masked_test", "cpu", "float32", (100,)), np.random.default_rng(6))
    seen = []
    with dispatch.observing(lambda o, problem, selection: seen.append(problem) or selection):
        np.testing.assert_array_equal(custom.call("masked_test", x, mask), x * mask)
    assert seen[-1].dtype == "float32" and seen[-1].input_dtypes == ("float32", "uint8")
    assert check_variant(op, op.variants[0], "float32").ok


def test_register_op_refuses_bad_ops():
    with pytest.raises(ValueError, match="register_op: argument 'op': 'softmax' is already registered"):
        custom.register_op(make_lrelu("softmax"))
    custom.register_op(make_lrelu())
    with pytest.raises(ValueError, match="'lrelu_test' is already registered \\(a user op\\)"):
        custom.register_op(make_lrelu())
    with pytest.raises(ValueError, match="needs exactly one baseline variant \\(baseline=True\\) on cpu, has 0"):
        custom.register_op(make_lrelu("lrelu2", (Variant("numba", "cpu", _lrelu_numba),)))
    no_cases = make_lrelu("lrelu3")
    no_cases.cases = Op.__dataclass_fields__["cases"].default
    with pytest.raises(ValueError, match="has no conformance cases.*sample_cases"):
        custom.register_op(no_cases)
    no_tolerances = make_lrelu("lrelu4")
    no_tolerances.tolerances = {}
    with pytest.raises(ValueError, match="needs tolerances"):
        custom.register_op(no_tolerances)
    with pytest.raises(ValueError, match="is a built-in op"):
        custom.unregister_op("softmax")
    with pytest.raises(KeyError, match="call: argument 'op_name': unknown op 'lrelu2'"):
        custom.call("lrelu2", np.ones(3))
    with pytest.raises(TypeError, match="lrelu_test: argument 'inputs\\[0\\]' must be a NumPy"):
        custom.call("lrelu_test", [1.0, 2.0])
    with pytest.raises(TypeError, match="lrelu_test: argument 'flags' must be a dict or"):
        custom.call("lrelu_test", np.ones(3), flags=42)
    assert {"lrelu2", "lrelu3", "lrelu4"}.isdisjoint(OPS)


# ---------------------------------------------------------------------------
# an OpenCL user variant: a source compiled through the backend
# ---------------------------------------------------------------------------

SOFTMAX_CL = """
__kernel void user_softmax_rows(__global const float *x, const long x_off, __global float *y,
                                const long n, const long rows) {
    const long r = get_global_id(0);
    if (r >= rows) return;
    __global const float *xr = x + x_off + r * n;
    __global float *yr = y + r * n;
    float m = -INFINITY;
    for (long i = 0; i < n; ++i) m = fmax(m, xr[i]);   /* NaN reaches y through the sum */
    float s = 0.0f;
    for (long i = 0; i < n; ++i) s += exp(xr[i] - m);
#if LOG
    const float ls = log(s);
    for (long i = 0; i < n; ++i) yr[i] = xr[i] - m - ls;
#else
    for (long i = 0; i < n; ++i) yr[i] = exp(xr[i] - m) / s;
#endif
}
"""


def _opencl_softmax_rows(problem: Problem, config: dict):
    backend = backends.get("opencl")
    kernel = backend.kernel(SOFTMAX_CL, "user_softmax_rows", {"LOG": int(bool(problem.flag("log")))})
    wg = config["WG"]

    def launch(x):
        rows, n = x.shape[0], x.shape[1]
        y = backend.empty(x.shape, x.dtype)
        kernel(backend.queue, (-(-rows // wg) * wg,), (wg,), x.base_data, np.int64(x.offset // x.dtype.itemsize),
               y.data, np.int64(n), np.int64(rows))
        return y

    return launch


@pytest.mark.parametrize("device", backend_params(("opencl",)))
def test_opencl_user_variant_compiles_through_the_backend_and_serves(device):
    mine = custom.register_variant("softmax", Variant(
        "user_rows", "opencl", _opencl_softmax_rows, space={"WG": (1, 16)},
        supports=lambda p: p.dtype == "float32" and p.shape[2] == 1, rank=lambda p: -1), preferred=True)
    assert check_variant(SOFTMAX, mine, "float32", quick=True).ok
    x = np.random.default_rng(5).standard_normal((33, 1000)).astype(np.float32)
    x[4, 7] = np.nan
    served, observer = _selected("softmax")
    with observer:
        y = hakl.to_numpy(hakl.log_softmax(hakl.asarray(x, device="opencl")))
    assert served[-1].variant is mine and served[-1].source == "heuristic"
    verdicts = {r["variant"]: r["status"] for r in dispatch.database().verdicts() if r["backend"] == "opencl"}
    assert verdicts == {"user_rows": "ok"}
    expected = x - x.max(axis=1, keepdims=True)
    expected = expected - np.log(np.exp(expected).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert np.isnan(y[4]).all()
    result = tuner.tune(SOFTMAX, Problem("softmax", device, "float32", (256, 64, 1), (("log", False),)),
                        budget=2, repeat=2)
    assert {m.config["WG"] for m in result.measurements if m.variant == "user_rows"} == {1, 16}
    assert all(m.status == "ok" for m in result.measurements if m.variant == "user_rows")


# ---------------------------------------------------------------------------
# plugins: HAKL_PLUGINS, `hakl check`
# ---------------------------------------------------------------------------

PLUGIN = '''
"""A hakl plugin: a user op and a user variant of softmax, registered on import."""
import numpy as np

import hakl.custom
from hakl.op import Op, Variant


def reference(problem, x):
    return np.abs(x.astype(np.float64)) * 2


def sample(problem, rng):
    return (rng.standard_normal(problem.shape).astype(problem.dtype),)


def twice_abs(problem, config):
    return lambda x: np.abs(x) * x.dtype.type(2)


def twice_abs_add(problem, config):
    return lambda x: np.abs(x + x)


def softmax(problem, config):
    log = problem.flag("log")

    def launch(x):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            shifted = x - x.max(axis=1, keepdims=True)
            s = np.exp(shifted).sum(axis=1, keepdims=True)
            return shifted - np.log(s) if log else np.exp(shifted) / s

    return launch


hakl.custom.register_op(Op(
    name="{name}", reference=reference, sample=sample, nbytes=lambda p: 2 * p.size * p.np_dtype.itemsize,
    tolerances={{"float32": (1e-6, 0.0), "float64": (1e-12, 0.0)}},
    cases=hakl.custom.sample_cases("{name}", sample, [(5,), (300, 7)]),
    variants=[Variant("numpy", "cpu", twice_abs, baseline=True), Variant("add", "cpu", twice_abs_add)]))
hakl.custom.register_variant("softmax", Variant("{variant}", "cpu", softmax,
                                                supports=lambda p: p.dtype in ("float32", "float64")))
'''


def _plugin(tmp_path: Path) -> tuple[str, str, str]:
    """A plugin module written to tmp_path: (module, op name, softmax variant name)."""
    tag = uuid.uuid4().hex[:6]
    module, name, variant = f"hakl_test_plugin_{tag}", f"abs2_{tag}", f"mine_{tag}"
    (tmp_path / f"{module}.py").write_text(PLUGIN.format(name=name, variant=variant))
    return module, name, variant


def test_load_plugins_imports_hakl_plugins_and_warns_on_a_broken_one(tmp_path, monkeypatch):
    module, name, variant = _plugin(tmp_path)
    (tmp_path / "hakl_test_plugin_broken.py").write_text("raise RuntimeError('planted plugin failure')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HAKL_PLUGINS", f" hakl_test_plugin_broken, {module},,hakl_test_plugin_missing_{name}")
    with pytest.warns(RuntimeWarning) as caught:
        loaded = custom.load_plugins()
    messages = [str(w.message) for w in caught]
    assert any("'hakl_test_plugin_broken'" in m and "planted plugin failure" in m for m in messages)
    assert any(f"'hakl_test_plugin_missing_{name}'" in m and "ModuleNotFoundError" in m for m in messages)
    assert [m.__name__ for m in loaded] == [module]
    assert custom.is_user_op(name) and SOFTMAX.variant("cpu", variant)
    np.testing.assert_array_equal(custom.call(name, np.array([-1.5, 2.0])), [3.0, 4.0])
    assert custom.load_plugins(f"{module},hakl_test_plugin_broken") == loaded  # a failed one warns once


def test_hakl_check_lists_a_plugin_op(tmp_path):
    module, name, variant = _plugin(tmp_path)
    env = dict(os.environ, HAKL_PLUGINS=module,
               PYTHONPATH=os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p))
    command = [sys.executable, "-m", "hakl", "check", "--device", "cpu", "--op", name, "--op", "softmax"]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if name in line]
    assert len(rows) == 4 and all("ok" in row for row in rows), done.stdout  # 2 variants x 2 dtypes
    mine = [line for line in done.stdout.splitlines() if variant in line]
    assert len(mine) == 2 and all("softmax" in row and "ok" in row for row in mine), done.stdout
    assert "could not import" not in done.stderr
