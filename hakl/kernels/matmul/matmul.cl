// Batched matrix products in OpenCL C, for PoCL on CPUs and the NVIDIA driver on GPUs.
//
// Defines: KIND = dtype (0 float16, 1 float32, 2 float64); the tiled kernel's tile:
// TSM x TSN outputs per work-group, TSK of K per step through local memory, WPTM x WPTN
// outputs per work-item in registers (the work-group is (TSN / WPTN, TSM / WPTM)).
// float16 is storage only (vload_half / vstore_half_rte: no cl_khr_fp16 needed) and
// accumulates in float; float32 in float, float64 in double. Every sum runs k upwards.
//
// Operands are read through strides, so one program serves every transpose:
// A(m, k) = a[ao + m * sam + k * sak], B(k, n) = b[bo + k * sbk + n * sbn]; C is
// contiguous (batch, M, N). The batch index z walks up to three merged batch axes
// (extents d0 x d1 x d2, d0 implied), each operand's strides 0 where it is broadcast.
// Offsets, strides and extents are 64-bit.

#if KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if KIND == 0
typedef half S;
typedef float C;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#elif KIND == 1
typedef float S;
typedef float C;
#else
typedef double S;
typedef double C;
#endif
#ifndef LOAD
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

// The arguments of hakl.kernels.matmul.geometry (`batches` is the range's third extent).
#define OPERANDS                                                                              \
    global const S *a, long a_off, global const S *b, long b_off, global S *c, long M, long N, \
        long K, long sam, long sak, long sbk, long sbn, long batches, long d1, long d2,        \
        long as0, long as1, long as2, long bs0, long bs1, long bs2

// ao, bo: the first elements of batch z's matrices.
#define BATCH(z)                                                  \
    long i2 = (z) % d2, r_ = (z) / d2;                            \
    long i1 = r_ % d1, i0 = r_ / d1;                              \
    const long ao = a_off + i0 * as0 + i1 * as1 + i2 * as2;       \
    const long bo = b_off + i0 * bs0 + i1 * bs1 + i2 * bs2

// The baseline: a work-item per output element.
kernel void naive(OPERANDS)
{
    const long n = get_global_id(0), m = get_global_id(1), z = get_global_id(2);
    if (n >= N || m >= M)
        return;
    BATCH(z);
    C acc = 0;
    for (long k = 0; k < K; k++)
        acc += (C)LOAD(a, ao + m * sam + k * sak) * (C)LOAD(b, bo + k * sbk + n * sbn);
    STORE(c, (z * M + m) * N + n, acc);
}

#ifdef TSM
#define RTSM (TSM / WPTM)  // work-items along m
#define RTSN (TSN / WPTN)  // work-items along n
#define NT (RTSM * RTSN)
#define LPTA (TSK * TSM / NT)  // tile elements each work-item loads
#define LPTB (TSK * TSN / NT)

// Local-memory tiles of A (TSK x TSM, k-major) and B (TSK x TSN) per step of TSK, zero
// beyond M, N and K (so a padded product is 0 * 0, never 0 * inf); neighbouring
// work-items load neighbouring elements of the operand's contiguous direction. Each
// work-item keeps WPTM x WPTN sums, a work-group apart in m and n.
__attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
kernel void tiled(OPERANDS)
{
    local C As[TSK][TSM + 1];  // +1: a row of the k-major tile starts in another bank
    local C Bs[TSK][TSN + 1];
    const int tn = get_local_id(0), tm = get_local_id(1);
    const int tid = tm * RTSN + tn;
    const long n0 = get_group_id(0) * TSN, m0 = get_group_id(1) * TSM, z = get_group_id(2);
    BATCH(z);
    C acc[WPTM][WPTN];
    for (int wm = 0; wm < WPTM; wm++)
        for (int wn = 0; wn < WPTN; wn++)
            acc[wm][wn] = 0;
    const int a_k_fast = sak == 1, b_n_fast = sbn == 1;
    for (long k0 = 0; k0 < K; k0 += TSK) {
        for (int l = 0; l < LPTA; l++) {
            const int id = l * NT + tid;
            const int mm = a_k_fast ? id / TSK : id % TSM, kk = a_k_fast ? id % TSK : id / TSM;
            const long gm = m0 + mm, gk = k0 + kk;
            As[kk][mm] = (gm < M && gk < K) ? (C)LOAD(a, ao + gm * sam + gk * sak) : (C)0;
        }
        for (int l = 0; l < LPTB; l++) {
            const int id = l * NT + tid;
            const int nn = b_n_fast ? id % TSN : id / TSK, kk = b_n_fast ? id / TSN : id % TSK;
            const long gn = n0 + nn, gk = k0 + kk;
            Bs[kk][nn] = (gn < N && gk < K) ? (C)LOAD(b, bo + gk * sbk + gn * sbn) : (C)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TSK; kk++) {
            C ar[WPTM], br[WPTN];
            for (int wm = 0; wm < WPTM; wm++)
                ar[wm] = As[kk][tm + wm * RTSM];
            for (int wn = 0; wn < WPTN; wn++)
                br[wn] = Bs[kk][tn + wn * RTSN];
            for (int wm = 0; wm < WPTM; wm++)
                for (int wn = 0; wn < WPTN; wn++)
                    acc[wm][wn] += ar[wm] * br[wn];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int wm = 0; wm < WPTM; wm++) {
        const long m = m0 + tm + wm * RTSM;
        for (int wn = 0; wn < WPTN; wn++) {
            const long n = n0 + tn + wn * RTSN;
            if (m < M && n < N)
                STORE(c, (z * M + m) * N + n, acc[wm][wn]);
        }
    }
}
#endif
