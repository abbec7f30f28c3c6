import Core
import Foundation

/// A radiance field on a dense voxel grid (Plenoxels-style, without spherical harmonics): a
/// density logit and three colour logits at every grid point, trilinearly interpolated, with
/// σ = exp(s) and colour = sigmoid(k). Rendered by the NeRF quadrature (Mildenhall et al. 2020,
/// eq. 3): `C = Σ T_i α_i c_i + T_{N+1}·background`, `α_i = 1 − exp(−σ_i δ)`, `T_i = Π_{j<i}(1 − α_j)`,
/// with N evenly spaced samples over the ray's span inside the box. Rays leaving the box see a
/// learnt background colour.
public final class VoxelRadianceField {
    public let resolution: Int
    public let boundsMin: SIMD3<Float>, boundsMax: SIMD3<Float>
    public let samplesPerRay: Int
    /// Grid values, 4 per point (density logit, then R, G, B logits); x fastest, then y, then z.
    public var values: [Float]
    /// Background colour logits.
    public var background: SIMD3<Float>
    /// Largest density logit (σ ≤ e^8), to keep the exponential finite.
    static let maximumLogit: Float = 8

    public init(resolution: Int, boundsMin: SIMD3<Float>, boundsMax: SIMD3<Float>, samplesPerRay: Int = 64, initialDensityLogit: Float = -3) {
        precondition(resolution >= 2 && samplesPerRay >= 1, "VoxelRadianceField: resolution ≥ 2 and samples ≥ 1")
        (self.resolution, self.boundsMin, self.boundsMax, self.samplesPerRay) = (resolution, boundsMin, boundsMax, samplesPerRay)
        values = [Float](repeating: 0, count: resolution * resolution * resolution * 4)
        for p in 0..<(resolution * resolution * resolution) { values[p * 4] = initialDensityLogit }
        background = .zero
    }

    /// Where `ray` is inside the box, as distances along it, or nil when it misses.
    @inline(__always)
    func span(_ ray: Ray) -> (near: Float, far: Float)? {
        var (near, far) = (Float(0), Float.infinity)
        for a in 0..<3 {
            let d = ray.direction[a]
            if abs(d) < 1e-9 {
                if ray.origin[a] < boundsMin[a] || ray.origin[a] > boundsMax[a] { return nil }
                continue
            }
            var t0 = (boundsMin[a] - ray.origin[a]) / d, t1 = (boundsMax[a] - ray.origin[a]) / d
            if t0 > t1 { swap(&t0, &t1) }
            near = max(near, t0); far = min(far, t1)
        }
        return far > near ? (near, far) : nil
    }

