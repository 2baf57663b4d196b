/* cross_entropy forward, backward and training (forward + gradient) over axis 1 of a
 * contiguous (outer, C, inner) input. One source for PoCL on CPUs and the NVIDIA driver.
 *
 * Defines (all -D):
 *   DTYPE 16 | 32 | 64   storage type (half via vload_half/vstore_half, computed in float)
 *   LT    int | long     hard label type
 * The op's flags are a run-time bitmask `fl` (uniform branches; one program serves every
 * flag set): SOFT USE_SOFTMAX HAS_WEIGHT GIVEN_LSE PER_ROW, and the mode in bits 5-6:
 * 0 forward (loss, lse), 1 backward (dx from g), 2 train (loss and dx).
 *   ONLINE 1: one read for the row statistics (online max and sum, Milakov & Gimelshein);
 *          0: the max, then the sum (the baseline)
 *   WG    work-items per group; BLOCKED (ce_wg_row): each work-item a contiguous block
 *
 * A "row" is the C elements of one (o, j): x + o * C * inner + j, stride inner, so the
 * class axis not last is read coalesced across neighbouring work-items, never transposed.
 * Offsets are 64-bit. Labels outside [0, C) other than ignore_index set bad[0] (atomic)
 * and the winner writes the value to badv[0]; the host reads the flag once.
 * Reductions are deterministic: each group writes its partial sums (loss, weight) and
 * ce_finish adds the partials in a fixed order.
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
#define ST(p, i, v) vstore_half((AT)(v), (i), (p))
#else
#define LD(p, i) ((AT)(p)[i])
#define ST(p, i, v) ((p)[i] = (DT)(v))
#endif

#ifndef LT
#define LT long
#endif
#define TOLERABLE ((AT)1e20)
#define SOFT (fl & 1)
#define USE_SOFTMAX (fl & 2)
#define HAS_WEIGHT (fl & 4)
#define GIVEN_LSE (fl & 8)  /* the forward's lse is an input (backward) */
#define PER_ROW (fl & 16)
#define MODE ((fl >> 5) & 3)
#define NEED_EXP (USE_SOFTMAX && !GIVEN_LSE)

/* log clamped to ±1e20 (PaddlePaddle's TolerableValue) */
inline AT clamp_log(AT v)
{
    const AT l = log(v);
    return l < -TOLERABLE ? -TOLERABLE : (l > TOLERABLE ? TOLERABLE : l);
}

/* (m, s) += v: s = sum exp(x - m). NaN enters s through exp; -inf adds nothing. */
inline void online_add(AT *m, AT *s, AT v)
{
    if (v > *m) {
        *s = *s * exp(*m - v) + (AT)1;
        *m = v;
    } else if (v != -INFINITY) {
        *s += exp(v - *m);
    }
}

/* (m, s) += (m2, s2) */
inline void online_merge(AT *m, AT *s, AT m2, AT s2)
{
    const AT mn = fmax(*m, m2);
    if (mn == -INFINITY) return;
    *s = *s * exp(*m - mn) + s2 * exp(m2 - mn);
    *m = mn;
}

/* Statistics of the elements c = lo, lo + step, ... < hi of one row (x at stride st):
 * max m and sum s of exp(x - m), and for soft labels sum(l), sum(l * x), sum(l * weight). */
inline void row_stats(int fl, __global const DT *xr, __global const DT *lr, __global const DT *weight, long st,
                      int lo, int hi, int step, AT *m, AT *s, AT *ls, AT *lx, AT *lw)
{
    AT mm = -INFINITY, ss = 0, a = 0, b = 0, c2 = 0;
    const int need_exp = NEED_EXP, soft = SOFT, weighted = HAS_WEIGHT;
#if ONLINE
    for (int c = lo; c < hi; c += step) {
        const AT v = LD(xr, c * st);
        if (need_exp) online_add(&mm, &ss, v);
        if (soft) {
            const AT l = LD(lr, c * st);
            a += l;
            b += l * v;
            if (weighted) c2 += l * LD(weight, c);
        }
    }
#else
    if (need_exp) {
        for (int c = lo; c < hi; c += step) {
            const AT v = LD(xr, c * st);
            mm = v > mm || v != v ? v : mm;  /* NaN-propagating max */
        }
        if (mm == mm && mm != -INFINITY)
            for (int c = lo; c < hi; c += step) ss += exp(LD(xr, c * st) - mm);
        else if (mm != mm)
            ss = NAN;
    }
    if (soft) {
        for (int c = lo; c < hi; c += step) {
            const AT l = LD(lr, c * st);
            a += l;
            b += l * LD(xr, c * st);
            if (weighted) c2 += l * LD(weight, c);
        }
    }
#endif
    *m = mm; *s = ss; *ls = a; *lx = b; *lw = c2;
}

