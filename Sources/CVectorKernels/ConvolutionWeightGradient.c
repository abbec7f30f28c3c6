#include "CVectorKernels.h"
#include "AVX2Vectors.h"
#include <stdlib.h>
#include <string.h>

// The weight gradient of a stride-1 convolution without an unfolded patch matrix.
//
// The image is copied with its padding into planes `plane` floats apart whose rows are
// Wp = wo + kw − 1 wide, and the output gradient into rows `length` floats long with the same row
// width, zero past wo and past ho·Wp. Then output position q = oy·Wp + ox and tap (i, j) read the
// padded image at q + i·Wp + j, so each tap's gradient is a plain dot product of two contiguous
// rows: dW[o][c][i][j] = Σ_b Σ_q g[b][o][q]·x[b][c][q + i·Wp + j]. The zeros past wo in g cancel
// the reads that wrap into the next row.

void csd_weight_gradient_sizes(long ho, long wo, long kh, long kw, long *length, long *plane) {
    const long wp = wo + kw - 1;
    *length = (ho * wp + 15) / 16 * 16;
    *plane = (*length + (kh - 1) * wp + kw - 1 + 15) / 16 * 16;
}

void csd_weight_gradient_pad_input(const float *x, long cin, long h, long w, long kh, long kw, long pad_top,
                                   long pad_left, long ho, long wo, float *xp) {
    long length, plane;
    csd_weight_gradient_sizes(ho, wo, kh, kw, &length, &plane);
    const long wp = wo + kw - 1, hp = ho + kh - 1;
    for (long c = 0; c < cin; c++) {
        float *dst = xp + c * plane;
        memset(dst, 0, sizeof(float) * plane);
        for (long y = 0; y < h; y++) {
            const long py = y + pad_top;
            if (py < 0 || py >= hp) continue;
            long x0 = 0, x1 = w;
            if (pad_left < 0) x0 = -pad_left;
            if (x1 + pad_left > wp) x1 = wp - pad_left;
            if (x1 > x0) memcpy(dst + py * wp + x0 + pad_left, x + (c * h + y) * w + x0, sizeof(float) * (x1 - x0));
        }
    }
}

