"""16-bit floats for numba, which has neither float16 nor bfloat16: arrays travel as
their uint16 bits and these helpers convert, bit-exact with NumPy's float16 casts and
ml_dtypes' bfloat16 ones (round to nearest even, subnormals, infinities; NaN stays NaN,
payload aside).

Where the CPU has F16C (every AVX2 x86 since 2013), float32 <-> half is LLVM's own
`fptrunc` / `fpext` on the half type, which it lowers to vcvtps2ph / vcvtph2ps, 8 or 16
lanes at a time: 2.3x the bit arithmetic below on a Xeon (AVX-512, one thread, 16M
elements: 4.2 against 9.9 ms down, 4.4 against 6.8 up). Elsewhere, and for float64 (no
instruction before AVX512-FP16, and LLVM's fallback is a libcall the JIT does not link),
the bit arithmetic: branch-free enough for LLVM to vectorise, as scaling by powers of two
is exact, so subnormals come from a multiply and a round-to-nearest-even `rint`.
numba's scalar `.view()` wants a variable with one definition, hence the assign-once style.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ...backends import cpu

_OPTS = dict(cache=True)

_TWO112 = np.float32(2.0 ** 112)  # half exponent bias 15 -> float32 bias 127
_TWO24_32 = np.float32(2.0 ** 24)  # one half subnormal step is 2**-24
_TWO24_64 = np.float64(2.0 ** 24)


@njit(**_OPTS)
def _half_to_f32_bits(h):
    """uint16 half bits -> float32, exact."""
    h = np.uint32(h)
    mag = np.uint32((h & np.uint32(0x7FFF)) << np.uint32(13))
    # Normals and subnormals alike: rebias by multiplying by 2**112 (exact).
    scaled = np.float32(mag.view(np.float32) * _TWO112).view(np.uint32)
    special = np.uint32(mag | np.uint32(0x7F800000))  # inf / NaN: all-ones exponent
    bits = special if (h & np.uint32(0x7C00)) == np.uint32(0x7C00) else scaled
    return np.uint32(bits | ((h & np.uint32(0x8000)) << np.uint32(16))).view(np.float32)


@njit(**_OPTS)
def _f32_to_half_bits(f):
    """float32 -> uint16 half bits, round to nearest even."""
    b = np.float32(f).view(np.uint32)
    sign = np.uint32((b >> np.uint32(16)) & np.uint32(0x8000))
    a = np.uint32(b & np.uint32(0x7FFFFFFF))
    if a > np.uint32(0x7F800000):
        h = np.uint32(0x7E00)  # NaN
    elif a >= np.uint32(0x477FF000):  # |f| >= 65520 rounds to infinity
        h = np.uint32(0x7C00)
    elif a >= np.uint32(0x38800000):  # normal half: rebias, round the 13 dropped bits to even
        m = np.uint32(a - np.uint32(0x38000000))
        h = np.uint32((m + np.uint32(0xFFF) + ((m >> np.uint32(13)) & np.uint32(1))) >> np.uint32(13))
    else:  # subnormal half (or zero): |f| * 2**24 is exact, rint rounds to even
        h = np.uint32(np.rint(a.view(np.float32) * _TWO24_32))
    return np.uint16(h | sign)


@njit(**_OPTS)
def f64_to_half(f):
    """float64 -> uint16 half bits, rounded once (not through float32)."""
    b = np.float64(f).view(np.uint64)
    sign = np.uint32((b >> np.uint64(48)) & np.uint64(0x8000))
    a = np.uint64(b & np.uint64(0x7FFFFFFFFFFFFFFF))
    if a > np.uint64(0x7FF0000000000000):
        h = np.uint32(0x7E00)
    elif a >= np.uint64(0x40EFFE0000000000):  # 65520.0
        h = np.uint32(0x7C00)
    elif a >= np.uint64(0x3F10000000000000):  # 2**-14
        m = np.uint64(a - np.uint64(0x3F00000000000000))  # rebias 1023 -> 15
        h = np.uint32((m + np.uint64(0x1FFFFFFFFFF) + ((m >> np.uint64(42)) & np.uint64(1))) >> np.uint64(42))
    else:
        h = np.uint32(np.rint(a.view(np.float64) * _TWO24_64))
    return np.uint16(h | sign)


# bfloat16 is float32's top half: the same exponent, 7 stored mantissa bits. A quiet NaN
# keeps its sign and drops its payload (ml_dtypes' 0x7FC0 / 0xFFC0).
_BF16_NAN = np.uint32(0x7FC0)


@njit(**_OPTS)
def bf16_to_f32(h):
    """uint16 bfloat16 bits -> float32, exact."""
    return np.uint32(np.uint32(h) << np.uint32(16)).view(np.float32)


@njit(**_OPTS)
def f32_to_bf16(f):
    """float32 -> uint16 bfloat16 bits, round to nearest even (a carry into the exponent
    is the next binade, or infinity past the largest bfloat16)."""
    b = np.float32(f).view(np.uint32)
    sign = np.uint32((b >> np.uint32(16)) & np.uint32(0x8000))
    if (b & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000):
        h = np.uint32(_BF16_NAN | sign)
    else:
        h = np.uint32((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    return np.uint16(h)


_TWO133 = np.float64(2.0 ** 133)  # one bfloat16 subnormal step is 2**-133


@njit(**_OPTS)
def f64_to_bf16(f):
    """float64 -> uint16 bfloat16 bits, rounded once (not through float32)."""
    b = np.float64(f).view(np.uint64)
    sign = np.uint32((b >> np.uint64(48)) & np.uint64(0x8000))
    a = np.uint64(b & np.uint64(0x7FFFFFFFFFFFFFFF))
    if a > np.uint64(0x7FF0000000000000):
        h = _BF16_NAN
    elif a >= np.uint64(0x47EFF00000000000):  # (2 - 2**-8) * 2**127, halfway past the largest: infinity
        h = np.uint32(0x7F80)
    elif a >= np.uint64(0x3810000000000000):  # 2**-126: a normal bfloat16; rebias 1023 -> 127
        m = np.uint64(a - np.uint64(0x3800000000000000))
        h = np.uint32((m + np.uint64(0xFFFFFFFFFFF) + ((m >> np.uint64(45)) & np.uint64(1))) >> np.uint64(45))
    else:  # subnormal (or zero): |f| * 2**133 is exact, rint rounds to even (128 is 2**-126's bits)
        h = np.uint32(np.rint(a.view(np.float64) * _TWO133))
    return np.uint16(h | sign)


@njit(**_OPTS)
def int_to_bf16(v):
    """An integer -> uint16 bfloat16 bits, rounded once: through float64, exactly (below
    2**53 the conversion is exact; above, the bits below float64's 53 are folded into its
    last one, round-to-odd, which keeps the one rounding to bfloat16 correct)."""
    neg = v < 0
    m = np.uint64(-np.int64(v)) if neg else np.uint64(v)  # -INT64_MIN wraps to 2**63 as uint64: right
    if m >= np.uint64(1 << 53):
        shift = np.uint64(0)
        while (m >> shift) >= np.uint64(1 << 53):
            shift += np.uint64(1)
        kept = np.uint64((m >> shift) | np.uint64((m & ((np.uint64(1) << shift) - np.uint64(1))) != 0))
        f = np.float64(kept) * np.float64(2.0) ** np.float64(shift)
    else:
        f = np.float64(m)
    return f64_to_bf16(-f if neg else f)


@intrinsic
def _f32_to_half_f16c(typingctx, f):
    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))

    return types.uint16(types.float32), codegen


@intrinsic
def _half_to_f32_f16c(typingctx, h):
    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


if cpu.has_features("f16c"):
    f32_to_half, half_to_f32 = _f32_to_half_f16c, _half_to_f32_f16c
else:
    f32_to_half, half_to_f32 = _f32_to_half_bits, _half_to_f32_bits
