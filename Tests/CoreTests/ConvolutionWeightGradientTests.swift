import CVectorKernels
import Testing
@testable import Core

/// `csd_convolution_weight_gradient` (stride 1, large planes) against the unfolded product,
/// which the torch.autograd fixtures check: odd channel counts (blocks of 4 with remainders),
/// rectangular kernels, asymmetric padding, one and two images.
@Suite struct ConvolutionWeightGradientTests {
    struct Case {
        let n: Int, cin: Int, cout: Int, h: Int, w: Int, kh: Int, kw: Int, padding: Padding2D
    }

    static let cases = [
        Case(n: 2, cin: 5, cout: 3, h: 33, w: 35, kh: 3, kw: 3, padding: .uniform(1)),
        Case(n: 1, cin: 3, cout: 7, h: 32, w: 40, kh: 3, kw: 2, padding: Padding2D(top: 0, left: 2, bottom: 1, right: 0)),
        Case(n: 2, cin: 8, cout: 4, h: 40, w: 32, kh: 1, kw: 1, padding: .uniform(0)),
        Case(n: 3, cin: 6, cout: 9, h: 36, w: 36, kh: 3, kw: 3, padding: .uniform(0)),
    ]

    @Test(.enabled(if: csd_convolution_weight_gradient_available() != 0, "this CPU has neither AVX-512 nor AVX2"), arguments: cases)
    func directWeightGradientMatchesTheUnfoldedProduct(_ c: Case) {
        var rng = RandomGenerator(seed: 21)
        let x = rng.normal([c.n, c.cin, c.h, c.w]), weight = rng.normal([c.cout, c.cin, c.kh, c.kw])
        let ho = c.h + c.padding.top + c.padding.bottom - c.kh + 1, wo = c.w + c.padding.left + c.padding.right - c.kw + 1
        let dy = rng.normal([c.n, c.cout, ho, wo])
        #expect(Tensor.usesDirectWeightGradient(cin: c.cin, cout: c.cout, stride: 1, plane: ho * wo, padding: c.padding))
        let direct = Tensor.directConvolutionWeightGradient(dy, input: x, weight: weight, padding: c.padding)
        let unfolded = Tensor.batchedConvolutionWeightGradient(dy, input: x, weight: weight, stride: 1, padding: c.padding)
        let scale = unfolded.maxAbs
        let difference = direct.maxAbsDifference(unfolded)
        #expect(difference <= 1e-5 * scale, "largest difference \(difference) of \(scale)")
        // Through conv2dGradients, which picks the direct kernel for this shape.
        let picked = Tensor.conv2dGradients(dy, input: x, weight: weight, stride: 1, padding: c.padding,
                                            input: false, weight: true, bias: false).weight!
        #expect(picked.storage == direct.storage)
    }

    /// Without AVX-512, the AVX2 kernel takes the planes of 32×32 or more, where it was measured
    /// faster than the unfolded product, and agrees with it over several chunks of positions, an
    /// odd input channel and a partial block of output channels.
    @Test(.enabled(if: csd_convolution_weight_gradient_available() != 0 && !BLAS.Kernel.avx512Available, "not an AVX2-only CPU"))
    func theAVX2KernelTakesPlanesOf32x32AndMore() {
        #expect(Tensor.usesDirectWeightGradient(cin: 64, cout: 64, stride: 1, plane: 64 * 64, padding: .uniform(1)))
        #expect(Tensor.usesDirectWeightGradient(cin: 128, cout: 128, stride: 1, plane: 32 * 32, padding: .uniform(1)))
        #expect(Tensor.usesDirectWeightGradient(cin: 192, cout: 64, stride: 1, plane: 32 * 32, padding: .uniform(1)))
        #expect(!Tensor.usesDirectWeightGradient(cin: 128, cout: 128, stride: 1, plane: 16 * 16, padding: .uniform(1)))
        var rng = RandomGenerator(seed: 22)
        let x = rng.normal([2, 7, 64, 64]), weight = rng.normal([6, 7, 3, 3]), dy = rng.normal([2, 6, 64, 64])
        let picked = Tensor.conv2dGradients(dy, input: x, weight: weight, stride: 1, padding: .uniform(1),
                                            input: false, weight: true, bias: false).weight!
        let unfolded = Tensor.batchedConvolutionWeightGradient(dy, input: x, weight: weight, stride: 1, padding: .uniform(1))
        #expect(picked.maxAbsDifference(unfolded) <= 1e-5 * unfolded.maxAbs)
    }
}
