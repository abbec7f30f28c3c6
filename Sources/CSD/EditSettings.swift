import Core
import Foundation

/// How an edit runs: the score, its coupling across particles, and the optimiser.
public struct EditSettings: Codable, Equatable, Sendable {
    public enum Method: String, Codable, CaseIterable, Sendable {
        /// Score Distillation Sampling towards the target prompt, per particle.
        case sds
        /// Delta Denoising Score, per particle.
        case dds
        /// Contrastive Denoising Score, per particle: DDS plus the patch-contrastive term of
        /// `contrastive` (Nam et al. 2023).
        case cds
        /// DDS scores coupled across particles by the Stein variational update; when `contrastive`
        /// is set, each particle's CDS contrastive term added to its coupled direction.
        case csd
    }

    /// CDS's patch-contrastive (CUT) term on the UNet's up-block self-attention outputs, with the
    /// CDS repository's defaults (`ContrastiveDenoisingScore`).
    public struct Contrastive: Codable, Equatable, Sendable {
        /// `w_cut`, the term's weight against DDS's 1.
        public var weight: Float = 3
        /// Locations drawn per layer and patch size.
        public var patches: Int = 256
        /// The InfoNCE temperature τ.
        public var temperature: Float = 0.07
        /// Diffusers names of the `attn1` layers compared (empty: every one in the up-blocks).
        public var layers: [String] = []

        public init() {}

        /// Core's score with these options.
        public var score: ContrastiveDenoisingScore {
            ContrastiveDenoisingScore(loss: PatchContrastiveLoss(patches: patches, temperature: temperature), weight: weight, layers: layers)
        }
    }

    /// What the CSD kernel compares.
    public enum KernelInput: String, Codable, CaseIterable, Sendable {
        /// The particles noised with this step's ε and t (as the reference code does).
        case noisy
        /// The particles themselves.
        case clean
    }

    /// The optimiser of the particles.
    public enum Optimizer: String, Codable, CaseIterable, Sendable {
        /// Plain gradient steps (with the optional step decay).
        case sgd
        /// Adam (β 0.9/0.999, ε 1e-8) on the same directions.
        case adam
    }

    public var method: Method = .dds
    public var optimizer: Optimizer = .sgd
    public var steps: Int = 200
    /// The classifier-free guidance scale of the scores (7.5, Stable Diffusion's usual scale, kept
    /// for panoramas; image, video and NeRF edits use `promptEditGuidance` by prompts and
    /// `instructionEditGuidance` by instruction). Panorama ground edits at 3 came out far worse
    /// (13.4 dB to the ideal against 20.4; docs/notebook/panoramas.md, 2026-12-06 (day)).
    public var guidance: Float = 7.5
    /// The guidance of image and video edits by a source and a target prompt: at 7.5 the DDS
    /// difference overshoots the target's colour (a purple cube at sunset came out magenta). On the
    /// 8 world edits of `csd eval video` as 256-px images, completion was 76.9% at 7.5, 84.5% at 5,
    /// 88.1% at 3 and 89.5% at 2, PSNR to the ideal 28.1, 30.4, 31.9 and 31.8 dB
    /// (docs/notebook/video.md, 2026-12-06). `ImageEditor` and `VideoEditor` configurations and
    /// `NeRFEditSettings` start at it; an edit by instruction (`instructed`) takes `instructionEditGuidance`.
    public static let promptEditGuidance: Float = 3
    /// The text guidance of image, video and NeRF edits by instruction (CSD-Edit, `instructed`);
    /// panoramas by instruction keep `guidance` (7.5). With the bundled instruction model, 5 against
    /// 7.5: on 3 world videos PSNR to the ideal 30.75 against 29.95 dB, background 32.5 against
    /// 30.3; on 8 NeRF scenes (seeds 0 and 1) 27.61 against 26.58 dB, outside the edit 31.7 against
    /// 29.3, success 93% against 99%; the sampling gate 88.3% and 23.2 dB against 86.7% and 22.2. On
    /// 4 panoramas 29.22 against 29.45 dB and success 61% against 71% (with the masks of
    /// `EditMask.instructionTimesteps`), so those stay at 7.5 (docs/notebook/instruct.md,
    /// 2026-12-06 and 2026-12-07).
    public static let instructionEditGuidance: Float = 5
    /// 0.05 since 2026-11-23: with the bundled prior on Stable Diffusion's schedule, 0.1 took
    /// single images' backgrounds under 25 dB (`csd eval edits`; see the README).
    public var learningRate: Float = 0.05
    /// Multiply the learning rate by `decayFactor` every `decayEvery` steps (0: never).
    public var decayEvery: Int = 0
    public var decayFactor: Float = 0.9
    public var seed: UInt64 = 0
    public var minTimestep: Int = 50
    public var maxTimestep: Int = 950
    /// `minTimestep...maxTimestep`, the range the DDS noise levels are drawn from.
    public var timesteps: ClosedRange<Int> {
        get { minTimestep...maxTimestep }
        set { (minTimestep, maxTimestep) = (newValue.lowerBound, newValue.upperBound) }
    }
    public var weighting: String = ScoreDistillation.Weighting.uniform.rawValue
    public var kernelInput: KernelInput = .noisy
    public var normalization: String = SteinVariationalUpdate.Normalization.kernelRowSum.rawValue
    public var bandwidthScale: Float = 1
    /// Particles per model call (each particle costs 4 UNet items for DDS).
    public var batchLimit: Int = 8
    /// Particles updated per step, drawn at random (0: all), as the reference does for panoramas.
    public var subset: Int = 0
    /// The contrastive term: required by `cds`, optional under `csd`, refused by `sds` and `dds`.
    /// Nil is left out of the JSON, so checkpoints written before the term existed still match.
    public var contrastive: Contrastive?
    /// Editing by instruction (CSD-Edit, Kim et al. 2023) with an instruction model
    /// (InstructPix2Pix layout): the target prompt is then the instruction and the source prompt
    /// the baseline's text (empty by default, as in the CSD repository).
    public struct Instructed: Codable, Equatable, Sendable {
        /// s_I, the image guidance scale beside the text's `guidance`: 3 measured the best success of
        /// `csd eval instruct` with the bundled instruction model (90%, against 85% at 1.5 and 87% at 5).
        public var imageGuidance: Float = 3

        public init(imageGuidance: Float = 3) { self.imageGuidance = imageGuidance }
    }

    /// Set when editing by instruction (under `dds`, per particle, or `csd`); nil (left out of the
    /// JSON, so older checkpoints still match) for text-to-image models' source and target prompts.
    public var instructed: Instructed?
    /// The number format of the model's products while scoring (nil: fp32). Left out of the JSON
    /// when nil, so older checkpoints still match; a resume under another precision is refused.
    public var precision: ComputePrecision?

    public init() {}

    /// Settings as JSON with sorted keys, so equal settings give identical checkpoint files.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public func learningRate(atStep step: Int) -> Float {
        decayEvery > 0 ? learningRate * Float(pow(Double(decayFactor), Double(step / decayEvery))) : learningRate
    }
}

import Foundation
