import Core
import Foundation

/// The quality gate for a text-to-image prior on the world (`csd eval prior`).
///
/// - Caption probe: held-out renders are noised at fixed timesteps; the model's noise error with
///   the true caption should be lower than with one word swapped (colour, shape or ground).
/// - Generation: captions of held-out (colour, shape, ground, time) combinations are sampled with
///   DDIM and guidance, and judged by `SceneAnalyser`.
public struct PriorEvaluation {
    public enum Swap: String, CaseIterable, Sendable { case color, shape, ground }

    public struct ProbeResult: Sendable {
        /// Fraction of renders where the true caption won, per swap kind and timestep.
        public var winRate: [Swap: [Int: Double]]
        public var renders: Int
    }

    public struct GenerationResult: Sendable {
        public var samples: Int
        public var colorAccuracy: Double, groundAccuracy: Double, shapeAccuracy: Double
        public var images: [RGBImage]
        public var captions: [String]
        /// The analyser's verdict on each image, in the order of `images`.
        public var judgements: [SceneJudgement]
    }

    public let model: DiffusionModel
    public let size: Int

    public init(model: DiffusionModel, size: Int = 64) {
        self.model = model
        self.size = size
    }

    /// The scene with one word of the first object (or the ground) replaced by another value.
    static func swapped(_ scene: WorldScene, _ swap: Swap, rng: inout RandomGenerator) -> WorldScene {
        var s = scene
        switch swap {
        case .color:
            let used = Set(s.objects.map(\.color))
            let options = ObjectColor.allCases.filter { !used.contains($0) }
            s.objects[0].color = options[Int(rng.next() % UInt64(options.count))]
        case .shape:
            let options = Shape.allCases.filter { $0 != s.objects[0].shape }
            s.objects[0].shape = options[Int(rng.next() % UInt64(options.count))]
        case .ground:
            let options = Ground.allCases.filter { $0 != s.ground }
            s.ground = options[Int(rng.next() % UInt64(options.count))]
        }
        return s
    }

    /// The noise error of each caption for one render at one timestep, summed over the draws:
    /// given the clean render x₀ (model space), the noise draws and t.
    typealias CaptionErrors = (_ x0: Tensor, _ noises: [Tensor], _ timestep: Int) -> [Float]

