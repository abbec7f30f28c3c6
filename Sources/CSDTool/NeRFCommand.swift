import ArgumentParser
import Core
import Foundation
import NeRF

/// `csd nerf`: fit a voxel radiance field to a NeRF scene and render its views.
struct NeRFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nerf", abstract: "Fit and render radiance fields of posed images.",
                                                    subcommands: [Fit.self, Render.self])

    static func parseBounds(_ text: String) throws -> (SIMD3<Float>, SIMD3<Float>) {
        let v = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 6, v[0] < v[3], v[1] < v[4], v[2] < v[5] else {
            throw InputError("--bounds", "'\(text)' is not minX,minY,minZ,maxX,maxY,maxZ with each minimum below its maximum")
        }
        return ([v[0], v[1], v[2]], [v[3], v[4], v[5]])
    }

    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fit a voxel radiance field to a scene's posed images (transforms.json).")
        @Argument(help: "Scene folder or its transforms.json (nerfstudio / Blender layout).") var scene: String
        @Option(name: .shortAndLong, help: "Output field (.safetensors).") var output: String
        @Option(help: "Grid points per axis.") var resolution: Int = 48
        @Option(help: "Box holding the scene: minX,minY,minZ,maxX,maxY,maxZ (default: the world generator's scenes).") var bounds: String = "-3.5,-0.3,-3.5,3.5,3,3.5"
        @Option(help: "Samples per ray.") var samples: Int = 64
        @Option(help: "Adam steps.") var steps: Int = 1000
        @Option(help: "Rays per step.") var rays: Int = 2048
        @Option(help: "Learning rate.") var lr: Float = 0.1
        @Option(help: "Weight of the total-variation prior.") var smoothness: Float = 0.1
        @Option(help: "Leave every Kth view out of training and report PSNR on them (0: none).") var holdOut: Int = 8
        @Option(help: "Seed.") var seed: UInt64 = 0

        func run() throws {
            try CSDCommand.reportingInputErrors {
                guard output.hasSuffix(".safetensors") else { throw InputError(output, "the field is written as .safetensors") }
                try AtomicFile.checkDestination(output)
                guard (2...512).contains(resolution), (1...4096).contains(samples), steps >= 1, rays >= 1 else {
                    throw InputError("nerf fit", "resolution 2...512, samples 1...4096, steps and rays ≥ 1")
                }
                let (low, high) = try NeRFCommand.parseBounds(bounds)
                let dataset = try NeRFDataset(path: scene)
                let heldOut = holdOut > 0 ? dataset.views.indices.filter { $0 % holdOut == holdOut / 2 } : []
                let training = dataset.views.indices.filter { !heldOut.contains($0) }.map { dataset.views[$0] }
                guard !training.isEmpty else { throw InputError("--hold-out", "leaves no view to train on") }
                let field = VoxelRadianceField(resolution: resolution, boundsMin: low, boundsMax: high, samplesPerRay: samples)
                let trainer = RadianceFieldTrainer(field: field, views: training, raysPerStep: rays, learningRate: lr, smoothness: smoothness, seed: seed)
                let bar = ProgressBar(label: "fitting \(training.count) views", total: steps)
                var loss: Float = 0
                for s in 1...steps {
                    loss = trainer.advance()
                    bar.update(s)
                }
                bar.finish()
                try field.write(to: output)
                let psnr = heldOut.map { EditMetrics.psnr(field.render(view: dataset.views[$0]), dataset.views[$0].image) }
                print(String(format: "wrote %@; final batch MSE %.5f", output, loss)
                      + (psnr.isEmpty ? "" : String(format: "; PSNR on %d held-out views %.2f dB", psnr.count, psnr.reduce(0, +) / Double(psnr.count))))
            }
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Render a fitted field from every camera of a scene, beside the real views.")
        @Argument(help: "Field written by `csd nerf fit`.") var field: String
        @Option(help: "Scene folder or transforms.json whose cameras to render.") var scene: String
        @Option(name: .shortAndLong, help: "Output PNG: a grid of real views above rendered ones.") var output: String

        func run() throws {
            try CSDCommand.reportingInputErrors {
                try AtomicFile.checkDestination(output)
                let radiance = try VoxelRadianceField(path: field)
                let dataset = try NeRFDataset(path: scene)
                let rendered = dataset.views.map { radiance.render(view: $0) }
                let psnr = zip(rendered, dataset.views).map { EditMetrics.psnr($0, $1.image) }
                try RGBImage.grid(dataset.views.map(\.image) + rendered, columns: dataset.views.count).writePNG(to: output)
                print(String(format: "wrote %@; mean PSNR against the %d views %.2f dB", output, dataset.views.count, psnr.reduce(0, +) / Double(psnr.count)))
            }
        }
    }
}
