import Core
import Foundation
import Testing
@testable import World

@Suite struct WorldPosteriorMeanTests {
    /// The mean weighs each candidate by exp(−‖x_t − √ᾱ·s‖² / (2(1−ᾱ))), normalised, computed
    /// here directly; at ᾱ near 1 it is the nearest candidate alone.
    @Test func weighsCandidatesByTheirLikelihood() {
        let candidates: [Float] = [1, 0, 0.5, 0, 1, -0.5, 0.3, 0.3, 0]
        let posterior = WorldPosteriorMean(candidates: candidates, dimension: 3)
        let noisy: [Float] = [0.5, 0.1, 0.2, -0.4, 0.6, 0.0]
        let alphaBar: Float = 0.4
        let (means, effective) = posterior.means(noisy: noisy, rows: 2, alphaBar: alphaBar)
        for r in 0..<2 {
            let x = noisy[(r * 3)..<(r * 3 + 3)].map(Double.init)
            let logs = (0..<3).map { i -> Double in
                let d = (0..<3).map { j in x[j] - Double(alphaBar).squareRoot() * Double(candidates[i * 3 + j]) }
                return -d.reduce(0) { $0 + $1 * $1 } / (2 * (1 - Double(alphaBar)))
            }
            let raw = logs.map { exp($0) }
            let w = raw.map { $0 / raw.reduce(0, +) }
            for j in 0..<3 {
                let expected = (0..<3).reduce(0.0) { $0 + w[$1] * Double(candidates[$1 * 3 + j]) }
                #expect(abs(Double(means[r * 3 + j]) - expected) < 1e-5, "row \(r) value \(j)")
            }
            #expect(abs(effective[r] - 1 / w.reduce(0) { $0 + $1 * $1 }) < 1e-4)
        }
        let (nearest, one) = posterior.means(noisy: [0.0, 1.0, -0.45], rows: 1, alphaBar: 0.9999)
        #expect(zip(nearest, candidates[3..<6]).allSatisfy { abs($0 - $1) < 1e-4 } && abs(one[0] - 1) < 1e-3)
    }

    /// Layouts keep the object count asked for, and the words go onto them unchanged in order.
    @Test func layoutsCarryTheCaptionsWords() {
        let layouts = WorldPosteriorMean.layouts(objectCount: 3, count: 5, firstSeed: 40_000_000)
        #expect(layouts.count == 5 && layouts.allSatisfy { $0.scene.objects.count == 3 })
        let words = WorldScene.random(seed: 7, objectCount: 3)
        let scene = WorldPosteriorMean.scene(words: words, layout: layouts[0].scene)
        #expect(scene.caption == words.caption)
        #expect(scene.objects.map(\.position) == layouts[0].scene.objects.map(\.position))
    }

    /// The best denoiser always tells the ground apart (a swapped ground changes most pixels),
    /// at low and high noise; a sign error in the weights would make it pick the farthest
    /// candidates and lose.
    @Test func posteriorProbeTellsGroundsApart() {
        let result = PriorEvaluation.posteriorProbe(schedule: NoiseSchedule(SchedulerConfiguration()), layouts: 24, renders: 4,
                                                    timesteps: [100, 700], draws: 1)
        #expect(result.probe.winRate[.ground] == [100: 1, 700: 1])
        #expect(result.effectiveLayouts[100]! < result.effectiveLayouts[700]! && result.effectiveLayouts[700]! <= 24.01)
    }
}
