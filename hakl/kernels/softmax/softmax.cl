/* softmax / log_softmax, forward and backward, over axis 1 of a contiguous
 * (outer, n, inner) array. One source for PoCL on CPUs and the NVIDIA driver.
 *
 * Defines (all -D):
 *   DTYPE  16 | 32 | 64: storage type; half is loaded/stored with vload_half /
 *          vstore_half (core OpenCL, no cl_khr_fp16) and computed in float.
 *   KIND   0 naive: a work-item per row or column, three passes (the baseline);
 *          1 rows (inner == 1): ROWS teams of WG/ROWS work-items per group, a team per row;
 *          2 cols (inner > 1): a work-item per VEC adjacent columns walks n, SPLIT
 *            work-items share one column's n.
 *   WG VEC ROWS BLOCKED MODE ITEMS (rows), WG VEC SPLIT ITEMS (cols): see the kernels.
 * The flag `log_` is a run-time argument: it changes one line of each kernel and
 * is not worth a second compiled program.
 *
 * Special values follow the float64 reference: a row holding NaN or +inf, or
 * all -inf, comes out all NaN. The maxima use fmax (which skips NaN): a NaN
 * reaches the sum through exp(NaN) instead, and +inf through exp(inf - inf).
 */

/* DT: storage type, AT: arithmetic type (macros, so that CAT(AT, VEC) names a vector type) */
#if DTYPE == 64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define DT double
#define AT double
#define AT_MAX DBL_MAX
#elif DTYPE == 32
#define DT float
#define AT float
#define AT_MAX FLT_MAX
#else
#define DT half
#define AT float
#define AT_MAX FLT_MAX
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if DTYPE == 16
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half((v), (i), (p))
#else
#define LD(p, i) ((AT)(p)[i])
#define ST(p, i, v) ((p)[i] = (DT)(v))
#endif

/* Vectors of VEC elements at VEC-aligned addresses: j counts vectors from p. */
#if !defined(VEC) || VEC == 1
typedef AT ATV;
#define VLD(p, j) LD(p, j)
#define VST(p, j, v) ST(p, j, v)
#define HMAX(v) (v)
#define HSUM(v) (v)
#else
typedef CAT(AT, VEC) ATV;
#if DTYPE == 16
#define VLD(p, j) CAT(vloada_half, VEC)((j), (p))
#define VST(p, j, v) CAT(vstorea_half, VEC)((v), (j), (p))
#else
#define VLD(p, j) (((__global const ATV *)(p))[j])
#define VST(p, j, v) (((__global ATV *)(p))[j] = (v))
#endif
#define HMAX2(v) fmax((v).s0, (v).s1)
#define HMAX4(v) HMAX2(fmax((v).lo, (v).hi))
#define HMAX8(v) HMAX4(fmax((v).lo, (v).hi))
#define HMAX16(v) HMAX8(fmax((v).lo, (v).hi))
#define HSUM2(v) ((v).s0 + (v).s1)
#define HSUM4(v) HSUM2((v).lo + (v).hi)
#define HSUM8(v) HSUM4((v).lo + (v).hi)
#define HSUM16(v) HSUM8((v).lo + (v).hi)
#define HMAX(v) CAT(HMAX, VEC)(v)
#define HSUM(v) CAT(HSUM, VEC)(v)
#endif

/* s += v, c carrying the rounding error (Kahan; the sum is s - c): a work-item
 * that walks a long row or column alone keeps float accuracy. */
#define KAHAN_ADD(T, s, c, v) do {                                \
        const T y_ = (v) - c, t_ = s + y_;                        \
        c = (t_ - s) - y_;                                        \
        s = t_;                                                   \
    } while (0)

/* Online max and sum of exp (m, s - c): one exp per element. A new maximum
 * rescales the sum by exp(m - x), an old one adds exp(x - m); both are
 * exp(-|x - k|), k being m kept finite so that -inf - -inf never appears. s
 * ignores +inf (fixed by ONLINE_END), and NaN enters s through exp. The same
 * lines serve scalars and vectors (the ternary is a select for vectors). */
