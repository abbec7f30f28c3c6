#include "CVectorKernels.h"
#include "VectorMacros.h"
#include "AVX2Vectors.h"
#include "AVX2Products.h"
#include <stdlib.h>
#include <string.h>

/// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for
/// Convolutional Neural Networks", eq. 8): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for each 4×4 input tile d
/// and 2×2 output tile, with
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
///     Aᵀ = [1 1 1 0; 0 1 −1 −1].
/// The sum over input channels of the 16 element-wise products is 16 matrix products, which the
/// caller runs; these functions are the three transforms around them.

long csd_winograd_plane(long rows, long ld) {
    long floats = (rows * ld + 15) / 16 * 16;
    // An odd number of 64-byte lines: the 16 planes' rows then fall in 16 different L1 sets.
    if ((floats / 16) % 2 == 0) floats += 16;
    return floats;
}

/// U = G g Gᵀ for one filter, its 16 values written `stride` floats apart.
static void winograd_filter(const float *k, long stride, float *row0) {
    float t[4][3];
    for (int j = 0; j < 3; j++) {
        const float a = k[j], b = k[3 + j], d = k[6 + j];
        t[0][j] = a;
        t[1][j] = 0.5f * (a + b + d);
        t[2][j] = 0.5f * (a - b + d);
        t[3][j] = d;
    }
    for (int i = 0; i < 4; i++) {
        const float a = t[i][0], b = t[i][1], d = t[i][2];
        float *row = row0 + (long)(4 * i) * stride;
        row[0] = a;
        row[stride] = 0.5f * (a + b + d);
        row[2 * stride] = 0.5f * (a - b + d);
        row[3 * stride] = d;
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
/// `winograd_filter` for 8 consecutive input channels at once (the same operations in the same
/// order, so the same bytes): one filter at a time wrote 16 floats `cout · cin` apart, a multiple
/// of 4 KiB, and ran at about 100 cycles a filter.
AVX2 static void winograd_filters8(const float *k, long stride, float *row0) {
    float columns[9][8];
    for (int f = 0; f < 8; f++)
        for (int j = 0; j < 9; j++) columns[j][f] = k[f * 9 + j];
    f8v t[4][3];
    for (int j = 0; j < 3; j++) {
        const f8v a = load8(columns[j]), b = load8(columns[3 + j]), d = load8(columns[6 + j]);
        t[0][j] = a;
        t[1][j] = 0.5f * (a + b + d);
        t[2][j] = 0.5f * (a - b + d);
        t[3][j] = d;
    }
    for (int i = 0; i < 4; i++) {
        const f8v a = t[i][0], b = t[i][1], d = t[i][2];
        float *row = row0 + (long)(4 * i) * stride;
        store8(row, a);
        store8(row + stride, 0.5f * (a + b + d));
        store8(row + 2 * stride, 0.5f * (a - b + d));
        store8(row + 3 * stride, d);
    }
}
#endif

void csd_winograd_weights(const float *g, long cout, long cin, long o_begin, long o_end, float *u, long ldu) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    const int vectors = avx2_fma_available();
#else
    const int vectors = 0;
#endif
    for (long o = o_begin; o < o_end; o++) {
        long c = 0;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
        if (vectors)
            for (; c + 8 <= cin; c += 8) winograd_filters8(g + (o * cin + c) * 9, ldu, u + o * cin + c);
#else
        (void)vectors;
#endif
        for (; c < cin; c++) winograd_filter(g + (o * cin + c) * 9, ldu, u + o * cin + c);
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

/// Columns 0, 2, …, 14 and 1, 3, …, 15 of src[0 ..< 16].
AVX2_INLINE void split_columns(const float *src, f8v *even, f8v *odd) {
    const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
    *even = (f8v)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = (f8v)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

/// `csd_winograd_input` 8 tiles at a time in AVX2 vectors, with the same operations in the same
/// order (so the same bytes). The scalar version's small loops over a tile row (8 tiles on a
/// 16×16 plane) and its bounds-checked reads of every row that starts in the padding wrote about
/// 2.5–4.5 GB/s.
AVX2 static int winograd_input_avx2(const float *x, long cin, long h, long w, long pad_top, long pad_left,
                                    long tiles_wide, long t_begin, long t_end, float *v, long ldv) {
    const long stride = csd_winograd_plane(cin, ldv);
    // A row's 2·count + 2 columns, zero outside the image, and 16 more for the last vector's reads.
    const long width = 2 * tiles_wide + 2 + 16;
    float *lines = malloc(sizeof(float) * (size_t)(4 * width));
    if (!lines) return -1;
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long c = 0; c < cin; c++) {
        const float *plane = x + c * h * w;
        for (long t = t_begin; t < t_end;) {
            const long ty = t / tiles_wide, a = t % tiles_wide;
            const long b = (t_end - t) < (tiles_wide - a) ? a + (t_end - t) : tiles_wide;  // tiles a..<b of row ty
            const long count = b - a, x0 = 2 * a - pad_left, n = 2 * count + 2;
            const float *src[4];
            for (int i = 0; i < 4; i++) {
                float *line = lines + i * width;
                padded_row(plane, h, w, 2 * ty - pad_top + i, x0, n + 16, line);
                src[i] = line;
            }
            float *out = v + c * ldv + (t - t_begin);
            for (long k0 = 0; k0 < count; k0 += 8) {
                f8v e[4], o[4], e1[4], o1[4];
                for (int i = 0; i < 4; i++) {
                    split_columns(src[i] + 2 * k0, &e[i], &o[i]);
                    split_columns(src[i] + 2 * k0 + 2, &e1[i], &o1[i]);
                }
                // Bᵀ d down the columns, then across the rows.
                const f8v ee[4] = {e[0] - e[2], e[1] + e[2], e[2] - e[1], e[1] - e[3]};
                const f8v eo[4] = {o[0] - o[2], o[1] + o[2], o[2] - o[1], o[1] - o[3]};
                const f8v ee1[4] = {e1[0] - e1[2], e1[1] + e1[2], e1[2] - e1[1], e1[1] - e1[3]};
                const f8v eo1[4] = {o1[0] - o1[2], o1[1] + o1[2], o1[2] - o1[1], o1[1] - o1[3]};
                const long left = count - k0;
                const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)), lanes);
                for (int i = 0; i < 4; i++) {
                    const f8v values[4] = {ee[i] - ee1[i], eo[i] + ee1[i], ee1[i] - eo[i], eo[i] - eo1[i]};
                    for (int j = 0; j < 4; j++) store8_first(out + (4 * i + j) * stride + k0, values[j], left, mask);
                }
            }
            t += count;
        }
    }
    free(lines);
    return 0;
}
#endif

