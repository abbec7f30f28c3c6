import Foundation

/// `scheduler/scheduler_config.json` (diffusers' `DDIMScheduler` / `DDPMScheduler` keys).
public struct SchedulerConfiguration: Codable, Equatable, Sendable {
    public var numTrainTimesteps: Int
    public var betaStart: Float
    public var betaEnd: Float
    public var betaSchedule: String
    public var predictionType: String
    public var setAlphaToOne: Bool
    public var stepsOffset: Int
    public var timestepSpacing: String
    public var clipSample: Bool
    public var clipSampleRange: Float

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", predictionType = "prediction_type", setAlphaToOne = "set_alpha_to_one"
        case stepsOffset = "steps_offset", timestepSpacing = "timestep_spacing"
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range"
    }

    public init(numTrainTimesteps: Int = 1000, betaStart: Float = 0.0001, betaEnd: Float = 0.02,
                betaSchedule: String = "linear", predictionType: String = "epsilon", setAlphaToOne: Bool = true,
                stepsOffset: Int = 0, timestepSpacing: String = "leading", clipSample: Bool = true, clipSampleRange: Float = 1) {
        (self.numTrainTimesteps, self.betaStart, self.betaEnd, self.betaSchedule) = (numTrainTimesteps, betaStart, betaEnd, betaSchedule)
        (self.predictionType, self.setAlphaToOne, self.stepsOffset, self.timestepSpacing) = (predictionType, setAlphaToOne, stepsOffset, timestepSpacing)
        (self.clipSample, self.clipSampleRange) = (clipSample, clipSampleRange)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(numTrainTimesteps: try c.value(.numTrainTimesteps, or: 1000), betaStart: try c.value(.betaStart, or: 0.0001),
                  betaEnd: try c.value(.betaEnd, or: 0.02), betaSchedule: try c.value(.betaSchedule, or: "linear"),
                  predictionType: try c.value(.predictionType, or: "epsilon"), setAlphaToOne: try c.value(.setAlphaToOne, or: true),
                  stepsOffset: try c.value(.stepsOffset, or: 0), timestepSpacing: try c.value(.timestepSpacing, or: "leading"),
                  clipSample: try c.value(.clipSample, or: true), clipSampleRange: try c.value(.clipSampleRange, or: 1))
    }

    public func validate(path: String) throws {
        guard ["linear", "scaled_linear", "squaredcos_cap_v2"].contains(betaSchedule) else {
            throw InputError(path, "unsupported beta_schedule '\(betaSchedule)' (supported: linear, scaled_linear, squaredcos_cap_v2)")
        }
        guard ["epsilon", "v_prediction", "sample"].contains(predictionType) else {
            throw InputError(path, "unsupported prediction_type '\(predictionType)' (supported: epsilon, v_prediction, sample)")
        }
        guard ["leading", "trailing", "linspace"].contains(timestepSpacing) else {
            throw InputError(path, "unsupported timestep_spacing '\(timestepSpacing)' (supported: leading, trailing, linspace)")
        }
        guard numTrainTimesteps > 1 else { throw InputError(path, "num_train_timesteps must be at least 2") }
        try ConfigFile.require(numTrainTimesteps, in: 2...100_000, "num_train_timesteps", path: path)
        try ConfigFile.require(betaStart, in: 1e-12...0.999, "beta_start", path: path)
        try ConfigFile.require(betaEnd, in: betaStart...0.999, "beta_end", path: path)
        try ConfigFile.require(stepsOffset, in: 0...(numTrainTimesteps - 1), "steps_offset", path: path)
        try ConfigFile.require(clipSampleRange, in: Float.leastNormalMagnitude...Float.greatestFiniteMagnitude, "clip_sample_range", path: path)
    }
}

/// The DDPM forward process: betas, `ᾱ_t`, and `add_noise` (`schedulers/scheduling_ddpm.py`).
public struct NoiseSchedule: Sendable {
    public let configuration: SchedulerConfiguration
    /// `ᾱ_t` for t in 0..<T, computed as torch does (float32 cumulative product).
    public let alphasCumprod: [Float]

    public init(_ c: SchedulerConfiguration) {
        configuration = c
        let t = c.numTrainTimesteps
        var betas = [Float]()
        switch c.betaSchedule {
        case "scaled_linear":
            let (a, b) = (Double(c.betaStart).squareRoot(), Double(c.betaEnd).squareRoot())
            betas = (0..<t).map { i in let v = Float(a + (b - a) * Double(i) / Double(t - 1)); return v * v }
        case "squaredcos_cap_v2":
            func abar(_ x: Double) -> Double { let v = cos((x + 0.008) / 1.008 * Double.pi / 2); return v * v }
            betas = (0..<t).map { i in Float(min(1 - abar(Double(i + 1) / Double(t)) / abar(Double(i) / Double(t)), 0.999)) }
        default:
            betas = (0..<t).map { i in Float(Double(c.betaStart) + (Double(c.betaEnd) - Double(c.betaStart)) * Double(i) / Double(t - 1)) }
        }
        var cumulative = [Float]()
        var product: Float = 1
        for beta in betas { product *= (1 - beta); cumulative.append(product) }
        alphasCumprod = cumulative
    }

    /// `x_t = √ᾱ_t·x + √(1−ᾱ_t)·ε`.
    public func addNoise(_ x: Tensor, noise: Tensor, timestep: Int) -> Tensor {
        let a = alphasCumprod[timestep]
        return x.linearCombination(a.squareRoot(), noise, (1 - a).squareRoot())
    }

    /// Converts a model output at `timestep` into (predicted x₀, predicted ε), per `prediction_type`.
    public func predictions(sample x: Tensor, modelOutput out: Tensor, timestep: Int) -> (x0: Tensor, epsilon: Tensor) {
        let a = alphasCumprod[timestep]
        let (sa, sb) = (a.squareRoot(), (1 - a).squareRoot())
        switch configuration.predictionType {
        case "v_prediction":
            return (x.linearCombination(sa, out, -sb), out.linearCombination(sa, x, sb))
        case "sample":
            return (out, x.linearCombination(1 / sb, out, -sa / sb))
        default:
            return (x.linearCombination(1 / sa, out, -sb / sa), out)
        }
    }
}