/* gradient of the elements c = lo, lo + step, ... < hi of one row:
 * coef * (softmax - onehot) (soft: coef * (sum(l) * softmax - l)); softmax = exp((x - sh) - sl).
 * Each element is read before it is written (dx may be x). */
inline void row_grad(int fl, __global const DT *xr, __global const DT *lr, __global DT *dr, long st, int lo,
                     int hi, int step, int valid, long lab, AT xl, AT coef, AT sh, AT sl, AT ls)
{
    if (!valid) {
        for (int c = lo; c < hi; c += step) ST(dr, c * st, 0);
    } else if (USE_SOFTMAX && SOFT) {
        for (int c = lo; c < hi; c += step)
            ST(dr, c * st, coef * (ls * exp((LD(xr, c * st) - sh) - sl) - LD(lr, c * st)));
    } else if (USE_SOFTMAX) {
        for (int c = lo; c < hi; c += step)
            ST(dr, c * st, coef * exp((LD(xr, c * st) - sh) - sl));
        if (lab >= lo && lab < hi && (lab - lo) % step == 0)
            ST(dr, lab * st, coef * expm1((xl - sh) - sl));  /* softmax - 1 without cancelling */
    } else if (SOFT) {
        for (int c = lo; c < hi; c += step) {
            const AT l = LD(lr, c * st);
            ST(dr, c * st, l != 0 ? -coef * l / LD(xr, c * st) : (AT)0);
        }
    } else {
        for (int c = lo; c < hi; c += step) ST(dr, c * st, 0);
        if (lab >= lo && lab < hi && (lab - lo) % step == 0) ST(dr, lab * st, -coef / xl);
    }
}

/* One row's label: (valid, lab); flags an out-of-range label. */
inline int take_label(int fl, __global const LT *label, long g, int classes, long ignore, __global int *bad,
                      __global long *badv, long *lab)
{
    *lab = -1;
    if (SOFT) return 1;
    const long v = label[g];
    if (v == ignore) return 0;
    if (v < 0 || v >= classes) {
        if (atomic_cmpxchg(bad, 0, 1) == 0) badv[0] = v;
        return 0;
    }
    *lab = v;
    return 1;
}

/* The row's loss, weight factor, lse and the softmax's (sh, sl) from its statistics
 * (for soft labels without softmax, lx holds -sum(l * clamp_log(x))). */
inline void row_loss(int fl, int valid, long lab, AT xl, AT m, AT s, AT ls, AT lx, AT lw,
                     __global const DT *weight, AT lse_given, AT *loss, AT *w, AT *lse, AT *sh, AT *sl)
{
    if (SOFT)
        *w = HAS_WEIGHT ? lw : (AT)1;
    else
        *w = valid ? (HAS_WEIGHT ? LD(weight, lab) : (AT)1) : (AT)0;  /* an ignored label never indexes weight */
    *sh = 0;
    *sl = 0;
    *lse = 0;
    if (USE_SOFTMAX) {
        if (GIVEN_LSE) {
            *lse = lse_given;
            *sh = lse_given;
        } else {
            if (m == INFINITY) s = NAN;  /* exp(inf - inf): a row holding +inf is NaN, as the reference */
            *sh = m;
            *sl = log(s);
            *lse = m == -INFINITY ? (AT)NAN : m + *sl;
        }
        if (SOFT)
            *loss = *w * (ls * *lse - lx);
        else
            *loss = valid ? *w * ((*sh - xl) + *sl) : (AT)0;
    } else if (SOFT) {
        *loss = *w * lx;
    } else {
        *loss = valid ? -*w * clamp_log(xl) : (AT)0;
    }
}

/* -sum(l * clamp_log(x)) over the elements of a row a work-item owns (soft, use_softmax=0) */
inline AT soft_plain(__global const DT *xr, __global const DT *lr, long st, int lo, int hi, int step)
{
    AT acc = 0;
    for (int c = lo; c < hi; c += step) {
        const AT l = LD(lr, c * st);
        if (l != 0) acc += l * clamp_log(LD(xr, c * st));
    }
    return -acc;
}