/// Tiles are transformed a tile row at a time, so that every loop below runs over consecutive
/// tiles and vectorises: an input row is split into its even and odd columns (tile tx starts at
/// column 2·tx, so its four columns are even[tx], odd[tx], even[tx + 1], odd[tx + 1]).
CSD_DISPATCH
int csd_winograd_input(const float *x, long cin, long h, long w, long pad_top, long pad_left, long tiles_wide,
                        long t_begin, long t_end, float *v, long ldv) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (avx2_fma_available()) return winograd_input_avx2(x, cin, h, w, pad_top, pad_left, tiles_wide, t_begin, t_end, v, ldv);
#endif
    const long stride = csd_winograd_plane(cin, ldv);
    const long span = tiles_wide + 1;
    float *scratch = malloc(sizeof(float) * 16 * span);
    if (!scratch) return -1;
    float *even[4], *odd[4];
    for (int i = 0; i < 4; i++) { even[i] = scratch + (2 * i) * span; odd[i] = scratch + (2 * i + 1) * span; }
    float *ee = scratch + 8 * span, *eo = scratch + 12 * span;  // (Bᵀ d) row by row: 4 even, 4 odd
    for (long c = 0; c < cin; c++) {
        const float *plane = x + c * h * w;
        for (long t = t_begin; t < t_end;) {
            const long ty = t / tiles_wide, a = t % tiles_wide;
            const long b = (t_end - t) < (tiles_wide - a) ? a + (t_end - t) : tiles_wide;  // tiles a..<b of row ty
            const long count = b - a, x0 = 2 * a - pad_left;
            for (int i = 0; i < 4; i++) {
                const long row = 2 * ty - pad_top + i;
                float *restrict ev = even[i], *restrict od = odd[i];
                if (row < 0 || row >= h) {
                    for (long k = 0; k <= count; k++) { ev[k] = 0; od[k] = 0; }
                } else if (x0 >= 0 && x0 + 2 * count + 2 <= w) {
                    const float *restrict src = plane + row * w + x0;
                    for (long k = 0; k <= count; k++) { ev[k] = src[2 * k]; od[k] = src[2 * k + 1]; }
                } else {
                    const float *src = plane + row * w;
                    for (long k = 0; k <= count; k++) {
                        const long xe = x0 + 2 * k, xo = xe + 1;
                        ev[k] = (xe >= 0 && xe < w) ? src[xe] : 0.0f;
                        od[k] = (xo >= 0 && xo < w) ? src[xo] : 0.0f;
                    }
                }
            }
            for (long k = 0; k <= count; k++) {
                ee[k] = even[0][k] - even[2][k];            eo[k] = odd[0][k] - odd[2][k];
                ee[span + k] = even[1][k] + even[2][k];     eo[span + k] = odd[1][k] + odd[2][k];
                ee[2 * span + k] = even[2][k] - even[1][k]; eo[2 * span + k] = odd[2][k] - odd[1][k];
                ee[3 * span + k] = even[1][k] - even[3][k]; eo[3 * span + k] = odd[1][k] - odd[3][k];
            }
            float *out = v + c * ldv + (t - t_begin);
            for (int i = 0; i < 4; i++) {
                const float *restrict e0 = ee + i * span, *restrict o0 = eo + i * span;
                float *restrict v0 = out + (4 * i) * stride, *restrict v1 = v0 + stride, *restrict v2 = v1 + stride, *restrict v3 = v2 + stride;
                for (long k = 0; k < count; k++) {
                    v0[k] = e0[k] - e0[k + 1];
                    v1[k] = o0[k] + e0[k + 1];
                    v2[k] = e0[k + 1] - o0[k];
                    v3[k] = o0[k] - o0[k + 1];
                }
            }
            t += count;
        }
    }
    free(scratch);
    return 0;
}

