import Foundation
import Testing
@testable import Core

/// Single-file SD 1.x and 2.x checkpoints (LDM names) against diffusers, from the fixtures of
/// Tools/make_single_file_fixtures.py (whose files diffusers' own single-file converters map back
/// to the reference models exactly).
@Suite struct SingleFileCheckpointTests {
    static let references = try! SafetensorsFile(path: Fixtures.path("single-file/references.safetensors"))
    func reference(_ name: String) -> Tensor { try! Self.references.tensor(name) }

    func checkAgainstDiffusers(_ model: DiffusionModel, _ family: String) throws {
        let prompt = Self.references.metadata["prompt"]!
        let cond = model.encode(prompts: [prompt]).hiddenStates, uncond = model.encode(prompts: [""]).hiddenStates
        expectClose(cond, reference("\(family).text.cond"), "\(family) text encoder, prompt")
        expectClose(uncond, reference("\(family).text.uncond"), "\(family) text encoder, empty prompt (its padding)")
        let out = model.unet(reference("\(family).unet.sample"), timesteps: reference("\(family).unet.timesteps").storage,
                             encoderHiddenStates: Tensor.concatenateBatch([reference("\(family).text.cond"), reference("\(family).text.uncond")]))
        expectClose(out, reference("\(family).unet.out"), "\(family) UNet forward")
        let image = model.sample(prompt: prompt, noise: reference("\(family).ddim.noise"), steps: 2, guidance: 7.5)
        expectClose(image, reference("\(family).ddim.image"), relative: 2e-4, "\(family) 2-step DDIM sample")
    }

    @Test func anSD1CheckpointLoadsAndMatchesDiffusers() throws {
        let checkpoint = try SingleFileCheckpoint(path: Fixtures.path("single-file/sd1.safetensors"))
        #expect(checkpoint.family == .sd1)
        #expect(checkpoint.unetConfig["attention_head_dim"] as? Int == 8)
        #expect(checkpoint.unetConfig["layers_per_block"] as? Int == 2)
        #expect(checkpoint.unetConfig["down_block_types"] as? [String] == ["CrossAttnDownBlock2D", "DownBlock2D"])
        #expect(checkpoint.schedulerConfig["prediction_type"] as? String == "epsilon")
        let model = try DiffusionModel(path: checkpoint.path)
        #expect(model.vae != nil && model.schedule.configuration.predictionType == "epsilon")
        try checkAgainstDiffusers(model, "sd1")
    }

    @Test func anSD2CheckpointLoadsAsOpenCLIPWithVPredictionAndMatchesDiffusers() throws {
        let checkpoint = try SingleFileCheckpoint(path: Fixtures.path("single-file/sd2.safetensors"))
        #expect(checkpoint.family == .sd2)
        #expect(checkpoint.unetConfig["use_linear_projection"] as? Bool == true)
        #expect(checkpoint.textEncoderConfig["num_hidden_layers"] as? Int == 23, "the 24th resblock is dropped, as diffusers does")
        #expect(checkpoint.textEncoderConfig["hidden_act"] as? String == "gelu")
        let model = try DiffusionModel(path: checkpoint.path)
        #expect(model.schedule.configuration.predictionType == "v_prediction")
        try checkAgainstDiffusers(model, "sd2")
    }

    @Test func aConvertedFolderHoldsTheSameBytesAndLoadsAsTheSameModel() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Fixtures.path("single-file/sd2.safetensors")
        let checkpoint = try SingleFileCheckpoint(path: source)
        try checkpoint.writeDiffusersFolder(to: "\(dir)/sd2")
        let unet = try SafetensorsFile(path: "\(dir)/sd2/unet/diffusion_pytorch_model.safetensors")
        #expect(unet.entries.values.allSatisfy { $0.dtype == .f16 }, "tensors keep the file's dtype")
        for name in ["conv_in.weight", "up_blocks.0.attentions.0.proj_in.weight"] {
            #expect(try unet.rawTensor(name).bytes == checkpoint.unet.rawTensor(name).bytes)
        }
        let text = try SafetensorsFile(path: "\(dir)/sd2/text_encoder/model.safetensors")
        // The fused in_proj of OpenCLIP, split: k is the middle third of the rows.
        let fused = try SafetensorsFile(path: source).tensor("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight")
        let k = try text.tensor("text_model.encoder.layers.0.self_attn.k_proj.weight")
        #expect(k.storage == Array(fused.storage[k.count ..< 2 * k.count]))

