import Core
import Foundation

/// Fits a `GridRadianceField` to posed images, coarse to fine: each step renders a random batch
/// of the training pixels' rays (samples jittered within their first step), takes the mean
/// squared colour error, and moves the grid points the batch touched by Adam along the
/// hand-written gradient, brick by brick (the 4×4×4 bricks the batch touched, as sparse Adam
/// does), plus an optional Laplacian smoothing of those points (the total-variation prior of
/// Plenoxels), applied beside Adam rather than through it: Adam scales every coordinate's step
/// to the learning rate, so a prior gradient added to the data's moved points the data does not
/// reach (empty space, hidden points of a touched brick) at the full rate whatever its weight.
/// The learning rate decays exponentially to a tenth over `totalSteps`; the grid is resampled to
/// the next resolution of `resolutions` at even fractions of the run; the occupancy grid is
/// refreshed every 16 steps after a warm-up.
///
/// Rays are split into a fixed number of chunks, each with its own gradient buffer, summed in
/// chunk order: a seed gives the same field on any number of cores.
public final class RadianceFieldTrainer {
    public private(set) var field: GridRadianceField
    /// The images fitted; a dataset update replaces some of them as it goes.
    public var views: [NeRFView]
    public var raysPerStep: Int
    public var learningRate: Float
    /// Weight of the smoothing prior on density logits and on colour logits: each step moves a
    /// touched point by this times the sum of its differences to its 6 neighbours, scaled by the
    /// learning rate's decay (so below 1/6 it never overshoots their mean).
    public var densitySmoothness: Float, colorSmoothness: Float
    /// Weight of mip-NeRF 360's distortion loss on each ray (`RaySamples.distortionLoss`), added
    /// to the ray's colour error.
    public var distortion: Float = 0
    public let totalSteps: Int
    public let resolutions: [Int]
    public private(set) var step = 0
    public static let occupancyEvery = 16
    /// Steps before the occupancy grid is first refreshed (or the end of the coarsest stage, if sooner).
    public static let occupancyWarmup = 128
    static let chunks = 4

    var rng: RandomGenerator
    var firstMoment: [Float] = [], secondMoment: [Float] = []
    var environmentMoments: ([Float], [Float])
    /// Each chunk's gradient (laid out as the field's values), one after another.
    var gradients: [Float] = [], environmentGradients: [Float] = []
    /// Per chunk and brick, the last step that touched the brick; and each chunk's list of them.
    var brickStamps: [UInt32] = [], touchedBricks: [Int32] = [], touchedCounts = [Int](repeating: 0, count: RadianceFieldTrainer.chunks)
    /// The bricks any chunk touched this step.
    var unionStamps: [UInt32] = [], union: [Int32] = []
    let samples = (0..<RadianceFieldTrainer.chunks).map { _ in RaySamples() }

    /// A trainer that starts from a fresh field of `resolutions[0]` points per axis for
    /// `contraction`, ending at `resolutions.last`.
    public init(views: [NeRFView], contraction: SceneContraction, resolutions: [Int] = [32, 64, 128], totalSteps: Int = 1500,
                raysPerStep: Int = 4096, learningRate: Float = 0.1, densitySmoothness: Float = 0, colorSmoothness: Float = 0,
                seed: UInt64 = 0) {
        precondition(!views.isEmpty && !resolutions.isEmpty && resolutions.allSatisfy { $0 >= 2 } && totalSteps >= 1,
                     "RadianceFieldTrainer: views, resolutions ≥ 2 and steps ≥ 1")
        (self.views, self.resolutions, self.totalSteps, self.raysPerStep) = (views, resolutions, totalSteps, raysPerStep)
        (self.learningRate, self.densitySmoothness, self.colorSmoothness) = (learningRate, densitySmoothness, colorSmoothness)
        field = GridRadianceField(resolution: resolutions[0], contraction: contraction)
        field.occupancy = OccupancyGrid(resolution: 64)
        rng = RandomGenerator(seed: seed)
        environmentMoments = ([Float](repeating: 0, count: field.environment.count), [Float](repeating: 0, count: field.environment.count))
        allocate()
    }

