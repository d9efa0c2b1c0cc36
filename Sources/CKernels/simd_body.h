// The kernels' bodies, written once over a vector of W floats and included by kernels.c
// once per instruction set, with W, VF (W floats), VI (W int32s), TARGET_ATTR and SUFFIX
// defined. Every operation is elementwise IEEE arithmetic with the fused multiply-adds
// spelled out (the file is compiled with -ffp-contract=off), so each width computes the
// same bits for the same element; loops end with a zero-padded partial vector instead of
// a scalar remainder for the same reason.

#define INL static inline __attribute__((always_inline)) TARGET_ATTR
#define EXPORT TARGET_ATTR
#define F(name) CAT(name, SUFFIX)

INL VF F(splat)(float v) { return (VF)v; }
INL VF F(fma)(VF a, VF b, VF c) { return __builtin_elementwise_fma(a, b, c); }
INL VF F(select)(VI m, VF a, VF b) { return (VF)(((VI)a & m) | ((VI)b & ~m)); }

/// The first min(W, count) floats at p, zero-padded.
INL VF F(loadn)(const float *p, size_t count) {
    VF v = {0};
    if (count >= W) __builtin_memcpy(&v, p, sizeof v);
    else __builtin_memcpy(&v, p, count * sizeof(float));
    return v;
}

INL void F(storen)(float *p, VF v, size_t count) {
    if (count >= W) __builtin_memcpy(p, &v, sizeof v);
    else __builtin_memcpy(p, &v, count * sizeof(float));
}

/// e^x: x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, so r is exact to float
/// precision), e^r = 1 + r + r²·P(r) with P of degree 5 (a weighted least-squares fit on
/// Chebyshev nodes), scaled by 2^n through the exponent bits.
INL VF F(vexp)(VF x) {
    const VF hi = F(splat)(88.72283935546875f), lo = F(splat)(-87.3365478515625f);
    VI over = x > hi, under = x < lo, nan = x != x;
    VF xc = F(select)(over, hi, F(select)(under, lo, x));
    VF n = __builtin_elementwise_roundeven(xc * F(splat)(1.44269504088896341f));
    VF r = F(fma)(n, F(splat)(-0.693359375f), xc);
    r = F(fma)(n, F(splat)(2.12194440e-4f), r);
    VF q = F(splat)(1.9826496e-4f);
    q = F(fma)(q, r, F(splat)(1.3946021e-3f));
    q = F(fma)(q, r, F(splat)(8.3334297e-3f));
    q = F(fma)(q, r, F(splat)(4.1666269e-2f));
    q = F(fma)(q, r, F(splat)(1.6666666e-1f));
    q = F(fma)(q, r, F(splat)(0.5f));
    VF p = F(fma)(q, r * r, r) + F(splat)(1.0f);
    // 2^n for n in [−126, 128]: n = 128 (x near the top) as 2 · 2^127.
    VI ni = __builtin_convertvector(n, VI);
    VI top = ni > 127;
    ni = ni + top;
    p = F(select)(top, p + p, p);
    VF y = p * (VF)((ni + 127) << 23);
    y = F(select)(under, F(splat)(0.0f), y);
    y = F(select)(over, F(splat)(__builtin_inff()), y);
    return F(select)(nan, x, y);
}

/// tanh x: below |x| = 0.55, |x| + |x|³·Q(x²) with Q of degree 5 (fitted as P above);
/// above, 1 − 2/(e^{2|x|} + 1), where the subtraction loses nothing; the sign put back.
INL VF F(vtanh)(VF x) {
    const VI magnitude = (VI)0x7fffffff;
    VF ax = (VF)((VI)x & magnitude);
    VI sign = (VI)x & ~magnitude;
    VF s = ax * ax;
    VF q = F(splat)(2.4012977e-3f);
    q = F(fma)(q, s, F(splat)(-8.4190872e-3f));
    q = F(fma)(q, s, F(splat)(2.1784633e-2f));
    q = F(fma)(q, s, F(splat)(-5.3959943e-2f));
    q = F(fma)(q, s, F(splat)(1.3333295e-1f));
    q = F(fma)(q, s, F(splat)(-3.3333331e-1f));
    VF small = F(fma)(ax * s, q, ax);
    VF e = F(vexp)(ax + ax);
    VF large = F(splat)(1.0f) - F(splat)(2.0f) / (e + F(splat)(1.0f));
    VF t = F(select)(ax < F(splat)(0.55f), small, large);
    return (VF)((VI)t | sign);
}

