import ArgumentParser
import CSD
import Panorama
import Core
import Foundation
import Video

/// `csd edit`: text-guided editing of images and videos.
struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Edit an image or a video from a source prompt to a target prompt.",
        subcommands: [EditImage.self, EditVideo.self, EditPanorama.self])
}

/// Options every edit takes.
struct EditOptions: ParsableArguments {
    @Option(help: "Model: a diffusers folder, or a single-file SD 1.x/2.x .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Weights variant to load, e.g. fp16 for diffusion_pytorch_model.fp16.safetensors (default: the plain files).")
    var variant: String?
    @Option(name: .customLong("lora"), help: "A LoRA to merge into the model, FILE.safetensors[:scale] (kohya or diffusers/PEFT names; repeatable).")
    var loras: [String] = []
    @Option(help: "What the input shows.") var source: String?
    @Option(help: "What it should show.") var target: String?
    @Option(help: "Edit by instruction instead of --source/--target, e.g. \"make the ball blue\" (CSD-Edit; needs an instruction model such as Models/instruct).")
    var instruction: String?
    @Option(help: "With --instruction: the image guidance scale s_I beside --guidance (default 3).") var imageGuidance: Float?
    @Option(help: "Optimisation steps.") var steps: Int = 200
    @Option(help: "Classifier-free guidance scale (default: 3 for image, video and NeRF edits by --source/--target, 5 by --instruction; 7.5 for panoramas).") var guidance: Float?
    @Option(help: "Learning rate (SGD on the model-space pixels or latents; default: 0.05 for images and videos, 0.1 for panoramas; a NeRF edit: Adam on the field, 0.05, or a dataset update's SGD on its images, 0.5).") var lr: Float?
    @Option(help: "Multiply the learning rate by 0.9 every this many steps (0: never).") var decayEvery: Int = 0
    @Option(help: "Optimiser: sgd (default) or adam (a NeRF edit always moves the field by Adam).") var optimizer: String?
    @Option(help: "Write the current result every this many steps (0: never), as OUTPUT.stepNNNN.png.") var saveEvery: Int = 0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Timestep range MIN-MAX of the noise levels the score is taken at (default: 50-950; 50-250 for a panorama whose edit mask covers more than half of it, or with --mask none).") var tRange: String?
    @Option(help: "Timestep weighting: uniform, sds or fantasia3d.") var weighting: String = "uniform"
    @Option(help: "Working size: the short side in pixels (default: the model's own size).") var workingSize: Int?
    @Option(help: "Write a checkpoint every this many steps (0: never); --resume continues from it.") var checkpointEvery: Int = 25
    @Option(help: "CDS: weight w_cut of the patch-contrastive term against DDS's 1 (default 3 under --method cds; under csd any --cut-* option adds each view's own term to its coupled DDS score).")
    var cutWeight: Float?
    @Option(help: "CDS: patch locations drawn per layer and patch size (default 256).") var cutPatches: Int?
    @Option(help: "CDS: the contrastive loss's temperature τ (default 0.07).") var cutTemperature: Float?
    @Option(help: "CDS: the up-block self-attention layers compared, comma-separated diffusers names such as up_blocks.1.attentions.0.transformer_blocks.0.attn1 (default: all).")
    var cutLayers: String?
    @Option(help: "Number format of the model's matrix products: fp32, or bf16 (bf16 operands, fp32 sums, as PyTorch's CPU autocast; needs AVX512-BF16).")
    var precision: String = "fp32"
    @Option(help: "Also write a self-contained HTML report here: before and after, plots of each step (score, change, kernel bandwidth and repulsion), the settings and the command.") var report: String?
    @Option(help: "The ideal edit (an image or video of the input's size and frames) to measure the result against: PSNR to it, completion inside the region it changes, background PSNR, fringe and flicker are printed, and listed in --report (image, video and panorama edits).") var reference: String?
    @Flag(help: "Continue an interrupted edit from its checkpoint.") var resume = false
    @Option(help: ArgumentHelp("Stop after this many steps in total, as an interruption would, leaving the checkpoint.", visibility: .hidden))
    var stopAfter: Int?
    @OptionGroup var console: ConsoleOptions

