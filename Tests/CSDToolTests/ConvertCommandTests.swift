import Foundation
import Testing

@Suite struct ConvertCommandTests {
    /// `csd convert` writes a folder that samples the same image as the file it came from, and
    /// `--model` takes either.
    @Test func aConvertedCheckpointSamplesWhatTheSingleFileSamples() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(CommandRunner.fixtures)/single-file/sd1.safetensors"
        let converted = try CommandRunner.run(["convert", file, "-o", "\(dir)/sd1"])
        #expect(converted.status == 0, "stderr: \(converted.stderr)")
        #expect(converted.stdout.contains("SD 1.x"))
        var images = [Data]()
        for model in [file, "\(dir)/sd1"] {
            let out = "\(dir)/\(images.count).png"
            let result = try CommandRunner.run(["sample", "--model", model, "--prompt", "a red ball on grass", "--steps", "2",
                                                "--size", "32x32", "-o", out])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            images.append(FileManager.default.contents(atPath: out) ?? Data())
        }
        #expect(!images[0].isEmpty && images[0] == images[1])

        let again = try CommandRunner.run(["convert", file, "-o", "\(dir)/sd1"])
        #expect(again.status != 0 && again.stderr.contains("already exists"))
        let notACheckpoint = try CommandRunner.run(["convert", "\(CommandRunner.fixtures)/references.safetensors", "-o", "\(dir)/x"])
        #expect(notACheckpoint.status != 0 && notACheckpoint.stderr.split(separator: "\n").count == 1)
        #expect(notACheckpoint.stderr.contains("not a Stable Diffusion single-file checkpoint"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["0.png", "1.png", "sd1"])
    }
}
