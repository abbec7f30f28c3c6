import ArgumentParser
import CSD
import Core
import Foundation
import Panorama
import World

/// `csd eval panorama`: CSD against windows edited independently and against plain averaging
/// (MultiDiffusion-style), on a 360° world panorama.
struct EvalPanorama: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "panorama", abstract: "CSD vs independent windows vs averaging on a world panorama.")
    @Option(help: "Model folder.") var model: String = "Models/prior"
    @Option(help: "Panorama size WxH at the working size.") var size: String = "512x64"
    @Option(help: "Steps.") var steps: Int = 200
    @Option(help: "Learning rate.") var lr: Float = 0.1
    @Option(help: "Guidance scale.") var guidance: Float = 7.5
    @Option(help: "Windows per step, drawn at random, for CSD and averaging (0: all); independent windows are as many as fit side by side.") var batch: Int = 8
    @Option(help: "Write the original and the three edits, one above the other, to this PNG.") var grid: String?
    @Option(help: "Caption of the rendered panorama (the world's grammar).") var sourceCaption = "a red ball and a red cube on grass"
    @Option(help: "Caption to edit it to: a new ground is judged on every window and its ground pixels, else the first object's new colour on the windows and pixels of the objects.") var targetCaption = "a blue ball and a blue cube on grass"
    @Flag(help: "Restrict every method's updates to an estimated edit mask (see `csd edit panorama --mask`).") var mask = false
    @Option(help: "Methods to run, comma-separated: csd, averaging, independent.") var methods: String = "csd,averaging,independent"
    @Option(help: "Scale of CSD's median-heuristic bandwidth (the default of `csd edit panorama`).") var bandwidthScale: Float = 4
    @Flag(help: "CSD and averaging take a tiling of windows side by side, shifted by one stride each step, instead of --batch random windows.") var tiling = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try CSDCommand.reportingInputErrors {
            let (w, h) = try WorldCommand.parseSize(size)
            BLAS.prepare()
            let diffusion = try DiffusionModel(folder: model)
            guard let before = WorldScene(caption: sourceCaption) else { throw InputError("--source-caption", "not a caption of the world's grammar: \(sourceCaption)") }
            guard let after = WorldScene(caption: targetCaption), after.objects.count == before.objects.count else {
                throw InputError("--target-caption", "not a caption of the world's grammar with as many objects as the source: \(targetCaption)")
            }
            let editsGround = after.ground != before.ground
            let renderer = WorldRenderer(scene: before)
            let rendering = renderer.renderCylindrical(center: [0, 1.3, 4.2], startAngle: -.pi, fieldOfView: 2 * .pi, width: w, height: h)
            let original = RGBImage(width: w, height: h, pixels: rendering.bytes)
            // The pixels whose tint the edit changes: the ground for a ground edit, else the objects.
            let region = rendering.objectIndex.map { editsGround ? $0 == Rendering.ground : ($0 != Rendering.ground && $0 != Rendering.sky) }
            let window = h / diffusion.pixelsPerCell
            let source = diffusion.toModelSpace(original.tensor.reshaped([1, 3, h, w]), tiled: true)
            let analyser = SceneAnalyser(size: h)
            var report: [String: Any] = ["source": sourceCaption, "target": targetCaption, "model": model, "size": size, "steps": steps, "batch": batch, "lr": lr, "guidance": guidance]
            // Every method is measured at the same places: seams at every column where a window of
            // any method starts (multiples of the CSD stride) and across the 0°/360° line; tint
            // spread and edit success over the same windows (the CSD layout's).
            let commonStride = (window / 4) * diffusion.pixelsPerCell
            let commonColumns = Array(Swift.stride(from: 0, to: w, by: commonStride))
            if let grid { try AtomicFile.checkDestination(grid) }
            var pictures = [original]
            var maskPicture: RGBImage?
            // (name, method, stride in cells)
            let chosen = methods.split(separator: ",").map(String.init)
            let all: [(String, EditSettings.Method, Int)] = [("csd", .csd, window / 4), ("averaging", .dds, window / 4), ("independent", .dds, window)]
            guard chosen.allSatisfy({ name in all.contains { $0.0 == name } }) else {
                throw InputError("--methods", "expected csd, averaging or independent, got \(methods)")
            }
            report["bandwidth_scale"] = bandwidthScale
            report["mask"] = mask
            report["tiling"] = tiling
            if tiling && window % (window / 4) != 0 {
                throw InputError("--tiling", "needs a window (\(window) cells) that is a multiple of the stride (\(window / 4)); choose another --size")
            }
            // One mask for all three methods, estimated on the quarter-stride layout (every window).
            var sharedMask: Tensor?
            if mask && !chosen.isEmpty {
                let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: window, stride: window / 4, wrap: true)
                var settings = EditSettings()
                settings.guidance = guidance
                let estimator = try PanoramaEditor(model: diffusion, source: source, layout: layout, settings: settings, windows: .all,
                                                   sourcePrompt: before.caption, targetPrompt: after.caption)
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
            for (name, method, stride) in all where chosen.contains(name) {
                var settings = EditSettings()
                (settings.method, settings.steps, settings.learningRate, settings.guidance) = (method, steps, lr, guidance)
                settings.bandwidthScale = bandwidthScale
                let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: window, stride: stride, wrap: true)
                let editor = try PanoramaEditor(model: diffusion, source: source, layout: layout, settings: settings, windows: stride == window ? .all : (tiling ? .shiftedTiling : .random(batch)),
                                                sourcePrompt: before.caption, targetPrompt: after.caption)
                editor.editMask = sharedMask
                let start = Date()
                while editor.step < steps { editor.advance() }
                let seconds = Date().timeIntervalSince(start)
                let edited = RGBImage(tensor: diffusion.toImages(editor.panorama, tiled: true).item(0).clamped(to: -1...1))
                pictures.append(edited)
                // Edit success: the analyser on each window that holds part of the region (every
                // window for a ground edit; those with an object for a colour edit).
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
                report[name] = [
                    "seam_error": PanoramaMetrics.seamError(original: original, edited: edited, boundaries: commonColumns, wrap: true),
                    "style_spread": PanoramaMetrics.styleSpread(original: original, edited: edited, region: region, windowOrigins: commonColumns, window: h),
                    "edit_success": judged > 0 ? Double(hits) / Double(judged) : 0, "seconds": seconds,
                ]
            }
            if let grid { try RGBImage.grid(pictures + (maskPicture.map { [$0] } ?? []), columns: 1).writePNG(to: grid) }
            if let c = report["csd"] as? [String: Double], let i = report["independent"] as? [String: Double] {
                report["csd_seam_reduction"] = 1 - c["seam_error"]! / max(i["seam_error"]!, 1e-9)
                report["csd_spread_reduction"] = 1 - c["style_spread"]! / max(i["style_spread"]!, 1e-9)
            }
            if json {
                print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
            } else {
                for name in ["csd", "averaging", "independent"] {
                    guard let r = report[name] as? [String: Double] else { continue }
                    print(String(format: "%@: seam error %.2f, style spread %.1f, edit success %.0f%%, %.0f s", name, r["seam_error"]!,
                                 r["style_spread"]!, 100 * r["edit_success"]!, r["seconds"]!))
                }
                if let seam = report["csd_seam_reduction"] as? Double, let spread = report["csd_spread_reduction"] as? Double {
                    print(String(format: "CSD against independent windows: seam error %.0f%% lower, style spread %.0f%% lower", 100 * seam, 100 * spread))
                }
            }
        }
    }
}
