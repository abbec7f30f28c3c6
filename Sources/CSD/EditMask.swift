import Core
import Foundation

/// Where an edit applies, estimated on the source before editing (DiffEdit's idea, Couairon et al.
/// 2022, with DDS): where the guided difference |eps(x_t; target) − eps(x_t; source)| on the
/// noisy source is large, averaged over a few noise draws at moderate noise. The moderate noise
/// matters: the noisy source still shows what is there, so the prompts disagree on it, and too
/// little noise is left to imagine new objects in. Panoramas (`PanoramaEditor.estimateEditMask`)
/// and videos (`ParticleEditor.estimateEditMask`) shape their difference maps into masks here.
public enum EditMask {
    /// Timesteps of the mask's draws, in turn. At t = 200–500 the prompts also disagreed along the
    /// whole horizon of a brick panorama (each imagined its own objects there) and every method
    /// painted a purple band; at 100–250 the mask holds the two objects alone (`csd eval
    /// panorama`, four scenes, 2026-11-22).
    public static let timesteps = [100, 200, 150, 250]

    /// Timesteps of the mask's draws for an edit by instruction (CSD-Edit's scores). The
    /// instruction model is shown the source as its image conditioning, and at t = 100–250 its
    /// instruction's effect spread over the whole picture: on the four colour-edit panoramas of
    /// `csd eval panorama` the masks covered 1.5–84% where the recoloured objects are 1–3%, and
    /// three of them took the ground edits' noise levels. At 600–900 they covered 1.2–11%, the two
    /// ground swaps by instruction still 72–73% (their ground is 71%), docs/notebook/instruct.md,
    /// 2026-12-07.
    public static let instructionTimesteps = [600, 800, 700, 900]

    /// The timesteps of the mask's draws for an edit with `settings` (`instructionTimesteps` by
    /// instruction, else `timesteps`), given for 1000 training timesteps and scaled to a model
    /// trained with `trainTimesteps`.
    public static func timesteps(for settings: EditSettings, trainTimesteps: Int) -> [Int] {
        scaled(settings.instructed == nil ? timesteps : instructionTimesteps, trainTimesteps: trainTimesteps)
    }

    /// Timesteps of a second mask for an edit by captions whose first one covers more than
    /// `largestMaskedCoverage` (a new ground, another time of day). At t = 100–250 the prompts
    /// of a ground swap disagreed on the sky too (masks of 96–100%), at 600–900 on the ground and
    /// the objects standing on it alone (76–78% where the ideal changes 70–76%, IoU 0.88–0.96,
    /// none of the sky), and a time of day still everywhere (docs/notebook/video.md, 2026-12-07).
    /// Edits by instruction already draw their mask at these.
    public static let globalTimesteps = instructionTimesteps

    /// `values`, given for 1000 training timesteps, scaled to a model trained with
    /// `trainTimesteps` and kept inside its schedule.
    public static func scaled(_ values: [Int], trainTimesteps: Int) -> [Int] {
        values.map { max(1, min(trainTimesteps - 1, $0 * trainTimesteps / 1000)) }
    }

