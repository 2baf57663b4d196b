"""What every other figure is read against: each device's copy bandwidth (the 100%
of the fraction-of-copy figures) and what hakl's dispatch adds to a call."""
from __future__ import annotations

import time

import numpy as np

import hakl
import hakl.backends

from .common import DEVICES, _Base, recording


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
    launcher it dispatches to (validation, key, lookup): a target of its own."""

    params = [list(DEVICES)]
    param_names = ["device"]
    unit = "us"

    def setup(self, cache, device):
        backend = hakl.backends.get(device)
        if not backend.available:
            raise NotImplementedError(f"{device}: {backend.unavailable_reason}")
        self.backend = backend
        self.x = backend.asarray(np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32))
        with recording() as seen:
            hakl.softmax(self.x)
        (self.launch,) = seen

    def _per_call(self, fn, calls: int = 1000) -> float:
        best = float("inf")
        for _ in range(5):
            self.backend.synchronize()
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            self.backend.synchronize()
            best = min(best, (time.perf_counter() - t0) / calls)
        return best

    def track_dispatch_overhead_us(self, cache, device):
        x, launch = self.x, self.launch
        return max(self._per_call(lambda: hakl.softmax(x)) - self._per_call(launch.replay), 0.0) * 1e6
