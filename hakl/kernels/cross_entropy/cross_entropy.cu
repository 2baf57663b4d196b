// cross_entropy forward, backward and training over axis 1 of a contiguous (outer, C, inner)
// input. softmax.cu (types T/ACC, to_acc/from_acc, nmax, group_sum) is prepended.
//
// Defines: DTYPE (0 f16, 1 f32, 2 f64), LABEL64 (1: int64 labels, 0: int32), GROUP (threads per row: 1..32 share a
// warp, e.g. 32 = warp-per-row, 1 = thread-per-row, which also serves the class axis not last;
// BLOCK_ROW 1: the whole block owns a row), ITEMS (row values each thread keeps in registers,
// so that a training pass reads the logits once while C <= GROUP * ITEMS).
// The op's flags are a run-time bitmask `fl` (see cross_entropy.cl): SOFT 1, USE_SOFTMAX 2,
// HAS_WEIGHT 4, GIVEN_LSE 8, PER_ROW 16, mode in bits 5-6 (0 forward, 1 backward, 2 train).
// All offsets are 64-bit. A label outside [0, C) other than ignore_index sets bad[0] with
// atomicCAS and the winner stores its value: the host reads that one flag. The reduction is
// deterministic: every block writes its partial sums, ce_finish adds them in a fixed order.

#define SOFT_F (fl & 1)
#define USE_SOFTMAX_F (fl & 2)
#define HAS_WEIGHT_F (fl & 4)
#define GIVEN_LSE_F (fl & 8)
#define PER_ROW_F (fl & 16)
#define MODE_F ((fl >> 5) & 3)

#if LABEL64
typedef long long label_t;
#else
typedef int label_t;
#endif
constexpr ACC TOLERABLE = ACC(1e20);

__device__ __forceinline__ ACC pos_inf() { return -neg_inf(); }
__device__ __forceinline__ ACC nan_acc() { return neg_inf() - neg_inf() + pos_inf(); }
__device__ __forceinline__ float expm1_acc(float v) { return expm1f(v); }
__device__ __forceinline__ double expm1_acc(double v) { return expm1(v); }
__device__ __forceinline__ ACC clamp_log(ACC v) {
    const ACC l = log_acc(v);
    return l < -TOLERABLE ? -TOLERABLE : (l > TOLERABLE ? TOLERABLE : l);
}

// (m, s) += v with s = sum exp(x - m); NaN enters s through exp, -inf adds nothing.
__device__ __forceinline__ void online_add(ACC& m, ACC& s, ACC v) {
    if (v > m) {
        s = s * exp_acc(m - v) + ACC(1);
        m = v;
    } else if (v != neg_inf()) {
        s += exp_acc(v - m);
    }
}

// Per-thread statistics of a row: online (m, s); soft labels: sum l, sum l*x, sum l*w,
// and for use_softmax=0 -sum l*clamp_log(x).
struct Stats {
    ACC m, s, ls, lx, lw, plain;
};

template <int WIDTH>
__device__ __forceinline__ void group_reduce(Stats& t) {
#pragma unroll
    for (int o = WIDTH / 2; o > 0; o >>= 1) {
        const ACC m2 = __shfl_xor_sync(FULL, t.m, o), s2 = __shfl_xor_sync(FULL, t.s, o);
        combine(t.m, t.s, m2, s2);
        t.ls += __shfl_xor_sync(FULL, t.ls, o);
        t.lx += __shfl_xor_sync(FULL, t.lx, o);
        t.lw += __shfl_xor_sync(FULL, t.lw, o);
        t.plain += __shfl_xor_sync(FULL, t.plain, o);
    }
}

__device__ __forceinline__ Stats row_stats(int fl, const T* __restrict__ xr, const T* __restrict__ lr,
                                           const T* __restrict__ weight, long long st, int lane, int width,
                                           int classes, ACC* cache) {
    Stats t{neg_inf(), ACC(0), ACC(0), ACC(0), ACC(0), ACC(0)};
    const bool need_exp = USE_SOFTMAX_F && !GIVEN_LSE_F, soft = SOFT_F;
    int k = 0;
    for (int c = lane; c < classes; c += width, ++k) {
        const ACC v = to_acc(xr[c * st]);
        if (k < ITEMS) cache[k] = v;  // kept for the gradient pass: one read of the row
        if (need_exp) online_add(t.m, t.s, v);
        if (soft) {
            const ACC l = to_acc(lr[c * st]);
            t.ls += l;
            t.lx += l * v;
            if (HAS_WEIGHT_F) t.lw += l * to_acc(weight[c]);
            if (!USE_SOFTMAX_F && l != ACC(0)) t.plain -= l * clamp_log(v);
        }
    }
    return t;
}

