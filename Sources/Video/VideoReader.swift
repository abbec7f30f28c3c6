import CFFmpeg
import Core
import Foundation

/// One decoded frame: 8-bit RGB and its presentation time in seconds.
public struct VideoFrame: Sendable {
    /// The picture at 8 bits a sample.
    public var image: RGBImage
    public var time: Double
    /// The picture at 16 bits a sample when the stream holds more than 8 (`image` is it rounded).
    public var deep: RGB16Image?

    public init(image: RGBImage, time: Double, deep: RGB16Image? = nil) {
        (self.image, self.time, self.deep) = (image, time, deep)
    }
}

/// Decodes the best video stream of any file FFmpeg reads (libavformat + libavcodec), converting
/// frames to RGB with libswscale and turning them upright per the stream's rotation metadata.
public final class VideoReader {
    public let path: String
    /// Size of the frames as returned (after rotation).
    public let width: Int, height: Int
    /// Average frame rate of the stream, frames per second.
    public let frameRate: Double
    /// Clockwise rotation applied to the decoded pictures (0, 90, 180 or 270).
    public let rotation: Int
    /// Frames the container announces (0 when it does not say).
    public let announcedFrameCount: Int
    /// How long the container says the video lasts, in seconds, where it says so for the video
    /// alone: the video stream's own duration, or the file's when the video is its only stream.
    public let announcedDuration: Double?
    /// Frames returned so far.
    public private(set) var framesRead = 0
    private var lastFrameTime = 0.0
    /// The shape of a stored pixel, width : height (1:1 when square or unsaid; 16:15 for PAL 4:3).
    public let sampleAspectRatio: (width: Int, height: Int)
    /// The stream's colour tags; frames are converted to RGB with its matrix and range.
    public let colour: VideoColour
    /// Bits a sample of the stream's pictures (8, 10, 12…); above 8, frames come with `deep`.
    public let bitDepth: Int
    /// When the content starts, in seconds (the container's start time; 0 when it does not say):
    /// an MPEG-TS clip may start at 1.4 s.
    public let startTime: Double

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var scaler: OpaquePointer?
    /// The picture size and format the scaler's colour conversion was last set for (set again
    /// only when they change, not per frame).
    private var conversionSetFor: (width: Int, height: Int, format: Int32)?
    private let streamIndex: Int32
    private let timeBase: AVRational
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var draining = false
    private var finished = false

    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw InputError(path, "no such file")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > 0 else { throw InputError(path, "is empty (0 bytes)") }
        av_log_set_level(AV_LOG_QUIET)
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        var code = avformat_open_input(&context, path, nil, nil)
        guard code >= 0, let context else { throw InputError(path, "not a video FFmpeg can read (\(ffmpegMessage(code)))") }
        format = context
        code = avformat_find_stream_info(context, nil)
        guard code >= 0 else {
            avformat_close_input(&format)
            throw InputError(path, "cannot read stream information (\(ffmpegMessage(code)))")
        }
        var decoderPointer: UnsafePointer<AVCodec>? = nil
        let index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, &decoderPointer, 0)
        guard index >= 0, var decoder = decoderPointer else {
            avformat_close_input(&format)
            throw InputError(path, "has no video stream")
        }
        streamIndex = index
        let stream = context.pointee.streams[Int(index)]!
        // FFmpeg's own VP8/VP9 decoders drop a WebM's alpha channel (stored beside the picture);
        // libvpx's decode it.
        if let mode = av_dict_get(stream.pointee.metadata, "alpha_mode", nil, 0), String(cString: mode.pointee.value) == "1" {
            let id = stream.pointee.codecpar.pointee.codec_id
            let name = id == AV_CODEC_ID_VP9 ? "libvpx-vp9" : id == AV_CODEC_ID_VP8 ? "libvpx" : nil
            if let name, let libvpx = avcodec_find_decoder_by_name(name) { decoder = libvpx }
        }
        timeBase = stream.pointee.time_base
        guard let codecContext = avcodec_alloc_context3(decoder) else {
            avformat_close_input(&format)
            throw InputError(path, "cannot allocate a decoder")
        }
        codec = codecContext
        avcodec_parameters_to_context(codecContext, stream.pointee.codecpar)
        code = avcodec_open2(codecContext, decoder, nil)
        guard code >= 0 else {
            avcodec_free_context(&codec)
            avformat_close_input(&format)
            throw InputError(path, "cannot open the \(String(cString: decoder.pointee.name)) decoder (\(ffmpegMessage(code)))")
        }
        let (w, h) = (Int(codecContext.pointee.width), Int(codecContext.pointee.height))
        guard w > 0, h > 0, w <= 16384, h <= 16384 else {
            avcodec_free_context(&codec)
            avformat_close_input(&format)
            throw InputError(path, "absurd frame size \(w)x\(h)")
        }
        bitDepth = av_pix_fmt_desc_get(codecContext.pointee.pix_fmt).map { Int($0.pointee.comp.0.depth) } ?? 8
        rotation = Self.rotation(of: stream)
        (width, height) = rotation % 180 == 0 ? (w, h) : (h, w)
        let rate = stream.pointee.avg_frame_rate
        frameRate = rate.den > 0 && rate.num > 0 ? Double(rate.num) / Double(rate.den) : 25
        announcedFrameCount = Int(stream.pointee.nb_frames)
        if stream.pointee.duration > 0, stream.pointee.duration != csd_av_nopts_value() {
            announcedDuration = Double(stream.pointee.duration) * Double(timeBase.num) / Double(timeBase.den)
        } else if context.pointee.nb_streams == 1, context.pointee.duration > 0, context.pointee.duration != csd_av_nopts_value() {
            announcedDuration = Double(context.pointee.duration) / Double(AV_TIME_BASE)
        } else {
            announcedDuration = nil
        }
        let aspect = av_guess_sample_aspect_ratio(context, stream, nil)
        sampleAspectRatio = aspect.num > 0 && aspect.den > 0 && aspect.num <= 1000 && aspect.den <= 1000 ? (Int(aspect.num), Int(aspect.den)) : (1, 1)
        colour = VideoColour(stream.pointee.codecpar)
        let start = context.pointee.start_time
        startTime = start == csd_av_nopts_value() ? 0 : Double(start) / Double(AV_TIME_BASE)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        avformat_close_input(&format)
    }

    /// Clockwise rotation from the stream's display matrix, snapped to a multiple of 90°.
    static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return 0 }
        return clockwiseDegrees(UnsafeRawPointer(data).assumingMemoryBound(to: Int32.self))
    }

    /// How to show a picture whose display matrix is `matrix`: mirror it left to right first
    /// when the matrix holds a reflection (EXIF orientations 2, 4, 5 and 7), then turn it
    /// clockwise by the returned degrees.
    static func orientation(_ matrix: UnsafePointer<Int32>) -> (mirrored: Bool, clockwise: Int) {
        // A reflection makes the 2×2 part's determinant negative. Negating the first column
        // leaves a rotation, whose sense is reversed once the picture is mirrored first (checked
        // against EXIF orientations 5 and 7 in the tests).
        let determinant = Double(matrix[0]) * Double(matrix[4]) - Double(matrix[1]) * Double(matrix[3])
        guard determinant < 0 else { return (false, clockwiseDegrees(matrix)) }
        var unflipped = (0..<9).map { matrix[$0] }
        for i in [0, 3, 6] { unflipped[i] = unflipped[i] == Int32.min ? Int32.max : -unflipped[i] }
        return (true, (360 - clockwiseDegrees(unflipped)) % 360)
    }

    /// A display matrix's clockwise rotation, snapped to a multiple of 90°.
    static func clockwiseDegrees(_ matrix: UnsafePointer<Int32>) -> Int {
        let degrees = -av_display_rotation_get(matrix)  // counter-clockwise → clockwise
        guard degrees.isFinite else { return 0 }
        return ((Int((degrees / 90).rounded()) * 90) % 360 + 360) % 360
    }

    /// The next frame, or nil at the end of the stream.
    public func nextFrame() throws -> VideoFrame? {
        guard let codec, let format, let packet, let frame, !finished else { return nil }
        while true {
            let received = avcodec_receive_frame(codec, frame)
            if received >= 0 {
                defer { av_frame_unref(frame) }
                var (image, deep) = try convert(frame)
                // A still's own orientation (a JPEG's EXIF tag, as FFmpeg exports it) where the stream has none.
                if rotation == 0, let side = av_frame_get_side_data(frame, AV_FRAME_DATA_DISPLAYMATRIX), side.pointee.size >= 36 {
                    let (mirrored, degrees) = Self.orientation(UnsafeRawPointer(side.pointee.data).assumingMemoryBound(to: Int32.self))
                    if mirrored { (image, deep) = (image.mirrored(), deep?.mirrored()) }
                    (image, deep) = (image.rotated(clockwise: degrees), deep?.rotated(clockwise: degrees))
                }
                let time = seconds(frame.pointee.best_effort_timestamp)
                (framesRead, lastFrameTime) = (framesRead + 1, time)
                return VideoFrame(image: image, time: time, deep: deep)
            }
            if received == csd_averror_eof() { try checkComplete(); finished = true; return nil }
            guard received == csd_averror_eagain() else { throw damaged("decoding failed", received) }
            if draining { try checkComplete(); finished = true; return nil }
            let read = av_read_frame(format, packet)
            if read < 0 {
                if read != csd_averror_eof() { throw damaged("reading failed", read) }
                draining = true
                avcodec_send_packet(codec, nil)
                continue
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codec, packet)
            if sent < 0 && sent != csd_averror_eagain() { throw damaged("damaged video data", sent) }
        }
    }

    /// The error for a stream that fails after `framesRead` frames, naming where.
    func damaged(_ what: String, _ code: Int32) -> InputError {
        InputError(path, "\(what) after frame \(framesRead) (\(String(format: "%.2f", lastFrameTime)) s): \(ffmpegMessage(code))")
    }

    /// Throws when the frames ended well short of what the container announced (a truncated
    /// file: the demuxer reports the end, not an error): more than a second and a tenth of the
    /// announced duration missing.
    func checkComplete() throws {
        guard let announced = announcedDuration, framesRead > 0 else { return }
        let covered = lastFrameTime - startTime + 1 / frameRate
        if announced - covered > max(1, 0.1 * announced) {
            throw InputError(path, String(format: "ends after frame %d (%.2f s) of the %.2f s its container announces: the file is truncated or damaged",
                                          framesRead, covered, announced))
        }
    }

    /// Every remaining frame.
    public func readAll() throws -> [VideoFrame] {
        var frames = [VideoFrame]()
        while let f = try nextFrame() { frames.append(f) }
        guard !frames.isEmpty else { throw InputError(path, "holds no decodable video frames") }
        return frames
    }

    func seconds(_ pts: Int64) -> Double {
        pts == csd_av_nopts_value() ? 0 : Double(pts) * Double(timeBase.num) / Double(timeBase.den)
    }

    /// The decoded picture as upright RGB, and at 16 bits a sample too when the stream holds more
    /// than 8; a picture with an alpha channel (ProRes 4444, VP9 in WebM, PNG, QuickTime
    /// Animation) comes with it.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>) throws -> (RGBImage, RGB16Image?) {
        let (w, h) = (Int(frame.pointee.width), Int(frame.pointee.height))
        guard w > 0, h > 0 else { throw InputError(path, "holds a frame of \(w)×\(h) pixels") }
        let deep = bitDepth > 8
        let hasAlpha = av_pix_fmt_desc_get(AVPixelFormat(frame.pointee.format)).map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_ALPHA) != 0 } ?? false
        let channels = hasAlpha ? 4 : 3
        let target = deep ? (hasAlpha ? AV_PIX_FMT_RGBA64LE : AV_PIX_FMT_RGB48LE) : (hasAlpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24)
        scaler = sws_getCachedContext(scaler, Int32(w), Int32(h), AVPixelFormat(frame.pointee.format), Int32(w), Int32(h),
                                      target, SWS_BICUBIC, nil, nil, nil)
        guard let scaler else { throw InputError(path, "cannot convert pixel format \(frame.pointee.format) to RGB") }
        let pixelFormat = AVPixelFormat(frame.pointee.format)
        if conversionSetFor.map({ $0 != (w, h, frame.pointee.format) }) ?? true {
            setColourConversion(scaler, yuv: pixelFormat, matrix: colour.conversionMatrix(height: h), fullRange: colour.isFullRange(pixelFormat: pixelFormat), toYUV: false)
            conversionSetFor = (w, h, frame.pointee.format)
        }
        // swscale's vector code may write past the end of a row, so it gets rows aligned to 64
        // bytes and 64 spare bytes at the end; the rows are then packed. (Packed rows of an
        // unaligned width let it overrun the buffer: heap corruption found by fuzzing.)
        let rowBytes = w * channels * (deep ? 2 : 1)
        let stride = (rowBytes + 63) / 64 * 64
        var padded = [UInt8](repeating: 0, count: stride * h + 64)
        padded.withUnsafeMutableBufferPointer { buffer in
            var destination: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var strides: [Int32] = [Int32(stride), 0, 0, 0]
            withUnsafePointer(to: &frame.pointee.data) { dataTuple in
                withUnsafePointer(to: &frame.pointee.linesize) { lineTuple in
                    let data = UnsafeRawPointer(dataTuple).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
                    let lines = UnsafeRawPointer(lineTuple).assumingMemoryBound(to: Int32.self)
                    _ = sws_scale(scaler, data, lines, 0, Int32(h), &destination, &strides)
                }
            }
        }
        if deep {
            // RGB48LE (or RGBA64LE) rows; this runs on little-endian machines only (x86-64, arm64).
            let (samples, alpha) = padded.withUnsafeBytes { rows in
                Self.unpack(rows.baseAddress!, stride: stride, width: w, height: h, channels: channels, as: UInt16.self)
            }
            let picture = RGB16Image(width: w, height: h, samples: samples, alpha: alpha).rotated(clockwise: rotation)
            return (picture.eightBit, picture)
        }
        let (pixels, alpha) = padded.withUnsafeBytes { rows in
            Self.unpack(rows.baseAddress!, stride: stride, width: w, height: h, channels: channels, as: UInt8.self)
        }
        return (RGBImage(width: w, height: h, pixels: pixels, alpha: alpha).rotated(clockwise: rotation), nil)
    }

    /// Packed RGB, and the alpha channel when `channels` is 4, from `height` rows of interleaved
    /// samples `stride` bytes apart.
    static func unpack<Sample>(_ rows: UnsafeRawPointer, stride: Int, width w: Int, height h: Int, channels: Int,
                               as: Sample.Type) -> (rgb: [Sample], alpha: [Sample]?) {
        var alpha: [Sample]?
        let rgb = [Sample](unsafeUninitializedCapacity: w * h * 3) { packed, count in
            if channels == 3 {
                for y in 0..<h {
                    UnsafeMutableRawPointer(packed.baseAddress! + y * w * 3).copyMemory(from: rows + y * stride, byteCount: w * 3 * MemoryLayout<Sample>.size)
                }
            } else {
                alpha = [Sample](unsafeUninitializedCapacity: w * h) { opacity, opacityCount in
                    for y in 0..<h {
                        let row = (rows + y * stride).assumingMemoryBound(to: Sample.self)
                        for x in 0..<w {
                            let (to, from) = (y * w + x, x * 4)
                            (packed[to * 3], packed[to * 3 + 1], packed[to * 3 + 2]) = (row[from], row[from + 1], row[from + 2])
                            opacity[to] = row[from + 3]
                        }
                    }
                    opacityCount = w * h
                }
            }
            count = w * h * 3
        }
        return (rgb, alpha)
    }
}

extension RGBImage {
    /// This image mirrored left to right.
    public func mirrored() -> RGBImage {
        RGBImage(width: width, height: height, pixels: Rotation.mirror(pixels, width: width, height: height),
                 alpha: alpha.map { Rotation.mirror($0, width: width, height: height, channels: 1) })
    }

    /// This image turned clockwise by 0, 90, 180 or 270 degrees.
    public func rotated(clockwise degrees: Int) -> RGBImage {
        let (turned, w, h) = Rotation.turn(pixels, width: width, height: height, clockwise: degrees)
        let alpha = self.alpha.map { Rotation.turn($0, width: width, height: height, channels: 1, clockwise: degrees).pixels }
        return RGBImage(width: w, height: h, pixels: turned, alpha: alpha)
    }
}
