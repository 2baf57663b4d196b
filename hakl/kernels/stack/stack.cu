// stack / unstack: move k parts of shape (outer, inner) to and from big, (outer, k, inner).
//
// The parts arrive as a device array of k pointers, so one launch serves 1 or
// thousands of them. Elements are moved as unsigned integers of their size (W),
// so one compiled module serves every dtype of that size. Two strategies:
//
// interleave: threads walk big's flat index, VEC consecutive elements each,
//   whatever the axis; big (the output of stack) is written fully coalesced
//   even when inner is 1 (axis=-1), where a warp's VEC-element groups gather
//   from up to 32*VEC parts at consecutive rows, still whole 32-byte sectors.
//   The (row, part, column) of a flat index comes from two multiply-shift
//   divisions (32-bit, exact for the ranges the host allows).
// segments: a block copies a piece of one (row, part) segment; no division per
//   element, for long segments (axis=0).
// tiles: for short segments (axis=-1 and near it), a block moves RB rows of PB parts
//   through shared memory: it reads each part's RB * inner elements (contiguous) and
//   writes each row's PB * inner elements of big (contiguous), both coalesced, like
//   a transpose. On an H100, 16 x 4M float32 along axis -1: tiles 2191 GB/s,
//   interleave (tuned) 1667 GB/s; its gathers from many parts waste sectors.
// Vector accesses need inner % VEC == 0 and VEC*sizeof(W)-aligned pointers; the
// host checks and otherwise launches the _1 kernels (one element per access).

#ifndef W
#define W unsigned int
#endif
#ifndef BLOCK
#define BLOCK 256
#endif
#ifndef VEC
#define VEC 4
#endif
#ifndef ITEMS
#define ITEMS 2
#endif
#ifndef TILE
#define TILE 4096  // elements of shared memory per block in the tiles kernel (RB * PB * inner)
#endif
#define MAX_PB 32

typedef unsigned long long u64;

template <int N> struct alignas(N * sizeof(W)) Pack { W v[N]; };

// n / d for n < 2^32 with host-computed (m, s): q = (umulhi(n, m) + n) >> s.
__device__ __forceinline__ unsigned fast_div(unsigned n, unsigned m, unsigned s)
{
    return (unsigned)(((u64)__umulhi(n, m) + n) >> s);
}

template <int V, bool TO_BIG>
__device__ __forceinline__ void interleave(W* const* parts, W* big, u64 total, unsigned k, unsigned inner,
                                           unsigned L, unsigned mL, unsigned sL, unsigned mI, unsigned sI)
{
    // L = k * inner elements per row of big; tiles start at a multiple of VEC.
    const u64 tile = (u64)blockIdx.x * (BLOCK * VEC * ITEMS);
    const u64 row0 = tile / L;
    const unsigned col0 = (unsigned)(tile - row0 * L);
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
        const unsigned local = (it * BLOCK + threadIdx.x) * VEC;
        const u64 o = tile + local;
        if (o >= total) return;
        const unsigned c = col0 + local;
        const unsigned q = fast_div(c, mL, sL);
        const unsigned rem = c - q * L;
        u64 r = row0 + q;
        unsigned j = fast_div(rem, mI, sI);
        unsigned i = rem - j * inner;
        if (V > 1 && o + V <= total) {
            // inner % V == 0: the group lies inside one segment.
            Pack<V>* p = (Pack<V>*)(parts[j] + r * inner + i);
            Pack<V>* b = (Pack<V>*)(big + o);
            if (TO_BIG) *b = *p; else *p = *b;
        } else {
            for (int e = 0; e < VEC && o + e < total; ++e) {
                W* p = parts[j] + r * inner + i;
                if (TO_BIG) big[o + e] = *p; else *p = big[o + e];
                if (++i == inner) { i = 0; if (++j == k) { j = 0; ++r; } }
            }
        }
    }
}

template <int V, bool TO_BIG>
__device__ __forceinline__ void segments(W* const* parts, W* big, u64 inner, unsigned k, unsigned pieces)
{
    // Block b copies piece (b % pieces) of segment (b / pieces) = (row r, part j).
    const unsigned segment = blockIdx.x / pieces;
    const unsigned piece = blockIdx.x - segment * pieces;
    const u64 r = segment / k;
    const unsigned j = segment - (unsigned)r * k;
    W* p = parts[j] + r * inner;
    W* b = big + (u64)segment * inner;
    const u64 lo = (u64)piece * (BLOCK * VEC * ITEMS);
    if (V > 1) {
#pragma unroll
        for (int it = 0; it < ITEMS; ++it) {
            const u64 i = lo + (u64)(it * BLOCK + threadIdx.x) * V;
            if (i < inner) {  // inner % V == 0
                if (TO_BIG) *(Pack<V>*)(b + i) = *(const Pack<V>*)(p + i);
                else *(Pack<V>*)(p + i) = *(const Pack<V>*)(b + i);
            }
        }
    } else {
#pragma unroll
        for (int it = 0; it < ITEMS * VEC; ++it) {
            const u64 i = lo + (u64)(it * BLOCK + threadIdx.x);
            if (i < inner) {
                if (TO_BIG) b[i] = p[i]; else p[i] = b[i];
            }
        }
    }
}