    /// The 8 grid points around `p` (clamped to the box) and their trilinear weights.
    @inline(__always)
    func corners(_ p: SIMD3<Float>) -> (indices: SIMD8<Int>, weights: SIMD8<Float>) {
        let scale = Float(resolution - 1)
        var g = (p - boundsMin) / (boundsMax - boundsMin) * scale
        g = SIMD3(min(max(g.x, 0), scale), min(max(g.y, 0), scale), min(max(g.z, 0), scale))
        let i0 = SIMD3<Int>(min(Int(g.x), resolution - 2), min(Int(g.y), resolution - 2), min(Int(g.z), resolution - 2))
        let f = g - SIMD3<Float>(Float(i0.x), Float(i0.y), Float(i0.z))
        var indices = SIMD8<Int>(), weights = SIMD8<Float>()
        for c in 0..<8 {
            let (dx, dy, dz) = (c & 1, (c >> 1) & 1, (c >> 2) & 1)
            indices[c] = ((i0.z + dz) * resolution + (i0.y + dy)) * resolution + (i0.x + dx)
            weights[c] = (dx == 1 ? f.x : 1 - f.x) * (dy == 1 ? f.y : 1 - f.y) * (dz == 1 ? f.z : 1 - f.z)
        }
        return (indices, weights)
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    /// Interpolated logits at `p`: density and colour.
    @inline(__always)
    func logits(at p: SIMD3<Float>) -> (density: Float, color: SIMD3<Float>, corners: (indices: SIMD8<Int>, weights: SIMD8<Float>)) {
        let c = corners(p)
        var s: Float = 0, k = SIMD3<Float>()
        for j in 0..<8 {
            let base = c.indices[j] * 4, w = c.weights[j]
            s += w * values[base]
            k += w * SIMD3(values[base + 1], values[base + 2], values[base + 3])
        }
        return (s, k, c)
    }

    var backgroundColor: SIMD3<Float> { SIMD3(Self.sigmoid(background.x), Self.sigmoid(background.y), Self.sigmoid(background.z)) }

    /// The colour seen along `ray`, in [0, 1]; `jitter` in [0, 1) shifts the samples within their intervals.
    public func render(_ ray: Ray, jitter: Float = 0.5) -> SIMD3<Float> {
        renderAndDifferentiate(ray, jitter: jitter, lossGradient: nil, into: nil).color
    }

    /// Renders `ray`; when `lossGradient` (colour → ∂loss/∂colour) is given, adds ∂loss/∂values
    /// to `gradient` (4 per grid point) and returns ∂loss/∂background logits.
    @discardableResult
    func renderAndDifferentiate(_ ray: Ray, jitter: Float, lossGradient: ((SIMD3<Float>) -> SIMD3<Float>)?,
                                into gradient: UnsafeMutablePointer<Float>?) -> (color: SIMD3<Float>, backgroundGradient: SIMD3<Float>) {
        let b = backgroundColor
        guard let (near, far) = span(ray) else {
            return (b, lossGradient.map { $0(b) * b * (1 - b) } ?? .zero)
        }
        let wantsGradient = lossGradient != nil && gradient != nil
        let n = samplesPerRay
        let delta = (far - near) / Float(n)
        var sigmas = [Float](repeating: 0, count: n), colors = [SIMD3<Float>](repeating: .zero, count: n)
        var transmittance = [Float](repeating: 1, count: n + 1)
        var color = SIMD3<Float>()
        var cornerList = [(indices: SIMD8<Int>, weights: SIMD8<Float>)]()
        if wantsGradient { cornerList.reserveCapacity(n) }
        for i in 0..<n {
            let p = ray.origin + ray.direction * (near + (Float(i) + jitter) * delta)
            let l = logits(at: p)
            let sigma = Foundation.exp(min(l.density, Self.maximumLogit))
            let c = SIMD3(Self.sigmoid(l.color.x), Self.sigmoid(l.color.y), Self.sigmoid(l.color.z))
            let alpha = 1 - Foundation.exp(-sigma * delta)
            color += transmittance[i] * alpha * c
            transmittance[i + 1] = transmittance[i] * (1 - alpha)
            sigmas[i] = sigma; colors[i] = c
            if wantsGradient { cornerList.append(l.corners) }
        }
        color += transmittance[n] * b
        guard wantsGradient, let lossGradient, let gradient else { return (color, .zero) }
        let g = lossGradient(color)
        // ∂C/∂c_i = w_i; ∂C/∂σ_i = δ·(T_{i+1} c_i − S_i), S_i = Σ_{j>i} w_j c_j + T_{N+1} b.
        var suffix = transmittance[n] * b
        for i in stride(from: n - 1, through: 0, by: -1) {
            let weight = transmittance[i] - transmittance[i + 1]
            let dColor = weight * g * colors[i] * (1 - colors[i])
            var dDensity = delta * ((transmittance[i + 1] * colors[i] - suffix) * g).sum() * sigmas[i]
            if sigmas[i] >= Foundation.exp(Self.maximumLogit) { dDensity = 0 }
            suffix += weight * colors[i]
            let c = cornerList[i]
            for j in 0..<8 {
                let base = c.indices[j] * 4, w = c.weights[j]
                gradient[base] += w * dDensity
                gradient[base + 1] += w * dColor.x
                gradient[base + 2] += w * dColor.y
                gradient[base + 3] += w * dColor.z
            }
        }
        return (color, transmittance[n] * g * b * (1 - b))
    }

    /// Renders every pixel of `view`.
    public func render(view: NeRFView) -> RGBImage {
        let (w, h) = (view.image.width, view.image.height)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            parallelFor(h) { y in
                for x in 0..<w {
                    let c = self.render(view.ray(x: x, y: y))
                    for k in 0..<3 { out[(y * w + x) * 3 + k] = UInt8(max(0, min(255, (c[k] * 255).rounded()))) }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}
