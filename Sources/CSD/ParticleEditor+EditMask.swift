import Core
import Foundation

extension ParticleEditor {
    /// Estimates the edit mask (`estimateEditMask`) and uses it unless it covers more than
    /// `EditMask.largestMaskedCoverage` of the particles. Then the edit is global (a new ground,
    /// another time of day), and a second mask drawn at `EditMask.globalTimesteps` is used if it
    /// covers at most `EditMask.largestGlobalCoverage`: a ground swap's keeps the sky, and leaves
    /// out the objects standing on the new ground (`EditMask.withoutRareLooks`). Otherwise
    /// the edit goes everywhere. The first mask of a ground swap covered nearly everything, and
    /// masked with it a video's horizon moved with the mask's edge from frame to frame (flicker
    /// 1.56 → 2.74 levels). The masks come from the sources and the seed alone, so a resumed edit
    /// estimates the same ones. `pictures` are the sources as pictures ([N, 3, H, W] in [−1, 1],
    /// any size), which tell the objects from the ground: a latent model's callers pass their
    /// frames at working size; a pixel model's particles are pictures already.
    public func masksEditWhereLocal(pictures: Tensor? = nil) {
        let mask = estimateEditMask()
        if EditMask.coverage(mask) <= EditMask.largestMaskedCoverage { editMask = mask; return }
        let global = settings.instructed == nil
            ? estimateEditMask(timesteps: EditMask.scaled(EditMask.globalTimesteps, trainTimesteps: model.schedule.alphasCumprod.count)) : mask
        guard EditMask.coverage(global) <= EditMask.largestGlobalCoverage else { return }
        editMask = EditMask.withoutRareLooks(global, pictures: pictures ?? source)
    }

    /// Where the edit applies in each particle (`EditMask`): the mean over `draws` noise draws at
    /// `EditMask.timesteps(for:)` (t = 100…250, by instruction 600…900) of the prompts' difference
    /// on the sources, summed over channels, blurred over `blur` cells, divided by each particle's
    /// 99.5th percentile (at least half the particles' median one, so a frame with nothing to edit
    /// gets no mask from its noise) and shaped particle by particle by `EditMask.shaped`, cleared
    /// where the source looks like the background (`EditMask.trimmedByAppearance`). Returns
    /// [N, 1, h, w]. Its noise comes from a generator of its own, so estimating a mask leaves the
    /// edit's draws as they were. `timesteps` (already scaled to the model's schedule) replaces
    /// the draws' timesteps.
    public func estimateEditMask(draws: Int = 8, blur: Int = 2, reach: Int = 8, grow: Int = 2, feather: Int = 2, timesteps: [Int]? = nil) -> Tensor {
        let (n, c, h, w) = (source.shape[0], source.shape[1], source.shape[2], source.shape[3])
        let plane = h * w
        var rng = RandomGenerator(seed: settings.seed &+ 0x6D61736B)
        var total = Tensor(zeros: [n, 1, h, w])
        let drawTimesteps = timesteps ?? EditMask.timesteps(for: settings, trainTimesteps: model.schedule.alphasCumprod.count)
        for draw in 0..<draws {
            let t = drawTimesteps[draw % drawTimesteps.count]
            let noise = rng.normal(source.shape)
            // The prompts' disagreement alone: CDS's contrastive term does not say where the edit goes.
            let g = scoring.scores(source, sources: source, timestep: t, noise: noise, rng: &rng, contrastiveTerm: false).total
            for i in 0..<n {
                for ch in 0..<c {
                    for p in 0..<plane { total.storage[i * plane + p] += abs(g.storage[(i * c + ch) * plane + p]) }
                }
            }
        }
        let blurred = (0..<n).map { EditMask.boxBlur(total.item($0).reshaped([1, 1, h, w]), radius: blur, wrap: false) }
        // Each particle's own scale, but at least half the particles' median one: a single scale
        // let the frame with the strongest difference set it, and on world frames the same ball
        // stayed out of the mask in two frames of three; a frame without the object keeps the
        // floor, so its noise stays out.
        let tops = blurred.map { EditMask.top($0.storage) }
        let floor = 0.5 * tops.sorted()[tops.count / 2]
        return Tensor.concatenateBatch(blurred.enumerated().map { i, map in
            EditMask.shaped(map, top: max(tops[i], floor), source: source.item(i).reshaped([1, c, h, w]),
                            blur: blur, reach: reach, grow: grow, feather: feather, wrap: false, trim: .afterFeathering)
        })
    }
}
