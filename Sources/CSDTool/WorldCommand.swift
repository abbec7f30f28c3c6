import ArgumentParser
import Core
import Foundation
import World

/// `csd world`: the procedural world the bundled model is trained on and edits are measured in.
struct WorldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "world", abstract: "Render the procedural world: single views, training sets, tokenizer files.",
        subcommands: [Render.self, Dataset.self, Vocabulary.self])

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Render random scenes (a grid of --count) with their captions.")
        @Option(help: "First scene seed.") var seed: UInt64 = 0
        @Option(help: "Scenes to render.") var count: Int = 1
        @Option(help: "Image side in pixels.") var size: Int = 256
        @Option(name: .shortAndLong, help: "Output PNG.") var output: String

        func run() throws {
            try CSDCommand.reportingInputErrors {
                guard (8...4096).contains(size) else { throw InputError("--size", "must be between 8 and 4096") }
                guard (1...1024).contains(count) else { throw InputError("--count", "must be between 1 and 1024") }
                var images = [RGBImage]()
                for i in 0..<count {
                    let sample = WorldSample(seed: seed + UInt64(i))
                    let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size)
                    images.append(RGBImage(width: size, height: size, pixels: r.bytes))
                    print("\(sample.seed): \(sample.scene.caption)")
                }
                try RGBImage.grid(images, columns: Int(Double(count).squareRoot().rounded(.up))).writePNG(to: output)
            }
        }
    }

    struct Dataset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a training shard of captioned renders.")
        @Option(help: "Renders to write.") var count: Int = 100_000
        @Option(help: "Image side in pixels.") var size: Int = 64
        @Option(help: "Seed of the first scene (held-out sets use a separate range).") var firstSeed: UInt64 = 0
        @Option(name: .shortAndLong, help: "Output .safetensors shard.") var output: String

        func run() throws {
            try CSDCommand.reportingInputErrors {
                guard (1...10_000_000).contains(count) else { throw InputError("--count", "must be between 1 and 10000000") }
                guard (8...512).contains(size) else { throw InputError("--size", "must be between 8 and 512") }
                let bar = ProgressBar(label: "rendering", total: count)
                let start = Date()
                try WorldDataset.write(count: count, size: size, firstSeed: firstSeed, to: output) { bar.update($0) }
                bar.finish()
                print(String(format: "wrote %d renders to %@ in %.1f s", count, output, Date().timeIntervalSince(start)))
            }
        }
    }

    struct Vocabulary: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vocab", abstract: "Write CLIP-style BPE tokenizer files for the world's words.")
        @Option(name: .shortAndLong, help: "Output folder.") var output: String
        func run() throws {
            try CSDCommand.reportingInputErrors { try WorldTokenizerFiles.write(to: output) }
        }
    }
}
