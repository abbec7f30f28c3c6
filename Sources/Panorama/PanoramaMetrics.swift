import Core

/// Seam error and style spread of an edited panorama.
public enum PanoramaMetrics {
    /// Mean over window boundaries (and the 0°/360° line when `wrap`) of |edited jump − original
    /// jump|, where a jump is the mean absolute colour step between the columns either side.
    public static func seamError(original: RGBImage, edited: RGBImage, boundaries: [Int], wrap: Bool) -> Double {
        let w = original.width
        func jump(_ image: RGBImage, _ x: Int) -> Double {
            let left = (x - 1 + w) % w
            var sum = 0.0
            for y in 0..<image.height {
                for c in 0..<3 { sum += abs(Double(image.pixels[(y * w + x) * 3 + c]) - Double(image.pixels[(y * w + left) * 3 + c])) }
            }
            return sum / Double(image.height * 3)
        }
        let columns = Set(boundaries.filter { $0 > 0 } + (wrap ? [0] : []))
        guard !columns.isEmpty else { return 0 }
        return columns.map { abs(jump(edited, $0) - jump(original, $0)) }.reduce(0, +) / Double(columns.count)
    }

    /// How much the edited region's tint varies from window to window (the definition):
    /// the variance across windows (summed over channels, 8-bit levels squared) of the mean colour
    /// of the `region` pixels each window holds (windows with fewer than 4 region pixels are
    /// skipped). Colours, not changes: two objects of different colours recoloured alike have no
    /// spread, where the variance of the colour change measured the edit's own aim (a green cone
    /// and a yellow cylinder turned blue: 2712 for the target caption rendered, more than any
    /// method). Shading leaves a floor, which the benchmark measures on the target rendered.
    public static func styleSpread(edited: RGBImage, region: [Bool], windowOrigins: [Int], window: Int) -> Double {
        variance(windowMeans(edited: edited, region: region, windowOrigins: windowOrigins, window: window))
    }

    /// Style spread object by object (the issue's parenthesis: "the same object or ground should
    /// not change tint from window to window"): `styleSpread` over each of `objects` (one region
    /// per object, or the ground alone for a ground edit) on its own, then the mean over the
    /// objects that at least two windows hold. The style spread pools every object's pixels, so
    /// two objects that truly differ in shading (a lit cube, a shaded cone, both blue) count as a
    /// change of tint between the windows that hold one and those that hold the other; here they
    /// do not, and what counts is one object whose parts the windows painted differently. Windows
    /// that hold part of a small object still see its shading across its width, so the true edit
    /// is not 0 (the benchmark measures it on the target rendered).
    public static func objectSpread(edited: RGBImage, objects: [[Bool]], windowOrigins: [Int], window: Int) -> Double {
        let spreads = objects.compactMap { region -> Double? in
            let means = windowMeans(edited: edited, region: region, windowOrigins: windowOrigins, window: window)
            return means.count > 1 ? variance(means) : nil
        }
        return spreads.isEmpty ? 0 : spreads.reduce(0, +) / Double(spreads.count)
    }

    /// Style spread with brightness taken out: each window's mean region colour is scaled to the
    /// same brightness (r + g + b equal to its mean over the windows) before the variance is taken.
    /// Shading changes how bright an object looks from one window to the next but barely its
    /// tint, which is what the issue's parenthesis asks to keep ("should not change tint from
    /// window to window"); a window that kept the old colour still counts in full.
    public static func tintSpread(edited: RGBImage, region: [Bool], windowOrigins: [Int], window: Int) -> Double {
        let means = windowMeans(edited: edited, region: region, windowOrigins: windowOrigins, window: window)
        guard !means.isEmpty else { return 0 }
        let brightness = means.map { $0.sum() }.reduce(0, +) / Double(means.count)
        return variance(means.map { $0 * (brightness / max($0.sum(), 1e-9)) })
    }

    /// Style spread against the truth: the variance across windows of the edited region's mean
    /// colour minus the `truth`'s (the target rendered) in the same window. Shading, and an object
    /// whose parts truly differ, are in both and cancel, so the true edit scores 0 and an edit
    /// flatter than the truth scores above it, where the style spread would rank it below; only
    /// what changes from window to window and the truth does not (a window that kept the old
    /// colour, a half painted dark) counts. A constant offset from the truth does not.
    public static func residualSpread(edited: RGBImage, truth: RGBImage, region: [Bool], windowOrigins: [Int], window: Int) -> Double {
        let e = windowMeans(edited: edited, region: region, windowOrigins: windowOrigins, window: window)
        let t = windowMeans(edited: truth, region: region, windowOrigins: windowOrigins, window: window)
        // One region for both, so both skip the same windows and the means pair up.
        return variance(zip(e, t).map { $0 - $1 })
    }

