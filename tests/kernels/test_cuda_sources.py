"""Every CUDA compile unit of every op, compiled with the local nvcc (CI has nvcc, no GPU).

The units are the ones the variants would hand NVRTC: for each CUDA variant, each
dtype, each conformance problem it supports and each configuration in its space.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from hakl import kernels  # noqa: F401  (registers every family)
from hakl.op import OPS

NVCC = shutil.which("nvcc")
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
DTYPES = ("float16", "float32", "float64")


def nvcc_compile(source: str, defines: dict, workdir: Path) -> None:
    """Compile `source` to PTX for sm_90 as NVRTC would see it; raise with the compiler's output."""
    digest = hashlib.sha256((source + repr(sorted(defines.items()))).encode()).hexdigest()[:16]
    cu = workdir / f"{digest}.cu"
    cu.write_text(source)
    cmd = [NVCC, "-arch=sm_90", "--std=c++17", "-ptx", "-o", str(workdir / f"{digest}.ptx"), str(cu),
           *(f"-D{k}={v}" for k, v in defines.items())]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"nvcc failed for defines {defines}:\n{done.stderr[-3000:]}")


def compile_units(op) -> dict[tuple, tuple[str, dict, str]]:
    units = {}
    rng = np.random.default_rng(0)
    for variant in op.for_backend("cuda"):
        if variant.compile_unit is None:
            continue
        for dtype in DTYPES:
            for problem, _ in op.cases("cuda", dtype, rng, True):
                if not variant.supports(problem):
                    continue
                for config in variant.configs(problem):
                    source, defines = variant.compile_unit(problem, config)
                    key = (hashlib.sha256(source.encode()).hexdigest(), tuple(sorted(defines.items())))
                    units.setdefault(key, (source, defines, f"{variant.name} {dtype} {config}"))
    return units


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_every_cuda_unit_compiles(op_name):
    units = compile_units(OPS[op_name])
    if not units:
        pytest.skip(f"{op_name} has no compiled CUDA variants")
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(4) as pool:
        futures = {pool.submit(nvcc_compile, src, defs, Path(tmp)): what for src, defs, what in units.values()}
        failures = []
        for future, what in futures.items():
            try:
                future.result()
            except AssertionError as exc:
                failures.append(f"{what}: {exc}")
    assert not failures, "\n\n".join(failures[:3])
