import Foundation

/// Score distillation gradients from a text-to-image diffusion model, in the model's space.
///
/// - SDS (DreamFusion, eq. 3): `g = w(t)·(ε̂(x_t; y, t) − ε)` with `x_t = √ᾱ_t·x + √(1−ᾱ_t)·ε`.
/// - DDS (Hertz et al. 2023, eq. 6): `g = w(t)·(ε̂(x_t; y_target) − ε̂(x̂_t; y_source))`, the edited
///   image and the source noised with the same ε and t, so what SDS gets wrong on both cancels.
/// Both use classifier-free guidance; `g` is a gradient to descend (`x ← x − lr·g`).
public struct ScoreDistillation {
    /// `w(t)`: `uniform` 1, `sds` 1 − ᾱ_t, `fantasia3d` √ᾱ_t·(1 − ᾱ_t).
    public enum Weighting: String, CaseIterable, Sendable { case uniform, sds, fantasia3d }

    public let model: DiffusionModel
    public var guidance: Float
    public var weighting: Weighting
    /// Timesteps are drawn uniformly from this range.
    public var timesteps: ClosedRange<Int>

    public init(model: DiffusionModel, guidance: Float = 7.5, weighting: Weighting = .uniform, timesteps: ClosedRange<Int> = 50...950) {
        self.model = model
        self.guidance = guidance
        self.weighting = weighting
        self.timesteps = timesteps
    }

    public func weight(_ t: Int) -> Float {
        let a = model.schedule.alphasCumprod[t]
        switch weighting {
        case .uniform: return 1
        case .sds: return 1 - a
        case .fantasia3d: return a.squareRoot() * (1 - a)
        }
    }

    /// A timestep drawn from `timesteps`.
    public func drawTimestep(_ rng: inout RandomGenerator) -> Int {
        timesteps.lowerBound + Int(rng.next() % UInt64(timesteps.count))
    }

    /// Noise predictions for a batch where item i has its own conditioning (rows of `hidden`/`pooled`).
    /// On `tape` (a capturing one, say) the call runs on constants: nothing is recorded, and the
    /// tape keeps the outputs of the modules it captures.
    func predict(_ samples: Tensor, timestep t: Int, hidden: Tensor, pooled: Tensor, on tape: GradientTape? = nil) -> Tensor {
        let labels = model.addedConditions(pooled: pooled, sample: samples)
        let timesteps = Array(repeating: Float(t), count: samples.shape[0])
        let out: Tensor
        if let tape {
            out = model.unet(tape.constant(samples), timesteps: timesteps, encoderHiddenStates: tape.constant(hidden),
                             classLabels: labels.map { tape.constant($0) }).value
        } else {
            out = model.unet(samples, timesteps: timesteps, encoderHiddenStates: hidden, classLabels: labels)
        }
        // The distillation gradient is written in ε; convert v- or x₀-predictions.
        guard model.schedule.configuration.predictionType != "epsilon" else { return out }
        return model.schedule.predictions(sample: samples, modelOutput: out, timestep: t).epsilon
    }

    /// Rows `index` repeated `count` times.
    static func repeatRows(_ t: Tensor, _ count: Int) -> Tensor {
        Tensor.concatenateBatch(Array(repeating: t, count: count))
    }

    /// SDS gradient for `x` [N, C, h, w] towards `prompt`, at timestep `t` with noise `noise`.
    public func sds(_ x: Tensor, prompt: DiffusionModel.Conditioning, unconditional: DiffusionModel.Conditioning,
                    timestep t: Int, noise: Tensor) -> Tensor {
        let n = x.shape[0]
        let xt = model.schedule.addNoise(x, noise: noise, timestep: t)
        let hidden = Tensor.concatenateBatch([Self.repeatRows(unconditional.hiddenStates, n), Self.repeatRows(prompt.hiddenStates, n)])
        let pooled = Tensor.concatenateBatch([Self.repeatRows(unconditional.pooled, n), Self.repeatRows(prompt.pooled, n)])
        let eps = predict(Tensor.concatenateBatch([xt, xt]), timestep: t, hidden: hidden, pooled: pooled)
        let half = eps.count / 2
        let u = Tensor(shape: x.shape, storage: Array(eps.storage[..<half]))
        let c = Tensor(shape: x.shape, storage: Array(eps.storage[half...]))
        let guided = u.linearCombination(1 - guidance, c, guidance)
        return (guided - noise).scaled(by: weight(t))
    }

    /// DDS gradient for the edited `x` and the `source` [N, C, h, w] (item i of each paired),
    /// in one batched model call of 4N: (x, uncond), (x, target), (x̂, uncond), (x̂, source).
    public func dds(_ x: Tensor, source: Tensor, target: DiffusionModel.Conditioning, sourcePrompt: DiffusionModel.Conditioning,
                    unconditional: DiffusionModel.Conditioning, timestep t: Int, noise: Tensor) -> Tensor {
        dds(x, source: source, target: target, sourcePrompt: sourcePrompt, unconditional: unconditional, timestep: t, noise: noise, on: nil)
    }

    /// `dds`, its model call run on `tape` when one is given (see `predict`).
    func dds(_ x: Tensor, source: Tensor, target: DiffusionModel.Conditioning, sourcePrompt: DiffusionModel.Conditioning,
             unconditional: DiffusionModel.Conditioning, timestep t: Int, noise: Tensor, on tape: GradientTape?) -> Tensor {
        precondition(x.shape == source.shape && x.shape == noise.shape, "dds: x, source and noise shapes differ")
        let n = x.shape[0]
        let xt = model.schedule.addNoise(x, noise: noise, timestep: t)
        let st = model.schedule.addNoise(source, noise: noise, timestep: t)
        let hidden = Tensor.concatenateBatch([Self.repeatRows(unconditional.hiddenStates, n), Self.repeatRows(target.hiddenStates, n),
                                              Self.repeatRows(unconditional.hiddenStates, n), Self.repeatRows(sourcePrompt.hiddenStates, n)])
        let pooled = Tensor.concatenateBatch([Self.repeatRows(unconditional.pooled, n), Self.repeatRows(target.pooled, n),
                                              Self.repeatRows(unconditional.pooled, n), Self.repeatRows(sourcePrompt.pooled, n)])
        let eps = predict(Tensor.concatenateBatch([xt, xt, st, st]), timestep: t, hidden: hidden, pooled: pooled, on: tape)
        let quarter = x.count
        func part(_ k: Int) -> Tensor { Tensor(shape: x.shape, storage: Array(eps.storage[k * quarter ..< (k + 1) * quarter])) }
        let edited = part(0).linearCombination(1 - guidance, part(1), guidance)
        let original = part(2).linearCombination(1 - guidance, part(3), guidance)
        return (edited - original).scaled(by: weight(t))
    }
}
