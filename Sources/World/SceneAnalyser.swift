import Core
import Foundation

/// What the analyser reads from an image of the world.
public struct SceneJudgement: Equatable, Sendable {
    public var ground: Ground
    public var time: TimeOfDay
    /// The colour covering the most non-ground pixels, or nil when no object is seen.
    public var dominantColor: ObjectColor?
    /// The shape of the largest region of the dominant colour, or nil.
    public var shape: Shape?
    /// Pixels of the dominant colour.
    public var objectPixels: Int
}

/// A deterministic judge of world images built on the renderer's own palettes: every reference it
/// compares against is measured on renders made with fixed seeds, so its verdicts depend on
/// nothing but the image.
///
/// - Ground and time: each pixel of the lower third votes for the (ground, time) whose ground
///   colours are nearest.
/// - Colour: each pixel is given to the nearest of the ground, sky, shadow and object colours
///   under that time of day (several brightness levels each); the colour with the largest connected
///   region wins. Shadow colours are the ground's where an object darkens it: without them long
///   sunset shadows read as a dark white object (41 of 49 colour misses on 1,440 renders were
///   "white"; 15 of 22 with them).
/// - Shape: `ShapeClassifier` reads the silhouette of the largest connected region of that
///   colour (its mask and the shading inside it). It replaced a 7-nearest-neighbour vote over
///   hand-made silhouette features, which told cubes from cylinders poorly (shape 93.3% on 1,440
///   renders; most misses cube ↔ cylinder, whose shaded sides are both flat colour).
public final class SceneAnalyser: @unchecked Sendable {
    let size: Int
    /// [time][ground] → colour centroids of ground pixels.
    var groundColors: [[[SIMD3<Float>]]] = []
    /// [time] → colour centroids of sky pixels.
    var skyColors: [[SIMD3<Float>]] = []
    /// [time][ground] → colour centroids of ground pixels in an object's shadow.
    var shadowColors: [[[SIMD3<Float>]]] = []
    /// [time][colour] → colour centroids of object pixels.
    var objectColors: [[[SIMD3<Float>]]] = []

    /// The shipped shape classifier, loaded on first use (a build without its resource is broken).
    static let bundledShapeClassifier: ShapeClassifier = {
        do { return try ShapeClassifier.bundled() } catch { fatalError("SceneAnalyser: \(error)") }
    }()

