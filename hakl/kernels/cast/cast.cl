// cast in OpenCL C, for PoCL on CPUs and the NVIDIA driver on GPUs.
//
// Defines: SRC = source dtype code (0 bool, 1 int8, 2 uint8, 3 int16, 4 int32,
//          5 int64, 6 float16, 7 float32, 8 float64); VEC = elements per vector
//          (cast_vec: 2, 4, 8 or 16). The destination code is a run-time
//          argument: each kernel holds one loop per destination, so a source
//          dtype compiles once (9 programs, not 81: PoCL spends ~0.5 s a program).
// float16 is storage only (vload_half / vstore_half_rte): no cl_khr_fp16 needed.
// x_off is in elements (pyopencl arrays may start inside their buffer).
//
// Rules as in cast.cu and hakl/kernels/cast/__init__.py: int -> int wraps, ->
// float rounds to nearest even, -> bool is != 0, float -> int truncates and, out
// of range or NaN, gives x86-64's answer (INT64_MIN; INT32_MIN, whose low bits
// narrower targets keep).

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

// Type names are macros, not typedefs, so that VEC can be pasted onto them.
#define TYPE_0 uchar
#define TYPE_1 char
#define TYPE_2 uchar
#define TYPE_3 short
#define TYPE_4 int
#define TYPE_5 long
#define TYPE_6 half
#define TYPE_7 float
#define TYPE_8 double
typedef CAT(TYPE_, SRC) S;

// W: the source value once loaded (float16 arrives as float, integers widen to long).
#if SRC == 6
#define W_NAME float
#define LOAD(i, p) vload_half((i), (p))
#define LOADV(i, p) CAT(vload_half, VEC)((i), (p))
#elif SRC >= 7
#define W_NAME CAT(TYPE_, SRC)
#define LOAD(i, p) ((p)[i])
#define LOADV(i, p) CAT(vload, VEC)((i), (p))
#else
#define W_NAME long
#define LOAD(i, p) ((W)(p)[i])
#define LOADV(i, p) CAT(convert_long, VEC)(CAT(vload, VEC)((i), (p)))
#endif
typedef W_NAME W;
typedef CAT(W_NAME, VEC) WV;

// Float -> int, defined everywhere; an integer source is already a long.
#if SRC >= 6
inline int to_i32(W v) { return (v >= (W)-2147483648.0f && v < (W)2147483648.0f) ? (int)v : INT_MIN; }
inline long to_i64(W v)
{
    return (v >= (W)-9223372036854775808.0f && v < (W)9223372036854775808.0f) ? (long)v : LONG_MIN;
}
#else
#define to_i32(v) (v)
#define to_i64(v) (v)
#endif

// One conversion per destination code c, returning R_c: the destination type, or
// for float16 the float (double from float64) that vstore_half rounds.
#define R_0 uchar
#define R_1 char
#define R_2 uchar
#define R_3 short
#define R_4 int
#define R_5 long
#define R_7 float
#define R_8 double
#if SRC == 8
#define R_6 double
#else
#define R_6 float
#endif
inline R_0 conv0(W v) { return (uchar)(v != 0); }
inline R_1 conv1(W v) { return (char)to_i32(v); }  // narrow: the low bits
inline R_2 conv2(W v) { return (uchar)to_i32(v); }
inline R_3 conv3(W v) { return (short)to_i32(v); }
inline R_4 conv4(W v) { return (int)to_i32(v); }
inline R_5 conv5(W v) { return (long)to_i64(v); }
#if SRC <= 5  // |v| >= 65520 is inf either way; below that float is exact
inline R_6 conv6(W v) { return (float)clamp(v, (long)-65520, (long)65520); }
#else
inline R_6 conv6(W v) { return (R_6)v; }
#endif
inline R_7 conv7(W v) { return (float)v; }
#ifdef cl_khr_fp64
inline R_8 conv8(W v) { return (double)v; }
#endif

#define STORE_(c, v, i, p) ((p)[i] = (v))
#define STOREV_(c, v, i, p) CAT(vstore, VEC)((v), (i), (p))
#define STORE_0 STORE_
#define STORE_1 STORE_
#define STORE_2 STORE_
#define STORE_3 STORE_
#define STORE_4 STORE_
#define STORE_5 STORE_
#define STORE_7 STORE_
#define STORE_8 STORE_
#define STORE_6(c, v, i, p) vstore_half_rte((v), (i), (p))
#define STOREV_0 STOREV_
#define STOREV_1 STOREV_
#define STOREV_2 STOREV_
#define STOREV_3 STOREV_
#define STOREV_4 STOREV_
#define STOREV_5 STOREV_
#define STOREV_7 STOREV_
#define STOREV_8 STOREV_
#define STOREV_6(c, v, i, p) CAT(vstore_half, CAT(VEC, _rte))((v), (i), (p))

#define SIMPLE_CASE(c)                                                                           \
    case c:                                                                                      \
        STORE_##c(c, conv##c(LOAD(i, xs)), i, (__global TYPE_##c *)y);                           \
        break;

__kernel void cast_simple(__global const S *x, long x_off, __global uchar *y, long n, int dst)
{
    __global const S *xs = x + x_off;
    long i = get_global_id(0);
    if (i >= n)
        return;
    switch (dst) {
        SIMPLE_CASE(0) SIMPLE_CASE(1) SIMPLE_CASE(2) SIMPLE_CASE(3) SIMPLE_CASE(4)
        SIMPLE_CASE(5) SIMPLE_CASE(6) SIMPLE_CASE(7)
#ifdef cl_khr_fp64
        SIMPLE_CASE(8)
#endif
    }
}

// A work-item converts VEC elements per step of a grid-stride loop; the tail
// (< VEC) goes to the first work-items.
#define VEC_CASE(c)                                                                              \
    case c: {                                                                                    \
        __global TYPE_##c *ys = (__global TYPE_##c *)y;                                          \
        for (long v = get_global_id(0); v < vectors; v += get_global_size(0)) {                  \
            union { WV v; W s[VEC]; } in;                                                        \
            union { CAT(R_##c, VEC) v; R_##c s[VEC]; } out;                                      \
            in.v = LOADV(v, xs);                                                                 \
            for (int k = 0; k < VEC; k++)                                                        \
                out.s[k] = conv##c(in.s[k]);                                                     \
            STOREV_##c(c, out.v, v, ys);                                                         \
        }                                                                                        \
        if (t < n)                                                                               \
            STORE_##c(c, conv##c(LOAD(t, xs)), t, ys);                                           \
        break;                                                                                   \
    }

__kernel void cast_vec(__global const S *x, long x_off, __global uchar *y, long n, int dst)
{
    __global const S *xs = x + x_off;
    const long vectors = n / VEC;
    const long t = vectors * VEC + get_global_id(0);
    switch (dst) {
        VEC_CASE(0) VEC_CASE(1) VEC_CASE(2) VEC_CASE(3) VEC_CASE(4)
        VEC_CASE(5) VEC_CASE(6) VEC_CASE(7)
#ifdef cl_khr_fp64
        VEC_CASE(8)
#endif
    }
}