#define ONLINE_ADD(T, m, s, c, x) do {                            \
        const T x_ = (x);                                         \
        const T e_ = exp(-fabs(x_ - fmax(m, -AT_MAX)));           \
        const T y_ = e_ - c, t_ = s + y_;                         \
        c = x_ > m ? c * e_ : (t_ - s) - y_;                      \
        s = x_ > m ? s * e_ + 1 : t_;                             \
        m = fmax(m, x_);                                          \
    } while (0)

/* (m, s) += (m2, s2), the merge of two partial online states. */
#define ONLINE_MERGE(T, m, s, m2, s2) do {                        \
        const T m2_ = (m2), s2_ = (s2);                           \
        const T c_ = fmax(fmax(m, m2_), -AT_MAX);                 \
        s = s * exp(m - c_) + s2_ * exp(m2_ - c_);                \
        m = fmax(m, m2_);                                         \
    } while (0)

/* A row whose maximum is +inf is all NaN, as exp(inf - inf) makes it in the reference. */
#define ONLINE_END(m, s) (s = (m) == INFINITY ? NAN : (s))


#if KIND == 0
/* ---- baseline: one work-item per (outer, inner) column of n elements ---- */

__kernel void softmax_naive(__global const DT *x, __global DT *y, long cols, int n, int inner, int log_)
{
    const long g = get_global_id(0);
    if (g >= cols) return;
    const long start = (g / inner) * n * inner + g % inner;
    x += start;
    y += start;
    AT m = -INFINITY, s = 0, c = 0;
    for (int i = 0; i < n; i++) m = fmax(m, LD(x, (long)i * inner));
    for (int i = 0; i < n; i++) KAHAN_ADD(AT, s, c, exp(LD(x, (long)i * inner) - m));
    s -= c;
    const AT ls = log(s);
    for (int i = 0; i < n; i++) {
        const AT v = LD(x, (long)i * inner);
        ST(y, (long)i * inner, log_ ? (v - m) - ls : exp(v - m) / s);
    }
}

__kernel void softmax_grad_naive(__global const DT *y, __global const DT *dy, __global DT *dx,
                                 long cols, int n, int inner, int log_)
{
    const long g = get_global_id(0);
    if (g >= cols) return;
    const long start = (g / inner) * n * inner + g % inner;
    y += start;
    dy += start;
    dx += start;
    AT s = 0, c = 0;
    for (int i = 0; i < n; i++) {
        const long k = (long)i * inner;
        KAHAN_ADD(AT, s, c, log_ ? LD(dy, k) : LD(y, k) * LD(dy, k));
    }
    s -= c;
    for (int i = 0; i < n; i++) {
        const long k = (long)i * inner;
        const AT v = LD(y, k), d = LD(dy, k);
        ST(dx, k, log_ ? d - exp(v) * s : v * (d - s));
    }
}

#elif KIND == 1
/* ---- rows (inner == 1): a team of TEAM work-items per row ----
 * WG      work-group size; ROWS rows (teams) per group, TEAM = WG / ROWS (powers of two).
 * VEC     vector width: each row is read as scalars up to its first VEC-aligned
 *         element, aligned VEC-vectors, then a scalar tail.
 * BLOCKED 0: member t reads vectors t, t+TEAM, ... (coalesced on GPUs);
 *         1: member t reads one contiguous block (a CPU work-item streams it).
 * MODE    0: three passes over memory (max, sum, write);
 *         1: online max+sum, then write (two reads);
 *         2: the row stays in private memory, ITEMS vectors per work-item (one read).
 * A team past the last row runs with an empty row, to reach every barrier. */
#define TEAM (WG / ROWS)

#if TEAM > 1
/* Tree reductions over a team's slots of `red`; each __local array serves one
 * reduction per kernel, so no barrier is needed before it is read back. */
