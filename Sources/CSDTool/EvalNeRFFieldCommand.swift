import ArgumentParser
import Core
import Foundation
import NeRF
import World

/// `csd eval nerf-field`: how well `csd nerf fit` reconstructs world scenes, on views it never saw.
struct EvalNeRFField: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nerf-field", abstract: "Fit radiance fields to world scenes and measure PSNR on held-out views, and the fit's time.")
    static let defaultCaptions = ["a red ball and a yellow cube on grass", "a blue cone on sand", "a green cylinder and a white ball on snow",
                                  "a purple cube on bricks at sunset"]

    @Option(name: .customLong("caption"), help: "Scene caption (repeatable; default four scenes).") var captions: [String] = []
    @Option(name: .customLong("scene-seed"), help: "Scene seed (repeatable; default 0 and 1).") var seeds: [UInt64] = []
    @Option(help: "Views around each scene.") var views: Int = 32
    @Option(help: "Image side.") var size: Int = 64
    @OptionGroup var fit: NeRFCommand.FitOptions
    @Flag(help: "Print one JSON object.") var json = false

    /// A world scene's posed views, rendered in memory with the cameras `csd world nerf` writes.
    static func dataset(scene: WorldScene, views: Int, size: Int) -> NeRFDataset {
        let renderer = WorldRenderer(scene: scene)
        return NeRFDataset(views: WorldExports.nerfCameras(views: views).map { camera in
            NeRFView(image: RGBImage(width: size, height: size, pixels: renderer.render(camera: camera, width: size, height: size).bytes),
                     camera: nerfCamera(camera, size: size))
        })
    }

    /// The world camera as a NeRF camera of `size`×`size` pixels.
    static func nerfCamera(_ camera: Camera, size: Int) -> NeRFCamera {
        let f = camera.focal(width: size)
        return NeRFCamera(width: size, height: size, focalX: f, focalY: f, centerX: Float(size) / 2, centerY: Float(size) / 2,
                          cameraToWorld: camera.cameraToWorld)
    }

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            let settings = try fit.settings()
            guard (2...1000).contains(views), (8...1024).contains(size), settings.holdOut >= 2 else {
                throw InputError("eval nerf-field", "--views 2...1000, --size 8...1024, --hold-out ≥ 2")
            }
            let sceneSeeds: [UInt64] = seeds.isEmpty ? [0, 1] : seeds
            let scenes = try (captions.isEmpty ? Self.defaultCaptions : captions).flatMap { caption in
                try sceneSeeds.map { seed -> WorldScene in
                    guard let scene = WorldScene(caption: caption, seed: seed) else { throw InputError("--caption", "'\(caption)' is not in the world's grammar") }
                    return scene
                }
            }
            var rows = [[String: Any]]()
            for (i, scene) in scenes.enumerated() {
                let dataset = Self.dataset(scene: scene, views: views, size: size)
                let bar = ProgressBar(label: "scene \(i + 1)/\(scenes.count)", total: settings.steps)
                let result = try RadianceFieldFit.run(dataset, settings: settings) { step, _ in bar.update(step) }!  // nil only when a checkpoint stops it
                bar.finish()
                let psnr = result.meanHeldOutPSNR ?? 0
                rows.append(["caption": scene.caption, "seed": Int(sceneSeeds[i % sceneSeeds.count]), "held_out_psnr": psnr,
                             "min_view_psnr": result.heldOutPSNR.min() ?? 0, "seconds": result.seconds, "final_batch_mse": Double(result.finalLoss)])
                if !json { print(String(format: "%@ (seed %@): held-out PSNR %.2f dB (worst view %.2f), fitted in %.1f s", scene.caption,
                                        "\(rows.last!["seed"]!)", psnr, result.heldOutPSNR.min() ?? 0, result.seconds)) }
            }
            let psnrs = rows.map { $0["held_out_psnr"] as! Double }, seconds = rows.map { $0["seconds"] as! Double }
            let summary: [String: Any] = ["scenes": rows, "mean_held_out_psnr": psnrs.reduce(0, +) / Double(psnrs.count),
                                          "min_held_out_psnr": psnrs.min() ?? 0, "mean_seconds": seconds.reduce(0, +) / Double(seconds.count),
                                          "max_seconds": seconds.max() ?? 0, "views": views, "size": size, "resolution": settings.resolution, "steps": settings.steps,
                                          "threads": Parallelism.workers]
            if json { try Console.printJSON(summary) } else {
                print(String(format: "mean held-out PSNR %.2f dB (lowest scene %.2f) over %d scenes; fit %.1f s mean, %.1f s longest, %d threads",
                             summary["mean_held_out_psnr"] as! Double, summary["min_held_out_psnr"] as! Double, rows.count,
                             summary["mean_seconds"] as! Double, summary["max_seconds"] as! Double, Parallelism.workers))
            }
        }
    }
}