    /// The settings these options give, with `defaultLearningRate` where `--lr` is not given,
    /// `defaultGuidance` where `--guidance` is not (`defaultInstructionGuidance` for edits by
    /// instruction), and `EditSettings`' timesteps where `--t-range` is not.
    func settings(method: EditSettings.Method, defaultLearningRate: Float = EditSettings().learningRate,
                  defaultGuidance: Float = EditSettings().guidance,
                  defaultInstructionGuidance: Float = EditSettings.instructionEditGuidance) throws -> EditSettings {
        var s = EditSettings()
        s.method = method
        guard (1...100_000).contains(steps) else { throw InputError("--steps", "must be between 1 and 100000") }
        let lr = self.lr ?? defaultLearningRate
        guard lr > 0, lr.isFinite else { throw InputError("--lr", "must be a positive number") }
        let timesteps = try tRange.map(CSDCommand.timestepRange) ?? EditSettings().timesteps
        let guidance = try CSDCommand.guidance(self.guidance ?? (instruction != nil ? defaultInstructionGuidance : defaultGuidance))
        (s.steps, s.guidance, s.learningRate, s.decayEvery, s.seed) = (steps, guidance, lr, decayEvery, seed)
        guard let o = EditSettings.Optimizer(rawValue: optimizer ?? "sgd") else { throw InputError("--optimizer", "'\(optimizer ?? "")' is not sgd or adam") }
        s.optimizer = o
        (s.timesteps, s.weighting) = (timesteps, weighting)
        s.contrastive = try contrastive(method: method)
        let p = try CSDCommand.precision(precision)
        s.precision = p == .fp32 ? nil : p
        if instruction != nil {
            s.instructed = EditSettings.Instructed(imageGuidance: imageGuidance ?? EditSettings.Instructed().imageGuidance)
        } else if imageGuidance != nil {
            throw InputError("--image-guidance", "applies to edits by --instruction")
        }
        return s
    }

    /// The contrastive term the `--cut-*` options ask for: CDS's defaults under `cds`, the
    /// options' values under `cds` or `csd`; nil when none is given under `csd`. Given under
    /// another method, they are refused.
    func contrastive(method: EditSettings.Method) throws -> EditSettings.Contrastive? {
        let given: [(String, Bool)] = [("--cut-weight", cutWeight != nil), ("--cut-patches", cutPatches != nil),
                                       ("--cut-temperature", cutTemperature != nil), ("--cut-layers", cutLayers != nil)]
        let named = given.first { $0.1 }?.0
        switch method {
        case .cds: break
        case .csd: guard named != nil else { return nil }
        case .sds, .dds:
            if let named { throw InputError(named, "applies to --method cds or csd, not \(method.rawValue)") }
            return nil
        }
        var c = EditSettings.Contrastive()
        if let cutWeight { c.weight = cutWeight }
        if let cutPatches { c.patches = cutPatches }
        if let cutTemperature { c.temperature = cutTemperature }
        if let cutLayers {
            c.layers = cutLayers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !c.layers.isEmpty else { throw InputError("--cut-layers", "names no layer") }
        }
        return c
    }

    /// Checks the prompts and that `output` has one of the extensions `ext`, goes into an
    /// existing folder and is not the input.
    func check(input: String, output: String, ext: String...) throws {
        try checkPrompts()
        try EditOutputFiles.check(input: input, output: output, extensions: ext)
        if let reference {
            guard FileManager.default.isReadableFile(atPath: reference) else { throw InputError(reference, "no such file (--reference)") }
            guard URL(fileURLWithPath: reference).standardized.path != URL(fileURLWithPath: output).standardized.path else {
                throw InputError(reference, "--reference is the output")
            }
            // Its size is checked before the edit runs (its length, for a video, as it is measured).
            let (picture, source) = (try VideoReader(path: reference).nextFrame()?.image, try VideoReader(path: input).nextFrame()?.image)
            if let picture, let source, picture.width != source.width || picture.height != source.height {
                throw InputError(reference, "is \(picture.width)x\(picture.height), the input \(source.width)x\(source.height) (--reference)")
            }
        }
        if let report {
            try EditOutputFiles.check(input: input, output: report, extensions: ["html"])
            guard URL(fileURLWithPath: report).standardized.path != URL(fileURLWithPath: output).standardized.path else {
                throw InputError(report, "--report would overwrite the output")
            }
        }
    }

    func checkPrompts() throws { _ = try prompts() }

