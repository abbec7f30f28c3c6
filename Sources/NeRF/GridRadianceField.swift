import Core
import Foundation

/// A radiance field for unbounded scenes on 2 cores: a dense grid over the contracted cube
/// [−2, 2]³ of `SceneContraction` (so the ground out to the horizon is represented) holding a
/// density logit and three colour logits per grid point, trilinearly interpolated with
/// σ = exp(s) and colour = sigmoid(k) (Plenoxels without spherical harmonics, Fridovich-Keil et
/// al. 2022), and an environment map of colour logits by direction for what lies beyond (the
/// sky). Rendered by the NeRF quadrature (Mildenhall et al. 2020, eq. 3),
/// `C = Σ T_i α_i c_i + T_end·environment(d)`, `α_i = 1 − exp(−σ_i δ_i)`, marching in normalised
/// units with steps of half a grid cell inside the unit cube that lengthen as `‖p‖∞^1.5` beyond
/// it, skipping cells the `OccupancyGrid` marks empty and stopping once `T < 10⁻⁴`.
public final class GridRadianceField {
    public let resolution: Int
    public let contraction: SceneContraction
    /// Grid values, 4 per point (density logit, then R, G, B logits), in bricks of 4×4×4
    /// points (see `offset`) so that a sample's corners share cache lines and the trainer can
    /// track what a batch touched brick by brick.
    public var values: [Float]
    /// Bricks per axis.
    public let bricksPerAxis: Int
    /// Floats per brick: 64 points of 4 values.
    public static let brickSize = 256
    /// Environment colour logits, `environmentHeight` rows (polar angle from +Y) of
    /// `environmentWidth` columns (azimuth), 3 per texel.
    public var environment: [Float]
    public let environmentWidth = 32, environmentHeight = 16
    /// Cells known to be empty, or nil to sample everywhere.
    public var occupancy: OccupancyGrid?

    /// Largest density logit (σ ≤ e^10), to keep the exponential finite.
    static let maximumLogit: Float = 10
    /// Colour logits (grid and environment) are kept within ±this: colours within 0.6 of a level
    /// of 0 and 255, and never so saturated that an edit cannot move them. Unbounded, a fit drove
    /// a yellow cube's blue logits to −16, where Adam at an edit's rate needs hundreds of steps
    /// to make blue visible, and the cube edited to purple turned dark instead.
    public static let colorLogitBound: Float = 6

    /// `logit` clamped into ±`colorLogitBound`.
    @inline(__always) static func boundedColorLogit(_ logit: Float) -> Float { min(max(logit, -colorLogitBound), colorLogitBound) }
    /// Marching stops at `‖p‖∞` this far (normalised units); the environment lies beyond.
    static let farNorm: Float = 64
    static let minimumTransmittance: Float = 1e-4

    public init(resolution: Int, contraction: SceneContraction, initialDensityLogit: Float = -7) {
        precondition(resolution >= 2, "GridRadianceField: resolution ≥ 2")
        (self.resolution, self.contraction) = (resolution, contraction)
        bricksPerAxis = (resolution + 3) / 4
        values = [Float](repeating: 0, count: bricksPerAxis * bricksPerAxis * bricksPerAxis * Self.brickSize)
        for p in stride(from: 0, to: values.count, by: 4) { values[p] = initialDensityLogit }
        environment = [Float](repeating: 0, count: 32 * 16 * 3)
    }

    /// Clamps every colour logit, of the grid and of the environment, into ±`colorLogitBound`.
    public func boundColorLogits() {
        for i in values.indices where i & 3 != 0 { values[i] = Self.boundedColorLogit(values[i]) }
        for i in environment.indices { environment[i] = Self.boundedColorLogit(environment[i]) }
    }

    /// Half a grid cell, in normalised units inside the unit cube.
    var baseStep: Float { 2 / Float(resolution - 1) }

    /// The step length (normalised units) at a point whose `‖p‖∞` is `n`.
    @inline(__always)
    func stepLength(norm n: Float) -> Float { n <= 1 ? baseStep : baseStep * n * n.squareRoot() }

    /// The step length at contracted point `q`.
    func stepLength(contracted q: SIMD3<Float>) -> Float {
        let m = max(abs(q.x), max(abs(q.y), abs(q.z)))
        return stepLength(norm: m <= 1 ? m : 1 / max(2 - m, 1e-6))
    }

