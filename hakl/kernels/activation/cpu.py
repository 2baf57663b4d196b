"""activations on the CPU: the NumPy formulas (the baseline) and one numba kernel for
every function and its gradient (the function a run-time code), its parts in one numba
parallel region (backends.cpu_kernels.parallel_for); small calls run on the calling
thread. float32 (and float16, as uint16 bits computed in float32) takes vecmath's vectorisable exp / log / tanh / sigmoid / erfc. The mkl variant
computes exp, tanh and log with MKL's VML (hakl.backends.mkl), float32 and float64.
Bytes: 2 (forward) or 3 (gradient) x n x itemsize."""
from __future__ import annotations

import math

import numpy as np
from numba import literal_unroll, njit

from ...backends import mkl, output_pool
from ...backends import vecmath as vm
from ...backends.mkl import address, set_num_threads_local, vmdExp, vmdLn, vmdTanh, vmsExp, vmsLn, vmsTanh
from ...op import Problem, Variant
from ...backends.cpu_kernels import parallel_for
from ..cast.halfbits import f32_to_half, half_to_f32
from ..elementwise.cpu import _bits, _const
from . import FNS, baseline

_OPTS = dict(cache=True, nogil=True, error_model="numpy")
_K = math.sqrt(2.0 / math.pi)
_S12 = 1.0 / math.sqrt(2.0)
_I2P = 1.0 / math.sqrt(2.0 * math.pi)


# Every constant in the value's type (_const): a Python float or int literal would promote
# float32 arithmetic to float64, and float64 takes math's scalar functions, not vecmath's.
@njit(inline="always", **_OPTS)
def _forward(fn, x, alpha, beta, threshold):
    zero, half, two = _const(x, 0), _const(x, 0.5), _const(x, 2)
    if fn == 0:
        return x if (x > zero or x != x) else zero
    if fn == 1:
        return vm.tanh(x)
    if fn == 2:
        return vm.sigmoid(x)
    if fn == 3:
        return vm.exp(x)
    if fn == 4:
        return vm.log(x)  # -inf at 0, NaN below
    if fn == 5:
        return math.sqrt(x) if x >= zero else math.nan
    if fn == 6:
        return x if x > zero else alpha * vm.expm1(x)
    if fn == 7:
        return zero if x == -math.inf else half * x * vm.erfc(-x * _const(x, _S12))
    if fn == 8:
        # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation for x < 0
        u = _const(x, _K) * (x + _const(x, 0.044715) * x * x * x)
        return zero if x == -math.inf else x * vm.sigmoid(two * u)
    bx = beta * x
    return x if bx > threshold else vm.log1p(vm.exp(bx)) / beta


@njit(inline="always", **_OPTS)
def _backward(fn, s, d, alpha, beta, threshold):
    zero, half, one, two = _const(d, 0), _const(d, 0.5), _const(d, 1), _const(d, 2)
    if fn == 0:
        return d if s > zero else zero
    if fn == 1:
        return d * (one - s * s)
    if fn == 2:
        return d * s * (one - s)
    if fn == 3:
        return d * s
    if fn == 4:
        return d / s
    if fn == 5:
        return half * d / s
    if fn == 6:
        return d if s > zero else d * alpha * vm.exp(s)
    if fn == 7:
        return d * (half * vm.erfc(-s * _const(s, _S12)) + s * _const(s, _I2P) * vm.exp_nonpositive(-half * s * s))
    if fn == 8:
        k, c = _const(s, _K), _const(s, 0.044715)
        u = k * (s + c * s * s * s)
        # 0.5 (1 + tanh u) = g = sigmoid(2u), 0.5 (1 - tanh^2 u) = 2 g (1 - g): no cancellation for u < 0
        g, h = vm.sigmoid(two * u), vm.sigmoid(-two * u)
        grad = d * (g + two * s * g * h * k * (one + _const(s, 3) * c * s * s))
        big = u > _const(s, 20) or u < _const(s, -20)  # tanh is ±1: the limits (reference.backward)
        return grad if not big else (d if u > zero else zero)
    return d if beta * s > threshold else d * vm.sigmoid(beta * s)


# One loop per function, each with its code a constant (literal_unroll), over arrays of the
# compute type: a switch inside one shared loop kept LLVM from vectorising any of them
# (tanh 3.4x slower), and float16's conversions stay out of the ten loops (compile time).
_CODES = tuple(range(len(FNS)))


@njit(**_OPTS)
def _apply_forward(fn, a, o, alpha, beta, threshold):
    for code in literal_unroll(_CODES):
        if fn == code:
            for i in range(o.size):
                v = a[i]
                o[i] = _forward(code, v, _const(v, alpha), _const(v, beta), _const(v, threshold))


@njit(**_OPTS)
def _apply_backward(fn, a, b, o, alpha, beta, threshold):
    for code in literal_unroll(_CODES):
        if fn == code:
            for i in range(o.size):
                v = a[i]
                o[i] = _backward(code, v, b[i], _const(v, alpha), _const(v, beta), _const(v, threshold))


