import CSD
import Core
import Foundation

extension PanoramaEditor {
    /// Where the edit applies (`EditMask`): the mean over `draws` noise draws at
    /// `EditMask.timesteps(for:)` (t = 100…250, by instruction 600…900), over every window, of the
    /// prompts' difference on the source, summed over channels, scattered into the panorama,
    /// blurred over `blur` cells, divided by its 99.5th percentile over the panorama and shaped by
    /// `EditMask.shaped`, trimmed of background looks before its feathering (on the four
    /// colour-edit panoramas of `csd eval panorama --mask`: background 34.7 → 37.6 dB, PSNR to the
    /// ideal 29.9 → 30.8 dB; docs/notebook/panoramas.md, 2026-12-06). Returns [1, 1, H, W] in the
    /// model's cells.
    ///
    /// A window-wise prompt names objects every window lacks, so unmasked DDS paints them into
    /// every window of a wide panorama; the difference on the source is largest where the source
    /// shows what the prompts disagree on, and averaging draws makes the rest fall away.
    public func estimateEditMask(draws: Int = 8, blur: Int = 2, reach: Int = 8, grow: Int = 2, feather: Int = 2) -> Tensor {
        let (h, w) = (layout.height, layout.width)
        let c = source.shape[1]
        var rng = RandomGenerator(seed: settings.seed &+ 0x6D61736B)
        var total = Tensor(zeros: [1, 1, h, w])
        let sources = Tensor.concatenateBatch(layout.origins.indices.map { layout.extract(source, $0) })
        let plane = layout.window * layout.window
        let drawTimesteps = EditMask.timesteps(for: settings, trainTimesteps: model.schedule.alphasCumprod.count)
        for draw in 0..<draws {
            let t = drawTimesteps[draw % drawTimesteps.count]
            let noise = rng.normal(sources.shape)
            // The prompts' disagreement alone: CDS's contrastive term does not say where the edit goes.
            let g = scoring.scores(sources, sources: sources, timestep: t, noise: noise, rng: &rng, contrastiveTerm: false).total
            let differences = layout.origins.indices.map { index -> (index: Int, values: Tensor) in
                var magnitude = Tensor(zeros: [1, 1, layout.window, layout.window])
                let item = g.item(index)
                for ch in 0..<c { for p in 0..<plane { magnitude.storage[p] += abs(item.storage[ch * plane + p]) } }
                return (index, magnitude)
            }
            total.add(layout.scatterAverage(differences, channels: 1))
        }
        let blurred = EditMask.boxBlur(total, radius: blur, wrap: layout.wrap)
        return EditMask.shaped(blurred, top: EditMask.top(blurred.storage), source: source, blur: blur, reach: reach, grow: grow, feather: feather, wrap: layout.wrap, trim: .beforeFeathering)
    }
}