inline AT team_max(__local AT *red, AT v, int lid, int t)
{
    red[lid] = v;
    for (int w = TEAM / 2; w > 0; w >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t < w) red[lid] = v = fmax(v, red[lid + w]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return red[lid - t];
}

inline AT team_sum(__local AT *red, AT v, int lid, int t)
{
    red[lid] = v;
    for (int w = TEAM / 2; w > 0; w >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t < w) red[lid] = v = v + red[lid + w];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return red[lid - t];
}

inline void team_online(__local AT *rm, __local AT *rs, AT *m, AT *s, int lid, int t)
{
    AT mm = *m, ss = *s;
    rm[lid] = mm;
    rs[lid] = ss;
    for (int w = TEAM / 2; w > 0; w >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t < w) {
            ONLINE_MERGE(AT, mm, ss, rm[lid + w], rs[lid + w]);
            rm[lid] = mm;
            rs[lid] = ss;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    *m = rm[lid - t];
    *s = rs[lid - t];
}
#else
#define team_max(red, v, lid, t) (v)
#define team_sum(red, v, lid, t) (v)
#define team_online(rm, rs, m, s, lid, t)
#endif

/* Where a team member works in its row: scalars [0, head) and [tail, len),
 * vectors lo, lo+step, ... < hi counted from element head. */
typedef struct { int len, head, tail, lo, hi, step; } Part;

inline Part part_of(long row, long rows, int n, int t)
{
    Part p;
    p.len = row < rows ? n : 0;
    p.head = min(p.len, (int)((VEC - (row * n) % VEC) % VEC));
    const int nv = (p.len - p.head) / VEC;
    p.tail = p.head + nv * VEC;
#if BLOCKED
    const int per = (nv + TEAM - 1) / TEAM;
    p.lo = min(nv, t * per);
    p.hi = min(nv, p.lo + per);
    p.step = 1;
#else
    p.lo = t;
    p.hi = nv;
    p.step = TEAM;
#endif
    return p;
}

/* for each scalar element k of member t */
#define EACH_SCALAR(k, body) do {                                               \
        for (int k = t; k < P.head; k += TEAM) { body; }                        \
        for (int k = P.tail + t; k < P.len; k += TEAM) { body; }                \
    } while (0)

#if MODE == 2
/* for each vector j of member t, from the private copy (v) */
#define EACH_VECTOR(j, v, body) do {                                            \
        for (int i_ = 0, j = P.lo; i_ < ITEMS && j < P.hi; i_++, j += P.step) {  \
            ATV v = buf[i_]; body; buf[i_] = v;                                 \
        }                                                                       \
    } while (0)
#define LOAD_ROW(dst, src) do {                                                 \
        for (int i_ = 0, j_ = P.lo; i_ < ITEMS && j_ < P.hi; i_++, j_ += P.step) \
            dst[i_] = VLD(src + P.head, j_);                                    \
    } while (0)
#else
#define EACH_VECTOR(j, v, body) do {                                            \
        for (int j = P.lo; j < P.hi; j += P.step) { ATV v = VLD(x + P.head, j); body; } \
    } while (0)
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void softmax_rows(__global const DT *x, __global DT *y, long rows, int n, int log_)
{
    __local AT red_m[TEAM > 1 ? WG : 1], red_s[TEAM > 1 ? WG : 1];
    const int lid = get_local_id(0), t = lid % TEAM;
    const long row = get_group_id(0) * ROWS + lid / TEAM;
    const Part P = part_of(row, rows, n, t);
    if (P.len) {
        x += row * n;
        y += row * n;
    }
    __global DT *yv = y + P.head;
    AT m, s;
#if MODE == 1
    {
        ATV mv = -INFINITY, sv = 0, cv = 0;
        EACH_VECTOR(j, v, ONLINE_ADD(ATV, mv, sv, cv, v));
        m = HMAX(mv);
        s = HSUM((sv - cv) * exp(mv - fmax(m, -AT_MAX)));
        AT c = 0;
        EACH_SCALAR(k, ONLINE_ADD(AT, m, s, c, LD(x, k)));
        s -= c;
        team_online(red_m, red_s, &m, &s, lid, t);
        ONLINE_END(m, s);
    }
#else
#if MODE == 2
    ATV buf[ITEMS];
    LOAD_ROW(buf, x);
#endif
    {
        ATV mv = -INFINITY;
        EACH_VECTOR(j, v, mv = fmax(mv, v));
        m = HMAX(mv);
        EACH_SCALAR(k, m = fmax(m, LD(x, k)));
        m = team_max(red_m, m, lid, t);
    }
    {
        ATV sv = 0;
#if MODE == 2
        /* softmax keeps exp(x - m) for the write; log_softmax keeps x */
        if (log_) EACH_VECTOR(j, v, sv += exp(v - m));
        else EACH_VECTOR(j, v, v = exp(v - m); sv += v);
#else
        EACH_VECTOR(j, v, sv += exp(v - m));
#endif
        s = HSUM(sv);
        EACH_SCALAR(k, s += exp(LD(x, k) - m));
        s = team_sum(red_s, s, lid, t);
    }
#endif
    if (log_) {
        const AT ls = log(s);
        EACH_VECTOR(j, v, VST(yv, j, (v - m) - ls));
        EACH_SCALAR(k, ST(y, k, (LD(x, k) - m) - ls));
    } else {
        const AT r = 1 / s;
#if MODE == 2
        EACH_VECTOR(j, v, VST(yv, j, v * r));
#else
        EACH_VECTOR(j, v, VST(yv, j, exp(v - m) * r));
#endif
        EACH_SCALAR(k, ST(y, k, exp(LD(x, k) - m) * r));
    }
}

