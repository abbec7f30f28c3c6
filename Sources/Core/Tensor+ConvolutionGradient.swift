import CVectorKernels

/// Vector-Jacobian products of `conv2d` (any kernel, stride and padding). The weight gradient of
/// a 3×3, stride-1 convolution goes by Winograd without AVX-512 where its forward does
/// (`winogradWeightGradient`); that of a stride-1 convolution on a large plane is summed directly
/// from padded copies (`csd_convolution_weight_gradient`); otherwise it is `Σ_b dy_b·col(x_b)ᵀ`:
/// one product over the whole batch when its unfolded patches are small, else image by image,
/// summed in order. The input gradient of a stride-1 convolution is the convolution of dy with
/// the flipped kernel, except on small planes where the batch's `Wᵀ·dy` is folded back (col2im)
/// in one product (unless that convolution goes by Winograd); otherwise `Wᵀ·dy_b` is folded back.
extension Tensor {
    /// Gradients of `x.conv2d(weight:bias:stride:padding:)` for the output gradient `dy`; each is
    /// computed only when asked for.
    static func conv2dGradients(_ dy: Tensor, input x: Tensor, weight: Tensor, stride: Int, padding: Padding2D,
                                input wantInput: Bool, weight wantWeight: Bool, bias wantBias: Bool)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let k = cin * kh * kw, p = ho * wo
        let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == .uniform(0)
        var dx: Tensor? = nil
        var dw: Tensor? = nil
        // Per (image, channel), then over the images.
        let db: Tensor? = wantBias ? dy.sumPerChannel().sumOverLeadingAxes() : nil
        // Stride 1: the input gradient is itself a convolution, of dy with the kernel flipped and
        // its channel axes swapped (padding k − 1 − p), and runs on the forward's fast kernels.
        let transposedPadding = Padding2D(top: kh - 1 - padding.top, left: kw - 1 - padding.left,
                                          bottom: kh - 1 - padding.bottom, right: kw - 1 - padding.right)
        // Small planes: Wᵀ·dy for the whole batch in one product, folded back image by image
        // (turning a large kernel around would cost more than the product).
        let batchedInput = wantInput && !pointwise && n > 1 && p <= Tensor.batchedPlaneLimit && k * n * p <= Tensor.batchedGradientLimit
            && !Tensor.inputGradientGoesByWinograd(kh: kh, kw: kw, stride: stride, cin: cin, cout: cout, plane: p)
        if batchedInput {
            dx = Tensor.batchedConvolutionInputGradient(dy, inputShape: x.shape, weight: weight, stride: stride, padding: padding)
        }
        let asConvolution = wantInput && !pointwise && !batchedInput && stride == 1
            && [transposedPadding.top, transposedPadding.left, transposedPadding.bottom, transposedPadding.right].allSatisfy { $0 >= 0 }
        if asConvolution {
            dx = dy.convolved(weight: weight.flippedTransposedKernel(), bias: nil, stride: 1, padding: transposedPadding)
        }
        let wantColumns = wantInput && !asConvolution && !batchedInput
        if wantColumns { dx = Tensor(uninitialized: x.shape) }
        let winogradWeight = wantWeight && Tensor.usesWinogradWeightGradient(kh: kh, kw: kw, stride: stride, cin: cin, cout: cout, images: n, plane: p)
        if winogradWeight {
            dw = Tensor.winogradWeightGradient(dy, input: x, weight: weight, padding: padding)
        }
        let directWeight = wantWeight && !winogradWeight
            && Tensor.usesDirectWeightGradient(cin: cin, cout: cout, stride: stride, plane: p, padding: padding)
        if directWeight {
            dw = Tensor.directConvolutionWeightGradient(dy, input: x, weight: weight, padding: padding)
        }
        // Small planes: the weight gradient of the whole batch in one product, every image's
        // patches side by side, as the forward does (a product per image would sum over only p).
        let batchedWeight = wantWeight && !winogradWeight && !directWeight && n > 1 && k * n * p <= Tensor.batchedGradientLimit
        if batchedWeight {
            dw = Tensor.batchedConvolutionWeightGradient(dy, input: x, weight: weight, stride: stride, padding: padding)
        }
        let perImageWeight = wantWeight && !batchedWeight && !directWeight && !winogradWeight
        if perImageWeight { dw = Tensor(uninitialized: weight.shape) }
        guard wantColumns || perImageWeight else { return (dx, dw, db) }
        let columns = pointwise || !perImageWeight ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * p)
        let columnGradient = wantColumns && !pointwise ? UnsafeMutablePointer<Float>.allocate(capacity: k * p) : nil
        defer { columns?.deallocate(); columnGradient?.deallocate() }
        x.storage.withUnsafeBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                dy.storage.withUnsafeBufferPointer { gs in
                    let (xb, wb, gb) = (xs.baseAddress!, ws.baseAddress!, gs.baseAddress!)
                    for b in 0..<n {
                        let image = xb + b * cin * h * w
                        let g = gb + b * cout * p
                        if perImageWeight {
                            var source = image
                            if let columns {
                                Tensor.im2col(image, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding,
                                              ho: ho, wo: wo, into: columns)
                                source = UnsafePointer(columns)
                            }
                            dw!.storage.withUnsafeMutableBufferPointer { d in
                                BLAS.sgemm(transA: false, transB: true, m: cout, n: k, k: p, a: g, lda: p, b: source, ldb: p,
                                           beta: b == 0 ? 0 : 1, c: d.baseAddress!, ldc: k)
                            }
                        }
                        if wantColumns {
                            dx!.storage.withUnsafeMutableBufferPointer { d in
                                let target = d.baseAddress! + b * cin * h * w
                                // Wᵀ·dy: [k, p]; for a 1x1 convolution that is the image's gradient itself.
                                BLAS.sgemm(transA: true, transB: false, m: k, n: p, k: cout, a: wb, lda: k, b: g, ldb: p,
                                           c: columnGradient ?? target, ldc: p)
                                if let columnGradient {
                                    Tensor.col2im(columnGradient, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride,
                                                  padding: padding, ho: ho, wo: wo, into: target)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// Whether the input gradient of a small plane is the convolution of dy with the flipped kernel
    /// (by Winograd) rather than the batch's `Wᵀ·dy` folded back: without AVX-512, where that
    /// convolution goes by Winograd. On an AVX2 EPYC (2 images, 2 cores): 128 → 128 on 16×16 0.79
    /// against 1.29 ms, 256 → 128 1.09 against 2.65, 64 → 128 0.43 against 1.05. 8×8 planes follow
    /// the forward's batches (`winogradConvolveBatch`), timed as forward convolutions only.
    static func inputGradientGoesByWinograd(kh: Int, kw: Int, stride: Int, cin: Int, cout: Int, plane: Int) -> Bool {
        !BLAS.Kernel.avx512Available && usesWinogradConvolution(kh: kh, kw: kw, stride: stride, cin: cout, cout: cin, plane: plane)
    }

    /// Whether a weight gradient runs on `csd_convolution_weight_gradient`: stride 1, padding not
    /// negative, planes of at least 32×32, up to 320 × 320 channels. Measured against the
    /// unfolded product (2 images, 3×3, 2 cores): 0.93 against 1.78 ms at 32 → 32 channels on
    /// 64×64, 3.1 against 5.5 at 64 → 64, 3.6 against 4.5 at 128 → 128 on 32×32, 22.0 against
    /// 24.6 at SD's 320 → 320; on 16×16 it was slower (2.7 against 1.8 at 128 → 128).
    ///
    /// Without AVX-512 the kernel's AVX2 variant, which sums chunks of 1024 positions per tap from
    /// the L1 cache, gains on the same shapes (2 images, 2 cores, an AVX2 EPYC, against the unfolded
    /// product): 32 → 32 on 64×64 0.97 against 1.49 ms, 96 → 32 2.81 against 5.01, 64 → 64 3.71
    /// against 4.90; 128 → 128 on 32×32 3.82 against 4.48, 192 → 64 2.88 against 3.93; 1×1 kernels
    /// level (64 → 32 on 64×64 0.37 against 0.36); on 16×16 level (128 → 128 1.12 against 1.09).
    static func usesDirectWeightGradient(cin: Int, cout: Int, stride: Int, plane: Int, padding: Padding2D) -> Bool {
        guard csd_convolution_weight_gradient_available() != 0, stride == 1, plane >= 1024, cin * cout <= 320 * 320 else {
            return false
        }
        return [padding.top, padding.left, padding.bottom, padding.right].allSatisfy { $0 >= 0 }
    }

    /// The weight gradient of a stride-1 convolution from padded copies of the images and output
    /// gradients, without unfolding (`csd_convolution_weight_gradient`); blocks of 4 output
    /// channels are split between the cores, each element summed in a fixed order.
    static func directConvolutionWeightGradient(_ dy: Tensor, input x: Tensor, weight: Tensor, padding: Padding2D) -> Tensor {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        var length = 0, plane = 0
        csd_weight_gradient_sizes(ho, wo, kh, kw, &length, &plane)
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: n * cin * plane)
        let gradient = UnsafeMutablePointer<Float>.allocate(capacity: n * cout * length)
        defer { padded.deallocate(); gradient.deallocate() }
        var dw = Tensor(uninitialized: weight.shape)
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                let (xb, gb) = (xs.baseAddress!, gs.baseAddress!)
                parallelFor(n * cin) { bc in
                    csd_weight_gradient_pad_input(xb + bc * h * w, 1, h, w, kh, kw, padding.top, padding.left, ho, wo,
                                                  padded + bc * plane)
                }
                parallelFor(n * cout) { bo in
                    csd_weight_gradient_pad_output(gb + bo * ho * wo, 1, ho, wo, kh, kw, gradient + bo * length)
                }
            }
        }
        let blocks = (cout + 3) / 4
        dw.storage.withUnsafeMutableBufferPointer { d in
            let dp = d.baseAddress!
            parallelFor(blocks) { block in
                _ = csd_convolution_weight_gradient(padded, gradient, n, cin, cout, kh, kw, ho, wo, block * 4,
                                                    min(cout, block * 4 + 4), dp)
            }
        }
        return dw
    }

    /// The batch's unfolded patches (floats) up to which the weight gradient is one product.
    static let batchedGradientLimit = 1 << 24

    /// `dy_wide·col_wideᵀ`: every image's output gradient [Cout, N·P] against its patches
    /// [K, N·P], summed in one product.
    static func batchedConvolutionWeightGradient(_ dy: Tensor, input x: Tensor, weight: Tensor, stride: Int,
                                                 padding: Padding2D) -> Tensor {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let k = cin * kh * kw, p = ho * wo, wide = n * p
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: k * wide)
        let gradient = UnsafeMutablePointer<Float>.allocate(capacity: cout * wide)
        defer { columns.deallocate(); gradient.deallocate() }
        var dw = Tensor(uninitialized: weight.shape)
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                let (xb, gb) = (xs.baseAddress!, gs.baseAddress!)
                for b in 0..<n {
                    Tensor.im2col(xb + b * cin * h * w, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding,
                                  ho: ho, wo: wo, into: columns + b * p, rowStride: wide)
                }
                Tensor.widen(gb, images: n, channels: cout, plane: p, into: gradient)
                dw.storage.withUnsafeMutableBufferPointer { d in
                    BLAS.sgemm(transA: false, transB: true, m: cout, n: k, k: wide, a: gradient, lda: wide, b: columns, ldb: wide,
                               c: d.baseAddress!, ldc: k)
                }
            }
        }
        return dw
    }

    /// [N, C, P] → [C, N·P]: each channel's planes of all images side by side, as one product wants them.
    static func widen(_ source: UnsafePointer<Float>, images n: Int, channels c: Int, plane p: Int, into wide: UnsafeMutablePointer<Float>) {
        parallelFor(n * c) { bc in
            let b = bc / c, ch = bc % c
            (wide + ch * n * p + b * p).update(from: source + bc * p, count: p)
        }
    }

    /// `Wᵀ·dy_wide` [K, N·P] in one product, then each image's columns folded back (col2im).
    static func batchedConvolutionInputGradient(_ dy: Tensor, inputShape: [Int], weight: Tensor, stride: Int,
                                                padding: Padding2D) -> Tensor {
        let (n, cin, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let k = cin * kh * kw, p = ho * wo, wide = n * p
        let gradient = UnsafeMutablePointer<Float>.allocate(capacity: cout * wide)
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: k * wide)
        defer { columns.deallocate(); gradient.deallocate() }
        var dx = Tensor(uninitialized: inputShape)
        dy.storage.withUnsafeBufferPointer { gs in
            weight.storage.withUnsafeBufferPointer { ws in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    let (gb, wb, db) = (gs.baseAddress!, ws.baseAddress!, ds.baseAddress!)
                    Tensor.widen(gb, images: n, channels: cout, plane: p, into: gradient)
                    BLAS.sgemm(transA: true, transB: false, m: k, n: wide, k: cout, a: wb, lda: k, b: gradient, ldb: wide,
                               c: columns, ldc: wide)
                    for b in 0..<n {
                        Tensor.col2im(columns + b * p, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding,
                                      ho: ho, wo: wo, into: db + b * cin * h * w, rowStride: wide)
                    }
                }
            }
        }
        return dx
    }

    /// [Cout, Cin, kh, kw] → [Cin, Cout, kh, kw] with each kernel turned by 180°: the weight of
    /// the convolution that computes a stride-1 convolution's input gradient.
    func flippedTransposedKernel() -> Tensor {
        let (cout, cin, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
        let taps = kh * kw
        var out = Tensor(uninitialized: [cin, cout, kh, kw])
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                parallelFor(cin) { c in
                    for o in 0..<cout {
                        let src = sp + (o * cin + c) * taps, dst = dp + (c * cout + o) * taps
                        for t in 0..<taps { dst[taps - 1 - t] = src[t] }
                    }
                }
            }
        }
        return out
    }

    /// The adjoint of `im2col`: adds each patch column back onto the pixels it was read from,
    /// into a CHW image it overwrites; the column matrix's rows are `rowStride` floats apart. Each channel is folded on one core, in a fixed order.
    static func col2im(_ col: UnsafePointer<Float>, cin: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int,
                       padding: Padding2D, ho: Int, wo: Int, into image: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let p = rowStride ?? ho * wo
        parallelFor(cin) { c in
            let plane = image + c * h * w
            plane.update(repeating: 0, count: h * w)
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * p
                    // The columns ox whose pixel ix = ox·stride + j − left lies inside the row.
                    let shift = j - padding.left
                    let first = shift >= 0 ? 0 : (-shift + stride - 1) / stride
                    let last = min(wo, w - shift <= 0 ? 0 : (w - 1 - shift) / stride + 1)
                    guard first < last else { continue }
                    for oy in 0..<ho {
                        let iy = oy * stride + i - padding.top
                        guard iy >= 0 && iy < h else { continue }
                        let dst = plane + iy * w + shift, src = row + oy * wo
                        if stride == 1 {
                            for ox in first..<last { dst[ox] += src[ox] }
                        } else {
                            for ox in first..<last { dst[ox * stride] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}
