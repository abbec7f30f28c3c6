#ifndef CSD_AVX2_VECTORS_H
#define CSD_AVX2_VECTORS_H

// Shared by the AVX2 variants of the kernels (DirectConvolution.c, ConvolutionWeightGradient.c,
// WinogradConvolution.c), which run where the CPU has AVX2 and FMA but not AVX-512: the 8-float
// vector type, the target attribute and the helpers.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>
#include <string.h>

typedef float f8v __attribute__((vector_size(32)));

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

AVX2_INLINE f8v splat8(float x) { return (f8v){x, x, x, x, x, x, x, x}; }
AVX2_INLINE f8v load8(const float *p) { f8v v; memcpy(&v, p, sizeof v); return v; }
AVX2_INLINE void store8(float *p, f8v v) { memcpy(p, &v, sizeof v); }

/// The first `left` lanes of v at p (all 8 when `left` ≥ 8); `mask` has the lanes below `left` set.
AVX2_INLINE void store8_first(float *p, f8v v, long left, __m256i mask) {
    if (left >= 8) store8(p, v);
    else _mm256_maskstore_ps(p, mask, (__m256)v);
}

/// Columns x0 ..< x0 + n of row `row` of an h × w plane into line[0 ..< n], zeros outside the plane
/// (the rows of the Winograd input transforms' tiles).
static inline void padded_row(const float *plane, long h, long w, long row, long x0, long n, float *line) {
    const long lo = x0 < 0 ? -x0 : 0, hi = w - x0 < n ? w - x0 : n;
    memset(line, 0, sizeof(float) * (size_t)n);
    if (row >= 0 && row < h && hi > lo) memcpy(line + lo, plane + row * w + x0 + lo, sizeof(float) * (size_t)(hi - lo));
}

/// Whether this CPU runs the AVX2 variants.
static inline int avx2_fma_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// `avx2_fma_available`, asked once per file and then remembered, for the kernels' entry points.
static inline int avx2_fma_known(void) {
    static int available = -1;
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        known = avx2_fma_available();
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    return known;
}

#endif

#endif
