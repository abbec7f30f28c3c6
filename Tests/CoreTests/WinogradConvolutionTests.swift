import CVectorKernels
import Testing
@testable import Core

/// Winograd's F(2×2, 3×3) against the unfolded product (im2col + sgemm) it replaces.
@Suite struct WinogradConvolutionTests {
    @Test(arguments: [
        (1, 256, 256, 64, 64, Padding2D.uniform(1)),
        (2, 256, 256, 64, 64, Padding2D.uniform(1)),                          // jobs across two images
        (1, 256, 260, 65, 65, Padding2D.uniform(1)),                          // odd sides: half tiles at the edges
        (1, 300, 256, 66, 66, Padding2D.uniform(0)),
        (1, 256, 256, 65, 64, Padding2D(top: 0, left: 1, bottom: 2, right: 1)),
    ])
    func winogradAgreesWithTheUnfoldedProduct(n: Int, cin: Int, cout: Int, h: Int, w: Int, padding: Padding2D) {
        var rng = RandomGenerator(seed: 5)
        let x = rng.normal([n, cin, h, w]), weight = rng.normal([cout, cin, 3, 3]), bias = rng.normal([cout])
        let plane = (h + padding.top + padding.bottom - 2) * (w + padding.left + padding.right - 2)
        #expect(Tensor.usesWinogradConvolution(kh: 3, kw: 3, stride: 1, cin: cin, cout: cout, plane: plane))
        let (ho, wo) = (h + padding.top + padding.bottom - 2, w + padding.left + padding.right - 2)
        let f4 = Tensor.usesWinogradF4(cin: cin, cout: cout, ho: ho, wo: wo)
        for b in [bias, nil] {
            let winograd = x.conv2d(weight: weight, bias: b, padding: padding)
            var f2 = Tensor(zeros: [n, cout, ho, wo])
            x.winogradConvolve(weight: weight, bias: b, padding: padding, ho: ho, wo: wo, into: &f2, outputTile: 2)
            let unfolded = x.convolved(weight: weight, bias: b, stride: 1, padding: padding, direct: false)
            #expect(winograd.shape == unfolded.shape)
            let scale = unfolded.storage.map { abs($0) }.max() ?? 1
            let worst = zip(winograd.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
            let worstF2 = zip(f2.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
            // F(4×4, 3×3) (where chosen) loses more: see `WinogradF4ConvolutionTests`.
            #expect(worst <= (f4 ? WinogradF4ConvolutionTests.tolerance : 1e-5) * scale,
                    "\(n)×\(cin)×\(h)×\(w) → \(cout), \(padding), bias \(b != nil), F4 \(f4): max |Δ| \(worst) of \(scale)")
            #expect(worstF2 <= 1e-5 * scale, "F(2×2, 3×3): max |Δ| \(worstF2) of \(scale)")
        }
    }

    /// The bundled prior's convolutions (32–128 channels, planes of 16² to 64²) go by Winograd
    /// only on a CPU without AVX-512 (where the direct kernel is AVX2's, slower on them), and either way
    /// agree with the unfolded product.
    @Test(arguments: [(32, 32, 64, 64), (64, 128, 32, 32), (128, 128, 16, 16), (96, 32, 64, 64), (128, 128, 8, 8)])
    func thePriorsConvolutionsTakeWinogradWithoutAVX512(cin: Int, cout: Int, h: Int, w: Int) {
        #expect(Tensor.usesWinogradConvolution(kh: 3, kw: 3, stride: 1, cin: cin, cout: cout, plane: h * w) == !BLAS.Kernel.avx512Available)
        var rng = RandomGenerator(seed: 7)
        let x = rng.normal([2, cin, h, w]), weight = rng.normal([cout, cin, 3, 3]), bias = rng.normal([cout])
        let chosen = x.conv2d(weight: weight, bias: bias, padding: .uniform(1))
        let unfolded = x.convolved(weight: weight, bias: bias, stride: 1, padding: .uniform(1), direct: false)
        let scale = unfolded.storage.map { abs($0) }.max() ?? 1
        let worst = zip(chosen.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "\(cin)×\(h)×\(w) → \(cout): max |Δ| \(worst) of \(scale)")
    }

    /// Planes under 16×16 (fewer than 64 tiles an image) go in blocks of several images, the
    /// products split between the cores by output channel: against the unfolded product, with
    /// odd sides, channels that are not multiples of the products' 6 rows, one image, three, and
    /// 36 images of 16 tiles (groups of 16, 16 and 4).
    @Test(.enabled(if: Tensor.winogradOwnProducts, "the products are OpenBLAS's on this CPU"),
          arguments: [(2, 64, 96, 8, 8), (3, 40, 33, 7, 9), (1, 600, 64, 8, 8), (2, 32, 32, 12, 12), (36, 32, 40, 8, 8)])
    func smallPlanesGoInOneBatch(n: Int, cin: Int, cout: Int, h: Int, w: Int) {
        var rng = RandomGenerator(seed: 13)
        let x = rng.normal([n, cin, h, w]), weight = rng.normal([cout, cin, 3, 3]), bias = rng.normal([cout])
        #expect((h + 1) / 2 * ((w + 1) / 2) < Tensor.winogradFewTiles)
        var winograd = Tensor(zeros: [n, cout, h, w])
        x.winogradConvolve(weight: weight, bias: bias, padding: .uniform(1), ho: h, wo: w, into: &winograd, outputTile: 2)
        let unfolded = x.convolved(weight: weight, bias: bias, stride: 1, padding: .uniform(1), direct: false)
        let scale = unfolded.storage.map { abs($0) }.max() ?? 1
        let worst = zip(winograd.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "\(n)×\(cin)×\(h)×\(w) → \(cout): max |Δ| \(worst) of \(scale)")
    }

    /// Under bf16 the products round Winograd's transformed operands: close to fp32, not equal.
    @Test func bf16StaysNearFP32() {
        guard ComputePrecision.bf16.isAvailable else { return }
        var rng = RandomGenerator(seed: 6)
        let x = rng.normal([1, 256, 64, 64]), weight = rng.normal([256, 256, 3, 3])
        let fp32 = x.conv2d(weight: weight, bias: nil, padding: .uniform(1))
        let bf16 = ComputePrecision.with(.bf16) { x.conv2d(weight: weight, bias: nil, padding: .uniform(1)) }
        let scale = fp32.storage.map { abs($0) }.max() ?? 1
        let worst = zip(fp32.storage, bf16.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst > 1e-6 * scale && worst < 0.02 * scale, "max |Δ| \(worst) of \(scale)")
    }

    /// `csd_winograd_products` (the 16 products without AVX-512) against sums in double precision:
    /// rows left over from blocks of 6 (and of 12 in blocks of 8 columns), input channels in several
    /// chunks (past 256), columns past the last 16 (a block of 8, and part of one), rows of v and m
    /// longer than the columns used, and a range of the output
    /// channels (the rest left as they were).
    @Test(.enabled(if: csd_winograd_products_available() != 0, "this CPU has no AVX2"),
          arguments: [(32, 32, 1024, 1040, 0, 32), (13, 7, 37, 48, 0, 7), (64, 260, 65, 80, 0, 260), (600, 11, 70, 96, 0, 11),
                      (40, 50, 33, 64, 7, 29), (100, 30, 8, 16, 0, 30), (300, 13, 20, 32, 2, 13), (7, 25, 3, 8, 0, 25)])
    func theOwnProductsMatchSumsInDoublePrecision(cin: Int, cout: Int, count: Int, ld: Int, oBegin: Int, oEnd: Int) {
        var rng = RandomGenerator(seed: 9)
        // Planes `csd_winograd_plane` apart, as the transforms lay them out.
        let (planeV, planeM) = (csd_winograd_plane(cin, ld), csd_winograd_plane(cout, ld))
        #expect(planeV >= cin * ld && planeM >= cout * ld && (planeV / 16) % 2 == 1 && (planeM / 16) % 2 == 1)
        let u = rng.normal([16, cout, cin]), v = rng.normal([16 * planeV])
        var m = [Float](repeating: .nan, count: 16 * planeM)
        let status = u.storage.withUnsafeBufferPointer { us in
            v.storage.withUnsafeBufferPointer { vs in
                m.withUnsafeMutableBufferPointer { ms in
                    csd_winograd_products(us.baseAddress!, cout * cin, vs.baseAddress!, ms.baseAddress!, cout, cin, count, ld, ld, 16, oBegin, oEnd)
                }
            }
        }
        #expect(status == 0)
        var worst = 0.0
        for xi in 0..<16 {
            for o in 0..<cout {
                guard (oBegin..<oEnd).contains(o) else {
                    #expect(m[xi * planeM + o * ld].isNaN)
                    continue
                }
                for j in 0..<count {
                    var sum = 0.0
                    for i in 0..<cin { sum += Double(u.storage[(xi * cout + o) * cin + i]) * Double(v.storage[xi * planeV + i * ld + j]) }
                    worst = max(worst, abs(sum - Double(m[xi * planeM + o * ld + j])))
                }
                // Columns past `count` are left as they were.
                #expect(m[xi * planeM + o * ld + count].isNaN)
            }
        }
        #expect(worst <= 1e-5 * Double(cin), "max |Δ| \(worst)")
    }

    /// `csd_winograd_products_from_weights` (the weights transformed a few output channels at a
    /// time) gives the same bytes as the whole transform followed by `csd_winograd_products`, for
    /// F(2×2) and F(4×4): 600 input channels take 108 and 48 output channels a turn, so 130 take
    /// two and three turns, one of them cut by the range's end.
    @Test(.enabled(if: csd_winograd_products_available() != 0 && csd_winograd4_available() != 0, "this CPU has no AVX2"),
          arguments: [(2, 600, 130, 20, 3, 125), (4, 600, 130, 20, 0, 130), (2, 40, 33, 37, 5, 33), (4, 13, 7, 8, 0, 7)])
    func productsFromTheWeightsEqualTheTwoSteps(size: Int, cin: Int, cout: Int, count: Int, oBegin: Int, oEnd: Int) {
        var rng = RandomGenerator(seed: 17)
        let planes = (size + 2) * (size + 2), ld = count + 16
        let (planeV, planeM) = (csd_winograd_plane(cin, ld), csd_winograd_plane(cout, ld))
        let g = rng.normal([cout, cin, 3, 3]), v = rng.normal([planes * planeV])
        var u = [Float](repeating: 0, count: planes * cout * cin)
        var (twoSteps, fused) = ([Float](repeating: .nan, count: planes * planeM), [Float](repeating: .nan, count: planes * planeM))
        let status = g.storage.withUnsafeBufferPointer { gs in
            v.storage.withUnsafeBufferPointer { vs in
                u.withUnsafeMutableBufferPointer { us in
                    (size == 4 ? csd_winograd4_weights : csd_winograd_weights)(gs.baseAddress!, cout, cin, 0, cout, us.baseAddress!, cout * cin)
                    let first = twoSteps.withUnsafeMutableBufferPointer { ms in
                        csd_winograd_products(us.baseAddress!, cout * cin, vs.baseAddress!, ms.baseAddress!, cout, cin, count, ld, ld, planes, oBegin, oEnd)
                    }
                    let second = fused.withUnsafeMutableBufferPointer { ms in
                        csd_winograd_products_from_weights(gs.baseAddress!, cout, cin, Int32(size), vs.baseAddress!, ms.baseAddress!,
                                                           count, ld, ld, oBegin, oEnd)
                    }
                    return (first, second)
                }
            }
        }
        #expect(status == (0, 0))
        var (same, written) = (true, 0)
        for i in 0..<twoSteps.count where !(twoSteps[i].isNaN && fused[i].isNaN) {
            same = same && twoSteps[i].bitPattern == fused[i].bitPattern
            written += 1
        }
        #expect(same && written == planes * (oEnd - oBegin) * count)
    }

    /// The weight gradient by Winograd (the adjoint of its forward) against the unfolded product's,
    /// which the torch.autograd fixtures check: odd sides (half tiles at the edges), asymmetric
    /// and no padding, one and three images.
    @Test(arguments: [
        (2, 32, 32, 16, 16, Padding2D.uniform(1)),
        (1, 33, 40, 17, 15, Padding2D.uniform(1)),
        (3, 8, 5, 9, 12, Padding2D(top: 0, left: 1, bottom: 2, right: 1)),
        (2, 16, 24, 20, 20, Padding2D.uniform(0)),
    ])
    func theWeightGradientAgreesWithTheUnfoldedProduct(n: Int, cin: Int, cout: Int, h: Int, w: Int, padding: Padding2D) {
        var rng = RandomGenerator(seed: 13)
        let x = rng.normal([n, cin, h, w]), weight = rng.normal([cout, cin, 3, 3])
        let (ho, wo) = (h + padding.top + padding.bottom - 2, w + padding.left + padding.right - 2)
        let dy = rng.normal([n, cout, ho, wo])
        let winograd = Tensor.winogradWeightGradient(dy, input: x, weight: weight, padding: padding)
        let unfolded = Tensor.batchedConvolutionWeightGradient(dy, input: x, weight: weight, stride: 1, padding: padding)
        #expect(winograd.shape == unfolded.shape)
        let scale = unfolded.maxAbs
        #expect(winograd.maxAbsDifference(unfolded) <= 1e-5 * scale, "max |Δ| \(winograd.maxAbsDifference(unfolded)) of \(scale)")
    }

    /// Without AVX-512, Winograd takes the weight gradients of the 3×3 layers whose forward it takes
    /// (32+ channels each way on 16×16 and larger), the prior's and SD's; its result agrees with the
    /// unfolded product's there too.
    @Test func theWeightGradientGoesByWinogradWhereTheForwardDoesWithoutAVX512() {
        #expect(Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 320, cout: 320, images: 2, plane: 32 * 32) == !BLAS.Kernel.avx512Available)
        #expect(Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 1280, cout: 640, images: 2, plane: 16 * 16) == !BLAS.Kernel.avx512Available)
        #expect(Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 128, cout: 128, images: 2, plane: 32 * 32) == !BLAS.Kernel.avx512Available)
        #expect(Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 256, cout: 128, images: 2, plane: 16 * 16) == !BLAS.Kernel.avx512Available)
        #expect(!Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 16, cout: 32, images: 2, plane: 64 * 64))
        #expect(!Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 2, cin: 320, cout: 320, images: 2, plane: 32 * 32))
        #expect(!Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 1280, cout: 1280, images: 2, plane: 8 * 8))
        // Too large to hold transformed: a VAE's 128-channel layer at 512×512.
        #expect(!Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 128, cout: 128, images: 1, plane: 512 * 512))
        #expect(Tensor.usesWinogradWeightGradient(kh: 3, kw: 3, stride: 1, cin: 320, cout: 320, images: 2, plane: 64 * 64)
                == !BLAS.Kernel.avx512Available)
        var rng = RandomGenerator(seed: 14)
        let x = rng.normal([1, 320, 16, 16]), weight = rng.normal([320, 320, 3, 3]), dy = rng.normal([1, 320, 16, 16])
        let picked = Tensor.conv2dGradients(dy, input: x, weight: weight, stride: 1, padding: .uniform(1),
                                            input: false, weight: true, bias: false).weight!
        let unfolded = Tensor.batchedConvolutionWeightGradient(dy, input: x, weight: weight, stride: 1, padding: .uniform(1))
        #expect(picked.maxAbsDifference(unfolded) <= 1e-5 * unfolded.maxAbs)
    }

