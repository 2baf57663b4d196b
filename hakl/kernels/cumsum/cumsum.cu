// cumsum over axis 1 of a contiguous (outer, n, inner) array.
//
// Defines: KIND = 0 float16, 1 float32, 2 float64, 3 int32, 4 int64; BLOCK threads;
// V elements per vector access (1 or the 16-byte width; the host uses V > 1 only
// when rows/columns start 16-byte aligned); ITEMS vectors per lane per step;
// SW lanes per row for scan_warp_rows (a power of two <= 32); R rows per warp per
// tile for scan_columns. No #include (NVRTC and nvcc compile this text as is).
//
// Types: T is stored, ACC accumulates inside a block's tile (float16 in float32),
// CARRY carries prefixes between tiles and rows. float32 carries in double, so the
// error does not grow with the number of tiles: it stays within a few ulps of the
// running sum of |x| over one tile. Integers scan in unsigned arithmetic: it wraps
// exactly like Paddle's int32/int64 kernels, with no signed-overflow UB.
//
// exclusive stores the sum before each element; reverse scans from the end of the
// axis (index n - 1 - s for scan position s; vectors are mirrored, which keeps them
// aligned when n % V == 0).
//
// Kernels:
//   scan_warp_rows   inner == 1: SW lanes per row (32 / SW rows per warp), striped
//                    coalesced loads, shuffle scans, a carry along the row.
//   scan_block_rows  inner == 1: a block per row, tiles of BLOCK * ITEMS vectors.
//   scan_lookback    outer == inner == 1: one pass, one tile per block in the order
//                    the blocks start (an atomic counter), each tile's prefix found
//                    by decoupled look-back over its predecessors' published
//                    aggregates / inclusive prefixes, a warp inspecting 32 at a time.
//   scan_columns     inner > 1: threads over 32 * V adjacent columns (coalesced), a
//                    tile is WARPS * R rows of them; tiles along the axis chain their
//                    per-column prefixes by decoupled look-back, the block's warps
//                    inspecting WARPS predecessors at a time. With one column block
//                    and a long axis ([1700971, 100] along axis 0) the chain is the
//                    whole kernel: on an H100 a one-tile-at-a-time walk by warp 0 ran
//                    at 543 GB/s there, this one at 1457 GB/s.

#if KIND == 0
typedef unsigned short T;  // IEEE half bits
typedef float ACC;
typedef float CARRY;
#elif KIND == 1
typedef float T;
typedef float ACC;
typedef double CARRY;
#elif KIND == 2
typedef double T;
typedef double ACC;
typedef double CARRY;
#elif KIND == 3
typedef int T;
typedef unsigned int ACC;
typedef unsigned int CARRY;
#else
typedef long long T;
typedef unsigned long long ACC;
typedef unsigned long long CARRY;
#endif

#ifndef BLOCK
#define BLOCK 256
#endif
#ifndef V
#define V 1
#endif
#ifndef ITEMS
#define ITEMS 4
#endif
#ifndef SW
#define SW 32
#endif
#ifndef R
#define R 8
#endif

typedef long long i64;
constexpr unsigned FULL = 0xffffffffu;
constexpr int WARPS = BLOCK / 32;

struct alignas(V * sizeof(T)) Pack { T v[V]; };

__device__ __forceinline__ ACC to_acc(T v) {
#if KIND == 0
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
    return f;
#else
    return (ACC)v;
#endif
}

__device__ __forceinline__ T to_t(CARRY v) {
#if KIND == 0
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    return (T)v;
#endif
}

// Inclusive scan over groups of W lanes (W a power of two).
template <int W, typename S>
__device__ __forceinline__ S group_inclusive(S x, int sub) {
#pragma unroll
    for (int d = 1; d < W; d <<= 1) {
        S y = __shfl_up_sync(FULL, x, d, W);
        if (sub >= d) x += y;
    }
    return x;
}

template <typename S>
__device__ __forceinline__ S warp_sum(S x) {
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) x += __shfl_xor_sync(FULL, x, d);
    return x;
}

// ---- rows: load / scan / store one chunk of W * ITEMS vectors of a row ------------

// v[k][e] <- element e of vector g0 + k*W + sub (scan order), 0 past the end.
template <int W>
__device__ __forceinline__ void load_chunk(const T* row, i64 n, i64 g0, int sub, int reverse, ACC (&v)[ITEMS][V]) {
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const i64 first = (g0 + k * W + sub) * V;
        if (V > 1 && first + V <= n) {
            const Pack p = *(const Pack*)(row + (reverse ? n - first - V : first));
#pragma unroll
            for (int e = 0; e < V; ++e) v[k][e] = to_acc(p.v[reverse ? V - 1 - e : e]);
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const i64 s = first + e;
                v[k][e] = s < n ? to_acc(row[reverse ? n - 1 - s : s]) : (ACC)0;
            }
        }
    }
}

