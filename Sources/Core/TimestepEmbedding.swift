import Foundation

/// Sinusoidal timestep features, matching diffusers' `get_timestep_embedding`
/// (`diffusers/models/embeddings.py`).
public enum SinusoidalEmbedding {
    /// Returns [timesteps.count, dim]: `[sin, cos]` of `t·exp(−ln(maxPeriod)·i/(half − shift))`,
    /// swapped to `[cos, sin]` when `flipSinToCos`.
    public static func timesteps(_ timesteps: [Float], dim: Int, flipSinToCos: Bool, downscaleFreqShift: Float,
                                 scale: Float = 1, maxPeriod: Float = 10000) -> Tensor {
        let half = dim / 2
        var out = Tensor(zeros: [timesteps.count, dim])
        // torch computes the exponent and exp in float32; do the same to match it bit for bit.
        let freqs: [Float] = (0..<half).map { i in
            let exponent = -Float(Foundation.log(Double(maxPeriod))) * Float(i) / (Float(half) - downscaleFreqShift)
            return Foundation.exp(exponent)
        }
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let arg = scale * (t * freqs[i])
                let (s, c) = (Foundation.sin(arg), Foundation.cos(arg))
                out.storage[row * dim + i] = flipSinToCos ? c : s
                out.storage[row * dim + half + i] = flipSinToCos ? s : c
            }
        }
        return out
    }
}

extension SinusoidalEmbedding {
    /// The vector-Jacobian product of `timesteps(_:dim:…)` with respect to the timesteps:
    /// `Σ_i cotangent·∂feature_i/∂t` per timestep, for a cotangent [timesteps.count, dim].
    public static func timestepsGradient(_ cotangent: Tensor, timesteps: [Float], dim: Int, flipSinToCos: Bool,
                                         downscaleFreqShift: Float, scale: Float = 1, maxPeriod: Float = 10000) -> Tensor {
        let half = dim / 2
        let freqs: [Float] = (0..<half).map { i in
            Foundation.exp(-Float(Foundation.log(Double(maxPeriod))) * Float(i) / (Float(half) - downscaleFreqShift))
        }
        var out = Tensor(zeros: [timesteps.count])
        for (row, t) in timesteps.enumerated() {
            var total: Float = 0
            for i in 0..<half {
                let f = scale * freqs[i], arg = t * f
                // d sin / dt = f·cos, d cos / dt = −f·sin
                let (dSin, dCos) = (f * Foundation.cos(arg), -f * Foundation.sin(arg))
                let first = cotangent.storage[row * dim + i], second = cotangent.storage[row * dim + half + i]
                total += flipSinToCos ? first * dCos + second * dSin : first * dSin + second * dCos
            }
            out.storage[row] = total
        }
        return out
    }
}
