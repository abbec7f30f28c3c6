import ArgumentParser
import CSD
import Core
import Foundation
import World

/// `csd eval structure`: edits that must keep the source's structure (ground swaps, time of day,
/// one object's colour in a two-object scene), by DDS and by CDS (DDS plus the patch-contrastive
/// term), judged against the ideal edit: the target caption rendered by the world with the same
/// seed and camera. Images, and a short orbit video by per-frame DDS/CDS and by CSD with DDS or
/// CDS scores.
struct EvalStructure: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "structure",
        abstract: "DDS vs CDS on structure-keeping world edits (images and a video), against the ideal edit.")
    @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Scene seeds per edit of the set (seeds 0..<N).") var seeds: Int = 2
    @Option(help: "Frames of the orbit video edited by dds, cds, csd and csd with CDS scores (0 skips it).") var frames: Int = 8
    @Option(help: "Steps per edit.") var steps: Int = 200
    @Option(help: "Learning rate.") var lr: Float = EditSettings().learningRate
    @Option(help: "Guidance scale (default: `csd edit image`'s).") var guidance: Float = ImageEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.guidance
    @Option(help: "CDS's weight w_cut.") var cutWeight: Float = EditSettings.Contrastive().weight
    @Option(help: "CDS's patch locations per layer and patch size.") var cutPatches: Int = EditSettings.Contrastive().patches
    @Option(help: "Working size (the images and frames are rendered at it).") var size: Int = 64
    @Option(help: "auto: each edit estimates where the prompts disagree and edits only there, as `csd edit image` and `csd edit video` do by default; none: edit everywhere.")
    var mask: String = CSDCommand.maskValue(ImageEditor.Configuration(sourcePrompt: "", targetPrompt: "").masksEdit)
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var console: ConsoleOptions

    /// One edit of the set: the source caption, the target caption, and what the analyser must read
    /// in the result for it to count as done.
    struct Case {
        enum Goal { case ground(Ground), time(TimeOfDay), objectColor(index: Int, ObjectColor) }
        var kind: String, source: String, target: String, goal: Goal
    }

    static let cases: [Case] = [
        Case(kind: "ground", source: "a red ball on grass", target: "a red ball on snow", goal: .ground(.snow)),
        Case(kind: "ground", source: "a blue cube on sand", target: "a blue cube on bricks", goal: .ground(.bricks)),
        Case(kind: "time", source: "a yellow cylinder on grass", target: "a yellow cylinder on grass at sunset", goal: .time(.sunset)),
        Case(kind: "colour", source: "a red ball and a yellow cube on grass", target: "a blue ball and a yellow cube on grass",
             goal: .objectColor(index: 0, .blue)),
        Case(kind: "colour", source: "a green cube and a pink ball on sand", target: "a green cube and a purple ball on sand",
             goal: .objectColor(index: 1, .purple)),
    ]

    /// A way to edit: the method, with or without the contrastive term.
    struct Variant {
        var name: String, method: EditSettings.Method, contrastive: Bool
    }

    /// Sums of one variant's figures over frames (and edits), and how many went into each.
    struct Totals {
        var psnrToIdeal = 0.0, iou = 0.0, outsidePSNR = 0.0, success = 0.0, flicker = 0.0, seconds = 0.0
        var frames = 0, outsideFrames = 0, edits = 0, steps = 0
        /// The means; no `outside_psnr` when no frame had enough of its pixels left unchanged.
        var figures: [String: Double] {
            var f = ["psnr_to_ideal": psnrToIdeal / Double(max(frames, 1)), "silhouette_iou": iou / Double(max(frames, 1)),
                     "success": success / Double(max(frames, 1)), "added_flicker": flicker / Double(max(edits, 1)),
                     "seconds_per_step": seconds / Double(max(steps, 1))]
            if outsideFrames > 0 { f["outside_psnr"] = outsidePSNR / Double(outsideFrames) }
            return f
        }
    }

    /// Intersection over union of two masks (1 when both are empty).
    static func iou(_ a: [Bool], _ b: [Bool]) -> Double {
        let both = zip(a, b).filter { $0 && $1 }.count, either = zip(a, b).filter { $0 || $1 }.count
        return either == 0 ? 1 : Double(both) / Double(either)
    }

    /// Pixels the edit changes: those whose source and ideal differ by more than 24 levels in
    /// some channel.
    static func changed(_ source: RGBImage, _ ideal: RGBImage) -> [Bool] {
        (0..<(source.width * source.height)).map { p in
            (0..<3).contains { abs(Int(source.pixels[3 * p + $0]) - Int(ideal.pixels[3 * p + $0])) > 24 }
        }
    }

    /// Renders `scene` along the orbit: `count` frames from `angle`, 0.35 rad per second at 12 fps.
    func renders(_ scene: WorldScene, angle: Float, count: Int) -> [Rendering] {
        (0..<count).map { f in
            WorldRenderer(scene: scene).render(camera: Camera.orbit(angle: angle + 0.35 * Float(f) / 12), width: size, height: size)
        }
    }

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard (1...1000).contains(seeds), (0...240).contains(frames), (1...100_000).contains(steps), (16...512).contains(size) else {
                throw InputError("eval structure", "--seeds 1...1000, --frames 0...240, --steps 1...100000, --size 16...512")
            }
            let masksEdit = try CSDCommand.masks(mask)
            BLAS.prepare()
            let diffusion = try DiffusionModel(path: model)
            let analyser = SceneAnalyser(size: size)
            let display = ProgressDisplay()
            var contrastive = EditSettings.Contrastive()
            (contrastive.weight, contrastive.patches) = (cutWeight, cutPatches)

            func edit(_ sources: [RGBImage], _ c: Case, _ variant: Variant) throws -> (images: [RGBImage], seconds: Double) {
                var s = EditSettings()
                (s.steps, s.learningRate, s.guidance, s.method) = (steps, lr, guidance, variant.method)
                s.contrastive = variant.contrastive ? contrastive : nil
                let source = Tensor.concatenateBatch(sources.map { diffusion.toModelSpace($0.tensor.reshaped([1, 3, size, size])) })
                let editor = try ParticleEditor(model: diffusion, settings: s, source: source, sourcePrompt: c.source, targetPrompt: c.target)
                let start = Date()
                if masksEdit { editor.masksEditWhereLocal(pictures: Tensor.concatenateBatch(sources.map { $0.tensor.reshaped([1, 3, size, size]) })) }
                while editor.step < steps {
                    editor.advance()
                    display.show(EditProgress(label: "\(c.source) → \(c.target), \(variant.name)", step: editor.step, total: steps))
                }
                let out = diffusion.toImages(editor.particles)
                return ((0..<sources.count).map { RGBImage(tensor: out.item($0).clamped(to: -1...1)) }, Date().timeIntervalSince(start))
            }

            /// Adds an edit's figures over its frames to `totals`.
            func measure(_ edited: [RGBImage], sources: [Rendering], ideals: [Rendering], _ c: Case, into totals: inout Totals) {
                let sourceImages = sources.map { RGBImage(width: size, height: size, pixels: $0.bytes) }
                for (f, image) in edited.enumerated() {
                    let (source, ideal) = (sourceImages[f], RGBImage(width: size, height: size, pixels: ideals[f].bytes))
                    let objects = sources[f].objectIndex.map { $0 != Rendering.ground && $0 != Rendering.sky }
                    totals.psnrToIdeal += EditMetrics.psnr(image, ideal)
                    totals.iou += Self.iou(analyser.objectMask(image), objects)
                    let outside = Self.changed(source, ideal).map { !$0 }
                    if outside.filter({ $0 }).count >= size * size / 50 {
                        totals.outsidePSNR += EditMetrics.psnr(image, source, mask: outside)
                        totals.outsideFrames += 1
                    }
                    let done: Bool
                    switch c.goal {
                    case .ground(let g): done = analyser.judge(image).ground == g
                    case .time(let t): done = analyser.judge(image).time == t
                    case .objectColor(let index, let colour):
                        // World object indices start at 1; the ideal's region, where the object is meant to be.
                        let region = ideals[f].objectIndex.map { Int($0) == index + 1 }
                        done = analyser.color(of: image, in: region) == colour
                    }
                    totals.success += done ? 1 : 0
                    totals.frames += 1
                }
                if edited.count > 1 { totals.flicker += EditMetrics.addedFlicker(source: sourceImages, edited: edited) }
                totals.edits += 1
            }

            // Images: every edit of the set on every seed, by DDS and CDS; the ideal and the
            // unedited source measured the same way give the figures' ceiling and floor.
            let imageVariants = [Variant(name: "dds", method: .dds, contrastive: false), Variant(name: "cds", method: .cds, contrastive: true)]
            var images = [String: Totals](), byKind = [String: [String: Totals]]()
            for c in Self.cases {
                for seed in 0..<seeds {
                    let before = WorldScene(caption: c.source, seed: UInt64(seed))!, after = WorldScene(caption: c.target, seed: UInt64(seed))!
                    let angle = 0.3 * Float(seed)
                    let (sources, ideals) = (renders(before, angle: angle, count: 1), renders(after, angle: angle, count: 1))
                    let sourceImages = sources.map { RGBImage(width: size, height: size, pixels: $0.bytes) }
                    for (name, pictures) in [("unedited", sourceImages), ("ideal", ideals.map { RGBImage(width: size, height: size, pixels: $0.bytes) })] {
                        measure(pictures, sources: sources, ideals: ideals, c, into: &images[name, default: Totals()])
                    }
                    for variant in imageVariants {
                        let (edited, seconds) = try edit(sourceImages, c, variant)
                        measure(edited, sources: sources, ideals: ideals, c, into: &images[variant.name, default: Totals()])
                        measure(edited, sources: sources, ideals: ideals, c, into: &byKind[c.kind, default: [:]][variant.name, default: Totals()])
                        images[variant.name]!.seconds += seconds
                        images[variant.name]!.steps += steps
                    }
                }
            }

            // Video: the first ground swap on an orbit, per frame (dds, cds) and coupled (csd, csd+cds).
            let videoVariants = [Variant(name: "dds", method: .dds, contrastive: false), Variant(name: "cds", method: .cds, contrastive: true),
                                 Variant(name: "csd", method: .csd, contrastive: false), Variant(name: "csd+cds", method: .csd, contrastive: true)]
            var video = [String: Totals]()
            if frames > 0 {
                let c = Self.cases[0]
                let (sources, ideals) = (renders(WorldScene(caption: c.source)!, angle: 0, count: frames), renders(WorldScene(caption: c.target)!, angle: 0, count: frames))
                let sourceImages = sources.map { RGBImage(width: size, height: size, pixels: $0.bytes) }
                measure(sourceImages, sources: sources, ideals: ideals, c, into: &video["unedited", default: Totals()])
                for variant in videoVariants {
                    let (edited, seconds) = try edit(sourceImages, c, variant)
                    measure(edited, sources: sources, ideals: ideals, c, into: &video[variant.name, default: Totals()])
                    video[variant.name]!.seconds += seconds
                    video[variant.name]!.steps += steps
                }
            }
            display.finish()

            var report: [String: Any] = ["model": model, "steps": steps, "lr": lr, "guidance": guidance, "size": size, "seeds": seeds,
                                         "cut_weight": cutWeight, "cut_patches": cutPatches, "mask": mask, "edits": Self.cases.count * seeds,
                                         "images": images.mapValues(\.figures),
                                         "images_by_kind": byKind.mapValues { $0.mapValues(\.figures) }]
            if let d = images["dds"]?.figures, let c = images["cds"]?.figures {
                report["cds_gain_db"] = c["psnr_to_ideal"]! - d["psnr_to_ideal"]!
                report["cds_step_cost"] = c["seconds_per_step"]! / d["seconds_per_step"]!
            }
            if frames > 0 { report["frames"] = frames; report["video"] = video.mapValues(\.figures) }
            if json {
                try Console.printJSON(report)
                return
            }
            func line(_ name: String, _ f: [String: Double]) {
                let outside = f["outside_psnr"].map { String(format: "%.2f dB", min($0, 99.99)) } ?? "–"
                print(String(format: "  %-9@ PSNR to ideal %.2f dB, silhouette IoU %.3f, outside PSNR %@, success %.0f%%, flicker %.2f, %.2f s/step",
                             name, min(f["psnr_to_ideal"]!, 99.99), f["silhouette_iou"]!, outside, 100 * f["success"]!, f["added_flicker"]!,
                             f["seconds_per_step"]!))
            }
            print("images (\(Self.cases.count * seeds) edits):")
            for name in ["unedited", "dds", "cds", "ideal"] { if let t = images[name] { line(name, t.figures) } }
            for kind in byKind.keys.sorted() {
                print("  \(kind):")
                for name in ["dds", "cds"] { if let t = byKind[kind]?[name] { line("  " + name, t.figures) } }
            }
            if let gain = report["cds_gain_db"] as? Double, let cost = report["cds_step_cost"] as? Double {
                print(String(format: "CDS − DDS: %+.2f dB to the ideal; a CDS step costs %.2f× a DDS step", gain, cost))
            }
            if frames > 0 {
                print("video (\(frames) frames, \(Self.cases[0].source) → \(Self.cases[0].target)):")
                for name in ["unedited"] + videoVariants.map(\.name) { if let t = video[name] { line(name, t.figures) } }
            }
        }
    }
}
