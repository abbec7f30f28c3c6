import Core
import Foundation
import Panorama
import Testing

@Suite struct EvalCommandTests {
    /// The gate runs end to end on any model and reports rates in [0, 1] (the tiny random fixture
    /// model scores at chance; the bundled prior's figures are in the README).
    @Test func evalPriorPrintsOneJSONObjectWithEveryRate() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try CommandRunner.run(["eval", "prior", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--renders", "2",
                                            "--samples", "2", "--steps", "2", "--json", "--grid", "\(dir)/grid.png"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let probe = try #require(object["caption_probe"] as? [String: [String: Double]])
        #expect(Set(probe.keys) == ["color", "shape", "ground"])
        for rates in probe.values {
            #expect(Set(rates.keys) == ["t100", "t300", "t500", "t700"])
            #expect(rates.values.allSatisfy { (0...1).contains($0) })
        }
        let generation = try #require(object["generation"] as? [String: Any])
        for key in ["color_accuracy", "ground_accuracy", "shape_accuracy"] {
            #expect((generation[key] as? Double).map { (0...1).contains($0) } == true, "\(key)")
        }
        let judged = try #require(generation["judged"] as? [[String: Any]])
        #expect(judged.count == 2 && judged.allSatisfy { ($0["caption"] as? String)?.isEmpty == false && $0["ground"] is String })
        #expect(FileManager.default.fileExists(atPath: "\(dir)/grid.png"))
        // The gate names each rate below its target (a random model misses most of them).
        let unmet = try #require(object["targets_unmet"] as? [String])
        let least = ["color": 0.95, "ground": 0.95, "shape": 0.90]
        var below = probe.flatMap { swap, rates in rates.filter { $0.value < least[swap]! }.map { "probe \(swap) \($0.key.replacingOccurrences(of: "t", with: "t="))" } }
        for (key, name, target) in [("color_accuracy", "colour", 0.8), ("ground_accuracy", "ground", 0.9), ("shape_accuracy", "shape", 0.6)]
        where (generation[key] as? Double ?? 1) < target {
            below.append("generation \(name)")
        }
        #expect(!below.isEmpty && Set(unmet.map { String($0.prefix { $0 != ":" }) }) == Set(below), "\(unmet) against \(below)")
    }

    /// `eval video` runs both methods through the video editor and reports each figure per video
    /// and on average; the unedited source's PSNR to the ideal is the same for both.
    @Test func evalVideoReportsBothMethodsAgainstTheIdeal() throws {
        let result = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--videos", "6", "--frames", "2",
                                            "--steps", "1", "--size", "32", "--bandwidth-scale", "2", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["bandwidth_scale"] as? Double == 2)
        let perVideo = try #require(object["per_video"] as? [[String: Any]])
        #expect(perVideo.count == 6 && perVideo.map { $0["kind"] as? String }.prefix(2) == ["colour", "colour at sunset"])
        // A time-of-day edit changes every pixel: no ring to judge a fringe in, and null says so.
        let timeOfDay = try #require(perVideo.last?["csd"] as? [String: Any])
        #expect(perVideo.last?["kind"] as? String == "time of day" && timeOfDay["fringe"] is NSNull)
        for row in perVideo.prefix(2) {
            let csd = try #require(row["csd"] as? [String: Double]), dds = try #require(row["dds"] as? [String: Double])
            #expect(Set(csd.keys) == ["completion", "background_psnr", "fringe", "psnr_to_ideal", "source_psnr_to_ideal", "flicker", "seconds"])
            #expect(csd["source_psnr_to_ideal"] == dds["source_psnr_to_ideal"])
            #expect(csd.values.allSatisfy(\.isFinite) && csd["completion"]! <= 1)
        }
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["csd"] is [String: Double] && summary["dds"] is [String: Double])
        let bad = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--methods", "sds"])
        #expect(bad.status != 0 && bad.stderr.contains("--methods"))
        let narrow = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--bandwidth-scale", "0"])
        #expect(narrow.status != 0 && narrow.stderr.contains("--bandwidth-scale"))
        let badCRF = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--crf", "52"])
        #expect(badCRF.status != 0 && badCRF.stderr.contains("--crf"))
    }

    /// `--crf` reaches the edited video's encoder: at 0 (lossless) the same edit's figures differ
    /// from those at the editor's default, and the JSON says which was used.
    @Test func evalVideoEncodesTheEditAtTheChosenQuality() throws {
        func run(_ crf: String) throws -> [String: Any] {
            let result = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--videos", "1", "--frames", "2",
                                                "--steps", "1", "--size", "32", "--methods", "dds", "--crf", crf, "--json"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        let lossless = try run("0"), lossy = try run("40")
        #expect(lossless["crf"] as? Int == 0 && lossy["crf"] as? Int == 40)
        func psnr(_ object: [String: Any]) -> Double? { ((object["per_video"] as? [[String: Any]])?.first?["dds"] as? [String: Double])?["psnr_to_ideal"] }
        let a = try #require(psnr(lossless)), b = try #require(psnr(lossy))
        #expect(a != b, "crf 0 and 40 gave the same edit: \(a) dB")
        // The ideal edit through the same codec: at 0 it is the ideal the edits are measured
        // against, so it completes and adds no flicker; at 40 the codec alone costs both.
        func ideal(_ object: [String: Any]) -> [String: Double]? { (object["summary"] as? [String: Any])?["ideal"] as? [String: Double] }
        let exact = try #require(ideal(lossless)), coded = try #require(ideal(lossy))
        #expect(exact["completion"] == 1 && exact["flicker"] == 0, "\(exact)")
        #expect(try #require(coded["completion"]) < 1 && (coded["flicker"] ?? 0) > 0, "\(coded)")
    }

    /// `--decay-every` reaches the editor's learning rate, and the JSON says which was used.
    @Test func evalVideoTakesTheLearningRatesDecay() throws {
        func run(_ extra: [String]) throws -> [String: Any] {
            let result = try CommandRunner.run(["eval", "video", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--videos", "1", "--frames", "2",
                                                "--steps", "3", "--size", "32", "--methods", "dds", "--crf", "0", "--json"] + extra)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        let plain = try run([]), decayed = try run(["--decay-every", "1"])
        #expect(plain["decay_every"] as? Int == 0 && decayed["decay_every"] as? Int == 1)
        func psnr(_ object: [String: Any]) -> Double? { ((object["per_video"] as? [[String: Any]])?.first?["dds"] as? [String: Double])?["psnr_to_ideal"] }
        #expect(try #require(psnr(plain)) != (try #require(psnr(decayed))))
        #expect(try CommandRunner.run(["eval", "video", "--decay-every", "-1"]).status != 0)
    }

    /// `eval csd-edit`: CSD-Edit and per-frame sampling take `--guidance`, DDS-based CSD
    /// `--prompt-guidance` (the prompts' default, 3); each option moves its own methods' figures
    /// only, as `--bandwidth-scale` and `--prompt-bandwidth-scale` move their coupled method's only.
    @Test func csdEditEvaluationTakesEachMethodsGuidance() throws {
        func run(_ extra: [String]) throws -> [String: Any] {
            let r = try CommandRunner.run(["eval", "csd-edit", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p", "--model",
                                           "\(CommandRunner.fixtures)/tiny-sd", "--videos", "1", "--frames", "2", "--steps", "2",
                                           "--sampling-steps", "1", "--size", "32", "--json"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        func psnr(_ o: [String: Any], _ method: String) -> Double? { (o[method] as? [String: Double])?["psnr_to_ideal"] }
        let defaults = try run([])
        #expect(defaults["guidance"] as? Double == 5 && defaults["prompt_guidance"] as? Double == 3)
        let instructionAt2 = try run(["--guidance", "2"]), promptsAt9 = try run(["--prompt-guidance", "9"])
        #expect(psnr(instructionAt2, "csd-edit") != psnr(defaults, "csd-edit"))
        #expect(psnr(instructionAt2, "per-frame sampling") != psnr(defaults, "per-frame sampling"))
        #expect(psnr(instructionAt2, "csd") == psnr(defaults, "csd"))
        #expect(psnr(promptsAt9, "csd") != psnr(defaults, "csd"))
        #expect(psnr(promptsAt9, "csd-edit") == psnr(defaults, "csd-edit"))
        let bad = try CommandRunner.run(["eval", "csd-edit", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p", "--prompt-guidance", "-1"])
        #expect(bad.status != 0 && bad.stderr.contains("--prompt-guidance"), "\(bad.stderr)")
        // The coupled methods take the video editor's bandwidths (× 16 by instruction, × 4 by
        // prompts) unless told otherwise, each its own; per-frame sampling has no kernel.
        #expect(defaults["bandwidth_scale"] as? Double == 16 && defaults["prompt_bandwidth_scale"] as? Double == 4)
        let narrow = try run(["--bandwidth-scale", "1"]), narrowPrompts = try run(["--prompt-bandwidth-scale", "1"])
        #expect(psnr(narrow, "csd-edit") != psnr(defaults, "csd-edit"))
        #expect(psnr(narrow, "csd") == psnr(defaults, "csd"))
        #expect(psnr(narrowPrompts, "csd") != psnr(defaults, "csd"))
        #expect(psnr(narrowPrompts, "csd-edit") == psnr(defaults, "csd-edit"))
        #expect(psnr(narrow, "per-frame sampling") == psnr(defaults, "per-frame sampling"))
        for option in ["--bandwidth-scale", "--prompt-bandwidth-scale"] {
            let bad = try CommandRunner.run(["eval", "csd-edit", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p", option, "0"])
            #expect(bad.status != 0 && bad.stderr.contains(option), "\(bad.stderr)")
        }
        // Masked as `csd edit video` is, unless told not to: unmasked, every method edits all of every frame.
        func share(_ o: [String: Any], _ method: String) -> Double? { (o[method] as? [String: Double])?["edited_share"] }
        #expect(defaults["mask"] as? String == "auto")
        let unmasked = try run(["--mask", "none"])
        for method in ["csd-edit", "csd", "per-frame sampling"] {
            #expect(share(unmasked, method) == 1)
            #expect(try #require(share(defaults, method)) > 0 && (try #require(share(defaults, method))) <= 1)
        }
        let badMask = try CommandRunner.run(["eval", "csd-edit", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p", "--mask", "some"])
        #expect(badMask.status != 0 && badMask.stderr.contains("--mask"), "\(badMask.stderr)")
    }

    /// The probe's noise draws are an option, reported back; fewer than one is a one-line error.
    @Test func probeDrawsAreReportedAndCheckedFirst() throws {
        let base = ["eval", "prior", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--renders", "1", "--samples", "0", "--json"]
        let result = try CommandRunner.run(base + ["--probe-draws", "2"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["probe_draws"] as? Int == 2)
        let bad = try CommandRunner.run(base + ["--probe-draws", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--probe-draws") && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }

    /// The posterior probe runs on a pixel-space model beside the model's own, with its rates
    /// and effective layouts; a latent model or a count below one is a one-line error.
    @Test func posteriorProbeIsReportedForPixelModels() throws {
        let base = ["eval", "prior", "--renders", "2", "--samples", "0", "--json"]
        let result = try CommandRunner.run(base + ["--model", "\(CommandRunner.packageRoot)/Models/prior", "--posterior-layouts", "8"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let posterior = try #require(object["posterior_probe"] as? [String: Any])
        #expect(posterior["layouts"] as? Int == 8)
        for swap in ["color", "shape", "ground"] {
            let rates = try #require(posterior[swap] as? [String: Double])
            #expect(Set(rates.keys) == ["t100", "t300", "t500", "t700"] && rates.values.allSatisfy { (0...1).contains($0) })
        }
        let effective = try #require(posterior["effective_layouts"] as? [String: Double])
        #expect(effective.values.allSatisfy { (0.99...8.01).contains($0) })
        for bad in [["--model", "\(CommandRunner.fixtures)/tiny-sd", "--posterior-layouts", "8"], ["--posterior-layouts", "0"]] {
            let r = try CommandRunner.run(base + bad)
            #expect(r.status != 0 && r.stderr.contains("--posterior-layouts") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }
}

@Suite struct EvalAnalyserCommandTests {
    /// Every miss is listed with its truth and verdict, which differ, and written as an image.
    @Test func listsAndWritesTheRendersItMisjudges() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CommandRunner.run(["eval", "analyser", "--renders", "240", "--json", "--write-misses", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let misses = try #require(object["misses"] as? [[String: Any]])
        let rates = ["color_accuracy", "ground_accuracy", "shape_accuracy"].map { object[$0] as? Double ?? -1 }
        #expect(rates.allSatisfy { (0...1).contains($0) })
        // A render missed on any count is one miss, so misses ≥ the most misses of one kind.
        #expect(misses.count >= Int((240 * (1 - rates.min()!)).rounded()))
        #expect(misses.allSatisfy { ($0["truth"] as? String) != ($0["verdict"] as? String) })
        let written = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(Set(written) == Set(misses.map { "\($0["seed"] as? Int ?? -1).png" }))
        let bad = try CommandRunner.run(["eval", "analyser", "--renders", "4", "--write-misses", "\(dir)/absent"])
        #expect(bad.status != 0 && bad.stderr.contains("absent") && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }
}

@Suite struct EvalEditsCommandTests {
    @Test func reportsBothComparisonsAsOneJSONObject() throws {
        let r = try CommandRunner.run(["eval", "edits", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--images", "1", "--frames", "2",
                                       "--steps", "1", "--size", "16", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let imagesReport = try #require(object["image_edits"] as? [String: [String: Double]])
        #expect(Set(imagesReport.keys) == ["dds", "sds"])
        let video = try #require(object["video_edits"] as? [String: [String: Double]])
        #expect(Set(video.keys) == ["csd", "dds"])
        for o in Array(imagesReport.values) + Array(video.values) {
            #expect((0...1).contains(o["edit_success"]!) && o["seconds_per_step"]! > 0)
        }
        #expect(object["csd_flicker_reduction"] is Double)
        #expect(object["precision"] as? String == "fp32")
    }
}

@Suite struct EvalStructureCommandTests {
    /// DDS and CDS on images and four ways on a video, in one JSON object; the ideal edit, measured
    /// the same way, succeeds everywhere and keeps the source's silhouettes, and the unedited
    /// source succeeds nowhere: the figures can tell an edit from none.
    @Test func measuresDDSAndCDSAgainstTheIdealEdit() throws {
        let r = try CommandRunner.run(["eval", "structure", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--seeds", "1", "--frames", "2",
                                       "--steps", "1", "--size", "64", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let images = try #require(object["images"] as? [String: [String: Double]])
        #expect(Set(images.keys) == ["unedited", "dds", "cds", "ideal"])
        #expect(images["ideal"]!["success"] == 1 && images["ideal"]!["silhouette_iou"]! >= 0.9)
        #expect(images["unedited"]!["success"] == 0 && images["unedited"]!["psnr_to_ideal"]! < 25)
        for name in ["dds", "cds"] { #expect(images[name]!["seconds_per_step"]! > 0 && (0...1).contains(images[name]!["silhouette_iou"]!)) }
        let video = try #require(object["video"] as? [String: [String: Double]])
        #expect(Set(video.keys) == ["unedited", "dds", "cds", "csd", "csd+cds"])
        #expect(object["cds_gain_db"] is Double && object["cds_step_cost"] is Double)
        let bad = try CommandRunner.run(["eval", "structure", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--seeds", "0"])
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("--seeds"), "\(bad.stderr)")
    }
}

@Suite struct EvalPanoramaCommandTests {
    /// `--cut-weight` gives CSD CDS scores: the figures move, and the weight is reported.
    @Test func theContrastiveTermChangesTheCSDPanoramaEdit() throws {
        let base = ["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "2", "--methods", "csd",
                    "--source-caption", "a red ball on grass", "--target-caption", "a red ball on snow", "--json"]
        var changes = [Double]()
        for extra in [[], ["--cut-weight", "3"]] {
            let r = try CommandRunner.run(base + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            #expect(object["cut_weight"] as? Double == (extra.isEmpty ? 0 : 3))
            changes.append(try #require((object["csd"] as? [String: Double])?["mean_change"]))
        }
        #expect(changes[0] != changes[1])
    }

    /// By default the four benchmark scenes, each reported, and their means.
    @Test func comparesThreeWaysOfEditingPanoramasOnTheBenchmarkScenes() throws {
        let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let scenes = try #require(object["scenes"] as? [[String: Any]])
        #expect(scenes.count == 4)
        #expect(Set(scenes.compactMap { $0["source"] as? String }).count == 4, "four different scenes")
        for name in ["csd", "averaging", "independent"] {
            let o = try #require(object[name] as? [String: Double], "\(name)")
            #expect(o["seam_error"]! >= 0 && o["style_spread"]! >= 0 && (0...1).contains(o["edit_success"]!))
            // The summary's seam error is the scenes' mean.
            let perScene = scenes.map { ($0[name] as? [String: Double])?["seam_error"] ?? .nan }
            #expect(abs(o["seam_error"]! - perScene.reduce(0, +) / Double(perScene.count)) < 1e-9)
        }
    }

    /// By instruction: the scores come from the instruction model, the instruction phrased from
    /// the caption pair; every method also reports its figures against the ideal.
    @Test func editsPanoramasByInstruction() throws {
        let r = try CommandRunner.run(["eval", "panorama", "--instruction-model", "\(CommandRunner.fixtures)/tiny-ip2p", "--size", "64x16", "--steps", "1",
                                       "--methods", "csd", "--mask", "--source-caption", "a red ball and a red cube on grass",
                                       "--target-caption", "a blue ball and a blue cube on grass", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["instructed"] as? Bool == true)
        let scene = try #require((object["scenes"] as? [[String: Any]])?.first)
        #expect(scene["instruction"] as? String == "make the ball blue and the cube blue")
        let csd = try #require(object["csd"] as? [String: Double])
        #expect(csd["psnr_to_ideal"]! > 5 && csd["psnr_to_ideal"]! < 60 && csd["background_psnr"]! > 5)
        // A text-to-image model is refused as an instruction model, and the other way round.
        let wrong = try CommandRunner.run(["eval", "panorama", "--instruction-model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1"])
        #expect(wrong.status != 0 && wrong.stderr.contains("--instruction-model"), "\(wrong.stderr)")
    }

    @Test func runsChosenMethodsOnAGroundEditWithTheMask() throws {
        let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1",
                                       "--methods", "csd", "--mask", "--kernel", "clean", "--source-caption", "a red ball and a red cube on grass",
                                       "--target-caption", "a red ball and a red cube on snow", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["csd"] != nil && object["averaging"] == nil && object["independent"] == nil)
        let scenes = try #require(object["scenes"] as? [[String: Any]])
        #expect(object["kernel"] as? String == "clean")
        #expect(object["mask"] as? Bool == true && scenes.count == 1 && scenes[0]["target"] as? String == "a red ball and a red cube on snow")
        // `csd edit panorama`'s noise levels: 50–250 where the mask covers more than half the panorama.
        let coverage = try #require(scenes[0]["mask_coverage"] as? Double)
        #expect((0...1).contains(coverage) && object["t_range"] as? String == "auto")
        #expect(scenes[0]["t_range"] as? String == (coverage > 0.5 ? "50-250" : "50-950"))
        #expect(scenes[0]["csd"] != nil && (scenes[0]["csd"] as? [String: Double])?["stray_share"] != nil)
        // A ground edit has one object, the ground: object by object is the style spread.
        let csd = try #require(object["csd"] as? [String: Double])
        #expect(csd["object_spread"] != nil && csd["object_spread"] == csd["style_spread"])
    }

    /// Without a mask the edit covers the whole panorama, so the noise levels are 50–250 unless
    /// `--t-range` says otherwise.
    @Test func theNoiseLevelsFollowTheMaskUnlessGiven() throws {
        func scene(_ extra: [String]) throws -> [String: Any] {
            let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1",
                                           "--methods", "csd", "--source-caption", "a red ball on grass", "--target-caption", "a blue ball on grass",
                                           "--json"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require((object["scenes"] as? [[String: Any]])?.first)
        }
        let automatic = try scene([]), given = try scene(["--t-range", "50-950"])
        #expect(automatic["t_range"] as? String == "50-250" && automatic["mask_coverage"] == nil)
        #expect(given["t_range"] as? String == "50-950")
        #expect((automatic["csd"] as? [String: Double])?["mean_change"] != (given["csd"] as? [String: Double])?["mean_change"])
    }

    @Test func badMethodsAndCaptionsAreOneLineErrors() throws {
        let source = ["--source-caption", "a red ball and a red cube on grass"]
        for extra in [["--methods", "csd,magic"], source + ["--target-caption", "a purple elephant"], source + ["--target-caption", "a blue ball on grass"],
                      ["--target-caption", "a blue ball on grass"], ["--kernel", "fuzzy"], ["--method-lr", "csd"], ["--method-lr", "magic=0.1"],
                      ["--method-lr", "averaging=-1"], ["--t-range", "500-100"], ["--t-range", "0-2000"]] {
            let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1"] + extra)
            #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1, "\(extra): \(r.stderr)")
        }
    }

    /// Each method runs at its own learning rate when given one, and the target caption rendered
    /// is measured as the ideal edit: a full recolouring with no seams of its own.
    @Test func methodLearningRatesAndTheIdealEditAreReported() throws {
        let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1",
                                       "--methods", "csd,independent", "--lr", "0.1", "--method-lr", "independent=0.03",
                                       "--source-caption", "a red ball on grass", "--target-caption", "a blue ball on grass", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let csd = try #require(object["csd"] as? [String: Double]), independent = try #require(object["independent"] as? [String: Double])
        #expect(abs(csd["lr"]! - 0.1) < 1e-6 && abs(independent["lr"]! - 0.03) < 1e-6)
        let ideal = try #require(object["ideal"] as? [String: Double])
        #expect(ideal["mean_change"]! > 40, "red to blue changes the ball by tens of levels: \(ideal)")
        #expect(ideal["seam_error"]! < 0.5 && ideal["seconds"] == nil)
        // How far the ideal falls below independent windows: the most a perfect edit can show.
        let idealSpread = try #require(object["ideal_spread_reduction"] as? Double)
        #expect(abs(idealSpread - (1 - ideal["style_spread"]! / max(independent["style_spread"]!, 1e-9))) < 1e-9)
        #expect(object["ideal_seam_reduction"] is Double && object["csd_spread_reduction"] is Double)
        let idealTint = try #require(object["ideal_tint_spread_reduction"] as? Double)
        #expect(abs(idealTint - (1 - ideal["tint_spread"]! / max(independent["tint_spread"]!, 1e-9))) < 1e-9)
        #expect(object["csd_tint_spread_reduction"] is Double)
        // One ball: object by object is the style spread, and the reduction is reported.
        #expect(csd["object_spread"] != nil && csd["object_spread"] == csd["style_spread"] && ideal["object_spread"] == ideal["style_spread"])
        #expect(object["csd_object_spread_reduction"] is Double && object["ideal_object_spread_reduction"] is Double)
        // Against the truth the ideal edit is the truth: no residual spread.
        #expect(ideal["residual_spread"] == 0 && object["ideal_residual_spread_reduction"] as? Double == 1)
        #expect(csd["residual_spread"] != nil && object["csd_residual_spread_reduction"] is Double)
        let scene = try #require((object["scenes"] as? [[String: Any]])?.first?["ideal"] as? [String: Double])
        #expect(scene["mean_change"] == ideal["mean_change"], "one scene: the summary is the scene")
    }

    /// `--seed` reaches the edits (other noise and timesteps, so other figures) but not the scene
    /// (the ideal edit is the same rendering), and the report records it; repeated, every scene is
    /// measured with each seed, as it is alone, and all of them count in the means.
    @Test func theSeedChangesTheEditsButNotTheScene() throws {
        func run(_ seeds: [String]) throws -> [String: Any] {
            let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "2",
                                           "--methods", "csd", "--lr", "0.5"] + seeds.flatMap { ["--seed", $0] }
                                          + ["--source-caption", "a red ball on grass", "--target-caption", "a blue ball on grass", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        let (first, second, again, both) = (try run(["0"]), try run(["7"]), try run(["7"]), try run(["0", "7"]))
        #expect(first["seeds"] as? [Int] == [0] && second["seeds"] as? [Int] == [7])
        let csd = { (o: [String: Any]) in o["csd"] as? [String: Double] }
        #expect(csd(first)?["mean_change"] != csd(second)?["mean_change"], "another seed, another edit")
        #expect(csd(second)?["mean_change"] == csd(again)?["mean_change"], "one seed, one edit")
        #expect((first["ideal"] as? [String: Double])?["style_spread"] == (second["ideal"] as? [String: Double])?["style_spread"])
        #expect(both["seeds"] as? [Int] == [0, 7])
        let scenes = try #require(both["scenes"] as? [[String: Any]])
        #expect(scenes.map { $0["seed"] as? Int } == [0, 7])
        let changes = scenes.compactMap { csd($0)?["mean_change"] }
        #expect(changes == [csd(first)?["mean_change"], csd(second)?["mean_change"]].compactMap { $0 }, "each seed as on its own")
        #expect(changes.count == 2 && abs(csd(both)!["mean_change"]! - (changes[0] + changes[1]) / 2) < 1e-12)
    }

    /// `--turn N` edits and measures the panorama with the camera turned by N pixels, once per
    /// turn given: the second scene's original in the grid is the first's rolled left by N, the
    /// report records each scene's turn, and the means run over every scene at every turn.
    @Test func everyTurnRollsThePanoramaAndCountsInTheMeans() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "1",
                                       "--methods", "independent", "--turn", "0", "--turn", "20", "--source-caption", "a red ball on grass",
                                       "--target-caption", "a blue ball on grass", "--json", "--grid", "\(dir)/grid.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let grid = try RGBImage(pngPath: "\(dir)/grid.png")
        #expect(grid.width == 64 && grid.height == 4 * 16, "original and independent windows, at each turn")
        let row = 64 * 3, second = 2 * 16 * row
        for y in 0..<16 {
            for x in 0..<64 {
                let (to, from) = (second + y * row + 3 * x, y * row + 3 * ((x + 20) % 64))
                #expect(grid.pixels[to..<(to + 3)] == grid.pixels[from..<(from + 3)])
            }
        }
        #expect(report["turns"] as? [Int] == [0, 20])
        let scenes = try #require(report["scenes"] as? [[String: Any]])
        #expect(scenes.map { $0["turn"] as? Int } == [0, 20])
        let figures = { (o: [String: Any], key: String) in (o["independent"] as? [String: Double])?[key] }
        let seams = scenes.compactMap { figures($0, "seam_error") }
        #expect(seams.count == 2 && abs(figures(report, "seam_error")! - (seams[0] + seams[1]) / 2) < 1e-12)
    }

    /// The tile seam error is the seam error at the edges of independent windows' tiles (every
    /// window width, here 16 pixels) and nowhere else: recomputed from the edits the grid holds.
    @Test func tileSeamErrorIsMeasuredAtTheTileEdges() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["eval", "panorama", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--size", "64x16", "--steps", "2",
                                       "--methods", "csd,independent", "--lr", "0.5", "--source-caption", "a red ball on grass",
                                       "--target-caption", "a blue ball on grass", "--json", "--grid", "\(dir)/grid.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let grid = try RGBImage(pngPath: "\(dir)/grid.png")
        #expect(grid.width == 64 && grid.height == 3 * 16, "original, CSD, independent windows")
        func row(_ k: Int) -> RGBImage { RGBImage(width: 64, height: 16, pixels: Array(grid.pixels[(k * 16 * 64 * 3)..<((k + 1) * 16 * 64 * 3)])) }
        var errors = [Double]()
        for (k, name) in ["csd", "independent"].enumerated() {
            let figures = try #require(object[name] as? [String: Double])
            let atTiles = PanoramaMetrics.seamError(original: row(0), edited: row(k + 1), boundaries: [16, 32, 48], wrap: true)
            let atQuarters = PanoramaMetrics.seamError(original: row(0), edited: row(k + 1), boundaries: Array(stride(from: 4, to: 64, by: 4)), wrap: true)
            #expect(abs(figures["tile_seam_error"]! - atTiles) < 1e-9, "\(name): \(figures)")
            #expect(abs(figures["seam_error"]! - atQuarters) < 1e-9, "\(name): \(figures)")
            errors.append(atTiles)
        }
        #expect(errors[1] > 0, "two strong steps of independent windows change the picture at their edges")
        let reduction = try #require(object["csd_tile_seam_reduction"] as? Double)
        #expect(abs(reduction - (1 - errors[0] / max(errors[1], 1e-9))) < 1e-9)
    }
}
