import Core
import Foundation
import Testing
@testable import NeRF

@Suite struct GridRadianceFieldTests {
    /// A small field with random values, and rays from outside the unit cube through it.
    func randomField() -> GridRadianceField {
        let field = GridRadianceField(resolution: 6, contraction: SceneContraction(center: [0.2, 0.1, -0.1], radius: 1.5))
        var rng = RandomGenerator(seed: 4)
        for i in field.values.indices { field.values[i] = Float(rng.uniform() * 3 - 1.5) - (i % 4 == 0 ? 4 : 0) }
        for i in field.environment.indices { field.environment[i] = Float(rng.uniform() * 2 - 1) }
        return field
    }

    func ray(_ k: Int) -> Ray {
        let d = SIMD3<Float>(0.9, 0.2 - 0.1 * Float(k), 0.4 + 0.2 * Float(k))
        return Ray(origin: [-3.5, 0.3, -0.8], direction: d / (d * d).sum().squareRoot())
    }

    @Test func theHandWrittenGradientMatchesFiniteDifferences() {
        let field = randomField()
        let target = SIMD3<Float>(0.2, 0.7, 0.4)
        var checked = (values: 0, environment: 0)
        for k in 0..<3 {
            let ray = ray(k)
            func loss() -> Double { let e = field.render(ray, jitter: 0.3).color - target; return Double((e * e).sum()) }
            var gradient = [Float](repeating: 0, count: field.values.count)
            var environmentGradient = [Float](repeating: 0, count: field.environment.count)
            gradient.withUnsafeMutableBufferPointer { g in
                environmentGradient.withUnsafeMutableBufferPointer { e in
                    _ = field.renderAndDifferentiate(ray, jitter: 0.3, samples: RaySamples(), lossGradient: { 2 * ($0 - target) },
                                                     gradient: g.baseAddress!, environmentGradient: e.baseAddress!)
                }
            }
            func check(_ buffer: ReferenceWritableKeyPath<GridRadianceField, [Float]>, _ analytic: [Float]) -> Int {
                var count = 0
                for i in analytic.indices where abs(analytic[i]) > 1e-4 {
                    let saved = field[keyPath: buffer][i]
                    let h: Float = 1e-2
                    field[keyPath: buffer][i] = saved + h; let up = loss()
                    field[keyPath: buffer][i] = saved - h; let down = loss()
                    field[keyPath: buffer][i] = saved
                    let numeric = (up - down) / Double(2 * h)
                    #expect(abs(numeric - Double(analytic[i])) <= 2e-3 + 0.03 * abs(numeric), "ray \(k) index \(i): analytic \(analytic[i]) numeric \(numeric)")
                    count += 1
                }
                return count
            }
            checked.values += check(\.values, gradient)
            checked.environment += check(\.environment, environmentGradient)
        }
        #expect(checked.values > 100 && checked.environment >= 12, "\(checked)")
    }