    /// A trainer that goes on fitting `field` at its own resolution (and occupancy grid).
    public init(continuing field: GridRadianceField, views: [NeRFView], totalSteps: Int, raysPerStep: Int = 4096, learningRate: Float = 0.01,
                seed: UInt64 = 0) {
        precondition(!views.isEmpty && totalSteps >= 1, "RadianceFieldTrainer: views and steps ≥ 1")
        (self.views, resolutions, self.totalSteps, self.raysPerStep) = (views, [field.resolution], totalSteps, raysPerStep)
        (self.learningRate, densitySmoothness, colorSmoothness) = (learningRate, 0, 0)
        self.field = field
        rng = RandomGenerator(seed: seed)
        environmentMoments = ([Float](repeating: 0, count: field.environment.count), [Float](repeating: 0, count: field.environment.count))
        allocate()
    }

    /// Saves everything a resumed fit needs (atomically): the field at its current resolution,
    /// Adam's moments, the occupancy grid, the step and the random state, with `metadata` and
    /// the caller's own `tensors`.
    public func saveCheckpoint(to path: String, metadata: [String: String] = [:], tensors: [String: Tensor] = [:]) throws {
        let (n, e) = (field.values.count, field.environment.count)
        let occupancy = field.occupancy?.density ?? [], occupied = (field.occupancy?.occupied ?? []).map { $0 ? Float(1) : 0 }
        try SafetensorsFile.write(["values": Tensor(shape: [n], storage: field.values), "environment": Tensor(shape: [e], storage: field.environment),
                                   "adam_m": Tensor(shape: [n], storage: firstMoment), "adam_v": Tensor(shape: [n], storage: secondMoment),
                                   "environment_adam_m": Tensor(shape: [e], storage: environmentMoments.0),
                                   "environment_adam_v": Tensor(shape: [e], storage: environmentMoments.1),
                                   "occupancy": Tensor(shape: [occupancy.count], storage: occupancy), "occupied": Tensor(shape: [occupied.count], storage: occupied)]
                                    .merging(tensors) { own, _ in own },
                                  metadata: metadata.merging(["step": "\(step)", "rng": "\(rng.state)", "resolution": "\(field.resolution)"]) { $1 }, to: path)
    }

    /// Restores a checkpoint written by `saveCheckpoint` for the same fit.
    public func loadCheckpoint(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        guard let s = file.metadata["step"].flatMap(Int.init), let r = file.metadata["rng"].flatMap(UInt64.init),
              let resolution = file.metadata["resolution"].flatMap(Int.init), resolutions.contains(resolution), (0...totalSteps).contains(s) else {
            throw InputError(path, "not a checkpoint of this fit")
        }
        if resolution != field.resolution {
            let grown = GridRadianceField(resolution: resolution, contraction: field.contraction)
            grown.occupancy = field.occupancy
            field = grown
            allocate()
        }
        let (n, e) = (field.values.count, field.environment.count), cells = field.occupancy?.density.count ?? 0
        let names = ["values", "environment", "adam_m", "adam_v", "environment_adam_m", "environment_adam_v", "occupancy", "occupied"]
        let tensors = try names.map { try file.tensor($0) }
        guard tensors.map(\.count) == [n, e, n, n, e, e, cells, cells] else { throw InputError(path, "checkpoint holds a field of another size") }
        field.values = tensors[0].storage
        field.environment = tensors[1].storage
        (firstMoment, secondMoment) = (tensors[2].storage, tensors[3].storage)
        environmentMoments = (tensors[4].storage, tensors[5].storage)
        field.occupancy?.restore(density: tensors[6].storage, occupied: tensors[7].storage.map { $0 > 0.5 })
        (step, rng) = (s, RandomGenerator(state: r))
    }

    var brickCount: Int { field.values.count / GridRadianceField.brickSize }

    func allocate() {
        let n = field.values.count
        firstMoment = [Float](repeating: 0, count: n)
        secondMoment = firstMoment
        gradients = [Float](repeating: 0, count: n * Self.chunks)
        environmentGradients = [Float](repeating: 0, count: field.environment.count * Self.chunks)
        brickStamps = [UInt32](repeating: 0, count: brickCount * Self.chunks)
        touchedBricks = [Int32](repeating: 0, count: brickCount * Self.chunks)
        unionStamps = [UInt32](repeating: 0, count: brickCount)
        union = []
    }