    /// The source and target prompts the scores take: the options' own, or under `--instruction`
    /// an empty source (the baseline's text, as in the CSD repository) and the instruction.
    func prompts() throws -> (source: String, target: String) {
        func given(_ text: String?, _ option: String) throws -> String {
            guard let text else { throw InputError(option, "is missing; give --source and --target, or --instruction") }
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw InputError(option, "is empty") }
            return text
        }
        if let instruction {
            if source != nil || target != nil { throw InputError("--instruction", "replaces --source and --target; give one or the other") }
            return ("", try given(instruction, "--instruction"))
        }
        return (try given(source, "--source"), try given(target, "--target"))
    }

    /// How the pipeline runs: progress drawn on `display`, checkpoints every `--checkpoint-every`
    /// steps, `--resume`, `--save-every`, and a stop at `--stop-after` as an interruption would.
    func editRun(_ display: ProgressDisplay, log: StepLog? = nil) -> EditRun {
        console.apply()
        let stopAfter = self.stopAfter
        return EditRun(progress: { progress in
            display.show(progress)
            if let statistics = progress.statistics { log?.steps.append(statistics) }
        }, shouldStop: { $0 == stopAfter }, checkpointEvery: checkpointEvery, resume: resume, saveEvery: saveEvery)
    }

    /// Writes `--report` (when given) for a finished edit: `before` and `after` the same picture,
    /// the steps `log` gathered, `settings` and the command line; with `--reference`, the
    /// figures of `measured` (the input and the output) against it, also printed, and returned.
    @discardableResult
    func writeReport(_ outcome: EditOutcome, kind: String, settings: EditSettings, log: StepLog, before: RGBImage?, after: RGBImage?,
                     contactSheet: RGBImage? = nil, measured: (input: String, output: String)? = nil) throws -> IdealComparison? {
        guard outcome == .finished else { return nil }
        var comparison: IdealComparison?
        if let reference, let measured {
            comparison = try MetricsCommand.compare(source: measured.input, edited: measured.output, ideal: reference)
            for row in comparison!.named { Console.say("\(row.name): \(row.value)") }
        }
        guard let report else { return comparison }
        let prompts = try prompts()
        let title = "csd edit \(kind): " + (prompts.source.isEmpty ? prompts.target : "\(prompts.source) → \(prompts.target)")
        let encoder = EditSettings.encoder
        encoder.outputFormatting.insert(.prettyPrinted)
        var page = EditReport(title: title, commandLine: CommandLine.arguments.map(Self.shellQuoted).joined(separator: " "),
                              settings: String(decoding: try encoder.encode(settings), as: UTF8.self))
        (page.before, page.after, page.contactSheet, page.steps, page.metrics) = (before, after, contactSheet, log.steps, comparison?.named ?? [])
        try page.write(to: report)
        Console.say("wrote \(report)")
        return comparison
    }

    /// `word` as a shell would need it typed.
    static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Prints what came of an edit writing `written`.
    func report(_ outcome: EditOutcome, wrote written: String) {
        switch outcome {
        case .finished: Console.say("wrote \(written)")
        case .stopped(let step, let checkpoints):
            Console.say("stopped after \(step) steps; --resume continues from \(checkpoints.joined(separator: " and "))")
        }
    }
}

struct EditImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "image", abstract: "Edit one image (PNG, JPEG or anything FFmpeg reads).")
    @Argument(help: "Input image.") var input: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String
    @Option(help: "sds, dds, or cds (DDS plus CDS's patch-contrastive term, which keeps the source's structure).") var method: String = "dds"
    @Option(help: "auto: estimate where the prompts disagree on the image and edit only there (a new ground without the sky and the objects on it; a new time of day everywhere); none: edit everywhere.")
    var mask: String = CSDCommand.maskValue(ImageEditor.Configuration(sourcePrompt: "", targetPrompt: "").masksEdit)
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .csd else { throw InputError("--method", "'\(method)' is not sds, dds or cds") }
            try options.check(input: input, output: output, ext: "png")
            let prompts = try options.prompts()
            var configuration = ImageEditor.Configuration(sourcePrompt: prompts.source, targetPrompt: prompts.target)
            let settings = try options.settings(method: m, defaultGuidance: configuration.settings.guidance)
            (configuration.settings, configuration.workingSize) = (settings, options.workingSize)
            configuration.masksEdit = try CSDCommand.masks(mask)
            let image = try RGBImage(contentsOf: input)
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (display, log) = (ProgressDisplay(), StepLog())
            let outcome = try ImageEditor(model: model, configuration: configuration).edit(image, input: input, writingTo: output, run: options.editRun(display, log: log))
            display.finish()
            options.report(outcome, wrote: output)
            try options.writeReport(outcome, kind: "image", settings: settings, log: log,
                                    before: image, after: outcome == .finished ? try RGBImage(pngPath: output) : nil, measured: (input, output))
        }
    }
}

