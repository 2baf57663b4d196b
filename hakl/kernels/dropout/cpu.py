"""dropout on the CPU: a NumPy baseline and a numba Philox kernel.

Bytes moved at minimum: read x, write out (2 * n * itemsize), plus n bytes when
the mask is stored; the stored-mask backward reads dy and the mask, writes dx.

- numpy (baseline): the vectorised NumPy Philox of philox.py, then one multiply;
  handles slice dropout (axis=...) by broadcasting the mask.
- numba (flat inputs): a prange over chunks of 4-element groups; one Philox call
  gives the 4 words of a group, so the generator costs 10 rounds per 4 elements.
  LLVM vectorises the group loop (uint64 multiplies, selects, interleaved stores).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...backends import output_pool
from ...backends.cpu_kernels import parallel_kernel
from ...backends.cpu import quietly
from ...op import Problem, Variant
from ..cast.halfbits import f32_to_half, half_to_f32
from . import philox
from .reference import mask_elements, mask_shape


def _compute_dtype(problem: Problem) -> type:
    return np.float64 if problem.dtype == "float64" else np.float32


# ---- NumPy baseline -----------------------------------------------------------


def _numpy_forward(problem: Problem, config: dict):
    compute = _compute_dtype(problem)
    store_mask = problem.flag("mask")
    pattern = problem.flag("slices")

    @quietly  # a dropped inf is NaN
    def scaled(x, factor):
        return (x.astype(compute, copy=False) * factor).astype(x.dtype, copy=False)

    def launch(x: np.ndarray, p: float, seed: int, offset: int, scale: float):  # sizes from x: a bucket's
        keep = philox.keep_mask(seed, offset, mask_elements(x.shape, pattern), p)
        out = scaled(x, np.where(keep, compute(scale), compute(0.0)).reshape(mask_shape(problem, x.shape)))
        return (out, keep.view(np.uint8)) if store_mask else out

    return launch


def _numpy_backward(problem: Problem, config: dict):
    compute = _compute_dtype(problem)

    @quietly  # a dropped inf is NaN
    def launch(dy: np.ndarray, mask: np.ndarray, scale: float):
        factor = np.where(mask != 0, compute(scale), compute(0.0)).reshape(mask_shape(problem, dy.shape))
        return (dy.astype(compute, copy=False) * factor).astype(dy.dtype, copy=False)

    return launch


# ---- numba --------------------------------------------------------------------

_M0, _M1 = np.uint64(philox.M0), np.uint64(philox.M1)
_W0, _W1 = np.uint32(philox.W0), np.uint32(philox.W1)
_32 = np.uint64(32)
_U32 = np.uint32


@njit(cache=True)
def _round(c0, c1, c2, c3, k0, k1):
    p0, p1 = np.uint64(c0) * _M0, np.uint64(c2) * _M1  # 32 x 32 -> 64 bits
    return _U32(_U32(p1 >> _32) ^ c1 ^ k0), _U32(p1), _U32(_U32(p0 >> _32) ^ c3 ^ k1), _U32(p0)


# inline="always": as a call LLVM does not inline it, and a call stops the group
# loop from vectorising (4x slower).
@njit(cache=True, inline="always")
def _philox(g, o0, o1, k0, k1):
    """Philox-4x32-10 of counter (g lo, g hi, o0, o1) under key (k0, k1), all uint32
    but g (uint64)."""
    c0, c1, c2, c3 = _U32(g), _U32(g >> _32), o0, o1
    for r in range(philox.ROUNDS):
        c0, c1, c2, c3 = _round(c0, c1, c2, c3, _U32(k0 + _U32(r) * _W0), _U32(k1 + _U32(r) * _W1))
    return c0, c1, c2, c3


@njit(cache=True, inline="always")
def _scale_into(xs, keep, out, scale, zero, half):
    """out = xs * (scale where keep else zero). `half` (float16 bits in uint16 arrays) is
    a run-time flag: both loops type-check for every dtype, and each vectorises."""
    if half:
        for i in range(xs.size):
            f = scale if keep[i] != 0 else zero
            out[i] = f32_to_half(half_to_f32(xs[i]) * f)
    else:
        for i in range(xs.size):
            f = scale if keep[i] != 0 else zero
            out[i] = xs[i] * f


@njit(cache=True, inline="always")
def _keep_bytes(keep, g0, k0, k1, o0, o1, threshold, live):
    """keep[i] = 1 when element g0*4 + i survives. (word & live) >= threshold is
    word >= threshold in uint32 lanes (8 per AVX2 vector, not 4): live is all ones,
    except p = 1, whose threshold 2**32 does not fit, where live = 0 and threshold
    = 2**32 - 1 keep nothing."""
    full = keep.size // 4
    for g in range(full):
        r0, r1, r2, r3 = _philox(np.uint64(g0 + g), o0, o1, k0, k1)
        keep[4 * g] = (r0 & live) >= threshold
        keep[4 * g + 1] = (r1 & live) >= threshold
        keep[4 * g + 2] = (r2 & live) >= threshold
        keep[4 * g + 3] = (r3 & live) >= threshold
    if full * 4 < keep.size:  # the last, partial group
        words = _philox(np.uint64(g0 + full), o0, o1, k0, k1)
        for k in range(keep.size - full * 4):
            keep[full * 4 + k] = (words[k] & live) >= threshold


@parallel_kernel()
def _dropout_kernel(x, out, mask, k0, k1, o0, o1, threshold, live, scale, zero, half, chunk):
    """out (and mask when it is non-empty) for flat x, `chunk` groups of 4 per task.
    Two loops per chunk, each of which LLVM vectorises: Philox into keep bytes
    (the mask, or a chunk-sized scratch that stays in L1), then the multiply."""
    n = x.size
    write_mask = mask.size > 0
    tasks = (n + 4 * chunk - 1) // (4 * chunk)
    for t in prange(tasks):
        lo = t * chunk * 4
        hi = min(lo + chunk * 4, n)
        # Slices indexed from 0 let LLVM drop negative-index checks.
        keep = mask[lo:hi] if write_mask else np.empty(hi - lo, np.uint8)
        _keep_bytes(keep, t * chunk, k0, k1, o0, o1, threshold, live)
        _scale_into(x[lo:hi], keep, out[lo:hi], scale, zero, half)


@parallel_kernel()
def _apply_mask_kernel(dy, mask, dx, scale, zero, half, chunk):
    n = dy.size
    tasks = (n + chunk - 1) // chunk
    for t in prange(tasks):
        lo = t * chunk
        hi = min(lo + chunk, n)
        _scale_into(dy[lo:hi], mask[lo:hi], dx[lo:hi], scale, zero, half)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a


_NO_MASK = np.empty(0, np.uint8)



def _numba_forward(problem: Problem, config: dict):
    compute = _compute_dtype(problem)
    store_mask = problem.flag("mask")
    chunk = config["chunk"]

    def launch(x: np.ndarray, p: float, seed: int, offset: int, scale: float):
        out = output_pool.empty_like(x)
        mask = output_pool.empty(x.size, np.uint8) if store_mask else _NO_MASK
        k0, k1, o0, o1 = (np.uint32(v) for v in philox.split_key(seed, offset))
        t = philox.threshold(p)
        _dropout_kernel(_bits(x), _bits(out), mask, k0, k1, o0, o1, np.uint32(min(t, philox.MASK32)),
                        np.uint32(0 if t > philox.MASK32 else philox.MASK32), compute(scale), compute(0.0),
                        x.dtype == np.float16, chunk)
        return (out, mask) if store_mask else out

    return launch


def _numba_backward(problem: Problem, config: dict):
    compute = _compute_dtype(problem)
    chunk = config["chunk"] * 4

    def launch(dy: np.ndarray, mask: np.ndarray, scale: float):
        dx = output_pool.empty_like(dy)
        _apply_mask_kernel(_bits(dy), mask, _bits(dx), compute(scale), compute(0.0), dy.dtype == np.float16, chunk)
        return dx

    return launch


def _flat(problem: Problem) -> bool:
    return not problem.flag("slices")


SPACE = {"chunk": (1 << 10, 1 << 13, 1 << 16)}  # groups of 4 elements per task


def forward_variants() -> list[Variant]:
    return [Variant("numba", "cpu", _numba_forward, space=SPACE, supports=_flat,
                    default=lambda p: {"chunk": 1 << 13}),
            Variant("numpy", "cpu", _numpy_forward, baseline=True)]


def backward_variants() -> list[Variant]:
    return [Variant("numba", "cpu", _numba_backward, space=SPACE, supports=_flat,
                    default=lambda p: {"chunk": 1 << 13}),
            Variant("numpy", "cpu", _numpy_backward, baseline=True)]
