#include "CVectorKernels.h"
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>
#include "BFloat16.h"

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/// The blocking of BLIS/GotoBLAS (Van Zee & van de Geijn 2015, "BLIS: A Framework for Rapidly
/// Instantiating BLAS Functionality", figure 2), for row-major C with vectors along its rows:
/// a 12 × 32 block of C (24 of the 32 registers) sums over the KC-long strip of a packed A panel
/// (12 rows, L2) and a packed B panel (32 columns, L1: 256 × 32 floats = 32 KB).
enum { MR = 12, NR = 32, KC = 256, MC = 192, NC = 512 };

int csd_sgemm_available(void) { return csd_attention_head_available(); }

/// Transposes a 16 × 16 block held as 16 row vectors (unpack, then 128-bit lane shuffles).
AVX512 INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}

INLINE __mmask16 lanes(long count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

/// dst[p·width + j] = src[j·ld + p] for j < rows (≤ 16), p < kc: `rows` vectors along p turned
/// into kc vectors of `rows` values, 16 × 16 blocks at a time (lanes from `rows` to 16 untouched).
AVX512 static void transpose_into(const float *src, long ld, long rows, long kc, float *dst, long width) {
    const __mmask16 out = lanes(rows);
    for (long p = 0; p < kc; p += 16) {
        const long count = kc - p < 16 ? kc - p : 16;
        const __mmask16 in = lanes(count);
        __m512 r[16];
        for (int j = 0; j < 16; j++) r[j] = j < rows ? _mm512_maskz_loadu_ps(in, src + j * ld + p) : _mm512_setzero_ps();
        transpose16(r);
        for (long t = 0; t < count; t++) _mm512_mask_storeu_ps(dst + (p + t) * width, out, r[t]);
    }
}

/// Copies rows i0..<i0+mc, columns p0..<p0+kc of op(A) into MR-row panels: panel r holds, for each
/// p, the MR values of rows r·MR..; rows past mc are zeros.
AVX512 static void pack_a(const float *a, long lda, int trans, long i0, long mc, long p0, long kc, float *dst) {
    for (long r = 0; r < mc; r += MR) {
        const long rows = mc - r < MR ? mc - r : MR;
        float *panel = dst + r * kc;
        if (!trans) {
            transpose_into(a + (i0 + r) * lda + p0, lda, rows, kc, panel, MR);
        } else {
            for (long p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + r;
                for (long i = 0; i < rows; i++) panel[p * MR + i] = src[i];
            }
        }
        if (rows < MR)
            for (long p = 0; p < kc; p++)
                for (long i = rows; i < MR; i++) panel[p * MR + i] = 0;
    }
}

/// Copies rows p0..<p0+kc, columns j0..<j0+nc of op(B) into NR-column panels: panel s holds, for
/// each p, the NR values of columns s·NR..; columns past nc are zeros.
AVX512 static void pack_b(const float *b, long ldb, int trans, long p0, long kc, long j0, long nc, float *dst) {
    for (long s = 0; s < nc; s += NR) {
        const long cols = nc - s < NR ? nc - s : NR;
        float *panel = dst + s * kc;
        if (!trans) {
            for (long p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + s;
                float *row = panel + p * NR;
                memcpy(row, src, (size_t)cols * sizeof(float));
                if (cols < NR) memset(row + cols, 0, (size_t)(NR - cols) * sizeof(float));
            }
        } else {
            for (long j = 0; j < NR; j += 16) {
                const long rows = cols - j < 0 ? 0 : cols - j < 16 ? cols - j : 16;
                if (rows < 16)
                    for (long p = 0; p < kc; p++) memset(panel + p * NR + j, 0, 16 * sizeof(float));
                if (rows > 0) transpose_into(b + (j0 + s + j) * ldb + p0, ldb, rows, kc, panel + j, NR);
            }
        }
    }
}

/// C[0..<mr][0..<nr] = alpha·acc + (first ? beta·C : C), where beta 0 never reads C.
AVX512 INLINE void store_block(__m512 acc[MR][2], float *c, long ldc, long mr, long nr, float alpha, float beta,
                               int first) {
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(first ? beta : 1.0f);
    const int reads = !first || beta != 0;
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *row = c + i * ldc;
        __m512 v0 = _mm512_mul_ps(va, acc[i][0]), v1 = _mm512_mul_ps(va, acc[i][1]);
        if (reads) {
            v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), v0);
            v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), v1);
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}

/// C[0..<mr][0..<nr] = alpha·Σ_p a[p][i]·b[p][j] + (first ? beta·C : C), where beta 0 never reads C.
AVX512 static void kernel(long kc, const float *a, const float *b, float *c, long ldc, long mr, long nr,
                          float alpha, float beta, int first) {
    __m512 acc[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    store_block(acc, c, ldc, mr, nr, alpha, beta, first);
}

static _Thread_local float *packed_a, *packed_b;

AVX512 static void gemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, float beta, float *c, long ldc) {
    for (long j0 = 0; j0 < n; j0 += NC) {
        const long nc = n - j0 < NC ? n - j0 : NC;
        for (long p0 = 0; p0 < k; p0 += KC) {
            const long kc = k - p0 < KC ? k - p0 : KC;
            pack_b(b, ldb, trans_b, p0, kc, j0, nc, packed_b);
            for (long i0 = 0; i0 < m; i0 += MC) {
                const long mc = m - i0 < MC ? m - i0 : MC;
                pack_a(a, lda, trans_a, i0, mc, p0, kc, packed_a);
                for (long s = 0; s < nc; s += NR)
                    for (long r = 0; r < mc; r += MR)
                        kernel(kc, packed_a + r * kc, packed_b + s * kc, c + (i0 + r) * ldc + j0 + s, ldc,
                               mc - r < MR ? mc - r : MR, nc - s < NR ? nc - s : NR, alpha, beta, p0 == 0);
            }
        }
    }
}

