import Core
import Foundation
import Testing

/// `csd train prior`: a run killed at each of its file operations and resumed writes the model an
/// uninterrupted run writes, and bad input ends in one line.
@Suite struct TrainCommandTests {
    static let shard = "\(CommandRunner.fixtures)/prior-training.safetensors"
    static let model = "\(CommandRunner.packageRoot)/Models/prior"

    func arguments(_ dir: String) -> [String] {
        ["train", "prior", "--data", Self.shard, "--init-from", Self.model, "-o", "\(dir)/model", "--steps", "2", "--batch", "2",
         "--checkpoint-every", "1", "--loss-log", "\(dir)/loss.tsv", "--quiet"]
    }

    @Test func aRunKilledAtEachFileOperationResumesToTheSameModel() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(arguments(dir))
        #expect(r.status == 0, "\(r.stderr)")
        let weights = "\(dir)/model/unet/diffusion_pytorch_model.safetensors"
        let expected = try #require(FileManager.default.contents(atPath: weights))
        let expectedLog = try #require(FileManager.default.contents(atPath: "\(dir)/loss.tsv"))
        #expect(String(decoding: expectedLog, as: UTF8.self).split(separator: "\n").count == 3, "a header and 2 steps")
        _ = try DiffusionModel(folder: "\(dir)/model")

        var point = 1
        while point <= 40 {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) { try FileManager.default.removeItem(atPath: "\(dir)/\(name)") }
            r = try CommandRunner.run(arguments(dir), environment: ["CSD_KILL_AT_FILE_OPERATION": "\(point)"])
            if r.status == 0 { break }
            #expect(r.status == 137, "kill point \(point): \(r.stderr)")
            r = try CommandRunner.run(arguments(dir) + ["--resume"])
            #expect(r.status == 0, "resume after kill point \(point): \(r.stderr)")
            #expect(FileManager.default.contents(atPath: weights) == expected, "resume after kill point \(point) wrote other weights")
            #expect(FileManager.default.contents(atPath: "\(dir)/loss.tsv") == expectedLog, "resume after kill point \(point): loss log")
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir)).subtracting(["model", "loss.tsv"])
            #expect(left.isEmpty, "after kill point \(point) and its resume: \(left.sorted())")
            point += 1
        }
        #expect(point > 5 && point <= 40, "the run has file operations to kill at (\(point - 1) tried)")
    }

    @Test func badInputEndsInOneLine() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notShard = "\(CommandRunner.fixtures)/training.safetensors"
        for (extra, expected) in [
            (["--data", notShard], notShard),
            (["--batch", "0"], "--batch"),
            (["--init-from", "\(dir)/nothing"], "\(dir)/nothing"),
        ] {
            var args = ["train", "prior", "--data", Self.shard, "--init-from", Self.model, "-o", "\(dir)/model", "--steps", "1", "--batch", "1"]
            for k in stride(from: 0, to: extra.count, by: 2) {
                if let i = args.firstIndex(of: extra[k]) { args[i + 1] = extra[k + 1] } else { args += [extra[k], extra[k + 1]] }
            }
            let r = try CommandRunner.run(args)
            #expect(r.status != 0 && r.stderr.contains(expected), "\(extra): \(r.stderr)")
            #expect(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(extra): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/model"))
        }
    }
}
