import CVectorKernels

/// Products of a long A and a B of few columns on `csd_streamed_product`, where the CPU has AVX2
/// but not AVX-512 and products would otherwise go to OpenBLAS's Haswell kernels: those copy all
/// of A into their packed form, which for SD's 3×3 convolutions on 4×4 planes (1280 · 11520 · 32,
/// 59 MB of weights for 0.94 GFLOP) costs more than the sums. The rows of C are split between the
/// cores; each element is summed over k in the same order whatever the split.
extension BLAS {
    /// Columns of B up to which `streamedProduct` is used.
    static let streamedColumnLimit = 32

    /// Whether a product [m, k] · [k, n] goes through `streamedProduct` on this CPU: few columns,
    /// enough work to be worth splitting, and `fp32Kernels` not set to OpenBLAS alone.
    static func prefersStreamedProduct(m: Int, n: Int, k: Int) -> Bool {
        streamedProductsAvailable && fp32Kernels != .openBLAS && ComputePrecision.current == .fp32
            && n <= streamedColumnLimit && m * n * k >= tiledWork
    }

    static let streamedProductsAvailable = !Kernel.avx512Available && csd_streamed_product_available() != 0

    /// C = A·B (row-major; A [m, k], `lda` apart; B [k, n], `ldb` apart, or [n, k] where
    /// `transposedB`) into C, whose rows `ldc` apart are written up to n rounded up to 16 (zeros
    /// past n). Returns false where the CPU lacks AVX2 or memory ran out (C is then unspecified).
    static func streamedProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                                ldb: Int, transposedB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        precondition(ldc >= (n + 15) / 16 * 16, "streamedProduct: rows of C shorter than \(n) columns rounded up to 16")
        let parts = min(Parallelism.workers, max(1, m / 6))
        var failed = [Bool](repeating: false, count: parts)
        failed.withUnsafeMutableBufferPointer { flags in
            parallelFor(parts) { part in
                let (o0, o1) = (m * part / parts, m * (part + 1) / parts)
                flags[part] = csd_streamed_product(a, lda, k, b, ldb, transposedB ? 1 : 0, n, c, ldc, o0, o1) != 0
            }
        }
        return !failed.contains(true)
    }
}
