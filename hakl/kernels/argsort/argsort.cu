// argsort / sort on CUDA (NVRTC): warp bitonic rows, block bitonic rows, an LSD radix
// sort over all elements, and the scatter backward.
//
// Every kernel reads x as raw bits (ET: the unsigned type of its width) and sorts
// order-preserving keys (KT: unsigned int, or unsigned long long for 8-byte dtypes),
// as reference.py defines them: -0.0 -> +0.0, every NaN -> the canonical one,
// positive values with the sign bit set, negative ones complemented, DESC
// complements the key. Values are gathered from x at the sorted indices (x's own
// bits); indices are int64.
//
// Defines: BITS (8, 16, 32, 64), KIND (0 unsigned/bool, 1 signed, 2 float), DESC;
// WP (warp_sort_rows: 32, 64 or 128, a row's padded length), BP (block_sort_rows: a
// power of two up to 4096), BLOCK (256) and ITEMS (radix tiles of BLOCK * ITEMS).
//
// Bitonic networks are not stable; both sort (key, position) pairs compared
// lexicographically, so they return the stable order (padding: keys above every
// real key, positions >= n). The radix passes are stable counting passes.

#if BITS == 8
typedef unsigned char ET;
#elif BITS == 16
typedef unsigned short ET;
#elif BITS == 32
typedef unsigned int ET;
#else
typedef unsigned long long ET;
#endif
#if BITS == 64
typedef unsigned long long KT;
#define KEY_MAX 0xFFFFFFFFFFFFFFFFull
#else
typedef unsigned int KT;
#define KEY_MAX 0xFFFFFFFFu
#endif

#define SIGN ((KT)1 << (BITS - 1))
#define MASK (BITS == 64 ? (KT)KEY_MAX : (KT)((1ull << (BITS == 64 ? 0 : BITS)) - 1))

#if BITS == 16
#define ABSMASK ((KT)0x7FFF)
#define INF_BITS ((KT)0x7C00)
#define NAN_BITS ((KT)0x7E00)
#elif BITS == 32
#define ABSMASK ((KT)0x7FFFFFFFu)
#define INF_BITS ((KT)0x7F800000u)
#define NAN_BITS ((KT)0x7FC00000u)
#else
#define ABSMASK ((KT)0x7FFFFFFFFFFFFFFFull)
#define INF_BITS ((KT)0x7FF0000000000000ull)
#define NAN_BITS ((KT)0x7FF8000000000000ull)
#endif

typedef long long i64;

__device__ __forceinline__ KT make_key(ET v) {
    KT k = (KT)v;
#if KIND == 1
    k ^= SIGN;
#elif KIND == 2
    KT a = k & ABSMASK;
    if (a == 0) k = 0;
    if (a > INF_BITS) k = NAN_BITS;
    k = (k & SIGN) ? (KT)(~k & MASK) : (KT)(k | SIGN);
#endif
#if DESC
    k = (KT)(~k & MASK);
#endif
    return k;
}

__device__ __forceinline__ bool before(KT ka, int pa, KT kb, int pb) {
    return ka < kb || (ka == kb && pa < pb);
}

// ---- a warp per row (n <= WP <= 128), WP / 32 elements per lane in registers --------

