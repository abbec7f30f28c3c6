#include "CVectorKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>
#include <stdint.h>
#include "AVX2Vectors.h"
#include "BFloat16.h"

typedef float f16v __attribute__((vector_size(64)));

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/// 8 output channels × 3 vectors (48 positions) of sums stay in registers (24 of the 32) while the
/// input channels and kernel taps stream past: 11 loads feed 24 fused multiply-adds.
enum { OUTPUTS = 8, VECTORS = 3, LANES = 16, SPAN = VECTORS * LANES };

AVX512 INLINE f16v splat(float x) { return (f16v){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
AVX512 INLINE f16v load(const float *p) { f16v v; memcpy(&v, p, sizeof v); return v; }
AVX512 INLINE void store(float *p, f16v v) { memcpy(p, &v, sizeof v); }

/// yq[o][0..<SPAN] = Σ_c Σ_t wk[c][t][o] · xp[c·plane + shifts[t] + 0..<SPAN] for o < outputs.
AVX512 INLINE void span_block(const float *xp, long cin, long plane, const long *shifts, long taps,
                              const float *wk, float *yq, long ldy, int outputs) {
    f16v acc[OUTPUTS][VECTORS];
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS; v++) acc[o][v] = splat(0);
    for (long c = 0; c < cin; c++) {
        const float *xc = xp + c * plane;
        const float *wc = wk + c * taps * OUTPUTS;
        for (long t = 0; t < taps; t++) {
            const float *src = xc + shifts[t];
            const f16v x0 = load(src), x1 = load(src + LANES), x2 = load(src + 2 * LANES);
            const float *wt = wc + t * OUTPUTS;
            for (int o = 0; o < outputs; o++) {
                const f16v wv = splat(wt[o]);
                acc[o][0] += wv * x0;
                acc[o][1] += wv * x1;
                acc[o][2] += wv * x2;
            }
        }
    }
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS; v++) store(yq + o * ldy + v * LANES, acc[o][v]);
}

/// One block of output channels over every span of the flattened plane; `outputs` is a constant
/// in each call below, so the accumulators unroll into registers.
AVX512 INLINE void channel_block(const float *xp, long cin, long plane, const long *shifts, long taps,
                                 const float *wk, float *yq, long ldy, long spans, int outputs) {
    for (long s = 0; s < spans; s++)
        span_block(xp + s * SPAN, cin, plane, shifts, taps, wk, yq + s * SPAN, ldy, outputs);
}

/// Runs BLOCK(n) with `outputs` as the constant n (1...8), so that the accumulators unroll.
#define WITH_CONSTANT_OUTPUTS(outputs, BLOCK)                                                      \
    switch (outputs) {                                                                             \
    case 8: BLOCK(8); break;                                                                       \
    case 7: BLOCK(7); break;                                                                       \
    case 6: BLOCK(6); break;                                                                       \
    case 5: BLOCK(5); break;                                                                       \
    case 4: BLOCK(4); break;                                                                       \
    case 3: BLOCK(3); break;                                                                       \
    case 2: BLOCK(2); break;                                                                       \
    default: BLOCK(1); break;                                                                      \
    }

AVX512 static void channel_block_any(const float *xp, long cin, long plane, const long *shifts, long taps,
                                     const float *wk, float *yq, long ldy, long spans, int outputs) {
#define BLOCK(n) channel_block(xp, cin, plane, shifts, taps, wk, yq, ldy, spans, n)
    WITH_CONSTANT_OUTPUTS(outputs, BLOCK)
#undef BLOCK
}

/// The AVX2 variant: 16 registers of 8 lanes hold 4 output channels × 3 vectors (24 positions) of
/// sums, 3 loads and a broadcast, so a span of 48 positions is 2 halves, and a block of 8 output
/// channels 2 groups of 4 (the weights keep the layout of 8 outputs per tap).
enum { LANES8 = 8, VECTORS8 = 3, SPAN8 = VECTORS8 * LANES8, GROUP8 = 4 };

