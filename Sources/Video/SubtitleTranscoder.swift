import CFFmpeg
import Core
import Foundation

/// Converts one text subtitle stream that an output container cannot hold as it is into the text
/// format that container holds, as `ffmpeg -c:s mov_text` (or `-c:s webvtt`) does: each packet is
/// decoded to FFmpeg's ASS events and encoded again, keeping its start and its duration. MP4 and
/// MOV hold MPEG-4 Timed Text, WebM holds WebVTT; Matroska holds every text format as it is.
/// Bitmap subtitles (DVD, PGS) cannot become text and are not converted.
final class SubtitleTranscoder {
    /// The stream written.
    private(set) var output: UnsafeMutablePointer<AVStream>!
    /// What the stream became, for the note that says so ("WebVTT").
    let encoderDisplayName: String
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    /// Room for one encoded event; FFmpeg's own tools use the same.
    private static let bufferSize = 1 << 20
    private var buffer = [UInt8](repeating: 0, count: SubtitleTranscoder.bufferSize)
    private static let milliseconds = AVRational(num: 1, den: 1000)

    /// The text subtitle encoder (FFmpeg's name, and the name people know) of a container that
    /// holds text in one format only.
    static func encoder(forContainer container: String) -> (name: String, displayName: String)? {
        switch container {
        case "mp4", "mov": ("mov_text", "MPEG-4 Timed Text")
        case "webm": ("webvtt", "WebVTT")
        default: nil
        }
    }

    /// Adds a stream to `format` (before its header is written) that will hold `stream`'s text
    /// subtitles re-encoded by `encoderName`; `path` is the input, named in errors.
    init(input stream: UnsafeMutablePointer<AVStream>, into format: UnsafeMutablePointer<AVFormatContext>,
         encoder encoderName: (name: String, displayName: String), path: String) throws {
        encoderDisplayName = encoderName.displayName
        // As in AudioTranscoder, a throw below runs deinit; the output stream is added last.
        let parameters = stream.pointee.codecpar!
        let codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard let descriptor = avcodec_descriptor_get(parameters.pointee.codec_id),
              descriptor.pointee.props & AV_CODEC_PROP_TEXT_SUB != 0 else {
            throw InputError(path, "its \(codecName) subtitles are pictures, not text")
        }
        guard let decoderCodec = avcodec_find_decoder(parameters.pointee.codec_id), let decoder = avcodec_alloc_context3(decoderCodec) else {
            throw InputError(path, "no decoder for its \(codecName) subtitles")
        }
        self.decoder = decoder
        avcodec_parameters_to_context(decoder, parameters)
        decoder.pointee.pkt_timebase = stream.pointee.time_base
        var code = avcodec_open2(decoder, decoderCodec, nil)
        guard code >= 0 else { throw InputError(path, "cannot decode its \(codecName) subtitles (\(ffmpegMessage(code)))") }
        guard let encoderCodec = avcodec_find_encoder_by_name(encoderName.name), let encoder = avcodec_alloc_context3(encoderCodec) else {
            throw InputError(path, "no \(encoderName.displayName) encoder in this FFmpeg to convert its \(codecName) subtitles")
        }
        self.encoder = encoder
        encoder.pointee.time_base = Self.milliseconds
        // The text encoders read the styles from the ASS header the decoder made.
        if let header = decoder.pointee.subtitle_header, decoder.pointee.subtitle_header_size > 0 {
            let size = Int(decoder.pointee.subtitle_header_size)
            guard let copy = av_mallocz(size + 1) else { throw InputError(path, "cannot allocate a subtitle header") }
            copy.copyMemory(from: header, byteCount: size)
            encoder.pointee.subtitle_header = copy.assumingMemoryBound(to: UInt8.self)
            encoder.pointee.subtitle_header_size = Int32(size)
        }
        if format.pointee.nb_streams > 0, let video = format.pointee.streams[0] {
            encoder.pointee.width = video.pointee.codecpar.pointee.width
            encoder.pointee.height = video.pointee.codecpar.pointee.height
        }
        code = avcodec_open2(encoder, encoderCodec, nil)
        guard code >= 0 else {
            throw InputError(path, "cannot convert its \(codecName) subtitles to \(encoderName.displayName) (\(ffmpegMessage(code)))")
        }
        packet = av_packet_alloc()
        guard packet != nil else { throw InputError(path, "cannot allocate a subtitle packet") }
        guard let output = avformat_new_stream(format, nil) else { throw InputError(path, "cannot add a subtitle stream") }
        self.output = output
        avcodec_parameters_from_context(output.pointee.codecpar, encoder)
        output.pointee.time_base = Self.milliseconds
        output.pointee.disposition = stream.pointee.disposition
        av_dict_copy(&output.pointee.metadata, stream.pointee.metadata, 0)
    }

    deinit {
        av_packet_free(&packet)
        avcodec_free_context(&decoder)
        avcodec_free_context(&encoder)
    }

    /// Decodes `input` (a packet of the input stream, on its clock) and writes the event it holds
    /// into `format`. A packet the decoder refuses (damaged text) is skipped, as players do.
    func write(_ input: UnsafeMutablePointer<AVPacket>, into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        guard let decoder, let encoder, let packet else { return }
        var subtitle = AVSubtitle()
        var gotSubtitle: Int32 = 0
        guard avcodec_decode_subtitle2(decoder, &subtitle, &gotSubtitle, input) >= 0, gotSubtitle != 0 else { return }
        defer { avsubtitle_free(&subtitle) }
        guard subtitle.num_rects > 0, subtitle.pts != csd_av_nopts_value() else { return }
        // As ffmpeg's do_subtitle_out: the display offsets fold into the event's start.
        let start = subtitle.pts + av_rescale_q(Int64(subtitle.start_display_time), Self.milliseconds, csd_av_time_base_q())
        let duration = Int64(subtitle.end_display_time) - Int64(subtitle.start_display_time)
        subtitle.pts = start
        subtitle.end_display_time = UInt32(clamping: max(0, duration))
        subtitle.start_display_time = 0
        let size = buffer.withUnsafeMutableBufferPointer { avcodec_encode_subtitle(encoder, $0.baseAddress, Int32($0.count), &subtitle) }
        guard size > 0 else {
            throw InputError(destination, "cannot convert a subtitle to \(encoderDisplayName) (\(ffmpegMessage(size)))")
        }
        guard av_new_packet(packet, size) >= 0 else { throw InputError(destination, "cannot allocate a subtitle packet") }
        defer { av_packet_unref(packet) }
        buffer.withUnsafeBufferPointer { packet.pointee.data.update(from: $0.baseAddress!, count: Int(size)) }
        let stamp = av_rescale_q(start, csd_av_time_base_q(), output.pointee.time_base)
        (packet.pointee.pts, packet.pointee.dts) = (stamp, stamp)
        packet.pointee.duration = av_rescale_q(Int64(subtitle.end_display_time), Self.milliseconds, output.pointee.time_base)
        packet.pointee.stream_index = output.pointee.index
        let code = av_interleaved_write_frame(format, packet)
        guard code >= 0 else { throw InputError(destination, "cannot write the converted subtitles (\(ffmpegMessage(code)))") }
    }
}
