import CSD
import Core

extension PanoramaEditor {
    /// What a panorama edit does, with its defaults in one place.
    public struct Configuration: Sendable {
        /// The step the learning rate defaults to here: the panorama benchmark's (`csd eval
        /// panorama --lr`), twice the other edits', since with the kernel's row-sum normalisation a
        /// CSD step over windows is about a fifth of a DDS step.
        public static let defaultLearningRate: Float = 0.1

        /// The score, coupling and optimiser (`method` csd couples the windows, dds averages them,
        /// MultiDiffusion-style). Its timesteps apply only when `timesteps` is set.
        public var settings: EditSettings
        public var sourcePrompt: String
        public var targetPrompt: String
        /// Window side and stride in working-size pixels (nil: the working short side, and a
        /// quarter of the window).
        public var window: Int?, stride: Int?
        /// Windows per step, drawn at random (0: all).
        public var batch = 0
        /// Each step takes a tiling of windows side by side, shifted by one stride each step.
        public var tiling = false
        /// The panorama is 360°: windows wrap from the right edge into the left.
        public var wrap = false
        /// Estimate where the prompts disagree on the source and edit only there, which keeps
        /// objects a window's prompt names out of windows that lack them.
        public var masksEdit = true
        /// The noise levels the score is taken at (nil: by how much of the panorama the mask covers).
        public var timesteps: ClosedRange<Int>?
        /// The working short side in pixels (nil: the model's own size).
        public var workingSize: Int?

        public init(sourcePrompt: String, targetPrompt: String) {
            (self.sourcePrompt, self.targetPrompt) = (sourcePrompt, targetPrompt)
            settings = EditSettings()
            settings.method = .csd
            settings.learningRate = Self.defaultLearningRate
            settings.normalization = SteinVariationalUpdate.Normalization.kernelRowSum.rawValue
            // 4 measured the lowest seam error and tint spread on world panoramas.
            settings.bandwidthScale = 4
        }

        /// The noise levels the timesteps default to, given the share of the panorama the edit
        /// mask covers (1 without a mask). Where the edit covers most of it (a new ground), scores
        /// taken over 50–950 drew the caption's objects into every window once its ground had
        /// changed, and the coupling copied them from window to window; at 50–250 there is too
        /// little noise for the model to invent an object. Where the mask holds the edit to a few
        /// objects, 50–950 measured the stronger and more even recolour (docs/notebook/panoramas.md).
        public static func defaultTimesteps(maskCoverage: Double) -> ClosedRange<Int> {
            maskCoverage > 0.5 ? 50...250 : EditSettings().timesteps
        }
    }
}
