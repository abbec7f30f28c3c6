import Foundation

/// A rule that moves named parameters along their gradients, as `torch.optim` does; state (a
/// momentum buffer, Adam's moments) is kept per parameter name. Every update is element-wise, so
/// it does not depend on the number of threads.
public protocol Optimizer {
    /// Updates each parameter that has a gradient; parameters without one are left as they are.
    mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor])
}

/// `torch.optim.SGD` with momentum (no dampening, not Nesterov) and L2 weight decay:
/// g ← g + λ·p; b ← μ·b + g (b = g on the first step); p ← p − lr·b.
public struct SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    var buffers: [String: Tensor] = [:]

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        (self.learningRate, self.momentum, self.weightDecay) = (learningRate, momentum, weightDecay)
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) {
        for name in gradients.keys.sorted() {
            guard var p = parameters[name], var g = gradients[name] else { continue }
            precondition(p.shape == g.shape || p.count == g.count, "SGD: gradient of '\(name)' does not fit its parameter")
            g = g.reshaped(p.shape)
            if weightDecay != 0 { g = g.linearCombination(1, p, weightDecay) }
            if momentum != 0 {
                let buffer = buffers[name].map { $0.linearCombination(momentum, g, 1) } ?? g
                buffers[name] = buffer
                g = buffer
            }
            p = p.linearCombination(1, g, -learningRate)
            parameters[name] = p
        }
    }
}

/// `torch.optim.Adam` (L2 weight decay added to the gradient) and `torch.optim.AdamW`
/// (`decoupledWeightDecay`: p ← p·(1 − lr·λ) before the step), with PyTorch's arithmetic:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − (lr / (1−β₁ᵗ))·m / (√v / √(1−β₂ᵗ) + ε).
public struct Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float, beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    public var decoupledWeightDecay: Bool
    /// Steps taken so far.
    public private(set) var steps = 0
    var firstMoments: [String: Tensor] = [:], secondMoments: [String: Tensor] = [:]

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        (self.learningRate, self.beta1, self.beta2, self.epsilon) = (learningRate, beta1, beta2, epsilon)
        (self.weightDecay, self.decoupledWeightDecay) = (weightDecay, decoupledWeightDecay)
    }

    /// `torch.optim.AdamW`'s defaults (weight decay 0.01, decoupled).
    public static func adamW(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                             weightDecay: Float = 0.01) -> Adam {
        Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
             decoupledWeightDecay: true)
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) {
        steps += 1
        let t = Float(steps)
        let correction1 = 1 - Foundation.pow(beta1, t), correction2 = 1 - Foundation.pow(beta2, t)
        let stepSize = learningRate / correction1, rootCorrection2 = correction2.squareRoot()
        for name in gradients.keys.sorted() {
            guard var p = parameters[name], let gradient = gradients[name] else { continue }
            precondition(p.count == gradient.count, "Adam: gradient of '\(name)' does not fit its parameter")
            var g = gradient.reshaped(p.shape)
            if weightDecay != 0 {
                if decoupledWeightDecay { p = p.scaled(by: 1 - learningRate * weightDecay) } else { g = g.linearCombination(1, p, weightDecay) }
            }
            var m = firstMoments[name] ?? Tensor(zeros: p.shape), v = secondMoments[name] ?? Tensor(zeros: p.shape)
            for i in 0..<p.count {
                let gi = g.storage[i]
                m.storage[i] = beta1 * m.storage[i] + (1 - beta1) * gi
                v.storage[i] = beta2 * v.storage[i] + (1 - beta2) * gi * gi
                let denominator = v.storage[i].squareRoot() / rootCorrection2 + epsilon
                p.storage[i] -= stepSize * m.storage[i] / denominator
            }
            (firstMoments[name], secondMoments[name], parameters[name]) = (m, v, p)
        }
    }
}

extension Adam {
    /// The moment estimates by parameter name, for a checkpoint.
    public var moments: (first: [String: Tensor], second: [String: Tensor]) { (firstMoments, secondMoments) }

    /// Continues from a checkpoint's step count and moments.
    public mutating func restore(steps: Int, first: [String: Tensor], second: [String: Tensor]) {
        (self.steps, firstMoments, secondMoments) = (steps, first, second)
    }
}
