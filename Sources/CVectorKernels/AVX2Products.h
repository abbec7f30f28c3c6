#ifndef CSD_AVX2_PRODUCTS_H
#define CSD_AVX2_PRODUCTS_H

// The blocks of sums shared by the AVX2 products (WinogradConvolution.c's, StreamedProduct.c's):
// rows of A read in place and broadcast, rows of B (packed by the caller) in vectors.

#include "AVX2Vectors.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

/// 6 rows × 16 columns of sums stay in 12 of the 16 registers; each term of the sums adds a row of
/// 16 columns of B (two loads) times 6 broadcast values of A.
enum { ROWS = 6, COLUMNS = 16 };

/// c[r][0..<16] (+)= Σ_{i<k} a[r·lda + i] · b[i·ldb + 0..<16] for r < rows: from zero, or from c's
/// partial sums (`accumulate`) when the terms come in several chunks.
AVX2_INLINE void product_block(const float *a, long lda, const float *b, long ldb, long k, float *c, long ldc, int rows,
                               int accumulate) {
    f8v acc[ROWS][2];
    for (int r = 0; r < rows; r++) {
        acc[r][0] = accumulate ? load8(c + r * ldc) : (f8v){0};
        acc[r][1] = accumulate ? load8(c + r * ldc + 8) : (f8v){0};
    }
    for (long i = 0; i < k; i++) {
        const f8v b0 = load8(b + i * ldb), b1 = load8(b + i * ldb + 8);
        for (int r = 0; r < rows; r++) {
            const f8v av = splat8(a[r * lda + i]);
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
        }
    }
    for (int r = 0; r < rows; r++) {
        store8(c + r * ldc, acc[r][0]);
        store8(c + r * ldc + 8, acc[r][1]);
    }
}

/// 12 rows × 8 columns of sums in 12 registers, for the columns past the last full 16 (blocks
/// whose count is not a multiple of 16): each term adds one row of 8 columns of B times 12
/// broadcast values of A. Only the first `cols` columns are stored; the rest are read
/// (rows of B and C run at least 8 columns past the block) but not kept.
enum { ROWS8 = 12 };

AVX2_INLINE void product_block8(const float *a, long lda, const float *b, long ldb, long k, float *c, long ldc, int rows,
                                int accumulate, long cols, __m256i mask) {
    f8v acc[ROWS8];
    for (int r = 0; r < rows; r++) acc[r] = accumulate ? load8(c + r * ldc) : (f8v){0};
    for (long i = 0; i < k; i++) {
        const f8v b0 = load8(b + i * ldb);
        for (int r = 0; r < rows; r++) acc[r] += splat8(a[r * lda + i]) * b0;
    }
    for (int r = 0; r < rows; r++) store8_first(c + r * ldc, acc[r], cols, mask);
}

#endif

#endif
