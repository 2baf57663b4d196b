"""vecmath's float32 exp / expm1 / tanh / sigmoid / erfc against float64, at the special
values, and vectorised (the reason they exist)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from llvmlite import binding as llvm
from numba import njit

from hakl.backends import vecmath

FUNCTIONS = {
    "exp": np.exp,
    "expm1": np.expm1,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "erfc": np.vectorize(math.erfc, otypes=[np.float64]),
}
ULP = float(np.finfo(np.float32).eps)


def _kernel(name):
    fn = getattr(vecmath, name)

    @njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.size):
            out[i] = fn(a[i])

    return apply


_KERNELS = {name: _kernel(name) for name in FUNCTIONS}


def _run(name, x):
    out = np.empty_like(x)
    _KERNELS[name](x, out)
    return out


def _grid():
    rng = np.random.default_rng(7)
    return np.concatenate([np.linspace(-100, 100, 200001), np.linspace(-2, 2, 100001),
                           rng.standard_normal(20000) * 1e-3, rng.standard_normal(20000) * 10]).astype(np.float32)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float32_within_a_few_ulp(name):
    x = _grid()
    got = _run(name, x).astype(np.float64)
    with np.errstate(all="ignore"):
        want = FUNCTIONS[name](x.astype(np.float64))
    normal = np.isfinite(want) & (np.abs(want) >= np.finfo(np.float32).tiny) & (np.abs(want) < 3e38)
    rel = np.abs(got[normal] - want[normal]) / np.abs(want[normal])
    assert normal.sum() > 200000
    assert rel.max() <= 6 * ULP, (name, float(x[normal][rel.argmax()]), float(rel.max() / ULP))


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.7, 89.0, -87.0, -104.0, 1e-30], np.float32)
EXPECTED = {
    "exp": [np.nan, np.inf, 0.0, 1.0, 1.0, np.exp(SPECIALS[5].item()), np.inf, np.exp(SPECIALS[7].item()), 0.0,
            1.0],
    "expm1": [np.nan, np.inf, -1.0, 0.0, 0.0, np.exp(SPECIALS[5].item()), np.inf, -1.0, -1.0, 1e-30],
    "tanh": [np.nan, 1.0, -1.0, 0.0, 0.0, 1.0, 1.0, -1.0, -1.0, 1e-30],
    "sigmoid": [np.nan, 1.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.6e-38, 0.0, 0.5],
    "erfc": [np.nan, 0.0, 2.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0, 1.0],
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_special_values(name):
    got = _run(name, SPECIALS)
    np.testing.assert_allclose(got, np.array(EXPECTED[name], np.float32), rtol=1e-6, atol=1e-37)


MATH = {"exp": math.exp, "expm1": math.expm1, "tanh": math.tanh, "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
        "erfc": math.erfc}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float64(name):
    """exp has a float64 polynomial (within 2 ulp; sigmoid built on it 3), the others are math's."""
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-3, 3, 20001), [-0.1, 0.0, 1e-300]])
    want = np.array([MATH[name](v) if name != "exp" or v < 709 else math.inf for v in x])
    got = _run(name, x)
    if name in ("exp", "sigmoid"):
        normal = np.abs(want) >= np.finfo(np.float64).tiny
        np.testing.assert_allclose(got[normal], want[normal], rtol=3 * np.finfo(np.float64).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif("avx2" not in llvm.get_host_cpu_features().flatten(), reason="this CPU has no AVX2")
def test_loops_vectorise():
    """On AVX2 or AVX-512 the loop body is packed arithmetic, not a libm call per element."""
    _run("tanh", np.ones(64, np.float32))
    asm = next(iter(_KERNELS["tanh"].inspect_asm().values()))
    assert "ps\t%ymm" in asm or "ps\t%zmm" in asm
    assert "tanhf" not in asm and "expf" not in asm
