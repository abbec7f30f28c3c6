import Foundation

/// Measurements of an edit against its source.
public enum EditMetrics {
    /// PSNR in dB between two same-sized images over the pixels where `mask` is true (all when nil).
    public static func psnr(_ a: RGBImage, _ b: RGBImage, mask: [Bool]? = nil) -> Double {
        precondition(a.width == b.width && a.height == b.height, "psnr: sizes differ")
        var (sum, count) = (0.0, 0)
        for p in 0..<(a.width * a.height) where mask?[p] ?? true {
            for c in 0..<3 {
                let d = Double(a.pixels[p * 3 + c]) - Double(b.pixels[p * 3 + c])
                sum += d * d
            }
            count += 3
        }
        guard count > 0 else { return .infinity }
        return 10 * log10(255 * 255 / max(sum / Double(count), 1e-12))
    }

    /// Flicker the edit adds: mean |(E_t − E_{t−1}) − (O_t − O_{t−1})| over pixels, channels and
    /// frame pairs, in 8-bit levels. Motion already in the source does not count.
    public static func addedFlicker(source: [RGBImage], edited: [RGBImage]) -> Double {
        precondition(source.count == edited.count, "addedFlicker: frame counts differ")
        guard source.count > 1 else { return 0 }
        var (sum, count) = (0.0, 0)
        for t in 1..<source.count {
            for i in 0..<source[t].pixels.count {
                let e = Double(edited[t].pixels[i]) - Double(edited[t - 1].pixels[i])
                let o = Double(source[t].pixels[i]) - Double(source[t - 1].pixels[i])
                sum += abs(e - o)
                count += 1
            }
        }
        return sum / Double(count)
    }

    /// How far an edit went toward its ideal: `1 − err(edited, ideal) / err(source, ideal)`, err
    /// the squared error summed over every frame's pixels where `region` is true (the pixels the
    /// ideal edit changes). 1 reaches the ideal, 0 is the source; nil when the region is empty
    /// or the source already matches the ideal there.
    public static func completion(edited: [RGBImage], source: [RGBImage], ideal: [RGBImage], region: [[Bool]]) -> Double? {
        precondition(edited.count == source.count && source.count == ideal.count && ideal.count == region.count, "completion: frame counts differ")
        var comparison = IdealComparison()
        for k in edited.indices { comparison.add(edited: edited[k], source: source[k], ideal: ideal[k], changed: region[k]) }
        return comparison.completion
    }

    /// Per pixel, whether `a` and `b` differ in any channel by more than `tolerance` levels (0:
    /// at all, for exact renders; a few levels for pictures that went through a lossy codec).
    public static func differing(_ a: RGBImage, _ b: RGBImage, byMoreThan tolerance: Int = 0) -> [Bool] {
        precondition(a.width == b.width && a.height == b.height, "differing: sizes differ")
        var out = [Bool](repeating: false, count: a.width * a.height)
        for i in a.pixels.indices where abs(Int(a.pixels[i]) - Int(b.pixels[i])) > tolerance { out[i / 3] = true }
        return out
    }

    /// The pixels within `distance` (in x and y) of `region`, a `width`×`height` mask, but outside
    /// it: where an edit's fringe shows.
    public static func ring(around region: [Bool], width: Int, height: Int, distance: Int) -> [Bool] {
        precondition(region.count == width * height, "ring: mask size")
        var ring = [Bool](repeating: false, count: region.count)
        for y in 0..<height {
            for x in 0..<width where !region[y * width + x] {
                search: for yy in max(0, y - distance)...min(height - 1, y + distance) {
                    for xx in max(0, x - distance)...min(width - 1, x + distance) where region[yy * width + xx] {
                        ring[y * width + x] = true
                        break search
                    }
                }
            }
        }
        return ring
    }
}
