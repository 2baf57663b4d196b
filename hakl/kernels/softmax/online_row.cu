// online_row: long rows of the last axis (any length). A row belongs to CLUSTER
// blocks (a thread block cluster when CLUSTER > 1), block `rank` owning one
// contiguous chunk. Pass 1 reads the chunk once and keeps a running
// (max, sum of exp(x - max)) per thread, rescaling once per UNROLL packs;
// pairs are combined over the block and then the cluster. Pass 2 reads the
// chunk again, last pack first, so that what pass 1 read most recently (and is
// likeliest still in L2) is consumed first, and writes the output; pass-2 loads
// and all stores are evict-first, so that the output and the data already used
// do not push out of L2 what pass 2 has yet to read. The launcher bounds the
// blocks resident per SM (through their dynamic shared memory) so that the chunks
// in flight fit in L2.
//
// Defines: DTYPE, BACKWARD (0 or 1), UNROLL (packs in flight per thread),
// CLUSTER. The block size (a multiple of 32, at most 512) is chosen at launch.

#if CLUSTER > 1
#define CLUSTER_DIMS __cluster_dims__(CLUSTER, 1, 1)
#else
#define CLUSTER_DIMS
#endif

__device__ __forceinline__ unsigned my_rank() {
#if CLUSTER > 1
    return cluster_rank();
#else
    return 0;
#endif
}

// Columns [lo, hi) of every row belong to this block; chunks are multiples of
// VEC so that packs stay aligned.
__device__ __forceinline__ void chunk_of(long long n, long long& lo, long long& hi) {
    const long long chunk = ((n + CLUSTER - 1) / CLUSTER + VEC - 1) / VEC * VEC;
    lo = my_rank() * chunk;
    hi = lo + chunk < n ? lo + chunk : n;
    if (lo > hi) lo = hi;
}

// (max, sum) pair over the block and the cluster; every thread gets it.
// Slots alternate between rows (see block_row.cu).
__device__ __forceinline__ void pair_reduce(ACC& m, ACC& s, ACC* warp_m, ACC* warp_s, ACC* block_ms) {
    const int lane = threadIdx.x % 32;
    group_combine<32>(m, s);
    if (lane == 0) {
        warp_m[threadIdx.x / 32] = m;
        warp_s[threadIdx.x / 32] = s;
    }
    __syncthreads();
    const bool has = lane < blockDim.x / 32;
    m = has ? warp_m[lane] : neg_inf();
    s = has ? warp_s[lane] : ACC(0);
    group_combine<32>(m, s);
#if CLUSTER > 1
    if (threadIdx.x == 0) {
        block_ms[0] = m;
        block_ms[1] = s;
    }
    cluster_sync();
    m = lane < CLUSTER ? cluster_load(&block_ms[0], lane) : neg_inf();
    s = lane < CLUSTER ? cluster_load(&block_ms[1], lane) : ACC(0);
    group_combine<32>(m, s);
#endif
}

__device__ __forceinline__ ACC sum_reduce(ACC s, ACC* warp_s, ACC* block_s) {
    const int lane = threadIdx.x % 32;
    s = group_sum<32>(s);
    if (lane == 0) warp_s[threadIdx.x / 32] = s;
    __syncthreads();
    s = group_sum<32>(lane < blockDim.x / 32 ? warp_s[lane] : ACC(0));
#if CLUSTER > 1
    if (threadIdx.x == 0) *block_s = s;
    cluster_sync();
    s = group_sum<32>(lane < CLUSTER ? cluster_load(block_s, lane) : ACC(0));
#endif
    return s;
}

