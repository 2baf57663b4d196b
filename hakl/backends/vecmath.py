"""exp (and a faster one for x <= 0), expm1, log, log1p, tanh, sigmoid, erfc, fma and maximum for
numba kernels, written so that LLVM vectorises the loops that call them.

numba lowers math.exp / math.tanh to libm calls, one element at a time (the pip llvmlite
has no SVML): on the 2-core AMD EPYC a float32 loop ran 2.8 ns per exp and 19 ns per tanh,
against NumPy's SIMD loops at 1.3 and 2.6 ns. These versions are arithmetic, selects and
one bit cast, which LLVM turns into AVX2 / AVX-512 code: 0.8 ns per exp (0.6 for x <= 0),
1.2 per log (math.log: 5) and 1.3 per tanh on the same machine, within a few ulp of
float64's value (tests/test_vecmath.py: 6 at most).

A loop that updates an array in place through a select (m[j] = max(m[j], v), s[j] += v if
c else 0) becomes a masked store (vmaskmovps), which on AMD's Zen 3 made the loop 10x
slower: write such a result to another array, or move the select into the argument.

exp (and so sigmoid) has a float64 version too (within 2 ulp); the others are float32 only
(float16 kernels compute in float32), and float64 takes math's function, so that a kernel
written once over the dtype keeps float64's accuracy. The calling kernel must be compiled
with error_model="numpy" (Python's error model checks every division for zero, and that
branch stops the vectoriser). `maximum` is llvm.maximum, NaN-propagating and vectorisable.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

F = np.float32
# Flags stated explicitly: a callee otherwise inherits its caller's, and reassociation would
# fold the two halves of ln 2 back together; contraction to FMA only helps. forceinline is
# LLVM's alwaysinline: without it LLVM kept some of these as calls, and the loop scalar.
_OPTS = dict(forceinline=True, fastmath={"contract"}, error_model="numpy", cache=True)


def _float_llvm(t):
    return {types.float32: (ir.FloatType(), "f32"), types.float64: (ir.DoubleType(), "f64")}.get(t, (None, None))


def _call_llvm(builder, name: str, lt, args):
    """A call of LLVM's intrinsic `name` on arguments and result of the float type lt."""
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lt, [lt] * len(args)), name)
    return builder.call(fn, args)


@intrinsic
def maximum(typingctx, a, b):
    """llvm.maximum: NaN-propagating max that, unlike a compare-and-select, LLVM
    vectorises as a reduction without being told that there are no NaNs."""
    lt, suffix = _float_llvm(a)
    if lt is None or a != b:
        return None

    def codegen(context, builder, signature, args):
        return _call_llvm(builder, f"llvm.maximum.{suffix}", lt, args)

    return a(a, b), codegen


@intrinsic
def _pow2(typingctx, k):
    """2.0**k for an integral float k inside the normal exponent range, from exponent bits."""
    lt, suffix = _float_llvm(k)
    if lt is None:
        return None
    bits, bias, shift = (32, 127, 23) if suffix == "f32" else (64, 1023, 52)

    def codegen(context, builder, signature, args):
        it = ir.IntType(bits)
        i = builder.add(builder.fptosi(args[0], it), ir.Constant(it, bias))
        return builder.bitcast(builder.shl(i, ir.Constant(it, shift)), lt)

    return k(k), codegen


@intrinsic
def _exponent_field(typingctx, t):
    """2^k for t = 1.5 * 2^23 + 127 + k, -126 <= k <= 127: t's low mantissa bits, k + 127,
    shifted into the exponent field (the other bits of t shift out)."""
    if t != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        return builder.bitcast(builder.shl(builder.bitcast(args[0], i32), ir.Constant(i32, 23)), ir.FloatType())

    return types.float32(t), codegen


