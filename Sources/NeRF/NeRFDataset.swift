import Core
import Foundation

/// One posed image of a NeRF scene.
public struct NeRFView: Sendable {
    public var image: RGBImage
    public var camera: NeRFCamera

    public init(image: RGBImage, camera: NeRFCamera) { (self.image, self.camera) = (image, camera) }

    /// The image's colour at pixel index `i` (x fastest), in [0, 1].
    @inline(__always)
    func color(at i: Int) -> SIMD3<Float> {
        SIMD3<Float>(Float(image.pixels[i * 3]), Float(image.pixels[i * 3 + 1]), Float(image.pixels[i * 3 + 2])) / 255
    }
}

/// Posed images read from a nerfstudio / Blender `transforms.json` (see `TransformsFile`).
public struct NeRFDataset: Sendable {
    public var views: [NeRFView]
    /// `aabb_scale` as the file gives it (Instant-NGP's scene extent), or nil.
    public var aabbScale: Double?

    public init(views: [NeRFView]) { self.views = views }

    /// Reads `transforms.json` (or the folder holding it) and its images, each `downscale` times
    /// smaller on each side (box filtered). `readImage` decodes image files other than PNG.
    public init(path: String, downscale: Int = 1, readImage: ((String) throws -> RGBImage)? = nil) throws {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue ? "\(path)/transforms.json" : path
        guard let data = FileManager.default.contents(atPath: file) else { throw InputError(file, "no such file") }
        guard (1...64).contains(downscale) else { throw InputError("--downscale", "must be 1...64") }
        let transforms = try TransformsFile.decode(data, file: file)
        guard !transforms.frames.isEmpty else { throw InputError(file, "has no \"frames\"") }
        if let scale = transforms.aabbScale, !(scale.isFinite && scale > 0) { throw InputError(file, "aabb_scale must be a positive number") }
        if let m = transforms.appliedTransform, !((m.count == 3 || m.count == 4) && m.allSatisfy { $0.count == 4 && $0.allSatisfy(\.isFinite) }) {
            throw InputError(file, "applied_transform is not a 3×4 or 4×4 matrix of numbers")
        }
        let folder = (file as NSString).deletingLastPathComponent
        var views = [NeRFView]()
        var sizes = Set<[Int]>()
        for (i, frame) in transforms.frames.enumerated() {
            let pose = try Self.pose(frame.transformMatrix, file: file, frame: i)
            let imagePath = try Self.imagePath(frame.filePath, folder: folder, file: file, frame: i)
            var image: RGBImage
            do {
                image = RGBImage.hasPNGSignature(imagePath) || readImage == nil ? try RGBImage(pngPath: imagePath) : try readImage!(imagePath)
            } catch let error as InputError {
                throw InputError(file, "frame \(i): \(error.description)")
            }
            let intrinsics = frame.intrinsics.over(transforms.intrinsics)
            let (w, h) = (Double(image.width), Double(image.height))
            if let fw = intrinsics.w, let fh = intrinsics.h, fw != Double(image.width) || fh != Double(image.height) {
                throw InputError(file, "frame \(i): image \(imagePath) is \(image.width)×\(image.height) but the file says w \(String(format: "%g", fw)), h \(String(format: "%g", fh))")
            }
            if !frame.intrinsics.givesAny { sizes.insert([image.width, image.height]) }
            guard let fx = intrinsics.flX ?? intrinsics.cameraAngleX.map({ 0.5 * w / Foundation.tan(0.5 * $0) }) ??
                intrinsics.cameraAngleY.map({ 0.5 * h / Foundation.tan(0.5 * $0) }) else {
                throw InputError(file, "frame \(i) has neither fl_x nor camera_angle_x")
            }
            let fy = intrinsics.flY ?? intrinsics.cameraAngleY.map { 0.5 * h / Foundation.tan(0.5 * $0) } ?? fx
            let numbers = [fx, fy, intrinsics.cx ?? w / 2, intrinsics.cy ?? h / 2]
            guard numbers.allSatisfy({ $0.isFinite }), fx > 0, fy > 0 else { throw InputError(file, "frame \(i): focal lengths must be positive numbers") }
            let distortion = [intrinsics.k1, intrinsics.k2, intrinsics.k3, intrinsics.k4, intrinsics.p1, intrinsics.p2].map { Float($0 ?? 0) }
            guard distortion.allSatisfy({ $0.isFinite && abs($0) < 100 }) else { throw InputError(file, "frame \(i): distortion coefficients out of range") }
            var camera = NeRFCamera(width: image.width, height: image.height, focalX: Float(fx), focalY: Float(fy),
                                    centerX: Float(numbers[2]), centerY: Float(numbers[3]), distortion: distortion, cameraToWorld: pose)
            if downscale > 1 {
                guard image.width >= downscale && image.height >= downscale else { throw InputError(file, "frame \(i): image smaller than --downscale") }
                image = image.downscaled(by: downscale)
                camera = camera.downscaled(by: downscale)
            }
            views.append(NeRFView(image: image, camera: camera))
        }
        if sizes.count > 1 && transforms.intrinsics.w == nil {
            throw InputError(file, "images of different sizes (\(sizes.map { "\($0[0])×\($0[1])" }.sorted().joined(separator: ", "))) share one set of intrinsics; give each frame its own")
        }
        self.views = views
        aabbScale = transforms.aabbScale
    }

    /// A frame's pose: 4×4 (or 3×4) rows of finite numbers whose rotation part is invertible.
    static func pose(_ m: [[Double]], file: String, frame i: Int) throws -> [[Float]] {
        guard (m.count == 4 || m.count == 3), m.allSatisfy({ $0.count == 4 }) else {
            throw InputError(file, "frame \(i): transform_matrix is not 4×4")
        }
        guard m.allSatisfy({ $0.allSatisfy(\.isFinite) }) else { throw InputError(file, "frame \(i): transform_matrix holds a non-finite number") }
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        let bottomOK = m.count == 3 || (m[3][0] == 0 && m[3][1] == 0 && m[3][2] == 0 && m[3][3] != 0)
        guard abs(det) > 1e-9, bottomOK else { throw InputError(file, "frame \(i): transform_matrix is not invertible") }
        var rows = m.map { $0.map { Float($0) } }
        if rows.count == 3 { rows.append([0, 0, 0, 1]) }
        return rows
    }

    /// The image a frame names: relative to the file's folder unless absolute, with `.png` added
    /// when the path has no extension (as the Blender scenes write it).
    static func imagePath(_ relative: String, folder: String, file: String, frame i: Int) throws -> String {
        let path = relative.hasPrefix("/") ? relative : "\(folder)/\(relative)"
        if FileManager.default.fileExists(atPath: path) { return path }
        for ext in [".png", ".jpg", ".jpeg", ".PNG", ".JPG"] where FileManager.default.fileExists(atPath: path + ext) { return path + ext }
        throw InputError(file, "frame \(i): image \(relative) not found")
    }
}

extension RGBImage {
    /// The image `factor` times smaller on each side, each pixel the mean of a factor×factor block.
    func downscaled(by factor: Int) -> RGBImage {
        let (w, h) = (width / factor, height / factor)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            var s = 0
            for dy in 0..<factor { for dx in 0..<factor { s += Int(pixels[((y * factor + dy) * width + x * factor + dx) * 3 + c]) } }
            out[(y * w + x) * 3 + c] = UInt8((s + factor * factor / 2) / (factor * factor))
        } } }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
