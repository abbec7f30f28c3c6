import Core
import Foundation

/// The renderer's true motion between two frames of a world video: for every pixel of the later
/// frame, where the same surface point was in the earlier frame (camera and object motion, with
/// occluded, newly uncovered, off-screen and sky pixels left out).
public struct MotionField: Sendable {
    public let width: Int, height: Int
    /// Per pixel of the later frame (row-major): its position in the earlier frame in pixel
    /// coordinates (pixel centres at +0.5), or nil where there is no visible correspondence.
    public var earlierPosition: [SIMD2<Float>?]

    /// Motion from `earlier` to `later`, two views of one world video (`focal` in pixels).
    public init(from earlier: WorldGroundTruth.View, to later: WorldGroundTruth.View, width: Int, height: Int, focal: Float) {
        (self.width, self.height) = (width, height)
        let cameraThen = Camera(cameraToWorld: earlier.cameraToWorld, focal: focal, width: width)
        let cameraNow = Camera(cameraToWorld: later.cameraToWorld, focal: focal, width: width)
        let now = WorldRenderer(scene: later.scene), then = WorldRenderer(scene: earlier.scene)
        var positions = [SIMD2<Float>?](repeating: nil, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let d = cameraNow.rayDirection(x: Float(x) + 0.5, y: Float(y) + 0.5, width: width, height: height, focal: focal)
                guard let hit = now.surface(origin: cameraNow.position, direction: d) else { continue }
                var point = cameraNow.position + d * hit.distance
                if hit.id != Rendering.ground {
                    // Objects only translate: the same point of the object, where the object was.
                    let i = Int(hit.id) - 1
                    let shift = earlier.scene.objects[i].position - later.scene.objects[i].position
                    point += SIMD3<Float>(shift.x, 0, shift.y)
                }
                guard let p = cameraThen.project(point, width: width, height: height, focal: focal),
                      p.x >= 0, p.y >= 0, p.x < Float(width), p.y < Float(height) else { continue }
                // Visible then: the earlier camera's ray through p meets the same surface at that point.
                let offset = point - cameraThen.position
                let distance = (offset * offset).sum().squareRoot()
                guard let seen = then.surface(origin: cameraThen.position, direction: offset / distance),
                      seen.id == hit.id, abs(seen.distance - distance) < 1e-3 * distance + 1e-3 else { continue }
                positions[y * width + x] = p
            }
        }
        earlierPosition = positions
    }

    /// Mean absolute difference (8-bit levels, over channels and the pixels with a correspondence)
    /// between `later` and `earlier` sampled bilinearly where each pixel came from; and that pixel count.
    public func warpError(later: RGBImage, earlier: RGBImage) -> (error: Double, pixels: Int) {
        precondition(later.width == width && later.height == height && earlier.width == width && earlier.height == height,
                     "warpError: frame sizes differ from the motion field")
        var (sum, count) = (0.0, 0)
        for (i, position) in earlierPosition.enumerated() {
            guard let p = position else { continue }
            let fx = min(max(p.x - 0.5, 0), Float(width - 1)), fy = min(max(p.y - 0.5, 0), Float(height - 1))
            let x0 = Int(fx), y0 = Int(fy)
            let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
            let ax = fx - Float(x0), ay = fy - Float(y0)
            for c in 0..<3 {
                func at(_ x: Int, _ y: Int) -> Float { Float(earlier.pixels[(y * width + x) * 3 + c]) }
                let top = at(x0, y0) * (1 - ax) + at(x1, y0) * ax
                let bottom = at(x0, y1) * (1 - ax) + at(x1, y1) * ax
                sum += Double(abs(Float(later.pixels[i * 3 + c]) - (top * (1 - ay) + bottom * ay)))
            }
            count += 1
        }
        return (count > 0 ? sum / Double(count * 3) : 0, count)
    }

    /// Mean warp error over the consecutive frame pairs of a world video described by `truth`.
    public static func warpError(frames: [RGBImage], truth: WorldGroundTruth) throws -> Double {
        guard let focal = truth.focal, truth.views.count == frames.count, frames.count > 1,
              frames.allSatisfy({ $0.width == truth.width && $0.height == truth.height }) else {
            throw InputError("ground truth", "does not describe these \(frames.count) frames")
        }
        var (sum, count) = (0.0, 0)
        for t in 1..<frames.count {
            let field = MotionField(from: truth.views[t - 1], to: truth.views[t], width: truth.width, height: truth.height, focal: focal)
            let (error, pixels) = field.warpError(later: frames[t], earlier: frames[t - 1])
            sum += error * Double(pixels)
            count += pixels
        }
        return count > 0 ? sum / Double(count) : 0
    }
}
