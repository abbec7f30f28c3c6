/// Deterministic DDIM sampling (eta = 0), matching diffusers' `DDIMScheduler`
/// (`schedulers/scheduling_ddim.py`): timestep spacing, `step`, `clip_sample`, final ᾱ.
public struct DDIMScheduler: Sendable {
    public let schedule: NoiseSchedule
    /// The timesteps of this run, from noisiest to cleanest.
    public let timesteps: [Int]
    let stepRatio: Int

    public init(schedule: NoiseSchedule, steps: Int) {
        precondition(steps >= 1 && steps <= schedule.configuration.numTrainTimesteps, "DDIM: steps must be in 1...T")
        self.schedule = schedule
        let c = schedule.configuration, t = c.numTrainTimesteps
        stepRatio = t / steps
        switch c.timestepSpacing {
        case "trailing":
            let ratio = Double(t) / Double(steps)
            // np.round(np.arange(T, 0, -T/steps)) - 1
            timesteps = (0..<steps).map { i in Int((Double(t) - Double(i) * ratio).rounded(.toNearestOrEven)) - 1 }
        case "linspace":
            timesteps = (0..<steps).map { i in
                Int((Double(t - 1) * Double(i) / Double(max(steps - 1, 1))).rounded(.toNearestOrEven))
            }.reversed()
        default:
            timesteps = (0..<steps).map { $0 * (t / steps) + c.stepsOffset }.reversed()
        }
    }

    /// A scheduler for `steps` steps, or the reason the schedule cannot take them: more steps than
    /// `num_train_timesteps`, or a `steps_offset` that pushes a timestep past the schedule's end.
    public static func validated(schedule: NoiseSchedule, steps: Int) throws -> DDIMScheduler {
        let t = schedule.configuration.numTrainTimesteps
        guard (1...t).contains(steps) else { throw InputError("--steps", "\(steps) steps do not fit the model's \(t) training timesteps (num_train_timesteps)") }
        let scheduler = DDIMScheduler(schedule: schedule, steps: steps)
        if let bad = scheduler.timesteps.first(where: { !(0..<t).contains($0) }) {
            throw InputError("--steps", "with \(steps) steps the scheduler's steps_offset \(schedule.configuration.stepsOffset) gives timestep \(bad), outside 0..<\(t)")
        }
        return scheduler
    }

    /// One DDIM step from `sample` at `timestep` given the model output there.
    ///
    /// With `clip_sample`, x̂0 is clamped; ε stays the model's own unless `useClippedModelOutput`
    /// (diffusers' `use_clipped_model_output`), which recomputes it from the clamped x̂0,
    /// `ε = (x_t − √ᾱ_t·x̂0) / √(1 − ᾱ_t)`, so the step stays on the line from x̂0 through x_t.
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, useClippedModelOutput: Bool = false) -> Tensor {
        let c = schedule.configuration
        let previous = timestep - stepRatio
        let alphaPrevious = previous >= 0 ? schedule.alphasCumprod[previous] : (c.setAlphaToOne ? 1 : schedule.alphasCumprod[0])
        let (unclipped, unclippedEpsilon) = schedule.predictions(sample: sample, modelOutput: modelOutput, timestep: timestep)
        let x0 = c.clipSample ? unclipped.clamped(to: -c.clipSampleRange...c.clipSampleRange) : unclipped
        var epsilon = unclippedEpsilon
        if useClippedModelOutput {
            let alpha = schedule.alphasCumprod[timestep]
            epsilon = sample.linearCombination(1 / (1 - alpha).squareRoot(), x0, -(alpha / (1 - alpha)).squareRoot())
        }
        return x0.linearCombination(alphaPrevious.squareRoot(), epsilon, (1 - alphaPrevious).squareRoot())
    }
}
