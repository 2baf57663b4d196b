// Activations and their gradients in OpenCL C (PoCL on CPUs, the NVIDIA driver on GPUs).
//
// Defines: KIND = dtype (0 float16, storage only, computed in float; 1 float32; 2 float64);
// ERFC_P*, ERFC_Q* (erfc_c's coefficients).
// The function code (FNS in __init__.py), forward / gradient, the params and the
// elements per work-item are run-time arguments: one program per dtype.

#if KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double S;
typedef double C;
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#elif KIND == 1
typedef float S;
typedef float C;
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#else
typedef half S;
typedef float C;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#endif

#define K_TANH ((C)0.7978845608028654)
#define S1_2 ((C)0.7071067811865476)
#define I2P ((C)0.3989422804014327)

// tanh, exactly ±1 beyond |u| = 20 (where it rounds to ±1 in double too): PoCL's float
// tanh gave NaN for large finite arguments and 1 - 2^-24 near 40; NaN passes through.
inline C tanh_c(C u) { return fabs(u) > (C)20 ? copysign((C)1, u) : tanh(u); }

#if KIND == 2
inline C erfc_c(C x) { return erfc(x); }
#else
// float erfc as hakl.backends.vecmath's, from its coefficients (defines ERFC_P0..4, ERFC_Q0..5):
// e^-z^2 P(z) / Q(z) for z = |x| <= 10, the square's rounding error r taken as e^-(e + r) =
// e^-e (1 - r). PoCL's own float erfc took 55 ns an element on an AVX-512 Xeon (gelu of 4M
// elements: 229 ms, 1% of copy).
inline C erfc_c(C x)
{
    C z = fmin(fabs(x), (C)10);
    C num = (((ERFC_P4 * z + ERFC_P3) * z + ERFC_P2) * z + ERFC_P1) * z + ERFC_P0;
    C den = ((((ERFC_Q5 * z + ERFC_Q4) * z + ERFC_Q3) * z + ERFC_Q2) * z + ERFC_Q1) * z + ERFC_Q0;
    C e = z * z, r = fma(z, z, -e);
    C v = exp(-e) * ((C)1 - r) * (num / den);
    v = x >= 0 ? v : (C)2 - v;
    return x == x ? v : x;
}
#endif

inline C forward(int fn, C x, C alpha, C beta, C threshold)
{
    switch (fn) {
    case 0: return (x > 0 || x != x) ? x : (C)0;
    case 1: return tanh_c(x);
    case 2: return (C)1 / ((C)1 + exp(-x));
    case 3: return exp(x);
    case 4: return log(x);
    case 5: return sqrt(x);
    case 6: return x > 0 ? x : alpha * expm1(x);
    case 7: return x == -INFINITY ? (C)0 : (C)0.5 * x * erfc_c(-x * S1_2);
    // 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation of 1 + tanh u for x < 0
    case 8: return x == -INFINITY ? (C)0 : x / ((C)1 + exp((C)-2 * K_TANH * (x + (C)0.044715 * x * x * x)));
    default: return beta * x > threshold ? x : log1p(exp(beta * x)) / beta;
    }
}

inline C backward(int fn, C s, C d, C alpha, C beta, C threshold)
{
    switch (fn) {
    case 0: return s > 0 ? d : (C)0;
    case 1: return d * ((C)1 - s * s);
    case 2: return d * s * ((C)1 - s);
    case 3: return d * s;
    case 4: return d / s;
    case 5: return (C)0.5 * d / s;
    case 6: return s > 0 ? d : d * alpha * exp(s);
    case 7: return d * ((C)0.5 * erfc_c(-s * S1_2) + s * I2P * exp((C)-0.5 * s * s));
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

// out[i] = f(x[i]) (grad = 0) or f'(x[i], d[i]) (grad = 1); `items` elements per
// work-item, adjacent work-items on adjacent elements. The switch on the function is outside
// the element loop, a loop per case: with the switch inside it, PoCL vectorised nothing (relu of
// 4M float32 on an AVX-512 Xeon: 10.8 ms, 19% of copy; 4.0 ms this way, and the same build time).
#define LOOP(EXPR)                                      \
    for (int k = 0; k < items; k++) {                   \
        long i = gid + k * lanes;                       \
        if (i < n) {                                    \
            C v = LOAD(x, x_off + i);                   \
            STORE(out, i, EXPR);                        \
        }                                               \
    }
#define BODY(F)                                                                                  \
    if (grad) { LOOP(backward(F, v, LOAD(d, d_off + i), alpha, beta, threshold)) }               \
    else { LOOP(forward(F, v, alpha, beta, threshold)) } break;
#define CASE(F) case F: BODY(F)

kernel void act(global const S* x, long x_off, global const S* d, long d_off, global S* out, long n, int fn,
                int grad, C alpha, C beta, C threshold, int items)
{
    long gid = get_global_id(0), lanes = get_global_size(0);
    // softplus (9) is forward's and backward's default case, here too: no code falls through unwritten
    switch (fn) { CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) default: BODY(9) }
}
