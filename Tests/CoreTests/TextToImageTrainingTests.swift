import Foundation
import Testing
@testable import Core

/// `csd train prior`'s trainer against Tools/train_prior.py (fixture from
/// Tools/make_prior_training_fixture.py: a 16-render shard and PyTorch's fp32 losses of the
/// recipe's first 4 steps from Models/prior on the batches the Swift trainer draws).
@Suite struct TextToImageTrainingTests {
    static let folder = BundledPriorTests.modelFolder
    static let shardPath = Fixtures.path("prior-training.safetensors")

    static func settings() -> TextToImageTraining.Settings {
        var s = TextToImageTraining.Settings()
        (s.batch, s.learningRate, s.seed) = (4, 1e-4, 0)
        return s
    }

    static func startStep() throws -> Int {
        let steps = TextToImageTraining.recordedSteps(in: folder)
        #expect(steps > 0, "Models/prior/training.json records its steps")
        return steps
    }

    /// Four steps (three of them after AdamW updates of the UNet and text encoder) lose what
    /// PyTorch loses, to 1e-4: the draws, the loss, its gradient, the clipping and AdamW agree.
    @Test func fourStepsLoseWhatPyTorchLoses() throws {
        let data = try CaptionedImages(path: Self.shardPath)
        #expect(data.count == 16 && data.size == 64)
        let training = try TextToImageTraining(folder: Self.folder, data: data, settings: Self.settings(), startStep: Self.startStep())
        let reference = try SafetensorsFile(path: Self.shardPath).tensor("reference_losses").storage
        for k in 0..<reference.count {
            let loss = try training.advance()
            #expect(abs(loss - reference[k]) <= 1e-4 * reference[k], "step \(k + 1): loss \(loss), PyTorch \(reference[k])")
        }
        #expect(training.emaUNet["conv_in.weight"]!.storage != training.unet["conv_in.weight"]!.storage, "the EMA lags the weights")
    }

    /// Two steps, a checkpoint, a new trainer resuming from it and one more step end with the
    /// same weights, EMA and losses as three steps straight through.
    @Test func aResumedRunEndsInTheSameBytes() throws {
        let data = try CaptionedImages(path: Self.shardPath)
        let start = try Self.startStep()
        let straight = try TextToImageTraining(folder: Self.folder, data: data, settings: Self.settings(), startStep: start)
        for _ in 0..<3 { try straight.advance() }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-train-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try TextToImageTraining(folder: Self.folder, data: data, settings: Self.settings(), startStep: start)
        for _ in 0..<2 { try first.advance() }
        try first.writeCheckpoint(to: "\(dir)/state.safetensors")
        let resumed = try TextToImageTraining(resuming: "\(dir)/state.safetensors", folder: Self.folder, data: data, settings: Self.settings())
        try resumed.advance()

        #expect(resumed.step == straight.step && resumed.losses == straight.losses)
        for (name, p) in straight.unet { #expect(resumed.unet[name]!.storage == p.storage, "unet \(name)") }
        for (name, p) in straight.text { #expect(resumed.text[name]!.storage == p.storage, "text \(name)") }
        for (name, p) in straight.emaUNet { #expect(resumed.emaUNet[name]!.storage == p.storage, "EMA \(name)") }

        var other = Self.settings()
        other.learningRate = 2e-4
        #expect(throws: InputError.self) {
            _ = try TextToImageTraining(resuming: "\(dir)/state.safetensors", folder: Self.folder, data: data, settings: other)
        }
        // The export is a model folder the runtime loads.
        try resumed.export(from: Self.folder, to: "\(dir)/model")
        let model = try DiffusionModel(folder: "\(dir)/model")
        #expect(model.unet.configuration.sampleSize == 64)
    }

    /// A schedule of other than 1000 training steps draws its timesteps within it.
    @Test func timestepsComeFromTheModelsOwnSchedule() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-train-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Self.folder, toPath: dir)
        let config = "\(dir)/scheduler/scheduler_config.json"
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: Any])
        json["num_train_timesteps"] = 50
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        let training = try TextToImageTraining(folder: dir, data: try CaptionedImages(path: Self.shardPath), settings: Self.settings())
        #expect(training.alphasCumprod.count == 50)
        for step in 0..<20 {
            let draws = TextToImageTraining.Draws(seed: 0, step: step, batch: 4, images: 16, size: 64, captionDropout: 0.1, trainTimesteps: 50)
            #expect(draws.timesteps.allSatisfy { (0..<50).contains($0) })
        }
        #expect(try training.advance().isFinite)
    }

    /// A file that is not a shard is refused in one line naming it.
    @Test func aShardWithoutCaptionsIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("csd-shard-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile.write(raw: ["images": .init(dtype: "U8", shape: [1, 2, 2, 3], bytes: Data(count: 12))], to: path)
        #expect(throws: InputError(path, "has no 'captions' metadata (a JSON list of strings)")) { _ = try CaptionedImages(path: path) }
        #expect(throws: InputError.self) { _ = try CaptionedImages(path: Fixtures.path("training.safetensors")) }
    }
}

