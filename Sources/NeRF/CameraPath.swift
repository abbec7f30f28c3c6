import Foundation

/// Camera paths to render a fitted scene along.
public enum CameraPath {
    /// `frames` cameras on a circle around `center`, looking at it: the circle lies at the
    /// training cameras' mean height along their mean up vector and mean distance from the
    /// centre across it, and each camera has the first camera's image size and intrinsics.
    public static func orbit(around center: SIMD3<Float>, like cameras: [NeRFCamera], frames: Int) -> [NeRFCamera] {
        guard let first = cameras.first, frames > 0 else { return [] }
        func normalize(_ v: SIMD3<Float>) -> SIMD3<Float> { let n = (v * v).sum().squareRoot(); return n > 0 ? v / n : v }
        func cross(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> SIMD3<Float> { [a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x] }
        var up = normalize(cameras.map { SIMD3<Float>($0.cameraToWorld[0][1], $0.cameraToWorld[1][1], $0.cameraToWorld[2][1]) }.reduce(.zero, +))
        if (up * up).sum() == 0 { up = [0, 1, 0] }
        let offsets = cameras.map { $0.position - center }
        let height = offsets.map { ($0 * up).sum() }.reduce(0, +) / Float(cameras.count)
        let across = offsets.map { $0 - ($0 * up).sum() * up }
        let radius = max(1e-3, across.map { ($0 * $0).sum().squareRoot() }.reduce(0, +) / Float(cameras.count))
        // The circle starts behind the first camera's position, seen from the centre.
        var a = normalize(across[0])
        if (a * a).sum() == 0 { a = normalize(cross(up, abs(up.x) < 0.9 ? [1, 0, 0] : [0, 0, 1])) }
        let b = cross(up, a)
        return (0..<frames).map { k in
            let angle = 2 * Float.pi * Float(k) / Float(frames)
            let position = center + up * height + radius * (Foundation.cos(angle) * a + Foundation.sin(angle) * b)
            let back = normalize(position - center)
            var right = normalize(cross(up, back))
            if (right * right).sum() == 0 { right = a }
            let cameraUp = cross(back, right)
            var camera = first
            camera.cameraToWorld = [[right.x, cameraUp.x, back.x, position.x], [right.y, cameraUp.y, back.y, position.y],
                                    [right.z, cameraUp.z, back.z, position.z], [0, 0, 0, 1]]
            camera.distortion = [0, 0, 0, 0, 0, 0]
            return camera
        }
    }
}
