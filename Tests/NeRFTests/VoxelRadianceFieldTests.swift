import Core
import Foundation
import Testing
import World
@testable import NeRF

@Suite struct VoxelRadianceFieldTests {
    /// A small field with random values, and a ray crossing it.
    func randomField() -> (VoxelRadianceField, Ray) {
        let field = VoxelRadianceField(resolution: 4, boundsMin: [-1, -1, -1], boundsMax: [1, 1, 1], samplesPerRay: 12)
        var rng = RandomGenerator(seed: 4)
        for i in field.values.indices { field.values[i] = Float(rng.uniform() * 3 - 1.5) }
        field.background = [0.3, -0.2, 0.5]
        let d = SIMD3<Float>(0.9, 0.2, 0.4)
        return (field, Ray(origin: [-2.5, -0.3, -0.8], direction: d / (d * d).sum().squareRoot()))
    }

    @Test func theHandWrittenGradientMatchesFiniteDifferences() {
        let (field, ray) = randomField()
        let target = SIMD3<Float>(0.2, 0.7, 0.4)
        func loss() -> Double { let e = field.render(ray, jitter: 0.3) - target; return Double((e * e).sum()) }
        var gradient = [Float](repeating: 0, count: field.values.count)
        let bg = gradient.withUnsafeMutableBufferPointer { g in
            field.renderAndDifferentiate(ray, jitter: 0.3, lossGradient: { 2 * ($0 - target) }, into: g.baseAddress!).backgroundGradient
        }
        var checked = 0
        for i in field.values.indices where abs(gradient[i]) > 1e-4 {
            let saved = field.values[i]
            let h: Float = 1e-2
            field.values[i] = saved + h; let up = loss()
            field.values[i] = saved - h; let down = loss()
            field.values[i] = saved
            let numeric: Double = (up - down) / Double(2 * h)
            let analytic = Double(gradient[i])
            let tolerance: Double = 2e-3 + 0.02 * abs(numeric)
            #expect(abs(numeric - analytic) <= tolerance, "value \(i): analytic \(analytic) numeric \(numeric)")
            checked += 1
        }
        #expect(checked > 20)
        for k in 0..<3 {
            let saved = field.background[k]
            field.background[k] = saved + 1e-2; let up = loss()
            field.background[k] = saved - 1e-2; let down = loss()
            field.background[k] = saved
            let numeric: Double = (up - down) / 2e-2
            let analytic = Double(bg[k])
            #expect(abs(numeric - analytic) < 1e-3, "background \(k)")
        }
    }

    @Test func aRayThatMissesTheBoxSeesTheBackground() {
        let (field, _) = randomField()
        let c = field.render(Ray(origin: [0, 5, 0], direction: [0, 1, 0]))
        let expected: Float = 1 / (1 + Foundation.exp(-0.3))
        #expect(abs(c.x - expected) < 1e-6)
    }

    /// Fitted to 20 views of a world scene, the field renders a view it never saw.
    @Test func fittingToAWorldSceneRendersAHeldOutView() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-nerf-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try WorldExports.nerfScene(scene: WorldScene(caption: "a red ball and a blue cube on sand")!, views: 21, size: 32, folder: dir)
        let dataset = try NeRFDataset(path: dir)
        #expect(dataset.views.count == 21 && dataset.views[0].image.width == 32)
        let heldOut = dataset.views[10]
        let training = dataset.views.enumerated().filter { $0.offset != 10 }.map(\.element)
        let field = VoxelRadianceField(resolution: 32, boundsMin: [-3.5, -0.3, -3.5], boundsMax: [3.5, 3, 3.5], samplesPerRay: 48)
        let before = EditMetrics.psnr(field.render(view: heldOut), heldOut.image)
        let trainer = RadianceFieldTrainer(field: field, views: training, raysPerStep: 1024, learningRate: 0.1)
        var losses = [Float]()
        for _ in 0..<300 { losses.append(trainer.advance()) }
        let after = EditMetrics.psnr(field.render(view: heldOut), heldOut.image)
        print("NeRF held-out PSNR \(before) → \(after) dB; loss \(losses.first!) → \(losses.last!)")
        let (early, late): (Float, Float) = (losses.prefix(20).reduce(0, +), losses.suffix(20).reduce(0, +))
        #expect(late < 0.3 * early, "loss \(early / 20) → \(late / 20)")
        #expect(after > 20 && after > before + 8, "held-out PSNR \(before) → \(after)")
    }
}
