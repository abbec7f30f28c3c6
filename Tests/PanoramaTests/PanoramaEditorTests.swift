import CSD
import Core
import Foundation
import Testing
import World
@testable import Panorama

/// The edit mask on a world panorama with the bundled prior, and how the editor applies it.
@Suite struct PanoramaEditorTests {
    static let prior = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/prior").path

    /// A 360° strip, 256×32, with one red ball, and which of its pixels are the ball.
    static func panorama() -> (image: Tensor, ball: [Bool]) {
        let scene = WorldScene(caption: "a red ball on grass")!
        let r = WorldRenderer(scene: scene).renderCylindrical(center: [0, 1.3, 4.2], startAngle: -.pi, fieldOfView: 2 * .pi, width: 256, height: 32)
        let image = RGBImage(width: 256, height: 32, pixels: r.bytes).tensor.reshaped([1, 3, 32, 256])
        return (image, r.objectIndex.map { $0 != Rendering.ground && $0 != Rendering.sky })
    }

    static func editor(_ model: DiffusionModel, _ source: Tensor) throws -> PanoramaEditor {
        var settings = EditSettings()
        (settings.method, settings.steps, settings.bandwidthScale) = (.csd, 4, 4)
        let layout = try WindowLayout(width: 256, height: 32, window: 32, stride: 8, wrap: true)
        return try PanoramaEditor(model: model, source: source, layout: layout, settings: settings, windows: .random(8),
                                  sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
    }

    @Test func theMaskIsHighOnTheObjectTheEditNamesAndLowElsewhere() throws {
        let model = try DiffusionModel(folder: Self.prior)
        let (source, ball) = Self.panorama()
        let mask = try Self.editor(model, source).estimateEditMask(draws: 2)
        #expect(mask.shape == [1, 1, 32, 256])
        #expect(mask.storage.allSatisfy { $0 >= 0 && $0 <= 1 })
        func mean(_ pick: Bool) -> Float {
            let values = zip(mask.storage, ball).filter { $0.1 == pick }.map(\.0)
            return values.reduce(0, +) / Float(values.count)
        }
        #expect(ball.contains(true))
        #expect(mean(true) > 0.5, "the ball is inside the mask")
        let covered = zip(mask.storage, ball).filter { $0.1 && $0.0 >= 0.5 }.count
        #expect(Float(covered) / Float(ball.filter { $0 }.count) > 0.9, "its rims too")
        #expect(mean(false) < 0.2, "the rest of the panorama mostly is not")
        // Its edge fades (a 5×5 box blur moves at most 0.2 a cell): a hard edge made a hard edit edge.
        var steepest: Float = 0
        for y in 0..<32 {
            for x in 0..<256 {
                let here = mask.storage[y * 256 + x]
                steepest = max(steepest, abs(here - mask.storage[y * 256 + (x + 1) % 256]))
                if y + 1 < 32 { steepest = max(steepest, abs(here - mask.storage[(y + 1) * 256 + x])) }
            }
        }
        #expect(steepest <= 0.21, "the mask's edge fades out")
    }

    @Test func aZeroMaskFreezesThePanorama() throws {
        let model = try DiffusionModel(folder: Self.prior)
        let (source, _) = Self.panorama()
        let editor = try Self.editor(model, source)
        editor.editMask = Tensor(zeros: [1, 1, 32, 256])
        editor.advance()
        #expect(editor.panorama.storage == source.storage)
        let free = try Self.editor(model, source)
        free.advance()
        #expect(free.panorama.storage != source.storage)
    }

    /// The mask weighs scores by √m before the coupling and the update by √m after: without a
    /// coupling (DDS windows) that is m times the unmasked update, cell by cell, not m².
    @Test func anUncoupledEditMovesByTheMaskTimesItsUnmaskedUpdate() throws {
        let model = try DiffusionModel(folder: Self.prior)
        let (source, _) = Self.panorama()
        func editor() throws -> PanoramaEditor {
            var settings = EditSettings()
            (settings.method, settings.steps) = (.dds, 4)
            let layout = try WindowLayout(width: 256, height: 32, window: 32, stride: 8, wrap: true)
            return try PanoramaEditor(model: model, source: source, layout: layout, settings: settings, windows: .shiftedTiling,
                                      sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        }
        let free = try editor(), masked = try editor()
        // A ramp across the strip, 0 at the left edge to 1 at the right.
        let mask = Tensor(shape: [1, 1, 32, 256], storage: (0..<(32 * 256)).map { Float($0 % 256) / 255 })
        masked.editMask = mask
        free.advance()
        masked.advance()
        let plane = 32 * 256
        var worst: Float = 0, largest: Float = 0
        for ch in 0..<3 {
            for p in 0..<plane {
                let freeStep = free.panorama.storage[ch * plane + p] - source.storage[ch * plane + p]
                let maskedStep = masked.panorama.storage[ch * plane + p] - source.storage[ch * plane + p]
                worst = max(worst, abs(maskedStep - mask.storage[p] * freeStep))
                largest = max(largest, abs(freeStep))
            }
        }
        #expect(largest > 1e-3)
        #expect(worst < 1e-5 * max(1, largest))
    }

    /// Windows the mask leaves out are not scored (their score would be weighted by 0) but stay
    /// CSD particles: the step is the one that scores every window, at an eighth of the model calls.
    @Test func windowsTheMaskLeavesOutCostNoModelCallAndChangeNothing() throws {
        let model = try DiffusionModel(folder: Self.prior)
        let (source, _) = Self.panorama()
        func editor() throws -> PanoramaEditor {
            var settings = EditSettings()
            (settings.method, settings.steps, settings.bandwidthScale) = (.csd, 4, 4)
            let layout = try WindowLayout(width: 256, height: 32, window: 32, stride: 8, wrap: true)
            let editor = try PanoramaEditor(model: model, source: source, layout: layout, settings: settings, windows: .shiftedTiling,
                                            sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
            // Columns 100–109: inside the tiling's window at x = 96 alone at the first step.
            editor.editMask = Tensor(shape: [1, 1, 32, 256], storage: (0..<(32 * 256)).map { (100..<110).contains($0 % 256) ? 1 : 0 })
            return editor
        }
        let skipping = try editor(), scoringAll = try editor()
        scoringAll.scoresEveryWindow = true
        skipping.advance()
        scoringAll.advance()
        #expect(skipping.scoredWindows == 1)
        #expect(scoringAll.scoredWindows == 8)
        let change = zip(skipping.panorama.storage, source.storage).map { abs($0 - $1) }
        #expect(change.max()! > 1e-3, "the masked columns moved")
        #expect(change.enumerated().allSatisfy { $0.element == 0 || (100..<110).contains($0.offset % 256) }, "nothing else did")
        let difference = zip(skipping.panorama.storage, scoringAll.panorama.storage).map { abs($0 - $1) }.max()!
        #expect(difference <= 1e-3 * change.max()!, "the same step (to rounding: the step is about 1e-3)")
    }
}
