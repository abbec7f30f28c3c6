import Foundation
import Testing
@testable import Core

/// LoRAs merged at load against diffusers (`load_lora_weights` + `fuse_lora`), from the fixtures of
/// Tools/make_lora_fixtures.py on the tiny-sd pipeline.
@Suite struct LoRATests {
    static let references = try! SafetensorsFile(path: Fixtures.path("lora/references.safetensors"))
    func reference(_ name: String) -> Tensor { try! Self.references.tensor(name) }
    let kohya = Fixtures.path("lora/kohya.safetensors"), peft = Fixtures.path("lora/peft.safetensors")

    func outputs(_ loras: [LoRA]) throws -> (unet: Tensor, text: Tensor, image: Tensor) {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-sd"), loras: loras)
        let unet = model.unet(reference("unet.sample"), timesteps: reference("unet.timesteps").storage,
                              encoderHiddenStates: reference("unet.context"))
        let text = model.textEncoder([reference("text.ids").storage.map { Int($0) }]).lastHiddenState
        let image = model.sample(prompt: "a red ball on grass", noise: reference("ddim.noise"), steps: 2, guidance: 7.5)
        return (unet, text, image)
    }

    @Test func kohyaAndPEFTLoRAsMergeAsDiffusersFusesThem() throws {
        let base = try outputs([])
        expectClose(base.unet, reference("base.unet"), "UNet without LoRA")
        let one = try outputs([LoRA(argument: "\(kohya):0.7")])
        expectClose(one.unet, reference("kohya.unet"), "UNet with the kohya LoRA at 0.7 (attention, feed-forward, 1×1 and 3×3 convolutions)")
        expectClose(one.text, reference("kohya.text"), "text encoder with the kohya LoRA at 0.7")
        let both = try outputs([LoRA(path: kohya, scale: 0.7), LoRA(argument: peft)])
        expectClose(both.unet, reference("both.unet"), "UNet with kohya at 0.7 and PEFT at 1")
        expectClose(both.text, reference("both.text"), "text encoder with kohya at 0.7 and PEFT at 1")
        expectClose(one.image, reference("kohya.ddim.image"), relative: 2e-4, "2-step sample with the kohya LoRA")
        expectClose(both.image, reference("both.ddim.image"), relative: 2e-4, "2-step sample with both LoRAs")
        #expect(both.unet.maxAbsDifference(one.unet) > 1e-3, "the second LoRA changes the output")
        let zero = try outputs([LoRA(path: kohya, scale: 0)])
        #expect(zero.unet.storage == base.unet.storage, "scale 0 changes nothing")
    }

    @Test func theScaleComesAfterTheLastColon() throws {
        #expect(try LoRA(argument: "\(kohya):0.25").scale == 0.25)
        #expect(try LoRA(argument: "\(kohya):-1").scale == -1)
        let plain = try LoRA(argument: kohya)
        #expect(plain.scale == 1 && plain.path == kohya)
        #expect(throws: InputError.self) { try LoRA(argument: "\(kohya):nan") }
        #expect(throws: InputError.self) { try LoRA(argument: "\(kohya):1e9") }
    }

    func write(_ tensors: [String: Tensor], _ dir: String) throws -> String {
        let path = "\(dir)/\(UUID().uuidString).safetensors"
        try SafetensorsFile.write(tensors, to: path)
        return path
    }

    func loadError(_ lora: String, model: String = Fixtures.path("tiny-sd")) -> String? {
        do { _ = try DiffusionModel(path: model, loras: [LoRA(path: lora, scale: 1)]); return nil }
        catch let e as InputError { return e.description } catch { return "\(error)" }
    }

    @Test func aLoRAThatDoesNotFitTheModelIsAOneLineError() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let elsewhere = try write(["lora_unet_down_blocks_7_attentions_0_proj_in.lora_down.weight": Tensor(zeros: [2, 16]),
                                   "lora_unet_down_blocks_7_attentions_0_proj_in.lora_up.weight": Tensor(zeros: [16, 2])], dir)
        let sdxl = try write(["lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": Tensor(zeros: [2, 16]),
                              "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight": Tensor(zeros: [16, 2])], dir)
        let noUp = try write(["unet.conv_in.lora_A.weight": Tensor(zeros: [2, 4, 3, 3])], dir)
        let nothing = try write(["something.weight": Tensor(zeros: [2])], dir)
        let cases = [(elsewhere, "matches no weight of the model's unet"), (sdxl, "is an SDXL LoRA"), (noUp, "has no 'unet.conv_in.lora_B.weight'"),
                     (nothing, "holds no LoRA factors")]
        for (path, problem) in cases {
            let message = loadError(path)
            #expect(message?.contains(path) == true && message?.contains(problem) == true, "\(problem): \(message ?? "loaded")")
        }
        // The tiny-sd LoRA on the SD 1.x single-file fixture: same names, other widths.
        let wrongWidth = loadError(kohya, model: Fixtures.path("single-file/sd1.safetensors"))
        #expect(wrongWidth?.contains("do not fit its weight") == true, "\(wrongWidth ?? "loaded")")
    }
}