INL VF F(vsigmoid)(VF x) { return F(splat)(1.0f) / (F(splat)(1.0f) + F(vexp)(-x)); }

#define ARRAY_KERNEL(name, op)                                        \
    EXPORT void F(name)(const float *x, float *y, size_t n) {             \
        for (size_t i = 0; i < n; i += W)                             \
            F(storen)(y + i, F(op)(F(loadn)(x + i, n - i)), n - i);   \
    }
ARRAY_KERNEL(exp_array, vexp)
ARRAY_KERNEL(tanh_array, vtanh)
ARRAY_KERNEL(sigmoid_array, vsigmoid)
#undef ARRAY_KERNEL

EXPORT void F(lstm_forward)(float *a, const float *c_prev, const float *peep,
                        float *c, float *tanh_c, float *h, size_t rows, size_t H) {
    const VF zero = {0};
    for (size_t n = 0; n < rows; n++) {
        float *ai = a + n * 4 * H, *af = ai + H, *ag = af + H, *ao = ag + H;
        const float *cp = c_prev ? c_prev + n * H : NULL;
        float *cn = c + n * H, *tcn = tanh_c + n * H, *hn = h + n * H;
        for (size_t j = 0; j < H; j += W) {
            size_t m = H - j;
            VF cpv = cp ? F(loadn)(cp + j, m) : zero;
            VF xi = F(loadn)(ai + j, m), xf = F(loadn)(af + j, m);
            VF xg = F(loadn)(ag + j, m), xo = F(loadn)(ao + j, m);
            if (peep) {
                xi = F(fma)(F(loadn)(peep + j, m), cpv, xi);
                xf = F(fma)(F(loadn)(peep + H + j, m), cpv, xf);
            }
            VF ig = F(vsigmoid)(xi), fg = F(vsigmoid)(xf), gg = F(vtanh)(xg);
            VF cv = F(fma)(fg, cpv, ig * gg);
            if (peep) xo = F(fma)(F(loadn)(peep + 2 * H + j, m), cv, xo);
            VF og = F(vsigmoid)(xo), tcv = F(vtanh)(cv);
            F(storen)(ai + j, ig, m); F(storen)(af + j, fg, m);
            F(storen)(ag + j, gg, m); F(storen)(ao + j, og, m);
            F(storen)(cn + j, cv, m); F(storen)(tcn + j, tcv, m);
            F(storen)(hn + j, og * tcv, m);
        }
    }
}

