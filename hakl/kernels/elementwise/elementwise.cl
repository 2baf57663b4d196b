// Binary elementwise ops (and sum_to, their gradients' reduction) in OpenCL C, for
// PoCL on CPUs and the NVIDIA driver on GPUs.
//
// Defines: KIND = dtype (0 float16, 1 float32, 2 float64, 3 int32, 4 int64); FP64 = 1
// where the device has doubles (sum_to accumulates float32 in double there).
// The op code, the work-items' mapping and the elements per work-item are run-time
// arguments, so one program per dtype serves every op and configuration (PoCL spends
// ~0.5 s building a program). float16 is storage only (vload_half / vstore_half_rte)
// and computes in float. Offsets and strides are in elements, 64-bit.

#if defined(FP64) || KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if KIND == 0
typedef half S;
typedef float C;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#elif KIND == 1
typedef float S;
typedef float C;
#elif KIND == 2
typedef double S;
typedef double C;
#elif KIND == 3
typedef int S;
typedef int C;
#define IS_INT 1
#else
typedef long S;
typedef long C;
#define IS_INT 1
#endif
#ifndef LOAD
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

#ifdef IS_INT  // divide and pow take floats only: their branches exist to compile
#define DIV(a, b) (a)
#define POW(a, b) (a)
#define LOG(a) (a)
#else
#define DIV(a, b) ((a) / (b))
#define POW(a, b) pow((a), (b))
#define LOG(a) log(a)
#endif

// Codes as in hakl/kernels/elementwise/__init__.py's CODES.
inline C apply(int op, C a, C b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return DIV(a, b);
    case 4: return (a >= b || a != a) ? a : b;  // NaN propagates, as np.maximum
    case 5: return (a <= b || a != a) ? a : b;
    case 6: return POW(a, b);
    case 7: return -(a * b);
    case 8: return a > b ? (C)1 : (C)0;
    case 9: return a <= b ? (C)1 : (C)0;
    case 10: return a < b ? (C)1 : (C)0;
    case 11: return a >= b ? (C)1 : (C)0;
    case 12: return b == 0 ? (C)0 : b * POW(a, b - (C)1);
    default: return (a == 0 && b >= 0) ? (C)0 : POW(a, b) * LOG(a);
    }
}

// A comparison's truth, codes as COMPARISONS (the cmp kernel: a bool output, a byte each).
inline uchar compare(int op, C a, C b)
{
    switch (op) {
    case 0: return a == b;
    case 1: return a != b;
    case 2: return a > b;
    case 3: return a >= b;
    case 4: return a < b;
    default: return a <= b;
    }
}

// out (rows x d3, rows = d0 * d1 * d2) = op(x, y): dimension 1 of the range walks the
// rows, dimension 0 the last axis, `items` elements per work-item: adjacent work-items
// on adjacent elements (blocked = 0: coalesced on a GPU, vectorised across work-items
// by PoCL) or a contiguous block each (blocked = 1). `ew` writes the arithmetic in S,
// `cmp` a comparison's bool.
#define WALK(name, OUT, RESULT)                                                                     \
    kernel void name(global const S* x, long x_off, global const S* y, long y_off, global OUT* out,  \
                     long d1, long d2, long d3, long xs0, long xs1, long xs2, long xs3,              \
                     long ys0, long ys1, long ys2, long ys3, int op, int items, int blocked)         \
    {                                                                                               \
        long row = get_global_id(1);                                                                \
        long gid = get_global_id(0), lanes = get_global_size(0);                                    \
        long r = row;                                                                               \
        long i2 = r % d2;                                                                           \
        r /= d2;                                                                                    \
        long i1 = r % d1, i0 = r / d1;                                                              \
        long xo = x_off + i0 * xs0 + i1 * xs1 + i2 * xs2;                                           \
        long yo = y_off + i0 * ys0 + i1 * ys1 + i2 * ys2;                                           \
        long oo = row * d3;                                                                         \
        for (int k = 0; k < items; k++) {                                                           \
            long j = blocked ? gid * items + k : gid + k * lanes;                                   \
            if (j < d3)                                                                             \
                RESULT(out, oo + j, op, LOAD(x, xo + j * xs3), LOAD(y, yo + j * ys3));              \
        }                                                                                           \
    }
#define ARITHMETIC(out, i, op, a, b) STORE(out, i, apply(op, a, b))
#define COMPARISON(out, i, op, a, b) ((out)[i] = compare(op, a, b))
WALK(ew, S, ARITHMETIC)
WALK(cmp, uchar, COMPARISON)

#if KIND == 0
typedef float A;
#elif KIND == 1 && defined(FP64)
typedef double A;
#else
typedef C A;
#endif

// out[k] = the sum of g over the reduced axes at kept position k: kept axes (k0..k3,
// g strides ks0..ks3) and reduced ones (r0..r3, strides rs0..rs3), padded with extent 1.
kernel void sum_to(global const S* g, global S* out, long n, long k1, long k2, long k3,
                   long ks0, long ks1, long ks2, long ks3, long r0, long r1, long r2, long r3,
                   long rs0, long rs1, long rs2, long rs3)
{
    long k = get_global_id(0);
    if (k >= n)
        return;
    long t = k;
    long i3 = t % k3;
    t /= k3;
    long i2 = t % k2;
    t /= k2;
    long i1 = t % k1, i0 = t / k1;
    long base = i0 * ks0 + i1 * ks1 + i2 * ks2 + i3 * ks3;
    A acc = 0;
    for (long a = 0; a < r0; a++)
        for (long b = 0; b < r1; b++)
            for (long c = 0; c < r2; c++)
                for (long d = 0; d < r3; d++)
                    acc += (A)LOAD(g, base + a * rs0 + b * rs1 + c * rs2 + d * rs3);
    STORE(out, k, (C)acc);
}
