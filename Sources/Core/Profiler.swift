import Foundation

/// Counts FLOPs and wall time per kind of layer while `enabled`, for the benchmark.
public enum Profiler {
    public enum Kind: String, CaseIterable, Sendable {
        case convolution, linear, attention, normalization, elementwise
        /// The vector-Jacobian products of the backward pass.
        case convolutionBackward = "convolution_backward", linearBackward = "linear_backward"
        case attentionBackward = "attention_backward", normalizationBackward = "normalization_backward"
    }

    public struct Totals: Sendable {
        public var flops: Double = 0
        public var seconds: Double = 0
        public var gflops: Double { seconds > 0 ? flops / seconds / 1e9 : 0 }
        public init(flops: Double = 0, seconds: Double = 0) { (self.flops, self.seconds) = (flops, seconds) }
    }

    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) private static var totals: [Kind: Totals] = [:]
    private static let lock = NSLock()

    public static func reset() {
        lock.lock(); totals = [:]; lock.unlock()
    }

    public static func snapshot() -> [Kind: Totals] {
        lock.lock(); defer { lock.unlock() }
        return totals
    }

    /// Runs `body`, charging its time and `flops` to `kind` when profiling is on.
    @inline(__always)
    static func measure<R>(_ kind: Kind, flops: @autoclosure () -> Double, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let f = flops()
        lock.lock()
        totals[kind, default: Totals()].flops += f
        totals[kind, default: Totals()].seconds += seconds
        lock.unlock()
        return result
    }
}
