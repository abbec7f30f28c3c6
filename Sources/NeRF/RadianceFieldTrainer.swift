import Core
import Foundation

/// Fits a `VoxelRadianceField` to posed images: each step renders a random batch of the
/// training pixels' rays (samples jittered within their intervals), takes the mean squared
/// colour error, and moves the grid by Adam along its hand-written gradient.
public final class RadianceFieldTrainer {
    public let field: VoxelRadianceField
    public let views: [NeRFView]
    public var raysPerStep: Int
    public var learningRate: Float
    /// Weight of the total-variation prior: λ·mean over neighbouring grid points of their squared
    /// difference (density and colour logits), which keeps unseen space smooth (as Plenoxels does).
    public var smoothness: Float
    public private(set) var step = 0
    var rng: RandomGenerator
    var firstMoment: [Float], secondMoment: [Float]
    var backgroundMoments = (SIMD3<Float>(), SIMD3<Float>())

    public init(field: VoxelRadianceField, views: [NeRFView], raysPerStep: Int = 2048, learningRate: Float = 0.1,
                smoothness: Float = 0.1, seed: UInt64 = 0) {
        precondition(!views.isEmpty, "RadianceFieldTrainer: no views")
        (self.field, self.views, self.raysPerStep, self.learningRate, self.smoothness) = (field, views, raysPerStep, learningRate, smoothness)
        rng = RandomGenerator(seed: seed)
        firstMoment = [Float](repeating: 0, count: field.values.count)
        secondMoment = firstMoment
    }

    /// One Adam step; returns the batch's mean squared error (colours in [0, 1]).
    @discardableResult
    public func advance() -> Float {
        var gradient = [Float](repeating: 0, count: field.values.count)
        var backgroundGradient = SIMD3<Float>()
        var loss: Float = 0
        gradient.withUnsafeMutableBufferPointer { g in
            for _ in 0..<raysPerStep {
                let view = views[Int(rng.next() % UInt64(views.count))]
                let (w, h) = (view.image.width, view.image.height)
                let pixel = Int(rng.next() % UInt64(w * h))
                let target = SIMD3<Float>(Float(view.image.pixels[pixel * 3]), Float(view.image.pixels[pixel * 3 + 1]), Float(view.image.pixels[pixel * 3 + 2])) / 255
                let ray = view.ray(x: pixel % w, y: pixel / w)
                let jitter = Float(rng.uniform())
                let scale = 2 / Float(3 * raysPerStep)
                let result = field.renderAndDifferentiate(ray, jitter: jitter, lossGradient: { predicted in
                    // ∂(mean over rays and channels of error²)/∂colour.
                    (predicted - target) * scale
                }, into: g.baseAddress!)
                let error = result.color - target
                loss += (error * error).sum() / 3
                backgroundGradient += result.backgroundGradient
            }
        }
        if smoothness > 0 { addSmoothnessGradient(to: &gradient) }
        step += 1
        let (b1, b2): (Float, Float) = (0.9, 0.99)
        let c1 = 1 - Foundation.pow(b1, Float(step)), c2 = 1 - Foundation.pow(b2, Float(step))
        let lr = learningRate
        field.values.withUnsafeMutableBufferPointer { v in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { s in
                    gradient.withUnsafeBufferPointer { g in
                        parallelChunks(v.count, minimumChunk: 65536) { range in
                            for i in range where g[i] != 0 || m[i] != 0 {
                                m[i] = b1 * m[i] + (1 - b1) * g[i]
                                s[i] = b2 * s[i] + (1 - b2) * g[i] * g[i]
                                v[i] -= lr * (m[i] / c1) / ((s[i] / c2).squareRoot() + 1e-8)
                            }
                        }
                    }
                }
            }
        }
        var (m, s) = backgroundMoments
        m = b1 * m + (1 - b1) * backgroundGradient
        s = b2 * s + (1 - b2) * backgroundGradient * backgroundGradient
        backgroundMoments = (m, s)
        field.background -= lr * (m / c1) / ((s / c2).squareRoot() + 1e-8)
        return loss / Float(raysPerStep)
    }

    /// Adds the gradient of the total-variation prior to `gradient`.
    func addSmoothnessGradient(to gradient: inout [Float]) {
        let r = field.resolution
        let pairs = Float(3 * (r - 1) * r * r * 4)
        let scale = 2 * smoothness / pairs
        field.values.withUnsafeBufferPointer { v in
            gradient.withUnsafeMutableBufferPointer { g in
                for z in 0..<r { for y in 0..<r { for x in 0..<r {
                    let p = ((z * r + y) * r + x) * 4
                    for (ok, q) in [(x + 1 < r, p + 4), (y + 1 < r, p + 4 * r), (z + 1 < r, p + 4 * r * r)] where ok {
                        for c in 0..<4 {
                            let d = scale * (v[p + c] - v[q + c])
                            g[p + c] += d
                            g[q + c] -= d
                        }
                    }
                } } }
            }
        }
    }
}
