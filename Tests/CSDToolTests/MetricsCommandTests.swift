import Foundation
import Testing

@Suite struct MetricsCommandTests {
    func report(_ arguments: [String]) throws -> [String: Double] {
        let r = try CommandRunner.run(["metrics"] + arguments + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double])
    }

    @Test func worldVideoAgainstItselfAndAgainstAnotherEdit() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, caption) in [("red", "a red ball on grass"), ("blue", "a blue ball on grass")] {
            let r = try CommandRunner.run(["world", "video", "--caption", caption, "--frames", "5", "--size", "64x64", "-o", "\(dir)/\(name).mp4"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let same = try report(["\(dir)/red.mp4", "\(dir)/red.mp4", "--ground-truth", "\(dir)/red.json", "--target", "a red ball on grass"])
        #expect(same["psnr"]! > 90 && same["added_flicker"] == 0)
        #expect(same["warp_error"] == same["source_warp_error"] && same["source_warp_error"]! < 4)
        #expect(same["edit_success_color"] == 1)

        // The blue render is a perfect colour edit: it succeeds, changes only the object and adds little flicker.
        let edit = try report(["\(dir)/red.mp4", "\(dir)/blue.mp4", "--ground-truth", "\(dir)/red.json", "--target", "a blue ball on grass"])
        #expect(edit["edit_success_color"]! == 1)
        #expect(edit["psnr_outside_objects"]! > 35 && edit["psnr"]! < edit["psnr_outside_objects"]!)
        #expect(edit["warp_error"]! < 4)
        let wrong = try report(["\(dir)/red.mp4", "\(dir)/red.mp4", "--target", "a blue ball on grass"])
        #expect(wrong["edit_success_color"]! == 0)
    }

    @Test func mismatchedInputsAreOneLineErrors() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, frames) in [("a", "4"), ("b", "3")] {
            _ = try CommandRunner.run(["world", "video", "--caption", "a red ball on sand", "--frames", frames, "--size", "32x32", "-o", "\(dir)/\(name).mp4"])
        }
        var r = try CommandRunner.run(["metrics", "\(dir)/a.mp4", "\(dir)/b.mp4"])
        #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("b.mp4"), "\(r.stderr)")
        r = try CommandRunner.run(["metrics", "\(dir)/a.mp4", "\(dir)/a.mp4", "--ground-truth", "\(dir)/b.json"])
        #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("b.json"), "\(r.stderr)")
    }

    @Test func anEditAgainstItsIdeal() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, caption) in [("red", "a red ball on grass"), ("blue", "a blue ball on grass")] {
            let r = try CommandRunner.run(["world", "video", "--caption", caption, "--frames", "4", "--size", "64x64", "-o", "\(dir)/\(name).mp4"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        // The ideal itself: all the way, nothing outside the ball touched, no fringe.
        let perfect = try report(["\(dir)/red.mp4", "\(dir)/blue.mp4", "--ideal", "\(dir)/blue.mp4"])
        #expect(perfect["completion"] == 1 && perfect["fringe"]! < 4 && perfect["flicker_beyond_ideal"] == 0, "codec noise under the tolerance is all the ring holds")
        #expect(perfect["background_psnr"]! > 40 && perfect["psnr_to_ideal"]! > 90 && perfect["source_psnr_to_ideal"]! < 40)
        // No edit at all: none of the way.
        let none = try report(["\(dir)/red.mp4", "\(dir)/red.mp4", "--ideal", "\(dir)/blue.mp4"])
        #expect(none["completion"] == 0 && none["psnr_to_ideal"] == none["source_psnr_to_ideal"])
        let r = try CommandRunner.run(["metrics", "\(dir)/red.mp4", "\(dir)/red.mp4", "--ideal", "\(dir)/missing.mp4"])
        #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("missing.mp4"), "\(r.stderr)")
    }
}
