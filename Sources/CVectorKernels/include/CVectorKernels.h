#ifndef CVECTORKERNELS_H
#define CVECTORKERNELS_H

/// Element-wise kernels that run on every x86-64 CPU but use its widest vectors: each is
/// compiled for AVX-512, for AVX2 + FMA and for baseline SSE2, and the loader picks one when the
/// library loads (GCC/Clang `target_clones`). Swift has no such per-function dispatch, and the
/// package is built for baseline x86-64, where SIMD16<Float> code runs as four SSE operations.

/// Replaces `p[0..<n]` by `exp(p[i] − max(p))` and returns the sum: softmax without the division.
/// A row of −∞ becomes zeros and returns 0. `exp` is Cephes' `expf` (relative error ~1.2e-7).
float csd_exponentiate_row(float *p, long n);

/// dst[i] = y·sigmoid(y) (SiLU) when `silu` is non-zero, else y, where y = src[i]·scale + shift.
/// `src` and `dst` may be the same array. `exp` as in `csd_exponentiate_row`.
void csd_affine_silu(const float *src, float *dst, long n, float scale, float shift, int silu);

/// Exact GELU, 0.5·x·(1 + erf(x/√2)), of src[0..<n] into dst (may be the same array).
void csd_gelu(const float *src, float *dst, long n);

/// GEGLU (diffusers' `GEGLU`): each of `rows` rows of x holds 2·half values, (value, gate);
/// out[r][i] = value[i]·gelu(gate[i]).
void csd_gated_gelu(const float *x, float *out, long rows, long half);

/// GEGLU's backward: dx (rows × 2·half, (dvalue, dgate)) from x (value, gate) and dy (rows × half).
void csd_gated_gelu_backward(const float *x, const float *dy, float *dx, long rows, long half);

/// Softmax's backward along a row: dx = scale·y ⊙ (dy − Σ dy ⊙ y); dx may be dy.
void csd_softmax_row_gradient(const float *dy, const float *y, float *dx, long n, float scale);

/// Σ p[0..<n] in 16 float lanes, folded in double (the same on every CPU).
double csd_sum(const float *p, long n);

/// dst[i] = (src[i] − mean)·inv·weight[i] + bias[i] (layer norm's last step); `weight` and `bias`
/// may be NULL (1 and 0).
void csd_normalize_row(const float *src, float *dst, long n, float mean, float inv, const float *weight,
                       const float *bias);

/// Mean and biased variance of p[0..<n] (two passes; sums folded in double).
void csd_moments(const float *p, long n, float *mean, float *variance);
/// Group norm's backward over one channel, first pass (see Activations.c).
void csd_norm_backward_channel(const float *x, const float *dy, float *dx, long n, float mean, float inv, float gamma,
                               float beta, int silu, float *sw, float *sb, double *sum1, double *sum2);
/// Group norm's backward, second pass: dx ← inv·(dx − mean1 − x̂·mean2).
void csd_norm_backward_finish(const float *x, float *dx, long n, float mean, float inv, float mean1, float mean2);

/// Whether this CPU runs `csd_attention_head` (AVX-512 F/DQ/VL/BW).
int csd_attention_head_available(void);

/// Scaled dot-product attention for `rows` query rows of one head, fused so that no score
/// matrix leaves the cache and nothing is packed: out[r] = Σ_j softmax_j(scale · q[r]·k[j]) · v[j],
/// for j < keys, or j ≤ causal_offset + r when causal_offset ≥ 0. q, k, v and out hold `d` values
/// per row with rows `ld` floats apart. Returns 0 when done; −1 when this CPU lacks AVX-512 or
/// memory ran out, in which case `out` is untouched and the caller computes it another way.
int csd_attention_head(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                       long ld, float scale, long causal_offset);

/// Whether this CPU runs `csd_attention_head_avx2` and `csd_attention_gradient` (AVX2 and FMA).
int csd_attention_avx2_available(void);

/// `csd_attention_head` in AVX2 vectors (`AttentionAVX2.c`), for CPUs without AVX-512: same
/// arguments and meaning. Returns −1 when this CPU lacks AVX2 and FMA, a size is not positive or
/// memory ran out (`out` untouched).
int csd_attention_head_avx2(const float *q, const float *k, const float *v, float *out, long rows, long keys, long d,
                            long ld, float scale, long causal_offset);

