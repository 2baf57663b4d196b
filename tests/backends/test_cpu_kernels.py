"""numba kernels with a serial twin: small calls stay on the calling thread (no parallel
region to wait on when the machine is busy), large ones run in parallel, both right."""
from __future__ import annotations

import numba
import numpy as np
import pytest

from hakl.backends import cpu_kernels
from hakl.conformance import check_variant
from hakl.kernels.argsort import ARGSORT, ARGSORT_GRAD, SORT
from hakl.kernels.cross_entropy import CROSS_ENTROPY
from hakl.kernels.cumsum import CUMSUM
from hakl.kernels.dropout import DROPOUT, DROPOUT_GRAD
from hakl.kernels.softmax import SOFTMAX, SOFTMAX_GRAD
from hakl.kernels.softmax import cpu as softmax_cpu
from hakl.kernels.stack import STACK, UNSTACK


@pytest.mark.parallel_builds
def test_small_calls_run_the_serial_twin_large_ones_the_parallel_build(monkeypatch):
    kernel = softmax_cpu._forward_rows
    used = []
    monkeypatch.setattr(kernel, "parallel", lambda *a: used.append("parallel"))
    monkeypatch.setattr(kernel, "serial", lambda *a: used.append("serial"))
    limit = cpu_kernels.serial_below()
    for rows, n in ((4, 8), (2, limit)):
        x = np.ones((rows, n), np.float32)
        kernel(x, np.empty_like(x), False, False, 1)
    assert used == ["serial", "parallel"]
    assert limit == cpu_kernels.SERIAL_BELOW > 4 * 8


# One (op, dtype) per family whose numba variants run a ParallelKernel: the parallel build
# is the twin's source with its task loop run by numba's threads, so what it can get wrong
# (task bounds, per-task partials, 64-bit offsets) does not depend on the dtype, and each
# build costs seconds to compile (the CE row kernel: 18 s a dtype). The dtypes are the
# big_memory tests' (which run the parallel builds past 2^31 elements), so the two share
# their compiles; the rest of the suite runs every dtype through the serial twins.
BUILDS = [(SOFTMAX, "float32"), (SOFTMAX_GRAD, "float32"), (CUMSUM, "float16"), (DROPOUT, "float32"),
          (DROPOUT_GRAD, "float32"), (STACK, "int8"), (UNSTACK, "int8"), (CROSS_ENTROPY, "float16"),
          (ARGSORT, "int8"), (SORT, "int16"), (ARGSORT_GRAD, "float32")]
# The RNN's gates kernels run in parallel only beside MKL's or oneDNN's GEMMs (config "gemm"),
# which the conformance shapes' default (OpenBLAS) is not: that test forces each library.
ELSEWHERE = {"rnn": "tests/kernels/test_rnn.py::test_fused_cpu_kernels_through_each_gemm_match_the_reference"}


def test_every_parallel_kernel_family_runs_its_parallel_build_here():
    """A family that starts using ParallelKernel gets its parallel build checked here."""
    import hakl.kernels as families

    users = {op.name.split("_grad")[0] for op, _ in BUILDS} | set(ELSEWHERE)
    for module in vars(families).values():
        cpu = getattr(module, "cpu", None)
        if cpu is not None and any(isinstance(v, cpu_kernels.ParallelKernel) for v in vars(cpu).values()):
            assert any(name.startswith(module.__name__.rsplit(".", 1)[-1]) for name in users), module.__name__


@pytest.mark.parametrize("op, dtype", BUILDS, ids=[f"{op.name}-{dt}" for op, dt in BUILDS])
def test_the_parallel_builds_match_the_reference(op, dtype, monkeypatch):
    monkeypatch.setattr(cpu_kernels, "_threshold", 0)  # every call parallel
    checked = 0
    for variant in op.for_backend("cpu"):
        if not variant.baseline and variant.name != "onednn":  # the numba variants
            report = check_variant(op, variant, dtype, quick=True)
            assert not report.failures, (variant.name, report.failures)
            checked += report.checked  # 0 for a variant of other dtypes
    assert checked


def test_the_thread_pool_splits_a_few_tasks_and_aligns_element_ranges():
    """parallel_for (cast's pool, which elementwise, activation, reduction, layer_norm,
    embedding and the optimizers share): four tasks give each of two threads two (rounding
    the part to 64 once left all four on one thread: a (4096, 4096) axis-0 sum ran serially),
    and element ranges asked to align start on multiples of 64."""
    import threading

    import numba

    from hakl.backends.cpu_kernels import parallel_for

    threads = numba.get_num_threads()
    calls: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def record(lo, hi):
        with lock:
            calls.append((lo, hi, threading.current_thread().name))

    parallel_for(record, 4, 1)
    bounds = sorted((lo, hi) for lo, hi, _ in calls)
    parts = min(threads, 4)
    assert len(bounds) == parts and bounds[0][0] == 0 and bounds[-1][1] == 4
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    calls.clear()
    parallel_for(record, 1000, 100, align=64)
    starts = sorted(lo for lo, _, _ in calls)
    assert all(lo % 64 == 0 for lo in starts) and sorted(calls)[-1][1] == 1000


@numba.njit(nogil=True)
def _record_thread(out, lo, hi):
    for i in range(lo, hi):
        out[i] = numba.get_thread_id()


def test_a_numba_kernels_parts_run_on_numbas_threads_in_one_region():
    """parallel_for hands a numba kernel's parts to one parallel region (no pool thread
    to wake): each part on its own thread of numba's, every element once."""
    from hakl.backends.cpu_kernels import parallel_for

    out = np.full(1000, -1)
    parallel_for(_record_thread, out.size, 100, out, align=64)
    assert (out >= 0).all()
    changes = np.flatnonzero(np.diff(out)) + 1
    assert all(lo % 64 == 0 for lo in changes)  # one thread per aligned part
    assert len(np.unique(out)) == len(changes) + 1 == min(numba.get_num_threads(), 10)


def test_hakl_imported_first_has_openblas_threads_sleep_and_a_users_value_wins():
    """OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when NumPy loads it: hakl sets 4 (idle
    threads sleep at once, not spin ~0.1 s beside every OpenMP region) unless it is set."""
    import os
    import subprocess
    import sys

    code = "import hakl, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    run = lambda env: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                     check=True, timeout=120).stdout.strip()
    assert run(env) == "4"
    assert run({**env, "OPENBLAS_THREAD_TIMEOUT": "28"}) == "28"


def test_kernels_made_by_one_factory_keep_their_own_constants():
    """Two closures of one factory share a file, name and line, which is all a region
    driver's cache key would hold: parallel_for runs them on the pool instead."""
    from hakl.backends.cpu_kernels import parallel_for

    def make(value):
        @numba.njit(nogil=True)
        def fill(out, lo, hi):
            for i in range(lo, hi):
                out[i] = value
        return fill

    for value in (1.0, 2.0):
        out = np.zeros(1000)
        parallel_for(make(value), out.size, 100, out, align=64)
        assert (out == value).all()