EXPORT void F(lstm_backward)(const float *gates, const float *c_prev, const float *c, const float *tanh_c,
                         const float *dh, float *dc, const float *peep, float *dpeep, float *da,
                         size_t rows, size_t H) {
    const VF zero = {0}, one = F(splat)(1.0f);
    for (size_t n = 0; n < rows; n++) {
        const float *gi = gates + n * 4 * H, *gf = gi + H, *gg_ = gf + H, *go = gg_ + H;
        float *di = da + n * 4 * H, *df = di + H, *dg = df + H, *dO = dg + H;
        const float *cp = c_prev ? c_prev + n * H : NULL;
        const float *cn = c + n * H, *tcn = tanh_c + n * H, *dhn = dh + n * H;
        float *dcn = dc + n * H;
        for (size_t j = 0; j < H; j += W) {
            size_t m = H - j;
            VF ig = F(loadn)(gi + j, m), fg = F(loadn)(gf + j, m);
            VF gg = F(loadn)(gg_ + j, m), og = F(loadn)(go + j, m);
            VF cpv = cp ? F(loadn)(cp + j, m) : zero;
            VF tcv = F(loadn)(tcn + j, m), d = F(loadn)(dhn + j, m);
            VF dao = d * tcv * og * (one - og);
            VF dcv = F(fma)(d * og, F(fma)(-tcv, tcv, one), F(loadn)(dcn + j, m));
            VF pi = zero, pf = zero;
            if (peep) {
                pi = F(loadn)(peep + j, m);
                pf = F(loadn)(peep + H + j, m);
                dcv = F(fma)(dao, F(loadn)(peep + 2 * H + j, m), dcv);
            }
            VF dai = dcv * gg * ig * (one - ig);
            VF daf = dcv * cpv * fg * (one - fg);
            VF dag = dcv * ig * F(fma)(-gg, gg, one);
            VF dcp = dcv * fg;
            if (peep) {
                dcp = F(fma)(dai, pi, dcp);
                dcp = F(fma)(daf, pf, dcp);
                VF cv = F(loadn)(cn + j, m);
                F(storen)(dpeep + j, F(fma)(dai, cpv, F(loadn)(dpeep + j, m)), m);
                F(storen)(dpeep + H + j, F(fma)(daf, cpv, F(loadn)(dpeep + H + j, m)), m);
                F(storen)(dpeep + 2 * H + j, F(fma)(dao, cv, F(loadn)(dpeep + 2 * H + j, m)), m);
            }
            F(storen)(dcn + j, dcp, m);
            F(storen)(di + j, dai, m); F(storen)(df + j, daf, m);
            F(storen)(dg + j, dag, m); F(storen)(dO + j, dao, m);
        }
    }
}

// C (M × N, row stride ldc) = [C +] A (M × K, row stride lda) · B, B packed by
// phx_pack_b into panels of 16 columns (K × 16 floats each, zero-padded). MR rows of C are
// held in registers while k runs; each element of C adds its K products in order of k
// with fused multiply-adds, whatever the width, so every level gives the same bits.
#define NRV (16 / W)
EXPORT void F(gemm_packed)(size_t M, size_t N, size_t K, const float *A, size_t lda,
                       const float *packed, float *C, size_t ldc, int accumulate) {
    for (size_t j0 = 0; j0 < N; j0 += 16) {
        const float *panel = packed + (j0 / 16) * K * 16;
        size_t cols = N - j0 < 16 ? N - j0 : 16;
        for (size_t i0 = 0; i0 < M; i0 += MR) {
            size_t rows = M - i0 < MR ? M - i0 : MR;
            const float *a[MR];
            VF acc[MR][NRV];
#pragma clang loop unroll(full)
            for (int i = 0; i < MR; i++) {
                // Rows past M repeat the last one (computed, not stored).
                size_t r = i0 + ((size_t)i < rows ? (size_t)i : rows - 1);
                a[i] = A + r * lda;
#pragma clang loop unroll(full)
                for (int v = 0; v < NRV; v++) {
                    size_t off = (size_t)v * W;
                    acc[i][v] = accumulate && off < cols ? F(loadn)(C + r * ldc + j0 + off, cols - off) : (VF){0};
                }
            }
            for (size_t k = 0; k < K; k++) {
                VF b[NRV];
#pragma clang loop unroll(full)
                for (int v = 0; v < NRV; v++) __builtin_memcpy(&b[v], panel + k * 16 + v * W, sizeof(VF));
#pragma clang loop unroll(full)
                for (int i = 0; i < MR; i++) {
                    VF x = F(splat)(a[i][k]);
#pragma clang loop unroll(full)
                    for (int v = 0; v < NRV; v++) acc[i][v] = F(fma)(x, b[v], acc[i][v]);
                }
            }
            for (size_t i = 0; i < rows; i++)
                for (int v = 0; v < NRV; v++) {
                    size_t off = (size_t)v * W;
                    if (off < cols) F(storen)(C + (i0 + i) * ldc + j0 + off, acc[i][v], cols - off);
                }
        }
    }
}
#undef NRV

