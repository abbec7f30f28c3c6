import Foundation

extension RGBImage {
    /// The image as a [1, 3, H, W] tensor in [-1, 1] resized to `width`×`height`.
    public func workingTensor(width: Int, height: Int) -> Tensor {
        tensor.reshaped([1, 3, self.height, self.width]).resized(height: height, width: width)
    }

    /// This image plus an edit made at working size (`edited − original`, [3, h, w]) carried to
    /// full size: the difference is upsampled and added, so what the edit left alone keeps its
    /// detail. The colour changes; the alpha stays as it was.
    public func applying(difference: Tensor) -> RGBImage {
        RGBImage(width: width, height: height, pixels: Self.adding(difference, to: pixels, width: width, height: height), alpha: alpha)
    }

    /// Interleaved RGB `samples` (`width`×`height`, full scale `Sample.max`) with `difference`
    /// ([3, h, w] in the [−1, 1] units of `tensor`) upsampled to their size and added, rounded
    /// and clamped: the one rule by which an edit reaches full size at any bit depth.
    public static func adding<Sample: FixedWidthInteger & UnsignedInteger>(_ difference: Tensor, to samples: [Sample], width: Int, height: Int) -> [Sample] {
        let up = difference.reshaped([1] + difference.shape).resized(height: height, width: width)
        let (scale, top) = (Float(Sample.max) / 2, Float(Sample.max))
        var out = samples
        let plane = width * height
        for p in 0..<plane {
            for c in 0..<3 {
                let v = Float(out[p * 3 + c]) + scale * up.storage[c * plane + p]
                out[p * 3 + c] = Sample(max(0, min(top, v.rounded())))
            }
        }
        return out
    }

    /// Scaled to `height` rows (nearest), for contact sheets.
    public func thumbnail(height h: Int) -> RGBImage {
        let w = max(1, width * h / height)
        let t = tensor.reshaped([1, 3, height, width]).resized(height: h, width: w)
        return RGBImage(tensor: t.reshaped([3, h, w]).clamped(to: -1...1))
    }
}
