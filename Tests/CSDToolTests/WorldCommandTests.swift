import Foundation
import Testing

@Suite struct WorldCommandTests {
    @Test func videoPanoramaAndNeRFSceneWithGroundTruth() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "video", "--caption", "a red ball on grass", "--frames", "6", "--size", "64x48",
                                       "--motion", "objects", "-o", "\(dir)/v.mp4"])
        #expect(r.status == 0, "\(r.stderr)")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/v.json"))) as? [String: Any])
        #expect(truth["caption"] as? String == "a red ball on grass")
        #expect((truth["views"] as? [Any])?.count == 6)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/v.mp4"))

        r = try CommandRunner.run(["world", "panorama", "--seed", "3", "--size", "256x32", "-o", "\(dir)/p.png"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/p.png") && FileManager.default.fileExists(atPath: "\(dir)/p.json"))

        r = try CommandRunner.run(["world", "nerf", "--seed", "4", "--views", "5", "--size", "32", "-o", "\(dir)/n"])
        #expect(r.status == 0, "\(r.stderr)")
        let transforms = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/n/transforms.json"))) as? [String: Any])
        let frames = try #require(transforms["frames"] as? [[String: Any]])
        #expect(frames.count == 5)
        for f in frames {
            let path = try #require(f["file_path"] as? String)
            #expect(FileManager.default.fileExists(atPath: "\(dir)/n/\(path)"))
            #expect((f["transform_matrix"] as? [[Double]])?.count == 4)
        }
        #expect(transforms["camera_angle_x"] is Double && transforms["fl_x"] is Double)
    }

    @Test func captionsOutsideTheGrammarAreOneLineErrors() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["world", "video", "--caption", "a zebra on the moon", "-o", "\(dir)/v.mp4"])
        #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("--caption"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/v.mp4"))
    }

    /// `csd world shapes` writes the shape classifier's inputs, labels and blur radii, three per
    /// render; a count out of range is a one-line error and no file.
    @Test func shapeTrainingSet() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "shapes", "--count", "8", "-o", "\(dir)/s.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s.safetensors"))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let inputs = try #require(header["inputs"] as? [String: Any]), labels = try #require(header["labels"] as? [String: Any])
        #expect(inputs["shape"] as? [Int] == [24, 2, 24, 24] && labels["shape"] as? [Int] == [24] && labels["dtype"] as? String == "U8")
        r = try CommandRunner.run(["world", "shapes", "--count", "0", "-o", "\(dir)/t.safetensors"])
        #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("--count"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/t.safetensors"))
    }

    /// An output folder that cannot be made (a file stands where a folder should) is the usual
    /// one-line `error: PATH: problem`, not a Foundation error dump, and comes before any rendering.
    @Test func unwritableOutputFoldersAreOneLineErrors() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(dir)/file"))
        for arguments in [["world", "vocab", "-o", "\(dir)/file/vocab"], ["world", "nerf", "--caption", "a red ball on grass", "--views", "1000", "-o", "\(dir)/file/scene"]] {
            let start = Date()
            let r = try CommandRunner.run(arguments)
            #expect(r.status != 0, "\(arguments) succeeded")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: \(dir)/file/") && r.stderr.contains("\(dir)/file is a file, not a folder"),
                    "\(r.stderr)")
            #expect(Date().timeIntervalSince(start) < 20, "\(arguments[1]) rendered before failing")
        }
    }
}
