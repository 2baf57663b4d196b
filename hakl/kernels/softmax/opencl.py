"""softmax on opencl (variants to come)."""
from __future__ import annotations

from ...op import Variant


def forward_variants() -> list[Variant]:
    return []


def backward_variants() -> list[Variant]:
    return []