inline AT upstream(__global const DT *gd, __global const AT *ga, long g, long gstride, int g_acc)
{
    return g_acc ? ga[0] : LD(gd, g * gstride);
}

/* Group partial sums (loss, w) in local memory, tree order, written by work-item 0. */
inline void group_partial(__local AT *red, AT a, AT b, __global AT *partial)
{
    const int lid = get_local_id(0);
    red[lid] = a;
    red[WG + lid] = b;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = WG / 2; k > 0; k >>= 1) {
        if (lid < k) {
            red[lid] += red[lid + k];
            red[WG + lid] += red[WG + lid + k];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        partial[2 * get_group_id(0)] = red[0];
        partial[2 * get_group_id(0) + 1] = red[WG];
    }
}

#ifdef ITEM
/* A work-item per row (o, j): small C, or the class axis not last (neighbouring
 * work-items read neighbouring columns). */
__kernel void ce_item(__global const DT *x, __global const LT *hard, __global const DT *softl,
                      __global const DT *weight, __global const AT *lse_in, __global const DT *gd,
                      __global const AT *ga, long gstride, int g_acc, __global DT *loss,
                      __global AT *lse_out, __global DT *dx, __global AT *partial, __global int *bad,
                      __global long *badv, long rows, int classes, long inner, long ignore, int fl)
{
    __local AT red[2 * WG];
    const long g = get_global_id(0);
    AT li = 0, wi = 0;
    if (g < rows) {
        const long o = g / inner, j = g % inner;
        const long base = o * classes * inner + j;
        __global const DT *xr = x + base;
        __global const DT *lr = softl + base;
        long lab;
        const int valid = take_label(fl, hard, g, classes, ignore, bad, badv, &lab);
        const AT xl = lab >= 0 ? LD(xr, lab * inner) : (AT)1;
        AT m, s, ls, lx, lw, lse, sh, sl;
        row_stats(fl, xr, lr, weight, inner, 0, classes, 1, &m, &s, &ls, &lx, &lw);
        if (SOFT && !USE_SOFTMAX) lx = soft_plain(xr, lr, inner, 0, classes, 1);
        row_loss(fl, valid, lab, xl, m, s, ls, lx, lw, weight, GIVEN_LSE ? lse_in[g] : (AT)0,
                 &li, &wi, &lse, &sh, &sl);
        if (PER_ROW && MODE != 1) ST(loss, g, li);
        if (MODE == 0) lse_out[g] = lse;
        if (MODE != 0) {
            const AT coef = upstream(gd, ga, g, gstride, g_acc) * wi;
            row_grad(fl, xr, lr, dx + base, inner, 0, classes, 1, valid, lab, xl, coef, sh, sl, ls);
        }
    }
    if (!PER_ROW && MODE != 1) group_partial(red, li, wi, partial);  /* uniform: every item or none */
}
#endif

#ifdef WG_ROW
/* A work-group per row (class axis last, large C): work-items share the row (BLOCKED:
 * each a contiguous block, for CPUs; else interleaved, for GPUs), merge their
 * statistics in local memory, then write their part of the gradient. Groups stride
 * over the rows; each group's loss partial is in row order. */
