import ArgumentParser
import CSD
import Core
import Foundation
import NeRF
import World

/// `csd eval nerf`: NeRF edits judged against the ideal edit, the target caption rendered by
/// the world with the same layout and cameras, on cameras neither the fit nor the edit saw.
struct EvalNeRF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nerf", abstract: "Edit fitted world scenes with CSD, per-view DDS and dataset update, and measure them against the ideal edit.")
    /// Colour edits, a ground edit, and one object of two.
    static let defaultEdits = ["a red ball on grass -> a blue ball on grass", "a yellow cube on sand -> a purple cube on sand",
                               "a white cylinder on grass -> a white cylinder on snow",
                               "a red ball and a yellow cube on grass -> a blue ball and a yellow cube on grass"]

    @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Edit by instruction with this instruction model (CSD-Edit's scores, `--image-guidance`), the instruction phrased from each scene's caption pair (\"make the ball blue\"), instead of by captions with --model.")
    var instructionModel: String?
    @Option(help: "Image guidance of the instruction model's scores.") var imageGuidance: Float = EditSettings.Instructed().imageGuidance
    @Option(name: .customLong("edit"), help: "SOURCE -> TARGET captions (repeatable; default four scenes).") var edits: [String] = []
    @Option(name: .customLong("scene-seed"), help: "Scene seed (repeatable; default 0).") var seeds: [UInt64] = []
    @Option(help: "Methods, comma-separated: csd, dds, dataset-update, dataset-update-csd.") var methods: String = "csd,dds,dataset-update"
    @Option(help: "Edit steps.") var steps: Int = NeRFEditSettings().edit.steps
    @Option(help: "Views per step.") var views: Int = NeRFEditSettings().viewsPerStep
    @Option(help: "Scale of CSD's median-heuristic bandwidth (default: csd nerf edit's).") var bandwidthScale: Float = NeRFEditSettings().edit.bandwidthScale
    @Option(help: "Learning rate (default: each method's, as csd nerf edit takes it).") var lr: Float?
    @Option(help: "Guidance scale (default: csd nerf edit's, 3; 5 with --instruction-model, as csd nerf edit by instruction).") var guidance: Float?
    @Option(help: "Timestep range MIN-MAX (default: as csd nerf edit).") var tRange: String?
    @Flag(help: "Let the edits move density as well as colour.") var geometry = false
    @Option(help: "Seed of the edits.") var seed: UInt64 = 0
    @Option(help: "Grid resolution of the fits.") var fitResolution: Int = 128
    @Option(help: "Steps of the fits.") var fitSteps: Int = 1500
    @Option(help: "Write each scene's held-out views here as SCENE-N.png: ideal, before, then each method.") var sheets: String?
    @Flag(help: "Print one JSON object.") var json = false

    static let (viewCount, size) = (32, 64)

    /// The cameras neither the fit nor the edit sees: the held-out views, and a view between
    /// each pair of neighbouring views of the orbit.
    static func evaluationCameras(holdOut: Int) -> [Camera] {
        let training = WorldExports.nerfCameras(views: viewCount)
        let between = WorldExports.nerfCameras(views: 2 * viewCount).enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        return RadianceFieldFit.heldOut(count: viewCount, every: holdOut).map { training[$0] } + between
    }

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            let chosen = methods.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            for m in chosen { guard NeRFEditSettings.Method(rawValue: m) != nil else { throw InputError("--methods", "'\(m)' is not a NeRF edit method") } }
            guard !chosen.isEmpty, (8...512).contains(fitResolution), (1...100_000).contains(fitSteps) else {
                throw InputError("eval nerf", "--methods must name one, --fit-resolution 8...512, --fit-steps 1...100000")
            }
            var base = NeRFEditSettings()
            let guidance = try CSDCommand.guidance(self.guidance ?? (instructionModel != nil ? EditSettings.instructionEditGuidance : base.edit.guidance))
            (base.edit.steps, base.viewsPerStep, base.edit.guidance, base.edit.seed, base.editsGeometry) = (steps, views, guidance, seed, geometry)
            base.edit.bandwidthScale = try CSDCommand.bandwidthScale(bandwidthScale)
            if let tRange { base.edit.timesteps = try CSDCommand.timestepRange(tRange) }
            if instructionModel != nil { base.edit.instructed = EditSettings.Instructed(imageGuidance: imageGuidance) }
            _ = try base.validated()
            let pairs = try (edits.isEmpty ? Self.defaultEdits : edits).map { text -> (String, String) in
                let parts = text.components(separatedBy: "->").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw InputError("--edit", "'\(text)' is not SOURCE -> TARGET") }
                return (parts[0], parts[1])
            }
            if let sheets { try AtomicFile.createFolder(sheets) }
            BLAS.prepare()
            let diffusion = try DiffusionModel(path: instructionModel ?? model)
            try diffusion.require(instructionModel: instructionModel != nil, option: instructionModel != nil ? "--instruction-model" : "--model")
            let analyser = SceneAnalyser(size: Self.size)
            var fit = RadianceFieldFit.Settings()
            (fit.resolution, fit.steps) = (fitResolution, fitSteps)
            let cameras = Self.evaluationCameras(holdOut: fit.holdOut)
            let nerfCameras = cameras.map { EvalNeRFField.nerfCamera($0, size: Self.size) }
            var reports = [[String: Any]]()
            for (source, target) in pairs {
                for sceneSeed in seeds.isEmpty ? [0] : seeds {
                    guard let before = WorldScene(caption: source, seed: sceneSeed), let after = WorldScene(caption: target, seed: sceneSeed) else {
                        throw InputError("--edit", "'\(source)' or '\(target)' is not in the world's grammar")
                    }
                    guard before.objects.count == after.objects.count else { throw InputError("--edit", "'\(source)' and '\(target)' have different numbers of objects") }
                    let (report, pictures) = try evaluate(before: before, after: after, seed: sceneSeed, methods: chosen, base: base, fit: fit,
                                                          diffusion: diffusion, analyser: analyser, cameras: cameras, nerfCameras: nerfCameras)
                    reports.append(report)
                    if !json { printFigures(report) }
                    if let sheets {
                        try RGBImage.grid(pictures, columns: RadianceFieldFit.heldOut(count: Self.viewCount, every: fit.holdOut).count)
                            .writePNG(to: "\(sheets)/scene-\(reports.count).png")
                    }
                }
            }
            var summary: [String: Any] = ["scenes": reports, "model": instructionModel ?? model, "instructed": instructionModel != nil, "steps": steps, "views_per_step": views, "guidance": guidance, "bandwidth_scale": Double(bandwidthScale),
                                          "geometry": geometry, "evaluation_cameras": cameras.count, "threads": Parallelism.workers]
            for name in chosen + ["ideal", "unedited"] {
                let rows = reports.compactMap { $0[name] as? [String: Double] }
                guard !rows.isEmpty else { continue }
                summary[name] = rows[0].keys.reduce(into: [String: Double]()) { out, key in out[key] = rows.map { $0[key]! }.reduce(0, +) / Double(rows.count) }
            }
            if let c = summary["csd"] as? [String: Double], let d = summary["dds"] as? [String: Double] {
                summary["csd_psnr_gain_over_dds"] = c["psnr_to_ideal"]! - d["psnr_to_ideal"]!
            }
            if let c = summary["csd"] as? [String: Double], let u = summary["dataset-update"] as? [String: Double], u["color_spread"]! > 0 {
                summary["csd_spread_reduction_from_dataset_update"] = 1 - c["color_spread"]! / u["color_spread"]!
                if u["residual_spread"]! > 0 { summary["csd_residual_spread_reduction_from_dataset_update"] = 1 - c["residual_spread"]! / u["residual_spread"]! }
            }
            if json { try Console.printJSON(summary); return }
            print("mean over \(reports.count) scenes:")
            for name in chosen + ["ideal", "unedited"] { if let m = summary[name] as? [String: Double] { printLine(name, m) } }
            if let g = summary["csd_psnr_gain_over_dds"] as? Double { print(String(format: "CSD's PSNR to the ideal %+.2f dB against per-view DDS", g)) }
            if let r = summary["csd_spread_reduction_from_dataset_update"] as? Double { print(String(format: "CSD's colour spread %.0f%% below dataset update's", 100 * r)) }
            if let r = summary["csd_residual_spread_reduction_from_dataset_update"] as? Double {
                print(String(format: "CSD's spread against the ideal %.0f%% below dataset update's", 100 * r))
            }
        }
    }

    func printLine(_ name: String, _ m: [String: Double]) {
        print(String(format: "  %@: PSNR to the ideal %.2f dB, edit success %.0f%%, PSNR outside the edit %.2f dB, colour spread %.1f (against the ideal %.1f), reprojection error %.2f, %.0f s",
                     name, m["psnr_to_ideal"] ?? 0, 100 * (m["edit_success"] ?? 0), m["outside_psnr"] ?? 0, m["color_spread"] ?? 0, m["residual_spread"] ?? 0,
                     m["reprojection_error"] ?? 0, m["seconds"] ?? 0))
    }

    func printFigures(_ r: [String: Any]) {
        print("\(r["source"]!) -> \(r["target"]!) (seed \(r["seed"]!)): field fitted to \(String(format: "%.2f", r["fit_psnr"] as! Double)) dB held out")
        for name in ["unedited"] + methods.split(separator: ",").map(String.init) + ["ideal"] { if let m = r[name] as? [String: Double] { printLine(name, m) } }
    }

    /// Fits the source scene, edits it by each method, and measures every edit on `cameras`.
    func evaluate(before: WorldScene, after: WorldScene, seed: UInt64, methods chosen: [String], base: NeRFEditSettings, fit: RadianceFieldFit.Settings,
                  diffusion: DiffusionModel, analyser: SceneAnalyser, cameras: [Camera], nerfCameras: [NeRFCamera]) throws -> ([String: Any], [RGBImage]) {
        let size = Self.size
        let dataset = EvalNeRFField.dataset(scene: before, views: Self.viewCount, size: size)
        let fitted = try RadianceFieldFit.run(dataset, settings: fit)!  // nil only when a checkpoint stops it
        let heldOut = RadianceFieldFit.heldOut(count: Self.viewCount, every: fit.holdOut)
        let training = dataset.views.indices.filter { !heldOut.contains($0) }
        let editsGround = after.ground != before.ground
        let changed = Set(before.objects.indices.filter { before.objects[$0] != after.objects[$0] }.map { UInt8($0 + 1) })
        let sourceRenderer = WorldRenderer(scene: before), idealRenderer = WorldRenderer(scene: after)
        let sources = cameras.map { sourceRenderer.render(camera: $0, width: size, height: size) }
        let ideals = cameras.map { idealRenderer.render(camera: $0, width: size, height: size) }
        let idealImages = ideals.map { RGBImage(width: size, height: size, pixels: $0.bytes) }
        // The pixels the edit changes, in the source or the ideal view.
        let regions = zip(sources, ideals).map { s, i in
            zip(s.objectIndex, i.objectIndex).map { a, b in editsGround ? a == Rendering.ground || b == Rendering.ground : changed.contains(a) || changed.contains(b) }
        }
        let changedObject = before.objects.indices.first { before.objects[$0] != after.objects[$0] }
        let unedited = nerfCameras.map { fitted.field.renderWithDepth(camera: $0) }
        /// The figures of views seen from `cameras` (with depth, when rendered by a field).
        func measure(_ views: [RGBImage], depth: [[Float]]?) -> [String: Double] {
            var (hits, judged) = (0, 0)
            for (view, region) in zip(views, regions) where region.filter({ $0 }).count >= 4 {
                judged += 1
                if editsGround { if analyser.judge(view).ground == after.ground { hits += 1 } }
                else if let k = changedObject, analyser.color(of: view, in: region) == after.objects[k].color { hits += 1 }
            }
            var figures: [String: Double] = [
                "psnr_to_ideal": zip(views, idealImages).map { EditMetrics.psnr($0, $1) }.reduce(0, +) / Double(views.count),
                "outside_psnr": zip(zip(views, unedited), regions).map { EditMetrics.psnr($0.0, $0.1.image, mask: $1.map { !$0 }) }.reduce(0, +) / Double(views.count),
                "color_spread": NeRFEditMetrics.colourSpread(views: views, regions: regions),
                "residual_spread": NeRFEditMetrics.residualSpread(views: views, truths: idealImages, regions: regions),
                "edit_success": judged > 0 ? Double(hits) / Double(judged) : 0,
            ]
            if let depth {
                // Between neighbouring in-between views (the held-out ones come first).
                let first = heldOut.count
                var (sum, pairs) = (0.0, 0)
                for a in first..<(views.count - 1) {
                    let r = NeRFEditMetrics.reprojectionError(from: (views[a], depth[a], nerfCameras[a]), to: (views[a + 1], depth[a + 1], nerfCameras[a + 1]),
                                                              region: regions[a])
                    if r.pixels > 0 { sum += r.error; pairs += 1 }
                }
                figures["reprojection_error"] = pairs > 0 ? sum / Double(pairs) : 0
            }
            return figures
        }
        var report: [String: Any] = ["source": before.caption, "target": after.caption, "seed": Int(seed), "fit_psnr": fitted.meanHeldOutPSNR ?? 0,
                                     "fit_seconds": fitted.seconds]
        var prompts = (source: before.caption, target: after.caption)
        if instructionModel != nil {
            prompts = try CSDCommand.instructionPrompts(before: before, after: after)
            report["instruction"] = prompts.target
        }
        report["unedited"] = measure(unedited.map(\.image), depth: unedited.map(\.depth))
        report["ideal"] = measure(idealImages, depth: nil)
        var pictures = Array(idealImages.prefix(heldOut.count)) + unedited.prefix(heldOut.count).map(\.image)
        for name in chosen {
            var settings = base
            settings.method = NeRFEditSettings.Method(rawValue: name)!
            settings.edit.learningRate = lr ?? NeRFEditSettings.defaultLearningRate(for: settings.method)
            let editor = try NeRFFieldEdits.make(model: diffusion, field: fitted.field, cameras: training.map { dataset.views[$0].camera },
                                              images: training.map { dataset.views[$0].image }, settings: settings,
                                              sourcePrompt: prompts.source, targetPrompt: prompts.target)
            let started = Date()
            let bar = json ? nil : ProgressBar(label: "\(before.caption) -> \(after.caption): \(name)", total: settings.edit.steps)
            while editor.step < settings.edit.steps { editor.advance(); bar?.update(editor.step) }
            bar?.finish()
            let seconds = Date().timeIntervalSince(started)
            let rendered = nerfCameras.map { editor.field.renderWithDepth(camera: $0) }
            report[name] = measure(rendered.map(\.image), depth: rendered.map(\.depth))
                .merging(["seconds": seconds, "lr": Double(settings.edit.learningRate)]) { a, _ in a }
            pictures += rendered.prefix(heldOut.count).map(\.image)
        }
        return (report, pictures)
    }
}
