import CVectorKernels
import Testing
@testable import Core

/// `csd_streamed_product` against sums in double precision, its promise that the bytes do not
/// depend on how the rows are split, and the convolutions and linear layers that take it.
@Suite struct StreamedProductTests {
    static let available = csd_streamed_product_available() != 0

    /// Rows o_begin..<o_end of A·B (B as [k, n], or [n, k] where `transposed`) in one call, into a
    /// C of rows `ld` apart.
    static func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposed: Bool, ranges: [Range<Int>]) -> [Float] {
        let ld = (n + 15) / 16 * 16
        var c = [Float](repeating: .nan, count: m * ld)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    for r in ranges {
                        let status = csd_streamed_product(ap.baseAddress!, k, k, bp.baseAddress!, transposed ? k : n, transposed ? 1 : 0,
                                                          n, cp.baseAddress!, ld, r.lowerBound, r.upperBound)
                        #expect(status == 0)
                    }
                }
            }
        }
        return c
    }

    /// Rows of 1–6 past the last six, columns past the last 16 (and fewer than 8), terms past the
    /// last chunk of 512, both layouts of B.
    @Test(.enabled(if: available, "the kernel needs AVX2 and FMA"),
          arguments: [(13, 32, 1100, false), (7, 5, 40, false), (20, 21, 513, true), (6, 16, 1024, true), (1, 3, 7, true)])
    func matchesSumsInDoublePrecision(m: Int, n: Int, k: Int, transposed: Bool) {
        var rng = RandomGenerator(seed: UInt64(m * 1000 + n))
        let a = rng.normal([m * k]).storage, b = rng.normal([k * n]).storage
        let ld = (n + 15) / 16 * 16
        let c = Self.product(a, b, m: m, n: n, k: k, transposed: transposed, ranges: [0..<m])
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var (sum, scale) = (0.0, 1e-30)
                for p in 0..<k {
                    let term = Double(a[i * k + p]) * Double(transposed ? b[j * k + p] : b[p * n + j])
                    sum += term
                    scale += abs(term)
                }
                worst = max(worst, abs(Double(c[i * ld + j]) - sum) / scale)
            }
            for j in n..<ld { #expect(c[i * ld + j] == 0, "column \(j) past n is not zero") }
        }
        #expect(worst < 1e-6, "worst error \(worst) of the sums' scale")
    }

    @Test(.enabled(if: available, "the kernel needs AVX2 and FMA"))
    func theBytesDoNotDependOnHowTheRowsAreSplit() {
        let (m, n, k) = (50, 24, 700)
        var rng = RandomGenerator(seed: 5)
        let a = rng.normal([m * k]).storage, b = rng.normal([k * n]).storage
        let whole = Self.product(a, b, m: m, n: n, k: k, transposed: false, ranges: [0..<m])
        let split = Self.product(a, b, m: m, n: n, k: k, transposed: false, ranges: [0..<17, 17..<18, 18..<50])
        #expect(whole == split)
    }

    /// SD's 3×3 convolution on 4×4 planes (narrowed to 320 channels) and a linear layer on 32 tokens
    /// go through the streamed product on a CPU with AVX2 but not AVX-512, and agree with OpenBLAS's
    /// products within the rounding of sums over 2880 and 640 terms.
    @Test(.enabled(if: BLAS.streamedProductsAvailable, "the streamed product runs where the CPU has AVX2 but not AVX-512"))
    func convolutionsOnSmallPlanesAndLinearLayersOnFewRowsTakeIt() {
        #expect(BLAS.prefersStreamedProduct(m: 320, n: 32, k: 2880))
        #expect(BLAS.prefersStreamedProduct(m: 1280, n: 32, k: 640))
        #expect(!BLAS.prefersStreamedProduct(m: 1280, n: 128, k: 640), "128 columns stay on OpenBLAS")
        var rng = RandomGenerator(seed: 11)
        let x = rng.normal([2, 320, 4, 4]), w = rng.normal([320, 320, 3, 3]), bias = rng.normal([320])
        let tokens = rng.normal([2, 16, 640]), lw = rng.normal([1280, 640]), lb = rng.normal([1280])
        let streamed = (x.conv2d(weight: w, bias: bias, padding: .uniform(1)), tokens.linear(weight: lw, bias: lb))
        BLAS.fp32Kernels = .openBLAS
        defer { BLAS.fp32Kernels = .automatic }
        #expect(!BLAS.prefersStreamedProduct(m: 320, n: 32, k: 2880), "OpenBLAS alone when asked")
        let reference = (x.conv2d(weight: w, bias: bias, padding: .uniform(1)), tokens.linear(weight: lw, bias: lb))
        for (got, want, terms) in [(streamed.0, reference.0, 2880.0), (streamed.1, reference.1, 640.0)] {
            #expect(got.shape == want.shape)
            let worst = zip(got.storage, want.storage).map { abs($0 - $1) }.max()!
            #expect(worst < Float(terms.squareRoot() * 4e-6 * 3), "largest difference \(worst)")
        }
    }
}
