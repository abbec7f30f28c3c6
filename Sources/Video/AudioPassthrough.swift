import CFFmpeg
import Core
import Foundation

/// Copies the best audio stream of a media file, packet for packet and without re-encoding, into
/// an output container that a `VideoWriter` is filling (as `ffmpeg -c:a copy` does).
final class AudioPassthrough {
    let path: String
    private var input: UnsafeMutablePointer<AVFormatContext>?
    private let inputIndex: Int32
    private let inputTimeBase: AVRational
    private let output: UnsafeMutablePointer<AVStream>
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var holdsPacket = false
    private var ended = false

    /// What `open` found: a passthrough to copy with, no audio stream, or why the audio cannot be copied.
    enum Outcome { case copied(AudioPassthrough), none, unsupported(String) }

    /// Adds an output stream to `format` (before its header is written) carrying `path`'s best
    /// audio stream; `.none` when the file has no audio, `.unsupported` when the container cannot hold its codec.
    static func open(path: String, into format: UnsafeMutablePointer<AVFormatContext>) throws -> Outcome {
        var opened: UnsafeMutablePointer<AVFormatContext>? = nil
        var code = avformat_open_input(&opened, path, nil, nil)
        guard code >= 0, let context = opened else { throw InputError(path, "not a media file FFmpeg can read (\(ffmpegMessage(code)))") }
        code = avformat_find_stream_info(context, nil)
        let index = code >= 0 ? av_find_best_stream(context, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0) : -1
        guard index >= 0 else {
            avformat_close_input(&opened)
            return code >= 0 ? .none : .unsupported("cannot read its stream information (\(ffmpegMessage(code)))")
        }
        let stream = context.pointee.streams[Int(index)]!
        let parameters = stream.pointee.codecpar!
        let codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard avformat_query_codec(format.pointee.oformat, parameters.pointee.codec_id, FF_COMPLIANCE_NORMAL) == 1,
              let output = avformat_new_stream(format, nil) else {
            avformat_close_input(&opened)
            return .unsupported("its \(codecName) audio cannot be stored in \(String(cString: format.pointee.oformat.pointee.name))")
        }
        avcodec_parameters_copy(output.pointee.codecpar, parameters)
        output.pointee.codecpar.pointee.codec_tag = 0
        output.pointee.time_base = stream.pointee.time_base
        return .copied(AudioPassthrough(path: path, input: context, index: index, timeBase: stream.pointee.time_base, output: output))
    }

    private init(path: String, input: UnsafeMutablePointer<AVFormatContext>, index: Int32, timeBase: AVRational, output: UnsafeMutablePointer<AVStream>) {
        self.path = path
        self.input = input
        inputIndex = index
        inputTimeBase = timeBase
        self.output = output
        packet = av_packet_alloc()
    }

    deinit {
        av_packet_free(&packet)
        avformat_close_input(&input)
    }

    /// Writes every audio packet that starts at or before `seconds` (on the output's clock, which
    /// is the input's less `shift` seconds) into `format`, its times less `shift`.
    func copy(upTo seconds: Double, shiftedBy shift: Double, into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        guard let input, let packet else { return }
        while !ended {
            if !holdsPacket {
                if av_read_frame(input, packet) < 0 { ended = true; return }
                guard packet.pointee.stream_index == inputIndex else { av_packet_unref(packet); continue }
                holdsPacket = true
            }
            let stamp = packet.pointee.pts != csd_av_nopts_value() ? packet.pointee.pts : packet.pointee.dts
            if stamp != csd_av_nopts_value(), Double(stamp) * Double(inputTimeBase.num) / Double(inputTimeBase.den) - shift > seconds { return }
            if shift > 0 {
                let offset = Int64((shift * Double(inputTimeBase.den) / Double(inputTimeBase.num)).rounded())
                if packet.pointee.pts != csd_av_nopts_value() { packet.pointee.pts -= offset }
                if packet.pointee.dts != csd_av_nopts_value() { packet.pointee.dts -= offset }
            }
            av_packet_rescale_ts(packet, inputTimeBase, output.pointee.time_base)
            packet.pointee.stream_index = output.pointee.index
            packet.pointee.pos = -1
            holdsPacket = false
            let code = av_interleaved_write_frame(format, packet)
            guard code >= 0 else { throw InputError(destination, "cannot write the audio copied from \(path) (\(ffmpegMessage(code)))") }
        }
    }
}
