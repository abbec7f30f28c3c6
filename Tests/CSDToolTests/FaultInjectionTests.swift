import Core
import Foundation
import Testing

/// Edits killed at each file operation in turn (`CSD_KILL_AT_FILE_OPERATION=N`: the process ends
/// as a kill would, before or after the Nth rename into place or before the Nth removal), each
/// followed by `--resume`: every resume must write the bytes of an edit never killed and leave no
/// checkpoint or temporary file behind.
@Suite struct FaultInjectionTests {
    /// Kills `arguments` at operation 1, 2, … until a run ends by itself; returns how many points were tried.
    func killAtEveryFileOperation(_ arguments: [String], output: String, dir: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let keep = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        func reset() throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) where !keep.contains(name) {
                try FileManager.default.removeItem(atPath: "\(dir)/\(name)")
            }
        }
        var r = try CommandRunner.run(arguments)
        #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        let expected = try #require(FileManager.default.contents(atPath: output), sourceLocation: sourceLocation)
        for point in 1...80 {
            try reset()
            r = try CommandRunner.run(arguments, environment: ["CSD_KILL_AT_FILE_OPERATION": "\(point)"])
            if r.status == 0 {
                #expect(FileManager.default.contents(atPath: output) == expected, sourceLocation: sourceLocation)
                print("\(arguments[0]) \(arguments[1]): killed and resumed at each of \(point - 1) file operations")
                return point - 1
            }
            #expect(r.status == 137, "kill point \(point): \(r.stderr)", sourceLocation: sourceLocation)
            r = try CommandRunner.run(arguments + ["--resume"])
            #expect(r.status == 0, "resume after kill point \(point): \(r.stderr)", sourceLocation: sourceLocation)
            #expect(FileManager.default.contents(atPath: output) == expected,
                    "resume after kill point \(point) wrote other bytes", sourceLocation: sourceLocation)
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir)).subtracting(keep).subtracting([(output as NSString).lastPathComponent])
            #expect(left.isEmpty, "after kill point \(point) and its resume: \(left.sorted())", sourceLocation: sourceLocation)
        }
        Issue.record("the edit was still killed after 80 file operations", sourceLocation: sourceLocation)
        return 80
    }

    @Test func anImageEditResumesExactlyFromAKillAtAnyFileOperation() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "render", "--size", "32", "-o", "\(dir)/in.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let points = try killAtEveryFileOperation(
            ["edit", "image", "\(dir)/in.png", "-o", "\(dir)/out.png", "--model", EditCommandTests.model, "--source", "a red ball on grass",
             "--target", "a blue ball on grass", "--steps", "4", "--checkpoint-every", "1"], output: "\(dir)/out.png", dir: dir)
        #expect(points >= 8, "3 checkpoints, the output and the removals")
    }

    /// Checkpoint writes follow the work: each finished window's frames once, in a file of its
    /// own, never the whole video again per window.
    @Test func aVideoCheckpointsEachFinishedWindowOnce() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["edit", "video", EditCommandTests.sample, "-o", "\(dir)/out.mp4", "--model", EditCommandTests.model,
                                       "--source", "a red ball on grass", "--target", "a blue ball on grass", "--steps", "2", "--working-size", "16",
                                       "--window", "8", "--overlap", "2", "--checkpoint-every", "1", "--stop-after", "7"])
        #expect(r.status == 0, "\(r.stderr)")
        let folder = "\(dir)/out.mp4.checkpoint.windows"
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["window-00000.safetensors", "window-00001.safetensors", "window-00002.safetensors"])
        for (index, frames) in [(0, "0..<8"), (2, "12..<20")] {
            let file = try SafetensorsFile(path: "\(folder)/window-0000\(index).safetensors")
            #expect(file.metadata["frames"] == frames && file.entries["frames"]?.shape.first == 8, "window \(index) holds its 8 frames, not the video's 24")
        }
    }

    @Test func aVideoEditResumesExactlyFromAKillAtAnyFileOperation() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let points = try killAtEveryFileOperation(
            ["edit", "video", EditCommandTests.sample, "-o", "\(dir)/out.mp4", "--model", EditCommandTests.model, "--source", "a red ball on grass",
             "--target", "a blue ball on grass", "--steps", "2", "--working-size", "16", "--window", "12", "--overlap", "2",
             "--checkpoint-every", "1"], output: "\(dir)/out.mp4", dir: dir)
        #expect(points >= 15, "per window its checkpoints, the finished window and the removal; then the video")
    }

    @Test func aPanoramaEditResumesExactlyFromAKillAtAnyFileOperation() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "panorama", "--caption", "a red ball on grass", "--size", "128x16", "-o", "\(dir)/p.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let points = try killAtEveryFileOperation(
            ["edit", "panorama", "\(dir)/p.png", "-o", "\(dir)/out.png", "--wrap", "--model", EditCommandTests.model, "--source", "a red ball on grass",
             "--target", "a blue ball on grass", "--steps", "3", "--working-size", "16", "--checkpoint-every", "1"], output: "\(dir)/out.png", dir: dir)
        #expect(points >= 6)
    }

    @Test func aNeRFEditResumesExactlyFromAKillAtAnyFileOperation() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NeRFEditCommandTests.fittedScene(in: dir)
        let points = try killAtEveryFileOperation(
            ["nerf", "edit", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/out.safetensors", "--source", "a red ball on grass",
             "--target", "a blue ball on grass", "--steps", "3", "--views", "2", "--working-size", "16", "--checkpoint-every", "1"],
            output: "\(dir)/out.safetensors", dir: dir)
        #expect(points >= 6)
    }
}
