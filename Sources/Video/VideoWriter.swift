import CFFmpeg
import Core
import Foundation

/// Encodes RGB frames (with their alpha channel where asked) as H.264, HEVC, VP9 or ProRes
/// (`VideoCodec`) in an MP4, MOV, Matroska or WebM file (by the extension).
/// Everything goes to a temporary file beside the destination, renamed into place by `finish()`;
/// a writer that is dropped or fails removes it.
public final class VideoWriter {
    public let path: String
    public let width: Int, height: Int
    public let frameRate: Double
    private let temporary: String
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var encoderContext: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private var frameIndex = 0
    private var lastPTS: Int64 = -1
    private var finished = false
    private var passthrough: StreamPassthrough?
    /// The colour tags written and the matrix frames are converted with.
    public let colour: VideoColour
    /// Subtracted from every frame's and audio packet's time, so the output starts at 0.
    private let startTime: Double
    /// What of `audioFrom` was left out and why (a codec the container cannot hold, a data stream), one line each.
    public private(set) var streamNotes = [String]()
    /// Whether an audio stream is copied.
    public private(set) var copiesAudio = false
    /// How many audio and subtitle streams are copied.
    public private(set) var copiedStreams = 0
    /// The codec the video is encoded with.
    public let codec: VideoCodec
    /// Bits a sample of the encoded pictures: 8 or 10.
    public let bitDepth: Int
    /// Whether the frames' alpha channel is written.
    public let alpha: Bool
    /// The RGB layout the scaler was set up for (8- or 16-bit samples), so its colour
    /// conversion is set again when frames switch between them.
    private var scalerSource: AVPixelFormat?
    /// The containers written, by extension (FFmpeg's muxer names). WebM holds VP9 only; the
    /// others hold all three codecs.
    public static let containers = ["mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm"]
    static let clock = AVRational(num: 1, den: 90_000)