/// The gradients of `csd_attention_head` over all `rows` query rows of one head (causal: key
/// j ≤ query r), for the output gradient `dout`: dq [rows], dk and dv [keys], every row `ld`
/// floats apart as in q. The probabilities are recomputed per tile of query rows; dk and dv sum
/// the tiles in order. Returns −1 when this CPU lacks AVX2 and FMA, a size is not positive or
/// memory ran out (outputs untouched).
int csd_attention_gradient(const float *q, const float *k, const float *v, const float *dout, float *dq, float *dk,
                           float *dv, long rows, long keys, long d, long ld, float scale, int causal);

/// Whether this CPU runs `csd_direct_convolution` (AVX-512 F/DQ/VL/BW).
int csd_direct_convolution_available(void);

/// Convolution of one CHW image `x` [cin, h, w] with `weight` [cout, cin, kh, kw], an optional
/// `bias` and any stride, computed directly from a padded copy of the image (no unfolded patch
/// matrix): writes output channels o_begin..<o_end of `y` [cout, ho, wo], where ho = (h + pad_top
/// + pad_bottom − kh) / stride + 1 (likewise wo), and the padding is zeros. Returns 0 when done; −1 when this
/// CPU lacks AVX-512, the range is empty or memory ran out (`y` untouched).
int csd_direct_convolution(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                           long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                           long o_begin, long o_end, float *y);

/// Layout of `csd_convolution_weight_gradient`'s padded copies: the output gradient's rows are
/// `length` floats, the image's planes `plane` floats (both multiples of 16).
void csd_weight_gradient_sizes(long ho, long wo, long kh, long kw, long *length, long *plane);
/// One CHW image [cin, h, w] copied with its padding into `cin` planes of `plane` floats.
void csd_weight_gradient_pad_input(const float *x, long cin, long h, long w, long kh, long kw, long pad_top,
                                   long pad_left, long ho, long wo, float *xp);
/// One image's output gradient [cout, ho, wo] copied into `cout` rows of `length` floats.
void csd_weight_gradient_pad_output(const float *dy, long cout, long ho, long wo, long kh, long kw, float *gp);
/// Whether this CPU runs `csd_convolution_weight_gradient` (AVX-512 F/DQ/VL/BW, or AVX2 and FMA).
int csd_convolution_weight_gradient_available(void);
/// The weight gradient [cout, cin, kh, kw] of a stride-1 convolution, rows o_begin..<o_end, summed
/// over `images` images from their padded copies (`xp`: images × cin planes; `gp`: images × cout
/// rows), each element in a fixed order (without AVX-512: positions in chunks of 1024, summed
/// per lane over the chunks, then across the lanes). Returns 0, or −1 where the CPU has neither.
int csd_convolution_weight_gradient(const float *xp, const float *gp, long images, long cin, long cout, long kh,
                                    long kw, long ho, long wo, long o_begin, long o_end, float *dw);

/// Whether this CPU runs `csd_direct_convolution_bf16` (AVX-512 with AVX512-BF16).
int csd_direct_convolution_bf16_available(void);

/// `csd_direct_convolution` with the image and weights rounded to bf16 (nearest, ties to even)
/// and fp32 sums over pairs of input channels, as `csd_sgemm_bf16` computes products.
int csd_direct_convolution_bf16(const float *x, long cin, long h, long w, const float *weight, const float *bias,
                                long cout, long kh, long kw, long stride, long pad_top, long pad_left, long ho, long wo,
                                long o_begin, long o_end, float *y);

/// The calling thread's product precision (0: fp32, 1: bf16), 0 until set; `ComputePrecision`
/// reads and writes it, and parallel loops copy the caller's to their workers.
int csd_thread_precision(void);
void csd_set_thread_precision(int precision);

/// Whether this CPU runs `csd_sgemm` (AVX-512 F/DQ/VL/BW).
int csd_sgemm_available(void);

/// Row-major C = alpha·op(A)·op(B) + beta·C on one thread (`cblas_sgemm`'s meaning, with op a
/// transpose where `trans_a`/`trans_b` is non-zero); beta 0 never reads C. Each element of C is
/// summed over k in the same order whatever the call's blocking of the other dimensions, so
/// splitting C into tiles across threads gives the same bytes. Returns 0 when done; −1 when this
/// CPU lacks AVX-512, a dimension is not positive or memory ran out (C untouched).
int csd_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc);