template <bool TO_BIG>
__device__ __forceinline__ void tiles(W* const* parts, W* big, u64 outer, unsigned k, unsigned inner, unsigned PB,
                                      unsigned RB, unsigned part_blocks, unsigned mRI, unsigned sRI, unsigned mPI,
                                      unsigned sPI, unsigned mI, unsigned sI)
{
    // Part p's RB * inner elements sit at p * (RB * inner + 1): the pad keeps the
    // writes of consecutive parts (same row) off one bank when inner is 1.
    __shared__ W buf[TILE + MAX_PB];
    const unsigned row_block = blockIdx.x / part_blocks;
    const unsigned j0 = (blockIdx.x - row_block * part_blocks) * PB;
    const u64 r0 = (u64)row_block * RB;
    const unsigned pcount = min(PB, k - j0);
    const unsigned rcount = (unsigned)min((u64)RB, outer - r0);
    const unsigned RI = RB * inner, PI = PB * inner, size = RB * PI;
    // parts side: element e is (part p, offset f) with f < RI contiguous in the part.
    // big side: element e is (row q, offset g) with g < PI contiguous in big's row.
    if (TO_BIG) {
        for (unsigned e = threadIdx.x; e < size; e += BLOCK) {
            const unsigned p = fast_div(e, mRI, sRI), f = e - p * RI;
            if (p < pcount && f < rcount * inner) buf[p * (RI + 1) + f] = parts[j0 + p][r0 * inner + f];
        }
        __syncthreads();
        for (unsigned e = threadIdx.x; e < size; e += BLOCK) {
            const unsigned q = fast_div(e, mPI, sPI), g = e - q * PI;
            const unsigned p = fast_div(g, mI, sI), i = g - p * inner;
            if (q < rcount && p < pcount) big[((r0 + q) * k + j0) * inner + g] = buf[p * (RI + 1) + q * inner + i];
        }
    } else {
        for (unsigned e = threadIdx.x; e < size; e += BLOCK) {
            const unsigned q = fast_div(e, mPI, sPI), g = e - q * PI;
            const unsigned p = fast_div(g, mI, sI), i = g - p * inner;
            if (q < rcount && p < pcount) buf[p * (RI + 1) + q * inner + i] = big[((r0 + q) * k + j0) * inner + g];
        }
        __syncthreads();
        for (unsigned e = threadIdx.x; e < size; e += BLOCK) {
            const unsigned p = fast_div(e, mRI, sRI), f = e - p * RI;
            if (p < pcount && f < rcount * inner) parts[j0 + p][r0 * inner + f] = buf[p * (RI + 1) + f];
        }
    }
}

#define TILES_ARGS W* const* parts, W* big, u64 outer, unsigned k, unsigned inner, unsigned PB, unsigned RB, \
    unsigned part_blocks, unsigned mRI, unsigned sRI, unsigned mPI, unsigned sPI, unsigned mI, unsigned sI
#define TILES_PASS parts, big, outer, k, inner, PB, RB, part_blocks, mRI, sRI, mPI, sPI, mI, sI

#define INTERLEAVE_ARGS W* const* parts, W* big, u64 total, unsigned k, unsigned inner, unsigned L, \
    unsigned mL, unsigned sL, unsigned mI, unsigned sI
#define INTERLEAVE_PASS parts, big, total, k, inner, L, mL, sL, mI, sI

extern "C" {
__global__ void __launch_bounds__(BLOCK) stack_interleave(INTERLEAVE_ARGS) { interleave<VEC, true>(INTERLEAVE_PASS); }
__global__ void __launch_bounds__(BLOCK) stack_interleave_1(INTERLEAVE_ARGS) { interleave<1, true>(INTERLEAVE_PASS); }
__global__ void __launch_bounds__(BLOCK) unstack_interleave(INTERLEAVE_ARGS) { interleave<VEC, false>(INTERLEAVE_PASS); }
__global__ void __launch_bounds__(BLOCK) unstack_interleave_1(INTERLEAVE_ARGS) { interleave<1, false>(INTERLEAVE_PASS); }

__global__ void __launch_bounds__(BLOCK) stack_tiles(TILES_ARGS) { tiles<true>(TILES_PASS); }
__global__ void __launch_bounds__(BLOCK) unstack_tiles(TILES_ARGS) { tiles<false>(TILES_PASS); }

__global__ void __launch_bounds__(BLOCK) stack_segments(W* const* parts, W* big, u64 inner, unsigned k, unsigned pieces)
{ segments<VEC, true>(parts, big, inner, k, pieces); }
__global__ void __launch_bounds__(BLOCK) stack_segments_1(W* const* parts, W* big, u64 inner, unsigned k, unsigned pieces)
{ segments<1, true>(parts, big, inner, k, pieces); }
__global__ void __launch_bounds__(BLOCK) unstack_segments(W* const* parts, W* big, u64 inner, unsigned k, unsigned pieces)
{ segments<VEC, false>(parts, big, inner, k, pieces); }
__global__ void __launch_bounds__(BLOCK) unstack_segments_1(W* const* parts, W* big, u64 inner, unsigned k, unsigned pieces)
{ segments<1, false>(parts, big, inner, k, pieces); }
}
