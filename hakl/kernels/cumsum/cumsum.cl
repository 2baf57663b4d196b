// cumsum over axis 1 of a contiguous (outer, n, inner) array, OpenCL.
//
// Defines: KIND = 0 float16, 1 float32, 2 float64, 3 int32, 4 int64; CARRY, the type
// of the sums and offsets passed between kernels (double for float32 where the
// device has it, so the error does not grow with the number of segments); WG
// work-items per group; ITEMS elements per work-item per segment (row kernels);
// FP64 when double is used.
//
// OpenCL 1.2 does not promise that a work-group waits safely on another, so there is
// no single-pass look-back here: long scans are reduce-then-scan. row_sums / col_sums
// write one sum per segment (chunk), the host scans those sums with the same kernels
// (exclusive), and row_scan / col_scan scan each segment from its offset: x is read
// twice, y written once. Short rows and many columns need only the scan kernel.
//
// float16 is a storage type (vload_half / vstore_half_rte, no cl_khr_fp16); integers
// scan in unsigned arithmetic, which wraps like Paddle's int32 / int64 kernels.

#ifdef FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if KIND == 0
typedef half T;
typedef float ACC;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(v, p, i) vstore_half_rte((float)(v), (i), (p))
#else
#if KIND == 1
typedef float T;
typedef float ACC;
#elif KIND == 2
typedef double T;
typedef double ACC;
#elif KIND == 3
typedef int T;
typedef uint ACC;
#else
typedef long T;
typedef ulong ACC;
#endif
#define LOAD(p, i) ((ACC)(p)[i])
#define STORE(v, p, i) ((p)[i] = (T)(v))
#endif

#ifndef WG
#define WG 128
#endif
#ifndef ITEMS
#define ITEMS 8
#endif

// Baseline: one work-item per (outer, column) walking the axis.
__kernel void scan_serial(__global const T *x, __global T *y, long outer, long n, long inner, int exclusive,
                          int reverse)
{
    const long id = get_global_id(0);
    if (id >= outer * inner) return;
    const long o = id / inner, col = id - o * inner;
    __global const T *xo = x + o * n * inner + col;
    __global T *yo = y + o * n * inner + col;
    ACC acc = 0;
    for (long s = 0; s < n; ++s) {
        const long at = (reverse ? n - 1 - s : s) * inner;
        const ACC after = acc + LOAD(xo, at);
        STORE(exclusive ? acc : after, yo, at);
        acc = after;
    }
}

// ---- rows (inner == 1): group g scans segment g % nseg of row g / nseg ----------------

__kernel void row_sums(__global const T *x, __global CARRY *sums, long n, long nseg, int reverse)
{
    __local CARRY part[WG];
    const long g = get_group_id(0), row = g / nseg, s0 = (g - row * nseg) * (WG * ITEMS);
    const int lid = get_local_id(0);
    __global const T *xr = x + row * n;
    ACC acc = 0;
    for (int k = 0; k < ITEMS; ++k) {
        const long s = s0 + k * WG + lid;  // striped: coalesced
        if (s < n) acc += LOAD(xr, reverse ? n - 1 - s : s);
    }
    part[lid] = (CARRY)acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int d = WG / 2; d > 0; d >>= 1) {
        if (lid < d) part[lid] += part[lid + d];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) sums[g] = part[0];
}