// Writes the gradient of the elements a thread owns: coef * (softmax - onehot) (soft:
// coef * (sum l * softmax - l)), softmax = exp((x - sh) - sl); each element read before written.
__device__ __forceinline__ void row_grad(int fl, const T* xr, const T* __restrict__ lr, T* dr, long long st,
                                         int lane, int width, int classes, bool valid, long long lab, ACC xl,
                                         ACC coef, ACC sh, ACC sl, ACC ls, const ACC* cache) {
    int k = 0;
    for (int c = lane; c < classes; c += width, ++k) {
        ACC d = ACC(0);
        if (valid) {
            const ACC v = k < ITEMS ? cache[k] : to_acc(xr[c * st]);
            if (USE_SOFTMAX_F) {
                const ACC z = (v - sh) - sl;
                if (SOFT_F)
                    d = coef * (ls * exp_acc(z) - to_acc(lr[c * st]));
                else
                    d = c == lab ? coef * expm1_acc((xl - sh) - sl) : coef * exp_acc(z);  // no cancelling at the label
            } else if (SOFT_F) {
                const ACC l = to_acc(lr[c * st]);
                d = l != ACC(0) ? -coef * l / v : ACC(0);
            } else {
                d = c == lab ? -coef / xl : ACC(0);
            }
        }
        dr[c * st] = from_acc(d);
    }
}

__device__ __forceinline__ bool take_label(int fl, const label_t* __restrict__ label, long long g, int classes,
                                           long long ignore, int* bad, long long* badv, long long& lab) {
    lab = -1;
    if (SOFT_F) return true;
    const long long v = label[g];
    if (v == ignore) return false;
    if (v < 0 || v >= classes) {
        if (atomicCAS(bad, 0, 1) == 0) *badv = v;
        return false;
    }
    lab = v;
    return true;
}

// The row's loss and weight factor, its lse, and the softmax's (sh, sl).
__device__ __forceinline__ void row_loss(int fl, bool valid, long long lab, ACC xl, const Stats& t,
                                         const T* __restrict__ weight, ACC lse_given, ACC& loss, ACC& w, ACC& lse,
                                         ACC& sh, ACC& sl) {
    if (SOFT_F)
        w = HAS_WEIGHT_F ? t.lw : ACC(1);
    else
        w = valid ? (HAS_WEIGHT_F ? to_acc(weight[lab]) : ACC(1)) : ACC(0);  // ignored labels never index weight
    sh = sl = lse = ACC(0);
    if (USE_SOFTMAX_F) {
        if (GIVEN_LSE_F) {
            lse = sh = lse_given;
        } else {
            const ACC s = t.m == pos_inf() ? nan_acc() : t.s;  // a row holding +inf is NaN
            sh = t.m;
            sl = log_acc(s);
            lse = t.m == neg_inf() ? nan_acc() : t.m + sl;
        }
        loss = SOFT_F ? w * (t.ls * lse - t.lx) : (valid ? w * ((sh - xl) + sl) : ACC(0));
    } else {
        loss = SOFT_F ? w * t.plain : (valid ? -w * clamp_log(xl) : ACC(0));
    }
}

__device__ __forceinline__ ACC upstream(const T* __restrict__ gd, const ACC* __restrict__ ga, long long g,
                                        long long gstride, int g_acc) {
    return g_acc ? ga[0] : to_acc(gd[g * gstride]);
}