        let fromFolder = try DiffusionModel(folder: "\(dir)/sd2")
        let fromFile = try DiffusionModel(path: source)
        let x = reference("sd2.unet.sample"), t = reference("sd2.unet.timesteps").storage
        let context = Tensor.concatenateBatch([reference("sd2.text.cond"), reference("sd2.text.uncond")])
        #expect(fromFolder.unet(x, timesteps: t, encoderHiddenStates: context).storage
                == fromFile.unet(x, timesteps: t, encoderHiddenStates: context).storage)
        #expect(fromFolder.encode(prompts: ["a ball"]).hiddenStates.storage == fromFile.encode(prompts: ["a ball"]).hiddenStates.storage)

        // An existing folder is never written into; nothing is left beside it.
        #expect(throws: InputError.self) { try checkpoint.writeDiffusersFolder(to: "\(dir)/sd2") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["sd2"])
    }

    /// A copy of the SD 1.x fixture with its tensors filtered by `keep`.
    func brokenCopy(_ dir: String, keep: (String) -> Bool, add: [String: Tensor] = [:]) throws -> String {
        let file = try SafetensorsFile(path: Fixtures.path("single-file/sd1.safetensors"))
        var tensors = [String: Tensor]()
        for name in file.entries.keys where keep(name) && file.entries[name]!.dtype != .i64 { tensors[name] = try file.tensor(name) }
        tensors.merge(add) { $1 }
        let path = "\(dir)/broken-\(UUID().uuidString).safetensors"
        try SafetensorsFile.write(tensors, to: path)
        return path
    }

    func loadError(_ path: String) -> String? {
        do { _ = try DiffusionModel(path: path); return nil } catch let e as InputError { return e.description } catch { return "\(error)" }
    }

    @Test func filesThatAreNotSDCheckpointsAreOneLineErrorsNamingTheFile() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lora = try brokenCopy(dir, keep: { _ in false },
                                  add: ["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": Tensor(zeros: [4, 32])])
        let noVAE = try brokenCopy(dir, keep: { !$0.hasPrefix("first_stage_model.") })
        let noText = try brokenCopy(dir, keep: { !$0.hasPrefix("cond_stage_model.") })
        let sdxl = try brokenCopy(dir, keep: { _ in true }, add: ["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": Tensor(zeros: [4])])
        let missing = try brokenCopy(dir, keep: { $0 != "model.diffusion_model.output_blocks.2.1.conv.weight" })
        let extra = try brokenCopy(dir, keep: { _ in true }, add: ["model.diffusion_model.input_blocks.1.1.mystery.weight": Tensor(zeros: [2])])
        // Shapes a config is read from, too few dimensions for it (these trapped before).
        let flatConv = try brokenCopy(dir, keep: { _ in true }, add: ["model.diffusion_model.input_blocks.0.0.weight": Tensor(zeros: [8])])
        let scalarProjection = try brokenCopy(dir, keep: { _ in true },
                                              add: ["cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": Tensor(zeros: []),
                                                    "cond_stage_model.model.transformer.resblocks.1.ln_1.weight": Tensor(zeros: [4])])
        for (path, problem) in [(lora, "holds LoRA weights"), (noVAE, "holds no VAE"), (noText, "holds no text encoder"),
                                (sdxl, "is an SDXL checkpoint"), (missing, "missing parameter 'up_blocks.0.upsamplers.0.conv.weight'"),
                                (extra, "unexpected parameter 'down_blocks.0.attentions.0.mystery.weight'"),
                                (flatConv, "weight conv_in.weight has shape [8]"), (scalarProjection, "a fused q, k, v projection has 3·d rows")] {
            let message = loadError(path)
            #expect(message?.contains(path) == true && message?.contains(problem) == true, "\(problem): \(message ?? "loaded")")
            #expect(message?.contains("\n") == false)
        }
        #expect(loadError(Fixtures.path("single-file/references.safetensors"))?.contains("not a Stable Diffusion single-file checkpoint") == true)
        let text = "\(dir)/model.ckpt"
        FileManager.default.createFile(atPath: text, contents: Data("x".utf8))
        #expect(loadError(text)?.contains("is a file, not a model") == true)
        #expect(throws: InputError.self) { _ = try DiffusionModel(path: Fixtures.path("single-file/sd1.safetensors"), variant: "fp16") }
    }
}