__kernel void row_scan(__global const T *x, __global T *y, __global const CARRY *offsets, int has_offsets, long n,
                       long nseg, int exclusive, int reverse)
{
    __local ACC tile[WG * ITEMS];
    __local ACC totals[WG];
    const long g = get_group_id(0), row = g / nseg, s0 = (g - row * nseg) * (WG * ITEMS);
    const int lid = get_local_id(0);
    __global const T *xr = x + row * n;
    __global T *yr = y + row * n;
    for (int k = 0; k < ITEMS; ++k) {  // striped loads into local memory
        const long s = s0 + k * WG + lid;
        tile[k * WG + lid] = s < n ? LOAD(xr, reverse ? n - 1 - s : s) : (ACC)0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    ACC t = 0;  // each work-item scans ITEMS consecutive elements
    for (int k = 0; k < ITEMS; ++k) {
        const ACC after = t + tile[lid * ITEMS + k];
        tile[lid * ITEMS + k] = exclusive ? t : after;
        t = after;
    }
    totals[lid] = t;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int d = 1; d < WG; d <<= 1) {  // inclusive scan of the work-items' totals
        const ACC add = lid >= d ? totals[lid - d] : (ACC)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        totals[lid] += add;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const ACC before = lid > 0 ? totals[lid - 1] : (ACC)0;
    for (int k = 0; k < ITEMS; ++k) tile[lid * ITEMS + k] += before;
    barrier(CLK_LOCAL_MEM_FENCE);
    const CARRY base = has_offsets ? offsets[g] : (CARRY)0;
    for (int k = 0; k < ITEMS; ++k) {
        const long s = s0 + k * WG + lid;
        if (s < n) STORE(base + (CARRY)tile[k * WG + lid], yr, reverse ? n - 1 - s : s);
    }
}

// ---- columns: work-item (o, chunk, block of COLS columns), chunks of `ch` scan rows ----
//
// COLS = 1 on GPUs: neighbouring work-items take neighbouring columns, so every
// load and store coalesces. A CPU device runs a work-group's work-items one after
// another, so there a work-item walks COLS adjacent columns itself (a contiguous,
// vectorisable inner loop) instead of one column with a stride of `inner`.

#ifndef COLS
#define COLS 1
#endif

#define COLUMN_BLOCK                                                                  \
    const long blocks = (inner + COLS - 1) / COLS;                                     \
    const long id = get_global_id(0);                                                  \
    if (id >= outer * nchunks * blocks) return;                                        \
    const long rest = id / blocks, col0 = (id - rest * blocks) * COLS;                 \
    const long o = rest / nchunks, c = rest - o * nchunks;                             \
    /* the columns this work-item walks: a constant 1 when COLS is, so the loops vanish */ \
    const int w = COLS == 1 ? 1 : (int)min((long)COLS, inner - col0);                 \
    const long end = min(n, (c + 1) * ch);                                             \
    __global const T *xo = x + o * n * inner + col0;

__kernel void col_sums(__global const T *x, __global CARRY *sums, long outer, long n, long inner, long nchunks,
                       long ch, int reverse)
{
    COLUMN_BLOCK
    CARRY acc[COLS];
    for (int j = 0; j < COLS; ++j) acc[j] = 0;
    for (long s = c * ch; s < end; ++s) {
        const long at = (reverse ? n - 1 - s : s) * inner;
        for (int j = 0; j < w; ++j) acc[j] += (CARRY)LOAD(xo, at + j);
    }
    for (int j = 0; j < w; ++j) sums[rest * inner + col0 + j] = acc[j];  // sums is (outer, nchunks, inner)
}

__kernel void col_scan(__global const T *x, __global T *y, __global const CARRY *offsets, int has_offsets,
                       long outer, long n, long inner, long nchunks, long ch, int exclusive, int reverse)
{
    COLUMN_BLOCK
    __global T *yo = y + o * n * inner + col0;
    // A column is walked one element at a time, so it runs in CARRY: the error stays a
    // few ulps of the running sum however long the chunk.
    CARRY run[COLS];
    for (int j = 0; j < COLS; ++j) run[j] = has_offsets && j < w ? offsets[rest * inner + col0 + j] : (CARRY)0;
    for (long s = c * ch; s < end; ++s) {
        const long at = (reverse ? n - 1 - s : s) * inner;
        for (int j = 0; j < w; ++j) {
            const CARRY after = run[j] + (CARRY)LOAD(xo, at + j);
            STORE(exclusive ? run[j] : after, yo, at + j);
            run[j] = after;
        }
    }
}