    /// A difference map, already box-blurred over `blur` cells ([1, 1, H, W]), shaped into a mask
    /// in [0, 1]: divided by `top` and mapped by a ramp from 0.5 to 0.8 of it; cells above 0.3
    /// connected to one above 0.8 are set to 1; that region takes in the cells within `reach`
    /// cells of it whose source ([1, C, H, W]) looks like it (`growByAppearance`) and is grown by
    /// `grow` cells (an object's rims differ less than its middle: without this the top of a
    /// ball stayed red), then box-blurred over `feather` cells so that it fades out across its
    /// edge (a hard mask edge became a hard edit edge), and cleared where the source looks like the
    /// background rather than the region (`trimmedByAppearance`), before or after the feathering
    /// as `trim` says. Columns wrap with `wrap`.
    public static func shaped(_ blurred: Tensor, top: Float, source: Tensor, blur: Int, reach: Int, grow: Int, feather: Int, wrap: Bool, trim: BackgroundTrim) -> Tensor {
        let (h, w) = (blurred.shape[2], blurred.shape[3])
        let relative = blurred.storage.map { $0 / max(top, 1e-12) }
        var mask = Tensor(shape: [1, 1, h, w], storage: relative.map { min(1, max(0, ($0 - 0.5) / 0.3)) })
        // Hysteresis (as in Canny's edges): the weaker rims of a region that is surely edited
        // belong to it; weak cells on their own stay out.
        let difference = connectedRegion(relative, width: w, height: h, seeds: 0.8, reach: 0.3, wrap: wrap)
        // The prompts' difference can miss part of an object (a cube's lit face, whose colour the
        // model is sure of under both captions): what touches the region and looks like it, not
        // like what lies far from it, belongs to it too.
        let region = growByAppearance(difference, source: source, reach: reach, blur: blur, wrap: wrap)
        let grown = dilate(Tensor(shape: [1, 1, h, w], storage: region.map { $0 ? 1 : 0 }), radius: grow, wrap: wrap)
        for i in mask.storage.indices { mask.storage[i] = max(mask.storage[i], grown.storage[i]) }
        func trimmed(_ mask: Tensor) -> Tensor {
            trimmedByAppearance(mask, region: difference, source: source, reach: reach, blur: blur, wrap: wrap)
        }
        if trim == .beforeFeathering { mask = trimmed(mask) }
        // Growing by `grow + feather` first joined nearby objects.
        let feathered = feather > 0 ? boxBlur(mask, radius: feather, wrap: wrap) : mask
        return trim == .afterFeathering ? trimmed(feathered) : feathered
    }

    /// The largest share of a picture (or of a video window's frames) a mask may cover and still
    /// be used by an image or video edit; above it the edit is global (a new ground, another time
    /// of day) and takes a second mask drawn at `globalTimesteps`, or none
    /// (`ParticleEditor.masksEditWhereLocal`).
    public static let largestMaskedCoverage = 0.5

    /// The largest share a global edit's mask (at `globalTimesteps`) may cover and still be used:
    /// a ground swap's covers about three quarters and keeps the sky; a new time of day's covers
    /// everything and goes unmasked.
    public static let largestGlobalCoverage = 0.9

    /// The share of the picture a mask covers: its mean weight.
    public static func coverage(_ mask: Tensor) -> Double {
        mask.storage.reduce(0.0) { $0 + Double($1) } / Double(max(mask.count, 1))
    }

