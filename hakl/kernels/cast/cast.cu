// cast on CUDA (no #include: NVRTC and nvcc compile this text as is).
//
// Defines: SRC = source dtype code (0 bool, 1 int8, 2 uint8, 3 int16, 4 int32,
//          5 int64, 6 float16 (as its bits), 7 float32, 8 float64);
//          ITEMS = packs per thread per grid-stride step (cast_vec).
// One module per source dtype holds a kernel pair per destination code d:
// cast_simple_<d> and cast_vec_<d> (9 modules to build, not 81; each kernel keeps
// its own register allocation).
//
// cast_simple (the baseline): one thread per element. cast_vec: packs of V
// elements, V = 16 / max(sizeof src, sizeof dst): the wider side moves one
// 16-byte access per thread and the narrower a smaller one, both contiguous across
// a warp (with V = 16 / min, a thread's wider side spans several 16-byte accesses
// a warp apart, and on an H100 bool -> float32 ran at 63% of the one-element-per-
// thread baseline); ITEMS packs in flight per thread, a grid-stride loop, the tail
// (< one pack) by the first threads.
//
// Float conversions and the float compare are PTX without .ftz, so float32
// subnormals survive whatever -ftz the compiler is given (a CuPy build flushed
// them: float32 -> bool and float64 -> float32 disagreed with NumPy).
//
// Rules (NumPy's astype; see hakl/kernels/cast/__init__.py): int -> int wraps,
// -> float rounds to nearest even, -> bool is != 0, float -> int truncates and,
// out of range or NaN, gives x86-64's answer: INT64_MIN for int64, INT32_MIN
// for int32, the low bits of that int32 result for narrower targets.

template <int C> struct Type;
template <> struct Type<0> { typedef unsigned char T; };
template <> struct Type<1> { typedef signed char T; };
template <> struct Type<2> { typedef unsigned char T; };
template <> struct Type<3> { typedef short T; };
template <> struct Type<4> { typedef int T; };
template <> struct Type<5> { typedef long long T; };
template <> struct Type<6> { typedef unsigned short T; };  // IEEE half bits
template <> struct Type<7> { typedef float T; };
template <> struct Type<8> { typedef double T; };

typedef Type<SRC>::T S;

#ifndef ITEMS
#define ITEMS 1
#endif

// The source value in a wide type: float (float16, float32), double or long long.
#if SRC == 6
typedef float W;
__device__ __forceinline__ W widen(S h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#elif SRC >= 7
typedef S W;
__device__ __forceinline__ W widen(S v) { return v; }
#else
typedef long long W;
__device__ __forceinline__ W widen(S v) { return (W)v; }
#endif

__device__ __forceinline__ unsigned short f32_to_half(float v)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}

__device__ __forceinline__ double f32_to_f64(float v)
{
    double d;
    asm("cvt.f64.f32 %0, %1;" : "=d"(d) : "f"(v));
    return d;
}

__device__ __forceinline__ float f64_to_f32(double v)
{
    float f;
    asm("cvt.rn.f32.f64 %0, %1;" : "=f"(f) : "d"(v));
    return f;
}

// v != 0 from the bits: NaN is nonzero, a subnormal too.
__device__ __forceinline__ bool nonzero(float v) { return (__float_as_uint(v) << 1) != 0; }
__device__ __forceinline__ bool nonzero(double v) { return v != 0; }  // double never flushes
__device__ __forceinline__ bool nonzero(long long v) { return v != 0; }

__device__ __forceinline__ unsigned short f64_to_half(double v)
{
    unsigned short h;
    asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(v));
    return h;
}

template <int DC>
__device__ __forceinline__ typename Type<DC>::T convert(S s)
{
    typedef typename Type<DC>::T D;
    if constexpr (DC == SRC) {
        return s;  // bits as they are (a float16 NaN keeps its payload)
    } else {
        W v = widen(s);
        if constexpr (DC == 0) {
            return (D)nonzero(v);
        } else if constexpr (DC == 6) {
            if constexpr (SRC == 8)
                return f64_to_half(v);  // rounded once, not through float
            else if constexpr (SRC >= 6)
                return f32_to_half(v);
            else  // |v| >= 65520 is inf either way; below that float is exact
                return f32_to_half((float)(v < -65520 ? -65520 : v > 65520 ? 65520 : v));
        } else if constexpr (DC == 8 && SRC == 7) {
            return f32_to_f64(v);
        } else if constexpr (DC == 7 && SRC == 8) {
            return f64_to_f32(v);
        } else if constexpr (DC >= 7) {
            return (D)v;  // from an integer (exact or rounded, never subnormal) or from float16
        } else if constexpr (SRC >= 6) {  // float -> int, defined everywhere
            if constexpr (DC == 5)
                return (v >= (W)-9223372036854775808.0f && v < (W)9223372036854775808.0f)
                           ? (long long)v : -9223372036854775807LL - 1;
            else
                return (D)((v >= (W)-2147483648.0f && v < (W)2147483648.0f) ? (int)v : -2147483647 - 1);
        } else {
            return (D)v;  // int -> int: two's complement wrap
        }
    }
}

template <int DC>
__device__ __forceinline__ void simple(const S* __restrict__ x, typename Type<DC>::T* __restrict__ y, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = convert<DC>(x[i]);
}

template <int DC>
__device__ __forceinline__ void vec(const S* __restrict__ x, typename Type<DC>::T* __restrict__ y, long long n)
{
    typedef typename Type<DC>::T D;
    constexpr int V = 16 / (sizeof(S) > sizeof(D) ? sizeof(S) : sizeof(D));
    struct alignas(V * sizeof(S)) SPack { S v[V]; };
    struct alignas(V * sizeof(D)) DPack { D v[V]; };

    const long long packs = n / V;
    const long long stride = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long base = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; base < packs; base += stride) {
        SPack in[ITEMS];
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {  // all loads first: ITEMS packs in flight
            long long p = base + (long long)k * blockDim.x;
            if (p < packs)
                in[k] = reinterpret_cast<const SPack*>(x)[p];
        }
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long p = base + (long long)k * blockDim.x;
            if (p >= packs)
                break;
            DPack o;
#pragma unroll
            for (int e = 0; e < V; e++)
                o.v[e] = convert<DC>(in[k].v[e]);
            reinterpret_cast<DPack*>(y)[p] = o;
        }
    }
    long long t = packs * V + (long long)blockIdx.x * blockDim.x + threadIdx.x;  // the tail
    if (t < n)
        y[t] = convert<DC>(x[t]);
}

#define KERNELS(d)                                                                                    \
    extern "C" __global__ void cast_simple_##d(const S* __restrict__ x, Type<d>::T* __restrict__ y,  \
                                               long long n)                                           \
    {                                                                                                 \
        simple<d>(x, y, n);                                                                           \
    }                                                                                                 \
    extern "C" __global__ void cast_vec_##d(const S* __restrict__ x, Type<d>::T* __restrict__ y,     \
                                            long long n)                                              \
    {                                                                                                 \
        vec<d>(x, y, n);                                                                              \
    }

KERNELS(0)
KERNELS(1)
KERNELS(2)
KERNELS(3)
KERNELS(4)
KERNELS(5)
KERNELS(6)
KERNELS(7)
KERNELS(8)
