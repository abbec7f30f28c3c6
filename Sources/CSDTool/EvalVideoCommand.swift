import ArgumentParser
import CSD
import Core
import Foundation
import Video
import World

/// `csd eval video`: the video editor as a user runs it (a file in, a file out, the defaults),
/// on world videos judged against their ideal edits: the target caption rendered with the same
/// seed and camera path.
struct EvalVideo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "CSD vs per-frame DDS through the video editor on world videos, against the ideal edit.",
        discussion: """
            Every video (source and ideal) is rendered, written losslessly, edited by `csd edit video`'s pipeline \
            with its defaults (the options below aside) and read back. Completion is 1 − err(edited, ideal) / \
            err(source, ideal), err the squared error over the region the ideal edit changes, all frames together. Background PSNR \
            is against the source where the ideal changes nothing, and the fringe is the mean change (levels) in the \
            2-pixel ring around the changed region (both over frames where the ideal leaves at least 1% unchanged); \
            flicker is the frame-to-frame change the edit adds beyond the ideal's own. The ideal edit itself, written as \
            the editor writes its output, is measured too: what a perfect edit scores through the codec.
            """)
    @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
    @Option(help: "Videos, from a fixed list of colour, ground and time-of-day edits (1-8).") var videos: Int = 8
    @Option(help: "Frames per video.") var frames: Int = 12
    @Option(help: "Frame side in pixels (frames larger than the model's size are edited at its size and the difference upsampled).") var size: Int = 128
    @Option(help: "Steps per window (default: the editor's).") var steps: Int = EditSettings().steps
    @Option(help: "Classifier-free guidance scale (default: the editor's).") var guidance: Float = VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.guidance
    @Option(help: "Methods to run, comma-separated: csd, dds.") var methods: String = "csd,dds"
    @Option(help: "Scale of CSD's median-heuristic bandwidth (default: the editor's).") var bandwidthScale: Float = VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.bandwidthScale
    @Option(help: "auto: each window edits only where the prompts disagree on its frames; none: everywhere (default: the editor's).")
    var mask: String = CSDCommand.maskValue(VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").masksEdit)
    @Option(help: "The edited video's H.264 constant quality, 0 (lossless) to 51 (default: the editor's). At 0 the flicker is the method's alone, without the codec's.")
    var crf: Int = VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").crf
    @Option(help: "Multiply the learning rate by 0.9 every this many steps (0: never; default: the editor's).")
    var decayEvery: Int = VideoEditor.Configuration(sourcePrompt: "", targetPrompt: "").settings.decayEvery
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var console: ConsoleOptions

    /// The edits: source and target captions (one scene seed each, the video's index).
    static let list: [(source: String, target: String, kind: String)] = [
        ("a red ball on grass", "a blue ball on grass", "colour"),
        ("a yellow cube on sand at sunset", "a purple cube on sand at sunset", "colour at sunset"),
        ("a green cylinder on bricks at night", "a red cylinder on bricks at night", "colour at night"),
        ("a white ball and a red cube on grass", "a white ball and a green cube on grass", "one object of two"),
        ("a blue cone on grass", "a blue cone on snow", "ground"),
        ("a red ball on sand", "a red ball on sand at sunset", "time of day"),
        ("a green ball on snow", "a yellow ball on snow", "colour"),
        ("a yellow cylinder and a blue ball on sand", "a yellow cylinder and a red ball on sand", "one object of two"),
    ]

    /// One method's figures on one video.
    struct Figures {
        var completion = 0.0, backgroundPSNR = Double.nan, psnrToIdeal = 0.0, sourcePSNRToIdeal = 0.0, flicker = 0.0, seconds = 0.0
        /// Mean absolute change (8-bit levels) in the ring around the changed region
        /// (`IdealComparison.fringe`).
        var fringe = Double.nan
    }

    /// One method's figures on one video, as the JSON gives them.
    static func row(_ f: Figures) -> [String: Any] {
        ["completion": f.completion, "background_psnr": f.backgroundPSNR, "fringe": f.fringe, "psnr_to_ideal": f.psnrToIdeal,
         "source_psnr_to_ideal": f.sourcePSNRToIdeal, "flicker": f.flicker, "seconds": f.seconds]
    }

    /// The figures of `edited` against `source` and `ideal` (all decoded through the same codec);
    /// the changed region is read off the renders, before any codec.
    static func figures(edited: [RGBImage], source: [RGBImage], ideal: [RGBImage], renderedSource: [RGBImage], renderedIdeal: [RGBImage]) -> Figures {
        var comparison = IdealComparison()
        for k in edited.indices {
            comparison.add(edited: edited[k], source: source[k], ideal: ideal[k], changed: EditMetrics.differing(renderedSource[k], renderedIdeal[k]))
        }
        var f = Figures()
        (f.completion, f.backgroundPSNR, f.fringe) = (comparison.completion ?? .nan, comparison.backgroundPSNR ?? .nan, comparison.fringe ?? .nan)
        (f.psnrToIdeal, f.sourcePSNRToIdeal, f.flicker) = (comparison.psnrToIdeal, comparison.sourcePSNRToIdeal, comparison.addedFlicker ?? 0)
        return f
    }

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard (1...Self.list.count).contains(videos) else { throw InputError("--videos", "must be between 1 and \(Self.list.count)") }
            guard (2...240).contains(frames) else { throw InputError("--frames", "must be between 2 and 240") }
            guard (16...1024).contains(size), size % 2 == 0 else { throw InputError("--size", "must be an even number between 16 and 1024") }
            guard (1...100_000).contains(steps) else { throw InputError("--steps", "must be between 1 and 100000") }
            guard (0...51).contains(crf) else { throw InputError("--crf", "must be between 0 and 51") }
            guard (0...100_000).contains(decayEvery) else { throw InputError("--decay-every", "must be between 0 and 100000") }
            _ = try CSDCommand.guidance(guidance)
            _ = try CSDCommand.bandwidthScale(bandwidthScale)
            let masksEdit = try CSDCommand.masks(mask)
            let chosen = try methods.split(separator: ",").map { name -> EditSettings.Method in
                guard let m = EditSettings.Method(rawValue: String(name)), m == .csd || m == .dds else { throw InputError("--methods", "'\(name)' is not csd or dds") }
                return m
            }
            guard !chosen.isEmpty else { throw InputError("--methods", "names no method") }
            BLAS.prepare()
            let diffusion = try CSDCommand.loadModel(model, variant: nil, loras: [])
            let folder = try ScratchFolder.create(prefix: "csd-eval-video")
            defer { try? FileManager.default.removeItem(atPath: folder) }
            /// Writes `images` losslessly and reads them back (what the editor's reader gives).
            func throughCodec(_ images: [RGBImage], _ name: String) throws -> (path: String, frames: [RGBImage]) {
                let path = "\(folder)/\(name).mp4"
                let writer = try VideoWriter(path: path, width: size, height: size, frameRate: 12, crf: 0)
                for image in images { try writer.append(image) }
                try writer.finish()
                return (path, try VideoReader(path: path).readAll().map(\.image))
            }
            // By method; nil holds the ideal edit's own figures through the codec.
            var results = [EditSettings.Method?: [Figures]]()
            var perVideo = [[String: Any]]()
            for (v, entry) in Self.list.prefix(videos).enumerated() {
                guard let scene = WorldScene(caption: entry.source, seed: UInt64(v)), let target = WorldScene(caption: entry.target, seed: UInt64(v)) else {
                    throw InputError("eval video", "'\(entry.source)' or '\(entry.target)' is not a world caption")
                }
                let (renderedSource, _) = WorldExports.video(scene: scene, frames: frames, width: size, height: size, frameRate: 12, motion: .orbit)
                let (renderedIdeal, _) = WorldExports.video(scene: target, frames: frames, width: size, height: size, frameRate: 12, motion: .orbit)
                let source = try throughCodec(renderedSource, "source-\(v)"), ideal = try throughCodec(renderedIdeal, "ideal-\(v)")
                var row: [String: Any] = ["source": entry.source, "target": entry.target, "kind": entry.kind]
                // The ideal edit written as the editor writes its output: what a perfect edit
                // scores once through the codec (its fringe, background and flicker are the codec's).
                let editorDefaults = VideoEditor.Configuration(sourcePrompt: entry.source, targetPrompt: entry.target)
                let idealPath = "\(folder)/ideal-\(v)-crf\(crf).mp4"
                let idealWriter = try VideoWriter(path: idealPath, width: size, height: size, frameRate: 12, crf: crf, preset: editorDefaults.preset)
                for image in renderedIdeal { try idealWriter.append(image) }
                try idealWriter.finish()
                let idealFigures = Self.figures(edited: try VideoReader(path: idealPath).readAll().map(\.image), source: source.frames, ideal: ideal.frames,
                                                renderedSource: renderedSource, renderedIdeal: renderedIdeal)
                results[nil, default: []].append(idealFigures)
                row["ideal"] = Self.row(idealFigures)
                for method in chosen {
                    var c = VideoEditor.Configuration(sourcePrompt: entry.source, targetPrompt: entry.target)
                    (c.settings.method, c.settings.steps, c.settings.bandwidthScale, c.settings.guidance) = (method, steps, bandwidthScale, guidance)
                    c.masksEdit = masksEdit
                    c.crf = crf
                    c.settings.decayEvery = decayEvery
                    let output = "\(folder)/edited-\(v)-\(method.rawValue).mp4"
                    let start = Date()
                    _ = try VideoEditor(model: diffusion, configuration: c).edit(input: source.path, writingTo: output)
                    var f = Self.figures(edited: try VideoReader(path: output).readAll().map(\.image), source: source.frames, ideal: ideal.frames,
                                         renderedSource: renderedSource, renderedIdeal: renderedIdeal)
                    f.seconds = Date().timeIntervalSince(start)
                    results[method, default: []].append(f)
                    row[method.rawValue] = Self.row(f)
                    if !json {
                        Console.say(String(format: "%@ → %@ (%@), %@: completion %.0f%%, background %.2f dB, PSNR to ideal %.2f dB (source %.2f), flicker %.2f, %.0f s",
                                           entry.source, entry.target, entry.kind, method.rawValue, 100 * f.completion, f.backgroundPSNR, f.psnrToIdeal,
                                           f.sourcePSNRToIdeal, f.flicker, f.seconds))
                    }
                }
                perVideo.append(row)
            }
            func mean(_ values: [Double]) -> Double {
                let finite = values.filter(\.isFinite)
                return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
            }
            var summary = [String: Any]()
            for method in chosen.map(Optional.some) + [nil] {
                let list = results[method] ?? []
                summary[method?.rawValue ?? "ideal"] = ["completion": mean(list.map(\.completion)), "background_psnr": mean(list.map(\.backgroundPSNR)),
                                            "fringe": mean(list.map(\.fringe)),
                                            "psnr_to_ideal": mean(list.map(\.psnrToIdeal)), "source_psnr_to_ideal": mean(list.map(\.sourcePSNRToIdeal)),
                                            "psnr_gain": mean(list.map { $0.psnrToIdeal - $0.sourcePSNRToIdeal }), "flicker": mean(list.map(\.flicker)),
                                            "seconds": mean(list.map(\.seconds))]
            }
            if let c = results[EditSettings.Method.csd], let d = results[EditSettings.Method.dds] {
                let (cf, df) = (mean(c.map(\.flicker)), mean(d.map(\.flicker)))
                if df > 0 { summary["csd_flicker_reduction"] = 1 - cf / df }
            }
            if json {
                try Console.printJSON(["model": model, "videos": videos, "frames": frames, "size": size, "steps": steps, "guidance": Double(guidance), "bandwidth_scale": Double(bandwidthScale), "mask": mask, "crf": crf, "decay_every": decayEvery, "summary": summary, "per_video": perVideo])
                return
            }
            for method in chosen {
                let list = results[method] ?? []
                print(String(format: "%@ on %d videos of %d frames at %d²: completion %.0f%%, background %.2f dB, fringe %.2f levels, PSNR to the ideal %.2f dB (%+.2f dB over the source), flicker %.2f, %.0f s a video",
                             method.rawValue, videos, frames, size, 100 * mean(list.map(\.completion)), mean(list.map(\.backgroundPSNR)), mean(list.map(\.fringe)),
                             mean(list.map(\.psnrToIdeal)), mean(list.map { $0.psnrToIdeal - $0.sourcePSNRToIdeal }), mean(list.map(\.flicker)), mean(list.map(\.seconds))))
            }
            let perfect = results[nil] ?? []
            print(String(format: "the ideal edit through the same codec: background %.2f dB, fringe %.2f levels, flicker %.2f",
                         mean(perfect.map(\.backgroundPSNR)), mean(perfect.map(\.fringe)), mean(perfect.map(\.flicker))))
            if let r = summary["csd_flicker_reduction"] as? Double { print(String(format: "CSD adds %.0f%% less flicker than per-frame DDS", 100 * r)) }
        }
    }
}
