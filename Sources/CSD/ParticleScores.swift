import Core

/// The scores of a step's particles ([N, C, h, w], directions to ascend), with the part the
/// Stein update must not mix between them (`CoupledScores.couple`).
public struct ParticleScores {
    /// Each particle's whole score: what an uncoupled edit moves it by.
    public var total: Tensor
    /// The part of `total` that belongs to its particle alone: CDS's contrastive term, which pulls
    /// a particle towards its own source's structure. CSD adds it after the coupling; mixed into
    /// the other windows of a panorama ground edit it took the seam error from 2.5 to 5.2
    /// (docs/notebook/cds.md, 2026-12-08). nil without the term.
    public var own: Tensor?

    public init(total: Tensor, own: Tensor? = nil) {
        precondition(own == nil || own!.shape == total.shape, "ParticleScores: own part \(own!.shape) vs \(total.shape)")
        (self.total, self.own) = (total, own)
    }

    /// Both parts through the same linear `transform` (a mask's weights, a choice of rows).
    public func map(_ transform: (Tensor) -> Tensor) -> ParticleScores {
        ParticleScores(total: transform(total), own: own.map(transform))
    }
}
