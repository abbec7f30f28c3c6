import Foundation
import Testing
import Video

@Suite struct NeRFEditCommandTests {
    /// A scene of 8 views at 16² and a coarse field of it, in `dir`.
    static func fittedScene(in dir: String) throws {
        try NeRFCommandTests.writeScene("a red ball on grass", views: 8, size: 16, in: dir)
        let r = try CommandRunner.run(["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/field.safetensors", "--resolution", "16", "--steps", "60", "--rays", "512"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// `csd nerf edit` writes the edited field, an orbit and a contact sheet; stopped and resumed
    /// it writes the bytes of an edit never stopped; the field renders back.
    @Test(arguments: ["csd", "cds", "dataset-update"])
    func editsAFieldAndResumesToTheSameBytes(method: String) throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.fittedScene(in: dir)
        let edit = ["nerf", "edit", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "--source", "a red ball on grass", "--target", "a blue ball on grass",
                    "--method", method, "--steps", "4", "--views", "3", "--replace-every", "2", "--rays", "256", "--working-size", "16"]
        var r = try CommandRunner.run(edit + ["-o", "\(dir)/straight.safetensors", "--orbit", "\(dir)/orbit.mp4", "--orbit-frames", "3",
                                             "--contact-sheet", "\(dir)/sheet.png", "--report", "\(dir)/report.html"])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try VideoReader(path: "\(dir)/orbit.mp4")
        var frames = 0
        while try reader.nextFrame() != nil { frames += 1 }
        #expect(frames == 3 && FileManager.default.fileExists(atPath: "\(dir)/sheet.png"))
        // The report: a held-out view before and after, the sheet, and a plot per statistic the
        // method has (the dataset update's field steps measure none).
        let page = try String(contentsOfFile: "\(dir)/report.html", encoding: .utf8)
        #expect(page.components(separatedBy: "data:image/png;base64,").count - 1 == 5)
        #expect(page.components(separatedBy: "<polyline").count - 1 == ["csd": 4, "cds": 2, "dataset-update": 0][method]!)
        r = try CommandRunner.run(edit + ["-o", "\(dir)/resumed.safetensors", "--stop-after", "3", "--checkpoint-every", "0"])
        #expect(r.status == 0 && r.stdout.contains("stopped after 3 steps") && !FileManager.default.fileExists(atPath: "\(dir)/resumed.safetensors"), "\(r.stdout) \(r.stderr)")
        r = try CommandRunner.run(edit + ["-o", "\(dir)/resumed.safetensors", "--resume"])
        #expect(r.status == 0, "\(r.stderr)")
        let straight = FileManager.default.contents(atPath: "\(dir)/straight.safetensors")
        #expect(straight != nil && straight == FileManager.default.contents(atPath: "\(dir)/resumed.safetensors"))
        #expect(straight != FileManager.default.contents(atPath: "\(dir)/field.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/resumed.safetensors.checkpoint.safetensors"))
        r = try CommandRunner.run(["nerf", "render", "\(dir)/straight.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/views.png"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// An edit by prompts takes its scores at guidance 3, as image and video edits do.
    @Test func anEditByPromptsDefaultsToGuidance3() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.fittedScene(in: dir)
        let edit = ["nerf", "edit", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "--source", "a red ball on grass",
                    "--target", "a blue ball on grass", "--steps", "2", "--views", "2", "--working-size", "16"]
        var fields = [String: Data]()
        for (name, extra) in [("default", [String]()), ("3", ["--guidance", "3"]), ("7.5", ["--guidance", "7.5"])] {
            let r = try CommandRunner.run(edit + extra + ["-o", "\(dir)/\(name).safetensors"])
            #expect(r.status == 0, "\(r.stderr)")
            fields[name] = FileManager.default.contents(atPath: "\(dir)/\(name).safetensors")
        }
        #expect(fields["default"] != nil && fields["default"] == fields["3"])
        #expect(fields["default"] != fields["7.5"])
    }

    @Test func badEditsAreOneLineErrorsAndWriteNothing() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.fittedScene(in: dir)
        FileManager.default.createFile(atPath: "\(dir)/junk.safetensors", contents: Data(repeating: 7, count: 40))
        let base = ["nerf", "edit", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "--steps", "1", "--working-size", "16"]
        let prompts = ["--source", "a red ball on grass", "--target", "a blue ball on grass"]
        let out = ["-o", "\(dir)/e.safetensors"]
        let cases: [([String], String)] = [
            (base + ["--source", " ", "--target", "a blue ball on grass"] + out, "--source"),
            (base + ["--source", "a red ball on grass", "--target", ""] + out, "--target"),
            (base + prompts + out + ["--method", "sds"], "--method"),
            (base + prompts + out + ["--optimizer", "adam"], "--optimizer"),
            (base + prompts + out + ["--method", "dataset-update", "--cut-weight", "3"], "--cut-weight"),
            (base + prompts + out + ["--views=-2"], "--views"),
            (base + prompts + ["-o", "\(dir)/e.png"], "e.png"),
            (base + prompts + out + ["--orbit", "\(dir)/o.gif"], "o.gif"),
            (["nerf", "edit", "\(dir)/junk.safetensors", "--scene", "\(dir)/scene"] + prompts + out, "junk.safetensors"),
            (base + prompts + ["-o", "\(dir)/field.safetensors"], "overwrite the input"),
            (base + prompts + out + ["--model", "\(dir)/nowhere"], "nowhere"),
        ]
        for (arguments, message) in cases {
            let r = try CommandRunner.run(arguments)
            #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/e.safetensors") && !FileManager.default.fileExists(atPath: "\(dir)/e.png"))
    }

    /// `csd eval nerf` fits the scene, edits it by each method and reports every figure for each
    /// and for the ideal and unedited fields; the ideal meets its own views exactly.
    @Test func theEditEvaluationReportsEveryMethodAgainstTheIdeal() throws {
        let r = try CommandRunner.run(["eval", "nerf", "--edit", "a red ball on grass -> a blue ball on grass", "--steps", "2", "--views", "2",
                                       "--fit-steps", "40", "--fit-resolution", "16", "--methods", "csd,dds,dataset-update", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let scene = (report?["scenes"] as? [[String: Any]])?.first
        #expect(scene?["target"] as? String == "a blue ball on grass")
        for name in ["csd", "dds", "dataset-update", "unedited"] {
            let m = scene?[name] as? [String: Double] ?? [:]
            for key in ["psnr_to_ideal", "outside_psnr", "color_spread", "residual_spread", "edit_success", "reprojection_error"] {
                #expect(m[key].map { $0.isFinite && $0 >= 0 } == true, "\(name).\(key): \(m)")
            }
            #expect((m["psnr_to_ideal"] ?? 0) > 10 && (m["psnr_to_ideal"] ?? 99) < 60, "\(name): \(m)")
        }
        let ideal = scene?["ideal"] as? [String: Double] ?? [:]
        #expect(ideal["psnr_to_ideal"] ?? 0 > 100 && ideal["edit_success"] ?? 0 > 0.8 && ideal["residual_spread"] == 0, "\(ideal)")
        #expect((scene?["unedited"] as? [String: Double])?["edit_success"] ?? 1 < 0.2)
        #expect(report?["csd_psnr_gain_over_dds"] is Double && report?["csd_spread_reduction_from_dataset_update"] is Double)
    }

    /// By instruction: the scores come from the instruction model, the instruction phrased from
    /// the caption pair; a text-to-image model is refused as one.
    @Test func theEditEvaluationRunsByInstruction() throws {
        let r = try CommandRunner.run(["eval", "nerf", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p",
                                       "--edit", "a red ball on grass -> a blue ball on grass", "--steps", "1", "--views", "2",
                                       "--fit-steps", "20", "--fit-resolution", "16", "--methods", "csd", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(report["instructed"] as? Bool == true)
        let scene = try #require((report["scenes"] as? [[String: Any]])?.first)
        #expect(scene["instruction"] as? String == "make the ball blue")
        let csd = scene["csd"] as? [String: Double] ?? [:]
        #expect((csd["psnr_to_ideal"] ?? 0) > 10 && (csd["psnr_to_ideal"] ?? 99) < 60, "\(csd)")
        let wrong = try CommandRunner.run(["eval", "nerf", "--instruction-model", "\(CommandRunner.fixtures)/tiny-sd", "--steps", "1"])
        #expect(wrong.status != 0 && wrong.stderr.contains("--instruction-model"), "\(wrong.stderr)")
    }
}