__kernel void ce_wg_row(__global const DT *x, __global const LT *hard, __global const DT *softl,
                        __global const DT *weight, __global const AT *lse_in, __global const DT *gd,
                        __global const AT *ga, long gstride, int g_acc, __global DT *loss,
                        __global AT *lse_out, __global DT *dx, __global AT *partial, __global int *bad,
                        __global long *badv, long rows, int classes, long inner, long ignore, int fl)
{
    __local AT rm[WG], rs[WG], rl[WG], rx[WG], rw[WG];
    __local AT row[8];  /* sh, sl, ls, coef, valid, xl */
    __local long row_lab;
    const int lid = get_local_id(0);
#if BLOCKED
    const int chunk = (classes + WG - 1) / WG;
    const int lo = min(classes, lid * chunk), hi = min(classes, lo + chunk), step = 1;
#else
    const int lo = lid, hi = classes, step = WG;
#endif
    AT sum_loss = 0, sum_w = 0;
    for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        __global const DT *xr = x + r * classes;
        __global const DT *lr = softl + r * classes;
        AT m, s, ls, lx, lw;
        row_stats(fl, xr, lr, weight, 1, lo, hi, step, &m, &s, &ls, &lx, &lw);
        if (SOFT && !USE_SOFTMAX) lx = soft_plain(xr, lr, 1, lo, hi, step);
        rm[lid] = m; rs[lid] = s; rl[lid] = ls; rx[lid] = lx; rw[lid] = lw;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = WG / 2; k > 0; k >>= 1) {
            if (lid < k) {
                AT mm = rm[lid], ss = rs[lid];
                online_merge(&mm, &ss, rm[lid + k], rs[lid + k]);
                rm[lid] = mm; rs[lid] = ss;
                rl[lid] += rl[lid + k]; rx[lid] += rx[lid + k]; rw[lid] += rw[lid + k];
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (lid == 0) {
            long lab;
            const int valid = take_label(fl, hard, r, classes, ignore, bad, badv, &lab);
            const AT xl = lab >= 0 ? LD(xr, lab) : (AT)1;
            AT li, wi, lse, sh, sl;
            row_loss(fl, valid, lab, xl, rm[0], rs[0], rl[0], rx[0], rw[0], weight,
                     GIVEN_LSE ? lse_in[r] : (AT)0, &li, &wi, &lse, &sh, &sl);
            if (PER_ROW && MODE != 1) ST(loss, r, li);
            if (MODE == 0) lse_out[r] = lse;
            sum_loss += li;
            sum_w += wi;
            row[0] = sh; row[1] = sl; row[2] = rl[0];
            row[3] = MODE != 0 ? upstream(gd, ga, r, gstride, g_acc) * wi : (AT)0;
            row[4] = valid; row[5] = xl;
            row_lab = lab;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (MODE != 0)
            row_grad(fl, xr, lr, dx + r * classes, 1, lo, hi, step, row[4] != 0, row_lab, row[5], row[3], row[0],
                     row[1], row[2]);
        barrier(CLK_LOCAL_MEM_FENCE);  /* the next row reuses the local slots */
    }
    if (lid == 0 && !PER_ROW && MODE != 1) {
        partial[2 * get_group_id(0)] = sum_loss;
        partial[2 * get_group_id(0) + 1] = sum_w;
    }
}
#endif

#ifdef DEN
/* The mean's denominator before a gradient pass: partial sums of the element weights
 * from the labels alone (a work-item per row), the labels checked on the way. */
__kernel void ce_den(__global const LT *hard, __global const DT *softl, __global const DT *weight,
                     __global AT *partial, __global int *bad, __global long *badv, long rows, int classes,
                     long inner, long ignore, int fl)
{
    __local AT red[2 * WG];
    const long g = get_global_id(0);
    AT wi = 0;
    if (g < rows) {
        if (SOFT) {
            const long o = g / inner, j = g % inner;
            __global const DT *lr = softl + o * classes * inner + j;
            for (int c = 0; c < classes; c++) wi += LD(lr, c * inner) * LD(weight, c);
        } else {
            long lab;
            const int valid = take_label(fl, hard, g, classes, ignore, bad, badv, &lab);
            wi = valid ? (HAS_WEIGHT ? LD(weight, lab) : (AT)1) : (AT)0;
        }
    }
    group_partial(red, 0, wi, partial);
}
#endif

#ifdef FINISH
/* One work-group adds the partials (Kahan, fixed order) and writes, for the forward, the
 * reduced loss (mean: over PaddlePaddle's divisor) or, before a gradient pass, the
 * gradient factor dloss / divisor (dloss = 1 without a dloss input). */
__kernel void ce_finish(__global const AT *partial, long parts, long rows, int by_weight, int mean, int grad,
                        __global const DT *dloss, int have_dloss, __global DT *out, __global AT *gout)
{
    __local AT ra[WG], rb[WG];
    const int lid = get_local_id(0);
    AT a = 0, b = 0, ca = 0, cb = 0;
    for (long i = lid; i < parts; i += WG) {
        AT y = partial[2 * i] - ca, t = a + y;
        ca = (t - a) - y;
        a = t;
        y = partial[2 * i + 1] - cb;
        t = b + y;
        cb = (t - b) - y;
        b = t;
    }
    ra[lid] = a;
    rb[lid] = b;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = WG / 2; k > 0; k >>= 1) {
        if (lid < k) {
            ra[lid] += ra[lid + k];
            rb[lid] += rb[lid + k];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        AT den = by_weight ? rb[0] : (AT)rows;
        den = den == 0 ? (AT)1 : den;
        if (grad) {
            const AT d = have_dloss ? LD(dloss, 0) : (AT)1;
            gout[0] = mean ? d / den : d;
        } else {
            ST(out, 0, mean ? ra[0] / den : ra[0]);
        }
    }
}
#endif