/// Weights for training from scratch follow PyTorch's initialisation of each kind of tensor.
@Suite struct FreshWeightsTests {
    @Test func freshWeightsHaveTheirInitialisersSpread() throws {
        let data = try CaptionedImages(path: TextToImageTrainingTests.shardPath)
        let training = try TextToImageTraining(folder: TextToImageTrainingTests.folder, data: data,
                                               settings: TextToImageTrainingTests.settings())
        let trained = training.unet["mid_block.resnets.0.conv1.weight"]!
        training.startFromScratch(folder: TextToImageTrainingTests.folder, seed: 7)
        func std(_ t: Tensor) -> Float {
            let mean = t.storage.reduce(0, +) / Float(t.count)
            return (t.storage.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(t.count)).squareRoot()
        }
        // A 128 → 128 3×3 convolution: uniform in ±1/√1152, so std 1/√(3·1152).
        let conv = training.unet["mid_block.resnets.0.conv1.weight"]!
        #expect(conv.storage != trained.storage)
        #expect(conv.storage.allSatisfy { abs($0) <= 1 / Float(1152).squareRoot() })
        #expect(abs(std(conv) - 1 / Float(3 * 1152).squareRoot()) < 0.03 * std(conv))
        #expect(training.unet["conv_norm_out.weight"]!.storage.allSatisfy { $0 == 1 })
        #expect(training.unet["conv_norm_out.bias"]!.storage.allSatisfy { $0 == 0 })
        // The text encoder (d 128, 3 layers): q N(0, 128^−½·6^−½), fc1 N(0, 256^−½), embeddings N(0, 0.02), biases 0.
        let q = training.text.first { $0.key.hasSuffix("layers.0.self_attn.q_proj.weight") }!.value
        #expect(abs(std(q) - 1 / Float(128 * 6).squareRoot()) < 0.05 * std(q))
        let fc1 = training.text.first { $0.key.hasSuffix("layers.0.mlp.fc1.weight") }!.value
        #expect(abs(std(fc1) - 1 / Float(256).squareRoot()) < 0.05 * std(fc1))
        let tokens = training.text.first { $0.key.hasSuffix("token_embedding.weight") }!.value
        #expect(abs(std(tokens) - 0.02) < 0.05 * 0.02)
        #expect(training.text.first { $0.key.hasSuffix("layers.0.mlp.fc1.bias") }!.value.storage.allSatisfy { $0 == 0 })
        #expect(training.emaUNet["conv_in.weight"]!.storage == training.unet["conv_in.weight"]!.storage)
        // An untrained model predicts little of the noise: the first loss is near the weighted noise's variance.
        let loss = try training.advance()
        #expect(loss > 0.1 && loss.isFinite, "first loss from scratch \(loss)")
    }
}