CSD_DISPATCH
int csd_winograd_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end, long ho, long wo,
                         const float *bias, float *y) {
    const long stride = csd_winograd_plane(cout, ldm);
    const long span = tiles_wide;
    float *scratch = malloc(sizeof(float) * 4 * span);
    if (!scratch) return -1;
    for (long o = 0; o < cout; o++) {
        const float *mo = m + o * ldm;
        float *plane = y + o * ho * wo;
        const float bo = bias ? bias[o] : 0.0f;
        for (long t = t_begin; t < t_end;) {
            const long ty = t / tiles_wide, a = t % tiles_wide;
            const long b = (t_end - t) < (tiles_wide - a) ? a + (t_end - t) : tiles_wide;
            const long count = b - a;
            const float *p = mo + (t - t_begin);
            float *restrict s00 = scratch, *restrict s01 = scratch + span, *restrict s10 = scratch + 2 * span, *restrict s11 = scratch + 3 * span;
            for (long k = 0; k < count; k++) {
                float q[16];
                for (int j = 0; j < 16; j++) q[j] = p[j * stride + k];
                float r0[4], r1[4];  // Aᵀ M
                for (int j = 0; j < 4; j++) {
                    r0[j] = q[j] + q[4 + j] + q[8 + j];
                    r1[j] = q[4 + j] - q[8 + j] - q[12 + j];
                }
                s00[k] = r0[0] + r0[1] + r0[2] + bo; s01[k] = r0[1] - r0[2] - r0[3] + bo;
                s10[k] = r1[0] + r1[1] + r1[2] + bo; s11[k] = r1[1] - r1[2] - r1[3] + bo;
            }
            const long y0 = 2 * ty, x0 = 2 * a;
            for (int i = 0; i < 2 && y0 + i < ho; i++) {
                float *restrict row = plane + (y0 + i) * wo + x0;
                const float *restrict left = i == 0 ? s00 : s10, *restrict right = i == 0 ? s01 : s11;
                const long full = (x0 + 2 * count <= wo) ? count : count - 1;  // the last tile of an odd width has one column
                for (long k = 0; k < full; k++) { row[2 * k] = left[k]; row[2 * k + 1] = right[k]; }
                if (full < count) row[2 * full] = left[full];
            }
            t += count;
        }
    }
    free(scratch);
    return 0;
}

