#include "CVectorKernels.h"
#include "VectorMacros.h"
#include "AVX2Vectors.h"
#include <stdlib.h>
#include <string.h>

// Attention for one (item, head) on AVX2 and FMA, forward and backward, with no score matrix
// beyond a tile of query rows and no packing: the keys and values are laid out once per call,
// and every product keeps its sums in registers while the other operand streams past. The
// forward is `csd_attention_head`'s AVX-512 kernel in 8-float vectors; the backward is FlashAttention's
// (Dao et al. 2022, algorithm 4) with the probabilities recomputed per tile of query rows.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>

/// Query rows whose products run together (6 rows × 2 vectors of sums, or 6 rows × 2 vectors of
/// output); keys per panel of the transposed keys (2 vectors); query rows per tile of the backward,
/// whose probabilities and score gradients (2 × 24 × padded floats) stay in the L2 cache.
enum { BLOCK = 6, PANEL = 16, TILE = 24 };

/// Keys transposed into panels of 16 keys × d, zero past the last key: kt[j / 16][t][j % 16] = k[j][t].
AVX2 static void transpose_panels(const float *k, long ld, long keys, long d, long padded, float *kt) {
    memset(kt, 0, (size_t)(d * padded) * sizeof(float));
    for (long j0 = 0; j0 < keys; j0 += PANEL) {
        float *panel = kt + j0 * d;
        const long n = keys - j0 < PANEL ? keys - j0 : PANEL;
        for (long t = 0; t < d; t++)
            for (long j = 0; j < n; j++) panel[t * PANEL + j] = k[(j0 + j) * ld + t];
    }
}

/// Rows of `m` (keys × d, `ld` apart) copied into rows of `width` floats, zero past d.
static void copy_rows(const float *m, long ld, long keys, long d, long width, float *dst) {
    memset(dst, 0, (size_t)(keys * width) * sizeof(float));
    for (long j = 0; j < keys; j++) memcpy(dst + j * width, m + j * ld, (size_t)d * sizeof(float));
}

/// s[r][j] = Σ_t a[r][t] · kt-panels[j][t] for the block's 6 rows (`a` [6][d]) and j < padded,
/// rows `rs` floats apart. With `maxima`, each row's maximum over the full panels (the columns
/// below keys rounded down to 16) comes back there.
AVX2 static void products_block(const float *a, const float *kt, long d, long padded, long keys, float *s, long rs,
                                float *maxima) {
    f8v vmax[BLOCK];
    for (int r = 0; r < BLOCK; r++) vmax[r] = splat8(-__builtin_inff());
    for (long j = 0; j < padded; j += PANEL) {
        const float *panel = kt + j * d;
        f8v acc[BLOCK][2];
        for (int r = 0; r < BLOCK; r++) acc[r][0] = acc[r][1] = splat8(0);
        for (long t = 0; t < d; t++) {
            const f8v k0 = load8(panel + t * PANEL), k1 = load8(panel + t * PANEL + 8);
            for (int r = 0; r < BLOCK; r++) {
                const f8v av = splat8(a[r * d + t]);
                acc[r][0] += av * k0;
                acc[r][1] += av * k1;
            }
        }
        for (int r = 0; r < BLOCK; r++) {
            store8(s + r * rs + j, acc[r][0]);
            store8(s + r * rs + j + 8, acc[r][1]);
        }
        if (maxima && j + PANEL <= keys)
            for (int r = 0; r < BLOCK; r++)
                vmax[r] = __builtin_elementwise_max(vmax[r], __builtin_elementwise_max(acc[r][0], acc[r][1]));
    }
    if (maxima)
        for (int r = 0; r < BLOCK; r++) {
            float m = -__builtin_inff();
            for (int x = 0; x < 8; x++) m = vmax[r][x] > m ? vmax[r][x] : m;
            maxima[r] = m;
        }
}

/// o[r][c ..< c + 8·w] = Σ_{j < keys} p[r][j] · m[j][c ..< c + 8·w] for the block's 6 rows
/// (`p` rows `rs` apart, `m` and `o` rows `width` apart).
AVX2_INLINE void rows_times_chunk(const float *p, long rs, const float *m, long keys, long width, long c, float *o,
                                  const int w) {
    f8v acc[BLOCK][2];
    for (int r = 0; r < BLOCK; r++)
        for (int x = 0; x < w; x++) acc[r][x] = splat8(0);
    for (long j = 0; j < keys; j++) {
        f8v mv[2];
        for (int x = 0; x < w; x++) mv[x] = load8(m + j * width + c + 8 * x);
        for (int r = 0; r < BLOCK; r++) {
            const f8v pv = splat8(p[r * rs + j]);
            for (int x = 0; x < w; x++) acc[r][x] += pv * mv[x];
        }
    }
    for (int r = 0; r < BLOCK; r++)
        for (int x = 0; x < w; x++) store8(o + r * width + c + 8 * x, acc[r][x]);
}

