#include "CVectorKernels.h"
#include "AVX2Products.h"
#include <stdlib.h>
#include <string.h>

// C = A·B for a long A and a B of few columns (SD's 3×3 convolutions on 4×4 planes: 1280 · 11520 ·
// 32; linear layers on 32 tokens: 10240 · 1280 · 32): A is read once, in place, six rows at a time,
// and each chunk of B's terms is packed into blocks of 16 columns that every six rows of A meet
// while they are in the first-level cache.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

/// Terms per chunk: six rows of A over a chunk (12 KiB) stay in the first-level cache while they
/// meet every block of columns. One core of an AVX2 EPYC: 1280 · 11520 · 32 at 86 GFLOP/s with 512,
/// 80 with 128; 10240 · 1280 · 128 at 86 against 62.
enum { STREAM_CHUNK = 512 };

/// Terms i0 ..< i0 + kc of B's columns into `packed` [stripes][kc][16], zeros past column n. B is
/// [k, n] (rows `ldb` apart), or [n, k] where `transposed`.
AVX2 static void pack_terms(const float *b, long ldb, int transposed, long n, long i0, long kc, long stripes, float *packed) {
    for (long s = 0; s < stripes; s++) {
        float *d = packed + s * kc * COLUMNS;
        const long j0 = s * COLUMNS, cols = n - j0 < COLUMNS ? n - j0 : COLUMNS;
        if (transposed) {
            for (long q = 0; q < cols; q++) {
                const float *src = b + (j0 + q) * ldb + i0;
                for (long i = 0; i < kc; i++) d[i * COLUMNS + q] = src[i];
            }
            for (long q = cols; q < COLUMNS; q++)
                for (long i = 0; i < kc; i++) d[i * COLUMNS + q] = 0;
        } else if (cols == COLUMNS) {
            for (long i = 0; i < kc; i++) {
                const float *src = b + (i0 + i) * ldb + j0;
                store8(d + i * COLUMNS, load8(src));
                store8(d + i * COLUMNS + 8, load8(src + 8));
            }
        } else {
            for (long i = 0; i < kc; i++) {
                memcpy(d + i * COLUMNS, b + (i0 + i) * ldb + j0, sizeof(float) * (size_t)cols);
                memset(d + i * COLUMNS + cols, 0, sizeof(float) * (size_t)(COLUMNS - cols));
            }
        }
    }
}

AVX2 static void streamed_product(const float *a, long lda, long k, const float *b, long ldb, int transposed, long n,
                                  float *c, long ldc, long o_begin, long o_end, float *packed) {
    const long stripes = (n + COLUMNS - 1) / COLUMNS;
    for (long i0 = 0; i0 < k; i0 += STREAM_CHUNK) {
        const long kc = k - i0 < STREAM_CHUNK ? k - i0 : STREAM_CHUNK;
        const int accumulate = i0 > 0;
        pack_terms(b, ldb, transposed, n, i0, kc, stripes, packed);
        for (long o = o_begin; o < o_end; o += ROWS) {
            const float *ao = a + o * lda + i0;
            float *co = c + o * ldc;
            const long rows = o_end - o < ROWS ? o_end - o : ROWS;
            for (long s = 0; s < stripes; s++) {
                const float *bs = packed + s * kc * COLUMNS;
                float *cs = co + s * COLUMNS;
                switch (rows) {
#define BLOCK(r) case r: product_block(ao, lda, bs, COLUMNS, kc, cs, ldc, r, accumulate); break;
                BLOCK(6) BLOCK(5) BLOCK(4) BLOCK(3) BLOCK(2)
#undef BLOCK
                default: product_block(ao, lda, bs, COLUMNS, kc, cs, ldc, 1, accumulate); break;
                }
            }
        }
    }
}

int csd_streamed_product_available(void) { return avx2_fma_known(); }

int csd_streamed_product(const float *a, long lda, long k, const float *b, long ldb, int transposed_b, long n, float *c,
                         long ldc, long o_begin, long o_end) {
    if (!csd_streamed_product_available() || k <= 0 || n <= 0) return -1;
    const long stripes = (n + COLUMNS - 1) / COLUMNS;
    const long chunk = k < STREAM_CHUNK ? k : STREAM_CHUNK;
    float *packed = malloc(sizeof(float) * (size_t)(chunk * stripes * COLUMNS));
    if (!packed) return -1;
    streamed_product(a, lda, k, b, ldb, transposed_b, n, c, ldc, o_begin, o_end, packed);
    free(packed);
    return 0;
}

#else

int csd_streamed_product_available(void) { return 0; }

int csd_streamed_product(const float *a, long lda, long k, const float *b, long ldb, int transposed_b, long n, float *c,
                         long ldc, long o_begin, long o_end) {
    (void)a; (void)lda; (void)k; (void)b; (void)ldb; (void)transposed_b; (void)n; (void)c; (void)ldc; (void)o_begin; (void)o_end;
    return -1;
}

#endif