/// yq[o][0..<SPAN8] = Σ_c Σ_t wk[c][t][o] · xp[c·plane + shifts[t] + 0..<SPAN8] for o < outputs (≤ 4),
/// the weights `OUTPUTS` apart per tap.
AVX2_INLINE void span_block_avx2(const float *xp, long cin, long plane, const long *shifts, long taps,
                                 const float *wk, float *yq, long ldy, int outputs) {
    f8v acc[GROUP8][VECTORS8];
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS8; v++) acc[o][v] = splat8(0);
    for (long c = 0; c < cin; c++) {
        const float *xc = xp + c * plane;
        const float *wc = wk + c * taps * OUTPUTS;
        for (long t = 0; t < taps; t++) {
            const float *src = xc + shifts[t];
            const f8v x0 = load8(src), x1 = load8(src + LANES8), x2 = load8(src + 2 * LANES8);
            const float *wt = wc + t * OUTPUTS;
            for (int o = 0; o < outputs; o++) {
                const f8v wv = splat8(wt[o]);
                acc[o][0] += wv * x0;
                acc[o][1] += wv * x1;
                acc[o][2] += wv * x2;
            }
        }
    }
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS8; v++) store8(yq + o * ldy + v * LANES8, acc[o][v]);
}

AVX2_INLINE void channel_group_avx2(const float *xp, long cin, long plane, const long *shifts, long taps,
                                    const float *wk, float *yq, long ldy, long spans, int outputs) {
    for (long s = 0; s < spans * (SPAN / SPAN8); s++)
        span_block_avx2(xp + s * SPAN8, cin, plane, shifts, taps, wk, yq + s * SPAN8, ldy, outputs);
}

/// `channel_block_any` on AVX2: the block's outputs in groups of 4.
AVX2 static void channel_block_any_avx2(const float *xp, long cin, long plane, const long *shifts, long taps,
                                        const float *wk, float *yq, long ldy, long spans, int outputs) {
    for (int g = 0; g < outputs; g += GROUP8) {
        const int n = outputs - g < GROUP8 ? outputs - g : GROUP8;
        const float *wg = wk + g;
        float *yg = yq + g * ldy;
        switch (n) {
        case 4: channel_group_avx2(xp, cin, plane, shifts, taps, wg, yg, ldy, spans, 4); break;
        case 3: channel_group_avx2(xp, cin, plane, shifts, taps, wg, yg, ldy, spans, 3); break;
        case 2: channel_group_avx2(xp, cin, plane, shifts, taps, wg, yg, ldy, spans, 2); break;
        default: channel_group_avx2(xp, cin, plane, shifts, taps, wg, yg, ldy, spans, 1); break;
        }
    }
}

/// `span_block` on bf16 pairs of input channels: each `vdpbf16ps` adds channels 2c and 2c + 1
/// (fp32 sums), so half as many steps run over the same registers.
AVX512BF16 INLINE void span_block_bf16(const uint32_t *xp, long pairs, long plane, const long *shifts, long taps,
                                       const uint32_t *wk, float *yq, long ldy, int outputs) {
    __m512 acc[OUTPUTS][VECTORS];
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS; v++) acc[o][v] = _mm512_setzero_ps();
    for (long c = 0; c < pairs; c++) {
        const uint32_t *xc = xp + c * plane;
        const uint32_t *wc = wk + c * taps * OUTPUTS;
        for (long t = 0; t < taps; t++) {
            const uint32_t *src = xc + shifts[t];
            const __m512bh x0 = (__m512bh)_mm512_loadu_si512(src), x1 = (__m512bh)_mm512_loadu_si512(src + LANES),
                           x2 = (__m512bh)_mm512_loadu_si512(src + 2 * LANES);
            const uint32_t *wt = wc + t * OUTPUTS;
            for (int o = 0; o < outputs; o++) {
                const __m512bh wv = (__m512bh)_mm512_set1_epi32((int)wt[o]);
                acc[o][0] = _mm512_dpbf16_ps(acc[o][0], wv, x0);
                acc[o][1] = _mm512_dpbf16_ps(acc[o][1], wv, x1);
                acc[o][2] = _mm512_dpbf16_ps(acc[o][2], wv, x2);
            }
        }
    }
    for (int o = 0; o < outputs; o++)
        for (int v = 0; v < VECTORS; v++) _mm512_storeu_ps(yq + o * ldy + v * LANES, acc[o][v]);
}

AVX512BF16 INLINE void channel_block_bf16(const uint32_t *xp, long pairs, long plane, const long *shifts, long taps,
                                          const uint32_t *wk, float *yq, long ldy, long spans, int outputs) {
    for (long s = 0; s < spans; s++)
        span_block_bf16(xp + s * SPAN, pairs, plane, shifts, taps, wk, yq + s * SPAN, ldy, outputs);
}