    /// Opens `path` for `width`×`height` frames at `frameRate`, encoded with `codec` (by default
    /// the one the extension's container expects, `VideoCodec.default`); `crf` is its
    /// quality (lower is better, `VideoCodec.crfRange`) and `preset` its speed/size trade-off.
    /// `rotation` (clockwise degrees, a multiple of 90) is stored as display-matrix metadata, as
    /// phones do; frames are given as stored, before that rotation. `audioFrom` names a media
    /// file whose audio and subtitle streams are copied untouched (no re-encoding), each one the
    /// container can hold, with their metadata and the file's (`StreamPassthrough`).
    /// `sampleAspectRatio` is the stored pixel's shape (width : height). `colour`'s primaries and
    /// transfer are tagged as given; its matrix (or, unsaid, the one players guess for the
    /// height) is tagged and converted with, in limited range. `bitDepth` 10 encodes 10 bits a
    /// sample (H.264, HEVC and VP9 take it; ProRes is always 10 bits, VP9 with alpha 8), for
    /// frames given with 16-bit samples. `startTime`
    /// (seconds) is taken from every frame's time and from the copied audio's, so the output
    /// starts where the content does. `alpha` keeps the frames' alpha channel (a frame without
    /// one is opaque); it needs a codec that holds one (`VideoCodec.holdsAlpha`): VP9 keeps 8
    /// bits of it, ProRes 4444 16.
    public init(path: String, width: Int, height: Int, frameRate: Double, codec: VideoCodec? = nil, crf: Int = 18, preset: String = "fast",
                bitDepth: Int = 8, alpha: Bool = false, rotation: Int = 0, audioFrom: String? = nil,
                sampleAspectRatio: (width: Int, height: Int) = (1, 1), colour: VideoColour = .unspecified, startTime: Double = 0) throws {
        self.path = path
        var tags = colour
        (tags.matrix, tags.range) = (colour.conversionMatrix(height: height), 1)
        self.colour = tags
        self.startTime = startTime.isFinite ? max(0, startTime) : 0
        (self.width, self.height, self.frameRate) = (width, height, frameRate)
        guard width > 0, height > 0, width <= 16384, height <= 16384 else { throw InputError(path, "absurd frame size \(width)x\(height)") }
        guard bitDepth == 8 || bitDepth == 10 else { throw InputError(path, "\(bitDepth) bits a sample: csd writes 8 or 10") }
        self.alpha = alpha
        guard frameRate > 0 && frameRate <= 1000 else { throw InputError(path, "frame rate \(frameRate) is not between 0 and 1000") }
        try AtomicFile.checkDestination(path)
        temporary = AtomicFile.temporaryPath(for: path)
        av_log_set_level(AV_LOG_QUIET)
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let videoCodec = codec ?? VideoCodec.default(forExtension: ext, alpha: alpha)
        self.codec = videoCodec
        try Self.check(path, holds: videoCodec)
        guard !alpha || videoCodec.holdsAlpha else { throw InputError(path, "\(videoCodec.displayName) holds no alpha channel; VP9 and ProRes do") }
        // ProRes is always 10 bits; VP9 holds alpha at 8 only.
        self.bitDepth = videoCodec == .prores ? 10 : alpha ? 8 : bitDepth
        let container = Self.containers[ext]!
        guard avformat_alloc_output_context2(&context, nil, container, temporary) >= 0, let context else {
            throw InputError(path, "cannot create a \(container) container")
        }
        format = context
        guard let encoder = avcodec_find_encoder_by_name(videoCodec.encoderName) else {
            close()
            throw InputError(path, "no \(videoCodec.displayName) encoder in this FFmpeg (install libavcodec with \(videoCodec.encoderName))")
        }
        stream = avformat_new_stream(context, nil)
        encoderContext = avcodec_alloc_context3(encoder)
        guard let stream, let encoderContext else { close(); throw InputError(path, "cannot allocate the encoder") }
        encoderContext.pointee.width = Int32(width)
        encoderContext.pointee.height = Int32(height)
        // 4:2:0 needs even sides; odd sizes keep full chroma instead of losing a row or column.
        let halfChroma = width % 2 == 0 && height % 2 == 0
        switch (videoCodec, alpha) {
        case (.prores, true): encoderContext.pointee.pix_fmt = AV_PIX_FMT_YUVA444P10LE
        case (.prores, false): encoderContext.pointee.pix_fmt = width % 2 == 0 ? AV_PIX_FMT_YUV422P10LE : AV_PIX_FMT_YUV444P10LE
        case (_, true): encoderContext.pointee.pix_fmt = AV_PIX_FMT_YUVA420P   // libvpx's one alpha format
        default:
            encoderContext.pointee.pix_fmt = self.bitDepth == 10 ? (halfChroma ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV444P10LE)
                                                                 : (halfChroma ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUV444P)
        }
        encoderContext.pointee.time_base = Self.clock
        let (sarWidth, sarHeight) = sampleAspectRatio
        if sarWidth > 0, sarHeight > 0, sarWidth != sarHeight {
            var reduced = AVRational()
            _ = av_reduce(&reduced.num, &reduced.den, Int64(sarWidth), Int64(sarHeight), 1000)
            encoderContext.pointee.sample_aspect_ratio = reduced
            stream.pointee.sample_aspect_ratio = reduced
        }
        encoderContext.pointee.color_primaries = AVColorPrimaries(UInt32(max(0, tags.primaries)))
        encoderContext.pointee.color_trc = AVColorTransferCharacteristic(UInt32(max(0, tags.transfer)))
        encoderContext.pointee.colorspace = AVColorSpace(UInt32(tags.matrix))
        encoderContext.pointee.color_range = AVCOL_RANGE_MPEG
        encoderContext.pointee.framerate = AVRational(num: Int32((frameRate * 1000).rounded()), den: 1000)
        if (context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 {
            encoderContext.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER)
        }
        do { try videoCodec.configure(encoderContext, crf: crf, preset: preset, path: path) } catch { close(); throw error }
        var code = avcodec_open2(encoderContext, encoder, nil)
        guard code >= 0 else { close(); throw InputError(path, "cannot open the \(videoCodec.displayName) encoder (\(ffmpegMessage(code)))") }
        avcodec_parameters_from_context(stream.pointee.codecpar, encoderContext)
        // Apple's players take HEVC in MP4 and MOV only as 'hvc1' (parameter sets in the sample description).
        if videoCodec == .hevc, container != "matroska" { stream.pointee.codecpar.pointee.codec_tag = Self.tag("hvc1") }
        stream.pointee.time_base = Self.clock
        stream.pointee.avg_frame_rate = encoderContext.pointee.framerate
        if rotation % 360 != 0, let side = av_stream_new_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, 36) {
            // av_display_rotation_set takes a clockwise angle (av_display_rotation_get returns counter-clockwise).
            av_display_rotation_set(UnsafeMutableRawPointer(side).assumingMemoryBound(to: Int32.self), Double(rotation))
        }
        if let audioFrom {
            do { (passthrough, streamNotes) = try StreamPassthrough.open(path: audioFrom, into: context) } catch { close(); throw error }
            (copiesAudio, copiedStreams) = (passthrough?.copiesAudio ?? false, passthrough?.streamCount ?? 0)
        }
        code = avio_open(&context.pointee.pb, temporary, AVIO_FLAG_WRITE)
        guard code >= 0 else { close(); throw InputError(path, "cannot be written (\(ffmpegMessage(code)))") }
        code = avformat_write_header(context, nil)
        guard code >= 0 else { close(); throw InputError(path, "cannot write the header (\(ffmpegMessage(code)))") }
        frame = av_frame_alloc()
        packet = av_packet_alloc()
        guard let frame else { close(); throw InputError(path, "cannot allocate a frame") }
        frame.pointee.format = encoderContext.pointee.pix_fmt.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        guard av_frame_get_buffer(frame, 0) >= 0 else { close(); throw InputError(path, "cannot allocate frame buffers") }
    }

    deinit {
        if !finished { close() }
    }

    /// Throws, naming `path`, unless its extension is a container this writer makes and that
    /// container holds `codec`.
    public static func check(_ path: String, holds codec: VideoCodec) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard let container = containers[ext] else {
            throw InputError(path, "csd writes video into .mp4, .m4v, .mov, .mkv or .webm, not \(ext.isEmpty ? "a file without an extension" : "." + ext)")
        }
        func holds(_ c: VideoCodec) -> Bool { av_guess_format(container, nil, nil).map { avformat_query_codec($0, c.codecID, FF_COMPLIANCE_NORMAL) == 1 } ?? false }
        guard holds(codec) else {
            throw InputError(path, "a .\(ext) file cannot hold \(codec.displayName) video; it holds \(VideoCodec.allCases.filter(holds).map(\.displayName).joined(separator: " or "))")
        }
    }

    /// A four-character code as FFmpeg's MKTAG makes it.
    static func tag(_ code: String) -> UInt32 {
        code.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    /// Frees everything and removes the temporary file.
    private func close() {
        passthrough = nil
        sws_freeContext(scaler); scaler = nil
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&encoderContext)
        if let format {
            if format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
            self.format = nil
        }
        try? FileManager.default.removeItem(atPath: temporary)
    }

    /// Appends a frame shown at `time` seconds (default: its index / frame rate). Times must increase.
    public func append(_ image: RGBImage, time: Double? = nil) throws {
        guard image.width == width, image.height == height else { throw wrongSize(image.width, image.height) }
        let samples = alpha ? Self.interleaved(image.pixels, alpha: image.alpha, opaque: 255) : image.pixels
        try samples.withUnsafeBytes { try append(bytes: $0, sampleBytes: 1, time: time) }
    }

    /// Appends a frame given at 16 bits a sample (a 10-bit writer keeps 10 of them).
    public func append(_ image: RGB16Image, time: Double? = nil) throws {
        guard image.width == width, image.height == height else { throw wrongSize(image.width, image.height) }
        let samples = alpha ? Self.interleaved(image.samples, alpha: image.alpha, opaque: 65535) : image.samples
        try samples.withUnsafeBytes { try append(bytes: $0, sampleBytes: 2, time: time) }
    }

    private func wrongSize(_ imageWidth: Int, _ imageHeight: Int) -> InputError {
        InputError(path, "frame \(frameIndex) is \(imageWidth)x\(imageHeight), expected \(width)x\(height)")
    }

    /// RGBA from RGB and an alpha channel (`opaque` where there is none).
    static func interleaved<Sample>(_ rgb: [Sample], alpha: [Sample]?, opaque: Sample) -> [Sample] {
        let count = rgb.count / 3
        return [Sample](unsafeUninitializedCapacity: count * 4) { rgba, written in
            for i in 0..<count {
                (rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]) = (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2])
                rgba[4 * i + 3] = alpha?[i] ?? opaque
            }
            written = count * 4
        }
    }

    /// Encodes one frame of interleaved samples (RGB, or RGBA for a writer keeping alpha).
    private func append(bytes: UnsafeRawBufferPointer, sampleBytes: Int, time: Double?) throws {
        guard !finished, let encoderContext, let frame else { throw InputError(path, "the writer is already finished") }
        guard av_frame_make_writable(frame) >= 0 else { throw InputError(path, "cannot write a frame") }
        let sourceFormat = sampleBytes == 2 ? (alpha ? AV_PIX_FMT_RGBA64LE : AV_PIX_FMT_RGB48LE) : (alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24)
        scaler = sws_getCachedContext(scaler, Int32(width), Int32(height), sourceFormat, Int32(width), Int32(height),
                                      encoderContext.pointee.pix_fmt, SWS_BICUBIC, nil, nil, nil)
        // A new source layout makes a new scaler, whose colour conversion is then set again.
        if scalerSource != sourceFormat {
            setColourConversion(scaler, yuv: encoderContext.pointee.pix_fmt, matrix: colour.matrix, fullRange: false, toYUV: true)
            scalerSource = sourceFormat
        }
        do {
            var source: [UnsafePointer<UInt8>?] = [bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
            var strides: [Int32] = [Int32(width * (alpha ? 4 : 3) * sampleBytes), 0, 0, 0]
            withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
                withUnsafeMutablePointer(to: &frame.pointee.linesize) { lineTuple in
                    let data = UnsafeMutableRawPointer(dataTuple).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                    let lines = UnsafeMutableRawPointer(lineTuple).assumingMemoryBound(to: Int32.self)
                    _ = sws_scale(scaler, &source, &strides, 0, Int32(height), data, lines)
                }
            }
        }
        let seconds = time.map { $0 - startTime } ?? Double(frameIndex) / frameRate
        var pts = Int64((seconds * Double(Self.clock.den)).rounded())
        if pts <= lastPTS { pts = lastPTS + 1 }
        lastPTS = pts
        frame.pointee.pts = pts
        frameIndex += 1
        try encode(frame)
        if let passthrough, let format {
            do { try passthrough.copy(upTo: seconds, shiftedBy: startTime, into: format, destination: path) } catch { close(); throw error }
        }
    }

    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        guard let encoderContext, let packet, let format, let stream else { return }
        var code = avcodec_send_frame(encoderContext, frame)
        guard code >= 0 else { close(); throw InputError(path, "encoding failed (\(ffmpegMessage(code)))") }
        while true {
            code = avcodec_receive_packet(encoderContext, packet)
            if code == csd_averror_eagain() || code == csd_averror_eof() { return }
            guard code >= 0 else { close(); throw InputError(path, "encoding failed (\(ffmpegMessage(code)))") }
            av_packet_rescale_ts(packet, encoderContext.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            code = av_interleaved_write_frame(format, packet)
            guard code >= 0 else { close(); throw InputError(path, "cannot be written (\(ffmpegMessage(code)))") }
        }
    }

    /// Flushes the encoder, writes the trailer and renames the finished file into place.
    public func finish() throws {
        guard !finished else { return }
        guard frameIndex > 0 else { close(); throw InputError(path, "no frames to write") }
        try encode(nil)
        guard let format else { return }
        if let passthrough {
            do { try passthrough.copy(upTo: .infinity, shiftedBy: startTime, into: format, destination: path) } catch { close(); throw error }
        }
        passthrough = nil
        let code = av_write_trailer(format)
        guard code >= 0 else { close(); throw InputError(path, "cannot finish the file (\(ffmpegMessage(code)))") }
        avio_closep(&format.pointee.pb)
        finished = true
        sws_freeContext(scaler); scaler = nil
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&encoderContext)
        avformat_free_context(format)
        self.format = nil
        try AtomicFile.commit(temporary, to: path)
    }
}
