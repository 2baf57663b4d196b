// Reductions over axis 1 of a contiguous (outer, n, inner) array, OpenCL C, for PoCL on
// CPUs and the NVIDIA driver on GPUs.
//
// Defines: KIND = x's dtype (0 float16, 1 float32, 2 float64, 3 bool, 4 int8, 5 uint8,
// 6 int16, 7 int32, 8 int64; the kernels of the fixed tree take 0-2, the serial baseline
// every kind); FP64 = 1 where the device has doubles (a mean divides in double there).
// The op is a run-time argument (0 sum, 1 max, 2 min, 3 argmax; `mean` divides a sum),
// as are the work-group sizes (local memory comes as an argument), so one program per
// dtype serves every op and configuration (PoCL spends ~0.5 s building one).
//
// The fixed tree (hakl/kernels/reduction/__init__.py): chunks of LANES * STEPS elements
// along n; lane j of a chunk combines its elements j, j + 32, ... in order from the
// identity; lanes fold by halving (j with j + 16, then j + 8, ...); chunk values combine
// level by level (2i with 2i + 1, an odd last one carried). chunk_rows and chunk_cols
// compute chunk values (chunk_rows also combines each work-group's aligned run of chunks,
// a node of the same tree), `tree` combines what they leave per output and writes it.
// float16 is storage only (vload_half / vstore_half_rte); offsets are 64-bit.

#if defined(FP64) || KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define LANES 32
#define STEPS 32
#define CHUNK (LANES * STEPS)
#define ARGMAX 3

#if KIND == 0
typedef half T;
typedef float A;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#elif KIND == 1
typedef float T;
typedef float A;
#elif KIND == 2
typedef double T;
typedef double A;
#else
#define IS_INT 1
typedef long A;
#if KIND == 3 || KIND == 5
typedef uchar T;
#elif KIND == 4
typedef char T;
#elif KIND == 6
typedef short T;
#elif KIND == 7
typedef int T;
#else
typedef long T;
#endif
#endif
#ifndef LOAD
#define LOAD(p, i) ((A)(p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

#ifdef IS_INT
typedef long O;  // integer results leave as int64 (max / min are cast back on the host)
#define IDENT_MAX LONG_MIN
#define IDENT_MIN LONG_MAX
#else
typedef T O;
#define IDENT_MAX (-INFINITY)
#define IDENT_MIN INFINITY
#endif

#if defined(FP64) && !defined(IS_INT)
typedef double M;  // what a mean divides in
#else
typedef A M;
#endif

inline A identity(int op)
{
    return op == 0 ? (A)0 : (op == 2 ? (A)IDENT_MIN : (A)IDENT_MAX);
}

// sum / max / min of a (the earlier elements) and b: the selects every backend uses
// (max: a > b ? a : b, then a where a is NaN), so ties of -0.0 and +0.0 resolve alike.
inline A combine(int op, A a, A b)
{
    A t = op == 0 ? a + b : (op == 1 ? (a > b ? a : b) : (a < b ? a : b));
    return (op != 0 && a != a) ? a : t;
}

// argmax's combine: NaN first, then the larger value, then the smaller index. It does
// not depend on the order of its arguments, so any tree finds the first maximum.
inline void pick(A *va, long *ia, A vb, long ib)
{
    int an = *va != *va, bn = vb != vb;
    int take = (an || bn) ? (bn && (!an || ib < *ia)) : (vb > *va || (vb == *va && ib < *ia));
    if (take) {
        *va = vb;
        *ia = ib;
    }
}

// The level-by-level tree over v[0 .. count) (and their indices for argmax), in place.
inline void combine_levels(int op, __local A *v, __local long *ix, int count)
{
    while (count > 1) {
        int pairs = count / 2;
        for (int i = 0; i < pairs; i++) {
            if (op == ARGMAX) {
                A a = v[2 * i];
                long ia = ix[2 * i];
                pick(&a, &ia, v[2 * i + 1], ix[2 * i + 1]);
                v[i] = a;
                ix[i] = ia;
            } else {
                v[i] = combine(op, v[2 * i], v[2 * i + 1]);
            }
        }
        if (count % 2) {
            v[pairs] = v[count - 1];
            ix[pairs] = ix[count - 1];
        }
        count = pairs + count % 2;
    }
}

// Baseline: a work-item per output walks its n elements in order.
kernel void serial(global const T *x, long x_off, global O *out, global long *index, long total, long n,
                   long inner, int op, int mean)
{
    long gid = get_global_id(0);
    if (gid >= total)
        return;
    long o = gid / inner, c = gid - o * inner;
    global const T *p = x + x_off + o * n * inner + c;
    A acc = identity(op);
    long at = LONG_MAX;
    for (long i = 0; i < n; i++) {
        if (op == ARGMAX)
            pick(&acc, &at, LOAD(p, i * inner), i);
        else
            acc = combine(op, acc, LOAD(p, i * inner));
    }
    if (op == ARGMAX)
        index[gid] = at;
    else if (mean)
        STORE(out, gid, (M)acc / (M)n);
    else
        STORE(out, gid, acc);
}

