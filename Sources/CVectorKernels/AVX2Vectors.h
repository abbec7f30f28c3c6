#ifndef CSD_AVX2_VECTORS_H
#define CSD_AVX2_VECTORS_H

// Shared by the AVX2 variants of the kernels (DirectConvolution.c, ConvolutionWeightGradient.c,
// WinogradConvolution.c), which run where the CPU has AVX2 and FMA but not AVX-512: the 8-float
// vector type, the target attribute and the helpers.

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <string.h>

typedef float f8v __attribute__((vector_size(32)));

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

AVX2_INLINE f8v splat8(float x) { return (f8v){x, x, x, x, x, x, x, x}; }
AVX2_INLINE f8v load8(const float *p) { f8v v; memcpy(&v, p, sizeof v); return v; }
AVX2_INLINE void store8(float *p, f8v v) { memcpy(p, &v, sizeof v); }

/// Whether this CPU runs the AVX2 variants.
static inline int avx2_fma_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#endif

#endif
