import Testing
@testable import Core

@Suite struct ScoreDistillationTests {
    let model = try! DiffusionModel(folder: Fixtures.path("tiny-sd"))

    func conditioning() -> (red: DiffusionModel.Conditioning, blue: DiffusionModel.Conditioning, empty: DiffusionModel.Conditioning) {
        let c = model.encode(prompts: ["a red ball on grass", "a blue ball on grass", ""])
        func row(_ i: Int) -> DiffusionModel.Conditioning {
            DiffusionModel.Conditioning(hiddenStates: c.hiddenStates.item(i).reshaped([1] + Array(c.hiddenStates.shape.dropFirst())),
                                        pooled: c.pooled.item(i).reshaped([1, c.pooled.shape[1]]))
        }
        return (row(0), row(1), row(2))
    }

    @Test func sdsAndDDSMatchPyTorch() {
        let (red, blue, empty) = conditioning()
        let distillation = ScoreDistillation(model: model, guidance: 7.5, weighting: .uniform)
        let x = Fixtures.reference("dist.x"), source = Fixtures.reference("dist.source"), noise = Fixtures.reference("dist.noise")
        let sds = distillation.sds(x, prompt: blue, unconditional: empty, timestep: 600, noise: noise)
        expectClose(sds, Fixtures.reference("dist.sds"), "SDS")
        let dds = distillation.dds(x, source: source, target: blue, sourcePrompt: red, unconditional: empty, timestep: 600, noise: noise)
        expectClose(dds, Fixtures.reference("dist.dds"), "DDS")
    }

    @Test func ddsVanishesOnTheSourceWithItsOwnPrompt() {
        let (red, _, empty) = conditioning()
        let x = Fixtures.reference("dist.x"), noise = Fixtures.reference("dist.noise")
        let distillation = ScoreDistillation(model: model)
        let dds = distillation.dds(x, source: x, target: red, sourcePrompt: red, unconditional: empty, timestep: 300, noise: noise)
        let sds = distillation.sds(x, prompt: red, unconditional: empty, timestep: 300, noise: noise)
        // Batch items may round differently (one image per core), so "zero" is relative to the SDS scale.
        #expect(dds.maxAbs <= 1e-5 * sds.maxAbs, "\(dds.maxAbs) vs \(sds.maxAbs)")
    }

    @Test func weightings() {
        let a = model.schedule.alphasCumprod[400]
        var d = ScoreDistillation(model: model, weighting: .sds)
        #expect(d.weight(400) == 1 - a)
        d.weighting = .fantasia3d
        #expect(abs(d.weight(400) - a.squareRoot() * (1 - a)) < 1e-7)
        d.weighting = .uniform
        #expect(d.weight(400) == 1)
    }
}
