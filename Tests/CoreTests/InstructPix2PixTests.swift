import Testing
@testable import Core

/// The instruction-model runtime against diffusers' `StableDiffusionInstructPix2PixPipeline` on a
/// random-weight fixture (Tools/make_ip2p_fixture.py).
@Suite struct InstructPix2PixTests {
    static let references = try! SafetensorsFile(path: Fixtures.path("tiny-ip2p-references.safetensors"))
    static func reference(_ name: String) -> Tensor { try! references.tensor(name) }

    @Test func loadsAsAnInstructionModel() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-ip2p"))
        #expect(model.isInstructionModel && model.modelChannels == 4 && model.unet.configuration.inChannels == 8)
        try model.require(instructionModel: true, option: "--instruction")
        #expect(throws: InputError.self) { try model.require(instructionModel: false, option: "--prompt") }
        let text = try DiffusionModel(folder: Fixtures.path("tiny-sd"))
        #expect(!text.isInstructionModel)
        #expect(throws: InputError.self) { try text.require(instructionModel: true, option: "--instruction") }
    }

    @Test func imageConditioningIsTheUnscaledPosteriorMode() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-ip2p"))
        let image = Self.reference("image")
        expectClose(model.imageConditioning(modelSpace: model.toModelSpace(image)), Self.reference("image_latents"), "image latents")
    }

    @Test func tenStepSampleMatchesDiffusersPipeline() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-ip2p"))
        let m = Self.references.metadata
        let images = model.sample(instruction: m["instruction"]!, images: Self.reference("image"), noise: Self.reference("noise"),
                                  steps: 10, guidance: Float(m["guidance"]!)!, imageGuidance: Float(m["image_guidance"]!)!)
        expectClose(images, Self.reference("decoded"), relative: 2e-4, "decoded InstructPix2Pix sample")
    }

    /// With both scales at 1 the guided prediction is the (instruction, image) branch alone.
    @Test func unitScalesGiveTheConditionalBranch() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-ip2p"))
        var rng = RandomGenerator(seed: 3)
        let (x, image) = (rng.normal([1, 4, 8, 8]), rng.normal([1, 4, 8, 8]))
        let c = model.encodeEach(prompts: ["make the ball blue", ""])
        let guided = model.instructedPrediction(x, timestep: 500, instruction: c[0], empty: c[1], image: image, guidance: 1, imageGuidance: 1)
        let direct = model.unet(Tensor.concatenateChannels(x, image), timesteps: [500], encoderHiddenStates: c[0].hiddenStates)
        expectClose(guided, direct, relative: 1e-5, "branch at unit scales")
    }
}