/// The weight gradient's transform of the output gradient: dM = A dY Aᵀ for each 2×2 block of
/// `dy` [cout, ho, wo] (tile t at rows 2·(t / tiles_wide)… and columns 2·(t % tiles_wide)…, zeros
/// past the edges), the adjoint of `csd_winograd_output`: `m` [16, cout, ldm], column t − t_begin.
CSD_DISPATCH
void csd_winograd_output_gradient(const float *dy, long cout, long ho, long wo, long tiles_wide, long t_begin, long t_end,
                                  float *m, long ldm) {
    const long stride = csd_winograd_plane(cout, ldm);
    for (long o = 0; o < cout; o++) {
        const float *plane = dy + o * ho * wo;
        float *out = m + o * ldm;
        for (long t = t_begin; t < t_end; t++) {
            const long y0 = 2 * (t / tiles_wide), x0 = 2 * (t % tiles_wide);
            const int right = x0 + 1 < wo, below = y0 + 1 < ho;
            const float p0 = plane[y0 * wo + x0], q0 = right ? plane[y0 * wo + x0 + 1] : 0.0f;
            const float p1 = below ? plane[(y0 + 1) * wo + x0] : 0.0f, q1 = below && right ? plane[(y0 + 1) * wo + x0 + 1] : 0.0f;
            // A dY: rows dY₀, dY₀ + dY₁, dY₀ − dY₁, −dY₁; then each row (P, Q) times Aᵀ: P, P + Q, P − Q, −Q.
            const float rp[4] = {p0, p0 + p1, p0 - p1, -p1}, rq[4] = {q0, q0 + q1, q0 - q1, -q1};
            float *column = out + (t - t_begin);
            for (int k = 0; k < 4; k++) {
                column[(4 * k) * stride] = rp[k];
                column[(4 * k + 1) * stride] = rp[k] + rq[k];
                column[(4 * k + 2) * stride] = rp[k] - rq[k];
                column[(4 * k + 3) * stride] = -rq[k];
            }
        }
    }
}

