import Core
import Foundation

/// Ground truth written beside world videos, panoramas and NeRF scenes, so edits can be measured.
public struct WorldGroundTruth: Codable, Sendable {
    public struct View: Codable, Sendable {
        public var time: Double
        public var cameraToWorld: [[Float]]
        public var scene: WorldScene
    }
    public var caption: String
    public var width: Int, height: Int
    /// Focal length in pixels (pinhole views).
    public var focal: Float?
    public var views: [View]
    /// Panoramas: horizontal field of view in radians and the camera centre.
    public var panoramaFieldOfView: Float?
    public var panoramaCenter: [Float]?

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }
}

/// How a world video moves.
public enum WorldMotion: String, CaseIterable, Sendable {
    /// The camera circles the objects.
    case orbit
    /// The camera stands still while the objects slide across the ground.
    case objects
}

public enum WorldExports {
    /// The camera of a world video at `time` seconds: circling the objects, or standing still.
    public static func videoCamera(time: Double, motion: WorldMotion) -> Camera {
        motion == .orbit ? Camera.orbit(angle: Float(time) * 0.35) : Camera.orbit(angle: 0.3)
    }

    /// Frames of a world video and their ground truth.
    public static func video(scene: WorldScene, frames: Int, width: Int, height: Int, frameRate: Double,
                             motion: WorldMotion) -> ([RGBImage], WorldGroundTruth) {
        var scene = scene
        if motion == .objects {
            for i in scene.objects.indices { scene.objects[i].velocity = [i % 2 == 0 ? 0.6 : -0.5, 0.15] }
        }
        var images = [RGBImage](), views = [WorldGroundTruth.View]()
        for f in 0..<frames {
            let t = Double(f) / frameRate
            let camera = videoCamera(time: t, motion: motion)
            let now = scene.advanced(by: Float(t))
            let r = WorldRenderer(scene: now).render(camera: camera, width: width, height: height)
            images.append(RGBImage(width: width, height: height, pixels: r.bytes))
            views.append(.init(time: t, cameraToWorld: camera.cameraToWorld, scene: now))
        }
        return (images, WorldGroundTruth(caption: scene.caption, width: width, height: height, focal: Camera.orbit(angle: 0).focal(width: width),
                                         views: views))
    }

    /// Where the panorama camera stands: the scene's middle.
    static let panoramaCenter = SIMD3<Float>(0, 1.3, 4.2)

    /// The rendering (colours and per-pixel object index) of a cylindrical panorama
    /// (`fieldOfView` radians wide, 2π for 360°) from the scene's middle, whose own middle looks
    /// along −z, at the objects.
    public static func panoramaRendering(scene: WorldScene, width: Int, height: Int, fieldOfView: Float) -> Rendering {
        WorldRenderer(scene: scene).renderCylindrical(center: panoramaCenter, startAngle: -fieldOfView / 2, fieldOfView: fieldOfView,
                                                      width: width, height: height)
    }

    /// A cylindrical panorama (`panoramaRendering`) and its ground truth.
    public static func panorama(scene: WorldScene, width: Int, height: Int, fieldOfView: Float) -> (RGBImage, WorldGroundTruth) {
        let center = panoramaCenter
        let r = panoramaRendering(scene: scene, width: width, height: height, fieldOfView: fieldOfView)
        let truth = WorldGroundTruth(caption: scene.caption, width: width, height: height, focal: nil,
                                     views: [.init(time: 0, cameraToWorld: [], scene: scene)],
                                     panoramaFieldOfView: fieldOfView, panoramaCenter: [center.x, center.y, center.z])
        return (RGBImage(width: width, height: height, pixels: r.bytes), truth)
    }

    /// `views` posed images on a circle around the objects, and a nerfstudio/Blender
    /// `transforms.json` (camera_angle_x, fl_x, fl_y, cx, cy, w, h, frames with file_path and
    /// transform_matrix, camera-to-world, OpenGL axes).
    /// The cameras of a NeRF scene of `views` views: an orbit of radius 6 around the scene
    /// centre whose height rises and falls three times a turn.
    public static func nerfCameras(views: Int) -> [Camera] {
        (0..<views).map { v in
            let angle = 2 * Float.pi * Float(v) / Float(views)
            return Camera.orbit(angle: angle, radius: 6, height: 2.2 + 0.8 * Foundation.sin(3 * angle))
        }
    }

    public static func nerfScene(scene: WorldScene, views: Int, size: Int, folder: String) throws {
        try AtomicFile.createFolder("\(folder)/images")
        var frames = [[String: Any]]()
        let cameras = nerfCameras(views: views)
        for (v, camera) in cameras.enumerated() {
            let r = WorldRenderer(scene: scene).render(camera: camera, width: size, height: size)
            let name = String(format: "images/frame_%03d.png", v)
            try RGBImage(width: size, height: size, pixels: r.bytes).writePNG(to: "\(folder)/\(name)")
            frames.append(["file_path": name, "transform_matrix": camera.cameraToWorld])
        }
        let focal = cameras[0].focal(width: size)
        let transforms: [String: Any] = [
            "camera_angle_x": cameras[0].fieldOfView, "fl_x": focal, "fl_y": focal, "cx": Float(size) / 2, "cy": Float(size) / 2,
            "w": size, "h": size, "camera_model": "OPENCV", "frames": frames, "caption": scene.caption,
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: transforms, options: [.prettyPrinted, .sortedKeys]),
                             to: "\(folder)/transforms.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(scene), to: "\(folder)/scene.json")
    }
}
