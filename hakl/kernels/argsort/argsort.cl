// argsort / sort on OpenCL: the same source on PoCL (CPU devices) and the NVIDIA driver.
//
// Every kernel reads x as raw bits (ET: the unsigned type of its width) and sorts
// order-preserving keys (KT: uint, or ulong for 8-byte dtypes), as reference.py
// defines them: -0.0 -> +0.0, every NaN -> the canonical one, positive values with
// the sign bit set, negative ones complemented, DESC complements the key. Values
// are gathered from x at the sorted indices (x's own bits); indices are long.
//
// Defines: BITS (8, 16, 32, 64), KIND (0 unsigned/bool, 1 signed, 2 float),
// DESC (0/1), and for bitonic_rows P (the power of two a row is padded to).
//
// merge_rows (baseline): one work-item per row, a stable bottom-up merge sort in
//   global scratch.
// bitonic_rows: one work-group per row of n <= P elements in local memory, padded
//   with keys above every real one; (key, index) pairs compared lexicographically,
//   so the result is the stable order although a bitonic network is not stable.
// radix_*: LSD radix sort over all elements, 8-bit digits, rows as extra digits
//   (payload / row_n) after the key digits. Work-item g owns a contiguous tile
//   (what a CPU device wants; on a GPU the tiles are strided: correct, not tuned);
//   its histogram column is hist[d * items + g]; the scan runs digit-major, so the
//   scatter, walking each tile in order, is stable.

#if BITS == 8
typedef uchar ET;
#elif BITS == 16
typedef ushort ET;
#elif BITS == 32
typedef uint ET;
#else
typedef ulong ET;
#endif
#if BITS == 64
typedef ulong KT;
#define KEY_MAX ((KT)0xFFFFFFFFFFFFFFFFUL)
#else
typedef uint KT;
#define KEY_MAX ((KT)0xFFFFFFFFu)
#endif

#define SIGN ((KT)1 << (BITS - 1))
#define MASK (BITS == 64 ? KEY_MAX : (KT)(((ulong)1 << BITS) - 1))

#if BITS == 16
#define ABSMASK ((KT)0x7FFF)
#define INF_BITS ((KT)0x7C00)
#define NAN_BITS ((KT)0x7E00)
#elif BITS == 32
#define ABSMASK ((KT)0x7FFFFFFFu)
#define INF_BITS ((KT)0x7F800000u)
#define NAN_BITS ((KT)0x7FC00000u)
#else
#define ABSMASK ((KT)0x7FFFFFFFFFFFFFFFUL)
#define INF_BITS ((KT)0x7FF0000000000000UL)
#define NAN_BITS ((KT)0x7FF8000000000000UL)
#endif

inline KT make_key(ET v) {
    KT k = (KT)v;
#if KIND == 1
    k ^= SIGN;
#elif KIND == 2
    KT a = k & ABSMASK;
    if (a == 0) k = 0;
    if (a > INF_BITS) k = NAN_BITS;
    k = (k & SIGN) ? (~k & MASK) : (k | SIGN);
#endif
#if DESC
    k = ~k & MASK;
#endif
    return k;
}

inline int before(KT ka, long ia, KT kb, long ib) {
    return ka < kb || (ka == kb && ia < ib);
}

// ---- baseline: a stable merge sort per row, one work-item each -----------------

__kernel void merge_rows(__global const ET *x, __global ET *vals, __global long *out_idx,
                         __global KT *ka, __global long *ia, __global KT *kb, __global long *ib,
                         long n, long rows, long inner) {
    long r = get_global_id(0);
    if (r >= rows) return;
    long o = r / inner, base = o * n * inner + (r - o * inner), off = r * n;
    __global KT *sk = ka + off, *dk = kb + off;
    __global long *si = ia + off, *di = ib + off;
    for (long j = 0; j < n; ++j) {
        sk[j] = make_key(x[base + j * inner]);
        si[j] = j;
    }
    for (long w = 1; w < n; w *= 2) {
        for (long lo = 0; lo < n; lo += 2 * w) {
            long mid = min(lo + w, n), hi = min(lo + 2 * w, n), a = lo, b = mid;
            for (long p = lo; p < hi; ++p) {
                if (b < hi && (a >= mid || sk[b] < sk[a])) { dk[p] = sk[b]; di[p] = si[b]; ++b; }
                else { dk[p] = sk[a]; di[p] = si[a]; ++a; }
            }
        }
        __global KT *tk = sk; sk = dk; dk = tk;
        __global long *ti = si; si = di; di = ti;
    }
    for (long j = 0; j < n; ++j) {
        long s = si[j];
        out_idx[base + j * inner] = s;
        vals[base + j * inner] = x[base + s * inner];
    }
}

