// warp_row: short rows (n <= 1024), the last axis. A group of GROUP lanes owns
// a row and keeps it in registers (PACKS 16-byte packs per lane), so each
// element is read once and written once; max and sum are group shuffles.
// A warp holds 32 / GROUP groups; each group takes ROWS rows per step, rows of
// one step interleaved across the groups so that a warp's loads are contiguous.
//
// Defines: DTYPE, BACKWARD (0 or 1), GROUP (lanes per row, power of two <= 32),
// PACKS (packs per lane: row capacity GROUP * PACKS * VEC), ROWS. The block
// size (a multiple of 32, at most 256) is chosen at launch.

constexpr int PER_LANE = PACKS * VEC;
constexpr int GROUPS = 32 / GROUP;  // groups per warp

#if !BACKWARD

template <bool LOG>
__device__ __forceinline__ void warp_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows,
                                             long long n, bool vec) {
    const int lane = threadIdx.x % GROUP, group = (threadIdx.x % 32) / GROUP;
    const long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    // The loop runs per warp (never per group) so that every shuffle has all 32 lanes.
    for (long long base = warp * (GROUPS * ROWS); base < rows; base += warps * (GROUPS * ROWS)) {
        ACC v[ROWS][PER_LANE];
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const long long row = base + r * GROUPS + group;
            const T* xr = x + (row < rows ? row : 0) * n;
#pragma unroll
            for (int p = 0; p < PACKS; ++p)
                load_pack(xr, (long long)(p * GROUP + lane) * VEC, n, vec, neg_inf(), &v[r][p * VEC]);
        }
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            ACC m = neg_inf();
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) m = nmax(m, v[r][i]);
            m = group_max<GROUP>(m);
            ACC s = 0;
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) {
                v[r][i] -= m;  // padding: -inf - m = -inf, exp = 0
                const ACC e = exp_acc(v[r][i]);
                s += e;
                if (!LOG) v[r][i] = e;
            }
            s = group_sum<GROUP>(s);
            const ACC k = LOG ? log_acc(s) : ACC(1) / s;
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) v[r][i] = LOG ? v[r][i] - k : v[r][i] * k;
            const long long row = base + r * GROUPS + group;
            if (row < rows) {
#pragma unroll
                for (int p = 0; p < PACKS; ++p)
                    store_pack(y + row * n, (long long)(p * GROUP + lane) * VEC, n, vec, &v[r][p * VEC]);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
softmax_warp_row_fwd(const T* __restrict__ x, T* __restrict__ y, long long rows, long long n, int log_out,
                     int vec) {
    if (log_out)
        warp_row_fwd<true>(x, y, rows, n, vec != 0);
    else
        warp_row_fwd<false>(x, y, rows, n, vec != 0);
}

#else
// dx = y * (dy - sum(y * dy)) for softmax, dy - exp(y) * sum(dy) for log_softmax.
template <bool LOG>
__device__ __forceinline__ void warp_row_bwd(const T* __restrict__ y, const T* __restrict__ dy,
                                             T* __restrict__ dx, long long rows, long long n, bool vec) {
    const int lane = threadIdx.x % GROUP, group = (threadIdx.x % 32) / GROUP;
    const long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    for (long long base = warp * (GROUPS * ROWS); base < rows; base += warps * (GROUPS * ROWS)) {
        ACC a[ROWS][PER_LANE], g[ROWS][PER_LANE];
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const long long row = base + r * GROUPS + group;
            const long long off = (row < rows ? row : 0) * n;
#pragma unroll
            for (int p = 0; p < PACKS; ++p) {
                const long long col = (long long)(p * GROUP + lane) * VEC;
                load_pack(y + off, col, n, vec, ACC(0), &a[r][p * VEC]);
                load_pack(dy + off, col, n, vec, ACC(0), &g[r][p * VEC]);
            }
        }
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            ACC s = 0;
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) s += LOG ? g[r][i] : a[r][i] * g[r][i];
            s = group_sum<GROUP>(s);
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i)
                g[r][i] = LOG ? g[r][i] - exp_acc(a[r][i]) * s : a[r][i] * (g[r][i] - s);
            const long long row = base + r * GROUPS + group;
            if (row < rows) {
#pragma unroll
                for (int p = 0; p < PACKS; ++p)
                    store_pack(dx + row * n, (long long)(p * GROUP + lane) * VEC, n, vec, &g[r][p * VEC]);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
softmax_warp_row_bwd(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, long long rows,
                     long long n, int log_out, int vec) {
    if (log_out)
        warp_row_bwd<true>(y, dy, dx, rows, n, vec != 0);
    else
        warp_row_bwd<false>(y, dy, dx, rows, n, vec != 0);
}
#endif
