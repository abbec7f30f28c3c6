import Core
import Foundation

/// Edits one image from a source prompt to a target prompt (SDS or DDS), at the model's working
/// size, and carries the edit back to the image's own size as a difference upsampled along the
/// image's edges (`Tensor.carried(to:lowGuide:)`).
public struct ImageEditor {
    public struct Configuration: Sendable {
        public var settings = EditSettings()
        public var sourcePrompt: String
        public var targetPrompt: String
        /// The working short side in pixels (nil: the model's own size).
        public var workingSize: Int?
        /// Whether the edit estimates where the prompts disagree on the image and edits only there
        /// (`ParticleEditor.masksEditWhereLocal`: an object's mask, a new ground's mask without the
        /// sky and the objects on it, none for a new time of day). On by default: masked, world
        /// edits kept more of their background and came closer to their ideal edits
        /// (docs/notebook/video.md, 2026-12-06).
        public var masksEdit = true

        public init(sourcePrompt: String, targetPrompt: String) {
            (self.sourcePrompt, self.targetPrompt) = (sourcePrompt, targetPrompt)
            settings.guidance = EditSettings.promptEditGuidance
        }
    }

    public let model: DiffusionModel
    public let configuration: Configuration

    public init(model: DiffusionModel, configuration: Configuration) { (self.model, self.configuration) = (model, configuration) }

    /// Edits `image` (named `input` in errors) and writes the result to `output` (PNG), with its
    /// checkpoint beside it while the edit runs.
    public func edit(_ image: RGBImage, input: String, writingTo output: String, run: EditRun = EditRun()) throws -> EditOutcome {
        let c = configuration
        let size = try WorkingSize(width: image.width, height: image.height, shortSide: c.workingSize, model: model, input: input)
        let original = image.workingTensor(width: size.width, height: size.height)
        let editor = try ParticleEditor(model: model, settings: c.settings, source: model.toModelSpace(original),
                                        sourcePrompt: c.sourcePrompt, targetPrompt: c.targetPrompt)
        if c.masksEdit { editor.masksEditWhereLocal(pictures: original) }
        let files = EditOutputFiles(output: output)
        let outcome = try run.drive(editor, total: c.settings.steps, label: "editing", checkpoint: files.checkpoint) { step in
            if run.saves(atStep: step) { try editor.particleGrid().writePNG(to: EditRun.intermediatePath(of: output, step: step)) }
        }
        guard outcome == .finished else { return outcome }
        let edited = model.toImages(editor.particles).clamped(to: -1...1)
        let change: Tensor = (edited - original).item(0)
        try image.applying(difference: change.carried(to: image, lowGuide: original.item(0))).writePNG(to: output)
        files.removeCheckpoints()
        return .finished
    }
}
