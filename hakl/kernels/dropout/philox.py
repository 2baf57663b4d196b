"""Philox-4x32-10 (Salmon et al., SC'11), the counter-based generator behind dropout.

One call maps a 128-bit counter and a 64-bit key to four independent uint32s, with
no state: element i's random word depends only on (seed, offset, i), so every
backend, every variant and every launch configuration draws the same mask.

Layout, shared by this NumPy reference, the numba kernels, philox.cuh (CUDA and
OpenCL C):
    key     = (seed & 0xffffffff, seed >> 32)
    counter = (g & 0xffffffff, g >> 32, offset & 0xffffffff, offset >> 32),  g = i // 4
    word    = output[i % 4]
    keep i  <=>  word >= threshold(p),  threshold(p) = floor(p * 2**32)  (2**32 when p == 1)
so P(keep) = 1 - p to within 2**-32, p = 0 keeps everything and p = 1 nothing.
`offset` selects an independent stream for the same seed (the next layer, the
next step); the element index runs through the low 64 counter bits.
"""
from __future__ import annotations

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85  # key schedule (Weyl) increments
ROUNDS = 10
MASK32 = 0xFFFFFFFF


def threshold(p: float) -> int:
    """The keep threshold for drop probability p in [0, 1]: p * 2**32 is exact in float64."""
    return int(p * 4294967296.0) if p < 1.0 else 1 << 32


def split_key(seed: int, offset: int) -> tuple[int, int, int, int]:
    """(seed_lo, seed_hi, offset_lo, offset_hi) as kernel arguments."""
    return seed & MASK32, seed >> 32, offset & MASK32, offset >> 32


def philox4x32(counter: tuple[np.ndarray, ...], key: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Philox-4x32-10 over arrays of counters: four uint32 arrays in, four out."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in counter)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m0, m1, mask, shift = np.uint64(M0), np.uint64(M1), np.uint64(MASK32), np.uint64(32)
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + np.uint64(W0)) & mask, (k1 + np.uint64(W1)) & mask
        p0, p1 = c0 * m0, c2 * m1  # 32 x 32 -> 64 bits, exact in uint64
        c0, c1, c2, c3 = (p1 >> shift) ^ c1 ^ k0, p1 & mask, (p0 >> shift) ^ c3 ^ k1, p0 & mask
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def random_words(seed: int, offset: int, start: int, n: int) -> np.ndarray:
    """The uint32 word of elements start .. start+n-1 of stream (seed, offset)."""
    if n == 0:
        return np.empty(0, np.uint32)
    s_lo, s_hi, o_lo, o_hi = split_key(seed, offset)
    g = np.arange(start // 4, (start + n - 1) // 4 + 1, dtype=np.uint64)
    lo, hi = g & np.uint64(MASK32), g >> np.uint64(32)
    words = philox4x32((lo, hi, np.full_like(g, o_lo), np.full_like(g, o_hi)), (s_lo, s_hi))
    flat = np.stack(words, axis=1).reshape(-1)
    return flat[start % 4: start % 4 + n]


def keep_mask(seed: int, offset: int, n: int, p: float) -> np.ndarray:
    """Boolean keep decisions of elements 0 .. n-1: the mask every backend reproduces."""
    return random_words(seed, offset, 0, n).astype(np.uint64) >= np.uint64(threshold(p))
