import Core

extension EditMask {
    /// The share of a region's looks that counts as "many": a cell whose chromaticity is far from
    /// its `rareLookShare · looks`-th nearest look in the region is rare there.
    public static let rareLookShare = 0.1

    /// The chromaticity distance (× 3, so a grey and a saturated primary are about 1–2 apart) past
    /// which a look is rare. Measured on the masks of 13 world ground swaps at 64²
    /// (docs/notebook/video.md, 2026-12-07 (before midnight)): lit ground reached 0.35 at most,
    /// shadows 0.35 (at night), the objects that stand out from their ground 0.6–1.9.
    public static let rareLookDistance: Float = 0.5

    /// `mask` ([1, 1, H, W]) cleared on the cells of `source` ([1, 3, H, W], pixels in [−1, 1])
    /// whose colour is rare inside it: a new ground's mask (drawn at `globalTimesteps`) holds the
    /// objects standing on the ground, and the edit recoloured them (a blue cone darkened by 15–20
    /// levels, 29 dB of background where the ideal leaves the cone as it was). A look is a cell's
    /// chromaticity, its colour divided by its brightness, so that the ground's shadows (the same
    /// colour, darker) count as ground; the region is the cells above half weight, and a cell is
    /// rare if its `rareLookShare` nearest of the region's looks (at most 512, evenly spaced) are
    /// all farther than `rareLookDistance`, and it lies in a connected group of at least
    /// `smallestGroup` such cells (8-neighbours). An object coloured like its ground (a white ball
    /// on sand) stays in the mask. Returns `mask` unchanged for other than 3 channels (a latent
    /// model's particles: judge its pictures instead, below) or a region of fewer than 64 cells.
    public static func withoutRareLooks(_ mask: Tensor, source: Tensor, smallestGroup: Int = 3) -> Tensor {
        let (c, h, w) = (source.shape[1], source.shape[2], source.shape[3])
        let plane = h * w
        precondition(mask.count == plane, "withoutRareLooks: mask and source sizes differ")
        guard c == 3 else { return mask }
        let chroma: [SIMD3<Float>] = (0..<plane).map { p in
            let rgb = SIMD3<Float>((source.storage[p] + 1) / 2, (source.storage[plane + p] + 1) / 2, (source.storage[2 * plane + p] + 1) / 2)
            return rgb / (max(rgb.sum(), 0) + 0.06)
        }
        let region = (0..<plane).filter { mask.storage[$0] > 0.5 }
        guard region.count >= 64 else { return mask }
        let step = max(1, region.count / 512)
        let looks = Swift.stride(from: 0, to: region.count, by: step).map { chroma[region[$0]] }
        let k = max(1, Int(Double(looks.count) * rareLookShare))
        let limit = (rareLookDistance / 3) * (rareLookDistance / 3)
        var rare = [Bool](repeating: false, count: plane)
        for p in 0..<plane where mask.storage[p] > 0 {
            // Rare when fewer than k looks lie within the distance.
            var near = 0
            for look in looks {
                let e = chroma[p] - look
                if (e * e).sum() <= limit { near += 1; if near >= k { break } }
            }
            rare[p] = near < k
        }
        var out = mask
        var seen = [Bool](repeating: false, count: plane)
        for start in 0..<plane where rare[start] && !seen[start] {
            // One 8-connected group of rare cells, labelled once (`floodFill` from each start would
            // go over the whole plane per group).
            var group = [start], stack = [start]
            seen[start] = true
            while let i = stack.popLast() {
                let (x, y) = (i % w, i / w)
                for dy in -1...1 where y + dy >= 0 && y + dy < h {
                    for dx in -1...1 where x + dx >= 0 && x + dx < w {
                        let j = (y + dy) * w + x + dx
                        if rare[j] && !seen[j] { seen[j] = true; group.append(j); stack.append(j) }
                    }
                }
            }
            if group.count >= smallestGroup { for i in group { out.storage[i] = 0 } }
        }
        return out
    }

    /// `masks` ([N, 1, h, w]) each `withoutRareLooks` of its picture in `pictures` ([N, 3, H, W]
    /// in [−1, 1], at any size: a latent model's particles are judged by their frames at working
    /// size, averaged down to the latents' size).
    public static func withoutRareLooks(_ masks: Tensor, pictures: Tensor) -> Tensor {
        let (n, h, w) = (masks.shape[0], masks.shape[2], masks.shape[3])
        precondition(pictures.shape.count == 4 && pictures.shape[0] == n, "withoutRareLooks: one picture per mask")
        let looks = pictures.resized(height: h, width: w)
        return Tensor.concatenateBatch((0..<n).map { i in
            withoutRareLooks(masks.item(i).reshaped([1, 1, h, w]), source: looks.item(i).reshaped([1, pictures.shape[1], h, w]))
        })
    }
}
