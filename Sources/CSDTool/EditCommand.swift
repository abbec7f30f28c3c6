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
    @Option(help: "What the input shows.") var source: String
    @Option(help: "What it should show.") var target: String
    @Option(help: "Optimisation steps.") var steps: Int = 200
    @Option(help: "Classifier-free guidance scale.") var guidance: Float = 7.5
    @Option(help: "Learning rate (SGD on the model-space pixels or latents; default: 0.05 for images and videos, 0.1 for panoramas; a NeRF edit: Adam on the field, 0.05, or a dataset update's SGD on its images, 0.5).") var lr: Float?
    @Option(help: "Multiply the learning rate by 0.9 every this many steps (0: never).") var decayEvery: Int = 0
    @Option(help: "Optimiser: sgd (default) or adam (a NeRF edit always moves the field by Adam).") var optimizer: String?
    @Option(help: "Write the current result every this many steps (0: never), as OUTPUT.stepNNNN.png.") var saveEvery: Int = 0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Timestep range MIN-MAX of the noise levels the score is taken at (default: 50-950; 50-250 for a panorama whose edit mask covers more than half of it, or with --mask none).") var tRange: String?
    @Option(help: "Timestep weighting: uniform, sds or fantasia3d.") var weighting: String = "uniform"
    @Option(help: "Working size: the short side in pixels (default: the model's own size).") var workingSize: Int?
    @Option(help: "Write a checkpoint every this many steps (0: never); --resume continues from it.") var checkpointEvery: Int = 25
    @Flag(help: "Continue an interrupted edit from its checkpoint.") var resume = false
    @Option(help: ArgumentHelp("Stop after this many steps in total, as an interruption would, leaving the checkpoint.", visibility: .hidden))
    var stopAfter: Int?

    /// The settings these options give, with `defaultLearningRate` where `--lr` is not given (and
    /// `EditSettings`' timesteps where `--t-range` is not).
    func settings(method: EditSettings.Method, defaultLearningRate: Float = EditSettings().learningRate) throws -> EditSettings {
        var s = EditSettings()
        s.method = method
        guard (1...100_000).contains(steps) else { throw InputError("--steps", "must be between 1 and 100000") }
        let lr = self.lr ?? defaultLearningRate
        guard lr > 0, lr.isFinite else { throw InputError("--lr", "must be a positive number") }
        let timesteps = try tRange.map(CSDCommand.timestepRange) ?? EditSettings().timesteps
        (s.steps, s.guidance, s.learningRate, s.decayEvery, s.seed) = (steps, guidance, lr, decayEvery, seed)
        guard let o = EditSettings.Optimizer(rawValue: optimizer ?? "sgd") else { throw InputError("--optimizer", "'\(optimizer ?? "")' is not sgd or adam") }
        s.optimizer = o
        (s.timesteps, s.weighting) = (timesteps, weighting)
        return s
    }

    /// Checks the prompts and that `output` has the extension `ext`, goes into an existing folder
    /// and is not the input.
    func check(input: String, output: String, ext: String) throws {
        try checkPrompts()
        guard output.lowercased().hasSuffix(".\(ext)") else { throw InputError(output, "the output must be a .\(ext) file") }
        try AtomicFile.checkDestination(output)
        guard URL(fileURLWithPath: input).standardized.path != URL(fileURLWithPath: output).standardized.path else {
            throw InputError(output, "would overwrite the input")
        }
    }

    /// The checkpoint files of an edit writing `output`: the edit's own, a video window's, and the
    /// folder of a video's finished windows.
    static func checkpointPaths(of output: String) -> [String] {
        [output + ".checkpoint.safetensors", output + ".checkpoint.safetensors.window", output + ".checkpoint.windows"]
    }

    /// Removes what killed writes of `output` and its checkpoints left half-written.
    func removeStrayTemporaries(of output: String) {
        for path in [output] + Self.checkpointPaths(of: output) { AtomicFile.removeStrayTemporaries(of: path) }
    }

    /// After the output is written: removes its checkpoints and any stray temporary file.
    func removeCheckpoints(of output: String) {
        for path in Self.checkpointPaths(of: output) { AtomicFile.remove(path) }
        removeStrayTemporaries(of: output)
    }

    /// Runs `editor` to `total` steps with a progress bar: resumes from `checkpoint` when asked,
    /// writes it every `--checkpoint-every` steps, and stops early at `--stop-after` (leaving the
    /// checkpoint). Returns false when it stopped early.
    func runSteps(_ editor: ResumableEdit, total: Int, label: String, checkpoint: String,
                  afterStep: (Int) throws -> Void = { _ in }) throws -> Bool {
        AtomicFile.removeStrayTemporaries(of: checkpoint)
        if resume, FileManager.default.fileExists(atPath: checkpoint) { try editor.loadCheckpoint(from: checkpoint) }
        let bar = ProgressBar(label: label, total: total)
        defer { bar.finish() }
        while editor.step < total {
            editor.advance()
            bar.update(editor.step)
            try afterStep(editor.step)
            if checkpointEvery > 0 && editor.step % checkpointEvery == 0 && editor.step < total {
                try editor.saveCheckpoint(to: checkpoint)
            }
            if editor.step == stopAfter {
                try editor.saveCheckpoint(to: checkpoint)
                print("stopped after \(editor.step) steps; --resume continues from \(checkpoint)")
                return false
            }
        }
        return true
    }

    /// Writes the particles (at working size) as one PNG grid, when `--save-every` asks for it.
    func saveIntermediate(_ editor: ParticleEditor, model: DiffusionModel, output: String, step: Int) throws {
        guard saveEvery > 0, step % saveEvery == 0 else { return }
        let images = model.toImages(editor.particles).clamped(to: -1...1)
        let pictures = (0..<images.shape[0]).map { RGBImage(tensor: images.item($0)) }
        try RGBImage.grid(pictures, columns: min(pictures.count, 8)).writePNG(to: String(format: "%@.step%04d.png", output, step))
    }

    func checkPrompts() throws {
        guard !source.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw InputError("--source", "is empty") }
        guard !target.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw InputError("--target", "is empty") }
    }

    /// Working size for an input of `width`×`height`: the short side at the model's size, the long
    /// side in proportion, both multiples of 8. An input more than `maximumAspect` times longer than
    /// it is wide (a 64×1 strip would take a 64×4096 working size) or whose long working side would
    /// pass `maximumWorkingSide` is refused, naming the input.
    func workingSize(width: Int, height: Int, model: DiffusionModel, input: String) throws -> (Int, Int) {
        guard let short = workingSize ?? model.nativeImageSize else { throw InputError("--working-size", "the model has no sample_size; give one") }
        guard (8...4096).contains(short) else { throw InputError("--working-size", "must be between 8 and 4096") }
        guard width > 0, height > 0 else { throw InputError(input, "is \(width)×\(height): no pixels") }
        let aspect = Double(max(width, height)) / Double(min(width, height))
        func round8(_ v: Double) -> Int { max(8, Int((v / 8).rounded()) * 8) }
        let long = round8(Double(short) * aspect)
        guard aspect <= Self.maximumAspect, long <= Self.maximumWorkingSide else {
            throw InputError(input, "is \(width)×\(height), more than \(Int(Self.maximumAspect)):1 or a working size past \(Self.maximumWorkingSide) px (it would be \(long) px long); crop it, or give a smaller --working-size")
        }
        return width <= height ? (round8(Double(short)), long) : (long, round8(Double(short)))
    }

    /// The longest side an input may have against its short side (a 360° panorama strip is about 8:1).
    static let maximumAspect: Double = 32
    /// The longest working side, in pixels.
    static let maximumWorkingSide = 8192
}