AVX512BF16 static void channel_block_any_bf16(const uint32_t *xp, long pairs, long plane, const long *shifts, long taps,
                                              const uint32_t *wk, float *yq, long ldy, long spans, int outputs) {
#define BLOCK(n) channel_block_bf16(xp, pairs, plane, shifts, taps, wk, yq, ldy, spans, n)
    WITH_CONSTANT_OUTPUTS(outputs, BLOCK)
#undef BLOCK
}

/// The padded image and the regrouped weights as bf16 pairs of input channels (channel 2c in the
/// low half); an odd last channel is paired with zeros. Returns the pair image, or NULL.
AVX512BF16 static uint32_t *pair_channels(const float *xp, long cin, long plane, long slack, const float *wk,
                                          long blocks, long taps, uint32_t **wk_pairs) {
    const long pairs = (cin + 1) / 2;
    uint32_t *xq = malloc((size_t)(pairs * plane + slack + blocks * pairs * taps * OUTPUTS) * sizeof(uint32_t));
    if (!xq) return NULL;
    for (long c = 0; c < pairs; c++)
        for (long q = 0; q < plane; q += LANES)
            interleave_bf16(xp + 2 * c * plane + q, 2 * c + 1 < cin ? xp + (2 * c + 1) * plane + q : NULL,
                            plane - q < LANES ? plane - q : LANES, (uint16_t *)(xq + c * plane + q));
    memset(xq + pairs * plane, 0, (size_t)slack * sizeof(uint32_t));
    uint32_t *wq = xq + pairs * plane + slack;
    for (long b = 0; b < blocks; b++)
        for (long c = 0; c < pairs; c++)
            for (long t = 0; t < taps; t++) {
                const float *even = wk + ((b * cin + 2 * c) * taps + t) * OUTPUTS;
                const float *odd = 2 * c + 1 < cin ? wk + ((b * cin + 2 * c + 1) * taps + t) * OUTPUTS : NULL;
                interleave_bf16(even, odd, OUTPUTS, (uint16_t *)(wq + ((b * pairs + c) * taps + t) * OUTPUTS));
            }
    *wk_pairs = wq;
    return xq;
}

/// Whether the AVX-512 kernels run (else the AVX2 ones).
static int direct_convolution_avx512(void) { return csd_attention_head_available(); }

int csd_direct_convolution_available(void) {
    return direct_convolution_avx512() || avx2_fma_available();
}

int csd_direct_convolution_bf16_available(void) {
    return csd_direct_convolution_available() && __builtin_cpu_supports("avx512bf16");
}