    /// The resolution the grid has at `step`.
    func resolution(at step: Int) -> Int {
        resolutions[min(resolutions.count - 1, step * resolutions.count / totalSteps)]
    }

    /// One step; returns the batch's mean squared error (colours in [0, 1]).
    @discardableResult
    public func advance() -> Float {
        if resolution(at: step) != field.resolution {
            field = field.resampled(to: resolution(at: step))
            allocate()
        }
        step += 1
        let stamp = UInt32(step)
        // Every ray's view, pixel and jitter, drawn in order on one thread.
        var rays = [(view: Int, pixel: Int, jitter: Float)]()
        rays.reserveCapacity(raysPerStep)
        for _ in 0..<raysPerStep {
            let v = Int(rng.next() % UInt64(views.count))
            let count = views[v].image.width * views[v].image.height
            rays.append((v, Int(rng.next() % UInt64(count)), Float(rng.uniform())))
        }
        var losses = [Float](repeating: 0, count: Self.chunks)
        let scale = 2 / Float(3 * raysPerStep)
        let field = field, views = views, raysPerStep = raysPerStep, distortion = distortion / Float(raysPerStep)
        let (n, e, bricks) = (field.values.count, field.environment.count, brickCount)
        gradients.withUnsafeMutableBufferPointer { gradients in
            environmentGradients.withUnsafeMutableBufferPointer { environmentGradients in
                brickStamps.withUnsafeMutableBufferPointer { stamps in
                    touchedBricks.withUnsafeMutableBufferPointer { touched in
                        touchedCounts.withUnsafeMutableBufferPointer { counts in
                            losses.withUnsafeMutableBufferPointer { losses in
                                parallelFor(Self.chunks) { k in
                                    let samples = self.samples[k]
                                    let g = gradients.baseAddress! + k * n, eg = environmentGradients.baseAddress! + k * e
                                    let marks = stamps.baseAddress! + k * bricks, list = touched.baseAddress! + k * bricks
                                    var loss: Float = 0, count = 0
                                    for r in (k * raysPerStep / Self.chunks)..<((k + 1) * raysPerStep / Self.chunks) {
                                        let (v, pixel, jitter) = rays[r]
                                        let view = views[v]
                                        let target = view.color(at: pixel)
                                        let ray = view.camera.ray(x: pixel % view.image.width, y: pixel / view.image.width)
                                        let color = field.renderAndDifferentiate(ray, jitter: jitter, samples: samples,
                                                                                 lossGradient: { ($0 - target) * scale }, distortion: distortion,
                                                                                 gradient: g, environmentGradient: eg)
                                        let error = color - target
                                        loss += (error * error).sum() / 3
                                        samples.corners.withUnsafeBufferPointer { corners in
                                            for c in corners {
                                                for j in 0..<8 {
                                                    let brick = Int(c.indices[j]) >> 8
                                                    if marks[brick] != stamp { marks[brick] = stamp; list[count] = Int32(brick); count += 1 }
                                                }
                                            }
                                        }
                                    }
                                    losses[k] = loss
                                    counts[k] = count
                                }
                            }
                        }
                    }
                }
            }
        }
        union.removeAll(keepingCapacity: true)
        for k in 0..<Self.chunks {
            for i in 0..<touchedCounts[k] {
                let b = Int(touchedBricks[k * bricks + i])
                if unionStamps[b] != stamp { unionStamps[b] = stamp; union.append(Int32(b)) }
            }
        }
        applyUpdate(stamp: stamp)
        if step % Self.occupancyEvery == 0 && step >= min(Self.occupancyWarmup, totalSteps / resolutions.count) { field.occupancy?.update(from: field, rng: &rng) }
        return losses.reduce(0, +) / Float(raysPerStep)
    }

