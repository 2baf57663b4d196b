// Optimizer updates in OpenCL C (PoCL on CPUs, the NVIDIA driver on GPUs), PaddlePaddle
// 2.0's rules (reference.py cites them). One program per (KIND, SKIND):
// KIND = parameter storage, SKIND = state (moments, velocities, master) storage:
// 0 float16 (computed in float), 1 float32, 2 float64. The rule is a run-time code:
// 0 adamw (decay factor 1: adam), 1 sgd, 2 momentum, 3 Nesterov momentum.

#if KIND == 2 || SKIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if KIND == 2
typedef double S;
#define LOADP(p, i) ((p)[i])
#define STOREP(p, i, v) ((p)[i] = (v))
#elif KIND == 1
typedef float S;
#define LOADP(p, i) ((p)[i])
#define STOREP(p, i, v) ((p)[i] = (v))
#else
typedef half S;
#define LOADP(p, i) vload_half((i), (p))
#define STOREP(p, i, v) vstore_half_rte((v), (i), (p))
#endif

#if SKIND == 2
typedef double T;
typedef double C;
#define LOADS(p, i) ((p)[i])
#define STORES(p, i, v) ((p)[i] = (v))
#elif SKIND == 1
typedef float T;
typedef float C;
#define LOADS(p, i) ((p)[i])
#define STORES(p, i, v) ((p)[i] = (v))
#else
typedef half T;
typedef float C;
#define LOADS(p, i) vload_half((i), (p))
#define STORES(p, i, v) vstore_half_rte((v), (i), (p))
#endif

// One tensor: element i = get_global_id(0) + k * lanes for k < items. Buffers a rule
// does not read are any valid buffer (never touched); offsets are in elements.
kernel void update(global S* p, long p_off, global const S* g, long g_off, global T* s1, long s1_off,
                   global T* s2, long s2_off, global T* w, long w_off, long n, int code, int master,
                   C lr, C decay, C eps, C b1, C c1, C b2, C c2, C mu, int items)
{
    long gid = get_global_id(0), lanes = get_global_size(0);
    for (int k = 0; k < items; k++) {
        long i = gid + k * lanes;
        if (i >= n)
            return;
        C x = master ? (C)LOADS(w, w_off + i) : (C)LOADP(p, p_off + i);
        C gi = LOADP(g, g_off + i);
        if (code == 0) {
            C v1 = b1 * LOADS(s1, s1_off + i) + c1 * gi;
            C v2 = b2 * LOADS(s2, s2_off + i) + c2 * gi * gi;
            x = x * decay - lr * (v1 / (sqrt(v2) + eps));
            STORES(s1, s1_off + i, v1);
            STORES(s2, s2_off + i, v2);
        } else if (code == 1) {
            x = x - lr * gi;
        } else {
            C v = LOADS(s1, s1_off + i) * mu + gi;
            x = code == 3 ? x - (gi + v * mu) * lr : x - lr * v;
            STORES(s1, s1_off + i, v);
        }
        STOREP(p, p_off + i, x);
        if (master)
            STORES(w, w_off + i, x);
    }
}
