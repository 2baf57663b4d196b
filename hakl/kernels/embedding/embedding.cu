// embedding lookup and its backward. softmax.cu (types T / ACC, to_acc / from_acc) is prepended.
//
// Defines: DTYPE (0 f16, 1 f32, 2 f64): one module per dtype. Ids arrive as a void pointer
// with `wide` (int64 or int32). A warp per id (lookup) or per table row (backward), lanes
// across the row; the lookup copies 16-byte packs where the rows allow (D * sizeof(T) a
// multiple of 16 and aligned), elements otherwise. Offsets are 64-bit.
// Bad ids (outside [0, num)): atomicMin keeps the first bad position in flat order (the
// same id the CPU names); the host reads that one int after the kernel.

__device__ __forceinline__ long long id_at(const void* ids, int wide, long long j) {
    return wide ? static_cast<const long long*>(ids)[j] : (long long)static_cast<const int*>(ids)[j];
}

__device__ __forceinline__ bool checked(long long v, long long num, long long j, int* bad_at) {
    if (v >= 0 && v < num) return true;
    atomicMin(bad_at, (int)(j < 0x7fffffffLL ? j : 0x7fffffffLL));
    return false;
}

// out[j] = table[ids[j]], zero for padding (and for bad ids, which raise after the kernel);
// vec: rows as uint4 packs of width `width` (else T elements, width = D).
extern "C" __global__ void emb_fwd(const T* __restrict__ table, const void* __restrict__ ids, int wide,
                                   T* __restrict__ out, long long n, int dim, long long num, long long pad,
                                   int* bad_at, int vec) {
    const int lane = threadIdx.x % 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    const int width = vec ? dim / VEC : dim;
    for (long long j = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; j < n; j += warps) {
        const long long v = id_at(ids, wide, j);
        const bool copy = checked(v, num, j, bad_at) && v != pad;
        if (vec) {
            uint4* o = reinterpret_cast<uint4*>(out + j * dim);
            const uint4* t = reinterpret_cast<const uint4*>(table + (copy ? v : 0) * dim);
            for (int c = lane; c < width; c += 32) o[c] = copy ? t[c] : make_uint4(0, 0, 0, 0);
        } else {
            T* o = out + j * dim;
            const T* t = table + (copy ? v : 0) * dim;
            for (int c = lane; c < width; c += 32) o[c] = copy ? t[c] : T(0);
        }
    }
}

// dtable[v] = sum of dout[perm[offsets[v] .. offsets[v + 1])] in order (the host's stable
// grouping of the ids): deterministic. A warp per table row (or a thread per element:
// ELEM, the baseline).
extern "C" __global__ void emb_grad_rows(const T* __restrict__ dout, const long long* __restrict__ perm,
                                         const long long* __restrict__ offsets, T* __restrict__ out,
                                         long long num, int dim, long long pad) {
    const int lane = threadIdx.x % 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    for (long long v = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; v < num; v += warps) {
        const long long s = offsets[v], e = v == pad ? s : offsets[v + 1];
        for (int c = lane; c < dim; c += 32) {
            ACC acc = 0;
            for (long long k = s; k < e; ++k) acc += to_acc(dout[perm[k] * dim + c]);
            out[v * dim + c] = from_acc(acc);
        }
    }
}

extern "C" __global__ void emb_grad_elem(const T* __restrict__ dout, const long long* __restrict__ perm,
                                         const long long* __restrict__ offsets, T* __restrict__ out,
                                         long long num, int dim, long long pad) {
    const long long total = num * dim, step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const long long v = i / dim, c = i % dim;
        const long long s = offsets[v], e = v == pad ? s : offsets[v + 1];
        ACC acc = 0;
        for (long long k = s; k < e; ++k) acc += to_acc(dout[perm[k] * dim + c]);
        out[i] = from_acc(acc);
    }
}

#if DTYPE == 1
// float32, deterministic=False: a thread per dout element adds into a zeroed table with
// atomicAdd (the sums' order varies between runs); the padding row stays zero.
extern "C" __global__ void emb_grad_atomic(const float* __restrict__ dout, const void* __restrict__ ids, int wide,
                                           float* __restrict__ out, long long n, int dim, long long num,
                                           long long pad, int* bad_at) {
    const long long total = n * dim, step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const long long j = i / dim, c = i % dim;
        const long long v = id_at(ids, wide, j);
        if (checked(v, num, j, bad_at) && v != pad) atomicAdd(out + v * dim + c, dout[i]);
    }
}
#endif
