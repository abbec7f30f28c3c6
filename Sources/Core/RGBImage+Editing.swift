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
        let up = difference.reshaped([1] + difference.shape).resized(height: height, width: width)
        var pixels = self.pixels
        let plane = width * height
        for p in 0..<plane {
            for c in 0..<3 {
                let v = Float(pixels[p * 3 + c]) + 127.5 * up.storage[c * plane + p]
                pixels[p * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels, alpha: alpha)
    }

    /// Scaled to `height` rows (nearest), for contact sheets.
    public func thumbnail(height h: Int) -> RGBImage {
        let w = max(1, width * h / height)
        let t = tensor.reshaped([1, 3, height, width]).resized(height: h, width: w)
        return RGBImage(tensor: t.reshaped([3, h, w]).clamped(to: -1...1))
    }
}
