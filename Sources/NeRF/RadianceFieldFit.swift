import Core
import Foundation

/// Fitting a radiance field to a dataset, as `csd nerf fit` and `csd eval nerf-field` run it:
/// every `holdOut`th view is left out (from view `holdOut / 2` on) and measured after the fit.
public enum RadianceFieldFit {
    public struct Settings: Sendable {
        /// Grid points per axis at the end; the fit starts at a quarter of it, then a half.
        public var resolution = 128
        public var steps = 1500
        public var raysPerStep = 4096
        /// Adam's learning rate, decaying to a tenth. Mean held-out PSNR on the 8 world scenes of
        /// `csd eval nerf-field` (64²), without the distortion loss: 29.05, 29.62, 30.24 and 30.09 dB
        /// at 0.05, 0.1, 0.2 and 0.3; at 0.2 with the loss below, 30.70 (docs/notebook/nerf.md,
        /// 2026-12-06 (evening)).
        public var learningRate: Float = 0.2
        /// The smoothing prior's weights (`RadianceFieldTrainer`). Colour at 1e-2 was chosen on the
        /// world scenes (held-out PSNR of seed 1's four: 28.45 dB unsmoothed, 29.20 at 5e-3, 29.30 at
        /// 1e-2, 28.88 at 3e-2); smoothing density lowered it at every weight tried (1e-2, 1e-3, 3e-4).
        public var densitySmoothness: Float = 0, colorSmoothness: Float = 1e-2
        /// Weight of the distortion loss (`RadianceFieldTrainer.distortion`): 1e-5 added 0.15 dB at
        /// a learning rate of 0.1 and 0.46 dB at 0.2 on the same 8 scenes.
        public var distortion: Float = 1e-5
        /// Leave every Kth view out (0: none).
        public var holdOut = 8
        public var seed: UInt64 = 0
        /// Overrides of the contraction drawn from the cameras.
        public var center: SIMD3<Float>?, radius: Float?

        public init() {}

        /// The coarse-to-fine resolutions.
        public var resolutions: [Int] { [max(8, resolution / 4), max(8, resolution / 2), resolution] }
    }

    public struct Result {
        public var field: GridRadianceField
        public var seconds: Double
        public var finalLoss: Float
        public var heldOut: [Int]
        /// PSNR of each held-out view's render against it, in `heldOut`'s order.
        public var heldOutPSNR: [Double]
        public var meanHeldOutPSNR: Double? { heldOutPSNR.isEmpty ? nil : heldOutPSNR.reduce(0, +) / Double(heldOutPSNR.count) }
    }

    /// The indices of the held-out views of `count` views.
    public static func heldOut(count: Int, every k: Int) -> [Int] {
        k > 0 ? (0..<count).filter { $0 % k == k / 2 } : []
    }

    /// Where and how often a fit saves its state, and whether it starts from it.
    public struct Checkpointing: Sendable {
        public var path: String
        /// Save every this many steps (0: never, except at `stopAfter`).
        public var every: Int
        public var resume: Bool
        /// Stop after this many steps in total, leaving the checkpoint (as an interruption would).
        public var stopAfter: Int?
        public init(path: String, every: Int, resume: Bool, stopAfter: Int? = nil) { (self.path, self.every, self.resume, self.stopAfter) = (path, every, resume, stopAfter) }
    }

    /// Fits a field to `dataset`'s training views; `progress` gets each finished step. With
    /// `checkpointing`, the fit saves its state as it goes and can start from it; it returns nil
    /// when it stopped at `stopAfter`.
    public static func run(_ dataset: NeRFDataset, settings: Settings, checkpointing: Checkpointing? = nil,
                           progress: (Int, Float) -> Void = { _, _ in }) throws -> Result? {
        let heldOut = heldOut(count: dataset.views.count, every: settings.holdOut)
        let training = dataset.views.indices.filter { !heldOut.contains($0) }.map { dataset.views[$0] }
        guard !training.isEmpty else { throw InputError("--hold-out", "leaves no view to train on") }
        var contraction = SceneContraction(cameraToWorld: training.map(\.camera.cameraToWorld))
        if let center = settings.center { contraction.center = center }
        if let radius = settings.radius { contraction.radius = radius }
        let trainer = RadianceFieldTrainer(views: training, contraction: contraction, resolutions: settings.resolutions,
                                           totalSteps: settings.steps, raysPerStep: settings.raysPerStep, learningRate: settings.learningRate,
                                           densitySmoothness: settings.densitySmoothness, colorSmoothness: settings.colorSmoothness,
                                           seed: settings.seed)
        trainer.distortion = settings.distortion
        // What binds a checkpoint to this fit: its settings and its contraction (the distortion
        // only when on, so that checkpoints from before it existed still resume).
        let identity = ["fit": "\(settings.resolution) \(settings.steps) \(settings.raysPerStep) \(settings.learningRate) \(settings.densitySmoothness) "
                            + "\(settings.colorSmoothness) \(settings.holdOut) \(settings.seed) \(contraction.center) \(contraction.radius) \(training.count)"
                            + (settings.distortion > 0 ? " distortion \(settings.distortion)" : "")]
        if let c = checkpointing, c.resume, FileManager.default.fileExists(atPath: c.path) {
            guard (try? SafetensorsFile(path: c.path))?.metadata["fit"] == identity["fit"] else {
                throw InputError(c.path, "checkpoint of another fit; rerun without --resume or with the same scene and options")
            }
            try trainer.loadCheckpoint(from: c.path)
        }
        let start = Date()
        var loss: Float = 0
        while trainer.step < settings.steps {
            loss = trainer.advance()
            progress(trainer.step, loss)
            if let c = checkpointing {
                if trainer.step == c.stopAfter { try trainer.saveCheckpoint(to: c.path, metadata: identity); return nil }
                if c.every > 0 && trainer.step % c.every == 0 && trainer.step < settings.steps { try trainer.saveCheckpoint(to: c.path, metadata: identity) }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let psnr = heldOut.map { EditMetrics.psnr(trainer.field.render(camera: dataset.views[$0].camera), dataset.views[$0].image) }
        return Result(field: trainer.field, seconds: seconds, finalLoss: loss, heldOut: heldOut, heldOutPSNR: psnr)
    }
}