// Block sum of (a, b) in a fixed order; thread 0 writes the block's partial.
__device__ __forceinline__ void block_partial(ACC a, ACC b, ACC* partial) {
    __shared__ ACC sa[32], sb[32];
    a = group_sum<32>(a);
    b = group_sum<32>(b);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) {
        sa[warp] = a;
        sb[warp] = b;
    }
    __syncthreads();
    if (warp == 0) {
        a = lane < blockDim.x / 32 ? sa[lane] : ACC(0);
        b = lane < blockDim.x / 32 ? sb[lane] : ACC(0);
        a = group_sum<32>(a);
        b = group_sum<32>(b);
        if (lane == 0) {
            partial[2 * blockIdx.x] = a;
            partial[2 * blockIdx.x + 1] = b;
        }
    }
}

#define CE_ARGS                                                                                              \
    const T *__restrict__ x, const label_t *__restrict__ hard, const T *__restrict__ softl,                  \
        const T *__restrict__ weight, const ACC *__restrict__ lse_in, const T *__restrict__ gd,              \
        const ACC *__restrict__ ga, long long gstride, int g_acc, T *__restrict__ loss, ACC *__restrict__ lse_out, \
        T *dx, ACC *__restrict__ partial, int *bad, long long *badv, long long rows, int classes, long long inner, \
        long long ignore, int fl

#if !BLOCK_ROW
// GROUP lanes per row (interleaved: a warp's loads are contiguous); rows grid-stride per group.
// GROUP == 1 with inner > 1: neighbouring threads take neighbouring columns (coalesced).
extern "C" __global__ void __launch_bounds__(256) ce_group(CE_ARGS) {
    const int lane = threadIdx.x % GROUP;
    const long long group = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / GROUP;
    const long long groups = (long long)gridDim.x * (blockDim.x / GROUP);
    const int mode = MODE_F;
    ACC sum_loss = 0, sum_w = 0;
    // The loop runs per warp (rows of a warp's groups together) so that shuffles see all lanes.
    const long long warp_first = group - (threadIdx.x % 32) / GROUP;
    for (long long base_row = warp_first; base_row < rows; base_row += groups) {
        const long long g = base_row + (threadIdx.x % 32) / GROUP;
        const bool live = g < rows;
        const long long o = live ? g / inner : 0, j = live ? g % inner : 0;
        const long long base = o * classes * inner + j;
        const T* xr = x + base;
        ACC cache[ITEMS];
        Stats t = live ? row_stats(fl, xr, softl + base, weight, inner, lane, GROUP, classes, cache)
                       : Stats{neg_inf(), ACC(0), ACC(0), ACC(0), ACC(0), ACC(0)};
        group_reduce<GROUP>(t);
        if (!live) continue;  // after the shuffles
        long long lab;
        const bool valid = take_label(fl, hard, g, classes, ignore, bad, badv, lab);
        const ACC xl = lab >= 0 ? to_acc(xr[lab * inner]) : ACC(1);
        ACC li, wi, lse, sh, sl;
        row_loss(fl, valid, lab, xl, t, weight, GIVEN_LSE_F ? lse_in[g] : ACC(0), li, wi, lse, sh, sl);
        if (lane == 0) {
            if (PER_ROW_F && mode != 1) loss[g] = from_acc(li);
            if (mode == 0) lse_out[g] = lse;
            sum_loss += li;
            sum_w += wi;
        }
        if (mode != 0)
            row_grad(fl, xr, softl + base, dx + base, inner, lane, GROUP, classes, valid, lab, xl,
                     upstream(gd, ga, g, gstride, g_acc) * wi, sh, sl, t.ls, cache);
    }
    if (!PER_ROW_F && mode != 1) block_partial(sum_loss, sum_w, partial);
}
#else
// A block per row (long rows, C >= ~1024): statistics merged over warps in shared memory.
extern "C" __global__ void __launch_bounds__(1024) ce_block_row(CE_ARGS) {
    __shared__ Stats warp_stats[32];
    __shared__ Stats row_t;
    const int mode = MODE_F, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    ACC sum_loss = 0, sum_w = 0;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * classes;
        ACC cache[ITEMS];
        Stats t = row_stats(fl, xr, softl + r * classes, weight, 1, threadIdx.x, blockDim.x, classes, cache);
        group_reduce<32>(t);
        if (lane == 0) warp_stats[warp] = t;
        __syncthreads();
        if (warp == 0) {
            t = lane < blockDim.x / 32 ? warp_stats[lane] : Stats{neg_inf(), ACC(0), ACC(0), ACC(0), ACC(0), ACC(0)};
            group_reduce<32>(t);
            if (lane == 0) row_t = t;
        }
        __syncthreads();
        t = row_t;
        long long lab;
        const bool valid = threadIdx.x == 0 ? take_label(fl, hard, r, classes, ignore, bad, badv, lab)
                                            : (SOFT_F ? (lab = -1, true)
                                                      : (lab = hard[r], lab != ignore && lab >= 0 && lab < classes));
        if (!valid && !SOFT_F) lab = -1;
        const ACC xl = lab >= 0 ? to_acc(xr[lab]) : ACC(1);
        ACC li, wi, lse, sh, sl;
        row_loss(fl, valid, lab, xl, t, weight, GIVEN_LSE_F ? lse_in[r] : ACC(0), li, wi, lse, sh, sl);
        if (threadIdx.x == 0) {
            if (PER_ROW_F && mode != 1) loss[r] = from_acc(li);
            if (mode == 0) lse_out[r] = lse;
            sum_loss += li;
            sum_w += wi;
        }
        __syncthreads();  // every thread has read xl and row_t before any gradient is written
        if (mode != 0)
            row_grad(fl, xr, softl + r * classes, dx + r * classes, 1, threadIdx.x, blockDim.x, classes, valid, lab,
                     xl, upstream(gd, ga, r, gstride, g_acc) * wi, sh, sl, t.ls, cache);
    }
    if (!PER_ROW_F && mode != 1) block_partial(sum_loss, sum_w, partial);
}
#endif