/// The weight gradient from the gradient of the transformed weights: dg = Gᵀ dU G for each
/// (output, input) channel pair, `du` [16, cout, cin] to `dg` [cout, cin, 3, 3]; the adjoint of
/// `csd_winograd_weights`.
void csd_winograd_weight_gradient(const float *du, long cout, long cin, float *dg) {
    const long stride = cout * cin;
    for (long o = 0; o < cout; o++)
        for (long c = 0; c < cin; c++) {
            const float *e = du + o * cin + c;
            float t[3][4];  // Gᵀ dU: rows dU₀ + ½(dU₁ + dU₂), ½(dU₁ − dU₂), ½(dU₁ + dU₂) + dU₃
            for (int l = 0; l < 4; l++) {
                const float u0 = e[l * stride], u1 = e[(4 + l) * stride], u2 = e[(8 + l) * stride], u3 = e[(12 + l) * stride];
                t[0][l] = u0 + 0.5f * (u1 + u2);
                t[1][l] = 0.5f * (u1 - u2);
                t[2][l] = 0.5f * (u1 + u2) + u3;
            }
            float *k = dg + (o * cin + c) * 9;
            for (int a = 0; a < 3; a++) {
                k[3 * a] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                k[3 * a + 1] = 0.5f * (t[a][1] - t[a][2]);
                k[3 * a + 2] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

/// Input channels per chunk: a chunk of 16 columns of B (64 bytes a channel) takes 16 KiB, so it
/// stays in the first-level cache while every row of A passes over it. Unchunked, 1280 input
/// channels put B in the second level and the products ran at 41 GFLOP/s on one core of an AVX2
/// EPYC, chunked at 64–73 (as 300 channels, unchunked or not).
enum { CHUNK = 256 };

/// One block of `cols` columns of C = A·B ([m, k] · [k, cols], A's rows `lda` apart): 16 columns
/// 6 rows at a time (`product_block`), fewer 12 rows at a time (`product_block8`); the input
/// channels in chunks of `CHUNK`, every element summed over them in order.
AVX2 static void product_columns(const float *a, long lda, long m, long k, const float *b, long ldb, float *c, long ldc,
                                 long cols) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const long step = cols == COLUMNS ? ROWS : ROWS8;
    for (long i0 = 0; i0 < k; i0 += CHUNK) {
        const long kc = k - i0 < CHUNK ? k - i0 : CHUNK;
        const int accumulate = i0 > 0;
        const float *bi = b + i0 * ldb;
        for (long o = 0; o < m; o += step) {
            const float *ao = a + o * lda + i0;
            float *co = c + o * ldc;
            const long rows = m - o < step ? m - o : step;
            if (cols == COLUMNS) {
                switch (rows) {
#define BLOCK(n) case n: product_block(ao, lda, bi, ldb, kc, co, ldc, n, accumulate); break;
                BLOCK(6) BLOCK(5) BLOCK(4) BLOCK(3) BLOCK(2)
                default: product_block(ao, lda, bi, ldb, kc, co, ldc, 1, accumulate); break;
                }
            } else {
                switch (rows) {
#define BLOCK8(n) case n: product_block8(ao, lda, bi, ldb, kc, co, ldc, n, accumulate, cols, mask); break;
                BLOCK8(12) BLOCK8(11) BLOCK8(10) BLOCK8(9) BLOCK8(8) BLOCK8(7) BLOCK8(6) BLOCK8(5) BLOCK8(4) BLOCK8(3) BLOCK8(2)
#undef BLOCK8
#undef BLOCK
                default: product_block8(ao, lda, bi, ldb, kc, co, ldc, 1, accumulate, cols, mask); break;
                }
            }
        }
    }
}

int csd_winograd_products_available(void) { return avx2_fma_available(); }

/// Floats of one plane's packed columns (`pack_plane`): blocks of 16, then of 8 for the rest.
static long packed_plane(long cin, long count) {
    return cin * (count / COLUMNS * COLUMNS + (count % COLUMNS + 7) / 8 * 8);
}

/// The `count` columns of one plane of B ([cin, count], rows `ldb` apart) into `packed`: blocks
/// of 16 columns, then of 8, each [cin, width] and contiguous, zeros past `count`. Each block's
/// products then read one contiguous run of B. Read in place, B's rows (a block plus a line apart)
/// took the products to 62–85 GFLOP/s on one core of an AVX2 EPYC, packed to 84–93 (1280 · 1280 ·
/// 32, 640 · 640 · 32 and · 128, 320 · 320 · 128).
AVX2 static void pack_plane(const float *b, long ldb, long cin, long count, float *packed) {
    for (long j = 0; j < count; j += COLUMNS) {
        const long width = count - j >= COLUMNS ? COLUMNS : 8;
        for (long j8 = j; j8 < j + COLUMNS && j8 < count; j8 += width) {
            const long cols = count - j8 < width ? count - j8 : width;
            for (long i = 0; i < cin; i++) {
                const float *src = b + i * ldb + j8;
                float *dst = packed + i * width;
                if (cols == COLUMNS) {
                    store8(dst, load8(src));
                    store8(dst + 8, load8(src + 8));
                } else {
                    memcpy(dst, src, sizeof(float) * (size_t)cols);
                    memset(dst + cols, 0, sizeof(float) * (size_t)(width - cols));
                }
            }
            packed += cin * width;
        }
    }
}

/// One plane's product C = A·B: [rows, cin] · [cin, count], A's rows `cin` apart, B packed by
/// `pack_plane`: blocks of 16 columns, then of 8 (the last one partly stored); each element
/// summed over the input channels in the same order.
static void plane_product(const float *a, long rows, long cin, const float *packed, float *c, long ldc, long count) {
    long j = 0;
    for (; j + COLUMNS <= count; j += COLUMNS, packed += cin * COLUMNS)
        product_columns(a, cin, rows, cin, packed, COLUMNS, c + j, ldc, COLUMNS);
    for (; j < count; j += 8, packed += cin * 8)
        product_columns(a, cin, rows, cin, packed, 8, c + j, ldc, count - j < 8 ? count - j : 8);
}

int csd_winograd_products(const float *u, long ldu, const float *v, float *m, long cout, long cin, long count, long ldv, long ldm,
                          long planes, long o_begin, long o_end) {
    if (!avx2_fma_known()) return -1;
    const long plane = packed_plane(cin, count);
    float *packed = malloc(sizeof(float) * (size_t)plane);
    if (!packed) return -1;
    for (long xi = 0; xi < planes; xi++) {
        pack_plane(v + xi * csd_winograd_plane(cin, ldv), ldv, cin, count, packed);
        plane_product(u + xi * ldu + o_begin * cin, o_end - o_begin, cin, packed,
                      m + xi * csd_winograd_plane(cout, ldm) + o_begin * ldm, ldm, count);
    }
    free(packed);
    return 0;
}

/// Floats of transformed weights `csd_winograd_products_from_weights` holds at a time (4 MiB). Each
/// turn of output channels reads all the transformed input again, so fewer turns pay: SD's
/// 640 → 640 on 16×16 by F(4×4, 3×3), 2 images, took 11.5–13.8 ms with 1 MiB, 10.6–11.4 with 4,
/// 12.7–14.4 with 16.
enum { WEIGHT_CHUNK = 1 << 20 };

int csd_winograd_products_from_weights(const float *g, long cout, long cin, int size, const float *v, float *m, long count,
                                       long ldv, long ldm, long o_begin, long o_end) {
    if (!avx2_fma_known() || (size != 2 && size != 4)) return -1;
    const long planes = (size + 2) * (size + 2);
    long rows = WEIGHT_CHUNK / (planes * cin) / ROWS * ROWS;
    if (rows < ROWS) rows = ROWS;
    // Every plane's columns packed once, before the turns of output channels that all read them.
    const long plane = packed_plane(cin, count);
    // Planes an odd number of cache lines apart (`csd_winograd_plane`): a multiple of 4 KiB apart
    // (18 rows of 1280 channels are 90 KiB), the transform's stores to its 36 planes fell in two
    // sets of the first-level cache and took 14 ns a filter instead of 4.6 (one core, AVX2 EPYC).
    const long ldu = csd_winograd_plane(rows, cin);
    float *u = malloc(sizeof(float) * (size_t)(planes * ldu + planes * plane));
    if (!u) return -1;
    float *packed = u + planes * ldu;
    for (long xi = 0; xi < planes; xi++) pack_plane(v + xi * csd_winograd_plane(cin, ldv), ldv, cin, count, packed + xi * plane);
    for (long o0 = o_begin; o0 < o_end; o0 += rows) {
        const long r = o_end - o0 < rows ? o_end - o0 : rows;
        (size == 4 ? csd_winograd4_weights : csd_winograd_weights)(g + o0 * cin * 9, r, cin, 0, r, u, ldu);
        for (long xi = 0; xi < planes; xi++)
            plane_product(u + xi * ldu, r, cin, packed + xi * plane, m + xi * csd_winograd_plane(cout, ldm) + o0 * ldm, ldm,
                          count);
    }
    free(u);
    return 0;
}

#else

int csd_winograd_products_available(void) { return 0; }

int csd_winograd_products(const float *u, long ldu, const float *v, float *m, long cout, long cin, long count, long ldv, long ldm,
                          long planes, long o_begin, long o_end) {
    (void)u; (void)v; (void)m; (void)cout; (void)cin; (void)count; (void)ldv; (void)ldm; (void)planes; (void)o_begin; (void)o_end;
    return -1;
}

int csd_winograd_products_from_weights(const float *g, long cout, long cin, int size, const float *v, float *m, long count,
                                       long ldv, long ldm, long o_begin, long o_end) {
    (void)g; (void)cout; (void)cin; (void)size; (void)v; (void)m; (void)count; (void)ldv; (void)ldm; (void)o_begin; (void)o_end;
    return -1;
}

#endif
