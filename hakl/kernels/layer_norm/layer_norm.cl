/* layer_norm forward and backward over the rows of a contiguous (rows, n) array, in OpenCL C
 * (PoCL on CPUs, the NVIDIA driver on GPUs).
 *
 * Defines: DTYPE 16 | 32 | 64 (storage; half via vload_half / vstore_half, computed in
 * float): one program per dtype. Run time: the work-group size (a power of two; `buf`,
 * the local memory of the group sums, holds one value per item), blocked (1: each
 * work-item a contiguous block of the row, for CPU devices, where PoCL runs a group's
 * items in turn; 0: interleaved, neighbouring items on neighbouring elements, for GPUs),
 * fl (1 = weight given, 2 = bias given). Every branch on them is uniform.
 *
 * Statistics: the corrected two-pass variance (see cpu.py): m0 = mean, then sum(x - m0)
 * and sum((x - m0)^2), mean = m0 + sum(x - m0) / n. Group sums are fixed trees in local
 * memory, so every result is the same on every run. Offsets are 64-bit.
 *
 *   ln_fwd        a group per row (rows strided over the groups)
 *   ln_fwd_item   a work-item per row (the baseline)
 *   ln_bwd        a group per fixed block of rows: dx, and each item adds dout * xhat and
 *                 dout of its own columns into the block's partial row (no two items
 *                 touch one element); ln_bwd_finish adds the blocks' partials in order
 *   ln_bwd_item   a work-item per row, dx only; ln_bwd_cols a work-item per column
 *                 summing over every row (the baseline's dweight, dbias)
 */

#if DTYPE == 64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define DT double
#define AT double
#elif DTYPE == 32
#define DT float
#define AT float
#else
#define DT half
#define AT float
#endif

#if DTYPE == 16
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half_rte((AT)(v), (i), (p))
#else
#define LD(p, i) ((AT)(p)[i])
#define ST(p, i, v) ((p)[i] = (DT)(v))
#endif
#define HAS_W (fl & 1)
#define HAS_B (fl & 2)


/* mean and rstd from m0, sum(x - m0), sum((x - m0)^2); a row with ±inf keeps m0 */
inline void finish_stats(AT m0, AT cs, AT q, int n, AT eps, AT *mu, AT *rs)
{
    const AT cn = cs / n;
    *mu = fabs(m0) < INFINITY ? m0 + cn : m0;
    AT var = q / n - cn * cn;
    var = var < (AT)0 ? (AT)0 : var; /* rounding; NaN stays */
    *rs = (AT)1 / sqrt(var + eps);
}

/* The elements lo, lo + step, ... < hi of a row that work-item lid covers. */
inline void span(int n, int blocked, int *lo, int *hi, int *step)
{
    const int lid = get_local_id(0), wg = get_local_size(0);
    if (blocked) {
        const int chunk = (n + wg - 1) / wg;
        *lo = min(n, lid * chunk);
        *hi = min(n, *lo + chunk);
        *step = 1;
    } else {
        *lo = lid;
        *hi = n;
        *step = wg;
    }
}

