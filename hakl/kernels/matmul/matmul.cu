// Skinny batched matrix products on CUDA (hakl/backends/storage.cuh prepended: S, C, cv, back).
//
// Defines: KIND = dtype (0 float16 as its bits, 1 float32, 2 float64); the tile: BM x BN
// outputs per block through BK-deep shared-memory tiles, TM x TN per thread in registers
// (a block is (BM / TM) * (BN / TN) threads). float16 accumulates in float32.
//
// For M small (an RNN step's h @ W_hh^T at batch <= 64): a block covers BM (16 or 32)
// rows and BN columns, so the grid has ceil(M / BM) * ceil(N / BN) blocks, enough to
// fill the SMs where a square-tiled GEMM of M = 64 would launch a few dozen.
// Operands are read through strides, so one module serves every transpose:
// A(m, k) = a[ao + m * sam + k * sak], B(k, n) = b[bo + k * sbk + n * sbn]; C is
// contiguous (batch, M, N). The batch index walks up to three merged batch axes (extents
// d0 x d1 x d2, d0 implied), each operand's strides 0 where it is broadcast; grid.z
// strides over batches beyond 65535. 64-bit offsets throughout; k runs upwards.

#define RM (BM / TM)  // threads along m
#define RN (BN / TN)  // threads along n
#define THREADS (RM * RN)

// Shared tiles of A (BK x BM, k-major) and B (BK x BN), zero beyond M, N and K (a padded
// product is 0 * 0, never 0 * inf); neighbouring threads load neighbouring elements of
// the operand's contiguous direction (coalesced). Each thread keeps TM x TN sums, RM
// rows and RN columns apart (so a warp's shared reads are broadcasts or consecutive).
extern "C" __global__ void __launch_bounds__(THREADS)
skinny(const S* __restrict__ a, const S* __restrict__ b, S* __restrict__ c, long long M, long long N,
       long long K, long long sam, long long sak, long long sbk, long long sbn, long long batches,
       long long d1, long long d2, long long as0, long long as1, long long as2, long long bs0,
       long long bs1, long long bs2)
{
    __shared__ C As[BK][BM + 1];  // +1: a k-major row starts in another bank
    __shared__ C Bs[BK][BN + 1];
    const int tid = threadIdx.x;
    const int tn = tid % RN, tm = tid / RN;
    const long long n0 = (long long)blockIdx.x * BN, m0 = (long long)blockIdx.y * BM;
    const bool a_k_fast = sak == 1, b_n_fast = sbn == 1;
    for (long long z = blockIdx.z; z < batches; z += gridDim.z) {
        const long long i2 = z % d2, r = z / d2;
        const long long i1 = r % d1, i0 = r / d1;
        const S* az = a + i0 * as0 + i1 * as1 + i2 * as2;
        const S* bz = b + i0 * bs0 + i1 * bs1 + i2 * bs2;
        C acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TN; j++)
                acc[i][j] = 0;
        for (long long k0 = 0; k0 < K; k0 += BK) {
            for (int id = tid; id < BM * BK; id += THREADS) {
                const int mm = a_k_fast ? id / BK : id % BM, kk = a_k_fast ? id % BK : id / BM;
                const long long gm = m0 + mm, gk = k0 + kk;
                As[kk][mm] = (gm < M && gk < K) ? cv(az[gm * sam + gk * sak]) : (C)0;
            }
            for (int id = tid; id < BN * BK; id += THREADS) {
                const int nn = b_n_fast ? id % BN : id / BK, kk = b_n_fast ? id / BN : id % BK;
                const long long gn = n0 + nn, gk = k0 + kk;
                Bs[kk][nn] = (gn < N && gk < K) ? cv(bz[gk * sbk + gn * sbn]) : (C)0;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < BK; kk++) {
                C ar[TM], br[TN];
#pragma unroll
                for (int i = 0; i < TM; i++)
                    ar[i] = As[kk][tm + i * RM];
#pragma unroll
                for (int j = 0; j < TN; j++)
                    br[j] = Bs[kk][tn + j * RN];
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < TN; j++)
                        acc[i][j] += ar[i] * br[j];
            }
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            const long long m = m0 + tm + i * RM;
#pragma unroll
            for (int j = 0; j < TN; j++) {
                const long long n = n0 + tn + j * RN;
                if (m < M && n < N)
                    c[(z * M + m) * N + n] = back(acc[i][j]);
            }
        }
    }
}
