/// The prior's quality targets (issue 3): the caption probe's win rate per swapped word at every
/// probed timestep, and the judged generation accuracies. `unmet` names each line a run misses.
public struct PriorQualityTargets: Sendable {
    /// Least win rate of the true caption over a one-word swap, at every probed t.
    public var probe: [PriorEvaluation.Swap: Double] = [.color: 0.95, .ground: 0.95, .shape: 0.90]
    /// Least share of generated samples judged right.
    public var generationColor = 0.80, generationGround = 0.90, generationShape = 0.60

    public init() {}

    /// The targets a run misses, one line each ("probe shape t=700: 84.0% < 90.0%"); empty when
    /// every measured target is met. A part that was not run (nil) is not judged.
    public func unmet(probe result: PriorEvaluation.ProbeResult?, generation: PriorEvaluation.GenerationResult?) -> [String] {
        var misses = [String]()
        func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        if let result, result.renders > 0 {
            for swap in PriorEvaluation.Swap.allCases {
                let least = probe[swap]!
                for (t, rate) in (result.winRate[swap] ?? [:]).sorted(by: { $0.key < $1.key }) where rate < least {
                    misses.append("probe \(swap.rawValue) t=\(t): \(percent(rate)) < \(percent(least))")
                }
            }
        }
        if let generation, generation.samples > 0 {
            for (name, rate, least) in [("colour", generation.colorAccuracy, generationColor),
                                        ("ground", generation.groundAccuracy, generationGround),
                                        ("shape", generation.shapeAccuracy, generationShape)] where rate < least {
                misses.append("generation \(name): \(percent(rate)) < \(percent(least))")
            }
        }
        return misses
    }
}