int csd_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc) {
    if (!csd_sgemm_available() || m <= 0 || n <= 0 || k <= 0) return -1;
    if (!packed_a) {
        packed_a = aligned_alloc(64, (size_t)MC * KC * sizeof(float));
        packed_b = aligned_alloc(64, (size_t)KC * NC * sizeof(float));
        if (!packed_a || !packed_b) {
            free(packed_a), free(packed_b);
            packed_a = packed_b = NULL;
            return -1;
        }
    }
    gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
}

// bf16 products with fp32 sums (`vdpbf16ps`), as PyTorch's CPU autocast computes them: both
// operands are rounded to bf16 (to nearest, ties to even) while they are packed, and each
// instruction adds two products of consecutive k into every fp32 sum. Packed layouts as above,
// with k in pairs: an A panel holds, for each pair q, MR 32-bit (a[2q], a[2q+1]) pairs; a B panel,
// for each q, NR such pairs.
enum { KC2 = 512 };

int csd_sgemm_bf16_available(void) {
    static int known = -1;
    if (known < 0) known = csd_sgemm_available() && __builtin_cpu_supports("avx512bf16");
    return known;
}

/// Turns fp32 panels of `width` values per k (as `pack_a`/`pack_b` write them, kc rows) into bf16
/// pair panels of (kc + 1) / 2 pairs.
AVX512BF16 static void pair_panels(const float *src, long panels, long width, long kc, uint16_t *dst) {
    const long pairs = (kc + 1) / 2;
    for (long s = 0; s < panels; s++) {
        const float *panel = src + s * width * kc;
        uint16_t *out = dst + s * width * 2 * pairs;
        for (long q = 0; q < pairs; q++)
            for (long j = 0; j < width; j += 16)
                interleave_bf16(panel + 2 * q * width + j, 2 * q + 1 < kc ? panel + (2 * q + 1) * width + j : NULL,
                                width - j < 16 ? width - j : 16, out + (q * width + j) * 2);
    }
}

AVX512BF16 static void kernel_bf16(long pairs, const uint16_t *a, const uint16_t *b, float *c, long ldc, long mr,
                                   long nr, float alpha, float beta, int first) {
    __m512 acc[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const int32_t *ap = (const int32_t *)a;
    for (long q = 0; q < pairs; q++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32(ap[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
        }
        ap += MR;
        b += 2 * NR;
    }
    store_block(acc, c, ldc, mr, nr, alpha, beta, first);
}

static _Thread_local float *staged_a, *staged_b;
static _Thread_local uint16_t *paired_a, *paired_b;

AVX512BF16 static void gemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a,
                                 long lda, const float *b, long ldb, float beta, float *c, long ldc) {
    for (long j0 = 0; j0 < n; j0 += NC) {
        const long nc = n - j0 < NC ? n - j0 : NC;
        const long b_panels = (nc + NR - 1) / NR;
        for (long p0 = 0; p0 < k; p0 += KC2) {
            const long kc = k - p0 < KC2 ? k - p0 : KC2, pairs = (kc + 1) / 2;
            pack_b(b, ldb, trans_b, p0, kc, j0, nc, staged_b);
            pair_panels(staged_b, b_panels, NR, kc, paired_b);
            for (long i0 = 0; i0 < m; i0 += MC) {
                const long mc = m - i0 < MC ? m - i0 : MC;
                pack_a(a, lda, trans_a, i0, mc, p0, kc, staged_a);
                pair_panels(staged_a, (mc + MR - 1) / MR, MR, kc, paired_a);
                for (long s = 0; s < nc; s += NR)
                    for (long r = 0; r < mc; r += MR)
                        kernel_bf16(pairs, paired_a + r * 2 * pairs, paired_b + s * 2 * pairs,
                                    c + (i0 + r) * ldc + j0 + s, ldc, mc - r < MR ? mc - r : MR,
                                    nc - s < NR ? nc - s : NR, alpha, beta, p0 == 0);
            }
        }
    }
}

int csd_sgemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    if (!csd_sgemm_bf16_available() || m <= 0 || n <= 0 || k <= 0) return -1;
    if (!staged_a) {
        staged_a = aligned_alloc(64, (size_t)MC * KC2 * sizeof(float));
        staged_b = aligned_alloc(64, (size_t)KC2 * NC * sizeof(float));
        paired_a = aligned_alloc(64, (size_t)MC * (KC2 + 1) * sizeof(uint16_t));
        paired_b = aligned_alloc(64, (size_t)(KC2 + 1) * NC * sizeof(uint16_t));
        if (!staged_a || !staged_b || !paired_a || !paired_b) {
            free(staged_a), free(staged_b), free(paired_a), free(paired_b);
            staged_a = staged_b = NULL, paired_a = paired_b = NULL;
            return -1;
        }
    }
    gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
}

#else

int csd_sgemm_available(void) { return 0; }

int csd_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc) {
    return -1;
}

int csd_sgemm_bf16_available(void) { return 0; }

int csd_sgemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    return -1;
}

#endif
