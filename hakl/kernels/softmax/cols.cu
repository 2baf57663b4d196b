// cols: softmax over a non-last axis, the input seen as (outer, n, inner) with
// inner > 1. Threads map to the inner index, so every load and store is a
// contiguous run along inner: a block takes a tile of TW = tx_n * VEC inner
// indices of one outer index, tx_n threads across it (16-byte packs) and
// blockDim.x / tx_n threads down n. A tile's n extent is split over CLUSTER
// blocks (a thread block cluster). Each thread walks its share of n in batches
// of KPT rows, keeping a running (max, sum) per column; pairs are combined across
// the threads down n (shuffles, then shared memory), then across the cluster.
// When the share fits in one batch it stays in registers and is read once;
// otherwise the output pass re-reads it, newest batch first (likeliest in L2).
//
// Defines: DTYPE, BACKWARD (0 or 1), KPT, CLUSTER. At launch: the block size
// (a multiple of 32, at most 512), tx_n (a power of two <= 32) and dynamic
// shared memory of 2 * (2 * warps + 4) * TW accumulators. Stores, and the loads
// of the output pass when it re-reads, are evict-first (see online_row.cu).

#if CLUSTER > 1
#define CLUSTER_DIMS __cluster_dims__(CLUSTER, 1, 1)
#else
#define CLUSTER_DIMS
#endif

extern __shared__ double cols_shared[];  // double: aligned for every ACC

__device__ __forceinline__ unsigned my_rank() {
#if CLUSTER > 1
    return cluster_rank();
#else
    return 0;
#endif
}

// Rows [lo, hi) of n belong to this block of the cluster.
__device__ __forceinline__ void share_of(long long n, long long& lo, long long& hi) {
    const long long chunk = (n + CLUSTER - 1) / CLUSTER;
    lo = my_rank() * chunk;
    hi = lo + chunk < n ? lo + chunk : n;
    if (lo > hi) lo = hi;
}

// One reduction's shared memory (two slots alternate between tiles, so a slot is
// written again only after a later barrier that every reader of it has passed):
// per-warp partials [warp][column], the block's [column] (read by the cluster)
// and the final [column].
struct Parts {
    ACC *warp_m, *warp_s, *block_m, *block_s, *final_m, *final_s;
    __device__ Parts(int slot, int tw) {
        const int warps = blockDim.x / 32;
        ACC* base = reinterpret_cast<ACC*>(cols_shared) + slot * (2 * warps + 4) * tw;
        warp_m = base;
        warp_s = base + warps * tw;
        block_m = base + 2 * warps * tw;
        block_s = block_m + tw;
        final_m = block_s + tw;
        final_s = final_m + tw;
    }
};

// Combine each thread's VEC column pairs over the block (threads tx, tx + tx_n,
// ... share columns) and the cluster; every thread gets its columns' result.
// Shuffles first, then one thread per column over the warps and over the cluster
// (tw remote reads per block), then a broadcast through shared memory.
// With SUM_ONLY the pairs are plain sums (m unused).
template <bool SUM_ONLY>
__device__ __forceinline__ void tile_reduce(ACC* m, ACC* s, const Parts& parts, int tx_n) {
    const int tw = tx_n * VEC, col = (threadIdx.x % tx_n) * VEC, lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
#pragma unroll
    for (int c = 0; c < VEC; ++c) {
        for (int o = tx_n; o < 32; o <<= 1) {
            const ACC s2 = __shfl_xor_sync(FULL, s[c], o);
            if (SUM_ONLY) {
                s[c] += s2;
            } else {
                const ACC m2 = __shfl_xor_sync(FULL, m[c], o);
                combine(m[c], s[c], m2, s2);
            }
        }
        if (lane < tx_n) {
            parts.warp_s[warp * tw + col + c] = s[c];
            if (!SUM_ONLY) parts.warp_m[warp * tw + col + c] = m[c];
        }
    }
    __syncthreads();
    if (threadIdx.x < tw) {
        const int c = threadIdx.x;
        ACC mm = SUM_ONLY ? ACC(0) : neg_inf(), ss = 0;
        for (int w = 0; w < warps; ++w) {
            if (SUM_ONLY)
                ss += parts.warp_s[w * tw + c];
            else
                combine(mm, ss, parts.warp_m[w * tw + c], parts.warp_s[w * tw + c]);
        }
#if CLUSTER > 1
        parts.block_m[c] = mm;
        parts.block_s[c] = ss;
#else
        parts.final_m[c] = mm;
        parts.final_s[c] = ss;
#endif
    }
#if CLUSTER > 1
    cluster_sync();
    if (threadIdx.x < tw) {
        const int c = threadIdx.x;
        ACC mm = SUM_ONLY ? ACC(0) : neg_inf(), ss = 0;
#pragma unroll
        for (int r = 0; r < CLUSTER; ++r) {
            if (SUM_ONLY)
                ss += cluster_load(&parts.block_s[c], r);
            else
                combine(mm, ss, cluster_load(&parts.block_m[c], r), cluster_load(&parts.block_s[c], r));
        }
        parts.final_m[c] = mm;
        parts.final_s[c] = ss;
    }
#endif
    __syncthreads();
#pragma unroll
    for (int c = 0; c < VEC; ++c) {
        if (!SUM_ONLY) m[c] = parts.final_m[col + c];
        s[c] = parts.final_s[col + c];
    }
}