/// o = p · m for the block's 6 rows, `width` (a multiple of 8) columns.
AVX2 static void rows_times(const float *p, long rs, const float *m, long keys, long width, float *o) {
    long c = 0;
    for (; c + 16 <= width; c += 16) rows_times_chunk(p, rs, m, keys, width, c, o, 2);
    if (c < width) rows_times_chunk(p, rs, m, keys, width, c, o, 1);
}

/// acc[t][j ..< j + 16] += Σ_{r < rows} a[r][t] · p[r][j ..< j + 16] for t in t0 ..< t0 + w:
/// the sums of w rows of a transposed product stay in registers over the tile's rows.
AVX2_INLINE void accumulate_panel(const float *a, long d, long t0, const float *p, long rs, long rows, float *acc_out,
                                  long padded, long j, const int w) {
    f8v acc[BLOCK][2];
    for (int x = 0; x < w; x++) {
        acc[x][0] = load8(acc_out + (t0 + x) * padded + j);
        acc[x][1] = load8(acc_out + (t0 + x) * padded + j + 8);
    }
    for (long r = 0; r < rows; r++) {
        const f8v p0 = load8(p + r * rs + j), p1 = load8(p + r * rs + j + 8);
        for (int x = 0; x < w; x++) {
            const f8v av = splat8(a[r * d + t0 + x]);
            acc[x][0] += av * p0;
            acc[x][1] += av * p1;
        }
    }
    for (int x = 0; x < w; x++) {
        store8(acc_out + (t0 + x) * padded + j, acc[x][0]);
        store8(acc_out + (t0 + x) * padded + j + 8, acc[x][1]);
    }
}

/// acc [d][padded] += aᵀ · p for `a` [rows][d] and `p` [rows][padded] (rows `rs` apart). Each
/// panel of 16 columns is read once from the L2 cache, then from L1 for each group of 6 rows of
/// the sums; rows `rs` = padded + 16 apart keep its lines off one L1 set.
AVX2 static void accumulate_transposed(const float *a, long d, const float *p, long rs, long padded, long rows,
                                       float *acc) {
    for (long j = 0; j < padded; j += PANEL)
        for (long t0 = 0; t0 < d; t0 += BLOCK) {
            switch (d - t0 < BLOCK ? d - t0 : BLOCK) {
            case 1: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 1); break;
            case 2: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 2); break;
            case 3: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 3); break;
            case 4: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 4); break;
            case 5: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 5); break;
            default: accumulate_panel(a, d, t0, p, rs, rows, acc, padded, j, 6); break;
            }
        }
}

/// 2^x for x ≤ 0 clamped at −126 (weights under 1e-38): x = n + r with n = round(x), |r| ≤ ½;
/// Cephes' `exp2f` polynomial on r (relative error about 1.4e-7), times 2ⁿ built in the
/// exponent bits.
AVX2_INLINE f8v exp2_vector(f8v x) {
    x = __builtin_elementwise_max(x, splat8(-126.0f));
    const f8v whole = (f8v)_mm256_round_ps((__m256)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const f8v r = x - whole;
    f8v e = EXP2_POLYNOMIAL(r);
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32((__m256)whole), _mm256_set1_epi32(127)), 23);
    return e * (f8v)_mm256_castsi256_ps(bits);
}

AVX2_INLINE float sum8(f8v v) {
    float sum = 0;
    for (int x = 0; x < 8; x++) sum += v[x];
    return sum;
}

/// The maximum of a score row over its `visible` columns, from `products_block`'s maximum over
/// the full panels: the last partial panel added, or the whole row again under a causal mask.
static float row_maximum(const float *row, long visible, long keys, float panels_maximum) {
    float m = panels_maximum;
    long from = keys / PANEL * PANEL;
    if (visible < keys) {
        m = -__builtin_inff();
        from = 0;
    }
    for (long j = from; j < visible; j++) m = row[j] > m ? row[j] : m;
    return m;
}