@intrinsic
def _frexp32(typingctx, x):
    """(m, e) with x = m 2^e, m in [1, 2), for a positive normal float32 x: its mantissa
    and exponent bits (e as a float)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        bits = builder.bitcast(args[0], i32)
        mant = builder.or_(builder.and_(bits, ir.Constant(i32, 0x007FFFFF)), ir.Constant(i32, 0x3F800000))
        expo = builder.sub(builder.lshr(bits, ir.Constant(i32, 23)), ir.Constant(i32, 127))
        m, e = builder.bitcast(mant, ir.FloatType()), builder.sitofp(expo, ir.FloatType())
        return cgutils.make_anonymous_struct(builder, (m, e))

    return types.UniTuple(types.float32, 2)(x), codegen


# exp(x) = 2^k e^r, k = round(x / ln 2), |r| <= ln2/2, ln 2 split in two so that x - k ln2
# is exact; e^r by Taylor (float32 to r^7, float64 to r^12: the next terms are below an
# ulp). 2^k as 2^h 2^(k-h), h = floor(k/2): both factors stay normal over the whole range
# (k runs from -126 to 128). Above the overflow threshold inf; below the smallest normal
# result 0 (float32: no subnormals). Selects, not branches: it vectorises.
_LOG2E = 1.4426950408889634
_E32 = tuple(F(1 / math.factorial(k)) for k in range(8))
_E64 = tuple(1 / math.factorial(k) for k in range(13))
_UNDER32 = F(math.log(np.finfo(np.float32).tiny))


@njit(**_OPTS)
def _exp32(x):
    hi, lo = F(88.8), _UNDER32
    xc = x if not x > hi else hi  # `not >` keeps NaN
    xc = xc if not xc < lo else lo
    k = np.floor(xc * F(_LOG2E) + F(0.5))
    r = xc - k * F(0.693359375)  # the high half of ln 2 has 9 bits: k * it is exact
    r = r - k * F(-2.12194440e-4)
    c = _E32
    p = ((((((c[7] * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    k = k if k == k else F(0)  # keep NaN out of the float -> int conversion (p is NaN already)
    h = np.floor(k * F(0.5))
    v = p * _pow2(h) * _pow2(k - h)
    return v if not x < lo else F(0)


@njit(**_OPTS)
def _exp_nonpositive32(x):
    # exp for x <= 0 only (a max-shifted softmax's argument): no overflow clamp, and with
    # k = round(x / ln 2) in [-126, 0] one exponent factor, read off the rounding constant's
    # sum (x * log2 e + 1.5 * 2^23 rounds to the integer): 30% faster than _exp32
    big = F(12582912 + 127)
    xc = x if not x < _UNDER32 else _UNDER32
    t = xc * F(_LOG2E) + big
    k = t - big
    r = xc - k * F(0.693359375)
    r = r - k * F(-2.12194440e-4)
    c = _E32
    p = ((((((c[7] * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    v = p * _exponent_field(t)  # NaN: p is NaN
    return v if not x < _UNDER32 else F(0)


@njit(**_OPTS)
def _exp64(x):
    hi, lo = 709.79, -708.39  # e^709.79 overflows float64; e^-708.39 is its smallest normal
    xc = x if not x > hi else hi
    xc = xc if not xc < lo else lo
    k = np.floor(xc * _LOG2E + 0.5)
    r = xc - k * 6.93147180369123816490e-01
    r = r - k * 1.90821492927058770002e-10
    c = _E64
    p = ((((((c[12] * r + c[11]) * r + c[10]) * r + c[9]) * r + c[8]) * r + c[7]) * r + c[6]) * r + c[5]
    p = ((((p * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    k = k if k == k else 0.0
    h = np.floor(k * 0.5)
    v = p * _pow2(h) * _pow2(k - h)
    return v if not x < lo else 0.0


# tanh for |x| < 1/4: its Taylor series to x^9 (the next term is below 1e-8 relative)
_T = (F(1), F(-1 / 3), F(2 / 15), F(-17 / 315), F(62 / 2835))


@njit(**_OPTS)
def _tanh32(x):
    a = x if x >= F(0) else -x
    big = F(1) - F(2) / (_exp32(F(2) * a) + F(1))  # no overflow: e^2a = inf gives 1
    big = big if x >= F(0) else -big
    x2 = x * x
    small = x * (_T[0] + x2 * (_T[1] + x2 * (_T[2] + x2 * (_T[3] + x2 * _T[4]))))
    t = small if a < F(0.25) else big
    return t if x == x else x


@njit(**_OPTS)
def _expm1_32(x):
    c = _E32  # |x| < 1/3: Taylor to x^8 (e^x - 1 would cancel: 1 - e^-0.01 keeps 5 digits)
    small = x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * (c[5] + x * (c[6] + x * (c[7] + x * F(1 / 40320))))))))
    a = x if x >= F(0) else -x
    return small if a < F(1 / 3) else _exp32(x) - F(1)


@njit(**_OPTS)
def _sigmoid32(x):
    return F(1) / (F(1) + _exp32(-x))


# erfc(z) for z >= 0 as e^-z^2 R(z), R(z) = erfc(z) e^(z^2) = P(z) / Q(z) with P of degree 4
# and Q of degree 5, all coefficients positive (Horner adds without cancelling): fitted
# here to R's float64 values on [0, 10] (relative error 6e-9 in float64, 3e-7 evaluated in
# float32). e^-z^2 from the rounded square e and its exact remainder r = fma(z, z, -e):
# e^-(e + r) = e^-e (1 - r), where e^-e alone was 1e-5 off at z = 9 (e rounds by half an ulp
# of 81). One exp and one division: the Numerical Recipes form this replaces took two exps.
# (A reciprocal estimate for the division, through fast-math flags, measured 5-10% slower.)
# OpenCL's activations build their float erfc from these coefficients too.
ERFC_P = tuple(F(c) for c in (1.0000000056269855, 1.2375983734604654, 0.7307538002920798, 0.2288135340992718,
                               0.03271146717206816))
ERFC_Q = tuple(F(c) for c in (1.0, 2.365978109068919, 2.4004650137225205, 1.3237812453888713, 0.4055882386801139,
                               0.05797885282149898))


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma, vectorisable)."""
    lt, suffix = _float_llvm(a)
    if lt is None or not a == b == c:
        return None

    def codegen(context, builder, signature, args):
        return _call_llvm(builder, f"llvm.fma.{suffix}", lt, args)

    return a(a, b, c), codegen


