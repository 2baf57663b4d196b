// Philox-4x32-10 for CUDA C++ and OpenCL C: one text, prepended to dropout.cu
// and dropout.cl by the Python side (no #include, so NVRTC, nvcc and OpenCL
// compilers all see the same thing). Layout and keep rule: see philox.py.
//
//   key     = (seed lo, seed hi)
//   counter = (group lo, group hi, offset lo, offset hi),  group = element / 4
//   element e keeps  <=>  word[e % 4] >= threshold,  threshold = floor(p * 2^32) (2^32 for p = 1)

#ifdef __OPENCL_VERSION__
typedef uint philox_u32;
typedef ulong philox_u64;
#define PHILOX_FN inline
#define PHILOX_MULHI(a, b) mul_hi((a), (b))
#define PHILOX_MAKE4(a, b, c, d) ((uint4)((a), (b), (c), (d)))
#else
typedef unsigned int philox_u32;
typedef unsigned long long philox_u64;
#define PHILOX_FN __device__ __forceinline__
#define PHILOX_MULHI(a, b) __umulhi((a), (b))
#define PHILOX_MAKE4(a, b, c, d) make_uint4((a), (b), (c), (d))
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// The four random words of `group` in stream (seed, offset).
PHILOX_FN uint4 philox4x32_10(philox_u64 group, philox_u32 o_lo, philox_u32 o_hi, philox_u32 k0, philox_u32 k1)
{
    philox_u32 c0 = (philox_u32)group, c1 = (philox_u32)(group >> 32), c2 = o_lo, c3 = o_hi;
#pragma unroll
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        philox_u32 lo0 = PHILOX_M0 * c0, hi0 = PHILOX_MULHI(PHILOX_M0, c0);
        philox_u32 lo1 = PHILOX_M1 * c2, hi1 = PHILOX_MULHI(PHILOX_M1, c2);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    return PHILOX_MAKE4(c0, c1, c2, c3);
}

PHILOX_FN philox_u32 philox_word(uint4 r, int k)
{
    return k == 0 ? r.x : k == 1 ? r.y : k == 2 ? r.z : r.w;
}

// 64-bit compare: threshold 2^32 (p = 1) keeps nothing.
PHILOX_FN int philox_keep(philox_u32 word, philox_u64 threshold)
{
    return (philox_u64)word >= threshold;
}
