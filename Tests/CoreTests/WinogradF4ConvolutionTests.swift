import CVectorKernels
import Testing
@testable import Core

/// Winograd's F(4×4, 3×3) (CPUs with AVX2) against the unfolded product (im2col + sgemm).
@Suite struct WinogradF4ConvolutionTests {
    static let available = csd_winograd4_available() != 0 && Tensor.winogradOwnProducts

    /// The largest difference from the unfolded product allowed, as a share of the largest
    /// output. F(4×4, 3×3)'s transforms scale terms by up to 8 that then cancel, so it rounds more
    /// than F(2×2, 3×3): against sums in double precision (320 → 16 channels on 32×32, random
    /// normal input and weights, largest output 230) it erred by up to 2.3e-3, F(2×2, 3×3) by
    /// 1.4e-4 and the unfolded product by 6.8e-5; 1280 channels on 16×16 (largest 447) 7.7e-3,
    /// 5.0e-4 and 1.1e-4.
    static let tolerance: Float = 4e-5

    /// Sides that are not multiples of 4 (tiles cut at the edges), one-sided and no padding,
    /// channels that are not multiples of 8 or of the products' 6 rows, tile rows longer than
    /// a vector of 8 tiles, a batch cut into several blocks of tiles, and planes of 16×16 or less
    /// (under 64 tiles an image), which go in one batch with the weights transformed a few output
    /// channels at a time (600 input channels: 48 a time, so 64 take two turns).
    @Test(.enabled(if: available, "this CPU has no AVX2 or has AVX-512"), arguments: [
        (1, 32, 32, 64, 64, Padding2D.uniform(1)),
        (2, 64, 64, 33, 35, Padding2D.uniform(1)),
        (1, 13, 7, 18, 23, Padding2D.uniform(0)),
        (1, 40, 20, 21, 19, Padding2D(top: 0, left: 1, bottom: 2, right: 1)),
        (3, 320, 96, 32, 32, Padding2D.uniform(1)),
        (1, 9, 11, 6, 6, Padding2D.uniform(1)),
        (2, 100, 50, 16, 16, Padding2D.uniform(1)),
        (2, 320, 24, 16, 16, Padding2D.uniform(1)),
        (3, 64, 40, 14, 15, Padding2D.uniform(1)),
        (1, 600, 64, 16, 16, Padding2D.uniform(1)),
    ])
    func agreesWithTheUnfoldedProduct(n: Int, cin: Int, cout: Int, h: Int, w: Int, padding: Padding2D) {
        var rng = RandomGenerator(seed: 11)
        let x = rng.normal([n, cin, h, w]), weight = rng.normal([cout, cin, 3, 3]), bias = rng.normal([cout])
        let (ho, wo) = (h + padding.top + padding.bottom - 2, w + padding.left + padding.right - 2)
        for b in [bias, nil] {
            var f4 = Tensor(zeros: [n, cout, ho, wo])
            x.winogradConvolve(weight: weight, bias: b, padding: padding, ho: ho, wo: wo, into: &f4, outputTile: 4)
            let unfolded = x.convolved(weight: weight, bias: b, stride: 1, padding: padding, direct: false)
            let scale = unfolded.storage.map { abs($0) }.max() ?? 1
            let worst = zip(f4.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= Self.tolerance * scale, "\(n)×\(cin)×\(h)×\(w) → \(cout), \(padding), bias \(b != nil): max |Δ| \(worst) of \(scale)")
        }
    }

    /// The choice, where the CPU has AVX2 but not AVX-512: F(4×4, 3×3) for output planes of 32×32
    /// and more, and of 16×16 and more from 320 input channels; F(2×2, 3×3) below.
    @Test func largePlanesTakeF4WithoutAVX512() {
        #expect(Tensor.usesWinogradF4(cin: 320, cout: 320, ho: 32, wo: 32) == Self.available)
        #expect(Tensor.usesWinogradF4(cin: 32, cout: 32, ho: 64, wo: 64) == Self.available)
        #expect(Tensor.usesWinogradF4(cin: 640, cout: 640, ho: 16, wo: 16) == Self.available)
        #expect(Tensor.usesWinogradF4(cin: 320, cout: 640, ho: 16, wo: 16) == Self.available)
        #expect(!Tensor.usesWinogradF4(cin: 128, cout: 128, ho: 16, wo: 16))
        #expect(!Tensor.usesWinogradF4(cin: 1280, cout: 1280, ho: 8, wo: 8))
    }
}
