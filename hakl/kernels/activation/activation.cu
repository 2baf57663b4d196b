// Activations and their gradients on CUDA (hakl/backends/storage.cuh prepended: S, C, cv, back).
//
// Defines: KIND = dtype (0 float16 as its bits, computed in float32; 1 float32;
//          2 float64); ITEMS = packs in flight per thread.
// The function code (FNS in __init__.py) and the params are run-time arguments, so a
// module per (dtype, ITEMS) serves every function. act_<dir>: 16-byte packs, ITEMS per
// thread a block apart, a grid-stride loop, the tail by the first threads; act1_<dir>
// one element per access, for data that is not 16-byte aligned.

#ifndef ITEMS
#define ITEMS 1
#endif

#define K_TANH ((C)0.7978845608028654)
#define S1_2 ((C)0.7071067811865476)
#define I2P ((C)0.3989422804014327)

__device__ __forceinline__ C forward(int fn, C x, C alpha, C beta, C threshold)
{
    switch (fn) {
    case 0: return (x > (C)0 || x != x) ? x : (C)0;
    case 1: return tanh(x);
    case 2: return (C)1 / ((C)1 + exp(-x));
    case 3: return exp(x);
    case 4: return log(x);
    case 5: return sqrt(x);
    case 6: return x > (C)0 ? x : alpha * expm1(x);
    case 7: return isinf(x) && x < 0 ? (C)0 : (C)0.5 * x * erfc(-x * S1_2);
    // 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation of 1 + tanh u for x < 0
    case 8: return isinf(x) && x < 0 ? (C)0 : x / ((C)1 + exp((C)-2 * K_TANH * (x + (C)0.044715 * x * x * x)));
    default: return beta * x > threshold ? x : log1p(exp(beta * x)) / beta;
    }
}

__device__ __forceinline__ C backward(int fn, C s, C d, C alpha, C beta, C threshold)
{
    switch (fn) {
    case 0: return s > (C)0 ? d : (C)0;
    case 1: return d * ((C)1 - s * s);
    case 2: return d * s * ((C)1 - s);
    case 3: return d * s;
    case 4: return d / s;
    case 5: return (C)0.5 * d / s;
    case 6: return s > (C)0 ? d : d * alpha * exp(s);
    case 7: return d * ((C)0.5 * erfc(-s * S1_2) + s * I2P * exp((C)-0.5 * s * s));
    case 8: {
        C u = K_TANH * (s + (C)0.044715 * s * s * s);
        if (fabs(u) > (C)20)  // tanh is ±1: the limits (reference.backward)
            return u > 0 ? d : (C)0;
        // 0.5 (1 + tanh u) = g = sigmoid(2u), 0.5 (1 - tanh^2 u) = 2 g (1 - g): no cancellation for u < 0
        C g = (C)1 / ((C)1 + exp((C)-2 * u)), h = (C)1 / ((C)1 + exp((C)2 * u));
        return d * (g + (C)2 * s * g * h * K_TANH * ((C)1 + (C)3 * (C)0.044715 * s * s));
    }
    default: return beta * s > threshold ? d : d / ((C)1 + exp(-beta * s));
    }
}

template <int V>
struct alignas(sizeof(S) * V) Pack {
    S v[V];
};

template <int GRAD, int V>
__device__ __forceinline__ void act(const S* __restrict__ x, const S* __restrict__ d, S* __restrict__ out,
                                    long long n, int fn, C alpha, C beta, C threshold)
{
    typedef Pack<V> P;
    const long long nv = n / V;
    const long long step = (long long)gridDim.x * blockDim.x * ITEMS;
    for (long long base = (long long)blockIdx.x * blockDim.x * ITEMS + threadIdx.x; base < nv; base += step) {
        P a[ITEMS], b[ITEMS];
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long i = base + (long long)k * blockDim.x;
            if (i < nv) {
                a[k] = reinterpret_cast<const P*>(x)[i];
                if (GRAD) b[k] = reinterpret_cast<const P*>(d)[i];
            }
        }
#pragma unroll
        for (int k = 0; k < ITEMS; k++) {
            long long i = base + (long long)k * blockDim.x;
            if (i < nv) {
                P o;
#pragma unroll
                for (int e = 0; e < V; e++)
                    o.v[e] = back(GRAD ? backward(fn, cv(a[k].v[e]), cv(b[k].v[e]), alpha, beta, threshold)
                                       : forward(fn, cv(a[k].v[e]), alpha, beta, threshold));
                reinterpret_cast<P*>(out)[i] = o;
            }
        }
    }
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = nv * V + tid; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = back(GRAD ? backward(fn, cv(x[i]), cv(d[i]), alpha, beta, threshold)
                           : forward(fn, cv(x[i]), alpha, beta, threshold));
}

#define VW (16 / (int)sizeof(S))
#define ACT(name, grad, v)                                                                          \
    extern "C" __global__ void name(const S* x, const S* d, S* out, long long n, int fn, C alpha,    \
                                    C beta, C threshold)                                            \
    {                                                                                               \
        act<grad, v>(x, d, out, n, fn, alpha, beta, threshold);                                     \
    }
ACT(act_fwd, 0, VW)
ACT(act_bwd, 1, VW)
ACT(act1_fwd, 0, 1)
ACT(act1_bwd, 1, 1)