// ---- bitonic sort of a row per work-group -----------------------------------------

#ifdef P
__kernel void bitonic_rows(__global const ET *x, __global ET *vals, __global long *out_idx, long n, long inner) {
    __local KT keys[P];
    __local int pos[P];
    long r = get_group_id(0);
    int t = get_local_id(0), wg = get_local_size(0);
    long o = r / inner, base = o * n * inner + (r - o * inner);
    for (int j = t; j < P; j += wg) {
        keys[j] = j < n ? make_key(x[base + j * inner]) : KEY_MAX;
        pos[j] = j;  // padding's positions are >= n: it sorts after every real key
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 2; k <= P; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = t; i < P / 2; i += wg) {
                int lo = 2 * i - (i & (j - 1)), hi = lo + j;  // the pair (lo, lo + j), lo's bit j clear
                int up = (lo & k) == 0;
                KT a = keys[lo], b = keys[hi];
                int pa = pos[lo], pb = pos[hi];
                if (before(b, pb, a, pa) == up) {
                    keys[lo] = b; keys[hi] = a; pos[lo] = pb; pos[hi] = pa;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    for (int j = t; j < n; j += wg) {
        long s = pos[j];
        out_idx[base + j * inner] = s;
        vals[base + j * inner] = x[base + s * inner];
    }
}
#endif

// ---- LSD radix sort over all elements -----------------------------------------------

__kernel void radix_keys(__global const ET *x, __global KT *keys, long size) {
    long i = get_global_id(0);
    if (i < size) keys[i] = make_key(x[i]);
}

inline uint digit_of(KT k, long payload, int shift, long row_n) {
    return row_n ? (uint)(((ulong)(payload / row_n) >> shift) & 255) : (uint)((k >> shift) & 255);
}

__kernel void radix_hist(__global const KT *keys, __global const long *payload, __global uint *hist,
                         long size, int shift, long row_n, long tile, long items) {
    long g = get_global_id(0);
    if (g >= items) return;
    for (int d = 0; d < 256; ++d) hist[d * items + g] = 0;
    long lo = g * tile, hi = min(lo + tile, size);
    for (long i = lo; i < hi; ++i) hist[digit_of(keys[i], row_n ? payload[i] : 0, shift, row_n) * items + g] += 1;
}

// One work-group of 256: work-item d turns row d of hist into exclusive offsets, then
// every row gets the digits below it added.
__kernel void radix_scan(__global uint *hist, long items) {
    __local uint totals[256];
    int d = get_local_id(0);
    uint run = 0;
    for (long g = 0; g < items; ++g) {
        uint c = hist[d * items + g];
        hist[d * items + g] = run;
        run += c;
    }
    totals[d] = run;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (d == 0) {
        uint acc = 0;
        for (int e = 0; e < 256; ++e) { uint c = totals[e]; totals[e] = acc; acc += c; }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    uint base = totals[d];
    for (long g = 0; g < items; ++g) hist[d * items + g] += base;
}

__kernel void radix_scatter(__global const KT *src_k, __global const long *src_i, __global KT *dst_k,
                            __global long *dst_i, __global uint *hist, long size, int shift, long row_n,
                            int first, long tile, long items) {
    long g = get_global_id(0);
    if (g >= items) return;
    long lo = g * tile, hi = min(lo + tile, size);
    for (long i = lo; i < hi; ++i) {
        KT k = src_k[i];
        long s = first ? i : src_i[i];
        uint p = hist[digit_of(k, s, shift, row_n) * items + g]++;
        dst_k[p] = k;
        dst_i[p] = s;
    }
}

__kernel void radix_finish(__global const long *payload, __global const ET *x, __global ET *vals,
                           __global long *out_idx, long size, long n) {
    long i = get_global_id(0);
    if (i >= size) return;
    long s = payload[i];
    out_idx[i] = s - (i / n) * n;
    vals[i] = x[s];
}

// ---- backward: dx[o, idx[o, j, i], i] = dy[o, j, i] ------------------------------------

__kernel void scatter_grad(__global const ET *dy, __global const long *idx, __global ET *dx, long n, long inner,
                           long size) {
    long e = get_global_id(0);
    if (e >= size) return;
    long i = e % inner, o = e / (n * inner);
    dx[(o * n + idx[e]) * inner + i] = dy[e];
}