static int direct_convolution(const float *x, long cin, long h, long w, const float *weight,
                                     const float *bias, long cout, long kh, long kw, long stride, long pad_top,
                                     long pad_left, long ho, long wo, long o_begin, long o_end, float *y, int bf16) {
    // Each channel is copied with its zero padding as stride² phase planes, phase (a, b) holding
    // padded pixels (stride·py + a, stride·px + b), each `wq` = wo + (kw − 1)/stride wide. Output
    // (oy, ox), at flattened position q = oy·wq + ox, then takes tap (i, j) from phase
    // (i mod stride, j mod stride) at q + (i/stride)·wq + j/stride: one shift per tap for the
    // whole plane, and stride 2 needs no other code than stride 1. Positions with ox ≥ wo are
    // computed and dropped.
    const long s = stride, wq = wo + (kw - 1) / s, hq = ho + (kh - 1) / s, phase = hq * wq;
    const long plane = s * s * phase, taps = kh * kw;
    const long spans = (ho * wq + SPAN - 1) / SPAN, width = spans * SPAN;
    const long count = o_end - o_begin, blocks = (count + OUTPUTS - 1) / OUTPUTS;
    const long padded = cin * plane + SPAN + kw + LANES;
    float *xp = malloc((size_t)(padded + blocks * cin * taps * OUTPUTS + OUTPUTS * width) * sizeof(float));
    long *shifts = malloc((size_t)taps * sizeof(long));
    if (!xp || !shifts) {
        free(xp);
        free(shifts);
        return -1;
    }
    // Only the padded image needs zeros (its border and the slack past the end): the weight
    // lanes past `count` and the sums are never read before they are written.
    memset(xp, 0, (size_t)padded * sizeof(float));
    float *wk = xp + padded, *yq = wk + blocks * cin * taps * OUTPUTS;
    for (long c = 0; c < cin; c++)
        for (long a = 0; a < s; a++)
            for (long b = 0; b < s; b++) {
                float *dst = xp + c * plane + (a * s + b) * phase;
                // Columns px whose input column ix = s·px + b − pad_left lies in [0, w).
                long lo = 0;
                while (lo < wq && s * lo + b - pad_left < 0) lo++;
                long hi = lo;
                while (hi < wq && s * hi + b - pad_left < w) hi++;
                for (long py = 0; py < hq; py++) {
                    const long iy = s * py + a - pad_top;
                    if (iy < 0 || iy >= h || hi <= lo) continue;
                    const float *src = x + (c * h + iy) * w + s * lo + b - pad_left;
                    if (s == 1) {
                        memcpy(dst + py * wq + lo, src, (size_t)(hi - lo) * sizeof(float));
                    } else {
                        for (long px = lo; px < hi; px++) dst[py * wq + px] = src[s * (px - lo)];
                    }
                }
            }
    for (long i = 0; i < kh; i++)
        for (long j = 0; j < kw; j++) shifts[i * kw + j] = ((i % s) * s + j % s) * phase + (i / s) * wq + j / s;
    // Weights regrouped as [block][c][tap][8 outputs], read front to back by the span loop.
    for (long o = 0; o < count; o++)
        for (long c = 0; c < cin; c++)
            for (long t = 0; t < taps; t++)
                wk[((o / OUTPUTS * cin + c) * taps + t) * OUTPUTS + o % OUTPUTS] =
                    weight[((o_begin + o) * cin + c) * taps + t];
    uint32_t *xq = NULL, *wpairs = NULL;
    if (bf16) {
        // Weight lanes past `count` were never written: zero them before they are rounded.
        for (long o = count; o < blocks * OUTPUTS; o++)
            for (long c = 0; c < cin; c++)
                for (long t = 0; t < taps; t++) wk[((o / OUTPUTS * cin + c) * taps + t) * OUTPUTS + o % OUTPUTS] = 0;
        xq = pair_channels(xp, cin, plane, SPAN + kw + LANES, wk, blocks, taps, &wpairs);
        if (!xq) {
            free(shifts);
            free(xp);
            return -1;
        }
    }
    const long pairs = (cin + 1) / 2;
    const int avx512 = direct_convolution_avx512();
    for (long b = 0; b < blocks; b++) {
        const long o0 = b * OUTPUTS, n = count - o0 < OUTPUTS ? count - o0 : OUTPUTS;
        if (bf16)
            channel_block_any_bf16(xq, pairs, plane, shifts, taps, wpairs + b * pairs * taps * OUTPUTS, yq, width, spans, (int)n);
        else if (avx512)
            channel_block_any(xp, cin, plane, shifts, taps, wk + b * cin * taps * OUTPUTS, yq, width, spans, (int)n);
        else
            channel_block_any_avx2(xp, cin, plane, shifts, taps, wk + b * cin * taps * OUTPUTS, yq, width, spans, (int)n);
        for (long o = 0; o < n; o++) {
            const float add = bias ? bias[o_begin + o0 + o] : 0;
            float *dst = y + (o_begin + o0 + o) * ho * wo;
            const float *src = yq + o * width;
            for (long oy = 0; oy < ho; oy++)
                for (long ox = 0; ox < wo; ox++) dst[oy * wo + ox] = src[oy * wq + ox] + add;
        }
    }
    free(xq);
    free(shifts);
    free(xp);
    return 0;
}

int csd_direct_convolution(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                           long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                           long o_begin, long o_end, float *y) {
    static int available = -1;
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        known = csd_direct_convolution_available();
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    if (!known || stride < 1 || o_begin < 0 || o_end > cout || o_begin >= o_end) return -1;
    return direct_convolution(x, cin, h, w, weight, bias, cout, kh, kw, stride, pad_top, pad_left, ho, wo, o_begin,
                              o_end, y, 0);
}

int csd_direct_convolution_bf16(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                                long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                                long o_begin, long o_end, float *y) {
    static int available = -1;
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        known = csd_direct_convolution_bf16_available();
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    if (!known || stride < 1 || o_begin < 0 || o_end > cout || o_begin >= o_end) return -1;
    return direct_convolution(x, cin, h, w, weight, bias, cout, kh, kw, stride, pad_top, pad_left, ho, wo, o_begin,
                              o_end, y, 1);
}

#else

int csd_direct_convolution_available(void) { return 0; }

int csd_direct_convolution_bf16_available(void) { return 0; }

int csd_direct_convolution_bf16(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                                long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                                long o_begin, long o_end, float *y) {
    return -1;
}

int csd_direct_convolution(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                           long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                           long o_begin, long o_end, float *y) {
    return -1;
}

#endif
