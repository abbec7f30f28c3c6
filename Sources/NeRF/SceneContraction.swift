import Foundation

/// The scene contraction of mip-NeRF 360 (Barron et al. 2022, eq. 10) with the L∞ norm, as
/// nerfstudio's `SceneContraction(order=inf)` uses it: world points are first normalised,
/// `p = (x − center) / radius`, then `contract(p) = p` where `‖p‖∞ ≤ 1` and
/// `(2 − 1/‖p‖∞)·p/‖p‖∞` beyond, so all of space, out to the horizon, lands in the cube [−2, 2]³.
public struct SceneContraction: Equatable, Sendable {
    /// World point mapped to the origin.
    public var center: SIMD3<Float>
    /// World distance mapped to 1: the half-width of the cube kept at full resolution.
    public var radius: Float

    public init(center: SIMD3<Float>, radius: Float) {
        (self.center, self.radius) = (center, radius)
    }

    /// The contraction for cameras looking at a common subject: the centre is the point nearest
    /// (in least squares) to every camera's optical axis, the radius half the median distance
    /// from the cameras to it. Cameras with parallel axes fall back to their mean position and
    /// their largest distance from it.
    public init(cameraToWorld poses: [[[Float]]]) {
        let origins = poses.map { SIMD3<Float>($0[0][3], $0[1][3], $0[2][3]) }
        let mean = origins.reduce(SIMD3<Float>(), +) / Float(max(1, origins.count))
        // Σ (I − d dᵀ) c = Σ (I − d dᵀ) o, with d each camera's forward axis (−Z column).
        var a = [[Double]](repeating: [0, 0, 0], count: 3), b = [Double](repeating: 0, count: 3)
        for (pose, o) in zip(poses, origins) {
            var d = SIMD3<Double>(-Double(pose[0][2]), -Double(pose[1][2]), -Double(pose[2][2]))
            let length = (d * d).sum().squareRoot()
            guard length > 0 else { continue }
            d /= length
            for i in 0..<3 {
                for j in 0..<3 {
                    let m = (i == j ? 1 : 0) - d[i] * d[j]
                    a[i][j] += m
                    b[i] += m * Double(o[j])
                }
            }
        }
        var center = mean
        if let solution = Self.solve(a, b) {
            let candidate = SIMD3<Float>(Float(solution[0]), Float(solution[1]), Float(solution[2]))
            // An axis intersection far beyond the cameras means near-parallel axes.
            let spread = origins.map { ($0 - mean) }.map { ($0 * $0).sum().squareRoot() }.max() ?? 0
            let offset = candidate - mean
            if candidate.x.isFinite && candidate.y.isFinite && candidate.z.isFinite && (offset * offset).sum().squareRoot() <= 4 * max(spread, 1e-3) {
                center = candidate
            }
        }
        let distances = origins.map { (($0 - center) * ($0 - center)).sum().squareRoot() }.sorted()
        let median = distances.isEmpty ? 1 : distances[distances.count / 2]
        let radius = center == mean ? (distances.last ?? 1) : median / 2
        self.init(center: center, radius: radius > 1e-6 && radius.isFinite ? radius : 1)
    }

    /// Solves the 3×3 system by Cramer's rule, or nil when it is (nearly) singular.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        func det(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let d = det(a)
        let scale = a.flatMap { $0 }.map(abs).max() ?? 0
        guard abs(d) > 1e-6 * scale * scale * scale, scale > 0 else { return nil }
        return (0..<3).map { k in
            var m = a
            for i in 0..<3 { m[i][k] = b[i] }
            return det(m) / d
        }
    }

    /// `p` in normalised units.
    @inline(__always)
    public func normalized(_ x: SIMD3<Float>) -> SIMD3<Float> { (x - center) / radius }

    /// The contracted point of a normalised point, in [−2, 2]³.
    @inline(__always)
    public static func contract(_ p: SIMD3<Float>) -> SIMD3<Float> {
        let n = max(abs(p.x), max(abs(p.y), abs(p.z)))
        return n <= 1 ? p : p * ((2 - 1 / n) / n)
    }
}
