"""matmul: NumPy's matmul semantics on every backend (1-D operands, broadcast batches —
more alternating axes than the kernels index too —, transposes, empty and K = 0), the
errors, the gradients' reductions over broadcast batch axes against the float64
formulas, the oneDNN primitive's strided and broadcast operands, and the GFLOP/s
columns of `hakl bench`. Every variant against the reference: tests/test_ops.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import hakl
from hakl import backends
from hakl.backends import onednn
from hakl.bench import Benchmark, Prepared, bench_row, case, peak_fractions
from hakl.kernels.matmul import bench as matmul_bench
from hakl.kernels.matmul import dtypes as matmul_dtypes
from hakl.op import Problem

from ..conftest import backend_params

DEVICES = backend_params()


def _op(x, transposed):
    return np.swapaxes(x, -1, -2) if transposed and x.ndim > 1 else x


def _close(got, a, b, ta=False, tb=False):
    want = np.matmul(_op(a.astype(np.float64), ta), _op(b.astype(np.float64), tb))
    k = a.shape[-2] if ta and a.ndim > 1 else a.shape[-1]
    assert got.shape == want.shape and got.dtype == a.dtype
    # each element's scale: the larger of the output's and its own terms |op(a)| @ |op(b)| (a
    # product of five terms of 1-2 that cancels to 0.013 is off by ulps of its terms)
    terms = np.matmul(_op(np.abs(a.astype(np.float64)), ta), _op(np.abs(b.astype(np.float64)), tb))
    scale = np.fmax(max(float(np.abs(want).max(initial=0.0)), 1e-30), terms)
    narrow = {"float16": 1e-3, "bfloat16": 8e-3}.get(a.dtype.name)  # one rounding of a float32 sum
    atol = (narrow or 8 * np.finfo(a.dtype).eps * math.sqrt(max(k, 1))) * scale
    off = np.abs(got.astype(np.float64) - want) > atol
    assert not off.any(), f"{int(off.sum())} elements off by up to {float(np.abs(got - want).max()):.3g}"


# (a's shape, b's shape, transpose_a, transpose_b)
SHAPES = [
    ((5,), (5,), False, False), ((5,), (3, 5), False, True), ((5, 3), (5,), True, False),
    ((2, 3, 5), (5,), False, False), ((5,), (4, 5, 3), False, False),
    ((4, 3, 5), (5, 6), False, False),  # a batched, b not: one (12, 5) @ (5, 6) product
    ((4, 5, 3), (6, 5), True, True), ((3, 5), (2, 4, 5, 6), False, False),
    ((2, 1, 3, 5), (4, 5, 6), False, False), ((2, 1, 3, 1, 3, 5), (1, 2, 1, 2, 4, 5), False, True),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_numpy_semantics(device, dtype, rng):
    backend = backends.get(device)
    if dtype not in matmul_dtypes(device) or dtype != "bfloat16" and np.dtype(dtype) not in backend.dtypes():
        pytest.skip(f"{device} has no {dtype}")
    for sa, sb, ta, tb in SHAPES:
        a, b = (rng.standard_normal(s).astype(dtype) for s in (sa, sb))
        got = hakl.to_numpy(hakl.matmul(backend.asarray(a), backend.asarray(b), transpose_a=ta, transpose_b=tb))
        _close(got, a, b, ta, tb)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_operands_and_k_zero(device):
    backend = backends.get(device)
    for sa, sb, want in (((3, 0), (0, 4), "zeros"), ((2, 0, 5), (5, 4), "empty"), ((0, 3, 5), (5, 4), "empty"),
                         ((0,), (0,), "zeros"), ((3, 5), (5, 0), "empty")):
        a, b = np.ones(sa, np.float32), np.ones(sb, np.float32)
        got = hakl.to_numpy(hakl.matmul(backend.asarray(a), backend.asarray(b)))
        np.testing.assert_array_equal(got, np.matmul(a, b))
        assert got.dtype == np.float32 and (got.size == 0) == (want == "empty")
        # Every product here is empty or has K = 0, so both gradients are zeros (a sum of none).
        dout = backend.asarray(np.ones(got.shape, np.float32))
        da, db = hakl.matmul_grad(backend.asarray(a), backend.asarray(b), dout)
        np.testing.assert_array_equal(hakl.to_numpy(da), np.zeros(sa, np.float32))
        np.testing.assert_array_equal(hakl.to_numpy(db), np.zeros(sb, np.float32))


@pytest.mark.parametrize("call, error, words", [
    (lambda: hakl.matmul(np.ones((3, 4)), np.ones((5, 2))), ValueError, r"^matmul: argument 'b' .* has 5 rows but 'a'"),
    (lambda: hakl.matmul(np.ones((3, 4)), np.ones((3, 2)), transpose_a=True, transpose_b=True), ValueError,
     r"^matmul: argument 'b' .*transpose_b=True\) has 2 rows"),
    (lambda: hakl.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 2))), ValueError,
     r"^matmul: the batch dimensions \(2,\) of 'a' and \(3,\) of 'b' do not broadcast"),
    (lambda: hakl.matmul(np.ones(()), np.ones(3)), ValueError,
     r"^matmul: argument 'a' must have at least 1 dimension"),
    (lambda: hakl.matmul(np.ones(3), np.ones(())), ValueError, r"^matmul: argument 'b' must have at least 1 dim"),
    (lambda: hakl.matmul(np.ones((2, 2), np.float32), np.ones((2, 2))), TypeError,
     r"^matmul: argument 'b' has dtype float64 but 'a' has float32"),
    (lambda: hakl.matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32)), TypeError,
     r"^matmul: argument 'a' must have a floating dtype"),
    (lambda: hakl.matmul(np.ones((2, 2)), np.ones((2, 2)), transpose_a=1), TypeError,
     r"^matmul: argument 'transpose_a' must be a bool"),
    (lambda: hakl.matmul_grad(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 3))), ValueError,
     r"^matmul_grad: argument 'dout' has shape \(2, 3\) but the result has \(2, 4\)"),
    (lambda: hakl.matmul_grad(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4), np.float32)), TypeError,
     r"^matmul_grad: argument 'dout' has dtype float32 but 'a' has float64"),
])
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


# (a's shape, b's shape, transpose_a, transpose_b): broadcast along a's, b's and both
# sides' axes, the Linear case (its weight's gradient is one product), and more merged
# axes than the kernels index.
GRAD_SHAPES = [((4, 3, 5), (5, 6), False, False), ((4, 3, 5), (6, 5), False, True),
               ((4, 5, 3), (5, 6), True, False), ((3, 5), (4, 5, 6), False, False),
               ((2, 1, 5, 3), (1, 4, 6, 5), True, True), ((5,), (2, 5, 3), False, False),
               ((2, 1, 3, 1, 3, 5), (1, 2, 1, 2, 5, 4), False, False)]


def _sum_to(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1), keepdims=True)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_sum_over_broadcast_batches(device, rng):
    backend = backends.get(device)
    if np.dtype("float64") not in backend.dtypes():
        pytest.skip(f"{device} has no float64")
    for sa, sb, ta, tb in GRAD_SHAPES:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        out = np.matmul(_op(a, ta), _op(b, tb))
        d = rng.standard_normal(out.shape)
        d2 = d.reshape(out.shape[:-1] + (1, out.shape[-1])) if a.ndim == 1 else d
        dopa = np.matmul(d2, np.swapaxes(_op(b, tb), -1, -2))
        dopb = np.matmul(np.swapaxes(_op(a2, ta), -1, -2), d2)
        want_a, want_b = _sum_to(_op(dopa, ta), a2.shape).reshape(sa), _sum_to(_op(dopb, tb), sb)
        da, db = hakl.matmul_grad(*(backend.asarray(x) for x in (a, b, d)), transpose_a=ta, transpose_b=tb)
        np.testing.assert_allclose(hakl.to_numpy(da), want_a, rtol=1e-12, atol=1e-12, err_msg=f"{sa} {sb}")
        np.testing.assert_allclose(hakl.to_numpy(db), want_b, rtol=1e-12, atol=1e-12, err_msg=f"{sa} {sb}")


def test_the_numpy_baseline_keeps_openblas_to_one_thread_above_its_threading_size(monkeypatch, rng):
    """OpenBLAS's own threads spin ~0.1 s after a product that woke them, on the cores the
    next kernels want (a digits MLP step: 18.5 ms against 0.5): the baseline runs products
    above OPENBLAS_THREADS_MNK on one thread and puts the count back; smaller ones, which
    OpenBLAS keeps serial itself, are left alone."""
    from hakl.backends import cpu
    from hakl.kernels.matmul import MATMUL, baseline
    from hakl.tuning import dispatch

    asked = []
    real = cpu.set_openblas_threads
    monkeypatch.setattr(baseline, "set_openblas_threads", lambda n: asked.append(n) or real(n))
    before = real(None)
    for m, n, k in ((64, 64, 128), (8, 8, 8)):
        a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        problem = Problem("matmul", "cpu", "float32", (m, n, k), (("batch", ""), ("ta", False), ("tb", False)))
        got = dispatch.force(MATMUL, problem, MATMUL.variant("cpu", "numpy")).launcher(a, b)
        np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert asked == [1, before] and real(None) == before  # the big one only, and restored


def test_bfloat16_gradients_sum_over_broadcast_batches_in_float32(rng):
    """bfloat16 on the CPU: a Linear's weight gradient (one product over every row) and a
    broadcast operand's (summed over its batch in float32, rounded once)."""
    bf16 = hakl.op.BFLOAT16
    for sa, sb in (((4, 3, 5), (5, 6)), ((3, 5), (2, 4, 5, 6))):
        a, b = (rng.standard_normal(s).astype(bf16) for s in (sa, sb))
        d = rng.standard_normal(np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])).astype(bf16)
        a64, b64, d64 = (x.astype(np.float64) for x in (a, b, d))
        da, db = hakl.matmul_grad(a, b, d)
        assert da.dtype == db.dtype == bf16 and da.shape == sa and db.shape == sb
        for got, want in ((da, _sum_to(np.matmul(d64, np.swapaxes(b64, -1, -2)), sa)),
                          (db, _sum_to(np.matmul(np.swapaxes(a64, -1, -2), d64), sb))):
            np.testing.assert_allclose(got.astype(np.float64), want, rtol=8e-3,
                                       atol=8e-3 * float(np.abs(want).max()), err_msg=f"{sa} {sb}")