template <int W>
__device__ __forceinline__ void store_chunk(T* row, i64 n, i64 g0, int sub, int reverse, const ACC (&v)[ITEMS][V],
                                            CARRY base) {
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const i64 first = (g0 + k * W + sub) * V;
        if (V > 1 && first + V <= n) {
            Pack p;
#pragma unroll
            for (int e = 0; e < V; ++e) p.v[reverse ? V - 1 - e : e] = to_t(base + (CARRY)v[k][e]);
            *(Pack*)(row + (reverse ? n - first - V : first)) = p;
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const i64 s = first + e;
                if (s < n) row[reverse ? n - 1 - s : s] = to_t(base + (CARRY)v[k][e]);
            }
        }
    }
}

// Replace v by its scan (inclusive or exclusive) within the W lanes' chunk, relative to
// the chunk's start; return the chunk's total (the same in every lane of the group).
template <int W>
__device__ __forceinline__ ACC scan_chunk(ACC (&v)[ITEMS][V], int sub, int exclusive) {
    ACC running = 0;
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        ACC t = 0;
#pragma unroll
        for (int e = 0; e < V; ++e) {
            const ACC after = t + v[k][e];
            v[k][e] = exclusive ? t : after;
            t = after;
        }
        const ACC incl = group_inclusive<W>(t, sub);
        ACC before = __shfl_up_sync(FULL, incl, 1, W);
        if (sub == 0) before = 0;
        const ACC base = running + before;
#pragma unroll
        for (int e = 0; e < V; ++e) v[k][e] += base;
        running += __shfl_sync(FULL, incl, W - 1, W);
    }
    return running;
}

extern "C" __global__ void __launch_bounds__(BLOCK)
scan_warp_rows(const T* __restrict__ x, T* __restrict__ y, i64 rows, i64 n, int exclusive, int reverse) {
    const int sub = threadIdx.x % SW;
    i64 row = ((i64)blockIdx.x * BLOCK + threadIdx.x) / SW;
    // Groups past the last row stay (as rows of length 0) so that the warp's shuffles
    // keep every lane; all groups take the same number of steps.
    const i64 len = row < rows ? n : 0;
    if (row >= rows) row = 0;
    const T* xr = x + row * n;
    T* yr = y + row * n;
    CARRY carry = 0;
    for (i64 g0 = 0; g0 * V < n; g0 += SW * ITEMS) {
        ACC v[ITEMS][V];
        load_chunk<SW>(xr, len, g0, sub, reverse, v);
        const ACC total = scan_chunk<SW>(v, sub, exclusive);
        store_chunk<SW>(yr, len, g0, sub, reverse, v, carry);
        carry += (CARRY)total;
    }
}

// A block scans a tile of BLOCK * ITEMS vectors: each warp its 32 * ITEMS, then the
// warps' totals. On return v holds values relative to the tile's start and the
// tile's total is returned (to every thread). `shared` has 2 * 32 slots.
__device__ __forceinline__ ACC scan_tile(ACC (&v)[ITEMS][V], int lane, int warp, int exclusive, ACC* shared) {
    const ACC total = scan_chunk<32>(v, lane, exclusive);
    if (lane == 0) shared[warp] = total;
    __syncthreads();
    if (warp == 0) {
        const ACC t = lane < WARPS ? shared[lane] : (ACC)0;
        const ACC incl = group_inclusive<32>(t, lane);
        const ACC before = __shfl_up_sync(FULL, incl, 1);
        if (lane < WARPS) shared[32 + lane] = lane == 0 ? (ACC)0 : before;
        if (lane == WARPS - 1) shared[32 + WARPS] = incl;
    }
    __syncthreads();
    const ACC offset = shared[32 + warp];
#pragma unroll
    for (int k = 0; k < ITEMS; ++k)
#pragma unroll
        for (int e = 0; e < V; ++e) v[k][e] += offset;
    return shared[32 + WARPS];
}

extern "C" __global__ void __launch_bounds__(BLOCK)
scan_block_rows(const T* __restrict__ x, T* __restrict__ y, i64 n, int exclusive, int reverse) {
    __shared__ ACC shared[2][2 * 32 + 1];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const T* xr = x + (i64)blockIdx.x * n;
    T* yr = y + (i64)blockIdx.x * n;
    CARRY carry = 0;
    int parity = 0;
    for (i64 t0 = 0; t0 * V < n; t0 += BLOCK * ITEMS, parity ^= 1) {
        const i64 g0 = t0 + warp * 32 * ITEMS;
        ACC v[ITEMS][V];
        load_chunk<32>(xr, n, g0, lane, reverse, v);
        // Alternate the shared slots: the next tile's writes cannot race this tile's reads.
        const ACC total = scan_tile(v, lane, warp, exclusive, shared[parity]);
        store_chunk<32>(yr, n, g0, lane, reverse, v, carry);
        carry += (CARRY)total;
    }
}

