import ArgumentParser
import CSD
import Core
import Foundation
import Video
import World

/// `csd eval csd-edit`: CSD-Edit (an instruction model's scores coupled across frames) against
/// DDS-based CSD with the matching captions and against per-frame InstructPix2Pix sampling, on
/// world videos judged against their ideal edits.
struct EvalCSDEdit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csd-edit", abstract: "CSD-Edit vs DDS-based CSD vs per-frame instruction sampling on world videos.")
    @Option(help: "Instruction model.") var instructionModel: String = "Models/instruct"
    @Option(help: "Text-to-image model for DDS-based CSD.") var model: String = "Models/prior"
    @Option(help: "Frames per video.") var frames: Int = 12
    @Option(help: "Steps per edit.") var steps: Int = 200
    @Option(help: "Learning rate of both edits.") var lr: Float = EditSettings().learningRate
    @Option(help: "CSD-Edit's and per-frame sampling's text guidance (default: csd edit video's by instruction).")
    var guidance: Float = EditSettings.instructionEditGuidance
    @Option(help: "CSD-Edit's image guidance.") var imageGuidance: Float = 3
    @Option(help: "DDS-based CSD's guidance (default: that of edits by prompts).") var promptGuidance: Float = EditSettings.promptEditGuidance
    @Option(help: "CSD-Edit's timestep range MIN-MAX (DDS-based CSD keeps its default).") var instructTRange: String = "50-950"
    @Option(help: "DDIM steps of per-frame sampling.") var samplingSteps: Int = 20
    @Option(help: "Scale of CSD-Edit's median-heuristic bandwidth (default: csd edit video's by instruction).")
    var bandwidthScale: Float = VideoEditor.Configuration.instructionBandwidthScale
    @Option(help: "Scale of DDS-based CSD's median-heuristic bandwidth (default: csd edit video's by prompts).")
    var promptBandwidthScale: Float = VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.bandwidthScale
    @Option(help: "auto: each coupled edit estimates where its scores disagree on the frames and edits only there (a new ground without the sky and the objects on it; a new time of day everywhere), as `csd edit video` does; none: edit everywhere.")
    var mask: String = CSDCommand.maskValue(VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").masksEdit)
    @Option(help: "Frame side in pixels.") var size: Int = 64
    @Option(help: "Videos (each a scene with an instruction, from a fixed list).") var videos: Int = 3
    @Option(help: "Write every video's frames (source, ideal, CSD-Edit, CSD, per-frame sampling) as a grid PNG here.") var grid: String?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var console: ConsoleOptions

    /// The videos: a scene, an instruction, and where the camera starts.
    static let list: [(caption: String, instruction: String)] = [
        ("a red ball on grass", "make the ball blue"),
        ("a yellow cube and a green ball on sand", "make the cube purple"),
        ("a blue cylinder on grass", "turn the grass into snow"),
        ("a white cone and a red cube on bricks", "make the cone orange and the cube green"),
        ("a pink ball on snow", "make it sunset"),
    ]

    struct Figures {
        var psnrToIdeal = 0.0, completion = 0.0, flicker = 0.0, seconds = 0.0
        /// The share of the frames the edit may change: its mask's coverage, or 1 unmasked.
        var editedShare = 0.0
        /// Summed over the frames that have pixels the ideal edit leaves unchanged, and their count.
        var backgroundSum = 0.0, backgroundFrames = 0
        var backgroundPSNR: Double { backgroundFrames > 0 ? backgroundSum / Double(backgroundFrames) : .nan }
    }

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard (1...Self.list.count).contains(videos) else { throw InputError("--videos", "must be between 1 and \(Self.list.count)") }
            guard (2...240).contains(frames), (1...100_000).contains(steps), (1...1000).contains(samplingSteps) else {
                throw InputError("eval csd-edit", "--frames 2...240, --steps 1...100000, --sampling-steps 1...1000")
            }
            guard (16...512).contains(size) else { throw InputError("--size", "must be between 16 and 512") }
            _ = try CSDCommand.guidance(guidance)
            _ = try CSDCommand.guidance(promptGuidance, option: "--prompt-guidance")
            _ = try CSDCommand.bandwidthScale(bandwidthScale)
            _ = try CSDCommand.bandwidthScale(promptBandwidthScale, option: "--prompt-bandwidth-scale")
            let masksEdit = try CSDCommand.masks(mask)
            if let grid { try AtomicFile.checkDestination(grid) }
            BLAS.prepare()
            let instructModel = try DiffusionModel(path: instructionModel), textModel = try DiffusionModel(path: model)
            try instructModel.require(instructionModel: true, option: "--instruction-model")
            try textModel.require(instructionModel: false, option: "--model")
            let analyser = SceneAnalyser(size: size)
            var base = EditSettings()
            (base.method, base.steps, base.learningRate, base.guidance, base.bandwidthScale) = (.csd, steps, lr, promptGuidance, promptBandwidthScale)
            var totals = ["csd-edit": Figures(), "csd": Figures(), "per-frame sampling": Figures()]
            var rows = [RGBImage]()
            for (v, entry) in Self.list.prefix(videos).enumerated() {
                let scene = WorldScene(caption: entry.caption, seed: UInt64(v))!
                guard let instruction = WorldInstruction(text: entry.instruction, scene: scene) else {
                    throw InputError("eval csd-edit", "'\(entry.instruction)' does not apply to '\(entry.caption)'")
                }
                let edited = instruction.applied(to: scene)
                let (sources, _) = WorldExports.video(scene: scene, frames: frames, width: size, height: size, frameRate: 12, motion: .orbit)
                let (ideal, _) = WorldExports.video(scene: edited, frames: frames, width: size, height: size, frameRate: 12, motion: .orbit)
                let indices: [[UInt8]] = (0..<frames).map { f in
                    WorldRenderer(scene: scene).render(camera: WorldExports.videoCamera(time: Double(f) / 12, motion: .orbit), width: size, height: size).objectIndex
                }
                func coupled(_ diffusion: DiffusionModel, _ settings: EditSettings, from: String, to: String) throws -> ([RGBImage], Double, Double) {
                    let source = Tensor.concatenateBatch(sources.map { diffusion.toModelSpace($0.tensor.reshaped([1, 3, size, size])) })
                    let editor = try ParticleEditor(model: diffusion, settings: settings, source: source, sourcePrompt: from, targetPrompt: to)
                    let start = Date()
                    if masksEdit { editor.masksEditWhereLocal(pictures: Tensor.concatenateBatch(sources.map { $0.tensor.reshaped([1, 3, size, size]) })) }
                    while editor.step < steps { editor.advance() }
                    let out = diffusion.toImages(editor.particles)
                    return ((0..<frames).map { RGBImage(tensor: out.item($0).clamped(to: -1...1)) }, Date().timeIntervalSince(start),
                            editor.editMask.map(EditMask.coverage) ?? 1)
                }
                var instructed = base
                instructed.instructed = EditSettings.Instructed(imageGuidance: imageGuidance)
                (instructed.guidance, instructed.bandwidthScale) = (guidance, bandwidthScale)
                instructed.timesteps = try CSDCommand.timestepRange(instructTRange)
                let csdEdit = try coupled(instructModel, instructed, from: "", to: instruction.text)
                let csd = try coupled(textModel, base, from: scene.caption, to: edited.caption)
                // The naive way: every frame sampled on its own, from the same noise (one seed).
                let start = Date()
                var rng = RandomGenerator(seed: 5)
                let noise = rng.normal([1, instructModel.modelChannels, size / instructModel.pixelsPerCell, size / instructModel.pixelsPerCell])
                let sampled = sources.map { frame -> RGBImage in
                    let out = instructModel.sample(instruction: instruction.text, images: frame.tensor.reshaped([1, 3, size, size]), noise: noise,
                                                   steps: samplingSteps, guidance: guidance, imageGuidance: imageGuidance)
                    return RGBImage(tensor: out.item(0).clamped(to: -1...1))
                }
                let perFrame = (sampled, Date().timeIntervalSince(start), 1.0)
                for (name, result) in [("csd-edit", csdEdit), ("csd", csd), ("per-frame sampling", perFrame)] {
                    var f = totals[name]!
                    for k in 0..<frames {
                        f.psnrToIdeal += EditMetrics.psnr(result.0[k], ideal[k]) / Double(frames * videos)
                        var same = [Bool](repeating: true, count: size * size)
                        for i in 0..<(3 * size * size) where sources[k].pixels[i] != ideal[k].pixels[i] { same[i / 3] = false }
                        if same.contains(true) {
                            f.backgroundSum += EditMetrics.psnr(result.0[k], ideal[k], mask: same)
                            f.backgroundFrames += 1
                        }
                        let c = InstructionEvaluation.Case(seed: 0, instruction: instruction, source: sources[k], ideal: ideal[k], objectIndex: indices[k])
                        if InstructionEvaluation.succeeded(result.0[k], c, analyser: analyser) { f.completion += 1 / Double(frames * videos) }
                    }
                    f.flicker += EditMetrics.addedFlicker(source: ideal, edited: result.0) / Double(videos)
                    f.seconds += result.1 / Double(videos)
                    f.editedShare += result.2 / Double(videos)
                    totals[name] = f
                }
                rows += sources + ideal + csdEdit.0 + csd.0 + sampled
            }
            if let grid { try RGBImage.grid(rows, columns: frames).writePNG(to: grid) }
            let names = ["csd-edit", "csd", "per-frame sampling"]
            if json {
                var report: [String: Any] = ["instruction_model": instructionModel, "model": model, "frames": frames, "steps": steps, "lr": Double(lr),
                                             "guidance": Double(guidance), "prompt_guidance": Double(promptGuidance), "image_guidance": Double(imageGuidance), "instruct_t_range": instructTRange, "videos": videos, "size": size,
                                             "bandwidth_scale": Double(bandwidthScale), "prompt_bandwidth_scale": Double(promptBandwidthScale), "mask": mask]
                for name in names {
                    let f = totals[name]!
                    report[name] = ["psnr_to_ideal": f.psnrToIdeal, "completion": f.completion, "background_psnr": f.backgroundPSNR,
                                    "flicker": f.flicker, "seconds": f.seconds, "edited_share": f.editedShare]
                }
                try Console.printJSON(report)
                return
            }
            for name in names {
                let f = totals[name]!
                print(String(format: "%@ on %d videos of %d frames: PSNR to the ideal %.2f dB, completion %.0f%%, background %.2f dB, flicker %.2f, edits %.0f%% of the frames, %.0f s a video",
                             name, videos, frames, f.psnrToIdeal, 100 * f.completion, f.backgroundPSNR, f.flicker, 100 * f.editedShare, f.seconds))
            }
        }
    }
}
