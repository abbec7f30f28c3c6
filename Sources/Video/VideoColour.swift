import CFFmpeg

/// How a stream's stored values map to colour, as the codes of ITU-T H.273 that FFmpeg uses
/// (`AVColorPrimaries`, `AVColorTransferCharacteristic`, `AVColorSpace`, `AVColorRange`).
/// A reader converts with the stream's matrix and range; a writer tags its output with them and
/// converts with the same matrix, so BT.709 footage is neither decoded nor encoded with BT.601's
/// coefficients (swscale's default).
public struct VideoColour: Equatable, Sendable {
    /// Colour primaries (1: BT.709, 9: BT.2020; 2: unspecified).
    public var primaries: Int32
    /// Transfer characteristic (1: BT.709, 16: PQ, 18: HLG; 2: unspecified).
    public var transfer: Int32
    /// The YUV matrix (1: BT.709, 5/6: BT.601, 9: BT.2020 non-constant; 2: unspecified).
    public var matrix: Int32
    /// 1: limited (TV) range, 2: full (JPEG) range, 0: unspecified.
    public var range: Int32

    public init(primaries: Int32, transfer: Int32, matrix: Int32, range: Int32) {
        (self.primaries, self.transfer, self.matrix, self.range) = (primaries, transfer, matrix, range)
    }

    /// What `parameters` say; a code FFmpeg cannot name (a damaged or future file) counts as unspecified.
    init(_ parameters: UnsafeMutablePointer<AVCodecParameters>) {
        let p = parameters.pointee
        let primaries = av_color_primaries_name(p.color_primaries) != nil ? Int32(p.color_primaries.rawValue) : 2
        let transfer = av_color_transfer_name(p.color_trc) != nil ? Int32(p.color_trc.rawValue) : 2
        let matrix = av_color_space_name(p.color_space) != nil ? Int32(p.color_space.rawValue) : 2
        let range = av_color_range_name(p.color_range) != nil ? Int32(p.color_range.rawValue) : 0
        self.init(primaries: primaries, transfer: transfer, matrix: matrix, range: range)
    }

    /// Nothing said: players guess from the picture's size.
    public static let unspecified = VideoColour(primaries: 2, transfer: 2, matrix: 2, range: 0)
    /// HD video as cameras and encoders tag it: BT.709 primaries, transfer and matrix, limited range.
    public static let bt709 = VideoColour(primaries: 1, transfer: 1, matrix: 1, range: 1)

    /// The matrix to convert with: the stream's, or where it says nothing (or something swscale has
    /// no coefficients for) BT.709 for pictures at least 720 rows high and BT.601 below, as
    /// players guess.
    public func conversionMatrix(height: Int) -> Int32 {
        switch matrix {
        case 1, 4, 5, 6, 7, 9, 10: return matrix
        default: return height >= 720 ? 1 : 6
        }
    }

    /// Whether the stored values use the full range (or `pixelFormat` is one of the JPEG formats, which always do).
    func isFullRange(pixelFormat: AVPixelFormat) -> Bool {
        range == 2 || [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P].contains(pixelFormat)
    }

    /// A short description, e.g. "bt709/bt709/bt709, tv range".
    public var description: String {
        func name(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "unknown" }
        let r = range == 2 ? "pc" : range == 1 ? "tv" : "unspecified"
        return "\(name(av_color_primaries_name(AVColorPrimaries(UInt32(max(0, primaries))))))/\(name(av_color_transfer_name(AVColorTransferCharacteristic(UInt32(max(0, transfer))))))/\(name(av_color_space_name(AVColorSpace(UInt32(max(0, matrix))))))" + ", \(r) range"
    }
}

/// Sets `scaler` to convert between YUV with `matrix` (full or limited range as `fullRange`
/// says) and full-range RGB; `toYUV` says which way. Does nothing when `yuv`, the YUV side's
/// pixel format, is RGB or grey.
func setColourConversion(_ scaler: OpaquePointer?, yuv: AVPixelFormat, matrix: Int32, fullRange: Bool, toYUV: Bool) {
    guard let scaler, let descriptor = av_pix_fmt_desc_get(yuv),
          descriptor.pointee.nb_components >= 3, descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 else { return }
    let coefficients = sws_getCoefficients(matrix)
    if toYUV {
        _ = sws_setColorspaceDetails(scaler, coefficients, 1, coefficients, fullRange ? 1 : 0, 0, 1 << 16, 1 << 16)
    } else {
        _ = sws_setColorspaceDetails(scaler, coefficients, fullRange ? 1 : 0, coefficients, 1, 0, 1 << 16, 1 << 16)
    }
}