    /// The 99.5th percentile of `values`: the scale a difference map is divided by.
    public static func top(_ values: [Float]) -> Float {
        guard !values.isEmpty else { return 1e-12 }
        let sorted = values.sorted()
        return max(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.995))], 1e-12)
    }

    /// Cells whose value is ≥ `reach` and that connect (8-neighbours, columns wrapping with
    /// `wrap`) through such cells to one ≥ `seeds`.
    public static func connectedRegion(_ values: [Float], width w: Int, height h: Int, seeds: Float, reach: Float, wrap: Bool) -> [Bool] {
        floodFill(from: values.map { $0 >= seeds }, width: w, height: h, wrap: wrap) { values[$0] >= reach }
    }

    /// `seeds` grown through 8-neighbours (columns wrapping with `wrap`) over the cells that
    /// `accepts`; each cell outside the seeds is asked at most once.
    public static func floodFill(from seeds: [Bool], width w: Int, height h: Int, wrap: Bool, accepts: (Int) -> Bool) -> [Bool] {
        var inside = seeds, asked = seeds
        var stack = seeds.indices.filter { seeds[$0] }
        while let i = stack.popLast() {
            let (x, y) = (i % w, i / w)
            for dy in -1...1 where y + dy >= 0 && y + dy < h {
                for dx in -1...1 {
                    var nx = x + dx
                    if wrap { nx = (nx + w) % w } else if nx < 0 || nx >= w { continue }
                    let j = (y + dy) * w + nx
                    guard !asked[j] else { continue }
                    asked[j] = true
                    if accepts(j) { inside[j] = true; stack.append(j) }
                }
            }
        }
        return inside
    }

    /// `region` grown, through 8-neighbours (columns wrapping with `wrap`), over the cells within
    /// `reach` cells of it whose source value (the C channels of a cell of `source` [1, C, H, W])
    /// is at least twice as far from every cell farther than `reach + 2` from the region as from
    /// some cell of its core (`AppearanceSplit`): a nearest-neighbour split between the region's
    /// looks and the background's, so an object's lit face that the region missed joins it and
    /// the ground or sky beside it does not. Measured (`csd eval panorama --mask`, 2026-11-23):
    /// the bricks scene's green cube kept its lit face under every method without this (spread
    /// 1552–1891, ideal 172).
    public static func growByAppearance(_ region: [Bool], source: Tensor, reach: Int, blur: Int, wrap: Bool) -> [Bool] {
        guard reach > 0, let split = AppearanceSplit(region: region, source: source, reach: reach, blur: blur, wrap: wrap) else { return region }
        let (h, w) = (source.shape[2], source.shape[3])
        let near = dilate(Tensor(shape: [1, 1, h, w], storage: region.map { $0 ? 1 : 0 }), radius: reach, wrap: wrap).storage.map { $0 > 0 }
        return floodFill(from: region, width: w, height: h, wrap: wrap) { j in near[j] && split.looksLikeRegion(j) }
    }

    /// `mask` ([1, 1, H, W]) set to 0 outside the core of `region` wherever the source looks at
    /// least twice as much like the background as like the region (`AppearanceSplit`, the mirror
    /// of `growByAppearance`'s test). The blurs, the growing and the feathering spread a mask a few
    /// cells past its object, and there the edit painted a glow of the new colour onto the
    /// ground beside it: a green ball made yellow on snow left a yellow halo (29.8 dB of
    /// background, 2026-12-06).
    public static func trimmedByAppearance(_ mask: Tensor, region: [Bool], source: Tensor, reach: Int, blur: Int, wrap: Bool) -> Tensor {
        guard let split = AppearanceSplit(region: region, source: source, reach: reach, blur: blur, wrap: wrap) else { return mask }
        var out = mask
        for j in out.storage.indices where out.storage[j] > 0 && !split.core[j] && split.looksLikeBackground(j) { out.storage[j] = 0 }
        return out
    }

    /// Maximum over the (2r+1)² cells around each cell of a [1, 1, H, W] map (columns wrap with
    /// `wrap`): the mask grows by r cells, so the rims of an object, where the prompts' difference
    /// is weaker than in its middle, are edited with the rest of it.
    public static func dilate(_ map: Tensor, radius r: Int, wrap: Bool) -> Tensor {
        guard r > 0 else { return map }
        let (h, w) = (map.shape[2], map.shape[3])
        var out = Tensor(zeros: map.shape)
        for y in 0..<h {
            for x in 0..<w {
                var m = -Float.infinity
                for dy in -r...r where y + dy >= 0 && y + dy < h {
                    for dx in -r...r {
                        var sx = x + dx
                        if wrap { sx = (sx + w) % w } else if sx < 0 || sx >= w { continue }
                        m = max(m, map.storage[(y + dy) * w + sx])
                    }
                }
                out.storage[y * w + x] = m
            }
        }
        return out
    }

    /// Mean over the (2r+1)² cells around each cell of a [1, 1, H, W] map; columns wrap with
    /// `wrap`, else the box is cut at the edges.
    public static func boxBlur(_ map: Tensor, radius r: Int, wrap: Bool) -> Tensor {
        let (h, w) = (map.shape[2], map.shape[3])
        var out = Tensor(zeros: map.shape)
        for y in 0..<h {
            for x in 0..<w {
                var (sum, count) = (Float(0), 0)
                for dy in -r...r where y + dy >= 0 && y + dy < h {
                    for dx in -r...r {
                        var sx = x + dx
                        if wrap { sx = (sx + w) % w } else if sx < 0 || sx >= w { continue }
                        sum += map.storage[(y + dy) * w + sx]
                        count += 1
                    }
                }
                out.storage[y * w + x] = sum / Float(count)
            }
        }
        return out
    }
}
