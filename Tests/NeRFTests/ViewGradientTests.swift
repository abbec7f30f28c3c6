import Core
import Foundation
import Testing
@testable import NeRF

@Suite struct ViewGradientTests {
    /// A small random field seen by two cameras.
    static func scene() -> (GridRadianceField, [NeRFCamera]) {
        let field = GridRadianceField(resolution: 8, contraction: SceneContraction(center: .zero, radius: 1))
        var rng = RandomGenerator(seed: 4)
        field.values = field.values.indices.map { i in i & 3 == 0 ? Float(rng.uniform()) * 3 - 4.5 : Float(rng.uniform()) * 4 - 2 }
        field.environment = field.environment.map { _ in Float(rng.uniform()) * 2 - 1 }
        let cameras = [SIMD3<Float>(0, 0.3, 2.5), SIMD3<Float>(2, 0.5, 1.5)].map { p -> NeRFCamera in
            let back = p / (p * p).sum().squareRoot()
            let right = SIMD3<Float>(back.z, 0, -back.x) / (back.z * back.z + back.x * back.x).squareRoot()
            let up = SIMD3<Float>(back.y * right.z - back.z * right.y, back.z * right.x - back.x * right.z, back.x * right.y - back.y * right.x)
            return NeRFCamera(width: 6, height: 5, focalX: 6, focalY: 6, centerX: 3, centerY: 2.5,
                              cameraToWorld: [[right.x, up.x, back.x, p.x], [right.y, up.y, back.y, p.y], [right.z, up.z, back.z, p.z], [0, 0, 0, 1]])
        }
        return (field, cameras)
    }

    /// ⟨∇L, δ⟩ of L = ⟨C, views⟩ matches the central difference of L along random δ, for grid
    /// values and environment texels together.
    @Test func theViewGradientMatchesFiniteDifferences() throws {
        let (field, cameras) = Self.scene()
        var rng = RandomGenerator(seed: 8)
        let cotangent = rng.normal([2, 3, 5, 6])
        func loss(_ f: GridRadianceField) -> Double {
            zip(f.renderViews(cameras).storage, cotangent.storage).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        let g = ViewGradient(field: field).compute(field: field, cameras: cameras, colourGradient: cotangent)
        #expect(g.values.contains { $0 != 0 } && g.environment.contains { $0 != 0 })
        for _ in 0..<3 {
            let delta = rng.normal([field.values.count]).storage, environmentDelta = rng.normal([field.environment.count]).storage
            let analytic = zip(g.values, delta).reduce(0.0) { $0 + Double($1.0 * $1.1) } + zip(g.environment, environmentDelta).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            let eps: Float = 1e-3
            func moved(_ s: Float) -> GridRadianceField {
                let f = field.copy()
                f.values = zip(field.values, delta).map { $0 + s * eps * $1 }
                f.environment = zip(field.environment, environmentDelta).map { $0 + s * eps * $1 }
                return f
            }
            let numeric = (loss(moved(1)) - loss(moved(-1))) / Double(2 * eps)
            #expect(abs(analytic - numeric) <= 0.02 * max(1, abs(numeric)), "analytic \(analytic) numeric \(numeric)")
        }
    }

    /// A camera resized to other image sizes sees the same rays through the same image points.
    @Test func aResizedCameraProjectsPointsToTheSameImagePlace() {
        let (_, cameras) = Self.scene()
        let camera = cameras[1], big = camera.resized(width: 12, height: 20)
        let p = camera.ray(x: 2.5, y: 1).origin + camera.ray(x: 2.5, y: 1).direction * 2
        let a = camera.project(p)!, b = big.project(p)!
        #expect(abs(a.x - 2.5) < 1e-3 && abs(a.y - 1) < 1e-3 && abs(b.x - 5) < 1e-3 && abs(b.y - 4) < 1e-3 && abs(a.distance - 2) < 1e-4)
        #expect(camera.project(camera.position - camera.ray(x: 3, y: 2.5).direction) == nil)
    }
}
