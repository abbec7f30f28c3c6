import Core
import Foundation
import Testing
@testable import CSD

@Suite struct CoupledScoresTests {
    static let prior = ParticleEditorTests.prior

    func scoring(_ method: EditSettings.Method, contrastive: EditSettings.Contrastive? = nil) throws -> CoupledScores {
        var settings = EditSettings()
        settings.method = method
        settings.contrastive = contrastive
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
        let before = rng.state
        let scores = csd.scores(x, sources: sources, timestep: 400, noise: noise, rng: &rng)
        #expect(scores == gradient.scaled(by: -1))
        #expect(rng.state == before, "without the contrastive term the generator is untouched")
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
        let d = csd.directions(x, sources: sources, rng: &a).directions
        let t = csd.distillation.drawTimestep(&b)
        let noise = b.normal(x.shape)
        #expect(d == csd.couple(csd.scores(x, sources: sources, timestep: t, noise: noise, rng: &b), particles: x, timestep: t, noise: noise).directions)
        #expect(a.state == b.state)
    }

    /// `cds` adds Core's contrastive gradient to DDS's, with the patch locations seeded by one
    /// number from the generator; its weight takes effect (0 gives DDS, doubling it doubles the
    /// term), and `csd` with the term set couples CDS scores.
    @Test func cdsScoresAddTheContrastiveTermAtItsWeight() throws {
        var rng = RandomGenerator(seed: 7)
        let (x, sources, noise) = (rng.normal([2, 3, 16, 16]).scaled(by: 0.5), rng.normal([2, 3, 16, 16]).scaled(by: 0.5), rng.normal([2, 3, 16, 16]))
        var options = EditSettings.Contrastive()
        options.patches = 32
        let cds = try scoring(.cds, contrastive: options), dds = try scoring(.dds)
        #expect(cds.contrastive != nil && !cds.model.unet.upBlockSelfAttentions.isEmpty)
        let c = cds.model.encodeEach(prompts: ["a blue ball on grass", "a red ball on grass", ""])
        var a = RandomGenerator(seed: 11), b = RandomGenerator(seed: 11), unused = RandomGenerator(seed: 0)
        let scores = cds.scores(x, sources: sources, timestep: 300, noise: noise, rng: &a)
        var locations = RandomGenerator(seed: b.next())
        let reference = cds.distillation.cds(x, source: sources, target: c[0], sourcePrompt: c[1], unconditional: c[2], timestep: 300,
                                             noise: noise, contrastive: options.score, rng: &locations)
        #expect(scores == reference.gradient.scaled(by: -1))
        #expect(a.state == b.state)
        let ddsScores = dds.scores(x, sources: sources, timestep: 300, noise: noise, rng: &unused)
        let term = scores - ddsScores
        #expect(term.storage.map(abs).max()! > 1e-3, "the contrastive term changes the score")

        var doubled = options
        doubled.weight = 2 * options.weight
        var again = RandomGenerator(seed: 11)
        let twice = try scoring(.cds, contrastive: doubled).scores(x, sources: sources, timestep: 300, noise: noise, rng: &again) - ddsScores
        let error = zip(twice.storage, term.storage).map { abs($0 - 2 * $1) }.max()!
        #expect(error <= 1e-4 * term.storage.map(abs).max()!)

        var off = options
        off.weight = 0
        var zero = RandomGenerator(seed: 11)
        #expect(try scoring(.cds, contrastive: off).scores(x, sources: sources, timestep: 300, noise: noise, rng: &zero) == ddsScores)
        #expect(zero.state == RandomGenerator(seed: 11).state, "at weight 0 nothing is drawn, so the edit is DDS's")

        var d = RandomGenerator(seed: 11)
        let coupled = try scoring(.csd, contrastive: options)
        #expect(coupled.scores(x, sources: sources, timestep: 300, noise: noise, rng: &d) == scores)
    }

    /// The term's options are checked against the model with one-line errors naming the option.
    @Test func contrastiveOptionsOutOfRangeAreRefused() throws {
        func refused(_ method: EditSettings.Method, _ change: (inout EditSettings.Contrastive) -> Void) -> String? {
            var options = EditSettings.Contrastive()
            change(&options)
            do { _ = try scoring(method, contrastive: options); return nil } catch let error as InputError { return error.description } catch { return "\(error)" }
        }
        #expect(refused(.dds) { _ in }?.contains("--cut-weight") == true)
        #expect(refused(.sds) { _ in }?.contains("--method cds or csd") == true)
        #expect(refused(.cds) { $0.temperature = 0 }?.contains("--cut-temperature") == true)
        #expect(refused(.cds) { $0.temperature = .nan }?.contains("--cut-temperature") == true)
        #expect(refused(.cds) { $0.patches = 0 }?.contains("--cut-patches") == true)
        #expect(refused(.cds) { $0.patches = 4097 }?.contains("--cut-patches") == true)
        #expect(refused(.cds) { $0.weight = -1 }?.contains("--cut-weight") == true)
        #expect(refused(.cds) { $0.layers = ["up_blocks.9.attentions.0.transformer_blocks.0.attn1"] }?.contains("is not a self-attention layer") == true)
        #expect(refused(.cds) { _ in } == nil)
        #expect(refused(.csd) { _ in } == nil)
        #expect(try scoring(.csd).contrastive == nil && scoring(.cds).contrastive != nil)
    }
}
