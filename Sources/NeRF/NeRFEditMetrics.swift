import Core
import Foundation

/// Measures of an edited field's views, for `csd eval nerf`.
public enum NeRFEditMetrics {
    /// The variance across views of the mean colour (8-bit levels) of each view's `regions`
    /// pixels, summed over the channels; views with fewer than 4 such pixels are left out.
    public static func colourSpread(views: [RGBImage], regions: [[Bool]]) -> Double {
        precondition(views.count == regions.count, "colourSpread: one region per view")
        return spread(views.indices.map { v in { p in SIMD3(Double(views[v].pixels[3 * p]), Double(views[v].pixels[3 * p + 1]), Double(views[v].pixels[3 * p + 2])) } },
                      regions: regions)
    }

    /// The variance across views of each view's mean of `colour` over its region (views with
    /// fewer than 4 region pixels left out), summed over the channels.
    static func spread(_ colour: [(Int) -> SIMD3<Double>], regions: [[Bool]]) -> Double {
        var means = [SIMD3<Double>]()
        for (pixel, region) in zip(colour, regions) {
            var (sum, count) = (SIMD3<Double>(), 0)
            for (p, inside) in region.enumerated() where inside {
                sum += pixel(p)
                count += 1
            }
            if count >= 4 { means.append(sum / Double(count)) }
        }
        guard means.count > 1 else { return 0 }
        let mean = means.reduce(SIMD3<Double>(), +) / Double(means.count)
        return means.map { let d = $0 - mean; return (d * d).sum() }.reduce(0, +) / Double(means.count)
    }

    /// `colourSpread` of the edit's residual: the variance across views of the mean colour of
    /// `views − truths` over each view's region, summed over the channels. Shading that changes
    /// from view to view is in the truth too, so what is left is the edit's own inconsistency.
    public static func residualSpread(views: [RGBImage], truths: [RGBImage], regions: [[Bool]]) -> Double {
        precondition(views.count == truths.count && views.count == regions.count, "residualSpread: one truth and region per view")
        return spread(views.indices.map { v in { p in
            SIMD3((0..<3).map { Double(views[v].pixels[3 * p + $0]) - Double(truths[v].pixels[3 * p + $0]) })
        } }, regions: regions)
    }

    /// The mean absolute difference (8-bit levels, over channels) between view A's pixels in
    /// `region` and view B's colour where they land in B, each pixel carried by A's rendered
    /// depth into the world and projected into B (nearest pixel). Pixels that land outside B,
    /// behind it, or where B's own depth says something nearer hides them (by more than 5%) are
    /// left out. Returns the error and the number of pixels compared.
    public static func reprojectionError(from a: (image: RGBImage, depth: [Float], camera: NeRFCamera),
                                         to b: (image: RGBImage, depth: [Float], camera: NeRFCamera), region: [Bool]) -> (error: Double, pixels: Int) {
        let (w, h) = (a.camera.width, a.camera.height)
        precondition(region.count == w * h && a.depth.count == w * h && b.depth.count == b.camera.width * b.camera.height, "reprojectionError: sizes")
        var (sum, count) = (0.0, 0)
        for y in 0..<h {
            for x in 0..<w where region[y * w + x] {
                let ray = a.camera.ray(x: x, y: y)
                let point = ray.origin + ray.direction * a.depth[y * w + x]
                guard let q = b.camera.project(point) else { continue }
                let (bx, by) = (Int(q.x.rounded(.down)), Int(q.y.rounded(.down)))
                guard bx >= 0, by >= 0, bx < b.camera.width, by < b.camera.height else { continue }
                let j = by * b.camera.width + bx
                // Compare along B's ray through that pixel: its depth is the distance to what B sees.
                guard b.depth[j] >= 0.95 * q.distance else { continue }
                for c in 0..<3 { sum += abs(Double(a.image.pixels[(y * w + x) * 3 + c]) - Double(b.image.pixels[j * 3 + c])) }
                count += 1
            }
        }
        return (count > 0 ? sum / Double(3 * count) : 0, count)
    }
}
