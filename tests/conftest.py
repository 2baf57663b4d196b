"""Shared fixtures: one place owns the skips for optional hardware."""
from __future__ import annotations

import numpy as np
import pytest

from hakl import backends
from hakl.tuning import dispatch, verify
from hakl.tuning.db import TuningDB


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
