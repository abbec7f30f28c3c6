import Core
import Foundation

/// An edit instruction of the world's grammar ("make the ball blue", "make the cube red and the
/// ball green", "turn the grass into snow", "make it sunset") and the scene it turns a scene into,
/// so that every instruction has an ideal edit: the same scene, seed and camera rendered with the
/// instruction applied.
public struct WorldInstruction: Equatable, Sendable {
    /// One change the instruction asks for.
    public enum Change: Equatable, Sendable {
        /// Paint the object at this index of `scene.objects` in a new colour.
        case recolor(object: Int, to: ObjectColor)
        case ground(to: Ground)
        case time(to: TimeOfDay)
    }

    public var changes: [Change]
    /// The words, as a user types them.
    public var text: String

    /// The instruction for `changes` on `scene`, phrased by the grammar: an object is named by its
    /// shape, or by colour and shape when another object shares its shape.
    public init(changes: [Change], scene: WorldScene) {
        self.changes = changes
        func name(_ i: Int) -> String {
            let o = scene.objects[i]
            let shared = scene.objects.filter { $0.shape == o.shape }.count > 1
            return shared ? "the \(o.color.rawValue) \(o.shape.rawValue)" : "the \(o.shape.rawValue)"
        }
        let recolors = changes.compactMap { c -> String? in
            if case let .recolor(i, color) = c { return "\(name(i)) \(color.rawValue)" }
            return nil
        }
        var parts = [String]()
        if !recolors.isEmpty { parts.append("make " + recolors.joined(separator: " and ")) }
        for c in changes {
            switch c {
            case let .ground(g): parts.append("turn the \(scene.ground.rawValue) into \(g.rawValue)")
            case let .time(t): parts.append("make it \(t.rawValue)")
            case .recolor: break
            }
        }
        text = parts.joined(separator: " and ")
    }

    /// The instruction that turns `before` into `after` (the same objects in the same order,
    /// recoloured, on another ground or at another time); nil where they differ otherwise or not at all.
    public init?(from before: WorldScene, to after: WorldScene) {
        guard before.objects.count == after.objects.count else { return nil }
        var changes = [Change]()
        for (i, (a, b)) in zip(before.objects, after.objects).enumerated() {
            guard a.shape == b.shape else { return nil }
            if a.color != b.color { changes.append(.recolor(object: i, to: b.color)) }
        }
        if before.ground != after.ground { changes.append(.ground(to: after.ground)) }
        if before.time != after.time { changes.append(.time(to: after.time)) }
        guard !changes.isEmpty else { return nil }
        self.init(changes: changes, scene: before)
    }

    /// Parses `text` against the scene it is to edit; nil when it is not in the grammar or names
    /// what the scene does not have (an absent object, a ground the scene is not on).
    public init?(text: String, scene: WorldScene) {
        let words = text.lowercased().replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
        var changes = [Change]()
        var i = 0
        func object(at k: inout Int) -> Int? {
            guard k < words.count, words[k] == "the" else { return nil }
            k += 1
            var color: ObjectColor?
            if k < words.count, let c = ObjectColor(rawValue: words[k]), k + 1 < words.count, Shape(rawValue: words[k + 1]) != nil {
                color = c; k += 1
            }
            guard k < words.count, let shape = Shape(rawValue: words[k]) else { return nil }
            k += 1
            let matches = scene.objects.indices.filter { scene.objects[$0].shape == shape && (color == nil || scene.objects[$0].color == color) }
            return matches.count == 1 ? matches[0] : nil
        }
        while i < words.count {
            if words[i] == "and" { i += 1; continue }
            if words[i] == "make", i + 2 < words.count, words[i + 1] == "it", let t = TimeOfDay(rawValue: words[i + 2]) {
                changes.append(.time(to: t)); i += 3; continue
            }
            if words[i] == "turn", i + 4 < words.count, words[i + 1] == "the", Ground(rawValue: words[i + 2]) == scene.ground,
               words[i + 3] == "into", let g = Ground(rawValue: words[i + 4]) {
                changes.append(.ground(to: g)); i += 5; continue
            }
            // "make the ball blue" or a later "the cube red" after "and".
            var k = words[i] == "make" ? i + 1 : i
            guard let o = object(at: &k), k < words.count, let color = ObjectColor(rawValue: words[k]) else { return nil }
            changes.append(.recolor(object: o, to: color))
            i = k + 1
        }
        guard !changes.isEmpty else { return nil }
        self.changes = changes
        self.text = words.joined(separator: " ")
    }

    /// The scene with every change applied.
    public func applied(to scene: WorldScene) -> WorldScene {
        var s = scene
        for c in changes {
            switch c {
            case let .recolor(i, color): s.objects[i].color = color
            case let .ground(g): s.ground = g
            case let .time(t): s.time = t
            }
        }
        return s
    }

    /// Whether this instruction's words are kept out of training (one in eight, fixed by a hash of
    /// the text), so that the instruction model's gate can measure instructions it never saw.
    public var isHeldOut: Bool {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h % 8 == 0
    }

    /// A random instruction for `scene`, deterministic for `seed`: recolour one object (45%), two
    /// objects (15%, when there are two), the ground (25%) or the time of day (15%). Colours stay
    /// distinct between objects, and a change always changes something.
    public static func random(for scene: WorldScene, seed: UInt64) -> WorldInstruction {
        var rng = RandomGenerator(seed: seed ^ 0x1357_9BDF_2468_ACE0)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        let roll = rng.uniform()
        var changes = [Change]()
        if scene.objects.isEmpty || roll >= 0.6 {
            if scene.objects.isEmpty ? rng.uniform() < 0.6 : roll < 0.85 {
                changes = [.ground(to: pick(Ground.allCases.filter { $0 != scene.ground }))]
            } else {
                changes = [.time(to: pick(TimeOfDay.allCases.filter { $0 != scene.time }))]
            }
        } else {
            let two = roll >= 0.45 && scene.objects.count >= 2
            var order = Array(scene.objects.indices)
            for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
            var free = ObjectColor.allCases.filter { c in !scene.objects.contains { $0.color == c } }
            for i in order.prefix(two ? 2 : 1) {
                let color = free.remove(at: Int(rng.next() % UInt64(free.count)))
                changes.append(.recolor(object: i, to: color))
            }
        }
        return WorldInstruction(changes: changes, scene: scene)
    }

    /// Whether the edited scene uses a combination kept out of the prior's training.
    public static func resultIsHeldOut(_ scene: WorldScene) -> Bool {
        scene.objects.contains { WorldScene.isHeldOut($0.color, $0.shape, scene.ground, scene.time) }
    }
}
