// block_row: medium and long rows of the last axis, held in registers so that
// each element is read from DRAM once. A row belongs to CLUSTER blocks (a
// thread block cluster when CLUSTER > 1); block `rank` owns the columns
// [rank * CHUNK, (rank + 1) * CHUNK), each thread PACKS 16-byte packs of them.
// Forward: each thread keeps its (max, sum of exp(x - max)) pair and the
// exponentials; one pair reduction over the block (shared memory) and the
// cluster (distributed shared memory) then rescales them: one barrier of each
// kind per row.
//
// Defines: DTYPE, BACKWARD (0 or 1), BLOCK (threads), PACKS (packs per thread),
// CLUSTER (1, 2, 4, 8).

constexpr int PER_THREAD = PACKS * VEC;
constexpr long long CHUNK = (long long)BLOCK * PER_THREAD;
constexpr int WARPS = BLOCK / 32;

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

// Shared memory of one reduction; two slots alternate between rows, so a slot is
// written again only after a later barrier that every reader of it has passed.
struct Slot {
    ACC warp_m[WARPS], warp_s[WARPS], block_m, block_s;
};

// (max, sum) pairs (SUM_ONLY: plain sums) over the block and then the cluster;
// every thread gets the result.
template <bool SUM_ONLY>
__device__ __forceinline__ void row_reduce(ACC& m, ACC& s, Slot& slot) {
    const int lane = threadIdx.x % 32;
    if (SUM_ONLY)
        s = group_sum<32>(s);
    else
        group_combine<32>(m, s);
    if (lane == 0) {
        slot.warp_s[threadIdx.x / 32] = s;
        if (!SUM_ONLY) slot.warp_m[threadIdx.x / 32] = m;
    }
    __syncthreads();
    // Every warp combines the warp partials itself: no second barrier to broadcast.
    s = lane < WARPS ? slot.warp_s[lane] : ACC(0);
    if (SUM_ONLY) {
        s = group_sum<32>(s);
    } else {
        m = lane < WARPS ? slot.warp_m[lane] : neg_inf();
        group_combine<32>(m, s);
    }
#if CLUSTER > 1
    if (threadIdx.x == 0) {
        slot.block_s = s;
        if (!SUM_ONLY) slot.block_m = m;
    }
    cluster_sync();
    s = lane < CLUSTER ? cluster_load(&slot.block_s, lane) : ACC(0);
    if (SUM_ONLY) {
        s = group_sum<32>(s);
    } else {
        m = lane < CLUSTER ? cluster_load(&slot.block_m, lane) : neg_inf();
        group_combine<32>(m, s);
    }
#endif
}

#if !BACKWARD
template <bool LOG>
__device__ __forceinline__ void block_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows,
                                              long long n, bool vec) {
    __shared__ Slot slots[2];
    const long long begin = my_rank() * CHUNK + (long long)threadIdx.x * VEC;
    int slot = 0;
    // Rows advance per cluster, so all blocks of a cluster run the same iterations.
    for (long long row = blockIdx.x / CLUSTER; row < rows; row += gridDim.x / CLUSTER, slot ^= 1) {
        ACC v[PER_THREAD];
#pragma unroll
        for (int p = 0; p < PACKS; ++p)
            load_pack(x + row * n, begin + (long long)p * BLOCK * VEC, n, vec, neg_inf(), &v[p * VEC]);
        ACC m = neg_inf(), s = 0;
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) m = nmax(m, v[i]);
        // Columns past n read -inf. A thread holding nothing but -inf keeps (-inf, 0):
        // its exponentials are 0, not exp(-inf - -inf). The forward keeps them in
        // place of x; log_softmax keeps x.
        const bool empty = m == neg_inf();
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            const ACC e = empty ? ACC(0) : exp_acc(v[i] - m);
            s += e;
            if (!LOG) v[i] = e;
        }
        const ACC mine = m;
        row_reduce<false>(m, s, slots[slot]);
        // An all -inf row ends with m = -inf: exp(mine - m) and x - m are NaN, as in the reference.
        if (LOG) {
            const ACC k = log_acc(s);
#pragma unroll
            for (int i = 0; i < PER_THREAD; ++i) v[i] = (v[i] - m) - k;
        } else {
            const ACC k = exp_acc(mine - m) / s;
#pragma unroll
            for (int i = 0; i < PER_THREAD; ++i) v[i] *= k;
        }
#pragma unroll
        for (int p = 0; p < PACKS; ++p) store_pack(y + row * n, begin + (long long)p * BLOCK * VEC, n, vec, &v[p * VEC]);
    }
#if CLUSTER > 1
    cluster_sync();  // no block may leave while another still reads its shared memory
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(BLOCK)
softmax_block_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows, long long n, int log_out,
                      int vec) {
    if (log_out)
        block_row_fwd<true>(x, y, rows, n, vec != 0);
    else
        block_row_fwd<false>(x, y, rows, n, vec != 0);
}

#else
// dx = y * (dy - sum(y * dy)) for softmax, dy - exp(y) * sum(dy) for log_softmax.
template <bool LOG>
__device__ __forceinline__ void block_row_bwd(const T* __restrict__ y, const T* __restrict__ dy,
                                              T* __restrict__ dx, long long rows, long long n, bool vec) {
    __shared__ Slot slots[2];
    const long long begin = my_rank() * CHUNK + (long long)threadIdx.x * VEC;
    int slot = 0;
    for (long long row = blockIdx.x / CLUSTER; row < rows; row += gridDim.x / CLUSTER, slot ^= 1) {
        const long long off = row * n;
        ACC a[PER_THREAD], g[PER_THREAD];
#pragma unroll
        for (int p = 0; p < PACKS; ++p) {
            const long long col = begin + (long long)p * BLOCK * VEC;
            load_pack(y + off, col, n, vec, ACC(0), &a[p * VEC]);
            load_pack(dy + off, col, n, vec, ACC(0), &g[p * VEC]);
        }
        ACC s = 0, unused = 0;
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) s += LOG ? g[i] : a[i] * g[i];
        row_reduce<true>(unused, s, slots[slot]);
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) g[i] = LOG ? g[i] - exp_acc(a[i]) * s : a[i] * (g[i] - s);
#pragma unroll
        for (int p = 0; p < PACKS; ++p) store_pack(dx + off, begin + (long long)p * BLOCK * VEC, n, vec, &g[p * VEC]);
    }
#if CLUSTER > 1
    cluster_sync();
#endif
}

extern "C" __global__ void CLUSTER_DIMS __launch_bounds__(BLOCK)
softmax_block_row_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, long long rows,
                      long long n, int log_out, int vec) {
    if (log_out)
        block_row_bwd<true>(y, dy, dx, rows, n, vec != 0);
    else
        block_row_bwd<false>(y, dy, dx, rows, n, vec != 0);
}
#endif
