/// The words of the world: shapes, colours, grounds and times of day, with the RGB values the
/// renderer uses and the caption grammar draws from.
public enum Shape: String, CaseIterable, Codable, Sendable {
    case ball, cube, cylinder, cone
}

/// Object colours, far enough apart in hue and lightness to be told apart on every ground.
public enum ObjectColor: String, CaseIterable, Codable, Sendable {
    case red, orange, yellow, green, blue, purple, pink, white

    /// "an" before a vowel sound, "a" otherwise.
    public var article: String { self == .orange ? "an" : "a" }

    /// Linear-ish RGB albedo in [0, 1].
    public var albedo: SIMD3<Float> {
        switch self {
        case .red: return [0.80, 0.08, 0.07]
        case .orange: return [0.95, 0.45, 0.05]
        case .yellow: return [0.95, 0.85, 0.10]
        case .green: return [0.10, 0.65, 0.15]
        case .blue: return [0.08, 0.22, 0.90]
        case .purple: return [0.50, 0.12, 0.75]
        case .pink: return [0.98, 0.50, 0.70]
        case .white: return [0.92, 0.92, 0.92]
        }
    }
}

public enum Ground: String, CaseIterable, Codable, Sendable {
    case grass, sand, water, snow, bricks
}

public enum TimeOfDay: String, CaseIterable, Codable, Sendable {
    case day, sunset, night

    /// The caption's phrase for it ("" for day).
    public var phrase: String {
        switch self {
        case .day: return ""
        case .sunset: return " at sunset"
        case .night: return " at night"
        }
    }
}
