#include "CVectorKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// GFLOP/s of `rounds` rounds over `chains` chains of `lanes` lanes, `flops` per lane and
/// instruction; `sink`, the sum of every chain's result, is kept, or the compiler would drop the
/// chains.
static double rate(float sink, long rounds, int chains, int lanes, int flops, double elapsed) {
    volatile float keep = sink;
    (void)keep;
    return (double)rounds * chains * lanes * flops / elapsed / 1e9;
}

/// `rate` of the 24 chains of 16 lanes of the AVX-512 loops.
__attribute__((target("avx512f"))) static double rate512(const __m512 *acc, long rounds, int flops, double elapsed) {
    float sink = 0;
    for (int i = 0; i < 24; i++) sink += acc[i][0];
    return rate(sink, rounds, 24, 16, flops, elapsed);
}

/// 24 independent chains of fused multiply-adds, enough to hide the instruction's latency on
/// every AVX-512 CPU, with nothing loaded or stored; returns GFLOP/s.
__attribute__((target("avx512f"))) static double run_fp32(long rounds) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(1e-3f * (float)i);
    volatile float seed = 0.999f;
    const __m512 x = _mm512_set1_ps(seed), y = _mm512_set1_ps(1e-6f);
    const double start = seconds();
    for (long r = 0; r < rounds; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    return rate512(acc, rounds, 2, seconds() - start);
}

/// The same with bf16 dot products (`vdpbf16ps`: 2 products and 2 additions per lane), compiled
/// apart so that the fp32 loop never holds a bf16 instruction.
__attribute__((target("avx512f,avx512bf16"))) static double run_bf16(long rounds) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(1e-3f * (float)i);
    volatile float seed = 0.999f;
    const __m512 x = _mm512_set1_ps(seed);
    const __m512bh xb = _mm512_cvtne2ps_pbh(x, x);
    const double start = seconds();
    for (long r = 0; r < rounds; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], xb, xb);
    return rate512(acc, rounds, 4, seconds() - start);
}

/// 12 independent chains of 8-float fused multiply-adds, for a CPU with AVX2 and FMA but not
/// AVX-512 (two FMA units of latency up to 5 cycles need 10 in flight); returns GFLOP/s.
__attribute__((target("avx2,fma"))) static double run_fp32_avx2(long rounds) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(1e-3f * (float)i);
    volatile float seed = 0.999f;
    const __m256 x = _mm256_set1_ps(seed), y = _mm256_set1_ps(1e-6f);
    const double start = seconds();
    for (long r = 0; r < rounds; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    const double elapsed = seconds() - start;
    float sink = 0;
    for (int i = 0; i < 12; i++) sink += acc[i][0];
    return rate(sink, rounds, 12, 8, 2, elapsed);
}

double csd_peak_gflops(int bf16, long rounds) {
    if (rounds <= 0) return 0;
    if (!csd_sgemm_available()) {
        __builtin_cpu_init();
        const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        return !bf16 && avx2 ? run_fp32_avx2(rounds) : 0;
    }
    if (bf16 && !csd_sgemm_bf16_available()) return 0;
    return bf16 ? run_bf16(rounds) : run_fp32(rounds);
}

#else

double csd_peak_gflops(int bf16, long rounds) { return 0; }

#endif
