import Foundation

extension TextToImageTraining {
    /// The recipe's numbers, with `Tools/train_prior.py`'s names and defaults.
    public struct Settings: Codable, Equatable, Sendable {
        /// Images per step (`--batch`).
        public var batch = 16
        /// AdamW's rate after the warm-up (`--lr`).
        public var learningRate: Float = 5e-4
        /// Steps of the linear warm-up, counted from where the optimiser's state began.
        public var warmupSteps = 500
        /// Where the linear cool-down to `cooldownTo` begins (nil: none), and its length.
        public var cooldownFrom: Int? = nil
        public var cooldownSteps = 10_000
        public var cooldownTo: Float = 5e-5
        /// The EMA's decay once warmed up (`--ema`).
        public var ema: Float = 0.999
        /// γ of the min-SNR weighting (`--min-snr-gamma`).
        public var minSNRGamma: Float = 5
        /// The share of captions replaced by "" (`--caption-dropout`).
        public var captionDropout: Float = 0.1
        /// Seeds every step's draws (`--plan-seed` in the script).
        public var seed: UInt64 = 0

        public init() {}

        /// Checks the numbers a flag can set; `source` names them in the error.
        public func validate(source: String) throws {
            func check(_ ok: Bool, _ problem: String) throws { if !ok { throw InputError(source, problem) } }
            try check(batch >= 1 && batch <= 4096, "--batch must be 1...4096, not \(batch)")
            try check(learningRate.isFinite && learningRate > 0, "--lr must be a positive number")
            try check(cooldownTo.isFinite && cooldownTo >= 0, "--cooldown-to must be a number ≥ 0")
            try check(cooldownSteps >= 1, "--cooldown-steps must be at least 1")
            try check(cooldownFrom.map { $0 >= 0 } ?? true, "--cooldown-from must be ≥ 0")
            try check(warmupSteps >= 1, "the warm-up must be at least 1 step")
            try check(ema.isFinite && ema >= 0 && ema < 1, "--ema must be in [0, 1)")
            try check(minSNRGamma.isFinite && minSNRGamma > 0, "--min-snr-gamma must be a positive number")
            try check(captionDropout.isFinite && captionDropout >= 0 && captionDropout <= 1, "--caption-dropout must be in [0, 1]")
        }
    }
}