#ifdef WP
extern "C" __global__ void warp_sort_rows(const ET* __restrict__ x, ET* __restrict__ vals, i64* __restrict__ out_idx,
                                          i64 rows, i64 n, i64 inner) {
    constexpr int E = WP / 32;
    const i64 r = (blockIdx.x * (i64)blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;  // r is the same for the whole warp
    const i64 o = r / inner, base = o * n * inner + (r - o * inner);
    KT k[E];
    int p[E];
#pragma unroll
    for (int e = 0; e < E; ++e) {
        const int j = lane + 32 * e;  // element j of the row sits in lane j % 32, slot j / 32
        k[e] = j < n ? make_key(x[base + j * inner]) : (KT)KEY_MAX;
        p[e] = j;
    }
#pragma unroll
    for (int size = 2; size <= WP; size <<= 1) {
#pragma unroll
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
#pragma unroll
            for (int e = 0; e < E; ++e) {
                const int i = lane + 32 * e;
                const bool up = (i & size) == 0;
                if (stride >= 32) {  // the partner is slot e ^ (stride / 32) of this lane
                    const int f = e ^ (stride >> 5);
                    if (f > e && before(k[f], p[f], k[e], p[e]) == up) {
                        KT tk = k[e]; k[e] = k[f]; k[f] = tk;
                        int tp = p[e]; p[e] = p[f]; p[f] = tp;
                    }
                } else {  // the partner is slot e of lane ^ stride
                    const KT ok = __shfl_xor_sync(0xffffffffu, k[e], stride);
                    const int op = __shfl_xor_sync(0xffffffffu, p[e], stride);
                    const bool lower = (lane & stride) == 0;
                    const bool partner_first = before(ok, op, k[e], p[e]);
                    if (lower == up ? partner_first : !partner_first) {
                        k[e] = ok;
                        p[e] = op;
                    }
                }
            }
        }
    }
#pragma unroll
    for (int e = 0; e < E; ++e) {
        const int j = lane + 32 * e;
        if (j < n) {
            out_idx[base + j * inner] = p[e];
            vals[base + j * inner] = x[base + (i64)p[e] * inner];
        }
    }
}
#endif

// ---- a block per row (n <= BP <= 4096) in shared memory --------------------------------

#ifdef BP
extern "C" __global__ void block_sort_rows(const ET* __restrict__ x, ET* __restrict__ vals, i64* __restrict__ out_idx,
                                           i64 n, i64 inner) {
    __shared__ KT keys[BP];
    __shared__ int pos[BP];
    const i64 r = blockIdx.x;
    const int t = threadIdx.x, nt = blockDim.x;
    const i64 o = r / inner, base = o * n * inner + (r - o * inner);
    for (int j = t; j < BP; j += nt) {
        keys[j] = j < n ? make_key(x[base + j * inner]) : (KT)KEY_MAX;
        pos[j] = j;
    }
    __syncthreads();
    for (int size = 2; size <= BP; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = t; i < BP / 2; i += nt) {
                const int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
                const bool up = (lo & size) == 0;
                const KT a = keys[lo], b = keys[hi];
                const int pa = pos[lo], pb = pos[hi];
                if (before(b, pb, a, pa) == up) {
                    keys[lo] = b; keys[hi] = a;
                    pos[lo] = pb; pos[hi] = pa;
                }
            }
            __syncthreads();
        }
    }
    for (int j = t; j < n; j += nt) {
        const int s = pos[j];
        out_idx[base + j * inner] = s;
        vals[base + j * inner] = x[base + (i64)s * inner];
    }
}
#endif

// ---- LSD radix sort over all elements (rows as digits of payload / row_n) -----------------

#ifdef ITEMS
#define TILE (BLOCK * ITEMS)
#define WARPS (BLOCK / 32)

__device__ __forceinline__ unsigned digit_of(KT k, i64 payload, int shift, i64 row_n) {
    return row_n ? (unsigned)(((unsigned long long)(payload / row_n) >> shift) & 255u)
                 : (unsigned)((k >> shift) & 255u);
}

extern "C" __global__ void radix_keys(const ET* __restrict__ x, KT* __restrict__ keys, i64 size) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < size; i += (i64)gridDim.x * blockDim.x)
        keys[i] = make_key(x[i]);
}

