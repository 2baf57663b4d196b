// The storage type S of a kernel's arrays and the type C it computes in, by the KIND define
// (0 float16 as its bits, computed in float32; 1 float32; 2 float64; 3 int32; 4 int64), and
// cv / back between them. Prepended to the kernels that use it (cuda.source_with_storage):
// NVRTC and nvcc compile the joined text as is, with no #include.

#if KIND == 0
typedef unsigned short S;
typedef float C;
__device__ __forceinline__ C cv(S h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ S back(C f)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#else
#if KIND == 1
typedef float S;
#elif KIND == 2
typedef double S;
#elif KIND == 3
typedef int S;
#define IS_INT 1
#else
typedef long long S;
#define IS_INT 1
#endif
typedef S C;
__device__ __forceinline__ C cv(S v) { return v; }
__device__ __forceinline__ S back(C v) { return v; }
#endif
