import CSD
import Core
import Foundation

/// Edits a radiance field towards a target prompt through its rendered views (`csd`, `dds`):
/// each step renders some of the cameras' views at the model's working size, takes their
/// scores in the model's space, couples them across the views (`CoupledScores`), and pulls the
/// updates back through the renderer into the field's grid and environment, moved by Adam.
///
/// Views reach the model's space as they are for a pixel model (colours mapped to [−1, 1]) and
/// through the VAE's encoder for a latent model; a latent model's updates come back through the
/// encoder's backward (`GradientTape`). The sources DDS compares against are the unedited
/// field's renders of the same cameras.
public final class NeRFEditor: ParticleDomain {
    public let model: DiffusionModel
    public let settings: NeRFEditSettings
    public let scoring: CoupledScores
    public private(set) var field: GridRadianceField
    /// The cameras views are rendered from, at the model's working size.
    public let cameras: [NeRFCamera]
    /// The unedited field's views of every camera in the model's space, [V, C, h, w].
    let sources: Tensor
    public private(set) var step = 0
    var rng: RandomGenerator
    /// The views the last `particles(rng:)` rendered, and (latent models) the encoder's tape.
    var chosen: [Int] = []
    var encoding: (tape: GradientTape, images: Variable, latents: Variable)?
    let gradient: ViewGradient
    /// Adam's moments of the grid values and of the environment.
    var moments: (first: [Float], second: [Float]), environmentMoments: (first: [Float], second: [Float])