/// Whether this CPU runs `csd_sgemm_bf16` (AVX-512 with AVX512-BF16).
int csd_sgemm_bf16_available(void);

/// `csd_sgemm` with A and B rounded to bf16 (nearest, ties to even) and fp32 sums, as PyTorch's
/// CPU autocast runs products: twice the multiply-adds per instruction (`vdpbf16ps`), about
/// 3 significant digits per operand. Same order guarantee and return values as `csd_sgemm`.
int csd_sgemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc);

/// This core's measured peak rate in GFLOP/s for AVX-512 fp32 fused multiply-adds (bf16 = 0)
/// or bf16 dot products (bf16 = 1, `vdpbf16ps`, 4 FLOPs per lane), from `rounds` rounds of 24
/// independent register-only chains; without AVX-512, fp32 from 12 chains of AVX2 fused
/// multiply-adds; 0 where the CPU lacks the instructions.
double csd_peak_gflops(int bf16, long rounds);

/// Floats between the 16 planes of a transformed block [16, rows, ld] (the `v` and `m` below):
/// rows · ld rounded up to whole 64-byte lines, and one line more where that would be an even
/// number of lines. Planes a multiple of 4 KiB apart put the rows that the transforms read or
/// write together into one set of the L1 cache (64 → 64 channels on 64×64: the output transform
/// 0.31 against 0.15 ms).
long csd_winograd_plane(long rows, long ld);

/// Winograd F(2×2, 3×3) weight transform (`WinogradConvolution.c`): `g` [cout, cin, 3, 3] to
/// `u` [16, cout, cin] (U = G g Gᵀ; planes `ldu` floats apart, at least cout · cin; SD's layers
/// want `csd_winograd_plane(cout, cin)`), for output channels o_begin..<o_end.
void csd_winograd_weights(const float *g, long cout, long cin, long o_begin, long o_end, float *u, long ldu);

/// Input transform (V = Bᵀ d B) of the 4×4 tiles t_begin..<t_end of one CHW image `x` [cin, h, w]
/// (tile t at rows 2·(t / tiles_wide) − pad_top…+3 and columns 2·(t % tiles_wide) − pad_left…+3,
/// zeros outside): `v` [16, cin, ldv] (planes `csd_winograd_plane(cin, ldv)` apart), column t − t_begin. Returns 0, or −1 when memory ran out.
int csd_winograd_input(const float *x, long cin, long h, long w, long pad_top, long pad_left, long tiles_wide,
                        long t_begin, long t_end, float *v, long ldv);

/// Output transform (Y = Aᵀ M A) of `m` [16, cout, ldm] (planes `csd_winograd_plane(cout, ldm)` apart) (column t − t_begin for tile t), plus
/// `bias` (or none), into the 2×2 blocks of `y` [cout, ho, wo] that the tiles t_begin..<t_end cover.
/// Returns 0, or −1 when memory ran out.
int csd_winograd_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end, long ho, long wo,
                         const float *bias, float *y);

/// The weight gradient's transform of the output gradient (dM = A dY Aᵀ, the adjoint of
/// `csd_winograd_output`): the 2×2 blocks of `dy` [cout, ho, wo] covered by tiles t_begin..<t_end
/// (zeros past the edges) into `m` [16, cout, ldm] (planes `csd_winograd_plane(cout, ldm)` apart), column t − t_begin.
void csd_winograd_output_gradient(const float *dy, long cout, long ho, long wo, long tiles_wide, long t_begin, long t_end,
                                  float *m, long ldm);

/// The weight gradient dg = Gᵀ dU G (the adjoint of `csd_winograd_weights`): `du` [16, cout, cin]
/// to `dg` [cout, cin, 3, 3].
void csd_winograd_weight_gradient(const float *du, long cout, long cin, float *dg);

/// Whether `csd_streamed_product` runs on this CPU (AVX2 and FMA).
int csd_streamed_product_available(void);

