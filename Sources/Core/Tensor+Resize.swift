import Foundation

/// Separable resampling of NCHW tensors with a triangle (bilinear) filter, widened when shrinking
/// so that downscaling averages instead of aliasing (like `F.interpolate(..., antialias=True)`).
extension Tensor {
    public func resized(height ho: Int, width wo: Int) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        if ho == h && wo == w { return self }
        let horizontal = Tensor.resampleWeights(from: w, to: wo)
        let vertical = Tensor.resampleWeights(from: h, to: ho)
        var rows = Tensor(zeros: [n, c, h, wo])
        var out = Tensor(zeros: [n, c, ho, wo])
        storage.withUnsafeBufferPointer { s in
            rows.storage.withUnsafeMutableBufferPointer { r in
                let (sp, rp) = (s.baseAddress!, r.baseAddress!)
                parallelFor(n * c * h) { row in
                    let src = sp + row * w, dst = rp + row * wo
                    for (x, taps) in horizontal.enumerated() {
                        var v: Float = 0
                        for (i, weight) in taps { v += src[i] * weight }
                        dst[x] = v
                    }
                }
            }
        }
        rows.storage.withUnsafeBufferPointer { r in
            out.storage.withUnsafeMutableBufferPointer { o in
                let (rp, op) = (r.baseAddress!, o.baseAddress!)
                parallelFor(n * c) { plane in
                    let src = rp + plane * h * wo, dst = op + plane * ho * wo
                    for (y, taps) in vertical.enumerated() {
                        let line = dst + y * wo
                        for x in 0..<wo { line[x] = 0 }
                        for (i, weight) in taps {
                            let from = src + i * wo
                            for x in 0..<wo { line[x] += from[x] * weight }
                        }
                    }
                }
            }
        }
        return out
    }

    /// For each output index, the input indices and weights (summing to 1).
    static func resampleWeights(from input: Int, to output: Int) -> [[(Int, Float)]] {
        let scale = Double(input) / Double(output)
        let support = max(1, scale)
        return (0..<output).map { o in
            let centre = (Double(o) + 0.5) * scale - 0.5
            let lo = Int((centre - support).rounded(.down)), hi = Int((centre + support).rounded(.up))
            var taps = [(Int, Float)]()
            var total = 0.0
            for i in lo...hi {
                let weight = max(0, 1 - abs(Double(i) - centre) / support)
                guard weight > 0 else { continue }
                taps.append((min(max(i, 0), input - 1), Float(weight)))
                total += weight
            }
            return taps.map { ($0.0, Float(Double($0.1) / total)) }
        }
    }
}
