import CSD
import Core
import Foundation
import Testing
import World
@testable import Video

/// A video window's edit mask (`ParticleEditor.estimateEditMask`) on world frames with the bundled
/// prior, and what the mask does to an edit.
@Suite struct VideoEditMaskTests {
    /// Frames of a world video (three of a red ball at 32 px unless told), which pixels are
    /// objects and which are sky.
    static func frames(caption: String = "a red ball on grass", count: Int = 3, size: Int = 32) -> (frames: Tensor, ball: [Bool], sky: [Bool]) {
        let scene = WorldScene(caption: caption)!
        var images = [Tensor](), ball = [Bool](), sky = [Bool]()
        for f in 0..<count {
            let r = WorldRenderer(scene: scene).render(camera: WorldExports.videoCamera(time: Double(f) / 4, motion: .orbit), width: size, height: size)
            images.append(RGBImage(width: size, height: size, pixels: r.bytes).tensor.reshaped([1, 3, size, size]))
            ball += r.objectIndex.map { $0 != Rendering.ground && $0 != Rendering.sky }
            sky += r.objectIndex.map { $0 == Rendering.sky }
        }
        return (Tensor.concatenateBatch(images), ball, sky)
    }

    static func editor(_ source: Tensor, method: EditSettings.Method = .csd,
                       prompts: (String, String) = ("a red ball on grass", "a blue ball on grass")) throws -> ParticleEditor {
        var settings = EditSettings()
        (settings.method, settings.steps, settings.bandwidthScale) = (method, 3, 4)
        return try ParticleEditor(model: try DiffusionModel(path: VideoEditorTests.prior), settings: settings, source: source,
                                  sourcePrompt: prompts.0, targetPrompt: prompts.1)
    }

    /// A window's first mask (`estimateEditMask`) covers at most half the frames for an object's
    /// edit, more for a new ground's or a new time of day's (those are global edits).
    @Test(arguments: [("a red ball on grass", "a blue ball on grass", true), ("a blue cone on grass", "a blue cone on snow", false),
                      ("a red ball on sand", "a red ball on sand at sunset", false)])
    func onlyAnObjectEditIsMasked(source: String, target: String, masked: Bool) throws {
        let (frames, _, _) = Self.frames(caption: source)
        let coverage = EditMask.coverage(try Self.editor(frames, prompts: (source, target)).estimateEditMask(draws: 2))
        #expect((coverage <= EditMask.largestMaskedCoverage) == masked, "\(source) → \(target): coverage \(coverage)")
    }

    /// A global edit by captions takes the second mask, drawn at `EditMask.globalTimesteps`,
    /// where it leaves something out: a new ground's keeps the sky and the cone standing on the
    /// ground (`EditMask.withoutRareLooks`); a new time of day's covers everything, and the edit
    /// goes unmasked.
    @Test func aNewGroundIsMaskedToTheGroundAndANewTimeOfDayGoesEverywhere() throws {
        // At the prior's own size: at 32 px the sky is a thin band within the mask's feathering.
        let (images, cone, sky) = Self.frames(caption: "a blue cone on grass", count: 2, size: 64)
        let ground = try Self.editor(images, prompts: ("a blue cone on grass", "a blue cone on snow"))
        ground.masksEditWhereLocal()
        let mask = try #require(ground.editMask, "a new ground is masked")
        #expect(EditMask.coverage(mask) > EditMask.largestMaskedCoverage && EditMask.coverage(mask) <= EditMask.largestGlobalCoverage)
        // The sky farther than the mask's feathering (4 cells) from the ground.
        let notSky = Tensor(shape: [2, 1, 64, 64], storage: sky.map { $0 ? 0 : 1 })
        let nearGround = (0..<2).flatMap { EditMask.dilate(notSky.item($0).reshaped([1, 1, 64, 64]), radius: 4, wrap: false).storage }
        let skyCells = sky.indices.filter { sky[$0] && nearGround[$0] == 0 }
        #expect(skyCells.count > 100)
        let onSky = skyCells.map { mask.storage[$0] }.reduce(0, +) / Float(skyCells.count)
        #expect(onSky < 0.05, "the sky stays out of a new ground's mask (\(onSky))")
        let coneCells = cone.indices.filter { cone[$0] }, groundCells = cone.indices.filter { !cone[$0] && !sky[$0] }
        #expect(coneCells.count > 50)
        let onCone = coneCells.map { mask.storage[$0] }.reduce(0, +) / Float(coneCells.count)
        let onGround = groundCells.map { mask.storage[$0] }.reduce(0, +) / Float(groundCells.count)
        #expect(onCone < 0.05, "the cone stays out of a new ground's mask (\(onCone))")
        #expect(onGround > 0.9, "the ground is in it (\(onGround))")

        let (frames, _, _) = Self.frames(caption: "a red ball on sand")
        let time = try Self.editor(frames, prompts: ("a red ball on sand", "a red ball on sand at sunset"))
        time.masksEditWhereLocal()
        #expect(time.editMask == nil, "a new time of day goes everywhere")
    }

    @Test func theMaskHoldsTheBallInEveryFrameAndLittleElse() throws {
        let (source, ball, _) = Self.frames()
        let mask = try Self.editor(source).estimateEditMask(draws: 2)
        #expect(mask.shape == [3, 1, 32, 32])
        #expect(mask.storage.allSatisfy { $0 >= 0 && $0 <= 1 })
        for f in 0..<3 {
            let cells = (f * 1024)..<((f + 1) * 1024)
            let inside = cells.filter { ball[$0] }, outside = cells.filter { !ball[$0] }
            #expect(!inside.isEmpty)
            let covered = inside.filter { mask.storage[$0] >= 0.5 }.count
            #expect(Float(covered) / Float(inside.count) > 0.9, "frame \(f): the ball is inside the mask, rims too")
            let rest = outside.map { mask.storage[$0] }.reduce(0, +) / Float(outside.count)
            #expect(rest < 0.2, "frame \(f): the grass and sky mostly are not (\(rest))")
        }
    }

    @Test(arguments: [EditSettings.Method.csd, .dds])
    func whereTheMaskIsZeroTheFramesDoNotMove(method: EditSettings.Method) throws {
        let (source, _, _) = Self.frames()
        let editor = try Self.editor(source, method: method)
        // The left half of every frame is edited, the right half not.
        var mask = Tensor(zeros: [3, 1, 32, 32])
        for f in 0..<3 { for y in 0..<32 { for x in 0..<16 { mask.storage[f * 1024 + y * 32 + x] = 1 } } }
        editor.editMask = mask
        for _ in 0..<3 { editor.advance() }
        var (left, right): (Float, Float) = (0, 0)
        for i in 0..<source.count {
            let x = i % 32, change = abs(editor.particles.storage[i] - source.storage[i])
            if x < 16 { left = max(left, change) } else { right = max(right, change) }
        }
        #expect(left > 1e-3, "the masked half moved")
        #expect(right == 0, "the rest did not")
    }
}
