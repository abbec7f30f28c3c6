import Core
import Foundation
import Testing
@testable import CSD

/// CSD-Edit's scores from an instruction model (the random-weight InstructPix2Pix fixture).
@Suite struct InstructedScoresTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CoreTests/Fixtures").path
    static let model = try! DiffusionModel(folder: "\(fixtures)/tiny-ip2p")

    func scoring(_ method: EditSettings.Method, imageGuidance: Float = 1.5) throws -> CoupledScores {
        var settings = EditSettings()
        (settings.method, settings.instructed) = (method, EditSettings.Instructed(imageGuidance: imageGuidance))
        return try CoupledScores(model: Self.model, settings: settings, sourcePrompt: "", targetPrompt: "make the ball blue")
    }

    /// The score is `−w(t)·(edited − baseline)`, each branch guided by both scales with the
    /// source's image conditioning, computed here from single UNet calls.
    @Test func scoreIsTheGuidedDifferenceOfTheTwoBranches() throws {
        var rng = RandomGenerator(seed: 2)
        let (x, source, noise) = (rng.normal([2, 4, 8, 8]), rng.normal([2, 4, 8, 8]), rng.normal([2, 4, 8, 8]))
        let scoring = try scoring(.dds, imageGuidance: 2.5)
        let scores = scoring.scores(x, sources: source, timestep: 300, noise: noise, rng: &rng).total
        let m = Self.model
        let c = m.encodeEach(prompts: ["make the ball blue", ""])
        let image = m.imageConditioning(modelSpace: source)
        func branch(_ sample: Tensor, _ text: DiffusionModel.Conditioning, _ conditioning: Tensor) -> Tensor {
            let n = sample.shape[0]
            return m.unet(Tensor.concatenateChannels(sample, conditioning), timesteps: Array(repeating: 300, count: n),
                          encoderHiddenStates: Tensor.concatenateBatch(Array(repeating: text.hiddenStates, count: n)))
        }
        func guided(_ sample: Tensor, _ text: DiffusionModel.Conditioning) -> Tensor {
            let full = branch(sample, text, image), imageOnly = branch(sample, c[1], image), neither = branch(sample, c[1], Tensor(zeros: image.shape))
            return neither + (full - imageOnly).scaled(by: 7.5) + (imageOnly - neither).scaled(by: 2.5)
        }
        let xt = m.schedule.addNoise(x, noise: noise, timestep: 300), st = m.schedule.addNoise(source, noise: noise, timestep: 300)
        let expected = (guided(xt, c[0]) - guided(st, c[1])).scaled(by: -1)
        let scale = expected.storage.map(abs).max()!
        let error = zip(scores.storage, expected.storage).map { abs($0 - $1) }.max()!
        #expect(scale > 0 && error <= 1e-4 * scale, "CSD-Edit score off by \(error) at scale \(scale)")
        // At the source itself the text guidance alone remains: the instruction's pull.
        let atSource = scoring.scores(source, sources: source, timestep: 300, noise: noise, rng: &rng).total
        #expect(atSource.storage.contains { $0 != 0 })
    }

    /// Under `csd` the instructed scores are coupled by the Stein update, as DDS scores are.
    @Test func csdCouplesTheInstructedScores() throws {
        var rng = RandomGenerator(seed: 4)
        let (x, source, noise) = (rng.normal([3, 4, 8, 8]), rng.normal([3, 4, 8, 8]), rng.normal([3, 4, 8, 8]))
        let (csd, dds) = (try scoring(.csd), try scoring(.dds))
        let scores = dds.scores(x, sources: source, timestep: 200, noise: noise, rng: &rng)
        #expect(dds.couple(scores, particles: x, timestep: 200, noise: noise).directions == scores.total)
        #expect(csd.couple(scores, particles: x, timestep: 200, noise: noise).directions != scores.total)
    }

    /// An instruction needs an instruction model and a method that takes it; an instruction
    /// model needs an instruction: one-line errors, not traps.
    @Test func mismatchesAreInputErrors() throws {
        #expect(throws: InputError.self) { _ = try scoring(.sds) }
        #expect(throws: InputError.self) { _ = try scoring(.cds) }
        #expect(throws: InputError.self) { _ = try scoring(.csd, imageGuidance: .nan) }
        #expect(throws: InputError.self) {
            _ = try CoupledScores(model: Self.model, settings: EditSettings(), sourcePrompt: "a red ball", targetPrompt: "a blue ball")
        }
        var settings = EditSettings()
        settings.instructed = EditSettings.Instructed()
        #expect(throws: InputError.self) {
            _ = try CoupledScores(model: try DiffusionModel(folder: ParticleEditorTests.prior), settings: settings, sourcePrompt: "", targetPrompt: "make it night")
        }
    }
}