#if !BACKWARD
template <bool LOG>
__device__ __forceinline__ void online_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows,
                                               long long n, bool vec) {
    __shared__ ACC warp_m[2][32], warp_s[2][32], block_ms[2][2];
    long long lo, hi;
    chunk_of(n, lo, hi);
    const long long step = (long long)blockDim.x * UNROLL * VEC;  // columns per block step
    const long long steps = (hi - lo + step - 1) / step;
    const long long mine = lo + (long long)threadIdx.x * VEC;
    int slot = 0;
    for (long long row = blockIdx.x / CLUSTER; row < rows; row += gridDim.x / CLUSTER, slot ^= 1) {
        const T* xr = x + row * n;
        ACC m = neg_inf(), s = 0;
        for (long long st = 0; st < steps; ++st) {
            ACC v[UNROLL * VEC];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
                load_pack(xr, mine + st * step + (long long)u * blockDim.x * VEC, hi, vec, neg_inf(), &v[u * VEC]);
            ACC bm = neg_inf();
#pragma unroll
            for (int i = 0; i < UNROLL * VEC; ++i) bm = nmax(bm, v[i]);
            const ACC mn = nmax(m, bm);
            if (mn != neg_inf()) {  // all -inf so far: the sum stays 0 (no exp(-inf - -inf))
                s *= exp_acc(m - mn);
#pragma unroll
                for (int i = 0; i < UNROLL * VEC; ++i) s += exp_acc(v[i] - mn);
                m = mn;
            }
        }
        pair_reduce(m, s, warp_m[slot], warp_s[slot], block_ms[slot]);
        // An all -inf row ends with m = -inf: x - m is NaN below, as in the reference.
        const ACC k = LOG ? log_acc(s) : ACC(1) / s;
        T* yr = y + row * n;
        for (long long st = steps - 1; st >= 0; --st) {
            ACC v[UNROLL * VEC];
#pragma unroll
            for (int u = UNROLL - 1; u >= 0; --u)
                load_pack<true>(xr, mine + st * step + (long long)u * blockDim.x * VEC, hi, vec, neg_inf(),
                                &v[u * VEC]);
#pragma unroll
            for (int i = 0; i < UNROLL * VEC; ++i) v[i] = LOG ? v[i] - m - k : exp_acc(v[i] - m) * k;
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
                store_pack<true>(yr, mine + st * step + (long long)u * blockDim.x * VEC, hi, vec, &v[u * VEC]);
        }
    }
#if CLUSTER > 1
    cluster_sync();  // no block may leave while another still reads its shared memory
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(512)
softmax_online_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows, long long n, int log_out,
                       int vec) {
    if (log_out)
        online_row_fwd<true>(x, y, rows, n, vec != 0);
    else
        online_row_fwd<false>(x, y, rows, n, vec != 0);
}

#else
template <bool LOG>
__device__ __forceinline__ void online_row_bwd(const T* __restrict__ y, const T* __restrict__ dy,
                                               T* __restrict__ dx, long long rows, long long n, bool vec) {
    __shared__ ACC warp_s[2][32], block_s[2];
    long long lo, hi;
    chunk_of(n, lo, hi);
    const long long step = (long long)blockDim.x * UNROLL * VEC;  // columns per block step
    const long long steps = (hi - lo + step - 1) / step;
    const long long mine = lo + (long long)threadIdx.x * VEC;
    int slot = 0;
    for (long long row = blockIdx.x / CLUSTER; row < rows; row += gridDim.x / CLUSTER, slot ^= 1) {
        const long long off = row * n;
        ACC s = 0;
        for (long long st = 0; st < steps; ++st) {
            ACC a[UNROLL * VEC], g[UNROLL * VEC];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const long long col = mine + st * step + (long long)u * blockDim.x * VEC;
                if (!LOG) load_pack(y + off, col, hi, vec, ACC(0), &a[u * VEC]);
                load_pack(dy + off, col, hi, vec, ACC(0), &g[u * VEC]);
            }
#pragma unroll
            for (int i = 0; i < UNROLL * VEC; ++i) s += LOG ? g[i] : a[i] * g[i];
        }
        s = sum_reduce(s, warp_s[slot], &block_s[slot]);
        for (long long st = steps - 1; st >= 0; --st) {
            ACC a[UNROLL * VEC], g[UNROLL * VEC];
#pragma unroll
            for (int u = UNROLL - 1; u >= 0; --u) {
                const long long col = mine + st * step + (long long)u * blockDim.x * VEC;
                load_pack<true>(y + off, col, hi, vec, ACC(0), &a[u * VEC]);
                load_pack<true>(dy + off, col, hi, vec, ACC(0), &g[u * VEC]);
            }
#pragma unroll
            for (int i = 0; i < UNROLL * VEC; ++i) g[i] = LOG ? g[i] - exp_acc(a[i]) * s : a[i] * (g[i] - s);
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
                store_pack<true>(dx + off, mine + st * step + (long long)u * blockDim.x * VEC, hi, vec, &g[u * VEC]);
        }
    }
#if CLUSTER > 1
    cluster_sync();
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(512)
softmax_online_row_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, long long rows,
                       long long n, int log_out, int vec) {
    if (log_out)
        online_row_bwd<true>(y, dy, dx, rows, n, vec != 0);
    else
        online_row_bwd<false>(y, dy, dx, rows, n, vec != 0);
}
#endif
