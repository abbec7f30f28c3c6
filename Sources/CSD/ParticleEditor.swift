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
    /// The scores and their coupling, shared with the other editors.
    public let scoring: CoupledScores
    public var distillation: ScoreDistillation { scoring.distillation }
    /// The particles being edited, [N, C, h, w].
    public private(set) var particles: Tensor
    /// The unedited particles DDS compares against.
    public let source: Tensor
    public var fixed: [Bool]
    /// Per-particle weight [N, 1, h, w] in [0, 1] on every score and update
    /// (`estimateEditMask`), or nil: each score is weighted by √m before the coupling and each
    /// direction by √m after, so an uncoupled particle moves by m·score, while CSD mixes only the
    /// scores of the regions being edited (as `PanoramaEditor.editMask` does for windows).
    public var editMask: Tensor? {
        didSet {
            if let editMask {
                precondition(editMask.shape == [particles.shape[0], 1, particles.shape[2], particles.shape[3]], "editMask: shape \(editMask.shape)")
            }
            maskRoot = editMask.map { m in Tensor(shape: m.shape, storage: m.storage.map { $0.squareRoot() }) }
        }
    }
    /// √editMask, taken once.
    var maskRoot: Tensor?
    public private(set) var step = 0
    var rng: RandomGenerator
    /// The particles the last `particles(rng:)` chose.
    var chosen: [Int] = []
    /// Adam's moment estimates.
    var firstMoment: Tensor?, secondMoment: Tensor?
    /// What the last step did.
    public private(set) var lastStatistics: EditStepStatistics?
    /// Wall time spent in `advance()` and, within it, in the Stein update (kernel and repulsion).
    public private(set) var secondsAdvancing = 0.0, secondsInSteinUpdate = 0.0

    public init(model: DiffusionModel, settings: EditSettings, source: Tensor, sourcePrompt: String, targetPrompt: String) throws {
        scoring = try CoupledScores(model: model, settings: settings, sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
        self.model = model
        self.settings = settings
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

    /// The particles this step updates: all, or `settings.subset` drawn at random (in order).
    func chooseParticles(_ rng: inout RandomGenerator) -> [Int] {
        let n = particles.shape[0]
        var chosen = Array(0..<n)
        guard settings.subset > 0 && settings.subset < n else { return chosen }
        for i in 0..<settings.subset { chosen.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        return Array(chosen.prefix(settings.subset)).sorted()
    }

    /// One optimisation step: the particles (`particles(rng:)`), their scores coupled
    /// (`CoupledScores`), the update (`pullBack`).
    public func advance() {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { secondsAdvancing += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        let (x, sources) = particles(rng: &rng)
        let t = distillation.drawTimestep(&rng)
        // Noise for every particle, chosen or not, so a subset edit draws the same numbers whatever it chose.
        let allNoise = rng.normal(particles.shape)
        let noise = chosen.count == particles.shape[0] ? allNoise : allNoise.rows(chosen)
        let scores = scoring.scores(x, sources: sources, timestep: t, noise: noise, rng: &rng).map(masked)
        let steinStarted = DispatchTime.now().uptimeNanoseconds
        let (direction, repulsion, bandwidth) = scoring.couple(scores, particles: x, timestep: t, noise: noise)
        if settings.method == .csd { secondsInSteinUpdate += Double(DispatchTime.now().uptimeNanoseconds - steinStarted) / 1e9 }
        pullBack(masked(direction), learningRate: settings.learningRate(atStep: step))
        step += 1
        lastStatistics = .measured(scores: scores.total, particles: particles, sources: source, coupled: scoring.isCoupling(particles: x.shape[0]),
                                   bandwidth: bandwidth, repulsion: repulsion)
    }
}

extension ParticleEditor {
    /// `values` [chosen, C, h, w] weighted cell by cell by √editMask of the chosen particles.
    func masked(_ values: Tensor) -> Tensor {
        guard let maskRoot else { return values }
        var out = values
        let (c, plane) = (values.shape[1], values.shape[2] * values.shape[3])
        for (k, row) in chosen.enumerated() {
            for ch in 0..<c {
                for p in 0..<plane { out.storage[(k * c + ch) * plane + p] *= maskRoot.storage[row * plane + p] }
            }
        }
        return out
    }
}

extension ParticleEditor: ParticleDomain {
    /// The particles this step moves (all, or a random subset) and their sources.
    public func particles(rng: inout RandomGenerator) -> (particles: Tensor, sources: Tensor) {
        chosen = chooseParticles(&rng)
        return chosen.count == particles.shape[0] ? (particles, source) : (particles.rows(chosen), source.rows(chosen))
    }

    /// Frames are their own parameters: each chosen particle moves along its direction, by SGD
    /// or Adam; fixed particles stay.
    public func pullBack(_ directions: Tensor, learningRate lr: Float) {
        var direction = directions
        if chosen.count != particles.shape[0] {
            var full = Tensor(zeros: particles.shape)
            full.setRows(chosen, to: direction)
            direction = full
        }
        var update: Tensor
        switch settings.optimizer {
        case .sgd:
            update = direction.scaled(by: lr)
        case .adam:
            // Moments of the particles not chosen this step stay as they are.
            let (b1, b2): (Float, Float) = (0.9, 0.999)
            var m = firstMoment ?? Tensor(zeros: direction.shape), v = secondMoment ?? Tensor(zeros: direction.shape)
            let inner = particles.count / particles.shape[0]
            let k = Float(step + 1)
            let (c1, c2) = (1 - Foundation.pow(b1, k), 1 - Foundation.pow(b2, k))
            update = Tensor(zeros: direction.shape)
            for row in chosen {
                for i in (row * inner)..<((row + 1) * inner) {
                    let d = direction.storage[i]
                    m.storage[i] = b1 * m.storage[i] + (1 - b1) * d
                    v.storage[i] = b2 * v.storage[i] + (1 - b2) * d * d
                    update.storage[i] = lr * (m.storage[i] / c1) / ((v.storage[i] / c2).squareRoot() + 1e-8)
                }
            }
            (firstMoment, secondMoment) = (m, v)
        }
        let inner = particles.count / particles.shape[0]
        for i in fixed.indices where fixed[i] {
            for k in 0..<inner { update.storage[i * inner + k] = 0 }
        }
        particles.add(update)
    }
}

extension ParticleEditor {
    // MARK: Checkpoints

    /// Saves particles, step and random state (atomically).
    public func saveCheckpoint(to path: String) throws { try saveCheckpoint(to: path, metadata: [:]) }

    /// `saveCheckpoint(to:)` with `metadata` added, to bind the checkpoint to what it belongs to.
    public func saveCheckpoint(to path: String, metadata: [String: String]) throws {
        var tensors = ["particles": particles]
        if let m = firstMoment, let v = secondMoment { tensors["adam_m"] = m; tensors["adam_v"] = v }
        let own = ["step": "\(step)", "rng": "\(rng.state)", "settings": String(decoding: try EditSettings.encoder.encode(settings), as: UTF8.self)]
        try SafetensorsFile.write(tensors, metadata: metadata.merging(own) { $1 }, to: path)
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
