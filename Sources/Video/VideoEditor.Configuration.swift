import CSD
import Core

extension VideoEditor {
    /// What a video edit does, with its defaults in one place.
    public struct Configuration: Sendable {
        /// The score, coupling and optimiser (`method` csd couples a window's frames, dds edits
        /// each on its own).
        public var settings: EditSettings
        public var sourcePrompt: String
        public var targetPrompt: String
        /// Frames edited together.
        public var window = 12
        /// Frames a window shares with the previous one (held fixed, as extra particles).
        public var overlap = 2
        /// The working short side in pixels (nil: the model's own size).
        public var workingSize: Int?
        /// Also write a strip of source and edited frames here (PNG).
        public var contactSheet: String?
        /// x264's constant rate factor: 0 (lossless) to 51, lower is better.
        public var crf = 18
        /// x264's speed/size preset.
        public var preset = "fast"
        /// The presets x264 knows.
        public static let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"]

        public init(sourcePrompt: String, targetPrompt: String) {
            (self.sourcePrompt, self.targetPrompt) = (sourcePrompt, targetPrompt)
            settings = EditSettings()
            settings.method = .csd
        }

        /// Checks the window and overlap.
        public func validated() throws -> Configuration {
            guard window >= 1, overlap >= 0, overlap < window else { throw InputError("--overlap", "must be at least 0 and less than --window") }
            guard settings.subset >= 0 else { throw InputError("--subset", "must be 0 or more") }
            guard (0...51).contains(crf) else { throw InputError("--crf", "must be between 0 (lossless) and 51") }
            guard Self.presets.contains(preset) else { throw InputError("--preset", "'\(preset)' is not one of \(Self.presets.joined(separator: ", "))") }
            return self
        }
    }

    /// Where the time of an edit went.
    public struct Report: Sendable {
        /// Windows and frames stepped (those a resume skipped are not counted).
        public var windowSteps = 0, frameSteps = 0
        /// Seconds advancing the editors, and of that in the Stein update.
        public var secondsAdvancing = 0.0, secondsInSteinUpdate = 0.0
    }
}