    /// Builds the references from renders at `size`×`size` (the size of the images to judge).
    public init(size: Int = 64, referenceSeed: UInt64 = 9_000_000) {
        self.size = size
        var groundPixels = [[[SIMD3<Float>]]](repeating: [[SIMD3<Float>]](repeating: [], count: Ground.allCases.count), count: TimeOfDay.allCases.count)
        var skyPixels = [[SIMD3<Float>]](repeating: [], count: TimeOfDay.allCases.count)
        var shadowPixels = groundPixels
        var objectPixels = [[[SIMD3<Float>]]](repeating: [[SIMD3<Float>]](repeating: [], count: ObjectColor.allCases.count), count: TimeOfDay.allCases.count)
        var seed = referenceSeed
        for (ti, time) in TimeOfDay.allCases.enumerated() {
            for (gi, ground) in Ground.allCases.enumerated() {
                for color in ObjectColor.allCases {
                    for shape in Shape.allCases {
                        seed += 1
                        let sample = Self.singleObjectSample(color: color, shape: shape, ground: ground, time: time, seed: seed)
                        let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size)
                        // The same view with no object: ground at most 70% as bright as there is in its shadow.
                        var empty = sample.scene
                        empty.objects = []
                        let bare = WorldRenderer(scene: empty).render(camera: sample.camera, width: size, height: size)
                        for p in 0..<(size * size) where r.objectIndex[p] == Rendering.ground {
                            let c = SIMD3(r.rgb[3 * p], r.rgb[3 * p + 1], r.rgb[3 * p + 2])
                            let lit = SIMD3(bare.rgb[3 * p], bare.rgb[3 * p + 1], bare.rgb[3 * p + 2])
                            if c.sum() < 0.7 * lit.sum() { shadowPixels[ti][gi].append(c) }
                        }
                        for p in 0..<(size * size) where p % 3 == 0 {
                            let c = SIMD3(r.rgb[3 * p], r.rgb[3 * p + 1], r.rgb[3 * p + 2])
                            switch r.objectIndex[p] {
                            case Rendering.ground: groundPixels[ti][gi].append(c)
                            case Rendering.sky: skyPixels[ti].append(c)
                            default: objectPixels[ti][ObjectColor.allCases.firstIndex(of: color)!].append(c)
                            }
                        }
                    }
                }
            }
        }
        groundColors = groundPixels.map { $0.map { Self.brightnessCentroids($0, levels: 5) } }
        skyColors = skyPixels.map { Self.brightnessCentroids($0, levels: 5) }
        shadowColors = shadowPixels.map { $0.map { Self.brightnessCentroids($0, levels: 5) } }
        objectColors = objectPixels.map { $0.map { Self.brightnessCentroids($0, levels: 4) } }
    }

    /// Every (colour, shape, ground, time) of a single-object scene, in the order sets of renders
    /// cycle through them (`csd eval analyser`, the shape classifier's training set).
    public static let singleObjectCases: [(color: ObjectColor, shape: Shape, ground: Ground, time: TimeOfDay)] =
        TimeOfDay.allCases.flatMap { t in Ground.allCases.flatMap { g in ObjectColor.allCases.flatMap { c in Shape.allCases.map { (c, $0, g, t) } } } }

    /// A single-object scene with the object near the middle, and a random camera, for references.
    public static func singleObjectSample(color: ObjectColor, shape: Shape, ground: Ground, time: TimeOfDay, seed: UInt64) -> WorldSample {
        var sample = WorldSample(seed: seed)
        var rng = RandomGenerator(seed: seed &+ 77)
        let object = WorldObject(shape: shape, color: color, position: [Float(rng.uniform() * 1.6 - 0.8), Float(rng.uniform() * 1.6 - 0.8)],
                                 size: Float(0.5 + 0.25 * rng.uniform()), yaw: Float(rng.uniform() * Double.pi / 2))
        sample.scene = WorldScene(ground: ground, time: time, objects: [object])
        return sample
    }

    /// Mean colours of `levels` equal slices of `pixels` sorted by brightness.
    static func brightnessCentroids(_ pixels: [SIMD3<Float>], levels: Int) -> [SIMD3<Float>] {
        guard !pixels.isEmpty else { return [] }
        let sorted = pixels.sorted { $0.sum() < $1.sum() }
        let slice = max(1, sorted.count / levels)
        return stride(from: 0, to: sorted.count, by: slice).prefix(levels).map { start in
            let part = sorted[start..<min(sorted.count, start + slice)]
            return part.reduce(SIMD3<Float>(), +) / Float(part.count)
        }
    }

    static func pixels(of image: RGBImage) -> [SIMD3<Float>] {
        (0..<(image.width * image.height)).map { p in
            SIMD3<Float>(Float(image.pixels[3 * p]), Float(image.pixels[3 * p + 1]), Float(image.pixels[3 * p + 2])) / 255
        }
    }

    /// Each pixel's object colour index, or −1 where ground, sky or shadow colours are nearer or where the
    /// pixel is close to its row's median colour (objects cover a small part of any row, so the
    /// median is the local background, whatever the sky glow or ground texture).
    func classify(_ pixels: [SIMD3<Float>], time ti: Int, ground gi: Int) -> [Int] {
        var median = [SIMD3<Float>](repeating: .zero, count: size)
        for y in 0..<size {
            let row = pixels[(y * size)..<((y + 1) * size)]
            for k in 0..<3 { median[y][k] = row.map { $0[k] }.sorted()[size / 2] }
        }
        return pixels.enumerated().map { p, c in
            let d = c - median[p / size]
            if abs(d.x) + abs(d.y) + abs(d.z) < 0.1 { return -1 }
            let background = min(Self.nearest(c, groundColors[ti][gi]), Self.nearest(c, skyColors[ti]), Self.nearest(c, shadowColors[ti][gi]))
            var best = (background, -1)
            for k in ObjectColor.allCases.indices {
                let d = Self.nearest(c, objectColors[ti][k])
                if d < best.0 { best = (d, k) }
            }
            return best.1
        }
    }

    @inline(__always) static func distance(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float {
        let d = a - b
        return (d * d).sum()
    }

    static func nearest(_ c: SIMD3<Float>, _ centroids: [SIMD3<Float>]) -> Float {
        centroids.reduce(Float.infinity) { min($0, distance(c, $1)) }
    }

    /// Where the object is: the (time, ground) the image shows and the largest region of its
    /// dominant object colour (nil colour when no region is big enough).
    struct ObjectLocation {
        var time: Int
        var ground: Int
        var color: Int?
        var region: [Bool]
        var pixelCount: Int
    }

    /// Judges an 8-bit RGB image of `size`×`size`.
    public func judge(_ image: RGBImage) -> SceneJudgement {
        precondition(image.width == size && image.height == size, "SceneAnalyser: built for \(size)x\(size) images")
        let pixels = Self.pixels(of: image)
        let found = locateObject(pixels)
        let (ti, gi) = (found.time, found.ground)
        guard let color = found.color else {
            return SceneJudgement(ground: Ground.allCases[gi], time: TimeOfDay.allCases[ti], dominantColor: nil, shape: nil, objectPixels: 0)
        }
        return SceneJudgement(ground: Ground.allCases[gi], time: TimeOfDay.allCases[ti], dominantColor: ObjectColor.allCases[color],
                              shape: shape(of: found.region, pixels: pixels), objectPixels: found.pixelCount)
    }

    /// The object colour most of `region`'s pixels take (each pixel's colour as `judge` reads
    /// it, under the ground and time the image shows), or nil when fewer than a third of them
    /// take any one colour: what an edit of one object of several turned it into.
    public func color(of image: RGBImage, in region: [Bool]) -> ObjectColor? {
        precondition(image.width == size && image.height == size && region.count == size * size, "SceneAnalyser: built for \(size)x\(size) images")
        let pixels = Self.pixels(of: image)
        let found = locateObject(pixels)
        let labels = classify(pixels, time: found.time, ground: found.ground)
        var counts = [Int](repeating: 0, count: ObjectColor.allCases.count)
        var total = 0
        for (p, inside) in region.enumerated() where inside {
            total += 1
            if labels[p] >= 0 { counts[labels[p]] += 1 }
        }
        guard let best = counts.indices.max(by: { counts[$0] < counts[$1] }), total > 0, 3 * counts[best] >= total else { return nil }
        return ObjectColor.allCases[best]
    }

    /// The pixels `judge` reads as some object's colour (under the ground and time the image
    /// shows): the objects' silhouettes as the analyser sees them.
    public func objectMask(_ image: RGBImage) -> [Bool] {
        precondition(image.width == size && image.height == size, "SceneAnalyser: built for \(size)x\(size) images")
        let pixels = Self.pixels(of: image)
        let found = locateObject(pixels)
        return classify(pixels, time: found.time, ground: found.ground).map { $0 >= 0 }
    }

    /// Ground, time and the dominant object region of an image's pixels.
    func locateObject(_ pixels: [SIMD3<Float>]) -> ObjectLocation {
        let n = size * size

        // Ground and time: votes of the lower third.
        var votes = [Int](repeating: 0, count: TimeOfDay.allCases.count * Ground.allCases.count)
        for p in (n * 2 / 3)..<n {
            var best = (Float.infinity, 0)
            for t in TimeOfDay.allCases.indices {
                for g in Ground.allCases.indices {
                    let d = Self.nearest(pixels[p], groundColors[t][g])
                    if d < best.0 { best = (d, t * Ground.allCases.count + g) }
                }
            }
            votes[best.1] += 1
        }
        let winner = votes.indices.max { votes[$0] < votes[$1] }!
        let (ti, gi) = (winner / Ground.allCases.count, winner % Ground.allCases.count)

        // Colour: each pixel to the nearest ground / sky / shadow / object colour under that time; the
        // colour whose largest connected region is biggest wins (stray pixels do not add up).
        let labels = classify(pixels, time: ti, ground: gi)
        var bestRegion = (count: 0, color: -1, mask: [Bool]())
        // Objects stand on the ground: a region must reach below the horizon (the first row whose
        // median colour is nearer the ground's colours than the sky's) and not touch the top edge.
        var horizon = 0
        for y in 0..<size {
            let row = pixels[(y * size)..<((y + 1) * size)]
            var m = SIMD3<Float>()
            for k in 0..<3 { m[k] = row.map { $0[k] }.sorted()[size / 2] }
            if Self.nearest(m, groundColors[ti][gi]) < Self.nearest(m, skyColors[ti]) { horizon = y; break }
        }
        for k in ObjectColor.allCases.indices where labels.contains(k) {
            let region = Self.largestComponent(labels.map { $0 == k }, size: size, excludingTopEdge: true, reachingBelow: horizon)
            let count = region.reduce(0) { $0 + ($1 ? 1 : 0) }
            if count > bestRegion.count { bestRegion = (count, k, region) }
        }
        let minimumPixels = max(4, n / 400)
        guard bestRegion.count >= minimumPixels else {
            return ObjectLocation(time: ti, ground: gi, color: nil, region: [], pixelCount: 0)
        }
        return ObjectLocation(time: ti, ground: gi, color: bestRegion.color, region: bestRegion.mask, pixelCount: bestRegion.count)
    }

    /// The shape `ShapeClassifier` reads from `region`, or nil for a region too small to measure.
    func shape(of region: [Bool], pixels: [SIMD3<Float>]) -> Shape? {
        Self.bundledShapeClassifier.shape(region: region, pixels: pixels, size: size)
    }

    /// The shape classifier's input (`ShapeClassifier.input`) for the dominant object of an
    /// image of `size`×`size`, or nil when the image shows none.
    func shapeInput(of image: RGBImage) -> [Float]? {
        let pixels = Self.pixels(of: image)
        let found = locateObject(pixels)
        guard found.color != nil else { return nil }
        return ShapeClassifier.input(region: found.region, pixels: pixels, size: size)
    }

    /// The largest 4-connected region of `mask`.
    static func largestComponent(_ mask: [Bool], size: Int, excludingTopEdge: Bool = false, reachingBelow row: Int = -1) -> [Bool] {
        var component = [Int](repeating: -1, count: mask.count)
        var best = (count: 0, id: -1)
        var id = 0
        for start in mask.indices where mask[start] && component[start] < 0 {
            var stack = [start]
            component[start] = id
            var count = 0
            var touchesTop = false
            var bottom = 0
            while let p = stack.popLast() {
                count += 1
                let (x, y) = (p % size, p / size)
                if y == 0 { touchesTop = true }
                bottom = max(bottom, y)
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < size && ny < size {
                    let q = ny * size + nx
                    if mask[q] && component[q] < 0 { component[q] = id; stack.append(q) }
                }
            }
            if count > best.count && !(excludingTopEdge && touchesTop) && bottom > row { best = (count, id) }
            id += 1
        }
        return component.map { $0 == best.id && best.id >= 0 }
    }
}
