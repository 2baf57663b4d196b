// Batched matrix products in OpenCL C, for PoCL on CPUs and the NVIDIA driver on GPUs.
//
// Defines: KIND = dtype (0 float16, 1 float32, 2 float64); the tiled kernel's tile:
// TSM x TSN outputs per work-group, TSK of K per step through local memory, WPTM x WPTN
// outputs per work-item in registers (the work-group is (TSN / WPTN, TSM / WPTM)).
// The vector kernels' shape: VW-wide vectors; per work-item WM x VW outputs (outer) or
// WM x WN (inner); no local memory, no barriers: for CPU devices, where a work-item's
// vector code is the SIMD code.
// float16 is storage only (vload_half / vstore_half_rte: no cl_khr_fp16 needed) and
// accumulates in float; float32 in float, float64 in double. Every sum runs k upwards,
// but inner's: VW interleaved partial sums along k, added at the end.
//
// Operands are read through strides, so one program serves every transpose:
// A(m, k) = a[ao + m * sam + k * sak], B(k, n) = b[bo + k * sbk + n * sbn]; C is
// contiguous (batch, M, N). The batch index z walks up to three merged batch axes
// (extents d0 x d1 x d2, d0 implied), each operand's strides 0 where it is broadcast.
// Offsets, strides and extents are 64-bit.

#if KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if KIND == 0
typedef half S;
#define CN float
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#define VLOAD(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define VSTORE(p, i, v) CAT(CAT(vstore_half, VW), _rte)((v), 0, (p) + (i))
#elif KIND == 1
typedef float S;
#define CN float
#else
typedef double S;
#define CN double
#endif
typedef CN C;
#ifndef LOAD
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#define VLOAD(p, i) CAT(vload, VW)(0, (p) + (i))
#define VSTORE(p, i, v) CAT(vstore, VW)((v), 0, (p) + (i))
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

#ifdef VW
typedef CAT(CN, VW) CV;

// C(m0 .. m0+WM, n0 .. n0+VW) as WM vectors along n: per k, one vector of B's row k
// times each of A's WM elements there. For B not transposed, whose rows are contiguous
// (sbn = 1). Rows past M read row M - 1 (valid memory; their sums are not stored); the
// last N % VW columns go one at a time.
kernel void outer(OPERANDS)
{
    const long n0 = get_global_id(0) * VW, m0 = get_global_id(1) * WM, z = get_global_id(2);
    if (n0 >= N || m0 >= M)
        return;
    BATCH(z);
    long row[WM];
    for (int wm = 0; wm < WM; wm++)
        row[wm] = ao + min(m0 + wm, M - 1) * sam;
    if (n0 + VW <= N) {
        CV acc[WM];
        for (int wm = 0; wm < WM; wm++)
            acc[wm] = (CV)0;
        for (long k = 0; k < K; k++) {
            const CV bv = VLOAD(b, bo + k * sbk + n0);
            for (int wm = 0; wm < WM; wm++)
                acc[wm] += (CV)((C)LOAD(a, row[wm] + k * sak)) * bv;
        }
        for (int wm = 0; wm < WM; wm++)
            if (m0 + wm < M)
                VSTORE(c, (z * M + m0 + wm) * N + n0, acc[wm]);
        return;
    }
    for (long n = n0; n < N; n++) {
        C acc[WM];
        for (int wm = 0; wm < WM; wm++)
            acc[wm] = 0;
        for (long k = 0; k < K; k++) {
            const C bk = (C)LOAD(b, bo + k * sbk + n);
            for (int wm = 0; wm < WM; wm++)
                acc[wm] += (C)LOAD(a, row[wm] + k * sak) * bk;
        }
        for (int wm = 0; wm < WM; wm++)
            if (m0 + wm < M)
                STORE(c, (z * M + m0 + wm) * N + n, acc[wm]);
    }
}

C lanes_sum(CV v)
{
#if VW == 16
    const CAT(CN, 8) v8 = v.lo + v.hi;
#elif VW == 8
    const CAT(CN, 8) v8 = v;
#endif
#if VW >= 8
    const CAT(CN, 4) v4 = v8.lo + v8.hi;
#else
    const CAT(CN, 4) v4 = v;
#endif
    return (v4.x + v4.z) + (v4.y + v4.w);
}

// WM x WN dot products along k in VW-wide vectors: for B transposed and A not, both
// contiguous along k (sak = sbk = 1); the last K % VW terms are added one at a time.
// Rows past M and columns past N read the last one (not stored).
kernel void inner(OPERANDS)
{
    const long n0 = get_global_id(0) * WN, m0 = get_global_id(1) * WM, z = get_global_id(2);
    if (n0 >= N || m0 >= M)
        return;
    BATCH(z);
    long row[WM], col[WN];
    for (int wm = 0; wm < WM; wm++)
        row[wm] = ao + min(m0 + wm, M - 1) * sam;
    for (int wn = 0; wn < WN; wn++)
        col[wn] = bo + min(n0 + wn, N - 1) * sbn;
    CV acc[WM][WN];
    for (int wm = 0; wm < WM; wm++)
        for (int wn = 0; wn < WN; wn++)
            acc[wm][wn] = (CV)0;
    long k = 0;
    for (; k + VW <= K; k += VW) {
        CV av[WM], bv[WN];
        for (int wm = 0; wm < WM; wm++)
            av[wm] = VLOAD(a, row[wm] + k);
        for (int wn = 0; wn < WN; wn++)
            bv[wn] = VLOAD(b, col[wn] + k);
        for (int wm = 0; wm < WM; wm++)
            for (int wn = 0; wn < WN; wn++)
                acc[wm][wn] += av[wm] * bv[wn];
    }
    for (int wm = 0; wm < WM; wm++)
        for (int wn = 0; wn < WN; wn++) {
            C sum = lanes_sum(acc[wm][wn]);
            for (long kk = k; kk < K; kk++)
                sum += (C)LOAD(a, row[wm] + kk) * (C)LOAD(b, col[wn] + kk);
            if (m0 + wm < M && n0 + wn < N)
                STORE(c, (z * M + m0 + wm) * N + n0 + wn, sum);
        }
}
#endif