void csd_weight_gradient_pad_output(const float *dy, long cout, long ho, long wo, long kh, long kw, float *gp) {
    long length, plane;
    csd_weight_gradient_sizes(ho, wo, kh, kw, &length, &plane);
    const long wp = wo + kw - 1;
    for (long o = 0; o < cout; o++) {
        float *dst = gp + o * length;
        memset(dst, 0, sizeof(float) * length);
        for (long y = 0; y < ho; y++) memcpy(dst + y * wp, dy + (o * ho + y) * wo, sizeof(float) * wo);
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

typedef float f16v __attribute__((vector_size(64)));

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

enum { BLOCK = 4, LANES = 16 };

AVX512 INLINE f16v load(const float *p) { f16v v; memcpy(&v, p, sizeof v); return v; }

/// Sums of 4 output channels × 4 input channels for one tap, over every image and position.
AVX512 static void tap_block(const float *const *g, const float *const *x, long images, long gstride, long xstride,
                             long length, long shift, float sums[BLOCK][BLOCK]) {
    f16v acc[BLOCK][BLOCK];
    for (int r = 0; r < BLOCK; r++)
        for (int s = 0; s < BLOCK; s++) acc[r][s] = (f16v){0};
    for (long b = 0; b < images; b++) {
        const float *g0 = g[0] + b * gstride, *g1 = g[1] + b * gstride, *g2 = g[2] + b * gstride, *g3 = g[3] + b * gstride;
        const float *x0 = x[0] + b * xstride + shift, *x1 = x[1] + b * xstride + shift;
        const float *x2 = x[2] + b * xstride + shift, *x3 = x[3] + b * xstride + shift;
        for (long q = 0; q < length; q += LANES) {
            const f16v gv[BLOCK] = {load(g0 + q), load(g1 + q), load(g2 + q), load(g3 + q)};
            const f16v xv[BLOCK] = {load(x0 + q), load(x1 + q), load(x2 + q), load(x3 + q)};
            for (int r = 0; r < BLOCK; r++)
                for (int s = 0; s < BLOCK; s++) acc[r][s] += gv[r] * xv[s];
        }
    }
    for (int r = 0; r < BLOCK; r++)
        for (int s = 0; s < BLOCK; s++) {
            float sum = 0;
            for (int l = 0; l < LANES; l++) sum += acc[r][s][l];
            sums[r][s] = sum;
        }
}

enum { LANES8 = 8, PAIR = 2 };

/// `tap_block` on AVX2: 16 registers hold 4 output channels × 2 input channels of sums, so the
/// block's 4 input channels are 2 passes.
AVX2 static void tap_block_avx2(const float *const *g, const float *const *x, long images, long gstride, long xstride,
                                long length, long shift, float sums[BLOCK][BLOCK]) {
    for (int s0 = 0; s0 < BLOCK; s0 += PAIR) {
        f8v acc[BLOCK][PAIR];
        for (int r = 0; r < BLOCK; r++)
            for (int s = 0; s < PAIR; s++) acc[r][s] = (f8v){0};
        for (long b = 0; b < images; b++) {
            const float *g0 = g[0] + b * gstride, *g1 = g[1] + b * gstride, *g2 = g[2] + b * gstride, *g3 = g[3] + b * gstride;
            const float *x0 = x[s0] + b * xstride + shift, *x1 = x[s0 + 1] + b * xstride + shift;
            for (long q = 0; q < length; q += LANES8) {
                const f8v gv[BLOCK] = {load8(g0 + q), load8(g1 + q), load8(g2 + q), load8(g3 + q)};
                const f8v xv[PAIR] = {load8(x0 + q), load8(x1 + q)};
                for (int r = 0; r < BLOCK; r++)
                    for (int s = 0; s < PAIR; s++) acc[r][s] += gv[r] * xv[s];
            }
        }
        for (int r = 0; r < BLOCK; r++)
            for (int s = 0; s < PAIR; s++) {
                float sum = 0;
                for (int l = 0; l < LANES8; l++) sum += acc[r][s][l];
                sums[r][s0 + s] = sum;
            }
    }
}

/// Positions per chunk of the AVX2 kernel: a block's 4 rows of the output gradient (16 KiB) and a
/// group's 3 rows of the input (12 KiB) stay in the L1 cache for every tap.
enum { CHUNK = 1024 };

/// Input channels per group of the AVX2 kernel: 4 × 3 sums in registers (4 × 2 left its 8 chains
/// of multiply-adds too few to hide their latency: 64 → 64 on 64×64 4.21 ms against 3.68).
enum { GROUP = 3 };

/// The AVX2 weight gradient of output channels o ..< o + 4 (rows past `o_end` read the last one
/// again and keep nothing): positions in chunks of 1024, and within a chunk every input channel
/// group and tap, so that the chunk's rows are read from L2 once and then from L1 (one tap per
/// sweep over whole rows read 6 rows from L2 per 8 multiply-adds). Each sum's 8 lanes carry
/// over the chunks in `partial` [cin / 3][taps][4][3] and are added at the end, in a fixed order.
AVX2 static void weight_gradient_block_avx2(const float *xp, const float *gp, long images, long cin, long cout,
                                            long taps, long kw, long wp, long length, long plane, long o, long o_end,
                                            f8v *partial, float *dw) {
    const long groups = (cin + GROUP - 1) / GROUP;
    for (long i = 0; i < groups * taps * BLOCK * GROUP; i++) partial[i] = (f8v){0};
    for (long b = 0; b < images; b++) {
        const float *g[BLOCK];
        for (int r = 0; r < BLOCK; r++) g[r] = gp + (b * cout + (o + r < o_end ? o + r : o_end - 1)) * length;
        for (long q0 = 0; q0 < length; q0 += CHUNK) {
            const long n = length - q0 < CHUNK ? length - q0 : CHUNK;
            for (long c = 0; c < cin; c += GROUP) {
                const float *xs[GROUP];
                for (int s = 0; s < GROUP; s++) xs[s] = xp + (b * cin + (c + s < cin ? c + s : cin - 1)) * plane + q0;
                for (long t = 0; t < taps; t++) {
                    const long shift = (t / kw) * wp + t % kw;
                    f8v *sums = partial + ((c / GROUP) * taps + t) * BLOCK * GROUP;
                    f8v acc[BLOCK][GROUP];
                    for (int r = 0; r < BLOCK; r++)
                        for (int s = 0; s < GROUP; s++) acc[r][s] = sums[r * GROUP + s];
                    for (long q = 0; q < n; q += LANES8) {
                        f8v xv[GROUP];
                        for (int s = 0; s < GROUP; s++) xv[s] = load8(xs[s] + shift + q);
                        for (int r = 0; r < BLOCK; r++) {
                            const f8v gv = load8(g[r] + q0 + q);
                            for (int s = 0; s < GROUP; s++) acc[r][s] += gv * xv[s];
                        }
                    }
                    for (int r = 0; r < BLOCK; r++)
                        for (int s = 0; s < GROUP; s++) sums[r * GROUP + s] = acc[r][s];
                }
            }
        }
    }
    for (long c = 0; c < cin; c += GROUP)
        for (long t = 0; t < taps; t++) {
            const f8v *sums = partial + ((c / GROUP) * taps + t) * BLOCK * GROUP;
            for (int r = 0; r < BLOCK && o + r < o_end; r++)
                for (int s = 0; s < GROUP && c + s < cin; s++) {
                    float sum = 0;
                    for (int l = 0; l < LANES8; l++) sum += sums[r * GROUP + s][l];
                    dw[((o + r) * cin + c + s) * taps + t] = sum;
                }
        }
}

/// Whether the AVX-512 kernel runs (else the AVX2 one).
static int weight_gradient_avx512(void) { return csd_attention_head_available(); }

int csd_convolution_weight_gradient_available(void) {
    return weight_gradient_avx512() || avx2_fma_available();
}

int csd_convolution_weight_gradient(const float *xp, const float *gp, long images, long cin, long cout, long kh,
                                    long kw, long ho, long wo, long o_begin, long o_end, float *dw) {
    if (!csd_convolution_weight_gradient_available()) return -1;
    long length, plane;
    csd_weight_gradient_sizes(ho, wo, kh, kw, &length, &plane);
    const long wp = wo + kw - 1, taps = kh * kw;
    const int avx512 = weight_gradient_avx512();
    if (!avx512) {
        // Without memory for the chunks' sums, the sweep below does it one tap at a time.
        f8v *partial = aligned_alloc(32, sizeof(f8v) * (size_t)(((cin + GROUP - 1) / GROUP) * taps * BLOCK * GROUP));
        if (partial) {
            for (long o = o_begin; o < o_end; o += BLOCK)
                weight_gradient_block_avx2(xp, gp, images, cin, cout, taps, kw, wp, length, plane, o, o_end, partial, dw);
            free(partial);
            return 0;
        }
    }
    for (long o = o_begin; o < o_end; o += BLOCK) {
        const float *g[BLOCK];
        // Past the last channel a block reads the last one again and keeps nothing of it.
        for (int r = 0; r < BLOCK; r++) g[r] = gp + (o + r < o_end ? o + r : o_end - 1) * length;
        for (long c = 0; c < cin; c += BLOCK) {
            const float *x[BLOCK];
            for (int s = 0; s < BLOCK; s++) x[s] = xp + (c + s < cin ? c + s : cin - 1) * plane;
            for (long t = 0; t < taps; t++) {
                float sums[BLOCK][BLOCK];
                if (avx512)
                    tap_block(g, x, images, cout * length, cin * plane, length, (t / kw) * wp + t % kw, sums);
                else
                    tap_block_avx2(g, x, images, cout * length, cin * plane, length, (t / kw) * wp + t % kw, sums);
                for (int r = 0; r < BLOCK && o + r < o_end; r++)
                    for (int s = 0; s < BLOCK && c + s < cin; s++) dw[((o + r) * cin + c + s) * taps + t] = sums[r][s];
            }
        }
    }
    return 0;
}

#else

int csd_convolution_weight_gradient_available(void) { return 0; }

int csd_convolution_weight_gradient(const float *xp, const float *gp, long images, long cin, long cout, long kh,
                                    long kw, long ho, long wo, long o_begin, long o_end, float *dw) {
    (void)xp; (void)gp; (void)images; (void)cin; (void)cout; (void)kh; (void)kw; (void)ho; (void)wo;
    (void)o_begin; (void)o_end; (void)dw;
    return -1;
}

#endif
