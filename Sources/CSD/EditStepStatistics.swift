import Core

/// What one step of an edit did, for a report's plots: the size of the scores (DDS's gradient,
/// the loss proxy), how far the particles have moved from their sources, and under CSD the
/// kernel's bandwidth and the repulsion's share of the update.
public struct EditStepStatistics: Sendable, Equatable {
    /// Root mean square of the scores before coupling.
    public var scoreRMS: Float
    /// Root mean square of particles − sources, in the model's space.
    public var changeRMS: Float
    /// The median-heuristic bandwidth h, or nil when the particles are not coupled.
    public var bandwidth: Float?
    /// ‖repulsive part‖ / ‖driving part‖ of the Stein update, or nil when not coupled.
    public var repulsionRatio: Float?

    public init(scoreRMS: Float, changeRMS: Float, bandwidth: Float?, repulsionRatio: Float?) {
        (self.scoreRMS, self.changeRMS, self.bandwidth, self.repulsionRatio) = (scoreRMS, changeRMS, bandwidth, repulsionRatio)
    }

    /// Root mean square of `t`'s values (0 for an empty tensor).
    public static func rms(_ t: Tensor) -> Float {
        guard t.count > 0 else { return 0 }
        var sum = 0.0
        for v in t.storage { sum += Double(v) * Double(v) }
        return Float((sum / Double(t.count)).squareRoot())
    }

    /// The statistics of a step that scored `scores`, coupled them (`bandwidth` and `repulsion`
    /// nil when it did not) and left `particles` against `sources`.
    public static func measured(scores: Tensor, particles: Tensor, sources: Tensor, coupled: Bool, bandwidth: Float, repulsion: Float) -> EditStepStatistics {
        EditStepStatistics(scoreRMS: rms(scores), changeRMS: rms(particles - sources),
                           bandwidth: coupled ? bandwidth : nil, repulsionRatio: coupled ? repulsion : nil)
    }
}