/* Backward: a sum over the row, then the write. MODE 0 reads y and dy twice,
 * MODE 2 keeps both in private memory. */
#undef EACH_VECTOR
#if MODE == 2
#define EACH_VECTOR(j, v, d, body) do {                                         \
        for (int i_ = 0, j = P.lo; i_ < ITEMS && j < P.hi; i_++, j += P.step) {  \
            const ATV v = buf[i_], d = dbuf[i_]; body;                          \
        }                                                                       \
    } while (0)
#else
#define EACH_VECTOR(j, v, d, body) do {                                         \
        for (int j = P.lo; j < P.hi; j += P.step) {                             \
            const ATV v = VLD(y + P.head, j), d = VLD(dy + P.head, j); body;    \
        }                                                                       \
    } while (0)
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void softmax_grad_rows(__global const DT *y, __global const DT *dy, __global DT *dx,
                       long rows, int n, int log_)
{
    __local AT red_s[TEAM > 1 ? WG : 1];
    const int lid = get_local_id(0), t = lid % TEAM;
    const long row = get_group_id(0) * ROWS + lid / TEAM;
    const Part P = part_of(row, rows, n, t);
    if (P.len) {
        y += row * n;
        dy += row * n;
        dx += row * n;
    }
    __global DT *dxv = dx + P.head;
#if MODE == 2
    ATV buf[ITEMS], dbuf[ITEMS];
    LOAD_ROW(buf, y);
    LOAD_ROW(dbuf, dy);
#endif
    /* the team reduction stays outside the branches: PoCL miscompiles barriers
     * inside conditionals (they are uniform here, which OpenCL allows) */
    ATV sv = 0;
    AT s = 0;
    if (log_) {
        EACH_VECTOR(j, v, d, sv += d);
        EACH_SCALAR(k, s += LD(dy, k));
    } else {
        EACH_VECTOR(j, v, d, sv += v * d);
        EACH_SCALAR(k, s += LD(y, k) * LD(dy, k));
    }
    s = team_sum(red_s, s + HSUM(sv), lid, t);
    if (log_) {
        EACH_VECTOR(j, v, d, VST(dxv, j, d - exp(v) * s));
        EACH_SCALAR(k, ST(dx, k, LD(dy, k) - exp(LD(y, k)) * s));
    } else {
        EACH_VECTOR(j, v, d, VST(dxv, j, v * (d - s)));
        EACH_SCALAR(k, { const AT v = LD(y, k); ST(dx, k, v * (LD(dy, k) - s)); });
    }
}

#elif KIND == 2
/* ---- cols (inner > 1): work-items over VEC adjacent columns, reading rows of
 * the inner axis coalesced; SPLIT work-items per column share its n elements in
 * contiguous blocks and merge through local memory. Local size (WG, SPLIT),
 * global (chunks rounded up to WG, SPLIT * outer). inner % VEC == 0 (the launcher
 * narrows VEC until it divides inner), so every vector is aligned. ITEMS > 0 keeps a
 * work-item's block in private memory (the launcher checks that it fits), so
 * the write reads nothing again. ---- */

#define COLS_SETUP                                                              \
    const int chunks = inner / VEC;                                             \
    const int col = get_global_id(0), k = get_local_id(1);                      \
    const int lid = k * WG + get_local_id(0);                                   \
    const int per = (n + SPLIT - 1) / SPLIT;                                    \
    const int i0 = min(n, k * per), i1 = col < chunks ? min(n, i0 + per) : i0;  \
    const long start = get_group_id(1) * (long)n * inner + (long)col * VEC

