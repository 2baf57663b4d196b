// Optimizer updates on CUDA (no #include: NVRTC and nvcc compile it as is), PaddlePaddle
// 2.0's rules (reference.py cites them). Defines: KIND = parameter storage, SKIND =
// state (moments, velocities, master) storage: 0 float16 as its bits (computed in
// float32), 1 float32, 2 float64. The rule is a run-time code: 0 adamw (decay factor 1:
// adam), 1 sgd, 2 momentum, 3 Nesterov momentum.
//
// update_one: one tensor, a grid-stride loop (the fused variant: a launch per tensor).
// update_multi: every tensor in one launch: block b takes chunk b of the chunk table
// (tensor, first, last) and reaches the tensor through the device table of its arrays'
// addresses (param, grad, state1, state2, master) and its scalars (lr_t, decay, eps_t).

__device__ __forceinline__ float h2f(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short f2h(float f)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

#if KIND == 0
typedef unsigned short S;
__device__ __forceinline__ float ldp(const S* a, long long i) { return h2f(a[i]); }
__device__ __forceinline__ void stp(S* a, long long i, float v) { a[i] = f2h(v); }
#else
#if KIND == 1
typedef float S;
#else
typedef double S;
#endif
__device__ __forceinline__ S ldp(const S* a, long long i) { return a[i]; }
template <typename V> __device__ __forceinline__ void stp(S* a, long long i, V v) { a[i] = (S)v; }
#endif

#if SKIND == 0
typedef unsigned short T;
typedef float C;
__device__ __forceinline__ C lds(const T* a, long long i) { return h2f(a[i]); }
__device__ __forceinline__ void sts(T* a, long long i, C v) { a[i] = f2h(v); }
#else
#if SKIND == 1
typedef float T;
#else
typedef double T;
#endif
typedef T C;
__device__ __forceinline__ C lds(const T* a, long long i) { return a[i]; }
__device__ __forceinline__ void sts(T* a, long long i, C v) { a[i] = v; }
#endif

__device__ __forceinline__ void step(S* p, const S* g, T* s1, T* s2, T* w, long long i, int code, int master,
                                     C lr, C decay, C eps, C b1, C c1, C b2, C c2, C mu)
{
    C x = master ? lds(w, i) : (C)ldp(p, i);
    C gi = (C)ldp(g, i);
    if (code == 0) {
        C v1 = b1 * lds(s1, i) + c1 * gi;
        C v2 = b2 * lds(s2, i) + c2 * gi * gi;
        x = x * decay - lr * (v1 / (sqrt(v2) + eps));
        sts(s1, i, v1);
        sts(s2, i, v2);
    } else if (code == 1) {
        x = x - lr * gi;
    } else {
        C v = lds(s1, i) * mu + gi;
        x = code == 3 ? x - (gi + v * mu) * lr : x - lr * v;
        sts(s1, i, v);
    }
    stp(p, i, x);
    if (master)
        sts(w, i, x);
}

extern "C" __global__ void update_one(S* p, const S* g, T* s1, T* s2, T* w, long long n, int code, int master,
                                      C lr, C decay, C eps, C b1, C c1, C b2, C c2, C mu)
{
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        step(p, g, s1, s2, w, i, code, master, lr, decay, eps, b1, c1, b2, c2, mu);
}

extern "C" __global__ void update_multi(const long long* table, const long long* chunks, const double* scal,
                                        long long n_chunks, int code, int master, C b1, C c1, C b2, C c2, C mu)
{
    for (long long c = blockIdx.x; c < n_chunks; c += gridDim.x) {
        long long t = chunks[3 * c], first = chunks[3 * c + 1], last = chunks[3 * c + 2];
        const long long* row = table + 6 * t;
        S* p = (S*)row[0];
        const S* g = (const S*)row[1];
        T* s1 = (T*)row[2];
        T* s2 = (T*)row[3];
        T* w = (T*)row[4];
        C lr = (C)scal[3 * t], decay = (C)scal[3 * t + 1], eps = (C)scal[3 * t + 2];
        for (long long i = first + threadIdx.x; i < last; i += blockDim.x)
            step(p, g, s1, s2, w, i, code, master, lr, decay, eps, b1, c1, b2, c2, mu);
    }
}
