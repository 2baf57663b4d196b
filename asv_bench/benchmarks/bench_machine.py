"""What every other figure is read against: each device's copy bandwidth (the 100%
of the fraction-of-copy figures) and what hakl's dispatch adds to a call."""
from __future__ import annotations

import hakl
import hakl.backends
from hakl.bench import dispatch_overhead_us, framework_overhead_us

from .common import DEVICES, _Base


class CopyBandwidth(_Base):
    """Device-to-device copy, bytes read + written per second (from setup_cache)."""

    params = [list(DEVICES)]
    param_names = ["device"]
    unit = "GB/s"

    def setup(self, cache, device):
        if device not in cache:
            raise NotImplementedError(f"{device}: {hakl.backends.get(device).unavailable_reason}")

    def track_copy_gbps(self, cache, device):
        return cache[device] / 1e9


class DispatchOverhead(_Base):
    """Microseconds a cache-hit hakl.softmax call on a 4x8 input spends above the
    launcher it dispatches to (validation, key, lookup): a target of its own, measured
    as `hakl bench` measures it (hakl.bench.dispatch_overhead_us)."""

    params = [list(DEVICES)]
    param_names = ["device"]
    unit = "us"

    def setup(self, cache, device):
        backend = hakl.backends.get(device)
        if not backend.available:
            raise NotImplementedError(f"{device}: {backend.unavailable_reason}")

    def track_dispatch_overhead_us(self, cache, device):
        return dispatch_overhead_us(device)


class FrameworkOverhead(_Base):
    """Microseconds a taped `a + b` on two hakl.framework Tensors (4x8) spends above the
    hakl.add it calls (target: under 15 us on the 2-core CPU host)."""

    params = [list(DEVICES)]
    param_names = ["device"]
    unit = "us"

    def setup(self, cache, device):
        backend = hakl.backends.get(device)
        if not backend.available:
            raise NotImplementedError(f"{device}: {backend.unavailable_reason}")

    def track_framework_overhead_us(self, cache, device):
        return framework_overhead_us(device)
