// stack / unstack on OpenCL: move k parts of shape (outer, inner) to and from big, (outer, k, inner).
//
// OpenCL 1.2 has no portable way to hand a kernel an array of buffers, so a
// launch takes up to 16 parts as ordinary buffer arguments (a switch picks one)
// and covers their (outer, nj, inner) sub-block of big: ceil(k / 16) launches in
// all, each writing runs of nj * inner consecutive elements of big. The
// alternatives cost more: one launch per part writes big with stride k * inner
// (that is the baseline, stack_one), and gathering from a concatenated copy of
// the parts moves every byte twice. Elements are moved as unsigned integers of
// their size (E), so one program serves every dtype of that size.
//
// move_parts hands out elements one by one (a GPU's work-items take neighbours, so
// every access coalesces); on a CPU device each work-item is a loop iteration of one
// thread, and the per-element part switch and divisions dominate. move_blocks gives
// a work-item a block instead: `rows` rows by `chunk` columns of every part in the
// launch, the part picked once per part and each run copied as a straight loop.

#ifndef E
#define E uint
#endif
#ifndef ITEMS
#define ITEMS 4
#endif

#define PARTS 16
#define PART_PARAMS \
    __global E *p0, long o0, __global E *p1, long o1, __global E *p2, long o2, __global E *p3, long o3, \
    __global E *p4, long o4, __global E *p5, long o5, __global E *p6, long o6, __global E *p7, long o7, \
    __global E *p8, long o8, __global E *p9, long o9, __global E *p10, long o10, __global E *p11, long o11, \
    __global E *p12, long o12, __global E *p13, long o13, __global E *p14, long o14, __global E *p15, long o15

#define PICK(n) case n: return p##n + o##n;

inline __global E *pick(int j, PART_PARAMS)
{
    switch (j) {
        PICK(0) PICK(1) PICK(2) PICK(3) PICK(4) PICK(5) PICK(6) PICK(7)
        PICK(8) PICK(9) PICK(10) PICK(11) PICK(12) PICK(13) PICK(14)
        default: return p15 + o15;
    }
}

// Parts j0 .. j0 + nj - 1 (nj <= 16); each work-item moves ITEMS consecutive elements
// of their sub-block, advancing (row, part, column) without dividing again.
__kernel void move_parts(__global E *big, long big_off, long outer, int k, long inner, int j0, int nj,
                         int to_big, PART_PARAMS)
{
    const long row = (long)nj * inner;
    long e = (long)get_global_id(0) * ITEMS;
    if (e >= outer * row) return;
    long r = e / row;
    long c = e - r * row;
    int j = (int)(c / inner);
    long i = c - j * inner;
    for (int t = 0; t < ITEMS; ++t) {
        if (r >= outer) return;
        __global E *p = pick(j, p0, o0, p1, o1, p2, o2, p3, o3, p4, o4, p5, o5, p6, o6, p7, o7,
                             p8, o8, p9, o9, p10, o10, p11, o11, p12, o12, p13, o13, p14, o14, p15, o15)
                        + r * inner + i;
        __global E *b = big + big_off + (r * k + j0 + j) * inner + i;
        if (to_big) *b = *p; else *p = *b;
        if (++i == inner) {
            i = 0;
            if (++j == nj) { j = 0; ++r; }
        }
    }
}

__kernel void move_blocks(__global E *big, long big_off, long outer, int k, long inner, int j0, int nj,
                          int to_big, long rows, long chunk, PART_PARAMS)
{
    const long chunks = (inner + chunk - 1) / chunk;
    const long id = get_global_id(0);
    if (id >= (outer + rows - 1) / rows * chunks) return;
    const long rb = id / chunks, i0 = (id - rb * chunks) * chunk;
    const long r0 = rb * rows, r1 = min(outer, r0 + rows), i1 = min(inner, i0 + chunk);
    for (int j = 0; j < nj; ++j) {
        __global E *p = pick(j, p0, o0, p1, o1, p2, o2, p3, o3, p4, o4, p5, o5, p6, o6, p7, o7,
                             p8, o8, p9, o9, p10, o10, p11, o11, p12, o12, p13, o13, p14, o14, p15, o15);
        for (long r = r0; r < r1; ++r) {
            __global E *b = big + big_off + (r * k + j0 + j) * inner;
            __global E *q = p + r * inner;
            if (to_big) for (long i = i0; i < i1; ++i) b[i] = q[i];
            else for (long i = i0; i < i1; ++i) q[i] = b[i];
        }
    }
}

// Baseline: one launch per part, one work-item per element.
__kernel void move_one(__global E *big, long big_off, __global E *part, long part_off, long outer, int k,
                       long inner, int j, int to_big)
{
    const long e = get_global_id(0);
    if (e >= outer * inner) return;
    const long r = e / inner, i = e - r * inner;
    __global E *b = big + big_off + (r * k + j) * inner + i;
    __global E *p = part + part_off + e;
    if (to_big) *b = *p; else *p = *b;
}