// hist[d * blocks + b]: digit d's count in tile b (digit-major: its exclusive scan is
// every element's base position).
extern "C" __global__ void radix_hist(const KT* __restrict__ keys, const i64* __restrict__ payload,
                                      unsigned* __restrict__ hist, i64 size, int shift, i64 row_n, int first) {
    __shared__ unsigned counts[256];
    for (int d = threadIdx.x; d < 256; d += blockDim.x) counts[d] = 0;
    __syncthreads();
    const i64 tile0 = blockIdx.x * (i64)TILE;
    for (int r = 0; r < ITEMS; ++r) {
        const i64 i = tile0 + r * BLOCK + threadIdx.x;
        if (i < size) atomicAdd(&counts[digit_of(keys[i], row_n ? (first ? i : payload[i]) : 0, shift, row_n)], 1u);
    }
    __syncthreads();
    for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d * (i64)gridDim.x + blockIdx.x] = counts[d];
}

// Stable scatter of tile b: rounds of BLOCK elements in order; in a round, ranks within
// a warp by __match_any_sync, across warps by a per-digit scan of the warps' counts.
extern "C" __global__ void __launch_bounds__(BLOCK) radix_scatter(
        const KT* __restrict__ src_k, const i64* __restrict__ src_i, KT* __restrict__ dst_k, i64* __restrict__ dst_i,
        const unsigned long long* __restrict__ offsets, i64 size, int shift, i64 row_n, int first) {
    __shared__ unsigned counts[WARPS][256];
    __shared__ unsigned totals[256];
    __shared__ unsigned long long base[256];
    const int t = threadIdx.x, lane = t & 31, w = t >> 5;
    for (int d = t; d < 256; d += BLOCK) base[d] = offsets[d * (i64)gridDim.x + blockIdx.x];
    const i64 tile0 = blockIdx.x * (i64)TILE;
    for (int r = 0; r < ITEMS; ++r) {
        for (int e = t; e < WARPS * 256; e += BLOCK) (&counts[0][0])[e] = 0;
        __syncthreads();
        const i64 i = tile0 + r * BLOCK + t;
        const bool valid = i < size;
        KT k = 0;
        i64 s = 0;
        unsigned d = 256;  // out-of-range elements share a digit no real one has
        if (valid) {
            k = src_k[i];
            s = first ? i : src_i[i];
            d = digit_of(k, s, shift, row_n);
        }
        const unsigned peers = __match_any_sync(0xffffffffu, d);
        const unsigned rank = __popc(peers & ((1u << lane) - 1));
        if (valid && rank == 0) counts[w][d] = __popc(peers);
        __syncthreads();
        for (int q = t; q < 256; q += BLOCK) {
            unsigned run = 0;
            for (int v = 0; v < WARPS; ++v) {
                const unsigned c = counts[v][q];
                counts[v][q] = run;
                run += c;
            }
            totals[q] = run;
        }
        __syncthreads();
        if (valid) {
            const unsigned long long p = base[d] + counts[w][d] + rank;
            dst_k[p] = k;
            dst_i[p] = s;
        }
        __syncthreads();
        for (int q = t; q < 256; q += BLOCK) base[q] += totals[q];
    }
}

extern "C" __global__ void radix_finish(const i64* __restrict__ payload, const ET* __restrict__ x,
                                        ET* __restrict__ vals, i64* __restrict__ out_idx, i64 size, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < size; i += (i64)gridDim.x * blockDim.x) {
        const i64 s = payload[i];
        out_idx[i] = s - (i / n) * n;
        vals[i] = x[s];
    }
}
#endif

// ---- backward: dx[o, idx[o, j, i], i] = dy[o, j, i] -------------------------------------------

extern "C" __global__ void scatter_grad(const ET* __restrict__ dy, const i64* __restrict__ idx, ET* __restrict__ dx,
                                        i64 n, i64 inner, i64 size) {
    for (i64 e = blockIdx.x * (i64)blockDim.x + threadIdx.x; e < size; e += (i64)gridDim.x * blockDim.x) {
        const i64 i = e % inner, o = e / (n * inner);
        dx[(o * n + idx[e]) * inner + i] = dy[e];
    }
}
