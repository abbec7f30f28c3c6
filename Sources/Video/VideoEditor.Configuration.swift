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
        /// Whether each window estimates where the prompts disagree on its frames and edits only
        /// there (`ParticleEditor.masksEditWhereLocal`: an object's mask, a new ground's mask without
        /// the sky and the objects on it, none for a new time of day). On by default: masked, the sample video kept 39.2 dB
        /// outside the ball against 35.7, for 15% more time (docs/notebook/video.md, 2026-12-06).
        public var masksEdit = true
        /// The working short side in pixels (nil: the model's own size).
        public var workingSize: Int?
        /// Also write a strip of source and edited frames here (PNG).
        public var contactSheet: String?
        /// The output's video codec, or nil for the one its container expects
        /// (`VideoCodec.default(forExtension:alpha:)`: ProRes 4444 in MOV and Matroska for a video
        /// with an alpha channel).
        public var codec: VideoCodec?
        /// The codec's constant-quality factor, lower is better (`VideoCodec.crfRange`).
        public var crf = 18
        /// The encoder's speed/size preset, by x264's names (`VideoCodec.presets`).
        public var preset = "fast"

        /// The bandwidth scale of edits by instruction (CSD-Edit, `init(instruction:)`): × 16. On 3
        /// world videos of `csd eval csd-edit` (8 frames, 100 steps, text guidance 5) CSD-Edit's
        /// added flicker was 1.13 at × 1, 0.56 at × 4 and 0.43 at × 16, PSNR to the ideal 30.75,
        /// 30.76 and 30.44 dB; per-frame sampling flickers 0.93 (docs/notebook/instruct.md,
        /// 2026-12-06 (late)). Edits by prompts keep × 4.
        public static let instructionBandwidthScale: Float = 16

        public init(sourcePrompt: String, targetPrompt: String) {
            (self.sourcePrompt, self.targetPrompt) = (sourcePrompt, targetPrompt)
            settings = EditSettings()
            settings.method = .csd
            settings.guidance = EditSettings.promptEditGuidance
            // The median heuristic's bandwidth × 4: on the 8 world videos of `csd eval video` (8
            // frames, 100 steps) CSD's added flicker fell from 1.77 to 1.37 levels, lower on every
            // video, at the same completion (84%) and PSNR to the ideal (docs/notebook/video.md).
            settings.bandwidthScale = 4
        }

        /// An edit by instruction (CSD-Edit's scores from an instruction model, `settings.instructed`):
        /// the baseline's text empty, as in the CSD repository, text guidance
        /// `EditSettings.instructionEditGuidance` and the kernel at `instructionBandwidthScale`.
        public init(instruction: String, imageGuidance: Float = EditSettings.Instructed().imageGuidance) {
            self.init(sourcePrompt: "", targetPrompt: instruction)
            settings.instructed = EditSettings.Instructed(imageGuidance: imageGuidance)
            settings.guidance = EditSettings.instructionEditGuidance
            settings.bandwidthScale = Self.instructionBandwidthScale
        }

        /// Checks the window and overlap, the encoder's quality and preset.
        public func validated() throws -> Configuration {
            guard window >= 1, overlap >= 0, overlap < window else { throw InputError("--overlap", "must be at least 0 and less than --window") }
            guard settings.subset >= 0 else { throw InputError("--subset", "must be 0 or more") }
            if let codec, !codec.crfRange.contains(crf) {
                throw InputError("--crf", "must be between \(codec.crfRange.lowerBound) and \(codec.crfRange.upperBound) for \(codec.displayName)")
            }
            guard (0...63).contains(crf) else { throw InputError("--crf", "must be between 0 and 63") }
            guard VideoCodec.presets.contains(preset) else { throw InputError("--preset", "'\(preset)' is not one of \(VideoCodec.presets.joined(separator: ", "))") }
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
