import CFFmpeg
import Core
import Foundation

/// Copies the audio and subtitle streams of a media file, packet for packet and without
/// re-encoding, into an output container that a `VideoWriter` is filling (as `ffmpeg -map 0:a
/// -map 0:s -c copy -map_metadata 0` does): every stream the container can hold, with its
/// language and other metadata and its dispositions (default, forced, …), and the file's global
/// metadata. An audio stream the container cannot hold is converted to one it can
/// (`AudioTranscoder`: PCM in MP4 becomes AAC, AAC in WebM becomes Opus), and so is a text
/// subtitle stream (`SubtitleTranscoder`: SubRip in MP4 becomes MPEG-4 Timed Text, in WebM
/// WebVTT). The video's timecode (a MOV's `tmcd` track, Matroska's TIMECODE tag) is carried as
/// the output video's `timecode` metadata, which MP4 and MOV write as a timecode track again.
final class StreamPassthrough {
    /// Where an input stream's packets go.
    enum Route {
        /// Copied as they are into `output`.
        case copy(output: UnsafeMutablePointer<AVStream>)
        /// Audio decoded and re-encoded.
        case convert(AudioTranscoder)
        /// Text subtitles decoded and re-encoded.
        case convertText(SubtitleTranscoder)
    }

    let path: String
    private var input: UnsafeMutablePointer<AVFormatContext>?
    /// Input stream index → (where its packets go, the input stream's time base).
    private let copied: [Int32: (route: Route, timeBase: AVRational)]
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var holdsPacket = false
    private var ended = false

    /// Whether an audio stream is among those copied.
    let copiesAudio: Bool
    /// How many streams are copied.
    var streamCount: Int { copied.count }

    /// Global metadata keys that describe the old file rather than its content.
    static let fileKeys: Set<String> = ["major_brand", "minor_version", "compatible_brands", "encoder", "creation_time"]

    /// Adds output streams to `format` (before its header is written) for `path`'s audio and
    /// subtitle streams, and its global metadata. Returns nil when there is nothing to copy, and
    /// a line for each stream converted or left out (its codec does not fit the container).
    static func open(path: String, into format: UnsafeMutablePointer<AVFormatContext>) throws -> (passthrough: StreamPassthrough?, notes: [String]) {
        var opened: UnsafeMutablePointer<AVFormatContext>? = nil
        var code = avformat_open_input(&opened, path, nil, nil)
        guard code >= 0, let context = opened else { throw InputError(path, "not a media file FFmpeg can read (\(ffmpegMessage(code)))") }
        code = avformat_find_stream_info(context, nil)
        guard code >= 0 else {
            avformat_close_input(&opened)
            return (nil, ["\(path): audio and subtitles left out, cannot read its stream information (\(ffmpegMessage(code)))"])
        }
        let container = String(cString: format.pointee.oformat.pointee.name)
        var copied = [Int32: (route: Route, timeBase: AVRational)]()
        var notes = [String]()
        var copiesAudio = false
        for i in 0..<Int(context.pointee.nb_streams) {
            let stream = context.pointee.streams[i]!
            let parameters = stream.pointee.codecpar!
            let type = parameters.pointee.codec_type
            guard type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE else {
                if let carried = timecode(of: stream) {
                    // A timecode: kept on the output's video stream (once, the first found).
                    if av_dict_get(format.pointee.streams[0]!.pointee.metadata, "timecode", nil, 0) == nil {
                        av_dict_set(&format.pointee.streams[0]!.pointee.metadata, "timecode", carried, 0)
                    }
                } else if type != AVMEDIA_TYPE_VIDEO {
                    notes.append("\(path): stream #\(i) (\(av_get_media_type_string(type).map { String(cString: $0) } ?? "data")) left out: only audio and subtitles are copied")
                }
                continue
            }
            let kind = type == AVMEDIA_TYPE_AUDIO ? "audio" : "subtitle"
            let codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            guard avformat_query_codec(format.pointee.oformat, parameters.pointee.codec_id, FF_COMPLIANCE_NORMAL) == 1 else {
                if type == AVMEDIA_TYPE_AUDIO, let encoder = AudioTranscoder.encoder(forContainer: container) {
                    do {
                        let transcoder = try AudioTranscoder(input: stream, into: format, encoder: encoder, path: path)
                        copied[Int32(i)] = (.convert(transcoder), stream.pointee.time_base)
                        copiesAudio = true
                        notes.append("\(path): audio stream #\(i) converted from \(codecName) to \(encoder.displayName), which \(container) holds (an .mkv output keeps it as it is)")
                    } catch let error as InputError {
                        notes.append("\(path): audio stream #\(i) left out, its \(codecName) cannot be stored in \(container) nor converted: \(error.problem) (an .mkv output keeps it)")
                    }
                } else if type == AVMEDIA_TYPE_SUBTITLE, let encoder = SubtitleTranscoder.encoder(forContainer: container) {
                    do {
                        let transcoder = try SubtitleTranscoder(input: stream, into: format, encoder: encoder, path: path)
                        copied[Int32(i)] = (.convertText(transcoder), stream.pointee.time_base)
                        notes.append("\(path): subtitle stream #\(i) converted from \(codecName) to \(encoder.displayName), which \(container) holds (an .mkv output keeps it as it is)")
                    } catch let error as InputError {
                        notes.append("\(path): subtitle stream #\(i) left out, its \(codecName) cannot be stored in \(container) nor converted: \(error.problem) (an .mkv output keeps it)")
                    }
                } else {
                    notes.append("\(path): \(kind) stream #\(i) left out, its \(codecName) cannot be stored in \(container) (an .mkv output keeps it)")
                }
                continue
            }
            guard let output = avformat_new_stream(format, nil) else {
                avformat_close_input(&opened)
                throw InputError(path, "cannot add a stream to the output")
            }
            avcodec_parameters_copy(output.pointee.codecpar, parameters)
            output.pointee.codecpar.pointee.codec_tag = 0
            output.pointee.time_base = stream.pointee.time_base
            output.pointee.disposition = stream.pointee.disposition
            av_dict_copy(&output.pointee.metadata, stream.pointee.metadata, 0)
            copied[Int32(i)] = (.copy(output: output), stream.pointee.time_base)
            if type == AVMEDIA_TYPE_AUDIO { copiesAudio = true }
        }
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = av_dict_get(context.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            entry = next
            let key = String(cString: next.pointee.key)
            if !fileKeys.contains(key) { av_dict_set(&format.pointee.metadata, next.pointee.key, next.pointee.value, 0) }
        }
        guard !copied.isEmpty else {
            avformat_close_input(&opened)
            return (nil, notes)
        }
        return (StreamPassthrough(path: path, input: context, copied: copied, copiesAudio: copiesAudio), notes)
    }

