// layer_norm forward and backward over the rows of a contiguous (rows, n) array.
// softmax.cu (types T / ACC, to_acc / from_acc, group_sum) is prepended.
//
// Defines: DTYPE (0 f16, 1 f32, 2 f64): one module per dtype; the block size is the
// launch's. fl: run-time bits, 1 = weight given, 2 = bias given.
// A row belongs to a warp (the _warp kernels: n up to a few thousand) or to a block (the
// _block kernels); lanes stride over the row (coalesced), which stays in L1/L2 between
// the passes. Statistics: the corrected two-pass variance (cpu.py), sums as fixed
// shuffle trees (and a fixed tree over the block's warps): the same bits on every run.
// The backward's groups (warps or blocks) each own a fixed block of rows and add dout *
// xhat and dout of their own columns into the group's partial row; ln_bwd_finish adds the
// partials in group order. Offsets are 64-bit.

#define HAS_W (fl & 1)
#define HAS_B (fl & 2)

__device__ __forceinline__ float abs_acc(float v) { return fabsf(v); }
__device__ __forceinline__ double abs_acc(double v) { return fabs(v); }
__device__ __forceinline__ float sqrt_acc(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_acc(double v) { return sqrt(v); }

// The block's sum of v, returned to every thread (blockDim.x a multiple of 32, <= 1024).
__device__ __forceinline__ ACC block_sum(ACC v, ACC* shm) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = group_sum<32>(v);
    __syncthreads();  // shm is reused by the next call
    if (lane == 0) shm[warp] = v;
    __syncthreads();
    v = lane < warps ? shm[lane] : ACC(0);
    return group_sum<32>(v);  // every warp reduces the same values in the same order
}

template <bool WARP>
__device__ __forceinline__ ACC row_sum(ACC v, ACC* shm) {
    return WARP ? group_sum<32>(v) : block_sum(v, shm);
}

// This thread's place: (group, groups, lane, lanes) for a warp or a block per group.
template <bool WARP>
__device__ __forceinline__ void place(long long& group, long long& groups, int& lane, int& lanes) {
    if (WARP) {
        group = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
        groups = (long long)gridDim.x * (blockDim.x / 32);
        lane = threadIdx.x % 32;
        lanes = 32;
    } else {
        group = blockIdx.x;
        groups = gridDim.x;
        lane = threadIdx.x;
        lanes = blockDim.x;
    }
}

__device__ __forceinline__ ACC affine(int fl, const T* __restrict__ w, const T* __restrict__ b, int c, ACC v) {
    if (HAS_W) v *= to_acc(w[c]);
    if (HAS_B) v += to_acc(b[c]);
    return v;
}

