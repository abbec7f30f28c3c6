import CSD
import Core
import Foundation
import Testing
@testable import Video

/// The video pipeline as a library user drives it: windows, progress, cancellation, resume.
@Suite struct VideoEditorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sample = root.appendingPathComponent("Samples/red-ball-on-grass.mp4").path
    static let prior = root.appendingPathComponent("Models/prior").path

    /// The bundled prior turning a red ball blue at 16 px, `steps` a window.
    static func editor(steps: Int = 2, window: Int = 10, overlap: Int = 2) throws -> VideoEditor {
        var c = VideoEditor.Configuration(sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        (c.settings.steps, c.workingSize, c.window, c.overlap) = (steps, 16, window, overlap)
        return try VideoEditor(model: try DiffusionModel(path: prior), configuration: c)
    }

    /// An edit by instruction starts from the defaults measured for CSD-Edit, not from those of
    /// edits by prompts, whoever builds it (the command or a library user).
    @Test func anEditByInstructionTakesItsOwnGuidanceAndKernel() {
        let prompts = VideoEditor.Configuration(sourcePrompt: "a red ball", targetPrompt: "a blue ball")
        let instruction = VideoEditor.Configuration(instruction: "make the ball blue", imageGuidance: 2)
        #expect(prompts.settings.instructed == nil)
        #expect(instruction.settings.instructed == EditSettings.Instructed(imageGuidance: 2))
        #expect((instruction.sourcePrompt, instruction.targetPrompt) == ("", "make the ball blue"))
        #expect(instruction.settings.guidance == EditSettings.instructionEditGuidance && prompts.settings.guidance == EditSettings.promptEditGuidance)
        #expect(instruction.settings.bandwidthScale == VideoEditor.Configuration.instructionBandwidthScale)
        #expect(instruction.settings.bandwidthScale > prompts.settings.bandwidthScale)
        #expect(instruction.masksEdit == prompts.masksEdit && instruction.window == prompts.window)
    }

    @Test func windowsAndOverlapAreChecked() throws {
        var c = VideoEditor.Configuration(sourcePrompt: "a", targetPrompt: "b")
        (c.window, c.overlap) = (4, 4)
        #expect(throws: InputError("--overlap", "must be at least 0 and less than --window")) {
            try VideoEditor(model: try DiffusionModel(path: Self.prior), configuration: c)
        }
    }

    @Test func aCancelledEditResumesToTheBytesOfAnUninterruptedOne() throws {
        let dir = NSTemporaryDirectory() + "video-editor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let editor = try Self.editor()
        var events = [EditProgress]()
        let whole = dir + "/whole.mp4", resumed = dir + "/resumed.mp4"
        // 24 frames in windows of 10 sharing 2: starts 0, 8, 16, so 3 windows of 2 steps.
        let (outcome, report) = try editor.edit(input: Self.sample, writingTo: whole, run: EditRun(progress: { events.append($0) }))
        #expect(outcome == .finished)
        #expect(events.map(\.step) == Array(1...6) && events.allSatisfy { $0.total == 6 && $0.label == "editing 24 frames" })
        #expect(report.windowSteps == 6 && report.frameSteps == 2 * (10 + 10 + 8))
        let files = EditOutputFiles(output: resumed)
        let (stopped, _) = try editor.edit(input: Self.sample, writingTo: resumed, run: EditRun(shouldStop: { $0 == 3 }, checkpointEvery: 1))
        #expect(stopped == .stopped(step: 3, checkpoints: [files.windowCheckpoint, files.finishedWindows]))
        #expect(!FileManager.default.fileExists(atPath: resumed))
        var steps = [Int]()
        let (finished, _) = try editor.edit(input: Self.sample, writingTo: resumed, run: EditRun(progress: { steps.append($0.step) }, checkpointEvery: 1, resume: true))
        #expect(finished == .finished && steps == [4, 5, 6])
        #expect(try Data(contentsOf: URL(fileURLWithPath: resumed)) == Data(contentsOf: URL(fileURLWithPath: whole)))
        #expect(files.checkpoints.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }
}