    /// What the edit put where the truth has only ground or sky: the share of the `background`
    /// pixels (those with no object in the source or in the truth) whose colour is more than
    /// `threshold` levels (mean absolute difference over the channels) from every background colour
    /// the truth has within `rows` rows of it. Comparing with the truth's colours along the row,
    /// not pixel by pixel, lets a textured ground (bricks) come out with its pattern shifted; what
    /// counts is an object the edit invented (a cube painted into every window of a ground edit)
    /// or ground that kept its old colour. The truth scores 0. The spreads do not see invented
    /// objects that every window paints alike.
    public static func strayShare(edited: RGBImage, truth: RGBImage, background: [Bool], threshold: Double = 50, rows: Int = 2) -> Double {
        precondition(edited.pixels.count == truth.pixels.count && background.count * 3 == edited.pixels.count, "strayShare: sizes differ")
        let (w, h) = (edited.width, edited.height)
        func colour(_ image: RGBImage, _ p: Int) -> SIMD4<Float> {
            SIMD4(Float(image.pixels[p * 3]), Float(image.pixels[p * 3 + 1]), Float(image.pixels[p * 3 + 2]), 0)
        }
        // The truth's background colours in each row, without repeats.
        let rowColours: [[SIMD4<Float>]] = (0..<h).map { y in
            Array(Set((0..<w).filter { background[y * w + $0] }.map { colour(truth, y * w + $0) }))
        }
        let limit = Float(threshold * 3)
        var (stray, count) = (0, 0)
        for y in 0..<h {
            let candidates = (max(0, y - rows)...min(h - 1, y + rows)).flatMap { rowColours[$0] }
            for x in 0..<w where background[y * w + x] {
                let c = colour(edited, y * w + x)
                count += 1
                if !candidates.contains(where: { let d = $0 - c; return pointwiseMax(d, -d).sum() <= limit }) { stray += 1 }
            }
        }
        return count > 0 ? Double(stray) / Double(count) : 0
    }

    /// The mean colour (8-bit levels) of the `region` pixels in each window that holds at least 4 of them.
    static func windowMeans(edited: RGBImage, region: [Bool], windowOrigins: [Int], window: Int) -> [SIMD3<Double>] {
        precondition(region.count == edited.width * edited.height, "spread: region and image sizes differ")
        let w = edited.width
        var means = [SIMD3<Double>]()
        for ox in windowOrigins {
            var sum = SIMD3<Double>(), count = 0
            for y in 0..<edited.height {
                for dx in 0..<window {
                    let x = (ox + dx) % w
                    guard region[y * w + x] else { continue }
                    let p = (y * w + x) * 3
                    sum += SIMD3(Double(edited.pixels[p]), Double(edited.pixels[p + 1]), Double(edited.pixels[p + 2]))
                    count += 1
                }
            }
            if count >= 4 { means.append(sum / Double(count)) }
        }
        return means
    }

    /// Variance of colours, summed over the channels; 0 for fewer than two.
    static func variance(_ colours: [SIMD3<Double>]) -> Double {
        guard colours.count > 1 else { return 0 }
        let mean = colours.reduce(SIMD3<Double>(), +) / Double(colours.count)
        return colours.map { let d = $0 - mean; return (d * d).sum() }.reduce(0, +) / Double(colours.count)
    }

    /// How strong the edit is: the mean absolute colour change, edited − original, over the
    /// `region` pixels and the three channels (8-bit levels). Seam error and style spread both fall
    /// as an edit weakens, so methods compare fairly only at a similar change.
    public static func meanChange(original: RGBImage, edited: RGBImage, region: [Bool]) -> Double {
        precondition(original.pixels.count == edited.pixels.count && region.count * 3 == edited.pixels.count, "meanChange: sizes differ")
        var (sum, count) = (0.0, 0)
        for (p, inside) in region.enumerated() where inside {
            for c in 0..<3 { sum += abs(Double(edited.pixels[p * 3 + c]) - Double(original.pixels[p * 3 + c])) }
            count += 3
        }
        return count > 0 ? sum / Double(count) : 0
    }
}