// The mean's divisor before a gradient pass: per-block partial sums of the element weights.
extern "C" __global__ void __launch_bounds__(256)
ce_den(const label_t* __restrict__ hard, const T* __restrict__ softl, const T* __restrict__ weight, ACC* partial,
       int* bad, long long* badv, long long rows, int classes, long long inner, long long ignore, int fl) {
    ACC acc = 0;
    for (long long g = blockIdx.x * (long long)blockDim.x + threadIdx.x; g < rows;
         g += (long long)gridDim.x * blockDim.x) {
        if (SOFT_F) {
            const long long o = g / inner, j = g % inner;
            const T* lr = softl + o * classes * inner + j;
            for (int c = 0; c < classes; ++c) acc += to_acc(lr[c * inner]) * to_acc(weight[c]);
        } else {
            long long lab;
            if (take_label(fl, hard, g, classes, ignore, bad, badv, lab))
                acc += HAS_WEIGHT_F ? to_acc(weight[lab]) : ACC(1);
        }
    }
    block_partial(ACC(0), acc, partial);
}

// One block adds the partials (fixed order, Kahan per thread) and writes the reduced loss or,
// before a gradient pass, the gradient factor dloss / divisor.
extern "C" __global__ void __launch_bounds__(256)
ce_finish(const ACC* __restrict__ partial, long long parts, long long rows, int by_weight, int mean, int grad,
          const T* __restrict__ dloss, int have_dloss, T* out, ACC* gout) {
    __shared__ ACC sa[32], sb[32];
    ACC a = 0, b = 0, ca = 0, cb = 0;
    for (long long i = threadIdx.x; i < parts; i += blockDim.x) {
        ACC y = partial[2 * i] - ca, t = a + y;
        ca = (t - a) - y;
        a = t;
        y = partial[2 * i + 1] - cb;
        t = b + y;
        cb = (t - b) - y;
        b = t;
    }
    a = group_sum<32>(a);
    b = group_sum<32>(b);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) {
        sa[warp] = a;
        sb[warp] = b;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        a = b = 0;
        for (int k = 0; k < (int)(blockDim.x / 32); ++k) {
            a += sa[k];
            b += sb[k];
        }
        ACC den = by_weight ? b : ACC(rows);
        den = den == ACC(0) ? ACC(1) : den;
        if (grad) {
            const ACC d = have_dloss ? to_acc(dloss[0]) : ACC(1);
            gout[0] = mean ? d / den : d;
        } else {
            out[0] = from_acc(mean ? a / den : a);
        }
    }
}
