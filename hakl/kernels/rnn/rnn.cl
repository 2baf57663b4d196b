// One RNN step's gate math and state update (and its gradient): a thread / work-item per
// (sample, hidden unit), the mode a run-time code (0 RNN_TANH, 1 RNN_RELU, 2 LSTM,
// 3 GRU), the same arithmetic as cpu.py's numba kernels (hakl.kernels.rnn.fused's
// argument convention). Every array is contiguous and starts at its `*_o` offset
// (elements) in its buffer: the steps' rows are views of one workspace (CUDA passes 0,
// its pointers already point at the view).
// Defines: KIND = 1 float, 2 double. One source for both backends: OpenCL C as is, CUDA
// with rnn.cu's prelude (KERNEL, GLOBAL, GID, DEVICE, T) in front.

#ifdef __OPENCL_VERSION__
#if KIND == 2
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double T;
#else
typedef float T;
#endif
#define KERNEL kernel void
#define GLOBAL global
#define GID ((long)get_global_id(0))
#define DEVICE static
#endif

#define ARR(name) GLOBAL T *name, long name##_o
#define CARR(name) GLOBAL const T *name, long name##_o
#define AT(name, i) name[name##_o + (i)]

DEVICE T sigm(T a) { return (T)1 / ((T)1 + exp(-a)); }

KERNEL rnn_step(int code, CARR(xa), CARR(ha), CARR(b_ih), CARR(b_hh), CARR(h_prev), ARR(h_new), CARR(c_prev),
                 ARR(c_new), ARR(gates), ARR(y), GLOBAL const int *lengths, long lengths_o, long s, long B, long H) {
    long e = GID;
    if (e >= B * H) return;
    long i = e / H, j = e % H;
    long r = i * (code >= 2 ? 4 * H : H);  // this sample's row of xa/ha (G*H) and gates (width)
    long rx = i * (code == 3 ? 3 * H : code == 2 ? 4 * H : H);
    int valid = s < lengths[lengths_o + i];
    T out;
    if (code == 2) {
        T gi = sigm(AT(xa, rx + j) + AT(b_ih, j) + AT(ha, rx + j) + AT(b_hh, j));
        T gf = sigm(AT(xa, rx + H + j) + AT(b_ih, H + j) + AT(ha, rx + H + j) + AT(b_hh, H + j));
        T gg = tanh(AT(xa, rx + 2 * H + j) + AT(b_ih, 2 * H + j) + AT(ha, rx + 2 * H + j) + AT(b_hh, 2 * H + j));
        T go = sigm(AT(xa, rx + 3 * H + j) + AT(b_ih, 3 * H + j) + AT(ha, rx + 3 * H + j) + AT(b_hh, 3 * H + j));
        AT(gates, r + j) = gi; AT(gates, r + H + j) = gf; AT(gates, r + 2 * H + j) = gg; AT(gates, r + 3 * H + j) = go;
        T c = gf * AT(c_prev, e) + gi * gg;
        out = go * tanh(c);
        AT(c_new, e) = valid ? c : AT(c_prev, e);
    } else if (code == 3) {
        T rr = sigm(AT(xa, rx + j) + AT(b_ih, j) + AT(ha, rx + j) + AT(b_hh, j));
        T z = sigm(AT(xa, rx + H + j) + AT(b_ih, H + j) + AT(ha, rx + H + j) + AT(b_hh, H + j));
        T hc = AT(ha, rx + 2 * H + j) + AT(b_hh, 2 * H + j);
        T c = tanh(AT(xa, rx + 2 * H + j) + AT(b_ih, 2 * H + j) + rr * hc);
        AT(gates, r + j) = rr; AT(gates, r + H + j) = z; AT(gates, r + 2 * H + j) = c; AT(gates, r + 3 * H + j) = hc;
        out = z * AT(h_prev, e) + ((T)1 - z) * c;
    } else {
        T a = AT(xa, rx + j) + AT(b_ih, j) + AT(ha, rx + j) + AT(b_hh, j);
        out = code == 0 ? tanh(a) : (a > 0 || a != a) ? a : (T)0;
        AT(gates, r + j) = out;
    }
    AT(h_new, e) = valid ? out : AT(h_prev, e);
    AT(y, e) = valid ? out : (T)0;
}

KERNEL rnn_step_grad(int code, CARR(gates), CARR(h_prev), CARR(c_prev), CARR(c_new), CARR(dy), ARR(dh), ARR(dc),
                      GLOBAL const int *lengths, long lengths_o, long s, ARR(d_in), ARR(d_hid), long B, long H) {
    long e = GID;
    if (e >= B * H) return;
    long i = e / H, j = e % H;
    long gw = code >= 2 ? 4 * H : H;  // gates' width
    long dw = code == 2 ? 4 * H : code == 3 ? 3 * H : H;  // d_in / d_hid width
    long r = i * gw, q = i * dw;
    if (s >= lengths[lengths_o + i]) {  // a padding step: the state passed through unchanged
        for (long k = 0; k < dw / H; ++k) { AT(d_in, q + k * H + j) = 0; AT(d_hid, q + k * H + j) = 0; }
        return;
    }
    T dnew = AT(dy, e) + AT(dh, e);
    if (code == 2) {
        T gi = AT(gates, r + j), gf = AT(gates, r + H + j), gg = AT(gates, r + 2 * H + j), go = AT(gates, r + 3 * H + j);
        T tc = tanh(AT(c_new, e));
        T dct = AT(dc, e) + dnew * go * ((T)1 - tc * tc);
        AT(d_in, q + j) = dct * gg * gi * ((T)1 - gi);
        AT(d_in, q + H + j) = dct * AT(c_prev, e) * gf * ((T)1 - gf);
        AT(d_in, q + 2 * H + j) = dct * gi * ((T)1 - gg * gg);
        AT(d_in, q + 3 * H + j) = dnew * tc * go * ((T)1 - go);
        AT(dc, e) = dct * gf;
        AT(dh, e) = 0;
    } else if (code == 3) {
        T rr = AT(gates, r + j), z = AT(gates, r + H + j), c = AT(gates, r + 2 * H + j), hc = AT(gates, r + 3 * H + j);
        T dcp = dnew * ((T)1 - z) * ((T)1 - c * c);
        T dr = dcp * hc * rr * ((T)1 - rr);
        T dz = dnew * (AT(h_prev, e) - c) * z * ((T)1 - z);
        AT(d_in, q + j) = dr; AT(d_hid, q + j) = dr;
        AT(d_in, q + H + j) = dz; AT(d_hid, q + H + j) = dz;
        AT(d_in, q + 2 * H + j) = dcp;
        AT(d_hid, q + 2 * H + j) = dcp * rr;
        AT(dh, e) = dnew * z;
    } else {
        T act = AT(gates, r + j);
        AT(d_in, q + j) = code == 0 ? dnew * ((T)1 - act * act) : (act > 0 ? dnew : (T)0);
        AT(dh, e) = 0;
    }
}
