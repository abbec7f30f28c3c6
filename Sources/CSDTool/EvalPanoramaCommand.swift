import ArgumentParser
import CSD
import Core
import Foundation
import Panorama
import World

/// `csd eval panorama`: CSD against windows edited independently and against plain averaging
/// (MultiDiffusion-style), on 360° world panoramas: by default the four scenes of
/// `benchmarkScenes`, each measured on its own and then together.
struct EvalPanorama: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "panorama", abstract: "CSD vs independent windows vs averaging on world panoramas.")

    /// The benchmark's scenes (source caption, target caption): recolourings of one or two
    /// objects on four grounds, every object taking the new colour (what the edit-success judge
    /// checks).
    static let benchmarkScenes = [
        ("a red ball and a red cube on grass", "a blue ball and a blue cube on grass"),
        ("a white ball on snow", "a red ball on snow"),
        ("a green cone and a yellow cylinder on sand", "a blue cone and a blue cylinder on sand"),
        ("a yellow ball and a green cube on bricks", "a purple ball and a purple cube on bricks"),
    ]
    @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Edit by instruction with this instruction model (CSD-Edit's scores, `--image-guidance`), the instruction phrased from each scene's caption pair (\"make the ball blue and the cube blue\"), instead of by captions with --model.")
    var instructionModel: String?
    @Option(help: "Image guidance of the instruction model's scores.") var imageGuidance: Float = EditSettings.Instructed().imageGuidance
    @Option(help: "Panorama size WxH at the working size.") var size: String = "512x64"
    @Option(help: "Steps.") var steps: Int = 200
    @Option(help: "Learning rate.") var lr: Float = PanoramaEditor.Configuration.defaultLearningRate
    @Option(help: "One method's own learning rate, as method=value (repeatable; e.g. averaging=0.02), to compare methods at a similar mean change.")
    var methodLr: [String] = []
    @Option(help: "Guidance scale.") var guidance: Float = 7.5
    @Option(help: "Random seed of every edit and of the mask estimate (each seed draws other timesteps and noise; the scenes stay the same); repeat to measure every scene with each seed (default: 0).")
    var seed: [UInt64] = []
    @Option(help: "Timestep range MIN-MAX of the DDS draws (default: as `csd edit panorama`, per scene: 50-950, or 50-250 where the edit mask covers more than half the panorama or there is no mask).") var tRange: String?
    @Option(help: "Windows per step, drawn at random, for CSD and averaging (0: all); independent windows are as many as fit side by side.") var batch: Int = 8
    @Option(help: "Write each scene's original, edits and mask, one above the other, to this PNG.") var grid: String?
    @Option(help: "Caption of a rendered panorama (the world's grammar); repeat with --target-caption for several scenes (default: the four benchmark scenes).")
    var sourceCaption: [String] = []
    @Option(help: "Caption to edit the matching --source-caption to: a new ground is judged on every window and its ground pixels, else the first object's new colour on the windows and pixels of the objects.")
    var targetCaption: [String] = []
    @Flag(help: "Restrict every method's updates to an estimated edit mask (see `csd edit panorama --mask`).") var mask = false
    @Option(help: "Methods to run, comma-separated: csd, averaging, independent.") var methods: String = "csd,averaging,independent"
    @Option(help: "Scale of CSD's median-heuristic bandwidth (the default of `csd edit panorama`).") var bandwidthScale: Float = PanoramaEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.bandwidthScale
    @Option(help: "What CSD's kernel compares: noisy or clean windows.") var kernel: String = "noisy"
    @Flag(help: "CSD and averaging take a tiling of windows side by side, shifted by one stride each step, instead of --batch random windows.") var tiling = false
    @Option(help: "Turn the camera of every panorama by this many pixels (the picture rolled left), so the objects fall elsewhere on the windows' grid; repeat to measure every scene at each turn (default: 0).")
    var turn: [Int] = []
    @Option(help: "Add CDS's patch-contrastive term at this weight w_cut to every method's scores: CSD then couples the DDS scores and adds each window's own term, and averaging and independent windows edit by CDS (default: none).")
    var cutWeight: Float?
    @Flag(help: "Print one JSON object.") var json = false

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            let (w, h) = try WorldCommand.parseSize(size)
            let chosen = methods.split(separator: ",").map(String.init)
            guard chosen.allSatisfy({ name in Self.methodNames.contains(name) }) else {
                throw InputError("--methods", "expected csd, averaging or independent, got \(methods)")
            }
            guard let kernelInput = EditSettings.KernelInput(rawValue: kernel) else { throw InputError("--kernel", "'\(kernel)' is not noisy or clean") }
            _ = try CSDCommand.bandwidthScale(bandwidthScale)
            let rates = try learningRates()
            let scenes = try scenePairs()
            BLAS.prepare()
            let diffusion = try DiffusionModel(path: instructionModel ?? model)
            try diffusion.require(instructionModel: instructionModel != nil, option: instructionModel != nil ? "--instruction-model" : "--model")
            let timesteps = try tRange.map(CSDCommand.timestepRange)
            if let timesteps, timesteps.lowerBound < 1 || timesteps.upperBound >= diffusion.schedule.alphasCumprod.count {
                throw InputError("--t-range", "timesteps must lie within 1...\(diffusion.schedule.alphasCumprod.count - 1)")
            }
            let window = h / diffusion.pixelsPerCell
            if tiling && window % (window / 4) != 0 {
                throw InputError("--tiling", "needs a window (\(window) cells) that is a multiple of the stride (\(window / 4)); choose another --size")
            }
            if let grid { try AtomicFile.checkDestination(grid) }
            let analyser = SceneAnalyser(size: h)
            var reports = [[String: Any]](), pictures = [RGBImage]()
            let (seeds, turns) = (seed.isEmpty ? [0] : seed, turn.isEmpty ? [0] : turn)
            for seed in seeds {
                for columns in turns {
                    for (before, after) in scenes {
                        let (report, scenePictures) = try evaluate(before: before, after: after, seed: seed, turn: columns, diffusion: diffusion,
                                                                   analyser: analyser, width: w, height: h, methods: chosen, rates: rates,
                                                                   timesteps: timesteps, kernelInput: kernelInput)
                        reports.append(report)
                        pictures += scenePictures
                    }
                }
            }
            var report: [String: Any] = ["model": instructionModel ?? model, "instructed": instructionModel != nil, "size": size, "steps": steps, "batch": batch, "lr": lr, "guidance": guidance, "seeds": seeds,
                                         "bandwidth_scale": bandwidthScale, "kernel": kernel, "cut_weight": cutWeight.map(Double.init) ?? 0, "t_range": tRange ?? "auto", "mask": mask, "tiling": tiling, "turns": turns, "scenes": reports]
            // Over all scenes (with every seed, at every turn): mean seam error and style spread, edit
            // success pooled over the judged windows, total seconds.
            for name in Self.methodNames.filter(chosen.contains) + ["ideal"] {
                let per = reports.compactMap { $0[name] as? [String: Double] }
                let mean = { (key: String) in per.map { $0[key]! }.reduce(0, +) / Double(per.count) }
                let judged = per.map { $0["judged"]! }.reduce(0, +)
                var figures = ["seam_error": mean("seam_error"), "tile_seam_error": mean("tile_seam_error"),
                               "style_spread": mean("style_spread"), "object_spread": mean("object_spread"), "tint_spread": mean("tint_spread"),
                               "residual_spread": mean("residual_spread"),
                               "mean_change": mean("mean_change"), "stray_share": mean("stray_share"),
                               "psnr_to_ideal": mean("psnr_to_ideal"), "completion": mean("completion"), "background_psnr": mean("background_psnr"),
                               "edit_success": judged > 0 ? per.map { $0["hits"]! }.reduce(0, +) / judged : 0]
                if name != "ideal" { figures["seconds"] = per.map { $0["seconds"]! }.reduce(0, +); figures["lr"] = Double(rates[name]!) }
                report[name] = figures
            }
            Self.addReductions(to: &report)
            if let grid { try RGBImage.grid(pictures, columns: 1).writePNG(to: grid) }
            if json {
                try Console.printJSON(report)
                return
            }
            for r in reports {
                print("\(r["source"]!) → \(r["target"]!)" + (turns == [0] ? "" : ", camera turned \(r["turn"]!) px") + (seeds.count == 1 ? ":" : ", seed \(r["seed"]!):"))
                printFigures(r)
            }
            if reports.count > 1 {
                print("all \(reports.count) scenes (mean seam error and spread, pooled success):")
                printFigures(report)
            }
        }
    }

    static let methodNames = ["csd", "averaging", "independent"]

    /// Each method's learning rate: `--lr`, unless `--method-lr` names the method.
    func learningRates() throws -> [String: Float] {
        var rates = Dictionary(uniqueKeysWithValues: Self.methodNames.map { ($0, lr) })
        for entry in methodLr {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Self.methodNames.contains(parts[0]), let value = Float(parts[1]), value > 0, value.isFinite else {
                throw InputError("--method-lr", "expected method=rate with a method of csd, averaging, independent and a positive rate, got '\(entry)'")
            }
            rates[parts[0]] = value
        }
        return rates
    }

    /// How far CSD's seam error and style spread fall below independent windows' (1 − CSD /
    /// independent), when the report has both; and how far the ideal's do (`ideal_…_reduction`):
    /// the most a perfect edit would show, since shading leaves the true edit a spread of its own.
    static func addReductions(to report: inout [String: Any]) {
        guard let i = report["independent"] as? [String: Double] else { return }
        for name in ["csd", "ideal"] {
            guard let m = report[name] as? [String: Double] else { continue }
            // (figure, the reduction's name: `<method>_<name>_reduction`)
            for (figure, reduction) in [("seam_error", "seam"), ("tile_seam_error", "tile_seam"), ("style_spread", "spread"),
                                        ("object_spread", "object_spread"), ("tint_spread", "tint_spread"), ("residual_spread", "residual_spread")] {
                report["\(name)_\(reduction)_reduction"] = 1 - m[figure]! / max(i[figure]!, 1e-9)
            }
        }
    }

    /// The (source, target) scenes to evaluate: the caption options paired in order, else the
    /// benchmark's scenes.
    func scenePairs() throws -> [(WorldScene, WorldScene)] {
        guard sourceCaption.count == targetCaption.count else {
            throw InputError("--target-caption", "give one per --source-caption (\(sourceCaption.count) sources, \(targetCaption.count) targets)")
        }
        let pairs = sourceCaption.isEmpty ? Self.benchmarkScenes : Array(zip(sourceCaption, targetCaption))
        return try pairs.map { source, target in
            guard let before = WorldScene(caption: source) else { throw InputError("--source-caption", "not a caption of the world's grammar: \(source)") }
            guard let after = WorldScene(caption: target), after.objects.count == before.objects.count else {
                throw InputError("--target-caption", "not a caption of the world's grammar with as many objects as the source: \(target)")
            }
            return (before, after)
        }
    }

    func printFigures(_ r: [String: Any]) {
        for name in Self.methodNames + ["ideal"] {
            guard let m = r[name] as? [String: Double] else { continue }
            let run = m["seconds"].map { String(format: ", lr %g, %.0f s", m["lr"]!, $0) } ?? " (the target caption rendered)"
            print(String(format: "  %@: seam error %.3f (at the tile edges %.3f), style spread %.1f (object by object %.1f, tint %.1f, against the truth %.1f), edit success %.0f%%, mean change %.1f levels, stray pixels %.1f%%, PSNR to the ideal %.2f dB, completion %.0f%%, background %.2f dB",
                         name, m["seam_error"]!, m["tile_seam_error"]!, m["style_spread"]!, m["object_spread"]!, m["tint_spread"]!, m["residual_spread"]!, 100 * m["edit_success"]!,
                         m["mean_change"]!, 100 * m["stray_share"]!, m["psnr_to_ideal"]!, 100 * m["completion"]!, m["background_psnr"]!) + run)
        }
        if let seam = r["csd_seam_reduction"] as? Double, let spread = r["csd_spread_reduction"] as? Double {
            print(String(format: "  CSD against independent windows: seam error %.0f%% lower (%.0f%% at the tile edges), style spread %.0f%% lower (object by object %.0f%%, tint spread %.0f%%, against the truth %.0f%%)",
                         100 * seam, 100 * (r["csd_tile_seam_reduction"] as? Double ?? 0), 100 * spread, 100 * (r["csd_object_spread_reduction"] as? Double ?? 0), 100 * (r["csd_tint_spread_reduction"] as? Double ?? 0),
                         100 * (r["csd_residual_spread_reduction"] as? Double ?? 0)))
        }
        if let seam = r["ideal_seam_reduction"] as? Double, let spread = r["ideal_spread_reduction"] as? Double {
            print(String(format: "  ideal against independent windows (the most a perfect edit shows): seam error %.0f%% lower (%.0f%% at the tile edges), style spread %.0f%% lower (object by object %.0f%%, tint spread %.0f%%)",
                         100 * seam, 100 * (r["ideal_tile_seam_reduction"] as? Double ?? 0), 100 * spread, 100 * (r["ideal_object_spread_reduction"] as? Double ?? 0), 100 * (r["ideal_tint_spread_reduction"] as? Double ?? 0)))
        }
    }

    /// Renders one scene with the camera turned by `turn` pixels, edits it with each chosen method
    /// (and estimates the mask) with `seed`, and measures the edits; returns the scene's report and
    /// its pictures (original, edits, mask).
    func evaluate(before: WorldScene, after: WorldScene, seed: UInt64, turn: Int, diffusion: DiffusionModel, analyser: SceneAnalyser, width w: Int, height h: Int,
                  methods chosen: [String], rates: [String: Float], timesteps chosenTimesteps: ClosedRange<Int>?,
                  kernelInput: EditSettings.KernelInput) throws -> ([String: Any], [RGBImage]) {
        let editsGround = after.ground != before.ground
        /// The 360° world panorama of `scene` (as `csd world panorama` renders it).
        func render360(_ scene: WorldScene) -> Rendering {
            WorldExports.panoramaRendering(scene: scene, width: w, height: h, fieldOfView: 2 * .pi).rolled(columns: turn)
        }
        let rendering = render360(before)
        let original = RGBImage(width: w, height: h, pixels: rendering.bytes)
        // The pixels whose tint the edit changes: the ground for a ground edit, else the objects.
        let region = rendering.objectIndex.map { editsGround ? $0 == Rendering.ground : ($0 != Rendering.ground && $0 != Rendering.sky) }
        // The same region object by object (the ground alone for a ground edit), for the object spread.
        let objects = editsGround ? [region] : Set(rendering.objectIndex).subtracting([Rendering.ground, Rendering.sky]).sorted()
            .map { index in rendering.objectIndex.map { $0 == index } }
        let window = h / diffusion.pixelsPerCell
        let source = diffusion.toModelSpace(original.tensor.reshaped([1, 3, h, w]), tiled: true)
        var report: [String: Any] = ["source": before.caption, "target": after.caption, "seed": seed, "turn": turn]
        var prompts = (source: before.caption, target: after.caption)
        if instructionModel != nil {
            prompts = try CSDCommand.instructionPrompts(before: before, after: after)
            report["instruction"] = prompts.target
        }
        /// The settings every edit (and the mask estimate) starts from.
        func baseSettings() -> EditSettings {
            var settings = EditSettings()
            (settings.guidance, settings.seed) = (guidance, seed)
            if instructionModel != nil { settings.instructed = EditSettings.Instructed(imageGuidance: imageGuidance) }
            return settings
        }
        // Every method is measured at the same places: seams at every column where a window of
        // any method starts (multiples of the CSD stride) and across the 0°/360° line; tint
        // spread and edit success over the same windows (the CSD layout's).
        let commonStride = (window / 4) * diffusion.pixelsPerCell
        let commonColumns = Array(Swift.stride(from: 0, to: w, by: commonStride))
        // The edges of the side-by-side tiles of independent windows, every window width: the only
        // columns where independent windows have boundaries, and boundaries of every layout (the
        // quarter stride divides the window), so the tile seam error compares all three methods at
        // real window boundaries without diluting the tiles' seams with columns where they have none.
        let tileColumns = Array(Swift.stride(from: 0, to: w, by: window * diffusion.pixelsPerCell))
        var pictures = [original]
        var maskPicture: RGBImage?
        // (name, method, stride in cells)
        let all: [(String, EditSettings.Method, Int)] = [("csd", .csd, window / 4), ("averaging", .dds, window / 4), ("independent", .dds, window)]
        // One mask for all three methods, estimated on the quarter-stride layout (every window).
        var sharedMask: Tensor?
        if mask && !chosen.isEmpty {
            let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: window, stride: window / 4, wrap: true)
            let estimator = try PanoramaEditor(model: diffusion, source: source, layout: layout, settings: baseSettings(), windows: .all,
                                               sourcePrompt: prompts.source, targetPrompt: prompts.target)
            let started = Date()
            let m = estimator.estimateEditMask()
            report["mask_seconds"] = Date().timeIntervalSince(started)
            sharedMask = m
            // Grey levels, each model cell drawn over the pixels it covers.
            let (mw, cell) = (m.shape[3], diffusion.pixelsPerCell)
            maskPicture = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { i in
                let (x, y) = ((i / 3) % w, (i / 3) / w)
                return UInt8(255 * m.storage[(y / cell) * mw + x / cell])
            })
        }
        // `csd edit panorama`'s noise levels unless --t-range gives them.
        let coverage = sharedMask.map(EditMask.coverage)
        let timesteps = chosenTimesteps ?? PanoramaEditor.Configuration.defaultTimesteps(maskCoverage: coverage ?? 1)
        report["t_range"] = "\(timesteps.lowerBound)-\(timesteps.upperBound)"
        if let coverage { report["mask_coverage"] = coverage }
        // The ideal edit, the target caption rendered with the same camera: what a perfect edit
        // measures (its seam error is not zero where an object's new colour meets a boundary), and
        // the truth the residual spread compares every edit with.
        let truthRendering = render360(after)
        let truth = RGBImage(width: w, height: h, pixels: truthRendering.bytes)
        // Where neither the source nor the truth has an object: what an edit paints there that the
        // truth does not have is stray (`PanoramaMetrics.strayShare`).
        let background = zip(rendering.objectIndex, truthRendering.objectIndex).map { a, b in
            (a == Rendering.ground || a == Rendering.sky) && (b == Rendering.ground || b == Rendering.sky)
        }
        let changed = EditMetrics.differing(original, truth)
        /// Seam error, style spread, mean change, edit success and the figures against the ideal of
        /// an edited panorama. Edit success: the analyser on each window that holds part of the
        /// region (every window for a ground edit; those with an object for a colour edit).
        func measure(_ edited: RGBImage) -> [String: Double] {
            var comparison = IdealComparison()
            comparison.add(edited: edited, source: original, ideal: truth, changed: changed)
            var (hits, judged) = (0, 0)
            for ox in commonColumns {
                var crop = [UInt8](repeating: 0, count: h * h * 3)
                var holdsRegion = false
                for y in 0..<h { for x in 0..<h {
                    let sx = (ox + x) % w
                    if region[y * w + sx] { holdsRegion = true }
                    for c in 0..<3 { crop[(y * h + x) * 3 + c] = edited.pixels[(y * w + sx) * 3 + c] }
                } }
                guard holdsRegion else { continue }
                judged += 1
                let judgement = analyser.judge(RGBImage(width: h, height: h, pixels: crop))
                if editsGround ? judgement.ground == after.ground : judgement.dominantColor == after.objects[0].color { hits += 1 }
            }
            return [
                "seam_error": PanoramaMetrics.seamError(original: original, edited: edited, boundaries: commonColumns, wrap: true),
                "tile_seam_error": PanoramaMetrics.seamError(original: original, edited: edited, boundaries: tileColumns, wrap: true),
                "style_spread": PanoramaMetrics.styleSpread(edited: edited, region: region, windowOrigins: commonColumns, window: h),
                "object_spread": PanoramaMetrics.objectSpread(edited: edited, objects: objects, windowOrigins: commonColumns, window: h),
                "tint_spread": PanoramaMetrics.tintSpread(edited: edited, region: region, windowOrigins: commonColumns, window: h),
                "residual_spread": PanoramaMetrics.residualSpread(edited: edited, truth: truth, region: region, windowOrigins: commonColumns, window: h),
                "mean_change": PanoramaMetrics.meanChange(original: original, edited: edited, region: region),
                "stray_share": PanoramaMetrics.strayShare(edited: edited, truth: truth, background: background),
                "edit_success": judged > 0 ? Double(hits) / Double(judged) : 0, "hits": Double(hits), "judged": Double(judged),
                "psnr_to_ideal": comparison.psnrToIdeal, "completion": comparison.completion ?? .nan, "background_psnr": comparison.backgroundPSNR ?? .nan,
            ]
        }
        for (name, method, stride) in all where chosen.contains(name) {
            var settings = baseSettings()
            (settings.method, settings.steps, settings.learningRate) = (method, steps, rates[name]!)
            settings.bandwidthScale = bandwidthScale
            settings.kernelInput = kernelInput
            settings.timesteps = timesteps
            if let cutWeight {
                if method == .dds { settings.method = .cds }
                settings.contrastive = EditSettings.Contrastive()
                settings.contrastive!.weight = cutWeight
            }
            let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: window, stride: stride, wrap: true)
            let editor = try PanoramaEditor(model: diffusion, source: source, layout: layout, settings: settings, windows: stride == window ? .all : (tiling ? .shiftedTiling : .random(batch)),
                                            sourcePrompt: prompts.source, targetPrompt: prompts.target)
            editor.editMask = sharedMask
            let start = Date()
            while editor.step < steps { editor.advance() }
            let seconds = Date().timeIntervalSince(start)
            let edited = RGBImage(tensor: diffusion.toImages(editor.panorama, tiled: true).item(0).clamped(to: -1...1))
            pictures.append(edited)
            report[name] = measure(edited).merging(["seconds": seconds, "lr": Double(rates[name]!)]) { a, _ in a }
        }
        report["ideal"] = measure(truth)
        Self.addReductions(to: &report)
        return (report, pictures + (maskPicture.map { [$0] } ?? []))
    }
}