// ---- 1-D: decoupled look-back ------------------------------------------------------

// Status of tile t: flag[t] 0 = not ready, 1 = aggregate ready, 2 = inclusive prefix ready.
__device__ __forceinline__ void publish(unsigned* flag, CARRY* value, CARRY v, unsigned state) {
    *(volatile CARRY*)value = v;
    __threadfence();
    *(volatile unsigned*)flag = state;
}

extern "C" __global__ void __launch_bounds__(BLOCK)
scan_lookback(const T* __restrict__ x, T* __restrict__ y, i64 n, int exclusive, int reverse,
              unsigned* counter, unsigned* flags, CARRY* aggregates, CARRY* inclusives) {
    __shared__ ACC shared[2 * 32 + 1];
    __shared__ unsigned tile_id;
    __shared__ CARRY prefix_s;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (threadIdx.x == 0) tile_id = atomicAdd(counter, 1u);
    __syncthreads();
    const i64 tile = tile_id;
    const i64 g0 = tile * (BLOCK * ITEMS) + warp * 32 * ITEMS;
    ACC v[ITEMS][V];
    load_chunk<32>(x, n, g0, lane, reverse, v);
    const ACC total = scan_tile(v, lane, warp, exclusive, shared);
    if (warp == 0) {
        CARRY prefix = 0;
        if (tile == 0) {
            if (lane == 0) publish(flags, inclusives, (CARRY)total, 2u);
        } else {
            if (lane == 0) publish(flags + tile, aggregates + tile, (CARRY)total, 1u);
            // Look back 32 tiles at a time: lane j reads tile - 1 - j; sum the
            // aggregates up to the nearest inclusive prefix, which ends the walk.
            for (i64 base = tile - 1;; base -= 32) {
                const i64 t = base - lane;
                unsigned state = 2u;
                CARRY value = 0;
                if (t >= 0) {
                    do { state = *(volatile unsigned*)(flags + t); } while (state == 0u);
                    __threadfence();
                    value = state == 2u ? *(volatile CARRY*)(inclusives + t) : *(volatile CARRY*)(aggregates + t);
                }
                const unsigned done = __ballot_sync(FULL, state == 2u);
                const int stop = done ? __ffs(done) - 1 : 31;
                prefix += warp_sum(lane <= stop ? value : (CARRY)0);
                if (done) break;
            }
            if (lane == 0) publish(flags + tile, inclusives + tile, prefix + (CARRY)total, 2u);
        }
        if (lane == 0) prefix_s = prefix;
    }
    __syncthreads();
    store_chunk<32>(y, n, g0, lane, reverse, v, prefix_s);
}

// ---- columns -------------------------------------------------------------------------

// Tile (ob, c): columns [b * 32V, (b + 1) * 32V) of outer index o, scan rows
// [c * WARPS * R, (c + 1) * WARPS * R). Tiles start in id order from an atomic counter,
// chunk-major, so a tile's predecessors along the axis have started before it.
// Per tile: a flag (0 not ready, 1 aggregates, 2 inclusive prefixes), 32V aggregates
// and 32V inclusive prefixes (CARRY).
extern "C" __global__ void __launch_bounds__(BLOCK)
scan_columns(const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 n, i64 inner, i64 colblocks,
             int exclusive, int reverse, unsigned* counter, unsigned* flags, CARRY* status) {
    __shared__ ACC totals[WARPS][32 * V];
    __shared__ CARRY prefix_s[32 * V], total_s[32 * V];
    __shared__ CARRY window[WARPS][32 * V];
    __shared__ unsigned window_state[WARPS];
    __shared__ unsigned tile_id;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (threadIdx.x == 0) tile_id = atomicAdd(counter, 1u);
    __syncthreads();
    const i64 tile = tile_id;
    const i64 lines = outer * colblocks;  // independent column blocks
    const i64 c = tile / lines, ob = tile - c * lines;
    const i64 o = ob / colblocks, b = ob - o * colblocks;
    const i64 col = b * 32 * V + lane * V;
    const bool live = col < inner;  // inner % V == 0 when V > 1
    const i64 s0 = c * (WARPS * R) + warp * R;  // first scan row of this warp
    const T* xo = x + o * n * inner;
    T* yo = y + o * n * inner;

    ACC v[R][V];
    ACC run[V];
#pragma unroll
    for (int e = 0; e < V; ++e) run[e] = 0;
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const i64 s = s0 + r;
        if (live && s < n) {
            const T* p = xo + (reverse ? n - 1 - s : s) * inner + col;
            if (V > 1) {
                const Pack q = *(const Pack*)p;
#pragma unroll
                for (int e = 0; e < V; ++e) v[r][e] = to_acc(q.v[e]);
            } else {
                v[r][0] = to_acc(*p);
            }
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) v[r][e] = 0;
        }