/// Reads a still image: PNG through libpng, anything else through FFmpeg.
func readImage(_ path: String) throws -> RGBImage {
    if path.lowercased().hasSuffix(".png") { return try RGBImage(pngPath: path) }
    let reader = try VideoReader(path: path)
    guard let frame = try reader.nextFrame() else { throw InputError(path, "holds no picture") }
    return frame.image
}

extension RGBImage {
    /// The image as a [1, 3, H, W] tensor in [-1, 1] resized to `width`×`height`.
    func workingTensor(width: Int, height: Int) -> Tensor {
        tensor.reshaped([1, 3, self.height, self.width]).resized(height: height, width: width)
    }

    /// This image plus an edit made at working size (`edited − original`, [3, h, w]) carried to
    /// full size: the difference is upsampled and added, so what the edit left alone keeps its detail.
    func applying(difference: Tensor) -> RGBImage {
        let up = difference.reshaped([1] + difference.shape).resized(height: height, width: width)
        var pixels = self.pixels
        let plane = width * height
        for p in 0..<plane {
            for c in 0..<3 {
                let v = Float(pixels[p * 3 + c]) + 127.5 * up.storage[c * plane + p]
                pixels[p * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Scaled to `height` rows (nearest), for contact sheets.
    func thumbnail(height h: Int) -> RGBImage {
        let w = max(1, width * h / height)
        let t = tensor.reshaped([1, 3, height, width]).resized(height: h, width: w)
        return RGBImage(tensor: t.reshaped([3, h, w]).clamped(to: -1...1))
    }
}

struct EditImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "image", abstract: "Edit one image (PNG, JPEG or anything FFmpeg reads).")
    @Argument(help: "Input image.") var input: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String
    @Option(help: "sds or dds.") var method: String = "dds"
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .csd else { throw InputError("--method", "'\(method)' is not sds or dds") }
            try options.check(input: input, output: output, ext: "png")
            let settings = try options.settings(method: m)
            let image = try readImage(input)
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (w, h) = try options.workingSize(width: image.width, height: image.height, model: model, input: input)
            let original = image.workingTensor(width: w, height: h)
            let editor = try ParticleEditor(model: model, settings: settings, source: model.toModelSpace(original),
                                            sourcePrompt: options.source, targetPrompt: options.target)
            let checkpoint = output + ".checkpoint.safetensors"
            guard try options.runSteps(editor, total: settings.steps, label: "editing", checkpoint: checkpoint, afterStep: {
                try options.saveIntermediate(editor, model: model, output: output, step: $0)
            }) else { return }
            let edited = model.toImages(editor.particles).clamped(to: -1...1)
            try image.applying(difference: (edited - original).item(0)).writePNG(to: output)
            options.removeCheckpoints(of: output)
            print("wrote \(output)")
        }
    }
}

