import Core
import Foundation

extension PriorEvaluation {
    /// The caption probe of the world's Bayes-optimal denoiser.
    public struct PosteriorProbeResult: Sendable {
        public var probe: ProbeResult
        /// Candidate layouts per caption.
        public var layouts: Int
        /// The effective number of layouts a prediction rests on (1/Σw²), averaged over renders,
        /// captions and draws, per timestep. Near 1 the estimate is a nearest-neighbour guess.
        public var effectiveLayouts: [Int: Double]
    }

    /// The caption probe with the noise predicted by `WorldPosteriorMean` (the posterior mean over
    /// `layouts` renders of each caption's words) instead of a model: the same renders, swapped
    /// captions and noise draws as `captionProbe` with the same arguments. It estimates the win
    /// rate of the best possible denoiser under `schedule`, i.e. how far above chance the world
    /// lets any model go at each t. Pixel space only (the renders themselves are the candidates).
    public static func posteriorProbe(schedule: NoiseSchedule, layouts: Int, renders: Int, timesteps: [Int] = [100, 300, 500, 700],
                                      draws: Int = 1, firstSeed: UInt64 = 20_000_000, size: Int = 64,
                                      progress: ((Int) -> Void)? = nil) -> PosteriorProbeResult {
        precondition(layouts >= 1, "posteriorProbe: layouts must be at least 1")
        var layoutsByCount = [Int: [WorldSample]]()
        var effectiveSum = [Int: Double](), effectiveCount = [Int: Int]()
        let result = probe(renders: renders, timesteps: timesteps, draws: draws, firstSeed: firstSeed, size: size,
                           toModelSpace: { $0 }, progress: progress) { scenes in
            let n = scenes[0].objects.count
            // Seeds far from the probe's (20,000,000…) and the training set's (0…), one range per object count.
            let candidates = layoutsByCount[n] ?? WorldPosteriorMean.layouts(objectCount: n, count: layouts, firstSeed: 40_000_000 + UInt64(n) * 1_000_000)
            layoutsByCount[n] = candidates
            let posteriors = scenes.map { WorldPosteriorMean(words: $0, layouts: candidates, size: size) }
            return { x0, noises, t in
                let a = schedule.alphasCumprod[t]
                let noisy = noises.flatMap { schedule.addNoise(x0, noise: $0, timestep: t).storage }
                return posteriors.map { posterior in
                    let (means, effective) = posterior.means(noisy: noisy, rows: noises.count, alphaBar: a)
                    effectiveSum[t, default: 0] += effective.reduce(0, +)
                    effectiveCount[t, default: 0] += effective.count
                    // ε̂ − ε = √ᾱ·(x₀ − x̂₀)/√(1−ᾱ), so the noise error is ᾱ/(1−ᾱ)·‖x̂₀ − x₀‖².
                    var error: Float = 0
                    for r in 0..<noises.count {
                        for j in 0..<posterior.dimension {
                            let d = means[r * posterior.dimension + j] - x0.storage[j]
                            error += d * d
                        }
                    }
                    return error * a / (1 - a)
                }
            }
        }
        let effective = Dictionary(uniqueKeysWithValues: timesteps.map { ($0, (effectiveSum[$0] ?? 0) / Double(max(effectiveCount[$0] ?? 0, 1))) })
        return PosteriorProbeResult(probe: result, layouts: layouts, effectiveLayouts: effective)
    }
}
