"""Shared fixtures: one place owns the skips for optional hardware."""
from __future__ import annotations

import os

import numpy as np
import pytest

# The suite runs the serial twin of every parallel CPU kernel (cpu_kernels.ParallelKernel);
# tests marked parallel_builds or big_memory, and tests/backends/test_cpu_kernels.py, run the
# parallel builds. Measured on a clean clone (2-core EPYC): numba's parfor builds were 331 of
# the suite's 638 CPU-seconds of compiling, for the same source as the twins. Set before
# hakl is imported, and inherited by the CLI and Ray worker processes the tests start.
ALWAYS_SERIAL = 1 << 62
os.environ.setdefault("HAKL_CPU_SERIAL_BELOW", str(ALWAYS_SERIAL))

from hakl import backends  # noqa: E402
from hakl.backends import cpu_kernels  # noqa: E402
from hakl.tuning import dispatch, verify  # noqa: E402
from hakl.tuning.db import TuningDB  # noqa: E402


def free_memory() -> int:
    """Bytes of memory free now (0 where the system does not say): what big_memory tests skip on."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0


def backend_params(names=("cpu", "cuda", "opencl")):
    """pytest params for backends; unavailable ones skip with the backend's reason."""
    params = []
    for name in names:
        b = backends.get(name)
        marks = [] if b.available else [pytest.mark.skip(reason=f"{name}: {b.unavailable_reason}")]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def variant_params(op, dtypes=None):
    """(op, variant, dtype) params for every variant of `op` over `dtypes` (default: what the
    op's declaration has the conformance test run), skipping unavailable backends and the
    dtypes outside the op's domain on a backend."""
    params = []
    for v in op.variants:
        b = backends.get(v.backend)
        for dt in dtypes or op.test_dtypes(v.backend):
            marks = []
            if not b.available:
                marks = [pytest.mark.skip(reason=f"{v.backend}: {b.unavailable_reason}")]
            elif dt not in op.dtypes(v.backend):
                marks = [pytest.mark.skip(reason=f"{op.name} takes no {dt} on {v.backend}")]
            params.append(pytest.param(op, v, dt, marks=marks, id=f"{op.name}-{v.backend}-{v.name}-{dt}"))
    return params


@pytest.fixture(autouse=True)
def isolated_tuning_db(tmp_path, monkeypatch):
    """Each test gets its own empty tuning database and no autotuning."""
    monkeypatch.setenv("HAKL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HAKL_AUTOTUNE", raising=False)
    dispatch.set_database(TuningDB(tmp_path / "cache" / "tuning.sqlite"))
    verify.forget()  # synthetic test ops reuse names: no verdict carries over between tests
    yield
    dispatch.set_database(None)


@pytest.fixture(autouse=True)
def cpu_kernel_builds(request, monkeypatch):
    """The serial twins, or for parallel_builds / big_memory tests the production threshold
    (the parallel build above it; past 2^31 elements its 64-bit task offsets)."""
    node = request.node
    production = node.get_closest_marker("parallel_builds") or node.get_closest_marker("big_memory")
    monkeypatch.setattr(cpu_kernels, "_threshold", cpu_kernels.SERIAL_BELOW if production else ALWAYS_SERIAL)


@pytest.fixture
def rng():
    return np.random.default_rng()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Tests marked big_memory share one xdist group (`--dist loadgroup`): one worker runs them
    in turn, so two multi-GiB allocations never meet on a 24 GiB machine."""
    for item in items:
        if item.get_closest_marker("big_memory"):
            item.add_marker(pytest.mark.xdist_group("big_memory"))
