import ArgumentParser
import Core
import Foundation
import Video
import World

/// `csd metrics`: how much an edit preserved, how much flicker it added, and (on world scenes)
/// whether it did what the target caption says.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics", abstract: "Measure an edit against its source (images or videos).")
    @Argument(help: "Source image or video.") var source: String
    @Argument(help: "Edited image or video.") var edited: String
    @Option(help: "World ground truth (the .json beside a world video): preservation is also measured outside the objects, and the warp error by the true motion.") var groundTruth: String?
    @Option(help: "Target caption, for edit success on world scenes (the analyser judges the dominant colour and shape).") var target: String?
    @Option(help: "The ideal edit (an image or video of the source's size and frames: on world scenes, the target caption rendered with the same seed and camera): adds the PSNR to it, the completion inside the region it changes, the background PSNR, the fringe and the flicker beyond its own.") var ideal: String?
    @Flag(help: "Print one JSON object.") var json = false

    /// Pixels whose colour the ideal changes by more than this many levels in some channel form
    /// the changed region (a few levels of codec noise do not count).
    static let changeTolerance = 8

    /// `edited` against `ideal`, both the size and length of `source` (images or videos, read a
    /// frame at a time).
    static func compare(source: String, edited: String, ideal: String) throws -> IdealComparison {
        var comparison = IdealComparison()
        func add(_ s: RGBImage, _ e: RGBImage, _ i: RGBImage) throws {
            for (picture, path) in [(e, edited), (i, ideal)] where picture.width != s.width || picture.height != s.height {
                throw InputError(path, "is \(picture.width)x\(picture.height), the source \(s.width)x\(s.height)")
            }
            comparison.add(edited: e, source: s, ideal: i, changed: EditMetrics.differing(s, i, byMoreThan: changeTolerance))
        }
        // An edited image (always a PNG) is measured against pictures of any format.
        if RGBImage.hasPNGSignature(edited) {
            try add(try RGBImage(contentsOf: source), try RGBImage(pngPath: edited), try RGBImage(contentsOf: ideal))
            return comparison
        }
        let readers = try [source, edited, ideal].map { try VideoReader(path: $0) }
        while true {
            let frames = try readers.map { try $0.nextFrame() }
            if frames.allSatisfy({ $0 == nil }) { break }
            for (frame, reader) in zip(frames, readers) where frame == nil {
                throw InputError(reader.path, "has \(reader.framesRead) frames, the source more or fewer")
            }
            try add(frames[0]!.image, frames[1]!.image, frames[2]!.image)
        }
        return comparison
    }

    static func frames(_ path: String) throws -> [RGBImage] {
        if RGBImage.hasPNGSignature(path) { return [try RGBImage(pngPath: path)] }
        return try VideoReader(path: path).readAll().map(\.image)
    }

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            let original = try Self.frames(source), result = try Self.frames(edited)
            guard original.count == result.count else { throw InputError(edited, "has \(result.count) frames, the source \(original.count)") }
            guard original[0].width == result[0].width, original[0].height == result[0].height else {
                throw InputError(edited, "is \(result[0].width)x\(result[0].height), the source \(original[0].width)x\(original[0].height)")
            }
            var report: [String: Any] = ["frames": original.count]
            report["psnr"] = zip(original, result).map { EditMetrics.psnr($0, $1) }.reduce(0, +) / Double(original.count)
            if original.count > 1 { report["added_flicker"] = EditMetrics.addedFlicker(source: original, edited: result) }
            if let groundTruth {
                let truth = try JSONDecoder().decode(WorldGroundTruth.self, from: try Data(contentsOf: URL(fileURLWithPath: groundTruth)))
                guard truth.views.count == original.count, truth.width == original[0].width, truth.height == original[0].height,
                      let focal = truth.focal else { throw InputError(groundTruth, "does not describe these frames") }
                var total = 0.0
                for (i, view) in truth.views.enumerated() {
                    let camera = Camera(cameraToWorld: view.cameraToWorld, focal: focal, width: truth.width)
                    let mask = WorldRenderer(scene: view.scene).render(camera: camera, width: truth.width, height: truth.height).objectIndex
                        .map { $0 == Rendering.ground || $0 == Rendering.sky }
                    total += EditMetrics.psnr(original[i], result[i], mask: mask)
                }
                if original.count > 1 {
                    // Consecutive edited frames compared after warping by the renderer's true motion.
                    report["warp_error"] = try MotionField.warpError(frames: result, truth: truth)
                    report["source_warp_error"] = try MotionField.warpError(frames: original, truth: truth)
                }
                report["psnr_outside_objects"] = total / Double(original.count)
            }
            if let ideal {
                report.merge(try Self.compare(source: source, edited: edited, ideal: ideal).keyed) { $1 }
            }
            if let target {
                guard let scene = WorldScene(caption: target), let wanted = scene.objects.first else {
                    throw InputError("--target", "'\(target)' is not a world caption")
                }
                let analyser = SceneAnalyser(size: 64)
                var (colour, shape) = (0, 0)
                for frame in result {
                    let j = analyser.judge(frame.thumbnail(height: 64).square(64))
                    if j.dominantColor == wanted.color { colour += 1 }
                    if j.shape == wanted.shape { shape += 1 }
                }
                report["edit_success_color"] = Double(colour) / Double(result.count)
                report["edit_success_shape"] = Double(shape) / Double(result.count)
            }
            if json {
                try Console.printJSON(report)
            } else {
                for key in report.keys.sorted() { print("\(key): \(report[key]!)") }
            }
        }
    }
}

extension RGBImage {
    /// Centre crop to `side`×`side` (for square analysers).
    func square(_ side: Int) -> RGBImage {
        let s = min(width, height)
        let (ox, oy) = ((width - s) / 2, (height - s) / 2)
        var pixels = [UInt8](repeating: 0, count: s * s * 3)
        for y in 0..<s { for x in 0..<s { for c in 0..<3 { pixels[(y * s + x) * 3 + c] = self.pixels[((oy + y) * width + ox + x) * 3 + c] } } }
        let cropped = RGBImage(width: s, height: s, pixels: pixels)
        return s == side ? cropped : cropped.thumbnail(height: side)
    }
}
