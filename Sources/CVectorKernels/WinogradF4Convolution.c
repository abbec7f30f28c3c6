#include "CVectorKernels.h"
#include "AVX2Vectors.h"
#include <stdlib.h>
#include <string.h>

/// Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray 2016, "Fast Algorithms for
/// Convolutional Neural Networks", section 4.2): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for each 6×6 input
/// tile d and 4×4 output tile, with
///     Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
///     G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1],
///     Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
/// 36 multiplications per input channel for 16 outputs, against 64 for F(2×2, 3×3) and 144
/// directly. Transformed blocks are laid out as F(2×2, 3×3)'s (`WinogradConvolution.c`), with 36
/// planes `csd_winograd_plane` apart; the products between them are `csd_winograd_products`.
/// AVX2 only: every function returns −1 (or does nothing) where the CPU lacks it.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

int csd_winograd4_available(void) { return avx2_fma_available(); }

/// G z for one column z = (z₀, z₁, z₂) of 8 filters.
AVX2_INLINE void filter_column(f8v z0, f8v z1, f8v z2, f8v out[6]) {
    const f8v sum = z0 + z2;
    out[0] = 0.25f * z0;
    out[1] = (-1.0f / 6.0f) * (sum + z1);
    out[2] = (-1.0f / 6.0f) * (sum - z1);
    const f8v quarter = (1.0f / 24.0f) * z0 + (1.0f / 6.0f) * z2;
    out[3] = quarter + (1.0f / 12.0f) * z1;
    out[4] = quarter - (1.0f / 12.0f) * z1;
    out[5] = z2;
}

/// U = G g Gᵀ for the filters of input channels c..<c + lanes (lanes ≤ 8) of output channel o.
AVX2 static void winograd4_filters8(const float *k, long stride, float *row0, int lanes) {
    float columns[9][8] = {{0}};
    for (int f = 0; f < lanes; f++)
        for (int j = 0; j < 9; j++) columns[j][f] = k[f * 9 + j];
    f8v t[6][3];  // G g: 6 rows of 3 taps
    for (int j = 0; j < 3; j++) {
        f8v out[6];
        filter_column(load8(columns[j]), load8(columns[3 + j]), load8(columns[6 + j]), out);
        for (int i = 0; i < 6; i++) t[i][j] = out[i];
    }
    for (int i = 0; i < 6; i++) {
        f8v u[6];
        filter_column(t[i][0], t[i][1], t[i][2], u);
        for (int j = 0; j < 6; j++) {
            float *dst = row0 + (long)(6 * i + j) * stride;
            if (lanes == 8) store8(dst, u[j]);
            else {
                float values[8];
                store8(values, u[j]);
                for (int f = 0; f < lanes; f++) dst[f] = values[f];
            }
        }
    }
}

void csd_winograd4_weights(const float *g, long cout, long cin, long o_begin, long o_end, float *u, long ldu) {
    if (!avx2_fma_available()) return;
    for (long o = o_begin; o < o_end; o++)
        for (long c = 0; c < cin; c += 8)
            winograd4_filters8(g + (o * cin + c) * 9, ldu, u + o * cin + c, cin - c < 8 ? (int)(cin - c) : 8);
}

/// Bᵀ z for one column z = (z₀ … z₅) of 8 tiles.
AVX2_INLINE void input_column(const f8v z[6], f8v r[6]) {
    r[0] = 4.0f * z[0] - 5.0f * z[2] + z[4];
    r[1] = z[3] + z[4] - 4.0f * (z[1] + z[2]);
    r[2] = z[4] - z[3] + 4.0f * (z[1] - z[2]);
    r[3] = z[4] - z[2] + 2.0f * (z[3] - z[1]);
    r[4] = z[4] - z[2] + 2.0f * (z[1] - z[3]);
    r[5] = 4.0f * z[1] - 5.0f * z[3] + z[5];
}

/// The input transform a tile row at a time, 8 tiles per vector. Each of the tile row's 6 input
/// rows is copied into a zero-padded line and split into its 4 column phases (tile tx starts at
/// column 4·tx, so its 6 columns are phase₀..₃[tx], phase₀[tx + 1] and phase₁[tx + 1]).
AVX2 static int winograd4_input(const float *x, long cin, long h, long w, long pad_top, long pad_left,
                                long tiles_wide, long t_begin, long t_end, float *v, long ldv) {
    const long stride = csd_winograd_plane(cin, ldv);
    const long width = 4 * tiles_wide + 4 + 32;  // a row's 4·count + 2 columns, zeros after them
    const long span = tiles_wide + 1 + 8;        // a phase: count + 1 columns and a vector's reads past them
    float *scratch = malloc(sizeof(float) * (size_t)(width + 24 * span));
    if (!scratch) return -1;
    float *line = scratch, *phases = scratch + width;
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long c = 0; c < cin; c++) {
        const float *plane = x + c * h * w;
        for (long t = t_begin; t < t_end;) {
            const long ty = t / tiles_wide, a = t % tiles_wide;
            const long b = (t_end - t) < (tiles_wide - a) ? a + (t_end - t) : tiles_wide;  // tiles a..<b of row ty
            const long count = b - a, x0 = 4 * a - pad_left, n = 4 * count + 4;
            for (int i = 0; i < 6; i++) {
                padded_row(plane, h, w, 4 * ty - pad_top + i, x0, n, line);
                float *ph = phases + i * 4 * span;
                for (long k = 0; k <= count; k++)
                    for (int j = 0; j < 4; j++) ph[j * span + k] = line[4 * k + j];
                for (int j = 0; j < 4; j++) memset(ph + j * span + count + 1, 0, sizeof(float) * 8);
            }
            float *out = v + c * ldv + (t - t_begin);
            for (long k0 = 0; k0 < count; k0 += 8) {
                f8v rows[6][6];  // d B, row by row
                for (int i = 0; i < 6; i++) {
                    const float *ph = phases + i * 4 * span + k0;
                    const f8v z[6] = {load8(ph), load8(ph + span), load8(ph + 2 * span), load8(ph + 3 * span), load8(ph + 1), load8(ph + span + 1)};
                    input_column(z, rows[i]);
                }
                const long left = count - k0;
                const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)), lanes);
                for (int j = 0; j < 6; j++) {
                    const f8v z[6] = {rows[0][j], rows[1][j], rows[2][j], rows[3][j], rows[4][j], rows[5][j]};
                    f8v r[6];
                    input_column(z, r);
                    for (int i = 0; i < 6; i++) store8_first(out + (6 * i + j) * stride + k0, r[i], left, mask);
                }
            }
            t += count;
        }
    }
    free(scratch);
    return 0;
}