    /// Where grid point (x, y, z)'s first value is in `values`.
    @inline(__always)
    public func offset(_ x: Int, _ y: Int, _ z: Int) -> Int {
        let brick = ((z >> 2) * bricksPerAxis + (y >> 2)) * bricksPerAxis + (x >> 2)
        return brick * Self.brickSize + ((((z & 3) << 4) | ((y & 3) << 2) | (x & 3)) << 2)
    }

    /// The grid values in plain order: [z][y][x][4].
    public var linearValues: [Float] {
        let r = resolution
        var out = [Float](repeating: 0, count: r * r * r * 4)
        for z in 0..<r { for y in 0..<r { for x in 0..<r {
            let (o, i) = (((z * r + y) * r + x) * 4, offset(x, y, z))
            for k in 0..<4 { out[o + k] = values[i + k] }
        } } }
        return out
    }

    /// Sets the grid values from plain order ([z][y][x][4]).
    public func setLinearValues(_ linear: [Float]) {
        let r = resolution
        precondition(linear.count == r * r * r * 4, "setLinearValues: wrong count")
        for z in 0..<r { for y in 0..<r { for x in 0..<r {
            let (o, i) = (((z * r + y) * r + x) * 4, offset(x, y, z))
            for k in 0..<4 { values[i + k] = linear[o + k] }
        } } }
    }

