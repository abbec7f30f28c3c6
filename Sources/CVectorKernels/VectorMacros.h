#ifndef CSD_VECTOR_MACROS_H
#define CSD_VECTOR_MACROS_H

// Shared by the target_clones kernels (ExponentiateRow.c, Activations.c): 16-float vector types,
// the dispatch attribute and the helpers, as macros; `EXP2_POLYNOMIAL` also by the attention kernels.

#include <string.h>

typedef float f16v __attribute__((vector_size(64)));
typedef int i16v __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__linux__)
#define CSD_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CSD_DISPATCH
#endif

// Helpers are macros, not inline functions: a 64-byte vector may not cross a function boundary
// in the baseline clone (the ABI for it needs AVX-512).
#define SPLAT16(x) ((f16v){0} + (float)(x))
#define LOAD16(p) ({ f16v v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE16(p, v) do { f16v s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)

/// 2^r for |r| ≤ ½ by Cephes' `exp2f` polynomial (relative error about 1.4e-7), on a vector of any
/// width; the attention kernels multiply it by 2ⁿ for x = n + r.
#define EXP2_POLYNOMIAL(r) ({                                                                    \
    const __typeof__((r) + 0.0f) r_ = (r);                                                        \
    __typeof__((r) + 0.0f) e_ = (__typeof__((r) + 0.0f)){0} + 1.535336188319500e-4f;               \
    e_ = e_ * r_ + 1.339887440266574e-3f;                                                         \
    e_ = e_ * r_ + 9.618437357674640e-3f;                                                         \
    e_ = e_ * r_ + 5.550332471162809e-2f;                                                         \
    e_ = e_ * r_ + 2.402264791363012e-1f;                                                         \
    e_ = e_ * r_ + 6.931472028550421e-1f;                                                         \
    e_ * r_ + 1.0f;                                                                               \
})

/// `exp(x)`: x = n·ln2 + r with n rounded by the 1.5·2²³ trick, Cephes' degree-6 polynomial on r,
/// and 2ⁿ built in the exponent bits; inputs clamped to [−87, 88] (the same as VectorMath.exp).
#define EXP16(input) ({                                                                          \
    f16v x_ = __builtin_elementwise_min(__builtin_elementwise_max((input), SPLAT16(-87.0f)),     \
                                        SPLAT16(88.0f));                                          \
    const f16v magic_ = SPLAT16(12582912.0f);                                                     \
    f16v shifted_ = x_ * 1.44269504088896341f + magic_;                                           \
    f16v n_ = shifted_ - magic_;                                                                  \
    f16v r_ = x_ - n_ * 0.693359375f;                                                             \
    r_ = r_ - n_ * -2.12194440e-4f;                                                               \
    f16v p_ = SPLAT16(1.9875691500e-4f);                                                          \
    p_ = p_ * r_ + 1.3981999507e-3f;                                                              \
    p_ = p_ * r_ + 8.3334519073e-3f;                                                              \
    p_ = p_ * r_ + 4.1665795894e-2f;                                                              \
    p_ = p_ * r_ + 1.6666665459e-1f;                                                              \
    p_ = p_ * r_ + 5.0000001201e-1f;                                                              \
    f16v e_ = p_ * (r_ * r_) + r_ + 1.0f;                                                         \
    i16v bits_ = (i16v)shifted_ - 0x4B400000;                                                     \
    e_ * (f16v)((bits_ + 127) << 23);                                                             \
})

#endif
