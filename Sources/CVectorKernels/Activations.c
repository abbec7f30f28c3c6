#include "CVectorKernels.h"
#include <math.h>
#include <string.h>

#include "VectorMacros.h"

/// Σ p[0..<n], in 16 float lanes folded in double: the same sum for the same input on every CPU
/// with AVX-512, AVX2 or SSE2 (the lanes are the same; only how many run at once differs).
CSD_DISPATCH
double csd_sum(const float *p, long n) {
    long i = 0;
    f16v acc = SPLAT16(0);
    for (; i + 16 <= n; i += 16) acc += LOAD16(p + i);
    double sum = 0;
    for (int l = 0; l < 16; l++) sum += acc[l];
    for (; i < n; i++) sum += p[i];
    return sum;
}

CSD_DISPATCH
void csd_affine_silu(const float *src, float *dst, long n, float scale, float shift, int silu) {
    long i = 0;
    const f16v vs = SPLAT16(scale), vb = SPLAT16(shift);
    if (silu) {
        for (; i + 16 <= n; i += 16) {
            const f16v y = LOAD16(src + i) * vs + vb;
            STORE16(dst + i, y / (1.0f + EXP16(-y)));
        }
        for (; i < n; i++) {
            const float y = src[i] * scale + shift;
            dst[i] = y / (1.0f + expf(-y));
        }
    } else {
        for (; i + 16 <= n; i += 16) STORE16(dst + i, LOAD16(src + i) * vs + vb);
        for (; i < n; i++) dst[i] = src[i] * scale + shift;
    }
}

CSD_DISPATCH
void csd_moments(const float *p, long n, float *mean, float *variance) {
    long i = 0;
    const float m = (float)(csd_sum(p, n) / (double)n);
    const f16v vm = SPLAT16(m);
    f16v sq = SPLAT16(0);
    for (i = 0; i + 16 <= n; i += 16) {
        const f16v d = LOAD16(p + i) - vm;
        sq += d * d;
    }
    double ss = 0;
    for (int l = 0; l < 16; l++) ss += sq[l];
    for (; i < n; i++) {
        const double d = (double)(p[i] - m);
        ss += d * d;
    }
    *mean = m;
    *variance = (float)(ss / (double)n);
}

/// The first pass of group norm's backward over one channel: with x̂ = (x − mean)·inv and
/// dz = dy (times SiLU's derivative at z = x̂·gamma + beta when `silu`), writes dx = dz·gamma and
/// adds Σdz·x̂ to *sw, Σdz to *sb, Σdx to *sum1 and Σdx·x̂ to *sum2.
CSD_DISPATCH
void csd_norm_backward_channel(const float *x, const float *dy, float *dx, long n, float mean, float inv, float gamma,
                               float beta, int silu, float *sw, float *sb, double *sum1, double *sum2) {
    const f16v vm = SPLAT16(mean), vi = SPLAT16(inv), vg = SPLAT16(gamma), vb = SPLAT16(beta);
    f16v aw = SPLAT16(0), ab = SPLAT16(0), a1 = SPLAT16(0), a2 = SPLAT16(0);
    // The last partial vector runs from zero-padded copies: a zero dy adds nothing to any sum.
    float xt[16] = {0}, gt[16] = {0}, dt[16];
    for (long i = 0; i < n; i += 16) {
        const long count = n - i < 16 ? n - i : 16;
        const float *xs = x + i, *gs = dy + i;
        float *ds = dx + i;
        if (count < 16) {
            memcpy(xt, xs, sizeof(float) * count);
            memcpy(gt, gs, sizeof(float) * count);
            xs = xt, gs = gt, ds = dt;
        }
        const f16v xhat = (LOAD16(xs) - vm) * vi;
        f16v dz = LOAD16(gs);
        if (silu) {
            const f16v z = xhat * vg + vb;
            const f16v s = 1.0f / (1.0f + EXP16(-z));
            dz *= s * (1.0f + z * (1.0f - s));
        }
        aw += dz * xhat;
        ab += dz;
        const f16v d = dz * vg;
        STORE16(ds, d);
        a1 += d;
        a2 += d * xhat;
        if (count < 16) memcpy(dx + i, dt, sizeof(float) * count);
    }
    float w = 0, b = 0;
    double s1 = 0, s2 = 0;
    for (int l = 0; l < 16; l++) { w += aw[l]; b += ab[l]; s1 += a1[l]; s2 += a2[l]; }
    *sw += w;
    *sb += b;
    *sum1 += s1;
    *sum2 += s2;
}

/// The second pass: dx ← inv·(dx − mean1 − x̂·mean2).
CSD_DISPATCH
void csd_norm_backward_finish(const float *x, float *dx, long n, float mean, float inv, float mean1, float mean2) {
    long i = 0;
    const f16v vm = SPLAT16(mean), vi = SPLAT16(inv), v1 = SPLAT16(mean1), v2 = SPLAT16(mean2);
    for (; i + 16 <= n; i += 16) {
        const f16v xhat = (LOAD16(x + i) - vm) * vi;
        STORE16(dx + i, vi * (LOAD16(dx + i) - v1 - xhat * v2));
    }
    for (; i < n; i++) {
        const float xhat = (x[i] - mean) * inv;
        dx[i] = inv * (dx[i] - mean1 - xhat * mean2);
    }
}