template <bool WARP>
__device__ void forward_rows(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                             T* __restrict__ y, ACC* __restrict__ mean, ACC* __restrict__ rstd, long long rows,
                             int n, ACC eps, int fl) {
    __shared__ ACC shm[32];
    long long first, stride;
    int lane, lanes;
    place<WARP>(first, stride, lane, lanes);
    const ACC nf = ACC(n);
    for (long long r = first; r < rows; r += stride) {
        const T* xr = x + r * n;
        ACC s = 0;
        for (int c = lane; c < n; c += lanes) s += to_acc(xr[c]);
        const ACC m0 = row_sum<WARP>(s, shm) / nf;
        ACC cs = 0, q = 0;
        for (int c = lane; c < n; c += lanes) {
            const ACC d = to_acc(xr[c]) - m0;
            cs += d;
            q += d * d;
        }
        cs = row_sum<WARP>(cs, shm) / nf;
        q = row_sum<WARP>(q, shm);
        const ACC mu = abs_acc(m0) < -neg_inf() ? m0 + cs : m0;  // a row with ±inf keeps m0
        ACC var = q / nf - cs * cs;
        var = var < ACC(0) ? ACC(0) : var;  // rounding; NaN stays
        const ACC rs = ACC(1) / sqrt_acc(var + eps);
        for (int c = lane; c < n; c += lanes) y[r * n + c] = from_acc(affine(fl, w, b, c, (to_acc(xr[c]) - mu) * rs));
        if (lane == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

extern "C" __global__ void ln_fwd_warp(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                       T* __restrict__ y, ACC* __restrict__ mean, ACC* __restrict__ rstd,
                                       long long rows, int n, ACC eps, int fl) {
    forward_rows<true>(x, w, b, y, mean, rstd, rows, n, eps, fl);
}

extern "C" __global__ void ln_fwd_block(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                        T* __restrict__ y, ACC* __restrict__ mean, ACC* __restrict__ rstd,
                                        long long rows, int n, ACC eps, int fl) {
    forward_rows<false>(x, w, b, y, mean, rstd, rows, n, eps, fl);
}

// Group g of `groups` takes rows [g * per_group, (g + 1) * per_group); part: 2 * n per group.
template <bool WARP>
__device__ void backward_rows(const T* __restrict__ x, const T* __restrict__ dout, const ACC* __restrict__ mean,
                              const ACC* __restrict__ rstd, const T* __restrict__ w, T* __restrict__ dx,
                              ACC* __restrict__ part, long long rows, int n, long long per_group,
                              long long groups, int fl) {
    __shared__ ACC shm[32];
    long long g, unused;
    int lane, lanes;
    place<WARP>(g, unused, lane, lanes);
    if (g >= groups) return;  // whole warps (or blocks) leave together
    ACC* pw = part + g * 2 * n;
    ACC* pb = pw + n;
    for (int c = lane; c < n; c += lanes) pw[c] = pb[c] = ACC(0);
    const ACC nf = ACC(n);
    const long long end = (g + 1) * per_group, r1 = end < rows ? end : rows;
    for (long long r = g * per_group; r < r1; ++r) {
        const T* xr = x + r * n;
        const T* gr = dout + r * n;
        const ACC mu = mean[r], rs = rstd[r];
        ACC sg = 0, sgx = 0;
        for (int c = lane; c < n; c += lanes) {
            const ACC xh = (to_acc(xr[c]) - mu) * rs, d = to_acc(gr[c]);
            const ACC gw = HAS_W ? d * to_acc(w[c]) : d;
            sg += gw;
            sgx += gw * xh;
            pw[c] += d * xh;
            pb[c] += d;
        }
        const ACC a = row_sum<WARP>(sg, shm) / nf, bc = row_sum<WARP>(sgx, shm) / nf;
        for (int c = lane; c < n; c += lanes) {
            const ACC xh = (to_acc(xr[c]) - mu) * rs, d = to_acc(gr[c]);
            const ACC gw = HAS_W ? d * to_acc(w[c]) : d;
            dx[r * n + c] = from_acc(rs * (gw - a - xh * bc));
        }
    }
}

extern "C" __global__ void ln_bwd_warp(const T* __restrict__ x, const T* __restrict__ dout,
                                       const ACC* __restrict__ mean, const ACC* __restrict__ rstd,
                                       const T* __restrict__ w, T* __restrict__ dx, ACC* __restrict__ part,
                                       long long rows, int n, long long per_group, long long groups, int fl) {
    backward_rows<true>(x, dout, mean, rstd, w, dx, part, rows, n, per_group, groups, fl);
}

extern "C" __global__ void ln_bwd_block(const T* __restrict__ x, const T* __restrict__ dout,
                                        const ACC* __restrict__ mean, const ACC* __restrict__ rstd,
                                        const T* __restrict__ w, T* __restrict__ dx, ACC* __restrict__ part,
                                        long long rows, int n, long long per_group, long long groups, int fl) {
    backward_rows<false>(x, dout, mean, rstd, w, dx, part, rows, n, per_group, groups, fl);
}

// dweight, dbias: the groups' partial rows added in group order, a thread per column.
extern "C" __global__ void ln_bwd_finish(const ACC* __restrict__ part, long long groups, int n, T* __restrict__ dw,
                                         T* __restrict__ db) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= n) return;
    ACC sw = 0, sb = 0;
    for (long long g = 0; g < groups; ++g) {
        sw += part[g * 2 * n + c];
        sb += part[g * 2 * n + n + c];
    }
    dw[c] = from_acc(sw);
    db[c] = from_acc(sb);
}