struct EditVideo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "video", abstract: "Edit a video so the edit agrees from frame to frame.")
    @Argument(help: "Input video (any container and codec FFmpeg reads).") var input: String
    @Option(name: .shortAndLong, help: "Output .mp4 (H.264).") var output: String
    @Option(help: "csd (frames coupled) or dds (frames edited independently).") var method: String = "csd"
    @Option(help: "Frames edited together.") var window: Int = 12
    @Option(help: "Frames a window shares with the previous one (held fixed, as extra particles).") var overlap: Int = 2
    @Option(help: "Kernel normalisation: kernelRowSum or particleCount.") var normalization: String = "kernelRowSum"
    @Option(help: "Scale of the median-heuristic bandwidth.") var bandwidthScale: Float = 1
    @Option(help: "What the kernel compares: noisy or clean particles.") var kernel: String = "noisy"
    @Option(help: "Frames of a window updated per step, drawn at random (0: all).") var subset: Int = 0
    @Option(help: "Write a strip of source and edited frames here.") var contactSheet: String?
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .sds else { throw InputError("--method", "'\(method)' is not csd or dds") }
            try options.check(input: input, output: output, ext: "mp4")
            if let contactSheet { try AtomicFile.checkDestination(contactSheet) }
            guard window >= 1, overlap >= 0, overlap < window else { throw InputError("--overlap", "must be at least 0 and less than --window") }
            var settings = try options.settings(method: m)
            settings.normalization = normalization
            settings.bandwidthScale = bandwidthScale
            guard subset >= 0 else { throw InputError("--subset", "must be 0 or more") }
            settings.subset = subset
            guard let k = EditSettings.KernelInput(rawValue: kernel) else { throw InputError("--kernel", "'\(kernel)' is not noisy or clean") }
            settings.kernelInput = k
            let reader = try VideoReader(path: input)
            let frames = try reader.readAll()
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (fw, fh) = (frames[0].image.width, frames[0].image.height)
            let (w, h) = try options.workingSize(width: fw, height: fh, model: model, input: input)
            let originals = frames.map { $0.image.workingTensor(width: w, height: h) }
            let sources = originals.map { model.toModelSpace($0) }
            var edited = sources
            let windowCheckpoint = output + ".checkpoint.safetensors.window"
            let finishedWindows = output + ".checkpoint.windows"
            var firstWindow = 0
            let starts = stride(from: 0, to: max(1, frames.count - overlap), by: window - overlap).map { $0 }
            func windowRange(_ index: Int) -> Range<Int> { starts[index]..<min(frames.count, starts[index] + window) }
            // Each finished window's frames go to a file of their own, so checkpoints cost the work
            // done, not the video's length per window. Every file carries the source frames'
            // fingerprint and its window's index and frames: a kill between finishing a window and
            // removing the in-window file leaves a window file the next resume sees as stale.
            let fingerprint = Tensor.fingerprint(sources)
            func finishedPath(_ index: Int) -> String { "\(finishedWindows)/window-\(String(format: "%05d", index)).safetensors" }
            options.removeStrayTemporaries(of: output)
            if !options.resume { AtomicFile.remove(finishedWindows) }   // another edit's windows
            if options.resume {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: finishedWindows)) ?? [] where name.hasPrefix(".") {
                    try? FileManager.default.removeItem(atPath: "\(finishedWindows)/\(name)")   // a killed write's temporary
                }
                while firstWindow < starts.count, FileManager.default.fileExists(atPath: finishedPath(firstWindow)) {
                    let path = finishedPath(firstWindow), range = windowRange(firstWindow)
                    let file = try SafetensorsFile(path: path)
                    guard file.metadata["source"] == fingerprint, file.metadata["window"] == "\(firstWindow)",
                          file.metadata["frames"] == "\(range.lowerBound)..<\(range.upperBound)",
                          file.entries["frames"]?.shape == [range.count] + Array(sources[0].shape.dropFirst()) else {
                        throw InputError(path, "does not belong to this video and these settings; rerun without --resume")
                    }
                    let saved = try file.tensor("frames")
                    for (k, f) in range.enumerated() { edited[f] = saved.item(k).reshaped(sources[0].shape) }
                    firstWindow += 1
                }
            }
            // Windows below this are in their files (read back on resume, or written here).
            var windowsSaved = firstWindow
            func saveFinishedWindows(through last: Int) throws {
                guard last >= windowsSaved else { return }
                try AtomicFile.createFolder(finishedWindows)
                for index in windowsSaved...last {
                    let range = windowRange(index)
                    try SafetensorsFile.write(["frames": Tensor.concatenateBatch(range.map { edited[$0] })],
                                              metadata: ["window": "\(index)", "source": fingerprint, "frames": "\(range.lowerBound)..<\(range.upperBound)"],
                                              to: finishedPath(index))
                }
                windowsSaved = last + 1
            }
            let bar = ProgressBar(label: "editing \(frames.count) frames", total: starts.count * settings.steps)
            var (advancing, inStein) = (0.0, 0.0)
            var (windowSteps, frameSteps) = (0, 0)
            for (index, start) in starts.enumerated() where index >= firstWindow {
                let range = start..<min(frames.count, start + window)
                let windowMetadata = ["window": "\(index)", "source": fingerprint]
                let editor = try ParticleEditor(model: model, settings: settings, source: Tensor.concatenateBatch(range.map { sources[$0] }),
                                                sourcePrompt: options.source, targetPrompt: options.target)
                editor.setParticles(Tensor.concatenateBatch(range.map { edited[$0] }))
                // Frames the previous window edited are carried as fixed particles.
                editor.fixed = range.map { index > 0 && $0 < starts[index - 1] + window }
                if options.resume, index == firstWindow, FileManager.default.fileExists(atPath: windowCheckpoint) {
                    let saved = try SafetensorsFile(path: windowCheckpoint).metadata
                    if saved["window"] == windowMetadata["window"], saved["source"] == fingerprint {
                        try editor.loadCheckpoint(from: windowCheckpoint)
                    } else {
                        AtomicFile.remove(windowCheckpoint)
                    }
                }
                let firstStep = editor.step
                while editor.step < settings.steps {
                    editor.advance()
                    bar.update(index * settings.steps + editor.step)
                    try options.saveIntermediate(editor, model: model, output: output, step: index * settings.steps + editor.step)
                    if options.checkpointEvery > 0 && editor.step % options.checkpointEvery == 0 {
                        try editor.saveCheckpoint(to: windowCheckpoint, metadata: windowMetadata)
                    }
                    if index * settings.steps + editor.step == options.stopAfter {
                        try editor.saveCheckpoint(to: windowCheckpoint, metadata: windowMetadata)
                        try saveFinishedWindows(through: index - 1)
                        bar.finish()
                        print("stopped after \(index * settings.steps + editor.step) steps; --resume continues from \(windowCheckpoint) and \(finishedWindows)")
                        return
                    }
                }
                (advancing, inStein) = (advancing + editor.secondsAdvancing, inStein + editor.secondsInSteinUpdate)
                (windowSteps, frameSteps) = (windowSteps + editor.step - firstStep, frameSteps + range.count * (editor.step - firstStep))
                for (k, f) in range.enumerated() { edited[f] = editor.particles.item(k).reshaped(sources[0].shape) }
                // The finished window is recorded first, then the in-window file goes: a kill
                // between the two leaves a window file for a window already done, which is stale.
                // Without --checkpoint-every nothing is written per window (no resume was asked for).
                if options.checkpointEvery > 0 {
                    try saveFinishedWindows(through: index)
                    AtomicFile.remove(windowCheckpoint)
                }
            }
            bar.finish()
            if windowSteps > 0 {
                print(String(format: "%.2f s per step of a window, %.3f s per frame-step; the Stein update took %.2f%% of it",
                             advancing / Double(windowSteps), advancing / Double(frameSteps), 100 * inStein / max(advancing, 1e-9)))
            }
            let writer = try VideoWriter(path: output, width: fw, height: fh, frameRate: reader.frameRate, audioFrom: input)
            if let note = writer.audioNote { FileHandle.standardError.write(Data("warning: \(note)\n".utf8)) }
            var sheetTop = [RGBImage](), sheetBottom = [RGBImage]()
            let sheetEvery = max(1, frames.count / 8)
            for (i, frame) in frames.enumerated() {
                let picture = model.toImages(edited[i]).clamped(to: -1...1)
                let result = frame.image.applying(difference: (picture - originals[i]).item(0))
                try writer.append(result, time: frame.time)
                if i % sheetEvery == 0 && sheetTop.count < 8 {
                    sheetTop.append(frame.image.thumbnail(height: 128))
                    sheetBottom.append(result.thumbnail(height: 128))
                }
            }
            try writer.finish()
            if let contactSheet {
                try RGBImage.grid(sheetTop + sheetBottom, columns: sheetTop.count).writePNG(to: contactSheet)
            }
            options.removeCheckpoints(of: output)
            print("wrote \(output)")
        }
    }
}

