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

    /// Found by fuzzing: a schedule shorter than --steps, or a steps_offset past its end, trapped.
    @Test func stepsTheScheduleCannotTakeAreErrorsNotTraps() throws {
        var c = try ConfigFile.decode(SchedulerConfiguration.self, from: Fixtures.path("tiny-sd/scheduler/scheduler_config.json"))
        c.numTrainTimesteps = 10
        #expect(throws: InputError.self) { _ = try DDIMScheduler.validated(schedule: NoiseSchedule(c), steps: 50) }
        #expect(try DDIMScheduler.validated(schedule: NoiseSchedule(c), steps: 5).timesteps == [9, 7, 5, 3, 1])
        c.stepsOffset = 9
        try c.validate(path: "scheduler_config.json")
        #expect(throws: InputError.self) { _ = try DDIMScheduler.validated(schedule: NoiseSchedule(c), steps: 5) }
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

    /// `useClippedModelOutput` recomputes ε from the clamped x̂0 (diffusers'
    /// `use_clipped_model_output`); where nothing is clamped it changes nothing. Agreement with
    /// diffusers on a whole guided sample is `BundledPriorTests`.
    @Test func clippedModelOutputRecomputesEpsilonFromTheClampedPrediction() throws {
        let configuration = try ConfigFile.decode(SchedulerConfiguration.self, from: Fixtures.path("scheduler-trailing-v/scheduler_config.json"))
        var epsilonConfiguration = configuration
        epsilonConfiguration.predictionType = "epsilon"
        let schedule = NoiseSchedule(epsilonConfiguration)
        let scheduler = DDIMScheduler(schedule: schedule, steps: 10)
        let t = scheduler.timesteps[3], previous = scheduler.timesteps[4]
        let (a, ap) = (schedule.alphasCumprod[t], schedule.alphasCumprod[previous])
        // x̂0 = (x − √(1−ᾱ)·ε)/√ᾱ: 3.0 overshoots the clip range, 0.2 does not.
        let x = Tensor(shape: [1, 1, 1, 2], storage: [3 * a.squareRoot(), 0.2 * a.squareRoot()])
        let eps = Tensor(shape: [1, 1, 1, 2], storage: [0, 0])
        let kept = scheduler.step(modelOutput: eps, timestep: t, sample: x)
        let recomputed = scheduler.step(modelOutput: eps, timestep: t, sample: x, useClippedModelOutput: true)
        let clampedEpsilon = (x.storage[0] - a.squareRoot() * 1) / (1 - a).squareRoot()
        #expect(abs(kept.storage[0] - ap.squareRoot()) < 1e-5)
        #expect(abs(recomputed.storage[0] - (ap.squareRoot() + (1 - ap).squareRoot() * clampedEpsilon)) < 1e-5)
        #expect(abs(recomputed.storage[1] - kept.storage[1]) < 1e-5 && abs(kept.storage[1] - 0.2 * ap.squareRoot()) < 1e-5)
    }
}
