import Core
import Foundation

/// The one step every editor shares: particles in the model's space and their unedited sources
/// in, one update direction per particle out. The direction is the negative of each particle's
/// SDS, DDS or CDS gradient, or CSD-Edit's instructed one (`ScoreDistillation`), and under `csd`
/// those scores coupled across the
/// particles by the Stein variational update (`SteinVariationalUpdate`, Kim et al. 2023, eq. 7).
///
/// What a domain does with the directions is its own: video frames take them as they are,
/// panorama windows are scatter-averaged into the panorama, NeRF views are pulled back through
/// the renderer into the field (`ParticleDomain`).
public struct CoupledScores {
    public let model: DiffusionModel
    public let settings: EditSettings
    public let distillation: ScoreDistillation
    public let stein: SteinVariationalUpdate
    /// CDS's contrastive term added to every DDS score (`cds`, or `csd` with `settings.contrastive`); nil: none.
    public let contrastive: ContrastiveDenoisingScore?
    let target: DiffusionModel.Conditioning, sourcePrompt: DiffusionModel.Conditioning, unconditional: DiffusionModel.Conditioning

    /// Checks `settings` against `model` and encodes the prompts once.
    public init(model: DiffusionModel, settings: EditSettings, sourcePrompt: String, targetPrompt: String) throws {
        guard settings.minTimestep >= 1, settings.maxTimestep < model.schedule.alphasCumprod.count, settings.minTimestep <= settings.maxTimestep else {
            throw InputError("--t-range", "timesteps must lie within 1...\(model.schedule.alphasCumprod.count - 1)")
        }
        guard let weighting = ScoreDistillation.Weighting(rawValue: settings.weighting) else {
            throw InputError("--weighting", "'\(settings.weighting)' is not uniform, sds or fantasia3d")
        }
        guard let normalization = SteinVariationalUpdate.Normalization(rawValue: settings.normalization) else {
            throw InputError("--normalization", "'\(settings.normalization)' is not particleCount or kernelRowSum")
        }
        try model.require(instructionModel: settings.instructed != nil, option: settings.instructed != nil ? "--instruction" : "--source and --target")
        if let instructed = settings.instructed {
            guard settings.method == .dds || settings.method == .csd else {
                throw InputError("--instruction", "edits by --method dds or csd (CSD-Edit), not \(settings.method.rawValue)")
            }
            guard settings.contrastive == nil else { throw InputError("--instruction", "does not take the contrastive --cut-* options") }
            guard instructed.imageGuidance >= 0, instructed.imageGuidance.isFinite else {
                throw InputError("--image-guidance", "must be a finite number ≥ 0")
            }
        }
        contrastive = try Self.contrastiveTerm(settings, on: model.unet)
        guard (settings.precision ?? .fp32).isAvailable else {
            throw InputError("--precision", "this CPU has no bf16 kernels (they need AVX512-BF16); use fp32")
        }
        self.model = model
        self.settings = settings
        distillation = ScoreDistillation(model: model, guidance: settings.guidance, weighting: weighting, timesteps: settings.timesteps)
        stein = SteinVariationalUpdate(normalization: normalization, bandwidthScale: settings.bandwidthScale)
        let c = ComputePrecision.with(settings.precision ?? .fp32) { model.encodeEach(prompts: [targetPrompt, sourcePrompt, ""]) }
        (target, self.sourcePrompt, unconditional) = (c[0], c[1], c[2])
    }

