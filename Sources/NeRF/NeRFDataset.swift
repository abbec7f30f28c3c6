import Core
import Foundation

/// One posed image of a NeRF scene.
public struct NeRFView: Sendable {
    public var image: RGBImage
    /// Camera-to-world, 4x4 rows (OpenGL axes: the camera looks down −Z with +Y up).
    public var cameraToWorld: [[Float]]
    public var focalX: Float, focalY: Float, centerX: Float, centerY: Float

    /// The ray through pixel centre (`x` + 0.5, `y` + 0.5).
    @inline(__always)
    public func ray(x: Int, y: Int) -> Ray {
        let m = cameraToWorld
        let u = (Float(x) + 0.5 - centerX) / focalX, v = -(Float(y) + 0.5 - centerY) / focalY
        let d = SIMD3<Float>(m[0][0] * u + m[0][1] * v - m[0][2], m[1][0] * u + m[1][1] * v - m[1][2], m[2][0] * u + m[2][1] * v - m[2][2])
        return Ray(origin: [m[0][3], m[1][3], m[2][3]], direction: d / (d * d).sum().squareRoot())
    }
}

/// A ray: origin and unit direction.
public struct Ray: Sendable {
    public var origin: SIMD3<Float>
    public var direction: SIMD3<Float>
    public init(origin: SIMD3<Float>, direction: SIMD3<Float>) { (self.origin, self.direction) = (origin, direction) }
}

/// Posed images read from a nerfstudio / Blender `transforms.json` (`camera_angle_x` or
/// `fl_x`/`fl_y`, optional `cx`/`cy`, `frames` with `file_path` and `transform_matrix`).
public struct NeRFDataset: Sendable {
    public var views: [NeRFView]

    public init(views: [NeRFView]) { self.views = views }

    /// Reads `transforms.json` (or the folder holding it) and its images.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue ? "\(path)/transforms.json" : path
        guard let data = FileManager.default.contents(atPath: file) else { throw InputError(file, "no such file") }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw InputError(file, "is not a JSON object") }
        guard let frames = json["frames"] as? [[String: Any]], !frames.isEmpty else { throw InputError(file, "has no \"frames\"") }
        let folder = (file as NSString).deletingLastPathComponent
        func number(_ key: String) -> Float? { (json[key] as? NSNumber)?.floatValue }
        var views = [NeRFView]()
        for (i, frame) in frames.enumerated() {
            guard let relative = frame["file_path"] as? String else { throw InputError(file, "frame \(i) has no file_path") }
            guard let rows = frame["transform_matrix"] as? [[NSNumber]], rows.count >= 3, rows.allSatisfy({ $0.count == 4 }) else {
                throw InputError(file, "frame \(i) has no 4x4 transform_matrix")
            }
            var imagePath = relative.hasPrefix("/") ? relative : "\(folder)/\(relative)"
            if !FileManager.default.fileExists(atPath: imagePath) && FileManager.default.fileExists(atPath: imagePath + ".png") { imagePath += ".png" }
            let image = try RGBImage(pngPath: imagePath)
            let (w, h) = (Float(image.width), Float(image.height))
            let fx: Float
            if let f = number("fl_x") { fx = f } else if let angle = number("camera_angle_x") { fx = 0.5 * w / Foundation.tan(0.5 * angle) } else {
                throw InputError(file, "gives neither fl_x nor camera_angle_x")
            }
            views.append(NeRFView(image: image, cameraToWorld: rows.map { $0.map(\.floatValue) }, focalX: fx, focalY: number("fl_y") ?? fx,
                                  centerX: number("cx") ?? w / 2, centerY: number("cy") ?? h / 2))
        }
        self.views = views
    }
}
