"""Every CUDA kernel the dispatcher or the tuner could build compiles (CI has nvcc, no GPU).

Runs without a GPU: each variant's compile_unit (source text and -D defines)
for every dtype and flag set (compile_units says which combinations) goes
through the local nvcc for sm_90. Identical units compile once, several at a time. Device code
only (-cubin: front end and ptxas, no host compiler) at -O1, which checks the
same source in a fraction of the time of the optimising build.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pytest

from hakl.backends.base import source_hash
from hakl import kernels  # noqa: F401  (registers every family)
from hakl.op import OPS, Op

NVCC = shutil.which("nvcc")
# One xdist worker runs them all, so a unit two ops share (argsort and sort) compiles once.
pytestmark = [pytest.mark.skipif(NVCC is None, reason="nvcc is not installed"), pytest.mark.xdist_group("nvcc")]


def nvcc_compile(source: str, defines: dict[str, Any] | None = None, arch: str = "sm_90") -> None:
    """Compile CUDA `source` with `defines` as NVRTC would see it (no include
    paths); raise RuntimeError with the compiler's output when it fails."""
    with tempfile.TemporaryDirectory(prefix="hakl-nvcc-") as tmp:
        src = Path(tmp) / "unit.cu"
        src.write_text(source)
        cmd = [NVCC or "nvcc", f"-arch={arch}", "--std=c++17", "-cubin", "-Xcicc", "-O1", "-Xptxas", "-O1",
               *(f"-D{k}={v}" for k, v in (defines or {}).items()), "-o", str(Path(tmp) / "unit.cubin"), str(src)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nvcc failed ({' '.join(cmd[1:])}):\n{done.stdout}{done.stderr}")


def compile_units(ops: Iterable[Op], backend: str = "cuda") -> dict[tuple, tuple[str, str, dict]]:
    """{unit key: (label, source, defines)} for every compiled variant of `ops` on
    `backend`, every dtype its conformance runs and every flag set, of the largest
    conformance problem the variant supports (the largest unrolls the most), in its default
    configuration: every flag set for float32 (else the first dtype), one flag set for the
    other dtypes (their type's code paths); identical units once. The tuner's other
    configurations are not compiled here (CI's time: they were 40% of the units); a
    configuration that fails to compile on a GPU warns and the next candidate serves."""
    units: dict[tuple, tuple[str, str, dict]] = {}
    for op in ops:
        dtypes = op.test_dtypes(backend)
        all_flags = "float32" if "float32" in dtypes else dtypes[0]
        for variant in op.for_backend(backend):
            if variant.compile_unit is None:
                continue
            for dtype in dtypes:
                problems = [p for p, _ in op.cases(backend, dtype, np.random.default_rng(0), False)
                            if variant.supports(p)]
                largest = max((p.size for p in problems), default=0)
                largest_problems = [p for p in problems if p.size == largest]
                if dtype != all_flags:  # a type's code paths: one flag set shows them
                    largest_problems = largest_problems[:1]
                for problem in largest_problems:
                    for config in [variant.default_config(problem)]:
                        source, defines = variant.compile_unit(problem, config)
                        key = (source_hash(source), tuple(sorted(defines.items())))
                        units.setdefault(key, (f"{op.name}/{variant.name} {dtype} {problem.shape} {config}",
                                               source, defines))
    return units


_compiled: set[tuple] = set()  # units compiled earlier in this process (argsort and sort share theirs)


def compile_all(units: Iterable[tuple[str, str, dict]]) -> list[str]:
    """Compile each (label, source, defines) that this process has not compiled yet, several
    at a time; the failures, labelled. The family tests (cast's configurations, cumsum's
    integer and unaligned units, ...) add units to the generic set below and share this
    process with it (xdist group "nvcc"), so a unit in both compiles once."""
    todo = {}
    for label, source, defines in units:
        key = (source_hash(source), tuple(sorted(defines.items())))
        if key not in _compiled:
            todo[key] = (label, source, defines)
    _compiled.update(todo)

    def attempt(unit: tuple[str, str, dict]) -> str | None:
        label, source, defines = unit
        try:
            nvcc_compile(source, defines)
        except RuntimeError as exc:
            return f"{label}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return [f for f in pool.map(attempt, todo.values()) if f is not None]


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_every_cuda_unit_compiles(op_name):
    units = compile_units([OPS[op_name]])
    if not units:
        pytest.skip(f"{op_name} has no compiled CUDA variant")
    failures = compile_all(units.values())
    assert not failures, f"{len(failures)} of {len(units)} units failed:\n" + "\n\n".join(failures[:5])