    /// The weight transform U = G g Gᵀ (8 input channels at a time where the CPU has AVX2, one at
    /// a time for the rest) against the matrices written out in double precision: 13 input
    /// channels, so both run.
    @Test func theWeightTransformIsGgGTransposed() {
        let (cout, cin) = (3, 13)
        var rng = RandomGenerator(seed: 31)
        let g = rng.normal([cout, cin, 3, 3])
        var u = [Float](repeating: .nan, count: 16 * cout * cin)
        g.storage.withUnsafeBufferPointer { gp in
            u.withUnsafeMutableBufferPointer { up in csd_winograd_weights(gp.baseAddress!, cout, cin, 0, cout, up.baseAddress!, cout * cin) }
        }
        let gm: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var largest = 0.0
        for o in 0..<cout {
            for c in 0..<cin {
                for i in 0..<4 {
                    for j in 0..<4 {
                        var sum = 0.0
                        for a in 0..<3 {
                            for b in 0..<3 { sum += gm[i][a] * Double(g.storage[(o * cin + c) * 9 + a * 3 + b]) * gm[j][b] }
                        }
                        largest = max(largest, abs(sum - Double(u[(i * 4 + j) * cout * cin + o * cin + c])))
                    }
                }
            }
        }
        #expect(largest < 1e-5, "largest difference \(largest)")
    }

