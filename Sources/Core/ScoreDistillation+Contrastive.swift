extension ScoreDistillation {
    /// What `cds` returns: the gradient to descend and the contrastive loss it includes.
    public struct ContrastiveGradient {
        /// [N, C, h, w]: DDS's gradient plus the contrastive term's.
        public var gradient: Tensor
        /// The patch-contrastive loss, summed over items, layers and patch sizes.
        public var contrastiveLoss: Float
        /// The contrastive term alone (already weighted), [N, C, h, w].
        public var contrastiveGradient: Tensor
    }

    /// Contrastive Denoising Score (Nam et al. 2023; the CDS repository's `pipeline_cds.py`):
    /// DDS's gradient plus `w_cut · (h·w/2000) · ∇_x L_cut`.
    ///
    /// - The source branch's `attn1` outputs come from DDS's own batched call (x̂_t with the
    ///   source prompt), kept by a capturing tape that records nothing.
    /// - The edited branch (x_t with the target prompt) runs again on a tape that watches x_t;
    ///   `PatchContrastiveLoss` gives each layer's loss and its gradient on the features, which
    ///   go back through the UNet to x_t, then to x by √ᾱ_t.
    /// - The CDS pipeline descends `(2000/(h·w))·DDS + w_cut·L_cut`; this project's DDS has
    ///   weight 1, so the contrastive term is scaled by `h·w/2000` to keep the reference's ratio.
    /// - Locations are drawn from `rng`: item by item, layer by layer, one permutation per patch size.
    public func cds(_ x: Tensor, source: Tensor, target: DiffusionModel.Conditioning, sourcePrompt: DiffusionModel.Conditioning,
                    unconditional: DiffusionModel.Conditioning, timestep t: Int, noise: Tensor,
                    contrastive: ContrastiveDenoisingScore, rng: inout RandomGenerator) -> ContrastiveGradient {
        let layers = contrastive.resolvedLayers(on: model.unet) ?? []
        let names = Set(layers.map(\.name))
        let n = x.shape[0]
        let reference = GradientTape()
        reference.capturing = names
        let dds = self.dds(x, source: source, target: target, sourcePrompt: sourcePrompt, unconditional: unconditional,
                           timestep: t, noise: noise, on: reference)
        guard contrastive.weight != 0, !layers.isEmpty else {
            return ContrastiveGradient(gradient: dds, contrastiveLoss: 0, contrastiveGradient: Tensor(zeros: x.shape))
        }
        let result = contrastiveLossGradient(x, target: target, timestep: t, noise: noise, layers: layers,
                                             sourceFeatures: { name, item in
                                                 // DDS's batch is (x, uncond), (x, target), (x̂, uncond), (x̂, source).
                                                 reference.captured(name)!.value.rows([3 * n + item])
                                             }, loss: contrastive.loss, rng: &rng)
        let (h, w) = (x.shape[2], x.shape[3])
        let term = result.gradient.scaled(by: contrastive.weight * Float(h * w) / 2000)
        return ContrastiveGradient(gradient: dds + term, contrastiveLoss: result.loss, contrastiveGradient: term)
    }

    /// The patch-contrastive loss of the edited branch at x_t = noised `x` against the source
    /// features, and its gradient with respect to `x`.
    func contrastiveLossGradient(_ x: Tensor, target: DiffusionModel.Conditioning, timestep t: Int, noise: Tensor,
                                 layers: [(name: String, transformer: String)], sourceFeatures: (String, Int) -> Tensor,
                                 loss: PatchContrastiveLoss, rng: inout RandomGenerator) -> (loss: Float, gradient: Tensor) {
        let n = x.shape[0]
        let xt = model.schedule.addNoise(x, noise: noise, timestep: t)
        let tape = GradientTape()
        tape.capturing = Set(layers.map(\.name) + layers.map(\.transformer))
        let sample = tape.watch(xt)
        let hidden = Self.repeatRows(target.hiddenStates, n), pooled = Self.repeatRows(target.pooled, n)
        _ = model.unet(sample, timesteps: Array(repeating: Float(t), count: n), encoderHiddenStates: tape.constant(hidden),
                       classLabels: model.addedConditions(pooled: pooled, sample: xt).map { tape.constant($0) })
        var total: Float = 0
        var cotangents = [String: [Float]]()
        for item in 0..<n {
            for layer in layers {
                let features = tape.captured(layer.name)!.value
                let (tokens, channels) = (features.shape[1], features.shape[2])
                // The enclosing transformer's output [N, C, h, w] gives the tokens' grid.
                let around = tape.captured(layer.transformer)!.value.shape
                let grid = (height: around[2], width: around[3])
                let edited = features.rows([item]).reshaped([tokens, channels])
                let evaluation = loss.evaluate(source: sourceFeatures(layer.name, item).reshaped([tokens, channels]), edited: edited,
                                               height: grid.height, width: grid.width, rng: &rng)
                total += evaluation.loss
                cotangents[layer.name, default: [Float](repeating: 0, count: features.count)]
                    .replaceSubrange(item * tokens * channels ..< (item + 1) * tokens * channels, with: evaluation.gradient.storage)
            }
        }
        var surrogate: Variable?
        for layer in layers {
            let features = tape.captured(layer.name)!
            let term = features.innerProduct(with: Tensor(shape: features.shape, storage: cotangents[layer.name]!))
            surrogate = surrogate.map { $0 + term } ?? term
        }
        let gradients = tape.gradients(of: surrogate!)
        let chain = model.schedule.alphasCumprod[t].squareRoot()
        return (total, gradients[sample].scaled(by: chain))
    }
}
