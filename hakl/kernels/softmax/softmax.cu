// Shared by every CUDA softmax kernel (prepended to warp_row.cu, block_row.cu,
// online_row.cu and cols.cu): storage and accumulator types, 16-byte packs,
// conversions, a NaN-propagating max, warp and cluster reductions.
//
// Defines: DTYPE = 0 (float16), 1 (float32) or 2 (float64).
// No #include: NVRTC (through CuPy) and nvcc must both compile this text as is,
// so half conversions and cluster operations are written in PTX.
//
// NaN semantics follow the float64 reference: a row holding NaN or +inf, or a
// row of only -inf, gives NaN everywhere. The formulas give that by themselves
// (x - max is NaN there) as long as max propagates NaN; online updates guard
// exp(-inf - -inf) explicitly.

#if DTYPE == 0
typedef unsigned short T;  // IEEE half bits
typedef float ACC;         // float16 is accumulated in float32
#elif DTYPE == 1
typedef float T;
typedef float ACC;
#else
typedef double T;
typedef double ACC;
#endif

constexpr int VEC = 16 / (int)sizeof(T);  // elements per 16-byte pack
constexpr unsigned FULL = 0xffffffffu;

struct alignas(16) Pack {
    T v[VEC];
};

__device__ __forceinline__ float to_acc(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }

__device__ __forceinline__ T from_acc(ACC v) {
#if DTYPE == 0
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    return v;
#endif
}

__device__ __forceinline__ ACC neg_inf() {
#if DTYPE == 2
    return -__longlong_as_double(0x7ff0000000000000LL);
#else
    return -__int_as_float(0x7f800000);
#endif
}

// Fast exp in float (relative error ~1e-6 over the range softmax uses); exact in double.
__device__ __forceinline__ float exp_acc(float v) { return __expf(v); }
__device__ __forceinline__ double exp_acc(double v) { return exp(v); }
__device__ __forceinline__ float log_acc(float v) { return logf(v); }
__device__ __forceinline__ double log_acc(double v) { return log(v); }

// max that returns NaN when either side is NaN (fmax would drop it): one
// instruction in float (max.NaN, sm_80+).
__device__ __forceinline__ float nmax(float a, float b) {
    float r;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
__device__ __forceinline__ double nmax(double a, double b) { return (a > b || a != a) ? a : b; }

// Reductions over aligned groups of WIDTH lanes (WIDTH a power of two <= 32);
// every lane of the group gets the result. All 32 lanes must take part.
template <int WIDTH>
__device__ __forceinline__ ACC group_max(ACC v) {
#pragma unroll
    for (int o = WIDTH / 2; o > 0; o >>= 1) v = nmax(v, __shfl_xor_sync(FULL, v, o));
    return v;
}
template <int WIDTH>
__device__ __forceinline__ ACC group_sum(ACC v) {
#pragma unroll
    for (int o = WIDTH / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}

// Online (max, sum of exp(x - max)) pair. A pair whose max is -inf holds sum 0,
// and combining two such pairs must not compute exp(-inf - -inf) = NaN.
__device__ __forceinline__ void combine(ACC& m, ACC& s, ACC m2, ACC s2) {
    const ACC mn = nmax(m, m2);
    if (mn == neg_inf()) return;  // both empty (or all -inf so far): sum stays 0
    s = s * exp_acc(m - mn) + s2 * exp_acc(m2 - mn);
    m = mn;
}
template <int WIDTH>
__device__ __forceinline__ void group_combine(ACC& m, ACC& s) {
#pragma unroll
    for (int o = WIDTH / 2; o > 0; o >>= 1) {
        const ACC m2 = __shfl_xor_sync(FULL, m, o), s2 = __shfl_xor_sync(FULL, s, o);
        combine(m, s, m2, s2);
    }
}

// 16-byte global accesses that mark their lines evict-first in L2 (ld/st.global.cs):
// for data a kernel will not touch again, so that it does not push out data that a
// second pass over the input still wants from L2.
union PackBits {
    Pack p;
    unsigned u[4];
};
__device__ __forceinline__ Pack load_streaming(const T* p) {
    PackBits b;
    asm volatile("ld.global.cs.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(b.u[0]), "=r"(b.u[1]), "=r"(b.u[2]), "=r"(b.u[3]) : "l"(p));
    return b.p;
}
__device__ __forceinline__ void store_streaming(T* p, const Pack& v) {
    PackBits b;
    b.p = v;
    asm volatile("st.global.cs.v4.u32 [%0], {%1, %2, %3, %4};"
                 :: "l"(p), "r"(b.u[0]), "r"(b.u[1]), "r"(b.u[2]), "r"(b.u[3]) : "memory");
}

// Loads of one 16-byte pack (or its scalar fallback) into accumulators; columns
// at or past n read as `fill`. `vec` is true only when the row start is 16-byte
// aligned and n % VEC == 0, so an in-range pack never straddles n. STREAM: the
// evict-first accesses above.
template <bool STREAM = false>
__device__ __forceinline__ void load_pack(const T* __restrict__ row, long long col, long long n, bool vec,
                                          ACC fill, ACC* out) {
    if (vec) {
        if (col < n) {
            const Pack p = STREAM ? load_streaming(row + col) : *reinterpret_cast<const Pack*>(row + col);
#pragma unroll
            for (int j = 0; j < VEC; ++j) out[j] = to_acc(p.v[j]);
        } else {
#pragma unroll
            for (int j = 0; j < VEC; ++j) out[j] = fill;
        }
    } else {
#pragma unroll
        for (int j = 0; j < VEC; ++j) out[j] = col + j < n ? to_acc(row[col + j]) : fill;
    }
}
template <bool STREAM = false>
__device__ __forceinline__ void store_pack(T* __restrict__ row, long long col, long long n, bool vec,
                                           const ACC* in) {
    if (vec) {
        if (col < n) {
            Pack p;
#pragma unroll
            for (int j = 0; j < VEC; ++j) p.v[j] = from_acc(in[j]);
            if (STREAM)
                store_streaming(row + col, p);
            else
                *reinterpret_cast<Pack*>(row + col) = p;
        }
    } else {
#pragma unroll
        for (int j = 0; j < VEC; ++j)
            if (col + j < n) row[col + j] = from_acc(in[j]);
    }
}

// ---- thread block clusters (sm_90): distributed shared memory in PTX ----------
__device__ __forceinline__ unsigned cluster_rank() {
    unsigned r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}
// Barrier over every thread of every block in the cluster; release/acquire
// orders shared-memory writes before it with remote reads after it.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
// Read `*p` (an address in this block's shared memory) from block `rank` of the cluster.
__device__ __forceinline__ ACC cluster_load(const ACC* p, unsigned rank) {
    unsigned long long generic = reinterpret_cast<unsigned long long>(p), local;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(local) : "l"(generic));
    unsigned remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"((unsigned)local), "r"(rank));
    ACC v;
#if DTYPE == 2
    asm volatile("ld.shared::cluster.f64 %0, [%1];" : "=d"(v) : "r"(remote) : "memory");
#else
    asm volatile("ld.shared::cluster.f32 %0, [%1];" : "=f"(v) : "r"(remote) : "memory");
#endif
    return v;
}
