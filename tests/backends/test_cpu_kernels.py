"""numba kernels with a serial twin: small calls stay on the calling thread (no parallel
region to wait on when the machine is busy), large ones run in parallel, both right."""
from __future__ import annotations

import numpy as np
import pytest

from hakl.backends import cpu_kernels
from hakl.conformance import check_variant
from hakl.kernels.cumsum import CUMSUM
from hakl.kernels.dropout import DROPOUT
from hakl.kernels.softmax import SOFTMAX, SOFTMAX_GRAD
from hakl.kernels.softmax import cpu as softmax_cpu
from hakl.kernels.stack import STACK


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


@pytest.mark.parametrize("op", [SOFTMAX, SOFTMAX_GRAD, CUMSUM, DROPOUT, STACK], ids=lambda op: op.name)
@pytest.mark.parametrize("threshold", [0, 1 << 62], ids=["always_parallel", "always_serial"])
def test_both_builds_match_the_reference(op, threshold, monkeypatch):
    monkeypatch.setattr(cpu_kernels, "_threshold", threshold)
    for variant in op.for_backend("cpu"):
        if not variant.baseline and variant.name != "onednn":  # the numba variants
            report = check_variant(op, variant, "float32", quick=True)
            assert report.checked and not report.failures, (variant.name, report.failures)
