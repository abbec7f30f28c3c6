import CSD
import Core
import Foundation

/// Instruct-NeRF2NeRF's recipe (Haque et al. 2023), with DDS edits in place of InstructPix2Pix:
/// the field keeps fitting its training images, and every `replaceEvery` steps some of those
/// images (`viewsPerStep` at random) are replaced by edits of the field's current renders of
/// them: `replaceEvery` DDS steps from the render towards the target, against the original
/// image. With `dataset-update-csd` the views of a replacement are edited jointly by CSD, as
/// the CSD paper does. Each step costs the same number of scores as a step of `NeRFEditor`.
///
/// For a latent model the replacement edits run on the views' latents and are decoded back into
/// images; the field only ever sees images.
public final class NeRFDatasetUpdate {
    public let model: DiffusionModel
    public let settings: NeRFEditSettings
    public let cameras: [NeRFCamera]
    /// The original images at the working size, in the model's space, [V, C, h, w].
    let originals: Tensor
    let trainer: RadianceFieldTrainer
    public var field: GridRadianceField { trainer.field }
    public private(set) var step = 0
    var rng: RandomGenerator
    let sourcePrompt: String, targetPrompt: String

    /// `images` are the training images of `cameras`, at the cameras' (working) size.
    public init(model: DiffusionModel, field: GridRadianceField, cameras: [NeRFCamera], images: [RGBImage], settings: NeRFEditSettings,
                sourcePrompt: String, targetPrompt: String) throws {
        let settings = try settings.validated()
        guard settings.method.updatesDataset else { throw InputError("--method", "\(settings.method.rawValue) is run by NeRFEditor") }
        guard !cameras.isEmpty, images.count == cameras.count,
              zip(images, cameras).allSatisfy({ $0.width == $1.width && $0.height == $1.height && $1.width == cameras[0].width && $1.height == cameras[0].height }),
              cameras[0].width % model.pixelsPerCell == 0, cameras[0].height % model.pixelsPerCell == 0 else {
            throw InputError("nerf edit", "the views must share one size, a multiple of \(model.pixelsPerCell) pixels, with an image each")
        }
        _ = try CoupledScores(model: model, settings: settings.edit, sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
        (self.model, self.settings, self.cameras, self.sourcePrompt, self.targetPrompt) = (model, settings, cameras, sourcePrompt, targetPrompt)
        originals = Tensor.concatenateBatch(images.map { model.toModelSpace($0.tensor.reshaped([1, 3, $0.height, $0.width])) })
        trainer = RadianceFieldTrainer(continuing: field.copy(), views: zip(images, cameras).map { NeRFView(image: $0, camera: $1) },
                                       totalSteps: settings.edit.steps, raysPerStep: settings.raysPerStep, learningRate: settings.fieldLearningRate,
                                       seed: settings.edit.seed &+ 1)
        rng = RandomGenerator(seed: settings.edit.seed)
    }

    /// One field step, after a replacement when one is due.
    public func advance() {
        if step % settings.replaceEvery == 0 { replace() }
        trainer.advance()
        step += 1
    }

    /// Replaces some training images by edits of the field's renders of them.
    func replace() {
        var all = Array(cameras.indices)
        let k = settings.viewsPerStep > 0 ? min(settings.viewsPerStep, all.count) : all.count
        for i in 0..<k { all.swapAt(i, i + Int(rng.next() % UInt64(all.count - i))) }
        let chosen = Array(all.prefix(k)).sorted()
        var edit = settings.edit
        edit.steps = settings.replaceEvery
        edit.seed = rng.next()
        // The run's decay, applied replacement by replacement.
        edit.learningRate = settings.edit.learningRate(atStep: step)
        edit.decayEvery = 0
        let renders = trainer.field.renderViews(chosen.map { cameras[$0] }).asModelImages()
        do {
            let editor = try ParticleEditor(model: model, settings: edit, source: originals.rows(chosen), sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
            editor.setParticles(model.toModelSpace(renders))
            while editor.step < edit.steps { editor.advance() }
            let images = model.toImages(editor.particles).clamped(to: -1...1)
            for (row, view) in chosen.enumerated() { trainer.views[view].image = RGBImage(tensor: images.item(row)) }
        } catch {
            preconditionFailure("NeRFDatasetUpdate: settings checked at init failed: \(error)")
        }
    }

    // MARK: Checkpoints

    /// The trainer's checkpoint with the current training images, this edit's random state and settings.
    public func saveCheckpoint(to path: String) throws {
        let images = trainer.views.flatMap(\.image.pixels).map(Float.init)
        try trainer.saveCheckpoint(to: path, metadata: ["edit_rng": "\(rng.state)", "settings": try settingsText()],
                                   tensors: ["images": Tensor(shape: [images.count], storage: images)])
    }

    public func loadCheckpoint(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        let pixels = trainer.views.map { $0.image.pixels.count }
        guard let r = file.metadata["edit_rng"].flatMap(UInt64.init), file.metadata["settings"] == (try settingsText()) else {
            throw InputError(path, "not a checkpoint of this NeRF edit (other settings?); rerun without --resume or with the same options")
        }
        let images = try file.tensor("images")
        guard images.count == pixels.reduce(0, +) else { throw InputError(path, "checkpoint holds images of another size") }
        try trainer.loadCheckpoint(from: path)
        var offset = 0
        for i in trainer.views.indices {
            trainer.views[i].image.pixels = images.storage[offset..<(offset + pixels[i])].map { UInt8(max(0, min(255, $0))) }
            offset += pixels[i]
        }
        // One field step per edit step.
        (step, rng) = (trainer.step, RandomGenerator(state: r))
    }

    func settingsText() throws -> String { String(decoding: try EditSettings.encoder.encode(settings), as: UTF8.self) }
}
