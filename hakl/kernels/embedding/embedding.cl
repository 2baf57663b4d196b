/* embedding lookup and its backward in OpenCL C (PoCL on CPUs, the NVIDIA driver on GPUs).
 *
 * Defines: DTYPE 16 | 32 | 64: one program per dtype. The lookup copies elements as
 * unsigned integers of their size (E), the backward adds in AT (float for half and float).
 * Ids arrive as one buffer bound twice (ids32, ids64) and `wide` says which to read: int32
 * and int64 ids share the program. Offsets are 64-bit.
 *
 * Bad ids (outside [0, num)) are found in the kernels: atomic_min keeps the first bad
 * position (in flat order, so the error names the same id as the CPU), the host reads that
 * one int after the kernel.
 *
 *   emb_fwd_rows    a group per id (ids strided over the groups), items across the row
 *   emb_fwd_elem    a work-item per output element (the baseline)
 *   emb_grad_rows   a group per table row: the row's dout rows, grouped by the host's
 *                   stable sort (perm, offsets), summed in order: deterministic
 *   emb_grad_elem   a work-item per table element, the same sums (the baseline)
 *   emb_grad_atomic float32: a work-item per dout element, atomically added (CAS loop)
 *                   into a zeroed table: fast, the sums' order varies between runs
 */

#if DTYPE == 64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define DT double
#define AT double
#define E ulong
#elif DTYPE == 32
#define DT float
#define AT float
#define E uint
#else
#define DT half
#define AT float
#define E ushort
#endif

#if DTYPE == 16
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half_rte((AT)(v), (i), (p))
#else
#define LD(p, i) ((AT)(p)[i])
#define ST(p, i, v) ((p)[i] = (DT)(v))
#endif

#define ID(j) (wide ? ids64[j] : (long)ids32[j])

inline int checked(long v, long num, long j, __global int *bad_at)
{
    if (v >= 0 && v < num) return 1;
    atomic_min(bad_at, (int)min(j, (long)INT_MAX));
    return 0;
}

__kernel void emb_fwd_rows(__global const E *table, __global const int *ids32, __global const long *ids64, int wide,
                           __global E *out, long n, int dim, long num, long pad, __global int *bad_at)
{
    const int lid = get_local_id(0), wg = get_local_size(0);
    for (long j = get_group_id(0); j < n; j += get_num_groups(0)) {
        const long v = ID(j);
        __global E *o = out + j * dim;
        const int ok = checked(v, num, j, bad_at);
        if (!ok || v == pad) {
            for (int c = lid; c < dim; c += wg) o[c] = 0;
        } else {
            __global const E *t = table + v * dim;
            for (int c = lid; c < dim; c += wg) o[c] = t[c];
        }
    }
}

__kernel void emb_fwd_elem(__global const E *table, __global const int *ids32, __global const long *ids64, int wide,
                           __global E *out, long n, int dim, long num, long pad, __global int *bad_at)
{
    const long i = get_global_id(0);
    if (i >= n * dim) return;
    const long j = i / dim, c = i % dim;
    const long v = ID(j);
    out[i] = (checked(v, num, j, bad_at) && v != pad) ? table[v * dim + c] : (E)0;
}

__kernel void emb_grad_rows(__global const DT *dout, __global const long *perm, __global const long *offsets,
                            __global DT *out, long num, int dim, long pad)
{
    const int lid = get_local_id(0), wg = get_local_size(0);
    for (long v = get_group_id(0); v < num; v += get_num_groups(0)) {
        const long s = offsets[v], e = v == pad ? s : offsets[v + 1];
        for (int c = lid; c < dim; c += wg) {
            AT acc = 0;
            for (long k = s; k < e; k++) acc += LD(dout, perm[k] * dim + c);
            ST(out, v * dim + c, acc);
        }
    }
}

__kernel void emb_grad_elem(__global const DT *dout, __global const long *perm, __global const long *offsets,
                            __global DT *out, long num, int dim, long pad)
{
    const long i = get_global_id(0);
    if (i >= num * dim) return;
    const long v = i / dim, c = i % dim;
    const long s = offsets[v], e = v == pad ? s : offsets[v + 1];
    AT acc = 0;
    for (long k = s; k < e; k++) acc += LD(dout, perm[k] * dim + c);
    ST(out, i, acc);
}

#if DTYPE == 32
inline void atomic_add_f(volatile __global float *p, float v)
{
    union { uint u; float f; } old, next;
    do {
        old.f = *p;
        next.f = old.f + v;
    } while (atomic_cmpxchg((volatile __global uint *)p, old.u, next.u) != old.u);
}

/* out must be zero; the padding row is skipped (it stays zero) */
__kernel void emb_grad_atomic(__global const float *dout, __global const int *ids32, __global const long *ids64,
                              int wide, __global float *out, long n, int dim, long num, long pad, __global int *bad_at)
{
    const long i = get_global_id(0);
    if (i >= n * dim) return;
    const long j = i / dim, c = i % dim;
    const long v = ID(j);
    if (checked(v, num, j, bad_at) && v != pad) atomic_add_f(out + v * dim + c, dout[i]);
}
#endif
