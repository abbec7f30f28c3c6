import Core
import Foundation

/// The instruction model's quality gate: instructions held out of its training
/// (`WorldInstruction.isHeldOut`) applied by sampling to renders of held-out scenes, each judged
/// against its ideal edit (the same scene, seed and camera rendered with the instruction applied).
public struct InstructionEvaluation {
    /// One held-out case: the render, its instruction and the ideal edit.
    public struct Case {
        public var seed: UInt64
        public var instruction: WorldInstruction
        public var source: RGBImage
        public var ideal: RGBImage
        /// Per pixel, the object index of the source render (0 ground, 255 sky, i + 1 object i).
        public var objectIndex: [UInt8]

        public init(seed: UInt64, instruction: WorldInstruction, source: RGBImage, ideal: RGBImage, objectIndex: [UInt8]) {
            (self.seed, self.instruction, self.source, self.ideal, self.objectIndex) = (seed, instruction, source, ideal, objectIndex)
        }
    }

    /// What came of the cases.
    public struct Result {
        public var cases: Int
        /// Share of cases the analyser reads as done (`succeeded`).
        public var success: Double
        /// Mean PSNR to the ideal edit, dB.
        public var psnrToIdeal: Double
        /// Mean PSNR to the ideal edit over the pixels the instruction leaves unchanged, dB, over
        /// the cases that have such pixels (NaN when none has).
        public var unchangedPSNR: Double
        public var outputs: [RGBImage]
        public var verdicts: [Bool]
    }

    /// Held-out scenes start at this seed, past every training set's.
    public static let firstSeed: UInt64 = 3_000_000_000

    /// `count` cases: scenes from `firstSeed` on, each with the first held-out instruction drawn
    /// for it whose result keeps to combinations the prior saw and whose recoloured objects show
    /// at least 24 pixels at `size`.
    public static func cases(count: Int, size: Int, firstSeed: UInt64 = firstSeed) -> [Case] {
        var result = [Case]()
        var seed = firstSeed
        while result.count < count {
            defer { seed += 1 }
            let sample = WorldSample(seed: seed)
            let before = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size)
            var found: (WorldInstruction, WorldScene)?
            for draw in 0..<64 {
                let instruction = WorldInstruction.random(for: sample.scene, seed: seed &* 7 &+ UInt64(draw))
                let edited = instruction.applied(to: sample.scene)
                guard instruction.isHeldOut, !WorldInstruction.resultIsHeldOut(edited) else { continue }
                let visible = instruction.changes.allSatisfy { change in
                    guard case let .recolor(i, _) = change else { return true }
                    return before.objectIndex.filter { $0 == UInt8(i + 1) }.count >= 24
                }
                if visible { found = (instruction, edited); break }
            }
            guard let (instruction, edited) = found else { continue }
            let after = WorldRenderer(scene: edited).render(camera: sample.camera, width: size, height: size)
            result.append(Case(seed: seed, instruction: instruction, source: RGBImage(width: size, height: size, pixels: before.bytes),
                               ideal: RGBImage(width: size, height: size, pixels: after.bytes), objectIndex: before.objectIndex))
        }
        return result
    }

    /// Whether `output` shows what `c`'s instruction asks, as the analyser reads it: each
    /// recoloured object's pixels (where the source showed it) take the new colour, and a new
    /// ground or time of day is the one the image shows.
    public static func succeeded(_ output: RGBImage, _ c: Case, analyser: SceneAnalyser) -> Bool {
        let judgement = analyser.judge(output)
        return c.instruction.changes.allSatisfy { change in
            switch change {
            case let .recolor(i, color): return analyser.color(of: output, in: c.objectIndex.map { $0 == UInt8(i + 1) }) == color
            case let .ground(g): return judgement.ground == g
            case let .time(t): return judgement.time == t
            }
        }
    }

    /// Samples every case with `model` (`steps` DDIM steps, `guidance` and `imageGuidance`, noise
    /// from `seed`) and judges the outputs.
    public static func run(_ cases: [Case], model: DiffusionModel, steps: Int, guidance: Float, imageGuidance: Float,
                           seed: UInt64 = 5, analyser: SceneAnalyser, progress: ((Int) -> Void)? = nil) -> Result {
        var rng = RandomGenerator(seed: seed)
        var outputs = [RGBImage](), verdicts = [Bool]()
        var (psnr, unchanged, unchangedCases) = (0.0, 0.0, 0)
        for c in cases {
            let (w, h) = (c.source.width, c.source.height)
            let noise = rng.normal([1, model.modelChannels, h / model.pixelsPerCell, w / model.pixelsPerCell])
            let out = model.sample(instruction: c.instruction.text, images: c.source.tensor.reshaped([1, 3, h, w]), noise: noise,
                                   steps: steps, guidance: guidance, imageGuidance: imageGuidance)
            let picture = RGBImage(tensor: out.item(0).clamped(to: -1...1))
            outputs.append(picture)
            verdicts.append(succeeded(picture, c, analyser: analyser))
            psnr += EditMetrics.psnr(picture, c.ideal)
            // Pixels the ideal edit leaves as they were (none when the time of day changes).
            let (before, after) = (c.source.pixels, c.ideal.pixels)
            var same = [Bool](repeating: true, count: w * h)
            for k in 0..<(3 * w * h) where before[k] != after[k] { same[k / 3] = false }
            if same.contains(true) {
                unchanged += EditMetrics.psnr(picture, c.ideal, mask: same)
                unchangedCases += 1
            }
            progress?(outputs.count)
        }
        let n = Double(max(cases.count, 1))
        return Result(cases: cases.count, success: Double(verdicts.filter { $0 }.count) / n, psnrToIdeal: psnr / n,
                      unchangedPSNR: unchangedCases > 0 ? unchanged / Double(unchangedCases) : .nan, outputs: outputs, verdicts: verdicts)
    }
}