struct EditVideo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "video", abstract: "Edit a video so the edit agrees from frame to frame.")
    @Argument(help: "Input video (any container and codec FFmpeg reads).") var input: String
    @Option(name: .shortAndLong, help: "Output .mp4, .m4v, .mov, .mkv or .webm (audio and subtitle streams copied, each one the container can hold; audio it cannot hold converted).") var output: String
    @Option(help: "csd (frames coupled), dds (frames edited independently) or cds (independently, DDS plus CDS's patch-contrastive term).") var method: String = "csd"
    @Option(help: "Frames edited together.") var window: Int = 12
    @Option(help: "Frames a window shares with the previous one (held fixed, as extra particles).") var overlap: Int = 2
    @Option(help: "Kernel normalisation: kernelRowSum or particleCount.") var normalization: String = "kernelRowSum"
    @Option(help: "Scale of the median-heuristic bandwidth (default 4 by --source/--target, 16 by --instruction: each measured the least flicker on world videos; see the README).")
    var bandwidthScale: Float?
    @Option(help: "What the kernel compares: noisy or clean particles.") var kernel: String = "noisy"
    @Option(help: "Frames of a window updated per step, drawn at random (0: all).") var subset: Int = 0
    @Option(help: "auto: estimate in each window where the prompts disagree on the frames and edit only there (a new ground without the sky and the objects on it; a new time of day everywhere); none: edit everywhere.")
    var mask: String = CSDCommand.maskValue(VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").masksEdit)
    @Option(help: "Write a strip of source and edited frames here.") var contactSheet: String?
    @Option(help: "Video codec: h264, hevc, vp9 or prores (default: vp9 for .webm; prores for .mov and .mkv when the input has an alpha channel; h264 otherwise).") var codec: String?
    @Option(help: "The codec's constant quality, lower is better: 0 to 51 (h264, hevc) or 0 to 63 (vp9); prores ignores it.") var crf: Int = 18
    @Option(help: "Encoder preset by x264's names: ultrafast … placebo (slower gives smaller files at the same --crf).") var preset: String = "fast"
    @Flag(help: "Print one JSON object: where the edit's time went.") var json = false
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .sds else { throw InputError("--method", "'\(method)' is not csd, dds or cds") }
            try options.check(input: input, output: output, ext: "mp4", "m4v", "mov", "mkv", "webm")
            if let contactSheet { try AtomicFile.checkDestination(contactSheet) }
            let prompts = try options.prompts()
            var configuration = options.instruction != nil ? VideoEditor.Configuration(instruction: prompts.target)
                : VideoEditor.Configuration(sourcePrompt: prompts.source, targetPrompt: prompts.target)
            let defaults = configuration.settings
            configuration.settings = try options.settings(method: m, defaultGuidance: defaults.guidance, defaultInstructionGuidance: defaults.guidance)
            configuration.settings.normalization = normalization
            configuration.settings.bandwidthScale = try CSDCommand.bandwidthScale(bandwidthScale ?? defaults.bandwidthScale)
            configuration.settings.subset = subset
            configuration.masksEdit = try CSDCommand.masks(mask)
            guard let k = EditSettings.KernelInput(rawValue: kernel) else { throw InputError("--kernel", "'\(kernel)' is not noisy or clean") }
            configuration.settings.kernelInput = k
            (configuration.window, configuration.overlap, configuration.workingSize, configuration.contactSheet) = (window, overlap, options.workingSize, contactSheet)
            if let codec, VideoCodec(rawValue: codec) == nil { throw InputError("--codec", "'\(codec)' is not h264, hevc, vp9 or prores") }
            // Unnamed, the editor picks the container's codec once it sees whether there is alpha to keep.
            configuration.codec = codec.flatMap(VideoCodec.init(rawValue:))
            let expected = configuration.codec ?? VideoCodec.default(forExtension: URL(fileURLWithPath: output).pathExtension)
            try VideoWriter.check(output, holds: expected)
            guard expected.crfRange.contains(crf) else {
                throw InputError("--crf", "must be between \(expected.crfRange.lowerBound) and \(expected.crfRange.upperBound) for \(expected.displayName)")
            }
            (configuration.crf, configuration.preset) = (crf, preset)
            configuration = try configuration.validated()
            _ = try VideoReader(path: input)   // the input is checked before the model loads
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (display, log) = (ProgressDisplay(), StepLog())
            let (outcome, report) = try VideoEditor(model: model, configuration: configuration)
                .edit(input: input, writingTo: output, run: options.editRun(display, log: log), warn: Console.warn)
            display.finish()
            var comparison: IdealComparison?
            if outcome == .finished, options.report != nil || options.reference != nil {
                comparison = try options.writeReport(outcome, kind: "video", settings: configuration.settings, log: log,
                                        before: try VideoReader(path: input).nextFrame()?.image, after: try VideoReader(path: output).nextFrame()?.image,
                                        contactSheet: try contactSheet.map { try RGBImage(pngPath: $0) }, measured: (input, output))
            }
            if json {
                var object: [String: Any] = ["output": output, "finished": outcome == .finished, "window_steps": report.windowSteps,
                                             "frame_steps": report.frameSteps, "seconds_advancing": report.secondsAdvancing,
                                             "seconds_in_stein_update": report.secondsInSteinUpdate]
                if let comparison { object["reference"] = comparison.keyed }
                try Console.printJSON(object)
                return
            }
            if outcome == .finished, report.windowSteps > 0 {
                Console.say(String(format: "%.2f s per step of a window, %.3f s per frame-step; the Stein update took %.2f%% of it",
                                   report.secondsAdvancing / Double(report.windowSteps), report.secondsAdvancing / Double(report.frameSteps),
                                   100 * report.secondsInSteinUpdate / max(report.secondsAdvancing, 1e-9)))
            }
            options.report(outcome, wrote: output)
        }
    }
}

