import Core
import Foundation

/// Edits particles (frames, windows, views) in the model's space towards a target prompt, by SDS,
/// DDS, or DDS coupled across particles with the Stein variational update (CSD).
///
/// Particles marked fixed take part in the kernel but are not moved: a video window uses them to
/// carry frames already edited by the previous window.
public final class ParticleEditor {
    public let model: DiffusionModel
    public let settings: EditSettings
    public let distillation: ScoreDistillation
    public let stein: SteinVariationalUpdate
    let target: DiffusionModel.Conditioning, sourcePrompt: DiffusionModel.Conditioning, unconditional: DiffusionModel.Conditioning
    /// The particles being edited, [N, C, h, w].
    public private(set) var particles: Tensor
    /// The unedited particles DDS compares against.
    public let source: Tensor
    public var fixed: [Bool]
    public private(set) var step = 0
    var rng: RandomGenerator
    /// Adam's moment estimates.
    var firstMoment: Tensor?, secondMoment: Tensor?
    /// Per-step diagnostics of the last step.
    public private(set) var lastRepulsionRatio: Float = 0

    public init(model: DiffusionModel, settings: EditSettings, source: Tensor, sourcePrompt: String, targetPrompt: String) throws {
        guard settings.minTimestep >= 1, settings.maxTimestep < model.schedule.alphasCumprod.count, settings.minTimestep <= settings.maxTimestep else {
            throw InputError("--t-range", "timesteps must lie within 1...\(model.schedule.alphasCumprod.count - 1)")
        }
        guard let weighting = ScoreDistillation.Weighting(rawValue: settings.weighting) else {
            throw InputError("--weighting", "'\(settings.weighting)' is not uniform, sds or fantasia3d")
        }
        guard let normalization = SteinVariationalUpdate.Normalization(rawValue: settings.normalization) else {
            throw InputError("--normalization", "'\(settings.normalization)' is not particleCount or kernelRowSum")
        }
        self.model = model
        self.settings = settings
        distillation = ScoreDistillation(model: model, guidance: settings.guidance, weighting: weighting,
                                         timesteps: settings.minTimestep...settings.maxTimestep)
        stein = SteinVariationalUpdate(normalization: normalization, bandwidthScale: settings.bandwidthScale)
        let c = model.encodeEach(prompts: [targetPrompt, sourcePrompt, ""])
        (target, self.sourcePrompt, unconditional) = (c[0], c[1], c[2])
        self.source = source
        particles = source
        fixed = Array(repeating: false, count: source.shape[0])
        rng = RandomGenerator(seed: settings.seed)
    }

    /// Replaces particles (e.g. frames carried from a previous window, or a resumed state).
    public func setParticles(_ values: Tensor) {
        precondition(values.shape == particles.shape, "setParticles: shape \(values.shape) vs \(particles.shape)")
        particles = values
    }

    /// Gradients (to descend) for every particle at timestep `t` with `noise`, in chunks.
    func gradients(timestep t: Int, noise: Tensor) -> Tensor {
        let n = particles.shape[0]
        var parts = [Tensor]()
        var start = 0
        while start < n {
            let end = min(n, start + max(1, settings.batchLimit))
            let x = Tensor.concatenateBatch((start..<end).map { particles.item($0).reshaped([1] + Array(particles.shape.dropFirst())) })
            let e = Tensor.concatenateBatch((start..<end).map { noise.item($0).reshaped([1] + Array(noise.shape.dropFirst())) })
            if settings.method == .sds {
                parts.append(distillation.sds(x, prompt: target, unconditional: unconditional, timestep: t, noise: e))
            } else {
                let s = Tensor.concatenateBatch((start..<end).map { source.item($0).reshaped([1] + Array(source.shape.dropFirst())) })
                parts.append(distillation.dds(x, source: s, target: target, sourcePrompt: sourcePrompt, unconditional: unconditional,
                                              timestep: t, noise: e))
            }
            start = end
        }
        return Tensor.concatenateBatch(parts)
    }

    /// One optimisation step.
    public func advance() {
        let t = distillation.drawTimestep(&rng)
        let noise = rng.normal(particles.shape)
        let g = gradients(timestep: t, noise: noise)
        let lr = settings.learningRate(atStep: step)
        // The direction to move along (ascent on the log-density): −g, or the Stein update.
        var direction: Tensor
        if settings.method == .csd && particles.shape[0] > 1 {
            let n = particles.shape[0]
            let inputs = settings.kernelInput == .noisy ? model.schedule.addNoise(particles, noise: noise, timestep: t) : particles
            let result = stein.step(kernelInputs: inputs.reshaped([n, inputs.count / n]), scores: g.scaled(by: -1).reshaped([n, g.count / n]))
            lastRepulsionRatio = result.repulsionRatio
            direction = result.update.reshaped(particles.shape)
        } else {
            direction = g.scaled(by: -1)
        }
        var update: Tensor
        switch settings.optimizer {
        case .sgd:
            update = direction.scaled(by: lr)
        case .adam:
            let (b1, b2): (Float, Float) = (0.9, 0.999)
            let m = (firstMoment ?? Tensor(zeros: direction.shape)).linearCombination(b1, direction, 1 - b1)
            var squared = direction
            for i in 0..<squared.count { squared.storage[i] *= squared.storage[i] }
            let v = (secondMoment ?? Tensor(zeros: direction.shape)).linearCombination(b2, squared, 1 - b2)
            (firstMoment, secondMoment) = (m, v)
            let k = Float(step + 1)
            let (c1, c2) = (1 - Foundation.pow(b1, k), 1 - Foundation.pow(b2, k))
            update = Tensor(zeros: direction.shape)
            for i in 0..<update.count { update.storage[i] = lr * (m.storage[i] / c1) / ((v.storage[i] / c2).squareRoot() + 1e-8) }
        }
        let inner = particles.count / particles.shape[0]
        for i in fixed.indices where fixed[i] {
            for k in 0..<inner { update.storage[i * inner + k] = 0 }
        }
        particles.add(update)
        step += 1
    }

    // MARK: Checkpoints

    /// Saves particles, step and random state (atomically).
    public func saveCheckpoint(to path: String) throws {
        var tensors = ["particles": particles]
        if let m = firstMoment, let v = secondMoment { tensors["adam_m"] = m; tensors["adam_v"] = v }
        try SafetensorsFile.write(tensors, metadata: ["step": "\(step)", "rng": "\(rng.state)",
                                                                       "settings": String(decoding: try EditSettings.encoder.encode(settings), as: UTF8.self)],
                                  to: path)
    }

    /// Restores a checkpoint written by the same edit (same settings and input).
    public func loadCheckpoint(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        let saved = try file.tensor("particles")
        guard saved.shape == particles.shape else { throw InputError(path, "checkpoint holds particles \(saved.shape), this edit has \(particles.shape)") }
        guard let stepText = file.metadata["step"], let s = Int(stepText), let rngText = file.metadata["rng"], let r = UInt64(rngText) else {
            throw InputError(path, "not a csd edit checkpoint (no step or rng metadata)")
        }
        if let settingsText = file.metadata["settings"],
           let savedSettings = try? JSONDecoder().decode(EditSettings.self, from: Data(settingsText.utf8)), savedSettings != settings {
            throw InputError(path, "checkpoint was made with other settings; rerun without --resume or with the same options")
        }
        particles = saved
        step = s
        rng = RandomGenerator(state: r)
        if file.entries["adam_m"] != nil {
            firstMoment = try file.tensor("adam_m")
            secondMoment = try file.tensor("adam_v")
        }
    }
}
