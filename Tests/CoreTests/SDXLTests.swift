import Foundation
import Testing
@testable import Core

/// The SDXL layout (two text encoders, `text_time` added conditions) against diffusers'
/// `StableDiffusionXLPipeline`, from Tools/make_sdxl_fixture.py.
@Suite struct SDXLTests {
    static let references = try! SafetensorsFile(path: Fixtures.path("tiny-sdxl-references.safetensors"))
    func reference(_ name: String) -> Tensor { try! Self.references.tensor(name) }

    @Test func anSDXLFolderEncodesConditionsAndSamplesAsDiffusers() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-sdxl"))
        #expect(model.textEncoder2 != nil && model.forceZerosForEmptyPrompt)
        let prompt = Self.references.metadata["prompt"]!
        let c = model.encode(prompts: [prompt])
        expectClose(c.hiddenStates, reference("prompt_embeds"), "both encoders' penultimate states, side by side")
        expectClose(c.pooled, reference("pooled"), "the second encoder's projected pooled state")
        let empty = model.encode(prompts: [""])
        #expect(empty.hiddenStates.maxAbs == 0 && empty.pooled.maxAbs == 0, "force_zeros_for_empty_prompt")

        let x = reference("unet.sample")
        let pooled = Tensor.concatenateBatch([reference("pooled"), reference("pooled")])
        let out = model.unet(x, timesteps: reference("unet.timesteps").storage,
                             encoderHiddenStates: Tensor.concatenateBatch([reference("prompt_embeds"), reference("prompt_embeds")]),
                             classLabels: Tensor.concatenateChannels(pooled, reference("unet.time_ids")))
        expectClose(out, reference("unet.out"), "UNet with pooled text and time ids")

        let image = model.sample(prompt: prompt, noise: reference("ddim.noise"), steps: 2, guidance: 7.5)
        expectClose(image, reference("ddim.image"), relative: 2e-4, "2-step SDXL sample")
    }

    @Test func anSDXLUNetWithoutItsSecondEncoderIsAOneLineError() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sdxl"), toPath: "\(dir)/m")
        let index = "\(dir)/m/model_index.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: index))) as! [String: Any]
        json.removeValue(forKey: "text_encoder_2")
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: index))
        do {
            _ = try DiffusionModel(folder: "\(dir)/m")
            Issue.record("loaded an SDXL UNet with one text encoder")
        } catch let error as InputError {
            #expect(error.description.contains("cross_attention_dim 64 does not match the text encoders' hidden_size 32"), "\(error)")
        }
    }
}