struct EditPanorama: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panorama",
        abstract: "Edit a wide or 360° panorama through overlapping windows coupled by CSD.",
        discussion: "--wrap treats the left and right edges as adjacent (a 360° image): windows cross the edge. It is the user's statement that the image is a full turn; any width is accepted.")
    @Argument(help: "Input panorama (PNG or anything FFmpeg reads).") var input: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String
    @Option(help: "csd (windows coupled), dds (windows averaged, MultiDiffusion-style) or cds (averaged, DDS plus CDS's patch-contrastive term).") var method: String = "csd"
    @Option(help: "Window side in working-size pixels (default: the model's size).") var window: Int?
    @Option(help: "Window stride in working-size pixels (default: a quarter of the window).") var stride: Int?
    @Option(help: "Windows per step, drawn at random (0: all).") var batch: Int = 0
    @Flag(help: "Each step takes a tiling of windows side by side, shifted by one stride each step, instead of --batch windows (the window must be a multiple of the stride).") var tiling = false
    @Flag(help: "Treat the panorama as 360°: windows wrap from the right edge into the left.") var wrap = false
    @Option(help: "auto: estimate where the prompts disagree on the source and edit only there (keeps objects a window's prompt names out of windows that lack them); none: edit everywhere.") var mask: String = "auto"
    @Option(help: "Scale of the median-heuristic bandwidth (4 measured the lowest seam error and tint spread on world panoramas; see the README).") var bandwidthScale: Float = PanoramaEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.bandwidthScale
    @Option(help: "What the kernel compares: noisy or clean windows (clean measured close to plain averaging; see the README).") var kernel: String = "noisy"
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .sds else { throw InputError("--method", "'\(method)' is not csd, dds or cds") }
            try options.check(input: input, output: output, ext: "png")
            let prompts = try options.prompts()
            var configuration = PanoramaEditor.Configuration(sourcePrompt: prompts.source, targetPrompt: prompts.target)
            let defaults = configuration.settings
            configuration.settings = try options.settings(method: m, defaultLearningRate: defaults.learningRate,
                                                          defaultInstructionGuidance: defaults.guidance)
            (configuration.settings.normalization, configuration.settings.bandwidthScale) = (defaults.normalization, try CSDCommand.bandwidthScale(bandwidthScale))
            guard let k = EditSettings.KernelInput(rawValue: kernel) else { throw InputError("--kernel", "'\(kernel)' is not noisy or clean") }
            configuration.settings.kernelInput = k
            configuration.timesteps = try options.tRange.map(CSDCommand.timestepRange)
            (configuration.window, configuration.stride, configuration.batch) = (window, stride, batch)
            (configuration.tiling, configuration.wrap, configuration.masksEdit, configuration.workingSize) = (tiling, wrap, try CSDCommand.masks(mask), options.workingSize)
            let image = try RGBImage(contentsOf: input)
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (display, log) = (ProgressDisplay(), StepLog())
            let outcome = try PanoramaEditor.edit(image, input: input, model: model, configuration: configuration,
                                                  writingTo: output, run: options.editRun(display, log: log))
            display.finish()
            options.report(outcome, wrote: output)
            try options.writeReport(outcome, kind: "panorama", settings: configuration.settings, log: log, before: image,
                                    after: outcome == .finished ? try RGBImage(pngPath: output) : nil, measured: (input, output))
        }
    }
}