/// erf(z) by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7), given e = exp(−z²), which
/// GELU's gradient reuses for the normal density.
#define ERF16(z_in, e_in) ({                                                                     \
    const f16v ez_ = (z_in);                                                                      \
    const f16v et_ = 1.0f / (1.0f + 0.3275911f * __builtin_elementwise_abs(ez_));                 \
    f16v ey_ = SPLAT16(1.061405429f);                                                             \
    ey_ = ey_ * et_ - 1.453152027f;                                                               \
    ey_ = ey_ * et_ + 1.421413741f;                                                               \
    ey_ = ey_ * et_ - 0.284496736f;                                                               \
    ey_ = ey_ * et_ + 0.254829592f;                                                               \
    ey_ = 1.0f - ey_ * et_ * (e_in);                                                              \
    (f16v)((i16v)ey_ | ((i16v)ez_ & (int)0x80000000)); /* y ≥ 0 takes z's sign */                \
})

/// Exact GELU, 0.5·x·(1 + erf(x/√2)), with erf by `ERF16`, as the Swift SIMD16 version this
/// replaces.
#define GELU16(input) ({                                                                         \
    const f16v v_ = (input);                                                                      \
    const f16v z_ = v_ * 0.70710678118654752f;                                                    \
    0.5f * v_ * (1.0f + ERF16(z_, EXP16(-z_ * z_)));                                              \
})

static inline float gelu1(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

CSD_DISPATCH
void csd_gelu(const float *src, float *dst, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) STORE16(dst + i, GELU16(LOAD16(src + i)));
    for (; i < n; i++) dst[i] = gelu1(src[i]);
}

CSD_DISPATCH
void csd_gated_gelu(const float *x, float *out, long rows, long half) {
    for (long r = 0; r < rows; r++) {
        const float *value = x + r * 2 * half, *gate = value + half;
        float *o = out + r * half;
        long i = 0;
        for (; i + 16 <= half; i += 16) STORE16(o + i, LOAD16(value + i) * GELU16(LOAD16(gate + i)));
        for (; i < half; i++) o[i] = value[i] * gelu1(gate[i]);
    }
}

/// GEGLU's backward: with each row of x holding (value, gate) and dy one value per pair,
/// dvalue = dy·gelu(gate) and dgate = dy·value·gelu'(gate), gelu'(g) = Φ(g) + g·φ(g). φ reuses the
/// erf's exp(−g²/2) (`ERF16`).
CSD_DISPATCH
void csd_gated_gelu_backward(const float *x, const float *dy, float *dx, long rows, long half) {
    const float inverse_sqrt_2pi = 0.39894228040143268f;
    for (long r = 0; r < rows; r++) {
        const float *value = x + r * 2 * half, *gate = value + half, *g = dy + r * half;
        float *dvalue = dx + r * 2 * half, *dgate = dvalue + half;
        long i = 0;
        for (; i + 16 <= half; i += 16) {
            const f16v v = LOAD16(gate + i);
            const f16v z = v * 0.70710678118654752f;
            const f16v e = EXP16(-z * z);
            const f16v cdf = 0.5f * (1.0f + ERF16(z, e));
            const f16v gi = LOAD16(g + i);
            STORE16(dvalue + i, gi * v * cdf);
            STORE16(dgate + i, gi * LOAD16(value + i) * (cdf + v * e * inverse_sqrt_2pi));
        }
        for (; i < half; i++) {
            const float v = gate[i];
            const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
            dvalue[i] = g[i] * v * cdf;
            dgate[i] = g[i] * value[i] * (cdf + v * expf(-0.5f * v * v) * inverse_sqrt_2pi);
        }
    }
}

/// Softmax's backward along one row: dx = scale·y ⊙ (dy − Σ dy ⊙ y), y the softmax's output;
/// the dot in 16 float lanes folded in double. dx may be dy.
CSD_DISPATCH
void csd_softmax_row_gradient(const float *dy, const float *y, float *dx, long n, float scale) {
    long i = 0;
    f16v acc = SPLAT16(0);
    for (; i + 16 <= n; i += 16) acc += LOAD16(dy + i) * LOAD16(y + i);
    double sum = 0;
    for (int l = 0; l < 16; l++) sum += acc[l];
    for (; i < n; i++) sum += (double)(dy[i] * y[i]);
    const float dot = (float)sum;
    const f16v vd = SPLAT16(dot), vs = SPLAT16(scale);
    for (i = 0; i + 16 <= n; i += 16) STORE16(dx + i, vs * LOAD16(y + i) * (LOAD16(dy + i) - vd));
    for (; i < n; i++) dx[i] = scale * y[i] * (dy[i] - dot);
}

CSD_DISPATCH
void csd_normalize_row(const float *src, float *dst, long n, float mean, float inv, const float *weight,
                       const float *bias) {
    long i = 0;
    const f16v vm = SPLAT16(mean), vi = SPLAT16(inv);
    for (; i + 16 <= n; i += 16) {
        f16v y = (LOAD16(src + i) - vm) * vi;
        if (weight) y *= LOAD16(weight + i);
        if (bias) y += LOAD16(bias + i);
        STORE16(dst + i, y);
    }
    for (; i < n; i++) dst[i] = (src[i] - mean) * inv * (weight ? weight[i] : 1.0f) + (bias ? bias[i] : 0.0f);
}