#define AT_ROW(p, i) ((p) + start + (long)(i) * inner)

#if ITEMS
/* for each row i of this work-item's block: its value v of src (and d of dsrc) */
#define EACH_ROW(i, v, src, body) do {                                          \
        for (int q_ = 0, i = i0; q_ < ITEMS && i < i1; q_++, i++) {             \
            const ATV v = buf[q_]; body;                                        \
        }                                                                       \
    } while (0)
#define EACH_ROW2(i, v, src, d, dsrc, body) do {                                \
        for (int q_ = 0, i = i0; q_ < ITEMS && i < i1; q_++, i++) {             \
            const ATV v = buf[q_], d = dbuf[q_]; body;                          \
        }                                                                       \
    } while (0)
#define LOAD_COL(dst, src) do {                                                 \
        for (int q_ = 0, i_ = i0; q_ < ITEMS && i_ < i1; q_++, i_++)            \
            dst[q_] = VLD(AT_ROW(src, i_), 0);                                  \
    } while (0)
#else
#define EACH_ROW(i, v, src, body) do {                                          \
        for (int i = i0; i < i1; i++) { const ATV v = VLD(AT_ROW(src, i), 0); body; } \
    } while (0)
#define EACH_ROW2(i, v, src, d, dsrc, body) do {                                \
        for (int i = i0; i < i1; i++) {                                         \
            const ATV v = VLD(AT_ROW(src, i), 0), d = VLD(AT_ROW(dsrc, i), 0); body; \
        }                                                                       \
    } while (0)
#endif

__kernel __attribute__((reqd_work_group_size(WG, SPLIT, 1)))
void softmax_cols(__global const DT *x, __global DT *y, int n, int inner, int log_)
{
#if SPLIT > 1
    __local ATV red_m[WG * SPLIT], red_s[WG * SPLIT];
#endif
    COLS_SETUP;
#if ITEMS
    ATV buf[ITEMS];
    LOAD_COL(buf, x);
#endif
    ATV m = -INFINITY, s = 0, c = 0;
    EACH_ROW(i, v, x, ONLINE_ADD(ATV, m, s, c, v));
    s -= c;
#if SPLIT > 1
    red_m[lid] = m;
    red_s[lid] = s;
    for (int w = SPLIT / 2; w > 0; w >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k < w) {
            ONLINE_MERGE(ATV, m, s, red_m[lid + w * WG], red_s[lid + w * WG]);
            red_m[lid] = m;
            red_s[lid] = s;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    m = red_m[get_local_id(0)];
    s = red_s[get_local_id(0)];
#endif
    ONLINE_END(m, s);
    if (log_) {
        const ATV ls = log(s);
        EACH_ROW(i, v, x, VST(AT_ROW(y, i), 0, (v - m) - ls));
    } else {
        const ATV r = 1 / s;
        EACH_ROW(i, v, x, VST(AT_ROW(y, i), 0, exp(v - m) * r));
    }
}

__kernel __attribute__((reqd_work_group_size(WG, SPLIT, 1)))
void softmax_grad_cols(__global const DT *y, __global const DT *dy, __global DT *dx,
                       int n, int inner, int log_)
{
#if SPLIT > 1
    __local ATV red_s[WG * SPLIT];
#endif
    COLS_SETUP;
#if ITEMS
    ATV buf[ITEMS], dbuf[ITEMS];
    LOAD_COL(buf, y);
    LOAD_COL(dbuf, dy);
#endif
    ATV s = 0, c = 0;
    if (log_)
        EACH_ROW2(i, v, y, d, dy, KAHAN_ADD(ATV, s, c, d));
    else
        EACH_ROW2(i, v, y, d, dy, KAHAN_ADD(ATV, s, c, v * d));
    s -= c;
#if SPLIT > 1
    red_s[lid] = s;
    for (int w = SPLIT / 2; w > 0; w >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k < w) red_s[lid] = s = s + red_s[lid + w * WG];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    s = red_s[get_local_id(0)];
#endif
    if (log_)
        EACH_ROW2(i, v, y, d, dy, VST(AT_ROW(dx, i), 0, d - exp(v) * s));
    else
        EACH_ROW2(i, v, y, d, dy, VST(AT_ROW(dx, i), 0, v * (d - s)));
}
#endif
