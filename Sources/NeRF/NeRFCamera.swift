import Foundation

/// A pinhole camera as nerfstudio writes one: image size, intrinsics in pixels, OpenCV
/// distortion, and a camera-to-world pose with OpenGL axes (the camera looks down −Z, +Y up).
public struct NeRFCamera: Sendable, Equatable {
    public var width: Int, height: Int
    public var focalX: Float, focalY: Float, centerX: Float, centerY: Float
    /// OpenCV distortion as nerfstudio orders it: k1, k2, k3, k4, p1, p2 (zeros for none).
    public var distortion: [Float]
    /// Camera-to-world, 4x4 rows.
    public var cameraToWorld: [[Float]]

    public init(width: Int, height: Int, focalX: Float, focalY: Float, centerX: Float, centerY: Float,
                distortion: [Float] = [0, 0, 0, 0, 0, 0], cameraToWorld: [[Float]]) {
        (self.width, self.height, self.focalX, self.focalY, self.centerX, self.centerY) = (width, height, focalX, focalY, centerX, centerY)
        (self.distortion, self.cameraToWorld) = (distortion, cameraToWorld)
    }

    public var position: SIMD3<Float> { [cameraToWorld[0][3], cameraToWorld[1][3], cameraToWorld[2][3]] }

    var isDistorted: Bool { distortion.contains { $0 != 0 } }

    /// The ray through pixel centre (`x` + 0.5, `y` + 0.5).
    @inline(__always)
    public func ray(x: Int, y: Int) -> Ray { ray(x: Float(x) + 0.5, y: Float(y) + 0.5) }

    /// The ray through image point (`x`, `y`) in pixels.
    public func ray(x: Float, y: Float) -> Ray {
        var u = (x - centerX) / focalX, v = (y - centerY) / focalY
        if isDistorted { (u, v) = undistort(u, v) }
        let m = cameraToWorld
        let d = SIMD3<Float>(m[0][0] * u - m[0][1] * v - m[0][2], m[1][0] * u - m[1][1] * v - m[1][2], m[2][0] * u - m[2][1] * v - m[2][2])
        return Ray(origin: position, direction: d / (d * d).sum().squareRoot())
    }

    /// Where the OpenCV model sends normalised image point (u, v) (y down).
    func distort(_ u: Float, _ v: Float) -> (Float, Float) {
        let (k1, k2, k3, k4, p1, p2) = (distortion[0], distortion[1], distortion[2], distortion[3], distortion[4], distortion[5])
        let r2 = u * u + v * v
        let radial = 1 + r2 * (k1 + r2 * (k2 + r2 * (k3 + r2 * k4)))
        return (u * radial + 2 * p1 * u * v + p2 * (r2 + 2 * u * u), v * radial + 2 * p2 * u * v + p1 * (r2 + 2 * v * v))
    }

    /// Inverts `distort` by Newton's method on the 2×2 Jacobian (as nerfstudio's
    /// `radial_and_tangential_undistort` does), ten iterations.
    func undistort(_ ud: Float, _ vd: Float) -> (Float, Float) {
        var (u, v) = (ud, vd)
        for _ in 0..<10 {
            let (fu, fv) = distort(u, v)
            let h: Float = 1e-4
            let (au, av) = distort(u + h, v), (bu, bv) = distort(u, v + h)
            let (j00, j10, j01, j11) = ((au - fu) / h, (av - fv) / h, (bu - fu) / h, (bv - fv) / h)
            let det = j00 * j11 - j01 * j10
            guard abs(det) > 1e-8 else { break }
            let (eu, ev) = (fu - ud, fv - vd)
            u -= (j11 * eu - j01 * ev) / det
            v -= (-j10 * eu + j00 * ev) / det
        }
        return (u, v)
    }

    /// Where world point `p` lands in the image (pixels, undistorted pinhole) and its distance
    /// from the camera; nil behind it.
    public func project(_ p: SIMD3<Float>) -> (x: Float, y: Float, distance: Float)? {
        let m = cameraToWorld
        let d = p - position
        // Camera axes: right (column 0), up (column 1), back (column 2).
        let right = SIMD3<Float>(m[0][0], m[1][0], m[2][0]), up = SIMD3<Float>(m[0][1], m[1][1], m[2][1]), back = SIMD3<Float>(m[0][2], m[1][2], m[2][2])
        let (cx, cy, cz) = ((d * right).sum(), (d * up).sum(), (d * back).sum())
        guard cz < -1e-6 else { return nil }
        return (centerX + focalX * cx / -cz, centerY - focalY * cy / -cz, (d * d).sum().squareRoot())
    }

    /// The same camera for images of `newWidth`×`newHeight` (intrinsics scaled per axis).
    public func resized(width newWidth: Int, height newHeight: Int) -> NeRFCamera {
        var c = self
        let (sx, sy) = (Float(newWidth) / Float(width), Float(newHeight) / Float(height))
        (c.width, c.height) = (newWidth, newHeight)
        c.focalX *= sx; c.centerX *= sx; c.focalY *= sy; c.centerY *= sy
        return c
    }

    /// The camera for images `factor` times smaller on each side.
    public func downscaled(by factor: Int) -> NeRFCamera {
        var c = self
        let f = Float(factor)
        c.width = width / factor; c.height = height / factor
        c.focalX /= f; c.focalY /= f; c.centerX /= f; c.centerY /= f
        return c
    }
}

/// A ray: origin and unit direction.
public struct Ray: Sendable {
    public var origin: SIMD3<Float>
    public var direction: SIMD3<Float>
    public init(origin: SIMD3<Float>, direction: SIMD3<Float>) { (self.origin, self.direction) = (origin, direction) }
}