    /// Without AVX-512 the input gradients of the prior's 16×16 layers are the convolution of dy
    /// with the flipped kernel, by Winograd; either way they agree with the batch's `Wᵀ·dy` folded back.
    @Test(arguments: [(128, 128), (256, 128), (64, 128)])
    func smallPlanesInputGradientsGoByWinogradWithoutAVX512(cin: Int, cout: Int) {
        let byWinograd = Tensor.inputGradientGoesByWinograd(kh: 3, kw: 3, stride: 1, cin: cin, cout: cout, plane: 16 * 16)
        #expect(byWinograd == !BLAS.Kernel.avx512Available)
        #expect(!Tensor.inputGradientGoesByWinograd(kh: 3, kw: 3, stride: 2, cin: cin, cout: cout, plane: 16 * 16))
        var rng = RandomGenerator(seed: 17)
        let x = rng.normal([2, cin, 16, 16]), weight = rng.normal([cout, cin, 3, 3]), dy = rng.normal([2, cout, 16, 16])
        let picked = Tensor.conv2dGradients(dy, input: x, weight: weight, stride: 1, padding: .uniform(1),
                                            input: true, weight: false, bias: false).input!
        let folded = Tensor.batchedConvolutionInputGradient(dy, inputShape: x.shape, weight: weight, stride: 1, padding: .uniform(1))
        #expect(picked.maxAbsDifference(folded) <= 1e-5 * folded.maxAbs)
        if byWinograd {
            let convolved = dy.convolved(weight: weight.flippedTransposedKernel(), bias: nil, stride: 1, padding: .uniform(1))
            #expect(picked.storage == convolved.storage)
        }
    }
}
