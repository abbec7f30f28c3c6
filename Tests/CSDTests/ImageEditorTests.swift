import Core
import Foundation
import Testing
@testable import CSD

/// The image pipeline as a library user drives it: progress, cancellation, resume.
@Suite struct ImageEditorTests {
    static let prior = ParticleEditorTests.prior

    func configuration() -> ImageEditor.Configuration {
        var c = ImageEditor.Configuration(sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        (c.settings.steps, c.workingSize) = (4, 16)
        return c
    }

    func picture() -> RGBImage {
        RGBImage(width: 24, height: 20, pixels: (0..<(24 * 20 * 3)).map { UInt8(($0 * 37) % 251) })
    }

    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "image-editor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func anEditChangesTheColourAndKeepsTheAlpha() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var input = picture()
        input.alpha = (0..<(24 * 20)).map { UInt8(($0 * 7) % 256) }
        try input.writePNG(to: dir + "/in.png")
        let editor = ImageEditor(model: try DiffusionModel(path: Self.prior), configuration: configuration())
        _ = try editor.edit(try RGBImage(pngPath: dir + "/in.png"), input: dir + "/in.png", writingTo: dir + "/out.png")
        let written = try RGBImage(pngPath: dir + "/out.png")
        #expect(written.alpha == input.alpha)
        #expect(written.pixels != input.pixels, "the colour was edited")
    }

    @Test func progressComesOncePerStepAndTheOutputKeepsTheInputsSize() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let editor = ImageEditor(model: try DiffusionModel(path: Self.prior), configuration: configuration())
        var events = [EditProgress]()
        let outcome = try editor.edit(picture(), input: "picture", writingTo: dir + "/out.png", run: EditRun(progress: { events.append($0) }))
        #expect(outcome == .finished)
        #expect(events.map(\.step) == [1, 2, 3, 4])
        #expect(events.allSatisfy { $0.total == 4 && $0.label == "editing" })
        let written = try RGBImage(pngPath: dir + "/out.png")
        #expect((written.width, written.height) == (24, 20))
        #expect(written != picture(), "the edit changed the image")
        #expect(!FileManager.default.fileExists(atPath: EditOutputFiles(output: dir + "/out.png").checkpoint))
    }

    /// A red disc on green under a blue sky, 64 px: the world's "a red ball on grass" drawn by hand.
    func redBall() -> RGBImage {
        var pixels = [UInt8]()
        for y in 0..<64 {
            for x in 0..<64 {
                let (dx, dy) = (x - 32, y - 38)
                pixels += dx * dx + dy * dy < 81 ? [200, 30, 30] : y < 24 ? [120, 170, 230] : [60, 150, 50]
            }
        }
        return RGBImage(width: 64, height: 64, pixels: pixels)
    }

    @Test func aMaskedEditChangesTheBallAndLeavesTheCornersAsTheyWere() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try DiffusionModel(path: Self.prior)
        var changes = [Bool: (ball: Int, corners: Int)]()
        for masks in [false, true] {
            var c = configuration()
            // Guidance 7.5, not the default 3: a score strong enough that, unmasked, 6 steps move the
            // corners by a level.
            (c.workingSize, c.settings.steps, c.settings.guidance, c.masksEdit) = (64, 6, 7.5, masks)
            let out = dir + "/\(masks).png"
            _ = try ImageEditor(model: model, configuration: c).edit(redBall(), input: "ball", writingTo: out)
            let (before, after) = (redBall().pixels, try RGBImage(pngPath: out).pixels)
            func changed(_ cells: [(Int, Int)]) -> Int { cells.filter { x, y in (0..<3).contains { before[(y * 64 + x) * 3 + $0] != after[(y * 64 + x) * 3 + $0] } }.count }
            let corners = [(0..<8), (56..<64)].flatMap { xs in [(0..<8), (56..<64)].flatMap { ys in xs.flatMap { x in ys.map { (x, $0) } } } }
            changes[masks] = (changed([(32, 38), (30, 36), (34, 40), (32, 34)]), changed(corners))
        }
        #expect(changes[false]!.corners > 0, "unmasked, the edit reaches the corners")
        #expect(changes[true]!.corners == 0, "masked, it leaves them as they were")
        #expect(changes[true]!.ball == 4, "and changes the ball")
    }

    @Test func aCancelledEditLeavesItsCheckpointAndResumesToTheSameBytes() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let editor = ImageEditor(model: try DiffusionModel(path: Self.prior), configuration: configuration())
        let whole = dir + "/whole.png", resumed = dir + "/resumed.png"
        #expect(try editor.edit(picture(), input: "picture", writingTo: whole) == .finished)
        let files = EditOutputFiles(output: resumed)
        let stopped = try editor.edit(picture(), input: "picture", writingTo: resumed, run: EditRun(shouldStop: { $0 == 2 }))
        #expect(stopped == .stopped(step: 2, checkpoints: [files.checkpoint]))
        #expect(FileManager.default.fileExists(atPath: files.checkpoint))
        #expect(!FileManager.default.fileExists(atPath: resumed), "a stopped edit writes no output")
        var steps = [Int]()
        let finished = try editor.edit(picture(), input: "picture", writingTo: resumed, run: EditRun(progress: { steps.append($0.step) }, resume: true))
        #expect(finished == .finished)
        #expect(steps == [3, 4], "the resumed edit runs only the steps left")
        #expect(try Data(contentsOf: URL(fileURLWithPath: resumed)) == Data(contentsOf: URL(fileURLWithPath: whole)))
        #expect(!FileManager.default.fileExists(atPath: files.checkpoint))
    }

    @Test func saveEveryWritesTheIntermediateResults() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let editor = ImageEditor(model: try DiffusionModel(path: Self.prior), configuration: configuration())
        _ = try editor.edit(picture(), input: "picture", writingTo: dir + "/out.png", run: EditRun(saveEvery: 2))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["out.png", "out.png.step0002.png", "out.png.step0004.png"])
    }
}
