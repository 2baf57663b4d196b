// dropout in OpenCL C; philox.cuh (CUDA and OpenCL alike) is prepended by opencl.py.
//
// Defines: DTYPE = 16 (float16: storage only, vload_half/vstore_half, no
// cl_khr_fp16 needed), 32 or 64. Offsets are in elements: pyopencl arrays may
// start inside their buffer.
//
// dropout_simple / apply_mask_simple (baseline): one work-item per element, one
//   Philox call each; `meta` holds slice dropout's merged dims (sizes, then mask
//   strides, 0 for a broadcast dim).
// dropout_vec / apply_mask_vec (flat): a work-item takes groups of 4 elements (one
//   Philox call, 4-wide loads and stores) in a grid-stride loop; the tail (< 4)
//   goes to the first work-items.

#if DTYPE == 64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double T;
typedef double ACC;
typedef double4 ACC4;
#define LOAD(i, p) ((p)[i])
#define STORE(v, i, p) ((p)[i] = (v))
#define LOAD4(i, p) vload4((i), (p))
#define STORE4(v, i, p) vstore4((v), (i), (p))
#elif DTYPE == 32
typedef float T;
typedef float ACC;
typedef float4 ACC4;
#define LOAD(i, p) ((p)[i])
#define STORE(v, i, p) ((p)[i] = (v))
#define LOAD4(i, p) vload4((i), (p))
#define STORE4(v, i, p) vstore4((v), (i), (p))
#else
typedef half T;
typedef float ACC;
typedef float4 ACC4;
#define LOAD(i, p) vload_half((i), (p))
#define STORE(v, i, p) vstore_half_rte((v), (i), (p))
#define LOAD4(i, p) vload_half4((i), (p))
#define STORE4(v, i, p) vstore_half4_rte((v), (i), (p))
#endif

inline long slice_index(long i, __global const long *meta, int ndim, int *first)
{
    long j = 0, rest = i;
    *first = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        long idx = rest % meta[d];
        rest /= meta[d];
        if (meta[ndim + d])
            j += idx * meta[ndim + d];
        else if (idx)
            *first = 0;
    }
    return j;
}

inline ACC4 scaled4(ACC4 v, uint4 keep, ACC scale)
{
    return v * (ACC4)(keep.x ? scale : 0, keep.y ? scale : 0, keep.z ? scale : 0, keep.w ? scale : 0);
}

// ---- baseline: one work-item per element ------------------------------------

__kernel void dropout_simple(__global const T *x, long x_off, __global T *out, __global uchar *mask, long n,
                             uint k0, uint k1, uint o_lo, uint o_hi, ulong threshold, ACC scale, int write_mask,
                             __global const long *meta, int ndim)
{
    long i = get_global_id(0);
    if (i >= n)
        return;
    int first = 1;
    long j = ndim ? slice_index(i, meta, ndim, &first) : i;
    uint4 r = philox4x32_10((ulong)j >> 2, o_lo, o_hi, k0, k1);
    int keep = philox_keep(philox_word(r, (int)(j & 3)), threshold);
    STORE(LOAD(i, x + x_off) * (keep ? scale : (ACC)0), i, out);
    if (write_mask && first)
        mask[j] = (uchar)keep;
}

__kernel void apply_mask_simple(__global const T *dy, long dy_off, __global const uchar *mask, long mask_off,
                                __global T *dx, long n, ACC scale, __global const long *meta, int ndim)
{
    long i = get_global_id(0);
    if (i >= n)
        return;
    int first;
    long j = ndim ? slice_index(i, meta, ndim, &first) : i;
    STORE(LOAD(i, dy + dy_off) * (mask[mask_off + j] ? scale : (ACC)0), i, dx);
}

// ---- groups of 4, grid-stride ------------------------------------------------

__kernel void dropout_vec(__global const T *x, long x_off, __global T *out, __global uchar *mask, long n,
                          uint k0, uint k1, uint o_lo, uint o_hi, ulong threshold, ACC scale, int write_mask)
{
    __global const T *xs = x + x_off;
    const long groups = n / 4;
    for (long g = get_global_id(0); g < groups; g += get_global_size(0)) {
        uint4 r = philox4x32_10((ulong)g, o_lo, o_hi, k0, k1);
        uint4 keep = (uint4)(philox_keep(r.x, threshold), philox_keep(r.y, threshold),
                             philox_keep(r.z, threshold), philox_keep(r.w, threshold));
        STORE4(scaled4(LOAD4(g, xs), keep, scale), g, out);
        if (write_mask)
            vstore4(convert_uchar4(keep), g, mask);
    }
    long t = groups * 4 + get_global_id(0);  // the tail
    if (t < n) {
        uint4 r = philox4x32_10((ulong)t >> 2, o_lo, o_hi, k0, k1);
        int keep = philox_keep(philox_word(r, (int)(t & 3)), threshold);
        STORE(LOAD(t, xs) * (keep ? scale : (ACC)0), t, out);
        if (write_mask)
            mask[t] = (uchar)keep;
    }
}

__kernel void apply_mask_vec(__global const T *dy, long dy_off, __global const uchar *mask, long mask_off,
                             __global T *dx, long n, ACC scale)
{
    __global const T *ys = dy + dy_off;
    __global const uchar *ms = mask + mask_off;
    const long groups = n / 4;
    for (long g = get_global_id(0); g < groups; g += get_global_size(0))
        STORE4(scaled4(LOAD4(g, ys), convert_uint4(vload4(g, ms)), scale), g, dx);
    long t = groups * 4 + get_global_id(0);
    if (t < n)
        STORE(LOAD(t, ys) * (ms[t] ? scale : (ACC)0), t, dx);
}