    /// Sums the chunks' gradients (in chunk order) over the touched bricks, moves those bricks by
    /// Adam, then by the smoothing prior; moves the environment; clears the gradients.
    func applyUpdate(stamp: UInt32) {
        let lr = learningRate * Foundation.pow(0.1, Float(step) / Float(totalSteps))
        let (b1, b2): (Float, Float) = (0.9, 0.99)
        let c1 = 1 - Foundation.pow(b1, Float(step)), c2 = 1 - Foundation.pow(b2, Float(step))
        let r = field.resolution
        let decay = lr / learningRate
        let smooth = decay * SIMD4<Float>(densitySmoothness, colorSmoothness, colorSmoothness, colorSmoothness)
        let field = field, union = union, n = field.values.count, bricks = brickCount, size = GridRadianceField.brickSize
        let bricksPerAxis = field.bricksPerAxis
        let smoothing = densitySmoothness > 0 || colorSmoothness > 0
        // The smoothing prior's step (a weighted Laplacian), from the values before any move.
        var prior = [Float](repeating: 0, count: smoothing ? union.count * size : 0)
        if smoothing {
            field.values.withUnsafeBufferPointer { v in
                prior.withUnsafeMutableBufferPointer { prior in
                    parallelChunks(union.count, minimumChunk: 64) { range in
                        for i in range {
                            let b = Int(union[i])
                            let (bx, by, bz) = (b % bricksPerAxis, (b / bricksPerAxis) % bricksPerAxis, b / (bricksPerAxis * bricksPerAxis))
                            for local in 0..<64 {
                                let (x, y, z) = (bx * 4 + local & 3, by * 4 + (local >> 2) & 3, bz * 4 + local >> 4)
                                guard x < r && y < r && z < r else { continue }
                                let o = field.offset(x, y, z)
                                let own = SIMD4<Float>(v[o], v[o + 1], v[o + 2], v[o + 3])
                                var sum = SIMD4<Float>()
                                for (ok, q) in [(x > 0, (x - 1, y, z)), (x + 1 < r, (x + 1, y, z)), (y > 0, (x, y - 1, z)), (y + 1 < r, (x, y + 1, z)),
                                                (z > 0, (x, y, z - 1)), (z + 1 < r, (x, y, z + 1))] where ok {
                                    let p = field.offset(q.0, q.1, q.2)
                                    sum += own - SIMD4(v[p], v[p + 1], v[p + 2], v[p + 3])
                                }
                                let d = smooth * sum
                                for c in 0..<4 { prior[i * size + local * 4 + c] = d[c] }
                            }
                        }
                    }
                }
            }
        }
        field.values.withUnsafeMutableBufferPointer { v in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { s in
                    gradients.withUnsafeMutableBufferPointer { g in
                        brickStamps.withUnsafeBufferPointer { stamps in
                            prior.withUnsafeBufferPointer { prior in
                                parallelChunks(union.count, minimumChunk: 64) { range in
                                    for i in range {
                                        let start = Int(union[i]) * size
                                        for k in 1..<Self.chunks where stamps[k * bricks + start / size] == stamp {
                                            for j in start..<(start + size) { g[j] += g[k * n + j]; g[k * n + j] = 0 }
                                        }
                                        for j in start..<(start + size) {
                                            let grad = g[j]
                                            g[j] = 0
                                            m[j] = b1 * m[j] + (1 - b1) * grad
                                            s[j] = b2 * s[j] + (1 - b2) * grad * grad
                                            v[j] -= lr * (m[j] / c1) / ((s[j] / c2).squareRoot() + 1e-8)
                                            if smoothing { v[j] -= prior[i * size + j - start] }
                                        }
                                        for j in stride(from: start, to: start + size, by: 4) {
                                            v[j] = min(v[j], GridRadianceField.maximumLogit + 1)
                                            for c in 1...3 { v[j + c] = GridRadianceField.boundedColorLogit(v[j + c]) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let e = field.environment.count
        for i in 0..<e {
            var grad: Float = 0
            for k in 0..<Self.chunks { grad += environmentGradients[k * e + i]; environmentGradients[k * e + i] = 0 }
            environmentMoments.0[i] = b1 * environmentMoments.0[i] + (1 - b1) * grad
            environmentMoments.1[i] = b2 * environmentMoments.1[i] + (1 - b2) * grad * grad
            field.environment[i] -= lr * (environmentMoments.0[i] / c1) / ((environmentMoments.1[i] / c2).squareRoot() + 1e-8)
            field.environment[i] = GridRadianceField.boundedColorLogit(field.environment[i])
        }
    }
}