#pragma unroll
        for (int e = 0; e < V; ++e) {
            const ACC after = run[e] + v[r][e];
            v[r][e] = exclusive ? run[e] : after;
            run[e] = after;
        }
    }
#pragma unroll
    for (int e = 0; e < V; ++e) totals[warp][lane * V + e] = run[e];
    __syncthreads();

    // The tile's per-column totals; tiles of chunk 0 publish them as inclusive prefixes,
    // the others as aggregates, then look back for their prefix.
    const i64 stride = 2 * 32 * V;  // status per tile: 32V aggregates, then 32V inclusive prefixes
    CARRY* mine = status + tile * stride;
    if (warp == 0) {
#pragma unroll
        for (int e = 0; e < V; ++e) {
            ACC t = 0;
            for (int w = 0; w < WARPS; ++w) t += totals[w][lane * V + e];
            total_s[lane * V + e] = (CARRY)t;
            prefix_s[lane * V + e] = 0;
            mine[(c > 0 ? 0 : 32 * V) + lane * V + e] = (CARRY)t;
        }
        __threadfence();
        __syncwarp();
        if (lane == 0) {
            __threadfence();
            *(volatile unsigned*)(flags + tile) = c > 0 ? 1u : 2u;
        }
    }
    __syncthreads();
    if (c > 0) {
        // Look back WARPS tiles at a time along the axis, warp w at the (w+1)-th nearest
        // in the window: add aggregates up to the nearest inclusive prefix, which ends it.
        for (i64 base = tile - lines;; base -= WARPS * lines) {
            const i64 t = base - warp * lines;
            unsigned state = 2u;  // before chunk 0: nothing to add, and the walk ends
            if (t >= 0) {
                if (lane == 0) {
                    do { state = *(volatile unsigned*)(flags + t); } while (state == 0u);
                }
                state = __shfl_sync(FULL, state, 0);  // one state for the warp's reads
                __threadfence();
                const CARRY* theirs = status + t * stride + (state == 2u ? 32 * V : 0);
#pragma unroll
                for (int e = 0; e < V; ++e) window[warp][lane * V + e] = *(volatile const CARRY*)(theirs + lane * V + e);
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) window[warp][lane * V + e] = 0;
            }
            if (lane == 0) window_state[warp] = state;
            __syncthreads();
            int stop = WARPS - 1;
            bool done = false;
            for (int w = 0; w < WARPS && !done; ++w)
                if (window_state[w] == 2u) { stop = w; done = true; }
            if (warp == 0) {
#pragma unroll
                for (int e = 0; e < V; ++e) {
                    CARRY add = 0;
                    for (int w = 0; w <= stop; ++w) add += window[w][lane * V + e];
                    prefix_s[lane * V + e] += add;
                }
            }
            __syncthreads();
            if (done) break;
        }
        if (warp == 0) {
#pragma unroll
            for (int e = 0; e < V; ++e) mine[32 * V + lane * V + e] = prefix_s[lane * V + e] + total_s[lane * V + e];
            __threadfence();
            __syncwarp();
            if (lane == 0) {
                __threadfence();
                *(volatile unsigned*)(flags + tile) = 2u;
            }
        }
        __syncthreads();  // prefix_s is final
    }

    // Output: prefix + the warps above this one in the tile + the thread's own scan.
#pragma unroll
    for (int e = 0; e < V; ++e) {
        ACC above = 0;
        for (int w = 0; w < warp; ++w) above += totals[w][lane * V + e];
        run[e] = above;
    }
    if (!live) return;
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const i64 s = s0 + r;
        if (s >= n) break;
        T* p = yo + (reverse ? n - 1 - s : s) * inner + col;
        if (V > 1) {
            Pack q;
#pragma unroll
            for (int e = 0; e < V; ++e) q.v[e] = to_t(prefix_s[lane * V + e] + (CARRY)(run[e] + v[r][e]));
            *(Pack*)p = q;
        } else {
            *p = to_t(prefix_s[lane] + (CARRY)(run[0] + v[r][0]));
        }
    }
}
