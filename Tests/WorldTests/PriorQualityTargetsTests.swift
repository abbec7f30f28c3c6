import Testing
@testable import World

/// The gate names exactly the targets a run misses, and judges only the parts that were run.
@Suite struct PriorQualityTargetsTests {
    static func probe(color: Double, shape: Double, ground: Double) -> PriorEvaluation.ProbeResult {
        func atEveryT(_ rate: Double) -> [Int: Double] { [100: 1, 300: 1, 500: 1, 700: rate] }
        return PriorEvaluation.ProbeResult(winRate: [.color: atEveryT(color), .shape: atEveryT(shape), .ground: atEveryT(ground)],
                                           renders: 200)
    }

    static func generation(color: Double, ground: Double, shape: Double) -> PriorEvaluation.GenerationResult {
        PriorEvaluation.GenerationResult(samples: 96, colorAccuracy: color, groundAccuracy: ground, shapeAccuracy: shape,
                                         images: [], captions: [], judgements: [])
    }

    @Test func ratesAtTheTargetsPass() {
        let targets = PriorQualityTargets()
        #expect(targets.unmet(probe: Self.probe(color: 0.95, shape: 0.90, ground: 0.95),
                              generation: Self.generation(color: 0.80, ground: 0.90, shape: 0.60)).isEmpty)
    }

    @Test func eachMissIsNamedOnce() {
        let targets = PriorQualityTargets()
        let unmet = targets.unmet(probe: Self.probe(color: 0.96, shape: 0.84, ground: 1),
                                  generation: Self.generation(color: 1, ground: 0.85, shape: 0.99))
        #expect(unmet == ["probe shape t=700: 84.0% < 90.0%", "generation ground: 85.0% < 90.0%"])
    }

    @Test func partsNotRunAreNotJudged() {
        let targets = PriorQualityTargets()
        #expect(targets.unmet(probe: nil, generation: Self.generation(color: 0, ground: 0, shape: 0)).count == 3)
        #expect(targets.unmet(probe: Self.probe(color: 0, shape: 0, ground: 0), generation: nil).count == 3)
        #expect(targets.unmet(probe: nil, generation: Self.generation(color: 0, ground: 0, shape: 0).with(samples: 0)).isEmpty)
    }
}

extension PriorEvaluation.GenerationResult {
    fileprivate func with(samples: Int) -> Self { var copy = self; copy.samples = samples; return copy }
}
