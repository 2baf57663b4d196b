// Binary elementwise ops on CUDA (hakl/backends/storage.cuh prepended: S, C, cv, back, IS_INT).
//
// Defines: KIND = dtype (0 float16 as its bits, 1 float32, 2 float64, 3 int32, 4 int64);
//          ITEMS = packs (flat) or elements (bcast) in flight per thread.
// The op code is a run-time argument (warp-uniform: the switch costs a few
// instructions per element of a kernel bound by memory), so a module per dtype and
// ITEMS serves every op. float16 computes in float32. 64-bit indices throughout.
//
// flat_<xy>: same-shape inputs or a scalar operand (x or y read once: "s"), packs of
//   16 bytes per access (flat1_<xy>: one element, for data that is not 16-byte
//   aligned), ITEMS packs per thread a block apart (coalesced), a grid-stride loop
//   over one wave of blocks, the tail (< one pack) by the first threads.
// The same kernels with a bool output (cmp_*) compute the comparisons, a switch of their own.
// bcast: the merged shape (rows = d0 * d1 * d2, d3 the last axis) with element
//   strides per axis (0 where an input is broadcast); grid.y walks the rows, so a
//   row's offsets are worked out once per thread and row, grid.x the last axis.

#ifndef ITEMS
#define ITEMS 1
#endif

#ifdef IS_INT  // divide and pow take floats only: their branches exist to compile
#define DIV(a, b) (a)
#define POW(a, b) (a)
#define LOG(a) (a)
#else
#define DIV(a, b) ((a) / (b))
#define POW(a, b) pow((a), (b))
#define LOG(a) log(a)
#endif

// Codes as in hakl/kernels/elementwise/__init__.py's CODES.
__device__ __forceinline__ C apply(int op, C a, C b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return DIV(a, b);
    case 4: return (a >= b || a != a) ? a : b;  // NaN propagates, as np.maximum
    case 5: return (a <= b || a != a) ? a : b;
    case 6: return POW(a, b);
    case 7: return -(a * b);
    case 8: return a > b ? (C)1 : (C)0;
    case 9: return a <= b ? (C)1 : (C)0;
    case 10: return a < b ? (C)1 : (C)0;
    case 11: return a >= b ? (C)1 : (C)0;
    case 12: return b == 0 ? (C)0 : b * POW(a, b - (C)1);
    default: return (a == 0 && b >= 0) ? (C)0 : POW(a, b) * LOG(a);
    }
}

// A comparison's truth, codes as COMPARISONS (the cmp_* kernels: a bool output).
__device__ __forceinline__ bool compare(int op, C a, C b)
{
    switch (op) {
    case 0: return a == b;
    case 1: return a != b;
    case 2: return a > b;
    case 3: return a >= b;
    case 4: return a < b;
    default: return a <= b;
    }
}

// What a kernel writes: the arithmetic in the inputs' storage type, or a comparison's bool.
struct Arithmetic {
    typedef S T;
    static __device__ __forceinline__ S of(int op, C a, C b) { return back(apply(op, a, b)); }
};
struct Comparison {
    typedef bool T;
    static __device__ __forceinline__ bool of(int op, C a, C b) { return compare(op, a, b); }
};

template <class E, int V>
struct alignas(sizeof(E) * V) Pack {
    E v[V];
};

template <class R, int SX, int SY, int V>
__device__ __forceinline__ void flat(const S* __restrict__ x, const S* __restrict__ y,
                                     typename R::T* __restrict__ out, long long n, int op)
{
    typedef Pack<S, V> P;
    typedef Pack<typename R::T, V> Q;
    const C xs = SX ? (C)0 : cv(x[0]), ys = SY ? (C)0 : cv(y[0]);
    const long long nv = n / V;
    const long long step = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long base = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; base < nv; base += step) {
        P a[ITEMS], b[ITEMS];
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long i = base + (long long)k * blockDim.x;
            if (i < nv) {
                if (SX) a[k] = reinterpret_cast<const P*>(x)[i];
                if (SY) b[k] = reinterpret_cast<const P*>(y)[i];
            }
        }
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long i = base + (long long)k * blockDim.x;
            if (i < nv) {
                Q o;
#pragma unroll
                for (int e = 0; e < V; e++)
                    o.v[e] = R::of(op, SX ? cv(a[k].v[e]) : xs, SY ? cv(b[k].v[e]) : ys);
                reinterpret_cast<Q*>(out)[i] = o;
            }
        }
    }
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = nv * V + tid; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = R::of(op, SX ? cv(x[i]) : xs, SY ? cv(y[i]) : ys);
}

template <class R>
__device__ __forceinline__ void bcast(const S* __restrict__ x, const S* __restrict__ y,
                                      typename R::T* __restrict__ out, long long rows, long long d1,
                                      long long d2, long long d3, long long xs0, long long xs1, long long xs2,
                                      long long xs3, long long ys0, long long ys1, long long ys2, long long ys3,
                                      int op)
{
    const long long step = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        long long r = row;
        const long long i2 = r % d2;
        r /= d2;
        const long long i1 = r % d1, i0 = r / d1;
        const long long xo = i0 * xs0 + i1 * xs1 + i2 * xs2, yo = i0 * ys0 + i1 * ys1 + i2 * ys2;
        const long long oo = row * d3;
        for (long long j0 = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; j0 < d3; j0 += step) {
#pragma unroll
            for (int k = 0; k < ITEMS; k++) {
                long long j = j0 + (long long)k * blockDim.x;
                if (j < d3)
                    out[oo + j] = R::of(op, cv(x[xo + j * xs3]), cv(y[yo + j * ys3]));
            }
        }
    }
}

// The entry points: <prefix>flat_<xy>, <prefix>flat1_<xy> and <prefix>bcast, prefix "" for
// the arithmetic (out: S) and "cmp_" for the comparisons (out: bool).
#define VW (16 / (int)sizeof(S))
#define FLAT(name, R, sx, sy, v)                                                                    \
    extern "C" __global__ void name(const S* x, const S* y, R::T* out, long long n, int op)          \
    {                                                                                               \
        flat<R, sx, sy, v>(x, y, out, n, op);                                                       \
    }
#define BCAST(name, R)                                                                              \
    extern "C" __global__ void name(const S* x, const S* y, R::T* out, long long rows, long long d1, \
                                    long long d2, long long d3, long long xs0, long long xs1,       \
                                    long long xs2, long long xs3, long long ys0, long long ys1,     \
                                    long long ys2, long long ys3, int op)                           \
    {                                                                                               \
        bcast<R>(x, y, out, rows, d1, d2, d3, xs0, xs1, xs2, xs3, ys0, ys1, ys2, ys3, op);          \
    }
#define ENTRIES(prefix, R)                      \
    FLAT(prefix##flat_bb, R, 1, 1, VW)          \
    FLAT(prefix##flat_bs, R, 1, 0, VW)          \
    FLAT(prefix##flat_sb, R, 0, 1, VW)          \
    FLAT(prefix##flat1_bb, R, 1, 1, 1)          \
    FLAT(prefix##flat1_bs, R, 1, 0, 1)          \
    FLAT(prefix##flat1_sb, R, 0, 1, 1)          \
    BCAST(prefix##bcast, R)
ENTRIES(, Arithmetic)
ENTRIES(cmp_, Comparison)