struct EditPanorama: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panorama",
        abstract: "Edit a wide or 360° panorama through overlapping windows coupled by CSD.",
        discussion: "--wrap treats the left and right edges as adjacent (a 360° image): windows cross the edge. It is the user's statement that the image is a full turn; any width is accepted.")
    /// The step `--lr` defaults to here: the panorama benchmark's (`csd eval panorama --lr`), twice
    /// the other edits', since with the kernel's row-sum normalisation a CSD step over windows is
    /// about a fifth of a DDS step.
    static let defaultLearningRate: Float = 0.1
    /// The noise levels `--t-range` defaults to, given the share of the panorama the edit mask
    /// covers (1 without a mask). Where the edit covers most of it (a new ground), scores taken
    /// over 50–950 drew the caption's objects into every window once its ground had changed, and
    /// the coupling copied them from window to window; at 50–250 there is too little noise for
    /// the model to invent an object. Where the mask holds the edit to a few objects, 50–950
    /// measured the stronger and more even recolour (README, "Measured panoramas").
    static func defaultTimesteps(maskCoverage: Double) -> ClosedRange<Int> {
        maskCoverage > 0.5 ? 50...250 : EditSettings().timesteps
    }
    /// The share of the panorama an edit mask covers: its mean weight.
    static func coverage(_ mask: Tensor) -> Double {
        mask.storage.reduce(0.0) { $0 + Double($1) } / Double(max(mask.count, 1))
    }
    @Argument(help: "Input panorama (PNG or anything FFmpeg reads).") var input: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String
    @Option(help: "csd (windows coupled) or dds (windows averaged, MultiDiffusion-style).") var method: String = "csd"
    @Option(help: "Window side in working-size pixels (default: the model's size).") var window: Int?
    @Option(help: "Window stride in working-size pixels (default: a quarter of the window).") var stride: Int?
    @Option(help: "Windows per step, drawn at random (0: all).") var batch: Int = 0
    @Flag(help: "Each step takes a tiling of windows side by side, shifted by one stride each step, instead of --batch windows (the window must be a multiple of the stride).") var tiling = false
    @Flag(help: "Treat the panorama as 360°: windows wrap from the right edge into the left.") var wrap = false
    @Option(help: "auto: estimate where the prompts disagree on the source and edit only there (keeps objects a window's prompt names out of windows that lack them); none: edit everywhere.") var mask: String = "auto"
    @Option(help: "Scale of the median-heuristic bandwidth (4 measured the lowest seam error and tint spread on world panoramas; see the README).") var bandwidthScale: Float = 4
    @Option(help: "What the kernel compares: noisy or clean windows (clean measured close to plain averaging; see the README).") var kernel: String = "noisy"
    @OptionGroup var options: EditOptions

    func run() throws {
        try CSDCommand.reportingInputErrors {
            guard let m = EditSettings.Method(rawValue: method), m != .sds else { throw InputError("--method", "'\(method)' is not csd or dds") }
            try options.check(input: input, output: output, ext: "png")
            var settings = try options.settings(method: m, defaultLearningRate: EditPanorama.defaultLearningRate)
            settings.normalization = "kernelRowSum"
            settings.bandwidthScale = bandwidthScale
            guard let k = EditSettings.KernelInput(rawValue: kernel) else { throw InputError("--kernel", "'\(kernel)' is not noisy or clean") }
            settings.kernelInput = k
            let image = try readImage(input)
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            guard let native = options.workingSize ?? model.nativeImageSize else { throw InputError("--working-size", "the model has no sample_size; give one") }
            // The short side (the height of a wide panorama) goes to the working size.
            let (w, h) = try options.workingSize(width: image.width, height: image.height, model: model, input: input)
            let cell = model.pixelsPerCell
            // The window defaults to the working short side, which is the working size rounded to
            // 8 pixels: an odd --working-size (17) left a 17-pixel window on a 16-pixel-high panorama.
            let windowPixels = window ?? min(w, h)
            let stridePixels = stride ?? max(cell, windowPixels / 4)
            guard windowPixels % cell == 0, stridePixels % cell == 0 else { throw InputError("--window", "window and stride must be multiples of \(cell) pixels for this model") }
            guard batch >= 0 else { throw InputError("--batch", "must be 0 or more") }
            guard !(tiling && batch > 0) else { throw InputError("--tiling", "takes its own windows; leave out --batch") }
            guard !tiling || windowPixels % stridePixels == 0 else {
                throw InputError("--tiling", "needs a window (\(windowPixels) px) that is a multiple of the stride (\(stridePixels) px)")
            }
            guard mask == "auto" || mask == "none" else { throw InputError("--mask", "'\(mask)' is not auto or none") }
            let original = image.workingTensor(width: w, height: h)
            // Large panoramas go through the VAE of a latent model in overlapping tiles.
            let source = model.toModelSpace(original, tiled: true)
            let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: windowPixels / cell, stride: stridePixels / cell, wrap: wrap)
            func makeEditor() throws -> PanoramaEditor {
                try PanoramaEditor(model: model, source: source, layout: layout, settings: settings, windows: tiling ? .shiftedTiling : (batch > 0 ? .random(batch) : .all),
                                   sourcePrompt: options.source, targetPrompt: options.target)
            }
            var editor = try makeEditor()
            // Deterministic for the seed, so a resumed edit estimates the same mask again.
            let editMask = mask == "auto" ? editor.estimateEditMask() : nil
            if options.tRange == nil {
                let timesteps = Self.defaultTimesteps(maskCoverage: editMask.map(Self.coverage) ?? 1)
                if timesteps != settings.timesteps {
                    settings.timesteps = timesteps
                    editor = try makeEditor()
                }
            }
            editor.editMask = editMask
            let checkpoint = output + ".checkpoint.safetensors"
            guard try options.runSteps(editor, total: settings.steps, label: "editing \(layout.origins.count) windows",
                                       checkpoint: checkpoint) else { return }
            let edited = model.toImages(editor.panorama, tiled: true).clamped(to: -1...1)
            try image.applying(difference: (edited - original).item(0)).writePNG(to: output)
            options.removeCheckpoints(of: output)
            print("wrote \(output)")
        }
    }
}
