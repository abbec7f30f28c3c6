import CSD
import Core

extension NeRFFieldEdits {
    /// What a field edit does besides its `NeRFEditSettings`.
    public struct Configuration: Sendable {
        public var settings = NeRFEditSettings()
        public var sourcePrompt: String
        public var targetPrompt: String
        /// Every this many cameras one is left out of the edit, as the fit left it out (0: none).
        public var holdOut = 8
        /// The working short side in pixels (nil: the model's own size).
        public var workingSize: Int?

        public init(sourcePrompt: String, targetPrompt: String) { (self.sourcePrompt, self.targetPrompt) = (sourcePrompt, targetPrompt) }
    }

    /// Edits `field`, fitted to `dataset` (named `scene` in errors), through the views of the
    /// dataset's training cameras at the model's working size, and writes the edited field to
    /// `output`, with its checkpoint beside it while the edit runs. `alsoWrite` writes what else
    /// the caller makes of the edited field (an orbit video, a contact sheet) before the
    /// checkpoint goes. Returns the edited field when the edit finished.
    public static func edit(_ field: GridRadianceField, dataset: NeRFDataset, scene: String, model: DiffusionModel,
                            configuration c: Configuration, writingTo output: String,
                            run: EditRun = EditRun(), alsoWrite: (GridRadianceField) throws -> Void = { _ in }) throws -> (outcome: EditOutcome, field: GridRadianceField?) {
        let settings = try c.settings.validated()
        guard c.holdOut >= 0 else { throw InputError("--hold-out", "must be 0 or more") }
        let first = dataset.views[0].camera
        let size = try WorkingSize(width: first.width, height: first.height, shortSide: c.workingSize, model: model, input: scene)
        let heldOut = RadianceFieldFit.heldOut(count: dataset.views.count, every: c.holdOut)
        let training = dataset.views.indices.filter { !heldOut.contains($0) }
        guard !training.isEmpty else { throw InputError("--hold-out", "leaves no view to edit") }
        let cameras = training.map { dataset.views[$0].camera.resized(width: size.width, height: size.height) }
        let files = EditOutputFiles(output: output)
        files.removeStrayTemporaries()
        let editor = try make(model: model, field: field, cameras: cameras, images: training.map { dataset.views[$0].image },
                              settings: settings, sourcePrompt: c.sourcePrompt, targetPrompt: c.targetPrompt)
        let outcome = try run.drive(editor, total: settings.edit.steps, label: "editing \(cameras.count) views (\(settings.method.rawValue))",
                                    checkpoint: files.checkpoint) { step in
            guard run.saves(atStep: step) else { return }
            let shown = Array(cameras.prefix(8))
            try RGBImage.grid(shown.map { editor.field.render(camera: $0) }, columns: shown.count).writePNG(to: EditRun.intermediatePath(of: output, step: step))
        }
        guard outcome == .finished else { return (outcome, nil) }
        try editor.field.write(to: output)
        try alsoWrite(editor.field)
        files.removeCheckpoints()
        return (.finished, editor.field)
    }
}
