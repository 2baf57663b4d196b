"""softmax on CUDA: a CuPy baseline and four CUDA C++ kernel families.

Every variant sees a contiguous (outer, n, inner) array and normalises over n.

    variant     layout              idea (see the .cu file of the same name)
    warp_row    inner == 1, short   a group of lanes per row, the row in registers
    block_row   inner == 1, long    a block (or a cluster of blocks) per row, the row in registers
    online_row  inner == 1, any n   online (max, sum) pass, then an output pass
    cols        inner > 1           threads along inner, each walks n with online (max, sum)
    cupy        any                 max, exp, sum, divide as CuPy calls (the baseline)

The forward moves 2 * size * itemsize bytes at minimum (read x, write y), the
backward 3 * size * itemsize. Kernels compile with NVRTC through CuPy, with
the dtype, direction and the tuning parameters that size registers as -D
defines (block sizes that do not are launch parameters, so one module serves
them all); softmax.cu (shared helpers) is prepended to each family's file.
Sizes derived from n use its power-of-two bucket, so one compiled kernel
serves every problem of a tuning bucket. The variant list is in heuristic
order: the first that supports a problem is the better guess for it.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ...backends import get as get_backend
from ...backends.cuda import CUDABackend
from ...op import Problem, Variant
from . import baseline

HERE = Path(__file__).parent
COMMON = HERE / "softmax.cu"
DTYPE_CODE = {"float16": 0, "float32": 1, "float64": 2}
# The device's limit rounded down to a multiple of 1024, so of every cluster size: the
# launcher's clamp then leaves a clustered grid a whole number of clusters.
MAX_GRID = CUDABackend.MAX_GRID // 1024 * 1024
ROW_MAX = 1024  # warp_row's longest row; longer rows go to block_row / online_row
SHARED_PER_SM = 228 << 10  # H100; only sizes online_row's occupancy cap


@functools.lru_cache(maxsize=None)
def _source(name: str) -> str:
    return COMMON.read_text() + "\n" + (HERE / name).read_text()


def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _vec(problem: Problem) -> int:
    """Elements per 16-byte pack."""
    return 16 // problem.np_dtype.itemsize


def _backward(problem: Problem) -> bool:
    return problem.op != "softmax"


def _values_max(problem: Problem) -> int:
    """Accumulators a thread may keep in registers: 32 registers' worth, half of
    that in the backward (it holds y and dy), half again in float64."""
    return 32 // (2 if _backward(problem) else 1) // (2 if problem.dtype == "float64" else 1)


def _cluster_to_fill(units: int) -> int:
    """Blocks per cluster so that `units` independent pieces of work fill the SMs twice."""
    sms = get_backend("cuda").multiprocessors()
    return 1 if units >= 2 * sms else min(8, _pow2(-(-2 * sms // units)))


def _defines(problem: Problem, **tunables) -> dict:
    return dict(DTYPE=DTYPE_CODE[problem.dtype], BACKWARD=int(_backward(problem)), **tunables)


def _kernel(file: str, problem: Problem, defines: dict):
    module = get_backend("cuda").compile(_source(file), defines)
    return module.get_function(f"softmax_{file[:-3]}_{'bwd' if _backward(problem) else 'fwd'}")


def _launcher(problem: Problem, fn, block: int, grid_of, cols_tx: int = 0, shared: int = 0):
    """Launch `fn` over (outer, n, inner) inputs with `grid_of(outer, n, inner)` blocks.
    Packs are 16-byte loads when every input is 16-byte aligned and the contiguous
    extent (n for rows, inner for cols) is a multiple of the pack. The launch is
    on the timed path of every call, so it does little: the compiled function is
    called directly and the constant arguments are made once."""
    import cupy as cp

    if shared:
        # Above 48 KB (static + dynamic) needs an opt-in. The cap belongs to the function,
        # which every configuration of the module shares: set it to the device's limit,
        # the same value each time, so that no build lowers it below another's need.
        fn.max_dynamic_shared_size_bytes = get_backend("cuda").shared_optin() - fn.shared_size_bytes
    kernel = fn.kernel  # cupy.cuda.Function: skips RawKernel's per-call device lookup
    width, blocks = _vec(problem), (block,)
    flags = {vec: (np.int32(bool(problem.flag("log"))), np.int32(vec)) for vec in (False, True)}
    tail = (np.int32(cols_tx),) if cols_tx else ()

    def launch(*inputs):
        outer, n, inner = inputs[0].shape
        out = cp.empty_like(inputs[0])
        vec = (inner if cols_tx else n) % width == 0
        for a in inputs:
            vec = vec and a.data.ptr % 16 == 0
        sizes = (outer, n, inner) if cols_tx else (outer, n)  # Python ints pass as 64-bit
        grid = min(max(grid_of(outer, n, inner), 1), MAX_GRID)
        kernel((grid,), blocks, (*inputs, out, *sizes, *flags[vec], *tail), shared)
        return out

    return launch


def _rows(problem: Problem, lo: int, hi: int) -> bool:
    """A last-axis problem with lo < n <= hi."""
    return problem.dtype in DTYPE_CODE and problem.shape[2] == 1 and lo < problem.shape[1] <= hi


# ---- warp_row --------------------------------------------------------------------


def _warp_geometry(problem: Problem) -> tuple[int, int]:
    """(GROUP lanes per row, PACKS per lane) covering n's power-of-two bucket."""
    vec, cap = _vec(problem), _pow2(problem.shape[1])
    return min(32, max(1, cap // vec)), max(1, cap // (32 * vec))


def _warp_supports(problem: Problem) -> bool:
    # a lane holds at most twice the value budget of one row
    return _rows(problem, 0, min(ROW_MAX, 32 * 2 * _values_max(problem)))


def _warp_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    group, packs = _warp_geometry(problem)
    return _source("warp_row.cu"), _defines(problem, GROUP=group, PACKS=packs, ROWS=config["ROWS"])


def _warp_valid(problem: Problem, config: dict) -> bool:
    _, packs = _warp_geometry(problem)
    return config["ROWS"] == 1 or config["ROWS"] * packs * _vec(problem) <= 2 * _values_max(problem)


def _warp_default(problem: Problem) -> dict:
    # measured on an H100: one row per group and step is best or within noise of it
    # at every row length, 128-thread blocks likewise
    return {"ROWS": 1, "BLOCK": 128}


def _warp_build(problem: Problem, config: dict):
    _, defines = _warp_unit(problem, config)
    per_block = config["BLOCK"] // defines["GROUP"] * config["ROWS"]
    return _launcher(problem, _kernel("warp_row.cu", problem, defines), config["BLOCK"],
                     lambda outer, n, inner: -(-outer // per_block))


# ---- block_row -------------------------------------------------------------------


def _block_packs(problem: Problem, config: dict) -> int:
    return _pow2(problem.shape[1]) // (config["CLUSTER"] * config["BLOCK"] * _vec(problem))


def _block_supports(problem: Problem) -> bool:
    # Rows one block holds; longer ones over a cluster only when each block still reads
    # 128 KB per row (measured on an H100: float16 rows of 262144 over 8 blocks ran at
    # 45-60% of copy, online_row at 63%).
    per_block = 1024 * _values_max(problem)
    clustered = per_block * problem.np_dtype.itemsize * (2 if _backward(problem) else 1) >= 128 << 10
    return _rows(problem, ROW_MAX // 2, per_block * (8 if clustered else 1))


def _block_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source("block_row.cu"), _defines(problem, BLOCK=config["BLOCK"], PACKS=_block_packs(problem, config),
                                             CLUSTER=config["CLUSTER"])


def _block_valid(problem: Problem, config: dict) -> bool:
    values, budget = _block_packs(problem, config) * _vec(problem), _values_max(problem)
    # twice the value budget fits when blocks are small enough to leave registers free;
    # a cluster only for rows that 1024 threads cannot hold at half the budget
    return _vec(problem) <= values <= budget * (1 if config["BLOCK"] >= 512 else 2) and \
        (config["CLUSTER"] == 1 or _pow2(problem.shape[1]) > 1024 * budget // 2)


def _block_default(problem: Problem) -> dict:
    threads = max(_pow2(problem.shape[1]) // _values_max(problem), 128)  # per row: the full value budget each
    cluster = min(8, max(1, threads // 1024))
    return {"BLOCK": min(1024, threads // cluster), "CLUSTER": cluster}


def _block_build(problem: Problem, config: dict):
    _, defines = _block_unit(problem, config)
    cluster = config["CLUSTER"]
    return _launcher(problem, _kernel("block_row.cu", problem, defines), config["BLOCK"],
                     lambda outer, n, inner: min(outer, MAX_GRID // cluster) * cluster)


# ---- online_row ------------------------------------------------------------------

L2_SHARE = 20 << 20  # bytes of row chunks in flight that pass 2 can still expect to find in L2


def _online_unroll(problem: Problem) -> int:
    """Packs in flight per thread: 16 values (8 in the backward)."""
    return max(1, _values_max(problem) // 2 // _vec(problem))


def _online_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source("online_row.cu"), _defines(problem, UNROLL=_online_unroll(problem), CLUSTER=config["CLUSTER"])


def _online_working_set(problem: Problem, cluster: int, occupancy: int) -> int:
    """Bytes of the row chunks that the resident blocks read in pass 1 and again in pass 2."""
    rows, n, _ = problem.shape
    row_bytes = n * problem.np_dtype.itemsize * (2 if _backward(problem) else 1)
    return min(rows * cluster, get_backend("cuda").multiprocessors() * occupancy) * -(-row_bytes // cluster)


def _online_valid(problem: Problem, config: dict) -> bool:
    # a block step no longer than the block's share of the row; the chunks of the
    # resident blocks fit in L2 (or are as small as the variant can make them)
    step = config["BLOCK"] * _online_unroll(problem) * _vec(problem)
    fits = max(L2_SHARE, _online_working_set(problem, 8, 1))
    return step <= -(-_pow2(problem.shape[1]) // config["CLUSTER"]) and \
        _online_working_set(problem, config["CLUSTER"], config["OCC"]) <= fits


def _online_default(problem: Problem) -> dict:
    """Two resident blocks per SM (then one, then four), then the smallest cluster that
    fills the SMs, whose chunks fit in L2: the best measured configuration at every row
    length of the H100 benchmarks (4096 to 262144, float32 and float16)."""
    fill = _cluster_to_fill(problem.shape[0])
    preferred = [{"BLOCK": block, "CLUSTER": cluster, "OCC": occ} for occ in (2, 1, 4)
                 for cluster in sorted((1, 2, 4, 8), key=lambda c: (c < fill, c)) for block in (512, 256)]
    return next((c for c in preferred if _online_valid(problem, c)), {"BLOCK": 256, "CLUSTER": 1, "OCC": 4})


def _online_build(problem: Problem, config: dict):
    _, defines = _online_unit(problem, config)
    cluster = config["CLUSTER"]
    # dynamic shared memory (unused) caps the resident blocks per SM at OCC
    shared = SHARED_PER_SM // (config["OCC"] + 1) + 1024
    return _launcher(problem, _kernel("online_row.cu", problem, defines), config["BLOCK"],
                     lambda outer, n, inner: min(outer, MAX_GRID // cluster) * cluster, shared=shared)


# ---- cols ------------------------------------------------------------------------


def _cols_kpt(problem: Problem, config: dict) -> int:
    """Rows per thread per batch: enough to hold n's bucket in registers when that
    fits the value budget, else the budget (the kernel then streams)."""
    rows_per_batch = config["BLOCK"] // config["TX"] * config["CLUSTER"]
    budget = max(1, _values_max(problem) // _vec(problem))
    return min(budget, _pow2(-(-_pow2(problem.shape[1]) // rows_per_batch)))


def _cols_unit(problem: Problem, config: dict) -> tuple[str, dict]:
    return _source("cols.cu"), _defines(problem, KPT=_cols_kpt(problem, config), CLUSTER=config["CLUSTER"])


def _cols_tx_max(problem: Problem) -> int:
    return min(32, _pow2(-(-problem.shape[2] // _vec(problem))))


def _cols_shared(problem: Problem, config: dict) -> int:
    acc = 8 if problem.dtype == "float64" else 4
    return 2 * (2 * (config["BLOCK"] // 32) + 4) * config["TX"] * _vec(problem) * acc


def _cols_valid(problem: Problem, config: dict) -> bool:
    # tiles at least 4 packs (64 bytes) wide unless inner is narrower, no wider than inner needs;
    # a cluster no larger than it takes to hold n in registers (any when n streams anyway)
    tx, cap = config["TX"], _pow2(problem.shape[1])
    held = config["BLOCK"] // tx * max(1, _values_max(problem) // _vec(problem))
    return min(_cols_tx_max(problem), 4) <= tx <= _cols_tx_max(problem) and \
        _cols_shared(problem, config) <= 48 << 10 and (config["CLUSTER"] * held <= max(cap, held) or cap > 8 * held)


def _cols_default(problem: Problem) -> dict:
    # Measured on an H100: one block per tile, streaming n through L2 when it does
    # not fit in registers, beats splitting n over a cluster; a cluster only when
    # the tiles are too few to fill the SMs.
    outer, n, inner = problem.shape
    vec, block = _vec(problem), 512 if _pow2(n) >= 1024 and inner >= 1024 else 256
    # tiles of 8 packs (128 bytes) unless a narrower one wastes fewer lanes past inner's end
    txs = [tx for tx in (4, 8) if _cols_valid(problem, {"TX": tx, "BLOCK": block, "CLUSTER": 1})] \
        or [_cols_tx_max(problem)]
    tx = min(txs, key=lambda tx: (-(-inner // (tx * vec)) * tx * vec - inner, tx != 8))
    config = {"BLOCK": block, "TX": tx, "CLUSTER": _cluster_to_fill(outer * -(-inner // (tx * vec)))}
    while config["CLUSTER"] > 1 and not _cols_valid(problem, config):
        config["CLUSTER"] //= 2
    return config


def _cols_build(problem: Problem, config: dict):
    _, defines = _cols_unit(problem, config)
    cluster, tw = config["CLUSTER"], config["TX"] * _vec(problem)
    return _launcher(problem, _kernel("cols.cu", problem, defines), config["BLOCK"],
                     lambda outer, n, inner: min(outer * -(-inner // tw), MAX_GRID // cluster) * cluster,
                     cols_tx=config["TX"], shared=_cols_shared(problem, config))


def _variants(cupy_baseline) -> list[Variant]:
    def sources(file: str) -> tuple[Path, ...]:
        return (COMMON, HERE / file)

    return [
        Variant("warp_row", "cuda", _warp_build, space={"ROWS": (1, 2, 4), "BLOCK": (128, 256)},
                supports=_warp_supports, default=_warp_default, valid=_warp_valid,
                sources=sources("warp_row.cu"), compile_unit=_warp_unit),
        Variant("block_row", "cuda", _block_build,
                space={"BLOCK": (128, 256, 512, 1024), "CLUSTER": (1, 2, 4, 8)},
                supports=_block_supports, default=_block_default, valid=_block_valid,
                sources=sources("block_row.cu"), compile_unit=_block_unit),
        Variant("online_row", "cuda", _online_build,
                space={"BLOCK": (256, 512), "CLUSTER": (1, 2, 4, 8), "OCC": (1, 2, 4)},
                supports=lambda p: _rows(p, ROW_MAX, 1 << 62), default=_online_default, valid=_online_valid,
                sources=sources("online_row.cu"), compile_unit=_online_unit),
        Variant("cols", "cuda", _cols_build, space={"BLOCK": (256, 512), "TX": (1, 2, 4, 8, 16, 32),
                                                     "CLUSTER": (1, 2, 4, 8)},
                supports=lambda p: p.dtype in DTYPE_CODE and p.shape[2] > 1, default=_cols_default,
                valid=_cols_valid, sources=sources("cols.cu"), compile_unit=_cols_unit),
        Variant("cupy", "cuda", cupy_baseline, baseline=True),
    ]


def forward_variants() -> list[Variant]:
    return _variants(baseline.forward("cupy"))


def backward_variants() -> list[Variant]:
    return _variants(baseline.backward("cupy"))
