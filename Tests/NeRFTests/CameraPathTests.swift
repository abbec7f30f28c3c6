import Foundation
import Testing
@testable import NeRF

@Suite struct CameraPathTests {
    @Test func anOrbitCirclesTheCentreAtTheCamerasDistanceAndLooksAtIt() {
        let center = SIMD3<Float>(0.5, 1, -0.5)
        let training = [SIMD3<Float>(4, 2, 0), SIMD3<Float>(0, 2, 4), SIMD3<Float>(-4, 2, 0)].map { offset -> NeRFCamera in
            let p = center + offset
            let back = offset / (offset * offset).sum().squareRoot()
            let right = SIMD3<Float>(back.z, 0, -back.x) / (back.z * back.z + back.x * back.x).squareRoot()
            let up = SIMD3<Float>(back.y * right.z - back.z * right.y, back.z * right.x - back.x * right.z, back.x * right.y - back.y * right.x)
            return NeRFCamera(width: 16, height: 12, focalX: 20, focalY: 20, centerX: 8, centerY: 6,
                              cameraToWorld: [[right.x, up.x, back.x, p.x], [right.y, up.y, back.y, p.y], [right.z, up.z, back.z, p.z], [0, 0, 0, 1]])
        }
        let path = CameraPath.orbit(around: center, like: training, frames: 8)
        #expect(path.count == 8 && path.allSatisfy { $0.width == 16 && $0.focalX == 20 })
        let distances = path.map { (($0.position - center) * ($0.position - center)).sum().squareRoot() }
        #expect(distances.allSatisfy { abs($0 - distances[0]) < 1e-4 })
        for camera in path {
            let ray = camera.ray(x: Float(8), y: Float(6))
            let toCenter = center - ray.origin
            let along = (toCenter * ray.direction).sum()
            let miss = toCenter - along * ray.direction
            #expect(along > 0 && (miss * miss).sum().squareRoot() < 1e-3)
        }
        #expect(abs(path[2].position.x - path[6].position.x) > 1 || abs(path[2].position.z - path[6].position.z) > 1)
    }
}
