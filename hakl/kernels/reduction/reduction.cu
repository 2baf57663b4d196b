// Reductions over axis 1 of a contiguous (outer, n, inner) array on CUDA (no #include:
// NVRTC and nvcc compile this text as is).
//
// Defines: KIND = x's dtype (0 float16 as its bits, 1 float32, 2 float64). The op is a
// run-time argument (0 sum, 1 max, 2 min, 3 argmax; `mean` divides a sum in double),
// block sizes are launch parameters, so one module per dtype serves every op and
// configuration. Integers are CuPy's (the baseline): they need no fixed order.
//
// The fixed tree, the same as reduction.cl's and the CPU's (hakl/kernels/reduction/
// __init__.py): chunks of LANES * STEPS elements along n; lane j of a chunk combines its
// elements j, j + 32, ... in order from the identity; lanes fold by halving (a warp's
// shuffle-down: lane j with lane j + 16, then + 8, ...); chunk values combine level by
// level (2i with 2i + 1, an odd last one carried). No atomics: the same input gives the
// same bits whatever the block sizes.
//
// chunk_cols: a thread per (o, chunk, column), the chunk's 32 lanes in registers
//   (neighbouring threads on neighbouring columns: coalesced), any inner.
// chunk_rows: inner == 1, a block per (row, run of blockDim / 32 chunks), a warp per
//   chunk (each lane reads every 32nd element: coalesced); the run's chunk values
//   combine level by level in shared memory (an aligned run is one node of the tree).
// tree: a thread per output: the level-by-level tree over what those left, and the
//   result (the value rounded once, the mean, or the index).
// grad: the gradients, a thread per element of dx. 64-bit indices throughout.

#define LANES 32
#define STEPS 32
#define CHUNK (LANES * STEPS)
#define ARGMAX 3
#define NO_INDEX 0x7fffffffffffffffLL
#define MAX_WARPS 32

#if KIND == 0
typedef unsigned short T;
typedef float A;
__device__ __forceinline__ A load(const T *p, long long i)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
    return f;
}
__device__ __forceinline__ void store(T *p, long long i, double v)  // rounded once, as NumPy's astype
{
    unsigned short h;
    asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(v));
    p[i] = h;
}
#else
#if KIND == 1
typedef float T;
#else
typedef double T;
#endif
typedef T A;
__device__ __forceinline__ A load(const T *p, long long i) { return p[i]; }
__device__ __forceinline__ void store(T *p, long long i, double v) { p[i] = (T)v; }
#endif

__device__ __forceinline__ A identity(int op)
{
    return op == 0 ? (A)0 : (op == 2 ? (A)__int_as_float(0x7f800000) : -(A)__int_as_float(0x7f800000));
}

// sum / max / min of a (the earlier elements) and b: the selects every backend uses
// (max: a > b ? a : b, then a where a is NaN), so ties of -0.0 and +0.0 resolve alike.
__device__ __forceinline__ A combine(int op, A a, A b)
{
    A t = op == 0 ? a + b : (op == 1 ? (a > b ? a : b) : (a < b ? a : b));
    return (op != 0 && a != a) ? a : t;
}

// argmax's combine: NaN first, then the larger value, then the smaller index; it does
// not depend on the order of its arguments, so any tree finds the first maximum.
__device__ __forceinline__ void pick(A &va, long long &ia, A vb, long long ib)
{
    bool an = va != va, bn = vb != vb;
    bool take = (an || bn) ? (bn && (!an || ib < ia)) : (vb > va || (vb == va && ib < ia));
    if (take) {
        va = vb;
        ia = ib;
    }
}

extern "C" __global__ void chunk_cols(const T *x, A *vals, long long *idx, long long total, long long n,
                                      long long inner, long long m, int op)
{
    for (long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x; gid < total;
         gid += (long long)gridDim.x * blockDim.x) {
        long long c = gid % inner, rest = gid / inner;
        long long k = rest % m, o = rest / m;
        long long start = k * CHUNK, count = min((long long)CHUNK, n - start);
        const T *p = x + (o * n + start) * inner + c;
        A acc[LANES];
        long long arg[LANES];
#pragma unroll
        for (int j = 0; j < LANES; j++) {
            acc[j] = identity(op);
            arg[j] = NO_INDEX;
        }
        for (int s = 0; s < STEPS; s++) {
#pragma unroll
            for (int j = 0; j < LANES; j++) {
                long long i = s * LANES + j;
                if (i < count) {
                    A v = load(p, i * inner);
                    if (op == ARGMAX)
                        pick(acc[j], arg[j], v, start + i);
                    else
                        acc[j] = combine(op, acc[j], v);
                }
            }
        }
#pragma unroll
        for (int off = LANES / 2; off > 0; off /= 2) {
#pragma unroll
            for (int j = 0; j < off; j++) {
                if (op == ARGMAX)
                    pick(acc[j], arg[j], acc[j + off], arg[j + off]);
                else
                    acc[j] = combine(op, acc[j], acc[j + off]);
            }
        }
        vals[gid] = acc[0];  // gid = (o * m + k) * inner + c
        if (op == ARGMAX)
            idx[gid] = arg[0];
    }
}