/// Replaces a score row (multiplied by log2(e)) by its unnormalised probabilities
/// e[j] = 2^(s[j] − m), 0 at and past `visible`; returns their sum, and in `dot` Σ e[j] · dp[j]
/// when `dp` is given.
AVX2 static float exponentiate_row(float *row, long visible, long padded, float m, const float *dp, float *dot) {
    const long end = (visible + 7) / 8 * 8;
    for (long j = visible; j < end; j++) row[j] = -__builtin_inff();
    const f8v vmax = splat8(m);
    f8v vsum = splat8(0), vdot = splat8(0);
    for (long j = 0; j < end; j += 8) {
        const f8v e = exp2_vector(load8(row + j) - vmax);
        store8(row + j, e);
        vsum += e;
        if (dp) vdot += e * load8(dp + j);
    }
    // The −∞ columns gave 2⁻¹²⁶ each: nothing beside the maximum's 1, and set to 0 now.
    for (long j = visible; j < end; j++) row[j] = 0;
    for (long j = end; j < padded; j += 8) store8(row + j, splat8(0));
    if (dot) *dot = sum8(vdot);
    return sum8(vsum);
}

int csd_attention_avx2_available(void) { return avx2_fma_available(); }

/// Keys visible to query row `row`: all of them, or row + 1 under a causal mask.
static long visible_keys(long keys, long causal_offset, long row) {
    return causal_offset >= 0 && causal_offset + row + 1 < keys ? causal_offset + row + 1 : keys;
}

AVX2 static int attention_head(const float *q, const float *k, const float *v, float *out, long rows, long keys,
                               long d, long ld, float scale, long causal_offset) {
    const long padded = (keys + PANEL - 1) / PANEL * PANEL, width = (d + 7) / 8 * 8;
    float *kt = malloc((size_t)(d * padded + keys * width + BLOCK * d + BLOCK * padded + BLOCK * width) * sizeof(float));
    if (!kt) return -1;
    float *vm = kt + d * padded, *qb = vm + keys * width, *s = qb + BLOCK * d, *o = s + BLOCK * padded;
    transpose_panels(k, ld, keys, d, padded, kt);
    copy_rows(v, ld, keys, d, width, vm);
    const float factor = scale * 1.4426950408889634f;
    for (long row0 = 0; row0 < rows; row0 += BLOCK) {
        const long n = rows - row0 < BLOCK ? rows - row0 : BLOCK;
        memset(qb, 0, (size_t)(BLOCK * d) * sizeof(float));
        for (long r = 0; r < n; r++)
            for (long t = 0; t < d; t++) qb[r * d + t] = factor * q[(row0 + r) * ld + t];
        float maxima[BLOCK];
        products_block(qb, kt, d, padded, keys, s, padded, maxima);
        float inverse[BLOCK] = {0};
        for (long r = 0; r < n; r++) {
            float *row = s + r * padded;
            const long visible = visible_keys(keys, causal_offset, row0 + r);
            const float sum = exponentiate_row(row, visible, padded, row_maximum(row, visible, keys, maxima[r]), NULL, NULL);
            inverse[r] = sum > 0 ? 1 / sum : 0;
        }
        for (long r = n; r < BLOCK; r++) memset(s + r * padded, 0, (size_t)padded * sizeof(float));
        rows_times(s, padded, vm, keys, width, o);
        for (long r = 0; r < n; r++)
            for (long t = 0; t < d; t++) out[(row0 + r) * ld + t] = o[r * width + t] * inverse[r];
    }
    free(kt);
    return 0;
}

int csd_attention_head_avx2(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                            long ld, float scale, long causal_offset) {
    if (!avx2_fma_known() || rows < 1 || keys < 1 || d < 1) return -1;
    return attention_head(q, k, v, out, rows, keys, d, ld, scale, causal_offset);
}

