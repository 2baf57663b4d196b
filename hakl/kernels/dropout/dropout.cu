// dropout on CUDA; philox.cuh is prepended (no #include: NVRTC and nvcc compile this text as is).
//
// Defines: DTYPE = 0 (float16, as its bits), 1 (float32) or 2 (float64);
//          ITEMS = packs per thread per grid-stride step (the vectorised kernels).
//
// dropout_simple / apply_mask_simple (the baseline): one thread per element, one
//   Philox call per element (4x the generator work), any layout: `meta` describes
//   slice dropout's merged dims (sizes, then mask strides; stride 0 = broadcast dim).
// dropout_vec / apply_mask_vec: flat inputs, 16-byte loads and stores, a pack is
//   4 elements (one Philox call) for float32/float64 and 8 (two calls) for float16,
//   ITEMS packs in flight per thread, a grid-stride loop, the tail (< one pack) by
//   the first threads. Kept elements: x * scale in float (double for float64),
//   rounded once; dropped: x * 0.

#if DTYPE == 0
typedef unsigned short T;  // IEEE half bits
typedef float ACC;
#elif DTYPE == 1
typedef float T;
typedef float ACC;
#else
typedef double T;
typedef double ACC;
#endif

#ifndef ITEMS
#define ITEMS 1
#endif

__device__ __forceinline__ float to_acc(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }

__device__ __forceinline__ T from_acc(ACC v)
{
#if DTYPE == 0
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    return v;
#endif
}

// The multiply is PTX without .ftz: a float32 subnormal survives whatever -ftz
// the compiler is given, as on the CPU (a CuPy build was seen flushing them).
__device__ __forceinline__ float mul(float a, float b)
{
    float r;
    asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
__device__ __forceinline__ double mul(double a, double b) { return a * b; }

__device__ __forceinline__ T scaled(T x, int keep, ACC scale)
{
    return from_acc(mul(to_acc(x), keep ? scale : (ACC)0));
}

// Mask element of element i under slice dropout; *first: i is the first element
// its mask element touches (every broadcast index 0), the one that stores it.
__device__ __forceinline__ long long slice_index(long long i, const long long* __restrict__ meta, int ndim,
                                                 bool* first)
{
    long long j = 0, rest = i;
    *first = true;
    for (int d = ndim - 1; d >= 0; d--) {
        long long idx = rest % meta[d];
        rest /= meta[d];
        if (meta[ndim + d])
            j += idx * meta[ndim + d];
        else if (idx)
            *first = false;
    }
    return j;
}

// ---- baseline: one thread per element -----------------------------------------

extern "C" __global__ void dropout_simple(const T* __restrict__ x, T* __restrict__ out, unsigned char* __restrict__ mask,
                                          long long n, unsigned k0, unsigned k1, unsigned o_lo, unsigned o_hi,
                                          unsigned long long threshold, ACC scale, int write_mask,
                                          const long long* __restrict__ meta, int ndim)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    bool first = true;
    long long j = ndim ? slice_index(i, meta, ndim, &first) : i;
    uint4 r = philox4x32_10((philox_u64)j >> 2, o_lo, o_hi, k0, k1);
    int keep = philox_keep(philox_word(r, (int)(j & 3)), threshold);
    out[i] = scaled(x[i], keep, scale);
    if (write_mask && first)
        mask[j] = (unsigned char)keep;
}

extern "C" __global__ void apply_mask_simple(const T* __restrict__ dy, const unsigned char* __restrict__ mask,
                                             T* __restrict__ dx, long long n, ACC scale,
                                             const long long* __restrict__ meta, int ndim)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    bool first;
    long long j = ndim ? slice_index(i, meta, ndim, &first) : i;
    dx[i] = scaled(dy[i], mask[j] != 0, scale);
}

// ---- vectorised: 16-byte packs, grid-stride -------------------------------------

constexpr int EPP = DTYPE == 0 ? 8 : 4;  // elements per pack
constexpr int GPP = EPP / 4;             // Philox calls (groups) per pack

struct alignas(16) Pack {
    T v[EPP];
};

#if DTYPE == 0
typedef unsigned long long MaskWord;  // one mask byte per element of a pack
#else
typedef unsigned int MaskWord;
#endif

extern "C" __global__ void dropout_vec(const T* __restrict__ x, T* __restrict__ out, unsigned char* __restrict__ mask,
                                       long long n, unsigned k0, unsigned k1, unsigned o_lo, unsigned o_hi,
                                       unsigned long long threshold, ACC scale, int write_mask)
{
    const long long packs = n / EPP;
    const long long stride = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long base = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; base < packs; base += stride) {
        Pack in[ITEMS];
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {  // all loads first: ITEMS x 16 bytes in flight
            long long p = base + (long long)k * blockDim.x;
            if (p < packs)
                in[k] = reinterpret_cast<const Pack*>(x)[p];
        }
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long p = base + (long long)k * blockDim.x;
            if (p >= packs)
                break;
            Pack o;
            MaskWord bits = 0;
#pragma unroll
            for (int g = 0; g < GPP; g++) {
                uint4 r = philox4x32_10((philox_u64)(p * GPP + g), o_lo, o_hi, k0, k1);
                philox_u32 w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int keep = philox_keep(w[e], threshold);
                    o.v[4 * g + e] = scaled(in[k].v[4 * g + e], keep, scale);
                    bits |= (MaskWord)keep << (8 * (4 * g + e));
                }
            }
            reinterpret_cast<Pack*>(out)[p] = o;
            if (write_mask)
                reinterpret_cast<MaskWord*>(mask)[p] = bits;
        }
    }
    long long t = packs * EPP + (long long)blockIdx.x * blockDim.x + threadIdx.x;  // the tail
    if (t < n) {
        uint4 r = philox4x32_10((philox_u64)t >> 2, o_lo, o_hi, k0, k1);
        int keep = philox_keep(philox_word(r, (int)(t & 3)), threshold);
        out[t] = scaled(x[t], keep, scale);
        if (write_mask)
            mask[t] = (unsigned char)keep;
    }
}

extern "C" __global__ void apply_mask_vec(const T* __restrict__ dy, const unsigned char* __restrict__ mask,
                                          T* __restrict__ dx, long long n, ACC scale)
{
    const long long packs = n / EPP;
    const long long stride = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long base = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; base < packs; base += stride) {
        Pack in[ITEMS];
        MaskWord bits[ITEMS];
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long p = base + (long long)k * blockDim.x;
            if (p < packs) {
                in[k] = reinterpret_cast<const Pack*>(dy)[p];
                bits[k] = reinterpret_cast<const MaskWord*>(mask)[p];
            }
        }
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long p = base + (long long)k * blockDim.x;
            if (p >= packs)
                break;
            Pack o;
#pragma unroll
            for (int e = 0; e < EPP; e++)
                o.v[e] = scaled(in[k].v[e], (bits[k] >> (8 * e)) & 0xff, scale);
            reinterpret_cast<Pack*>(dx)[p] = o;
        }
    }
    long long t = packs * EPP + (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n)
        dx[t] = scaled(dy[t], mask[t] != 0, scale);
}
