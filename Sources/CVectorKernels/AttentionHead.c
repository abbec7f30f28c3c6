#include "CVectorKernels.h"
#include "VectorMacros.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>

typedef float f16v __attribute__((vector_size(64)));

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/// Query rows handled together: 8 rows × 2 vectors of scores, or 8 rows × 3 vectors of output,
/// stay in registers while keys (or values) stream past.
enum { BLOCK = 8, LANES = 16 };

AVX512 INLINE f16v splat(float x) { return (f16v){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
AVX512 INLINE f16v load(const float *p) { f16v v; memcpy(&v, p, sizeof v); return v; }
AVX512 INLINE void store(float *p, f16v v) { memcpy(p, &v, sizeof v); }

/// s[r][j] = Σ_t qb[r][t] · k[j][t] for the block's 8 rows and j < padded (a multiple of 32),
/// with the keys transposed in panels of 32: kt[j / 32][t][j % 32], read front to back. Columns
/// from `keys` on (the padding) are set to −∞, and each row's maximum over the rest comes back in
/// `maxima`, so the exponentials need no second pass to find it.
AVX512 static void scores_block(const float *qb, const float *kt, long d, long padded, long keys, float *s,
                                float *maxima) {
    f16v vmax[BLOCK];
    for (int r = 0; r < BLOCK; r++) vmax[r] = splat(-__builtin_inff());
    for (long j = 0; j < padded; j += 2 * LANES) {
        const float *panel = kt + j * d;
        f16v acc[BLOCK][2];
        for (int r = 0; r < BLOCK; r++) acc[r][0] = acc[r][1] = splat(0);
        for (long t = 0; t < d; t++) {
            const f16v k0 = load(panel + t * 2 * LANES), k1 = load(panel + t * 2 * LANES + LANES);
            for (int r = 0; r < BLOCK; r++) {
                const f16v qv = splat(qb[r * d + t]);
                acc[r][0] += qv * k0;
                acc[r][1] += qv * k1;
            }
        }
        if (j + 2 * LANES > keys) {
            // The last panel: lanes past the keys are padding.
            const __mmask16 m0 = keys - j >= LANES ? 0xFFFF : (__mmask16)((1u << (keys - j)) - 1);
            const __mmask16 m1 = keys - j >= 2 * LANES ? 0xFFFF
                                 : keys - j <= LANES ? 0 : (__mmask16)((1u << (keys - j - LANES)) - 1);
            const __m512 hidden = _mm512_set1_ps(-__builtin_inff());
            for (int r = 0; r < BLOCK; r++) {
                acc[r][0] = (f16v)_mm512_mask_mov_ps(hidden, m0, (__m512)acc[r][0]);
                acc[r][1] = (f16v)_mm512_mask_mov_ps(hidden, m1, (__m512)acc[r][1]);
            }
        }
        for (int r = 0; r < BLOCK; r++) {
            vmax[r] = __builtin_elementwise_max(vmax[r], __builtin_elementwise_max(acc[r][0], acc[r][1]));
            store(s + r * padded + j, acc[r][0]);
            store(s + r * padded + j + LANES, acc[r][1]);
        }
    }
    for (int r = 0; r < BLOCK; r++) maxima[r] = _mm512_reduce_max_ps((__m512)vmax[r]);
}

/// o[r][c ..< c + 16·W] = Σ_j p[r][j] · vp[j][c ..< c + 16·W] for j < keys (V rows `ld_v` apart,
/// output rows `width` apart).
AVX512 INLINE void values_chunk(const float *p, long stride, const float *vp, long keys, long ld_v, long c,
                                float *o, long width, const int w) {
    f16v acc[BLOCK][3];
    for (int r = 0; r < BLOCK; r++)
        for (int x = 0; x < w; x++) acc[r][x] = splat(0);
    for (long j = 0; j < keys; j++) {
        f16v vv[3];
        for (int x = 0; x < w; x++) vv[x] = load(vp + j * ld_v + c + x * LANES);
        for (int r = 0; r < BLOCK; r++) {
            const f16v pv = splat(p[r * stride + j]);
            for (int x = 0; x < w; x++) acc[r][x] += pv * vv[x];
        }
    }
    for (int r = 0; r < BLOCK; r++)
        for (int x = 0; x < w; x++) store(o + r * width + c + x * LANES, acc[r][x]);
}

/// The last 8 of a head width ≡ 8 (mod 16) without padding it to 16: two keys per vector, key j
/// in the even lanes and j + 1 in the odd ones, so rem[j / 2][2c + j % 2] = v[j][c] and one 8-byte
/// broadcast of p[r][j], p[r][j + 1] weights both. o[r][c] sums lanes 2c and 2c + 1. `keys` is
/// even (a padding key has zero values and zero weight).
AVX512 static void values_remainder(const float *p, long stride, const float *rem, long keys, long width, long c,
                                    float *o) {
    typedef double d8v __attribute__((vector_size(64)));
    f16v acc[BLOCK];
    for (int r = 0; r < BLOCK; r++) acc[r] = splat(0);
    for (long j = 0; j < keys; j += 2) {
        const f16v vv = load(rem + j * 8);
        for (int r = 0; r < BLOCK; r++) {
            double pair;
            memcpy(&pair, p + r * stride + j, sizeof pair);
            acc[r] += (f16v)(d8v){pair, pair, pair, pair, pair, pair, pair, pair} * vv;
        }
    }
    for (int r = 0; r < BLOCK; r++)
        for (int x = 0; x < 8; x++) o[r * width + c + x] = acc[r][2 * x] + acc[r][2 * x + 1];
}

/// o = p · V for the block's rows: V's main part `vp` [keys][main], in chunks of 3, 2 or 1
/// vectors, and, when `rem` is given, its last 8 columns paired by keys (`values_remainder`).
AVX512 static void values_block(const float *p, long stride, const float *vp, long keys, long main, const float *rem,
                                long width, float *o) {
    long c = 0;
    for (; c + 3 * LANES <= main; c += 3 * LANES) values_chunk(p, stride, vp, keys, main, c, o, width, 3);
    for (; c + 2 * LANES <= main; c += 2 * LANES) values_chunk(p, stride, vp, keys, main, c, o, width, 2);
    for (; c + LANES <= main; c += LANES) values_chunk(p, stride, vp, keys, main, c, o, width, 1);
    if (rem) values_remainder(p, stride, rem, (keys + 1) / 2 * 2, width, c, o);
}

/// Replaces p[0 ..< n] (n a multiple of 16) by 2^(p[i] − m), m the row's maximum, and returns
/// their sum. Scores come in already multiplied by log2(e), so this is exp(score − max) without a
/// multiplication and with an exact range reduction (x = n + r, n = round(x), |r| ≤ ½; `vrndscaleps`);
/// Cephes' `exp2f` polynomial on r, relative error about 1.4e-7, times 2ⁿ by `vscalefps`. Inputs
/// below −126 (weights under 1e-38) are clamped there; −∞ (padding) gives 2⁻¹²⁶.
AVX512 static float exp2_row(float *p, long n, float m) {
    const f16v vmax = splat(m), low = splat(-126.0f);
    f16v vsum = splat(0);
    for (long i = 0; i < n; i += LANES) {
        const f16v x = __builtin_elementwise_max(load(p + i) - vmax, low);
        const f16v whole = (f16v)_mm512_roundscale_ps((__m512)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const f16v r = x - whole;
        f16v e = EXP2_POLYNOMIAL(r);
        e = (f16v)_mm512_scalef_ps((__m512)e, (__m512)whole);
        store(p + i, e);
        vsum += e;
    }
    return _mm512_reduce_add_ps((__m512)vsum);
}

int csd_attention_head_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

AVX512 static int attention_head(const float *q, const float *k, const float *v, float *out, long rows, long keys,
                                 long d, long ld, float scale, long causal_offset) {
    const long padded = (keys + 2 * LANES - 1) / (2 * LANES) * (2 * LANES);
    const long width = (d + LANES - 1) / LANES * LANES;
    // A width ≡ 8 (mod 16) keeps its last 8 columns apart (`values_remainder`) instead of padding
    // them to 16: a third of the products of d = 40's last vector were zeros.
    const int split = d % LANES == 8;
    const long main = split ? d - 8 : width, pairs = (keys + 1) / 2;
    float *kt = calloc((size_t)(d * padded + keys * main + pairs * 16 + BLOCK * d + BLOCK * padded + BLOCK * width),
                       sizeof(float));
    if (!kt) return -1;
    float *vp = kt + d * padded, *rem = vp + keys * main, *qb = rem + pairs * 16, *s = qb + BLOCK * d,
          *o = s + BLOCK * padded;
    // Keys transposed into panels of 32 keys × d, so that the score loop reads them in order (in
    // one d × padded matrix, its 40 rows a page apart fell into one L1 set).
    for (long j0 = 0; j0 < keys; j0 += 2 * LANES) {
        float *panel = kt + j0 * d;
        const long n = keys - j0 < 2 * LANES ? keys - j0 : 2 * LANES;
        for (long t = 0; t < d; t++) {
#pragma clang loop vectorize(disable)
            for (long j = 0; j < n; j++) panel[t * 2 * LANES + j] = k[(j0 + j) * ld + t];
        }
    }
    for (long j = 0; j < keys; j++) {
        memcpy(vp + j * main, v + j * ld, (size_t)(split ? main : d) * sizeof(float));
        if (split)
            for (long c = 0; c < 8; c++) rem[j / 2 * 16 + 2 * c + j % 2] = v[j * ld + main + c];
    }
    for (long row0 = 0; row0 < rows; row0 += BLOCK) {
        const long n = rows - row0 < BLOCK ? rows - row0 : BLOCK;
        memset(qb, 0, (size_t)(BLOCK * d) * sizeof(float));
        for (long r = 0; r < n; r++)
            for (long t = 0; t < d; t++) qb[r * d + t] = scale * 1.4426950408889634f * q[(row0 + r) * ld + t];
        float maxima[BLOCK];
        scores_block(qb, kt, d, padded, keys, s, maxima);
        float sums[BLOCK] = {0};
        for (long r = 0; r < n; r++) {
            float *row = s + r * padded;
            long visible = keys;
            if (causal_offset >= 0 && causal_offset + row0 + r + 1 < keys) visible = causal_offset + row0 + r + 1;
            if (visible < keys) {
                // Hidden columns: −∞, and the maximum taken again over the visible ones.
                for (long j = visible; j < keys; j++) row[j] = -__builtin_inff();
                float m = row[0];
                for (long j = 1; j < visible; j++) m = row[j] > m ? row[j] : m;
                maxima[r] = m;
            }
            // Hidden and padding columns at −∞ weigh 2⁻¹²⁶ each in the sum (nothing beside the row
            // maximum's 1) and are zeroed before the product with V.
            sums[r] = exp2_row(row, padded, maxima[r]);
            memset(row + visible, 0, (size_t)(padded - visible) * sizeof(float));
        }
        values_block(s, padded, vp, keys, main, split ? rem : NULL, width, o);
        for (long r = 0; r < n; r++) {
            const float inv = sums[r] > 0 ? 1 / sums[r] : 0;
            for (long t = 0; t < d; t++) out[(row0 + r) * ld + t] = o[r * width + t] * inv;
        }
    }
    free(kt);
    return 0;
}

int csd_attention_head(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                       long ld, float scale, long causal_offset) {
    static int available = -1;
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        known = csd_attention_head_available();
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    if (!known || keys < 1 || d < 1) return -1;
    return attention_head(q, k, v, out, rows, keys, d, ld, scale, causal_offset);
}

#else

int csd_attention_head_available(void) { return 0; }

int csd_attention_head(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                       long ld, float scale, long causal_offset) {
    (void)q; (void)k; (void)v; (void)out; (void)rows; (void)keys; (void)d; (void)ld; (void)scale; (void)causal_offset;
    return -1;
}

#endif