@njit(**_OPTS)
def _run_forward(x, out, fn, alpha, beta, threshold, lo, hi):
    _apply_forward(fn, x[lo:hi], out[lo:hi], alpha, beta, threshold)


@njit(**_OPTS)
def _run_backward(s, d, out, fn, alpha, beta, threshold, lo, hi):
    _apply_backward(fn, s[lo:hi], d[lo:hi], out[lo:hi], alpha, beta, threshold)


_BLOCK = 2048  # float16: blocks converted to float32 and back around the float32 loops


@njit(**_OPTS)
def _run_forward_half(x, out, fn, alpha, beta, threshold, lo, hi):
    a, o = np.empty(_BLOCK, np.float32), np.empty(_BLOCK, np.float32)
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        for i in range(m):
            a[i] = half_to_f32(x[start + i])
        _apply_forward(fn, a[:m], o[:m], alpha, beta, threshold)
        for i in range(m):
            out[start + i] = f32_to_half(o[i])


@njit(**_OPTS)
def _run_backward_half(s, d, out, fn, alpha, beta, threshold, lo, hi):
    a, b, o = np.empty(_BLOCK, np.float32), np.empty(_BLOCK, np.float32), np.empty(_BLOCK, np.float32)
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        for i in range(m):
            a[i], b[i] = half_to_f32(s[start + i]), half_to_f32(d[start + i])
        _apply_backward(fn, a[:m], b[:m], o[:m], alpha, beta, threshold)
        for i in range(m):
            out[start + i] = f32_to_half(o[i])


_KERNELS = {(False, False): _run_forward, (True, False): _run_backward,
            (False, True): _run_forward_half, (True, True): _run_backward_half}


# ---- MKL's VML ---------------------------------------------------------------------

_EXP, _TANH, _LOG = (FNS[name] for name in ("exp", "tanh", "log"))
# The functions VML computes faster than vecmath (4M float32 on the 2-core Xeon, 2 threads:
# exp 1.4 -> 0.9 ms, tanh 2.4 -> 1.0, log 1.4 -> 0.8). Not gelu: vmsCdfNorm then x times
# it, block by block, took 8 ms where each alone took 2 and 1.8 (one thread), for reasons
# not found; the gradients need no transcendental function VML has.
VML_FUNCTIONS = ("exp", "tanh", "log")
_VML_BLOCK = 1 << 17  # VML costs ~4 us a call: 16K-element blocks were 1.5x slower than one call


@njit(**_OPTS)
def _run_forward_vml(x, out, fn, alpha, beta, threshold, lo, hi):
    single, previous = x.itemsize == 4, set_num_threads_local(1)  # MKL starts no threads of its own
    mode = np.int64(mkl.MODE)
    for start in range(lo, hi, _VML_BLOCK):
        m, src, dst = np.int32(min(_VML_BLOCK, hi - start)), address(x, start), address(out, start)
        if fn == _EXP:
            vmsExp(m, src, dst, mode) if single else vmdExp(m, src, dst, mode)
        elif fn == _TANH:
            vmsTanh(m, src, dst, mode) if single else vmdTanh(m, src, dst, mode)
        else:  # log: _vml_supports admits these three alone
            vmsLn(m, src, dst, mode) if single else vmdLn(m, src, dst, mode)
    set_num_threads_local(previous)


def _launcher(kernel_of):
    """build(problem, config) for a variant whose kernel for an output dtype is kernel_of(dtype)."""
    def build(problem: Problem, config: dict):
        fn, grain = np.int64(FNS[problem.flag("fn")]), config["grain"]

        def launch(*arrays, alpha=1.0, beta=1.0, threshold=20.0):
            out = output_pool.empty(arrays[0].shape, arrays[0].dtype)
            n = out.size
            if n:
                parallel_for(kernel_of(out.dtype), n, grain, *(_bits(a) for a in arrays), _bits(out), fn,
                             float(alpha), float(beta), float(threshold), align=64)
            return out

        return launch

    return build


def _vml_supports(problem: Problem) -> bool:
    return problem.dtype in ("float32", "float64") and problem.flag("fn") in VML_FUNCTIONS and mkl.available()


def _vml_build(problem: Problem, config: dict):
    if not mkl.available():  # a tuned choice read on a machine without MKL: its symbols are not loaded
        raise NotImplementedError(f"mkl: {mkl.unavailable_reason()}")
    return _launcher(lambda dtype: _run_forward_vml)(problem, config)


_GRAINS = {"grain": (1 << 14, 1 << 16, 1 << 18)}


def _variants(grad: bool) -> list[Variant]:
    vml = [Variant("mkl", "cpu", _vml_build, space=_GRAINS, default=lambda p: {"grain": 1 << 16},
                   supports=_vml_supports)]  # first: where it serves, the untuned choice
    return [
        *([] if grad else vml),
        Variant("numba", "cpu", _launcher(lambda dtype: _KERNELS[grad, dtype == np.float16]), space=_GRAINS,
                default=lambda p: {"grain": 1 << 16}),
        Variant("numpy", "cpu", baseline.formulas("numpy", grad), baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(False)


def backward_variants() -> list[Variant]:
    return _variants(True)