/// out[j] += Σ_r x[r·cols + j], rows added in order.
EXPORT void F(sum_rows)(const float *x, size_t rows, size_t cols, float *out) {
    for (size_t j = 0; j < cols; j += 4 * W) {
        size_t m = cols - j;
        VF s0 = F(loadn)(out + j, m), s1 = m > W ? F(loadn)(out + j + W, m - W) : (VF)0.0f;
        VF s2 = m > 2 * W ? F(loadn)(out + j + 2 * W, m - 2 * W) : (VF)0.0f;
        VF s3 = m > 3 * W ? F(loadn)(out + j + 3 * W, m - 3 * W) : (VF)0.0f;
        for (size_t r = 0; r < rows; r++) {
            const float *p = x + r * cols + j;
            s0 += F(loadn)(p, m);
            if (m > W) s1 += F(loadn)(p + W, m - W);
            if (m > 2 * W) s2 += F(loadn)(p + 2 * W, m - 2 * W);
            if (m > 3 * W) s3 += F(loadn)(p + 3 * W, m - 3 * W);
        }
        F(storen)(out + j, s0, m);
        if (m > W) F(storen)(out + j + W, s1, m - W);
        if (m > 2 * W) F(storen)(out + j + 2 * W, s2, m - 2 * W);
        if (m > 3 * W) F(storen)(out + j + 3 * W, s3, m - 3 * W);
    }
}

/// Σx and Σx² over n floats in Double, element i added to lane i mod 16 and the 16
/// lanes summed in a fixed tree — the same order at every width.
EXPORT void F(moments)(const float *x, size_t n, const float *y, double *out) {
    // With y: Σx and Σx·y instead (batch norm's backward sums).
    double lane1[16] = {0}, lane2[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
#pragma clang loop vectorize(enable) interleave(disable)
        for (int l = 0; l < 16; l++) {
            double v = x[i + l], w = y ? (double)y[i + l] : v;
            lane1[l] += v;
            lane2[l] = __builtin_elementwise_fma(v, w, lane2[l]);
        }
    }
    for (int l = 0; i + l < n; l++) {
        double v = x[i + l], w = y ? (double)y[i + l] : v;
        lane1[l] += v;
        lane2[l] = __builtin_elementwise_fma(v, w, lane2[l]);
    }
    for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) { lane1[l] += lane1[l + width]; lane2[l] += lane2[l + width]; }
    out[0] = lane1[0];
    out[1] = lane2[0];
}

/// h = (x − μ)·s, y = g·h + b over n floats (batch norm's forward on one plane).
EXPORT void F(normalize)(const float *x, size_t n, float mu, float s, float g, float b, float *h, float *y) {
    for (size_t i = 0; i < n; i += W) {
        VF v = (F(loadn)(x + i, n - i) - (VF)mu) * (VF)s;
        if (h) F(storen)(h + i, v, n - i);
        F(storen)(y + i, F(fma)((VF)g, v, (VF)b), n - i);
    }
}

/// dx = scale·(dy − a − h·c) over n floats (batch norm's backward on one plane).
EXPORT void F(normalize_backward)(const float *dy, const float *h, size_t n, float scale, float a, float c, float *dx) {
    for (size_t i = 0; i < n; i += W) {
        VF d = F(loadn)(dy + i, n - i) - (VF)a;
        F(storen)(dx + i, (VF)scale * F(fma)(-F(loadn)(h + i, n - i), (VF)c, d), n - i);
    }
}

/// The FMA peak: 12 independent accumulators, each `iterations` fused multiply-adds of W
/// lanes (2·12·W·iterations flops), enough chains to cover the FMA latency on every
/// current core. Returns a sum so the work is not optimised away.
EXPORT float F(fma_peak)(size_t iterations) {
    VF a[12], x = (VF)0.999999f, y = (VF)1e-7f;
#pragma clang loop unroll(full)
    for (int i = 0; i < 12; i++) a[i] = (VF)(float)i;
    for (size_t it = 0; it < iterations; it++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < 12; i++) a[i] = F(fma)(a[i], x, y);
    }
    VF t = (VF)0.0f;
#pragma clang loop unroll(full)
    for (int i = 0; i < 12; i++) t += a[i];
    float out = 0;
    for (int l = 0; l < W; l++) out += t[l];
    return out;
}

#undef INL
#undef EXPORT
#undef F