/* The group's sum of v, returned to every item: a fixed tree (deterministic). */
inline AT group_sum(__local AT *buf, AT v)
{
    const int lid = get_local_id(0);
    buf[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = get_local_size(0) / 2; o > 0; o >>= 1) {
        if (lid < o) buf[lid] += buf[lid + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const AT total = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

inline AT affine(int fl, __global const DT *w, __global const DT *b, int c, AT v)
{
    if (HAS_W) v *= LD(w, c);
    if (HAS_B) v += LD(b, c);
    return v;
}

__kernel void ln_fwd(__global const DT *x, __global const DT *w, __global const DT *b, __global DT *y,
                     __global AT *mean, __global AT *rstd, long rows, int n, AT eps, int fl, int blocked,
                     __local AT *buf)
{
    const int lid = get_local_id(0);
    int lo, hi, step;
    span(n, blocked, &lo, &hi, &step);
    for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        __global const DT *xr = x + r * n;
        AT s = 0;
        for (int c = lo; c < hi; c += step) s += LD(xr, c);
        const AT m0 = group_sum(buf, s) / n;
        AT cs = 0, q = 0;
        for (int c = lo; c < hi; c += step) {
            const AT d = LD(xr, c) - m0;
            cs += d;
            q += d * d;
        }
        cs = group_sum(buf, cs);
        q = group_sum(buf, q);
        AT mu, rs;
        finish_stats(m0, cs, q, n, eps, &mu, &rs);
        for (int c = lo; c < hi; c += step) ST(y, r * n + c, affine(fl, w, b, c, (LD(xr, c) - mu) * rs));
        if (lid == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

__kernel void ln_fwd_item(__global const DT *x, __global const DT *w, __global const DT *b, __global DT *y,
                          __global AT *mean, __global AT *rstd, long rows, int n, AT eps, int fl)
{
    const long r = get_global_id(0);
    if (r >= rows) return;
    __global const DT *xr = x + r * n;
    AT s = 0;
    for (int c = 0; c < n; c++) s += LD(xr, c);
    const AT m0 = s / n;
    AT cs = 0, q = 0;
    for (int c = 0; c < n; c++) {
        const AT d = LD(xr, c) - m0;
        cs += d;
        q += d * d;
    }
    AT mu, rs;
    finish_stats(m0, cs, q, n, eps, &mu, &rs);
    for (int c = 0; c < n; c++) ST(y, r * n + c, affine(fl, w, b, c, (LD(xr, c) - mu) * rs));
    mean[r] = mu;
    rstd[r] = rs;
}

__kernel void ln_bwd(__global const DT *x, __global const DT *dout, __global const AT *mean,
                     __global const AT *rstd, __global const DT *w, __global DT *dx, __global AT *part,
                     long rows, int n, long per_group, int fl, int blocked, __local AT *buf)
{
    int lo, hi, step;
    span(n, blocked, &lo, &hi, &step);
    const long g = get_group_id(0);
    __global AT *pw = part + g * 2 * n;
    __global AT *pb = pw + n;
    for (int c = lo; c < hi; c += step) {
        pw[c] = 0;
        pb[c] = 0;
    }
    const long r1 = min(rows, (g + 1) * per_group);
    for (long r = g * per_group; r < r1; r++) {
        __global const DT *xr = x + r * n;
        __global const DT *gr = dout + r * n;
        const AT mu = mean[r], rs = rstd[r];
        AT sg = 0, sgx = 0;
        for (int c = lo; c < hi; c += step) {
            const AT xh = (LD(xr, c) - mu) * rs, d = LD(gr, c);
            const AT gw = HAS_W ? d * LD(w, c) : d;
            sg += gw;
            sgx += gw * xh;
            pw[c] += d * xh;
            pb[c] += d;
        }
        const AT a = group_sum(buf, sg) / n, bc = group_sum(buf, sgx) / n;
        for (int c = lo; c < hi; c += step) {
            const AT xh = (LD(xr, c) - mu) * rs, d = LD(gr, c);
            const AT gw = HAS_W ? d * LD(w, c) : d;
            ST(dx, r * n + c, rs * (gw - a - xh * bc));
        }
    }
}

/* dweight and dbias: the groups' partial rows added in group order, a work-item per column */
__kernel void ln_bwd_finish(__global const AT *part, long groups, int n, __global DT *dw, __global DT *db)
{
    const int c = get_global_id(0);
    if (c >= n) return;
    AT sw = 0, sb = 0;
    for (long g = 0; g < groups; g++) {
        sw += part[g * 2 * n + c];
        sb += part[g * 2 * n + n + c];
    }
    ST(dw, c, sw);
    ST(db, c, sb);
}

__kernel void ln_bwd_item(__global const DT *x, __global const DT *dout, __global const AT *mean,
                          __global const AT *rstd, __global const DT *w, __global DT *dx, long rows, int n, int fl)
{
    const long r = get_global_id(0);
    if (r >= rows) return;
    __global const DT *xr = x + r * n;
    __global const DT *gr = dout + r * n;
    const AT mu = mean[r], rs = rstd[r];
    AT sg = 0, sgx = 0;
    for (int c = 0; c < n; c++) {
        const AT xh = (LD(xr, c) - mu) * rs, d = LD(gr, c);
        const AT gw = HAS_W ? d * LD(w, c) : d;
        sg += gw;
        sgx += gw * xh;
    }
    const AT a = sg / n, bc = sgx / n;
    for (int c = 0; c < n; c++) {
        const AT xh = (LD(xr, c) - mu) * rs, d = LD(gr, c);
        const AT gw = HAS_W ? d * LD(w, c) : d;
        ST(dx, r * n + c, rs * (gw - a - xh * bc));
    }
}

__kernel void ln_bwd_cols(__global const DT *x, __global const DT *dout, __global const AT *mean,
                          __global const AT *rstd, __global DT *dw, __global DT *db, long rows, int n)
{
    const int c = get_global_id(0);
    if (c >= n) return;
    AT sw = 0, sb = 0;
    for (long r = 0; r < rows; r++) {
        const AT d = LD(dout, r * n + c);
        sw += d * ((LD(x, r * n + c) - mean[r]) * rstd[r]);
        sb += d;
    }
    ST(dw, c, sw);
    ST(db, c, sb);
}