    /// The distortion loss's hand-written gradient (linear-time ∂L/∂w, then back through the
    /// weights to the density logits) matches central differences of the loss itself.
    @Test func theDistortionGradientMatchesFiniteDifferences() {
        let field = randomField()
        for i in stride(from: 0, to: field.values.count, by: 4) { field.values[i] += 2.5 }  // denser, so weights spread along the rays
        var checked = 0
        for k in 0..<3 {
            let ray = ray(k)
            func loss() -> Double {
                let samples = RaySamples()
                let r = field.march(ray, jitter: 0.3, record: samples)
                return Double(samples.distortionLoss(after: r.transmittance))
            }
            var gradient = [Float](repeating: 0, count: field.values.count)
            var environmentGradient = [Float](repeating: 0, count: field.environment.count)
            gradient.withUnsafeMutableBufferPointer { g in
                environmentGradient.withUnsafeMutableBufferPointer { e in
                    _ = field.renderAndDifferentiate(ray, jitter: 0.3, samples: RaySamples(), lossGradient: { _ in .zero }, distortion: 1,
                                                     gradient: g.baseAddress!, environmentGradient: e.baseAddress!)
                }
            }
            #expect(environmentGradient.allSatisfy { $0 == 0 } && gradient.indices.allSatisfy { $0 & 3 == 0 || gradient[$0] == 0 })
            for i in stride(from: 0, to: gradient.count, by: 4) where abs(gradient[i]) > 1e-4 {
                let saved = field.values[i], h: Float = 1e-2
                field.values[i] = saved + h; let up = loss()
                field.values[i] = saved - h; let down = loss()
                field.values[i] = saved
                let numeric = (up - down) / Double(2 * h)
                #expect(abs(numeric - Double(gradient[i])) <= 1e-3 + 0.03 * abs(numeric), "ray \(k) index \(i): analytic \(gradient[i]) numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 50, "\(checked)")
    }

    /// Fitted to images of pure red, whose green and blue pull their logits towards −∞ and red
    /// towards +∞, the colour logits stop at ±`colorLogitBound` (reached, never passed); so do
    /// the environment's.
    @Test func aFitKeepsColourLogitsWithinTheBound() {
        let start = NeRFCamera(width: 8, height: 8, focalX: 8, focalY: 8, centerX: 4, centerY: 4,
                               cameraToWorld: [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 4], [0, 0, 0, 1]])
        let cameras = CameraPath.orbit(around: .zero, like: [start], frames: 4)
        let red = RGBImage(width: 8, height: 8, pixels: [UInt8]((0..<64).flatMap { _ in [255, 0, 0] as [UInt8] }))
        let trainer = RadianceFieldTrainer(views: cameras.map { NeRFView(image: red, camera: $0) },
                                           contraction: SceneContraction(center: .zero, radius: 1.5), resolutions: [8], totalSteps: 80,
                                           raysPerStep: 256, learningRate: 0.5)
        for _ in 0..<80 { trainer.advance() }
        let values = trainer.field.values, bound = GridRadianceField.colorLogitBound
        let colors = values.indices.filter { $0 & 3 != 0 }.map { values[$0] } + trainer.field.environment
        #expect(colors.allSatisfy { abs($0) <= bound })
        #expect(colors.contains(bound) && colors.contains(-bound))
    }

    /// The smoothing prior acts in proportion to its weight: a tiny weight leaves a fit nearly
    /// where it was, a large one smooths it. (Added to the gradient Adam normalises, any weight
    /// moved the points the data does not reach at the full rate, and every weight from 10⁻⁶ to
    /// 10⁻³ collapsed the world scenes' fits to 17 dB.)
    @Test func theSmoothingPriorActsInProportionToItsWeight() {
        let views = NeRFEditorTests.fitted.views
        func fit(_ weight: Float) -> [Float] {
            let trainer = RadianceFieldTrainer(views: views, contraction: SceneContraction(cameraToWorld: views.map(\.camera.cameraToWorld)),
                                               resolutions: [16], totalSteps: 60, raysPerStep: 512, densitySmoothness: weight, colorSmoothness: weight)
            for _ in 0..<60 { trainer.advance() }
            return trainer.field.linearValues
        }
        func distance(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.reduce(0, +) / Float(a.count) }
        /// The mean difference of neighbouring points' density logits along x.
        func roughness(_ v: [Float]) -> Float {
            let pairs = stride(from: 0, to: v.count - 4, by: 4).filter { ($0 / 4) % 16 != 15 }
            return pairs.map { abs(v[$0 + 4] - v[$0]) }.reduce(0, +) / Float(pairs.count)
        }
        let plain = fit(0), light = fit(1e-5), strong = fit(0.05)
        #expect(distance(light, plain) < 0.05 * distance(strong, plain), "\(distance(light, plain)) against \(distance(strong, plain))")
        #expect(roughness(strong) < 0.8 * roughness(plain), "\(roughness(strong)) against \(roughness(plain))")
    }

    @Test func theContractionKeepsTheUnitCubeAndSendsAllSpaceIntoTwice() {
        var rng = RandomGenerator(seed: 1)
        for _ in 0..<200 {
            let p = SIMD3<Float>(Float(rng.uniform() * 2 - 1), Float(rng.uniform() * 2 - 1), Float(rng.uniform() * 2 - 1))
            #expect(SceneContraction.contract(p) == p)
            let far = p * Float(1 + rng.uniform() * 1000)
            let q = SceneContraction.contract(far)
            let n = max(abs(far.x), abs(far.y), abs(far.z)), m = max(abs(q.x), abs(q.y), abs(q.z))
            #expect(m <= 2 && (n <= 1 || abs(m - (2 - 1 / n)) < 1e-4), "\(far) → \(q)")
        }
    }

    @Test func theContractionOfAnOrbitIsCentredWhereTheCamerasLook() {
        let target = SIMD3<Float>(0.3, 0.5, -0.2)
        let poses: [[[Float]]] = (0..<12).map { k in
            let a = Float(k) * 0.52
            let position = SIMD3<Float>(6 * Foundation.sin(a), 2 + Foundation.sin(3 * a), 6 * Foundation.cos(a)) + target
            let back = (position - target) / ((position - target) * (position - target)).sum().squareRoot()
            let right = SIMD3<Float>(back.z, 0, -back.x) / (back.z * back.z + back.x * back.x).squareRoot()
            let up = SIMD3<Float>(back.y * right.z - back.z * right.y, back.z * right.x - back.x * right.z, back.x * right.y - back.y * right.x)
            return [[right.x, up.x, back.x, position.x], [right.y, up.y, back.y, position.y], [right.z, up.z, back.z, position.z], [0, 0, 0, 1]]
        }
        let c = SceneContraction(cameraToWorld: poses)
        #expect(((c.center - target) * (c.center - target)).sum().squareRoot() < 1e-3, "\(c.center)")
        #expect(abs(c.radius - 3.2) < 0.2, "\(c.radius)")
        // Cameras side by side looking the same way have no common point: mean and spread instead.
        let parallel: [[[Float]]] = (0..<3).map { k in [[1, 0, 0, Float(k)], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] }
        let p = SceneContraction(cameraToWorld: parallel)
        #expect(p.center == SIMD3(1, 0, 0) && p.radius == 1, "\(p)")
    }

    @Test func bricksRoundTripAndResamplingKeepsALinearField() {
        let field = GridRadianceField(resolution: 9, contraction: SceneContraction(center: .zero, radius: 1))
        var linear = [Float](repeating: 0, count: 9 * 9 * 9 * 4)
        for z in 0..<9 { for y in 0..<9 { for x in 0..<9 { for k in 0..<4 {
            linear[((z * 9 + y) * 9 + x) * 4 + k] = Float(x) * 0.5 - Float(y) * 0.25 + Float(z) * Float(k + 1) * 0.1
        } } } }
        field.setLinearValues(linear)
        #expect(field.linearValues == linear)
        #expect(field.values[field.offset(5, 7, 2) + 3] == linear[((2 * 9 + 7) * 9 + 5) * 4 + 3])
        // Trilinear interpolation reproduces a linear function exactly, so resampling does too.
        let fine = field.resampled(to: 17).linearValues
        for (z, y, x) in [(0, 0, 0), (16, 3, 9), (5, 16, 11)] {
            let expected = (Float(x) * 0.5 - Float(y) * 0.25) / 2 + Float(z) / 2 * 4 * 0.1
            #expect(abs(fine[((z * 17 + y) * 17 + x) * 4 + 3] - expected) < 1e-4)
        }
    }

    @Test func aFieldFileRoundTripsAndRendersTheSame() throws {
        let field = randomField()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("csd-field-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try field.write(to: path)
        let read = try GridRadianceField(path: path)
        #expect(read.linearValues == field.linearValues && read.environment == field.environment && read.contraction == field.contraction)
        read.occupancy = nil
        #expect(read.render(ray(1)).color == field.render(ray(1)).color)
    }
}
