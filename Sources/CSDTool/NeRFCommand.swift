import ArgumentParser
import Core
import Foundation
import NeRF
import Video

/// `csd nerf`: fit a radiance field to a NeRF scene and render its views.
struct NeRFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nerf", abstract: "Fit and render radiance fields of posed images.",
                                                    subcommands: [Fit.self, Render.self, NeRFEdit.self])

    /// Reads a scene, decoding JPEG and other images through FFmpeg.
    static func dataset(_ path: String, downscale: Int = 1) throws -> NeRFDataset {
        try NeRFDataset(path: path, downscale: downscale, readImage: RGBImage.init(contentsOf:))
    }

    static func parseVector(_ text: String, option: String) throws -> SIMD3<Float> {
        let v = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 3, v.allSatisfy(\.isFinite) else { throw InputError(option, "'\(text)' is not x,y,z") }
        return SIMD3(v[0], v[1], v[2])
    }

    /// The options of a fit, shared by `csd nerf fit` and `csd eval nerf-field`.
    struct FitOptions: ParsableArguments {
        @Option(help: "Grid points per axis at the end of the coarse-to-fine schedule (it starts at a quarter, then a half).")
        var resolution: Int = RadianceFieldFit.Settings().resolution
        @Option(help: "Steps.") var steps: Int = RadianceFieldFit.Settings().steps
        @Option(help: "Rays per step.") var rays: Int = RadianceFieldFit.Settings().raysPerStep
        @Option(help: "Learning rate (Adam).") var lr: Float = RadianceFieldFit.Settings().learningRate
        @Option(help: "Smoothing of density per step: a point moves this times its differences to its 6 neighbours (0...1/6).")
        var densitySmoothness: Float = RadianceFieldFit.Settings().densitySmoothness
        @Option(help: "Smoothing of colour per step, as --density-smoothness (0...1/6).") var colorSmoothness: Float = RadianceFieldFit.Settings().colorSmoothness
        @Option(help: "Weight of mip-NeRF 360's distortion loss on each ray, against floaters (≥ 0).")
        var distortion: Float = RadianceFieldFit.Settings().distortion
        @Option(help: "World point at the centre of the scene's full-resolution cube (default: where the cameras look).") var center: String?
        @Option(help: "Half-width of that cube in world units (default: half the cameras' median distance to the centre).") var radius: Float?
        @Option(help: "Leave every Kth view out of training and report PSNR on them (0: none).") var holdOut: Int = 8
        @Option(help: "Seed.") var seed: UInt64 = 0

        /// The settings these options give, checked.
        func settings() throws -> RadianceFieldFit.Settings {
            guard (8...512).contains(resolution), (1...1_000_000).contains(steps), (1...1 << 20).contains(rays), lr > 0, lr.isFinite, holdOut >= 0 else {
                throw InputError("nerf fit", "--resolution 8...512, --steps and --rays ≥ 1, --lr positive, --hold-out ≥ 0")
            }
            guard (0...Float(1) / 6).contains(densitySmoothness), (0...Float(1) / 6).contains(colorSmoothness) else {
                throw InputError("nerf fit", "--density-smoothness and --color-smoothness must be 0...1/6 (past 1/6 the smoothing overshoots)")
            }
            guard distortion >= 0, distortion.isFinite else { throw InputError("--distortion", "must be a number ≥ 0") }
            if let radius { guard radius > 0 && radius.isFinite else { throw InputError("--radius", "must be positive") } }
            var settings = RadianceFieldFit.Settings()
            (settings.resolution, settings.steps, settings.raysPerStep, settings.learningRate) = (resolution, steps, rays, lr)
            (settings.densitySmoothness, settings.colorSmoothness, settings.holdOut, settings.seed) = (densitySmoothness, colorSmoothness, holdOut, seed)
            settings.center = try center.map { try NeRFCommand.parseVector($0, option: "--center") }
            settings.radius = radius
            settings.distortion = distortion
            return settings
        }
    }

    /// Writes `frames` renders of `field` on a circle around the scene of `dataset` to `path` (MP4).
    static func writeOrbit(of field: GridRadianceField, around dataset: NeRFDataset, frames: Int, frameRate: Double, to path: String,
                           progress: (Int) -> Void = { _ in }) throws {
        let cameras = CameraPath.orbit(around: field.contraction.center, like: dataset.views.map(\.camera), frames: frames)
        try VideoWriter.write(frames: frames, width: cameras[0].width, height: cameras[0].height, frameRate: frameRate, to: path,
                              progress: progress) { field.render(camera: cameras[$0]) }
    }

    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fit a radiance field to a scene's posed images (transforms.json).")
        @Argument(help: "Scene folder or its transforms.json (nerfstudio / Blender layout).") var scene: String
        @Option(name: .shortAndLong, help: "Output field (.safetensors).") var output: String
        @Option(help: "Shrink every image this many times on each side.") var downscale: Int = 1
        @OptionGroup var fit: FitOptions
        @Option(help: "Write a checkpoint every this many steps (0: never); --resume continues from it.") var checkpointEvery: Int = 250
        @Flag(help: "Continue an interrupted fit from its checkpoint.") var resume = false
        @Option(help: ArgumentHelp("Stop after this many steps in total, as an interruption would, leaving the checkpoint.", visibility: .hidden))
        var stopAfter: Int?
        @Flag(help: "Print one JSON object: the fit's time, final batch MSE and held-out PSNR.") var json = false

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard output.hasSuffix(".safetensors") else { throw InputError(output, "the field is written as .safetensors") }
                try AtomicFile.checkDestination(output)
                let settings = try fit.settings()
                let dataset = try NeRFCommand.dataset(scene, downscale: downscale)
                let training = dataset.views.count - RadianceFieldFit.heldOut(count: dataset.views.count, every: settings.holdOut).count
                guard checkpointEvery >= 0 else { throw InputError("--checkpoint-every", "must be ≥ 0") }
                let checkpoint = output + ".checkpoint.safetensors"
                AtomicFile.removeStrayTemporaries(of: checkpoint)
                AtomicFile.removeStrayTemporaries(of: output)
                let bar = ProgressBar(label: "fitting \(training) views", total: settings.steps)
                let run = try RadianceFieldFit.run(dataset, settings: settings, checkpointing: .init(path: checkpoint, every: checkpointEvery, resume: resume, stopAfter: stopAfter)) { step, _ in bar.update(step) }
                bar.finish()
                guard let result = run else { Console.say("stopped after \(stopAfter ?? 0) steps; --resume continues from \(checkpoint)"); return }
                try result.field.write(to: output)
                AtomicFile.remove(checkpoint)
                if json {
                    var report: [String: Any] = ["output": output, "fit_seconds": result.seconds, "final_batch_mse": Double(result.finalLoss),
                                                 "held_out_views": result.heldOut.count]
                    report["held_out_psnr"] = result.meanHeldOutPSNR
                    try Console.printJSON(report)
                    return
                }
                Console.say(String(format: "wrote %@; fitted in %.1f s; final batch MSE %.5f", output, result.seconds, result.finalLoss)
                      + (result.meanHeldOutPSNR.map { String(format: "; PSNR on %d held-out views %.2f dB", result.heldOut.count, $0) } ?? ""))
            }
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a fitted field: from every camera of a scene beside the real views (PNG), or along an orbit around it (MP4).")
        @Argument(help: "Field written by `csd nerf fit`.") var field: String
        @Option(help: "Scene folder or transforms.json whose cameras to render (and whose intrinsics and orbit an --orbit takes).") var scene: String
        @Option(help: "Render this many frames on a circle around the scene instead, as a video.") var orbit: Int?
        @Option(help: "Frames per second of the orbit video.") var fps: Double = 24
        @Option(name: .shortAndLong, help: "Output: a PNG grid of real views above rendered ones, or with --orbit an MP4.") var output: String
        @Flag(help: "Print one JSON object: the renders' PSNR against the scene's views.") var json = false

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                try AtomicFile.checkDestination(output)
                if let orbit { guard (1...100_000).contains(orbit) else { throw InputError("--orbit", "must be 1...100000 frames") } }
                let radiance = try GridRadianceField(path: field)
                let dataset = try NeRFCommand.dataset(scene)
                if let orbit {
                    guard output.lowercased().hasSuffix(".mp4") else { throw InputError(output, "an orbit is written as .mp4") }
                    let bar = ProgressBar(label: "rendering the orbit", total: orbit)
                    try NeRFCommand.writeOrbit(of: radiance, around: dataset, frames: orbit, frameRate: fps, to: output, progress: bar.update)
                    bar.finish()
                    Console.say("wrote \(output): \(orbit) frames around the scene")
                    return
                }
                let rendered = dataset.views.map { radiance.render(camera: $0.camera) }
                let psnr = zip(rendered, dataset.views).map { EditMetrics.psnr($0, $1.image) }
                try RGBImage.grid(dataset.views.map(\.image) + rendered, columns: dataset.views.count).writePNG(to: output)
                let mean = psnr.reduce(0, +) / Double(psnr.count)
                if json { try Console.printJSON(["output": output, "views": dataset.views.count, "psnr": mean, "view_psnr": psnr]); return }
                Console.say(String(format: "wrote %@; mean PSNR against the %d views %.2f dB", output, dataset.views.count, mean))
            }
        }
    }
}
