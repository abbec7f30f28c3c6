import Foundation

extension Tensor {
    /// `self` ([3, h, w], the change an edit made at working size) carried to `guide`'s size:
    /// along `guide`'s edges (`guidedUpsampled`) where `guide` is another size, as it is where
    /// the edit ran at the picture's own size. Every editor (image, video, panorama) carries its
    /// change this way.
    public func carried(to guide: RGBImage, lowGuide: Tensor) -> Tensor {
        guard guide.width != shape[2] || guide.height != shape[1] else { return self }
        return guidedUpsampled(lowGuide: lowGuide, guide: guide)
    }

    /// `self` ([3, h, w], an edit made at working size) upsampled to `guide`'s size by joint
    /// bilateral upsampling (Kopf et al. 2007): each full-size pixel averages the 4×4 working-size
    /// samples around it, weighted by distance (Gaussian, σ one working pixel) and by how close
    /// its own colour in `guide` is to each sample's colour in `lowGuide` ([3, h, w], `guide`
    /// at working size, both in [−1, 1]; Gaussian, σ `rangeSigma`). An edit then stops at the
    /// edges of the full-size picture instead of spreading a working pixel past them.
    public func guidedUpsampled(lowGuide: Tensor, guide: RGBImage, rangeSigma: Float = 0.2) -> Tensor {
        let (h, w) = (shape[1], shape[2])
        precondition(shape.count == 3 && shape[0] == 3 && lowGuide.shape == [3, h, w], "guidedUpsampled: \(shape) with guide \(lowGuide.shape)")
        let (W, H) = (guide.width, guide.height)
        var out = Tensor(zeros: [3, H, W])
        let (lowPlane, highPlane) = (h * w, H * W)
        let rangeScale = -1 / (2 * rangeSigma * rangeSigma)
        storage.withUnsafeBufferPointer { d in
            lowGuide.storage.withUnsafeBufferPointer { g in
                out.storage.withUnsafeMutableBufferPointer { o in
                    guide.pixels.withUnsafeBufferPointer { pixels in
                        for y in 0..<H {
                            let v = (Float(y) + 0.5) * Float(h) / Float(H) - 0.5
                            let v0 = Int(v.rounded(.down))
                            for x in 0..<W {
                                let u = (Float(x) + 0.5) * Float(w) / Float(W) - 0.5
                                let u0 = Int(u.rounded(.down))
                                let p = (y * W + x) * 3
                                let colour = SIMD3<Float>(Float(pixels[p]), Float(pixels[p + 1]), Float(pixels[p + 2])) / 127.5 - 1
                                var sum = SIMD3<Float>(), total: Float = 0
                                for qy in max(0, v0 - 1)...min(h - 1, v0 + 2) {
                                    for qx in max(0, u0 - 1)...min(w - 1, u0 + 2) {
                                        let q = qy * w + qx
                                        let e = colour - SIMD3(g[q], g[lowPlane + q], g[2 * lowPlane + q])
                                        let (dy, dx) = (Float(qy) - v, Float(qx) - u)
                                        let weight = Foundation.exp(-(dx * dx + dy * dy) / 2 + rangeScale * (e * e).sum())
                                        total += weight
                                        sum += weight * SIMD3(d[q], d[lowPlane + q], d[2 * lowPlane + q])
                                    }
                                }
                                let value = total > 0 ? sum / total : SIMD3<Float>()
                                (o[y * W + x], o[highPlane + y * W + x], o[2 * highPlane + y * W + x]) = (value.x, value.y, value.z)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
