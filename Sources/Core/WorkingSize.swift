import Foundation

/// The size an input is edited at: its short side at the model's size (or the one asked for), the
/// long side in proportion, both multiples of 8.
public struct WorkingSize: Equatable, Sendable {
    public var width: Int, height: Int

    /// The longest side an input may have against its short side (a 360° panorama strip is about 8:1).
    public static let maximumAspect: Double = 32
    /// The longest working side, in pixels.
    public static let maximumWorkingSide = 8192

    /// The working size of a `width`×`height` input (named `input` in errors) for `model`, whose
    /// short side is `shortSide` or else the model's own size. An input more than `maximumAspect`
    /// times longer than it is wide (a 64×1 strip would take a 64×4096 working size) or whose long
    /// working side would pass `maximumWorkingSide` is refused, naming the input.
    public init(width: Int, height: Int, shortSide: Int?, model: DiffusionModel, input: String) throws {
        guard let short = shortSide ?? model.nativeImageSize else { throw InputError("--working-size", "the model has no sample_size; give one") }
        guard (8...4096).contains(short) else { throw InputError("--working-size", "must be between 8 and 4096") }
        guard width > 0, height > 0 else { throw InputError(input, "is \(width)×\(height): no pixels") }
        let aspect = Double(max(width, height)) / Double(min(width, height))
        func round8(_ v: Double) -> Int { max(8, Int((v / 8).rounded()) * 8) }
        let long = round8(Double(short) * aspect)
        guard aspect <= Self.maximumAspect, long <= Self.maximumWorkingSide else {
            throw InputError(input, "is \(width)×\(height), more than \(Int(Self.maximumAspect)):1 or a working size past \(Self.maximumWorkingSide) px (it would be \(long) px long); crop it, or give a smaller --working-size")
        }
        (self.width, self.height) = width <= height ? (round8(Double(short)), long) : (long, round8(Double(short)))
    }
}
