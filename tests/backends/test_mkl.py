"""MKL's VML binding: where it looks for libmkl_rt, and what the activation family does
without it (no variant that would call unresolved symbols)."""
from __future__ import annotations

import numpy as np
import pytest

from hakl.backends import mkl
from hakl.kernels.activation import cpu as activation_cpu
from hakl.op import Problem


def test_library_override_is_the_only_candidate(monkeypatch, tmp_path):
    monkeypatch.setenv("HAKL_MKL_LIBRARY", str(tmp_path / "libmkl_rt.so.2"))
    assert mkl.library_candidates() == [tmp_path / "libmkl_rt.so.2"]


def _exp_problem(dtype="float32"):
    return Problem("activation", "cpu", dtype, (1000,), (("fn", "exp"),))


def test_without_mkl_the_variant_neither_serves_nor_builds(monkeypatch):
    monkeypatch.setattr(mkl, "available", lambda: False)
    monkeypatch.setattr(mkl, "unavailable_reason", lambda: "libmkl_rt not found")
    variant = next(v for v in activation_cpu.forward_variants() if v.name == "mkl")
    assert not variant.supports(_exp_problem())
    with pytest.raises(NotImplementedError, match="libmkl_rt not found"):
        variant.build(_exp_problem(), variant.default_config(_exp_problem()))


@pytest.mark.skipif(not mkl.available(), reason=f"MKL is unavailable: {mkl.unavailable_reason()}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vml_blocks_cover_every_element(dtype):
    """A part that is not a whole number of blocks, run on two threads' parts."""
    variant = next(v for v in activation_cpu.forward_variants() if v.name == "mkl")
    n = 3 * activation_cpu._VML_BLOCK + 12345
    problem = Problem("activation", "cpu", dtype, (n,), (("fn", "exp"),))
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    out = variant.build(problem, {"grain": 1 << 14})(x)
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=1e-6 if dtype == "float32" else 1e-13)
    assert variant.supports(problem) and not variant.supports(Problem("activation", "cpu", "float16", (n,),
                                                                        (("fn", "exp"),)))


def test_a_missing_library_leaves_the_family_working(tmp_path):
    """With no libmkl_rt to load, mkl says why, and hakl.exp is served by another variant
    (a process of its own: the library is loaded, or not, once per process at import)."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np, hakl\nfrom hakl.backends import mkl\n"
            "x = np.linspace(-3, 3, 70001, dtype=np.float32)\n"
            "assert not mkl.available(), mkl.unavailable_reason()\n"
            "print(mkl.unavailable_reason())\n"
            "np.testing.assert_allclose(hakl.exp(x), np.exp(x.astype(np.float64)), rtol=1e-6)\n")
    env = {**os.environ, "HAKL_MKL_LIBRARY": str(tmp_path / "libmkl_rt.so.2"), "HAKL_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "libmkl_rt.so.2" in done.stdout