AVX2 static int attention_gradient(const float *q, const float *k, const float *v, const float *dout, float *dq,
                                   float *dk, float *dv, long rows, long keys, long d, long ld, float scale,
                                   int causal) {
    const long padded = (keys + PANEL - 1) / PANEL * PANEL, width = (d + 7) / 8 * 8;
    const long tile_rows = (TILE + BLOCK - 1) / BLOCK * BLOCK, rs = padded + PANEL;
    const size_t floats = (size_t)(4 * d * padded + keys * width + 4 * tile_rows * d + 2 * tile_rows * rs +
                                   BLOCK * width);
    float *kt = malloc(floats * sizeof(float));
    if (!kt) return -1;
    float *vt = kt + d * padded, *km = vt + d * padded, *dvt = km + keys * width, *dkt = dvt + d * padded;
    float *qs = dkt + d * padded, *qu = qs + tile_rows * d, *go = qu + tile_rows * d, *gs = go + tile_rows * d;
    float *p = gs + tile_rows * d, *ds = p + tile_rows * rs, *dqb = ds + tile_rows * rs;
    transpose_panels(k, ld, keys, d, padded, kt);
    transpose_panels(v, ld, keys, d, padded, vt);
    copy_rows(k, ld, keys, d, width, km);
    memset(dvt, 0, (size_t)(2 * d * padded) * sizeof(float));
    const float factor = scale * 1.4426950408889634f;
    for (long row0 = 0; row0 < rows; row0 += TILE) {
        const long n = rows - row0 < TILE ? rows - row0 : TILE;
        memset(qs, 0, (size_t)(3 * tile_rows * d) * sizeof(float));
        for (long r = 0; r < n; r++)
            for (long t = 0; t < d; t++) {
                qu[r * d + t] = q[(row0 + r) * ld + t];
                qs[r * d + t] = factor * q[(row0 + r) * ld + t];
                go[r * d + t] = dout[(row0 + r) * ld + t];
            }
        for (long b0 = 0; b0 < n; b0 += BLOCK) {
            float *pb = p + b0 * rs, *db = ds + b0 * rs;
            float maxima[BLOCK];
            products_block(qs + b0 * d, kt, d, padded, keys, pb, rs, maxima);
            products_block(go + b0 * d, vt, d, padded, keys, db, rs, NULL);
            const long m = n - b0 < BLOCK ? n - b0 : BLOCK;
            for (long r = 0; r < m; r++) {
                float *pr = pb + r * rs, *dr = db + r * rs;
                const long visible = visible_keys(keys, causal ? 0 : -1, row0 + b0 + r);
                // e = 2^(s − max), P = e / Σe; δ = Σ P · dP; dS = P · (dP − δ) · scale. P's
                // division goes onto the row of dO that multiplies it in dVᵀ += dOᵀ · P.
                float dot;
                const float sum = exponentiate_row(pr, visible, padded, row_maximum(pr, visible, keys, maxima[r]), dr, &dot);
                const float inverse = sum > 0 ? 1 / sum : 0, delta = dot * inverse;
                const f8v vd = splat8(delta), vs = splat8(scale * inverse);
                for (long j = 0; j < padded; j += 8) store8(dr + j, load8(pr + j) * (load8(dr + j) - vd) * vs);
                for (long t = 0; t < d; t++) gs[(b0 + r) * d + t] = go[(b0 + r) * d + t] * inverse;
            }
            for (long r = m; r < BLOCK; r++) memset(db + r * rs, 0, (size_t)padded * sizeof(float));
            // dQ = dS · K for the block's rows.
            rows_times(db, rs, km, keys, width, dqb);
            for (long r = 0; r < m; r++) memcpy(dq + (row0 + b0 + r) * ld, dqb + r * width, (size_t)d * sizeof(float));
        }
        // dVᵀ += (dO / Σe)ᵀ · e and dKᵀ += Qᵀ · dS over the tile's rows.
        accumulate_transposed(gs, d, p, rs, padded, n, dvt);
        accumulate_transposed(qu, d, ds, rs, padded, n, dkt);
    }
    for (long j = 0; j < keys; j++)
        for (long t = 0; t < d; t++) {
            dv[j * ld + t] = dvt[t * padded + j];
            dk[j * ld + t] = dkt[t * padded + j];
        }
    free(kt);
    return 0;
}

int csd_attention_gradient(const float *q, const float *k, const float *v, const float *dout, float *dq, float *dk,
                           float *dv, long rows, long keys, long d, long ld, float scale, int causal) {
    if (!avx2_fma_known() || rows < 1 || keys < 1 || d < 1) return -1;
    return attention_gradient(q, k, v, dout, dq, dk, dv, rows, keys, d, ld, scale, causal);
}

#else

int csd_attention_avx2_available(void) { return 0; }

int csd_attention_head_avx2(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                            long ld, float scale, long causal_offset) {
    (void)q; (void)k; (void)v; (void)out; (void)rows; (void)keys; (void)d; (void)ld; (void)scale; (void)causal_offset;
    return -1;
}

int csd_attention_gradient(const float *q, const float *k, const float *v, const float *dout, float *dq, float *dk,
                           float *dv, long rows, long keys, long d, long ld, float scale, int causal) {
    (void)q; (void)k; (void)v; (void)dout; (void)dq; (void)dk; (void)dv; (void)rows; (void)keys; (void)d; (void)ld;
    (void)scale; (void)causal;
    return -1;
}

#endif