/// Rows o_begin..<o_end of C = A·B, for A [m, k] (rows `lda` apart) and B [k, n] (rows `ldb`
/// apart), or B given as [n, k] where `transposed_b`: A is read once, in place, six rows at a time,
/// and B is packed a chunk of 512 terms at a time into blocks of 16 columns. C's rows (`ldc`
/// apart) are written up to n rounded up to 16, zeros past n. Each element is summed over k in
/// order, whatever rows a call takes. For a long A and few columns, where a packing product would
/// copy all of A: SD's 3×3 convolutions on 4×4 planes (1280 · 11520 · 32), linear layers on a few
/// tokens. Returns 0, or −1 where memory ran out or the CPU lacks AVX2.
int csd_streamed_product(const float *a, long lda, long k, const float *b, long ldb, int transposed_b, long n, float *c,
                         long ldc, long o_begin, long o_end);

/// Whether `csd_winograd_products` runs on this CPU (AVX2 and FMA).
int csd_winograd_products_available(void);

/// Winograd's products M_ξ = U_ξ · V_ξ (ξ < `planes`: 16 for F(2×2, 3×3), 36 for F(4×4, 3×3)) for
/// one block of `count` tiles and output channels o_begin..<o_end: `u` [planes, cout, cin] (planes
/// `ldu` apart), `v`
/// [planes, cin, ldv] (planes `csd_winograd_plane(cin, ldv)` apart), `m` [planes, cout, ldm]
/// (planes `csd_winograd_plane(cout, ldm)` apart; its rows at least `count` rounded up to 8 long,
/// which the products read), each element summed over the input channels in order, on one core.
/// Only V's columns are packed, 16 at a time (OpenBLAS's packing of both and its zeroing of C
/// weigh on products over so few input channels). Returns 0, or −1 where memory ran out or the
/// CPU lacks AVX2.
int csd_winograd_products(const float *u, long ldu, const float *v, float *m, long cout, long cin, long count, long ldv, long ldm,
                          long planes, long o_begin, long o_end);

/// `csd_winograd_products` from the untransformed weights `g` [cout, cin, 3, 3], for F(size×size,
/// 3×3) (size 2: 16 planes, 4: 36): the weights of a few output channels at a time are
/// transformed into a buffer of 4 MiB, then multiplied while they are in cache, so the
/// transformed weights are never written out whole (at 1280 channels, 105 MB written and read
/// back for 32 tiles). The same sums in the same order as the two steps apart. Returns 0, or −1
/// where memory ran out or the CPU lacks AVX2.
int csd_winograd_products_from_weights(const float *g, long cout, long cin, int size, const float *v, float *m, long count,
                                       long ldv, long ldm, long o_begin, long o_end);

/// Whether the F(4×4, 3×3) transforms below run on this CPU (AVX2 and FMA).
int csd_winograd4_available(void);

/// Winograd F(4×4, 3×3) weight transform (`WinogradF4Convolution.c`): `g` [cout, cin, 3, 3] to
/// `u` [36, cout, cin] (U = G g Gᵀ; planes `ldu` floats apart), for output channels o_begin..<o_end.
/// Nothing without AVX2.
void csd_winograd4_weights(const float *g, long cout, long cin, long o_begin, long o_end, float *u, long ldu);

/// F(4×4, 3×3) input transform (V = Bᵀ d B) of the 6×6 tiles t_begin..<t_end of one CHW image
/// `x` [cin, h, w] (tile t at rows 4·(t / tiles_wide) − pad_top…+5 and columns
/// 4·(t % tiles_wide) − pad_left…+5, zeros outside): `v` [36, cin, ldv] (planes
/// `csd_winograd_plane(cin, ldv)` apart), column t − t_begin. Returns 0, or −1 when memory ran
/// out or the CPU lacks AVX2.
int csd_winograd4_input(const float *x, long cin, long h, long w, long pad_top, long pad_left, long tiles_wide,
                        long t_begin, long t_end, float *v, long ldv);

/// F(4×4, 3×3) output transform (Y = Aᵀ M A) of `m` [36, cout, ldm] (planes
/// `csd_winograd_plane(cout, ldm)` apart, column t − t_begin for tile t, readable up to 8 columns
/// past the block), plus `bias` (or none), into the 4×4 blocks of `y` [cout, ho, wo] that the
/// tiles t_begin..<t_end cover. Returns 0, or −1 where the CPU lacks AVX2.
int csd_winograd4_output(const float *m, long cout, long ldm, long tiles_wide, long t_begin, long t_end, long ho, long wo,
                         const float *bias, float *y);

#endif