    /// The SMPTE timecode ("01:00:00:00") a video or timecode-track stream carries, if any.
    static func timecode(of stream: UnsafeMutablePointer<AVStream>) -> String? {
        av_dict_get(stream.pointee.metadata, "timecode", nil, 0).map { String(cString: $0.pointee.value) }
    }

    private init(path: String, input: UnsafeMutablePointer<AVFormatContext>,
                 copied: [Int32: (route: Route, timeBase: AVRational)], copiesAudio: Bool) {
        self.path = path
        self.input = input
        self.copied = copied
        self.copiesAudio = copiesAudio
        packet = av_packet_alloc()
    }

    deinit {
        av_packet_free(&packet)
        avformat_close_input(&input)
    }

    /// Writes every copied packet that starts at or before `seconds` (on the output's clock, which
    /// is the input's less `shift` seconds) into `format`, its times less `shift`; at the input's
    /// end, flushes the converted streams.
    func copy(upTo seconds: Double, shiftedBy shift: Double, into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        guard let input, let packet else { return }
        while !ended {
            if !holdsPacket {
                if av_read_frame(input, packet) < 0 {
                    ended = true
                    for index in copied.keys.sorted() {
                        if case .convert(let transcoder) = copied[index]!.route { try transcoder.finish(into: format, destination: destination) }
                    }
                    return
                }
                guard copied[packet.pointee.stream_index] != nil else { av_packet_unref(packet); continue }
                holdsPacket = true
            }
            let (route, timeBase) = copied[packet.pointee.stream_index]!
            let stamp = packet.pointee.pts != csd_av_nopts_value() ? packet.pointee.pts : packet.pointee.dts
            if stamp != csd_av_nopts_value(), Double(stamp) * Double(timeBase.num) / Double(timeBase.den) - shift > seconds { return }
            if shift > 0 {
                let offset = Int64((shift * Double(timeBase.den) / Double(timeBase.num)).rounded())
                if packet.pointee.pts != csd_av_nopts_value() { packet.pointee.pts -= offset }
                if packet.pointee.dts != csd_av_nopts_value() { packet.pointee.dts -= offset }
            }
            holdsPacket = false
            switch route {
            case .convert(let transcoder):
                defer { av_packet_unref(packet) }
                try transcoder.write(packet, into: format, destination: destination)
            case .convertText(let transcoder):
                defer { av_packet_unref(packet) }
                try transcoder.write(packet, into: format, destination: destination)
            case .copy(let output):
                av_packet_rescale_ts(packet, timeBase, output.pointee.time_base)
                packet.pointee.stream_index = output.pointee.index
                packet.pointee.pos = -1
                let code = av_interleaved_write_frame(format, packet)
                guard code >= 0 else { throw InputError(destination, "cannot write the streams copied from \(path) (\(ffmpegMessage(code)))") }
            }
        }
    }
}
