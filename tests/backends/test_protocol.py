"""What every backend promises its callers, checked on each available one."""
from __future__ import annotations

import numpy as np
import pytest

from hakl import backends

from ..conftest import backend_params


@pytest.mark.parametrize("name", backend_params())
@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 0, 2), (5, 7)])
def test_arrays_keep_their_shape_through_transfer_and_contiguous(name, shape):
    b = backends.get(name)
    host = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    dev = b.asarray(host)
    assert tuple(dev.shape) == shape
    assert tuple(b.ascontiguous(dev).shape) == shape
    back = b.to_numpy(dev)
    assert back.shape == shape and np.array_equal(back, host)
    assert tuple(b.empty(shape, np.float64).shape) == shape


@pytest.mark.parametrize("name", backend_params())
def test_ascontiguous_of_a_transposed_view(name):
    b = backends.get(name)
    host = np.arange(24, dtype=np.float32).reshape(4, 6)
    view = b.asarray(host).T
    out = b.ascontiguous(view)
    assert out.flags.c_contiguous
    assert np.array_equal(b.to_numpy(out), host.T)


@pytest.mark.parametrize("name", backend_params())
def test_asarray_converts_dtype(name):
    b = backends.get(name)
    dev = b.asarray([1.5, 2.5], dtype=np.float64)
    assert dev.dtype == np.float64 and b.to_numpy(dev).tolist() == [1.5, 2.5]


@pytest.mark.parametrize("brand, features, expected", [
    ("Intel(R) Xeon(R) Processor", {"avx2", "avx512f"}, "xeon-avx512-4core"),
    ("AMD EPYC 7B13 64-Core Processor", {"avx2"}, "epyc-avx2-4core"),
    ("Neoverse-V2", set(), "neoverse-aarch64-4core"),
])
def test_host_label_tells_cpus_with_the_same_core_count_apart(monkeypatch, brand, features, expected):
    from hakl.backends import cpu

    monkeypatch.setattr(cpu, "_cpu_name", lambda: brand)
    monkeypatch.setattr(cpu, "has_features", lambda *names: set(names) <= features)
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(cpu.platform, "machine", lambda: "aarch64")
    assert cpu.host_label() == expected


def test_the_cpu_fingerprint_names_no_path():
    """Tuned choices travel between checkouts (reports/<machine>/tuning.json): nothing in
    the fingerprint may depend on where a virtualenv lives."""
    fingerprint = backends.get("cpu").fingerprint()
    assert not any("/" in value for value in fingerprint.values()), fingerprint