    public init(model: DiffusionModel, field: GridRadianceField, cameras: [NeRFCamera], settings: NeRFEditSettings,
                sourcePrompt: String, targetPrompt: String) throws {
        let settings = try settings.validated()
        guard !settings.method.updatesDataset else { throw InputError("--method", "\(settings.method.rawValue) is run by NeRFDatasetUpdate") }
        guard !cameras.isEmpty else { throw InputError("nerf edit", "no cameras to render") }
        guard model.modelChannels == (model.vae?.configuration.latentChannels ?? 3) else {
            throw InputError(model.path, "the UNet takes \(model.modelChannels) channels, but views give \(model.vae?.configuration.latentChannels ?? 3)")
        }
        let cell = model.pixelsPerCell
        guard cameras.allSatisfy({ $0.width == cameras[0].width && $0.height == cameras[0].height && $0.width % cell == 0 && $0.height % cell == 0 }) else {
            throw InputError("nerf edit", "the views must share one size, a multiple of \(cell) pixels")
        }
        (self.model, self.settings, self.cameras) = (model, settings, cameras)
        scoring = try CoupledScores(model: model, settings: settings.edit, sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
        self.field = field.copy()
        // A field fitted without the bound may hold colour logits no edit can move in time.
        self.field.boundColorLogits()
        // Density may grow where the occupancy grid says space is empty: march all of it.
        if settings.editsGeometry { self.field.occupancy = nil }
        let images = self.field.renderViews(cameras).asModelImages()
        sources = Tensor.concatenateBatch((0..<cameras.count).map { model.toModelSpace(images.rows([$0])) })
        rng = RandomGenerator(seed: settings.edit.seed)
        gradient = ViewGradient(field: field)
        let zeros = [Float](repeating: 0, count: field.values.count), environmentZeros = [Float](repeating: 0, count: field.environment.count)
        (moments, environmentMoments) = ((zeros, zeros), (environmentZeros, environmentZeros))
    }

    /// The views this step takes: `viewsPerStep` of them at random (in order), or all.
    func chooseViews(_ rng: inout RandomGenerator) -> [Int] {
        var all = Array(cameras.indices)
        let k = settings.viewsPerStep
        guard k > 0 && k < all.count else { return all }
        for i in 0..<k { all.swapAt(i, i + Int(rng.next() % UInt64(all.count - i))) }
        return Array(all.prefix(k)).sorted()
    }

    public func particles(rng: inout RandomGenerator) -> (particles: Tensor, sources: Tensor) {
        chosen = chooseViews(&rng)
        let images = field.renderViews(chosen.map { cameras[$0] }).asModelImages()
        encoding = nil
        guard let vae = model.vae else { return (images, sources.rows(chosen)) }
        let tape = GradientTape()
        let input = tape.watch(images)
        let latents = vae.encode(input)
        encoding = (tape, input, latents)
        return (latents.value, sources.rows(chosen))
    }

    public func pullBack(_ directions: Tensor, learningRate: Float) {
        // The loss whose descent moves the views along the directions: −⟨directions, views⟩.
        var imageGradient = directions.scaled(by: -1)
        if let encoding { imageGradient = encoding.tape.gradients(of: encoding.latents, seed: imageGradient)[encoding.images] }
        encoding = nil
        // Images are 2·colour − 1.
        let g = gradient.compute(field: field, cameras: chosen.map { cameras[$0] }, colourGradient: imageGradient.scaled(by: 2))
        adam(&field.values, gradient: g.values, moments: &moments, learningRate: learningRate, densityToo: settings.editsGeometry)
        adam(&field.environment, gradient: g.environment, moments: &environmentMoments, learningRate: learningRate, densityToo: true,
             everyValueIsColor: true)
    }

    /// Adam (β 0.9/0.99, ε 1e-8, bias-corrected at this step) on `values`; with `densityToo`
    /// false every fourth value (the density logits of the grid's points) stays. Colour logits
    /// (every value but the density ones, or with `everyValueIsColor` all) stay within
    /// ±`GridRadianceField.colorLogitBound`.
    func adam(_ values: inout [Float], gradient: ArraySlice<Float>, moments: inout (first: [Float], second: [Float]), learningRate lr: Float, densityToo: Bool,
              everyValueIsColor: Bool = false) {
        let (b1, b2): (Float, Float) = (0.9, 0.99)
        let k = Float(step + 1)
        let (c1, c2) = (1 - Foundation.pow(b1, k), 1 - Foundation.pow(b2, k))
        values.withUnsafeMutableBufferPointer { v in
            moments.first.withUnsafeMutableBufferPointer { m in
                moments.second.withUnsafeMutableBufferPointer { s in
                    gradient.withUnsafeBufferPointer { g in
                        parallelChunks(v.count, minimumChunk: 1 << 16) { range in
                            for i in range where densityToo || i & 3 != 0 {
                                let grad = g[i]
                                m[i] = b1 * m[i] + (1 - b1) * grad
                                s[i] = b2 * s[i] + (1 - b2) * grad * grad
                                v[i] -= lr * (m[i] / c1) / ((s[i] / c2).squareRoot() + 1e-8)
                                if everyValueIsColor || i & 3 != 0 { v[i] = GridRadianceField.boundedColorLogit(v[i]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One step: render, score, couple, pull back.
    public func advance() {
        let (x, s) = particles(rng: &rng)
        let d = scoring.directions(x, sources: s, rng: &rng)
        pullBack(d.directions, learningRate: settings.edit.learningRate(atStep: step))
        step += 1
        lastStatistics = .measured(scores: d.scores, particles: x, sources: s, coupled: scoring.isCoupling(particles: x.shape[0]),
                                   bandwidth: d.bandwidth, repulsion: d.repulsionRatio)
    }

    /// What the last step did (the change is that of the views it rendered, before its update).
    public private(set) var lastStatistics: EditStepStatistics?

    // MARK: Checkpoints

    /// Saves the field, Adam's moments, the step and the random state (atomically).
    public func saveCheckpoint(to path: String) throws {
        let (n, e) = (field.values.count, field.environment.count)
        try SafetensorsFile.write(["values": Tensor(shape: [n], storage: field.values), "environment": Tensor(shape: [e], storage: field.environment),
                                   "adam_m": Tensor(shape: [n], storage: moments.first), "adam_v": Tensor(shape: [n], storage: moments.second),
                                   "environment_adam_m": Tensor(shape: [e], storage: environmentMoments.first),
                                   "environment_adam_v": Tensor(shape: [e], storage: environmentMoments.second)],
                                  metadata: ["step": "\(step)", "rng": "\(rng.state)",
                                             "settings": String(decoding: try EditSettings.encoder.encode(settings), as: UTF8.self)], to: path)
    }

    /// Restores a checkpoint written by the same edit (same field, cameras and settings).
    public func loadCheckpoint(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        guard let s = file.metadata["step"].flatMap(Int.init), let r = file.metadata["rng"].flatMap(UInt64.init),
              file.metadata["settings"] == String(decoding: try EditSettings.encoder.encode(settings), as: UTF8.self) else {
            throw InputError(path, "not a checkpoint of this NeRF edit (other settings?); rerun without --resume or with the same options")
        }
        let (n, e) = (field.values.count, field.environment.count)
        let tensors = try ["values", "environment", "adam_m", "adam_v", "environment_adam_m", "environment_adam_v"].map { try file.tensor($0) }
        guard tensors.map(\.count) == [n, e, n, n, e, e] else { throw InputError(path, "checkpoint holds a field of another size") }
        field.values = tensors[0].storage
        field.environment = tensors[1].storage
        moments = (tensors[2].storage, tensors[3].storage)
        environmentMoments = (tensors[4].storage, tensors[5].storage)
        (step, rng) = (s, RandomGenerator(state: r))
    }
}

extension Tensor {
    /// Colours in [0, 1] as images in [−1, 1].
    func asModelImages() -> Tensor { Tensor(shape: shape, storage: storage.map { 2 * $0 - 1 }) }
}
