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
/// - Shape: features of the largest connected region of that colour (fill of its box, aspect,
///   row-width and column-height profiles, where it is widest, how flat its shading is along rows,
///   how curved its top and bottom outlines are) against reference regions, by a
///   7-nearest-neighbour vote. The references are measured on renders both sharp and box-blurred;
///   an image is compared with those whose outlines are as sharp as its own (`sharpness`), since
///   generated images are softer than renders.
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
    /// Reference silhouettes: features, shape and the box-blur radius of the render measured.
    var silhouettes: [([Float], Shape, Int)] = []
    /// Mean outline sharpness (`sharpness`) of the references at each blur radius.
    var sharpnessByBlur: [Int: Float] = [:]
    var featureScale: [Float] = []

    /// Box-blur radii of the reference renders: generated images are softer than renders, and
    /// an outline's softness changes its silhouette features (shape on renders blurred by 1 and
    /// 2: 71.7% and 48.8% against sharp references alone).
    static let referenceBlurs = [0, 1, 2]

    /// Builds the references from renders at `size`×`size` (the size of the images to judge).
    public init(size: Int = 64, referenceSeed: UInt64 = 9_000_000) {
        self.size = size
        var groundPixels = [[[SIMD3<Float>]]](repeating: [[SIMD3<Float>]](repeating: [], count: Ground.allCases.count), count: TimeOfDay.allCases.count)
        var skyPixels = [[SIMD3<Float>]](repeating: [], count: TimeOfDay.allCases.count)
        var shadowPixels = groundPixels
        var objectPixels = [[[SIMD3<Float>]]](repeating: [[SIMD3<Float>]](repeating: [], count: ObjectColor.allCases.count), count: TimeOfDay.allCases.count)
        var seed = referenceSeed
        var references = [(image: RGBImage, time: Int, ground: Int, color: Int, shape: Shape)]()
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
                        references.append((RGBImage(width: size, height: size, pixels: r.bytes), ti, gi,
                                           ObjectColor.allCases.firstIndex(of: color)!, shape))
                    }
                }
            }
        }
        groundColors = groundPixels.map { $0.map { Self.brightnessCentroids($0, levels: 5) } }
        skyColors = skyPixels.map { Self.brightnessCentroids($0, levels: 5) }
        shadowColors = shadowPixels.map { $0.map { Self.brightnessCentroids($0, levels: 5) } }
        objectColors = objectPixels.map { $0.map { Self.brightnessCentroids($0, levels: 4) } }
        // Reference silhouettes come from the same colour classification the judge applies.
        var sharpnessSums = [Int: (Float, Int)]()
        for ref in references {
            for radius in Self.referenceBlurs {
                let pixels = Self.pixels(of: ref.image.boxBlurred(radius: radius))
                let labels = classify(pixels, time: ref.time, ground: ref.ground)
                let region = Self.largestComponent(labels.map { $0 == ref.color }, size: size)
                guard let f = Self.features(mask: region, size: size, pixels: pixels) else { continue }
                silhouettes.append((f, ref.shape, radius))
                let sum = sharpnessSums[radius, default: (0, 0)]
                sharpnessSums[radius] = (sum.0 + Self.sharpness(mask: region, size: size, pixels: pixels), sum.1 + 1)
            }
        }
        sharpnessByBlur = sharpnessSums.mapValues { $0.0 / Float(max($0.1, 1)) }
        let dims = silhouettes.first?.0.count ?? 0
        featureScale = (0..<dims).map { d in
            let values = silhouettes.filter { $0.2 == 0 }.map { $0.0[d] }
            let mean = values.reduce(0, +) / Float(values.count)
            let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
            return 1 / max(sd, 1e-3)
        }
    }

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

    /// Judges an 8-bit RGB image of `size`×`size`.
    public func judge(_ image: RGBImage) -> SceneJudgement {
        precondition(image.width == size && image.height == size, "SceneAnalyser: built for \(size)x\(size) images")
        let n = size * size
        let pixels = Self.pixels(of: image)

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
            return SceneJudgement(ground: Ground.allCases[gi], time: TimeOfDay.allCases[ti], dominantColor: nil, shape: nil, objectPixels: 0)
        }
        let region = bestRegion.mask
        var shape: Shape? = nil
        if let f = Self.features(mask: region, size: size, pixels: pixels) {
            let scaled = zip(f, featureScale).map(*)
            // Compare with the references as soft as this image's outline.
            let s = Self.sharpness(mask: region, size: size, pixels: pixels)
            let blur = sharpnessByBlur.min { abs($0.value - s) < abs($1.value - s) }?.key ?? 0
            let neighbours = silhouettes.filter { $0.2 == blur }.map { ref -> (Float, Shape) in
                let d = zip(zip(ref.0, featureScale).map(*), scaled).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                return (d, ref.1)
            }.sorted { $0.0 < $1.0 }.prefix(7)
            var tally = [Shape: Float]()
            for (d, s) in neighbours { tally[s, default: 0] += 1 / (1 + d) }
            shape = tally.max { $0.value < $1.value }?.key
        }
        return SceneJudgement(ground: Ground.allCases[gi], time: TimeOfDay.allCases[ti], dominantColor: ObjectColor.allCases[bestRegion.color],
                              shape: shape, objectPixels: bestRegion.count)
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

    /// How sharp a region's outline is: the mean colour step across it along rows, relative to
    /// the step from the region's mean colour to the mean of the other pixels of its rows (near 1
    /// on a render, smaller on a soft image).
    static func sharpness(mask: [Bool], size: Int, pixels: [SIMD3<Float>]) -> Float {
        var (inside, outside, insideCount, outsideCount) = (SIMD3<Float>(), SIMD3<Float>(), 0, 0)
        var (step, edges) = (Float(0), 0)
        for y in 0..<size where (0..<size).contains(where: { mask[y * size + $0] }) {
            for x in 0..<size {
                let p = y * size + x
                if mask[p] { inside += pixels[p]; insideCount += 1 } else { outside += pixels[p]; outsideCount += 1 }
                if x + 1 < size && mask[p] != mask[p + 1] {
                    let d = pixels[p] - pixels[p + 1]
                    step += abs(d.x) + abs(d.y) + abs(d.z)
                    edges += 1
                }
            }
        }
        guard edges > 0, insideCount > 0, outsideCount > 0 else { return 1 }
        let d = inside / Float(insideCount) - outside / Float(outsideCount)
        let contrast = abs(d.x) + abs(d.y) + abs(d.z)
        return contrast > 1e-3 ? min(2, step / Float(edges) / contrast) : 1
    }

    /// Silhouette features: fill of the bounding box, height/width, the relative height of the
    /// widest row, the share of neighbouring pixels along rows within 6 levels and exactly equal,
    /// the bulge of the bottom and top outlines, the row widths in 8 bands from top to bottom and
    /// the column heights in 4 bands from left to right (each relative to its maximum).
    static func features(mask: [Bool], size: Int, pixels: [SIMD3<Float>]) -> [Float]? {
        var (minX, minY, maxX, maxY, area) = (size, size, -1, -1, 0)
        var widths = [Int](repeating: 0, count: size), heights = [Int](repeating: 0, count: size)
        for y in 0..<size {
            for x in 0..<size where mask[y * size + x] {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                area += 1
                widths[y] += 1
                heights[x] += 1
            }
        }
        guard area >= 6 else { return nil }
        let (w, h) = (Float(maxX - minX + 1), Float(maxY - minY + 1))
        func bands(_ values: [Float], _ count: Int) -> [Float] {
            let top = values.max()!
            return (0..<count).map { b in
                let lo = b * values.count / count, hi = max(lo + 1, (b + 1) * values.count / count)
                return values[lo..<min(hi, values.count)].reduce(0, +) / Float(min(hi, values.count) - lo) / top
            }
        }
        let rows = Array(widths[minY...maxY]).map(Float.init)
        let columns = Array(heights[minX...maxX]).map(Float.init)
        let widestAt = Float(rows.firstIndex(of: rows.max()!)!) / max(1, Float(rows.count - 1))
        // Flat faces (cubes) keep their brightness along a row; curved sides do not.
        var (flat, equal, pairs) = (0, 0, 0)
        for y in minY...maxY {
            for x in minX..<maxX where mask[y * size + x] && mask[y * size + x + 1] {
                let d = pixels[y * size + x] - pixels[y * size + x + 1]
                pairs += 1
                let step = abs(d.x) + abs(d.y) + abs(d.z)
                if step <= 6.0 / 255 { flat += 1 }
                if step < 0.5 / 255 { equal += 1 }
            }
        }
        let flatness = pairs > 0 ? Float(flat) / Float(pairs) : 0
        let equality = pairs > 0 ? Float(equal) / Float(pairs) : 0
        // Curvature of the outline's top and bottom: a cylinder's ends are ellipses (the middle
        // columns reach lower at the bottom and higher at the top than the outer ones); a cube
        // seen face-on has straight edges.
        var (lowest, highest) = ([Float](), [Float]())
        for x in minX...maxX {
            var (lo, hi) = (-1, size)
            for y in minY...maxY where mask[y * size + x] { lo = max(lo, y); hi = min(hi, y) }
            if lo >= 0 { lowest.append(Float(lo)); highest.append(Float(hi)) }
        }
        func bulge(_ v: [Float]) -> Float {
            let third = max(1, v.count / 3)
            guard v.count >= 3 else { return 0 }
            let middle = v[third..<(v.count - third)]
            let outer = v[..<third] + v[(v.count - third)...]
            return (middle.reduce(0, +) / Float(middle.count) - outer.reduce(0, +) / Float(outer.count)) / w
        }
        return [Float(area) / (w * h), h / w, widestAt, flatness, equality, bulge(lowest), -bulge(highest)] + bands(rows, 8) + bands(columns, 4)
    }
}
