import CVectorKernels
import Foundation

/// Derivatives of the activations, `dy·f′(x)` element by element.
extension Tensor {
    /// The activations Core has, for their derivatives.
    public enum Activation: Sendable {
        case silu, gelu, geluTanh, quickGelu

        /// f(x).
        func value(_ x: Float) -> Float {
            switch self {
            case .silu: return x / (1 + Foundation.exp(-x))
            case .gelu: return 0.5 * x * (1 + Foundation.erf(x / Float(2).squareRoot()))
            case .geluTanh: return 0.5 * x * (1 + Foundation.tanh(Self.tanhScale * (x + 0.044715 * x * x * x)))
            case .quickGelu: return x / (1 + Foundation.exp(-1.702 * x))
            }
        }

        /// f′(x).
        func derivative(_ x: Float) -> Float {
            switch self {
            case .silu:
                let s = 1 / (1 + Foundation.exp(-x))
                return s * (1 + x * (1 - s))
            case .gelu:
                let cdf = 0.5 * (1 + Foundation.erf(x / Float(2).squareRoot()))
                let pdf = Foundation.exp(-0.5 * x * x) / (2 * Float.pi).squareRoot()
                return cdf + x * pdf
            case .geluTanh:
                let u = Self.tanhScale * (x + 0.044715 * x * x * x)
                let t = Foundation.tanh(u)
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.tanhScale * (1 + 3 * 0.044715 * x * x)
            case .quickGelu:
                let s = 1 / (1 + Foundation.exp(-1.702 * x))
                return s + 1.702 * x * s * (1 - s)
            }
        }

        static let tanhScale: Float = 0.7978845608028654
    }

    /// `dy·f′(x)` for the activation `f` applied to `x`.
    static func activationGradient(_ dy: Tensor, input x: Tensor, _ f: Activation) -> Tensor {
        var dx = Tensor(uninitialized: x.shape)
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    let (xp, gp, dp) = (xs.baseAddress!, gs.baseAddress!, ds.baseAddress!)
                    parallelChunks(x.count, minimumChunk: 8192) { r in
                        for i in r { dp[i] = gp[i] * f.derivative(xp[i]) }
                    }
                }
            }
        }
        return dx
    }

    /// The gradient of GEGLU (`value·gelu(gate)` over the halves of the last axis) for its input.
    static func gatedGeluGradient(_ dy: Tensor, input x: Tensor) -> Tensor {
        let two = x.shape[x.rank - 1], half = two / 2, rows = x.count / two
        var dx = Tensor(uninitialized: x.shape)
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    let (xp, gp, dp) = (xs.baseAddress!, gs.baseAddress!, ds.baseAddress!)
                    parallelChunks(rows, minimumChunk: max(1, 8192 / max(1, half))) { range in
                        csd_gated_gelu_backward(xp + range.lowerBound * two, gp + range.lowerBound * half,
                                                dp + range.lowerBound * two, range.count, half)
                    }
                }
            }
        }
        return dx
    }
}
