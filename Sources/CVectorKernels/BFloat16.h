#ifndef CSD_BFLOAT16_H
#define CSD_BFLOAT16_H

// Shared by the bf16 kernels (Gemm.c, DirectConvolution.c): fp32 rows to bf16 pairs.

#include <immintrin.h>
#include <stdint.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,avx512bf16")))

/// Interleaves two rows of fp32 (`count` ≤ 16 values each; `y` may be NULL for zeros) into
/// `count` bf16 pairs (x[j], y[j]) at `dst`, each rounded to nearest, ties to even.
AVX512BF16 static inline __attribute__((always_inline)) void interleave_bf16(const float *x, const float *y, long count,
                                                                             uint16_t *dst) {
    const __mmask16 m = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    const __m512 vx = _mm512_maskz_loadu_ps(m, x), vy = y ? _mm512_maskz_loadu_ps(m, y) : _mm512_setzero_ps();
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(vy, vx); // words 0..<16 from x, 16..<32 from y
    const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    _mm512_mask_storeu_epi32(dst, m, _mm512_permutexvar_epi16(order, both));
}

#endif
