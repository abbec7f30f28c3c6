import Core
import Foundation
import Testing

/// `--version`, `--quiet` and `--json` as a user meets them.
@Suite struct ConsoleTests {
    @Test func versionPrintsThePackagesVersion() throws {
        let r = try CommandRunner.run(["--version"])
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == CSDVersion.current, "\(r.stdout)")
    }

    @Test func quietPrintsNothingButTheOutputAppears() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "render", "--size", "32", "-o", "\(dir)/in.png", "--quiet"])
        #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.isEmpty, "\(r.stdout) \(r.stderr)")
        let edit = ["edit", "image", "\(dir)/in.png", "--model", EditCommandTests.model, "--source", "a red ball on grass",
                    "--target", "a blue ball on grass", "--steps", "2"]
        r = try CommandRunner.run(edit + ["-o", "\(dir)/loud.png"])
        #expect(r.status == 0 && r.stdout.contains("wrote \(dir)/loud.png") && !r.stderr.isEmpty, "without --quiet: a summary and a progress bar")
        r = try CommandRunner.run(edit + ["-o", "\(dir)/quiet.png", "-q"])
        #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.isEmpty, "\(r.stdout) \(r.stderr)")
        #expect(FileManager.default.contents(atPath: "\(dir)/quiet.png") == FileManager.default.contents(atPath: "\(dir)/loud.png"))
    }

    @Test func aVideoEditReportsWhereItsTimeWentAsJSON() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["edit", "video", EditCommandTests.sample, "-o", "\(dir)/out.mp4", "--model", EditCommandTests.model,
                                       "--source", "a red ball on grass", "--target", "a blue ball on grass", "--steps", "1",
                                       "--working-size", "16", "--json", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["finished"] as? Bool == true && report?["window_steps"] as? Int == 3 && report?["frame_steps"] as? Int == 28, "\(r.stdout)")
    }
}
