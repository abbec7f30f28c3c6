import Core
import Foundation
import Testing
@testable import CSD

@Suite struct SteinVariationalUpdateTests {
    /// The update written out term by term, in Double.
    func naive(_ x: [[Double]], _ s: [[Double]], scale: Double, rowSum: Bool) -> (update: [[Double]], h: Double) {
        let n = x.count
        var d2 = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { for j in 0..<n { d2[i][j] = zip(x[i], x[j]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) } }
        let all = d2.flatMap { $0 }.sorted()
        let median = all.count % 2 == 1 ? all[all.count / 2] : (all[all.count / 2 - 1] + all[all.count / 2]) / 2
        let h = scale * median / log(Double(n + 1))
        var out = [[Double]](repeating: [Double](repeating: 0, count: x[0].count), count: n)
        for i in 0..<n {
            var norm = 0.0
            for j in 0..<n {
                let k = exp(-d2[i][j] / h)
                norm += k
                for c in 0..<x[0].count {
                    // k(x_j, x_i)·s_j + ∇_{x_j} k(x_j, x_i), with ∇_{x_j} exp(−‖x_j − x_i‖²/h) = −2/h (x_j − x_i) k
                    out[i][c] += k * s[j][c] - 2 / h * (x[j][c] - x[i][c]) * k
                }
            }
            for c in 0..<x[0].count { out[i][c] /= rowSum ? norm : Double(n) }
        }
        return (out, h)
    }

    @Test(arguments: [SteinVariationalUpdate.Normalization.particleCount, .kernelRowSum])
    func matchesTheFormulaTermByTerm(normalization: SteinVariationalUpdate.Normalization) {
        var rng = RandomGenerator(seed: 3)
        let x = rng.normal([6, 10]), s = rng.normal([6, 10])
        let rows = { (t: Tensor) in (0..<6).map { i in (0..<10).map { Double(t.storage[i * 10 + $0]) } } }
        let expected = naive(rows(x), rows(s), scale: 0.7, rowSum: normalization == .kernelRowSum)
        let step = SteinVariationalUpdate(normalization: normalization, bandwidthScale: 0.7).step(kernelInputs: x, scores: s)
        #expect(abs(Double(step.bandwidth) - expected.h) < 1e-4 * expected.h)
        for i in 0..<6 {
            for c in 0..<10 { #expect(abs(Double(step.update.storage[i * 10 + c]) - expected.update[i][c]) < 1e-4) }
        }
    }

    @Test func oneParticleFollowsItsScore() {
        var rng = RandomGenerator(seed: 4)
        let x = rng.normal([1, 5]), s = rng.normal([1, 5])
        let step = SteinVariationalUpdate().step(kernelInputs: x, scores: s)
        #expect(step.update.maxAbsDifference(s) < 1e-6)
    }

    @Test func withoutScoresParticlesRepelEachOther() {
        let x = Tensor(shape: [2, 1], storage: [-0.5, 0.5])
        let step = SteinVariationalUpdate().step(kernelInputs: x, scores: Tensor(zeros: [2, 1]))
        #expect(step.update.storage[0] < 0 && step.update.storage[1] > 0)
    }

    @Test func identicalScoresOnIdenticalParticlesGiveThatScore() {
        let x = Tensor(shape: [3, 2], storage: [1, 2, 1, 2, 1, 2])
        let s = Tensor(shape: [3, 2], storage: [0.5, -1, 0.5, -1, 0.5, -1])
        let step = SteinVariationalUpdate(normalization: .kernelRowSum).step(kernelInputs: x, scores: s)
        #expect(step.update.maxAbsDifference(s) < 1e-6)
    }
}
