import Core
import Foundation
import Testing
@testable import NeRF

@Suite struct NeRFDatasetTests {
    static let identity = "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]"

    /// A folder with `images` (name, width, height) and `json` as its transforms.json.
    func scene(_ json: String, images: [(String, Int, Int)] = [("a.png", 8, 6)]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-nerf-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/images", withIntermediateDirectories: true)
        for (name, w, h) in images {
            try RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8($0 % 251) }).writePNG(to: "\(dir)/images/\(name)")
        }
        try Data(json.utf8).write(to: URL(fileURLWithPath: "\(dir)/transforms.json"))
        return dir
    }

    @Test func readsNerfstudioIntrinsicsGlobalOrPerFrameAndPathsWithoutExtensions() throws {
        let dir = try scene("""
            {"fl_x": 10, "fl_y": 11, "cx": 4.5, "cy": 3.5, "w": 8, "h": 6, "k1": 0.01, "p2": -0.002, "aabb_scale": 4,
             "applied_transform": [[1,0,0,0],[0,0,1,0],[0,-1,0,0]],
             "frames": [{"file_path": "images/a", "transform_matrix": \(Self.identity)},
                        {"file_path": "images/b.png", "fl_x": 5, "w": 4, "h": 3, "cx": 2, "cy": 1.5, "transform_matrix": \(Self.identity)}]}
            """, images: [("a.png", 8, 6), ("b.png", 4, 3)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try NeRFDataset(path: dir)
        #expect(data.views.count == 2 && data.aabbScale == 4)
        let (a, b) = (data.views[0].camera, data.views[1].camera)
        #expect(a.focalX == 10 && a.focalY == 11 && a.centerX == 4.5 && a.distortion == [0.01, 0, 0, 0, 0, -0.002])
        #expect(b.focalX == 5 && b.focalY == 11 && b.width == 4 && b.centerY == 1.5)
        // Blender's camera_angle_x alone: focal = w / 2 / tan(angle / 2).
        let blender = try scene("{\"camera_angle_x\": 0.6911, \"frames\": [{\"file_path\": \"./images/a\", \"transform_matrix\": \(Self.identity)}]}")
        defer { try? FileManager.default.removeItem(atPath: blender) }
        let camera = try NeRFDataset(path: "\(blender)/transforms.json").views[0].camera
        #expect(abs(camera.focalX - 4 / Foundation.tan(0.34555)) < 1e-3 && camera.centerX == 4 && camera.centerY == 3)
    }

    @Test func aPixelsRayGoesThroughThePixelAndDistortionInverts() {
        var camera = NeRFCamera(width: 8, height: 6, focalX: 10, focalY: 10, centerX: 4, centerY: 3, cameraToWorld: [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]])
        let r = camera.ray(x: 7, y: 0)
        // Pixel centre (7.5, 0.5): right 0.35, up 0.25 per unit of depth down −Z.
        let expected = SIMD3<Float>(0.35, 0.25, -1) / (0.35 * 0.35 + 0.25 * 0.25 + 1).squareRoot()
        #expect(((r.direction - expected) * (r.direction - expected)).sum() < 1e-10 && r.origin == SIMD3(1, 2, 3))
        camera.distortion = [-0.1, 0.02, 0, 0, 0.003, -0.002]
        for (u, v) in [(0.3, -0.2), (-0.4, 0.25), (0.05, 0.0)] as [(Float, Float)] {
            let (du, dv) = camera.distort(u, v)
            let (uu, vv) = camera.undistort(du, dv)
            #expect(abs(uu - u) < 1e-5 && abs(vv - v) < 1e-5)
        }
    }

    @Test func downscalingShrinksImagesAndIntrinsics() throws {
        let dir = try scene("{\"fl_x\": 10, \"frames\": [{\"file_path\": \"images/a.png\", \"transform_matrix\": \(Self.identity)}]}")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let view = try NeRFDataset(path: dir, downscale: 2).views[0]
        #expect(view.image.width == 4 && view.image.height == 3 && view.camera.focalX == 5 && view.camera.centerX == 2)
        let full = try NeRFDataset(path: dir).views[0].image
        let mean = (Int(full.pixels[0]) + Int(full.pixels[3]) + Int(full.pixels[24]) + Int(full.pixels[27]) + 2) / 4
        #expect(Int(view.image.pixels[0]) == mean)
    }

    @Test func badScenesAreErrorsNamingTheFileAndTheProblem() throws {
        let frame = "{\"file_path\": \"images/a.png\", \"transform_matrix\": \(Self.identity)}"
        let cases: [(String, [(String, Int, Int)], String)] = [
            ("{\"fl_x\": 10, \"frames\": []}", [], "has no \"frames\""),
            ("{\"fl_x\": 10, \"frames\": [{\"file_path\": \"images/missing.png\", \"transform_matrix\": \(Self.identity)}]}", [], "frame 0: image images/missing.png not found"),
            ("{\"fl_x\": 10, \"frames\": [{\"file_path\": \"images/a.png\", \"transform_matrix\": [[1,0,0],[0,1,0],[0,0,1]]}]}", [("a.png", 8, 6)], "not 4×4"),
            ("{\"fl_x\": 10, \"frames\": [{\"file_path\": \"images/a.png\", \"transform_matrix\": [[1,0,0,0],[2,0,0,0],[0,0,1,0],[0,0,0,1]]}]}", [("a.png", 8, 6)], "not invertible"),
            ("{\"fl_x\": 10, \"frames\": [{\"file_path\": \"images/a.png\", \"transform_matrix\": [[\"NaN\",0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}", [("a.png", 8, 6)], "frames[0].transform_matrix[0][0] has the wrong type"),
            ("{\"frames\": [\(frame)]}", [("a.png", 8, 6)], "neither fl_x nor camera_angle_x"),
            ("{\"fl_x\": 10, \"frames\": [\(frame), {\"file_path\": \"images/b.png\", \"transform_matrix\": \(Self.identity)}]}", [("a.png", 8, 6), ("b.png", 4, 4)], "images of different sizes"),
            ("{\"fl_x\": 10, \"w\": 9, \"h\": 6, \"frames\": [\(frame)]}", [("a.png", 8, 6)], "is 8×6 but the file says w 9, h 6"),
            ("{\"fl_x\": 10, \"frames\": [{\"transform_matrix\": \(Self.identity)}]}", [], "frames[0].file_path is missing"),
            ("{\"fl_x\": 10, \"frames\": [\(frame)", [], "is not JSON"),
        ]
        for (json, images, message) in cases {
            let dir = try scene(json, images: images)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            do {
                _ = try NeRFDataset(path: dir)
                Issue.record("\(json) was accepted")
            } catch let error as InputError {
                #expect(error.subject.hasSuffix("transforms.json") && error.description.contains(message), "\(error.description) lacks \(message)")
            }
        }
    }
}
