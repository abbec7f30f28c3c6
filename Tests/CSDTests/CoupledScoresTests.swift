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
        let scored = csd.scores(x, sources: sources, timestep: 400, noise: noise, rng: &rng), scores = scored.total
        #expect(scores == gradient.scaled(by: -1) && scored.own == nil)
        #expect(rng.state == before, "without the contrastive term the generator is untouched")
        #expect(dds.couple(scored, particles: x, timestep: 400, noise: noise).directions == scores)
        let noisy = model.schedule.addNoise(x, noise: noise, timestep: 400)
        let stein = csd.stein.step(kernelInputs: noisy.reshaped([3, 768]), scores: scores.reshaped([3, 768])).update.reshaped(x.shape)
        let coupled = csd.couple(scored, particles: x, timestep: 400, noise: noise)
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
    /// term), and `csd` with the term set scores as `cds` does.
    @Test func cdsScoresAddTheContrastiveTermAtItsWeight() throws {
        var rng = RandomGenerator(seed: 7)
        let (x, sources, noise) = (rng.normal([2, 3, 16, 16]).scaled(by: 0.5), rng.normal([2, 3, 16, 16]).scaled(by: 0.5), rng.normal([2, 3, 16, 16]))
        var options = EditSettings.Contrastive()
        options.patches = 32
        let cds = try scoring(.cds, contrastive: options), dds = try scoring(.dds)
        #expect(cds.contrastive != nil && !cds.model.unet.upBlockSelfAttentions.isEmpty)
        let c = cds.model.encodeEach(prompts: ["a blue ball on grass", "a red ball on grass", ""])
        var a = RandomGenerator(seed: 11), b = RandomGenerator(seed: 11), unused = RandomGenerator(seed: 0)
        let scored = cds.scores(x, sources: sources, timestep: 300, noise: noise, rng: &a), scores = scored.total
        var locations = RandomGenerator(seed: b.next())
        let reference = cds.distillation.cds(x, source: sources, target: c[0], sourcePrompt: c[1], unconditional: c[2], timestep: 300,
                                             noise: noise, contrastive: options.score, rng: &locations)
        #expect(scores == reference.gradient.scaled(by: -1))
        #expect(scored.own == reference.contrastiveGradient.scaled(by: -1), "the term is also given apart")
        #expect(a.state == b.state)
        let ddsScores = dds.scores(x, sources: sources, timestep: 300, noise: noise, rng: &unused).total
        let term = scores - ddsScores
        #expect(term.storage.map(abs).max()! > 1e-3, "the contrastive term changes the score")

        var doubled = options
        doubled.weight = 2 * options.weight
        var again = RandomGenerator(seed: 11)
        let twice = try scoring(.cds, contrastive: doubled).scores(x, sources: sources, timestep: 300, noise: noise, rng: &again).total - ddsScores
        let error = zip(twice.storage, term.storage).map { abs($0 - 2 * $1) }.max()!
        #expect(error <= 1e-4 * term.storage.map(abs).max()!)

        var off = options
        off.weight = 0
        var zero = RandomGenerator(seed: 11)
        #expect(try scoring(.cds, contrastive: off).scores(x, sources: sources, timestep: 300, noise: noise, rng: &zero).total == ddsScores)
        #expect(zero.state == RandomGenerator(seed: 11).state, "at weight 0 nothing is drawn, so the edit is DDS's")

        var d = RandomGenerator(seed: 11)
        let coupled = try scoring(.csd, contrastive: options)
        #expect(coupled.scores(x, sources: sources, timestep: 300, noise: noise, rng: &d).total == scores)
    }

    /// Under `csd` each particle's contrastive term stays its own: the Stein update mixes the DDS
    /// part of the scores, and each particle's term is added to its coupled direction after.
    @Test func csdCouplesTheDDSPartAndAddsEachParticlesContrastiveTermAfter() throws {
        var rng = RandomGenerator(seed: 13)
        let (x, sources, noise) = (rng.normal([3, 3, 16, 16]).scaled(by: 0.5), rng.normal([3, 3, 16, 16]).scaled(by: 0.5), rng.normal([3, 3, 16, 16]))
        var options = EditSettings.Contrastive()
        options.patches = 32
        let csd = try scoring(.csd, contrastive: options)
        let scored = csd.scores(x, sources: sources, timestep: 300, noise: noise, rng: &rng)
        let own = try #require(scored.own)
        let noisy = csd.model.schedule.addNoise(x, noise: noise, timestep: 300)
        func stein(_ s: Tensor) -> Tensor { csd.stein.step(kernelInputs: noisy.reshaped([3, 768]), scores: s.reshaped([3, 768])).update.reshaped(x.shape) }
        let directions = csd.couple(scored, particles: x, timestep: 300, noise: noise).directions
        let expected = stein(scored.total - own) + own
        let error = zip(directions.storage, expected.storage).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-5 * expected.storage.map(abs).max()!)
        // Coupling the whole scores would mix one particle's term into the others.
        let whole = stein(scored.total)
        #expect(zip(directions.storage, whole.storage).map { abs($0 - $1) }.max()! > 1e-3 * own.storage.map(abs).max()!)
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