#ifndef IS_INT
// A work-item per (o, chunk k, column c): the chunk's 32 lanes in private registers (the
// lane loop unrolls), then the fold; vals / idx are (outer, m, inner).
kernel void chunk_cols(global const T *x, long x_off, global A *vals, global long *idx, long total, long n,
                       long inner, long m, int op)
{
    long gid = get_global_id(0);
    if (gid >= total)
        return;
    long c = gid % inner, rest = gid / inner;
    long k = rest % m, o = rest / m;
    long start = k * CHUNK, count = min((long)CHUNK, n - start);
    global const T *p = x + x_off + (o * n + start) * inner + c;
    A acc[LANES];
    long arg[LANES];
#pragma unroll
    for (int j = 0; j < LANES; j++) {
        acc[j] = identity(op);
        arg[j] = LONG_MAX;
    }
    for (int s = 0; s < STEPS; s++) {
#pragma unroll
        for (int j = 0; j < LANES; j++) {
            long i = s * LANES + j;
            if (i < count) {
                A v = LOAD(p, i * inner);
                if (op == ARGMAX)
                    pick(&acc[j], &arg[j], v, start + i);
                else
                    acc[j] = combine(op, acc[j], v);
            }
        }
    }
#pragma unroll
    for (int off = LANES / 2; off > 0; off /= 2) {
#pragma unroll
        for (int j = 0; j < off; j++) {
            if (op == ARGMAX)
                pick(&acc[j], &arg[j], acc[j + off], arg[j + off]);
            else
                acc[j] = combine(op, acc[j], acc[j + off]);
        }
    }
    vals[gid] = acc[0];  // gid = (o * m + k) * inner + c
    if (op == ARGMAX)
        idx[gid] = arg[0];
}

// inner == 1: a work-group per (row, run of `warps` chunks), 32 work-items per chunk,
// each a lane (neighbouring work-items on neighbouring elements: coalesced on a GPU).
// The lanes fold in local memory; the run's chunk values combine level by level (an
// aligned run of a power-of-two count is one node of the tree) into vals / idx
// (rows, runs). `lv`, `li`: local memory of the work-group's size.
kernel void chunk_rows(global const T *x, long x_off, global A *vals, global long *idx, long n, long m, int op,
                       local A *lv, local long *li)
{
    int lid = get_local_id(0), lane = lid % LANES, warps = get_local_size(0) / LANES;
    long g = get_group_id(0), runs = (m + warps - 1) / warps;
    long row = g / runs, run = g - row * runs;
    long k = run * warps + lid / LANES;
    A acc = identity(op);
    long at = LONG_MAX;
    if (k < m) {
        global const T *p = x + x_off + row * n + k * CHUNK;
        long count = min((long)CHUNK, n - k * CHUNK);
        for (int s = 0; s < STEPS; s++) {
            long i = s * LANES + lane;
            if (i < count) {
                if (op == ARGMAX)
                    pick(&acc, &at, LOAD(p, i), k * CHUNK + i);
                else
                    acc = combine(op, acc, LOAD(p, i));
            }
        }
    }
    lv[lid] = acc;
    li[lid] = at;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = LANES / 2; off > 0; off /= 2) {
        if (lane < off) {
            if (op == ARGMAX) {
                A a = lv[lid];
                long ia = li[lid];
                pick(&a, &ia, lv[lid + off], li[lid + off]);
                lv[lid] = a;
                li[lid] = ia;
            } else {
                lv[lid] = combine(op, lv[lid], lv[lid + off]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        int valid = (int)min((long)warps, m - run * warps);
        for (int w = 1; w < valid; w++) {  // the chunk values side by side
            lv[w] = lv[w * LANES];
            li[w] = li[w * LANES];
        }
        combine_levels(op, lv, li, valid);
        vals[g] = lv[0];
        if (op == ARGMAX)
            idx[g] = li[0];
    }
}

// A work-item per output (o, c): the level-by-level tree over vals[o, 0 .. m, c] (in
// place), then the result: the index (argmax), the sum over n (mean), or the value.
kernel void tree(global A *vals, global long *idx, global O *out, global long *index, long total, long m,
                 long inner, long n, int op, int mean)
{
    long gid = get_global_id(0);
    if (gid >= total)
        return;
    long o = gid / inner, c = gid - o * inner;
    global A *v = vals + o * m * inner + c;
    global long *ix = idx + o * m * inner + c;
    for (long count = m; count > 1;) {
        long pairs = count / 2;
        for (long i = 0; i < pairs; i++) {
            if (op == ARGMAX) {
                A a = v[2 * i * inner];
                long ia = ix[2 * i * inner];
                pick(&a, &ia, v[(2 * i + 1) * inner], ix[(2 * i + 1) * inner]);
                v[i * inner] = a;
                ix[i * inner] = ia;
            } else {
                v[i * inner] = combine(op, v[2 * i * inner], v[(2 * i + 1) * inner]);
            }
        }
        if (count % 2) {
            v[pairs * inner] = v[(count - 1) * inner];
            if (op == ARGMAX)
                ix[pairs * inner] = ix[(count - 1) * inner];
        }
        count = pairs + count % 2;
    }
    if (op == ARGMAX)
        index[gid] = ix[0];
    else if (mean)
        STORE(out, gid, (M)v[0] / (M)n);
    else
        STORE(out, gid, v[0]);
}

// The gradients, a work-item per element of dx (outer, n, inner): dout (outer, inner)
// broadcast (sum), divided by n (mean), or where x == out (max and min: every tie).
kernel void grad(global const T *x, long x_off, global const T *out, long out_off, global const T *dout,
                 long dout_off, global T *dx, long total, long n, long inner, int op, int mean)
{
    long gid = get_global_id(0);
    if (gid >= total)
        return;
    long k = gid / (n * inner) * inner + gid % inner;
    A d = LOAD(dout + dout_off, k);
    A v;
    if (op == 0)
        v = mean ? d / (A)n : d;
    else
        v = LOAD(x + x_off, gid) == LOAD(out + out_off, k) ? d : (A)0;
    STORE(dx, gid, v);
}
#endif
