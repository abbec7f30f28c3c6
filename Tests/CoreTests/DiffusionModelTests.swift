import Testing
@testable import Core

@Suite struct DiffusionModelTests {
    @Test func tenStepDDIMSampleMatchesDiffusers() throws {
        let model = try DiffusionModel(folder: Fixtures.path("tiny-sd"))
        let scheduler = DDIMScheduler(schedule: model.schedule, steps: 10)
        #expect(scheduler.timesteps.map(Float.init) == Fixtures.reference("ddim.timesteps").storage)
        let prompt = Fixtures.references.metadata["ddim.prompt"]!
        let image = model.sample(prompt: prompt, noise: Fixtures.reference("ddim.noise"), steps: 10, guidance: 7.5)
        expectClose(image, Fixtures.reference("ddim.image"), "decoded DDIM sample")
    }

    @Test func trailingVPredictionDDIMMatchesDiffusers() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("unet-pixel"))
        let configuration = try ConfigFile.decode(SchedulerConfiguration.self, from: Fixtures.path("scheduler-trailing-v/scheduler_config.json"))
        #expect(configuration.predictionType == "v_prediction" && configuration.timestepSpacing == "trailing")
        let scheduler = DDIMScheduler(schedule: NoiseSchedule(configuration), steps: 6)
        #expect(scheduler.timesteps.map(Float.init) == Fixtures.reference("trailing.timesteps").storage)
        let context = Fixtures.reference("unet_pixel.context").item(0).reshaped([1, 5, 16])
        let pooled = Fixtures.reference("unet_pixel.class_labels").item(0).reshaped([1, 16])
        var x = Fixtures.reference("trailing.noise")
        for t in scheduler.timesteps {
            let v = unet(x, timesteps: [Float(t)], encoderHiddenStates: context, classLabels: pooled)
            x = scheduler.step(modelOutput: v, timestep: t, sample: x)
        }
        expectClose(x, Fixtures.reference("trailing.out"), "trailing v-prediction sample")
    }
}