    /// The 8 grid points around contracted point `q` (as offsets of their first value) and
    /// their trilinear weights.
    @inline(__always)
    func corners(_ q: SIMD3<Float>) -> (indices: SIMD8<Int32>, weights: SIMD8<Float>) {
        let scale = Float(resolution - 1) / 4
        var g = (q + 2) * scale
        let top = Float(resolution - 1)
        g = SIMD3(min(max(g.x, 0), top), min(max(g.y, 0), top), min(max(g.z, 0), top))
        let i0 = SIMD3<Int>(min(Int(g.x), resolution - 2), min(Int(g.y), resolution - 2), min(Int(g.z), resolution - 2))
        let f = g - SIMD3<Float>(Float(i0.x), Float(i0.y), Float(i0.z))
        let (x0, y0, z0, x1, y1, z1) = (i0.x, i0.y, i0.z, i0.x + 1, i0.y + 1, i0.z + 1)
        let indices = SIMD8<Int32>(Int32(offset(x0, y0, z0)), Int32(offset(x1, y0, z0)), Int32(offset(x0, y1, z0)), Int32(offset(x1, y1, z0)),
                                   Int32(offset(x0, y0, z1)), Int32(offset(x1, y0, z1)), Int32(offset(x0, y1, z1)), Int32(offset(x1, y1, z1)))
        let wx = SIMD8<Float>(1 - f.x, f.x, 1 - f.x, f.x, 1 - f.x, f.x, 1 - f.x, f.x)
        let wy = SIMD8<Float>(1 - f.y, 1 - f.y, f.y, f.y, 1 - f.y, 1 - f.y, f.y, f.y)
        let wz = SIMD8<Float>(1 - f.z, 1 - f.z, 1 - f.z, 1 - f.z, f.z, f.z, f.z, f.z)
        return (indices, wx * wy * wz)
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    /// Density σ at contracted point `q`.
    public func density(contracted q: SIMD3<Float>) -> Float {
        let c = corners(q)
        var s: Float = 0
        values.withUnsafeBufferPointer { v in for j in 0..<8 { s += c.weights[j] * v[Int(c.indices[j])] } }
        return Foundation.exp(min(s, Self.maximumLogit))
    }

    /// The environment texel coordinates of direction `d`: the 4 texels around it (offsets of
    /// their first value) and their bilinear weights.
    @inline(__always)
    func environmentTexels(_ d: SIMD3<Float>) -> (indices: SIMD4<Int32>, weights: SIMD4<Float>) {
        let (w, h) = (environmentWidth, environmentHeight)
        let azimuth = Foundation.atan2(d.x, -d.z) / (2 * Float.pi) + 0.5
        let polar = Foundation.acos(min(1, max(-1, d.y))) / Float.pi
        let u = azimuth * Float(w) - 0.5, v = min(max(polar * Float(h) - 0.5, 0), Float(h - 1))
        let u0 = Int(u.rounded(.down)), v0 = min(Int(v), h - 2)
        let fu = u - Float(u0), fv = v - Float(v0)
        let (a, b) = (((u0 % w) + w) % w, ((u0 + 1) % w + w) % w)
        let indices = SIMD4<Int32>(Int32((v0 * w + a) * 3), Int32((v0 * w + b) * 3), Int32(((v0 + 1) * w + a) * 3), Int32(((v0 + 1) * w + b) * 3))
        return (indices, SIMD4((1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv))
    }

    /// Environment logits along direction `d`.
    @inline(__always)
    func environmentLogits(_ d: SIMD3<Float>) -> (logits: SIMD3<Float>, texels: (indices: SIMD4<Int32>, weights: SIMD4<Float>)) {
        let t = environmentTexels(d)
        var k = SIMD3<Float>()
        for j in 0..<4 {
            let i = Int(t.indices[j])
            k += t.weights[j] * SIMD3(environment[i], environment[i + 1], environment[i + 2])
        }
        return (k, t)
    }

    /// The colour seen along `ray`, in [0, 1], and the expected depth (world units, to the
    /// environment counted as the far end of the march); `jitter` in [0, 1) shifts the samples
    /// within their first step.
    public func render(_ ray: Ray, jitter: Float = 0.5) -> (color: SIMD3<Float>, depth: Float) {
        let r = march(ray, jitter: jitter, record: nil)
        return (r.color, r.depth)
    }

    /// Marches `ray`, recording each sample in `samples` when given.
    @inline(__always)
    func march(_ ray: Ray, jitter: Float, record samples: RaySamples?) -> (color: SIMD3<Float>, depth: Float, transmittance: Float, environment: SIMD3<Float>) {
        let o = contraction.normalized(ray.origin), d = ray.direction
        var t: Float = 0
        var transmittance: Float = 1
        var color = SIMD3<Float>(), depth: Float = 0
        var first = true
        // Marching steps taken so far, sampled or skipped: the distortion loss's coordinate.
        var steps = 0
        values.withUnsafeBufferPointer { v in
            while true {
                let p = o + d * t
                let n = max(abs(p.x), max(abs(p.y), abs(p.z)))
                if n > Self.farNorm { break }
                let dt = stepLength(norm: n)
                if first { first = false; t += jitter * dt; continue }
                steps += 1
                let q = n <= 1 ? p : p * ((2 - 1 / n) / n)
                if occupancy?.isOccupied(q) ?? true {
                    let c = corners(q)
                    var s = SIMD4<Float>()
                    for j in 0..<8 {
                        let base = Int(c.indices[j])
                        s += c.weights[j] * SIMD4(v[base], v[base + 1], v[base + 2], v[base + 3])
                    }
                    let sigma = Foundation.exp(min(s.x, Self.maximumLogit))
                    let rgb = SIMD3<Float>(Self.sigmoid(s.y), Self.sigmoid(s.z), Self.sigmoid(s.w))
                    let alpha = 1 - Foundation.exp(-sigma * dt)
                    let weight = transmittance * alpha
                    color += weight * rgb
                    depth += weight * t
                    samples?.append(corners: c, sigma: sigma, clamped: s.x >= Self.maximumLogit, color: rgb, step: dt, transmittance: transmittance,
                                    position: Float(steps))
                    transmittance -= weight
                    if transmittance < Self.minimumTransmittance { break }
                }
                t += dt
            }
        }
        let environment: SIMD3<Float>
        if transmittance >= Self.minimumTransmittance {
            let k = environmentLogits(d).logits
            environment = SIMD3(Self.sigmoid(k.x), Self.sigmoid(k.y), Self.sigmoid(k.z))
            color += transmittance * environment
            depth += transmittance * t
        } else {
            environment = .zero
        }
        return (color, depth * contraction.radius, transmittance, environment)
    }

    /// Renders `ray` and adds ∂loss/∂values to `gradient` (laid out as `values`) and
    /// ∂loss/∂environment to `environmentGradient`, where `lossGradient` turns the rendered
    /// colour into ∂loss/∂colour, and the loss adds `distortion` times the ray's distortion
    /// (`distortionLoss`). Returns the colour.
    @discardableResult
    func renderAndDifferentiate(_ ray: Ray, jitter: Float, samples: RaySamples, lossGradient: (SIMD3<Float>) -> SIMD3<Float>,
                                distortion: Float = 0,
                                gradient: UnsafeMutablePointer<Float>, environmentGradient: UnsafeMutablePointer<Float>) -> SIMD3<Float> {
        samples.removeAll()
        let result = march(ray, jitter: jitter, record: samples)
        let g = lossGradient(result.color)
        let tail = result.transmittance >= Self.minimumTransmittance ? result.transmittance : 0
        if distortion > 0 { samples.differentiateDistortion(after: result.transmittance, scale: distortion) }
        // ∂C/∂c_i = w_i; ∂C/∂σ_i = δ_i·(T_{i+1} c_i − S_i), S_i = Σ_{j>i} w_j c_j + T_end·environment.
        // The distortion's part, with g_i = ∂L/∂w_i: ∂L/∂σ_i = δ_i·(T_{i+1} g_i − Σ_{j>i} w_j g_j).
        var suffix = tail * result.environment
        var distortionSuffix: Float = 0
        var after = result.transmittance
        for i in stride(from: samples.count - 1, through: 0, by: -1) {
            let sigma = samples.sigma[i], rgb = samples.color[i], dt = samples.step[i], before = samples.transmittance[i]
            let weight = before - after
            let dColor = weight * g * rgb * (1 - rgb)
            var dWeight = ((after * rgb - suffix) * g).sum()
            if distortion > 0 {
                let gw = samples.distortionGradient[i]
                dWeight += after * gw - distortionSuffix
                distortionSuffix += weight * gw
            }
            let dDensity = samples.clamped[i] ? 0 : dt * dWeight * sigma
            suffix += weight * rgb
            let c = samples.corners[i]
            for j in 0..<8 {
                let base = Int(c.indices[j]), w = c.weights[j]
                gradient[base] += w * dDensity
                gradient[base + 1] += w * dColor.x
                gradient[base + 2] += w * dColor.y
                gradient[base + 3] += w * dColor.z
            }
            after = before
        }
        if tail > 0 {
            let e = result.environment
            let dLogits = tail * g * e * (1 - e)
            let texels = environmentTexels(ray.direction)
            for j in 0..<4 {
                let base = Int(texels.indices[j]), w = texels.weights[j]
                environmentGradient[base] += w * dLogits.x
                environmentGradient[base + 1] += w * dLogits.y
                environmentGradient[base + 2] += w * dLogits.z
            }
        }
        return result.color
    }

    /// Renders every pixel of `camera`.
    public func render(camera: NeRFCamera) -> RGBImage {
        renderWithDepth(camera: camera).image
    }

    /// Renders every pixel of `camera`: the image and the depth per pixel (world units).
    public func renderWithDepth(camera: NeRFCamera) -> (image: RGBImage, depth: [Float]) {
        let (w, h) = (camera.width, camera.height)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        var depth = [Float](repeating: 0, count: w * h)
        pixels.withUnsafeMutableBufferPointer { out in
            depth.withUnsafeMutableBufferPointer { depthOut in
                parallelFor(h) { y in
                    for x in 0..<w {
                        let r = self.render(camera.ray(x: x, y: y))
                        for k in 0..<3 { out[(y * w + x) * 3 + k] = UInt8(max(0, min(255, (r.color[k] * 255).rounded()))) }
                        depthOut[y * w + x] = r.depth
                    }
                }
            }
        }
        return (RGBImage(width: w, height: h, pixels: pixels), depth)
    }

    /// The field resampled onto a grid of `newResolution` points per axis (trilinearly), with
    /// the same environment; the occupancy grid is kept.
    public func resampled(to newResolution: Int) -> GridRadianceField {
        let field = GridRadianceField(resolution: newResolution, contraction: contraction)
        field.environment = environment
        field.occupancy = occupancy
        let r = newResolution
        field.values.withUnsafeMutableBufferPointer { out in
            values.withUnsafeBufferPointer { v in
                parallelChunks(r, minimumChunk: 1) { zs in
                    for z in zs { for y in 0..<r { for x in 0..<r {
                        let q = SIMD3<Float>(Float(x), Float(y), Float(z)) * (4 / Float(r - 1)) - 2
                        let c = corners(q)
                        let o = field.offset(x, y, z)
                        for k in 0..<4 {
                            var s: Float = 0
                            for j in 0..<8 { s += c.weights[j] * v[Int(c.indices[j]) + k] }
                            out[o + k] = s
                        }
                    } } }
                }
            }
        }
        return field
    }
}

/// The samples one ray's march recorded, reused from ray to ray to keep allocation out of the
/// training loop.
final class RaySamples {
    var corners: [(indices: SIMD8<Int32>, weights: SIMD8<Float>)] = []
    var sigma: [Float] = [], color: [SIMD3<Float>] = [], step: [Float] = [], clamped: [Bool] = []
    /// Transmittance before each sample.
    var transmittance: [Float] = []
    /// Each sample's marching step along the ray (sampled or skipped ones counted alike): steps
    /// are half a cell inside the unit cube and lengthen with the contraction beyond it, so this
    /// plays the part of mip-NeRF 360's normalised distance s.
    var position: [Float] = []
    /// Each sample's weight, and ∂(distortion)/∂w_i, filled by `differentiateDistortion`.
    var weight: [Float] = [], distortionGradient: [Float] = []
    var count: Int { sigma.count }

    init(capacity n: Int = 512) {
        corners.reserveCapacity(n); sigma.reserveCapacity(n); color.reserveCapacity(n); step.reserveCapacity(n)
        clamped.reserveCapacity(n); transmittance.reserveCapacity(n); position.reserveCapacity(n); weight.reserveCapacity(n)
        distortionGradient.reserveCapacity(n)
    }

    @inline(__always)
    func append(corners c: (indices: SIMD8<Int32>, weights: SIMD8<Float>), sigma s: Float, clamped k: Bool, color rgb: SIMD3<Float>,
                step dt: Float, transmittance t: Float, position u: Float) {
        corners.append(c); sigma.append(s); clamped.append(k); color.append(rgb); step.append(dt); transmittance.append(t); position.append(u)
    }

    func removeAll() {
        corners.removeAll(keepingCapacity: true); sigma.removeAll(keepingCapacity: true); color.removeAll(keepingCapacity: true)
        step.removeAll(keepingCapacity: true); clamped.removeAll(keepingCapacity: true); transmittance.removeAll(keepingCapacity: true)
        position.removeAll(keepingCapacity: true); weight.removeAll(keepingCapacity: true); distortionGradient.removeAll(keepingCapacity: true)
    }

    /// Sets `weight` to the samples' weights w_i = T_i − T_{i+1}, with `after` the transmittance
    /// past the last.
    func computeWeights(after: Float) {
        weight.removeAll(keepingCapacity: true)
        for i in 0..<count { weight.append(transmittance[i] - (i + 1 < count ? transmittance[i + 1] : after)) }
    }

    /// mip-NeRF 360's distortion loss (Barron et al. 2022, eq. 15) on these samples, in marching
    /// steps: `Σ_ij w_i w_j |u_i − u_j| + ⅓ Σ_i w_i²`, each sample one step wide. It is small when
    /// a ray's weight gathers at one place, and penalises the floaters that spread it. This is the
    /// definition, in quadratic time, for checking; training takes `differentiateDistortion`.
    func distortionLoss(after: Float) -> Float {
        computeWeights(after: after)
        let w = weight
        var loss: Float = 0
        for i in 0..<count {
            loss += w[i] * w[i] / 3
            for j in 0..<count { loss += w[i] * w[j] * abs(position[i] - position[j]) }
        }
        return loss
    }

    /// Fills `distortionGradient` with `scale` × ∂(distortionLoss)/∂w_i, in linear time:
    /// `2 Σ_j w_j |u_i − u_j| + ⅔ w_i`, the sum split at i into prefix sums.
    func differentiateDistortion(after: Float, scale: Float) {
        computeWeights(after: after)
        var (totalWeight, totalMoment): (Float, Float) = (0, 0)
        for i in 0..<count { totalWeight += weight[i]; totalMoment += weight[i] * position[i] }
        var (below, belowMoment): (Float, Float) = (0, 0)
        distortionGradient.removeAll(keepingCapacity: true)
        for i in 0..<count {
            let (u, w) = (position[i], weight[i])
            let above = totalWeight - below - w, aboveMoment = totalMoment - belowMoment - w * u
            let spread = (u * below - belowMoment) + (aboveMoment - u * above)
            distortionGradient.append(scale * (2 * spread + 2 * w / 3))
            below += w; belowMoment += w * u
        }
    }
}