    /// The contrastive term `settings` ask for, checked against `unet`: `settings.contrastive`
    /// (CDS's defaults under `cds` when unset); nil under `sds`, `dds` and plain `csd`, and at weight 0.
    static func contrastiveTerm(_ settings: EditSettings, on unet: UNet2DConditionModel) throws -> ContrastiveDenoisingScore? {
        let options: EditSettings.Contrastive
        switch (settings.method, settings.contrastive) {
        case (.cds, let given): options = given ?? EditSettings.Contrastive()
        case (.csd, let given?): options = given
        case (.csd, nil): return nil
        case (.sds, nil), (.dds, nil): return nil
        case (.sds, _?), (.dds, _?): throw InputError("--cut-weight", "the contrastive term needs --method cds or csd")
        }
        guard options.weight >= 0, options.weight.isFinite else { throw InputError("--cut-weight", "must be a finite number ≥ 0") }
        // The loss holds a patches × patches matrix per layer: 4096 keeps it within 64 MB.
        guard (1...4096).contains(options.patches) else { throw InputError("--cut-patches", "must be between 1 and 4096") }
        guard options.temperature > 0, options.temperature.isFinite else { throw InputError("--cut-temperature", "must be a positive number") }
        let term = options.score
        let available = unet.upBlockSelfAttentions.map(\.name)
        guard !available.isEmpty else { throw InputError("--method", "\(settings.method.rawValue) needs self-attention in the UNet's up-blocks, and this model has none") }
        guard term.resolvedLayers(on: unet) != nil else {
            let unknown = options.layers.first { !available.contains($0) } ?? ""
            throw InputError("--cut-layers", "'\(unknown)' is not a self-attention layer of the UNet's up-blocks (\(available.first!) … \(available.last!))")
        }
        // At weight 0 the term is left out altogether, so the edit is DDS's to the bit.
        return options.weight == 0 ? nil : term
    }

    /// The scores (directions to ascend, the negative gradients) of particles `x` against their
    /// `sources` [N, C, h, w] at timestep `t` with `noise`, `settings.batchLimit` particles per
    /// model call. Under `sds` the sources are not used. With the contrastive term (unless
    /// `contrastiveTerm` is false), one number is drawn from `rng` to seed the patch locations,
    /// and the term is also given apart (`ParticleScores.own`); otherwise `rng` is untouched.
    /// The model runs in `settings.precision`.
    public func scores(_ x: Tensor, sources s: Tensor, timestep t: Int, noise: Tensor, rng: inout RandomGenerator,
                       contrastiveTerm: Bool = true) -> ParticleScores {
        ComputePrecision.with(settings.precision ?? .fp32) {
            uncheckedScores(x, sources: s, timestep: t, noise: noise, rng: &rng, contrastiveTerm: contrastiveTerm)
        }
    }

    private func uncheckedScores(_ x: Tensor, sources s: Tensor, timestep t: Int, noise: Tensor, rng: inout RandomGenerator,
                                 contrastiveTerm: Bool) -> ParticleScores {
        let contrastive = contrastiveTerm ? self.contrastive : nil
        var locations = RandomGenerator(seed: contrastive == nil ? 0 : rng.next())
        var (parts, ownParts) = ([Tensor](), [Tensor]())
        var start = 0
        while start < x.shape[0] {
            let chunk = Array(start..<min(x.shape[0], start + max(1, settings.batchLimit)))
            let (xc, e) = (x.rows(chunk), noise.rows(chunk))
            if let instructed = settings.instructed {
                let sc = s.rows(chunk)
                parts.append(distillation.instructed(xc, source: sc, image: model.imageConditioning(modelSpace: sc), instruction: target,
                                                     baseline: sourcePrompt, unconditional: unconditional,
                                                     imageGuidance: instructed.imageGuidance, timestep: t, noise: e))
            } else if settings.method == .sds {
                parts.append(distillation.sds(xc, prompt: target, unconditional: unconditional, timestep: t, noise: e))
            } else if let contrastive {
                let cds = distillation.cds(xc, source: s.rows(chunk), target: target, sourcePrompt: sourcePrompt, unconditional: unconditional,
                                           timestep: t, noise: e, contrastive: contrastive, rng: &locations)
                parts.append(cds.gradient)
                ownParts.append(cds.contrastiveGradient)
            } else {
                parts.append(distillation.dds(xc, source: s.rows(chunk), target: target, sourcePrompt: sourcePrompt,
                                              unconditional: unconditional, timestep: t, noise: e))
            }
            start += chunk.count
        }
        return ParticleScores(total: Tensor.concatenateBatch(parts).scaled(by: -1),
                              own: ownParts.isEmpty ? nil : Tensor.concatenateBatch(ownParts).scaled(by: -1))
    }

