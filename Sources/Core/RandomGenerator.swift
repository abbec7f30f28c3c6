import Foundation

/// A seeded generator (SplitMix64) with Gaussian samples by Box–Muller; the same seed gives the
/// same numbers on every machine and thread count.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    /// The whole state: saving and restoring it continues the same sequence (for resumable jobs).
    public var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public init(state: UInt64, restoring: Void = ()) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    public mutating func uniform() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }

    /// A tensor of standard normal samples.
    public mutating func normal(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            let (u1, u2) = (uniform(), uniform())
            let r = (-2 * Foundation.log(u1)).squareRoot()
            values[i] = Float(r * Foundation.cos(2 * Double.pi * u2))
            if i + 1 < n { values[i + 1] = Float(r * Foundation.sin(2 * Double.pi * u2)) }
            i += 2
        }
        return Tensor(shape: shape, storage: values)
    }
}
