import ArgumentParser
import CSD
import Core
import Foundation
import World

/// `csd eval edits`: the papers' claims, measured on world scenes with their ground truth.
/// DDS against SDS on single images (DDS should keep the background SDS blurs), and CSD against
/// per-frame DDS on a video (CSD should add less flicker at equal edit success).
struct EvalEdits: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edits", abstract: "DDS vs SDS on images, CSD vs per-frame DDS on a video, on world scenes.")
    @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Images for DDS vs SDS.") var images: Int = 8
    @Option(help: "Frames of the video for CSD vs DDS (0 skips it).") var frames: Int = 24
    @Option(help: "Steps per edit.") var steps: Int = 200
    @Option(help: "Learning rate.") var lr: Float = EditSettings().learningRate
    @Option(help: "Guidance scale.") var guidance: Float = 7.5
    @Option(help: "Working size (the images and frames are rendered at it).") var size: Int = 64
    @Option(help: "Number format of the model's products: fp32 or bf16.") var precision: String = "fp32"
    @Flag(help: "Print one JSON object.") var json = false

    struct Outcome { var success = 0.0, backgroundPSNR = 0.0, backgroundDetail = 0.0, flicker = 0.0, warpError = 0.0, secondsPerStep = 0.0 }

    /// Mean absolute difference between horizontally adjacent background pixels: texture detail.
    static func detail(_ image: RGBImage, background: [Bool]) -> Double {
        var (sum, count) = (0.0, 0)
        for y in 0..<image.height {
            for x in 0..<(image.width - 1) where background[y * image.width + x] && background[y * image.width + x + 1] {
                for c in 0..<3 { sum += abs(Double(image.pixels[(y * image.width + x) * 3 + c]) - Double(image.pixels[(y * image.width + x + 1) * 3 + c])) }
                count += 3
            }
        }
        return count > 0 ? sum / Double(count) : 0
    }

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard images >= 0, frames >= 0, (1...100_000).contains(steps) else { throw InputError("eval edits", "counts must be ≥ 0 and steps ≥ 1") }
            BLAS.prepare()
            let diffusion = try DiffusionModel(path: model)
            let analyser = SceneAnalyser(size: size)
            var settings = EditSettings()
            (settings.steps, settings.learningRate, settings.guidance) = (steps, lr, guidance)
            let p = try CSDCommand.precision(precision)
            settings.precision = p == .fp32 ? nil : p
            let colours: [(ObjectColor, ObjectColor)] = [(.red, .blue), (.blue, .yellow), (.yellow, .purple), (.green, .red)]
            let grounds = Ground.allCases

            func edit(_ sources: [RGBImage], from: String, to: String, method: EditSettings.Method) throws -> ([RGBImage], Double) {
                var s = settings
                s.method = method
                let source = Tensor.concatenateBatch(sources.map { diffusion.toModelSpace($0.tensor.reshaped([1, 3, size, size])) })
                let editor = try ParticleEditor(model: diffusion, settings: s, source: source, sourcePrompt: from, targetPrompt: to)
                let start = Date()
                while editor.step < steps { editor.advance() }
                let seconds = Date().timeIntervalSince(start) / Double(steps)
                let out = diffusion.toImages(editor.particles)
                return ((0..<sources.count).map { RGBImage(tensor: out.item($0).clamped(to: -1...1)) }, seconds)
            }

            // DDS vs SDS on single images.
            var imageResults = [EditSettings.Method: Outcome]()
            var sourceDetail = 0.0
            for method in [EditSettings.Method.dds, .sds] {
                var o = Outcome()
                for i in 0..<images {
                    let (from, to) = colours[i % colours.count]
                    let ground = grounds[i % grounds.count]
                    let before = WorldScene(caption: "a \(from.rawValue) ball on \(ground.rawValue)", seed: UInt64(i))!
                    let after = WorldScene(caption: "a \(to.rawValue) ball on \(ground.rawValue)", seed: UInt64(i))!
                    let camera = Camera.orbit(angle: 0.3 * Float(i))
                    let r = WorldRenderer(scene: before).render(camera: camera, width: size, height: size)
                    let source = RGBImage(width: size, height: size, pixels: r.bytes)
                    let background = r.objectIndex.map { $0 == Rendering.ground || $0 == Rendering.sky }
                    let (edited, seconds) = try edit([source], from: before.caption, to: after.caption, method: method)
                    if analyser.judge(edited[0]).dominantColor == to { o.success += 1 }
                    o.backgroundPSNR += EditMetrics.psnr(source, edited[0], mask: background)
                    o.backgroundDetail += Self.detail(edited[0], background: background)
                    o.secondsPerStep += seconds
                    if method == .dds { sourceDetail += Self.detail(source, background: background) }
                }
                let n = Double(max(images, 1))
                (o.success, o.backgroundPSNR, o.backgroundDetail, o.secondsPerStep) = (o.success / n, o.backgroundPSNR / n, o.backgroundDetail / n, o.secondsPerStep / n)
                imageResults[method] = o
            }
            sourceDetail /= Double(max(images, 1))

            // CSD vs per-frame DDS on a world video (the camera orbits a red ball on grass).
            var videoResults = [EditSettings.Method: Outcome]()
            var sourceWarpError = 0.0
            if frames > 0 {
                let before = WorldScene(caption: "a red ball on grass")!, after = WorldScene(caption: "a blue ball on grass")!
                let (sources, truth) = WorldExports.video(scene: before, frames: frames, width: size, height: size, frameRate: 12, motion: .orbit)
                for method in [EditSettings.Method.csd, .dds] {
                    let (edited, seconds) = try edit(sources, from: before.caption, to: after.caption, method: method)
                    var o = Outcome()
                    o.flicker = EditMetrics.addedFlicker(source: sources, edited: edited)
                    o.warpError = try MotionField.warpError(frames: edited, truth: truth)
                    o.success = Double(edited.filter { analyser.judge($0).dominantColor == .blue }.count) / Double(frames)
                    o.backgroundPSNR = zip(sources, edited).map { EditMetrics.psnr($0, $1) }.reduce(0, +) / Double(frames)
                    o.secondsPerStep = seconds
                    videoResults[method] = o
                }
                sourceWarpError = try MotionField.warpError(frames: sources, truth: truth)
            }

            func object(_ o: Outcome) -> [String: Any] {
                ["edit_success": o.success, "background_psnr": o.backgroundPSNR, "background_detail": o.backgroundDetail,
                 "added_flicker": o.flicker, "warp_error": o.warpError, "seconds_per_step": o.secondsPerStep]
            }
            var report: [String: Any] = ["model": model, "steps": steps, "lr": lr, "guidance": guidance, "size": size,
                                         "precision": precision, "images": images, "source_background_detail": sourceDetail,
                                         "image_edits": Dictionary(uniqueKeysWithValues: imageResults.map { ($0.key.rawValue, object($0.value)) })]
            if frames > 0 {
                report["frames"] = frames
                report["source_warp_error"] = sourceWarpError
                report["video_edits"] = Dictionary(uniqueKeysWithValues: videoResults.map { ($0.key.rawValue, object($0.value)) })
                if let c = videoResults[.csd], let d = videoResults[.dds], d.flicker > 0 {
                    report["csd_flicker_reduction"] = 1 - c.flicker / d.flicker
                }
            }
            if json {
                try Console.printJSON(report)
                return
            }
            for method in [EditSettings.Method.dds, .sds] {
                let o = imageResults[method]!
                print(String(format: "%@ on %d images: edit success %.0f%%, background PSNR %.1f dB, background detail %.2f (source %.2f), %.2f s/step",
                             method.rawValue, images, 100 * o.success, o.backgroundPSNR, o.backgroundDetail, sourceDetail, o.secondsPerStep))
            }
            for method in [EditSettings.Method.csd, .dds] where frames > 0 {
                let o = videoResults[method]!
                print(String(format: "%@ on a %d-frame video: added flicker %.2f, warp error %.2f (source %.2f), edit success %.0f%%, PSNR %.1f dB, %.2f s/step (%.3f s per frame-step)",
                             method.rawValue, frames, o.flicker, o.warpError, sourceWarpError, 100 * o.success, o.backgroundPSNR, o.secondsPerStep, o.secondsPerStep / Double(frames)))
            }
            if let r = report["csd_flicker_reduction"] as? Double { print(String(format: "CSD adds %.0f%% less flicker than per-frame DDS", 100 * r)) }
        }
    }
}
