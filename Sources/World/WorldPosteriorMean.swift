import Core
import Foundation

/// The best any denoiser can do for one caption of the world, estimated from the world itself:
/// the posterior mean `E[x₀ | x_t, caption]` over renders of the caption's words at many random
/// layouts (object positions, sizes and turns, and the camera).
///
/// With candidates `s_i` equally likely a priori and `x_t = √ᾱ·x₀ + √(1−ᾱ)·ε`, the posterior
/// weights are `w_i ∝ exp(−‖x_t − √ᾱ·s_i‖² / (2(1−ᾱ)))` and the minimum-squared-error prediction
/// is `x̂₀ = Σ_i w_i·s_i` (so `ε̂ = (x_t − √ᾱ·x̂₀)/√(1−ᾱ)`, Tweedie's formula). The candidates are
/// drawn from the same layout distribution as the world's training renders, so as their number
/// grows this converges to the Bayes-optimal noise prediction: a trained model's expected noise
/// error can only be higher. `effectiveCandidates` (1/Σw²) says how many candidates a prediction
/// rests on; when it falls towards 1 the estimate is a nearest-neighbour guess, not the mean.
public struct WorldPosteriorMean: Sendable {
    /// Candidate images, one row of `dimension` values each (CHW, in [-1, 1]).
    public let candidates: [Float]
    public let count: Int
    public let dimension: Int
    private let squaredNorms: [Float]

    public init(candidates: [Float], dimension: Int) {
        precondition(dimension > 0 && candidates.count % dimension == 0 && !candidates.isEmpty,
                     "WorldPosteriorMean: candidates must be whole rows of \(dimension) values")
        self.candidates = candidates
        self.dimension = dimension
        count = candidates.count / dimension
        squaredNorms = (0..<candidates.count / dimension).map { i in
            candidates[(i * dimension)..<((i + 1) * dimension)].reduce(0) { $0 + $1 * $1 }
        }
    }

    /// Renders `words` (its ground, time of day and each object's colour and shape) at each of
    /// `layouts`, whose scenes must have as many objects as `words`.
    public init(words: WorldScene, layouts: [WorldSample], size: Int) {
        let dimension = 3 * size * size
        var pixels = [Float](repeating: 0, count: layouts.count * dimension)
        pixels.withUnsafeMutableBufferPointer { out in
            let out = out
            parallelFor(layouts.count) { i in
                let scene = Self.scene(words: words, layout: layouts[i].scene)
                let image = RGBImage(width: size, height: size,
                                     pixels: WorldRenderer(scene: scene).render(camera: layouts[i].camera, width: size, height: size).bytes)
                let t = image.tensor
                for j in 0..<dimension { out[i * dimension + j] = t.storage[j] }
            }
        }
        self.init(candidates: pixels, dimension: dimension)
    }

    /// `layout` with the ground, time, colours and shapes of `words`.
    static func scene(words: WorldScene, layout: WorldScene) -> WorldScene {
        precondition(words.objects.count == layout.objects.count, "WorldPosteriorMean: a layout needs one object per object of the caption")
        var s = layout
        (s.ground, s.time) = (words.ground, words.time)
        for k in s.objects.indices { (s.objects[k].color, s.objects[k].shape) = (words.objects[k].color, words.objects[k].shape) }
        return s
    }

    /// `count` random layouts with `objectCount` objects (the world's own distribution of
    /// positions, sizes, turns and cameras), from seeds counting up from `firstSeed`.
    public static func layouts(objectCount: Int, count: Int, firstSeed: UInt64) -> [WorldSample] {
        var layouts = [WorldSample]()
        var seed = firstSeed
        while layouts.count < count {
            var sample = WorldSample(seed: seed)
            sample.scene = WorldScene.random(seed: seed, objectCount: objectCount)
            if sample.scene.objects.count == objectCount { layouts.append(sample) }
            seed += 1
        }
        return layouts
    }

    /// Posterior means for each of the `rows` noisy images in `noisy` (row-major, `dimension`
    /// values each) at `alphaBar` = ᾱ_t, with the effective number of candidates behind each.
    public func means(noisy: [Float], rows: Int, alphaBar: Float) -> (means: [Float], effectiveCandidates: [Double]) {
        precondition(noisy.count == rows * dimension, "WorldPosteriorMean: noisy must hold \(rows) rows of \(dimension)")
        // log w_i = (√ᾱ·⟨x_t, s_i⟩ − ᾱ/2·‖s_i‖²)/(1−ᾱ) + a term that is the same for every i.
        var dots = [Float](repeating: 0, count: rows * count)
        noisy.withUnsafeBufferPointer { x in candidates.withUnsafeBufferPointer { s in dots.withUnsafeMutableBufferPointer { g in
            BLAS.sgemm(transA: false, transB: true, m: rows, n: count, k: dimension, a: x.baseAddress!, lda: dimension,
                       b: s.baseAddress!, ldb: dimension, c: g.baseAddress!, ldc: count)
        } } }
        let (root, variance) = (Double(alphaBar).squareRoot(), Double(1 - alphaBar))
        var weights = [Float](repeating: 0, count: rows * count)
        var effective = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            let logs = (0..<count).map { i in (root * Double(dots[r * count + i]) - Double(alphaBar) / 2 * Double(squaredNorms[i])) / variance }
            let top = logs.max()!
            let raw = logs.map { Foundation.exp($0 - top) }
            let total = raw.reduce(0, +)
            var squares = 0.0
            for i in 0..<count {
                let w = raw[i] / total
                weights[r * count + i] = Float(w)
                squares += w * w
            }
            effective[r] = 1 / squares
        }
        var means = [Float](repeating: 0, count: rows * dimension)
        weights.withUnsafeBufferPointer { w in candidates.withUnsafeBufferPointer { s in means.withUnsafeMutableBufferPointer { m in
            BLAS.sgemm(transA: false, transB: false, m: rows, n: dimension, k: count, a: w.baseAddress!, lda: count,
                       b: s.baseAddress!, ldb: dimension, c: m.baseAddress!, ldc: dimension)
        } } }
        return (means, effective)
    }
}
