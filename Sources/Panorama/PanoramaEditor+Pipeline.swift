import CSD
import Core

extension PanoramaEditor {
    /// Edits the panorama `image` (named `input` in errors) as `configuration` says and writes it to
    /// `output` (PNG), with its checkpoint beside it while the edit runs. A latent model's VAE goes
    /// over a large panorama in overlapping tiles.
    public static func edit(_ image: RGBImage, input: String, model: DiffusionModel, configuration c: Configuration,
                            writingTo output: String, run: EditRun = EditRun()) throws -> EditOutcome {
        var settings = c.settings
        if let timesteps = c.timesteps { settings.timesteps = timesteps }
        // The short side (the height of a wide panorama) goes to the working size.
        let size = try WorkingSize(width: image.width, height: image.height, shortSide: c.workingSize, model: model, input: input)
        let cell = model.pixelsPerCell
        // The window defaults to the working short side, which is the working size rounded to
        // 8 pixels: an odd working size (17) left a 17-pixel window on a 16-pixel-high panorama.
        let windowPixels = c.window ?? min(size.width, size.height)
        let stridePixels = c.stride ?? max(cell, windowPixels / 4)
        guard windowPixels % cell == 0, stridePixels % cell == 0 else { throw InputError("--window", "window and stride must be multiples of \(cell) pixels for this model") }
        guard c.batch >= 0 else { throw InputError("--batch", "must be 0 or more") }
        guard !(c.tiling && c.batch > 0) else { throw InputError("--tiling", "takes its own windows; leave out --batch") }
        guard !c.tiling || windowPixels % stridePixels == 0 else {
            throw InputError("--tiling", "needs a window (\(windowPixels) px) that is a multiple of the stride (\(stridePixels) px)")
        }
        let original = image.workingTensor(width: size.width, height: size.height)
        let source = model.toModelSpace(original, tiled: true)
        let layout = try WindowLayout(width: source.shape[3], height: source.shape[2], window: windowPixels / cell, stride: stridePixels / cell, wrap: c.wrap)
        let choice: WindowChoice = c.tiling ? .shiftedTiling : (c.batch > 0 ? .random(c.batch) : .all)
        func makeEditor() throws -> PanoramaEditor {
            try PanoramaEditor(model: model, source: source, layout: layout, settings: settings, windows: choice,
                               sourcePrompt: c.sourcePrompt, targetPrompt: c.targetPrompt)
        }
        var editor = try makeEditor()
        // Deterministic for the seed, so a resumed edit estimates the same mask again.
        let editMask = c.masksEdit ? editor.estimateEditMask() : nil
        let timesteps = c.timesteps ?? Configuration.defaultTimesteps(maskCoverage: editMask.map(EditMask.coverage) ?? 1)
        if timesteps != settings.timesteps {
            settings.timesteps = timesteps
            editor = try makeEditor()
        }
        editor.editMask = editMask
        let files = EditOutputFiles(output: output)
        let outcome = try run.drive(editor, total: settings.steps, label: "editing \(layout.origins.count) windows", checkpoint: files.checkpoint)
        guard outcome == .finished else { return outcome }
        let edited = model.toImages(editor.panorama, tiled: true).clamped(to: -1...1)
        let change: Tensor = (edited - original).item(0)
        try image.applying(difference: change.carried(to: image, lowGuide: original.item(0))).writePNG(to: output)
        files.removeCheckpoints()
        return .finished
    }
}
