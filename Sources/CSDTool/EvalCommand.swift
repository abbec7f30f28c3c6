import ArgumentParser
import Core
import Foundation
import World

/// `csd eval`: measurements of the bundled prior and of the analyser that judges it.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Measure the prior (caption probe, generation) or the analyser.",
        subcommands: [Prior.self, Analyser.self, EvalEdits.self, EvalStructure.self, EvalPanorama.self, EvalNeRFField.self, EvalNeRF.self, EvalInstruct.self, EvalCSDEdit.self, EvalVideo.self])

    struct Prior: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Caption probe and held-out-caption generation, judged by the analyser.")
        @Option(help: "Model: a diffusers folder or a single-file .safetensors checkpoint.") var model: String = "Models/prior"
        @Option(help: "Held-out renders for the caption probe.") var renders: Int = 200
        @Option(help: "Noise draws per render and timestep in the caption probe (the same draws for every caption, their errors summed, estimating each caption's expected noise error; it was 1 at first, then 4).")
        var probeDraws: Int = 16
        @Option(help: "Also run the caption probe with the world's Bayes-optimal denoiser (the posterior mean over this many renders of each caption's words at random layouts): the best win rate any model could reach. Pixel-space models only.")
        var posteriorLayouts: Int?
        @Option(help: "Captions of held-out combinations to sample.") var samples: Int = 96
        @Option(help: "DDIM steps for generation.") var steps: Int = 50
        @Option(help: "Guidance scale for generation.") var guidance: Float = 5
        @Option(help: "Image side (the analyser's size).") var size: Int = 64
        @Option(help: "Write the generated images as a grid PNG here.") var grid: String?
        @Flag(help: "Print one JSON object.") var json = false

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard renders >= 0, samples >= 0, (1...1000).contains(steps) else { throw InputError("eval prior", "counts must be ≥ 0 and steps 1...1000") }
                guard probeDraws >= 1 else { throw InputError("--probe-draws", "must be at least 1, got \(probeDraws)") }
                if let posteriorLayouts, posteriorLayouts < 1 { throw InputError("--posterior-layouts", "must be at least 1, got \(posteriorLayouts)") }
                if let grid { try AtomicFile.checkDestination(grid) }
                BLAS.prepare()
                let diffusion = try DiffusionModel(path: model)
                try diffusion.require(instructionModel: false, option: "eval prior")
                if posteriorLayouts != nil, diffusion.vae != nil {
                    throw InputError(model, "--posterior-layouts needs a pixel-space model (this one has a VAE)")
                }
                let evaluation = PriorEvaluation(model: diffusion, size: size)
                let probeBar = ProgressBar(label: "caption probe", total: max(renders, 1))
                let probe = evaluation.captionProbe(renders: renders, draws: probeDraws) { probeBar.update($0) }
                probeBar.finish()
                var posterior: PriorEvaluation.PosteriorProbeResult?
                if let posteriorLayouts {
                    let bar = ProgressBar(label: "posterior probe", total: max(renders, 1))
                    posterior = PriorEvaluation.posteriorProbe(schedule: diffusion.schedule, layouts: posteriorLayouts, renders: renders,
                                                               draws: probeDraws, size: size) { bar.update($0) }
                    bar.finish()
                }
                let analyser = SceneAnalyser(size: size)
                let genBar = ProgressBar(label: "generation", total: max(samples, 1))
                let generation = evaluation.generation(samples: samples, steps: steps, guidance: guidance, analyser: analyser) { genBar.update($0) }
                genBar.finish()
                if let grid, !generation.images.isEmpty {
                    try RGBImage.grid(generation.images, columns: 12).writePNG(to: grid)
                }
                func rateObject(_ probe: PriorEvaluation.ProbeResult) -> [String: Any] {
                    var object = [String: Any]()
                    for (swap, rates) in probe.winRate {
                        object[swap.rawValue] = Dictionary(uniqueKeysWithValues: rates.map { ("t\($0.key)", $0.value) })
                    }
                    return object
                }
                let probeObject = rateObject(probe)
                let unmet = PriorQualityTargets().unmet(probe: probe, generation: generation)
                if json {
                    var object: [String: Any] = [
                        "model": model, "probe_renders": renders, "probe_draws": probeDraws, "caption_probe": probeObject,
                        "targets_unmet": unmet,
                        "generation": ["samples": samples, "steps": steps, "guidance": guidance,
                                       "color_accuracy": generation.colorAccuracy, "ground_accuracy": generation.groundAccuracy,
                                       "shape_accuracy": generation.shapeAccuracy,
                                       // Each sample's caption and verdict, in the grid's order (rows of 12), so a
                                       // person can check the judge against the pictures.
                                       "judged": zip(generation.captions, generation.judgements).map { caption, j in
                                           ["caption": caption, "ground": j.ground.rawValue, "time": j.time.rawValue,
                                            "color": j.dominantColor?.rawValue ?? NSNull(), "shape": j.shape?.rawValue ?? NSNull()] as [String: Any]
                                       }],
                    ]
                    if let posterior {
                        object["posterior_probe"] = rateObject(posterior.probe).merging([
                            "layouts": posterior.layouts,
                            "effective_layouts": Dictionary(uniqueKeysWithValues: posterior.effectiveLayouts.map { ("t\($0.key)", $0.value) }),
                        ]) { a, _ in a }
                    }
                    try Console.printJSON(object)
                } else {
                    func printRates(_ probe: PriorEvaluation.ProbeResult) {
                        for swap in PriorEvaluation.Swap.allCases {
                            let rates = probe.winRate[swap]!.sorted { $0.key < $1.key }
                            print("  \(swap.rawValue): " + rates.map { String(format: "t=%d %.1f%%", $0.key, 100 * $0.value) }.joined(separator: ", "))
                        }
                    }
                    print("caption probe (\(renders) held-out renders, \(probeDraws) noise draws each): true caption beats a one-word swap")
                    printRates(probe)
                    if let posterior {
                        print("posterior probe (the world's best denoiser, \(posterior.layouts) layouts per caption; same renders, swaps and noise):")
                        printRates(posterior.probe)
                        let effective = posterior.effectiveLayouts.sorted { $0.key < $1.key }
                        print("  effective layouts per prediction: " + effective.map { String(format: "t=%d %.1f", $0.key, $0.value) }.joined(separator: ", "))
                    }
                    print(String(format: "generation (%d held-out captions, DDIM %d, guidance %.1f): colour %.1f%%, ground %.1f%%, shape %.1f%%",
                                 samples, steps, guidance, 100 * generation.colorAccuracy, 100 * generation.groundAccuracy, 100 * generation.shapeAccuracy))
                    print(unmet.isEmpty ? "targets: every measured target met" : "targets not met: " + unmet.joined(separator: "; "))
                    if let grid { Console.say("wrote \(grid)") }
                }
            }
        }
    }

    struct Analyser: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accuracy of the analyser on real single-object renders.")
        @Option(help: "Renders to judge.") var renders: Int = 480
        @Flag(help: "Print one JSON object.") var json = false
        @Option(help: "Write the renders the analyser misjudges to this folder, as SEED.png.") var writeMisses: String?

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                var isFolder: ObjCBool = false
                if let folder = writeMisses, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) {
                    throw InputError(folder, "--write-misses needs an existing folder")
                }
                let analyser = SceneAnalyser(size: 64)
                var (color, ground, shape) = (0, 0, 0)
                var misses = [[String: Any]]()
                let combos = SceneAnalyser.singleObjectCases
                for i in 0..<renders {
                    let (c, s, g, t) = combos[i % combos.count]
                    let sample = SceneAnalyser.singleObjectSample(color: c, shape: s, ground: g, time: t, seed: 30_000_000 + UInt64(i))
                    let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: 64, height: 64)
                    let j = analyser.judge(RGBImage(width: 64, height: 64, pixels: r.bytes))
                    if j.dominantColor == c { color += 1 }
                    if j.ground == g { ground += 1 }
                    if j.shape == s { shape += 1 }
                    if j.dominantColor != c || j.ground != g || j.shape != s {
                        misses.append(["seed": 30_000_000 + i, "truth": "\(c.rawValue) \(s.rawValue) on \(g.rawValue) at \(t.rawValue)",
                                       "verdict": "\(j.dominantColor?.rawValue ?? "none") \(j.shape?.rawValue ?? "none") on \(j.ground.rawValue) at \(j.time.rawValue)",
                                       "object_pixels": j.objectPixels])
                        if let folder = writeMisses { try RGBImage(width: 64, height: 64, pixels: r.bytes).writePNG(to: "\(folder)/\(30_000_000 + i).png") }
                    }
                }
                let n = Double(max(renders, 1))
                if json {
                    try Console.printJSON(["renders": renders, "color_accuracy": Double(color) / n,
                                               "ground_accuracy": Double(ground) / n, "shape_accuracy": Double(shape) / n, "misses": misses])
                } else {
                    print(String(format: "analyser on %d real renders: colour %.1f%%, ground %.1f%%, shape %.1f%%",
                                 renders, 100 * Double(color) / n, 100 * Double(ground) / n, 100 * Double(shape) / n))
                }
            }
        }
    }
}
