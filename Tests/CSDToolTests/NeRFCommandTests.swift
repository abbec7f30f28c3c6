import Foundation
import Testing
import Video

@Suite struct NeRFCommandTests {
    /// Writes the world scene of `caption` (`views` views at `size`²) as `dir/scene`.
    static func writeScene(_ caption: String, views: Int, size: Int, in dir: String) throws {
        let r = try CommandRunner.run(["world", "nerf", "--caption", caption, "--views", "\(views)", "--size", "\(size)", "-o", "\(dir)/scene"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// A small world scene fitted by `csd nerf fit` renders its held-out views far better than
    /// chance, `csd nerf render` reads the field back, and the field's bytes do not depend on the
    /// number of threads.
    @Test func fitsAWorldSceneThenRendersItsViewsTheSameOnAnyCoreCount() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeScene("a green cone on snow", views: 16, size: 32, in: dir)
        let fit = ["nerf", "fit", "\(dir)/scene", "--resolution", "64", "--steps", "300", "--rays", "1024", "--hold-out", "4"]
        var r = try CommandRunner.run(fit + ["-o", "\(dir)/field.safetensors"], environment: ["CSD_THREADS": "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let heldOut = r.stdout.components(separatedBy: "held-out views ").last.flatMap { Double($0.prefix { $0 != " " }) }
        #expect(r.stdout.contains("PSNR on 4 held-out views") && (heldOut ?? 0) > 24, "\(r.stdout)")
        r = try CommandRunner.run(fit + ["-o", "\(dir)/one-thread.safetensors"], environment: ["CSD_THREADS": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: "\(dir)/field.safetensors") == FileManager.default.contents(atPath: "\(dir)/one-thread.safetensors"))
        r = try CommandRunner.run(["nerf", "render", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/views.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let psnr = r.stdout.split(separator: " ").dropLast().last.flatMap { Double($0) }
        #expect((psnr ?? 0) > 25, "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/views.png"))
        r = try CommandRunner.run(["nerf", "render", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "--orbit", "6", "-o", "\(dir)/orbit.mp4"])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try VideoReader(path: "\(dir)/orbit.mp4")
        var frames = 0
        while let frame = try reader.nextFrame() { frames += 1; #expect(frame.image.width == 32) }
        #expect(frames == 6)
    }

    /// A fit stopped and resumed from its checkpoint (resuming across a change of resolution) writes
    /// the bytes of a fit never stopped, and removes the checkpoint; a checkpoint of another
    /// fit is refused.
    @Test func aStoppedFitResumesToTheSameBytes() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeScene("a red ball on grass", views: 6, size: 16, in: dir)
        let fit = ["nerf", "fit", "\(dir)/scene", "--resolution", "16", "--steps", "60", "--rays", "256", "--hold-out", "3"]
        var r = try CommandRunner.run(fit + ["-o", "\(dir)/straight.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try CommandRunner.run(fit + ["-o", "\(dir)/resumed.safetensors", "--stop-after", "31"])
        #expect(r.status == 0 && r.stdout.contains("stopped after 31") && !FileManager.default.fileExists(atPath: "\(dir)/resumed.safetensors"), "\(r.stdout)")
        r = try CommandRunner.run(fit + ["-o", "\(dir)/resumed.safetensors", "--resume", "--seed", "5"])
        #expect(r.status != 0 && r.stderr.contains("another fit"), "\(r.stderr)")
        r = try CommandRunner.run(fit + ["-o", "\(dir)/resumed.safetensors", "--resume"])
        #expect(r.status == 0, "\(r.stderr)")
        let straight = FileManager.default.contents(atPath: "\(dir)/straight.safetensors")
        #expect(straight != nil && straight == FileManager.default.contents(atPath: "\(dir)/resumed.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/resumed.safetensors.checkpoint.safetensors"))
    }

    /// The fit's defaults are Adam at 0.2 with the distortion loss at 1e-5, chosen on the world
    /// scenes (docs/notebook/nerf.md, 2026-12-06 (evening)): a fit without the options writes
    /// the bytes of one with them, and other values write other bytes.
    @Test func aFitDefaultsToLearningRate02WithTheDistortionLoss() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeScene("a red ball on grass", views: 6, size: 16, in: dir)
        let fit = ["nerf", "fit", "\(dir)/scene", "--resolution", "16", "--steps", "40", "--rays", "256", "--hold-out", "3"]
        func field(_ name: String, _ extra: [String]) throws -> Data? {
            let r = try CommandRunner.run(fit + extra + ["-o", "\(dir)/\(name).safetensors"])
            #expect(r.status == 0, "\(r.stderr)")
            return FileManager.default.contents(atPath: "\(dir)/\(name).safetensors")
        }
        let defaults = try #require(try field("defaults", []))
        #expect(defaults == (try field("explicit", ["--lr", "0.2", "--distortion", "1e-5"])))
        #expect(defaults != (try field("lr01", ["--lr", "0.1", "--distortion", "1e-5"])))
        #expect(defaults != (try field("nodistortion", ["--lr", "0.2", "--distortion", "0"])))
    }

    /// `csd eval nerf-field` fits one field per caption and seed and reports each and the means.
    @Test func theFieldEvaluationReportsEverySceneAndTheMeans() throws {
        let r = try CommandRunner.run(["eval", "nerf-field", "--caption", "a blue cone on sand", "--caption", "a red ball on grass",
                                       "--scene-seed", "3", "--views", "8", "--size", "16", "--hold-out", "4", "--resolution", "16",
                                       "--steps", "40", "--rays", "256", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let scenes = report?["scenes"] as? [[String: Any]] ?? []
        #expect(scenes.map { $0["caption"] as? String } == ["a blue cone on sand", "a red ball on grass"] && scenes.allSatisfy { $0["seed"] as? Int == 3 })
        let psnrs = scenes.compactMap { $0["held_out_psnr"] as? Double }
        #expect(psnrs.count == 2 && psnrs.allSatisfy { $0 > 10 }, "\(psnrs)")
        #expect(abs((report?["mean_held_out_psnr"] as? Double ?? 0) - psnrs.reduce(0, +) / 2) < 1e-9)
    }

    @Test func badScenesAndFieldsAreOneLineErrors() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: "\(dir)/transforms.json", contents: Data("{\"frames\": []}".utf8))
        FileManager.default.createFile(atPath: "\(dir)/junk.safetensors", contents: Data(repeating: 7, count: 40))
        var r = try CommandRunner.run(["world", "nerf", "--caption", "a red ball on grass", "--views", "4", "--size", "16", "-o", "\(dir)/scene"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try CommandRunner.run(["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/good.safetensors", "--resolution", "8", "--steps", "2", "--rays", "16"])
        #expect(r.status == 0, "\(r.stderr)")
        let good = FileManager.default.contents(atPath: "\(dir)/good.safetensors")!
        FileManager.default.createFile(atPath: "\(dir)/truncated.safetensors", contents: good.prefix(good.count / 2))
        let cases: [([String], String)] = [
            (["nerf", "fit", "\(dir)/missing", "-o", "\(dir)/f.safetensors"], "no such file"),
            (["nerf", "fit", dir, "-o", "\(dir)/f.safetensors"], "no \"frames\""),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--center", "1,x,0"], "--center"),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--radius", "0"], "--radius"),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--color-smoothness", "0.5"], "0...1/6"),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--density-smoothness=-0.01"], "0...1/6"),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--distortion", "inf"], "--distortion"),
            (["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/f.safetensors", "--distortion=-1"], "--distortion"),
            (["nerf", "render", "\(dir)/junk.safetensors", "--scene", dir, "-o", "\(dir)/v.png"], "junk.safetensors"),
            (["nerf", "render", "\(dir)/truncated.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/v.png"], "truncated.safetensors"),
            (["nerf", "render", "Tests/CoreTests/Fixtures/gradients.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/v.png"], "not a radiance field"),
        ]
        for (arguments, message) in cases {
            let r = try CommandRunner.run(arguments)
            #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/f.safetensors") && !FileManager.default.fileExists(atPath: "\(dir)/v.png"))
    }
}
