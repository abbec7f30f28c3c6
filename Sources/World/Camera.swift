import Foundation

/// A pinhole camera: position, orientation and intrinsics, with the nerfstudio/Blender
/// convention for its pose (camera looks down −Z, +Y is up in camera space).
public struct Camera: Codable, Equatable, Sendable {
    public var position: SIMD3<Float>
    /// Camera-to-world rotation columns: right, up, back (−forward).
    public var right: SIMD3<Float>, up: SIMD3<Float>, back: SIMD3<Float>
    /// Horizontal field of view, radians.
    public var fieldOfView: Float

    /// A camera at `position` looking at `target`, with world +Y up.
    public init(position: SIMD3<Float>, target: SIMD3<Float>, fieldOfView: Float = 0.9) {
        self.position = position
        let forward = Camera.normalize(target - position)
        let r = Camera.normalize(Camera.cross(forward, [0, 1, 0]))
        right = r
        up = Camera.cross(r, forward)
        back = -forward
        self.fieldOfView = fieldOfView
    }

    /// The camera of a 4x4 camera-to-world matrix (rows, as `cameraToWorld` writes it) whose
    /// focal length is `focal` pixels for images `width` wide.
    public init(cameraToWorld m: [[Float]], focal: Float, width: Int) {
        position = [m[0][3], m[1][3], m[2][3]]
        right = [m[0][0], m[1][0], m[2][0]]
        up = [m[0][1], m[1][1], m[2][1]]
        back = [m[0][2], m[1][2], m[2][2]]
        fieldOfView = 2 * Foundation.atan(Float(width) / 2 / focal)
    }

    /// Where the world point `p` appears in an image `width`×`height` (pixel coordinates, pixel
    /// centres at +0.5), or nil when it is behind the camera.
    @inline(__always)
    public func project(_ p: SIMD3<Float>, width: Int, height: Int, focal f: Float) -> SIMD2<Float>? {
        let q = p - position
        let depth = -Camera.dot(q, back)
        guard depth > 1e-4 else { return nil }
        return [Float(width) / 2 + f * Camera.dot(q, right) / depth, Float(height) / 2 - f * Camera.dot(q, up) / depth]
    }

    /// A camera on a circle of `radius` around the scene centre at `height`, at `angle` radians.
    public static func orbit(angle: Float, radius: Float = 6.5, height: Float = 2.6, target: SIMD3<Float> = [0, 0.5, 0]) -> Camera {
        Camera(position: [radius * Foundation.sin(angle), height, radius * Foundation.cos(angle)], target: target)
    }

    /// Focal length in pixels for an image `width` wide.
    public func focal(width: Int) -> Float { Float(width) / 2 / Foundation.tan(fieldOfView / 2) }

    /// The 4x4 camera-to-world matrix, rows.
    public var cameraToWorld: [[Float]] {
        [[right.x, up.x, back.x, position.x], [right.y, up.y, back.y, position.y],
         [right.z, up.z, back.z, position.z], [0, 0, 0, 1]]
    }

    /// World-space direction of the ray through pixel centre (x + 0.5, y + 0.5).
    @inline(__always)
    public func rayDirection(x: Float, y: Float, width: Int, height: Int, focal f: Float) -> SIMD3<Float> {
        let u = (x - Float(width) / 2) / f
        let v = (Float(height) / 2 - y) / f
        return Camera.normalize(right * u + up * v - back)
    }

    @inline(__always) static func cross(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> SIMD3<Float> {
        [a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x]
    }

    @inline(__always) static func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { (a * b).sum() }

    @inline(__always) static func normalize(_ a: SIMD3<Float>) -> SIMD3<Float> {
        a / (a * a).sum().squareRoot()
    }
}
