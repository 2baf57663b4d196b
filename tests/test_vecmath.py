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
    "log": np.log,
    "log1p": np.log1p,
    "exp_nonpositive": np.exp,
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


def _grid(name):
    rng = np.random.default_rng(7)
    x = np.concatenate([np.linspace(-100, 100, 200001), np.linspace(-2, 2, 100001),
                        rng.standard_normal(20000) * 1e-3, rng.standard_normal(20000) * 10,
                        np.exp(rng.uniform(-100, 88, 100000))]).astype(np.float32)
    return -np.abs(x) if name == "exp_nonpositive" else x


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float32_within_a_few_ulp(name):
    x = _grid(name)
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
    "log": [np.nan, np.inf, np.nan, -np.inf, -np.inf, math.log(SPECIALS[5]), math.log(89.0), np.nan, np.nan,
            math.log(SPECIALS[9])],
    "log1p": [np.nan, np.inf, np.nan, 0.0, 0.0, math.log1p(SPECIALS[5]), math.log1p(89.0), np.nan, np.nan,
              1e-30],
}
NONPOSITIVE = np.array([np.nan, -np.inf, 0.0, -0.0, -87.0, -87.4, -104.0, -1e-30, np.float32(2) ** -149], np.float32)


@pytest.mark.parametrize("name", EXPECTED)
def test_special_values(name):
    got = _run(name, SPECIALS)
    np.testing.assert_allclose(got, np.array(EXPECTED[name], np.float32), rtol=1e-6, atol=1e-37)


def test_exp_nonpositive_special_values():
    """NaN, -inf and below the smallest normal result (0), 0 and -0 (1), a positive subnormal (1)."""
    got = _run("exp_nonpositive", NONPOSITIVE)
    want = [np.nan, 0.0, 1.0, 1.0, np.exp(np.float32(-87.0)), 0.0, 0.0, 1.0, 1.0]
    np.testing.assert_allclose(got, np.array(want, np.float32), rtol=1e-6, atol=0)


def test_log_subnormal_input():
    """log of a subnormal float32 (scaled by 2^23 before its exponent is read)."""
    x = np.float32(2) ** -np.arange(127, 150, dtype=np.float32)
    np.testing.assert_allclose(_run("log", x), np.log(x.astype(np.float64)), rtol=2 * ULP)


def _or_pole(f, pole):
    """f below and at its pole as the kernels give it (math raises): NaN, -inf."""
    return lambda v: f(v) if v > pole else (-math.inf if v == pole else math.nan)


MATH = {"exp": math.exp, "exp_nonpositive": math.exp, "expm1": math.expm1, "tanh": math.tanh,
        "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "erfc": math.erfc, "log": _or_pole(math.log, 0),
        "log1p": _or_pole(math.log1p, -1)}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float64(name):
    """exp has a float64 polynomial (within 2 ulp; sigmoid built on it 3), the others are math's."""
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-3, 3, 20001), [-0.1, 0.0, 1e-300]])
    if name == "exp_nonpositive":
        x = -np.abs(x)
    want = np.array([MATH[name](v) if not name.startswith("exp") or v < 709 else math.inf for v in x])
    got = _run(name, x)
    if name in ("exp", "sigmoid", "exp_nonpositive"):
        normal = np.abs(want) >= np.finfo(np.float64).tiny
        np.testing.assert_allclose(got[normal], want[normal], rtol=3 * np.finfo(np.float64).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif("avx2" not in llvm.get_host_cpu_features().flatten(), reason="this CPU has no AVX2")
@pytest.mark.parametrize("name, libm", [("tanh", ("tanhf", "expf")), ("log", ("logf",)),
                                        ("exp_nonpositive", ("expf",))])
def test_loops_vectorise(name, libm):
    """On AVX2 or AVX-512 the loop body is packed arithmetic, not a libm call per element."""
    _run(name, np.ones(64, np.float32))
    asm = next(iter(_KERNELS[name].inspect_asm().values()))
    assert "ps\t%ymm" in asm or "ps\t%zmm" in asm
    assert not any(call in asm for call in libm)