#if !BACKWARD
template <bool LOG>
__device__ __forceinline__ void cols_fwd(const T* __restrict__ x, T* __restrict__ y, long long outer, long long n,
                                         long long inner, bool vec, int tx_n) {
    const int tw = tx_n * VEC, by = blockDim.x / tx_n;
    const int tx = threadIdx.x % tx_n, ty = threadIdx.x / tx_n;
    const long long per_outer = (inner + tw - 1) / tw, tiles = outer * per_outer;
    long long lo, hi;
    share_of(n, lo, hi);
    const long long batch = (long long)by * KPT, batches = (hi - lo + batch - 1) / batch;
    int slot = 0;
    for (long long tile = blockIdx.x / CLUSTER; tile < tiles; tile += gridDim.x / CLUSTER, slot ^= 1) {
        const long long i0 = (tile % per_outer) * tw + tx * VEC;
        const T* xo = x + (tile / per_outer) * n * inner;
        T* yo = y + (tile / per_outer) * n * inner;
        ACC m[VEC], s[VEC], v[KPT][VEC];
#pragma unroll
        for (int c = 0; c < VEC; ++c) m[c] = neg_inf(), s[c] = 0;
        for (long long b = 0; b < batches; ++b) {
#pragma unroll
            for (int j = 0; j < KPT; ++j) {
                const long long k = lo + b * batch + ty + (long long)by * j;
                // rows past the share read as -inf (column index `inner` is out of range)
                load_pack(xo + (k < hi ? k : 0) * inner, k < hi ? i0 : inner, inner, vec, neg_inf(), v[j]);
            }
#pragma unroll
            for (int c = 0; c < VEC; ++c) {
                ACC bm = neg_inf();
#pragma unroll
                for (int j = 0; j < KPT; ++j) bm = nmax(bm, v[j][c]);
                const ACC mn = nmax(m[c], bm);
                if (mn != neg_inf()) {  // nothing but -inf so far: the sum stays 0
                    s[c] *= exp_acc(m[c] - mn);
#pragma unroll
                    for (int j = 0; j < KPT; ++j) s[c] += exp_acc(v[j][c] - mn);
                    m[c] = mn;
                }
            }
        }
        tile_reduce<false>(m, s, Parts(slot, tw), tx_n);
        ACC k[VEC];
#pragma unroll
        for (int c = 0; c < VEC; ++c) k[c] = LOG ? log_acc(s[c]) : ACC(1) / s[c];
        for (long long b = batches - 1; b >= 0; --b) {
            if (batches > 1) {  // else the only batch is still in registers
#pragma unroll
                for (int j = KPT - 1; j >= 0; --j) {
                    const long long kk = lo + b * batch + ty + (long long)by * j;
                    load_pack<true>(xo + (kk < hi ? kk : 0) * inner, kk < hi ? i0 : inner, inner, vec, neg_inf(),
                                    v[j]);
                }
            }
#pragma unroll
            for (int j = 0; j < KPT; ++j) {
                const long long kk = lo + b * batch + ty + (long long)by * j;
#pragma unroll
                for (int c = 0; c < VEC; ++c) v[j][c] = LOG ? v[j][c] - m[c] - k[c] : exp_acc(v[j][c] - m[c]) * k[c];
                if (kk < hi) store_pack<true>(yo + kk * inner, i0, inner, vec, v[j]);
            }
        }
    }
#if CLUSTER > 1
    cluster_sync();  // no block may leave while another still reads its shared memory
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(512)
softmax_cols_fwd(const T* __restrict__ x, T* __restrict__ y, long long outer, long long n, long long inner,
                 int log_out, int vec, int tx_n) {
    if (log_out)
        cols_fwd<true>(x, y, outer, n, inner, vec != 0, tx_n);
    else
        cols_fwd<false>(x, y, outer, n, inner, vec != 0, tx_n);
}

#else
template <bool LOG>
__device__ __forceinline__ void cols_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                         long long outer, long long n, long long inner, bool vec, int tx_n) {
    const int tw = tx_n * VEC, by = blockDim.x / tx_n;
    const int tx = threadIdx.x % tx_n, ty = threadIdx.x / tx_n;
    const long long per_outer = (inner + tw - 1) / tw, tiles = outer * per_outer;
    long long lo, hi;
    share_of(n, lo, hi);
    const long long batch = (long long)by * KPT, batches = (hi - lo + batch - 1) / batch;
    int slot = 0;
    for (long long tile = blockIdx.x / CLUSTER; tile < tiles; tile += gridDim.x / CLUSTER, slot ^= 1) {
        const long long i0 = (tile % per_outer) * tw + tx * VEC, base = (tile / per_outer) * n * inner;
        ACC s[VEC], a[KPT][VEC], g[KPT][VEC];
#pragma unroll
        for (int c = 0; c < VEC; ++c) s[c] = 0;
        for (long long b = 0; b < batches; ++b) {
#pragma unroll
            for (int j = 0; j < KPT; ++j) {
                const long long k = lo + b * batch + ty + (long long)by * j;
                const long long off = base + (k < hi ? k : 0) * inner, col = k < hi ? i0 : inner;
                load_pack(y + off, col, inner, vec, ACC(0), a[j]);
                load_pack(dy + off, col, inner, vec, ACC(0), g[j]);
            }
#pragma unroll
            for (int j = 0; j < KPT; ++j)
#pragma unroll
                for (int c = 0; c < VEC; ++c) s[c] += LOG ? g[j][c] : a[j][c] * g[j][c];
        }
        tile_reduce<true>(nullptr, s, Parts(slot, tw), tx_n);
        for (long long b = batches - 1; b >= 0; --b) {
#pragma unroll
            for (int j = KPT - 1; j >= 0; --j) {
                const long long k = lo + b * batch + ty + (long long)by * j;
                const long long off = base + (k < hi ? k : 0) * inner, col = k < hi ? i0 : inner;
                if (batches > 1) {  // else the only batch is still in registers
                    load_pack<true>(y + off, col, inner, vec, ACC(0), a[j]);
                    load_pack<true>(dy + off, col, inner, vec, ACC(0), g[j]);
                }
#pragma unroll
                for (int c = 0; c < VEC; ++c)
                    g[j][c] = LOG ? g[j][c] - exp_acc(a[j][c]) * s[c] : a[j][c] * (g[j][c] - s[c]);
                if (k < hi) store_pack<true>(dx + base + k * inner, i0, inner, vec, g[j]);
            }
        }
    }
#if CLUSTER > 1
    cluster_sync();
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(512)
softmax_cols_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, long long outer,
                 long long n, long long inner, int log_out, int vec, int tx_n) {
    if (log_out)
        cols_bwd<true>(y, dy, dx, outer, n, inner, vec != 0, tx_n);
    else
        cols_bwd<false>(y, dy, dx, outer, n, inner, vec != 0, tx_n);
}
#endif
