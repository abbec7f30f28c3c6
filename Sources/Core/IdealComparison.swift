import Foundation

/// An edit's figures against its ideal edit (the picture it should reach: on world scenes, the
/// target caption rendered with the same seed and camera), gathered frame by frame so a video of
/// any length is measured in the memory of two frames. The changed region of each frame is where
/// the ideal differs from the source.
public struct IdealComparison: Sendable {
    /// Pixels either side of the changed region, in x and y, where `fringe` looks for a fringe.
    public static let fringeWidth = 2
    /// The least share of a frame the ideal must leave unchanged for the frame to have a
    /// background and a fringe figure: a time-of-day edit relights every pixel but a stray
    /// handful, and a PSNR or a ring over those says nothing.
    public static let minimumBackgroundShare = 0.01

    public private(set) var frames = 0
    private var (before, after) = (0.0, 0.0)
    private var (backgroundSum, backgroundFrames) = (0.0, 0)
    private var (fringeSum, fringeCount) = (0.0, 0)
    private var (psnrSum, sourcePSNRSum) = (0.0, 0.0)
    private var (flickerSum, flickerCount) = (0.0, 0)
    private var previous: (edited: RGBImage, ideal: RGBImage)?

    public init() {}

    /// Adds one frame: the edit, its source, its ideal, and the pixels the ideal changes
    /// (`EditMetrics.differing(source, ideal)`, or read off cleaner renders where there are some).
    public mutating func add(edited: RGBImage, source: RGBImage, ideal: RGBImage, changed: [Bool]) {
        precondition(edited.width == source.width && source.width == ideal.width && edited.height == source.height && source.height == ideal.height,
                     "IdealComparison: frame sizes differ")
        precondition(changed.count == edited.width * edited.height, "IdealComparison: region size")
        for p in changed.indices where changed[p] {
            for c in 0..<3 {
                let i = p * 3 + c
                let (target, s, e) = (Double(ideal.pixels[i]), Double(source.pixels[i]), Double(edited.pixels[i]))
                before += (s - target) * (s - target)
                after += (e - target) * (e - target)
            }
        }
        let unchanged = changed.map { !$0 }
        // A frame the ideal changes all but a stray handful of has no background to judge a
        // fringe or a PSNR on: a time-of-day edit's ring held 39 levels of the relighting itself.
        if Double(unchanged.filter { $0 }.count) >= Self.minimumBackgroundShare * Double(unchanged.count) {
            let ring = EditMetrics.ring(around: changed, width: edited.width, height: edited.height, distance: Self.fringeWidth)
            for p in ring.indices where ring[p] {
                for c in 0..<3 { fringeSum += abs(Double(edited.pixels[p * 3 + c]) - Double(source.pixels[p * 3 + c])) }
                fringeCount += 3
            }
            backgroundSum += EditMetrics.psnr(edited, source, mask: unchanged)
            backgroundFrames += 1
        }
        psnrSum += EditMetrics.psnr(edited, ideal)
        sourcePSNRSum += EditMetrics.psnr(source, ideal)
        // A stream whose frame size changes has no flicker across the change.
        if let previous, previous.edited.pixels.count == edited.pixels.count {
            // As EditMetrics.addedFlicker, with the ideal as the motion the edit may keep.
            for i in edited.pixels.indices {
                let e = Double(edited.pixels[i]) - Double(previous.edited.pixels[i])
                let o = Double(ideal.pixels[i]) - Double(previous.ideal.pixels[i])
                flickerSum += abs(e - o)
            }
            flickerCount += edited.pixels.count
        }
        previous = (edited, ideal)
        frames += 1
    }

    /// How far the edit went toward the ideal inside the changed region:
    /// `1 − err(edited, ideal) / err(source, ideal)`, err the squared error summed over every
    /// frame. 1 reaches the ideal, 0 is the source; nil when the region is empty.
    public var completion: Double? { before > 0 ? 1 - after / before : nil }
    /// Mean PSNR (dB) against the source where the ideal changes nothing, over the frames where
    /// that is at least `minimumBackgroundShare` of the frame; nil when there are none.
    public var backgroundPSNR: Double? { backgroundFrames > 0 ? backgroundSum / Double(backgroundFrames) : nil }
    /// Mean PSNR (dB) of the edit to the ideal.
    public var psnrToIdeal: Double { frames > 0 ? psnrSum / Double(frames) : .nan }
    /// Mean PSNR (dB) of the source to the ideal: where an edit starts from.
    public var sourcePSNRToIdeal: Double { frames > 0 ? sourcePSNRSum / Double(frames) : .nan }
    /// Mean absolute change (8-bit levels) in the ring `fringeWidth` pixels around the changed
    /// region, where the ideal changes nothing: a dark or coloured fringe shows here. Over the
    /// frames with a background (`minimumBackgroundShare`); nil when there are none.
    public var fringe: Double? { fringeCount > 0 ? fringeSum / Double(fringeCount) : nil }
    /// The frame-to-frame change the edit adds beyond the ideal's own (8-bit levels); nil for one frame.
    public var addedFlicker: Double? { flickerCount > 0 ? flickerSum / Double(flickerCount) : nil }

    /// The figures under snake_case keys, as `--json` prints them (NaN where there is nothing to
    /// measure; the flicker only for a video).
    public var keyed: [String: Double] {
        var figures = ["psnr_to_ideal": psnrToIdeal, "source_psnr_to_ideal": sourcePSNRToIdeal, "completion": completion ?? .nan,
                       "background_psnr": backgroundPSNR ?? .nan, "fringe": fringe ?? .nan]
        if let addedFlicker { figures["flicker_beyond_ideal"] = addedFlicker }
        return figures
    }

    /// The figures by name, as a report lists them (those that apply).
    public var named: [(name: String, value: String)] {
        var rows = [(name: String, value: String)]()
        rows.append(("PSNR to the ideal", String(format: "%.2f dB (the source: %.2f dB)", psnrToIdeal, sourcePSNRToIdeal)))
        if let completion { rows.append(("completion inside the changed region", String(format: "%.1f%%", 100 * completion))) }
        if let backgroundPSNR { rows.append(("PSNR to the source where the ideal changes nothing", String(format: "%.2f dB", backgroundPSNR))) }
        if let fringe { rows.append(("change in the \(Self.fringeWidth)-pixel ring around the changed region", String(format: "%.2f levels", fringe))) }
        if let addedFlicker { rows.append(("flicker added beyond the ideal's", String(format: "%.2f levels", addedFlicker))) }
        return rows
    }
}