    /// The caption probe's loop, shared by every denoiser it measures: renders with seeds from
    /// `firstSeed` (a range the training set does not use), the true scene followed by one swap of
    /// each kind, and the noise draws, all in a fixed order, so that two denoisers are compared
    /// on the same renders, captions and noise. `errors` is called once per render with its
    /// scenes (true first) and returns that render's `CaptionErrors`.
    static func probe(renders: Int, timesteps: [Int], draws: Int, firstSeed: UInt64, size: Int,
                      toModelSpace: (Tensor) -> Tensor, progress: ((Int) -> Void)?,
                      errors: ([WorldScene]) -> CaptionErrors) -> ProbeResult {
        precondition(draws >= 1, "captionProbe: draws must be at least 1")
        var wins = [Swap: [Int: Int]]()
        var rng = RandomGenerator(seed: 11)
        for i in 0..<renders {
            let sample = WorldSample(seed: firstSeed + UInt64(i))
            let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size)
            let x0 = toModelSpace(RGBImage(width: size, height: size, pixels: r.bytes).tensor.reshaped([1, 3, size, size]))
            let scenes = [sample.scene] + Swap.allCases.map { Self.swapped(sample.scene, $0, rng: &rng) }
            let errorsOf = errors(scenes)
            for t in timesteps {
                let noises = (0..<draws).map { _ in rng.normal(x0.shape) }
                let e = errorsOf(x0, noises, t)
                for (k, swap) in Swap.allCases.enumerated() where e[0] < e[k + 1] {
                    wins[swap, default: [:]][t, default: 0] += 1
                }
            }
            progress?(i + 1)
        }
        var rates = [Swap: [Int: Double]]()
        for swap in Swap.allCases {
            rates[swap] = Dictionary(uniqueKeysWithValues: timesteps.map { ($0, Double(wins[swap]?[$0] ?? 0) / Double(max(renders, 1))) })
        }
        return ProbeResult(winRate: rates, renders: renders)
    }

    /// Runs the caption probe on `renders` held-out renders at `timesteps`. Each caption's noise
    /// error is summed over `draws` noise draws, the same draws for every caption: one draw is a
    /// noisy estimate of the expected error, and at high t its spread swamps the difference one
    /// word makes (several draws is how a diffusion model is used as a classifier, Li et al.
    /// 2023, "Your Diffusion Model is Secretly a Zero-Shot Classifier").
    public func captionProbe(renders: Int, timesteps: [Int] = [100, 300, 500, 700], draws: Int = 1, firstSeed: UInt64 = 20_000_000,
                             progress: ((Int) -> Void)? = nil) -> ProbeResult {
        Self.probe(renders: renders, timesteps: timesteps, draws: draws, firstSeed: firstSeed, size: size,
                   toModelSpace: { model.toModelSpace($0) }, progress: progress) { scenes in
            let conditioning = model.encode(prompts: scenes.map(\.caption))
            return { x0, noises, t in
                var errors = [Float](repeating: 0, count: scenes.count)
                for noise in noises {
                    let xt = model.schedule.addNoise(x0, noise: noise, timestep: t)
                    let batch = Tensor.concatenateBatch(Array(repeating: xt, count: scenes.count))
                    let prediction = model.guidedPrediction(batch, timestep: t, conditional: conditioning, unconditional: nil, guidance: 1)
                    let target = model.schedule.configuration.predictionType == "v_prediction"
                        ? noise.linearCombination(model.schedule.alphasCumprod[t].squareRoot(), x0, -(1 - model.schedule.alphasCumprod[t]).squareRoot())
                        : noise
                    for k in 0..<scenes.count { errors[k] += (prediction.item(k).reshaped(target.shape) - target).storage.reduce(0) { $0 + $1 * $1 } }
                }
                return errors
            }
        }
    }

    /// Samples captions of held-out combinations and judges them.
    public func generation(samples: Int, steps: Int = 50, guidance: Float = 5, batch: Int = 8, seed: UInt64 = 3,
                           analyser: SceneAnalyser, progress: ((Int) -> Void)? = nil) -> GenerationResult {
        let combinations = WorldScene.heldOutCombinations
        var rng = RandomGenerator(seed: seed)
        var picks = [(ObjectColor, Shape, Ground, TimeOfDay)]()
        for i in 0..<samples { picks.append(combinations[(i * 7919) % combinations.count]) }
        var images = [RGBImage](), captions = [String](), judgements = [SceneJudgement]()
        var (color, ground, shape) = (0, 0, 0)
        let cell = model.pixelsPerCell
        var start = 0
        while start < samples {
            let chunk = Array(picks[start..<min(samples, start + batch)])
            let prompts = chunk.map { WorldScene(ground: $0.2, time: $0.3, objects: [WorldObject(shape: $0.1, color: $0.0, position: .zero, size: 0.6)]).caption }
            let noise = rng.normal([chunk.count, model.modelChannels, size / cell, size / cell])
            let out = model.sample(prompts: prompts, noise: noise, steps: steps, guidance: guidance)
            for (k, pick) in chunk.enumerated() {
                let image = RGBImage(tensor: out.item(k).clamped(to: -1...1))
                let j = analyser.judge(image)
                if j.dominantColor == pick.0 { color += 1 }
                if j.shape == pick.1 { shape += 1 }
                if j.ground == pick.2 { ground += 1 }
                images.append(image)
                captions.append(prompts[k])
                judgements.append(j)
            }
            start += chunk.count
            progress?(start)
        }
        let n = Double(max(samples, 1))
        return GenerationResult(samples: samples, colorAccuracy: Double(color) / n, groundAccuracy: Double(ground) / n,
                                shapeAccuracy: Double(shape) / n, images: images, captions: captions, judgements: judgements)
    }
}
