import ArgumentParser
import Core
import Foundation
import Video
import World

/// `csd world`: the procedural world the bundled model is trained on and edits are measured in.
struct WorldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "world", abstract: "Render the procedural world: single views, training sets, tokenizer files.",
        subcommands: [Render.self, Dataset.self, InstructionDataset.self, Shapes.self, Vocabulary.self, VideoScene.self, PanoramaScene.self, NeRFScene.self])

    /// Which scene to render: a random one for a seed, or the one a caption describes.
    struct SceneOptions: ParsableArguments {
        @Option(help: "Scene seed.") var seed: UInt64 = 0
        @Option(help: "Objects in the scene (1-3; default random).") var objects: Int?
        @Option(help: "Describe the scene instead of drawing it at random, e.g. \"a red ball on grass\".") var caption: String?

        func scene() throws -> WorldScene {
            if let caption {
                guard let scene = WorldScene(caption: caption, seed: seed) else {
                    throw InputError("--caption", "'\(caption)' is not in the world's grammar (e.g. \"a red ball and a blue cube on sand at sunset\")")
                }
                return scene
            }
            return WorldScene.random(seed: seed, objectCount: objects)
        }
    }

    struct VideoScene: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "video", abstract: "Render a world video (H.264 MP4) and its ground truth (JSON).")
        @OptionGroup var scene: SceneOptions
        @Option(help: "Frames.") var frames: Int = 24
        @Option(help: "Frame size WxH.") var size: String = "256x256"
        @Option(help: "Frames per second.") var fps: Double = 12
        @Option(help: "orbit (camera circles) or objects (objects slide).") var motion: String = "orbit"
        @Option(name: .shortAndLong, help: "Output .mp4; the ground truth goes to the same path with .json.") var output: String

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                let (w, h) = try WorldCommand.parseSize(size)
                guard (1...10_000).contains(frames) else { throw InputError("--frames", "must be between 1 and 10000") }
                guard let m = WorldMotion(rawValue: motion) else { throw InputError("--motion", "'\(motion)' is not orbit or objects") }
                let (images, truth) = WorldExports.video(scene: try scene.scene(), frames: frames,
                                                         width: w, height: h, frameRate: fps, motion: m)
                let writer = try VideoWriter(path: output, width: w, height: h, frameRate: fps)
                for image in images { try writer.append(image) }
                try writer.finish()
                try truth.write(to: URL(fileURLWithPath: output).deletingPathExtension().appendingPathExtension("json").path)
                Console.say("wrote \(output): \(truth.caption)")
            }
        }
    }

    struct PanoramaScene: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "panorama", abstract: "Render a cylindrical world panorama (PNG) and its ground truth (JSON).")
        @OptionGroup var scene: SceneOptions
        @Option(help: "Panorama size WxH.") var size: String = "512x64"
        @Option(help: "Horizontal field of view in degrees (360 for a full turn).") var fov: Float = 360
        @Option(name: .shortAndLong, help: "Output .png; the ground truth goes to the same path with .json.") var output: String

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                let (w, h) = try WorldCommand.parseSize(size)
                guard fov > 0 && fov <= 360 else { throw InputError("--fov", "must be in (0, 360]") }
                let (image, truth) = WorldExports.panorama(scene: try scene.scene(), width: w, height: h,
                                                           fieldOfView: fov * .pi / 180)
                try image.writePNG(to: output)
                try truth.write(to: URL(fileURLWithPath: output).deletingPathExtension().appendingPathExtension("json").path)
                Console.say("wrote \(output): \(truth.caption)")
            }
        }
    }

    struct NeRFScene: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "nerf", abstract: "Render posed views and a nerfstudio/Blender transforms.json.")
        @OptionGroup var scene: SceneOptions
        @Option(help: "Views around the scene.") var views: Int = 32
        @Option(help: "Image side.") var size: Int = 128
        @Option(name: .shortAndLong, help: "Output folder (images/, transforms.json, scene.json).") var output: String

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard (1...1000).contains(views), (8...2048).contains(size) else { throw InputError("nerf", "--views must be 1...1000 and --size 8...2048") }
                let scene = try self.scene.scene()
                try WorldExports.nerfScene(scene: scene, views: views, size: size, folder: output)
                Console.say("wrote \(views) views of \(scene.caption) to \(output)")
            }
        }
    }

    static func parseSize(_ text: String) throws -> (Int, Int) {
        let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (1...8192).contains($0) }) else { throw InputError("--size", "'\(text)' is not WxH with sides 1...8192") }
        return (parts[0], parts[1])
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Render random scenes (a grid of --count) with their captions.")
        @Option(help: "First scene seed.") var seed: UInt64 = 0
        @Option(help: "Scenes to render.") var count: Int = 1
        @Option(help: "Image side in pixels.") var size: Int = 256
        @Option(name: .shortAndLong, help: "Output PNG.") var output: String

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard (8...4096).contains(size) else { throw InputError("--size", "must be between 8 and 4096") }
                guard (1...1024).contains(count) else { throw InputError("--count", "must be between 1 and 1024") }
                var images = [RGBImage]()
                for i in 0..<count {
                    let sample = WorldSample(seed: seed + UInt64(i))
                    let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size)
                    images.append(RGBImage(width: size, height: size, pixels: r.bytes))
                    Console.say("\(sample.seed): \(sample.scene.caption)")
                }
                try RGBImage.grid(images, columns: Int(Double(count).squareRoot().rounded(.up))).writePNG(to: output)
            }
        }
    }

    /// What a training-shard writer takes, and its run: checked counts, progress, a summary.
    struct ShardOptions: ParsableArguments {
        @Option(help: "Renders (pairs for instruct-dataset) to write.") var count: Int = 100_000
        @Option(help: "Image side in pixels.") var size: Int = 64
        @Option(help: "Seed of the first scene (held-out sets use a separate range).") var firstSeed: UInt64 = 0
        @Option(name: .shortAndLong, help: "Output .safetensors shard.") var output: String
        @OptionGroup var console: ConsoleOptions

        /// Checks the options, then runs `write` with a progress bar and says what it wrote (`items`).
        func run(items: String, _ write: (@escaping (Int) -> Void) throws -> Void) throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard (1...10_000_000).contains(count) else { throw InputError("--count", "must be between 1 and 10000000") }
                guard (8...512).contains(size) else { throw InputError("--size", "must be between 8 and 512") }
                let bar = ProgressBar(label: "rendering", total: count)
                let start = Date()
                try write { bar.update($0) }
                bar.finish()
                Console.say(String(format: "wrote %d %@ to %@ in %.1f s", count, items, output, Date().timeIntervalSince(start)))
            }
        }
    }

    struct Dataset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a training shard of captioned renders.")
        @OptionGroup var shard: ShardOptions

        func run() throws {
            try shard.run(items: "renders") { progress in
                try WorldDataset.write(count: shard.count, size: shard.size, firstSeed: shard.firstSeed, to: shard.output, progress: progress)
            }
        }
    }

    struct InstructionDataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "instruct-dataset", abstract: "Write the instruction model's training shard: render, instruction, edited render.")
        @OptionGroup var shard: ShardOptions

        func run() throws {
            try shard.run(items: "pairs") { progress in
                try WorldInstructionDataset.write(count: shard.count, size: shard.size, firstSeed: shard.firstSeed, to: shard.output, progress: progress)
            }
        }
    }

    struct Shapes: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the shape classifier's training set (see Tools/train_shape_classifier.py).")
        @Option(help: "Renders (each is written sharp and blurred by 1 and 2 pixels).") var count: Int = 24_000
        @Option(help: "Seed of the first render.") var firstSeed: UInt64 = 40_000_000
        @Option(name: .shortAndLong, help: "Output .safetensors file.") var output: String

        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard (1...1_000_000).contains(count) else { throw InputError("--count", "must be between 1 and 1000000") }
                let bar = ProgressBar(label: "rendering", total: count)
                try ShapeTrainingSet.write(count: count, firstSeed: firstSeed, to: output) { bar.update($0) }
                bar.finish()
                Console.say("wrote \(output)")
            }
        }
    }

    struct Vocabulary: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vocab", abstract: "Write CLIP-style BPE tokenizer files for the world's words.")
        @Option(name: .shortAndLong, help: "Output folder.") var output: String
        @OptionGroup var console: ConsoleOptions

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors { try WorldTokenizerFiles.write(to: output) }
        }
    }
}
