import CSD
import Core
import Foundation
import Testing
@testable import Video

/// A stream that fails partway is a one-line error naming the frame where it failed; an edit
/// keeps the windows it finished before that as its checkpoint and writes no output.
@Suite struct DamagedInputTests {
    /// The bundled sample (24 frames at 12 fps, video only) rewritten as Matroska, which a
    /// demuxer reads front to back, cut to `share` of its bytes.
    func truncatedClip(at path: String, share: Double) throws {
        let reader = try VideoReader(path: VideoEditorTests.sample)
        let writer = try VideoWriter(path: path, width: reader.width, height: reader.height, frameRate: reader.frameRate)
        for frame in try reader.readAll() { try writer.append(frame.image, time: frame.time) }
        try writer.finish()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(try VideoReader(path: path).readAll().count == 24, "the whole file reads")
        try bytes.prefix(Int(Double(bytes.count) * share)).write(to: URL(fileURLWithPath: path))
    }

    @Test func aTruncatedFileIsAnErrorNamingTheLastFrame() throws {
        let dir = try scratchFolder("csd-damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try truncatedClip(at: "\(dir)/cut.mkv", share: 0.6)
        do {
            _ = try VideoReader(path: "\(dir)/cut.mkv").readAll()
            Issue.record("a truncated file read without an error")
        } catch let error as InputError {
            #expect(error.subject == "\(dir)/cut.mkv" && error.problem.contains("ends after frame") && error.problem.contains("of the 2.00 s"), "\(error)")
        }
    }

    @Test func damagedPacketsAreAnErrorNamingTheFrame() throws {
        let dir = try scratchFolder("csd-damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: VideoEditorTests.sample)))
        for i in 8000..<12000 { bytes[i] = UInt8((Int(bytes[i]) * 7 + 13) % 256) }   // inside the picture data
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/damaged.mp4"))
        #expect(throws: InputError("\(dir)/damaged.mp4", "damaged video data after frame 2 (0.08 s): Invalid data found when processing input")) {
            try VideoReader(path: "\(dir)/damaged.mp4").readAll()
        }
    }

    @Test func anEditKeepsTheWindowsFinishedBeforeTheStreamFailed() throws {
        let dir = try scratchFolder("csd-damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try truncatedClip(at: "\(dir)/cut.mkv", share: 0.6)
        let editor = try VideoEditorTests.editor(steps: 1, window: 6, overlap: 2)
        let output = "\(dir)/edited.mp4"
        do {
            _ = try editor.edit(input: "\(dir)/cut.mkv", writingTo: output, run: EditRun(checkpointEvery: 1))
            Issue.record("the edit of a truncated file finished")
        } catch let error as InputError {
            #expect(error.problem.contains("ends after frame") && error.problem.contains("windows edited before it are kept"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        let kept = try FileManager.default.contentsOfDirectory(atPath: EditOutputFiles(output: output).finishedWindows)
        #expect(kept.filter { $0.hasSuffix(".safetensors") }.count >= 2, "\(kept)")
    }
}
