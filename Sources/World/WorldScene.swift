import Core
import Foundation

/// One primitive standing on the ground.
public struct WorldObject: Codable, Equatable, Sendable {
    public var shape: Shape
    public var color: ObjectColor
    /// Centre of the footprint on the ground plane (x, z); the object stands on y = 0.
    public var position: SIMD2<Float>
    /// Half-width (radius for round shapes).
    public var size: Float
    /// Rotation about the vertical axis, radians (cubes).
    public var yaw: Float
    /// Metres per second on the ground plane, for moving-object videos.
    public var velocity: SIMD2<Float>

    public init(shape: Shape, color: ObjectColor, position: SIMD2<Float>, size: Float, yaw: Float = 0, velocity: SIMD2<Float> = .zero) {
        (self.shape, self.color, self.position, self.size, self.yaw, self.velocity) = (shape, color, position, size, yaw, velocity)
    }

    /// Height of the object's top.
    public var height: Float {
        switch shape {
        case .ball, .cube: return 2 * size
        case .cylinder: return 1.6 * size
        case .cone: return 2.2 * size
        }
    }
}

/// A scene: ground, time of day and one to three objects.
public struct WorldScene: Codable, Equatable, Sendable {
    public var ground: Ground
    public var time: TimeOfDay
    public var objects: [WorldObject]

    public init(ground: Ground, time: TimeOfDay, objects: [WorldObject]) {
        (self.ground, self.time, self.objects) = (ground, time, objects)
    }

    /// "a red ball and a blue cube on sand at sunset".
    public var caption: String {
        let names = objects.map { "\($0.color.article) \($0.color.rawValue) \($0.shape.rawValue)" }
        let list: String
        switch names.count {
        case 0: list = "nothing"
        case 1: list = names[0]
        case 2: list = "\(names[0]) and \(names[1])"
        default: list = names.dropLast().joined(separator: ", ") + " and " + names.last!
        }
        return "\(list) on \(ground.rawValue)\(time.phrase)"
    }

    /// Whether (colour, shape, ground, time) is one of the combinations kept out of every random
    /// scene (about a quarter of the 480, fixed by a hash), so that captions built from them are
    /// unseen in training and can measure generalisation.
    public static func isHeldOut(_ color: ObjectColor, _ shape: Shape, _ ground: Ground, _ time: TimeOfDay) -> Bool {
        let key = ObjectColor.allCases.firstIndex(of: color)! * 1000 + Shape.allCases.firstIndex(of: shape)! * 100
            + Ground.allCases.firstIndex(of: ground)! * 10 + TimeOfDay.allCases.firstIndex(of: time)!
        var h = UInt32(truncatingIfNeeded: key) &* 2_654_435_761
        h ^= h >> 15
        h = h &* 2_246_822_519
        h ^= h >> 13
        return h % 4 == 0
    }

    /// All held-out combinations, as single-object scenes.
    public static var heldOutCombinations: [(ObjectColor, Shape, Ground, TimeOfDay)] {
        var all = [(ObjectColor, Shape, Ground, TimeOfDay)]()
        for c in ObjectColor.allCases { for s in Shape.allCases { for g in Ground.allCases { for t in TimeOfDay.allCases
            where isHeldOut(c, s, g, t) { all.append((c, s, g, t)) } } } }
        return all
    }

    /// A random scene, deterministic for `seed`: 1–3 objects of distinct colours that do not
    /// overlap, never using a held-out combination.
    public static func random(seed: UInt64, objectCount: Int? = nil) -> WorldScene {
        var rng = RandomGenerator(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        let ground: Ground = pick(Ground.allCases)
        let time: TimeOfDay = pick(TimeOfDay.allCases)
        let count = objectCount ?? [1, 1, 2, 2, 3][Int(rng.next() % 5)]
        var colors = ObjectColor.allCases
        var objects = [WorldObject]()
        var attempts = 0
        while objects.count < count && attempts < 200 {
            attempts += 1
            let size = Float(0.45 + 0.3 * rng.uniform())
            let position = SIMD2<Float>(Float(rng.uniform() * 3.6 - 1.8), Float(rng.uniform() * 3.0 - 1.5))
            let clear = objects.allSatisfy { o in
                let d = o.position - position
                return (d * d).sum().squareRoot() > (o.size + size) * 1.5
            }
            guard clear else { continue }
            let colorIndex = Int(rng.next() % UInt64(colors.count))
            let shape: Shape = pick(Shape.allCases)
            guard !isHeldOut(colors[colorIndex], shape, ground, time) else { continue }
            let color = colors.remove(at: colorIndex)
            objects.append(WorldObject(shape: shape, color: color, position: position, size: size,
                                       yaw: Float(rng.uniform() * Double.pi / 2)))
        }
        return WorldScene(ground: ground, time: time, objects: objects)
    }

    /// The scene `t` seconds later, objects moved by their velocities.
    public func advanced(by t: Float) -> WorldScene {
        var s = self
        for i in s.objects.indices { s.objects[i].position += s.objects[i].velocity * t }
        return s
    }
}

extension WorldScene {
    /// The scene a caption of the grammar describes ("a red ball and a blue cube on sand at
    /// sunset"), objects placed in a row in front of the camera with sizes from `seed`; nil when
    /// the caption is not in the grammar.
    public init?(caption: String, seed: UInt64 = 0) {
        let words = caption.lowercased().replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
        guard let on = words.lastIndex(of: "on"), on + 1 < words.count, let ground = Ground(rawValue: words[on + 1]) else { return nil }
        var time = TimeOfDay.day
        if on + 3 < words.count, words[on + 2] == "at", let t = TimeOfDay(rawValue: words[on + 3]) { time = t }
        var pairs = [(ObjectColor, Shape)]()
        var i = 0
        while i + 1 < on {
            if let c = ObjectColor(rawValue: words[i]), let s = Shape(rawValue: words[i + 1]) { pairs.append((c, s)); i += 2 } else { i += 1 }
        }
        guard (1...3).contains(pairs.count) else { return nil }
        var rng = RandomGenerator(seed: seed)
        let xs: [Float] = pairs.count == 1 ? [0] : pairs.count == 2 ? [-1, 1] : [-1.6, 0, 1.6]
        let objects = pairs.enumerated().map { k, p in
            WorldObject(shape: p.1, color: p.0, position: [xs[k], Float(rng.uniform() * 0.6 - 0.3)], size: Float(0.55 + 0.15 * rng.uniform()),
                        yaw: Float(rng.uniform() * Double.pi / 2))
        }
        self.init(ground: ground, time: time, objects: objects)
    }
}
