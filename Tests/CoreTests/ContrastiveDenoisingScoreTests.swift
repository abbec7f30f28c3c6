import Testing
@testable import Core

/// Contrastive Denoising Score against `Tools/make_cds_fixtures.py` (torch.autograd on the CDS
/// repository's loss), by finite differences through the UNet, and its options taking effect.
@Suite struct ContrastiveDenoisingScoreTests {
    static let references = try! SafetensorsFile(path: Fixtures.path("cds.safetensors"))
    static func reference(_ name: String) -> Tensor { try! references.tensor(name) }
    let model = try! DiffusionModel(folder: Fixtures.path("tiny-sd"))

    func prompts() -> (red: DiffusionModel.Conditioning, blue: DiffusionModel.Conditioning, empty: DiffusionModel.Conditioning) {
        let c = model.encodeEach(prompts: ["a red ball on grass", "a blue ball on grass", ""])
        return (c[0], c[1], c[2])
    }

    func cds(weight: Float = 3, seed: UInt64 = 11, layers: [String] = [], patches: Int = 256) -> ScoreDistillation.ContrastiveGradient {
        let (red, blue, empty) = prompts()
        var rng = RandomGenerator(seed: seed)
        return ScoreDistillation(model: model).cds(Self.reference("cds.x"), source: Self.reference("cds.source"), target: blue,
                                                   sourcePrompt: red, unconditional: empty, timestep: 600,
                                                   noise: Self.reference("cds.noise"),
                                                   contrastive: ContrastiveDenoisingScore(loss: PatchContrastiveLoss(patches: patches), weight: weight, layers: layers),
                                                   rng: &rng)
    }

    @Test func theLossAloneMatchesPyTorch() {
        var rng = RandomGenerator(seed: 7)
        let result = PatchContrastiveLoss(patches: 20).evaluate(source: Self.reference("cut.source"), edited: Self.reference("cut.edited"),
                                                                height: 6, width: 8, rng: &rng)
        let expected = Self.reference("cut.loss").storage[0]
        #expect(abs(result.loss - expected) <= 1e-5 * abs(expected), "loss \(result.loss) vs \(expected)")
        expectClose(result.gradient, Self.reference("cut.grad"), "∂loss/∂edited")
    }

    @Test func theGradientMatchesPyTorchOnTinySD() {
        #expect(model.unet.upBlockSelfAttentions.map(\.name) == (0..<3).map { "up_blocks.1.attentions.\($0).transformer_blocks.0.attn1" })
        let result = cds()
        let expected = Self.reference("cds.cut_loss").storage[0]
        #expect(abs(result.contrastiveLoss - expected) <= 1e-4 * abs(expected), "loss \(result.contrastiveLoss) vs \(expected)")
        let (h, w) = (8, 8)
        expectClose(result.contrastiveGradient, Self.reference("cds.cut_grad").scaled(by: 3 * Float(h * w) / 2000), "w_cut·∇L")
        expectClose(result.gradient, Self.reference("cds.gradient"), "DDS + w_cut·∇L")
        // The contrastive term is not negligible here, so the comparison above could fail.
        #expect(result.contrastiveGradient.maxAbs > 0.05 * result.gradient.maxAbs)
    }

    @Test func theGradientAgreesWithFiniteDifferencesThroughTheUNet() {
        let (_, blue, _) = prompts()
        let (red, _, _) = prompts()
        let distillation = ScoreDistillation(model: model)
        let x = Self.reference("cds.x"), source = Self.reference("cds.source"), noise = Self.reference("cds.noise")
        let layers = ContrastiveDenoisingScore().resolvedLayers(on: model.unet)!
        // Source features at x̂_t with the source prompt, fixed.
        let tape = GradientTape()
        tape.capturing = Set(layers.map(\.name))
        let st = model.schedule.addNoise(source, noise: noise, timestep: 600)
        _ = distillation.predict(st, timestep: 600, hidden: ScoreDistillation.repeatRows(red.hiddenStates, 2),
                                 pooled: ScoreDistillation.repeatRows(red.pooled, 2), on: tape)
        func lossAndGradient(_ x: Tensor) -> (loss: Float, gradient: Tensor) {
            var rng = RandomGenerator(seed: 5)
            return distillation.contrastiveLossGradient(x, target: blue, timestep: 600, noise: noise, layers: layers,
                                                        sourceFeatures: { name, item in tape.captured(name)!.value.rows([item]) },
                                                        loss: PatchContrastiveLoss(), rng: &rng)
        }
        let g = lossAndGradient(x).gradient
        var directions = RandomGenerator(seed: 3)
        for _ in 0..<3 {
            let d = directions.normal(x.shape)
            let step: Float = 1e-2
            let numeric = (lossAndGradient(x + d.scaled(by: step)).loss - lossAndGradient(x - d.scaled(by: step)).loss) / (2 * step)
            var analytic: Float = 0
            for (a, b) in zip(g.storage, d.storage) { analytic += a * b }
            #expect(abs(numeric - analytic) <= 2e-2 * max(abs(analytic), 1e-3), "directional derivative \(analytic) vs \(numeric)")
        }
    }

    @Test func wCutTakesEffect() {
        let (red, blue, empty) = prompts()
        let dds = ScoreDistillation(model: model).dds(Self.reference("cds.x"), source: Self.reference("cds.source"), target: blue,
                                                      sourcePrompt: red, unconditional: empty, timestep: 600, noise: Self.reference("cds.noise"))
        #expect(cds(weight: 0).gradient.storage == dds.storage, "w_cut 0 is DDS")
        let three = cds(weight: 3), six = cds(weight: 6)
        #expect(three.gradient.maxAbsDifference(dds) > 1e-3 * dds.maxAbs, "w_cut 3 changes the gradient")
        expectClose(six.contrastiveGradient, three.contrastiveGradient.scaled(by: 2), "the term is linear in w_cut")
    }

    @Test func isDeterministicBySeedAndTheLayerChoiceTakesEffect() {
        #expect(cds(seed: 11).gradient.storage == cds(seed: 11).gradient.storage)
        // 8×8 latents have 64 locations: at 256 every one is taken and the order does not matter; at 16 the draw does.
        #expect(cds(seed: 11, patches: 16).contrastiveLoss != cds(seed: 12, patches: 16).contrastiveLoss)
        #expect(cds(seed: 11, patches: 16).gradient.storage == cds(seed: 11, patches: 16).gradient.storage)
        let one = cds(layers: ["up_blocks.1.attentions.2.transformer_blocks.0.attn1"])
        #expect(one.contrastiveLoss < cds().contrastiveLoss * 0.6, "one layer of three gives about a third of the loss")
        #expect(ContrastiveDenoisingScore(layers: ["up_blocks.0.attn1"]).resolvedLayers(on: model.unet) == nil)
    }
}
