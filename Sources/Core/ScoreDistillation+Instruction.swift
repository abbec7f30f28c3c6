import Foundation

extension ScoreDistillation {
    /// CSD-Edit's score (Kim et al. 2023, sec. 4; the CSD repository's `csdedit.py`) from an
    /// instruction model: the edited `x` and the `source` [N, C, h, w], noised with the same ε and
    /// t, each predicted under both guidances with the source's image conditioning `image`
    /// (`DiffusionModel.imageConditioning`),
    /// `g = w(t)·(ε̂(x_t; instruction, image) − ε̂(x̂_t; baseline, image))`, in one batched call
    /// of 6N. The baseline's text is usually empty, as the reference's default source prompt is.
    public func instructed(_ x: Tensor, source: Tensor, image: Tensor, instruction: DiffusionModel.Conditioning,
                           baseline: DiffusionModel.Conditioning, unconditional: DiffusionModel.Conditioning,
                           imageGuidance: Float, timestep t: Int, noise: Tensor) -> Tensor {
        precondition(x.shape == source.shape && x.shape == noise.shape && x.shape == image.shape, "instructed: shapes differ")
        let n = x.shape[0]
        let xt = model.schedule.addNoise(x, noise: noise, timestep: t)
        let st = model.schedule.addNoise(source, noise: noise, timestep: t)
        let zeros = Tensor(zeros: image.shape)
        let samples = Tensor.concatenateChannels(Tensor.concatenateBatch([xt, xt, xt, st, st, st]),
                                                 Tensor.concatenateBatch([image, image, zeros, image, image, zeros]))
        let texts = [instruction, unconditional, unconditional, baseline, unconditional, unconditional]
        let hidden = Tensor.concatenateBatch(texts.map { Self.repeatRows($0.hiddenStates, n) })
        let pooled = Tensor.concatenateBatch(texts.map { Self.repeatRows($0.pooled, n) })
        let labels = model.addedConditions(pooled: pooled, sample: samples)
        var eps = model.unet(samples, timesteps: Array(repeating: Float(t), count: 6 * n), encoderHiddenStates: hidden, classLabels: labels)
        if model.schedule.configuration.predictionType != "epsilon" {
            let noisy = Tensor.concatenateBatch([xt, xt, xt, st, st, st])
            eps = model.schedule.predictions(sample: noisy, modelOutput: eps, timestep: t).epsilon
        }
        let size = x.count
        func part(_ k: Int) -> Tensor { Tensor(shape: x.shape, storage: Array(eps.storage[k * size ..< (k + 1) * size])) }
        func guided(_ k: Int) -> Tensor {
            let (text, imageOnly, neither) = (part(k), part(k + 1), part(k + 2))
            return neither + (text - imageOnly).scaled(by: guidance) + (imageOnly - neither).scaled(by: imageGuidance)
        }
        return (guided(0) - guided(3)).scaled(by: weight(t))
    }
}