int csd_winograd4_input(const float *x, long cin, long h, long w, long pad_top, long pad_left, long tiles_wide,
                        long t_begin, long t_end, float *v, long ldv) {
    if (!avx2_fma_available()) return -1;
    return winograd4_input(x, cin, h, w, pad_top, pad_left, tiles_wide, t_begin, t_end, v, ldv);
}

/// Aᵀ z for one column z = (z₀ … z₅) of 8 tiles.
AVX2_INLINE void output_column(const f8v z[6], f8v r[4]) {
    const f8v sum12 = z[1] + z[2], difference12 = z[1] - z[2], sum34 = z[3] + z[4], difference34 = z[3] - z[4];
    r[0] = z[0] + sum12 + sum34;
    r[1] = difference12 + 2.0f * difference34;
    r[2] = sum12 + 4.0f * sum34;
    r[3] = difference12 + 8.0f * difference34 + z[5];
}

AVX2 static void winograd4_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end,
                                  long ho, long wo, const float *bias, float *y) {
    const long stride = csd_winograd_plane(cout, ldm);
    for (long o = 0; o < cout; o++) {
        const float *mo = m + o * ldm;
        float *plane = y + o * ho * wo;
        const f8v bo = splat8(bias ? bias[o] : 0.0f);
        for (long t = t_begin; t < t_end;) {
            const long ty = t / tiles_wide, a = t % tiles_wide;
            const long b = (t_end - t) < (tiles_wide - a) ? a + (t_end - t) : tiles_wide;
            const long count = b - a;
            const long y0 = 4 * ty;
            for (long k0 = 0; k0 < count; k0 += 8) {
                const float *p = mo + (t - t_begin) + k0;
                f8v columns[4][6];  // Aᵀ M: 4 rows of 6 columns
                for (int j = 0; j < 6; j++) {
                    const f8v z[6] = {load8(p + j * stride), load8(p + (6 + j) * stride), load8(p + (12 + j) * stride),
                                      load8(p + (18 + j) * stride), load8(p + (24 + j) * stride), load8(p + (30 + j) * stride)};
                    f8v r[4];
                    output_column(z, r);
                    for (int i = 0; i < 4; i++) columns[i][j] = r[i];
                }
                const long tilesHere = count - k0 < 8 ? count - k0 : 8;
                const long x0 = 4 * (a + k0);
                const long written = wo - x0 < 4 * tilesHere ? wo - x0 : 4 * tilesHere;
                for (int i = 0; i < 4 && y0 + i < ho; i++) {
                    f8v r[4];
                    output_column(columns[i], r);
                    float values[4][8], row[32];
                    for (int j = 0; j < 4; j++) store8(values[j], r[j] + bo);
                    for (long k = 0; k < tilesHere; k++)
                        for (int j = 0; j < 4; j++) row[4 * k + j] = values[j][k];
                    memcpy(plane + (y0 + i) * wo + x0, row, sizeof(float) * (size_t)written);
                }
            }
            t += count;
        }
    }
}

int csd_winograd4_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end, long ho, long wo,
                         const float *bias, float *y) {
    if (!avx2_fma_available()) return -1;
    winograd4_output(m, cout, ldm, tiles_wide, t_begin, t_end, ho, wo, bias, y);
    return 0;
}

#else

int csd_winograd4_available(void) { return 0; }
void csd_winograd4_weights(const float *g, long cout, long cin, long o_begin, long o_end, float *u, long ldu) {
    (void)g; (void)cout; (void)cin; (void)o_begin; (void)o_end; (void)u; (void)ldu;
}
int csd_winograd4_input(const float *x, long cin, long h, long w, long pad_top, long pad_left, long tiles_wide,
                        long t_begin, long t_end, float *v, long ldv) {
    (void)x; (void)cin; (void)h; (void)w; (void)pad_top; (void)pad_left; (void)tiles_wide; (void)t_begin; (void)t_end; (void)v; (void)ldv;
    return -1;
}
int csd_winograd4_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end, long ho, long wo,
                         const float *bias, float *y) {
    (void)m; (void)cout; (void)ldm; (void)tiles_wide; (void)t_begin; (void)t_end; (void)ho; (void)wo; (void)bias; (void)y;
    return -1;
}

#endif
