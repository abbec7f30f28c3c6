import Testing
@testable import Core

@Suite struct UNet2DConditionModelTests {
    @Test func pixelUNetMatchesDiffusers() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("unet-pixel"))
        #expect(unet.configuration.useLinearProjection)
        #expect(unet.configuration.headsPerBlock == [1, 2, 4])
        #expect(unet.configuration.classEmbedType == "projection")
        let out = unet(Fixtures.reference("unet_pixel.sample"),
                       timesteps: Fixtures.reference("unet_pixel.timesteps").storage,
                       encoderHiddenStates: Fixtures.reference("unet_pixel.context"),
                       classLabels: Fixtures.reference("unet_pixel.class_labels"))
        expectClose(out, Fixtures.reference("unet_pixel.out"), "pixel UNet")
    }

    @Test func latentUNetMatchesDiffusers() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("tiny-sd/unet"))
        #expect(!unet.configuration.useLinearProjection)
        let out = unet(Fixtures.reference("unet_latent.sample"),
                       timesteps: Fixtures.reference("unet_latent.timesteps").storage,
                       encoderHiddenStates: Fixtures.reference("unet_latent.context"))
        expectClose(out, Fixtures.reference("unet_latent.out"), "latent UNet")
    }
}