@pytest.mark.skipif(not onednn.available(), reason=f"oneDNN: {onednn.unavailable_reason()}")
def test_onednn_matmul_reads_strided_operands_and_broadcasts(rng):
    lib = onednn.library()
    a = rng.standard_normal((3, 1, 5, 4)).astype(np.float32)  # stored (K=5, M=4): read as (4, 5)
    b = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    src = np.swapaxes(a, -1, -2)
    prim = lib.matmul(src.shape, b.shape, "float32", [s // 4 for s in src.strides])
    out = np.empty((3, 2, 4, 6), np.float32)
    prim.execute({onednn.ARG_SRC: a, onednn.ARG_WEIGHTS: b, onednn.ARG_DST: out})
    np.testing.assert_allclose(out, np.matmul(src, b), rtol=1e-5, atol=1e-5)
    assert lib.matmul(src.shape, b.shape, "float32", [s // 4 for s in src.strides]) is prim
    assert lib.matmul_supports("float32") and not lib.matmul_supports("bool")
    with pytest.raises(ValueError, match="one rank of at least 2"):
        lib.matmul((4, 5), (1, 5, 6), "float32")


def test_bench_reports_gflops_and_the_fraction_of_the_peak_case():
    small = Benchmark("matmul", "matmul", "matmul", (case(32, 64, 48, peak=True), case(8, 64, 48, transpose_b=True)),
                      dtypes=("float32",), inputs=matmul_bench._inputs, call=matmul_bench._call)
    rows, measured = [], []
    for c in small.cases:
        p = Prepared(small, "cpu", "float32", c.label, None, 1 << 12)
        m, k, n = c.shape
        assert p.flops() == 2 * m * n * k
        rows.append(bench_row(p, copy_bps=1e10, repeat=2))
        measured.append((small, "float32", c))
    peak_fractions(rows, measured)
    assert rows[0].frac_peak == 1.0 and rows[1].frac_peak == rows[1].gflops / rows[0].gflops
    assert all(r.gflops > 0 for r in rows)


def test_declared_benchmarks_mark_a_peak_per_device():
    (declared,) = matmul_bench.BENCHMARKS
    assert any(c.peak and not c.gpu_only for c in declared.cases)  # the CPU's: square 2048
    assert any(c.peak and c.gpu_only for c in declared.cases)
    assert declared.case("(64, 512, 2048) transpose_b=True").quick


def test_bfloat16_is_benchmarked_on_the_cpu_only_quick_at_its_peak_case():
    """The quick run adds one bfloat16 row, 2048^3, on the CPU; PoCL and GPUs have no
    bfloat16 matmul, so neither lists nor prepares one."""
    from hakl import bench

    cpu = [(dtype, c.label) for _, dtype, c in bench.cases("cpu", ["matmul"], quick=True)]
    assert ("bfloat16", "(2048, 2048, 2048)") in cpu and ("float32", "(2048, 2048, 2048)") not in cpu
    assert ("bfloat16", "(1024, 1024, 1024)") not in cpu
    assert not any(dtype == "bfloat16" for _, dtype, _ in bench.cases("opencl", ["matmul"]))
    from hakl.kernels import benchmarks

    for device in ("cpu", "opencl", "cuda"):  # the filter drops no other case (rnn's first input is its mode)
        declared_runs = {(b.op, d, c.label) for b in benchmarks() for d, c in b.runs(device == "cuda")}
        listed = {(b.op, d, c.label) for b, d, c in bench.cases(device)}
        assert {dtype for _, dtype, _ in declared_runs - listed} <= ({"bfloat16"} if device == "opencl" else set())
    (declared,) = matmul_bench.BENCHMARKS
    with pytest.raises(NotImplementedError, match="opencl"):
        bench.Prepared(declared, "opencl", "bfloat16", "(2048, 2048, 2048)", None, 1 << 10)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True)])
def test_opencl_vector_default_is_inside_its_space(dtype, ta, tb):
    """The untuned choice obeys the limit that keeps PoCL's build from crashing, and is one
    of the configurations the tuner would try (decided without a device)."""
    from hakl.kernels.matmul import opencl
    from hakl.op import Problem

    problem = Problem("matmul", "opencl", dtype, (64, 1024, 256), (("batch", ""), ("ta", ta), ("tb", tb)))
    variant = next(v for v in opencl.variants() if v.name == "vector")
    assert variant.supports(problem)
    assert variant.default_config(problem) in variant.configs(problem)


@pytest.mark.skipif(not onednn.available(), reason=f"oneDNN: {onednn.unavailable_reason()}")
def forcing(monkeypatch, variant_name):
    """dispatch.select gives matmul problems the CPU variant `variant_name` (forced), the rest as before."""
    from hakl.kernels.matmul import MATMUL
    from hakl.tuning import dispatch

    select = dispatch.select

    def forced(op, problem, *rest):
        return dispatch.force(op, problem, MATMUL.variant("cpu", variant_name)) if op is MATMUL else \
            select(op, problem, *rest)
    monkeypatch.setattr(dispatch, "select", forced)


@pytest.mark.parametrize("name", ("numpy", "onednn", "mkl"))
def test_gemm_serves_the_matmul_familys_choice_into_out(name, monkeypatch, rng):
    """matmul.cpu.gemm (the RNN's products) asks dispatch for the matmul key of its product
    and writes into the caller's buffer, transposes read in place, whichever variant serves."""
    from hakl.kernels.matmul import MATMUL
    from hakl.kernels.matmul import cpu as matmul_cpu
    from hakl.tuning import dispatch

    variant = MATMUL.variant("cpu", name)
    probe = Problem("matmul", "cpu", "float32", (96, 160, 128), (("batch", ""), ("ta", False), ("tb", True)))
    if not variant.supports(probe):
        pytest.skip(f"{name} does not serve float32 products here")
    a = rng.standard_normal((96, 128)).astype(np.float32)
    b = rng.standard_normal((160, 128)).astype(np.float32)
    with dispatch.capture() as seen:
        matmul_cpu.gemm(a, b, tb=True)
    assert seen == [(MATMUL, probe)]
    forcing(monkeypatch, name)
    for ta, tb, x, y in ((False, True, a, b), (True, False, a.T.copy(), b.T.copy()), (False, False, a, b.T.copy()),
                         (True, True, a.T.copy(), b)):
        out = np.full((96, 160), np.nan, np.float32)
        got = matmul_cpu.gemm(x, y, ta, tb, out=out)
        assert got is out
        np.testing.assert_allclose(out, a.astype(np.float64) @ b.T.astype(np.float64), rtol=1e-4, atol=1e-4)
    # views: strided operands and a transposed (Fortran-order) buffer
    want = a[:, ::2].astype(np.float64) @ b[:, ::2].T.astype(np.float64)
    np.testing.assert_allclose(matmul_cpu.gemm(a[:, ::2], b[:, ::2], tb=True), want, rtol=1e-4, atol=1e-4)
    out = np.empty((160, 96), np.float32).T
    assert matmul_cpu.gemm(a[:, ::2], b[:, ::2], tb=True, out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ("numpy", "onednn", "mkl"))
def test_one_launcher_serves_every_shape_of_its_bucket(name, rng):
    """Dispatch keeps one launcher per bucket: it must read M, N and K off its operands."""
    from hakl.kernels.matmul import MATMUL

    flags = (("batch", ""), ("ta", False), ("tb", True))
    problems = [Problem("matmul", "cpu", "float32", s, flags) for s in ((256, 192, 130), (250, 180, 129))]
    assert MATMUL.bucket(problems[0]) == MATMUL.bucket(problems[1])
    variant = MATMUL.variant("cpu", name)
    if not variant.supports(problems[0]):
        pytest.skip(f"{name} does not serve float32 products here")
    launch = variant.build(problems[0], variant.default_config(problems[0]))
    for m, n, k in (p.shape for p in problems):
        a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((n, k)).astype(np.float32)
        np.testing.assert_allclose(launch(a, b), a.astype(np.float64) @ b.T, rtol=1e-4, atol=1e-4)


def test_gemm_asked_for_a_variant_that_cannot_serve_takes_the_familys_choice(rng):
    """An RNN pass pinned to oneDNN still makes products oneDNN does not serve (below
    CALL_MIN_MNK, float64): those take the matmul family's own choice, verified."""
    from hakl.kernels.matmul import cpu as matmul_cpu

    for dtype in (np.float32, np.float64):
        a, b = rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
        np.testing.assert_allclose(matmul_cpu.gemm(a, b, tb=True, variant="onednn"), a @ b.T, rtol=1e-5)


def test_mkl_goes_first_on_intel_cpus_above_the_size_a_call_costs(monkeypatch):
    from hakl.backends import cpu, mkl
    from hakl.kernels.matmul import MATMUL
    from hakl.kernels.matmul import cpu as matmul_cpu
    from hakl.op import untuned_order

    if not mkl.available():
        pytest.skip(f"MKL: {mkl.unavailable_reason()}")
    variant = MATMUL.variant("cpu", "mkl")
    big, small = ((Problem("matmul", "cpu", "float32", s, (("batch", ""), ("ta", False), ("tb", False)))
                   for s in ((1024, 1024, 1024), (4, 8, 3))))
    baseline = untuned_order(MATMUL.variant("cpu", "numpy"), big)
    onednn_variant = MATMUL.variant("cpu", "onednn")
    for vendor, first in (("GenuineIntel", True), ("AuthenticAMD", False)):
        monkeypatch.setattr(cpu, "cpu_vendor", lambda v=vendor: v)
        assert matmul_cpu.mkl_first() is first
        assert (untuned_order(variant, big) < baseline) is first
        assert untuned_order(variant, small) > baseline  # ~14 us a call through ctypes: OpenBLAS's
        if not first and onednn_variant.supports(big):  # the baseline's OpenBLAS is one thread: oneDNN's threads
            assert untuned_order(onednn_variant, big) < baseline
    assert not variant.supports(Problem("matmul", "cpu", "float16", (64, 64, 64), (("batch", ""), ("ta", False),
                                                                                  ("tb", False))))
    assert not variant.supports(Problem("matmul", "cpu", "float32", (2, 64, 64, 64), (("batch", "b"), ("ta", False),
                                                                                     ("tb", False))))


def test_onednn_goes_first_only_on_avx512_hosts_whose_openblas_lacks_it(monkeypatch):
    from hakl.backends import cpu
    from hakl.kernels.matmul import cpu as matmul_cpu

    threadpoolctl = pytest.importorskip("threadpoolctl")

    def first(features, core):
        monkeypatch.setattr(cpu, "has_features", lambda *names: features)
        monkeypatch.setattr(threadpoolctl, "threadpool_info",
                            lambda: [{"internal_api": "openblas", "architecture": core}])
        matmul_cpu.onednn_first.cache_clear()
        try:
            return matmul_cpu.onednn_first()
        finally:
            matmul_cpu.onednn_first.cache_clear()

    if not (onednn.available() and onednn.library().matmul_supports("float32")):
        pytest.skip("oneDNN has no float32 matmul here")
    assert first(True, "Haswell") is True
    assert first(True, "SkylakeX") is False and first(True, "SapphireRapids") is False
    assert first(False, "Haswell") is False
