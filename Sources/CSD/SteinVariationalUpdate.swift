import Core
import Foundation

/// The Stein variational gradient descent step of Collaborative Score Distillation
/// (Kim et al. 2023, eq. 7; Liu & Wang 2016):
/// `Δx_i = (1/N) Σ_j [k(x_j, x_i)·s_j + ∇_{x_j} k(x_j, x_i)]`, with `s_j` the score of particle j
/// (the negative of its SDS/DDS gradient), an RBF kernel `k(x_i, x_j) = exp(−‖x_i − x_j‖² / h)` and
/// the median heuristic `h = scale · med(‖x_i − x_j‖²) / log(N + 1)` (median over all N² pairs).
/// The repulsive term is in closed form: `Σ_j ∇_{x_j} k(x_j, x_i) = (2/h) Σ_j k_ij (x_i − x_j)`.
/// Pairwise distances and both sums are BLAS products, so the step costs O(N²·D).
public struct SteinVariationalUpdate: Sendable {
    /// How the kernel-weighted sum is normalised.
    public enum Normalization: String, CaseIterable, Sendable {
        /// `1/N`, as in SVGD.
        case particleCount
        /// `1/Σ_j k_ij`: each particle's step is a kernel-weighted average, so coupling does
        /// not shrink the edit strength.
        case kernelRowSum
    }

    public var normalization: Normalization
    /// Multiplies the median-heuristic bandwidth.
    public var bandwidthScale: Float

    public init(normalization: Normalization = .particleCount, bandwidthScale: Float = 1) {
        self.normalization = normalization
        self.bandwidthScale = bandwidthScale
    }

    /// What one step computed.
    public struct Step: Sendable {
        /// Δx, [N, D] flattened like the scores.
        public var update: Tensor
        /// The kernel matrix [N, N].
        public var kernel: Tensor
        public var bandwidth: Float
        /// ‖repulsive part‖ / ‖driving part‖ of the update, summed over particles.
        public var repulsionRatio: Float
    }

    /// `kernelInputs` [N, D'] (what the kernel sees: the particles, noisy or clean, or features of
    /// them) and `scores` [N, D] (one row per particle, any shape after the first axis).
    public func step(kernelInputs: Tensor, scores: Tensor) -> Step {
        let n = kernelInputs.shape[0]
        precondition(scores.shape[0] == n, "SVGD: \(scores.shape[0]) scores for \(n) particles")
        let dk = kernelInputs.count / n, d = scores.count / n
        // Squared distances from the Gram matrix.
        var gram = [Float](repeating: 0, count: n * n)
        kernelInputs.storage.withUnsafeBufferPointer { x in
            gram.withUnsafeMutableBufferPointer { g in
                BLAS.sgemm(transA: false, transB: true, m: n, n: n, k: dk, a: x.baseAddress!, lda: dk, b: x.baseAddress!, ldb: dk,
                           c: g.baseAddress!, ldc: n)
            }
        }
        var squared = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { squared[i * n + j] = max(0, gram[i * n + i] + gram[j * n + j] - 2 * gram[i * n + j]) } }
        for i in 0..<n { squared[i * n + i] = 0 }
        let sorted = squared.sorted()
        let median = n * n % 2 == 1 ? sorted[n * n / 2] : 0.5 * (sorted[n * n / 2 - 1] + sorted[n * n / 2])
        let h = max(bandwidthScale * median / Float(Foundation.log(Double(n + 1))), 1e-12)
        let kernel = squared.map { Foundation.exp(-$0 / h) }

        // drive = K·S; repulsion_i = (2/h)(rowsum_i·x_i − (K·X)_i), on the kernel inputs' rows
        // when they are the particles themselves (same width), else zero.
        /// K·M for an [N, d] matrix M.
        func kernelTimes(_ m: Tensor) -> [Float] {
            var out = [Float](repeating: 0, count: n * d)
            kernel.withUnsafeBufferPointer { k in
                m.storage.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { o in
                        BLAS.sgemm(transA: false, transB: false, m: n, n: d, k: n, a: k.baseAddress!, lda: n, b: x.baseAddress!, ldb: d,
                                   c: o.baseAddress!, ldc: d)
                    }
                }
            }
            return out
        }
        let drive = kernelTimes(scores)
        var repulsion = [Float](repeating: 0, count: n * d)
        if dk == d {
            let kx = kernelTimes(kernelInputs)
            for i in 0..<n {
                let rowSum = (0..<n).reduce(Float(0)) { $0 + kernel[i * n + $1] }
                for c in 0..<d { repulsion[i * d + c] = 2 / h * (rowSum * kernelInputs.storage[i * d + c] - kx[i * d + c]) }
            }
        }
        var update = [Float](repeating: 0, count: n * d)
        var (driveNorm, repulsionNorm) = (0.0, 0.0)
        for i in 0..<n {
            let norm = normalization == .particleCount ? Float(n) : (0..<n).reduce(Float(0)) { $0 + kernel[i * n + $1] }
            for c in 0..<d {
                let a = drive[i * d + c] / norm, b = repulsion[i * d + c] / norm
                update[i * d + c] = a + b
                driveNorm += Double(a * a)
                repulsionNorm += Double(b * b)
            }
        }
        return Step(update: Tensor(shape: scores.shape, storage: update), kernel: Tensor(shape: [n, n], storage: kernel), bandwidth: h,
                    repulsionRatio: Float((repulsionNorm / max(driveNorm, 1e-30)).squareRoot()))
    }
}