// The level-by-level tree over v[0 .. count) (with the indices for argmax), in place.
__device__ void combine_levels(int op, A *v, long long *ix, int count)
{
    while (count > 1) {
        int pairs = count / 2;
        for (int i = 0; i < pairs; i++) {
            if (op == ARGMAX) {
                A a = v[2 * i];
                long long ia = ix[2 * i];
                pick(a, ia, v[2 * i + 1], ix[2 * i + 1]);
                v[i] = a;
                ix[i] = ia;
            } else {
                v[i] = combine(op, v[2 * i], v[2 * i + 1]);
            }
        }
        if (count % 2) {
            v[pairs] = v[count - 1];
            ix[pairs] = ix[count - 1];
        }
        count = pairs + count % 2;
    }
}

extern "C" __global__ void chunk_rows(const T *x, A *vals, long long *idx, long long n, long long m, int op)
{
    __shared__ A sv[MAX_WARPS];
    __shared__ long long si[MAX_WARPS];
    int lane = threadIdx.x % LANES, warp = threadIdx.x / LANES, warps = blockDim.x / LANES;
    long long runs = (m + warps - 1) / warps;
    long long row = blockIdx.x / runs, run = blockIdx.x - row * runs;
    long long k = run * warps + warp;
    A acc = identity(op);
    long long at = NO_INDEX;
    if (k < m) {
        const T *p = x + row * n + k * CHUNK;
        long long count = min((long long)CHUNK, n - k * CHUNK);
#pragma unroll 8
        for (int s = 0; s < STEPS; s++) {
            long long i = s * LANES + lane;
            if (i < count) {
                if (op == ARGMAX)
                    pick(acc, at, load(p, i), k * CHUNK + i);
                else
                    acc = combine(op, acc, load(p, i));
            }
        }
    }
    for (int off = LANES / 2; off > 0; off /= 2) {
        A other = __shfl_down_sync(0xffffffffu, acc, off);
        long long other_at = __shfl_down_sync(0xffffffffu, at, off);
        if (op == ARGMAX)
            pick(acc, at, other, other_at);
        else
            acc = combine(op, acc, other);
    }
    if (lane == 0) {
        sv[warp] = acc;
        si[warp] = at;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        combine_levels(op, sv, si, (int)min((long long)warps, m - run * warps));
        vals[blockIdx.x] = sv[0];
        if (op == ARGMAX)
            idx[blockIdx.x] = si[0];
    }
}

extern "C" __global__ void tree(A *vals, long long *idx, T *out, long long *index, long long total, long long m,
                                long long inner, long long n, int op, int mean)
{
    long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (gid >= total)
        return;
    long long o = gid / inner, c = gid - o * inner;
    A *v = vals + o * m * inner + c;
    long long *ix = idx + o * m * inner + c;
    for (long long count = m; count > 1;) {
        long long pairs = count / 2;
        for (long long i = 0; i < pairs; i++) {
            if (op == ARGMAX) {
                A a = v[2 * i * inner];
                long long ia = ix[2 * i * inner];
                pick(a, ia, v[(2 * i + 1) * inner], ix[(2 * i + 1) * inner]);
                v[i * inner] = a;
                ix[i * inner] = ia;
            } else {
                v[i * inner] = combine(op, v[2 * i * inner], v[(2 * i + 1) * inner]);
            }
        }
        if (count % 2) {
            v[pairs * inner] = v[(count - 1) * inner];
            if (op == ARGMAX)
                ix[pairs * inner] = ix[(count - 1) * inner];
        }
        count = pairs + count % 2;
    }
    if (op == ARGMAX)
        index[gid] = ix[0];
    else
        store(out, gid, mean ? (double)v[0] / (double)n : (double)v[0]);
}

extern "C" __global__ void grad(const T *x, const T *out, const T *dout, T *dx, long long total, long long n,
                                long long inner, int op, int mean)
{
    for (long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x; gid < total;
         gid += (long long)gridDim.x * blockDim.x) {
        long long k = gid / (n * inner) * inner + gid % inner;
        A d = load(dout, k);
        A v = op == 0 ? (mean ? d / (A)n : d) : (load(x, gid) == load(out, k) ? d : (A)0);
        store(dx, gid, v);
    }
}