    /// `scores` coupled across the particles `x` by the Stein update when the method is `csd`
    /// (the kernel on the particles noised with `noise` at `t`, or on the particles themselves,
    /// as `settings.kernelInput` says), each particle's own part (`ParticleScores.own`) added
    /// after the coupling; the whole scores as they are otherwise. Also returns the Stein step's
    /// repulsion ratio and bandwidth (0 when uncoupled).
    public func couple(_ scores: ParticleScores, particles x: Tensor, timestep t: Int, noise: Tensor) -> (directions: Tensor, repulsionRatio: Float, bandwidth: Float) {
        guard isCoupling(particles: x.shape[0]) else { return (scores.total, 0, 0) }
        let n = x.shape[0]
        let inputs = settings.kernelInput == .noisy ? model.schedule.addNoise(x, noise: noise, timestep: t) : x
        let shared = scores.own.map { scores.total - $0 } ?? scores.total
        let result = stein.step(kernelInputs: inputs.reshaped([n, inputs.count / n]), scores: shared.reshaped([n, shared.count / n]))
        let update = result.update.reshaped(x.shape)
        return (scores.own.map { update + $0 } ?? update, result.repulsionRatio, result.bandwidth)
    }

    /// Whether `couple` mixes the scores of `count` particles (CSD with more than one).
    public func isCoupling(particles count: Int) -> Bool { settings.method == .csd && count > 1 }

    /// One direction per particle: `scores` then `couple`, with `t` and the noise drawn from
    /// `rng` (the timestep first, then the noise, one normal per element of `x`, then the patch
    /// locations' seed under the contrastive term).
    /// Also returns the scores before coupling and the coupling's repulsion ratio and bandwidth,
    /// for `EditStepStatistics`.
    public func directions(_ x: Tensor, sources: Tensor, rng: inout RandomGenerator)
        -> (directions: Tensor, scores: Tensor, repulsionRatio: Float, bandwidth: Float) {
        let t = distillation.drawTimestep(&rng)
        let noise = rng.normal(x.shape)
        let scored = scores(x, sources: sources, timestep: t, noise: noise, rng: &rng)
        let coupled = couple(scored, particles: x, timestep: t, noise: noise)
        return (coupled.directions, scored.total, coupled.repulsionRatio, coupled.bandwidth)
    }
}

/// A thing edited through particles: it makes the particles of a step (frames, windows, rendered
/// views) in the model's space with their sources, and carries one update per particle back into
/// its own parameters. `CoupledScores` sits between the two.
public protocol ParticleDomain: AnyObject {
    /// The particles this step edits and their unedited sources, both [N, C, h, w].
    func particles(rng: inout RandomGenerator) -> (particles: Tensor, sources: Tensor)
    /// Moves the domain's parameters along `directions` (one per particle made by the last
    /// `particles(rng:)`, in its order) with step size `learningRate`.
    func pullBack(_ directions: Tensor, learningRate: Float)
}

/// An editor that advances one step at a time and saves and restores its state, so a command
/// can draw progress, write checkpoints and resume.
public protocol ResumableEdit: AnyObject {
    var step: Int { get }
    func advance()
    func saveCheckpoint(to path: String) throws
    func loadCheckpoint(from path: String) throws
    /// What the last step did, for reports (nil where the editor does not measure it).
    var lastStatistics: EditStepStatistics? { get }
}

extension ResumableEdit {
    public var lastStatistics: EditStepStatistics? { nil }
}

extension ParticleEditor: ResumableEdit {}
