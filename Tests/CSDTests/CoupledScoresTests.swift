import Core
import Foundation
import Testing
@testable import CSD

@Suite struct CoupledScoresTests {
    static let prior = ParticleEditorTests.prior

    func scoring(_ method: EditSettings.Method) throws -> CoupledScores {
        var settings = EditSettings()
        settings.method = method
        return try CoupledScores(model: try DiffusionModel(folder: Self.prior), settings: settings,
                                 sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
    }

    /// The scores are the negated DDS gradients; `csd` couples them by the Stein update on the
    /// noisy particles, `dds` leaves them as they are.
    @Test func scoresAreNegatedDDSGradientsAndOnlyCSDCouplesThem() throws {
        var rng = RandomGenerator(seed: 5)
        let (x, sources, noise) = (rng.normal([3, 3, 16, 16]).scaled(by: 0.5), rng.normal([3, 3, 16, 16]).scaled(by: 0.5), rng.normal([3, 3, 16, 16]))
        let csd = try scoring(.csd), dds = try scoring(.dds)
        let model = csd.model
        let c = model.encodeEach(prompts: ["a blue ball on grass", "a red ball on grass", ""])
        let gradient = csd.distillation.dds(x, source: sources, target: c[0], sourcePrompt: c[1], unconditional: c[2], timestep: 400, noise: noise)
        let scores = csd.scores(x, sources: sources, timestep: 400, noise: noise)
        #expect(scores == gradient.scaled(by: -1))
        #expect(dds.couple(scores, particles: x, timestep: 400, noise: noise).directions == scores)
        let noisy = model.schedule.addNoise(x, noise: noise, timestep: 400)
        let stein = csd.stein.step(kernelInputs: noisy.reshaped([3, 768]), scores: scores.reshaped([3, 768])).update.reshaped(x.shape)
        let coupled = csd.couple(scores, particles: x, timestep: 400, noise: noise)
        #expect(coupled.directions == stein && coupled.directions != scores && coupled.repulsionRatio > 0)
    }

    /// `directions` draws the timestep, then the noise, from the generator it is given.
    @Test func directionsDrawTheTimestepThenTheNoise() throws {
        let csd = try scoring(.csd)
        var rng = RandomGenerator(seed: 9)
        let (x, sources) = (rng.normal([2, 3, 16, 16]), rng.normal([2, 3, 16, 16]))
        var a = RandomGenerator(seed: 3), b = RandomGenerator(seed: 3)
        let d = csd.directions(x, sources: sources, rng: &a)
        let t = csd.distillation.drawTimestep(&b)
        let noise = b.normal(x.shape)
        #expect(d == csd.couple(csd.scores(x, sources: sources, timestep: t, noise: noise), particles: x, timestep: t, noise: noise).directions)
        #expect(a.state == b.state)
    }
}