@njit(**_OPTS)
def _erfc32(x):
    z = x if x >= F(0) else -x
    z = z if not z > F(10) else F(10)  # erfc(10) is 2e-45: below float32's normal range; NaN stays
    p, q = ERFC_P, ERFC_Q
    num = (((p[4] * z + p[3]) * z + p[2]) * z + p[1]) * z + p[0]
    den = ((((q[5] * z + q[4]) * z + q[3]) * z + q[2]) * z + q[1]) * z + q[0]
    e = z * z
    r = fma(z, z, -e)
    v = _exp_nonpositive32(-e) * (F(1) - r) * (num / den)
    v = v if x >= F(0) else F(2) - v
    return v if x == x else x


# log(x) = e ln 2 + log(1 + f), x = (1 + f) 2^e with 1 + f in [sqrt(1/2), sqrt(2)), and
# log(1 + f) = f - f^2/2 + f^3 P(f): the minimax P of Cephes' logf (within 1 ulp there); ln 2
# in two halves as in exp. Subnormal x is scaled by 2^23 first.
_L32 = tuple(F(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                            1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                            3.3333331174e-1))
_TINY32 = F(np.finfo(np.float32).tiny)


@njit(**_OPTS)
def _log32(x):
    sub = x < _TINY32
    m, e = _frexp32(x * F(8388608) if sub else x)
    e = e - F(23) if sub else e
    up = m > F(1.41421356)
    f = (m * F(0.5) if up else m) - F(1)
    e = e + F(1) if up else e
    c = _L32
    p = (((((((c[0] * f + c[1]) * f + c[2]) * f + c[3]) * f + c[4]) * f + c[5]) * f + c[6]) * f + c[7]) * f + c[8]
    z = f * f
    y = f * z * p + e * F(-2.12194440e-4) - F(0.5) * z
    v = (f + y) + e * F(0.693359375)
    v = v if x > F(0) else (F(-np.inf) if x == F(0) else F(np.nan))
    return v if x < F(np.inf) else x  # +inf, and NaN stays NaN


@njit(**_OPTS)
def _log1p32(x):
    # log(w) for w = 1 + x, corrected by the rounding of w ((w - 1) - x, exact): within a few
    # ulp where log(1 + x) would lose every digit of a small x
    w = F(1) + x
    c = ((w - F(1)) - x) / w
    c = c if w > F(0) and w < F(np.inf) else F(0)  # 0, inf, NaN: log(w) alone is right
    v = _log32(w) - c
    return v if w != F(1) else x  # |x| below half an ulp of 1: log1p x = x


def exp(x):
    """e^x."""


def exp_nonpositive(x):
    """e^x for x <= 0, -inf or NaN (x - max(x), as softmax's): faster than exp; a positive
    x gives a wrong value (float32)."""


def log(x):
    """natural logarithm."""


def log1p(x):
    """log(1 + x)."""


def tanh(x):
    """tanh x."""


def expm1(x):
    """e^x - 1."""


def sigmoid(x):
    """1 / (1 + e^-x)."""


def erfc(x):
    """1 - erf x."""


def _by_type(f32, f64):
    def impl(x):
        return (lambda x: f32(x)) if x == types.float32 else f64
    return impl


_INLINE = dict(jit_options=_OPTS)
overload(exp, **_INLINE)(_by_type(_exp32, lambda x: _exp64(x)))
overload(expm1, **_INLINE)(_by_type(_expm1_32, lambda x: math.expm1(x)))
overload(exp_nonpositive, **_INLINE)(_by_type(_exp_nonpositive32, lambda x: _exp64(x)))
overload(log, **_INLINE)(_by_type(_log32, lambda x: math.log(x)))
overload(log1p, **_INLINE)(_by_type(_log1p32, lambda x: math.log1p(x)))
overload(tanh, **_INLINE)(_by_type(_tanh32, lambda x: math.tanh(x)))
overload(sigmoid, **_INLINE)(_by_type(_sigmoid32, lambda x: 1 / (1 + _exp64(-x))))
overload(erfc, **_INLINE)(_by_type(_erfc32, lambda x: math.erfc(x)))
