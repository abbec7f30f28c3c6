import Core
import Foundation
import Testing
@testable import CSD

@Suite struct ParticleEditorTests {
    static let prior = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/prior").path

    func editor(subset: Int, method: EditSettings.Method = .csd, optimizer: EditSettings.Optimizer = .sgd,
                kernelInput: EditSettings.KernelInput = .noisy) throws -> ParticleEditor {
        let model = try DiffusionModel(folder: Self.prior)
        var rng = RandomGenerator(seed: 11)
        var settings = EditSettings()
        (settings.method, settings.subset, settings.optimizer, settings.steps) = (method, subset, optimizer, 3)
        settings.kernelInput = kernelInput
        return try ParticleEditor(model: model, settings: settings, source: rng.normal([5, 3, 16, 16]).scaled(by: 0.5),
                                  sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
    }

    func movedRows(_ e: ParticleEditor, from before: Tensor) -> [Int] {
        (0..<before.shape[0]).filter { e.particles.item($0) != before.item($0) }
    }

    @Test(arguments: [EditSettings.Optimizer.sgd, .adam])
    func aSubsetMovesExactlyThatManyParticlesPerStep(optimizer: EditSettings.Optimizer) throws {
        let e = try editor(subset: 2, optimizer: optimizer)
        var seen = Set<Int>()
        for _ in 0..<3 {
            let before = e.particles
            e.advance()
            let moved = movedRows(e, from: before)
            #expect(moved.count == 2, "moved \(moved)")
            seen.formUnion(moved)
        }
        #expect(seen.count > 2, "the subset is drawn anew each step: \(seen)")
    }

    @Test func withoutASubsetEveryFreeParticleMovesAndFixedOnesStay() throws {
        let e = try editor(subset: 0)
        e.fixed = [true, false, false, false, true]
        let before = e.particles
        e.advance()
        #expect(movedRows(e, from: before) == [1, 2, 3])
    }

    @Test func theKernelSeesNoisyOrCleanParticlesAsChosen() throws {
        let (noisy, clean) = (try editor(subset: 0, kernelInput: .noisy), try editor(subset: 0, kernelInput: .clean))
        noisy.advance()
        clean.advance()
        // Same seed, scores and noise: only the kernel's input differs, so the coupled updates do.
        #expect(noisy.particles.storage != clean.particles.storage)
        let dds = try editor(subset: 0, method: .dds)
        dds.advance()
        #expect(dds.particles.storage != noisy.particles.storage && dds.particles.storage != clean.particles.storage)
    }
}
