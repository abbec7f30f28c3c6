import CFFmpeg
import Core

/// The video codecs an edit can write, each through the FFmpeg encoder Debian's libavcodec has
/// for it: H.264 (libx264), HEVC (libx265), VP9 (libvpx-vp9) and ProRes (prores_ks). `crf` is
/// the first three's constant-quality factor and `preset` takes x264's names for them; ProRes
/// has fixed-quality profiles instead (422 HQ, or 4444 with an alpha channel) and takes neither.
/// VP9 and ProRes carry an alpha channel.
public enum VideoCodec: String, CaseIterable, Sendable {
    case h264, hevc, vp9, prores

    /// x264's preset names, slowest last; x265 takes the same names, VP9 maps them to `cpu-used`.
    public static let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"]

    /// The codec a file of this extension gets when none is named: VP9 for WebM (which holds no
    /// other), ProRes 4444 for MOV and Matroska when the pictures have an alpha channel to keep,
    /// H.264 for the rest.
    public static func `default`(forExtension ext: String, alpha: Bool = false) -> VideoCodec {
        switch ext.lowercased() {
        case "webm": .vp9
        case "mov" where alpha, "mkv" where alpha: .prores
        default: .h264
        }
    }

    /// Whether the codec carries an alpha channel (VP9 in 8 bits, ProRes 4444 in 16).
    public var holdsAlpha: Bool { self == .vp9 || self == .prores }

    /// The FFmpeg encoder's name.
    var encoderName: String {
        switch self {
        case .h264: "libx264"
        case .hevc: "libx265"
        case .vp9: "libvpx-vp9"
        case .prores: "prores_ks"
        }
    }

    var codecID: AVCodecID {
        switch self {
        case .h264: AV_CODEC_ID_H264
        case .hevc: AV_CODEC_ID_HEVC
        case .vp9: AV_CODEC_ID_VP9
        case .prores: AV_CODEC_ID_PRORES
        }
    }

    /// The name people know the codec by.
    public var displayName: String {
        switch self {
        case .h264: "H.264"
        case .hevc: "HEVC"
        case .vp9: "VP9"
        case .prores: "ProRes"
        }
    }

    /// The encoder's constant-quality scale, best first: 0–51 for x264 and x265, 0–63 for VP9
    /// (ProRes, which has none, takes any of these and ignores it).
    public var crfRange: ClosedRange<Int> { self == .vp9 || self == .prores ? 0...63 : 0...51 }

    /// libvpx's `cpu-used` for an x264 preset name: 8 (fastest) down to 0.
    static func vp9Speed(preset: String) -> Int {
        let index = presets.firstIndex(of: preset) ?? presets.firstIndex(of: "fast")!
        return max(0, 8 - index)
    }

    /// Sets the encoder's quality and speed options on its context before it opens; throws,
    /// naming `path`, when the encoder refuses them.
    /// The most frames x264 looks ahead (presets faster than "faster" look ahead less already).
    static let h264Lookahead = 12

    func configure(_ context: UnsafeMutablePointer<AVCodecContext>, crf: Int, preset: String, path: String) throws {
        guard crfRange.contains(crf) else {
            throw InputError(path, "\(displayName)'s crf \(crf) is not between \(crfRange.lowerBound) and \(crfRange.upperBound)")
        }
        guard Self.presets.contains(preset) else { throw InputError(path, "'\(preset)' is not a preset: \(Self.presets.joined(separator: ", "))") }
        let options = context.pointee.priv_data
        switch self {
        case .h264:
            av_opt_set(options, "preset", preset, 0)
            av_opt_set(options, "crf", "\(crf)", 0)
            // x264 queues its rate-control lookahead (30 frames at "fast", up to 60 slower) at full
            // size, which is most of a long 1080p edit's memory: at 12, a window's worth, a 120-frame
            // 1080p edit peaked at 1.09× a 24-frame one's, against 1.43×, and world videos came out
            // 1.6–4.5% smaller at 0.02–0.07 dB lower PSNR (docs/notebook/video.md).
            if (Self.presets.firstIndex(of: preset) ?? 0) > (Self.presets.firstIndex(of: "veryfast") ?? 0) {
                av_opt_set(options, "rc-lookahead", "\(Self.h264Lookahead)", 0)
            }
        case .hevc:
            av_opt_set(options, "preset", preset, 0)
            av_opt_set(options, "crf", "\(crf)", 0)
            av_opt_set(options, "x265-params", "log-level=error", 0)
        case .vp9:
            // Constant quality: crf with no bit-rate target, as libvpx's documentation asks.
            context.pointee.bit_rate = 0
            av_opt_set(options, "crf", "\(crf)", 0)
            av_opt_set(options, "deadline", "good", 0)
            av_opt_set(options, "cpu-used", "\(Self.vp9Speed(preset: preset))", 0)
            av_opt_set(options, "row-mt", "1", 0)
        case .prores:
            // 4444 where the picture has an alpha channel or full chroma, else 422 HQ.
            let full = av_pix_fmt_desc_get(context.pointee.pix_fmt).map { $0.pointee.log2_chroma_w == 0 } ?? false
            av_opt_set(options, "profile", full ? "4444" : "hq", 0)
            av_opt_set(options, "vendor", "apl0", 0)
        }
    }
}
